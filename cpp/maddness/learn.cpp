// Dispatch and threads of the learning kernels (see learn.hpp). Work is cut into tasks whose
// boundaries do not depend on the thread count, and partial results are combined in task
// order, so a fit gives the same model with any number of threads.
#include "maddness/learn.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace maddness {
namespace learn {

namespace {

constexpr size_t kChunkRows = 4096;            // rows per task of the row sums
constexpr size_t kHistBytes = size_t(1) << 20;  // bins of one task and panel: kept within L2

// The kernels of the active SIMD unit: AVX-512 or AVX2 on x86; elsewhere the scalar unit (on
// AArch64 the compiler vectorizes its element-wise loops with NEON already). Every unit gives
// the same bits (learn_kernels.hpp).
struct Kernels {
  decltype(&scalar::histogram) histogram;
  decltype(&scalar::row_sums_f32) row_sums_f32;
  decltype(&scalar::row_sums_f64) row_sums_f64;
  decltype(&scalar::onehot_sums_f32) onehot_sums_f32;
  decltype(&scalar::onehot_sums_f64) onehot_sums_f64;
};
#define TENFOLD_LEARN_UNIT(ns) Kernels{ns::histogram, ns::row_sums_f32, ns::row_sums_f64, ns::onehot_sums_f32, ns::onehot_sums_f64}
Kernels kernels() {
#if defined(TENFOLD_X86)
  if (active_isa() == Isa::Avx512) return TENFOLD_LEARN_UNIT(avx512);
  if (active_isa() == Isa::Avx2) return TENFOLD_LEARN_UNIT(avx2);
#endif
  return TENFOLD_LEARN_UNIT(scalar);
}
#undef TENFOLD_LEARN_UNIT

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
void onehot_sums_impl(const uint8_t* codes, size_t n, size_t C, const T* X, size_t ldx, size_t p,
                      const uint8_t* group, size_t ngroups, int n_threads, double* out, Kernel kernel) {
  const size_t k = ngroups * 16 * C * p, nt = (n + kChunkRows - 1) / kChunkRows;
  std::fill(out, out + k, 0.0);
  if (nt <= 1 || n_threads <= 1) {
    // One accumulator, chunks in order: the same additions as the threaded path below.
    std::vector<double> acc(k);
    for (size_t t = 0; t < nt; ++t) {
      std::fill(acc.begin(), acc.end(), 0.0);
      kernel(codes, C, X, ldx, p, t * kChunkRows, std::min(n, (t + 1) * kChunkRows), group, acc.data());
      for (size_t j = 0; j < k; ++j) out[j] += acc[j];
    }
    return;
  }
  std::vector<double> part(nt * k, 0.0);
  parallel_for(nt, n_threads, 1, [&](int, size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t)
      kernel(codes, C, X, ldx, p, t * kChunkRows, std::min(n, (t + 1) * kChunkRows), group, part.data() + t * k);
  });
  for (size_t t = 0; t < nt; ++t)
    for (size_t j = 0; j < k; ++j) out[j] += part[t * k + j];
}

// Order statistics within kHeapRanks of either end of a column come from bounded heaps.
constexpr size_t kHeapRanks = 1024;

}  // namespace

