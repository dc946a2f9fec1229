// Block kernels of the 32/64-bit Sprintz chunks (codec_wide.cpp): unpacking a block's bit-packed
// residuals, and the residual-cost probe that picks a chunk's predictor. wide_blocks.cpp holds the
// scalar reference and the dispatchers; codec_wide_<isa>.cpp the SIMD versions, equal to it bit for
// bit (tests/test_sprintz_wide.py and tests/native/neon_kernels.cpp check it).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/portable.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {

constexpr size_t kUnpackRows = 16;  // rows of a block (codec_wide.cpp's kBlockRows)
constexpr int kProbeLags = 16;      // lags the probe prices (codec_wide.cpp's kMaxLag)

// unpack_residuals: the cnt (<= kUnpackRows) values of `width` bits (0..64), bit-packed LSB-first
// from q, unzigzagged (0, -1, 1, -2, ... for 0, 1, 2, 3, ...) into r[0, cnt). q holds `avail`
// readable bytes, at least 9 past the last value's first byte (a kernel reading more checks avail).
//
// lag_costs: the estimated bits of each predictor's residuals over rows [kProbeLags, n) of the
// (n x nv) row-major words w: cost[0] delta of delta (prediction 2 w[t-1] - w[t-2]), cost[L] for L in
// [1, kProbeLags] the word L rows earlier (L = 1: delta). The rows are taken in the codec's blocks
// of 16 (rows 16k .. 16k + 15); a block costs, per column and predictor, its row count times the bit
// length of the OR of its zigzagged residuals: the bits that predictor's packed block would take.
// All arithmetic modulo 2^64. Requires n >= kProbeLags.
//
// narrow_lag_costs: the 8/16-bit codec's lag probe (sprintz.cpp's pick_lag) over samples
// [kProbeLags, n) of the n 8-bit (bits 8) or 16-bit unsigned samples at x (any alignment):
// cost[L] for L in [1, kProbeLags] sums, over the samples, 0 for a zero delta d = x[t] - x[t - L]
// and bit length of |d| plus one otherwise; cost[0] = 0. Requires n >= kProbeLags, n <= 4096.
//
// block_residuals: the zigzagged residuals z[i] of the cnt (<= kUnpackRows) contiguous words x[i] of
// one column, i in [0, cnt), predicted by delta of delta (lag 0: 2 x[i-1] - x[i-2]) or by the word
// `lag` rows earlier (lag in [1, kProbeLags]; 1 is delta); returns the OR of the z. The words it
// predicts from, x[-2] or x[-lag] onwards, must exist (the codec's first block takes its own path).
#define TENFOLD_WIDE_BLOCK_KERNELS                                                                  \
  void unpack_residuals(const uint8_t* q, size_t avail, size_t cnt, int width, uint64_t* r);       \
  uint64_t block_residuals(const uint64_t* x, size_t cnt, size_t lag, uint64_t* z);                \
  void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost);                          \
  void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost);

namespace scalar { TENFOLD_WIDE_BLOCK_KERNELS }
namespace avx2 { TENFOLD_WIDE_BLOCK_KERNELS }
namespace neon { TENFOLD_WIDE_BLOCK_KERNELS }
#undef TENFOLD_WIDE_BLOCK_KERNELS

// lag_costs' rule for the columns [j0, j1), added to cost (the scalar reference, and the SIMD
// kernels' columns left over from their lane groups). static: each ISA unit keeps its own copy.
static inline void lag_costs_columns(const uint64_t* w, size_t n, size_t nv, size_t j0, size_t j1, uint64_t* cost) {
  auto zz = [](uint64_t r) { return (r << 1) ^ uint64_t(int64_t(r) >> 63); };
  for (size_t t0 = size_t(kProbeLags); t0 < n; t0 += kUnpackRows) {
    const size_t cnt = std::min(kUnpackRows, n - t0);
    for (size_t j = j0; j < j1; ++j) {
      uint64_t acc[kProbeLags + 1] = {0};
      for (size_t t = t0; t < t0 + cnt; ++t) {
        const uint64_t x = w[t * nv + j], p1 = w[(t - 1) * nv + j];
        acc[0] |= zz(x - 2 * p1 + w[(t - 2) * nv + j]);
        for (int L = 1; L <= kProbeLags; ++L) acc[L] |= zz(x - w[(t - size_t(L)) * nv + j]);
      }
      for (int c = 0; c <= kProbeLags; ++c) cost[c] += cnt * (acc[c] ? 64 - uint64_t(clz64(acc[c])) : 0);
    }
  }
}

// pack_residuals: the cnt (<= kUnpackRows) values z[0, cnt), each < 2^width (width 0..64), bit-packed
// LSB-first into q[0, ceil(cnt * width / 8)): unpack_residuals' input, before the unzigzag. Writes up
// to 8 bytes past that end (the caller leaves the room; the bytes there are not defined). Scalar on
// every ISA: a full block's offsets and shifts are constants, a few instructions per value.
void pack_residuals(const uint64_t* z, size_t cnt, int width, uint8_t* q);

// block_residuals' rule for entries [i0, cnt) (the scalar reference, and the SIMD kernels' tails).
static inline uint64_t block_residuals_from(const uint64_t* x, size_t i0, size_t cnt, size_t lag, uint64_t* z) {
  uint64_t acc = 0;
  const ptrdiff_t back = ptrdiff_t(lag ? lag : 1);
  for (size_t i = i0; i < cnt; ++i) {
    const uint64_t p = lag ? x[ptrdiff_t(i) - back] : 2 * x[ptrdiff_t(i) - 1] - x[ptrdiff_t(i) - 2];
    const uint64_t r = x[i] - p;
    z[i] = (r << 1) ^ (uint64_t(0) - (r >> 63));
    acc |= z[i];
  }
  return acc;
}

// The kernels of the active ISA (resolved once per chunk by the codec).
using UnpackFn = void (*)(const uint8_t*, size_t, size_t, int, uint64_t*);
UnpackFn residual_unpacker();
using ResidualsFn = uint64_t (*)(const uint64_t*, size_t, size_t, uint64_t*);
ResidualsFn residual_maker();
void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost);
void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost);
constexpr size_t kNarrowProbeMax = 4096;  // samples narrow_lag_costs accepts

// The sample t of narrow_lag_costs' input.
static inline int32_t narrow_sample(const uint8_t* x, int bits, size_t t) {
  if (bits == 8) return x[t];
  uint16_t v;
  std::memcpy(&v, x + 2 * t, 2);
  return v;
}
// narrow_lag_costs' rule for samples [t0, n), added to cost.
static inline void narrow_lag_costs_from(const uint8_t* x, int bits, size_t t0, size_t n, uint64_t* cost) {
  for (size_t t = t0; t < n; ++t) {
    const int32_t xt = narrow_sample(x, bits, t);
    for (int L = 1; L <= kProbeLags; ++L) {
      const int32_t d = xt - narrow_sample(x, bits, t - size_t(L));
      const uint32_t ad = uint32_t(d < 0 ? -d : d);
      cost[L] += ad ? 33 - uint64_t(clz32(ad)) : 0;
    }
  }
}

}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
