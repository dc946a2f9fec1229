// Sprintz chunks of 32/64-bit integers and lossless floats (dtype codes 4..9 of sprintz.hpp).
//
// A chunk has the usual 12-byte chunk header: u8 mode (0 coded, 1 coded then Huffman-coded as a
// whole by the 8/16-bit format's Huffman stage, where that saves >= 5%; 2 raw rows row-major),
// three zero bytes, u32 stored length, u32 length of the coded body (= stored length in modes 0
// and 2). A coded chunk's body:
//   float dtypes only: nvars exponent bytes (e in [0, 18]: the column holds decimal digits d with
//     value = d / 10^e, the division done in double then, for float32, rounded to float; 255: the
//     column holds the values' bit patterns), u32 count k of exceptions, k u32 positions (row-major
//     index r * nvars + v within the chunk, strictly increasing), k raw values (itemsize bytes each)
//     that overwrite the decoded values at those positions. Every value whose digits do not
//     reproduce it bit for bit (-0.0, NaN, infinities, too many digits) is an exception.
//   then the chunk's integer words (an int32 sign-extended, a uint32 zero-extended, 64-bit as is,
//   float digits as int64, float32 bit patterns zero-extended), all arithmetic modulo 2^64:
//     u8 kind: 0 delta (prediction: previous word of the column), 1 delta of delta (previous word
//       plus the previous change: regularly sampled timestamps cost nothing), 2 narrowed, 3 lagged
//       (then u8 L in [2, 16]; prediction: the word L rows earlier in the column, 0 in the first L
//       rows: periodic signals);
//     kinds 0, 1 and 3: blocks of 16 rows (the last may be shorter), each: nvars width bytes (0..64);
//       if all are zero, a LEB128 count of further all-zero blocks follows; otherwise for each
//       column its zigzagged residuals bit-packed LSB-first in ceil(count * width / 8) bytes;
//     kind 2 (the chunk's words span less than 2^16): u64 base, then a complete 16-bit chunk
//       (sprintz.hpp's format: FIRE, lags and Huffman apply) of the words minus base.
// Forecaster state starts at zero in every chunk and column.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
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
constexpr uint8_t kKindDelta = 0, kKindDeltaDelta = 1, kKindNarrow = 2, kKindLag = 3;
constexpr int kMaxLag = 16;
constexpr size_t kLagProbeRows = 4096;  // rows of the first column the lag estimate looks at
constexpr u64 kNarrowSpan = 1 << 16;
constexpr size_t kBothCandidatesValues = 1024;

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

// Digits of a value for exponent e, if they reproduce it bit for bit.
inline bool to_digits(u64 bits, double pow10, bool f32, int64_t& d) {
  const double y = as_double(bits, f32) * pow10;
  if (!(std::fabs(y) < kTwo52)) return false;  // also NaN and infinities
  // round half to even as nearbyint in the default rounding mode (no libm call on baseline
  // x86-64): for 0 <= y < 2^52, y + 2^52 lies where doubles are exactly the integers, so the
  // addition rounds y to its nearest integer (ties to even) and the subtraction is exact
  d = int64_t(y >= 0 ? (y + kTwo52) - kTwo52 : (y - kTwo52) + kTwo52);
  return decimal_bits(d, pow10, f32) == bits;
}

