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

namespace {

double dtw_pair(const double* a, size_t la, const double* b, size_t lb, size_t d, double band,
                std::vector<double>& prev, std::vector<double>& cur) {
  const double inf = std::numeric_limits<double>::infinity();
  const double slope = la > 1 ? static_cast<double>(lb - 1) / static_cast<double>(la - 1) : 0.0;
  const double radius = std::max(band * static_cast<double>(std::max(la, lb)), slope / 2.0 + 1.0);
  prev.assign(lb, inf);
  cur.assign(lb, inf);
  for (size_t i = 0; i < la; ++i) {
    const double centre = static_cast<double>(i) * slope;
    const double jlo_d = std::ceil(centre - radius), jhi_d = std::floor(centre + radius);
    const size_t jlo = (la == 1 || jlo_d < 0.0) ? 0 : static_cast<size_t>(jlo_d);
    const size_t jhi = (la == 1 || jhi_d > static_cast<double>(lb - 1)) ? lb - 1 : static_cast<size_t>(jhi_d);
    std::fill(cur.begin(), cur.end(), inf);
    const double* ai = a + i * d;
    for (size_t j = jlo; j <= jhi; ++j) {
      const double* bj = b + j * d;
      double s = 0.0;
      for (size_t k = 0; k < d; ++k) {
        const double t = ai[k] - bj[k];
        s += t * t;
      }
      const double c = std::sqrt(s);
      double best;
      if (i == 0 && j == 0) {
        best = 2.0 * c;
      } else {
        best = inf;
        if (i > 0 && prev[j] + c < best) best = prev[j] + c;
        if (j > 0 && cur[j - 1] + c < best) best = cur[j - 1] + c;
        if (i > 0 && j > 0 && prev[j - 1] + 2.0 * c < best) best = prev[j - 1] + 2.0 * c;
      }
      cur[j] = best;
    }
    std::swap(prev, cur);
  }
  return prev[lb - 1] / static_cast<double>(la + lb);
}

}  // namespace

void dtw_segments(const double* ZA, const int64_t* startsA, const int64_t* endsA, size_t SA,
                  const double* ZB, const int64_t* startsB, const int64_t* endsB, size_t SB, size_t d,
                  double band, bool symmetric, double* out) {
  std::vector<double> prev, cur;
  for (size_t a = 0; a < SA; ++a) {
    const size_t la = static_cast<size_t>(endsA[a] - startsA[a]);
    const double* pa = ZA + static_cast<size_t>(startsA[a]) * d;
    for (size_t b = symmetric ? a + 1 : 0; b < SB; ++b) {
      const size_t lb = static_cast<size_t>(endsB[b] - startsB[b]);
      const double* pb = ZB + static_cast<size_t>(startsB[b]) * d;
      const double v = dtw_pair(pa, la, pb, lb, d, band, prev, cur);
      out[a * SB + b] = v;
      if (symmetric) out[b * SB + a] = v;
    }
    if (symmetric) out[a * SB + a] = 0.0;
  }
}

}  // namespace tenfold::extract
