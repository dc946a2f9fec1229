// NEON kernels of the wide Sprintz chunks (codec_wide.hpp): 2 digits per step converted to double
// (exact below 2^53) and divided by their columns' 10^e in one vdivq_f64, the scalar reference's correctly
// rounded division, so the bits are equal.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "sprintz/codec_wide.hpp"
#include "sprintz/wide_blocks.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace neon {

void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, const double* pow10, size_t period, bool f32,
                      uint8_t* out, ptrdiff_t out_step) {
  const size_t step = 2 % period;  // c < period and step < period: one subtraction keeps c below period
  size_t i = 0, c = 0;                   // c = i % period
  for (; i + 2 <= n; i += 2) {
    int64x2_t d;
    if (in_stride == 1) {
      d = vreinterpretq_s64_u64(vld1q_u64(w + i));
    } else {
      d = vcombine_s64(vcreate_s64(w[i * in_stride]), vcreate_s64(w[(i + 1) * in_stride]));
    }
    // vcvtq_f64_s64 rounds to nearest like the scalar int64 -> double conversion
    const float64x2_t y = vdivq_f64(vcvtq_f64_s64(d), vld1q_f64(pow10 + c));
    uint8_t* o = out + ptrdiff_t(i) * out_step;
    if (f32) {
      float lanes[2];
      vst1_f32(lanes, vcvt_f32_f64(y));
      std::memcpy(o, &lanes[0], 4);
      std::memcpy(o + out_step, &lanes[1], 4);
    } else {
      double lanes[2];
      vst1q_f64(lanes, y);
      std::memcpy(o, &lanes[0], 8);
      std::memcpy(o + out_step, &lanes[1], 8);
    }
    c += step;
    if (c >= period) c -= period;
  }
  if (i < n) scalar::digits_to_floats(w + i * in_stride, in_stride, 1, pow10 + c, 1, f32, out + ptrdiff_t(i) * out_step, out_step);
}

size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact) {
  // the scalar rule lane-wise: y = x * 10^e, nearest integer (vrndnq: ties to even, as
  // nearbyint), |y| < 2^52, digits / 10^e giving x's bits back
  const float64x2_t p = vdupq_n_f64(pow10);
  const float64x2_t two52 = vdupq_n_f64(4503599627370496.0);
  size_t hits = 0, i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t* q = w + i * stride;
    const uint64_t b0 = q[0], b1 = q[stride];
    float64x2_t x;
    if (f32) {
      float f[2];
      const uint32_t lo[2] = {uint32_t(b0), uint32_t(b1)};
      std::memcpy(f, lo, 8);
      x = vcvt_f64_f32(vld1_f32(f));
    } else {
      x = vreinterpretq_f64_u64(vcombine_u64(vcreate_u64(b0), vcreate_u64(b1)));
    }
    const float64x2_t y = vmulq_f64(x, p);
    const uint64x2_t in = vcltq_f64(vabsq_f64(y), two52);  // false for NaN
    const float64x2_t r = vrndnq_f64(y);
    const int64x2_t d = vcvtq_s64_f64(r);  // r is an integer below 2^52: exact
    // double(d) is r exactly, but for the sign of zero: -0.0 + 0.0 = +0.0 (digits 0 decode to +0.0)
    const float64x2_t back = vdivq_f64(vaddq_f64(r, vdupq_n_f64(0.0)), p);
    uint64x2_t same;
    if (f32) {
      const uint32x2_t bf = vreinterpret_u32_f32(vcvt_f32_f64(back));
      const uint32x2_t want = vcreate_u32(uint64_t(uint32_t(b0)) | (uint64_t(uint32_t(b1)) << 32));
      same = vmovl_u32(vceq_u32(bf, want));  // nonzero where equal: enough for the test below
    } else {
      same = vceqq_u64(vreinterpretq_u64_f64(back), vcombine_u64(vcreate_u64(b0), vcreate_u64(b1)));
    }
    const uint64x2_t ok = vandq_u64(same, in);
    for (int k = 0; k < 2; ++k) {
      const bool e = (k == 0 ? vgetq_lane_u64(ok, 0) : vgetq_lane_u64(ok, 1)) != 0;
      exact[i + k] = uint8_t(e);
      if (e) q[k * stride] = uint64_t(k == 0 ? vgetq_lane_s64(d, 0) : vgetq_lane_s64(d, 1));
      hits += e;
    }
  }
  return hits + scalar::floats_to_digits(w + i * stride, stride, n - i, pow10, f32, exact + i);
}

