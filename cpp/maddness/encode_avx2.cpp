// AVX2 MADDNESS kernels.
// Encoder: float domain, 8 rows per vector. Level 0 is one compare against a broadcast
// threshold; at levels 1-3 the threshold of each row's node comes from one permute of the
// level's float thresholds (vpermilps at levels 1-2: 3-cycle latency against vpermps' 8 on Zen 3;
// vpermps at level 3), indexed by minus the node so that the compare mask is added without a
// negation (s' = 2s + mask, s = -node). NaN/inf are detected by accumulating a * 0 over every
// distinct split column once per chunk. Split columns are read where they are
// (Fortran order: 32 contiguous floats per level) or gathered once per block of 32 rows into a
// small column buffer (any other layout). Codes of a codebook pair are combined with shifts
// into the scan-order byte layout (row 8k+j at byte 4j+k), no shuffles.
// Scan: per pair of blocks the nibbles are split once; per output column each table is
// broadcast once and used for both blocks; bytes are summed exactly in uint16 (Bolt's
// even/odd trick) or combined by a tree of vpavgb; the 32 results per block are extracted
// with shifts and masks, converted and written as floats (column-major directly, row-major
// through 8x8 register transposes).
#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "maddness/maddness.hpp"
#include "common/portable.hpp"
#include "maddness/transpose_avx2.hpp"

namespace tenfold {
namespace maddness {
namespace avx2 {

namespace {

#define TF_INLINE TENFOLD_ALWAYS_INLINE

// ---------------------------------------------------------------- encoder
// Tree of one codebook over 32 rows. col[l]: the 32 values of the level-l split column;
// th: the codebook's (4, 8) float thresholds. s[t] (rows 8t..8t+7) receives minus the code.
// Node thresholds come from in-lane permutes (vpermilps, 3-cycle latency) of 4-entry tables
// indexed by s & 3 at levels 1-2, and from vpermps (8 entries) at level 3. `bad` collects the
// largest exponent field seen (all ones = an infinity or NaN): checking the values as the trees
// load them costs two integer ops each, where a separate pass over A cost 40% of the encoder.
TF_INLINE __m256 load_checked(const float* p, __m256i& bad) {
  const __m256 v = _mm256_loadu_ps(p);
  bad = _mm256_max_epu32(bad, _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7F800000)));
  return v;
}

TF_INLINE void tree32(const float* th, const float* const col[kLevels], __m256i s[4], __m256i& bad) {
  const __m256 t0 = _mm256_broadcast_ss(th);
  const __m256 t1 = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(th + 8));
  const __m256 t2 = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(th + 16));
  const __m256 t3 = _mm256_loadu_ps(th + 24);
  for (int t = 0; t < 4; ++t) {
    __m256i x = _mm256_castps_si256(_mm256_cmp_ps(load_checked(col[0] + 8 * t, bad), t0, _CMP_GT_OQ));
    __m256 m = _mm256_cmp_ps(load_checked(col[1] + 8 * t, bad), _mm256_permutevar_ps(t1, x), _CMP_GT_OQ);
    x = _mm256_add_epi32(_mm256_add_epi32(x, x), _mm256_castps_si256(m));
    m = _mm256_cmp_ps(load_checked(col[2] + 8 * t, bad), _mm256_permutevar_ps(t2, x), _CMP_GT_OQ);
    x = _mm256_add_epi32(_mm256_add_epi32(x, x), _mm256_castps_si256(m));
    m = _mm256_cmp_ps(load_checked(col[3] + 8 * t, bad), _mm256_permutevar8x32_ps(t3, x), _CMP_GT_OQ);
    s[t] = _mm256_add_epi32(_mm256_add_epi32(x, x), _mm256_castps_si256(m));
  }
}

