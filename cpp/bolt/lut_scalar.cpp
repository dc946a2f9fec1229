// Portable query tables; lut_avx2.cpp and lut_neon.cpp must match it bit for bit.
#include <algorithm>
#include <cmath>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace scalar {

void query_lut(const LutModel& m, const float* x, double* work, uint8_t* lut, double* low, double* scale) {
  double span = 0.0;
  for (int c = 0; c < m.ncodebooks; ++c) {
    double acc[16] = {};
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const double xj = load_f32(x + j);
      const float* cj = m.cent_t + static_cast<size_t>(j) * 16;
      for (int k = 0; k < 16; ++k) {
        if (m.dot) {
          acc[k] -= xj * static_cast<double>(load_f32(cj + k));
        } else {
          const double diff = xj - static_cast<double>(load_f32(cj + k));
          acc[k] += diff * diff;
        }
      }
    }
    double lo = acc[0];
    for (int k = 1; k < 16; ++k) lo = std::min(lo, acc[k]);
    low[c] = lo;
    for (int k = 0; k < 16; ++k) {
      work[c * 16 + k] = acc[k] - lo;
      span = std::max(span, work[c * 16 + k]);
    }
  }
  const double s = span > 0.0 ? kMaxLutEntry / span : 1.0;
  for (int i = 0; i < m.ncodebooks * 16; ++i) {
    const double v = std::nearbyint(work[i] * s);  // ties to even, as numpy's rint
    lut[i] = static_cast<uint8_t>(std::min<double>(kMaxLutEntry, std::max(0.0, v)));
  }
  *scale = s;
}

}  // namespace scalar
}  // namespace bolt
}  // namespace tenfold
