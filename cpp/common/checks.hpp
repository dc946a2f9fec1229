#pragma once
#include <cstddef>

namespace tenfold {
// Index of the first row of X (n rows, ld floats apart, d used) holding NaN or +-inf, or -1.
long long first_nonfinite_row(const float* X, size_t n, size_t d, size_t ld, int n_threads);
}  // namespace tenfold
