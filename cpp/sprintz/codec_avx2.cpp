// AVX2 + BMI2 Sprintz kernels. Same stream as the scalar path (tested byte for byte); faster
// decoding: pdep unpacks 8 residuals in one instruction, prefix sums run in SIMD registers for
// contiguous columns (1-D and Fortran-ordered input), and for C-ordered many-variable data the
// residual tile is transposed 8 variables at a time with byte/word unpacks so every row is
// reconstructed with one vector add. 8-bit C-ordered data with 2..16 variables (typical sensor
// sets) has kernels specialised per variable count that keep the whole state in registers.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/portable.hpp"
#include "sprintz/sprintz.hpp"


namespace tenfold {
namespace sprintz {
namespace avx2 {
namespace {


template <class T>
void recon_avx2(const T* tile, size_t nv, struct State st, T* out, ptrdiff_t rs, ptrdiff_t cs, int fc);

template <class T>
int forecast_rows_avx2(const T* base, size_t nv, ptrdiff_t rs, ptrdiff_t cs, int fc, struct State st, T* tile,
                       uint8_t* codes);

// 8 residuals of b bits packed LSB first with pext (the layout of pack8); writes 8 bytes (8-bit
// data) or 16 (16-bit), of which the first b are the block.
template <class T>
inline void pack8_pext(const T* u, int b, uint8_t* o) {
  uint64_t w0, w1 = 0;
  std::memcpy(&w0, u, 8);
  if (sizeof(T) == 1) {
    const uint64_t v = _pext_u64(w0, 0x0101010101010101ull * ((1u << b) - 1));
    std::memcpy(o, &v, 8);
    return;
  }
  std::memcpy(&w1, u + 4, 8);
  const uint64_t m = 0x0001000100010001ull * ((1u << b) - 1);
  const uint64_t lo = _pext_u64(w0, m), hi = _pext_u64(w1, m);
  const int s = 4 * b;  // bits from the first 4 values, 4..64
  const uint64_t out0 = s == 64 ? lo : lo | (hi << s), out1 = s == 64 ? hi : hi >> (64 - s);
  std::memcpy(o, &out0, 8);
  std::memcpy(o + 8, &out1, 8);
}

#define SPRINTZ_RECON(T, tile, nv, st, out, rs, cs, fc) recon_avx2<T>(tile, nv, st, out, rs, cs, fc)
#define SPRINTZ_PACK8(T, u, b, o) pack8_pext<T>(u, b, o)
#define SPRINTZ_FORECAST_ROWS(T, base, nv, rs, cs, fc, st, tile, codes) \
  forecast_rows_avx2<T>(base, nv, rs, cs, fc, st, tile, codes)
#include "sprintz/codec_impl.inc"
#include "sprintz/checksum.inc"
#include "sprintz/huffman_decode.inc"
#undef SPRINTZ_RECON
#undef SPRINTZ_FORECAST_ROWS
#undef SPRINTZ_PACK8

// 32 header bytes at a time: nibble widths summed with psadbw (16-bit code 15 counts 16 bits).
template <class T>
bool header_total(const uint8_t* hdr, size_t nv, size_t& total) {
  size_t v = 0;
  if (nv >= 32) {
    const __m256i low = _mm256_set1_epi8(15), eight = _mm256_set1_epi8(8);
    __m256i sum = _mm256_setzero_si256(), bad = _mm256_setzero_si256();
    for (; v + 32 <= nv; v += 32) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hdr + v));
      __m256i c0 = _mm256_and_si256(h, low), c1 = _mm256_and_si256(_mm256_srli_epi16(h, 4), low);
      if (Tr<T>::W == 8) {
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi8(c0, eight));
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi8(c1, eight));
      } else {  // code 15 means 16 bits
        c0 = _mm256_sub_epi8(c0, _mm256_cmpeq_epi8(c0, low));
        c1 = _mm256_sub_epi8(c1, _mm256_cmpeq_epi8(c1, low));
      }
      sum = _mm256_add_epi64(sum, _mm256_sad_epu8(_mm256_add_epi8(c0, c1), _mm256_setzero_si256()));
    }
    if (!_mm256_testz_si256(bad, bad)) return false;
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
    total += size_t(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  }
  return header_total_scalar<T>(hdr + v, nv - v, total);
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

template <>
void unpack_fast<uint8_t>(const uint8_t* p, int b, uint8_t* out) {
  const uint64_t m = 0x0101010101010101ull * ((1u << b) - 1);
  const uint64_t v = _pdep_u64(load64(p), m);
  std::memcpy(out, &v, 8);
}
template <>
void unpack_fast<uint16_t>(const uint8_t* p, int b, uint16_t* out) {
  const uint64_t m = 0x0001000100010001ull * ((1u << b) - 1);
  const int off = 4 * b;
  const uint64_t lo = _pdep_u64(load64(p), m);
  const uint64_t hi = _pdep_u64(load64(p + (off >> 3)) >> (off & 7), m);
  // one 16-byte store so the reconstruction's 16-byte load is store-forwarded
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_set_epi64x(int64_t(hi), int64_t(lo)));
}
template <class T>
void unpack_safe(const uint8_t* p, int b, T* out) {
  uint8_t buf[16] = {0};
  std::memcpy(buf, p, size_t(b));
  unpack_fast<T>(buf, b, out);
}

inline __m128i unzz8(__m128i e) {
  const __m128i t = _mm_and_si128(_mm_srli_epi16(e, 1), _mm_set1_epi8(0x7f));
  const __m128i s = _mm_sub_epi8(_mm_setzero_si128(), _mm_and_si128(e, _mm_set1_epi8(1)));
  return _mm_xor_si128(t, s);
}
inline __m128i unzz16(__m128i e) {
  const __m128i s = _mm_sub_epi16(_mm_setzero_si128(), _mm_and_si128(e, _mm_set1_epi16(1)));
  return _mm_xor_si128(_mm_srli_epi16(e, 1), s);
}

// Contiguous column (rs == 1): in-register prefix sums.
inline void column_delta(const uint8_t* tile, size_t nv, int32_t* prev, uint8_t* out, ptrdiff_t cs) {
  for (size_t v = 0; v < nv; ++v) {
    __m128i e = unzz8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + v * 8)));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 1));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 2));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 4));
    const __m128i x = _mm_add_epi8(e, _mm_set1_epi8(char(prev[v])));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + ptrdiff_t(v) * cs), x);
    prev[v] = int32_t(uint64_t(_mm_cvtsi128_si64(x)) >> 56);
  }
}
inline void column_delta(const uint16_t* tile, size_t nv, int32_t* prev, uint16_t* out, ptrdiff_t cs) {
  for (size_t v = 0; v < nv; ++v) {
    __m128i e = unzz16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + v * 8)));
    e = _mm_add_epi16(e, _mm_slli_si128(e, 2));
    e = _mm_add_epi16(e, _mm_slli_si128(e, 4));
    e = _mm_add_epi16(e, _mm_slli_si128(e, 8));
    const __m128i x = _mm_add_epi16(e, _mm_set1_epi16(short(prev[v])));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + ptrdiff_t(v) * cs), x);
    prev[v] = _mm_extract_epi16(x, 7);
  }
}

// 8 x 8 transposes. Bytes: the low 8 bytes of a[0..7] (8 values of 8 variables) become rows,
// w[k] = rows 2k (low half) and 2k+1 (high half).
TENFOLD_ALWAYS_INLINE void transpose8x8_epi8(const __m128i* a, __m128i* w) {
  const __m128i t0 = _mm_unpacklo_epi8(a[0], a[1]), t1 = _mm_unpacklo_epi8(a[2], a[3]);
  const __m128i t2 = _mm_unpacklo_epi8(a[4], a[5]), t3 = _mm_unpacklo_epi8(a[6], a[7]);
  const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);
  const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);
  w[0] = _mm_unpacklo_epi32(u0, u2);
  w[1] = _mm_unpackhi_epi32(u0, u2);
  w[2] = _mm_unpacklo_epi32(u1, u3);
  w[3] = _mm_unpackhi_epi32(u1, u3);
}
// 16-bit words, in place: r[j] = 8 values of variable j becomes r[i] = row i.
inline void transpose8x16(__m128i* r) {
  const __m128i t0 = _mm_unpacklo_epi16(r[0], r[1]), t1 = _mm_unpackhi_epi16(r[0], r[1]);
  const __m128i t2 = _mm_unpacklo_epi16(r[2], r[3]), t3 = _mm_unpackhi_epi16(r[2], r[3]);
  const __m128i t4 = _mm_unpacklo_epi16(r[4], r[5]), t5 = _mm_unpackhi_epi16(r[4], r[5]);
  const __m128i t6 = _mm_unpacklo_epi16(r[6], r[7]), t7 = _mm_unpackhi_epi16(r[6], r[7]);
  const __m128i u0 = _mm_unpacklo_epi32(t0, t2), u1 = _mm_unpackhi_epi32(t0, t2);
  const __m128i u2 = _mm_unpacklo_epi32(t1, t3), u3 = _mm_unpackhi_epi32(t1, t3);
  const __m128i u4 = _mm_unpacklo_epi32(t4, t6), u5 = _mm_unpackhi_epi32(t4, t6);
  const __m128i u6 = _mm_unpacklo_epi32(t5, t7), u7 = _mm_unpackhi_epi32(t5, t7);
  r[0] = _mm_unpacklo_epi64(u0, u4);
  r[1] = _mm_unpackhi_epi64(u0, u4);
  r[2] = _mm_unpacklo_epi64(u1, u5);
  r[3] = _mm_unpackhi_epi64(u1, u5);
  r[4] = _mm_unpacklo_epi64(u2, u6);
  r[5] = _mm_unpackhi_epi64(u2, u6);
  r[6] = _mm_unpacklo_epi64(u3, u7);
  r[7] = _mm_unpackhi_epi64(u3, u7);
}

