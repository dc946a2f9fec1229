// AVX2 kernels of the wide Sprintz chunks (codec_wide.hpp): 4 digits per step converted to double
// exactly and divided by their columns' 10^e in one vdivpd, the same correctly rounded division as the scalar
// reference, so the bits are equal.
#include <immintrin.h>

#include <cstring>

#include "sprintz/codec_wide.hpp"
#include "sprintz/wide_blocks.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace avx2 {

void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, const double* pow10, size_t period, bool f32,
                      uint8_t* out, ptrdiff_t out_step) {
  // int64 -> double without AVX-512: for -2^51 <= d < 2^51 the bits of d + 1.5 * 2^52 (as an
  // integer) are the double 1.5 * 2^52 + d, exactly; lanes outside that range take the scalar rule
  constexpr int64_t kMagicBits = 0x4338000000000000;  // 1.5 * 2^52
  constexpr int64_t kHalfRange = int64_t{1LL << 51};
  const __m256i magic = _mm256_set1_epi64x(kMagicBits);
  const __m256i half = _mm256_set1_epi64x(kHalfRange);
  const __m256i limit = _mm256_set1_epi64x(2 * kHalfRange - 1);
  const __m256i flip = _mm256_set1_epi64x(INT64_MIN);
  const __m256d magic_d = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const size_t isz = f32 ? 4 : 8;
  const bool dense_in = in_stride == 1, dense_out = out_step == ptrdiff_t(isz);
  // one value by the scalar rule: value i + k, whose divisor is pow10[c + k]
  auto one = [&](size_t i, size_t c, size_t k) {
    scalar::digits_to_floats(w + (i + k) * in_stride, in_stride, 1, pow10 + c + k, 1, f32,
                             out + ptrdiff_t(i + k) * out_step, out_step);
  };
  const size_t step = 4 % period;  // c < period and step < period: one subtraction keeps c below period
  size_t i = 0, c = 0;                   // c = i % period
  if (dense_in && dense_out && !f32) {   // the common case (float64 rows or a float64 column) unswitched
    for (; i + 4 <= n; i += 4) {
      const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
      const __m256i out_of_range =
          _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_add_epi64(d, half), flip), _mm256_xor_si256(limit, flip));
      if (!_mm256_testz_si256(out_of_range, out_of_range)) {
        for (size_t k = 0; k < 4; ++k) one(i, c, k);
      } else {
        const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(d, magic)), magic_d);
        _mm256_storeu_pd(reinterpret_cast<double*>(out + 8 * i), _mm256_div_pd(x, _mm256_loadu_pd(pow10 + c)));
      }
      c += step;
      if (c >= period) c -= period;
    }
  }
  for (; i + 4 <= n; i += 4) {
    __m256i d;
    if (dense_in) {
      d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
    } else {
      const uint64_t* q = w + i * in_stride;
      d = _mm256_set_epi64x(int64_t(q[3 * in_stride]), int64_t(q[2 * in_stride]), int64_t(q[in_stride]),
                            int64_t(q[0]));
    }
    // in range iff (d + 2^51) as unsigned <= 2^52 - 1 (signed compare after flipping the top bit)
    const __m256i shifted = _mm256_xor_si256(_mm256_add_epi64(d, half), flip);
    const __m256i out_of_range = _mm256_cmpgt_epi64(shifted, _mm256_xor_si256(limit, flip));
    if (!_mm256_testz_si256(out_of_range, out_of_range)) {
      for (size_t k = 0; k < 4; ++k) one(i, c, k);
    } else {
      const __m256d x = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(d, magic)), magic_d);
      const __m256d y = _mm256_div_pd(x, _mm256_loadu_pd(pow10 + c));
      uint8_t* o = out + ptrdiff_t(i) * out_step;
      if (f32) {
        const __m128 yf = _mm256_cvtpd_ps(y);  // round to nearest, as float(double) in the scalar rule
        if (dense_out) {
          _mm_storeu_ps(reinterpret_cast<float*>(o), yf);
        } else {
          alignas(16) float lanes[4];
          _mm_store_ps(lanes, yf);
          for (int k = 0; k < 4; ++k) std::memcpy(o + k * out_step, &lanes[k], 4);
        }
      } else if (dense_out) {
        _mm256_storeu_pd(reinterpret_cast<double*>(o), y);
      } else {
        alignas(32) double lanes[4];
        _mm256_store_pd(lanes, y);
        for (int k = 0; k < 4; ++k) std::memcpy(o + k * out_step, &lanes[k], 8);
      }
    }
    c += step;
    if (c >= period) c -= period;
  }
  for (size_t k = 0; i + k < n; ++k) one(i, c, k);
}

