// NEON kernels of the wide Sprintz chunks (codec_wide.hpp): 2 digits per step converted to double
// (exact below 2^53) and divided by 10^e in one vdivq_f64, the scalar reference's correctly
// rounded division, so the bits are equal.
#include <arm_neon.h>

#include <cstring>

#include "sprintz/codec_wide.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace neon {

void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, double pow10, bool f32, uint8_t* out,
                      ptrdiff_t out_step) {
  const float64x2_t p = vdupq_n_f64(pow10);
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    int64x2_t d;
    if (in_stride == 1) {
      d = vreinterpretq_s64_u64(vld1q_u64(w + i));
    } else {
      d = vcombine_s64(vcreate_s64(w[i * in_stride]), vcreate_s64(w[(i + 1) * in_stride]));
    }
    // vcvtq_f64_s64 rounds to nearest like the scalar int64 -> double conversion
    const float64x2_t y = vdivq_f64(vcvtq_f64_s64(d), p);
    uint8_t* o = out + ptrdiff_t(i) * out_step;
    if (f32) {
      float lanes[2];
      vst1_f32(lanes, vcvt_f32_f64(y));
      std::memcpy(o, &lanes[0], 4);
      std::memcpy(o + out_step, &lanes[1], 4);
    } else {
      double lanes[2];
      vst1q_f64(lanes, y);
      std::memcpy(o, &lanes[0], 8);
      std::memcpy(o + out_step, &lanes[1], 8);
    }
  }
  scalar::digits_to_floats(w + i * in_stride, in_stride, n - i, pow10, f32, out + ptrdiff_t(i) * out_step, out_step);
}

size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact) {
  // the scalar rule lane-wise: y = x * 10^e, nearest integer (vrndnq: ties to even, as
  // nearbyint), |y| < 2^52, digits / 10^e giving x's bits back
  const float64x2_t p = vdupq_n_f64(pow10);
  const float64x2_t two52 = vdupq_n_f64(4503599627370496.0);
  size_t hits = 0, i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t* q = w + i * stride;
    const uint64_t b0 = q[0], b1 = q[stride];
    float64x2_t x;
    if (f32) {
      float f[2];
      const uint32_t lo[2] = {uint32_t(b0), uint32_t(b1)};
      std::memcpy(f, lo, 8);
      x = vcvt_f64_f32(vld1_f32(f));
    } else {
      x = vreinterpretq_f64_u64(vcombine_u64(vcreate_u64(b0), vcreate_u64(b1)));
    }
    const float64x2_t y = vmulq_f64(x, p);
    const uint64x2_t in = vcltq_f64(vabsq_f64(y), two52);  // false for NaN
    const float64x2_t r = vrndnq_f64(y);
    const int64x2_t d = vcvtq_s64_f64(r);  // r is an integer below 2^52: exact
    // double(d) is r exactly, but for the sign of zero: -0.0 + 0.0 = +0.0 (digits 0 decode to +0.0)
    const float64x2_t back = vdivq_f64(vaddq_f64(r, vdupq_n_f64(0.0)), p);
    uint64x2_t same;
    if (f32) {
      const uint32x2_t bf = vreinterpret_u32_f32(vcvt_f32_f64(back));
      const uint32x2_t want = vcreate_u32(uint64_t(uint32_t(b0)) | (uint64_t(uint32_t(b1)) << 32));
      same = vmovl_u32(vceq_u32(bf, want));  // nonzero where equal: enough for the test below
    } else {
      same = vceqq_u64(vreinterpretq_u64_f64(back), vcombine_u64(vcreate_u64(b0), vcreate_u64(b1)));
    }
    const uint64x2_t ok = vandq_u64(same, in);
    for (int k = 0; k < 2; ++k) {
      const bool e = (k == 0 ? vgetq_lane_u64(ok, 0) : vgetq_lane_u64(ok, 1)) != 0;
      exact[i + k] = uint8_t(e);
      if (e) q[k * stride] = uint64_t(k == 0 ? vgetq_lane_s64(d, 0) : vgetq_lane_s64(d, 1));
      hits += e;
    }
  }
  return hits + scalar::floats_to_digits(w + i * stride, stride, n - i, pow10, f32, exact + i);
}

}  // namespace neon
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
