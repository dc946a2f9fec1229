// AVX-512 (BW) Bolt scans. One 64-byte load covers two byte columns of a 32-row block
// (four codebooks); tables are pre-expanded so lanes 0-1 see the first column's tables and
// lanes 2-3 the second's. Same uint8 pair sums and uint16 trick as scan_avx2.cpp; the two
// 256-bit halves are added at the end of the block (addition modulo 2^16 keeps it exact).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace avx512 {

namespace {

constexpr int kQueriesPerPass = 4;
constexpr int kMaxCols = 128;  // C <= 256

// Expanded tables of one query: for each column pair p, 64 bytes of low-nibble tables
// [t(4p) t(4p) t(4p+2) t(4p+2)] then 64 bytes of high-nibble tables [t(4p+1) .. t(4p+3)].
// A trailing odd column gets [t t] / [t' t'] in 32-byte halves.
void expand(const uint8_t* lut, int ncols, uint8_t* x) {
  int j = 0;
  for (; j + 2 <= ncols; j += 2, x += 128) {
    const uint8_t* t = lut + j * 32;
    for (int h = 0; h < 2; ++h) {       // h = 0: low nibbles, 1: high nibbles
      for (int lane = 0; lane < 4; ++lane)  // 16-byte copies: this runs once per tile of codes
        std::memcpy(x + h * 64 + lane * 16, t + (lane < 2 ? 0 : 32) + h * 16, 16);
    }
  }
  if (j < ncols) {
    const uint8_t* t = lut + j * 32;
    for (int r = 0; r < 2; ++r) {
      std::memcpy(x + r * 16, t, 16);
      std::memcpy(x + 32 + r * 16, t + 16, 16);
    }
  }
}

struct BlockSums {
  __m256i lo, hi;
};

template <int QB>
inline void block_sums(const uint8_t* blk, int ncols, const uint8_t* xl, size_t xstride, BlockSums* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512i acc[QB], odd[QB];
  for (int q = 0; q < QB; ++q) acc[q] = odd[q] = _mm512_setzero_si512();
  int j = 0;
  for (; j + 2 <= ncols; j += 2) {
    const __m512i v = _mm512_loadu_si512(blk + j * kBlockRows);
    const __m512i lo = _mm512_and_si512(v, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    for (int q = 0; q < QB; ++q) {
      const uint8_t* t = xl + q * xstride + j * 64;
      const __m512i pair = _mm512_add_epi8(_mm512_shuffle_epi8(_mm512_load_si512(t), lo),
                                           _mm512_shuffle_epi8(_mm512_load_si512(t + 64), hi));
      acc[q] = _mm512_add_epi16(acc[q], pair);
      odd[q] = _mm512_add_epi16(odd[q], _mm512_srli_epi16(pair, 8));
    }
  }
  __m256i acc2[QB], odd2[QB];
  for (int q = 0; q < QB; ++q) {
    acc2[q] = _mm256_add_epi16(_mm512_castsi512_si256(acc[q]), _mm512_extracti64x4_epi64(acc[q], 1));
    odd2[q] = _mm256_add_epi16(_mm512_castsi512_si256(odd[q]), _mm512_extracti64x4_epi64(odd[q], 1));
  }
  if (j < ncols) {
    const __m256i low4y = _mm256_set1_epi8(0x0f);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + j * kBlockRows));
    const __m256i lo = _mm256_and_si256(v, low4y);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4y);
    for (int q = 0; q < QB; ++q) {
      const uint8_t* t = xl + q * xstride + j * 64;
      const __m256i pair =
          _mm256_add_epi8(_mm256_shuffle_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(t)), lo),
                          _mm256_shuffle_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(t + 32)), hi));
      acc2[q] = _mm256_add_epi16(acc2[q], pair);
      odd2[q] = _mm256_add_epi16(odd2[q], _mm256_srli_epi16(pair, 8));
    }
  }
  for (int q = 0; q < QB; ++q) {
    const __m256i even = _mm256_sub_epi16(acc2[q], _mm256_slli_epi16(odd2[q], 8));
    const __m256i a = _mm256_unpacklo_epi16(even, odd2[q]);
    const __m256i b = _mm256_unpackhi_epi16(even, odd2[q]);
    out[q].lo = _mm256_permute2x128_si256(a, b, 0x20);
    out[q].hi = _mm256_permute2x128_si256(a, b, 0x31);
  }
}

template <int QB, class Sink>
void scan_group(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, Sink&& sink) {
  alignas(64) uint8_t xl[QB][kMaxCols * 64];
  const size_t stride = static_cast<size_t>(ncols) * 32;
  for (int q = 0; q < QB; ++q) expand(luts + q * stride, ncols, xl[q]);
  BlockSums s[QB];
  for (size_t b = b0; b < b1; ++b) {
    block_sums<QB>(codes + b * kBlockRows * ncols, ncols, &xl[0][0], sizeof(xl[0]), s);
    for (int q = 0; q < QB; ++q) sink(q, b, s[q]);
  }
}

template <class GroupFn>
void by_groups(int nq, GroupFn&& fn) {
  int q = 0;
  for (; q + kQueriesPerPass <= nq; q += kQueriesPerPass) fn(q, std::integral_constant<int, kQueriesPerPass>());
  for (; q < nq; ++q) fn(q, std::integral_constant<int, 1>());
}

}  // namespace

void scan_u16(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
              int nq, uint16_t* out, size_t ldo) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  by_groups(nq, [&](int q0, auto qb) {
    scan_group<decltype(qb)::value>(codes, b0, b1, ncols, luts + q0 * stride,
                                    [&](int q, size_t b, const BlockSums& s) {
                                      uint16_t* o = out + (q0 + q) * ldo + b * kBlockRows;
                                      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), s.lo);
                                      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16), s.hi);
                                    });
  });
}

void scan_topk(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
               int nq, TopK* heaps, int64_t n_valid) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  alignas(32) uint16_t buf[kBlockRows];
  by_groups(nq, [&](int q0, auto qb) {
    scan_group<decltype(qb)::value>(
        codes, b0, b1, ncols, luts + q0 * stride, [&](int q, size_t b, const BlockSums& s) {
          TopK& h = heaps[q0 + q];
          const uint32_t t = h.threshold;
          if (t == 0) return;
          const __m256i limit = _mm256_set1_epi16(static_cast<short>(t > 0xffff ? 0xffff : t - 1));
          const uint32_t mask = static_cast<uint32_t>(_mm256_cmple_epu16_mask(s.lo, limit)) |
                                (static_cast<uint32_t>(_mm256_cmple_epu16_mask(s.hi, limit)) << 16);
          if (mask) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(buf), s.lo);
            _mm256_store_si256(reinterpret_cast<__m256i*>(buf + 16), s.hi);
            h.push_block(buf, mask, static_cast<int64_t>(b * kBlockRows), n_valid);
          }
        });
  });
}

}  // namespace avx512
}  // namespace bolt
}  // namespace tenfold