// C order (cs == 1): transpose 8 variables x 8 rows, then one add per row.
inline void rows_delta(const uint8_t* tile, size_t nv, int32_t* prev, uint8_t* out, ptrdiff_t rs) {
  size_t g = 0;
  for (; g + 8 <= nv; g += 8) {
    const uint8_t* t = tile + g * 8;
    __m128i a[8], w[4];  // w[k] = rows 2k (low 8 bytes), 2k+1 (high)
    for (int j = 0; j < 8; ++j) a[j] = unzz8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t + 8 * j)));
    transpose8x8_epi8(a, w);
    const __m256i p32 = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(prev + g)),
                                         _mm256_set1_epi32(0xff));
    __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(p32), _mm256_extracti128_si256(p32, 1));
    __m128i p = _mm_packus_epi16(p16, p16);  // prev in both halves
    uint8_t* o = out + g;
    for (int k = 0; k < 4; ++k) {
      __m128i s = _mm_add_epi8(w[k], _mm_slli_si128(w[k], 8));
      s = _mm_add_epi8(s, p);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(o + (2 * k) * rs), s);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(o + (2 * k + 1) * rs), _mm_unpackhi_epi64(s, s));
      p = _mm_unpackhi_epi64(s, s);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(prev + g), _mm256_cvtepu8_epi32(p));
  }
  if (g < nv) {
    State st{prev + g, nullptr, nullptr};
    recon_generic<uint8_t>(tile + g * 8, nv - g, st, out + g, rs, 1, kForecastDelta);
  }
}
inline void rows_delta(const uint16_t* tile, size_t nv, int32_t* prev, uint16_t* out, ptrdiff_t rs) {
  size_t g = 0;
  for (; g + 8 <= nv; g += 8) {
    const uint16_t* t = tile + g * 8;
    __m128i r[8];  // residuals of 8 variables, transposed to rows
    for (int j = 0; j < 8; ++j) r[j] = unzz16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 8 * j)));
    transpose8x16(r);
    const __m256i p32 = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(prev + g)),
                                         _mm256_set1_epi32(0xffff));
    __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(p32), _mm256_extracti128_si256(p32, 1));
    uint16_t* o = out + g;
    for (int i = 0; i < 8; ++i) {
      p = _mm_add_epi16(p, r[i]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i * rs), p);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(prev + g), _mm256_cvtepu16_epi32(p));
  }
  if (g < nv) {
    State st{prev + g, nullptr, nullptr};
    recon_generic<uint16_t>(tile + g * 8, nv - g, st, out + g, rs, 1, kForecastDelta);
  }
}

// ---------------------------------------------------------------- chunk driver pieces
// Shared by the chunk decoders below: each returns nullptr on success or the error message. The
// many-variable chunk decoders are marked noinline: once their loops are written through these
// helpers the compiler would inline them into decode8/decode16, which measured slower.

// The LEB128 count k after an all-zero superblock header; at most `left` more superblocks follow.
inline const char* read_run(const uint8_t* src, size_t len, size_t& pos, size_t left, uint64_t& k) {
  k = 0;
  int shift = 0;
  for (;;) {
    if (pos >= len) return "truncated zero-run length";
    const uint8_t byte = src[pos++];
    if (shift == 63 && byte > 1) return "zero-run length overflows";
    k |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return k > left ? "zero run longer than the chunk" : nullptr;
    shift += 7;
    if (shift > 63) return "zero-run length overflows";
  }
}

// A superblock's payload of `total` bytes at p, which has `readable` bytes readable from it: p
// itself when the unpacks' over-read of up to Slack bytes past the payload stays readable, else a
// zero-padded copy in tmp (total + Slack bytes).
template <size_t Slack>
inline const uint8_t* padded_payload(const uint8_t* p, size_t total, size_t readable, uint8_t* tmp) {
  if (readable >= total + Slack) return p;
  std::memcpy(tmp, p, total);
  std::memset(tmp + total, 0, Slack);
  return tmp;
}

// The chunk's last rows r0..rows, stored raw and row-major (nv variables per row), which must
// end the chunk exactly. out is a contiguous row-major (or 1-variable) output.
template <class T>
const char* raw_tail(const uint8_t* src, size_t len, size_t pos, T* out, size_t r0, size_t rows, size_t nv = 1) {
  if ((len - pos) / sizeof(T) / nv < rows - r0) return "truncated raw tail";
  std::memcpy(out + r0 * nv, src + pos, (rows - r0) * nv * sizeof(T));
  pos += (rows - r0) * nv * sizeof(T);
  if (pos != len) return "unexpected bytes at the end of a chunk";
  return nullptr;
}

// A one-variable superblock header byte: the two blocks' bit widths.
template <class T>
inline const char* single_header(const uint8_t* src, size_t len, size_t& pos, int& b0, int& b1) {
  if (pos >= len) return "truncated block header";
  const uint8_t hdr = src[pos++];
  const int c0 = hdr & 15, c1 = hdr >> 4;
  if (Tr<T>::W == 8 && (c0 > 8 || c1 > 8)) return "invalid bit width for 8-bit data";
  b0 = code_bits<T>(c0);
  b1 = code_bits<T>(c1);
  return nullptr;
}

inline __m128i unpack16_reg(const uint8_t* p, int b) {
  const uint64_t m = 0x0001000100010001ull * ((1u << b) - 1);
  const int off = 4 * b;
  const uint64_t lo = _pdep_u64(load64(p), m);
  const uint64_t hi = _pdep_u64(load64(p + (off >> 3)) >> (off & 7), m);
  return _mm_set_epi64x(int64_t(hi), int64_t(lo));
}

// 8-bit data: both blocks of a superblock (widths b0, b1) unpacked into one register.
inline __m128i unpack8x2_reg(const uint8_t* p, int b0, int b1) {
  const uint64_t lo = _pdep_u64(load64(p), 0x0101010101010101ull * ((1u << b0) - 1));
  const uint64_t hi = _pdep_u64(load64(p + b0), 0x0101010101010101ull * ((1u << b1) - 1));
  return _mm_set_epi64x(int64_t(hi), int64_t(lo));
}

// The chunk loop of the one-variable kernels: `zeros(o, n)` writes n superblocks of zero
// residuals at o, `block(o, q, b0, b1)` decodes one superblock from its payload q (the unpacks
// may read 8 * sizeof(T) bytes past it), then the raw tail.
template <class T, class Zeros, class Block>
TENFOLD_ALWAYS_INLINE const char* single_chunk(const uint8_t* src, size_t len, size_t readable,
                                                               T* out, size_t rows, Zeros zeros, Block block) {
  constexpr size_t kSlack = 8 * sizeof(T);
  const size_t nsb = rows / 16;
  alignas(16) uint8_t tmp[2 * 8 * sizeof(T) + kSlack];
  size_t pos = 0, sb = 0;
  while (sb < nsb) {
    int b0, b1;
    if (const char* err = single_header<T>(src, len, pos, b0, b1)) return err;
    T* o = out + sb * 16;
    if (b0 + b1 == 0) {
      uint64_t k;
      if (const char* err = read_run(src, len, pos, nsb - sb - 1, k)) return err;
      zeros(o, size_t(k) + 1);
      sb += size_t(k) + 1;
      continue;
    }
    if (len - pos < size_t(b0 + b1)) return "truncated block payload";
    const uint8_t* q = padded_payload<kSlack>(src + pos, size_t(b0 + b1), readable - pos, tmp);
    block(o, q, b0, b1);
    pos += size_t(b0 + b1);
    ++sb;
  }
  return raw_tail(src, len, pos, out, nsb * 16, rows);
}

// ---------------------------------------------------------------- one variable, delta
// The whole superblock stays in registers: two pdep unpacks, in-register prefix sums, and the
// running value kept broadcast in a vector (no scalar round trip on the dependency chain).
const char* single_delta(const uint8_t* src, size_t len, size_t readable, uint16_t* out, size_t rows) {
  __m128i prev = _mm_setzero_si128();
  const __m128i last = _mm_set1_epi16(0x0f0e);
  auto zeros = [&](uint16_t* o, size_t n) {
    for (size_t j = 0; j < n; ++j) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16 * j), prev);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16 * j + 8), prev);
    }
  };
  auto block = [&](uint16_t* o, const uint8_t* p, int b0, int b1) {
    __m128i e0 = unzz16(unpack16_reg(p, b0));
    __m128i e1 = unzz16(unpack16_reg(p + b0, b1));
    e0 = _mm_add_epi16(e0, _mm_slli_si128(e0, 2));
    e1 = _mm_add_epi16(e1, _mm_slli_si128(e1, 2));
    e0 = _mm_add_epi16(e0, _mm_slli_si128(e0, 4));
    e1 = _mm_add_epi16(e1, _mm_slli_si128(e1, 4));
    e0 = _mm_add_epi16(e0, _mm_slli_si128(e0, 8));
    e1 = _mm_add_epi16(e1, _mm_slli_si128(e1, 8));
    const __m128i x0 = _mm_add_epi16(e0, prev);
    const __m128i x1 = _mm_add_epi16(e1, _mm_shuffle_epi8(x0, last));
    prev = _mm_shuffle_epi8(x1, last);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), x0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 8), x1);
  };
  return single_chunk(src, len, readable, out, rows, zeros, block);
}

const char* single_delta(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows) {
  __m128i prev = _mm_setzero_si128();
  const __m128i last = _mm_set1_epi8(15);
  auto zeros = [&](uint8_t* o, size_t n) {
    for (size_t j = 0; j < n; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16 * j), prev);
  };
  auto block = [&](uint8_t* o, const uint8_t* p, int b0, int b1) {
    __m128i e = unzz8(unpack8x2_reg(p, b0, b1));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 1));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 2));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 4));
    e = _mm_add_epi8(e, _mm_slli_si128(e, 8));
    const __m128i x = _mm_add_epi8(e, prev);
    prev = _mm_shuffle_epi8(x, last);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), x);
  };
  return single_chunk(src, len, readable, out, rows, zeros, block);
}