void split_scan(const int8_t* const* qcols, int ncand, const int32_t* perm, const int64_t* starts, int nnodes,
                const double* R, size_t n, size_t npanels, const double* R2, int n_threads, double* loss, int8_t* thr,
                double* left_sums) {
  // Every node is scanned in the same pass over the rows, in their order in R (not node by
  // node through perm, which scatters the reads below the root): each (node, candidate) has its
  // own bins, so a bin still adds its rows in increasing row order, as a per-node pass over
  // perm (ascending within each node, as partition keeps it) would. Tasks are groups of
  // candidates whose bins over one panel fit in kHistBytes, at least one per thread (the
  // grouping changes no sum).
  const size_t nn = static_cast<size_t>(nnodes);
  const size_t per_cand = nn * kBins * kPanel * sizeof(double);
  const size_t by_threads = (static_cast<size_t>(ncand) + std::max(n_threads, 1) - 1) / std::max(n_threads, 1);
  const int group = static_cast<int>(std::max<size_t>(1, std::min({static_cast<size_t>(ncand), kHistBytes / per_cand, by_threads})));
  const int ngroups = (ncand + group - 1) / group;
  std::vector<int32_t> node_of(n, -1);  // the node of each row (-1: in none)
  for (int k = 0; k < nnodes; ++k)
    for (int64_t r = starts[k]; r < starts[k + 1]; ++r) node_of[perm[r]] = k;
  std::vector<double> total_sq(nn, 0.0);
  for (int k = 0; k < nnodes; ++k)
    for (int64_t r = starts[k]; r < starts[k + 1]; ++r) total_sq[k] += R2[perm[r]];
  std::vector<double> node_loss(nn * ncand, 0.0);
  auto hist_fn = kernels().histogram;
  parallel_for(static_cast<size_t>(ngroups), n_threads, 1, [&](int, size_t t0, size_t t1) {
    // Bins, squared norms and counts of (node, candidate) pairs: pair index k * group + c.
    const size_t npairs = nn * static_cast<size_t>(group);
    std::vector<double> l2(npairs * kBins), r2(npairs * kBins), total(kPanel), cum(kPanel);
    std::vector<int64_t> cnt(npairs * kBins);
    // The large buffers are kept by the thread between calls (up to tens of MB, which a fresh
    // allocation would page-fault in again at every tree level): the bins of one panel; the rows
    // in some node and, per candidate, their bins ((node, candidate, byte) indices); with
    // left_sums, the cumulative sums of every panel after every bin, kept until the best
    // threshold of each pair is known.
    thread_local std::vector<double> hist, cums;
    thread_local std::vector<int32_t> rows, bin;
    hist.resize(npairs * kBins * kPanel);
    if (left_sums) cums.resize(npairs * npanels * kBins * kPanel);
    for (size_t t = t0; t < t1; ++t) {
      const int c0 = static_cast<int>(t) * group, nc = std::min(group, ncand - c0);
      rows.clear();
      for (size_t i = 0; i < n; ++i)
        if (node_of[i] >= 0) rows.push_back(static_cast<int32_t>(i));
      const size_t nrows = rows.size();
      bin.resize(static_cast<size_t>(nc) * nrows);
      std::fill(cnt.begin(), cnt.end(), 0);
      for (int c = 0; c < nc; ++c) {
        const int8_t* q = qcols[c0 + c];
        int32_t* b = bin.data() + static_cast<size_t>(c) * nrows;
        for (size_t r = 0; r < nrows; ++r) {
          const size_t i = static_cast<size_t>(rows[r]);
          b[r] = static_cast<int32_t>((static_cast<size_t>(node_of[i]) * group + c) * kBins) + (q[i] + 128);
          ++cnt[static_cast<size_t>(b[r])];
        }
      }
      std::fill(l2.begin(), l2.end(), 0.0);
      std::fill(r2.begin(), r2.end(), 0.0);
      std::fill(hist.begin(), hist.end(), 0.0);  // and each scan below zeroes the bins it read
      for (size_t p = 0; p < npanels; ++p) {
        const size_t w = kPanel;
        hist_fn(bin.data(), nc, rows.data(), nrows, R + p * n * kPanel, hist.data());
        for (size_t pair = 0; pair < npairs; ++pair) {
          if (static_cast<int>(pair % group) >= nc) continue;
          // |S_left|^2 and |S_right|^2 of this panel after each present bin.
          double* h = hist.data() + pair * kBins * w;
          const int64_t* cn = cnt.data() + pair * kBins;
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
              h[b * w + j] = 0.0;  // ready for the next panel
              const double rj = total[j] - cum[j];
              sl += cum[j] * cum[j];
              sr += rj * rj;
            }
            l2[pair * kBins + b] += sl;
            r2[pair * kBins + b] += sr;
            if (left_sums) std::copy(cum.begin(), cum.end(), cums.begin() + ((pair * npanels + p) * kBins + b) * w);
          }
        }
      }
      for (size_t pair = 0; pair < npairs; ++pair) {
        const int c = static_cast<int>(pair % group), k = static_cast<int>(pair / group);
        if (c >= nc) continue;
        const size_t cc = static_cast<size_t>(c0 + c);
        const int64_t* cn = cnt.data() + pair * kBins;
        const int64_t N = starts[k + 1] - starts[k];
        double best = 0.0;
        int best_thr = 127;  // also for an empty node
        int best_bin = -1;   // the last bin of the left side (-1: empty node)
        int64_t left = 0;
        if (N > 0) best = std::numeric_limits<double>::infinity();
        for (int b = 0; b < kBins; ++b) {
          if (!cn[b]) continue;
          left += cn[b];
          const double sl = l2[pair * kBins + b], sr = r2[pair * kBins + b];
          const double loss_b = left == N ? total_sq[k] - sl / static_cast<double>(left)
                                          : total_sq[k] - sl / static_cast<double>(left) - sr / static_cast<double>(N - left);
          if (loss_b < best) {
            best = loss_b;
            best_thr = left == N ? 127 : b - 128;  // every row left: no split
            best_bin = b;
          }
        }
        node_loss[cc * nn + k] = best;
        thr[cc * nn + k] = static_cast<int8_t>(best_thr);
        if (left_sums) {
          double* out = left_sums + (cc * nn + k) * npanels * kPanel;
          for (size_t p = 0; p < npanels; ++p)
            for (size_t j = 0; j < kPanel; ++j)
              out[p * kPanel + j] = best_bin < 0 ? 0.0 : cums[((pair * npanels + p) * kBins + best_bin) * kPanel + j];
        }
      }
    }
  });
  for (int c = 0; c < ncand; ++c) {
    double s = 0.0;
    for (size_t k = 0; k < nn; ++k) s += node_loss[static_cast<size_t>(c) * nn + k];
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
  group_sums(X, ldx, p, perm, ranges, ngroups, n_threads, out, sq, kernels().row_sums_f32);
}
void group_sums_f64(const double* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                    int n_threads, double* out, double* sq) {
  group_sums(X, ldx, p, perm, ranges, ngroups, n_threads, out, sq, kernels().row_sums_f64);
}
void onehot_sums_f32(const uint8_t* codes, size_t n, size_t C, const float* X, size_t ldx, size_t p,
                     const uint8_t* group, size_t ngroups, int n_threads, double* out) {
  onehot_sums_impl(codes, n, C, X, ldx, p, group, ngroups, n_threads, out, kernels().onehot_sums_f32);
}
void onehot_sums_f64(const uint8_t* codes, size_t n, size_t C, const double* X, size_t ldx, size_t p,
                     const uint8_t* group, size_t ngroups, int n_threads, double* out) {
  onehot_sums_impl(codes, n, C, X, ldx, p, group, ngroups, n_threads, out, kernels().onehot_sums_f64);
}

