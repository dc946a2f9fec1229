// AVX2 Bolt encoding: 16 centroid scores in two registers, four rows at a time so that the
// fused multiply-add chains overlap. Same arithmetic order as encode_scalar.cpp.
#include <immintrin.h>

#include "bolt/bolt.hpp"

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
  return __builtin_ctz(mask);
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
        const __m256 xj = _mm256_set1_ps(-2.0f * X[r * ldx + j]);
        lo[r] = _mm256_fmadd_ps(xj, c0, lo[r]);
        hi[r] = _mm256_fmadd_ps(xj, c1, hi[r]);
      }
    }
    for (int r = 0; r < R; ++r)
      out[r * ncols + (c >> 1)] |= static_cast<uint8_t>(argmin16(lo[r], hi[r]) << (4 * (c & 1)));
  }
}

}  // namespace

void encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out) {
  const int ncols = m.ncodebooks / 2;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) encode_rows<4>(m, X + i * ldx, ldx, out + i * ncols, ncols);
  for (; i < n; ++i) encode_rows<1>(m, X + i * ldx, ldx, out + i * ncols, ncols);
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