// ---------------------------------------------------------------- FIRE
// C order: residual rows of 8 variables are transposed as for delta, then the recurrence runs
// in 8 int32 lanes (one per variable): pd = (a * d) >> 8; d = sext(pd + e); x += d.
inline void rows_of(const uint8_t* t, __m128i* row) {
  __m128i a[8], w[4];
  for (int j = 0; j < 8; ++j) a[j] = unzz8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t + 8 * j)));
  transpose8x8_epi8(a, w);
  for (int k = 0; k < 4; ++k) {
    row[2 * k] = w[k];
    row[2 * k + 1] = _mm_unpackhi_epi64(w[k], w[k]);
  }
}
inline void rows_of(const uint16_t* t, __m128i* row) {
  for (int j = 0; j < 8; ++j) row[j] = unzz16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 8 * j)));
  transpose8x16(row);
}
inline __m256i widen(__m128i r, uint8_t*) { return _mm256_cvtepi8_epi32(r); }
inline __m256i widen(__m128i r, uint16_t*) { return _mm256_cvtepi16_epi32(r); }
inline void store_row(uint8_t* o, __m256i p) {
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_packus_epi16(w, w));
}
inline void store_row(uint16_t* o, __m256i p) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(o),
                   _mm_packus_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
}

template <class T>
inline void rows_fire(const T* tile, size_t nv, State st, T* out, ptrdiff_t rs) {
  constexpr int W = Tr<T>::W;
  const __m256i one = _mm256_set1_epi32(1), mask = _mm256_set1_epi32((1 << W) - 1);
  const __m256i amax = _mm256_set1_epi32(kFireMax), amin = _mm256_set1_epi32(-kFireMax);
  size_t g = 0;
  for (; g + 8 <= nv; g += 8) {
    __m128i row[8];
    rows_of(tile + g * 8, row);
    __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.prev + g));
    __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.d + g));
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.a + g));
    __m256i gs = _mm256_setzero_si256();
    for (int i = 0; i < 8; ++i) {
      const __m256i e = widen(row[i], static_cast<T*>(nullptr));
      const __m256i pd = _mm256_srai_epi32(_mm256_mullo_epi32(a, d), kFireShift);
      const __m256i dn = _mm256_srai_epi32(_mm256_slli_epi32(_mm256_add_epi32(pd, e), 32 - W), 32 - W);
      gs = _mm256_add_epi32(gs, _mm256_sign_epi32(_mm256_sign_epi32(one, e), d));
      d = dn;
      p = _mm256_and_si256(_mm256_add_epi32(p, dn), mask);
      store_row(out + g + i * rs, p);
    }
    const __m256i an = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(a, gs), amin), amax);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.prev + g), p);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.d + g), d);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.a + g), an);
  }
  if (g < nv) {
    State rest{st.prev + g, st.d + g, st.a + g};
    recon_generic<T>(tile + g * 8, nv - g, rest, out + g, rs, 1, kForecastFire);
  }
}

// One variable: the recurrence is serial, so keep every state variable in a register.
template <class T>
const char* single_fire(const uint8_t* src, size_t len, size_t readable, T* out, size_t rows) {
  constexpr int W = Tr<T>::W;
  int32_t p = 0, d = 0, a = 0;
  alignas(32) int16_t E[16];
  // state copied into locals: stores through T* (char for 8-bit) must not force reloads
  auto run16 = [&](T* o, const int16_t* e, int nblocks) {
    int32_t lp = p, ld = d, la = a;
    for (int h = 0; h < nblocks; ++h) {
      int32_t gsum = 0;
      for (int i = 0; i < 8; ++i) {
        const int32_t ei = e[8 * h + i];
        const int32_t dn = int32_t(typename Tr<T>::S(T(uint32_t((la * ld) >> kFireShift) + uint32_t(ei))));
        gsum += sgn(ei) * sgn(ld);
        ld = dn;
        lp = (lp + dn) & ((1 << W) - 1);
        o[8 * h + i] = T(lp);
      }
      la += gsum;
      la = la > kFireMax ? kFireMax : (la < -kFireMax ? -kFireMax : la);
    }
    p = lp;
    d = ld;
    a = la;
  };
  auto zeros = [&](T* o, size_t n) {
    alignas(32) int16_t zero[16] = {0};
    for (size_t j = 0; j < n; ++j) run16(o + 16 * j, zero, 2);
  };
  auto block = [&](T* o, const uint8_t* q, int b0, int b1) {
    if (W == 16) {
      _mm_store_si128(reinterpret_cast<__m128i*>(E), unzz16(unpack16_reg(q, b0)));
      _mm_store_si128(reinterpret_cast<__m128i*>(E + 8), unzz16(unpack16_reg(q + b0, b1)));
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(E), _mm256_cvtepi8_epi16(unzz8(unpack8x2_reg(q, b0, b1))));
    }
    run16(o, E, 2);
  };
  return single_chunk(src, len, readable, out, rows, zeros, block);
}

// ---------------------------------------------------------------- FIRE, contiguous columns
// rs == 1 (Fortran order, and the 8 segments of a 1-variable FIRE chunk): 8 variables at a time,
// the residual tile (var-major) is transposed to rows, the recurrence runs on 8 int16 lanes, and
// the reconstructed rows are transposed back. 16-bit lanes are exact: the next delta only needs
// bits 8..23 of a * d (|a| <= 256), assembled from mullo/mulhi, and everything else wraps mod 2^16
// (8-bit data sign-extends the new delta from its low byte, as the scalar code does).
inline __m128i resid16(const uint8_t* t) {
  return _mm_cvtepi8_epi16(unzz8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t))));
}
inline __m128i resid16(const uint16_t* t) { return unzz16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t))); }
inline __m128i load_state16(const int32_t* s, bool sgn) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  return sgn ? _mm_packs_epi32(lo, hi) : _mm_packus_epi32(lo, hi);
}
inline void store_cols(uint16_t* o, ptrdiff_t cs, const __m128i* c) {
  for (int j = 0; j < 8; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(o + j * cs), c[j]);
}
inline void store_cols(uint8_t* o, ptrdiff_t cs, const __m128i* c) {
  const __m128i m = _mm_set1_epi16(0xff);
  for (int j = 0; j < 8; j += 2) {
    const __m128i b = _mm_packus_epi16(_mm_and_si128(c[j], m), _mm_and_si128(c[j + 1], m));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o + j * cs), b);
    _mm_storeh_pi(reinterpret_cast<__m64*>(o + (j + 1) * cs), _mm_castsi128_ps(b));
  }
}

template <int W>
TENFOLD_ALWAYS_INLINE void fire_rows16(__m128i* r, __m128i& p, __m128i& d, __m128i& a) {
  const __m128i one = _mm_set1_epi16(1), amax = _mm_set1_epi16(kFireMax), amin = _mm_set1_epi16(-kFireMax);
  __m128i gs = _mm_setzero_si128();
  for (int i = 0; i < 8; ++i) {
    const __m128i e = r[i];
    const __m128i lo = _mm_mullo_epi16(a, d), hi = _mm_mulhi_epi16(a, d);
    __m128i s = _mm_add_epi16(_mm_or_si128(_mm_srli_epi16(lo, kFireShift), _mm_slli_epi16(hi, 16 - kFireShift)), e);
    if (W == 8) s = _mm_srai_epi16(_mm_slli_epi16(s, 8), 8);
    gs = _mm_add_epi16(gs, _mm_sign_epi16(_mm_sign_epi16(one, e), d));
    d = s;
    p = _mm_add_epi16(p, s);
    r[i] = p;
  }
  a = _mm_min_epi16(_mm_max_epi16(_mm_add_epi16(a, gs), amin), amax);
}

template <class T>
inline void cols_fire(const T* tile, size_t nv, State st, T* out, ptrdiff_t cs) {
  constexpr int W = Tr<T>::W;
  const __m128i pmask = _mm_set1_epi16(short((1 << W) - 1));
  size_t g = 0;
  for (; g + 8 <= nv; g += 8) {
    __m128i r[8];
    for (int j = 0; j < 8; ++j) r[j] = resid16(tile + (g + size_t(j)) * 8);
    transpose8x16(r);
    __m128i p = load_state16(st.prev + g, false), d = load_state16(st.d + g, true);
    __m128i a = load_state16(st.a + g, true);
    fire_rows16<W>(r, p, d, a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.prev + g), _mm256_cvtepu16_epi32(_mm_and_si128(p, pmask)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.d + g), _mm256_cvtepi16_epi32(d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.a + g), _mm256_cvtepi16_epi32(a));
    transpose8x16(r);
    store_cols(out + ptrdiff_t(g) * cs, cs, r);
  }
  if (g < nv) {
    State rest{st.prev + g, st.d + g, st.a + g};
    recon_generic<T>(tile + g * 8, nv - g, rest, out + ptrdiff_t(g) * cs, 1, cs, kForecastFire);
  }
}


// Exactly 8 contiguous columns of a multiple of 16 rows (the segments of a 1-variable FIRE
// chunk): residuals are unpacked straight into registers and the state never leaves them.
inline __m128i resid_reg(const uint8_t* q, int b, uint8_t*) {
  const uint64_t v = _pdep_u64(load64(q), 0x0101010101010101ull * ((1u << b) - 1));
  return _mm_cvtepi8_epi16(unzz8(_mm_cvtsi64_si128(int64_t(v))));
}
inline __m128i resid_reg(const uint8_t* q, int b, uint16_t*) { return unzz16(unpack16_reg(q, b)); }

template <class T>
TENFOLD_NOINLINE const char* seg_fire(const uint8_t* src, size_t len, size_t readable, T* out, size_t rows, ptrdiff_t cs) {
  constexpr int W = Tr<T>::W;
  const size_t nsb = rows / 16;
  size_t pos = 0, sb = 0;
  __m128i p = _mm_setzero_si128(), d = _mm_setzero_si128(), a = _mm_setzero_si128();
  alignas(16) uint8_t tmp[2 * 8 * 16 + 32];
  while (sb < nsb) {
    if (len - pos < 8) return "truncated block header";
    const uint8_t* hp = src + pos;
    const uint64_t hdr = load64(hp);
    pos += 8;
    size_t total = 0;
    if (!header_total_scalar<T>(hp, 8, total)) return "invalid bit width for 8-bit data";
    T* o = out + sb * 16;
    if (total == 0) {
      uint64_t k;
      if (const char* err = read_run(src, len, pos, nsb - sb - 1, k)) return err;
      for (uint64_t j = 0; j < 2 * (k + 1); ++j) {
        __m128i r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm_setzero_si128();
        fire_rows16<W>(r, p, d, a);
        transpose8x16(r);
        store_cols(o + 8 * j, cs, r);
      }
      sb += size_t(k) + 1;
      continue;
    }
    if (len - pos < total) return "truncated block payload";
    const uint8_t* q = padded_payload<16>(src + pos, total, readable - pos, tmp);
    for (int h = 0; h < 2; ++h) {
      __m128i r[8];
      for (int j = 0; j < 8; ++j) {
        const int b = code_bits<T>(int(hdr >> (8 * j + 4 * h)) & 15);
        r[j] = resid_reg(q, b, static_cast<T*>(nullptr));
        q += b;
      }
      transpose8x16(r);
      fire_rows16<W>(r, p, d, a);
      transpose8x16(r);
      store_cols(o + 8 * h, cs, r);
    }
    pos += total;
    ++sb;
  }
  if (pos != len) return "unexpected bytes at the end of a chunk";
  return nullptr;
}


