#include "extract/extract.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace tenfold::extract {

size_t prefix_scores(const float* XT, const float* BT, size_t n, size_t F, const int64_t* cands,
                     size_t C, size_t W, const float* log0, double p0blur, double* scores) {
  const double ninf = -std::numeric_limits<double>::infinity();
  for (size_t k = 0; k <= C; ++k) scores[k] = ninf;
  (void)n;
  const size_t WF = W * F;
  std::vector<float> counts(WF, 0.0f), blur(WF, 0.0f);
  size_t best_k = 0, evaluated = 0;
  for (size_t k = 1; k <= C; ++k) {
    if (k >= 2 && k - 1 >= 2 * best_k + 8) break;
    const float* xw = XT + static_cast<size_t>(cands[k - 1]) * F;
    const float* bw = BT + static_cast<size_t>(cands[k - 1]) * F;
    for (size_t i = 0; i < WF; ++i) {
      counts[i] += xw[i];
      blur[i] += bw[i];
    }
    if (k < 2) continue;
    const float inv_k = 1.0f / static_cast<float>(k);
    const float* nx = k < C ? XT + static_cast<size_t>(cands[k]) * F : nullptr;
    double odds = 0.0, fsum = 0.0, enemy = 0.0;
    for (size_t w = 0; w < W; ++w) {
      const float* cw = counts.data() + w * F;
      const float* tw = blur.data() + w * F;
      for (size_t f = 0; f < F; ++f) {
        const float theta = tw[f] * inv_k;
        if (!(theta > 0.5f) || !(cw[f] > 0.0f)) continue;
        const float l = std::log(theta) - log0[f];
        if (!(l > 0.0f)) continue;
        odds += static_cast<double>(cw[f]) * l;
        fsum += l;
        if (nx) enemy += static_cast<double>(l) * nx[w * F + f];
      }
    }
    const double kd = static_cast<double>(k);
    const double noise = fsum * p0blur * kd;
    const double en = nx ? enemy * kd : ninf;
    scores[k] = odds - (noise > en ? noise : en);
    ++evaluated;
    if (scores[k] > scores[best_k]) best_k = k;
  }
  return evaluated;
}

}  // namespace tenfold::extract
