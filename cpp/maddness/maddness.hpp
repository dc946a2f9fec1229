// MADDNESS kernels: hash-tree encoding of float rows into 4-bit codes, and lookup-table
// aggregation that writes dequantized float32 products.
//
// Encoding. Codebook c has a balanced tree of 4 levels; level l splits every node on one input
// dimension dims[c*4 + l]. The value a of that dimension is quantized to a signed byte
//     q = nearbyint(clamp((a - offset) * scale, -128, 127))        (round half to even)
// with offset/scale = offsets/scales[c*4 + l], and the row goes right at node k iff
// q > thresholds[(c*4 + l)*16 + k] (int8). After 4 levels the node index (0..15) is the code.
// The scalar path computes exactly this (the reference). Since q is a non-decreasing function
// of a (scale > 0), "q > t" is the same as "a > tau" for tau = the largest float whose q is
// <= t; the SIMD paths compare the float32 values directly against these float thresholds
// (prepare() derives them with the scalar quantizer, so both paths give identical codes for
// every non-NaN input).
//
// Code layout ("scan order"). Codes live in blocks of 32 rows: C/2 byte columns of 32 bytes,
// codebook 2j in the low nibble of column j, 2j+1 in the high nibble. Inside a column, row r of
// the block is at byte 4*(r%8) + r/8: 32-bit lane k then holds rows k, k+8, k+16, k+24 in its
// four bytes, so the SIMD paths build and unpack code vectors with shifts and masks (no byte
// shuffles). Rows past n in the last block get code 0. Bolt's blocked layout (bolt/bolt.hpp)
// is the same with natural row order; to_scan_order/to_natural_order convert.
//
// A is addressed with strides in elements: element (i, j) at A[i*rs + j*cs], so C order
// (rs = ld, cs = 1), Fortran order (rs = 1, cs = ld) and strided views all work without a copy;
// only the split columns are read. rs == 1 is the fast path (contiguous 32-row loads).
//
// Aggregation. luts (M, C, 16) uint8, table of codebook c for output column m at
// luts + (m*C + c)*16. Mode exact: s = sum_c lut[c][code_c] (uint16, exact for C <= 256).
// Mode average (group size g = 2^log2g dividing C): within each group of g consecutive
// codebooks the looked-up bytes are combined by a balanced tree of rounding averages
// (avg(x, y) = (x + y + 1) >> 1, pairs (2j, 2j+1) first); s = sum of the group results.
// Output: fma(float(s), mul[m], add[m]) for rows i in [0, rows), written column-major
// (out[m*ldo + i]) or row-major (out[i*ldo + m]).
//
// Signed-sum splits (split_width > 1). Instead of one input dimension, each split may read a
// feature: a signed sum of `width` input columns (no multiplies). Feature f adds columns
// cols[f][0..npos) and subtracts columns cols[f][npos..width), in four interleaved float32
// partial sums (term k goes to sum k % 4, in order of k) combined as (s0 + s1) + (s2 + s3):
// the independent sums let the SIMD path overlap its additions, and this order is the
// definition both paths follow bit for bit. project() writes the features of all rows; the
// encoder then treats them as its input columns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace tenfold {
namespace maddness {

constexpr int kBlockRows = 32;
constexpr int kLevels = 4;
constexpr size_t kChunkBlocks = 8;  // rows encoded then aggregated together: 256
constexpr size_t kSelectRows = 64;  // rows whose products top-k holds at once (M x 64 floats)

struct EncodeModel {
  const int64_t* dims;        // (C, 4)
  const float* offsets;       // (C, 4)
  const float* scales;        // (C, 4)
  const int8_t* thresholds;   // (C, 4, 16)
  // Float thresholds (C, 4, 8): at level l the row goes right at node k iff
  // a > fthr[(c*4 + l)*8 + ((4 - k) & 3)] for l < 3, a > fthr[(c*4 + 3)*8 + ((8 - k) & 7)] at
  // level 3 (+inf where no node): tables indexed by minus the node, for 4- and 8-way permutes.
  const float* fthr;
  int ncodebooks;             // even
  // Distinct split dimensions, ascending: split s reads column slot_dims[slot[s]].
  const int32_t* slot;        // (C * 4), values in [0, nslots)
  const int64_t* slot_dims;   // (nslots)
  int nslots;
};

// Kernel view of the features: term k of feature f reads A[offs[f*width + k] + r] for row r.
struct ProjectModel {
  const uint32_t* offs;  // (nfeat, width) element offsets of the columns in a staged group
  const int32_t* npos;  // (nfeat) terms added; the rest are subtracted
  int nfeat;
  int width;
};

struct ScanModel {
  const uint8_t* luts;  // (M, C, 16)
  const float* mul;     // (M)
  const float* add;     // (M)
  int ncodebooks;       // even
  int m;
  int log2g;            // 0: exact uint16 sums; 1..4: averaging in groups of 2^log2g codebooks
  // Write the result with non-temporal (streaming) stores, which bypass the caches (AVX2 path;
  // same values): column-major, the runs of a column that start on a cache line; row-major, the
  // blocks of whole rows that start on one when rows are contiguous (ldo == m) and M <= 128.
  // matmul sets it for results that would not stay in cache anyway.
  bool stream = false;
};

// Encoder tables derived from (dims, offsets, scales, thresholds): float thresholds and the
// distinct split columns. Throws std::invalid_argument if a scale is not positive and finite
// or an offset is not finite (the float-threshold equivalence needs a monotone quantizer).
struct Prepared {
  std::vector<int64_t> dims;
  std::vector<float> offsets, scales;
  std::vector<int8_t> thresholds;
  std::vector<float> fthr;
  std::vector<int32_t> slot;
  std::vector<int64_t> slot_dims;
  int ncodebooks = 0;
  // True if these tables were built from exactly these parameters.
  bool same(const int64_t* dims, const float* offsets, const float* scales, const int8_t* thresholds,
            int ncodebooks) const;
  EncodeModel model() const;
};
Prepared prepare(const int64_t* dims, const float* offsets, const float* scales, const int8_t* thresholds,
                 int ncodebooks);

// Cache of the last Prepared tables (one per Python model): get() rebuilds them only when the
// parameters differ (compared by value, so in-place edits of the arrays are seen).
class Plan {
 public:
  std::shared_ptr<const Prepared> get(const int64_t* dims, const float* offsets, const float* scales,
                                      const int8_t* thresholds, int ncodebooks);