// ---------------------------------------------------------------- C order, 8-bit, delta, > 16 vars
// (2..16 variables run the register kernels further below.) Fused: each group of 8 variables is unpacked with pdep straight into registers, transposed to
// rows, unzigzagged, prefix-added onto the previous output row and stored; no tile and no state
// (the previous row is read back from the output). A last partial group (nv % 8 variables, or
// all of them when nv < 8) runs FIRST with 8-byte row stores whose spill lands on the next row's
// first variables, which the full groups (or the next block) rewrite afterwards; the extra lanes
// decode zero-width residuals. In the chunk's last block, rows whose store would reach past the
// block are stored exactly.
// Widths of 8 consecutive variables for block h, one per byte (8-bit data: codes are bit counts),
// from their 8 header bytes (lanes past the last variable are zero).
inline uint64_t widths8(uint64_t hdr8, int h) { return (h ? hdr8 >> 4 : hdr8) & 0x0F0F0F0F0F0F0F0Full; }
inline uint64_t header8(const uint8_t* hdr, size_t n) {  // n <= 8 bytes, zero-padded
  uint64_t v = 0;
  std::memcpy(&v, hdr, n);
  return v;
}

// Bit widths of 8 variables for block h, one per byte, for T (16-bit code 15 means 16 bits).
template <class T>
inline uint64_t widths_of(uint64_t h8, int h) {
  uint64_t w = widths8(h8, h);
  if (Tr<T>::W == 16) w += ((w + 0x0101010101010101ull) >> 4) & 0x0101010101010101ull;
  return w;
}
inline size_t wsum(uint64_t w) { return size_t((w * 0x0101010101010101ull) >> 56); }  // <= 8 * 16

// A superblock header of nv bytes at hdr (readable bytes from hdr on: `readable`): the partial
// group's header bytes (zero-padded), the payload size, and false if an 8-bit width exceeds 8.
template <class T>
inline bool sb_header(const uint8_t* hdr, size_t nv, size_t readable, uint64_t& hpart, size_t& total) {
  const size_t full = nv / 8 * 8, part = nv - full;
  hpart = 0;
  if (part) hpart = readable - full >= 8 ? _bzhi_u64(load64(hdr + full), unsigned(8 * part)) : header8(hdr + full, part);
  total = 0;
  uint64_t bad = 0;
  for (size_t g = 0; g < full + (part ? 8 : 0); g += 8) {
    const uint64_t h8 = g < full ? load64(hdr + g) : hpart;
    const uint64_t w0 = widths_of<T>(h8, 0), w1 = widths_of<T>(h8, 1);
    if (Tr<T>::W == 8) bad |= (w0 + 0x0707070707070707ull) | (w1 + 0x0707070707070707ull);
    total += wsum(w0) + wsum(w1);  // each <= 8 * 16 = 128: no byte overflow
  }
  return !(bad & 0x1010101010101010ull);
}

// The chunk loop of the C-ordered many-variable kernels (row stride nv): superblock headers
// (sb_header), runs of all-zero superblocks, where `zeros(o, hdr, sb, n)` decodes the n superblocks
// of zero residuals from superblock sb on at o; `superblock(o, hdr, hpart, q, sb)` decodes superblock
// sb from its payload q (the unpacks may read Slack bytes past it; tmp holds a padded copy near the
// end of the readable bytes); then the raw tail.
template <class T, size_t Slack, class Zeros, class Superblock>
TENFOLD_ALWAYS_INLINE const char* rows_chunk(const uint8_t* src, size_t len, size_t readable, T* out,
                                                             size_t rows, size_t nv, uint8_t* tmp, Zeros zeros,
                                                             Superblock superblock) {
  const size_t nsb = rows / 16;
  size_t pos = 0, sb = 0;
  while (sb < nsb) {
    if (len - pos < nv) return "truncated block header";
    const uint8_t* hdr = src + pos;
    uint64_t hpart;
    size_t total;
    if (!sb_header<T>(hdr, nv, readable - pos, hpart, total)) return "invalid bit width for 8-bit data";
    pos += nv;
    T* o = out + sb * 16 * nv;
    if (total == 0) {
      uint64_t k;
      if (const char* err = read_run(src, len, pos, nsb - sb - 1, k)) return err;
      zeros(o, hdr, sb, size_t(k) + 1);
      sb += size_t(k) + 1;
      continue;
    }
    if (len - pos < total) return "truncated block payload";
    const uint8_t* q = padded_payload<Slack>(src + pos, total, readable - pos, tmp);
    superblock(o, hdr, hpart, q, sb);
    pos += total;
    ++sb;
  }
  return raw_tail(src, len, pos, out, nsb * 16, rows, nv);
}

// Delta, all-zero superblocks: every row repeats the previous one (zeros in the chunk's first rows).
template <class T>
inline void repeat_rows(T* o, size_t nrows, size_t nv, bool first) {
  if (first) std::memset(o, 0, nrows * nv * sizeof(T));
  else
    for (size_t r = 0; r < nrows; ++r) std::memcpy(o + r * nv, o + (ptrdiff_t(r) - 1) * ptrdiff_t(nv), nv * sizeof(T));
}

TENFOLD_ALWAYS_INLINE void rows8_group(const uint8_t* q, uint64_t w, const uint8_t* prev,
                                                       uint8_t* od, size_t nv, size_t nreal, bool exact_last,
                                                       size_t j0) {
  // exclusive prefix sums of the widths, one per byte (at most 7 * 8 = 56: no carries)
  const uint64_t pre = (w * 0x0101010101010101ull) << 8;
  __m128i a[8];
  for (size_t j = 0; j < 8; ++j) {
    const uint32_t s0 = uint32_t(pre >> (8 * j)) & 0xff, b = uint32_t(w >> (8 * j)) & 0xff;
    a[j] = j < nreal ? _mm_cvtsi64_si128(int64_t(_pdep_u64(load64(q + s0), 0x0101010101010101ull * ((1u << b) - 1))))
                     : _mm_setzero_si128();
  }
  __m128i wr[4];
  transpose8x8_epi8(a, wr);
  for (int k = 0; k < 4; ++k) wr[k] = unzz8(wr[k]);
  __m128i p = prev ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(prev)) : _mm_setzero_si128();
  p = _mm_unpacklo_epi64(p, p);
  for (int k = 0; k < 4; ++k) {
    const __m128i sum = _mm_add_epi8(_mm_add_epi8(wr[k], _mm_slli_si128(wr[k], 8)), p);
    if (!exact_last) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(od + size_t(2 * k) * nv), sum);
      _mm_storeh_pi(reinterpret_cast<__m64*>(od + size_t(2 * k + 1) * nv), _mm_castsi128_ps(sum));
    } else {  // the chunk's last block: an 8-byte store may not reach past the block's end
      alignas(16) uint8_t row[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(row), sum);
      for (size_t i = size_t(2 * k); i < size_t(2 * k + 2); ++i) {
        const size_t n8 = j0 + i * nv + 8 <= 8 * nv ? 8 : nreal;
        std::memcpy(od + i * nv, row + 8 * (i & 1), n8);
      }
    }
    p = _mm_unpackhi_epi64(sum, sum);
  }
}

TENFOLD_NOINLINE const char* rows8_delta(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows, size_t nv,
                        int32_t* scratch) {
  const size_t nsb = rows / 16, full = nv / 8 * 8, part = nv - full;
  auto zeros = [&](uint8_t* o, const uint8_t*, size_t sb, size_t n) { repeat_rows(o, 16 * n, nv, sb == 0); };
  auto superblock = [&](uint8_t* o, const uint8_t* hdr, uint64_t hpart, const uint8_t* q, size_t sb) {
    for (int h = 0; h < 2; ++h) {
      uint8_t* ob = o + size_t(8 * h) * nv;
      const bool first = sb == 0 && h == 0;
      const bool last = sb + 1 == nsb && h == 1;  // no spill past the block (a raw tail may be shorter)
      // the partial group first (its payload follows all full groups' payload in this block)
      size_t base = 0;
      if (part) {
        for (size_t g = 0; g < full; g += 8) base += wsum(widths8(load64(hdr + g), h));
        const uint64_t w = widths8(hpart, h);
        rows8_group(q + base, w, first ? nullptr : ob - nv + full, ob + full, nv, part, last, full);
        base += wsum(w);
      }
      size_t at = 0;
      for (size_t g = 0; g < full; g += 8) {
        const uint64_t w = widths8(load64(hdr + g), h);
        rows8_group(q + at, w, first ? nullptr : ob - nv + g, ob + g, nv, 8, false, g);
        at += wsum(w);
      }
      q += part ? base : at;
    }
  };
  // superblock payload copy near the end: scratch
  return rows_chunk<uint8_t, 8>(src, len, readable, out, rows, nv, reinterpret_cast<uint8_t*>(scratch), zeros,
                                superblock);
}