// Codes of codebooks 2j (low nibble) and 2j+1 (high nibble) for 32 rows, scan-order bytes.
TF_INLINE __m256i pair32(const EncodeModel& m, int j, const float* const* cols, __m256i& bad) {
  __m256i lo[4], hi[4];
  tree32(m.fthr + (2 * j) * kLevels * 8, cols, lo, bad);
  tree32(m.fthr + (2 * j + 1) * kLevels * 8, cols + kLevels, hi, bad);
  __m256i x[4];
  for (int t = 0; t < 4; ++t) x[t] = _mm256_add_epi32(lo[t], _mm256_slli_epi32(hi[t], 4));  // -(lo + 16 hi)
  const __m256i v = _mm256_add_epi32(_mm256_add_epi32(x[0], _mm256_slli_epi32(x[1], 8)),
                                     _mm256_add_epi32(_mm256_slli_epi32(x[2], 16), _mm256_slli_epi32(x[3], 24)));
  return _mm256_sub_epi32(_mm256_setzero_si256(), v);
}

// Scan-order byte positions of rows >= rows (for zeroing the codes of padding rows).
inline __m256i valid_rows_mask(size_t rows) {
  // Byte p holds row 8*(p%4) + p/4.
  const __m256i row_of = _mm256_setr_epi8(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27, 4, 12, 20, 28,
                                          5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
  return _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(rows)), row_of);
}

// Unit column stride (row-major A): the split values of 32 rows, slot t of row r to
// colbuf[t*32 + r]. Eight rows at a time are copied row by row into an 8-row stage (slot t of
// row r at stage[((t/8)*8 + r)*8 + t%8]: each row's loads go to consecutive floats; cols holds
// the slots' columns, padded to a multiple of 8 with the last one), then moved to the column
// buffer by 8x8 transposes. Writing each value straight to colbuf instead (stores 128 bytes
// apart, an int64 multiply per address) took 1.5 ms to encode 10,000 rows of 512 (64 split
// columns), 1.0 ms this way (A in cache as far as 20 MB goes; reading all of A takes 0.9 ms);
// vgatherdps for the row loads: 2.4 ms (Zen 4's gathers are slower than the scalar loads);
// slot by slot down the 8 rows straight into colbuf (no transposes): 10% slower than this.
TF_INLINE void copy_rows32(const float* A, ptrdiff_t rs, const int32_t* cols, int ngroups, float* stage,
                           float* colbuf) {
  for (int q = 0; q < kBlockRows / 8; ++q) {
    for (int r = 0; r < 8; ++r) {
      const float* row = A + static_cast<ptrdiff_t>(8 * q + r) * rs;
      float* st = stage + static_cast<size_t>(r) * 8;
      for (int g = 0; g < ngroups; ++g)
        for (int k = 0; k < 8; ++k) st[g * 64 + k] = tenfold::load_f32(row + cols[8 * g + k]);
    }
    for (int g = 0; g < ngroups; ++g) {
      __m256 v[8];
      for (int r = 0; r < 8; ++r) v[r] = _mm256_load_ps(stage + (static_cast<size_t>(g) * 8 + r) * 8);
      transpose8(v);
      for (int j = 0; j < 8; ++j) _mm256_store_ps(colbuf + (8 * static_cast<size_t>(g) + j) * kBlockRows + 8 * q, v[j]);
    }
  }
}

}  // namespace

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, size_t r0, size_t r1,
            uint8_t* codes) {
  const int ncols = m.ncodebooks / 2, C = m.ncodebooks;
  __m256i bad = _mm256_setzero_si256();
  const size_t n_full = n / kBlockRows * kBlockRows;
  const size_t full_end = r1 < n_full ? r1 : n_full;
  alignas(32) float colbuf[4 * 256 * kBlockRows];  // gathered split columns (up to 1024, a multiple of 8)
  const float* cols[4 * 256];                       // per split: its 32 values
  size_t i = r0;
  if (rs == 1 && full_end > i) {
    // Fortran order: every split column is read in place, 32 contiguous floats per level.
    const size_t nrows = full_end - i;
    for (int j = 0; j < ncols; ++j) {
      const float* base[2 * kLevels];
      for (int l = 0; l < 2 * kLevels; ++l) base[l] = A + static_cast<ptrdiff_t>(i) + m.dims[2 * j * kLevels + l] * cs;
      for (size_t b = 0; b < nrows / kBlockRows; ++b) {
        const float* c8[2 * kLevels];
        for (int l = 0; l < 2 * kLevels; ++l) c8[l] = base[l] + b * kBlockRows;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + b * kBlockRows * ncols + j * kBlockRows),
                            pair32(m, j, c8, bad));
      }
    }
    i = full_end;
  }
  // Other layouts and the partial last block: gather the split values of 32 rows (padding
  // rows read as 0), then the same trees on the gathered columns.
  const int ngroups = (m.nslots + 7) / 8;
  const bool by_rows = cs == 1 && m.nslots > 0 && m.slot_dims[m.nslots - 1] <= INT32_MAX;  // slot_dims ascend
  int32_t idx[4 * 256];                  // the slots' columns, padded to 8 * ngroups
  alignas(32) float stage[4 * 256 * 8];  // 8 rows of the copied slots
  if (by_rows)
    for (int t = 0; t < 8 * ngroups; ++t) idx[t] = static_cast<int32_t>(m.slot_dims[std::min(t, m.nslots - 1)]);
  for (; i < r1; i += kBlockRows) {
    const size_t rows = i + kBlockRows <= n ? kBlockRows : (i < n ? n - i : 0);
    if (by_rows && rows == static_cast<size_t>(kBlockRows)) {
      copy_rows32(A + static_cast<ptrdiff_t>(i) * rs, rs, idx, ngroups, stage, colbuf);
    } else {
      for (size_t r = 0; r < static_cast<size_t>(kBlockRows); ++r) {
        if (r < rows) {
          const float* row = A + static_cast<ptrdiff_t>(i + r) * rs;
          for (int t = 0; t < m.nslots; ++t) colbuf[t * kBlockRows + r] = tenfold::load_f32(row + m.slot_dims[t] * cs);
        } else {
          for (int t = 0; t < m.nslots; ++t) colbuf[t * kBlockRows + r] = 0.0f;
        }
      }
    }
    for (int s = 0; s < C * kLevels; ++s) cols[s] = colbuf + m.slot[s] * kBlockRows;
    const __m256i keep = valid_rows_mask(rows);
    uint8_t* blk = codes + (i - r0) / kBlockRows * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + j * kBlockRows),
                          _mm256_and_si256(pair32(m, j, cols + 2 * j * kLevels, bad), keep));
  }
  return _mm256_movemask_epi8(_mm256_cmpeq_epi32(bad, _mm256_set1_epi32(0x7F800000))) == 0;
}

