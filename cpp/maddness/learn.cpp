// Dispatch and threads of the learning kernels (see learn.hpp). Work is cut into tasks whose
// boundaries do not depend on the thread count, and partial results are combined in task
// order, so a fit gives the same model with any number of threads.
#include "maddness/learn.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace maddness {
namespace learn {

namespace {

constexpr size_t kChunkRows = 4096;            // rows per task of the row sums
constexpr size_t kHistBytes = size_t(1) << 18;  // bins of one task and panel: kept within L2

// The SIMD unit of the learning kernels: AVX2 on x86; elsewhere the scalar unit (on AArch64 the
// compiler vectorizes its element-wise loops with NEON already).
#if defined(TENFOLD_X86)
namespace simd_unit = avx2;
bool simd() { return active_isa() == Isa::Avx2 || active_isa() == Isa::Avx512; }
#else
namespace simd_unit = scalar;
bool simd() { return false; }
#endif

template <class T, class Kernel>
void group_sums(const T* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                int n_threads, double* out, double* sq, Kernel kernel) {
  struct Task {
    int group;
    int64_t b, e;
  };
  std::vector<Task> tasks;
  for (int g = 0; g < ngroups; ++g)
    for (int64_t b = ranges[2 * g]; b < ranges[2 * g + 1]; b += kChunkRows)
      tasks.push_back({g, b, std::min<int64_t>(ranges[2 * g + 1], b + kChunkRows)});
  const size_t nt = tasks.size(), w = sq ? 2 * p : p;
  std::vector<double> part(nt * w, 0.0);
  parallel_for(nt, n_threads, 1, [&](int, size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      double* acc = part.data() + t * w;
      kernel(X, ldx, p, perm + tasks[t].b, static_cast<size_t>(tasks[t].e - tasks[t].b), acc,
             sq ? acc + p : nullptr);
    }
  });
  std::fill(out, out + static_cast<size_t>(ngroups) * p, 0.0);
  if (sq) std::fill(sq, sq + static_cast<size_t>(ngroups) * p, 0.0);
  for (size_t t = 0; t < nt; ++t) {  // in task order: fixed for any thread count
    const double* acc = part.data() + t * w;
    double* o = out + static_cast<size_t>(tasks[t].group) * p;
    for (size_t j = 0; j < p; ++j) o[j] += acc[j];
    if (sq) {
      double* s = sq + static_cast<size_t>(tasks[t].group) * p;
      for (size_t j = 0; j < p; ++j) s[j] += acc[p + j];
    }
  }
}

template <class T, class Kernel>
void onehot_sums_impl(const uint8_t* codes, size_t n, size_t C, const T* X, size_t ldx, size_t p, int n_threads,
                      double* out, Kernel kernel) {
  const size_t k = 16 * C * p, nt = (n + kChunkRows - 1) / kChunkRows;
  std::fill(out, out + k, 0.0);
  if (nt <= 1 || n_threads <= 1) {
    // One accumulator, chunks in order: the same additions as the threaded path below.
    std::vector<double> acc(k);
    for (size_t t = 0; t < nt; ++t) {
      std::fill(acc.begin(), acc.end(), 0.0);
      kernel(codes, C, X, ldx, p, t * kChunkRows, std::min(n, (t + 1) * kChunkRows), acc.data());
      for (size_t j = 0; j < k; ++j) out[j] += acc[j];
    }
    return;
  }
  std::vector<double> part(nt * k, 0.0);
  parallel_for(nt, n_threads, 1, [&](int, size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t)
      kernel(codes, C, X, ldx, p, t * kChunkRows, std::min(n, (t + 1) * kChunkRows), part.data() + t * k);
  });
  for (size_t t = 0; t < nt; ++t)
    for (size_t j = 0; j < k; ++j) out[j] += part[t * k + j];
}

}  // namespace

