// Sprintz chunks of 32/64-bit integers and lossless floats (dtype codes 4..9 of sprintz.hpp).
//
// A chunk has the usual 12-byte chunk header: u8 mode (0 coded, 1 coded then Huffman-coded as a
// whole by the 8/16-bit format's Huffman stage, where that saves >= 8%; 2 raw rows row-major),
// u8 layout (0 the first layout; 1 float chunks whose exceptions are in the compact layout, which
// this build writes for every coded float chunk), two zero bytes, u32 stored length, u32 length
// of the coded body (= stored length in modes 0 and 2). A coded chunk's body:
//   float dtypes only: nvars exponent bytes (e in [0, 18]: the column holds decimal digits d with
//     value = d / 10^e, the division done in double then, for float32, rounded to float; 255: the
//     column holds the values' bit patterns), then the exceptions: the values whose digits do not
//     reproduce them bit for bit (-0.0, NaN, infinities, too many digits), in row-major order of
//     position (r * nvars + v within the chunk), overwriting the decoded values:
//     first layout: u32 count k, k u32 positions (strictly increasing), k raw values (itemsize
//       bytes each); the column holds the previous row's digits (0 in the first row) in their place;
//     compact layout: LEB128 count k, then per exception LEB128 position gap (the first position,
//       then the count of values since the previous exception) and LEB128 tag. Tag zigzag(rem) * 4
//       + k, k in [1, 3]: the value is D / 10^(e + k) by the rule above, D = d * 10^k + rem (mod
//       2^64) with d the column's word there, its digits rounded at exponent e (values with a few
//       more decimals than their column, such as numbers of 8 significant digits below 0.1).
//       Tag 0: itemsize raw bytes of the value follow; the column holds the rounded digits where
//       |value * 10^e| < 2^52, else the previous row's word (0 in the first row).
//   then the chunk's integer words (an int32 sign-extended, a uint32 zero-extended, 64-bit as is,
//   float digits as int64, float32 bit patterns zero-extended), all arithmetic modulo 2^64:
//     u8 kind: 0 delta (prediction: previous word of the column), 1 delta of delta (previous word
//       plus the previous change: regularly sampled timestamps cost nothing), 2 narrowed, 3 lagged
//       (then u8 L in [2, 16]; prediction: the word L rows earlier in the column, 0 in the first L
//       rows: periodic signals), 4 stepped and 5 dictionary (below);
//     kinds 0, 1 and 3: blocks of 16 rows (the last may be shorter), each: nvars width bytes (0..64);
//       if all are zero, a LEB128 count of further all-zero blocks follows; otherwise for each
//       column its zigzagged residuals bit-packed LSB-first in ceil(count * width / 8) bytes;
//     kind 2 (the chunk's words span less than 2^16): u64 base, then a complete 16-bit chunk
//       (sprintz.hpp's format: FIRE, lags and Huffman apply) of the words minus base.
//     kind 4, stepped (FIRE streams only; regularly sampled columns such as timestamps): per
//       column u64 start, u64 step s, LEB128 count of exceptions, then per exception LEB128
//       (row gap * 2 + rebase) and LEB128 zigzag(delta). Row 0 is start; every other row is the
//       line's value (the previous line value + s) except at an exception's row (the row gap after
//       the previous exception's row + 1, first after row 0), which is line value + delta; with
//       rebase the line continues from that value, else (one jittered sample) it stays.
//     kind 5, dictionary (the chunk repeats few distinct words): LEB128 count m >= 1 of the
//       distinct words, the m words as one column of kind 0 blocks (sorted, so small deltas), then
//       a complete integer part (kind byte onwards, any kind but 5) of the (rows x nv) ranks: each
//       word is the dictionary entry its rank (< m) names.
// Forecaster state starts at zero in every chunk and column.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/isa.hpp"
#include "common/portable.hpp"
#include "sprintz/codec_wide.hpp"
#include "sprintz/sprintz.hpp"
#include "sprintz/wide_blocks.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace {

using u64 = uint64_t;

constexpr size_t kBlockRows = 16;
constexpr int kMaxDecimalExp = 18;  // 10^18 < 2^63: digits and powers of ten stay exact
constexpr uint8_t kBitsColumn = 255;
constexpr double kTwo52 = 4503599627370496.0;  // below 2^52 every integer converts to double exactly
constexpr size_t kExpSamples = 512;            // values per column tried for each exponent
constexpr uint8_t kKindDelta = 0, kKindDeltaDelta = 1, kKindNarrow = 2, kKindLag = 3, kKindStepped = 4,
                  kKindDictionary = 5;
constexpr int kMaxLag = 16;
constexpr size_t kLagProbeRows = 4096;  // rows of the first column the lag estimate looks at
constexpr u64 kNarrowSpan = 1 << 16;
constexpr size_t kBothCandidatesValues = 1024;
constexpr size_t kSteppedSureBits = 1;
constexpr size_t kStepVoteRows = 256;  // rows whose differences elect a column's step (common_step)
// dictionary kind: tried for chunks of at least 2 kDictProbeValues words while their distinct words
// stay under count / kDictMaxShare (and 7/8 of the first kDictProbeValues words)
constexpr size_t kDictProbeValues = 1024, kDictMaxShare = 8;
// and taken only where it makes the integer part at least 1 - num/den (10%) smaller: its ranks decode
// through an extra gather, which costs more than small savings are worth
constexpr size_t kDictGainNum = 9, kDictGainDen = 10;  // bits per value below which a stepped chunk skips the packed try
// a wide chunk keeps the whole-chunk Huffman stage only where it is at least 1 - num/den (8%)
// smaller: decoding it costs ~2 cycles per coded byte, about as much as the rest of a 64-bit chunk's
// decoding (counter-u64 decoded 1.7x slower for a 6% saving)
constexpr size_t kWideHuffmanNum = 23, kWideHuffmanDen = 25;
// chunk header byte 1 (zero in the first wide layout): bit 0 set when the float exceptions are in
// the compact layout (see the file comment)
constexpr uint8_t kLayoutCompactExceptions = 1;
constexpr int kMaxExtraDigits = 3;  // an exception's digits may have up to this many more decimals
constexpr u64 kPow10Int[kMaxExtraDigits + 1] = {1, 10, 100, 1000};
constexpr size_t kMaxLeb = 10;  // bytes of a LEB128-coded 64-bit number

const double kPow10[kMaxDecimalExp + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                           1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("corrupt or invalid Sprintz stream: " + what);
}

bool is_float(int dtype) { return dtype >= 8; }

template <class U>
U load(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  return v;
}
template <class U>
void append(std::vector<uint8_t>& o, U v) {
  const size_t at = o.size();
  o.resize(at + sizeof(U));
  std::memcpy(o.data() + at, &v, sizeof(U));
}

void put_leb(std::vector<uint8_t>& o, u64 c) {
  for (;; c >>= 7) {
    o.push_back(uint8_t((c & 0x7f) | (c >= 0x80 ? 0x80 : 0)));
    if (c < 0x80) return;
  }
}
// Reads a LEB128 number from b[at, end); fails on a truncated or over-long one.
inline u64 get_leb(const uint8_t* b, size_t end, size_t& at) {
  if (at < end && b[at] < 0x80) return b[at++];  // the common one-byte case
  u64 v = 0;
  for (size_t i = 0; i < kMaxLeb; ++i) {
    if (at >= end) fail("truncated LEB128 number");
    const uint8_t c = b[at++];
    v |= u64(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) return v;
  }
  fail("LEB128 number longer than 10 bytes");
}

inline u64 zigzag(u64 r) { return (r << 1) ^ u64(int64_t(r) >> 63); }
inline u64 unzigzag(u64 z) { return (z >> 1) ^ (u64(0) - (z & 1)); }

// Element (r, j) of a chunk view, as a word / from a word.
inline u64 read_word(const uint8_t* x, int dtype, const View& v, size_t r, size_t j) {
  const uint8_t* p = x + (ptrdiff_t(r) * v.rs + ptrdiff_t(j) * v.cs) * ptrdiff_t(dtype_size(dtype));
  switch (dtype) {
    case 4: return u64(int64_t(load<int32_t>(p)));
    case 5: case 8: return load<uint32_t>(p);
    default: return load<u64>(p);
  }
}
inline void write_item(uint8_t* out, size_t isz, const View& v, size_t r, size_t j, u64 bits) {
  uint8_t* p = out + (ptrdiff_t(r) * v.rs + ptrdiff_t(j) * v.cs) * ptrdiff_t(isz);
  if (isz == 4) {
    const uint32_t b = uint32_t(bits);
    std::memcpy(p, &b, 4);
  } else {
    std::memcpy(p, &bits, 8);
  }
}

