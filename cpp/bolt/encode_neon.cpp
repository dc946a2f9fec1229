// NEON Bolt encoding (AArch64): four rows at a time, transposed so that each lane is a row; the
// score of each of the 16 centroids is a vertical multiply-then-add chain (no fused multiply-add,
// same order as encode_scalar.cpp) and the argmin a vertical compare-and-select that keeps the
// first minimum, so every path picks the same code. A last partial group is padded with zero rows
// whose codes are not written.
#include <arm_neon.h>

#include <cstring>
#include <vector>

#include "bolt/bolt.hpp"
#include "common/checks.hpp"

namespace tenfold {
namespace bolt {
namespace neon {

namespace {

constexpr int kLanes = 4;

// Rows [0, rows) (rows <= 4) of X into xt (d x 4, lane i = row i; missing rows zero). Returns
// false if a value is refused (NaN, inf or |x| >= 2^60).
bool transpose_rows(const float* X, size_t ldx, int rows, int d, float* xt) {
  uint32_t bad = 0;
  for (int i = 0; i < kLanes; ++i) {
    for (int j = 0; j < d; ++j) {
      float v = 0.0f;
      if (i < rows) {
        v = X[static_cast<size_t>(i) * ldx + j];
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        bad |= static_cast<uint32_t>((bits & 0x7fffffffu) >= kMagnitudeLimitBits);
      }
      xt[j * kLanes + i] = v;
    }
  }
  return bad == 0;
}

void encode4(const EncodeModel& m, const float* xt, int rows, uint8_t* out, int ncols) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < ncols; ++j) out[r * ncols + j] = 0;
  for (int c = 0; c < m.ncodebooks; ++c) {
    float32x4_t acc[16];
    for (int k = 0; k < 16; ++k) acc[k] = vdupq_n_f32(m.norms[c * 16 + k]);
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const float32x4_t xj = vld1q_f32(xt + j * kLanes);
      const float* ct = m.centroids_t + static_cast<size_t>(j) * 16;
      const float32x4_t c0 = vld1q_f32(ct), c1 = vld1q_f32(ct + 4), c2 = vld1q_f32(ct + 8), c3 = vld1q_f32(ct + 12);
#define TENFOLD_TERM(k, cv, lane) acc[k] = vaddq_f32(acc[k], vmulq_laneq_f32(xj, cv, lane))
      TENFOLD_TERM(0, c0, 0); TENFOLD_TERM(1, c0, 1); TENFOLD_TERM(2, c0, 2); TENFOLD_TERM(3, c0, 3);
      TENFOLD_TERM(4, c1, 0); TENFOLD_TERM(5, c1, 1); TENFOLD_TERM(6, c1, 2); TENFOLD_TERM(7, c1, 3);
      TENFOLD_TERM(8, c2, 0); TENFOLD_TERM(9, c2, 1); TENFOLD_TERM(10, c2, 2); TENFOLD_TERM(11, c2, 3);
      TENFOLD_TERM(12, c3, 0); TENFOLD_TERM(13, c3, 1); TENFOLD_TERM(14, c3, 2); TENFOLD_TERM(15, c3, 3);
#undef TENFOLD_TERM
    }
    float32x4_t best = acc[0];
    uint32x4_t best_k = vdupq_n_u32(0);
    for (int k = 1; k < 16; ++k) {
      const uint32x4_t lt = vcltq_f32(acc[k], best);  // strictly smaller: ties keep the first
      best = vbslq_f32(lt, acc[k], best);
      best_k = vbslq_u32(lt, vdupq_n_u32(static_cast<uint32_t>(k)), best_k);
    }
    uint32_t codes[kLanes];
    vst1q_u32(codes, best_k);
    for (int r = 0; r < rows; ++r) out[r * ncols + (c >> 1)] |= static_cast<uint8_t>(codes[r] << (4 * (c & 1)));
  }
}

}  // namespace

bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out) {
  const int ncols = m.ncodebooks / 2;
  std::vector<float> xt(static_cast<size_t>(m.d) * kLanes);
  bool finite = true;
  for (size_t i = 0; i < n; i += kLanes) {
    const int rows = n - i < kLanes ? static_cast<int>(n - i) : kLanes;
    finite &= transpose_rows(X + i * ldx, ldx, rows, m.d, xt.data());
    encode4(m, xt.data(), rows, out + i * ncols, ncols);
  }
  return finite;
}

}  // namespace neon
}  // namespace bolt
}  // namespace tenfold