size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact) {
  // the scalar rule lane-wise: y = x * 10^e (same multiply), nearest integer (roundpd, ties to
  // even as nearbyint), kept only where |y| < 2^51 (there the magic-number conversion to int64
  // is exact; groups with a lane in [2^51, 2^52) take the scalar path, which allows up to 2^52),
  // then digits / 10^e must give x's bits back
  const __m256d p = _mm256_set1_pd(pow10);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  const __m256d two51 = _mm256_set1_pd(2251799813685248.0);
  const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
  const __m256d magic_d = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256i magic = _mm256_set1_epi64x(0x4338000000000000);
  size_t hits = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    uint64_t* q = w + i * stride;
    const __m256i bits = stride == 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q))
                                     : _mm256_set_epi64x(int64_t(q[3 * stride]), int64_t(q[2 * stride]),
                                                         int64_t(q[stride]), int64_t(q[0]));
    __m256d x;
    if (f32) {  // the low halves of the 4 words, as floats, widened exactly
      const __m256i lo = _mm256_permutevar8x32_epi32(bits, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
      x = _mm256_cvtps_pd(_mm_castsi128_ps(_mm256_castsi256_si128(lo)));
    } else {
      x = _mm256_castsi256_pd(bits);
    }
    const __m256d y = _mm256_mul_pd(x, p);
    const __m256d ay = _mm256_and_pd(y, abs_mask);
    const int in52 = _mm256_movemask_pd(_mm256_cmp_pd(ay, two52, _CMP_LT_OQ));  // false for NaN
    const int in51 = _mm256_movemask_pd(_mm256_cmp_pd(ay, two51, _CMP_LT_OQ));
    if (in52 != in51) {  // a lane in [2^51, 2^52): the scalar rule for this group
      hits += scalar::floats_to_digits(q, stride, 4, pow10, f32, exact + i);
      continue;
    }
    const __m256d r = _mm256_round_pd(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i d = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(r, magic_d)), magic);
    // double(d) is r exactly, but for the sign of zero: -0.0 + 0.0 = +0.0 (digits 0 decode to +0.0)
    const __m256d back = _mm256_div_pd(_mm256_add_pd(r, _mm256_setzero_pd()), p);
    int same;
    if (f32) {
      const __m128 bf = _mm256_cvtpd_ps(back);
      const __m128i want = _mm256_castsi256_si128(
          _mm256_permutevar8x32_epi32(bits, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
      same = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_castps_si128(bf), want)));
    } else {
      same = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_castpd_si256(back), bits)));
    }
    const int ok = same & in51;
    // the 4 flags as bytes (bit k of ok -> byte k), and the digits where exact
    const uint32_t m = uint32_t(ok), flags = (m & 1) | (m & 2) << 7 | (m & 4) << 14 | (m & 8) << 21;
    std::memcpy(exact + i, &flags, 4);
    hits += size_t(_mm_popcnt_u32(uint32_t(ok)));
    if (stride == 1) {
      const __m256i lane_bit = _mm256_and_si256(_mm256_set1_epi64x(ok), _mm256_setr_epi64x(1, 2, 4, 8));
      const __m256i sel = _mm256_cmpeq_epi64(lane_bit, _mm256_setr_epi64x(1, 2, 4, 8));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_blendv_epi8(bits, d, sel));
    } else if (ok) {
      alignas(32) int64_t lanes[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), d);
      for (int k = 0; k < 4; ++k)
        if ((ok >> k) & 1) q[k * stride] = uint64_t(lanes[k]);
    }
  }
  return hits + scalar::floats_to_digits(w + i * stride, stride, n - i, pow10, f32, exact + i);
}