namespace {

// ---------------------------------------------------------------- scan
TF_INLINE __m256i table(const uint8_t* lut) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lut)));
}

// Tree of rounding averages over codebooks [c0, c0 + 2^L), for R blocks of nibbles.
template <int L, int R>
TF_INLINE void avg_tree(const __m256i* const* nib, const uint8_t* lut, int c0, __m256i* out) {
  if constexpr (L == 0) {
    const __m256i t = table(lut + c0 * 16);
    for (int r = 0; r < R; ++r) out[r] = _mm256_shuffle_epi8(t, _mm256_load_si256(nib[r] + c0));
  } else {
    __m256i a[R], b[R];
    avg_tree<L - 1, R>(nib, lut, c0, a);
    avg_tree<L - 1, R>(nib, lut, c0 + (1 << (L - 1)), b);
    for (int r = 0; r < R; ++r) out[r] = _mm256_avg_epu8(a[r], b[r]);
  }
}

// Stores 8 results: non-temporal (NT, dst 32-byte aligned) or plain.
template <bool NT>
TF_INLINE void put(float* dst, __m256 v) {
  if constexpr (NT)
    _mm256_stream_ps(dst, v);
  else
    _mm256_storeu_ps(dst, v);
}

// 32 results as bytes in scan order (row 8k+j at byte 4j+k) -> dst[0..32).
template <bool NT>
TF_INLINE void emit_bytes(__m256i v, __m256 mul, __m256 add, float* dst) {
  const __m256i ff = _mm256_set1_epi32(0xff);
  const __m256i q0 = _mm256_and_si256(v, ff);
  const __m256i q1 = _mm256_and_si256(_mm256_srli_epi32(v, 8), ff);
  const __m256i q2 = _mm256_and_si256(_mm256_srli_epi32(v, 16), ff);
  const __m256i q3 = _mm256_srli_epi32(v, 24);
  put<NT>(dst, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q0), mul, add));
  put<NT>(dst + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q1), mul, add));
  put<NT>(dst + 16, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q2), mul, add));
  put<NT>(dst + 24, _mm256_fmadd_ps(_mm256_cvtepi32_ps(q3), mul, add));
}

