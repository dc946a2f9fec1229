// AVX2 exact distances for re-ranking: four 8-float accumulators (chunk i of 8 dimensions into
// accumulator i mod 4, lane l of a chunk into lane l), added pairwise, then the same reduction
// tree and tail as the portable
// version in bolt.cpp (exact_distance), so both give the same bits. float16 rows are widened
// with F16C (exact, as the portable table is). Multiply then add: no FMA.
#include <immintrin.h>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace avx2 {

namespace {
template <bool kHalf>
inline __m256 load8(const void* row, int j) {
  if constexpr (kHalf) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + j)));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(row) + j);
  }
}

template <bool kHalf>
inline float element(const void* row, int j) {
  if constexpr (kHalf) {
    return _cvtsh_ss(static_cast<const uint16_t*>(row)[j]);
  } else {
    return load_f32(static_cast<const float*>(row) + j);
  }
}

template <bool kHalf>
float distance_impl(const float* q, const void* row, int d, bool dot) {
  // chunk i of 8 dimensions goes to accumulator i mod 4: four independent add chains
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int j = 0, i = 0;
  if (dot) {
    for (; j + 8 <= d; j += 8, ++i)
      acc[i & 3] = _mm256_sub_ps(acc[i & 3], _mm256_mul_ps(_mm256_loadu_ps(q + j), load8<kHalf>(row, j)));
  } else {
    for (; j + 8 <= d; j += 8, ++i) {
      const __m256 t = _mm256_sub_ps(_mm256_loadu_ps(q + j), load8<kHalf>(row, j));
      acc[i & 3] = _mm256_add_ps(acc[i & 3], _mm256_mul_ps(t, t));
    }
  }
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  alignas(32) float a[8];
  _mm256_store_ps(a, sum);
  float tail = 0.0f;
  for (; j < d; ++j) {
    const float x = element<kHalf>(row, j), qj = load_f32(q + j);
    if (dot) {
      tail -= qj * x;
    } else {
      tail += (qj - x) * (qj - x);
    }
  }
  return (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))) + tail;
}
}  // namespace

float exact_distance(const float* q, const void* row, int d, bool dot, bool half) {
  return half ? distance_impl<true>(q, row, d, dot) : distance_impl<false>(q, row, d, dot);
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