namespace {

// Where a full block of width w (1..kMaxShuffleWidth) puts its values, per group g of 4 values
// (4g .. 4g + 3): values 4g, 4g + 1 are read from the 16 bytes at byte (4g * w) / 8 (low lane),
// values 4g + 2, 4g + 3 from the 16 bytes at ((4g + 2) * w) / 8 (high lane); a byte shuffle moves
// each value's 8 bytes into its 64-bit lane, a variable shift drops its first bits.
constexpr int kMaxShuffleWidth = 56;  // a value then lies within 8 bytes of its first byte
struct GroupLayout {
  alignas(32) uint8_t shuffle[32];
  alignas(32) int64_t shift[4];
  uint32_t lo, hi;
};
struct WidthLayout {
  GroupLayout g[4];
};

struct Layouts {
  WidthLayout w[kMaxShuffleWidth + 1];
};

constexpr Layouts make_layouts() {
  Layouts table{};
  for (int w = 1; w <= kMaxShuffleWidth; ++w)
    for (int g = 0; g < 4; ++g) {
      GroupLayout& L = table.w[w].g[g];
      const int base[2] = {(4 * g * w) / 8, ((4 * g + 2) * w) / 8};
      for (int k = 0; k < 4; ++k) {
        const int bit = (4 * g + k) * w, lane = k / 2;
        const int rel = bit / 8 - base[lane];  // <= 7: the 8 bytes stay within the lane's 16
        for (int b = 0; b < 8; ++b) L.shuffle[8 * k + b] = uint8_t(rel + b);
        L.shift[k] = bit % 8;
      }
      L.lo = uint32_t(base[0]);
      L.hi = uint32_t(base[1]);
    }
  return table;
}

// Computed at compile time (read-only data): no run-time initialisation, so no AVX2 instruction
// runs at load time on a CPU without it, and no guard in the kernel. (The function-local static it
// replaces had its first-call path inlined into unpack_residuals, which made every call save five
// registers and realign its stack: ~14 instructions of a ~100-instruction block.)
constexpr Layouts kLayouts = make_layouts();

inline __m256i zigzag4(__m256i d) { return _mm256_xor_si256(_mm256_slli_epi64(d, 1), _mm256_cmpgt_epi64(_mm256_setzero_si256(), d)); }

// cost[c] += cnt * bit length of each lane's OR, lane k standing for predictor index lag_of(k)
template <class F>
inline void add_lane_costs(__m256i acc, size_t cnt, uint64_t* cost, F lag_of) {
  alignas(32) uint64_t a[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), acc);
  for (int k = 0; k < 4; ++k) cost[lag_of(k)] += cnt * (a[k] ? 64 - uint64_t(clz64(a[k])) : 0);
}

}  // namespace

void unpack_residuals(const uint8_t* q, size_t avail, size_t cnt, int width, uint64_t* r) {
  // the vector path reads 16 bytes from the last group's high-lane byte ((14 * width) / 8)
  if (cnt != kUnpackRows || width <= 0 || width > kMaxShuffleWidth || avail < size_t(14 * unsigned(width) / 8 + 16))
    return scalar::unpack_residuals(q, avail, cnt, width, r);
  const WidthLayout& L = kLayouts.w[width];
  const __m256i mask = _mm256_set1_epi64x(int64_t((uint64_t(1) << width) - 1));
  const __m256i one = _mm256_set1_epi64x(1);
  for (int g = 0; g < 4; ++g) {
    const GroupLayout& G = L.g[g];
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + G.lo));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + G.hi));
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    const __m256i shuffle = _mm256_load_si256(reinterpret_cast<const __m256i*>(G.shuffle));
    const __m256i shift = _mm256_load_si256(reinterpret_cast<const __m256i*>(G.shift));
    v = _mm256_and_si256(_mm256_srlv_epi64(_mm256_shuffle_epi8(v, shuffle), shift), mask);
    // unzigzag: (z >> 1) ^ -(z & 1)
    v = _mm256_xor_si256(_mm256_srli_epi64(v, 1), _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_and_si256(v, one)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + 4 * g), v);
  }
}

uint64_t block_residuals(const uint64_t* x, size_t cnt, size_t lag, uint64_t* z) {
  // 4 rows per step: the prediction loaded unaligned from 1, 2 or lag rows back, zigzag as
  // (r << 1) ^ (0 - (r >> 63)) (no 64-bit arithmetic shift in AVX2)
  __m256i acc = _mm256_setzero_si256();
  const ptrdiff_t back = ptrdiff_t(lag ? lag : 1);
  size_t i = 0;
  for (; i + 4 <= cnt; i += 4) {
    const __m256i xi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i p1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + ptrdiff_t(i) - back));
    __m256i p = p1;
    if (!lag) {
      const __m256i p2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + ptrdiff_t(i) - 2));
      p = _mm256_sub_epi64(_mm256_add_epi64(p1, p1), p2);
    }
    const __m256i r = _mm256_sub_epi64(xi, p);
    const __m256i zz = _mm256_xor_si256(_mm256_slli_epi64(r, 1),
                                        _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_srli_epi64(r, 63)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(z + i), zz);
    acc = _mm256_or_si256(acc, zz);
  }
  const __m128i a2 = _mm_or_si128(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  const uint64_t a = uint64_t(_mm_cvtsi128_si64(a2)) | uint64_t(_mm_extract_epi64(a2, 1));
  return a | block_residuals_from(x, i, cnt, lag, z);
}