// The chunk view's elements as (rows x nv) row-major words (read_word's rule), contiguous rows
// without per-element dispatch.
void read_words(const uint8_t* x, int dtype, const View& v, u64* w) {
  const size_t rows = v.rows, nv = v.nvars, count = rows * nv;
  if (v.cs == 1 && v.rs == ptrdiff_t(nv)) {
    if (dtype == 4) {
      for (size_t i = 0; i < count; ++i) w[i] = u64(int64_t(load<int32_t>(x + 4 * i)));
    } else if (dtype == 5 || dtype == 8) {
      for (size_t i = 0; i < count; ++i) w[i] = load<uint32_t>(x + 4 * i);
    } else {
      std::memcpy(w, x, count * 8);
    }
    return;
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < nv; ++j) w[r * nv + j] = read_word(x, dtype, v, r, j);
}

// The value digits d stand for with exponent e, as the item's bit pattern (the decoder's rule).
inline u64 decimal_bits(int64_t d, double pow10, bool f32) {
  const double x = double(d) / pow10;
  if (f32) {
    const float f = float(x);
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  }
  u64 b;
  std::memcpy(&b, &x, 8);
  return b;
}

inline double as_double(u64 bits, bool f32) {
  if (f32) {
    float f;
    const uint32_t b = uint32_t(bits);
    std::memcpy(&f, &b, 4);
    return double(f);
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

// The nearest integer d to a value times 10^e, if |value * 10^e| < 2^52 (false for NaN and
// infinities).
inline bool round_digits(u64 bits, double pow10, bool f32, int64_t& d) {
  const double y = as_double(bits, f32) * pow10;
  if (!(std::fabs(y) < kTwo52)) return false;  // also NaN and infinities
  // round half to even as nearbyint in the default rounding mode (no libm call on baseline
  // x86-64): for 0 <= y < 2^52, y + 2^52 lies where doubles are exactly the integers, so the
  // addition rounds y to its nearest integer (ties to even) and the subtraction is exact (and
  // mirrored for y < 0; the sign taken without a branch, which random signs would mispredict)
  const double big = std::copysign(kTwo52, y);
  d = int64_t((y + big) - big);
  return true;
}

// Digits of a value for exponent e, if they reproduce it bit for bit.
inline bool to_digits(u64 bits, double pow10, bool f32, int64_t& d) {
  return round_digits(bits, pow10, f32, d) && decimal_bits(d, pow10, f32) == bits;
}

// A compact exception of a decimal column with exponent e (the value's bits do not equal its
// rounded digits' float): sets `word` to the digits the column stores in its place and returns
// the exception's tag: zigzag(rem) * 4 + k when the value has k in [1, kMaxExtraDigits] more
// decimals (its digits at exponent e + k are word * 10^k + rem), else 0 (raw bits follow; word is
// then the rounded digits where those exist, else `prev`, the column's previous word).
inline u64 exception_tag(u64 bits, int e, bool f32, u64 prev, u64& word) {
  int64_t d;
  if (!round_digits(bits, kPow10[e], f32, d)) {
    word = prev;
    return 0;
  }
  word = u64(d);
  for (int k = 1; k <= kMaxExtraDigits && e + k <= kMaxDecimalExp; ++k) {
    int64_t dk;
    if (to_digits(bits, kPow10[e + k], f32, dk)) return zigzag(u64(dk) - u64(d) * kPow10Int[k]) * 4 + u64(k);
  }
  return 0;
}

// The exponent of least estimated cost for a column: each extra decimal digit costs every value
// log2(10) bits, each value the exponent does not reproduce costs a compact exception (a tag, or
// a tag and raw bits). Only exponents reproducing at least half of the sampled values compete;
// kBitsColumn when none does.
uint8_t pick_exponent(const std::vector<u64>& w, size_t rows, size_t nv, size_t j, bool f32) {
  const size_t ns = std::min(rows, kExpSamples);
  if (ns == 0) return kBitsColumn;
  constexpr double kBitsPerDigit = 3.321928094887362;  // log2(10)
  // its position and raw bits, plus about one residual's worth for the break in the digits
  // sequence (the exception repeats the previous digits, the next residual spans two steps)
  constexpr double kBreakBits = 32;
  // a compact exception: a position gap and a tag of about a byte each, plus raw bits (and the
  // break in the digits where the value has none) unless a few more decimals reproduce it
  constexpr double kTagBits = 16;
  constexpr size_t kPricedMisses = 32;  // misses priced one by one; the rest at their mean
  const double raw_bits = kTagBits + 8.0 * (f32 ? 4 : 8);
  const size_t probe = std::min<size_t>(ns, 16);  // an exponent missing most of these cannot reach half
  double best_cost = 0;
  int best = -1;
  for (int e = 0; e <= kMaxDecimalExp; ++e) {
    if (best >= 0 && e * kBitsPerDigit * double(ns) >= best_cost) break;  // cannot win
    size_t hits = 0, tried = 0, priced = 0;
    double miss_bits = 0;  // of the first kPricedMisses misses
    for (size_t s = 0; s < ns; ++s) {
      int64_t d;
      const u64 bits = w[(s * rows / ns) * nv + j];
      if (to_digits(bits, kPow10[e], f32, d)) {
        ++hits;
      } else if (priced < kPricedMisses) {
        u64 word;
        const bool in_range = round_digits(bits, kPow10[e], f32, d);
        miss_bits += exception_tag(bits, e, f32, 0, word) ? kTagBits : raw_bits + (in_range ? 0 : kBreakBits);
        ++priced;
      }
      if (++tried == probe && 2 * hits < probe) break;
    }
    if (tried < ns || 2 * hits < ns) continue;
    const double cost = e * kBitsPerDigit * double(ns) + (priced ? miss_bits / double(priced) * double(ns - hits) : 0);
    if (best < 0 || cost < best_cost) {
      best_cost = cost;
      best = e;
    }
    if (hits == ns) break;  // every sample exact: a larger exponent only adds digits
  }
  return best >= 0 ? uint8_t(best) : kBitsColumn;
}

// Kinds 0, 1 and 3: residuals of the (rows x nv) row-major words, block-packed, appended to o.
// The prediction of word (r, j) from the words before it in its column: delta w[r-1], delta of
// delta 2 w[r-1] - w[r-2], lag L w[r-L], with w[r] = 0 for r < 0.
template <int Kind>
inline u64 predict(const u64* c, size_t r, size_t nv, size_t lag) {
  const u64 p1 = r >= 1 ? c[(r - 1) * nv] : 0;
  if (Kind == kKindDelta) return p1;
  if (Kind == kKindDeltaDelta) return 2 * p1 - (r >= 2 ? c[(r - 2) * nv] : 0);
  return r >= lag ? c[(r - lag) * nv] : 0;
}

// zigzag with a logical shift (SSE2 and NEON vectorise it; no 64-bit arithmetic shift needed).
inline u64 zigzag_v(u64 r) { return (r << 1) ^ (u64(0) - (r >> 63)); }

// The zigzagged residuals of rows [r0, r0 + cnt) of column c (c[r * nv]) into z[0, cnt); returns their OR.
// Stride1: nv == 1 (a constant stride, so the compiler vectorises the loop).
template <int Kind, bool Stride1>
inline u64 block_residuals(const u64* c, size_t r0, size_t cnt, size_t nv_arg, size_t lag, u64* z) {
  const size_t nv = Stride1 ? 1 : nv_arg;
  u64 acc = 0;
  const size_t history = Kind == kKindLag ? lag : Kind == kKindDeltaDelta ? 2 : 1;
  if (r0 >= history) {  // every prediction inside the column: no bounds to test
    const u64* x = c + r0 * nv;
    const ptrdiff_t back = ptrdiff_t(Kind == kKindLag ? lag * nv : nv);
    for (size_t i = 0; i < cnt; ++i) {
      const u64* xi = x + i * nv;
      const u64 p = Kind == kKindDeltaDelta ? 2 * xi[-back] - xi[-2 * back] : xi[-back];
      const u64 zi = zigzag_v(*xi - p);
      z[i] = zi;
      acc |= zi;
    }
    return acc;
  }
  for (size_t i = 0; i < cnt; ++i) {
    z[i] = zigzag(c[(r0 + i) * nv] - predict<Kind>(c, r0 + i, nv, lag));
    acc |= z[i];
  }
  return acc;
}

// put_leb's bytes at q; returns the end.
inline uint8_t* put_leb_at(uint8_t* q, u64 c) {
  for (;; c >>= 7) {
    *q++ = uint8_t((c & 0x7f) | (c >= 0x80 ? 0x80 : 0));
    if (c < 0x80) return q;
  }
}

template <int Kind>
void pack_kind(const u64* w, size_t rows, size_t nv, size_t lag, std::vector<uint8_t>& o) {
  static thread_local std::vector<u64> zb;       // a block's residuals, column-major (16 per column)
  static thread_local std::vector<uint8_t> wd;   // a block's widths
  static thread_local std::vector<uint8_t> buf;  // the packed bytes, grown only (never zero-filled again)
  const size_t nblocks = (rows + kBlockRows - 1) / kBlockRows;
  // widths, at most 8 bytes a value, a zero run's count per block, and a store's slack
  const size_t bound = nblocks * (nv + kMaxLeb) + rows * nv * 8 + 8;
  if (buf.size() < bound) buf.resize(bound);
  zb.resize(kBlockRows * nv);
  wd.resize(nv);
  uint8_t* const q0 = buf.data();
  uint8_t* q = q0;
  // one column: whole blocks past the first rows go through wide::block_residuals (lag 0 is delta of delta)
  const wide::ResidualsFn residuals = wide::residual_maker();
  const size_t history = Kind == kKindLag ? lag : Kind == kKindDeltaDelta ? 2 : 1;
  const size_t kernel_lag = Kind == kKindLag ? lag : Kind == kKindDeltaDelta ? 0 : 1;
  bool in_run = false;  // inside a run of all-zero blocks: its first block's zero widths are written
  u64 zero_run = 0;     // and this many all-zero blocks have followed it
  for (size_t b = 0; b < nblocks; ++b) {
    const size_t r0 = b * kBlockRows, cnt = std::min(kBlockRows, rows - r0);
    u64 any = 0;
    for (size_t j = 0; j < nv; ++j) {
      u64* z = zb.data() + j * kBlockRows;
      const u64 acc = nv != 1         ? block_residuals<Kind, false>(w + j, r0, cnt, nv, lag, z)
                      : r0 < history ? block_residuals<Kind, true>(w, r0, cnt, 1, lag, z)
                                     : residuals(w + r0, cnt, kernel_lag, z);  // the SIMD kernel
      wd[j] = uint8_t(acc ? 64 - clz64(acc) : 0);
      any |= acc;
    }
    if (!any) {
      if (in_run) {
        ++zero_run;
      } else {
        std::memset(q, 0, nv);
        q += nv;
        in_run = true;
        zero_run = 0;
      }
      continue;
    }
    if (in_run) q = put_leb_at(q, zero_run);
    in_run = false;
    if (nv == 1)
      *q = wd[0];
    else
      std::memcpy(q, wd.data(), nv);
    q += nv;
    for (size_t j = 0; j < nv; ++j) {
      wide::pack_residuals(zb.data() + j * kBlockRows, cnt, wd[j], q);
      q += (cnt * wd[j] + 7) / 8;
    }
  }
  if (in_run) q = put_leb_at(q, zero_run);
  o.insert(o.end(), q0, q);
}

void pack_words(const u64* w, size_t rows, size_t nv, int kind, size_t lag, std::vector<uint8_t>& o) {
  if (kind == kKindDeltaDelta) return pack_kind<kKindDeltaDelta>(w, rows, nv, 0, o);
  if (kind == kKindLag) return pack_kind<kKindLag>(w, rows, nv, lag, o);
  pack_kind<kKindDelta>(w, rows, nv, 0, o);
}

// Rebuilds rows [r0, r0 + cnt) of column j of w from their residuals z (unzigzagged) under
// predictor Kind; x and s carry the column's previous word and previous change.
template <int Kind>
inline void apply_block(const u64* z, size_t cnt, u64* w, size_t r0, size_t nv, size_t j, size_t lag, u64& xr,
                        u64& sr) {
  u64* o = w + r0 * nv + j;
  u64 x = xr, s = sr;  // in registers (through the references every store to o would reload them)
  if (Kind == kKindDelta) {
    for (size_t i = 0; i < cnt; ++i) {
      x += z[i];
      o[i * nv] = x;
    }
  } else if (Kind == kKindDeltaDelta) {
    for (size_t i = 0; i < cnt; ++i) {
      s += z[i];
      x += s;
      o[i * nv] = x;
    }
  } else {
    size_t i = 0;
    for (; i < cnt && r0 + i < lag; ++i) o[i * nv] = z[i];  // no word L rows earlier: prediction 0
    if (i < cnt) {
      const u64* p = w + (r0 + i - lag) * nv + j;  // the word L rows before row r0 + i
      if (nv == 1) {
        for (size_t k = i; k < cnt; ++k) o[k] = p[k - i] + z[k];
      } else {
        for (size_t k = i; k < cnt; ++k) o[k * nv] = p[(k - i) * nv] + z[k];
      }
    }
  }
  xr = x;
  sr = s;
}

// Adds to each word of w[L, n) the word L rows earlier (the lagged predictor of one column, after
// its residuals were unpacked into w): the last L words stay in registers, so no load waits on the
// store just before it.
template <size_t L>
void lag_sums(u64* w, size_t n) {
  if (n <= L) return;
  u64 last[L];
  for (size_t t = 0; t < L; ++t) last[t] = w[t];
  size_t k = L;
  for (; k + L <= n; k += L)
    for (size_t t = 0; t < L; ++t) w[k + t] = last[t] += w[k + t];
  for (size_t t = 0; k + t < n; ++t) w[k + t] = last[t] += w[k + t];
}

template <size_t... Ls>
void lag_sums_any(u64* w, size_t n, size_t lag, std::index_sequence<Ls...>) {
  ((lag == Ls + 2 ? lag_sums<Ls + 2>(w, n) : void()), ...);
}

// Reads a block's zero-run count (LEB128) at src[pos, len); fails on a truncated or overlong one.
inline u64 zero_run(const uint8_t* src, size_t len, size_t& pos) {
  u64 k = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= len || shift > 63) fail("truncated or overlong zero-run count");
    const uint8_t byte = src[pos++];
    k |= u64(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return k;
  }
}

// The running sums of one column's block of N residuals in o (kind delta: the word x; delta of
// delta: the change s, then the word x), in place.
template <int Kind, size_t N>
inline void column_sums(u64* o, u64& x, u64& s) {
  if (Kind == kKindDelta) {
    for (size_t i = 0; i < N; ++i) o[i] = x += o[i];
  } else if (Kind == kKindDeltaDelta) {
    for (size_t i = 0; i < N; ++i) o[i] = x += s += o[i];
  }
}

// unpack_words_kind for one column (nv = 1): each block's residuals are unpacked straight into
// w, delta and delta of delta summed there while the block is in L1 (the running word and change
// in registers), the lagged predictor applied in one pass at the end (lag_sums). Same stream,
// same checks and messages as the general loop.
template <int Kind>
size_t unpack_column(const uint8_t* src, size_t len, size_t rows, size_t lag, u64* w) {
  const UnpackFn unpack = residual_unpacker();
  const size_t nblocks = (rows + kBlockRows - 1) / kBlockRows;
  size_t pos = 0;
  u64 x = 0, s = 0;
  for (size_t b = 0; b < nblocks;) {
    const size_t r0 = b * kBlockRows;
    if (len - pos < 1) fail("truncated block widths");
    const int width = src[pos++];
    if (width > 64) fail("block width above 64");
    if (!width) {
      const u64 k = zero_run(src, len, pos);
      if (k > nblocks - b - 1) fail("zero run past the end of the chunk");
      const size_t r1 = std::min(rows, (b + 1 + size_t(k)) * kBlockRows);
      if (Kind == kKindDelta) {
        std::fill(w + r0, w + r1, x);
      } else if (Kind == kKindDeltaDelta) {
        for (size_t r = r0; r < r1; ++r) w[r] = x += s;
      } else {
        std::fill(w + r0, w + r1, u64(0));
      }
      b += 1 + size_t(k);
      continue;
    }
    const size_t cnt = std::min(kBlockRows, rows - r0);
    const size_t nbytes = (cnt * size_t(width) + 7) / 8;
    if (len - pos < nbytes) fail("truncated block");
    const uint8_t* p = src + pos;
    uint8_t padded[kBlockRows * 8 + 9];  // as in the general loop
    if (len - pos < nbytes + 9) {
      std::memset(padded, 0, sizeof(padded));
      std::memcpy(padded, p, nbytes);
      p = padded;
    }
    u64* o = w + r0;
    unpack(p, p == padded ? sizeof(padded) : len - pos, cnt, width, o);
    if (cnt == kBlockRows) {  // a full block: a loop of constant count, unrolled (no counter)
      column_sums<Kind, kBlockRows>(o, x, s);
    } else {
      if (Kind == kKindDelta) {
        for (size_t i = 0; i < cnt; ++i) o[i] = x += o[i];
      } else if (Kind == kKindDeltaDelta) {
        for (size_t i = 0; i < cnt; ++i) o[i] = x += s += o[i];
      }
    }
    pos += nbytes;
    ++b;
  }
  if (Kind == kKindLag) lag_sums_any(w, rows, lag, std::make_index_sequence<kMaxLag - 1>());
  return pos;
}

// Decodes kinds 0, 1 and 3 from src[0, len) into the (rows x nv) words; returns the bytes used.
template <int Kind>
size_t unpack_words_kind(const uint8_t* src, size_t len, size_t rows, size_t nv, size_t lag, u64* w) {
  if (nv == 1) return unpack_column<Kind>(src, len, rows, lag, w);
  static thread_local std::vector<u64> state_tls;
  std::vector<u64>& state = state_tls;
  state.assign(2 * nv, 0);
  u64* prev = state.data();
  u64* step = prev + nv;
  static const u64 zeros[kBlockRows] = {};
  const UnpackFn unpack = residual_unpacker();
  const size_t nblocks = (rows + kBlockRows - 1) / kBlockRows;
  size_t pos = 0;
  u64 z[kBlockRows];
  for (size_t b = 0; b < nblocks;) {
    const size_t r0 = b * kBlockRows;
    if (len - pos < nv) fail("truncated block widths");
    const uint8_t* widths = src + pos;
    pos += nv;
    uint8_t any = 0, top = 0;
    for (size_t j = 0; j < nv; ++j) {
      any |= widths[j];
      top = std::max(top, widths[j]);
    }
    if (top > 64) fail("block width above 64");
    if (!any) {
      const u64 k = zero_run(src, len, pos);
      if (k > nblocks - b - 1) fail("zero run past the end of the chunk");
      const size_t r1 = std::min(rows, (b + 1 + size_t(k)) * kBlockRows);
      for (size_t j = 0; j < nv; ++j)
        for (size_t r = r0; r < r1; r += kBlockRows)
          apply_block<Kind>(zeros, std::min(kBlockRows, r1 - r), w, r, nv, j, lag, prev[j], step[j]);
      b += 1 + size_t(k);
      continue;
    }
    const size_t cnt = std::min(kBlockRows, rows - r0);
    for (size_t j = 0; j < nv; ++j) {
      const int width = widths[j];
      const size_t nbytes = (cnt * size_t(width) + 7) / 8;
      if (len - pos < nbytes) fail("truncated block");
      const uint8_t* p = src + pos;
      // 9 bytes from each value's first byte: in place when the stream has them, else from a
      // zero-padded copy of the column's bytes
      uint8_t padded[kBlockRows * 8 + 9];
      if (len - pos < nbytes + 9) {
        std::memset(padded, 0, sizeof(padded));
        std::memcpy(padded, p, nbytes);
        p = padded;
      }
      unpack(p, p == padded ? sizeof(padded) : len - pos, cnt, width, z);
      apply_block<Kind>(z, cnt, w, r0, nv, j, lag, prev[j], step[j]);
      pos += nbytes;
    }
    ++b;
  }
  return pos;
}

// Decodes kind kKindStepped (after its kind byte) from b[at, end) into the (rows x nv) words.
void unpack_stepped(const uint8_t* b, size_t end, size_t& at, size_t rows, size_t nv, u64* w) {
  for (size_t j = 0; j < nv; ++j) {
    if (end - at < 16) fail("truncated stepped column");
    u64 pred = load<u64>(b + at);
    const u64 s = load<u64>(b + at + 8);
    at += 16;
    const u64 count = get_leb(b, end, at);
    if (count >= std::max<size_t>(rows, 1) || count > (end - at) / 2) fail("stepped exception count exceeds the chunk");
    u64* o = w + j;
    if (rows) o[0] = pred;
    size_t r = 1;  // the next row to write
    for (u64 i = 0; i < count; ++i) {
      const u64 gap_flag = get_leb(b, end, at);
      const u64 gap = gap_flag >> 1;
      if (gap >= rows - r) fail("invalid stepped exception row");
      const size_t row = r + size_t(gap);
      for (; r < row; ++r) o[r * nv] = pred += s;
      pred += s;
      const u64 x = pred + unzigzag(get_leb(b, end, at));
      o[row * nv] = x;
      if (gap_flag & 1) pred = x;
      r = row + 1;
    }
    for (; r < rows; ++r) o[r * nv] = pred += s;
  }
}

size_t unpack_words(const uint8_t* src, size_t len, size_t rows, size_t nv, int kind, size_t lag, u64* w) {
  if (kind == kKindDelta) return unpack_words_kind<kKindDelta>(src, len, rows, nv, lag, w);
  if (kind == kKindDeltaDelta) return unpack_words_kind<kKindDeltaDelta>(src, len, rows, nv, lag, w);
  return unpack_words_kind<kKindLag>(src, len, rows, nv, lag, w);
}

// The predictor (kind, and lag for kKindLag) whose residuals look cheapest on the chunk's first
// rows (estimated cost of a residual: its bit length, summed over the columns): delta, delta of
// delta (if allowed) or a lag in [2, kMaxLag], a longer lag only where clearly cheaper (multiples
// of a period tie). Only the chosen one is then coded.
int choose_predictor(const u64* w, size_t rows, size_t nv, bool allow_dd, size_t& lag) {
  const size_t n = std::min(rows, std::max<size_t>(4 * kMaxLag, kLagProbeRows / nv));
  lag = 0;
  if (n < 4 * kMaxLag) return allow_dd ? kKindDeltaDelta : kKindDelta;  // too short to tell: tiny either way
  static_assert(kMaxLag == kProbeLags && kBlockRows == kUnpackRows, "the probe prices this codec's lags and blocks");
  uint64_t cost[kMaxLag + 1];  // [0]: delta of delta, [L]: lag L
  wide::lag_costs(w, n, nv, cost);
  const uint64_t cost_dd = cost[0];
  int kind = kKindDelta;
  uint64_t best = cost[1];
  if (allow_dd && cost_dd < best) {
    kind = kKindDeltaDelta;
    best = cost_dd;
  }
  for (int L = 2; L <= kMaxLag; ++L)
    if (cost[L] < best - best / 8) {
      kind = kKindLag;
      lag = size_t(L);
      best = cost[L];
    }
  return kind;
}

// The bytes kinds 0, 1 and 3 would take for the (rows x nv) words, estimated from the predictor
// probe's bits on the first rows (choose_predictor's) plus a width byte per block and column.
size_t plain_estimate(const u64* w, size_t rows, size_t nv, bool allow_dd) {
  const size_t n = std::min(rows, std::max<size_t>(4 * kMaxLag, kLagProbeRows / nv));
  const size_t widths = (rows + kBlockRows - 1) / kBlockRows * nv;
  if (n < 4 * kMaxLag) return widths + rows * nv * 8;  // too short to tell: the raw size bounds it
  uint64_t cost[kMaxLag + 1];
  wide::lag_costs(w, n, nv, cost);
  uint64_t best = allow_dd ? cost[0] : cost[1];
  for (int L = 1; L <= kMaxLag; ++L) best = std::min(best, cost[L]);
  return widths + size_t(best * rows / (n - kMaxLag) / 8);  // the probe prices rows [kMaxLag, n)
}

// The step most first differences of column j share among the first rows (a majority vote), and
// whether at least half of those differences equal it: the sign of a regularly sampled column.
bool common_step(const u64* w, size_t rows, size_t nv, size_t j, u64& step) {
  const size_t n = std::min(rows, kLagProbeRows);
  if (n < 2) return false;
  const u64* c = w + j;  // c[r * nv]: the column
  // the vote runs on the first kStepVoteRows rows only, which must themselves be regular: an
  // irregular column (most) is told in a few hundred rows, not the probe's thousands
  const size_t nvote = std::min(n, kStepVoteRows);
  u64 cand = 0;
  size_t votes = 0;
  for (size_t r = 1, at = nv; r < nvote; ++r, at += nv) {  // Boyer-Moore majority vote
    const u64 d = c[at] - c[at - nv];
    if (votes == 0) cand = d;
    votes += d == cand ? 1 : size_t(-1);
  }
  step = cand;
  // count the candidate's differences, stopping once the rest could not make up half (of the
  // voting rows first, then of all n)
  size_t same = 0;
  for (size_t r0 = 1; r0 < n;) {
    const size_t r1 = r0 < nvote ? nvote : std::min(n, r0 + kStepVoteRows);
    for (size_t r = r0, at = r0 * nv; r < r1; ++r, at += nv) same += c[at] - c[at - nv] == cand;
    if (r1 == nvote && 2 * same < nvote - 1) return false;
    if (2 * (same + (n - r1)) < n - 1) return false;
    r0 = r1;
  }
  return 2 * same >= n - 1;
}

// Kind kKindStepped (see the file comment) of the (rows x nv) words with the given steps, appended
// to o after the kind byte.
void pack_stepped(const u64* w, size_t rows, size_t nv, const u64* steps, std::vector<uint8_t>& o) {
  o.push_back(kKindStepped);
  for (size_t j = 0; j < nv; ++j) {
    const u64 s = steps[j];
    append<u64>(o, rows ? w[j] : 0);
    append<u64>(o, s);
    // the exceptions: count first, so collected aside
    static thread_local std::vector<uint8_t> ex;
    ex.clear();
    size_t count = 0, last = 1;  // last: the row after the previous exception (row 0 is the start)
    u64 pred = rows ? w[j] : 0;  // the anchored line's value at row r
    for (size_t r = 1; r < rows; ++r) {
      pred += s;
      const u64 x = w[r * nv + j];
      if (x == pred) continue;
      // rebase (the line continues from this value) unless the next row is back on the old line
      const bool rebase = !(r + 1 < rows && w[(r + 1) * nv + j] == pred + s);
      put_leb(ex, u64(r - last) * 2 + u64(rebase));
      put_leb(ex, zigzag(x - pred));
      ++count;
      last = r + 1;
      if (rebase) pred = x;
    }
    put_leb(o, count);
    o.insert(o.end(), ex.begin(), ex.end());
  }
}

// Whether the count words span < 2^16 in signed or in unsigned order, and from which base (the
// signed minimum where the signed span is short enough, else the unsigned minimum). Spans only
// grow, so each pass stops at the first block of kSpanBlock words where its span is too wide: a
// chunk that does not fit (most wide chunks) costs a block or two. The unsigned pass (which differs
// from the signed one only for words of both signs) runs only where the signed span is too wide.
bool narrow_base(const u64* w, size_t count, u64& base) {
  constexpr size_t kSpanBlock = 64;
  base = 0;  // (unused where the words do not fit)
  int64_t smin = INT64_MAX, smax = INT64_MIN;
  bool signed_fits = true;
  for (size_t i = 0; i < count && signed_fits; i += kSpanBlock) {
    const size_t end = std::min(count, i + kSpanBlock);
    for (size_t k = i; k < end; ++k) {
      smin = std::min(smin, int64_t(w[k]));
      smax = std::max(smax, int64_t(w[k]));
    }
    signed_fits = u64(smax) - u64(smin) < kNarrowSpan;
  }
  if (signed_fits) {
    base = u64(smin);
    return true;
  }
  u64 umin = ~u64(0), umax = 0;
  for (size_t i = 0; i < count; i += kSpanBlock) {
    const size_t end = std::min(count, i + kSpanBlock);
    for (size_t k = i; k < end; ++k) {
      umin = std::min(umin, w[k]);
      umax = std::max(umax, w[k]);
    }
    if (umax - umin >= kNarrowSpan) return false;
  }
  base = umin;
  return true;
}

// The integer part (kind byte onwards) of the (rows x nv) words, appended to o: narrowed where the
// words span < 2^16 (the 16-bit format's FIRE, lags and Huffman then apply: on every set of the
// benchmark's larger chunks it was never larger than the wide candidate, so that one is computed
// too only for chunks of at most kBothCandidatesValues values, where it can win),
// else the predictor choose_predictor picks (delta of delta in FIRE streams only).
// `fits` and `base`: narrow_base's answer for these words. Returns the bytes of the appended part
// already Huffman-coded (a narrowed chunk whose 16-bit coding took the Huffman stage), else 0.
size_t encode_plain(const u64* w, size_t rows, size_t nv, int forecaster, bool entropy, bool fits,
                  u64 base, std::vector<uint8_t>& o) {
  static thread_local std::vector<uint8_t> cand[3];
  static thread_local std::vector<u64> steps;
  static thread_local std::vector<uint16_t> narrow;
  for (auto& c : cand) c.clear();
  const size_t count = rows * nv;
  size_t lag;
  if (fits && count) {
    narrow.resize(count);
    for (size_t i = 0; i < count; ++i) narrow[i] = uint16_t(w[i] - base);
    cand[1].push_back(kKindNarrow);
    append<u64>(cand[1], base);
    append_chunk16(cand[1], narrow.data(), View{rows, nv, ptrdiff_t(nv), 1}, forecaster, entropy);
  }
  // stepped (regularly sampled columns): taken without the packed candidate when it costs
  // under kSteppedSureBits per value (packed needs a byte of widths per block and column at least)
  bool stepped_sure = false;
  if (forecaster == kForecastFire && rows >= 2) {
    steps.resize(nv);
    bool regular = true;
    for (size_t j = 0; j < nv && regular; ++j) regular = common_step(w, rows, nv, j, steps[j]);
    if (regular) {
      pack_stepped(w, rows, nv, steps.data(), cand[2]);
      stepped_sure = cand[2].size() * 8 < kSteppedSureBits * count;
    }
  }
  if (!stepped_sure && (cand[1].empty() || count <= kBothCandidatesValues)) {
    const int kind = choose_predictor(w, rows, nv, forecaster == kForecastFire, lag);
    cand[0].push_back(uint8_t(kind));
    if (kind == kKindLag) cand[0].push_back(uint8_t(lag));
    pack_words(w, rows, nv, kind, lag, cand[0]);
  }
  size_t best = 0;
  for (size_t c = 0; c < 3; ++c)
    if (!cand[c].empty() && (cand[best].empty() || cand[c].size() < cand[best].size())) best = c;
  o.insert(o.end(), cand[best].begin(), cand[best].end());
  // the narrowed candidate: kind byte, u64 base, then the 16-bit chunk (its header's byte 0 is its mode)
  constexpr size_t kInnerMode = 1 + 8;
  return best == 1 && cand[1][kInnerMode] == 1 ? cand[1].size() - kInnerMode : 0;
}

// The distinct words of w[0, count) sorted (as unsigned), and each word's rank among them in
// idx, if there are at most `limit`; false otherwise (found by an open-addressing hash table,
// abandoned as soon as the limit is passed).
bool dictionary_of(const u64* w, size_t count, size_t limit, std::vector<u64>& dict, std::vector<u64>& idx) {
  static thread_local std::vector<u64> keys;
  static thread_local std::vector<uint32_t> slot;  // 0 empty, else 1 + the key's entry in dict
  static thread_local std::vector<uint32_t> at;    // the slot of each word (no second lookup for the ranks)
  int bits = 4;
  while ((size_t(1) << bits) < 2 * limit + 2) ++bits;
  const size_t mask = (size_t(1) << bits) - 1;
  keys.resize(mask + 1);
  slot.assign(mask + 1, 0);
  at.resize(count);
  dict.clear();
  u64* const kp = keys.data();
  uint32_t* const sp = slot.data();
  uint32_t* const ap = at.data();
  auto find = [&](u64 k) {
    size_t h = size_t((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));  // Fibonacci hashing: 2^64 / golden ratio
    while (sp[h] && kp[h] != k) h = (h + 1) & mask;
    return h;
  };
  size_t distinct = 0;
  // slots [i, end) of the words; false once more than `limit` distinct words are seen
  auto insert = [&](size_t i, size_t end) {
    for (; i < end; ++i) {
      if (i && w[i] == w[i - 1]) {  // a repeated word (runs are common in such chunks): its slot again
        ap[i] = ap[i - 1];
        continue;
      }
      const size_t h = find(w[i]);
      ap[i] = uint32_t(h);
      if (sp[h]) continue;
      if (distinct == limit) return false;
      kp[h] = w[i];
      sp[h] = uint32_t(++distinct);
    }
    return true;
  };
  const size_t probe = std::min(count, kDictProbeValues);
  if (!insert(0, probe)) return false;
  // words that barely repeat in the first kDictProbeValues: give up early
  if (count > kDictProbeValues && 8 * distinct > 7 * kDictProbeValues) return false;
  if (!insert(probe, count)) return false;
  dict.resize(distinct);
  for (size_t h = 0; h <= mask; ++h)
    if (sp[h]) dict[sp[h] - 1] = kp[h];
  std::sort(dict.begin(), dict.end());
  for (size_t r = 0; r < distinct; ++r) sp[find(dict[r])] = uint32_t(r + 1);
  idx.resize(count);
  u64* const ip = idx.data();
  for (size_t i = 0; i < count; ++i) ip[i] = sp[ap[i]] - 1;
  return true;
}

// The integer part (kind byte onwards) of the (rows x nv) words, appended to o: encode_plain's,
// or where the chunk repeats few distinct words (levels of a coarse sensor, z-normalised per case),
// is not narrowed and that is >= 10% smaller, kind kKindDictionary: the sorted distinct words, then their ranks coded
// by encode_plain. Returns encode_plain's count of bytes already Huffman-coded in what it appended.
size_t encode_words(const u64* w, size_t rows, size_t nv, int forecaster, bool entropy,
                  std::vector<uint8_t>& o) {
  static thread_local std::vector<u64> dict, idx;
  static thread_local std::vector<uint8_t> alt;
  const size_t count = rows * nv, at = o.size();
  u64 base;
  const bool fits = narrow_base(w, count, base);
  // (a chunk spanning < 2^16 is narrowed: ranks would gain little there and decode slower)
  if (count < 2 * kDictProbeValues || fits || !dictionary_of(w, count, count / kDictMaxShare, dict, idx)) {
    return encode_plain(w, rows, nv, forecaster, entropy, fits, base, o);
  }
  alt.clear();
  alt.push_back(kKindDictionary);
  put_leb(alt, dict.size());
  pack_words(dict.data(), dict.size(), 1, kKindDelta, 0, alt);
  // the ranks are 0 .. m - 1, each present: narrow_base's answer without a pass over them. They
  // are coded with delta: FIRE (tried beside delta, kept where >= 1% smaller) never won on the
  // benchmark's dictionary chunks and doubled the ranks' coding time
  const size_t alt_coded = encode_plain(idx.data(), rows, nv, kForecastDelta, entropy, dict.size() <= kNarrowSpan, 0, alt);
  // a dictionary under half of the plain coding's estimated size is taken without coding the
  // chunk plainly in full
  if (alt.size() * 2 < plain_estimate(w, rows, nv, forecaster == kForecastFire)) {
    o.insert(o.end(), alt.begin(), alt.end());
    return alt_coded;
  }
  const size_t coded = encode_plain(w, rows, nv, forecaster, entropy, false, 0, o);
  if (alt.size() * kDictGainDen < (o.size() - at) * kDictGainNum) {
    o.resize(at);
    o.insert(o.end(), alt.begin(), alt.end());
    return alt_coded;
  }
  return coded;
}

// A float exception being coded: its row-major position, tag (exception_tag's) and raw bits.
struct Exception {
  uint32_t pos;
  u64 tag, raw;
  bool operator<(const Exception& o) const { return pos < o.pos; }
};

// floats_to_digits of a column by the best kernel this CPU runs.
size_t digits_of(u64* w, size_t stride, size_t n, int e, bool f32, uint8_t* exact) {
#if defined(TENFOLD_X86)
  const Isa isa = active_isa();
  if (isa == Isa::Avx2 || isa == Isa::Avx512) return avx2::floats_to_digits(w, stride, n, kPow10[e], f32, exact);
#elif defined(TENFOLD_ARM64)
  if (active_isa() == Isa::Neon) return neon::floats_to_digits(w, stride, n, kPow10[e], f32, exact);
#endif
  return scalar::floats_to_digits(w, stride, n, kPow10[e], f32, exact);
}

}  // namespace