// ---------------------------------------------------------------- C order, 8-bit, delta, 2..16 vars
// Few variables (nv a compile-time constant NV <= 16, e.g. sensor sets of 3-12 channels): each
// variable's 8 residuals of a block are unpacked with pdep into one 64-bit lane, 4 variables per
// ymm; unzigzag and the prefix sum over the 8 rows run inside the lanes, starting from the
// previous row's values, kept broadcast in registers (no state in memory). The variable-major
// block is then turned into its 8 * NV row-major output bytes with compile-time byte shuffles
// (each pair of variables duplicated into both 128-bit lanes, one vpshufb per output vector and
// pair, or-ed) and stored with exact-size stores, so nothing spills past the block.
template <size_t NV>
struct FewTables {
  static constexpr size_t K = (NV + 3) / 4, NP = (NV + 1) / 2, M = (8 * NV + 31) / 32;
  alignas(32) int8_t shuf[M][NP][32];  // output vector m, pair p: source byte or -128 (zero)
  bool used[M][NP];                    // pair p contributes to output vector m
  constexpr FewTables() : shuf(), used() {
    for (size_t m = 0; m < M; ++m)
      for (size_t p = 0; p < NP; ++p) {
        used[m][p] = false;
        for (size_t t = 0; t < 32; ++t) {
          const size_t j = 32 * m + t, i = j / NV, v = j % NV;  // output byte j = row i, variable v
          const bool in = j < 8 * NV && v / 2 == p;
          shuf[m][p][t] = in ? int8_t((v % 2) * 8 + i) : int8_t(-128);
          used[m][p] = used[m][p] || in;
        }
      }
  }
};
template <size_t NV>
constexpr FewTables<NV> kFewTables{};

// pdep masks: b low bits of every byte
constexpr uint64_t kByteMask[9] = {0,
                                   0x0101010101010101ull,
                                   0x0303030303030303ull,
                                   0x0707070707070707ull,
                                   0x0F0F0F0F0F0F0F0Full,
                                   0x1F1F1F1F1F1F1F1Full,
                                   0x3F3F3F3F3F3F3F3Full,
                                   0x7F7F7F7F7F7F7F7Full,
                                   0xFFFFFFFFFFFFFFFFull};

inline __m256i unzz8x32(__m256i e) {
  const __m256i t = _mm256_and_si256(_mm256_srli_epi16(e, 1), _mm256_set1_epi8(0x7f));
  const __m256i s = _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_and_si256(e, _mm256_set1_epi8(1)));
  return _mm256_xor_si256(t, s);
}

// Row-major output vectors O[0, M) of the variable-major block X (variable v in byte lane v % 4
// of X[v / 4], rows 0..7 in its 8 bytes).
template <size_t NV>
TENFOLD_ALWAYS_INLINE void few8_transpose(const __m256i* X, __m256i* O) {
  constexpr const FewTables<NV>& tb = kFewTables<NV>;
TENFOLD_UNROLL(16)
  for (size_t m = 0; m < FewTables<NV>::M; ++m) {
    __m256i acc = _mm256_setzero_si256();
TENFOLD_UNROLL(16)
    for (size_t p = 0; p < FewTables<NV>::NP; ++p) {
      if (!tb.used[m][p]) continue;
      const __m256i d = (p % 2) ? _mm256_permute4x64_epi64(X[p / 2], 0xEE) : _mm256_permute4x64_epi64(X[p / 2], 0x44);
      const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(tb.shuf[m][p]));
      acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(d, s));
    }
    O[m] = acc;
  }
}

template <size_t NV>
TENFOLD_ALWAYS_INLINE void few8_store(const __m256i* O, uint8_t* o) {
TENFOLD_UNROLL(16)
  for (size_t m = 0; m < FewTables<NV>::M; ++m) {
    const size_t n = 8 * NV - 32 * m < 32 ? 8 * NV - 32 * m : 32;
    uint8_t* d = o + 32 * m;
    if (n == 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), O[m]);
    } else {
      const __m128i lo = _mm256_castsi256_si128(O[m]);
      if (n == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(d), lo);
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d), lo);
        if (n == 24) _mm_storel_epi64(reinterpret_cast<__m128i*>(d + 16), _mm256_extracti128_si256(O[m], 1));
      }
    }
  }
}

// The residual bytes of one block (8 rows) of block half H of a superblock, unpacked with pdep:
// u[v] = variable v's 8 zigzagged residuals (rows in bytes 0..7), zero for v >= NV. Widths from
// the header nibbles in h0 (variables 0-7) and h1 (8-15); payload at q.
template <size_t NV, int H, size_t NU>
TENFOLD_ALWAYS_INLINE void few8_unpack(uint64_t h0, uint64_t h1, const uint8_t* q, uint64_t* u) {
  size_t off = 0;
TENFOLD_UNROLL(16)
  for (size_t v = 0; v < NV; ++v) {
    const unsigned b = unsigned((v < 8 ? h0 >> (8 * v + 4 * H) : h1 >> (8 * (v - 8) + 4 * H)) & 15);
    u[v] = _pdep_u64(load64(q + off), kByteMask[b]);
    off += b;
  }
TENFOLD_UNROLL(16)
  for (size_t v = NV; v < NU; ++v) u[v] = 0;
}

// Delta: P holds the previous row broadcast per variable (byte lanes of 4 variables per vector).
template <size_t NV>
struct FewDelta {
  static constexpr size_t K = FewTables<NV>::K;
  __m256i P[K];
  FewDelta() {
    for (size_t k = 0; k < K; ++k) P[k] = _mm256_setzero_si256();
  }
  template <int H>
  TENFOLD_ALWAYS_INLINE void block(uint64_t h0, uint64_t h1, const uint8_t* q, uint8_t* o, bool) {
    uint64_t u[4 * K];
    few8_unpack<NV, H, 4 * K>(h0, h1, q, u);
    const __m256i last = _mm256_setr_epi8(7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7,
                                          7, 7, 15, 15, 15, 15, 15, 15, 15, 15);
    __m256i X[K];
TENFOLD_UNROLL(4)
    for (size_t k = 0; k < K; ++k) {
      __m256i e = unzz8x32(_mm256_set_epi64x(int64_t(u[4 * k + 3]), int64_t(u[4 * k + 2]), int64_t(u[4 * k + 1]),
                                             int64_t(u[4 * k])));
      e = _mm256_add_epi8(e, _mm256_slli_epi64(e, 8));
      e = _mm256_add_epi8(e, _mm256_slli_epi64(e, 16));
      e = _mm256_add_epi8(e, _mm256_slli_epi64(e, 32));
      X[k] = _mm256_add_epi8(e, P[k]);
      P[k] = _mm256_shuffle_epi8(X[k], last);
    }
    __m256i O[FewTables<NV>::M];
    few8_transpose<NV>(X, O);
    few8_store<NV>(O, o);
  }
  // nblocks all-zero blocks: every row repeats the previous one
  void zeros(uint8_t* o, size_t nblocks, bool) {
    __m256i O[FewTables<NV>::M];
    few8_transpose<NV>(P, O);
    for (size_t j = 0; j < nblocks; ++j) few8_store<NV>(O, o + j * 8 * NV);
  }
};

// FIRE: the recurrence runs on the rows, one int16 lane per variable (8 lanes of an xmm for
// NV <= 8, 16 of a ymm beyond). The residual block is transposed to rows with byte unpacks. For
// 8-bit data (a * d) >> 8 is mulhi(a, d << 8) exactly (|d| <= 128, |a| <= 256), so the state
// keeps D = d << 8, and the next D is just (pd + e) << 8 (the sign extension from the low byte
// comes for free); the output keeps the low byte of p += pd + e. Rows are stored with 8- or
// 16-byte stores whose spill past NV bytes lands on the next rows (rewritten right after); the
// chunk's last block is stored exactly.
inline void transpose8x8_bytes(const uint64_t* u, __m128i* w) {  // w[k] = rows 2k, 2k+1 of 8 variables
  __m128i a[8];
  for (int j = 0; j < 8; ++j) a[j] = _mm_cvtsi64_si128(int64_t(u[j]));
  transpose8x8_epi8(a, w);
}

// The two register widths of the recurrence: the int16 operations it uses, the residual rows of
// kLanes variables from their unpacked bytes u[0..kLanes-1], and rows 2k, 2k+1 (lanes < 256)
// packed to bytes in row order (kLanes bytes each) and stored to two row addresses.
struct Fire8Lanes {  // 2..8 variables: xmm
  using V = __m128i;
  static constexpr size_t kLanes = 8;
  TENFOLD_ALWAYS_INLINE static V zero() { return _mm_setzero_si128(); }
  TENFOLD_ALWAYS_INLINE static V set1(int16_t x) { return _mm_set1_epi16(x); }
  TENFOLD_ALWAYS_INLINE static V add(V x, V y) { return _mm_add_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V mulhi(V x, V y) { return _mm_mulhi_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V sign(V x, V y) { return _mm_sign_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V shl8(V x) { return _mm_slli_epi16(x, 8); }
  TENFOLD_ALWAYS_INLINE static V and_(V x, V y) { return _mm_and_si128(x, y); }
  TENFOLD_ALWAYS_INLINE static V clamp(V x, V lo, V hi) { return _mm_min_epi16(_mm_max_epi16(x, lo), hi); }
  TENFOLD_ALWAYS_INLINE static V pack_rows(V x0, V x1) { return _mm_packus_epi16(x0, x1); }
  TENFOLD_ALWAYS_INLINE static void store_rows(uint8_t* o0, uint8_t* o1, V b) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o0), b);
    _mm_storeh_pi(reinterpret_cast<__m64*>(o1), _mm_castsi128_ps(b));
  }
  TENFOLD_ALWAYS_INLINE static void store_aligned(uint8_t* o, V b) {
    _mm_store_si128(reinterpret_cast<__m128i*>(o), b);
  }
  TENFOLD_ALWAYS_INLINE static void resid_rows(const uint64_t* u, V* e) {
    __m128i w[4];
    transpose8x8_bytes(u, w);
    for (int k = 0; k < 4; ++k) {
      const __m128i r = unzz8(w[k]);
      e[2 * k] = _mm_cvtepi8_epi16(r);
      e[2 * k + 1] = _mm_cvtepi8_epi16(_mm_unpackhi_epi64(r, r));
    }
  }
};
struct Fire16Lanes {  // 9..16 variables (and the groups of 16 of wide8_fire): ymm
  using V = __m256i;
  static constexpr size_t kLanes = 16;
  TENFOLD_ALWAYS_INLINE static V zero() { return _mm256_setzero_si256(); }
  TENFOLD_ALWAYS_INLINE static V set1(int16_t x) { return _mm256_set1_epi16(x); }
  TENFOLD_ALWAYS_INLINE static V add(V x, V y) { return _mm256_add_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V mulhi(V x, V y) { return _mm256_mulhi_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V sign(V x, V y) { return _mm256_sign_epi16(x, y); }
  TENFOLD_ALWAYS_INLINE static V shl8(V x) { return _mm256_slli_epi16(x, 8); }
  TENFOLD_ALWAYS_INLINE static V and_(V x, V y) { return _mm256_and_si256(x, y); }
  TENFOLD_ALWAYS_INLINE static V clamp(V x, V lo, V hi) {
    return _mm256_min_epi16(_mm256_max_epi16(x, lo), hi);
  }
  TENFOLD_ALWAYS_INLINE static V pack_rows(V x0, V x1) {  // packus works per 128-bit half
    return _mm256_permute4x64_epi64(_mm256_packus_epi16(x0, x1), 0xD8);
  }
  TENFOLD_ALWAYS_INLINE static void store_rows(uint8_t* o0, uint8_t* o1, V b) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o0), _mm256_castsi256_si128(b));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o1), _mm256_extracti128_si256(b, 1));
  }
  TENFOLD_ALWAYS_INLINE static void store_aligned(uint8_t* o, V b) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), b);
  }
  TENFOLD_ALWAYS_INLINE static void resid_rows(const uint64_t* u, V* e) {
    __m128i w0[4], w1[4];
    transpose8x8_bytes(u, w0);
    transpose8x8_bytes(u + 8, w1);
    for (int k = 0; k < 4; ++k) {
      e[2 * k] = _mm256_cvtepi8_epi16(unzz8(_mm_unpacklo_epi64(w0[k], w1[k])));
      e[2 * k + 1] = _mm256_cvtepi8_epi16(unzz8(_mm_unpackhi_epi64(w0[k], w1[k])));
    }
  }
};