// The exponent of least estimated cost for a column: each extra decimal digit costs every value
// log2(10) bits, each value the exponent does not reproduce costs an exception (its position and
// raw bits). Only exponents reproducing at least half of the sampled values compete;
// kBitsColumn when none does.
uint8_t pick_exponent(const std::vector<u64>& w, size_t rows, size_t nv, size_t j, bool f32) {
  const size_t ns = std::min(rows, kExpSamples);
  if (ns == 0) return kBitsColumn;
  constexpr double kBitsPerDigit = 3.321928094887362;  // log2(10)
  // its position and raw bits, plus about one residual's worth for the break in the digits
  // sequence (the exception repeats the previous digits, the next residual spans two steps)
  constexpr double kBreakBits = 32;
  const double exception_bits = 8.0 * (4 + (f32 ? 4 : 8)) + kBreakBits;
  const size_t probe = std::min<size_t>(ns, 16);  // an exponent missing most of these cannot reach half
  double best_cost = 0;
  int best = -1;
  for (int e = 0; e <= kMaxDecimalExp; ++e) {
    if (best >= 0 && e * kBitsPerDigit * double(ns) / 2 >= best_cost) break;  // (>= half hit) cannot win
    size_t hits = 0, tried = 0;
    for (size_t s = 0; s < ns; ++s) {
      int64_t d;
      hits += to_digits(w[(s * rows / ns) * nv + j], kPow10[e], f32, d);
      if (++tried == probe && 2 * hits < probe) break;
    }
    if (tried < ns || 2 * hits < ns) continue;
    const double cost = e * kBitsPerDigit * double(hits) + exception_bits * double(ns - hits);
    if (best < 0 || cost < best_cost) {
      best_cost = cost;
      best = e;
    }
    if (hits == ns) break;  // every sample exact: a larger exponent only adds digits
  }
  return best >= 0 ? uint8_t(best) : kBitsColumn;
}

// Kinds 0 and 1: residuals of the (rows x nv) row-major words, block-packed, appended to o.
// The prediction of word (r, j) by `kind` (lag L for kKindLag) from the words before it.
inline u64 predict(const u64* w, size_t r, size_t j, size_t nv, int kind, size_t lag, u64 prev, u64 step) {
  if (kind == kKindLag) return r >= lag ? w[(r - lag) * nv + j] : 0;
  return kind == kKindDeltaDelta ? prev + step : prev;
}

