// AVX2 signed-sum split features, 16 rows per pass (two vectors) with the four partial sums of
// the definition in separate registers: 8 independent addition chains, one vector load folded
// into each addition. Same additions in the same order as the scalar reference.
#include <immintrin.h>

#include <cstring>

#include "maddness/maddness.hpp"
#include "maddness/transpose_avx2.hpp"

namespace tenfold {
namespace maddness {
namespace avx2 {

namespace {
#define TF_INLINE TENFOLD_ALWAYS_INLINE

template <int V, bool Add>
TF_INLINE void term(__m256 (&s)[V], const float* x) {
  for (int v = 0; v < V; ++v)
    s[v] = Add ? _mm256_add_ps(s[v], _mm256_loadu_ps(x + 8 * v)) : _mm256_sub_ps(s[v], _mm256_loadu_ps(x + 8 * v));
}

// Terms [k, end), all added or all subtracted, the first one into partial sum P. Every partial
// sum is named by a constant, so the accumulators stay in registers (an index computed at run
// time, k & 3, made the compiler keep them on the stack: 1.7x slower).
template <int V, bool Add, int P>
TF_INLINE void terms(__m256 (&s)[4][V], const float* A, const uint32_t* offs, int k, int end) {
  for (; k + 4 <= end; k += 4) {
    // Two offsets per 8-byte load, split with a shift: loads, not additions, limit this loop.
    uint64_t lo, hi;
    std::memcpy(&lo, offs + k, 8);
    std::memcpy(&hi, offs + k + 2, 8);
    term<V, Add>(s[P], A + static_cast<uint32_t>(lo));
    term<V, Add>(s[(P + 1) & 3], A + (lo >> 32));
    term<V, Add>(s[(P + 2) & 3], A + static_cast<uint32_t>(hi));
    term<V, Add>(s[(P + 3) & 3], A + (hi >> 32));
  }
  if (k < end) term<V, Add>(s[P], A + offs[k]);
  if (k + 1 < end) term<V, Add>(s[(P + 1) & 3], A + offs[k + 1]);
  if (k + 2 < end) term<V, Add>(s[(P + 2) & 3], A + offs[k + 2]);
}

template <int V>
inline void feature(const float* A, const uint32_t* offs, int npos, int width, float* out) {
  __m256 s[4][V];
  for (int i = 0; i < 4; ++i)
    for (int v = 0; v < V; ++v) s[i][v] = _mm256_setzero_ps();
  terms<V, true, 0>(s, A, offs, 0, npos);
  switch (npos & 3) {  // term k goes to partial sum k & 3
    case 0: terms<V, false, 0>(s, A, offs, npos, width); break;
    case 1: terms<V, false, 1>(s, A, offs, npos, width); break;
    case 2: terms<V, false, 2>(s, A, offs, npos, width); break;
    default: terms<V, false, 3>(s, A, offs, npos, width); break;
  }
  for (int v = 0; v < V; ++v)
    _mm256_storeu_ps(out + 8 * v, _mm256_add_ps(_mm256_add_ps(s[0][v], s[1][v]), _mm256_add_ps(s[2][v], s[3][v])));
}

template <int V>
inline void features(const ProjectModel& p, const float* A, float* feat, size_t ldf) {
  for (int f = 0; f < p.nfeat; ++f)
    feature<V>(A, p.offs + static_cast<size_t>(f) * p.width, p.npos[f], p.width, feat + static_cast<size_t>(f) * ldf);
}
}  // namespace

void project(const ProjectModel& p, const float* A, size_t rows, float* feat, size_t ldf) {
  size_t r = 0;
  for (; r + 16 <= rows; r += 16) features<2>(p, A + r, feat + r, ldf);
  for (; r + 8 <= rows; r += 8) features<1>(p, A + r, feat + r, ldf);
  if (r < rows) scalar::project(p, A + r, rows - r, feat + r, ldf);  // the last rows % 8
}

void stage_rows(const float* A, ptrdiff_t rs, size_t rows, const int32_t* blocks, int nblk, size_t d, float* grp) {
  if (rows < 16) return scalar::stage_rows(A, rs, rows, blocks, nblk, d, grp);
  for (int b = 0; b < nblk; ++b) {
    const size_t c0 = 8 * static_cast<size_t>(blocks[b]);
    if (c0 + 8 > d) {  // a partial last block: loading 8 columns would read past the row
      scalar::stage_rows(A, rs, rows, blocks + b, 1, d, grp + 8 * 16 * static_cast<size_t>(b));
      continue;
    }
    for (int h = 0; h < 2; ++h) {  // rows 8h..8h+7: one 8x8 transpose
      __m256 v[8];
      for (int r = 0; r < 8; ++r) v[r] = _mm256_loadu_ps(A + static_cast<ptrdiff_t>(8 * h + r) * rs + c0);
      transpose8(v);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(grp + (8 * static_cast<size_t>(b) + j) * 16 + 8 * h, v[j]);
    }
  }
}

void stage_cols(const float* A, ptrdiff_t rs, ptrdiff_t cs, size_t rows, const int64_t* used, size_t nused,
                float* grp, ptrdiff_t ahead) {
  if (rows < 16 || rs != 1) return scalar::stage_cols(A, rs, cs, rows, used, nused, grp, ahead);
  for (size_t j = 0; j < nused; ++j) {
    const float* col = A + used[j] * cs;
    // Hundreds of columns are hundreds of streams, more than the hardware prefetchers follow.
    if (ahead) _mm_prefetch(reinterpret_cast<const char*>(col + ahead), _MM_HINT_T0);
    _mm256_storeu_ps(grp + j * 16, _mm256_loadu_ps(col));
    _mm256_storeu_ps(grp + j * 16 + 8, _mm256_loadu_ps(col + 8));
  }
}

}  // namespace avx2
}  // namespace maddness
}  // namespace tenfold
