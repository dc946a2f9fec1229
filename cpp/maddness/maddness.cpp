// Preparation of the encoder tables, dispatch to the active ISA and work split over threads
// (baseline translation unit).
#include "maddness/maddness.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace maddness {

namespace {
constexpr size_t kChunkRows = kChunkBlocks * kBlockRows;
constexpr size_t kGrainRows = 4096;  // thread boundaries fall on multiples of this (and of kChunkRows)
// A second thread pays off from ~16k rows: below, a call takes ~0.3 ms and starting a thread and
// waking the other core costs more than it saves (measured: 10,000 rows x M=100 took 0.29 ms on
// one thread, 0.39 ms on two; 40,000 rows 1.55 ms vs 0.90 ms).
constexpr size_t kMinRowsPerThread = 16384;
constexpr size_t kMaxChunkRows = 2 * kGrainRows;  // chunks start on thread boundaries: any multiple of 32 works
// Results from this size on are written with streaming stores (ScanModel::stream).
constexpr size_t kStreamBytes = size_t(1) << 20;

bool encode_rows(Isa isa, const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, size_t r0,
                 size_t r1, uint8_t* codes) {
  switch (isa) {
#if defined(TENFOLD_X86)
    case Isa::Avx2:
    case Isa::Avx512: return avx2::encode(m, A, n, rs, cs, r0, r1, codes);
#elif defined(TENFOLD_ARM64)
    case Isa::Neon: return neon::encode(m, A, n, rs, cs, r0, r1, codes);
#endif
    default: return scalar::encode(m, A, n, rs, cs, r0, r1, codes);
  }
}

void scan_rows(Isa isa, const ScanModel& s, const uint8_t* codes, size_t rows, float* out, size_t ldo,
               bool row_major) {
  switch (isa) {
#if defined(TENFOLD_X86)
    case Isa::Avx2:
    case Isa::Avx512: avx2::scan(s, codes, rows, out, ldo, row_major); break;
#elif defined(TENFOLD_ARM64)
    case Isa::Neon: neon::scan(s, codes, rows, out, ldo, row_major); break;
#endif
    default: scalar::scan(s, codes, rows, out, ldo, row_major); break;
  }
}

// Byte of row r inside a 32-byte code column in scan order.
inline size_t pos(size_t r) { return 4 * (r & 7) + (r >> 3); }

// One block of code columns: natural row order <-> scan order.
void permute_block(const uint8_t* src, uint8_t* dst, int ncols, bool to_scan) {
  for (int j = 0; j < ncols; ++j) {
    const uint8_t* s = src + j * kBlockRows;
    uint8_t* d = dst + j * kBlockRows;
    for (size_t r = 0; r < static_cast<size_t>(kBlockRows); ++r) {
      if (to_scan)
        d[pos(r)] = s[r];
      else
        d[r] = s[pos(r)];
    }
  }
}
}  // namespace

bool Prepared::same(const int64_t* d, const float* o, const float* s, const int8_t* t, int C) const {
  const size_t k = static_cast<size_t>(C) * kLevels;
  return C == ncodebooks && std::memcmp(d, dims.data(), k * sizeof(int64_t)) == 0 &&
         std::memcmp(o, offsets.data(), k * sizeof(float)) == 0 && std::memcmp(s, scales.data(), k * sizeof(float)) == 0 &&
         std::memcmp(t, thresholds.data(), k * 16) == 0;
}

EncodeModel Prepared::model() const {
  return {dims.data(), offsets.data(),  scales.data(),     thresholds.data(),
          fthr.data(), ncodebooks,      slot.data(),       slot_dims.data(),
          static_cast<int>(slot_dims.size())};
}

