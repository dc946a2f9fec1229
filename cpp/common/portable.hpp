// Compiler portability: bit scans, prefetch, and inlining, unrolling and optimisation hints for
// GCC, Clang and MSVC; code outside this file uses these instead of GCC-only builtins and
// attributes (`make check-msvc` checks it). (The GCC/Clang bit-scan builtins are undefined for a
// zero argument; so are these.)
#pragma once
#include <cstdint>
#include <cstring>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>  // _mm_prefetch
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

// A read hint for the cache line holding p (no effect on results).
inline void prefetch(const void* p) {
#if defined(_MSC_VER) && !defined(__clang__)
#if defined(_M_X64) || defined(_M_IX86)
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#elif defined(_M_ARM64)
  __prefetch(p);
#else
  (void)p;
#endif
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace tenfold

// TENFOLD_ALWAYS_INLINE: a function (or member function) the compiler must inline, written where
// `inline` would go. TENFOLD_NOINLINE: one it must not inline.
// TENFOLD_UNROLL(n): before a loop, unroll it n times (GCC and Clang; MSVC has no such pragma).
// TENFOLD_NO_SLP_VECTORIZE: before a function, GCC must not merge its scalar statements into
// vector ones (a measured slowdown in the Huffman decoder); other compilers ignore it.
#if defined(_MSC_VER) && !defined(__clang__)
#define TENFOLD_ALWAYS_INLINE __forceinline
#define TENFOLD_NOINLINE __declspec(noinline)
#define TENFOLD_UNROLL(n)
#else
#define TENFOLD_ALWAYS_INLINE __attribute__((always_inline)) inline
#define TENFOLD_NOINLINE __attribute__((noinline))
#define TENFOLD_PRAGMA(x) _Pragma(#x)
#define TENFOLD_UNROLL(n) TENFOLD_PRAGMA(GCC unroll n)
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define TENFOLD_NO_SLP_VECTORIZE __attribute__((optimize("no-tree-slp-vectorize")))
#else
#define TENFOLD_NO_SLP_VECTORIZE
#endif