namespace {

// Where a full block of width w (1..kMaxShuffleWidth) puts values 2g and 2g + 1: both are read
// from the 16 bytes at byte (2g * w) / 8; a table lookup moves each value's 8 bytes into its
// 64-bit lane, a variable shift (negative: to the right) drops its first bits.
constexpr int kMaxShuffleWidth = 56;  // a value then lies within 8 bytes of its first byte
struct PairLayout {
  uint8_t shuffle[16];
  int64_t shift[2];
  uint32_t at;
};
struct Layouts {
  PairLayout p[kMaxShuffleWidth + 1][8];
};

constexpr Layouts make_layouts() {
  Layouts t{};
  for (int w = 1; w <= kMaxShuffleWidth; ++w)
    for (int g = 0; g < 8; ++g) {
      PairLayout& L = t.p[w][g];
      L.at = uint32_t((2 * g * w) / 8);
      for (int k = 0; k < 2; ++k) {
        const int bit = (2 * g + k) * w, rel = bit / 8 - int(L.at);  // <= 7
        for (int b = 0; b < 8; ++b) L.shuffle[8 * k + b] = uint8_t(rel + b);
        L.shift[k] = -(bit % 8);
      }
    }
  return t;
}

// Computed at compile time (read-only data): no first-call guard of a function-local static in
// the kernel (the same change as the AVX2 unpack's table).
constexpr Layouts kLayouts = make_layouts();

inline uint64x2_t zigzag2(uint64x2_t d) {
  return veorq_u64(vshlq_n_u64(d, 1), vreinterpretq_u64_s64(vshrq_n_s64(vreinterpretq_s64_u64(d), 63)));
}

inline void add_lane_costs(uint64x2_t acc, size_t cnt, uint64_t* cost, int c0, int c1) {
  const uint64_t a0 = vgetq_lane_u64(acc, 0), a1 = vgetq_lane_u64(acc, 1);
  cost[c0] += cnt * (a0 ? 64 - uint64_t(clz64(a0)) : 0);
  cost[c1] += cnt * (a1 ? 64 - uint64_t(clz64(a1)) : 0);
}

}  // namespace

void unpack_residuals(const uint8_t* q, size_t avail, size_t cnt, int width, uint64_t* r) {
  // the vector path reads 16 bytes from the last pair's byte ((14 * width) / 8)
  if (cnt != kUnpackRows || width == 0 || width > kMaxShuffleWidth || avail < size_t(14 * width / 8 + 16))
    return scalar::unpack_residuals(q, avail, cnt, width, r);
  const PairLayout* L = kLayouts.p[width];
  const uint64x2_t mask = vdupq_n_u64((uint64_t(1) << width) - 1);
  const uint64x2_t one = vdupq_n_u64(1);
  for (int g = 0; g < 8; ++g) {
    const uint8x16_t bytes = vqtbl1q_u8(vld1q_u8(q + L[g].at), vld1q_u8(L[g].shuffle));
    uint64x2_t v = vandq_u64(vshlq_u64(vreinterpretq_u64_u8(bytes), vld1q_s64(L[g].shift)), mask);
    // unzigzag: (z >> 1) ^ -(z & 1)
    v = veorq_u64(vshrq_n_u64(v, 1), vreinterpretq_u64_s64(vnegq_s64(vreinterpretq_s64_u64(vandq_u64(v, one)))));
    vst1q_u64(r + 2 * g, v);
  }
}

uint64_t block_residuals(const uint64_t* x, size_t cnt, size_t lag, uint64_t* z) {
  // 2 rows per step, the scalar rule lane-wise
  uint64x2_t acc = vdupq_n_u64(0);
  const ptrdiff_t back = ptrdiff_t(lag ? lag : 1);
  size_t i = 0;
  for (; i + 2 <= cnt; i += 2) {
    const uint64x2_t xi = vld1q_u64(x + i);
    const uint64x2_t p1 = vld1q_u64(x + ptrdiff_t(i) - back);
    const uint64x2_t p = lag ? p1 : vsubq_u64(vaddq_u64(p1, p1), vld1q_u64(x + ptrdiff_t(i) - 2));
    const uint64x2_t r = vsubq_u64(xi, p);
    const uint64x2_t zz = veorq_u64(vshlq_n_u64(r, 1), vsubq_u64(vdupq_n_u64(0), vshrq_n_u64(r, 63)));
    vst1q_u64(z + i, zz);
    acc = vorrq_u64(acc, zz);
  }
  return (vgetq_lane_u64(acc, 0) | vgetq_lane_u64(acc, 1)) | block_residuals_from(x, i, cnt, lag, z);
}

