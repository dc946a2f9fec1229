// MADDNESS kernels: hash-tree encoding of float rows into 4-bit codes, and lookup-table
// aggregation that writes dequantized float32 products.
//
// Encoding. Codebook c has a balanced tree of 4 levels; level l splits every node on one input
// dimension dims[c*4 + l]. The value a of that dimension is quantized to a signed byte
//     q = nearbyint(clamp((a - offset) * scale, -128, 127))        (round half to even)
// with offset/scale = offsets/scales[c*4 + l], and the row goes right at node k iff
// q > thresholds[(c*4 + l)*16 + k] (int8). After 4 levels the node index (0..15) is the code.
// Codes are written in Bolt's blocked layout (bolt/bolt.hpp): blocks of 32 rows, C/2 byte
// columns of 32 bytes, codebook 2j in the low nibble of column j, 2j+1 in the high nibble;
// rows past n in the last block get code 0.
//
// A is addressed with strides in elements: element (i, j) at A[i*rs + j*cs], so C order
// (rs = ld, cs = 1), Fortran order (rs = 1, cs = ld) and strided views all work without a copy;
// only the 4C split columns are read. rs == 1 is the fast path (contiguous 32-row loads).
//
// Aggregation. luts (M, C, 16) uint8, table of codebook c for output column m at
// luts + (m*C + c)*16. Mode exact: s = sum_c lut[c][code_c] (uint16, exact for C <= 256).
// Mode average (group size g = 2^log2g dividing C): within each group of g consecutive
// codebooks the looked-up bytes are combined by a balanced tree of rounding averages
// (avg(x, y) = (x + y + 1) >> 1, pairs (2j, 2j+1) first); s = sum of the group results.
// Output: out[m*ldo + i*rstride] = fma(float(s), mul[m], add[m]) for rows i in [0, n):
// column-major with rstride = 1, ldo = n; row-major with rstride = M, ldo = 1.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tenfold {
namespace maddness {

constexpr int kBlockRows = 32;
constexpr int kLevels = 4;

struct EncodeModel {
  const int64_t* dims;        // (C, 4)
  const float* offsets;       // (C, 4)
  const float* scales;        // (C, 4)
  const int8_t* thresholds;   // (C, 4, 16)
  int ncodebooks;             // even
  // Distinct (dim, offset, scale) triples: split s uses quantized column slot[s]; the SIMD path
  // quantizes each distinct column once per block of rows.
  const int32_t* slot;        // (C * 4), values in [0, nslots)
  const int64_t* slot_dims;   // (nslots)
  const float* slot_offsets;  // (nslots)
  const float* slot_scales;   // (nslots)
  int nslots;                 // <= 4 * C
};

struct ScanModel {
  const uint8_t* luts;  // (M, C, 16)
  const float* mul;     // (M)
  const float* add;     // (M)
  int ncodebooks;       // even
  int m;
  int log2g;            // 0: exact uint16 sums; 1..4: averaging in groups of 2^log2g codebooks
  size_t rstride;       // output row stride: 1 for column-major output, M for row-major
};

#define TENFOLD_MADDNESS_KERNELS                                                               \
  /* rows [r0, r1) (r0 a multiple of 32) -> their blocks of codes; false if a value read */  \
  /* was NaN or infinite (codes are still written) */                                          \
  bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,     \
              size_t r0, size_t r1, uint8_t* blocked);                                        \
  /* blocks [b0, b1) of codes -> out columns, rows < n only */                                 \
  void scan(const ScanModel& s, const uint8_t* blocked, size_t n, size_t b0, size_t b1,       \
            float* out, size_t ldo);

namespace scalar { TENFOLD_MADDNESS_KERNELS }
namespace avx2 { TENFOLD_MADDNESS_KERNELS }
#undef TENFOLD_MADDNESS_KERNELS

// Dispatching, multi-threaded entry points (baseline translation unit maddness.cpp).
// Returns false if any value read (only split dimensions are read) was NaN or infinite.
bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            uint8_t* blocked, int n_threads);
void scan(const ScanModel& s, const uint8_t* blocked, size_t n, float* out, size_t ldo,
          int n_threads);

}  // namespace maddness
}  // namespace tenfold
