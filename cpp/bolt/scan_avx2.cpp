// AVX2 Bolt scans: one 32-byte load per codebook pair per block of 32 rows, nibbles looked
// up with vpshufb, sums kept exact in uint16.
// - Table entries are at most 127 (see kMaxLutEntry), so the two look-ups of a byte column
//   add in uint8 without overflow: one add instead of a widening per look-up.
// - The uint16 trick: adding the 32 byte sums as 16 uint16 words accumulates even rows +
//   256 * odd rows; a second accumulator of the words shifted right by 8 holds the odd rows
//   alone, and the even rows follow by subtraction (exact modulo 2^16 since C * 127 < 2^16).
// - Tables are copied once per call into 32-byte broadcast form so the inner loop reads them
//   with plain loads (a memory-operand broadcast would cost a shuffle-port uop per table).
#include <immintrin.h>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace avx2 {

namespace {

// Sums of one block, rows 0-15 in lo and 16-31 in hi.
struct BlockSums {
  __m256i lo, hi;
};

// Sums of one block as the scan leaves them: 16-bit words of even + 256 * odd rows (acc) and
// of odd rows (odd); word i covers rows 2i and 2i+1 (rows 0-15 in the low 128-bit lane).
struct RawSums {
  __m256i acc, odd;
};

constexpr int kQueriesPerPass = 4;
constexpr int kMaxCodebooks = 256;

// Tables of up to kQueriesPerPass queries, each 16-byte table duplicated to 32 bytes.
struct Expanded {
  alignas(32) uint8_t data[kQueriesPerPass][kMaxCodebooks * 32];
  Expanded(const uint8_t* luts, int nq, int ncodebooks) {
    // Built once per tile of codes, so it must be cheap: one broadcast per table.
    for (int q = 0; q < nq; ++q)
      for (int c = 0; c < ncodebooks; ++c) {
        const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(luts + (q * ncodebooks + c) * 16));
        _mm256_store_si256(reinterpret_cast<__m256i*>(data[q] + c * 32), _mm256_broadcastsi128_si256(t));
      }
  }
};

inline __m256i table(const uint8_t* t) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(t)); }

// Scans one block for QB queries at once, sharing the code loads and nibble splits.
template <int QB>
inline void block_sums(const uint8_t* blk, int ncols, const Expanded& luts, RawSums* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i acc[QB], odd[QB];
  for (int q = 0; q < QB; ++q) acc[q] = odd[q] = _mm256_setzero_si256();
  for (int j = 0; j < ncols; ++j) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + j * kBlockRows));
    const __m256i lo = _mm256_and_si256(v, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    for (int q = 0; q < QB; ++q) {
      const uint8_t* t = luts.data[q] + j * 64;
      const __m256i pair = _mm256_add_epi8(_mm256_shuffle_epi8(table(t), lo), _mm256_shuffle_epi8(table(t + 32), hi));
      acc[q] = _mm256_add_epi16(acc[q], pair);
      odd[q] = _mm256_add_epi16(odd[q], _mm256_srli_epi16(pair, 8));
    }
  }
  for (int q = 0; q < QB; ++q) out[q] = {acc[q], odd[q]};
}

inline __m256i even_rows(const RawSums& r) { return _mm256_sub_epi16(r.acc, _mm256_slli_epi16(r.odd, 8)); }

inline BlockSums in_row_order(const RawSums& r) {
  const __m256i even = even_rows(r);
  const __m256i a = _mm256_unpacklo_epi16(even, r.odd);  // rows 0-7 | 16-23
  const __m256i b = _mm256_unpackhi_epi16(even, r.odd);  // rows 8-15 | 24-31
  return {_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)};
}

template <int QB>
void scan_u16_group(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
                    uint16_t* out, size_t ldo) {
  const Expanded tables(luts, QB, 2 * ncols);
  RawSums s[QB];
  for (size_t b = b0; b < b1; ++b) {
    block_sums<QB>(codes + b * kBlockRows * ncols, ncols, tables, s);
    for (int q = 0; q < QB; ++q) {
      const BlockSums r = in_row_order(s[q]);
      uint16_t* o = out + q * ldo + b * kBlockRows;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), r.lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16), r.hi);
    }
  }
}