void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  if (nv == 1) {
    // lane k of the vector loaded at w + t - 2m holds the word 2m - k rows before t
    for (size_t t0 = size_t(kProbeLags); t0 < n; t0 += kUnpackRows) {
      const size_t cnt = std::min(kUnpackRows, n - t0);
      uint64x2_t acc[kProbeLags / 2];
      for (auto& a : acc) a = vdupq_n_u64(0);
      uint64_t dd = 0;
      for (size_t t = t0; t < t0 + cnt; ++t) {
        const uint64x2_t x = vdupq_n_u64(w[t]);
        for (int m = 0; m < kProbeLags / 2; ++m)
          acc[m] = vorrq_u64(acc[m], zigzag2(vsubq_u64(x, vld1q_u64(w + t - 2 * size_t(m + 1)))));
        const uint64_t r = w[t] - 2 * w[t - 1] + w[t - 2];
        dd |= (r << 1) ^ uint64_t(int64_t(r) >> 63);
      }
      for (int m = 0; m < kProbeLags / 2; ++m) add_lane_costs(acc[m], cnt, cost, 2 * (m + 1), 2 * (m + 1) - 1);
      cost[0] += cnt * (dd ? 64 - uint64_t(clz64(dd)) : 0);
    }
    return;
  }
  // two columns per vector (lane k: column j + k), the predictors one after another
  size_t j = 0;
  for (; j + 2 <= nv; j += 2) {
    for (size_t t0 = size_t(kProbeLags); t0 < n; t0 += kUnpackRows) {
      const size_t cnt = std::min(kUnpackRows, n - t0);
      auto row = [&](size_t t) { return vld1q_u64(w + t * nv + j); };
      uint64x2_t acc = vdupq_n_u64(0);
      for (size_t t = t0; t < t0 + cnt; ++t) {
        const uint64x2_t p1 = row(t - 1);
        acc = vorrq_u64(acc, zigzag2(vaddq_u64(vsubq_u64(vsubq_u64(row(t), p1), p1), row(t - 2))));
      }
      add_lane_costs(acc, cnt, cost, 0, 0);
      for (int L = 1; L <= kProbeLags; ++L) {
        acc = vdupq_n_u64(0);
        for (size_t t = t0; t < t0 + cnt; ++t) acc = vorrq_u64(acc, zigzag2(vsubq_u64(row(t), row(t - size_t(L)))));
        add_lane_costs(acc, cnt, cost, L, L);
      }
    }
  }
  lag_costs_columns(w, n, nv, j, nv, cost);
}

void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  // the samples widened to int32, 4 per vector; cost of |d|: 33 - clz(|d|), 0 where d = 0
  int32_t a[kNarrowProbeMax];
  for (size_t t = 0; t < n; ++t) a[t] = narrow_sample(x, bits, t);
  const int32x4_t k33 = vdupq_n_s32(33);
  int32x4_t acc[kProbeLags];
  for (auto& v : acc) v = vdupq_n_s32(0);
  size_t t = size_t(kProbeLags);
  for (; t + 4 <= n; t += 4) {
    const int32x4_t xt = vld1q_s32(a + t);
    for (int L = 1; L <= kProbeLags; ++L) {
      const int32x4_t ad = vabsq_s32(vsubq_s32(xt, vld1q_s32(a + t - size_t(L))));
      const int32x4_t c = vsubq_s32(k33, vclzq_s32(ad));
      acc[L - 1] = vaddq_s32(acc[L - 1], vandq_s32(c, vreinterpretq_s32_u32(vtstq_s32(ad, ad))));
    }
  }
  for (int L = 1; L <= kProbeLags; ++L) cost[L] += uint64_t(vaddvq_s32(acc[L - 1]));  // < 2^31: no overflow
  narrow_lag_costs_from(x, bits, t, n, cost);
}

}  // namespace neon
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