void split_scan(const int8_t* const* qcols, int ncand, const int32_t* perm, const int64_t* starts, int nnodes,
                const double* R, size_t n, size_t npanels, const double* R2, int n_threads, double* loss, int8_t* thr) {
  // Tasks: (node, group of candidates whose bins over one panel fit in kHistBytes).
  const size_t per_cand = static_cast<size_t>(kBins) * kPanel * sizeof(double);
  const int group = static_cast<int>(std::max<size_t>(1, std::min<size_t>(ncand, kHistBytes / per_cand)));
  const int ngroups = (ncand + group - 1) / group;
  const size_t ntasks = static_cast<size_t>(nnodes) * ngroups;
  std::vector<double> node_loss(static_cast<size_t>(nnodes) * ncand, 0.0);
  auto hist_fn = simd() ? simd_unit::histogram : scalar::histogram;
  parallel_for(ntasks, n_threads, 1, [&](int, size_t t0, size_t t1) {
    std::vector<double> hist(static_cast<size_t>(group) * kBins * kPanel), l2(static_cast<size_t>(group) * kBins),
        r2(static_cast<size_t>(group) * kBins), total(kPanel), cum(kPanel);
    std::vector<int64_t> cnt(static_cast<size_t>(group) * kBins);
    for (size_t t = t0; t < t1; ++t) {
      const int k = static_cast<int>(t / ngroups), c0 = static_cast<int>(t % ngroups) * group;
      const int nc = std::min(group, ncand - c0);
      const int32_t* rows = perm + starts[k];
      const size_t nrows = static_cast<size_t>(starts[k + 1] - starts[k]);
      std::fill(cnt.begin(), cnt.end(), 0);
      for (size_t r = 0; r < nrows; ++r)
        for (int c = 0; c < nc; ++c) ++cnt[static_cast<size_t>(c) * kBins + (qcols[c0 + c][rows[r]] + 128)];
      std::fill(l2.begin(), l2.end(), 0.0);
      std::fill(r2.begin(), r2.end(), 0.0);
      for (size_t p = 0; p < npanels; ++p) {
        const size_t w = kPanel;
        std::fill(hist.begin(), hist.begin() + static_cast<size_t>(nc) * kBins * w, 0.0);
        hist_fn(qcols + c0, nc, rows, nrows, R + p * n * kPanel, hist.data());
        for (int c = 0; c < nc; ++c) {
          // |S_left|^2 and |S_right|^2 of this panel after each present bin.
          const double* h = hist.data() + static_cast<size_t>(c) * kBins * w;
          const int64_t* cn = cnt.data() + static_cast<size_t>(c) * kBins;
          std::fill(total.begin(), total.end(), 0.0);
          for (int b = 0; b < kBins; ++b)
            if (cn[b])
              for (size_t j = 0; j < w; ++j) total[j] += h[b * w + j];
          std::fill(cum.begin(), cum.end(), 0.0);
          for (int b = 0; b < kBins; ++b) {
            if (!cn[b]) continue;
            double sl = 0.0, sr = 0.0;
            for (size_t j = 0; j < w; ++j) {
              cum[j] += h[b * w + j];
              const double rj = total[j] - cum[j];
              sl += cum[j] * cum[j];
              sr += rj * rj;
            }
            l2[static_cast<size_t>(c) * kBins + b] += sl;
            r2[static_cast<size_t>(c) * kBins + b] += sr;
          }
        }
      }
      double total_sq = 0.0;
      for (size_t r = 0; r < nrows; ++r) total_sq += R2[rows[r]];
      for (int c = 0; c < nc; ++c) {
        const size_t cc = static_cast<size_t>(c0 + c);
        const int64_t* cn = cnt.data() + static_cast<size_t>(c) * kBins;
        double best = 0.0;
        int best_thr = 127;  // also for an empty node
        int64_t left = 0;
        const int64_t N = static_cast<int64_t>(nrows);
        if (N > 0) best = std::numeric_limits<double>::infinity();
        for (int b = 0; b < kBins; ++b) {
          if (!cn[b]) continue;
          left += cn[b];
          const double sl = l2[static_cast<size_t>(c) * kBins + b], sr = r2[static_cast<size_t>(c) * kBins + b];
          const double loss_b = left == N ? total_sq - sl / static_cast<double>(left)
                                          : total_sq - sl / static_cast<double>(left) - sr / static_cast<double>(N - left);
          if (loss_b < best) {
            best = loss_b;
            best_thr = left == N ? 127 : b - 128;  // every row left: no split
          }
        }
        node_loss[cc * nnodes + k] = best;
        thr[cc * nnodes + k] = static_cast<int8_t>(best_thr);
      }
    }
  });
  for (int c = 0; c < ncand; ++c) {
    double s = 0.0;
    for (int k = 0; k < nnodes; ++k) s += node_loss[static_cast<size_t>(c) * nnodes + k];
    loss[c] = s;
  }
}