// 32 uint16 sums: `even` has the bytes 4j (row j) and 4j+2 (row 16+j) of each 32-bit lane j,
// `odd` the bytes 4j+1 (row 8+j) and 4j+3 (row 24+j).
template <bool NT>
TF_INLINE void emit_u16(__m256i even, __m256i odd, __m256 mul, __m256 add, float* dst) {
  const __m256i lo16 = _mm256_set1_epi32(0xffff);
  put<NT>(dst, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(even, lo16)), mul, add));
  put<NT>(dst + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(odd, lo16)), mul, add));
  put<NT>(dst + 16, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(even, 16)), mul, add));
  put<NT>(dst + 24, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(odd, 16)), mul, add));
}

// Output column mm for R blocks of 32 rows: dst[r] receives rows 32r..32r+31 (NT: streaming
// stores, every dst[r] 32-byte aligned).
template <int L, int R, bool NT = false>
TF_INLINE void column(const ScanModel& s, const __m256i* const* nib, int mm, float* const* dst) {
  const int C = s.ncodebooks;
  const uint8_t* lut = s.luts + static_cast<size_t>(mm) * C * 16;
  const __m256 mul = _mm256_set1_ps(s.mul[mm]), add = _mm256_set1_ps(s.add[mm]);
  if constexpr (L == 0) {
    // Words of acc hold even + 256 * odd bytes (mod 2^16); odd holds the odd bytes.
    __m256i acc[R], odd[R];
    for (int r = 0; r < R; ++r) acc[r] = odd[r] = _mm256_setzero_si256();
    for (int c = 0; c < C; c += 2) {
      const __m256i t0 = table(lut + c * 16), t1 = table(lut + (c + 1) * 16);
      for (int r = 0; r < R; ++r) {
        const __m256i x0 = _mm256_shuffle_epi8(t0, _mm256_load_si256(nib[r] + c));
        const __m256i x1 = _mm256_shuffle_epi8(t1, _mm256_load_si256(nib[r] + c + 1));
        acc[r] = _mm256_add_epi16(acc[r], _mm256_add_epi16(x0, x1));
        odd[r] = _mm256_add_epi16(odd[r], _mm256_add_epi16(_mm256_srli_epi16(x0, 8), _mm256_srli_epi16(x1, 8)));
      }
    }
    for (int r = 0; r < R; ++r)
      emit_u16<NT>(_mm256_sub_epi16(acc[r], _mm256_slli_epi16(odd[r], 8)), odd[r], mul, add, dst[r]);
  } else {
    const int ngroups = C >> L;
    __m256i v[R];
    if (ngroups == 1) {
      avg_tree<L, R>(nib, lut, 0, v);
      for (int r = 0; r < R; ++r) emit_bytes<NT>(v[r], mul, add, dst[r]);
    } else {
      const __m256i low8 = _mm256_set1_epi16(0xff);
      __m256i even[R], odd[R];
      for (int r = 0; r < R; ++r) even[r] = odd[r] = _mm256_setzero_si256();
      for (int gi = 0; gi < ngroups; ++gi) {
        avg_tree<L, R>(nib, lut, gi << L, v);
        for (int r = 0; r < R; ++r) {
          even[r] = _mm256_add_epi16(even[r], _mm256_and_si256(v[r], low8));
          odd[r] = _mm256_add_epi16(odd[r], _mm256_srli_epi16(v[r], 8));
        }
      }
      for (int r = 0; r < R; ++r) emit_u16<NT>(even[r], odd[r], mul, add, dst[r]);
    }
  }
}

