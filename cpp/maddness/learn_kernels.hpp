// Bodies of the learning kernels of learn.hpp, compiled once per ISA (learn_scalar.cpp,
// learn_avx2.cpp) inside that ISA's namespace. Only element-wise float64 additions over the
// innermost index: vectorising them changes no result, so every path gives the same bits.
// Include only from those two files.
#include "maddness/learn.hpp"

namespace {

// An element read through memcpy: numpy allows views whose rows are not aligned to the element
// size, and dereferencing such a pointer is undefined behaviour. Compiles to a plain load.
template <class T>
inline double load_as_double(const T* p) {
  T v;
  __builtin_memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

template <class T>
inline void add_row(double* __restrict acc, const T* __restrict x, size_t p) {
  for (size_t j = 0; j < p; ++j) acc[j] += load_as_double(x + j);
}

// Four 4-double vectors (GCC vector extension: AVX2 registers in the AVX2 build, pairs of SSE2
// registers in the baseline one; the additions are element-wise either way).
typedef double v4d __attribute__((vector_size(32)));

template <class T>
inline void add_row_sq(double* __restrict acc, double* __restrict sq, const T* __restrict x, size_t p) {
  for (size_t j = 0; j < p; ++j) {
    const double v = load_as_double(x + j);
    acc[j] += v;
    sq[j] += v * v;
  }
}

template <class T>
void row_sums(const T* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc, double* sq) {
  for (size_t r = 0; r < nrows; ++r) {
    const T* x = X + static_cast<size_t>(rows[r]) * ldx;
    if (sq)
      add_row_sq(acc, sq, x, p);
    else
      add_row(acc, x, p);
  }
}

template <class T>
void onehot_sums(const uint8_t* codes, size_t C, const T* X, size_t ldx, size_t p, size_t r0, size_t r1,
                 double* acc) {
  for (size_t i = r0; i < r1; ++i) {
    const T* x = X + i * ldx;
    const uint8_t* code = codes + i * C;
    for (size_t c = 0; c < C; ++c) add_row(acc + (c * 16 + code[c]) * p, x, p);
  }
}

}  // namespace

void histogram(const int8_t* const* qcols, int ncand, const int32_t* rows, size_t nrows, const double* P,
               double* hist) {
  // Rows in blocks of kBlock; per block, candidate by candidate, so that the bins being updated
  // (256 x 64 bytes) and the block's values stay in L1.
  constexpr size_t kBlock = 64;
  for (size_t r0 = 0; r0 < nrows; r0 += kBlock) {
    const size_t r1 = r0 + kBlock < nrows ? r0 + kBlock : nrows;
    for (int c = 0; c < ncand; ++c) {
      const int8_t* q = qcols[c];
      double* hc = hist + static_cast<size_t>(c) * kBins * kPanel;
      for (size_t r = r0; r < r1; ++r) {
        const size_t i = static_cast<size_t>(rows[r]);
        double* h = hc + static_cast<size_t>(q[i] + 128) * kPanel;
        v4d h0, h1, x0, x1;
        __builtin_memcpy(&x0, P + i * kPanel, 32);
        __builtin_memcpy(&x1, P + i * kPanel + 4, 32);
        __builtin_memcpy(&h0, h, 32);
        __builtin_memcpy(&h1, h + 4, 32);
        h0 += x0;
        h1 += x1;
        __builtin_memcpy(h, &h0, 32);
        __builtin_memcpy(h + 4, &h1, 32);
      }
    }
  }
}

void row_sums_f32(const float* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc,
                  double* sq) {
  row_sums(X, ldx, p, rows, nrows, acc, sq);
}
void row_sums_f64(const double* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc,
                  double* sq) {
  row_sums(X, ldx, p, rows, nrows, acc, sq);
}
void onehot_sums_f32(const uint8_t* codes, size_t C, const float* X, size_t ldx, size_t p, size_t r0, size_t r1,
                     double* acc) {
  onehot_sums(codes, C, X, ldx, p, r0, r1, acc);
}
void onehot_sums_f64(const uint8_t* codes, size_t C, const double* X, size_t ldx, size_t p, size_t r0, size_t r1,
                     double* acc) {
  onehot_sums(codes, C, X, ldx, p, r0, r1, acc);
}