void column_order_stats(const float* X, size_t n, size_t d, size_t ldx, const int64_t* ranks, int nranks,
                        int n_threads, float* out) {
  size_t nlow = 0, nhigh = 0;  // how many of each column's smallest / largest values the ranks need
  for (int r = 0; r < nranks; ++r) {
    const size_t k = static_cast<size_t>(ranks[r]);
    if (k < kHeapRanks && k < n / 2)
      nlow = std::max(nlow, k + 1);
    else if (n - k <= kHeapRanks)
      nhigh = std::max(nhigh, n - k);
    else
      nlow = nhigh = n;  // a middle rank
  }
  if (nlow < n && nhigh < n) {
    // Ranks near either end (the extreme percentiles): one pass over the rows in their order,
    // each column keeping its nlow smallest values in a max-heap and its nhigh largest in a
    // min-heap. A row is first compared with every column's two heap tops in a branch-free
    // (vectorized) loop; the heaps change only for the rare rows that pass a top.
    constexpr size_t kCols = 128;  // columns per task: 512 bytes of each row
    const size_t nblocks = (d + kCols - 1) / kCols, init = std::max(nlow, nhigh);
    parallel_for(nblocks, n_threads, 1, [&](int, size_t b0, size_t b1) {
      std::vector<float> low(kCols * nlow), high(kCols * nhigh), lo_top(kCols), hi_top(kCols), row(kCols);
      for (size_t blk = b0; blk < b1; ++blk) {
        const size_t j0 = blk * kCols, w = std::min(kCols, d - j0);
        auto insert = [&](size_t jj, float v, size_t i) {
          float* lo = low.data() + jj * nlow;
          float* hi = high.data() + jj * nhigh;
          if (nlow == 0) {
          } else if (i < nlow) {
            lo[i] = v;
            if (i + 1 == nlow) std::make_heap(lo, lo + nlow);
          } else if (v < lo[0]) {
            std::pop_heap(lo, lo + nlow);
            lo[nlow - 1] = v;
            std::push_heap(lo, lo + nlow);
          }
          if (nhigh == 0) {
          } else if (i < nhigh) {
            hi[i] = v;
            if (i + 1 == nhigh) std::make_heap(hi, hi + nhigh, std::greater<float>());
          } else if (v > hi[0]) {
            std::pop_heap(hi, hi + nhigh, std::greater<float>());
            hi[nhigh - 1] = v;
            std::push_heap(hi, hi + nhigh, std::greater<float>());
          }
          lo_top[jj] = nlow ? lo[0] : -std::numeric_limits<float>::infinity();
          hi_top[jj] = nhigh ? hi[0] : std::numeric_limits<float>::infinity();
        };
        for (size_t i = 0; i < n; ++i) {
          std::memcpy(row.data(), X + i * ldx + j0, w * sizeof(float));
          if (i >= init) {
            int pass = 0;
            for (size_t jj = 0; jj < w; ++jj) pass |= (row[jj] < lo_top[jj]) | (row[jj] > hi_top[jj]);
            if (!pass) continue;
          }
          for (size_t jj = 0; jj < w; ++jj) insert(jj, row[jj], i);
        }
        for (size_t jj = 0; jj < w; ++jj) {
          float* lo = low.data() + jj * nlow;
          float* hi = high.data() + jj * nhigh;
          std::sort(lo, lo + nlow);
          std::sort(hi, hi + nhigh);
          // The column's values as a multiset: rank k < nlow is lo[k]; rank k >= n - nhigh is hi[k - (n - nhigh)].
          for (int r = 0; r < nranks; ++r) {
            const size_t k = static_cast<size_t>(ranks[r]);
            out[static_cast<size_t>(r) * d + j0 + jj] = k < nlow ? lo[k] : hi[k - (n - nhigh)];
          }
        }
      }
    });
    return;
  }
  // A middle rank: columns in blocks of kCols, a block's values gathered row by row (one pass
  // over X per block), then each column selected in place by successive std::nth_element calls.
  constexpr size_t kCols = 16;
  const size_t nblocks = (d + kCols - 1) / kCols;
  parallel_for(nblocks, n_threads, 1, [&](int, size_t b0, size_t b1) {
    std::vector<float> buf(kCols * n);
    for (size_t b = b0; b < b1; ++b) {
      const size_t j0 = b * kCols, w = std::min(kCols, d - j0);
      for (size_t i = 0; i < n; ++i) {
        const float* x = X + i * ldx + j0;
        for (size_t jj = 0; jj < w; ++jj) std::memcpy(&buf[jj * n + i], x + jj, sizeof(float));
      }
      for (size_t jj = 0; jj < w; ++jj) {
        float* v = buf.data() + jj * n;
        size_t lo = 0;  // after each selection, every later rank lies in [rank + 1, n)
        for (int r = 0; r < nranks; ++r) {
          const size_t k = static_cast<size_t>(ranks[r]);
          if (k >= lo) {
            std::nth_element(v + lo, v + k, v + n);
            lo = k + 1;
          }
          out[static_cast<size_t>(r) * d + j0 + jj] = v[k];
        }
      }
    }
  });
}