constexpr size_t kStreamRowFloats = 8192;  // largest row-major block assembled before streaming (32 KB)

template <int L, int R>
void scan_blocks(const ScanModel& s, const __m256i* const* nib, size_t row0, size_t rows, float* out, size_t ldo,
                 bool row_major) {
  const int M = s.m;
  if (!row_major && rows == static_cast<size_t>(R * kBlockRows)) {
    for (int mm = 0; mm < M; ++mm) {
      float* dst[R];
      for (int r = 0; r < R; ++r) dst[r] = out + static_cast<size_t>(mm) * ldo + row0 + r * kBlockRows;
      // Runs of 32 * R floats: whole cache lines when the first starts on one.
      if (s.stream && (reinterpret_cast<uintptr_t>(dst[0]) & 63) == 0)
        column<L, R, true>(s, nib, mm, dst);
      else
        column<L, R>(s, nib, mm, dst);
    }
    return;
  }
  // Row-major output or a partial block: 8 columns at a time through a small tile. Row-major
  // results to stream (the blocks' rows one contiguous run of whole cache lines: ldo == M, the
  // first on a line) are assembled in `rowbuf` (first-level cache), then copied out with
  // streaming stores: written through 8x8 transposes directly, every line of the result would
  // be read from memory before being written, and in parts.
  const bool nt = row_major && s.stream && rows == static_cast<size_t>(R * kBlockRows) && ldo == static_cast<size_t>(M) &&
                  rows * ldo <= kStreamRowFloats && (reinterpret_cast<uintptr_t>(out + row0 * ldo) & 63) == 0;
  alignas(64) float rowbuf[kStreamRowFloats];
  float* const base = nt ? rowbuf : out + row0 * ldo;
  alignas(32) float tile[8][R * kBlockRows];
  for (int m0 = 0; m0 < M; m0 += 8) {
    const int mc = M - m0 < 8 ? M - m0 : 8;
    for (int k = 0; k < mc; ++k) {
      float* dst[R];
      for (int r = 0; r < R; ++r) dst[r] = tile[k] + r * kBlockRows;
      column<L, R>(s, nib, m0 + k, dst);
    }
    if (!row_major) {
      for (int k = 0; k < mc; ++k)
        for (size_t i = 0; i < rows; ++i) out[static_cast<size_t>(m0 + k) * ldo + row0 + i] = tile[k][i];
      continue;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(mc), lane);
    for (size_t r8 = 0; r8 < rows; r8 += 8) {
      __m256 v[8];
      for (int k = 0; k < 8; ++k) v[k] = _mm256_load_ps(tile[k < mc ? k : 0] + r8);
      transpose8(v);
      const size_t nr = rows - r8 < 8 ? rows - r8 : 8;
      float* o = base + r8 * ldo + m0;
      if (mc == 8) {
        for (size_t i = 0; i < nr; ++i) _mm256_storeu_ps(o + i * ldo, v[i]);
      } else {
        for (size_t i = 0; i < nr; ++i) _mm256_maskstore_ps(o + i * ldo, mask, v[i]);
      }
    }
  }
  if (nt) {
    float* dst = out + row0 * ldo;
    for (size_t i = 0; i < rows * ldo; i += 8) _mm256_stream_ps(dst + i, _mm256_load_ps(rowbuf + i));
  }
}

// Nibbles of block `blk` (32 rows of codes) -> nib[0..C): codebook c's 32 codes as bytes.
TF_INLINE void unpack_block(const uint8_t* blk, int ncols, __m256i* nib) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < ncols; ++j) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + j * kBlockRows));
    nib[2 * j] = _mm256_and_si256(v, low4);
    nib[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
  }
}

// Column-major output: blocks are aggregated in groups, column by column over the group's
// pairs of blocks, so that each output column receives one contiguous run of group * 32 floats
// (16 blocks at C=16: 2 KB runs. Runs of 64 floats, one pair of blocks at a time, measured
// 3-5% slower from cold memory and 4% slower hot on the CIFAR-100 shape: the result was then
// written 256 bytes at a time to M places in turn). The group's nibbles stay in the
// first-level cache: kGroupNibbles vectors of 32 bytes (16 KB).
constexpr int kGroupNibbles = 512;
constexpr int kMaxGroupBlocks = 16;

