// AVX-512 Bolt encoding: all 16 centroid scores of a subspace in one register, four rows at
// a time. Same arithmetic (multiply, then add; no FMA) and order as encode_scalar.cpp.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "bolt/bolt.hpp"
#include "common/portable.hpp"
#include "common/checks.hpp"

namespace tenfold {
namespace bolt {
namespace avx512 {

namespace {

inline int argmin16(__m512 s) {
  const float m = _mm512_reduce_min_ps(s);
  const unsigned mask = static_cast<unsigned>(_mm512_cmp_ps_mask(s, _mm512_set1_ps(m), _CMP_EQ_OQ));
  return mask ? ctz32(mask) : 0;  // no lane equal only if every score is NaN (refused input)
}

template <int R>
inline void encode_rows(const EncodeModel& m, const float* X, size_t ldx, uint8_t* out, int ncols) {
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < ncols; ++j) out[r * ncols + j] = 0;
  for (int c = 0; c < m.ncodebooks; ++c) {
    __m512 acc[R];
    const __m512 nrm = _mm512_loadu_ps(m.norms + c * 16);
    for (int r = 0; r < R; ++r) acc[r] = nrm;
    for (int j = m.bounds[c]; j < m.bounds[c + 1]; ++j) {
      const __m512 ct = _mm512_loadu_ps(m.centroids_t + static_cast<size_t>(j) * 16);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(_mm512_set1_ps(load_f32(X + r * ldx + j)), ct));
    }
    for (int r = 0; r < R; ++r)
      out[r * ncols + (c >> 1)] |= static_cast<uint8_t>(argmin16(acc[r]) << (4 * (c & 1)));
  }
}

}  // namespace

bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out) {
  const int ncols = m.ncodebooks / 2;
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  const __m512i limit = _mm512_set1_epi32(static_cast<int>(kMagnitudeLimitBits - 1));
  __mmask16 bad = 0;
  for (size_t r = 0; r < n; ++r) {
    const float* x = X + r * ldx;
    int j = 0;
    for (; j + 16 <= m.d; j += 16)
      bad |= _mm512_cmpgt_epi32_mask(_mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + j)), magnitude), limit);
    for (; j < m.d; ++j) {
      uint32_t bits;
      std::memcpy(&bits, x + j, 4);
      bad |= static_cast<__mmask16>((bits & 0x7fffffffu) >= kMagnitudeLimitBits);
    }
  }
  size_t i = 0;
  for (; i + 4 <= n; i += 4) encode_rows<4>(m, X + i * ldx, ldx, out + i * ncols, ncols);
  for (; i < n; ++i) encode_rows<1>(m, X + i * ldx, ldx, out + i * ncols, ncols);
  return bad == 0;
}

}  // namespace avx512
}  // namespace bolt
}  // namespace tenfold