void quantize_transposed(const float* X, size_t n, size_t d, size_t ldx, const float* offset, const float* scale,
                         int n_threads, int8_t* QT) {
  // Adding then subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer in
  // the current rounding mode (nearest, ties to even): the sum's unit in the last place is 1.
  const float kRound = 12582912.0f;
  constexpr size_t kRows = 64;  // a block's bytes of one column: one cache line of QT
  const size_t nblocks = (n + kRows - 1) / kRows;
  parallel_for(nblocks, n_threads, 1, [&](int, size_t b0, size_t b1) {
    std::vector<float> u(d);
    for (size_t b = b0; b < b1; ++b) {
      const size_t i0 = b * kRows, i1 = std::min(n, i0 + kRows);
      for (size_t i = i0; i < i1; ++i) {
        std::memcpy(u.data(), X + i * ldx, d * sizeof(float));
        for (size_t j = 0; j < d; ++j) {  // element-wise over the row: vectorized
          float v = (u[j] - offset[j]) * scale[j];
          v = v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v);
          u[j] = (v + kRound) - kRound;
        }
        for (size_t j = 0; j < d; ++j) QT[j * n + i] = static_cast<int8_t>(u[j]);
      }
    }
  });
}

void shrink_panels(double* RP, size_t n, size_t npanels, const uint8_t* leaf, const double* means, double shrink,
                   double* R2, double* colsum) {
  const size_t w = npanels * kPanel;
  std::vector<double> step(16 * w);  // shrink * means, rounded once as numpy's shrink * means[leaf] does
  for (size_t k = 0; k < 16 * w; ++k) step[k] = shrink * means[k];
  std::fill(R2, R2 + n, 0.0);
  if (colsum) std::fill(colsum, colsum + w, 0.0);
  for (size_t p = 0; p < npanels; ++p) {
    double* P = RP + p * n * kPanel;
    for (size_t c0 = 0; c0 < n; c0 += kChunkRows) {
      // Column sums chunk by chunk, added in order: group_sums' additions over all rows.
      double part[kPanel] = {};
      for (size_t i = c0; i < std::min(n, c0 + kChunkRows); ++i) {
        const double* s = step.data() + static_cast<size_t>(leaf[i]) * w + p * kPanel;
        double* x = P + i * kPanel;
        double acc = R2[i];
        for (size_t j = 0; j < kPanel; ++j) {
          x[j] -= s[j];
          acc += x[j] * x[j];
          part[j] += x[j];
        }
        R2[i] = acc;
      }
      if (colsum)
        for (size_t j = 0; j < kPanel; ++j) colsum[p * kPanel + j] += part[j];
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
