// AVX2 kernels of the wide Sprintz chunks (codec_wide.hpp): 4 digits per step converted to double
// exactly and divided by 10^e in one vdivpd, the same correctly rounded division as the scalar
// reference, so the bits are equal.
#include <immintrin.h>

#include <cstring>

#include "sprintz/codec_wide.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace avx2 {

void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, double pow10, bool f32, uint8_t* out,
                      ptrdiff_t out_step) {
  // int64 -> double without AVX-512: for -2^51 <= d < 2^51 the bits of d + 1.5 * 2^52 (as an
  // integer) are the double 1.5 * 2^52 + d, exactly; lanes outside that range take the scalar rule
  constexpr int64_t kMagicBits = 0x4338000000000000;  // 1.5 * 2^52
  constexpr int64_t kHalfRange = int64_t(1) << 51;
  const __m256i magic = _mm256_set1_epi64x(kMagicBits);
  const __m256i half = _mm256_set1_epi64x(kHalfRange);
  const __m256i limit = _mm256_set1_epi64x(2 * kHalfRange - 1);
  const __m256i flip = _mm256_set1_epi64x(INT64_MIN);
  const __m256d magic_d = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256d p = _mm256_set1_pd(pow10);
  const size_t isz = f32 ? 4 : 8;
  const bool dense_in = in_stride == 1, dense_out = out_step == ptrdiff_t(isz);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i d;
    if (dense_in) {
      d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
    } else {
      const uint64_t* q = w + i * in_stride;
      d = _mm256_set_epi64x(int64_t(q[3 * in_stride]), int64_t(q[2 * in_stride]), int64_t(q[in_stride]),
                            int64_t(q[0]));
    }
    // in range iff (d + 2^51) as unsigned <= 2^52 - 1 (signed compare after flipping the top bit)
    const __m256i shifted = _mm256_xor_si256(_mm256_add_epi64(d, half), flip);
    const __m256i out_of_range = _mm256_cmpgt_epi64(shifted, _mm256_xor_si256(limit, flip));
    if (!_mm256_testz_si256(out_of_range, out_of_range)) {
      scalar::digits_to_floats(w + i * in_stride, in_stride, 4, pow10, f32, out + ptrdiff_t(i) * out_step, out_step);
      continue;
    }
    const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(d, magic)), magic_d);
    const __m256d y = _mm256_div_pd(x, p);
    uint8_t* o = out + ptrdiff_t(i) * out_step;
    if (f32) {
      const __m128 yf = _mm256_cvtpd_ps(y);  // round to nearest, as float(double) in the scalar rule
      if (dense_out) {
        _mm_storeu_ps(reinterpret_cast<float*>(o), yf);
      } else {
        alignas(16) float lanes[4];
        _mm_store_ps(lanes, yf);
        for (int k = 0; k < 4; ++k) std::memcpy(o + k * out_step, &lanes[k], 4);
      }
    } else if (dense_out) {
      _mm256_storeu_pd(reinterpret_cast<double*>(o), y);
    } else {
      alignas(32) double lanes[4];
      _mm256_store_pd(lanes, y);
      for (int k = 0; k < 4; ++k) std::memcpy(o + k * out_step, &lanes[k], 8);
    }
  }
  scalar::digits_to_floats(w + i * in_stride, in_stride, n - i, pow10, f32, out + ptrdiff_t(i) * out_step, out_step);
}

}  // namespace avx2
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