Prepared prepare(const int64_t* d, const float* o, const float* s, const int8_t* t, int C) {
  const size_t k = static_cast<size_t>(C) * kLevels;
  for (size_t i = 0; i < k; ++i) {
    if (!(std::isfinite(s[i]) && s[i] > 0.0f) || !std::isfinite(o[i]))
      throw std::invalid_argument("MADDNESS split scales must be positive and finite, offsets finite");
    if (d[i] < 0) throw std::invalid_argument("split dimension out of range");
  }
  Prepared p;
  p.ncodebooks = C;
  p.dims.assign(d, d + k);
  p.offsets.assign(o, o + k);
  p.scales.assign(s, s + k);
  p.thresholds.assign(t, t + k * 16);
  p.fthr.assign(k * 8, INFINITY);
  for (size_t i = 0; i < k; ++i) {
    const int nnodes = 1 << (i % kLevels);
    for (int node = 0; node < nnodes; ++node)
      p.fthr[i * 8 + (nnodes == 8 ? (8 - node) & 7 : (4 - node) & 3)] =
          scalar::float_threshold(o[i], s[i], t[i * 16 + node]);
  }
  p.slot_dims.assign(d, d + k);
  std::sort(p.slot_dims.begin(), p.slot_dims.end());
  p.slot_dims.erase(std::unique(p.slot_dims.begin(), p.slot_dims.end()), p.slot_dims.end());
  p.slot.resize(k);
  for (size_t i = 0; i < k; ++i)
    p.slot[i] = static_cast<int32_t>(std::lower_bound(p.slot_dims.begin(), p.slot_dims.end(), d[i]) -
                                     p.slot_dims.begin());
  return p;
}

std::shared_ptr<const Prepared> Plan::get(const int64_t* d, const float* o, const float* s, const int8_t* t,
                                         int C) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!cur_ || !cur_->same(d, o, s, t, C)) cur_ = std::make_shared<const Prepared>(prepare(d, o, s, t, C));
  return cur_;
}

namespace {
// Rows encoded then aggregated together by the fused calls.
size_t fused_chunk_rows(int ncols, ptrdiff_t rs) {
  if (rs != 1) return kChunkRows;
  // Fortran-order A: the encoder reads one codebook pair's 8 split columns at a time down the
  // whole chunk, so a long chunk keeps few columns streaming from memory at once. Measured
  // here (one thread, caches flushed): 64 columns read 1 KB at a time (256-row chunks) ran at
  // ~7-10 GB/s, 8 columns at a time at ~14 GB/s over 1 KB runs, ~15 over 4 KB, ~20 over 40 KB
  // (sequential reads: ~22 GB/s); at C=16, 8192-row chunks ran 3% faster than 4096 from cold
  // memory (CIFAR-100 shape, interleaved medians). The codes of a chunk (rows * ncols bytes,
  // 64 KB) stay within L2.
  constexpr size_t kCodeBytes = size_t(1) << 16;
  const size_t rows = kCodeBytes / static_cast<size_t>(ncols) / kChunkRows * kChunkRows;
  return std::max(kChunkRows, std::min(kMaxChunkRows, rows));
}
}  // namespace

bool matmul(const EncodeModel& em, const ScanModel& sm_in, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            float* out, size_t ldo, bool row_major, int n_threads, int phases) {
  const Isa isa = active_isa();
  const int ncols = em.ncodebooks / 2;
  ScanModel sm = sm_in;
  sm.stream = n * static_cast<size_t>(sm.m) * sizeof(float) >= kStreamBytes;
  const size_t chunk = fused_chunk_rows(ncols, rs);
  std::atomic<bool> ok{true};
  parallel_for(n, n_threads, kGrainRows, [&](int, size_t b, size_t e) {
    std::vector<uint8_t> codes(chunk * static_cast<size_t>(ncols), 0);  // zero: phases == 2 scans zero codes
    bool good = true;
    for (size_t r0 = b; r0 < e; r0 += chunk) {
      const size_t r1 = r0 + chunk < e ? r0 + chunk : e;
      const size_t rows_end = (r1 + kBlockRows - 1) / kBlockRows * kBlockRows;
      if (phases & 1) good = encode_rows(isa, em, A, n, rs, cs, r0, rows_end, codes.data()) && good;
      if (phases & 2)
        scan_rows(isa, sm, codes.data(), r1 - r0, row_major ? out + r0 * ldo : out + r0, ldo, row_major);
    }
    if (!good) ok.store(false);
  }, kMinRowsPerThread);
  return ok.load();
}

