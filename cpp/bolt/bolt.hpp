// Bolt kernels: nearest-of-16 encoding and lookup-table scans over 4-bit codes.
//
// Code layouts
//   row-major: (n, C/2) bytes; byte j of a row holds codebook 2j in its low nibble and
//              codebook 2j+1 in its high nibble.
//   blocked:   rows grouped in blocks of 32; a block is C/2 byte columns of 32 bytes each,
//              stored one after the other (byte r of column j = byte j of row r). The last
//              block is zero-padded. This is what the scans read: one 32-byte load yields one
//              codebook pair for 32 rows, split into nibbles and looked up with byte shuffles.
// Lookup tables: (nq, C, 16) uint8 with entries <= kMaxLutEntry, table c of query q at
// luts + (q*C + c)*16. Sums are exact: C * 127 < 2^16 for every C <= 256.
#pragma once
#include "common/portable.hpp"
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/topk.hpp"

namespace tenfold {
namespace bolt {

constexpr int kBlockRows = 32;

using tenfold::load_f32;
// Largest table entry the scans accept: two entries must add in a byte without overflow.
constexpr int kMaxLutEntry = 127;

struct EncodeModel {
  const float* centroids_t;  // (d, 16): -2 * coordinate j of centroid k at [j*16 + k]
  const float* norms;        // (C, 16): squared norm of centroid k restricted to subspace c
  const int32_t* bounds;     // (C + 1): subspace c covers dims [bounds[c], bounds[c+1])
  int ncodebooks;
  int d;
};

// What query tables are built from. cent_t (d, 16): coordinate j of centroid k at [j*16 + k].
struct LutModel {
  const float* cent_t;
  const int32_t* bounds;  // (C + 1): subspace c covers dims [bounds[c], bounds[c+1])
  int ncodebooks;
  int d;
  bool dot;  // tables hold minus inner products (else squared distances)
};

// One query's table, per ISA (AVX-512 CPUs use the AVX2 one), the same bits on every path:
// the exact table of subspace c, entry k, in double (terms added in dimension order, multiply
// then add), shifted by its minimum low[c]; scale = 127 / (largest shifted entry), or 1 if
// all are 0; lut = round-half-even(shifted * scale) in [0, kMaxLutEntry]. work: C * 16 doubles.
#define TENFOLD_BOLT_LUT \
  void query_lut(const LutModel& m, const float* x, double* work, uint8_t* lut, double* low, double* scale);
namespace scalar { TENFOLD_BOLT_LUT }
namespace avx2 { TENFOLD_BOLT_LUT }
namespace neon { TENFOLD_BOLT_LUT }
#undef TENFOLD_BOLT_LUT

#define TENFOLD_BOLT_KERNELS                                                                  \
  /* rows [0, n) of X (row stride ldx floats) -> row-major codes (n, C/2); returns false   */ \
  /* if X holds NaN or inf (checked in the same pass, so validation costs no extra read)   */ \
  bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out);      \
  /* sums for blocks [b0, b1): out[q*ldo + row] for row in [32*b0, 32*b1) */                  \
  void scan_u16(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,   \
                int nq, uint16_t* out, size_t ldo);                                           \
  /* fused scan + top-k over blocks [b0, b1); heaps[q] receives rows < n_valid */              \
  void scan_topk(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,  \
                 int nq, TopK* heaps, int64_t n_valid);

namespace scalar { TENFOLD_BOLT_KERNELS }
// Rows r in [0, n) with sums[r] <= limit, in increasing order, written to rows; returns their
// count (at most n). Every variant writes the same rows (AVX-512 CPUs use the AVX2 one).
#define TENFOLD_BOLT_COLLECT size_t collect_le(const uint16_t* sums, size_t n, uint16_t limit, uint32_t* rows);
namespace scalar { TENFOLD_BOLT_COLLECT }
namespace avx2 { TENFOLD_BOLT_COLLECT }
namespace neon { TENFOLD_BOLT_COLLECT }
#undef TENFOLD_BOLT_COLLECT
// Exact squared L2 distance (dot = false) or minus the inner product (dot = true) of query q and
// one row (float32, or float16 bits if half); every variant gives the same bits. AVX-512 CPUs
// use the AVX2 one (a memory-bound loop over d <= a few thousand values).
namespace scalar { float exact_distance(const float* q, const void* row, int d, bool dot, bool half); }
namespace avx2 { float exact_distance(const float* q, const void* row, int d, bool dot, bool half); }
namespace avx2 { TENFOLD_BOLT_KERNELS }
namespace avx512 { TENFOLD_BOLT_KERNELS }
namespace neon { TENFOLD_BOLT_KERNELS }
#undef TENFOLD_BOLT_KERNELS

// Dispatching, multi-threaded entry points (baseline translation unit bolt.cpp).
bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out,
            int n_threads);
