// Compiler portability: bit scans and inlining hints for GCC, Clang and MSVC. (The GCC/Clang
// builtins are undefined for a zero argument; so are these.)
#pragma once
#include <cstdint>
#include <cstring>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace tenfold {

// A float read through memcpy: numpy allows float32 views that are not 4-byte aligned, and
// dereferencing a misaligned float* is undefined behaviour. Compiles to one plain load.
// static: each translation unit (each with its own ISA flags) keeps its own copy.
static inline float load_f32(const float* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

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