template <int L>
void scan_impl(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major) {
  const int C = s.ncodebooks, ncols = C / 2;
  alignas(32) __m256i nibs[kGroupNibbles];
  const size_t nblocks = (rows + kBlockRows - 1) / kBlockRows;
  size_t b = 0;
  if (!row_major) {
    const int group = std::min(kMaxGroupBlocks, kGroupNibbles / C) & ~1;  // >= 2 for C <= 256
    const size_t full_pairs = rows / (2 * kBlockRows);
    while (b < 2 * full_pairs) {
      const int g = static_cast<int>(std::min<size_t>(group, 2 * full_pairs - b));
      for (int r = 0; r < g; ++r) unpack_block(codes + (b + r) * kBlockRows * ncols, ncols, nibs + r * C);
      for (int mm = 0; mm < s.m; ++mm) {
        float* col = out + static_cast<size_t>(mm) * ldo + b * kBlockRows;
        // Runs of 64 floats: whole cache lines when the first starts on one.
        const bool nt = s.stream && (reinterpret_cast<uintptr_t>(col) & 63) == 0;
        for (int r = 0; r < g; r += 2) {
          const __m256i* nib[2] = {nibs + r * C, nibs + (r + 1) * C};
          float* dst[2] = {col + r * kBlockRows, col + (r + 1) * kBlockRows};
          if (nt)
            column<L, 2, true>(s, nib, mm, dst);
          else
            column<L, 2>(s, nib, mm, dst);
        }
      }
      b += g;
    }
  }
  // Row-major output and the last odd or partial block: pairs of blocks, 8 columns at a time.
  const __m256i* nib[2] = {nibs, nibs + C};
  for (; b < nblocks; b += 2) {
    const int R = b + 1 < nblocks ? 2 : 1;
    for (int r = 0; r < R; ++r) unpack_block(codes + (b + r) * kBlockRows * ncols, ncols, nibs + r * C);
    const size_t row0 = b * kBlockRows;
    const size_t here = rows - row0 < static_cast<size_t>(R * kBlockRows) ? rows - row0 : R * kBlockRows;
    if (R == 2)
      scan_blocks<L, 2>(s, nib, row0, here, out, ldo, row_major);
    else
      scan_blocks<L, 1>(s, nib, row0, here, out, ldo, row_major);
  }
}

}  // namespace

void argmax(const float* buf, size_t M, int32_t* arg, float* best) {
  // Two passes of 32 rows (4 vectors of maxima and 4 of arguments stay in registers).
  for (size_t h = 0; h < kSelectRows; h += 32) {
    __m256 b[4];
    __m256i a[4];
    for (int q = 0; q < 4; ++q) {
      b[q] = _mm256_loadu_ps(buf + h + 8 * q);
      a[q] = _mm256_setzero_si256();
    }
    for (size_t m = 1; m < M; ++m) {
      const float* col = buf + m * kSelectRows + h;
      const __m256i mm = _mm256_set1_epi32(static_cast<int>(m));
      for (int q = 0; q < 4; ++q) {
        const __m256 c = _mm256_loadu_ps(col + 8 * q);
        const __m256 gt = _mm256_cmp_ps(c, b[q], _CMP_GT_OQ);  // strict: the first maximum stays
        b[q] = _mm256_blendv_ps(b[q], c, gt);
        a[q] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a[q]), _mm256_castsi256_ps(mm), gt));
      }
    }
    for (int q = 0; q < 4; ++q) {
      _mm256_storeu_ps(best + h + 8 * q, b[q]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(arg + h + 8 * q), a[q]);
    }
  }
}

