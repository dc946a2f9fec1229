// AVX2 signed-sum split features, 16 rows per pass (two vectors) with the four partial sums of
// the definition in separate registers: 8 independent addition chains, one vector load folded
// into each addition. Same additions in the same order as the scalar reference.
#include <immintrin.h>

#include "maddness/maddness.hpp"
#include "maddness/transpose_avx2.hpp"

namespace tenfold {
namespace maddness {
namespace avx2 {

namespace {
template <int V>
inline void feature(const float* A, const int64_t* offs, int npos, int width, float* out) {
  __m256 s[4][V];
  for (int i = 0; i < 4; ++i)
    for (int v = 0; v < V; ++v) s[i][v] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 4 <= npos; k += 4)
    for (int i = 0; i < 4; ++i)
      for (int v = 0; v < V; ++v) s[i][v] = _mm256_add_ps(s[i][v], _mm256_loadu_ps(A + offs[k + i] + 8 * v));
  for (; k < npos; ++k)
    for (int v = 0; v < V; ++v) s[k & 3][v] = _mm256_add_ps(s[k & 3][v], _mm256_loadu_ps(A + offs[k] + 8 * v));
  for (; k < width && (k & 3); ++k)
    for (int v = 0; v < V; ++v) s[k & 3][v] = _mm256_sub_ps(s[k & 3][v], _mm256_loadu_ps(A + offs[k] + 8 * v));
  for (; k + 4 <= width; k += 4)
    for (int i = 0; i < 4; ++i)
      for (int v = 0; v < V; ++v) s[i][v] = _mm256_sub_ps(s[i][v], _mm256_loadu_ps(A + offs[k + i] + 8 * v));
  for (; k < width; ++k)
    for (int v = 0; v < V; ++v) s[k & 3][v] = _mm256_sub_ps(s[k & 3][v], _mm256_loadu_ps(A + offs[k] + 8 * v));
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

}  // namespace avx2
}  // namespace maddness
}  // namespace tenfold
