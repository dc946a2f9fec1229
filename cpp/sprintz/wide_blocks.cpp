// Scalar reference of the wide block kernels (wide_blocks.hpp) and their dispatch.
#include "sprintz/wide_blocks.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "common/isa.hpp"
#include "common/portable.hpp"

namespace tenfold {
namespace sprintz {
namespace wide {
namespace {

using u64 = uint64_t;

inline u64 load64(const uint8_t* p) {
  u64 v;
  std::memcpy(&v, p, 8);
  return v;
}
inline u64 unzigzag(u64 z) { return (z >> 1) ^ (u64(0) - (z & 1)); }

// A full block of width W: every offset and shift a constant once the loop unrolls.
template <int W>
void unpack_full(const uint8_t* q, u64* r) {
  constexpr u64 mask = W == 64 ? ~u64(0) : u64((1ULL << (W & 63)) - 1);
  TENFOLD_UNROLL(16)
  for (int i = 0; i < int(kUnpackRows); ++i) {
    const int bit = i * W, sh = bit & 7;
    u64 v = load64(q + bit / 8) >> sh;
    if (W > 56 && sh + W > 64) v |= u64(q[bit / 8 + 8]) << (64 - sh);
    r[i] = unzigzag(v & mask);
  }
}

// Residual widths run from 0 to 64 bits: one specialised full-block kernel per width.
constexpr size_t kWidths = 65;
using Widths = std::make_index_sequence<kWidths>;

template <size_t... W>
constexpr std::array<void (*)(const uint8_t*, u64*), kWidths> unpack_table(std::index_sequence<W...>) {
  return {{&unpack_full<int(W)>...}};
}
constexpr auto kUnpackFull = unpack_table(Widths{});

inline void store64(uint8_t* p, u64 v) { std::memcpy(p, &v, 8); }

// A full block of width W packed: value i at bit i W, each 64-bit word stored once it is complete
// (every offset, shift and test a constant once the loop unrolls), the last partial word stored whole.
template <int W>
void pack_full(const u64* z, uint8_t* q) {
  u64 acc = 0;
  TENFOLD_UNROLL(16)
  for (int i = 0; i < int(kUnpackRows); ++i) {
    const int nb = (i * W) & 63;
    acc |= z[i] << nb;
    if (nb + W >= 64) {
      store64(q, acc);
      q += 8;
      acc = (z[i] >> 1) >> (63 - nb);  // the bits that did not fit: z >> (64 - nb), none for nb = 0
    }
  }
  if ((kUnpackRows * W) & 63) store64(q, acc);
}

template <size_t... W>
constexpr std::array<void (*)(const u64*, uint8_t*), kWidths> pack_table(std::index_sequence<W...>) {
  return {{&pack_full<int(W)>...}};
}
constexpr auto kPackFull = pack_table(Widths{});

}  // namespace

void pack_residuals(const uint64_t* z, size_t cnt, int width, uint8_t* q) {
  if (cnt == kUnpackRows) return kPackFull[size_t(width)](z, q);
  if (width == 0) return;
  u64 acc = 0;
  int nb = 0;  // bits in acc (< 64 between values)
  for (size_t i = 0; i < cnt; ++i) {
    acc |= z[i] << nb;
    if (nb + width >= 64) {
      store64(q, acc);
      q += 8;
      acc = (z[i] >> 1) >> (63 - nb);
      nb += width - 64;
    } else {
      nb += width;
    }
  }
  if (nb) store64(q, acc);
}

namespace scalar {

void unpack_residuals(const uint8_t* q, size_t avail, size_t cnt, int width, uint64_t* r) {
  (void)avail;
  if (cnt == kUnpackRows) return kUnpackFull[size_t(width)](q, r);
  if (width == 0) {
    for (size_t i = 0; i < cnt; ++i) r[i] = 0;
    return;
  }
  const u64 mask = width == 64 ? ~u64(0) : (u64(1) << width) - 1;
  size_t bit = 0;
  for (size_t i = 0; i < cnt; ++i, bit += size_t(width)) {
    const size_t byte = bit / 8;
    const int sh = int(bit % 8);
    u64 v = load64(q + byte) >> sh;
    if (sh && sh + width > 64) v |= u64(q[byte + 8]) << (64 - sh);
    r[i] = unzigzag(v & mask);
  }
}

void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  lag_costs_columns(w, n, nv, 0, nv, cost);
}

uint64_t block_residuals(const uint64_t* x, size_t cnt, size_t lag, uint64_t* z) {
  return block_residuals_from(x, 0, cnt, lag, z);
}

void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost) {
  for (int c = 0; c <= kProbeLags; ++c) cost[c] = 0;
  narrow_lag_costs_from(x, bits, size_t(kProbeLags), n, cost);
}

}  // namespace scalar

namespace {
// The SIMD kernels this build has (each ISA's are compiled and linked only on its platform), and
// whether the running CPU takes them: AVX2's on AVX2 and AVX-512 machines, NEON's on ARM64.
#if defined(TENFOLD_X86)
namespace simd = avx2;
bool simd_active() {
  const Isa isa = active_isa();
  return isa == Isa::Avx2 || isa == Isa::Avx512;
}
#elif defined(TENFOLD_ARM64)
namespace simd = neon;
bool simd_active() { return active_isa() == Isa::Neon; }
#else
namespace simd = scalar;
bool simd_active() { return false; }
#endif
}  // namespace

UnpackFn residual_unpacker() { return simd_active() ? &simd::unpack_residuals : &scalar::unpack_residuals; }

ResidualsFn residual_maker() { return simd_active() ? &simd::block_residuals : &scalar::block_residuals; }

void lag_costs(const uint64_t* w, size_t n, size_t nv, uint64_t* cost) {
  (simd_active() ? &simd::lag_costs : &scalar::lag_costs)(w, n, nv, cost);
}

void narrow_lag_costs(const uint8_t* x, int bits, size_t n, uint64_t* cost) {
  (simd_active() ? &simd::narrow_lag_costs : &scalar::narrow_lag_costs)(x, bits, n, cost);
}

}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
