// NEON MADDNESS kernels (AArch64), bit for bit equal to encode_scalar.cpp.
// Encoder: four rows per vector (lane i = row i of a quarter-group). At each level the
// threshold of each row's node is looked up from the level's float thresholds (see
// maddness.hpp: indexed by minus the node) with one vqtbl2q_u8 over their 32 bytes, and the
// compare mask (all ones = -1) is subtracted: s' = 2s + mask with s = -node. Rows 8g + 4h + i
// (g = 0..3, h = 0..1) give byte g of 32-bit word 4h + i of a code column (the scan order).
// NaN and infinities are caught from the exponent bits of every value read (rows < n).
// Scan: each block's code columns are first put in natural row order (two vqtbl2q_u8 per
// column); nibbles are looked up with vqtbl1q_u8; exact mode widens the bytes into uint16 sums,
// average mode combines them by a tree of vrhaddq_u8 ((x + y + 1) >> 1, pairs (2j, 2j+1) first);
// the result is fma(float(s), mul, add) (vfmaq_f32 is the fused operation std::fma computes).
#include <arm_neon.h>

#include <cstring>

#include "maddness/maddness.hpp"

namespace tenfold {
namespace maddness {
namespace neon {

namespace {

// ---------------------------------------------------------------- encoder
constexpr uint32_t kExponent = 0x7f800000u;

// The level-l values of 4 rows (row i at A + i*rs; rows >= valid read as 0).
inline float32x4_t load4(const float* A, ptrdiff_t rs, int valid, uint32x4_t& bad) {
  float32x4_t v;
  if (rs == 1 && valid == 4) {
    v = vld1q_f32(A);
  } else {
    float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < valid; ++i) tmp[i] = A[static_cast<ptrdiff_t>(i) * rs];
    v = vld1q_f32(tmp);
  }
  const uint32x4_t e = vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(kExponent));
  bad = vorrq_u32(bad, vceqq_u32(e, vdupq_n_u32(kExponent)));
  return v;
}

// Minus the code of codebook c for 4 rows starting at `row` (a pointer to element (row, 0)).
inline uint32x4_t tree4(const EncodeModel& m, int c, const float* row, ptrdiff_t rs, ptrdiff_t cs, int valid,
                        uint32x4_t& bad) {
  int32x4_t s = vdupq_n_s32(0);
  const uint8x16_t byte_of_lane = vreinterpretq_u8_u32(vdupq_n_u32(0x03020100u));
  for (int l = 0; l < kLevels; ++l) {
    const int sp = c * kLevels + l;
    const float32x4_t a = load4(row + m.dims[sp] * cs, rs, valid, bad);
    const float* th = m.fthr + static_cast<size_t>(sp) * 8;
    const uint8x16x2_t table = {{vreinterpretq_u8_f32(vld1q_f32(th)), vreinterpretq_u8_f32(vld1q_f32(th + 4))}};
    const uint32x4_t idx = vandq_u32(vreinterpretq_u32_s32(s), vdupq_n_u32(l == kLevels - 1 ? 7 : 3));
    // byte k of lane i: 4 * idx_i + k
    const uint8x16_t bytes = vaddq_u8(vreinterpretq_u8_u32(vmulq_n_u32(idx, 0x04040404u)), byte_of_lane);
    const float32x4_t thr = vreinterpretq_f32_u8(vqtbl2q_u8(table, bytes));
    const int32x4_t right = vreinterpretq_s32_u32(vcgtq_f32(a, thr));  // NaN: not greater
    s = vaddq_s32(vaddq_s32(s, s), right);
  }
  return vreinterpretq_u32_s32(vnegq_s32(s));
}

}  // namespace

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, size_t r0, size_t r1,
            uint8_t* codes) {
  const int ncols = m.ncodebooks / 2;
  uint32x4_t bad = vdupq_n_u32(0);
  for (size_t b0 = r0; b0 < r1; b0 += kBlockRows) {
    uint8_t* blk = codes + ((b0 - r0) / kBlockRows) * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) {
      uint32x4_t word[2] = {vdupq_n_u32(0), vdupq_n_u32(0)};
      for (int g = 0; g < 4; ++g)
        for (int h = 0; h < 2; ++h) {
          const size_t row = b0 + 8 * g + 4 * h;
          if (row >= n) continue;  // rows past n: code 0
          const int valid = n - row < 4 ? static_cast<int>(n - row) : 4;
          const float* p = A + static_cast<ptrdiff_t>(row) * rs;
          const uint32x4_t lo = tree4(m, 2 * j, p, rs, cs, valid, bad);
          const uint32x4_t hi = tree4(m, 2 * j + 1, p, rs, cs, valid, bad);
          uint32x4_t byte = vorrq_u32(lo, vshlq_n_u32(hi, 4));
          if (valid < 4) {  // lanes of missing rows hold the code of a zero row: clear them
            const uint32_t lane[4] = {0, 1, 2, 3};
            byte = vandq_u32(byte, vcltq_u32(vld1q_u32(lane), vdupq_n_u32(static_cast<uint32_t>(valid))));
          }
          word[h] = vorrq_u32(word[h], vshlq_u32(byte, vdupq_n_s32(8 * g)));
        }
      vst1q_u8(blk + j * kBlockRows, vreinterpretq_u8_u32(word[0]));
      vst1q_u8(blk + j * kBlockRows + 16, vreinterpretq_u8_u32(word[1]));
    }
  }
  return vmaxvq_u32(bad) == 0;
}

