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
  constexpr int64_t kHalfRange = int64_t{1LL << 51};
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

size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact) {
  // the scalar rule lane-wise: y = x * 10^e (same multiply), nearest integer (roundpd, ties to
  // even as nearbyint), kept only where |y| < 2^51 (there the magic-number conversion to int64
  // is exact; groups with a lane in [2^51, 2^52) take the scalar path, which allows up to 2^52),
  // then digits / 10^e must give x's bits back
  const __m256d p = _mm256_set1_pd(pow10);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  const __m256d two51 = _mm256_set1_pd(2251799813685248.0);
  const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
  const __m256d magic_d = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256i magic = _mm256_set1_epi64x(0x4338000000000000);
  size_t hits = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    uint64_t* q = w + i * stride;
    const __m256i bits = stride == 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q))
                                     : _mm256_set_epi64x(int64_t(q[3 * stride]), int64_t(q[2 * stride]),
                                                         int64_t(q[stride]), int64_t(q[0]));
    __m256d x;
    if (f32) {  // the low halves of the 4 words, as floats, widened exactly
      const __m256i lo = _mm256_permutevar8x32_epi32(bits, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
      x = _mm256_cvtps_pd(_mm_castsi128_ps(_mm256_castsi256_si128(lo)));
    } else {
      x = _mm256_castsi256_pd(bits);
    }
    const __m256d y = _mm256_mul_pd(x, p);
    const __m256d ay = _mm256_and_pd(y, abs_mask);
    const int in52 = _mm256_movemask_pd(_mm256_cmp_pd(ay, two52, _CMP_LT_OQ));  // false for NaN
    const int in51 = _mm256_movemask_pd(_mm256_cmp_pd(ay, two51, _CMP_LT_OQ));
    if (in52 != in51) {  // a lane in [2^51, 2^52): the scalar rule for this group
      hits += scalar::floats_to_digits(q, stride, 4, pow10, f32, exact + i);
      continue;
    }
    const __m256d r = _mm256_round_pd(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i d = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(r, magic_d)), magic);
    // double(d) is r exactly, but for the sign of zero: -0.0 + 0.0 = +0.0 (digits 0 decode to +0.0)
    const __m256d back = _mm256_div_pd(_mm256_add_pd(r, _mm256_setzero_pd()), p);
    int same;
    if (f32) {
      const __m128 bf = _mm256_cvtpd_ps(back);
      const __m128i want = _mm256_castsi256_si128(
          _mm256_permutevar8x32_epi32(bits, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
      same = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_castps_si128(bf), want)));
    } else {
      same = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_castpd_si256(back), bits)));
    }
    const int ok = same & in51;
    alignas(32) int64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), d);
    for (int k = 0; k < 4; ++k) {
      const bool e = (ok >> k) & 1;
      exact[i + k] = uint8_t(e);
      if (e) q[k * stride] = uint64_t(lanes[k]);
      hits += e;
    }
  }
  return hits + scalar::floats_to_digits(w + i * stride, stride, n - i, pow10, f32, exact + i);
}

}  // namespace avx2
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