void topk(const float* buf, size_t M, size_t k, float* tv, int32_t* ti) {
  // The scalar kernel's compare-exchange, 8 rows per vector, with blends, skipping the columns
  // that change no list of the 8 rows: those below each row's current last entry or below a
  // lower bound on its k-th largest product. The bound (M >= 4k): the k-th largest of the
  // maxima of G = 2k groups of consecutive columns (k of those maxima, one value each, are >=
  // it). A column below it is not among the row's k largest, so leaving it out leaves the lists
  // unchanged. (On the CIFAR-100 shape at k = 5 about 6 columns of 100 per row reach it.)
  for (size_t j = 0; j < k * kSelectRows; j += 8) {
    _mm256_storeu_ps(tv + j, _mm256_set1_ps(-INFINITY));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ti + j), _mm256_set1_epi32(static_cast<int>(M)));
  }
  const size_t G = 4 * k <= M ? 2 * k : 0;
  __m256 top[kMaxTopK];  // per row, the k largest group maxima
  std::vector<int32_t> pass(M);
  for (size_t q = 0; q < kSelectRows; q += 8) {
    __m256 bound = _mm256_set1_ps(-INFINITY);
    if (G) {
      for (size_t j = 0; j < k; ++j) top[j] = _mm256_set1_ps(-INFINITY);
      for (size_t g = 0; g < G; ++g) {
        const size_t m0 = g * M / G, m1 = (g + 1) * M / G;  // non-empty: G <= M
        __m256 x = _mm256_loadu_ps(buf + m0 * kSelectRows + q);
        for (size_t m = m0 + 1; m < m1; ++m) x = _mm256_max_ps(x, _mm256_loadu_ps(buf + m * kSelectRows + q));
        for (size_t j = 0; j < k; ++j) {
          const __m256 hi = _mm256_max_ps(top[j], x);
          x = _mm256_min_ps(top[j], x);
          top[j] = hi;
        }
      }
      bound = top[k - 1];
    }
    // The columns at or above the bound in some row of the 8, listed without branches (whether a
    // column passes is close to a coin toss: a branch per column mispredicted often).
    size_t npass = 0;
    for (size_t m = 0; m < M; ++m) {
      pass[npass] = static_cast<int32_t>(m);
      npass += _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(buf + m * kSelectRows + q), bound, _CMP_GE_OQ)) != 0;
    }
    for (size_t p = 0; p < npass; ++p) {
      const size_t m = static_cast<size_t>(pass[p]);
      const __m256i mm = _mm256_set1_epi32(static_cast<int>(m));
      __m256 c = _mm256_loadu_ps(buf + m * kSelectRows + q);
      __m256 ci = _mm256_castsi256_ps(mm);
      for (size_t j = 0; j < k; ++j) {
        float* pv = tv + j * kSelectRows + q;
        int32_t* pi = ti + j * kSelectRows + q;
        const __m256 v = _mm256_loadu_ps(pv);
        const __m256 vi = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pi)));
        const __m256 lower = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(vi), _mm256_castps_si256(ci)));
        const __m256 gt = _mm256_or_ps(_mm256_cmp_ps(c, v, _CMP_GT_OQ),
                                       _mm256_and_ps(_mm256_cmp_ps(c, v, _CMP_EQ_OQ), lower));
        _mm256_storeu_ps(pv, _mm256_blendv_ps(v, c, gt));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(pi), _mm256_castps_si256(_mm256_blendv_ps(vi, ci, gt)));
        c = _mm256_blendv_ps(c, v, gt);
        ci = _mm256_blendv_ps(ci, vi, gt);
      }
    }
  }
}

void scan(const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo, bool row_major) {
  switch (s.log2g) {
    case 1: scan_impl<1>(s, codes, rows, out, ldo, row_major); break;
    case 2: scan_impl<2>(s, codes, rows, out, ldo, row_major); break;
    case 3: scan_impl<3>(s, codes, rows, out, ldo, row_major); break;
    case 4: scan_impl<4>(s, codes, rows, out, ldo, row_major); break;
    default: scan_impl<0>(s, codes, rows, out, ldo, row_major); break;
  }
  if (s.stream) _mm_sfence();  // streaming stores are weakly ordered: visible before we return
}

}  // namespace avx2
}  // namespace maddness
}  // namespace tenfold
