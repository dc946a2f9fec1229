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

// The portable reduction: lanes of the four accumulators added pairwise, then the tree.
inline float reduce(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  alignas(32) float a[8];
  _mm256_store_ps(a, sum);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// Four chunks of 8 dimensions per step, one per named accumulator (kept in registers; an
// indexed array of accumulators was measured 1.4x slower), the leftover chunks into a0, a1, a2
// in turn as chunk i mod 4 requires.
template <bool kHalf, bool kDot>
float distance_impl(const float* q, const void* row, int d) {
  auto step = [&](__m256 acc, int j) {
    const __m256 x = load8<kHalf>(row, j), qj = _mm256_loadu_ps(q + j);
    if constexpr (kDot) {
      return _mm256_sub_ps(acc, _mm256_mul_ps(qj, x));
    } else {
      const __m256 t = _mm256_sub_ps(qj, x);
      return _mm256_add_ps(acc, _mm256_mul_ps(t, t));
    }
  };
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int j = 0;
  for (; j + 32 <= d; j += 32) {
    a0 = step(a0, j);
    a1 = step(a1, j + 8);
    a2 = step(a2, j + 16);
    a3 = step(a3, j + 24);
  }
  if (j + 8 <= d) a0 = step(a0, j), j += 8;
  if (j + 8 <= d) a1 = step(a1, j), j += 8;
  if (j + 8 <= d) a2 = step(a2, j), j += 8;
  float tail = 0.0f;
  for (; j < d; ++j) {
    const float x = element<kHalf>(row, j), qj = load_f32(q + j);
    if constexpr (kDot) {
      tail -= qj * x;
    } else {
      tail += (qj - x) * (qj - x);
    }
  }
  return reduce(a0, a1, a2, a3) + tail;
}

}  // namespace

float exact_distance(const float* q, const void* row, int d, bool dot, bool half) {
  if (half) return dot ? distance_impl<true, true>(q, row, d) : distance_impl<true, false>(q, row, d);
  return dot ? distance_impl<false, true>(q, row, d) : distance_impl<false, false>(q, row, d);
}

}  // namespace avx2
}  // namespace bolt
}  // namespace tenfold
