// NEON query tables (AArch64): the 16 entries of a subspace's table in eight registers of 2
// doubles, each entry summing its dimensions in order (multiply then add, as lut_scalar.cpp);
// rounding with frintn (to nearest even, as nearbyint). Same bits as the portable version.
#include <arm_neon.h>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace neon {

void query_lut(const LutModel& m, const float* x, double* work, uint8_t* lut, double* low, double* scale) {
  float64x2_t top = vdupq_n_f64(0.0);
  for (int c = 0; c < m.ncodebooks; ++c) {
    float64x2_t a[8];
    for (int i = 0; i < 8; ++i) a[i] = vdupq_n_f64(0.0);
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const float64x2_t xj = vdupq_n_f64(static_cast<double>(load_f32(x + j)));
      const float* cj = m.cent_t + static_cast<size_t>(j) * 16;
      for (int i = 0; i < 4; ++i) {
        float f[4];
        std::memcpy(f, cj + 4 * i, sizeof f);
        const float32x4_t v = vld1q_f32(f);
        const float64x2_t c0 = vcvt_f64_f32(vget_low_f32(v)), c1 = vcvt_high_f64_f32(v);
        if (m.dot) {
          a[2 * i] = vsubq_f64(a[2 * i], vmulq_f64(xj, c0));
          a[2 * i + 1] = vsubq_f64(a[2 * i + 1], vmulq_f64(xj, c1));
        } else {
          const float64x2_t d0 = vsubq_f64(xj, c0), d1 = vsubq_f64(xj, c1);
          a[2 * i] = vaddq_f64(a[2 * i], vmulq_f64(d0, d0));
          a[2 * i + 1] = vaddq_f64(a[2 * i + 1], vmulq_f64(d1, d1));
        }
      }
    }
    float64x2_t mn = a[0];
    for (int i = 1; i < 8; ++i) mn = vminq_f64(mn, a[i]);
    const double lo = vminvq_f64(mn);
    low[c] = lo;
    const float64x2_t vlo = vdupq_n_f64(lo);
    for (int i = 0; i < 8; ++i) {
      const float64x2_t shifted = vsubq_f64(a[i], vlo);
      top = vmaxq_f64(top, shifted);
      vst1q_f64(work + c * 16 + 2 * i, shifted);
    }
  }
  const double span = vmaxvq_f64(top);
  const double s = span > 0.0 ? kMaxLutEntry / span : 1.0;
  const float64x2_t vs = vdupq_n_f64(s), zero = vdupq_n_f64(0.0), cap = vdupq_n_f64(kMaxLutEntry);
  for (int i = 0; i < m.ncodebooks * 16; i += 2) {
    const float64x2_t v = vminq_f64(cap, vmaxq_f64(zero, vrndnq_f64(vmulq_f64(vld1q_f64(work + i), vs))));
    const uint64x2_t u = vcvtq_u64_f64(v);  // exact: v is an integer in [0, 127]
    lut[i] = static_cast<uint8_t>(vgetq_lane_u64(u, 0));
    lut[i + 1] = static_cast<uint8_t>(vgetq_lane_u64(u, 1));
  }
  *scale = s;
}

}  // namespace neon
}  // namespace bolt
}  // namespace tenfold
