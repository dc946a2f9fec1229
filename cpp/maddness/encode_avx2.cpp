// AVX2 MADDNESS kernels.
// Encoder: 32 rows at a time; per tree level 4x8 floats are quantized to 32 signed bytes, the
// node thresholds are fetched with one vpshufb indexed by the current node, and one byte
// compare advances all 32 rows (node = 2*node + (q > t)). The packs leave rows in the order
// 0-3,8-11,16-19,24-27,4-7,... consistently across levels; one vpermd per codebook pair puts
// them back before the store.
// Scan: per block the nibbles are split once into a scratch buffer, then for each output
// column the looked-up bytes are summed exactly in uint16 (Bolt's even/odd trick) or combined
// by a tree of vpavgb, widened, converted and written as 32 floats.
#include <immintrin.h>

#include <cmath>

#include "maddness/maddness.hpp"

namespace tenfold {
namespace maddness {
namespace avx2 {

namespace {

struct Consts {
  __m256 hi = _mm256_set1_ps(127.0f), zero = _mm256_setzero_ps();
};

// 32 rows of column `col` (row stride 1) -> 32 signed bytes in the packed row order.
// probe[t] ORs the bits of a * 0 (+-0, or NaN for NaN/inf inputs): four independent
// accumulators with a one-cycle OR keep this off the critical path.
inline __m256i quantize32(const float* col, ptrdiff_t rs, const __m256i& gidx, __m256 off, __m256 scale,
                          const Consts& k, __m256* probe) {
  __m256i q[4];
  for (int t = 0; t < 4; ++t) {
    __m256 a;
    if (rs == 1)
      a = _mm256_loadu_ps(col + 8 * t);
    else
      a = _mm256_i32gather_ps(col + 8 * t * rs, gidx, 4);
    probe[t] = _mm256_or_ps(probe[t], _mm256_mul_ps(a, k.zero));
    // Only the upper clamp is needed: below -2^31 cvtps gives INT_MIN, and packs saturate.
    const __m256 u = _mm256_min_ps(_mm256_mul_ps(_mm256_sub_ps(a, off), scale), k.hi);
    q[t] = _mm256_cvtps_epi32(u);
  }
  const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
  const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
  return _mm256_packs_epi16(p01, p23);
}

inline __m256i tree_codes(const EncodeModel& m, int c, const __m256i* qcols) {
  __m256i node = _mm256_setzero_si256();
  for (int l = 0; l < kLevels; ++l) {
    const int s = c * kLevels + l;
    const __m256i q = _mm256_load_si256(qcols + m.slot[s]);
    const __m256i tab = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(m.thresholds + s * 16)));
    const __m256i t = _mm256_shuffle_epi8(tab, node);
    const __m256i right = _mm256_cmpgt_epi8(q, t);  // -1 where q > t
    node = _mm256_sub_epi8(_mm256_add_epi8(node, node), right);
  }
  return node;
}

// Scalar tail for the rows of a partial last block (same arithmetic as the scalar path).
inline int quantize1(float a, float offset, float scale) {
  float u = (a - offset) * scale;
  u = u < 127.0f ? u : 127.0f;    // NaN -> 127, like min_ps(u, 127)
  u = u > -128.0f ? u : -128.0f;  // the SIMD path gets this from cvtps + saturating packs
  return static_cast<int>(std::nearbyint(u));
}

}  // namespace

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            size_t r0, size_t r1, uint8_t* blocked) {
  const int ncols = m.ncodebooks / 2;
  const Consts k;
  __m256 probe[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float probe1 = 0.0f;
  const __m256i gidx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(static_cast<int>(rs)));
  const __m256i unperm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  // Full blocks go in chunks of up to 8: each split column is then read as one contiguous
  // run of up to 256 rows (prefetcher-friendly), quantized once into qcols[block][slot].
  constexpr int kChunkCap = 2048;  // quantized vectors held at once (64 KB)
  alignas(32) __m256i qcols[kChunkCap];
  alignas(32) float colbuf[4 * 256 * kBlockRows];  // row-major path: copied split columns
  // (No std::min/max here: no shared inline templates in an ISA translation unit.)
  const int per_chunk = kChunkCap / m.nslots;
  // Row-major A (rs != 1): one block at a time keeps the 32 rows being gathered in L1/L2.
  const size_t chunk_blocks =
      rs != 1 ? 1 : static_cast<size_t>(per_chunk < 1 ? 1 : (per_chunk > 8 ? 8 : per_chunk));
  size_t i = r0;
  const size_t n_full = n / kBlockRows * kBlockRows;
  const size_t full_end = r1 < n_full ? r1 : n_full;
  while (i < full_end) {
    const size_t left = (full_end - i) / kBlockRows;
    const size_t nb = chunk_blocks < left ? chunk_blocks : left;
    if (rs == 1) {
      for (int t = 0; t < m.nslots; ++t) {
        const float* col = A + static_cast<ptrdiff_t>(i) + m.slot_dims[t] * cs;
        const __m256 off = _mm256_set1_ps(m.slot_offsets[t]), scale = _mm256_set1_ps(m.slot_scales[t]);
        for (size_t b = 0; b < nb; ++b)
          qcols[b * m.nslots + t] = quantize32(col + b * kBlockRows, 1, gidx, off, scale, k, probe);
      }
    } else {
      // Row-major A: copy the split values of the 32 rows row by row (sequential reads of
      // each row), then quantize the copied columns with contiguous loads.
      for (int r = 0; r < kBlockRows; ++r) {
        const float* row = A + static_cast<ptrdiff_t>(i + r) * rs;
        for (int t = 0; t < m.nslots; ++t) colbuf[t * kBlockRows + r] = row[m.slot_dims[t] * cs];
      }
      for (int t = 0; t < m.nslots; ++t)
        qcols[t] = quantize32(colbuf + t * kBlockRows, 1, gidx, _mm256_set1_ps(m.slot_offsets[t]),
                              _mm256_set1_ps(m.slot_scales[t]), k, probe);
    }
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* blk = blocked + (i / kBlockRows + b) * kBlockRows * ncols;
      const __m256i* q = qcols + b * m.nslots;
      for (int j = 0; j < ncols; ++j) {
        const __m256i lo = tree_codes(m, 2 * j, q);
        const __m256i hi = tree_codes(m, 2 * j + 1, q);
        const __m256i v = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + j * kBlockRows),
                            _mm256_permutevar8x32_epi32(v, unperm));
      }
    }
    i += nb * kBlockRows;
  }
  for (; i < r1; i += kBlockRows) {
    uint8_t* blk = blocked + (i / kBlockRows) * kBlockRows * ncols;
    for (size_t ii = i; ii < i + kBlockRows; ++ii) {
      const size_t r = ii % kBlockRows;
      if (ii >= n) {
        for (int j = 0; j < ncols; ++j) blk[j * kBlockRows + r] = 0;
        continue;
      }
      const float* row = A + static_cast<ptrdiff_t>(ii) * rs;
      for (int j = 0; j < ncols; ++j) {
        int code[2];
        for (int h = 0; h < 2; ++h) {
          int node = 0;
          for (int l = 0; l < kLevels; ++l) {
            const int s = (2 * j + h) * kLevels + l;
            const float a = row[m.dims[s] * cs];
            probe1 += a * 0.0f;
            node = 2 * node + (quantize1(a, m.offsets[s], m.scales[s]) > m.thresholds[s * 16 + node] ? 1 : 0);
          }
          code[h] = node;
        }
        blk[j * kBlockRows + r] = static_cast<uint8_t>(code[0] | (code[1] << 4));
      }
    }
  }
  const __m256i bits = _mm256_castps_si256(
      _mm256_or_ps(_mm256_or_ps(probe[0], probe[1]), _mm256_or_ps(probe[2], probe[3])));
  const __m256i expo = _mm256_set1_epi32(0x7f800000);
  const bool simd_bad = !_mm256_testz_si256(
      _mm256_cmpeq_epi32(_mm256_and_si256(bits, expo), expo), _mm256_set1_epi32(-1));
  return probe1 == 0.0f && !simd_bad;
}