inline uint32_t below(__m256i d, __m256i limit) {
  // Unsigned d <= limit, one bit per 16-bit lane.
  const __m256i le = _mm256_cmpeq_epi16(_mm256_min_epu16(d, limit), d);
  return static_cast<uint32_t>(_pext_u32(static_cast<uint32_t>(_mm256_movemask_epi8(le)), 0x55555555u));
}

// Largest sum that can still enter a heap, in every 16-bit lane.
inline __m256i entry_limit(uint32_t threshold) {
  return _mm256_set1_epi16(static_cast<short>(threshold > 0xffff ? 0xffff : threshold - 1));
}

template <int QB>
void scan_topk_group(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
                     TopK* heaps, int64_t n_valid) {
  const Expanded tables(luts, QB, 2 * ncols);
  RawSums s[QB];
  __m256i limit[QB];
  bool open[QB];  // a heap whose threshold reached 0 takes nothing more
  for (int q = 0; q < QB; ++q) {
    open[q] = heaps[q].threshold != 0;
    limit[q] = entry_limit(heaps[q].threshold);
  }
  alignas(32) uint16_t buf[kBlockRows];
  for (size_t b = b0; b < b1; ++b) {
    block_sums<QB>(codes + b * kBlockRows * ncols, ncols, tables, s);
    for (int q = 0; q < QB; ++q) {
      // Common case first, on the sums as the scan leaves them: does any row of the block
      // reach the heap? (min of even and odd rows against the limit; no reordering)
      const __m256i lowest = _mm256_min_epu16(even_rows(s[q]), s[q].odd);
      const __m256i hit = _mm256_cmpeq_epi16(_mm256_min_epu16(lowest, limit[q]), lowest);
      if (!open[q] || _mm256_testz_si256(hit, hit)) continue;
      const BlockSums r = in_row_order(s[q]);
      const uint32_t mask = below(r.lo, limit[q]) | (below(r.hi, limit[q]) << 16);
      _mm256_store_si256(reinterpret_cast<__m256i*>(buf), r.lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(buf + 16), r.hi);
      heaps[q].push_block(buf, mask, static_cast<int64_t>(b * kBlockRows), n_valid);
      open[q] = heaps[q].threshold != 0;
      limit[q] = entry_limit(heaps[q].threshold);
    }
  }
}

}  // namespace

void scan_u16(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
              int nq, uint16_t* out, size_t ldo) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  int q = 0;
  for (; q + kQueriesPerPass <= nq; q += kQueriesPerPass)
    scan_u16_group<kQueriesPerPass>(codes, b0, b1, ncols, luts + q * stride, out + q * ldo, ldo);
  for (; q < nq; ++q) scan_u16_group<1>(codes, b0, b1, ncols, luts + q * stride, out + q * ldo, ldo);
}

void scan_topk(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
               int nq, TopK* heaps, int64_t n_valid) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  int q = 0;
  for (; q + kQueriesPerPass <= nq; q += kQueriesPerPass)
    scan_topk_group<kQueriesPerPass>(codes, b0, b1, ncols, luts + q * stride, heaps + q, n_valid);
  for (; q < nq; ++q) scan_topk_group<1>(codes, b0, b1, ncols, luts + q * stride, heaps + q, n_valid);
}

size_t collect_le(const uint16_t* sums, size_t n, uint16_t limit, uint32_t* rows) {
  // 32 sums per step: s <= limit iff max(s, limit) == limit (unsigned); the two compare masks
  // packed to bytes (per 128-bit lane, so the middle quarters are swapped back) and the set
  // bits visited in order. Candidates are a few percent of the rows.
  const __m256i lim = _mm256_set1_epi16(static_cast<short>(limit));
  size_t m = 0, r = 0;
  for (; r + 32 <= n; r += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + r));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + r + 16));
    const __m256i ka = _mm256_cmpeq_epi16(_mm256_max_epu16(a, lim), lim);
    const __m256i kb = _mm256_cmpeq_epi16(_mm256_max_epu16(b, lim), lim);
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi16(ka, kb), 0xD8);
    uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(packed));
    while (mask) {
      rows[m++] = static_cast<uint32_t>(r) + static_cast<uint32_t>(ctz32(mask));
      mask &= mask - 1;
    }
  }
  for (; r < n; ++r)
    if (sums[r] <= limit) rows[m++] = static_cast<uint32_t>(r);
  return m;
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