// ---------------------------------------------------------------- scan
namespace {

// Natural row r of a block sits at byte 4*(r%8) + r/8 of a scan-order column.
struct NaturalOrder {
  uint8x16_t idx[2];
  NaturalOrder() {
    uint8_t t[32];
    for (int r = 0; r < 32; ++r) t[r] = static_cast<uint8_t>(4 * (r & 7) + (r >> 3));
    idx[0] = vld1q_u8(t);
    idx[1] = vld1q_u8(t + 16);
  }
};

// One block of output column m: 32 uint16 sums (rows 0-7, 8-15, 16-23, 24-31).
void block_sums(const ScanModel& s, const uint8_t* nat, int ncols, const uint8_t* lut, uint16x8_t sums[4]) {
  const uint8x16_t low4 = vdupq_n_u8(0x0f);
  for (int i = 0; i < 4; ++i) sums[i] = vdupq_n_u16(0);
  const int gcols = s.log2g == 0 ? 1 : 1 << (s.log2g - 1);  // code columns per averaging group
  for (int j0 = 0; j0 < ncols; j0 += gcols) {
    uint8x16_t lv[8][2];  // per column of the group: the pair's average (or, exact, unused)
    for (int j = j0; j < j0 + gcols; ++j) {
      const uint8x16_t tlo = vld1q_u8(lut + static_cast<size_t>(2 * j) * 16);
      const uint8x16_t thi = vld1q_u8(lut + static_cast<size_t>(2 * j + 1) * 16);
      for (int h = 0; h < 2; ++h) {
        const uint8x16_t v = vld1q_u8(nat + j * kBlockRows + 16 * h);
        const uint8x16_t a = vqtbl1q_u8(tlo, vandq_u8(v, low4)), b = vqtbl1q_u8(thi, vshrq_n_u8(v, 4));
        if (s.log2g == 0) {
          sums[2 * h] = vaddq_u16(sums[2 * h], vaddl_u8(vget_low_u8(a), vget_low_u8(b)));
          sums[2 * h + 1] = vaddq_u16(sums[2 * h + 1], vaddl_high_u8(a, b));
        } else {
          lv[j - j0][h] = vrhaddq_u8(a, b);
        }
      }
    }
    if (s.log2g == 0) continue;
    for (int step = 1; step < gcols; step *= 2)
      for (int k = 0; k < gcols; k += 2 * step)
        for (int h = 0; h < 2; ++h) lv[k][h] = vrhaddq_u8(lv[k][h], lv[k + step][h]);
    for (int h = 0; h < 2; ++h) {
      sums[2 * h] = vaddw_u8(sums[2 * h], vget_low_u8(lv[0][h]));
      sums[2 * h + 1] = vaddw_high_u8(sums[2 * h + 1], lv[0][h]);
    }
  }
}

}  // namespace

void scan(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major) {
  const int C = s.ncodebooks, ncols = C / 2;
  static const NaturalOrder order;
  alignas(16) uint8_t nat[kBlockRows * 128];  // up to 256 codebooks
  float vals[kBlockRows];
  for (size_t b0 = 0; b0 < rows; b0 += kBlockRows) {
    const uint8_t* blk = codes + (b0 / kBlockRows) * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) {
      const uint8x16x2_t col = {{vld1q_u8(blk + j * kBlockRows), vld1q_u8(blk + j * kBlockRows + 16)}};
      vst1q_u8(nat + j * kBlockRows, vqtbl2q_u8(col, order.idx[0]));
      vst1q_u8(nat + j * kBlockRows + 16, vqtbl2q_u8(col, order.idx[1]));
    }
    const size_t nr = rows - b0 < static_cast<size_t>(kBlockRows) ? rows - b0 : kBlockRows;
    for (int mm = 0; mm < s.m; ++mm) {
      uint16x8_t sums[4];
      block_sums(s, nat, ncols, s.luts + static_cast<size_t>(mm) * C * 16, sums);
      const float32x4_t mul = vdupq_n_f32(s.mul[mm]), add = vdupq_n_f32(s.add[mm]);
      float* dst = row_major || nr < kBlockRows ? vals : out + static_cast<size_t>(mm) * ldo + b0;
      for (int i = 0; i < 4; ++i) {
        const float32x4_t f0 = vcvtq_f32_u32(vmovl_u16(vget_low_u16(sums[i])));
        const float32x4_t f1 = vcvtq_f32_u32(vmovl_high_u16(sums[i]));
        vst1q_f32(dst + 8 * i, vfmaq_f32(add, f0, mul));
        vst1q_f32(dst + 8 * i + 4, vfmaq_f32(add, f1, mul));
      }
      if (dst != vals) continue;
      for (size_t r = 0; r < nr; ++r) {
        if (row_major)
          out[(b0 + r) * ldo + mm] = vals[r];
        else
          out[static_cast<size_t>(mm) * ldo + b0 + r] = vals[r];
      }
    }
  }
}

}  // namespace neon
}  // namespace maddness
}  // namespace tenfold
