// Portable reference for the signed-sum split features (split_width > 1); the SIMD path must
// match it bit for bit, so the order of the additions below is the definition.
#include "maddness/maddness.hpp"
#include "common/portable.hpp"

namespace tenfold {
namespace maddness {
namespace scalar {

void project(const ProjectModel& p, const float* A, size_t rows, float* feat, size_t ldf) {
  for (int f = 0; f < p.nfeat; ++f) {
    const uint32_t* offs = p.offs + static_cast<size_t>(f) * p.width;
    const int npos = p.npos[f];
    float* out = feat + static_cast<size_t>(f) * ldf;
    for (size_t r = 0; r < rows; ++r) {
      float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int k = 0; k < p.width; ++k) {
        const float x = A[offs[k] + static_cast<ptrdiff_t>(r)];
        s[k & 3] = k < npos ? s[k & 3] + x : s[k & 3] - x;
      }
      out[r] = (s[0] + s[1]) + (s[2] + s[3]);
    }
  }
}

void stage_rows(const float* A, ptrdiff_t rs, size_t rows, const int32_t* blocks, int nblk, size_t d, float* grp) {
  for (int b = 0; b < nblk; ++b)
    for (size_t j = 0; j < 8 && 8 * static_cast<size_t>(blocks[b]) + j < d; ++j) {
      const float* col = A + 8 * static_cast<ptrdiff_t>(blocks[b]) + static_cast<ptrdiff_t>(j);
      float* dst = grp + (8 * static_cast<size_t>(b) + j) * 16;
      for (size_t r = 0; r < rows; ++r) dst[r] = col[static_cast<ptrdiff_t>(r) * rs];
    }
}

void stage_cols(const float* A, ptrdiff_t rs, ptrdiff_t cs, size_t rows, const int64_t* used, size_t nused,
                float* grp, ptrdiff_t) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = A + static_cast<ptrdiff_t>(r) * rs;
    for (size_t j = 0; j < nused; ++j) grp[j * 16 + r] = tenfold::load_f32(row + used[j] * cs);
  }
}

}  // namespace scalar
}  // namespace maddness
}  // namespace tenfold