namespace {

inline __m256i table(const uint8_t* lut) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lut)));
}

// Tree of rounding averages over 2^L codebooks starting at pair p (codebooks 2p .. 2p+2^L-1).
template <int L>
inline __m256i avg_tree(const __m256i* nib, const uint8_t* lut, int p) {
  if constexpr (L == 1) {
    const __m256i r0 = _mm256_shuffle_epi8(table(lut + (2 * p) * 16), nib[2 * p]);
    const __m256i r1 = _mm256_shuffle_epi8(table(lut + (2 * p + 1) * 16), nib[2 * p + 1]);
    return _mm256_avg_epu8(r0, r1);
  } else {
    return _mm256_avg_epu8(avg_tree<L - 1>(nib, lut, p), avg_tree<L - 1>(nib, lut, p + (1 << (L - 2))));
  }
}

// Writes fma(float(s), mul, add) for the 32 rows whose even rows are in `even`, odd in `odd`.
inline void store_rows(__m256i even, __m256i odd, __m256 mul, __m256 add, float* o, size_t rows,
                       size_t rstride) {
  const __m256i a = _mm256_unpacklo_epi16(even, odd);  // rows 0-7 | 16-23
  const __m256i b = _mm256_unpackhi_epi16(even, odd);  // rows 8-15 | 24-31
  const __m256 f0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(a))), mul, add);
  const __m256 f1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(b))), mul, add);
  const __m256 f2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(a, 1))), mul, add);
  const __m256 f3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(b, 1))), mul, add);
  if (rstride != 1) {  // row-major output: strided scalar stores
    alignas(32) float buf[kBlockRows];
    _mm256_store_ps(buf, f0);
    _mm256_store_ps(buf + 8, f1);
    _mm256_store_ps(buf + 16, f2);
    _mm256_store_ps(buf + 24, f3);
    for (size_t r = 0; r < rows; ++r) o[r * rstride] = buf[r];
  } else if (rows == kBlockRows) {
    _mm256_storeu_ps(o, f0);
    _mm256_storeu_ps(o + 8, f1);
    _mm256_storeu_ps(o + 16, f2);
    _mm256_storeu_ps(o + 24, f3);
  } else {
    alignas(32) float buf[kBlockRows];
    _mm256_store_ps(buf, f0);
    _mm256_store_ps(buf + 8, f1);
    _mm256_store_ps(buf + 16, f2);
    _mm256_store_ps(buf + 24, f3);
    for (size_t r = 0; r < rows; ++r) o[r] = buf[r];
  }
}

