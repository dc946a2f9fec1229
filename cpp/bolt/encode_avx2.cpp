// AVX2 Bolt encoding. Main path: eight rows at a time, transposed so that each SIMD lane is a
// row; the score of every centroid is then a vertical FMA chain and the argmin a vertical
// compare-and-blend, with no horizontal reductions. Leftover rows use one row per call with
// the 16 scores in two registers. Same arithmetic (multiply, then add; no FMA) and order as
// encode_scalar.cpp.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <new>

#include "bolt/bolt.hpp"
#include "common/portable.hpp"
#include "common/checks.hpp"

namespace tenfold {
namespace bolt {
namespace avx2 {

namespace {

inline int argmin16(__m256 lo, __m256 hi) {
  __m256 m = _mm256_min_ps(lo, hi);
  m = _mm256_min_ps(m, _mm256_permute2f128_ps(m, m, 1));
  m = _mm256_min_ps(m, _mm256_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm256_min_ps(m, _mm256_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
  const unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(lo, m, _CMP_EQ_OQ))) |
                        (static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(hi, m, _CMP_EQ_OQ))) << 8);
  return mask ? ctz32(mask) : 0;  // no lane equal only if every score is NaN (refused input)
}

inline bool in_range(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return (bits & 0x7fffffffu) < kMagnitudeLimitBits;
}

inline bool row_finite(const float* x, int d) {
  bool finite = true;
  for (int j = 0; j < d; ++j) finite &= in_range(load_f32(x + j));
  return finite;
}

template <int R>
inline void encode_rows(const EncodeModel& m, const float* X, size_t ldx, uint8_t* out, int ncols) {
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < ncols; ++j) out[r * ncols + j] = 0;
  for (int c = 0; c < m.ncodebooks; ++c) {
    __m256 lo[R], hi[R];
    const __m256 n0 = _mm256_loadu_ps(m.norms + c * 16), n1 = _mm256_loadu_ps(m.norms + c * 16 + 8);
    for (int r = 0; r < R; ++r) {
      lo[r] = n0;
      hi[r] = n1;
    }
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const float* ct = m.centroids_t + static_cast<size_t>(j) * 16;
      const __m256 c0 = _mm256_loadu_ps(ct), c1 = _mm256_loadu_ps(ct + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 xj = _mm256_set1_ps(load_f32(X + r * ldx + j));
        lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(xj, c0));
        hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(xj, c1));
      }
    }
    for (int r = 0; r < R; ++r)
      out[r * ncols + (c >> 1)] |= static_cast<uint8_t>(argmin16(lo[r], hi[r]) << (4 * (c & 1)));
  }
}

// 8x8 transpose of floats: rows r0..r7 (8 floats each) -> columns.
inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 2; ++i) {
    for (int h = 0; h < 2; ++h) {
      u[4 * i + 2 * h] = _mm256_shuffle_ps(t[4 * i + h], t[4 * i + 2 + h], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * i + 2 * h + 1] = _mm256_shuffle_ps(t[4 * i + h], t[4 * i + 2 + h], _MM_SHUFFLE(3, 2, 3, 2));
    }
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

// Eight rows; xt is scratch of d * 8 floats receiving the transposed rows. Returns false if
// any of the rows holds NaN or inf (exponent bits all ones).
bool encode8(const EncodeModel& m, const float* X, size_t ldx, uint8_t* out, int ncols, float* xt) {
  const int d = m.d;
  const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
  const __m256i limit = _mm256_set1_epi32(static_cast<int>(kMagnitudeLimitBits - 1));
  __m256i bad = _mm256_setzero_si256();
  int j = 0;
  for (; j + 8 <= d; j += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) {
      r[i] = _mm256_loadu_ps(X + i * ldx + j);
      const __m256i e = _mm256_and_si256(_mm256_castps_si256(r[i]), magnitude);
      bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(e, limit));
    }
    transpose8(r);
    for (int i = 0; i < 8; ++i) _mm256_store_ps(xt + (j + i) * 8, r[i]);
  }
  bool finite = _mm256_testz_si256(bad, bad);
  for (; j < d; ++j)
    for (int i = 0; i < 8; ++i) {
      xt[j * 8 + i] = load_f32(X + i * ldx + j);
      finite &= in_range(xt[j * 8 + i]);
    }
  alignas(32) int32_t codes[8];
  __m256i packed = _mm256_setzero_si256();  // 32-bit lane i collects row i's codes for a byte
  for (int c = 0; c < m.ncodebooks; ++c) {
    __m256 best = _mm256_set1_ps(0.0f);
    __m256i best_k = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256 acc[8];
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_set1_ps(m.norms[c * 16 + half * 8 + k]);
      for (int jj = m.bounds[c]; jj < m.bounds[c + 1]; ++jj) {
        const __m256 xj = _mm256_load_ps(xt + jj * 8);
        const float* ct = m.centroids_t + static_cast<size_t>(jj) * 16 + half * 8;
        for (int k = 0; k < 8; ++k) acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(xj, _mm256_broadcast_ss(ct + k)));
      }
      for (int k = 0; k < 8; ++k) {
        if (half == 0 && k == 0) {
          best = acc[0];
          continue;
        }
        const __m256 lt = _mm256_cmp_ps(acc[k], best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, acc[k], lt);
        best_k = _mm256_blendv_epi8(best_k, _mm256_set1_epi32(half * 8 + k), _mm256_castps_si256(lt));
      }
    }
    if (c & 1) {
      packed = _mm256_or_si256(packed, _mm256_slli_epi32(best_k, 4));
      _mm256_store_si256(reinterpret_cast<__m256i*>(codes), packed);
      for (int i = 0; i < 8; ++i) out[i * ncols + (c >> 1)] = static_cast<uint8_t>(codes[i]);
      packed = _mm256_setzero_si256();
    } else {
      packed = best_k;
    }
  }
  return finite;
}

}  // namespace

bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out) {
  const int ncols = m.ncodebooks / 2;
  float* xt = static_cast<float*>(_mm_malloc(static_cast<size_t>(m.d) * 8 * sizeof(float), 32));
  if (!xt) throw std::bad_alloc();
  bool finite = true;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) finite &= encode8(m, X + i * ldx, ldx, out + i * ncols, ncols, xt);
  _mm_free(xt);
  for (; i < n; ++i) {
    finite &= row_finite(X + i * ldx, m.d);
    encode_rows<1>(m, X + i * ldx, ldx, out + i * ncols, ncols);
  }
  return finite;
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
