// Compiler portability: bit scans and inlining hints for GCC, Clang and MSVC. (The GCC/Clang
// builtins are undefined for a zero argument; so are these.)
#pragma once
#include <cstdint>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace tenfold {

inline int ctz32(uint32_t x) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long i;
  _BitScanForward(&i, x);
  return static_cast<int>(i);
#else
  return __builtin_ctz(x);
#endif
}

inline int clz32(uint32_t x) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long i;
  _BitScanReverse(&i, x);
  return 31 - static_cast<int>(i);
#else
  return __builtin_clz(x);
#endif
}

inline int clz64(uint64_t x) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long i;
  _BitScanReverse64(&i, x);
  return 63 - static_cast<int>(i);
#else
  return __builtin_clzll(x);
#endif
}

}  // namespace tenfold

#if defined(_MSC_VER) && !defined(__clang__)
#define TENFOLD_ALWAYS_INLINE __forceinline
#define TENFOLD_NOINLINE __declspec(noinline)
#else
#define TENFOLD_ALWAYS_INLINE __attribute__((always_inline)) inline
#define TENFOLD_NOINLINE __attribute__((noinline))
#endif
