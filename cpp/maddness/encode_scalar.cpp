// Portable reference for MADDNESS encoding and aggregation; SIMD paths must match it exactly.
#include <algorithm>
#include <utility>
#include <cmath>
#include <cstring>

#include "maddness/maddness.hpp"
#include "common/portable.hpp"

namespace tenfold {
namespace maddness {
namespace scalar {

namespace {
// The quantizer of the learning code (and of the SIMD paths before they moved to float
// thresholds). NaN -> 127 (min_ps picks its second operand on NaN); NaN never reaches a
// result: encode reports it.
inline int quantize(float a, float offset, float scale) {
  float u = (a - offset) * scale;
  u = u < 127.0f ? u : 127.0f;
  u = u > -128.0f ? u : -128.0f;
  return static_cast<int>(std::nearbyint(u));
}

inline uint8_t tree_code(const EncodeModel& m, int c, const float* row, ptrdiff_t cs, float& probe) {
  int node = 0;
  for (int l = 0; l < kLevels; ++l) {
    const int s = c * kLevels + l;
    const float a = tenfold::load_f32(row + m.dims[s] * cs);
    probe += a * 0.0f;  // becomes NaN on any NaN or infinity
    const int q = quantize(a, m.offsets[s], m.scales[s]);
    node = 2 * node + (q > m.thresholds[s * 16 + node] ? 1 : 0);
  }
  return static_cast<uint8_t>(node);
}

// Byte of row r (0..31) inside a 32-byte code column (scan order, see maddness.hpp).
inline int pos(size_t r) { return static_cast<int>(4 * (r & 7) + (r >> 3)); }

inline uint32_t float_key(float f) {  // order-preserving map of non-NaN floats to uint32
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
inline float key_float(uint32_t k) {
  const uint32_t b = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
}  // namespace

float float_threshold(float offset, float scale, int t) {
  if (t >= 127) return INFINITY;  // q <= 127 always: never right
  // quantize(-inf) = -128 <= t and quantize(+inf) = 127 > t; quantize is non-decreasing in a
  // (scale > 0), so bisect on the ordered float keys between -inf and +inf.
  uint32_t lo = float_key(-INFINITY), hi = float_key(INFINITY);  // q(lo) <= t < q(hi)
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (quantize(key_float(mid), offset, scale) <= t)
      lo = mid;
    else
      hi = mid;
  }
  return key_float(lo);
}

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            size_t r0, size_t r1, uint8_t* codes) {
  const int ncols = m.ncodebooks / 2;
  float probe = 0.0f;
  for (size_t i = r0; i < r1; ++i) {
    uint8_t* blk = codes + ((i - r0) / kBlockRows) * kBlockRows * ncols;
    const int p = pos(i % kBlockRows);
    if (i >= n) {
      for (int j = 0; j < ncols; ++j) blk[j * kBlockRows + p] = 0;
      continue;
    }
    const float* row = A + static_cast<ptrdiff_t>(i) * rs;
    for (int j = 0; j < ncols; ++j) {
      const uint8_t lo = tree_code(m, 2 * j, row, cs, probe);
      const uint8_t hi = tree_code(m, 2 * j + 1, row, cs, probe);
      blk[j * kBlockRows + p] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
  return probe == 0.0f;
}

void scan(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major) {
  const int C = s.ncodebooks, ncols = C / 2, g = 1 << s.log2g;
  uint8_t vals[256];
  for (size_t i = 0; i < rows; ++i) {
    const uint8_t* blk = codes + (i / kBlockRows) * kBlockRows * ncols;
    const int p = pos(i % kBlockRows);
    for (int mm = 0; mm < s.m; ++mm) {
      const uint8_t* lut = s.luts + static_cast<size_t>(mm) * C * 16;
      uint32_t sum = 0;
      for (int j = 0; j < ncols; ++j) {
        const uint8_t code = blk[j * kBlockRows + p];
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
      const float v = std::fma(static_cast<float>(sum), s.mul[mm], s.add[mm]);
      if (row_major)
        out[i * ldo + mm] = v;
      else
        out[static_cast<size_t>(mm) * ldo + i] = v;
    }
  }
}

void argmax(const float* buf, size_t M, int32_t* arg, float* best) {
  for (size_t r = 0; r < kSelectRows; ++r) {
    best[r] = buf[r];
    arg[r] = 0;
  }
  for (size_t m = 1; m < M; ++m)
    for (size_t r = 0; r < kSelectRows; ++r)
      if (buf[m * kSelectRows + r] > best[r]) {
        best[r] = buf[m * kSelectRows + r];
        arg[r] = static_cast<int32_t>(m);
      }
}

void topk(const float* buf, size_t M, size_t k, float* tv, int32_t* ti) {
  // Each row's list takes the columns in order: a column moves down the list by compare-exchange,
  // swapping with each entry it beats (larger value, or equal value and lower column: only an
  // empty place, index M, loses that way); the displaced entry moves on.
  for (size_t j = 0; j < k * kSelectRows; ++j) {
    tv[j] = -INFINITY;
    ti[j] = static_cast<int32_t>(M);
  }
  for (size_t m = 0; m < M; ++m)
    for (size_t r = 0; r < kSelectRows; ++r) {
      float c = buf[m * kSelectRows + r];
      int32_t ci = static_cast<int32_t>(m);
      for (size_t j = 0; j < k; ++j) {
        float& v = tv[j * kSelectRows + r];
        int32_t& vi = ti[j * kSelectRows + r];
        if (c > v || (c == v && ci < vi)) {
          std::swap(c, v);
          std::swap(ci, vi);
        }
      }
    }
}

}  // namespace scalar
}  // namespace maddness
}  // namespace tenfold