void append_chunk(std::vector<uint8_t>& out, const uint8_t* x, int dtype, const View& v, int forecaster,
                  bool entropy) {
  static thread_local std::vector<u64> w;
  static thread_local std::vector<uint8_t> body, coded, exact;
  const size_t rows = v.rows, nv = v.nvars, isz = dtype_size(dtype), count = rows * nv;
  // 64-bit integers in contiguous, aligned rows are the words already: no copy (the float path
  // rewrites its words in place, so it always copies)
  const bool in_place = !is_float(dtype) && isz == 8 && v.cs == 1 && v.rs == ptrdiff_t(nv) &&
                        reinterpret_cast<uintptr_t>(x) % alignof(u64) == 0;
  const u64* words = reinterpret_cast<const u64*>(x);
  if (!in_place) {
    w.resize(count);
    read_words(x, dtype, v, w.data());
    words = w.data();
  }
  body.clear();
  if (is_float(dtype)) {
    const bool f32 = dtype == 8;
    std::vector<uint8_t> exps(nv);
    for (size_t j = 0; j < nv; ++j) exps[j] = pick_exponent(w, rows, nv, j, f32);
    exact.resize(count);  // column-major: exact[j * rows + r]
    size_t misses = 0;
    for (size_t j = 0; j < nv; ++j) {
      uint8_t* ex = exact.data() + j * rows;
      if (exps[j] == kBitsColumn)
        std::memset(ex, 1, rows);
      else
        misses += rows - digits_of(w.data() + j, nv, rows, exps[j], f32, ex);
    }
    // compact exceptions, in row-major order: (position, tag, raw bits)
    static thread_local std::vector<Exception> found;
    static thread_local std::vector<u64> trial;
    static thread_local std::vector<uint8_t> hit;
    static thread_local std::vector<size_t> pending;
    found.clear();
    for (size_t j = 0; j < nv && misses; ++j) {
      const uint8_t* ex = exact.data() + j * rows;
      const int e = exps[j];
      const size_t first = found.size();
      for (const void* at = std::memchr(ex, 0, rows); at;) {
        const size_t r = size_t(static_cast<const uint8_t*>(at) - ex);
        u64& word = w[r * nv + j];
        int64_t d;
        found.push_back({uint32_t(r * nv + j), 0, word});
        word = round_digits(word, kPow10[e], f32, d) ? u64(d) : r ? w[(r - 1) * nv + j] : 0;
        at = r + 1 < rows ? std::memchr(ex + r + 1, 0, rows - r - 1) : nullptr;
      }
      // the tags (exception_tag's), found by the conversion kernel a decimal at a time: a value
      // the column's rounded digits do not hold (out of range, NaN) has no more decimals either
      pending.clear();
      for (size_t i = first; i < found.size(); ++i) pending.push_back(i);
      for (int k = 1; k <= kMaxExtraDigits && e + k <= kMaxDecimalExp && !pending.empty(); ++k) {
        const size_t np = pending.size();
        trial.resize(np);
        hit.resize(np);
        for (size_t i = 0; i < np; ++i) trial[i] = found[pending[i]].raw;
        digits_of(trial.data(), 1, np, e + k, f32, hit.data());
        size_t keep = 0;
        for (size_t i = 0; i < np; ++i) {
          Exception& f = found[pending[i]];
          if (hit[i])
            f.tag = zigzag(trial[i] - w[f.pos] * kPow10Int[k]) * 4 + u64(k);
          else
            pending[keep++] = pending[i];
        }
        pending.resize(keep);
      }
    }
    if (nv > 1) std::sort(found.begin(), found.end());
    body.insert(body.end(), exps.begin(), exps.end());
    put_leb(body, found.size());
    uint32_t next = 0;  // positions as gaps: the first as is, then the count of values skipped
    for (const Exception& f : found) {
      put_leb(body, f.pos - next);
      next = f.pos + 1;
      put_leb(body, f.tag);
      if (f.tag) continue;
      if (f32)
        append<uint32_t>(body, uint32_t(f.raw));
      else
        append<u64>(body, f.raw);
    }
  }
  const size_t inner_coded = encode_words(words, rows, nv, forecaster, entropy, body);
  const size_t raw_bytes = count * isz;
  const bool raw = body.size() >= raw_bytes;
  size_t clen = 0;
  // a body mostly Huffman-coded already (a narrowed chunk's 16-bit coding took the stage) is not
  // tried again: bytes of a Huffman code are close to uniform and would not save the 5% asked
  if (!raw && entropy && 2 * inner_coded < body.size()) {
    coded.resize(huffman_max_bytes(body.size()));
    clen = huffman_encode(body.data(), body.size(), coded.data(), coded.size());  // 0 unless it saves >= 5%
    if (clen * kWideHuffmanDen > body.size() * kWideHuffmanNum) clen = 0;
  }
  const size_t blen = raw ? raw_bytes : clen ? clen : body.size();
  const size_t at = out.size();
  out.resize(at + kChunkHeaderBytes + blen);
  uint8_t* h = out.data() + at;
  h[0] = raw ? 2 : clen ? 1 : 0;
  h[1] = is_float(dtype) && !raw ? kLayoutCompactExceptions : 0;
  h[2] = h[3] = 0;
  const uint32_t b32 = uint32_t(blen), p32 = uint32_t(raw ? raw_bytes : body.size());
  std::memcpy(h + 4, &b32, 4);
  std::memcpy(h + 8, &p32, 4);
  uint8_t* dst = h + kChunkHeaderBytes;
  if (!raw) {
    std::memcpy(dst, clen ? coded.data() : body.data(), blen);
    return;
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < nv; ++j, dst += isz)
      std::memcpy(dst, x + (ptrdiff_t(r) * v.rs + ptrdiff_t(j) * v.cs) * ptrdiff_t(isz), isz);
}