namespace {
// The k largest of the products buf[m*kSelectRows + r] (m < M) of each row r < rows, in
// descending order, ties to the lower column (the order of a stable sort by decreasing value):
// idx/val rows of k entries from row r0 on (val may be null). k <= M.
void select_top(Isa isa, const float* buf, size_t M, size_t rows, size_t k, size_t r0, int64_t* idx, float* val) {
  if (k == 1) {
    float best[kSelectRows];
    int32_t arg[kSelectRows];
#if defined(TENFOLD_X86)
    if (isa == Isa::Avx2 || isa == Isa::Avx512)
      avx2::argmax(buf, M, arg, best);
    else
#endif
      scalar::argmax(buf, M, arg, best);
    (void)isa;
    for (size_t r = 0; r < rows; ++r) {
      idx[r0 + r] = arg[r];
      if (val) val[r0 + r] = best[r];
    }
    return;
  }
  float tv[kMaxTopK * kSelectRows];
  int32_t ti[kMaxTopK * kSelectRows];
#if defined(TENFOLD_X86)
  if (isa == Isa::Avx2 || isa == Isa::Avx512)
    avx2::topk(buf, M, k, tv, ti);
  else
#endif
    scalar::topk(buf, M, k, tv, ti);
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < k; ++j) {
      idx[(r0 + r) * k + j] = ti[j * kSelectRows + r];
      if (val) val[(r0 + r) * k + j] = tv[j * kSelectRows + r];
    }
}
}  // namespace

bool matmul_topk(const EncodeModel& em, const ScanModel& sm, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
                 size_t k, int64_t* idx, float* val, int n_threads) {
  const Isa isa = active_isa();
  const size_t M = static_cast<size_t>(sm.m);
  const int ncols = em.ncodebooks / 2;
  if (k < 1 || k > M || k > kMaxTopK) throw std::invalid_argument("k must be in [1, min(M, 64)]");
  const size_t chunk = fused_chunk_rows(ncols, rs);
  std::atomic<bool> ok{true};
  parallel_for(n, n_threads, kGrainRows, [&](int, size_t b, size_t e) {
    std::vector<uint8_t> codes(chunk * static_cast<size_t>(ncols));
    std::vector<float> buf(M * kSelectRows, 0.0f);  // 64 rows' products, column-major (first-level cache for M <= 100)
    bool good = true;
    for (size_t r0 = b; r0 < e; r0 += chunk) {
      const size_t r1 = r0 + chunk < e ? r0 + chunk : e;
      const size_t rows_end = (r1 + kBlockRows - 1) / kBlockRows * kBlockRows;
      good = encode_rows(isa, em, A, n, rs, cs, r0, rows_end, codes.data()) && good;
      for (size_t s0 = r0; s0 < r1; s0 += kSelectRows) {
        const size_t rows = r1 - s0 < kSelectRows ? r1 - s0 : kSelectRows;
        scan_rows(isa, sm, codes.data() + (s0 - r0) * ncols, rows, buf.data(), kSelectRows, false);
        select_top(isa, buf.data(), M, rows, k, s0, idx, val);
      }
    }
    if (!good) ok.store(false);
  }, kMinRowsPerThread);
  return ok.load();
}

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs, uint8_t* blocked,
            int n_threads) {
  const Isa isa = active_isa();
  const int ncols = m.ncodebooks / 2;
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  std::atomic<bool> ok{true};
  const size_t chunk = fused_chunk_rows(ncols, rs);
  parallel_for(nblocks * kBlockRows, n_threads, kGrainRows, [&](int, size_t b, size_t e) {
    std::vector<uint8_t> codes(chunk * static_cast<size_t>(ncols));
    bool good = true;
    for (size_t r0 = b; r0 < e; r0 += chunk) {
      const size_t r1 = r0 + chunk < e ? r0 + chunk : e;
      good = encode_rows(isa, m, A, n, rs, cs, r0, r1, codes.data()) && good;
      for (size_t blk = 0; blk < (r1 - r0) / kBlockRows; ++blk)
        permute_block(codes.data() + blk * kBlockRows * ncols, blocked + (r0 / kBlockRows + blk) * kBlockRows * ncols,
                      ncols, false);
    }
    if (!good) ok.store(false);
  }, kMinRowsPerThread);
  return ok.load();
}

void scan(const ScanModel& s, const uint8_t* blocked, size_t n, float* out, size_t ldo, bool row_major,
          int n_threads) {
  const Isa isa = active_isa();
  const int ncols = s.ncodebooks / 2;
  parallel_for(n, n_threads, kGrainRows, [&](int, size_t b, size_t e) {
    alignas(64) uint8_t codes[kChunkRows * 128];
    for (size_t r0 = b; r0 < e; r0 += kChunkRows) {
      const size_t r1 = r0 + kChunkRows < e ? r0 + kChunkRows : e;
      const size_t nb = (r1 - r0 + kBlockRows - 1) / kBlockRows;
      for (size_t blk = 0; blk < nb; ++blk)
        permute_block(blocked + (r0 / kBlockRows + blk) * kBlockRows * ncols, codes + blk * kBlockRows * ncols,
                      ncols, true);
      scan_rows(isa, s, codes, r1 - r0, row_major ? out + r0 * ldo : out + r0, ldo, row_major);
    }
  }, kMinRowsPerThread);
}