// The FIRE recurrence of kLanes variables over one block (residual rows e[0..7], int16 lanes),
// rows stored at o + i * stride: kLanes-byte stores whose spill past `nbytes` lands on the next
// row, or, when `exact`, exactly nbytes per row.
template <class L>
TENFOLD_ALWAYS_INLINE void fire_rows(const typename L::V* e, typename L::V& p, typename L::V& D,
                                                     typename L::V& a, uint8_t* o, size_t stride, size_t nbytes,
                                                     bool exact) {
  using V = typename L::V;
  const V one = L::set1(1), amax = L::set1(kFireMax), amin = L::set1(-kFireMax), low = L::set1(0xff);
  V gs = L::zero(), x[8];
  for (int i = 0; i < 8; ++i) {
    const V s = L::add(L::mulhi(a, D), e[i]);
    gs = L::add(gs, L::sign(L::sign(one, e[i]), D));  // += sgn(e) * sgn(d)
    D = L::shl8(s);
    p = L::add(p, s);
    x[i] = L::and_(p, low);
  }
  a = L::clamp(L::add(a, gs), amin, amax);
  if (!exact) {
    for (int k = 0; k < 4; ++k) L::store_rows(o + 2 * k * stride, o + (2 * k + 1) * stride, L::pack_rows(x[2 * k], x[2 * k + 1]));
  } else {  // nothing may land past the row's nbytes
    alignas(32) uint8_t rows[8 * L::kLanes];
    for (int k = 0; k < 4; ++k) L::store_aligned(rows + 2 * L::kLanes * k, L::pack_rows(x[2 * k], x[2 * k + 1]));
    for (size_t i = 0; i < 8; ++i) std::memcpy(o + i * stride, rows + L::kLanes * i, nbytes);
  }
}

// 2..16 variables, the whole state (p, D = d << 8, a) in registers.
template <size_t NV>
struct FewFire {
  using L = std::conditional_t<(NV > 8), Fire16Lanes, Fire8Lanes>;
  typename L::V p = L::zero(), D = L::zero(), a = L::zero();
  template <int H>
  TENFOLD_ALWAYS_INLINE void block(uint64_t h0, uint64_t h1, const uint8_t* q, uint8_t* o, bool exact) {
    uint64_t u[L::kLanes];
    few8_unpack<NV, H, L::kLanes>(h0, h1, q, u);
    typename L::V e[8];
    L::resid_rows(u, e);
    fire_rows<L>(e, p, D, a, o, NV, NV, exact);
  }
  void zeros(uint8_t* o, size_t nblocks, bool exact) {
    typename L::V e[8];
    for (int i = 0; i < 8; ++i) e[i] = L::zero();
    for (size_t j = 0; j < nblocks; ++j) fire_rows<L>(e, p, D, a, o + j * 8 * NV, NV, NV, exact && j + 1 == nblocks);
  }
};

// ---------------------------------------------------------------- C order, 8-bit, FIRE, > 16 vars
// Groups of 16 variables through the same 16-lane recurrence, the state (p, d << 8, a as int16)
// kept per variable in scratch between blocks. The last partial group (nv % 16 variables) runs
// first in each block: its spilling row stores land on the next row's first variables, which the
// full groups (or the next block) rewrite; the chunk's last block is stored exactly.
TENFOLD_NOINLINE const char* wide8_fire(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows, size_t nv,
                       int32_t* scratch) {
  const size_t nsb = rows / 16, ng = (nv + 15) / 16, part = nv % 16;
  int16_t* state = reinterpret_cast<int16_t*>(scratch);  // p, D, a: 3 x 16 ng int16 (<= 3 x padded(nv) words)
  std::memset(state, 0, 3 * 16 * ng * sizeof(int16_t));
  uint8_t* tmp = reinterpret_cast<uint8_t*>(scratch + 3 * padded(nv));  // payload copy near the end
  auto group = [&](size_t g, int h, const uint8_t* hdr, const uint8_t* q, uint8_t* o, bool exact, bool zero) {
    const size_t n = g + 1 == ng && part ? part : 16;
    uint64_t u[16];
    size_t off = 0;
    for (size_t v = 0; v < 16; ++v) {
      const unsigned b = v < n && !zero ? unsigned(hdr[16 * g + v] >> (4 * h)) & 15 : 0;
      u[v] = b ? _pdep_u64(load64(q + off), kByteMask[b]) : 0;
      off += b;
    }
    __m256i e[8];
    Fire16Lanes::resid_rows(u, e);
    int16_t* st = state + 48 * g;
    __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st));
    __m256i D = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st + 16));
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st + 32));
    fire_rows<Fire16Lanes>(e, p, D, a, o + 16 * g, nv, n, exact);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st), p);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st + 16), D);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st + 32), a);
  };
  auto zeros = [&](uint8_t* o, const uint8_t* hdr, size_t sb, size_t n) {  // the recurrence still runs
    for (size_t j = 0; j < 2 * n; ++j) {
      const bool last = sb + n == nsb && j + 1 == 2 * n;
      for (size_t g = ng; g-- > 0;) group(g, 0, hdr, nullptr, o + j * 8 * nv, last, true);
    }
  };
  auto superblock = [&](uint8_t* o, const uint8_t* hdr, uint64_t hpart, const uint8_t* q, size_t sb) {
    for (int h = 0; h < 2; ++h) {
      const bool last = sb + 1 == nsb && h == 1;
      size_t full = 0;  // payload bytes of the full groups in this block (8 header bytes at a time)
      for (size_t g8 = 0; g8 < nv / 16 * 16; g8 += 8) full += wsum(widths8(load64(hdr + g8), h));
      size_t block = full;
      if (part) {  // first: its spilling stores are rewritten by the full groups
        group(ng - 1, h, hdr, q + full, o + 8 * size_t(h) * nv, last, false);
        if (part >= 8) block += wsum(widths8(load64(hdr + nv / 16 * 16), h));
        block += wsum(widths8(hpart, h));  // the last nv % 8 header bytes (zero if none)
      }
      size_t at = 0;
      for (size_t g = 0; g < nv / 16; ++g) {
        group(g, h, hdr, q + at, o + 8 * size_t(h) * nv, false, false);
        at += wsum(widths8(load64(hdr + 16 * g), h)) + wsum(widths8(load64(hdr + 16 * g + 8), h));
      }
      q += block;
    }
  };
  return rows_chunk<uint8_t, 8>(src, len, readable, out, rows, nv, tmp, zeros, superblock);
}

// The chunk loop shared by both forecasters: superblock headers (validated 8 bytes at a time),
// zero runs, payload bounds (copied to a zero-padded buffer near the end of the readable bytes,
// as every unpack reads 8 bytes), the raw tail.
template <size_t NV, class Codec>
const char* few8_run(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows) {
  static_assert(NV >= 2 && NV <= 16, "the few-variable kernels are for 2..16 variables");
  const size_t nsb = rows / 16;
  Codec codec;
  alignas(32) uint8_t tmp[2 * 8 * NV + 16];
  size_t pos = 0, sb = 0;
  while (sb < nsb) {
    if (len - pos < NV) return "truncated block header";
    const uint8_t* hdr = src + pos;
    uint64_t h0, h1 = 0;  // header bytes 0-7 and 8-15, zero past NV
    if (readable - pos >= 16) {
      h0 = _bzhi_u64(load64(hdr), unsigned(NV < 8 ? 8 * NV : 64));
      if (NV > 8) h1 = _bzhi_u64(load64(hdr + 8), unsigned(8 * (NV > 8 ? NV - 8 : 0)));
    } else {
      h0 = header8(hdr, NV < 8 ? NV : 8);
      if (NV > 8) h1 = header8(hdr + 8, NV > 8 ? NV - 8 : 0);
    }
    pos += NV;
    // payload bytes and width validation (8-bit codes <= 8), 8 header bytes at a time
    const uint64_t w00 = widths8(h0, 0), w01 = widths8(h0, 1), w10 = widths8(h1, 0), w11 = widths8(h1, 1);
    const uint64_t seven = 0x0707070707070707ull;
    if (((w00 + seven) | (w01 + seven) | (w10 + seven) | (w11 + seven)) & 0x1010101010101010ull)
      return "invalid bit width for 8-bit data";
    const size_t total0 = wsum(w00) + wsum(w10), total = total0 + wsum(w01) + wsum(w11);
    uint8_t* o = out + sb * 16 * NV;
    if (total == 0) {  // a run of all-zero superblocks
      uint64_t k;
      if (const char* err = read_run(src, len, pos, nsb - sb - 1, k)) return err;
      sb += size_t(k) + 1;
      codec.zeros(o, 2 * (size_t(k) + 1), sb == nsb);
      continue;
    }
    if (len - pos < total) return "truncated block payload";
    const uint8_t* q = padded_payload<8>(src + pos, total, readable - pos, tmp);
    codec.template block<0>(h0, h1, q, o, false);
    codec.template block<1>(h0, h1, q + total0, o + 8 * NV, sb + 1 == nsb);
    pos += total;
    ++sb;
  }
  return raw_tail(src, len, pos, out, nsb * 16, rows, NV);
}

