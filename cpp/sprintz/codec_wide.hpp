// Per-ISA kernels of the 32/64-bit and float Sprintz chunks (codec_wide.cpp holds the format and
// the scalar reference; codec_wide_<isa>.cpp the SIMD versions, equal to it bit for bit).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tenfold {
namespace sprintz {
namespace wide {

constexpr size_t kDivisorPad = 3;  // lanes of the widest kernel (4 doubles in AVX2) minus one

// n decimal digits d (int64 words, read at w[i * in_stride]) to the floats d / pow10[i % period]
// (the division in double, then for f32 rounded to float), stored at out + i * out_step bytes.
// pow10 holds period + kDivisorPad entries, repeating (pow10[k] = pow10[k % period]), so that a
// kernel loads the divisors of a vector of lanes from any offset below period. period 1: one
// column's 10^e; period nvars: the chunk's rows, column by column.
#define TENFOLD_WIDE_KERNELS                                                                     \
  void digits_to_floats(const uint64_t* w, size_t in_stride, size_t n, const double* pow10, size_t period, bool f32, \
                        uint8_t* out, ptrdiff_t out_step);                                        \
  /* The digits of n floats (bit patterns, zero-extended for f32, at w[i * stride]) for one exponent:  */ \
  /* where round(x * 10^e) reproduces x by the rule above, w[i * stride] becomes the digits (int64)  */ \
  /* and exact[i] 1; elsewhere w is left as it was and exact[i] is 0. Returns the count of exact ones. */ \
  size_t floats_to_digits(uint64_t* w, size_t stride, size_t n, double pow10, bool f32, uint8_t* exact);

namespace scalar { TENFOLD_WIDE_KERNELS }
namespace avx2 { TENFOLD_WIDE_KERNELS }
namespace neon { TENFOLD_WIDE_KERNELS }
#undef TENFOLD_WIDE_KERNELS

}  // namespace wide
}  // namespace sprintz
}  // namespace tenfold
