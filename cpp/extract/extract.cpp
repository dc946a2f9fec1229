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

// Open-boundary DTW (slack > 0): the path starts at any cell (i, 0) with i <= sa or (0, j) with
// j <= sb and ends at any cell (la-1, j) with j >= lb-1-sb or (i, lb-1) with i >= la-1-sa, where
// sa = min(la-1, floor(slack * la)) (sb likewise). With the symmetric step weights (1, 1, 2; start 2)
// every path's weight W is (i1-i0+1) + (j1-j0+1), the lengths it aligns; the result is the smallest
// cost / W over all such paths inside the band widened by slack * max(la, lb). Found exactly by
// Dinkelbach's iteration: lambda <- C/W of the path minimising C - lambda W, from lambda = 0, until no
// path has a smaller ratio. cost is a (la, lb) scratch buffer.
double dtw_pair_open(const double* a, size_t la, const double* b, size_t lb, size_t d, double band,
                     double slack, std::vector<double>& cost, std::vector<double>& cp, std::vector<double>& wp,
                     std::vector<double>& cc, std::vector<double>& wc) {
  const double inf = std::numeric_limits<double>::infinity();
  const double slope = la > 1 ? static_cast<double>(lb - 1) / static_cast<double>(la - 1) : 0.0;
  const double radius = std::max(band * static_cast<double>(std::max(la, lb)), slope / 2.0 + 1.0) +
                        slack * static_cast<double>(std::max(la, lb));
  const size_t sa = std::min(la - 1, static_cast<size_t>(std::floor(slack * static_cast<double>(la))));
  const size_t sb = std::min(lb - 1, static_cast<size_t>(std::floor(slack * static_cast<double>(lb))));
  std::vector<size_t> lo(la), hi(la);
  cost.assign(la * lb, inf);
  for (size_t i = 0; i < la; ++i) {
    const double centre = static_cast<double>(i) * slope;
    const double jlo_d = std::ceil(centre - radius), jhi_d = std::floor(centre + radius);
    lo[i] = (la == 1 || jlo_d < 0.0) ? 0 : static_cast<size_t>(jlo_d);
    hi[i] = (la == 1 || jhi_d > static_cast<double>(lb - 1)) ? lb - 1 : static_cast<size_t>(jhi_d);
    const double* ai = a + i * d;
    for (size_t j = lo[i]; j <= hi[i]; ++j) {
      const double* bj = b + j * d;
      double s = 0.0;
      for (size_t k = 0; k < d; ++k) {
        const double t = ai[k] - bj[k];
        s += t * t;
      }
      cost[i * lb + j] = std::sqrt(s);
    }
  }
  double lambda = 0.0, ratio = inf;
  for (int iter = 0; iter < 64; ++iter) {
    cp.assign(lb, inf);
    wp.assign(lb, 0.0);
    cc.assign(lb, inf);
    wc.assign(lb, 0.0);
    double end_f = inf, end_c = inf, end_w = 1.0;
    for (size_t i = 0; i < la; ++i) {
      std::fill(cc.begin(), cc.end(), inf);
      for (size_t j = lo[i]; j <= hi[i]; ++j) {
        const double c = cost[i * lb + j];
        double bc = inf, bw = 0.0, bf = inf;
        auto consider = [&](double pc, double pw) {
          const double f = pc - lambda * pw;
          if (f < bf) {
            bf = f;
            bc = pc;
            bw = pw;
          }
        };
        if ((j == 0 && i <= sa) || (i == 0 && j <= sb)) consider(2.0 * c, 2.0);
        if (i > 0 && cp[j] < inf) consider(cp[j] + c, wp[j] + 1.0);
        if (j > 0 && cc[j - 1] < inf) consider(cc[j - 1] + c, wc[j - 1] + 1.0);
        if (i > 0 && j > 0 && cp[j - 1] < inf) consider(cp[j - 1] + 2.0 * c, wp[j - 1] + 2.0);
        cc[j] = bc;
        wc[j] = bw;
        if (bc < inf && ((i == la - 1 && j + sb >= lb - 1) || (j == lb - 1 && i + sa >= la - 1)) && bf < end_f) {
          end_f = bf;
          end_c = bc;
          end_w = bw;
        }
      }
      std::swap(cp, cc);
      std::swap(wp, wc);
    }
    const double r = end_c / end_w;
    if (!(r < ratio)) break;
    ratio = r;
    lambda = r;
  }
  return ratio;
}

}  // namespace

void dtw_segments(const double* ZA, const int64_t* startsA, const int64_t* endsA, size_t SA,
                  const double* ZB, const int64_t* startsB, const int64_t* endsB, size_t SB, size_t d,
                  double band, double slack, bool symmetric, double* out) {
  std::vector<double> prev, cur, cost, wp, wc;
  for (size_t a = 0; a < SA; ++a) {
    const size_t la = static_cast<size_t>(endsA[a] - startsA[a]);
    const double* pa = ZA + static_cast<size_t>(startsA[a]) * d;
    for (size_t b = symmetric ? a + 1 : 0; b < SB; ++b) {
      const size_t lb = static_cast<size_t>(endsB[b] - startsB[b]);
      const double* pb = ZB + static_cast<size_t>(startsB[b]) * d;
      const double v = slack > 0.0 ? dtw_pair_open(pa, la, pb, lb, d, band, slack, cost, prev, wp, cur, wc)
                                   : dtw_pair(pa, la, pb, lb, d, band, prev, cur);
      out[a * SB + b] = v;
      if (symmetric) out[b * SB + a] = v;
    }
    if (symmetric) out[a * SB + a] = 0.0;
  }
}

}  // namespace tenfold::extract