void partition(const int8_t* q, const int8_t* thr, int32_t* perm, const int64_t* starts, int nnodes,
               int64_t* new_starts, uint8_t* node) {
  std::vector<int32_t> right;
  new_starts[0] = 0;
  for (int k = 0; k < nnodes; ++k) {
    int64_t w = starts[k];
    right.clear();
    for (int64_t r = starts[k]; r < starts[k + 1]; ++r) {
      const int32_t i = perm[r];
      if (q[i] > thr[k]) {
        right.push_back(i);
        node[i] = static_cast<uint8_t>(2 * k + 1);
      } else {
        perm[w++] = i;
        node[i] = static_cast<uint8_t>(2 * k);
      }
    }
    std::copy(right.begin(), right.end(), perm + w);
    new_starts[2 * k + 1] = w;
    new_starts[2 * k + 2] = starts[k + 1];
  }
}

void group_sums_f32(const float* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                    int n_threads, double* out, double* sq) {
  group_sums(X, ldx, p, perm, ranges, ngroups, n_threads, out, sq, simd() ? simd_unit::row_sums_f32 : scalar::row_sums_f32);
}
void group_sums_f64(const double* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                    int n_threads, double* out, double* sq) {
  group_sums(X, ldx, p, perm, ranges, ngroups, n_threads, out, sq, simd() ? simd_unit::row_sums_f64 : scalar::row_sums_f64);
}
void onehot_sums_f32(const uint8_t* codes, size_t n, size_t C, const float* X, size_t ldx, size_t p, int n_threads,
                     double* out) {
  onehot_sums_impl(codes, n, C, X, ldx, p, n_threads, out, simd() ? simd_unit::onehot_sums_f32 : scalar::onehot_sums_f32);
}
void onehot_sums_f64(const uint8_t* codes, size_t n, size_t C, const double* X, size_t ldx, size_t p, int n_threads,
                     double* out) {
  onehot_sums_impl(codes, n, C, X, ldx, p, n_threads, out, simd() ? simd_unit::onehot_sums_f64 : scalar::onehot_sums_f64);
}

void shrink_panels(double* RP, size_t n, size_t npanels, const uint8_t* leaf, const double* means, double shrink,
                   double* R2) {
  const size_t w = npanels * kPanel;
  std::vector<double> step(16 * w);  // shrink * means, rounded once as numpy's shrink * means[leaf] does
  for (size_t k = 0; k < 16 * w; ++k) step[k] = shrink * means[k];
  std::fill(R2, R2 + n, 0.0);
  for (size_t p = 0; p < npanels; ++p) {
    double* P = RP + p * n * kPanel;
    for (size_t i = 0; i < n; ++i) {
      const double* s = step.data() + static_cast<size_t>(leaf[i]) * w + p * kPanel;
      double* x = P + i * kPanel;
      double acc = R2[i];
      for (size_t j = 0; j < kPanel; ++j) {
        x[j] -= s[j];
        acc += x[j] * x[j];
      }
      R2[i] = acc;
    }
  }
}

void onehot_gram(const uint8_t* codes, size_t n, size_t C, int64_t* out) {
  const size_t K = 16 * C;
  std::fill(out, out + K * K, int64_t(0));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = codes + i * C;
    for (size_t a = 0; a < C; ++a) {
      int64_t* row = out + (a * 16 + code[a]) * K;
      for (size_t b = 0; b < C; ++b) ++row[b * 16 + code[b]];
    }
  }
}

}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
