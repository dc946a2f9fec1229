// AVX2 query tables: the 16 entries of a subspace's table in four registers of 4 doubles, each
// entry summing its dimensions in order (multiply then add, as lut_scalar.cpp); rounding with
// vroundpd to nearest even, as nearbyint. Same bits as the portable version.
#include <immintrin.h>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace avx2 {

namespace {
inline double hmin(__m256d v) {
  const __m128d m = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_min_sd(m, _mm_unpackhi_pd(m, m)));
}
inline double hmax(__m256d v) {
  const __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
}
}  // namespace

void query_lut(const LutModel& m, const float* x, double* work, uint8_t* lut, double* low, double* scale) {
  __m256d top = _mm256_setzero_pd();
  for (int c = 0; c < m.ncodebooks; ++c) {
    __m256d a[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const __m256d xj = _mm256_set1_pd(static_cast<double>(load_f32(x + j)));
      const float* cj = m.cent_t + static_cast<size_t>(j) * 16;
      const __m256 f0 = _mm256_loadu_ps(cj), f1 = _mm256_loadu_ps(cj + 8);
      const __m256d cd[4] = {_mm256_cvtps_pd(_mm256_castps256_ps128(f0)), _mm256_cvtps_pd(_mm256_extractf128_ps(f0, 1)),
                             _mm256_cvtps_pd(_mm256_castps256_ps128(f1)), _mm256_cvtps_pd(_mm256_extractf128_ps(f1, 1))};
      if (m.dot) {
        for (int i = 0; i < 4; ++i) a[i] = _mm256_sub_pd(a[i], _mm256_mul_pd(xj, cd[i]));
      } else {
        for (int i = 0; i < 4; ++i) {
          const __m256d diff = _mm256_sub_pd(xj, cd[i]);
          a[i] = _mm256_add_pd(a[i], _mm256_mul_pd(diff, diff));
        }
      }
    }
    const double lo = hmin(_mm256_min_pd(_mm256_min_pd(a[0], a[1]), _mm256_min_pd(a[2], a[3])));
    low[c] = lo;
    const __m256d vlo = _mm256_set1_pd(lo);
    for (int i = 0; i < 4; ++i) {
      const __m256d shifted = _mm256_sub_pd(a[i], vlo);
      top = _mm256_max_pd(top, shifted);
      _mm256_storeu_pd(work + c * 16 + 4 * i, shifted);
    }
  }
  const double span = hmax(top);
  const double s = span > 0.0 ? kMaxLutEntry / span : 1.0;
  const __m256d vs = _mm256_set1_pd(s), zero = _mm256_setzero_pd(), cap = _mm256_set1_pd(kMaxLutEntry);
  for (int i = 0; i < m.ncodebooks * 16; i += 16) {
    __m128i q[4];
    for (int p = 0; p < 4; ++p) {
      __m256d v = _mm256_round_pd(_mm256_mul_pd(_mm256_loadu_pd(work + i + 4 * p), vs),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm256_min_pd(cap, _mm256_max_pd(zero, v));
      q[p] = _mm256_cvtpd_epi32(v);  // exact: v is an integer in [0, 127]
    }
    const __m128i w = _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lut + i), w);
  }
  *scale = s;
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