namespace {

// Writes the (rows x nv) words, truncated to isz bytes, to the chunk view of out.
void store_words(const u64* w, size_t rows, size_t nv, size_t isz, const View& v, uint8_t* out) {
  if (v.cs == 1 && v.rs == ptrdiff_t(nv)) {  // contiguous rows
    const size_t count = rows * nv;
    if (isz == 8) {
      std::memcpy(out, w, count * 8);
    } else {
      for (size_t i = 0; i < count; ++i) {
        const uint32_t b = uint32_t(w[i]);
        std::memcpy(out + 4 * i, &b, 4);
      }
    }
    return;
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < nv; ++j) write_item(out, isz, v, r, j, w[r * nv + j]);
}

// Column j's words (w[r * nv]) to the view, truncated to isz bytes.
void store_column(const u64* w, size_t rows, size_t nv, size_t isz, const View& v, size_t j, uint8_t* out) {
  for (size_t r = 0; r < rows; ++r) write_item(out, isz, v, r, j, w[r * nv]);
}

// n digits (w[i * in_stride]) to floats at out + i * out_step bytes, value i divided by
// pow10[i % period] (codec_wide.hpp's table), by the best kernel this CPU runs.
void store_decimals(const u64* w, size_t in_stride, size_t n, const double* pow10, size_t period, bool f32,
                    uint8_t* out, ptrdiff_t out_step) {
#if defined(TENFOLD_X86)
  const Isa isa = active_isa();
  if (isa == Isa::Avx2 || isa == Isa::Avx512)
    return avx2::digits_to_floats(w, in_stride, n, pow10, period, f32, out, out_step);
#elif defined(TENFOLD_ARM64)
  if (active_isa() == Isa::Neon) return neon::digits_to_floats(w, in_stride, n, pow10, period, f32, out, out_step);
#endif
  scalar::digits_to_floats(w, in_stride, n, pow10, period, f32, out, out_step);
}

// The decimal columns of the (rows x nv) words to the view as floats (decimal_bits' rule): where
// the view's rows are contiguous and every column is decimal, the chunk in one row-major pass
// (each value divided by its column's 10^e), else column by column; kBitsColumn columns as bits.
void store_floats(const u64* w, size_t rows, size_t nv, const uint8_t* exps, bool f32, const View& v, uint8_t* out) {
  static thread_local std::vector<double> pow10;
  const size_t isz = f32 ? 4 : 8;
  const bool all_decimal = std::find(exps, exps + nv, kBitsColumn) == exps + nv;
  if (nv > 1 && all_decimal && v.cs == 1 && v.rs == ptrdiff_t(nv)) {
    pow10.resize(nv + kDivisorPad);
    for (size_t k = 0; k < pow10.size(); ++k) pow10[k] = kPow10[exps[k % nv]];
    return store_decimals(w, 1, rows * nv, pow10.data(), nv, f32, out, ptrdiff_t(isz));
  }
  for (size_t j = 0; j < nv; ++j) {
    if (exps[j] == kBitsColumn) {
      store_column(w + j, rows, nv, isz, v, j, out);
    } else {
      const double p = kPow10[exps[j]], column[1 + kDivisorPad] = {p, p, p, p};
      static_assert(kDivisorPad == 3, "one column's divisor table");
      store_decimals(w + j, nv, rows, column, 1, f32, out + v.cs * ptrdiff_t(j * isz), v.rs * ptrdiff_t(isz));
    }
  }
}

}  // namespace