void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  static_assert(kProbeLags == 16, "four vectors of four lags");
  if (nv == 1) {
    // lane k of the vector loaded at w + t - 4m holds the word 4m - k rows before t
    for (size_t t0 = size_t(kProbeLags); t0 < n; t0 += kUnpackRows) {
      const size_t cnt = std::min(kUnpackRows, n - t0);
      __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
      uint64_t dd = 0;
      for (size_t t = t0; t < t0 + cnt; ++t) {
        const __m256i x = _mm256_set1_epi64x(int64_t(w[t]));
        for (int m = 0; m < 4; ++m) {
          const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + t - 4 * size_t(m + 1)));
          acc[m] = _mm256_or_si256(acc[m], zigzag4(_mm256_sub_epi64(x, p)));
        }
        const uint64_t r = w[t] - 2 * w[t - 1] + w[t - 2];
        dd |= (r << 1) ^ uint64_t(int64_t(r) >> 63);
      }
      for (int m = 0; m < 4; ++m) add_lane_costs(acc[m], cnt, cost, [m](int k) { return 4 * (m + 1) - k; });
      cost[0] += cnt * (dd ? 64 - uint64_t(clz64(dd)) : 0);
    }
    return;
  }
  // four columns per vector (lane k: column j + k), the predictors one after another
  size_t j = 0;
  for (; j + 4 <= nv; j += 4) {
    for (size_t t0 = size_t(kProbeLags); t0 < n; t0 += kUnpackRows) {
      const size_t cnt = std::min(kUnpackRows, n - t0);
      auto row = [&](size_t t) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + t * nv + j)); };
      __m256i acc = _mm256_setzero_si256();
      for (size_t t = t0; t < t0 + cnt; ++t) {
        const __m256i p1 = row(t - 1);
        acc = _mm256_or_si256(acc, zigzag4(_mm256_add_epi64(_mm256_sub_epi64(_mm256_sub_epi64(row(t), p1), p1), row(t - 2))));
      }
      add_lane_costs(acc, cnt, cost, [](int) { return 0; });
      for (int L = 1; L <= kProbeLags; ++L) {
        acc = _mm256_setzero_si256();
        for (size_t t = t0; t < t0 + cnt; ++t) acc = _mm256_or_si256(acc, zigzag4(_mm256_sub_epi64(row(t), row(t - size_t(L)))));
        add_lane_costs(acc, cnt, cost, [L](int) { return L; });
      }
    }
  }
  lag_costs_columns(w, n, nv, j, nv, cost);
}

void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  // the samples widened to int32, 8 per vector; the cost of |d| (< 2^17, so exact as a float) is
  // its float's biased exponent minus 125 (1.0 -> 2 = bit length 1 plus one), 0 for d = 0
  alignas(32) int32_t a[kNarrowProbeMax];
  for (size_t t = 0; t < n; ++t) a[t] = narrow_sample(x, bits, t);
  const __m256i bias = _mm256_set1_epi32(125);
  __m256i acc[kProbeLags];
  for (auto& v : acc) v = _mm256_setzero_si256();
  size_t t = size_t(kProbeLags);
  for (; t + 8 <= n; t += 8) {
    const __m256i xt = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + t));  // t is a multiple of 8
    for (int L = 1; L <= kProbeLags; ++L) {
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + t - size_t(L)));
      const __m256i f = _mm256_castps_si256(_mm256_cvtepi32_ps(_mm256_abs_epi32(_mm256_sub_epi32(xt, p))));
      acc[L - 1] = _mm256_add_epi32(acc[L - 1], _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(f, 23), bias),
                                                                 _mm256_setzero_si256()));
    }
  }
  for (int L = 1; L <= kProbeLags; ++L) {  // lanes hold at most 4096 / 8 * 18: no overflow
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[L - 1]);
    for (int k = 0; k < 8; ++k) cost[L] += uint64_t(lanes[k]);
  }
  narrow_lag_costs_from(x, bits, t, n, cost);
}

}  // namespace avx2
}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
