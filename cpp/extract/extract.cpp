#include "extract/extract.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
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
  // active[i]: theta > 1/2 and counts > 0 (padded to whole 8-byte words for the skip scan)
  const size_t words = (WF + 7) / 8;
  std::vector<uint64_t> active_words(words, 0);
  unsigned char* active = reinterpret_cast<unsigned char*>(active_words.data());
  size_t best_k = 0, evaluated = 0;
  for (size_t k = 1; k <= C; ++k) {
    if (k >= 2 && k - 1 >= 2 * best_k + 8) break;
    const float* xw = XT + static_cast<size_t>(cands[k - 1]) * F;
    const float* bw = BT + static_cast<size_t>(cands[k - 1]) * F;
    const float half_k = 0.5f * static_cast<float>(k);
    float* cp = counts.data();
    float* bp = blur.data();
    // one vectorisable pass: accumulate, and flag entries that can carry filter weight
    for (size_t i = 0; i < WF; ++i) {
      cp[i] += xw[i];
      bp[i] += bw[i];
      active[i] = static_cast<unsigned char>((bp[i] > half_k) & (cp[i] > 0.0f));
    }
    if (k < 2) continue;
    const float inv_k = 1.0f / static_cast<float>(k);
    const float* nx = k < C ? XT + static_cast<size_t>(cands[k]) * F : nullptr;
    double odds = 0.0, fsum = 0.0, enemy = 0.0;
    for (size_t wd = 0; wd < words; ++wd) {
      if (active_words[wd] == 0) continue;   // most entries are inactive: skip 8 at a time
      const size_t end = std::min(WF, wd * 8 + 8);
      for (size_t i = wd * 8; i < end; ++i) {
        if (!active[i]) continue;
        const float theta = bp[i] * inv_k;
        if (!(theta > 0.5f)) continue;          // same test as the reference (rounding)
        const float l = std::log(theta) - log0[i % F];
        if (!(l > 0.0f)) continue;
        odds += static_cast<double>(cp[i]) * l;
        fsum += l;
        if (nx) enemy += static_cast<double>(l) * nx[i];
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

size_t nonoverlapping_maxima(const double* v, size_t n, size_t sep, double floor, size_t limit,
                             int64_t* out) {
  std::vector<int64_t> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (v[i] > floor) order.push_back(static_cast<int64_t>(i));
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  std::vector<unsigned char> blocked(n, 0);
  size_t taken = 0;
  if (sep == 0) sep = 1;
  for (int64_t i : order) {
    if (taken >= limit) break;
    if (blocked[static_cast<size_t>(i)]) continue;
    out[taken++] = i;
    const size_t lo = static_cast<size_t>(i) + 1 >= sep ? static_cast<size_t>(i) + 1 - sep : 0;
    const size_t hi = std::min(n, static_cast<size_t>(i) + sep);
    std::fill(blocked.begin() + static_cast<std::ptrdiff_t>(lo), blocked.begin() + static_cast<std::ptrdiff_t>(hi), 1);
  }
  return taken;
}

}  // namespace tenfold::extract