namespace scalar {
void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, const double* pow10, size_t period, bool f32,
                      uint8_t* out, ptrdiff_t out_step) {
  for (size_t i = 0, c = 0; i < n; ++i, out += out_step) {
    const double x = double(int64_t(w[i * in_stride])) / pow10[c];
    if (++c == period) c = 0;
    if (f32) {
      const float f = float(x);
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, &x, 8);
    }
  }
}
size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact) {
  size_t hits = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t d;
    const bool e = to_digits(w[i * stride], pow10, f32, d);
    if (e) w[i * stride] = u64(d);
    exact[i] = uint8_t(e);
    hits += e;
  }
  return hits;
}
}  // namespace scalar

namespace {

// Decodes an integer part (kind byte onwards) from b[at, end) into the (rows x nv) words w;
// `dictionary`: whether kind kKindDictionary may appear (not inside a dictionary's ranks).
void decode_words(const uint8_t* b, size_t end, size_t& at, size_t rows, size_t nv, int header_fc, bool dictionary,
                  u64* w) {
  static thread_local std::vector<uint16_t> narrow;
  const size_t count = rows * nv;
  if (at >= end) fail("truncated word part");
  const uint8_t kind = b[at++];
  if (kind == kKindDelta || kind == kKindDeltaDelta || kind == kKindLag) {
    if (kind == kKindDeltaDelta && header_fc != kForecastFire) fail("chunk forecaster not allowed");
    size_t lag = 0;
    if (kind == kKindLag) {
      if (at >= end) fail("truncated lag");
      lag = b[at++];
      if (lag < 2 || lag > size_t(kMaxLag)) fail("invalid chunk lag");
    }
    at += unpack_words(b + at, end - at, rows, nv, kind, lag, w);
  } else if (kind == kKindStepped) {
    if (header_fc != kForecastFire) fail("chunk forecaster not allowed");
    unpack_stepped(b, end, at, rows, nv, w);
  } else if (kind == kKindNarrow) {
    if (end - at < 8) fail("truncated narrowed chunk");
    const u64 base = load<u64>(b + at);
    at += 8;
    narrow.resize(count);
    decode_chunk16(b, end, at, narrow.data(), View{rows, nv, ptrdiff_t(nv), 1}, header_fc);
    for (size_t i = 0; i < count; ++i) w[i] = base + narrow[i];
  } else if (kind == kKindDictionary && dictionary) {
    static thread_local std::vector<u64> dict;
    const u64 m = get_leb(b, end, at);
    if (m == 0 || m > count) fail("invalid dictionary size");
    dict.resize(size_t(m));
    at += unpack_words(b + at, end - at, size_t(m), 1, kKindDelta, 0, dict.data());
    decode_words(b, end, at, rows, nv, header_fc, false, w);
    for (size_t i = 0; i < count; ++i) {
      if (w[i] >= m) fail("dictionary rank out of range");
      w[i] = dict[size_t(w[i])];
    }
  } else {
    fail("unknown word kind");
  }
}

// An exception of the first layout: its row-major position and raw bits.
struct Exc {
  size_t pos, row, col;  // (pos = row * nv + col)
  u64 raw;
};

// e.pos split into row and column (without a division for one column).
inline void place(Exc& e, size_t nv) {
  e.row = nv == 1 ? e.pos : e.pos / nv;
  e.col = e.pos - e.row * nv;
}

u64 load_item(const uint8_t* p, size_t isz) { return isz == 4 ? u64(load<uint32_t>(p)) : load<u64>(p); }

// The first layout's exceptions (u32 count, u32 positions, raw values) from b[at, end).
void read_first_exceptions(const uint8_t* b, size_t end, size_t& at, size_t count, size_t nv, size_t isz,
                           std::vector<Exc>& excs) {
  if (end - at < 4) fail("truncated float chunk header");
  const size_t nexc = load<uint32_t>(b + at);
  at += 4;
  if (nexc > count || nexc * (4 + isz) > end - at) fail("exception count exceeds the chunk");
  const uint8_t* pos = b + at;
  const uint8_t* raw = pos + 4 * nexc;
  at += nexc * (4 + isz);
  excs.resize(nexc);
  for (size_t i = 0; i < nexc; ++i) {
    const uint32_t p = load<uint32_t>(pos + 4 * i);
    if (p >= count || (i && p <= excs[i - 1].pos)) fail("invalid exception position");
    excs[i] = {p, 0, 0, load_item(raw + isz * i, isz)};
    place(excs[i], nv);
  }
}

// Checks the compact layout's exceptions (LEB128 count; per exception LEB128 position gap and
// tag, raw bits after a zero tag) in b[at, end) and moves at past them; returns their count and
// sets `first` to the offset of the first one (apply_compact_exceptions reads them from there).
size_t check_compact_exceptions(const uint8_t* b, size_t end, size_t& at, size_t count, size_t nv, const uint8_t* exps,
                                size_t isz, size_t& first) {
  const u64 nexc = get_leb(b, end, at);
  if (nexc > count || nexc > (end - at) / 2) fail("exception count exceeds the chunk");  // >= 2 bytes each
  first = at;
  size_t next = 0;
  for (u64 i = 0; i < nexc; ++i) {
    const u64 gap = get_leb(b, end, at);
    if (gap >= count - next) fail("invalid exception position");
    const size_t pos = next + size_t(gap);
    next = pos + 1;
    const u64 tag = get_leb(b, end, at);
    if (tag) {
      const int k = int(tag & 3), ex = exps[nv == 1 ? 0 : pos % nv];
      if (k == 0 || ex == kBitsColumn || ex + k > kMaxDecimalExp) fail("invalid exception tag");
    } else {
      if (end - at < isz) fail("truncated exception");
      at += isz;
    }
  }
  return size_t(nexc);
}

// A LEB128 number check_compact_exceptions has already checked.
inline u64 checked_leb(const uint8_t*& p) {
  u64 v = 0;
  for (int sh = 0;; sh += 7) {
    const uint8_t c = *p++;
    v |= u64(c & 0x7f) << sh;
    if (!(c & 0x80)) return v;
  }
}

// Writes the n checked compact exceptions at p over the decoded values: a tagged one is the
// digits wp[pos] * 10^k + rem at exponent e + k, an untagged one its raw bits.
void apply_compact_exceptions(const uint8_t* p, size_t n, size_t nv, const uint8_t* exps, bool f32, const u64* wp,
                              const View& v, uint8_t* out) {
  const size_t isz = f32 ? 4 : 8;
  size_t next = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t pos = next + size_t(checked_leb(p));
    next = pos + 1;
    const size_t row = nv == 1 ? pos : pos / nv, col = pos - row * nv;
    const u64 tag = checked_leb(p);
    u64 bits;
    if (tag) {
      const int k = int(tag & 3);
      bits = decimal_bits(int64_t(wp[pos] * kPow10Int[k] + unzigzag(tag >> 2)), kPow10[exps[col] + k], f32);
    } else {
      bits = load_item(p, isz);
      p += isz;
    }
    write_item(out, isz, v, row, col, bits);
  }
}

}  // namespace

