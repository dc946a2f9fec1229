// Portable reference for Bolt encoding: nearest of 16 centroids per subspace, scored as
// |c|^2 + x.(-2c), accumulated one dimension at a time as a rounded product then a rounded
// sum, in the same order as the SIMD paths, so all paths pick the same code (ties go to the
// smaller index). Inputs with NaN, inf or |x| >= 2^60 are reported (return false). No fused multiply-add: CPUs without FMA would have to emulate it in
// software, and the compiler must not contract (the build uses -ffp-contract=off). The factor
// -2 is stored in the centroid table (scaling by a power of two is exact).
#include <cmath>
#include <cstring>

#include "common/checks.hpp"

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace scalar {

bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out) {
  const int ncols = m.ncodebooks / 2;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) {
    const float* x = X + i * ldx;
    for (int j = 0; j < m.d; ++j) {
      uint32_t bits;
      std::memcpy(&bits, x + j, 4);
      finite &= (bits & 0x7fffffffu) < kMagnitudeLimitBits;
    }
    uint8_t* o = out + i * ncols;
    for (int j = 0; j < ncols; ++j) o[j] = 0;
    for (int c = 0; c < m.ncodebooks; ++c) {
      float acc[16];
      for (int k = 0; k < 16; ++k) acc[k] = m.norms[c * 16 + k];
      for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
        const float xj = load_f32(x + j);
        const float* ct = m.centroids_t + static_cast<size_t>(j) * 16;
        for (int k = 0; k < 16; ++k) acc[k] = acc[k] + xj * ct[k];
      }
      int best = 0;
      for (int k = 1; k < 16; ++k)
        if (acc[k] < acc[best]) best = k;
      o[c >> 1] |= static_cast<uint8_t>(best << (4 * (c & 1)));
    }
  }
  return finite;
}

}  // namespace scalar
}  // namespace bolt
}  // namespace tenfold