template <size_t NV>
const char* few8(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows, int fc) {
  return fc == kForecastDelta ? few8_run<NV, FewDelta<NV>>(src, len, readable, out, rows)
                              : few8_run<NV, FewFire<NV>>(src, len, readable, out, rows);
}

// C order, 8-bit, 2..16 variables; ok = false (nothing decoded) for other counts
inline const char* few8_dispatch(const uint8_t* src, size_t len, size_t readable, uint8_t* out, size_t rows, size_t nv,
                                 int fc, bool& ok) {
  ok = true;
  switch (nv) {
    case 2: return few8<2>(src, len, readable, out, rows, fc);
    case 3: return few8<3>(src, len, readable, out, rows, fc);
    case 4: return few8<4>(src, len, readable, out, rows, fc);
    case 5: return few8<5>(src, len, readable, out, rows, fc);
    case 6: return few8<6>(src, len, readable, out, rows, fc);
    case 7: return few8<7>(src, len, readable, out, rows, fc);
    case 8: return few8<8>(src, len, readable, out, rows, fc);
    case 9: return few8<9>(src, len, readable, out, rows, fc);
    case 10: return few8<10>(src, len, readable, out, rows, fc);
    case 11: return few8<11>(src, len, readable, out, rows, fc);
    case 12: return few8<12>(src, len, readable, out, rows, fc);
    case 13: return few8<13>(src, len, readable, out, rows, fc);
    case 14: return few8<14>(src, len, readable, out, rows, fc);
    case 15: return few8<15>(src, len, readable, out, rows, fc);
    case 16: return few8<16>(src, len, readable, out, rows, fc);
    default: ok = false; return nullptr;
  }
}

// ---------------------------------------------------------------- C order, FIRE, >= 2 vars
// Fused like rows8_delta: per group of 8 variables, residuals go from pdep straight into int16
// lanes, are transposed to rows, run through the FIRE recurrence (fire_rows16, state in the
// padded per-variable arrays) and stored row by row; the partial group runs first with
// spilling row stores, and the chunk's very last row is stored exactly.
inline void store_row16(uint16_t* o, __m128i r, size_t n) {
  if (n >= 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), r);
  } else {
    alignas(16) uint16_t tmp[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), r);
    std::memcpy(o, tmp, n * 2);
  }
}

template <class T>
TENFOLD_ALWAYS_INLINE void rows_fire_group(const uint8_t* q, uint64_t w, size_t j0, State st, T* od,
                                                           size_t nv, bool exact_last) {
  constexpr int W = Tr<T>::W;
  const uint64_t pre = (w * 0x0101010101010101ull) << 8;  // exclusive prefix sums (<= 112)
  __m128i r[8];
  const size_t nreal = nv - j0 < 8 ? nv - j0 : 8;  // lanes past the last variable stay zero
  for (size_t j = 0; j < 8; ++j) {
    const uint32_t s0 = uint32_t(pre >> (8 * j)) & 0xff, b = uint32_t(w >> (8 * j)) & 0xff;
    r[j] = j < nreal ? resid_reg(q + s0, int(b), static_cast<T*>(nullptr)) : _mm_setzero_si128();
  }
  transpose8x16(r);
  __m128i p = load_state16(st.prev + j0, false), d = load_state16(st.d + j0, true);
  __m128i a = load_state16(st.a + j0, true);
  fire_rows16<W>(r, p, d, a);
  const __m128i pmask = _mm_set1_epi16(short((1 << W) - 1));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.prev + j0), _mm256_cvtepu16_epi32(_mm_and_si128(p, pmask)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.d + j0), _mm256_cvtepi16_epi32(d));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st.a + j0), _mm256_cvtepi16_epi32(a));
  for (int i = 0; i < 8; ++i)  // in the chunk's last block no store may reach past the block
    store_row16(od + size_t(i) * nv, r[i], (exact_last && j0 + size_t(i) * nv + 8 > 8 * nv) ? nv - j0 : 8);
}

template <class T>
TENFOLD_NOINLINE const char* rows_fire_fused(const uint8_t* src, size_t len, size_t readable, T* out, size_t rows, size_t nv,
                            int32_t* scratch) {
  const size_t nsb = rows / 16, full = nv / 8 * 8, part = nv - full;
  State st = state_of(scratch, nv);
  for (size_t v = 0; v < 3 * padded(nv); ++v) scratch[v] = 0;
  uint8_t* tmp = reinterpret_cast<uint8_t*>(scratch + 3 * padded(nv));  // payload copy near the end
  // nblocks blocks from superblock sb on (2 of a superblock's payload q, or zero residuals)
  auto blocks = [&](T* o, const uint8_t* hdr, uint64_t hpart, const uint8_t* q, size_t sb, size_t nblocks, bool zero) {
    for (size_t h = 0; h < nblocks; ++h) {
      const int hb = int(h & 1);
      T* ob = o + 8 * h * nv;
      const bool last = sb * 2 + h + 1 == 2 * nsb;  // no spill past the block (a raw tail may be shorter)
      size_t at = 0;
      if (part) {
        size_t base = 0;
        if (!zero)
          for (size_t g = 0; g < full; g += 8) base += wsum(widths_of<T>(load64(hdr + g), hb));
        const uint64_t w = zero ? 0 : widths_of<T>(hpart, hb);
        rows_fire_group<T>(q + base, w, full, st, ob + full, nv, last);
      }
      for (size_t g = 0; g < full; g += 8) {
        const uint64_t w = zero ? 0 : widths_of<T>(load64(hdr + g), hb);
        rows_fire_group<T>(q + at, w, g, st, ob + g, nv, false);
        at += wsum(w);
      }
      if (!zero && hb == 0) {  // on to block 1's payload
        size_t half = at;
        if (part) half += wsum(widths_of<T>(hpart, 0));
        q += half;
      }
    }
  };
  auto zeros = [&](T* o, const uint8_t* hdr, size_t sb, size_t n) {  // the recurrence still runs
    std::memset(tmp, 0, 16);  // zero widths: the unpacks still load (and ignore) 16 bytes
    blocks(o, hdr, 0, tmp, sb, 2 * n, true);
  };
  auto superblock = [&](T* o, const uint8_t* hdr, uint64_t hpart, const uint8_t* q, size_t sb) {
    blocks(o, hdr, hpart, q, sb, 2, false);
  };
  return rows_chunk<T, 16>(src, len, readable, out, rows, nv, tmp, zeros, superblock);
}

// ---------------------------------------------------------------- C order, 16-bit, delta, >= 2 vars
// The 16-bit counterpart of rows8_delta (also decodes lagged 1-variable chunks), same spill rules.
TENFOLD_ALWAYS_INLINE void rows16_group(const uint8_t* q, uint64_t w, size_t j0,
                                                        const uint16_t* prev, uint16_t* od, size_t nv,
                                                        bool exact_last) {
  const uint64_t pre = (w * 0x0101010101010101ull) << 8;  // exclusive prefix sums (<= 112)
  __m128i r[8];
  const size_t nreal = nv - j0 < 8 ? nv - j0 : 8;  // lanes past the last variable stay zero
  for (size_t j = 0; j < 8; ++j) {
    const uint32_t s0 = uint32_t(pre >> (8 * j)) & 0xff, b = uint32_t(w >> (8 * j)) & 0xff;
    r[j] = j < nreal ? unzz16(unpack16_reg(q + s0, int(b))) : _mm_setzero_si128();
  }
  transpose8x16(r);
  __m128i p = prev ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev)) : _mm_setzero_si128();
  for (int i = 0; i < 8; ++i) {
    p = _mm_add_epi16(p, r[i]);
    store_row16(od + size_t(i) * nv, p, (exact_last && j0 + size_t(i) * nv + 8 > 8 * nv) ? nv - j0 : 8);
  }
}

TENFOLD_NOINLINE const char* rows16_delta(const uint8_t* src, size_t len, size_t readable, uint16_t* out, size_t rows, size_t nv,
                         int32_t* scratch) {
  const size_t nsb = rows / 16, full = nv / 8 * 8, part = nv - full;
  auto zeros = [&](uint16_t* o, const uint8_t*, size_t sb, size_t n) { repeat_rows(o, 16 * n, nv, sb == 0); };
  auto superblock = [&](uint16_t* o, const uint8_t* hdr, uint64_t hpart, const uint8_t* q, size_t sb) {
    for (int h = 0; h < 2; ++h) {
      uint16_t* ob = o + size_t(8 * h) * nv;
      const bool first = sb == 0 && h == 0;
      const bool last = sb + 1 == nsb && h == 1;  // no spill past the block (a raw tail may be shorter)
      size_t at = 0;
      for (size_t g = 0; g < full; g += 8) at += wsum(widths_of<uint16_t>(load64(hdr + g), h));
      size_t half = at;
      if (part) {  // first: its spilling row stores are rewritten by the full groups
        const uint64_t w = widths_of<uint16_t>(hpart, h);
        rows16_group(q + at, w, full, first ? nullptr : ob - nv + full, ob + full, nv, last);
        half += wsum(w);
      }
      at = 0;
      for (size_t g = 0; g < full; g += 8) {
        const uint64_t w = widths_of<uint16_t>(load64(hdr + g), h);
        rows16_group(q + at, w, g, first ? nullptr : ob - nv + g, ob + g, nv, false);
        at += wsum(w);
      }
      q += half;
    }
  };
  // superblock payload copy near the end: scratch
  return rows_chunk<uint16_t, 16>(src, len, readable, out, rows, nv, reinterpret_cast<uint8_t*>(scratch), zeros,
                                  superblock);
}