// Copies row-major codes for rows [row0, row0 + n) into a blocked buffer.
void pack_blocked(const uint8_t* rowmajor, size_t n, int ncols, uint8_t* blocked, size_t row0);
// Inverse of pack_blocked for rows [0, n).
void unpack_blocked(const uint8_t* blocked, size_t n, int ncols, uint8_t* rowmajor);
void scan_u16(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq,
              uint16_t* out, int n_threads);
// Unquantized query tables (nq, C, 16) in double: squared distance of each query subspace to
// each centroid (dot = false) or minus their inner product (dot = true). centroids: (16, d).
void query_tables(const float* Q, size_t nq, const float* centroids, const int32_t* bounds, int ncodebooks,
                  int d, bool dot, double* out, int n_threads);
// Quantized tables of queries Q (row stride ldq floats): luts (nq, C, 16) uint8, and per query
// scale and offset such that distance ~ sum of entries / scale + offset. offset is the sum of
// the tables' minima in numpy's pairwise order, so every output equals the numpy formulation
// this replaced (BoltEncoder.lookup_tables before 2026-12) bit for bit.
void lookup_tables(const LutModel& m, const float* Q, size_t nq, size_t ldq, uint8_t* luts, double* scale,
                   double* offset, int n_threads);
// k-means update step for all codebooks at once: sums[k*d + j] = sum of X[i][j] over rows i
// whose code in the codebook owning dim j is k; counts[c*16 + k] = rows with code k in
// codebook c. Codes are row-major. The result does not depend on n_threads.
void centroid_sums(const float* X, size_t n, size_t ldx, const uint8_t* codes, const int32_t* bounds,
                   int ncodebooks, int d, double* sums, int64_t* counts, int n_threads);
// Exact distances of candidate rows. vectors: (n_rows, d) float32, or float16 bits if half.
// cand: (nq, R) row numbers, -1 for none. Writes the k best of each query's candidates, best
// first (ties to the smaller row): dist = squared L2 distance (dot = false) or minus the inner
// product (dot = true), rows = their row numbers; missing places get +inf and -1.
void rerank(const void* vectors, bool half, size_t n_rows, int d, const float* Q, size_t nq,
            const int64_t* cand, int R, int k, bool dot, float* dist, int64_t* rows, int n_threads);
// dist/ids: (nq, k); missing entries get dist 0xFFFFFFFF and id -1. Best first (ties to the
// smaller row) if sorted, else the same k entries in no particular order (re-ranking needs the
// set alone).
void search(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq, int k,
            uint32_t* dist, int64_t* ids, int n_threads, bool sorted = true);
// lookup_tables + search in one call: where the queries are split over threads, each thread
// builds the tables of its own queries just before scanning them. Writes scale and offset (nq).
void search_queries(const LutModel& m, const float* Q, size_t ldq, int nq, const uint8_t* codes, size_t n,
                    int ncols, int k, double* scale, double* offset, uint32_t* dist, int64_t* ids, int n_threads,
                    bool sorted = true);

}  // namespace bolt
}  // namespace tenfold
