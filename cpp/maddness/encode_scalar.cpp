// Portable reference for MADDNESS encoding and aggregation; SIMD paths must match it exactly.
#include <algorithm>
#include <cmath>

#include "maddness/maddness.hpp"

namespace tenfold {
namespace maddness {
namespace scalar {

namespace {
// Same results as the SIMD paths, NaN included (min_ps picks its second operand on NaN), so
// every path yields identical codes.
inline int quantize(float a, float offset, float scale) {
  float u = (a - offset) * scale;
  u = u < 127.0f ? u : 127.0f;    // NaN -> 127, like min_ps(u, 127)
  u = u > -128.0f ? u : -128.0f;  // the SIMD path gets this from cvtps + saturating packs
  return static_cast<int>(std::nearbyint(u));
}

inline uint8_t tree_code(const EncodeModel& m, int c, const float* row, ptrdiff_t cs, float& probe) {
  int node = 0;
  for (int l = 0; l < kLevels; ++l) {
    const int s = c * kLevels + l;
    const float a = row[m.dims[s] * cs];
    probe += a * 0.0f;  // becomes NaN on any NaN or infinity
    const int q = quantize(a, m.offsets[s], m.scales[s]);
    node = 2 * node + (q > m.thresholds[s * 16 + node] ? 1 : 0);
  }
  return static_cast<uint8_t>(node);
}
}  // namespace

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            size_t r0, size_t r1, uint8_t* blocked) {
  const int ncols = m.ncodebooks / 2;
  float probe = 0.0f;
  for (size_t i = r0; i < r1; ++i) {
    uint8_t* blk = blocked + (i / kBlockRows) * kBlockRows * ncols;
    const size_t r = i % kBlockRows;
    if (i >= n) {
      for (int j = 0; j < ncols; ++j) blk[j * kBlockRows + r] = 0;
      continue;
    }
    const float* row = A + static_cast<ptrdiff_t>(i) * rs;
    for (int j = 0; j < ncols; ++j) {
      const uint8_t lo = tree_code(m, 2 * j, row, cs, probe);
      const uint8_t hi = tree_code(m, 2 * j + 1, row, cs, probe);
      blk[j * kBlockRows + r] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
  return probe == 0.0f;
}

void scan(const ScanModel& s, const uint8_t* blocked, size_t n, size_t b0, size_t b1,
          float* out, size_t ldo) {
  const int C = s.ncodebooks, ncols = C / 2, g = 1 << s.log2g;
  uint8_t vals[256];
  for (size_t b = b0; b < b1; ++b) {
    const uint8_t* blk = blocked + b * kBlockRows * ncols;
    const size_t rows = std::min<size_t>(kBlockRows, n - b * kBlockRows);
    for (int mm = 0; mm < s.m; ++mm) {
      const uint8_t* lut = s.luts + static_cast<size_t>(mm) * C * 16;
      for (size_t r = 0; r < rows; ++r) {
        uint32_t sum = 0;
        for (int j = 0; j < ncols; ++j) {
          const uint8_t code = blk[j * kBlockRows + r];
          vals[2 * j] = lut[(2 * j) * 16 + (code & 15)];
          vals[2 * j + 1] = lut[(2 * j + 1) * 16 + (code >> 4)];
        }
        if (s.log2g == 0) {
          for (int c = 0; c < C; ++c) sum += vals[c];
        } else {
          for (int g0 = 0; g0 < C; g0 += g) {
            // Balanced tree: combine neighbours at distance 1, 2, 4, ... in place.
            for (int step = 1; step < g; step *= 2)
              for (int k = g0; k < g0 + g; k += 2 * step)
                vals[k] = static_cast<uint8_t>((vals[k] + vals[k + step] + 1) >> 1);
            sum += vals[g0];
          }
        }
        out[static_cast<size_t>(mm) * ldo + (b * kBlockRows + r) * s.rstride] =
            std::fma(static_cast<float>(sum), s.mul[mm], s.add[mm]);
      }
    }
  }
}

}  // namespace scalar
}  // namespace maddness
}  // namespace tenfold