// C order, the last k = nv % 8 variables: run the 8-wide kernels into an 8 x 8 buffer (the tile
// read covers 8 variables; scratch_words() leaves slack for it and the extra lanes are discarded),
// then copy the k columns out. A row is copied with one fixed 8-wide store when that stays inside
// this block's 8 rows; the spill lands on columns of later rows that are rewritten afterwards
// (this runs before the full groups, and rows go in increasing order).
template <class T>
TENFOLD_ALWAYS_INLINE void rows_partial(const T* tile, size_t k, State st, T* out, ptrdiff_t rs,
                                                        size_t full, int fc) {
  alignas(32) T o8[64];
  // the state arrays are padded to 8 lanes: lanes >= k carry junk that is never written out
  if (fc == kForecastDelta) rows_delta(tile, 8, st.prev, o8, 8);
  else rows_fire<T>(tile, 8, st, o8, 8);
  for (int i = 0; i < 8; ++i) {
    T* dst = out + i * rs;
    if (size_t(i * rs) + full + 8 <= size_t(8 * rs)) {
      std::memcpy(dst, o8 + 8 * i, 8 * sizeof(T));
    } else {
      for (size_t j = 0; j < k; ++j) dst[j] = o8[8 * i + j];
    }
  }
}

template <class T>
inline void recon_avx2(const T* tile, size_t nv, State st, T* out, ptrdiff_t rs, ptrdiff_t cs, int fc) {
  if (fc == kForecastDelta && rs == 1) return column_delta(tile, nv, st.prev, out, cs);
  if (fc == kForecastFire && rs == 1 && nv >= 8) return cols_fire<T>(tile, nv, st, out, cs);
  if (cs == 1) {
    const size_t full = nv / 8 * 8;
    if (full < nv) {  // first: its wide stores may spill onto columns the full groups rewrite
      State rest{st.prev + full, fc == kForecastFire ? st.d + full : nullptr,
                 fc == kForecastFire ? st.a + full : nullptr};
      rows_partial<T>(tile + full * 8, nv - full, rest, out + full, rs, full, fc);
    }
    if (full) {
      if (fc == kForecastDelta) rows_delta(tile, full, st.prev, out, rs);
      else rows_fire<T>(tile, full, st, out, rs);
    }
    return;
  }
  recon_generic<T>(tile, nv, st, out, rs, cs, fc);
}


// ---------------------------------------------------------------- encoder
// 8 rows, 8 variables per vector (int32 lanes): the same forecasts, residuals and width codes as
// encode_impl's scalar loop, written to the var-major tile. Rows are C-ordered (cs == 1, rs ==
// nv) or columns contiguous (rs == 1: Fortran order, and the 8 segments of a 1-variable FIRE
// chunk), transposed through a small buffer. Returns the OR of the width codes.
template <class T>
int forecast_rows_avx2(const T* base, size_t nv, ptrdiff_t rs, ptrdiff_t cs, int fc, State st, T* tile,
                       uint8_t* codes) {
  constexpr int W = Tr<T>::W;
  const __m256i zero = _mm256_setzero_si256(), mask = _mm256_set1_epi32((1 << W) - 1);
  const __m256i amax = _mm256_set1_epi32(kFireMax), amin = _mm256_set1_epi32(-kFireMax);
  int any = 0;
  for (size_t v0 = 0; v0 < nv; v0 += 8) {
    const size_t w = std::min<size_t>(8, nv - v0);
    __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.prev + v0));
    __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.d + v0));
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.a + v0));
    __m256i ored = zero, g = zero;
    alignas(32) int32_t u[8][8];  // [row][variable]
    alignas(16) T rows_t[8][16 / sizeof(T)] = {};  // columns-contiguous layout: the 8 x w block transposed
    if (cs != 1)
      for (size_t j = 0; j < w; ++j) {
        const T* col = base + ptrdiff_t(v0 + j) * cs;
        for (int i = 0; i < 8; ++i) rows_t[i][j] = col[i];
      }
    for (int i = 0; i < 8; ++i) {
      const T* row = cs != 1 ? rows_t[i] : base + size_t(i) * nv + v0;
      __m128i raw;
      // a partial group's over-read (8 - w values) must land in the block's later rows
      if (cs != 1 || w == 8 || size_t(7 - i) * nv >= 8 - w) {
        raw = W == 8 ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row))
                     : _mm_loadu_si128(reinterpret_cast<const __m128i*>(row));
      } else {  // near the block's end: never read past it
        alignas(16) uint8_t tmp[16] = {};
        for (size_t j = 0; j < w; ++j) std::memcpy(tmp + j * sizeof(T), row + j, sizeof(T));
        raw = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
      }
      const __m256i xi = W == 8 ? _mm256_cvtepu8_epi32(raw) : _mm256_cvtepu16_epi32(raw);
      __m256i e;
      if (fc == kForecastDelta) {
        e = _mm256_sub_epi32(xi, p);
      } else {
        const __m256i pred = _mm256_add_epi32(p, _mm256_srai_epi32(_mm256_mullo_epi32(a, d), kFireShift));
        e = _mm256_sub_epi32(xi, pred);
      }
      e = _mm256_srai_epi32(_mm256_slli_epi32(e, 32 - W), 32 - W);  // sign-extend the low W bits
      if (fc != kForecastDelta) {
        const __m256i sgn_e = _mm256_sub_epi32(_mm256_cmpgt_epi32(zero, e), _mm256_cmpgt_epi32(e, zero));
        g = _mm256_add_epi32(g, _mm256_sign_epi32(sgn_e, d));  // += sgn(e) * sgn(d)
        const __m256i dn = _mm256_sub_epi32(xi, p);
        d = _mm256_srai_epi32(_mm256_slli_epi32(dn, 32 - W), 32 - W);
      }
      const __m256i zz = _mm256_and_si256(_mm256_xor_si256(_mm256_add_epi32(e, e), _mm256_srai_epi32(e, 31)), mask);
      ored = _mm256_or_si256(ored, zz);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u[i]), zz);
      p = xi;
    }
    alignas(32) int32_t pv[8], dv[8], av[8], ov[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(pv), p);
    _mm256_store_si256(reinterpret_cast<__m256i*>(ov), ored);
    if (fc != kForecastDelta) {
      a = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(a, g), amin), amax);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dv), d);
      _mm256_store_si256(reinterpret_cast<__m256i*>(av), a);
    }
    for (size_t j = 0; j < w; ++j) {  // state of the real variables only (padding lanes stay as they were)
      st.prev[v0 + j] = pv[j];
      if (fc != kForecastDelta) {
        st.d[v0 + j] = dv[j];
        st.a[v0 + j] = av[j];
      }
      T* t = tile + (v0 + j) * 8;
      for (int i = 0; i < 8; ++i) t[i] = T(u[i][j]);
      const int c = width_code<T>(uint32_t(ov[j]));
      codes[v0 + j] = uint8_t(c);
      any |= c;
    }
  }
  return any;
}

}  // namespace

const char* decode8(const uint8_t* src, size_t len, size_t readable, uint8_t* out, const View& v, int fc,
                    int32_t* scratch) {
  if (v.nvars >= 2 && v.nvars <= 16 && v.cs == 1 && v.rs == ptrdiff_t(v.nvars)) {
    bool ok;
    const char* err = few8_dispatch(src, len, readable, out, v.rows, v.nvars, fc, ok);
    if (ok) return err;
  }
  if (fc == kForecastDelta && v.nvars >= 2 && v.cs == 1 && v.rs == ptrdiff_t(v.nvars))
    return rows8_delta(src, len, readable, out, v.rows, v.nvars, scratch);
  if (fc == kForecastFire && v.nvars > 16 && v.cs == 1 && v.rs == ptrdiff_t(v.nvars))
    return wide8_fire(src, len, readable, out, v.rows, v.nvars, scratch);
  if (fc == kForecastDelta && v.nvars == 1) return single_delta(src, len, readable, out, v.rows);
  if (fc == kForecastFire && v.nvars == 1) return single_fire<uint8_t>(src, len, readable, out, v.rows);
  if (fc == kForecastFire && v.nvars == 8 && v.rs == 1 && v.rows % 16 == 0)
    return seg_fire<uint8_t>(src, len, readable, out, v.rows, v.cs);
  return decode_impl<uint8_t>(src, len, readable, out, v, fc, scratch);
}
const char* decode16(const uint8_t* src, size_t len, size_t readable, uint16_t* out, const View& v, int fc,
                     int32_t* scratch) {
  if (fc == kForecastDelta && v.nvars >= 2 && v.cs == 1 && v.rs == ptrdiff_t(v.nvars))
    return rows16_delta(src, len, readable, out, v.rows, v.nvars, scratch);
  if (fc == kForecastDelta && v.nvars == 1) return single_delta(src, len, readable, out, v.rows);
  if (fc == kForecastFire && v.nvars == 1) return single_fire<uint16_t>(src, len, readable, out, v.rows);
  if (fc == kForecastFire && v.nvars == 8 && v.rs == 1 && v.rows % 16 == 0)
    return seg_fire<uint16_t>(src, len, readable, out, v.rows, v.cs);
  if (fc == kForecastFire && v.nvars >= 2 && v.cs == 1 && v.rs == ptrdiff_t(v.nvars))
    return rows_fire_fused<uint16_t>(src, len, readable, out, v.rows, v.nvars, scratch);
  return decode_impl<uint16_t>(src, len, readable, out, v, fc, scratch);
}

void checksum_stripes(uint32_t* acc, const uint8_t* data, size_t nstripes) {
  __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc));
  __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + 8));
  const __m256i p1 = _mm256_set1_epi32(int(kP1)), p2 = _mm256_set1_epi32(int(kP2));
  for (size_t i = 0; i < nstripes * 64; i += 64) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 32));
    a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(w0, p2));
    a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(w1, p2));
    a0 = _mm256_mullo_epi32(_mm256_or_si256(_mm256_slli_epi32(a0, 13), _mm256_srli_epi32(a0, 19)), p1);
    a1 = _mm256_mullo_epi32(_mm256_or_si256(_mm256_slli_epi32(a1, 13), _mm256_srli_epi32(a1, 19)), p1);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc), a0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + 8), a1);
}

#include "sprintz/entry_points.inc"  // encode8, encode16, huffman_decode, checksum

}  // namespace avx2
}  // namespace sprintz
}  // namespace tenfold
