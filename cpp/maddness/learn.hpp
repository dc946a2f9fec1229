// MADDNESS learning kernels: the sums over rows that dominate fitting the hash trees and the
// ridge prototypes. Every sum is accumulated in float64, in a fixed order that depends on
// neither the thread count nor the ISA (the AVX2 path only widens element-wise additions,
// so it equals the scalar path bit for bit).
//
// Rows are addressed through a permutation `perm` that keeps the rows of each tree node
// contiguous: node k holds perm[starts[k] .. starts[k+1]).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>  // std::memcpy in learn_kernels.hpp, which is included inside a namespace

namespace tenfold {
namespace maddness {
namespace learn {

constexpr int kBins = 256;  // one bin per int8 split value
// R is read in panels of kPanel columns, each stored contiguously (panel p: (n, kPanel), the
// last one zero-padded), so that a pass over a node's rows streams through memory. The 256
// bins of one candidate over one panel take 16 KB, which stays in L1 while a block of rows is
// added to them.
constexpr size_t kPanel = 8;

#define TENFOLD_LEARN_KERNELS                                                                          \
  /* hist[bins[c*nrows + r]*kPanel + j] += P[rows[r]*kPanel + j] (one panel of R) for every */      \
  /* r < nrows and c < ncand, in increasing r (each candidate's bins precomputed) */                 \
  void histogram(const int32_t* bins, int ncand, const int32_t* rows, size_t nrows, const double* P,  \
                 double* hist);                                                                      \
  /* acc[j] += X[i*ldx + j] (and sq[j] += X[i*ldx + j]^2 if sq) for rows i = rows[0..nrows), in */  \
  /* that order */                                                                                    \
  void row_sums_f32(const float* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc, \
                    double* sq);                                                                      \
  void row_sums_f64(const double* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc, \
                    double* sq);                                                                      \
  /* acc[((g*C + c)*16 + codes[i*C + c])*p + j] += X[i*ldx + j] for rows i in [r0, r1), codebooks */ \
  /* c < C, g = group[i] (0 without groups) */                                                       \
  void onehot_sums_f32(const uint8_t* codes, size_t C, const float* X, size_t ldx, size_t p, size_t r0, \
                       size_t r1, const uint8_t* group, double* acc);                                 \
  void onehot_sums_f64(const uint8_t* codes, size_t C, const double* X, size_t ldx, size_t p, size_t r0, \
                       size_t r1, const uint8_t* group, double* acc);

namespace scalar {
TENFOLD_LEARN_KERNELS
}  // namespace scalar
namespace avx2 {
TENFOLD_LEARN_KERNELS
}  // namespace avx2
namespace avx512 {
TENFOLD_LEARN_KERNELS
}  // namespace avx512
#undef TENFOLD_LEARN_KERNELS

// Dispatching, multi-threaded entry points (baseline translation unit learn.cpp).

// Exact threshold scan of one tree level for `ncand` candidate split columns. qcols[c]: the int8
// split values of candidate c (n rows, original order); R the residual in npanels panels
// (npanels, n, kPanel), R2 (n) its squared row norms. For every node k and candidate c, the threshold t minimising
//     SSE(k) = sum_{i in k} R2[i] - |S_left|^2 / n_left - |S_right|^2 / n_right
// over the byte values present in the node (S: sums of R over the rows with q <= t and q > t;
// the right term is 0 when no row goes right) is found by a cumulative scan of the 256 bins;
// the lowest t wins ties, and t = 127 when every row goes left (no split; also for empty nodes).
// The bins are built kPanel columns of R at a time and |S|^2 accumulated over the panels.
// Outputs: loss[c] = sum over nodes of the minimal SSE; thr[c*nnodes + k]; if left_sums is not
// null, left_sums[(c*nnodes + k)*npanels*kPanel + col] = the sum of R's column col over node k's
// rows that go left at that threshold (all of them for no split; 0 for an empty node), summed
// bin by bin: the left child's sums at no extra pass over R.
void split_scan(const int8_t* const* qcols, int ncand, const int32_t* perm, const int64_t* starts, int nnodes,
                const double* R, size_t n, size_t npanels, const double* R2, int n_threads, double* loss, int8_t* thr,
                double* left_sums = nullptr);

// Stable partition of every node's rows by q > thr[k]: node k's rows go to nodes 2k (left, first)
// and 2k+1; perm is rewritten, new_starts (2*nnodes + 1) filled, node[i] = the new node of row i.
void partition(const int8_t* q, const int8_t* thr, int32_t* perm, const int64_t* starts, int nnodes,
               int64_t* new_starts, uint8_t* node);

// Sums (and, if sq, sums of squares) of the rows of X (n x p, row stride ldx; float or double)
// over ngroups row ranges perm[ranges[2g] .. ranges[2g+1]) -> out (ngroups, p). Ranges are cut
// into fixed chunks whose partial sums are added in order (same result for any thread count).
void group_sums_f32(const float* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                    int n_threads, double* out, double* sq);
void group_sums_f64(const double* X, size_t ldx, size_t p, const int32_t* perm, const int64_t* ranges, int ngroups,
                    int n_threads, double* out, double* sq);

// One-hot products of 4-bit codes (n x C, row-major bytes in [0, 16)): out (16C, p) =
// G^T X with G the (n, 16C) one-hot matrix, i.e. the sums of X's rows per (codebook, code).
// With group (n bytes < ngroups; else null and ngroups 1): one such product per group of rows,
// out (ngroups, 16C, p), in the same single pass over X.
void onehot_sums_f32(const uint8_t* codes, size_t n, size_t C, const float* X, size_t ldx, size_t p,
                     const uint8_t* group, size_t ngroups, int n_threads, double* out);
void onehot_sums_f64(const uint8_t* codes, size_t n, size_t C, const double* X, size_t ldx, size_t p,
                     const uint8_t* group, size_t ngroups, int n_threads, double* out);

// The ranks[r]-th smallest value (0-based; ranks ascending, < n) of every column j of X (n x d,
// row stride ldx; finite values): out[r*d + j]. The exact order statistics np.percentile
// interpolates between.
void column_order_stats(const float* X, size_t n, size_t d, size_t ldx, const int64_t* ranks, int nranks,
                        int n_threads, float* out);

// The split bytes of X (n x d, row stride ldx), transposed: QT[j*n + i] = rint(clamp((X[i, j] -
// offset[j]) * scale[j], -128, 127)), each step rounded to float32, ties to even: the encoder's
// arithmetic, and numpy's for the same float32 operations.
void quantize_transposed(const float* X, size_t n, size_t d, size_t ldx, const float* offset, const float* scale,
                         int n_threads, int8_t* QT);
// The greedy residual update on panels RP (npanels, n, kPanel): RP[p][i][j] -= shrink *
// means[leaf[i]][p*kPanel + j], then R2[i] = the new squared norm of row i (panel by panel) and,
// if colsum is not null, colsum (npanels * kPanel) = the new column sums, with the additions of
// group_sums_f64 over all rows (the next tree's root sums, bit for bit).
void shrink_panels(double* RP, size_t n, size_t npanels, const uint8_t* leaf, const double* means, double shrink,
                   double* R2, double* colsum = nullptr);

// G^T G (16C x 16C) as counts.
void onehot_gram(const uint8_t* codes, size_t n, size_t C, int64_t* out);

}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
