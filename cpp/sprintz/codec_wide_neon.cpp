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

}  // namespace neon
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
