// Bodies of the learning kernels of learn.hpp, compiled once per ISA (learn_scalar.cpp,
// learn_avx2.cpp, learn_avx512.cpp) inside that ISA's namespace. Only element-wise float64 additions over the
// innermost index: vectorising them changes no result, so every path gives the same bits.
// Include only from those files.
#include "maddness/learn.hpp"

namespace {

// An element read through memcpy: numpy allows views whose rows are not aligned to the element
// size, and dereferencing such a pointer is undefined behaviour. Compiles to a plain load.
// (std::memcpy: <cstring> is included by the unit before its ISA namespace opens.)
template <class T>
inline double load_as_double(const T* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

template <class T>
inline void add_row(double* __restrict acc, const T* __restrict x, size_t p) {
  for (size_t j = 0; j < p; ++j) acc[j] += load_as_double(x + j);
}

// One bin update of the threshold scan: kPanel (8) element-wise additions, spelled with the
// unit's intrinsics (each unit includes its header before opening its namespace): GCC turns
// the plain loop into scalar code after inlining. The additions are the same on every path.
static_assert(kPanel == 8, "add_panel_row spells out 8 doubles");
inline void add_panel_row(double* __restrict h, const double* __restrict x) {
#if defined(__AVX512F__)
  _mm512_storeu_pd(h, _mm512_add_pd(_mm512_loadu_pd(h), _mm512_loadu_pd(x)));
#elif defined(__AVX2__)
  for (size_t j = 0; j < kPanel; j += 4) _mm256_storeu_pd(h + j, _mm256_add_pd(_mm256_loadu_pd(h + j), _mm256_loadu_pd(x + j)));
#elif defined(TENFOLD_LEARN_SSE2)
  for (size_t j = 0; j < kPanel; j += 2) _mm_storeu_pd(h + j, _mm_add_pd(_mm_loadu_pd(h + j), _mm_loadu_pd(x + j)));
#elif defined(TENFOLD_LEARN_NEON)
  for (size_t j = 0; j < kPanel; j += 2) vst1q_f64(h + j, vaddq_f64(vld1q_f64(h + j), vld1q_f64(x + j)));
#else
  for (size_t j = 0; j < kPanel; ++j) h[j] += x[j];
#endif
}

template <class T>
inline void add_row_sq(double* __restrict acc, double* __restrict sq, const T* __restrict x, size_t p) {
  for (size_t j = 0; j < p; ++j) {
    const double v = load_as_double(x + j);
    acc[j] += v;
    sq[j] += v * v;
  }
}

// A hint to fetch the cache line holding p (no effect on results; none where no intrinsic is known).
inline void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#else
  (void)p;
#endif
}

constexpr size_t kLine = 64;  // bytes per cache line (x86-64 and the usual AArch64 cores)

template <class T>
void row_sums(const T* X, size_t ldx, size_t p, const int32_t* rows, size_t nrows, double* acc, double* sq) {
  // The rows of a node are scattered over X (every other row or fewer, in increasing order):
  // each is fetched kAhead rows ahead, as the hardware prefetcher cannot follow the jumps.
  constexpr size_t kAhead = 4;
  const size_t row_bytes = p * sizeof(T);
  for (size_t r = 0; r < nrows; ++r) {
    if (r + kAhead < nrows) {
      const char* ahead = reinterpret_cast<const char*>(X + static_cast<size_t>(rows[r + kAhead]) * ldx);
      for (size_t b = 0; b < row_bytes; b += kLine) prefetch(ahead + b);
    }
    const T* x = X + static_cast<size_t>(rows[r]) * ldx;
    if (sq)
      add_row_sq(acc, sq, x, p);
    else
      add_row(acc, x, p);
  }
}

template <class T>
void onehot_sums(const uint8_t* codes, size_t C, const T* X, size_t ldx, size_t p, size_t r0, size_t r1,
                 const uint8_t* group, double* acc) {
  const size_t per_group = 16 * C * p;
  for (size_t i = r0; i < r1; ++i) {
    const T* x = X + i * ldx;
    const uint8_t* code = codes + i * C;
    double* a = group ? acc + group[i] * per_group : acc;
    for (size_t c = 0; c < C; ++c) add_row(a + (c * 16 + code[c]) * p, x, p);
  }
}

}  // namespace

void histogram(const int32_t* bins, int ncand, const int32_t* rows, size_t nrows, const double* P, double* hist) {
  // Rows in blocks of kBlock (32 KB of P, kept in L1/L2) and, per block, candidate by candidate:
  // the block's rows are read from memory once for all candidates.
  constexpr size_t kBlock = 512;
  for (size_t r0 = 0; r0 < nrows; r0 += kBlock) {
    const size_t r1 = r0 + kBlock < nrows ? r0 + kBlock : nrows;
    for (int c = 0; c < ncand; ++c) {
      const int32_t* b = bins + static_cast<size_t>(c) * nrows;
      for (size_t r = r0; r < r1; ++r)
        add_panel_row(hist + static_cast<size_t>(b[r]) * kPanel, P + static_cast<size_t>(rows[r]) * kPanel);
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
                     const uint8_t* group, double* acc) {
  onehot_sums(codes, C, X, ldx, p, r0, r1, group, acc);
}
void onehot_sums_f64(const uint8_t* codes, size_t C, const double* X, size_t ldx, size_t p, size_t r0, size_t r1,
                     const uint8_t* group, double* acc) {
  onehot_sums(codes, C, X, ldx, p, r0, r1, group, acc);
}