// Two output columns at once: the nibble loads are shared.
template <int L>
inline void avg_tree2(const __m256i* nib, const uint8_t* lut0, const uint8_t* lut1, int p, __m256i& o0,
                      __m256i& o1) {
  if constexpr (L == 1) {
    const __m256i n0 = _mm256_load_si256(nib + 2 * p), n1 = _mm256_load_si256(nib + 2 * p + 1);
    o0 = _mm256_avg_epu8(_mm256_shuffle_epi8(table(lut0 + (2 * p) * 16), n0),
                         _mm256_shuffle_epi8(table(lut0 + (2 * p + 1) * 16), n1));
    o1 = _mm256_avg_epu8(_mm256_shuffle_epi8(table(lut1 + (2 * p) * 16), n0),
                         _mm256_shuffle_epi8(table(lut1 + (2 * p + 1) * 16), n1));
  } else {
    __m256i a0, a1, b0, b1;
    avg_tree2<L - 1>(nib, lut0, lut1, p, a0, a1);
    avg_tree2<L - 1>(nib, lut0, lut1, p + (1 << (L - 2)), b0, b1);
    o0 = _mm256_avg_epu8(a0, b0);
    o1 = _mm256_avg_epu8(a1, b1);
  }
}

template <int L>
void scan_avg(const ScanModel& s, const uint8_t* blocked, size_t n, size_t b0, size_t b1, float* out,
              size_t ldo) {
  const int C = s.ncodebooks, ncols = C / 2, g = 1 << L, ngroups = C / g, M = s.m;
  const uint8_t* luts = s.luts;
  const float* mulp = s.mul;
  const float* addp = s.add;
  const __m256i low4 = _mm256_set1_epi8(0x0f), low8 = _mm256_set1_epi16(0x00ff);
  alignas(32) __m256i nib[256];
  for (size_t b = b0; b < b1; ++b) {
    const uint8_t* blk = blocked + b * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + j * kBlockRows));
      nib[2 * j] = _mm256_and_si256(v, low4);
      nib[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
    const size_t rows = n - b * kBlockRows < kBlockRows ? n - b * kBlockRows : kBlockRows;
    int mm = 0;
    for (; mm + 2 <= M; mm += 2) {
      const uint8_t* lut0 = luts + static_cast<size_t>(mm) * C * 16;
      const uint8_t* lut1 = lut0 + static_cast<size_t>(C) * 16;
      __m256i even0 = _mm256_setzero_si256(), odd0 = even0, even1 = even0, odd1 = even0;
      for (int gi = 0; gi < ngroups; ++gi) {
        __m256i v0, v1;
        avg_tree2<L>(nib, lut0, lut1, gi * (g / 2), v0, v1);
        even0 = _mm256_add_epi16(even0, _mm256_and_si256(v0, low8));
        odd0 = _mm256_add_epi16(odd0, _mm256_srli_epi16(v0, 8));
        even1 = _mm256_add_epi16(even1, _mm256_and_si256(v1, low8));
        odd1 = _mm256_add_epi16(odd1, _mm256_srli_epi16(v1, 8));
      }
      store_rows(even0, odd0, _mm256_set1_ps(mulp[mm]), _mm256_set1_ps(addp[mm]),
                 out + static_cast<size_t>(mm) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
      store_rows(even1, odd1, _mm256_set1_ps(mulp[mm + 1]), _mm256_set1_ps(addp[mm + 1]),
                 out + static_cast<size_t>(mm + 1) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
    }
    for (; mm < M; ++mm) {
      const uint8_t* lut = luts + static_cast<size_t>(mm) * C * 16;
      __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
      for (int gi = 0; gi < ngroups; ++gi) {
        const __m256i v = avg_tree<L>(nib, lut, gi * (g / 2));
        even = _mm256_add_epi16(even, _mm256_and_si256(v, low8));
        odd = _mm256_add_epi16(odd, _mm256_srli_epi16(v, 8));
      }
      store_rows(even, odd, _mm256_set1_ps(mulp[mm]), _mm256_set1_ps(addp[mm]),
                 out + static_cast<size_t>(mm) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
    }
  }
}

void scan_exact(const ScanModel& s, const uint8_t* blocked, size_t n, size_t b0, size_t b1, float* out,
                size_t ldo) {
  const int C = s.ncodebooks, ncols = C / 2;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  alignas(32) __m256i nib[256];
  for (size_t b = b0; b < b1; ++b) {
    const uint8_t* blk = blocked + b * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + j * kBlockRows));
      nib[2 * j] = _mm256_and_si256(v, low4);
      nib[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
    const size_t rows = n - b * kBlockRows < kBlockRows ? n - b * kBlockRows : kBlockRows;
    const int M = s.m;
    int mm = 0;
    for (; mm + 2 <= M; mm += 2) {  // two columns per pass share the nibble loads
      const uint8_t* lut0 = s.luts + static_cast<size_t>(mm) * C * 16;
      const uint8_t* lut1 = lut0 + static_cast<size_t>(C) * 16;
      __m256i acc0 = _mm256_setzero_si256(), odd0 = acc0, acc1 = acc0, odd1 = acc0;
      for (int c = 0; c < C; c += 2) {
        const __m256i n0 = _mm256_load_si256(nib + c), n1 = _mm256_load_si256(nib + c + 1);
        const __m256i r0 = _mm256_shuffle_epi8(table(lut0 + c * 16), n0);
        const __m256i r1 = _mm256_shuffle_epi8(table(lut0 + (c + 1) * 16), n1);
        const __m256i q0 = _mm256_shuffle_epi8(table(lut1 + c * 16), n0);
        const __m256i q1 = _mm256_shuffle_epi8(table(lut1 + (c + 1) * 16), n1);
        acc0 = _mm256_add_epi16(acc0, _mm256_add_epi16(r0, r1));
        odd0 = _mm256_add_epi16(odd0, _mm256_add_epi16(_mm256_srli_epi16(r0, 8), _mm256_srli_epi16(r1, 8)));
        acc1 = _mm256_add_epi16(acc1, _mm256_add_epi16(q0, q1));
        odd1 = _mm256_add_epi16(odd1, _mm256_add_epi16(_mm256_srli_epi16(q0, 8), _mm256_srli_epi16(q1, 8)));
      }
      store_rows(_mm256_sub_epi16(acc0, _mm256_slli_epi16(odd0, 8)), odd0, _mm256_set1_ps(s.mul[mm]),
                 _mm256_set1_ps(s.add[mm]), out + static_cast<size_t>(mm) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
      store_rows(_mm256_sub_epi16(acc1, _mm256_slli_epi16(odd1, 8)), odd1, _mm256_set1_ps(s.mul[mm + 1]),
                 _mm256_set1_ps(s.add[mm + 1]), out + static_cast<size_t>(mm + 1) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
    }
    for (; mm < M; ++mm) {
      const uint8_t* lut = s.luts + static_cast<size_t>(mm) * C * 16;
      // Words of acc hold even + 256 * odd rows; odd holds the odd rows (exact mod 2^16).
      __m256i acc = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
      for (int c = 0; c < C; c += 2) {
        const __m256i r0 = _mm256_shuffle_epi8(table(lut + c * 16), nib[c]);
        const __m256i r1 = _mm256_shuffle_epi8(table(lut + (c + 1) * 16), nib[c + 1]);
        acc = _mm256_add_epi16(acc, _mm256_add_epi16(r0, r1));
        odd = _mm256_add_epi16(odd, _mm256_add_epi16(_mm256_srli_epi16(r0, 8), _mm256_srli_epi16(r1, 8)));
      }
      const __m256i even = _mm256_sub_epi16(acc, _mm256_slli_epi16(odd, 8));
      store_rows(even, odd, _mm256_set1_ps(s.mul[mm]), _mm256_set1_ps(s.add[mm]),
                 out + static_cast<size_t>(mm) * ldo + b * kBlockRows * s.rstride, rows, s.rstride);
    }
  }
}

}  // namespace

void scan(const ScanModel& s, const uint8_t* blocked, size_t n, size_t b0, size_t b1, float* out, size_t ldo) {
  switch (s.log2g) {
    case 1: scan_avg<1>(s, blocked, n, b0, b1, out, ldo); break;
    case 2: scan_avg<2>(s, blocked, n, b0, b1, out, ldo); break;
    case 3: scan_avg<3>(s, blocked, n, b0, b1, out, ldo); break;
    case 4: scan_avg<4>(s, blocked, n, b0, b1, out, ldo); break;
    default: scan_exact(s, blocked, n, b0, b1, out, ldo); break;
  }
}

}  // namespace avx2
}  // namespace maddness
}  // namespace tenfold