void pack_words(const u64* w, size_t rows, size_t nv, int kind, size_t lag, std::vector<u64>& z,
                std::vector<uint8_t>& o) {
  z.resize(rows * nv);
  for (size_t j = 0; j < nv; ++j) {
    u64 prev = 0, step = 0;
    for (size_t r = 0; r < rows; ++r) {
      const u64 x = w[r * nv + j];
      z[r * nv + j] = zigzag(x - predict(w, r, j, nv, kind, lag, prev, step));
      step = x - prev;
      prev = x;
    }
  }
  const size_t nblocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<uint8_t> widths(nv);
  auto block_zero = [&](size_t b) {
    const size_t end = std::min(rows, (b + 1) * kBlockRows) * nv;
    for (size_t i = b * kBlockRows * nv; i < end; ++i)
      if (z[i]) return false;
    return true;
  };
  for (size_t b = 0; b < nblocks;) {
    const size_t r0 = b * kBlockRows, cnt = std::min(kBlockRows, rows - r0);
    bool any = false;
    for (size_t j = 0; j < nv; ++j) {
      u64 acc = 0;
      for (size_t i = 0; i < cnt; ++i) acc |= z[(r0 + i) * nv + j];
      widths[j] = uint8_t(acc ? 64 - clz64(acc) : 0);
      any |= acc != 0;
    }
    o.insert(o.end(), widths.begin(), widths.end());
    if (!any) {
      size_t k = 0;
      while (b + 1 + k < nblocks && block_zero(b + 1 + k)) ++k;
      for (size_t c = k;; c >>= 7) {  // LEB128
        o.push_back(uint8_t((c & 0x7f) | (c >= 0x80 ? 0x80 : 0)));
        if (c < 0x80) break;
      }
      b += 1 + k;
      continue;
    }
    for (size_t j = 0; j < nv; ++j) {
      const int width = widths[j];
      const size_t at = o.size(), nbytes = (cnt * size_t(width) + 7) / 8;
      o.resize(at + nbytes + 8);  // 8 bytes of slack for the last 64-bit store
      uint8_t* q = o.data() + at;
      u64 lo = 0, hi = 0;  // a 128-bit bit accumulator holding nb < 64 bits between values
      int nb = 0;
      for (size_t i = 0; i < cnt && width; ++i) {
        const u64 val = z[(r0 + i) * nv + j];
        lo |= val << nb;
        if (nb) hi |= val >> (64 - nb);
        nb += width;
        if (nb >= 64) {
          std::memcpy(q, &lo, 8);
          q += 8;
          lo = hi;
          hi = 0;
          nb -= 64;
        }
      }
      std::memcpy(q, &lo, 8);
      o.resize(at + nbytes);
    }
    ++b;
  }
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

// Decodes kinds 0, 1 and 3 from src[0, len) into the (rows x nv) words; returns the bytes used.
template <int Kind>
size_t unpack_words_kind(const uint8_t* src, size_t len, size_t rows, size_t nv, size_t lag, u64* w) {
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
      u64 k = 0;
      for (int shift = 0;; shift += 7) {
        if (pos >= len || shift > 63) fail("truncated or overlong zero-run count");
        const uint8_t byte = src[pos++];
        k |= u64(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
      }
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

size_t unpack_words(const uint8_t* src, size_t len, size_t rows, size_t nv, int kind, size_t lag, u64* w) {
  if (kind == kKindDelta) return unpack_words_kind<kKindDelta>(src, len, rows, nv, lag, w);
  if (kind == kKindDeltaDelta) return unpack_words_kind<kKindDeltaDelta>(src, len, rows, nv, lag, w);
  return unpack_words_kind<kKindLag>(src, len, rows, nv, lag, w);
}

// The predictor (kind, and lag for kKindLag) whose residuals look cheapest on the chunk's first
// rows (estimated cost of a residual: its bit length, summed over the columns): delta, delta of
// delta (if allowed) or a lag in [2, kMaxLag], a longer lag only where clearly cheaper (multiples
// of a period tie). Only the chosen one is then coded.
int choose_predictor(const std::vector<u64>& w, size_t rows, size_t nv, bool allow_dd, size_t& lag) {
  const size_t n = std::min(rows, std::max<size_t>(4 * kMaxLag, kLagProbeRows / nv));
  lag = 0;
  if (n < 4 * kMaxLag) return allow_dd ? kKindDeltaDelta : kKindDelta;  // too short to tell: tiny either way
  static_assert(kMaxLag == kProbeLags && kBlockRows == kUnpackRows, "the probe prices this codec's lags and blocks");
  uint64_t cost[kMaxLag + 1];  // [0]: delta of delta, [L]: lag L
  wide::lag_costs(w.data(), n, nv, cost);
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

// The integer part (kind byte onwards) of the (rows x nv) words, appended to o: narrowed where the
// words span < 2^16 (the 16-bit format's FIRE, lags and Huffman then apply: on every set of the
// benchmark's larger chunks it was never larger than the wide candidate, so that one is computed
// too only for chunks of at most kBothCandidatesValues values, where it can win),
// else the predictor choose_predictor picks (delta of delta in FIRE streams only).
void encode_words(const std::vector<u64>& w, size_t rows, size_t nv, int forecaster, bool entropy,
                  std::vector<uint8_t>& o) {
  static thread_local std::vector<u64> z;
  static thread_local std::vector<uint8_t> cand[2];
  static thread_local std::vector<uint16_t> narrow;
  for (auto& c : cand) c.clear();
  const size_t count = rows * nv;
  size_t lag;
  // narrowed: the words span < 2^16 in signed or in unsigned order
  int64_t smin = INT64_MAX, smax = INT64_MIN;
  u64 umin = ~u64(0), umax = 0;
  for (size_t i = 0; i < count; ++i) {
    smin = std::min(smin, int64_t(w[i]));
    smax = std::max(smax, int64_t(w[i]));
    umin = std::min(umin, w[i]);
    umax = std::max(umax, w[i]);
  }
  u64 base = 0;
  bool fits = false;
  if (u64(smax) - u64(smin) < kNarrowSpan) {
    base = u64(smin);
    fits = true;
  } else if (umax - umin < kNarrowSpan) {
    base = umin;
    fits = true;
  }
  if (fits && count) {
    narrow.resize(count);
    for (size_t i = 0; i < count; ++i) narrow[i] = uint16_t(w[i] - base);
    cand[1].push_back(kKindNarrow);
    append<u64>(cand[1], base);
    append_chunk16(cand[1], narrow.data(), View{rows, nv, ptrdiff_t(nv), 1}, forecaster, entropy);
  }
  if (cand[1].empty() || count <= kBothCandidatesValues) {
    const int kind = choose_predictor(w, rows, nv, forecaster == kForecastFire, lag);
    cand[0].push_back(uint8_t(kind));
    if (kind == kKindLag) cand[0].push_back(uint8_t(lag));
    pack_words(w.data(), rows, nv, kind, lag, z, cand[0]);
  }
  const size_t best = !cand[1].empty() && (cand[0].empty() || cand[1].size() < cand[0].size()) ? 1 : 0;
  o.insert(o.end(), cand[best].begin(), cand[best].end());
}

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
  w.resize(count);
  read_words(x, dtype, v, w.data());
  body.clear();
  if (is_float(dtype)) {
    const bool f32 = dtype == 8;
    std::vector<uint8_t> exps(nv);
    for (size_t j = 0; j < nv; ++j) exps[j] = pick_exponent(w, rows, nv, j, f32);
    std::vector<uint32_t> pos;
    std::vector<u64> raw;
    exact.resize(count);  // column-major: exact[j * rows + r]
    size_t misses = 0;
    for (size_t j = 0; j < nv; ++j) {
      uint8_t* ex = exact.data() + j * rows;
      if (exps[j] == kBitsColumn)
        std::memset(ex, 1, rows);
      else
        misses += rows - digits_of(w.data() + j, nv, rows, exps[j], f32, ex);
    }
    if (misses) {
      // an exception's digits repeat the column's previous digits (0 in the first row)
      std::vector<std::pair<uint32_t, u64>> found;
      for (size_t j = 0; j < nv; ++j) {
        const uint8_t* ex = exact.data() + j * rows;
        for (const void* at = std::memchr(ex, 0, rows); at; ) {
          const size_t r = size_t(static_cast<const uint8_t*>(at) - ex);
          u64& word = w[r * nv + j];
          found.emplace_back(uint32_t(r * nv + j), word);
          word = r ? w[(r - 1) * nv + j] : 0;
          at = r + 1 < rows ? std::memchr(ex + r + 1, 0, rows - r - 1) : nullptr;
        }
      }
      if (nv > 1) std::sort(found.begin(), found.end());  // row-major order
      for (const auto& f : found) {
        pos.push_back(f.first);
        raw.push_back(f.second);
      }
    }
    body.insert(body.end(), exps.begin(), exps.end());
    append<uint32_t>(body, uint32_t(pos.size()));
    for (uint32_t p : pos) append<uint32_t>(body, p);
    for (u64 b : raw) {
      if (f32)
        append<uint32_t>(body, uint32_t(b));
      else
        append<u64>(body, b);
    }
  }
  encode_words(w, rows, nv, forecaster, entropy, body);
  const size_t raw_bytes = count * isz;
  const bool raw = body.size() >= raw_bytes;
  size_t clen = 0;
  if (!raw && entropy) {
    coded.resize(huffman_max_bytes(body.size()));
    clen = huffman_encode(body.data(), body.size(), coded.data(), coded.size());  // 0 unless it saves >= 5%
  }
  const size_t blen = raw ? raw_bytes : clen ? clen : body.size();
  const size_t at = out.size();
  out.resize(at + kChunkHeaderBytes + blen);
  uint8_t* h = out.data() + at;
  h[0] = raw ? 2 : clen ? 1 : 0;
  h[1] = h[2] = h[3] = 0;
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

// Column j's digits (w[r * nv]) under exponent e to the view as floats (decimal_bits' rule), by
// the best kernel this CPU runs.
void store_decimals(const u64* w, size_t rows, size_t nv, int e, bool f32, const View& v, size_t j, uint8_t* out) {
  const ptrdiff_t isz = f32 ? 4 : 8;
  uint8_t* o = out + v.cs * ptrdiff_t(j) * isz;
#if defined(TENFOLD_X86)
  const Isa isa = active_isa();
  if (isa == Isa::Avx2 || isa == Isa::Avx512) return avx2::digits_to_floats(w, nv, rows, kPow10[e], f32, o, v.rs * isz);
#elif defined(TENFOLD_ARM64)
  if (active_isa() == Isa::Neon) return neon::digits_to_floats(w, nv, rows, kPow10[e], f32, o, v.rs * isz);
#endif
  scalar::digits_to_floats(w, nv, rows, kPow10[e], f32, o, v.rs * isz);
}

}  // namespace

namespace scalar {
void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, double pow10, bool f32, uint8_t* out,
                      ptrdiff_t out_step) {
  for (size_t i = 0; i < n; ++i, out += out_step) {
    const double x = double(int64_t(w[i * in_stride])) / pow10;
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

void decode_chunk(const uint8_t* buf, size_t len, size_t& pos, uint8_t* out, int dtype, const View& v,
                  int header_fc) {
  static thread_local std::vector<u64> w;
  static thread_local std::vector<uint16_t> narrow;
  static thread_local std::vector<uint8_t> plain;
  const size_t rows = v.rows, nv = v.nvars, isz = dtype_size(dtype), count = rows * nv;
  if (len - pos < kChunkHeaderBytes) fail("truncated chunk header");
  const uint8_t mode = buf[pos];
  if (mode > 2 || buf[pos + 1] || buf[pos + 2] || buf[pos + 3]) fail("invalid chunk mode");
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
  const uint8_t* exps = nullptr;
  size_t nexc = 0;
  const uint8_t* exc_pos = nullptr;
  const uint8_t* exc_raw = nullptr;
  if (is_float(dtype)) {
    if (end - at < nv + 4) fail("truncated float chunk header");
    exps = b + at;
    for (size_t j = 0; j < nv; ++j)
      if (exps[j] > kMaxDecimalExp && exps[j] != kBitsColumn) fail("invalid decimal exponent");
    at += nv;
    nexc = load<uint32_t>(b + at);
    at += 4;
    if (nexc > count || nexc * (4 + isz) > end - at) fail("exception count exceeds the chunk");
    exc_pos = b + at;
    at += nexc * 4;
    exc_raw = b + at;
    at += nexc * isz;
    for (size_t i = 0; i < nexc; ++i) {
      const uint32_t p = load<uint32_t>(exc_pos + 4 * i);
      if (p >= count || (i && p <= load<uint32_t>(exc_pos + 4 * (i - 1)))) fail("invalid exception position");
    }
  }
  if (at >= end) fail("truncated word part");
  const uint8_t kind = b[at++];
  w.resize(count);
  if (kind == kKindDelta || kind == kKindDeltaDelta || kind == kKindLag) {
    if (kind == kKindDeltaDelta && header_fc != kForecastFire) fail("chunk forecaster not allowed");
    size_t lag = 0;
    if (kind == kKindLag) {
      if (at >= end) fail("truncated lag");
      lag = b[at++];
      if (lag < 2 || lag > size_t(kMaxLag)) fail("invalid chunk lag");
    }
    at += unpack_words(b + at, end - at, rows, nv, kind, lag, w.data());
  } else if (kind == kKindNarrow) {
    if (end - at < 8) fail("truncated narrowed chunk");
    const u64 base = load<u64>(b + at);
    at += 8;
    narrow.resize(count);
    decode_chunk16(b, end, at, narrow.data(), View{rows, nv, ptrdiff_t(nv), 1}, header_fc);
    for (size_t i = 0; i < count; ++i) w[i] = base + narrow[i];
  } else {
    fail("unknown word kind");
  }
  if (at != end) fail("chunk length does not match its contents");
  const u64* wp = w.data();
  if (!is_float(dtype)) {
    store_words(wp, rows, nv, isz, v, out);
  } else {
    const bool f32 = dtype == 8;
    for (size_t j = 0; j < nv; ++j) {
      if (exps[j] == kBitsColumn) {
        store_column(wp + j, rows, nv, isz, v, j, out);
      } else {
        store_decimals(wp + j, rows, nv, exps[j], f32, v, j, out);
      }
    }
    for (size_t i = 0; i < nexc; ++i) {
      const uint32_t p = load<uint32_t>(exc_pos + 4 * i);
      const u64 bits = isz == 4 ? u64(load<uint32_t>(exc_raw + 4 * i)) : load<u64>(exc_raw + 8 * i);
      write_item(out, isz, v, p / nv, p % nv, bits);
    }
  }
}

}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
