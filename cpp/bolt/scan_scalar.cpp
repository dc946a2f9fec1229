// Portable reference for the Bolt scans; the SIMD variants must match it bit for bit.
#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace scalar {

namespace {
inline void block_sums(const uint8_t* blk, int ncols, const uint8_t* lut, uint16_t* sums) {
  for (int r = 0; r < kBlockRows; ++r) sums[r] = 0;
  for (int j = 0; j < ncols; ++j) {
    const uint8_t* col = blk + j * kBlockRows;
    const uint8_t* lo = lut + (2 * j) * 16;
    const uint8_t* hi = lo + 16;
    for (int r = 0; r < kBlockRows; ++r)
      sums[r] = static_cast<uint16_t>(sums[r] + lo[col[r] & 15] + hi[col[r] >> 4]);
  }
}
}  // namespace

void scan_u16(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
              int nq, uint16_t* out, size_t ldo) {
  const size_t C = 2 * static_cast<size_t>(ncols);
  for (size_t b = b0; b < b1; ++b) {
    const uint8_t* blk = codes + b * kBlockRows * ncols;
    for (int q = 0; q < nq; ++q)
      block_sums(blk, ncols, luts + q * C * 16, out + q * ldo + b * kBlockRows);
  }
}

void scan_topk(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts,
               int nq, TopK* heaps, int64_t n_valid) {
  const size_t C = 2 * static_cast<size_t>(ncols);
  uint16_t sums[kBlockRows];
  for (size_t b = b0; b < b1; ++b) {
    const uint8_t* blk = codes + b * kBlockRows * ncols;
    for (int q = 0; q < nq; ++q) {
      block_sums(blk, ncols, luts + q * C * 16, sums);
      uint32_t mask = 0;
      for (int r = 0; r < kBlockRows; ++r)
        if (sums[r] < heaps[q].threshold) mask |= 1u << r;
      if (mask) heaps[q].push_block(sums, mask, static_cast<int64_t>(b * kBlockRows), n_valid);
    }
  }
}

size_t collect_le(const uint16_t* sums, size_t n, uint16_t limit, uint32_t* rows) {
  size_t m = 0;
  for (size_t r = 0; r < n; ++r) {
    rows[m] = static_cast<uint32_t>(r);
    m += sums[r] <= limit;  // branch-free: the store lands in the next free place either way
  }
  return m;
}

}  // namespace scalar
}  // namespace bolt
}  // namespace tenfold