void decode_chunk(const uint8_t* buf, size_t len, size_t& pos, uint8_t* out, int dtype, const View& v,
                  int header_fc) {
  static thread_local std::vector<u64> w;
  static thread_local std::vector<uint8_t> plain;
  const size_t rows = v.rows, nv = v.nvars, isz = dtype_size(dtype), count = rows * nv;
  if (len - pos < kChunkHeaderBytes) fail("truncated chunk header");
  const uint8_t mode = buf[pos];
  const uint8_t layout = buf[pos + 1];
  if (mode > 2 || buf[pos + 2] || buf[pos + 3] || (layout && (layout != kLayoutCompactExceptions || mode == 2 ||
                                                              !is_float(dtype))))
    fail("invalid chunk mode");
  const size_t blen = load<uint32_t>(buf + pos + 4), plen = load<uint32_t>(buf + pos + 8);
  if (mode != 1 && plen != blen) fail("stored chunk length mismatch");
  pos += kChunkHeaderBytes;
  if (blen > len - pos) fail("chunk longer than the buffer (truncated?)");
  const uint8_t* src = buf + pos;
  if (mode == 2) {
    if (blen != count * isz) fail("raw chunk length mismatch");
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < nv; ++j, src += isz)
        std::memcpy(out + (ptrdiff_t(r) * v.rs + ptrdiff_t(j) * v.cs) * ptrdiff_t(isz), src, isz);
    pos += blen;
    return;
  }
  if (plen >= count * isz) fail("coded chunk not shorter than its raw size");
  // the body: the stored bytes, or (mode 1) their Huffman decoding
  const uint8_t* b = buf;
  size_t at = pos, end = pos + blen;
  if (mode == 1) {
    plain.resize(plen + 16);
    if (const char* err = huffman_decode(src, blen, len - pos, plain.data(), plen)) fail(err);
    b = plain.data();
    at = 0;
    end = plen;
  }
  pos += blen;
  // floats: exponents and exceptions (applied after the words are decoded)
  static thread_local std::vector<Exc> excs;  // the first layout's
  excs.clear();
  size_t compact = 0, compact_at = 0;  // the compact layout's: count, offset in b
  const uint8_t* exps = nullptr;
  if (is_float(dtype)) {
    if (end - at < nv + 1) fail("truncated float chunk header");
    exps = b + at;
    for (size_t j = 0; j < nv; ++j)
      if (exps[j] > kMaxDecimalExp && exps[j] != kBitsColumn) fail("invalid decimal exponent");
    at += nv;
    if (layout & kLayoutCompactExceptions)
      compact = check_compact_exceptions(b, end, at, count, nv, exps, isz, compact_at);
    else
      read_first_exceptions(b, end, at, count, nv, isz, excs);
  }
  // 64-bit integers into contiguous, aligned rows are decoded in place: the words are the values
  const bool in_place = !is_float(dtype) && isz == sizeof(u64) && v.cs == 1 && v.rs == ptrdiff_t(nv) &&
                        reinterpret_cast<uintptr_t>(out) % alignof(u64) == 0;
  if (!in_place) w.resize(count);
  u64* const words = in_place ? reinterpret_cast<u64*>(out) : w.data();
  decode_words(b, end, at, rows, nv, header_fc, true, words);
  if (at != end) fail("chunk length does not match its contents");
  const u64* wp = words;
  if (in_place) return;
  if (!is_float(dtype)) {
    store_words(wp, rows, nv, isz, v, out);
  } else {
    const bool f32 = dtype == 8;
    store_floats(wp, rows, nv, exps, f32, v, out);
    if (compact) apply_compact_exceptions(b + compact_at, compact, nv, exps, f32, wp, v, out);
    for (const Exc& e : excs) write_item(out, isz, v, e.row, e.col, e.raw);
  }
}

}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
