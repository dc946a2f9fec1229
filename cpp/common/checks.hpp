#pragma once
#include <cstddef>
#include <cstdint>

namespace tenfold {
// Bits of |x| (sign cleared) at or above which a float is refused: NaN, +-inf, or |x| >= 2^60.
// Squares and products of such values would overflow float32 inside the kernels.
constexpr uint32_t kMagnitudeLimitBits = (127u + 60u) << 23;

// Index of the first row of X (n rows, ld floats apart, d used) holding a refused value, or -1.
long long first_nonfinite_row(const float* X, size_t n, size_t d, size_t ld, int n_threads);
}  // namespace tenfold
