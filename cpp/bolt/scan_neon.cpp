// NEON Bolt scans (AArch64): per block of 32 rows and codebook pair, two 16-byte loads of codes,
// nibbles looked up with vqtbl1q_u8 (a 16-entry byte table), the two look-ups of a byte added in
// uint8 (entries <= kMaxLutEntry, so no overflow) and widened into four uint16x8 accumulators
// (rows 0-7, 8-15, 16-23, 24-31). Sums are exact, as in scan_scalar.cpp. Four queries share
// each code load.
#include <arm_neon.h>

#include "bolt/bolt.hpp"

namespace tenfold {
namespace bolt {
namespace neon {

namespace {

constexpr int kQueriesPerPass = 4;

// Sums of one block for QB queries: sums[q][0..3] hold rows 0-7, 8-15, 16-23, 24-31.
template <int QB>
inline void block_sums(const uint8_t* blk, int ncols, const uint8_t* luts, size_t lut_stride,
                       uint16x8_t (*sums)[4]) {
  const uint8x16_t low4 = vdupq_n_u8(0x0f);
  for (int q = 0; q < QB; ++q)
    for (int i = 0; i < 4; ++i) sums[q][i] = vdupq_n_u16(0);
  for (int j = 0; j < ncols; ++j) {
    const uint8x16_t v0 = vld1q_u8(blk + j * kBlockRows), v1 = vld1q_u8(blk + j * kBlockRows + 16);
    const uint8x16_t lo0 = vandq_u8(v0, low4), hi0 = vshrq_n_u8(v0, 4);
    const uint8x16_t lo1 = vandq_u8(v1, low4), hi1 = vshrq_n_u8(v1, 4);
    for (int q = 0; q < QB; ++q) {
      const uint8_t* t = luts + q * lut_stride + static_cast<size_t>(j) * 32;
      const uint8x16_t tlo = vld1q_u8(t), thi = vld1q_u8(t + 16);
      const uint8x16_t p0 = vaddq_u8(vqtbl1q_u8(tlo, lo0), vqtbl1q_u8(thi, hi0));
      const uint8x16_t p1 = vaddq_u8(vqtbl1q_u8(tlo, lo1), vqtbl1q_u8(thi, hi1));
      sums[q][0] = vaddw_u8(sums[q][0], vget_low_u8(p0));
      sums[q][1] = vaddw_high_u8(sums[q][1], p0);
      sums[q][2] = vaddw_u8(sums[q][2], vget_low_u8(p1));
      sums[q][3] = vaddw_high_u8(sums[q][3], p1);
    }
  }
}

template <int QB>
void scan_u16_group(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, uint16_t* out,
                    size_t ldo) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  uint16x8_t s[QB][4];
  for (size_t b = b0; b < b1; ++b) {
    block_sums<QB>(codes + b * kBlockRows * ncols, ncols, luts, stride, s);
    for (int q = 0; q < QB; ++q) {
      uint16_t* o = out + q * ldo + b * kBlockRows;
      for (int i = 0; i < 4; ++i) vst1q_u16(o + 8 * i, s[q][i]);
    }
  }
}

template <int QB>
void scan_topk_group(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, TopK* heaps,
                     int64_t n_valid) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  uint16x8_t s[QB][4];
  uint16_t buf[kBlockRows];
  for (size_t b = b0; b < b1; ++b) {
    block_sums<QB>(codes + b * kBlockRows * ncols, ncols, luts, stride, s);
    for (int q = 0; q < QB; ++q) {
      const uint32_t threshold = heaps[q].threshold;
      if (threshold == 0) continue;  // nothing can enter any more
      // Common case first: does any row of the block reach the heap?
      const uint16x8_t lowest = vminq_u16(vminq_u16(s[q][0], s[q][1]), vminq_u16(s[q][2], s[q][3]));
      if (threshold <= 0xffff && vminvq_u16(lowest) >= threshold) continue;
      for (int i = 0; i < 4; ++i) vst1q_u16(buf + 8 * i, s[q][i]);
      uint32_t mask = 0;
      for (int r = 0; r < kBlockRows; ++r) mask |= static_cast<uint32_t>(buf[r] < threshold) << r;
      heaps[q].push_block(buf, mask, static_cast<int64_t>(b * kBlockRows), n_valid);
    }
  }
}

}  // namespace

void scan_u16(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, int nq, uint16_t* out,
              size_t ldo) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  int q = 0;
  for (; q + kQueriesPerPass <= nq; q += kQueriesPerPass)
    scan_u16_group<kQueriesPerPass>(codes, b0, b1, ncols, luts + q * stride, out + q * ldo, ldo);
  for (; q < nq; ++q) scan_u16_group<1>(codes, b0, b1, ncols, luts + q * stride, out + q * ldo, ldo);
}

void scan_topk(const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, int nq, TopK* heaps,
               int64_t n_valid) {
  const size_t stride = static_cast<size_t>(ncols) * 32;
  int q = 0;
  for (; q + kQueriesPerPass <= nq; q += kQueriesPerPass)
    scan_topk_group<kQueriesPerPass>(codes, b0, b1, ncols, luts + q * stride, heaps + q, n_valid);
  for (; q < nq; ++q) scan_topk_group<1>(codes, b0, b1, ncols, luts + q * stride, heaps + q, n_valid);
}

size_t collect_le(const uint16_t* sums, size_t n, uint16_t limit, uint32_t* rows) {
  // 8 sums per step; a step with no sum <= limit (most of them) costs one compare and one
  // horizontal max, the others are visited row by row.
  const uint16x8_t lim = vdupq_n_u16(limit);
  size_t m = 0, r = 0;
  for (; r + 8 <= n; r += 8) {
    if (vmaxvq_u16(vcleq_u16(vld1q_u16(sums + r), lim)) == 0) continue;
    for (size_t i = r; i < r + 8; ++i)
      if (sums[i] <= limit) rows[m++] = static_cast<uint32_t>(i);
  }
  for (; r < n; ++r)
    if (sums[r] <= limit) rows[m++] = static_cast<uint32_t>(r);
  return m;
}

}  // namespace neon
}  // namespace bolt
}  // namespace tenfold