 private:
  std::mutex mu_;
  std::shared_ptr<const Prepared> cur_;
};

#define TENFOLD_MADDNESS_KERNELS                                                               \
  /* rows [r0, r1) (r0 a multiple of 32, r1 <= round_up(n, 32)) -> their blocks of codes in */ \
  /* scan order, written from `codes` on; false if a value read was NaN or infinite */        \
  bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,     \
              size_t r0, size_t r1, uint8_t* codes);                                          \
  /* `rows` rows of codes (scan order, from `codes` on) -> out; column-major: out[m*ldo + i], */ \
  /* row-major: out[i*ldo + m] */                                                              \
  void scan(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major);   \
  /* signed-sum features of `rows` consecutive rows of a staged group -> feature f of row r */ \
  /* at feat[f*ldf + r] */                                                                     \
  void project(const ProjectModel& p, const float* A, size_t rows, float* feat, size_t ldf);   \
  /* rows [0, rows) (rows <= 16) of a row-major A (row stride rs, unit column stride, d */     \
  /* columns) -> a 16-row group: column 8*blocks[b] + j (if < d) at grp[(8*b + j)*16 + r] */   \
  void stage_rows(const float* A, ptrdiff_t rs, size_t rows, const int32_t* blocks, int nblk, size_t d, \
                  float* grp);                                                                 \
  /* rows [0, rows) (rows <= 16) of the columns used[0..nused) of A (element (r, j) at */     \
  /* A[r*rs + j*cs]) -> a group: column used[j] at grp[j*16 + r]; ahead > 0 (unit row stride */ \
  /* only): also prefetch each column `ahead` floats further on (the rows staged next) */      \
  void stage_cols(const float* A, ptrdiff_t rs, ptrdiff_t cs, size_t rows, const int64_t* used, size_t nused, \
                  float* grp, ptrdiff_t ahead);                                                 \
  /* first maximum over columns m < M of buf[m*kSelectRows + r] for rows r < kSelectRows (all */ \
  /* of them: the buffer's rows past the valid ones hold finite stale values) -> arg, best */  \
  void argmax(const float* buf, size_t M, int32_t* arg, float* best);                            \
  /* the k largest (k <= kMaxTopK) of the same buffer's rows: place j of row r at */            \
  /* tv/ti[j*kSelectRows + r], by decreasing value, ties to the lower column */                  \
  void topk(const float* buf, size_t M, size_t k, float* tv, int32_t* ti);

namespace scalar {
TENFOLD_MADDNESS_KERNELS
// Largest float a with quantize(a, offset, scale) <= t (+inf if every a qualifies).
float float_threshold(float offset, float scale, int t);
}  // namespace scalar
namespace avx2 {
TENFOLD_MADDNESS_KERNELS
}  // namespace avx2
namespace neon {  // encode and scan; project and staging use the scalar kernels on AArch64
bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, size_t r0, size_t r1,
            uint8_t* codes);
void scan(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major);
}  // namespace neon
#undef TENFOLD_MADDNESS_KERNELS

// Dispatching, multi-threaded entry points (baseline translation unit maddness.cpp).
// Fused: encode + aggregate rows [0, n) chunk by chunk (codes stay in cache). phases: 3 = both,
// 1 = encode only (out untouched), 2 = aggregate all-zero codes only (for timing the parts).
// Returns false if any value read was NaN or infinite (out is then unspecified).
bool matmul(const EncodeModel& em, const ScanModel& sm, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            float* out, size_t ldo, bool row_major, int n_threads, int phases = 3);
// Fused encode + aggregate + top-k for classifier heads: the k largest products of each row
// (bias folded into add) without writing the n x M products (64 rows' products at a time stay
// in a per-thread buffer). Row i's columns at idx[i*k .. i*k + k), their values (if val is not
// null) at val[i*k ...], by decreasing value, ties to the lower column (k = 1: the first
// maximum, as numpy's argmax). 1 <= k <= min(M, kMaxTopK), else std::invalid_argument. False
// if a value read was NaN or infinite.
constexpr size_t kMaxTopK = 64;
bool matmul_topk(const EncodeModel& em, const ScanModel& sm, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
                 size_t k, int64_t* idx, float* val, int n_threads);
// Codes in Bolt's blocked layout (natural row order); false if a value read was NaN or infinite.
bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, uint8_t* blocked,
            int n_threads);
// Aggregation of codes in Bolt's blocked layout.
void scan(const ScanModel& s, const uint8_t* blocked, size_t n, float* out, size_t ldo, bool row_major,
          int n_threads);

// Features of all n rows of A (n x d, element (i, j) at A[i*rs + j*cs]) -> feat[f*n + i]. cols
// (nfeat, width) columns of A in [0, d), npos (nfeat) in [0, width].
void project(const int64_t* cols, const int32_t* npos, int nfeat, int width, const float* A, size_t n, size_t d,
             ptrdiff_t rs, ptrdiff_t cs, float* feat, int n_threads);

}  // namespace maddness
}  // namespace tenfold