namespace {
// The distinct columns of cols[0..nterms), ascending; offs[k] = stride * (position of cols[k]).
std::vector<int64_t> used_columns(const int64_t* cols, size_t nterms, size_t stride, std::vector<uint32_t>& offs) {
  std::vector<int64_t> used(cols, cols + nterms);
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  offs.resize(nterms);
  for (size_t k = 0; k < nterms; ++k)
    offs[k] = static_cast<uint32_t>((std::lower_bound(used.begin(), used.end(), cols[k]) - used.begin()) * stride);
  return used;
}

}  // namespace

void project(const int64_t* cols, const int32_t* npos, int nfeat, int width, const float* A, size_t n, size_t d,
             ptrdiff_t rs, ptrdiff_t cs, float* feat, int n_threads) {
  auto stage_rows = scalar::stage_rows;
  auto stage_cols = scalar::stage_cols;
  auto project_group = scalar::project;
#if defined(TENFOLD_X86)
  if (active_isa() != Isa::Scalar) {
    stage_rows = avx2::stage_rows;
    stage_cols = avx2::stage_cols;
    project_group = avx2::project;
  }
#endif
  const size_t nterms = static_cast<size_t>(nfeat) * width;
  // A row costs ~0.1 ns per term, so a second thread pays off from ~2M term-rows per thread
  // (~0.2 ms), far fewer rows than the encoder needs.
  const size_t min_rows = std::max<size_t>(kChunkRows, (size_t(1) << 21) / nterms);
  // 16 rows at a time are copied into a compact group that holds each used column's 16 values
  // contiguously (24 KB for 384 columns), then the kernel runs on the group: its loads stay in
  // the first-level cache and TLB. (Reading Fortran-order columns in place instead measured
  // 10-30% slower: each term's load touched another page, 64 bytes per page and group.)
  constexpr size_t kGroup = 16;
  // Rows of contiguous columns (C order) are copied by 8-column blocks (8x8 register transposes)
  // that hold a used column; any other layout column by column (Fortran order: one cache line of
  // each used column per group, the line two groups on prefetched).
  const bool by_rows = cs == 1 && rs != 1;
  std::vector<int64_t> used;
  std::vector<int32_t> blocks;
  std::vector<uint32_t> offs;
  if (by_rows) {
    blocks.resize(nterms);
    for (size_t k = 0; k < nterms; ++k) blocks[k] = static_cast<int32_t>(cols[k] / 8);
    std::sort(blocks.begin(), blocks.end());
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    offs.resize(nterms);
    for (size_t k = 0; k < nterms; ++k) {
      const int64_t b = std::lower_bound(blocks.begin(), blocks.end(), static_cast<int32_t>(cols[k] / 8)) - blocks.begin();
      offs[k] = static_cast<uint32_t>((8 * b + cols[k] % 8) * static_cast<int64_t>(kGroup));
    }
  } else {
    used = used_columns(cols, nterms, kGroup, offs);
  }
  const int nblk = static_cast<int>(blocks.size());
  const size_t group_floats = (by_rows ? 8 * blocks.size() : used.size()) * kGroup;
  const ProjectModel p{offs.data(), npos, nfeat, width};
  parallel_for(n, n_threads, kChunkRows, [&](int, size_t b, size_t e) {
    std::vector<float> group(group_floats);
    for (size_t r0 = b; r0 < e; r0 += kGroup) {
      const size_t rows = std::min(kGroup, e - r0);
      const float* src = A + static_cast<ptrdiff_t>(r0) * rs;
      if (by_rows) {
        stage_rows(src, rs, rows, blocks.data(), nblk, d, group.data());
      } else {
        const ptrdiff_t ahead = rs == 1 && r0 + 3 * kGroup <= n ? 2 * kGroup : 0;
        stage_cols(src, rs, cs, rows, used.data(), used.size(), group.data(), ahead);
      }
      project_group(p, group.data(), rows, feat + r0, n);
    }
  }, min_rows);
}

}  // namespace maddness
}  // namespace tenfold
