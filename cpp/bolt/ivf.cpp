// Inverted-file search (baseline translation unit): the per-ISA fused scan + top-k kernels of
// bolt.hpp run over each probed list's blocks in turn, filling one top-k per query.
#include "bolt/ivf.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "bolt/bolt.hpp"
#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace bolt {

namespace {
// Queries per thread chunk: a query costs nprobe list scans (tens of microseconds), so a few
// queries already pay for a thread.
constexpr size_t kQueryGrain = 4;

// Queries scanned together over one list (the scan kernels share code loads between 4).
constexpr size_t kGroup = 4;

void scan_lists(Isa isa, const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, int m,
                TopK* heaps, int64_t n_valid) {
  switch (isa) {
#if defined(TENFOLD_X86)
    case Isa::Avx512: avx512::scan_topk(codes, b0, b1, ncols, luts, m, heaps, n_valid); break;
    case Isa::Avx2: avx2::scan_topk(codes, b0, b1, ncols, luts, m, heaps, n_valid); break;
#elif defined(TENFOLD_ARM64)
    case Isa::Neon: neon::scan_topk(codes, b0, b1, ncols, luts, m, heaps, n_valid); break;
#endif
    default: scalar::scan_topk(codes, b0, b1, ncols, luts, m, heaps, n_valid); break;
  }
}
}  // namespace

void ivf_search(const uint8_t* codes, int ncols, const int64_t* block_off, const int64_t* sizes,
                const int64_t* row_start, int64_t nlist, const int32_t* probes, int nprobe,
                const uint8_t* luts, int nq, int k, uint32_t* dist, int64_t* rows, int n_threads) {
  const Isa isa = active_isa();
  const size_t lut_stride = static_cast<size_t>(2 * ncols) * 16, np_ = static_cast<size_t>(nprobe);
  std::vector<TopK> heaps(static_cast<size_t>(nq), TopK(k));
  parallel_for(static_cast<size_t>(nq), n_threads, kQueryGrain, [&](int, size_t q0, size_t q1) {
    // Then list by list: the queries of this range that probe list l are scanned together, up
    // to kGroup at a time, so that they share each load of the list's codes. Each query's heap
    // thus meets its first probe, then its other lists in increasing list number, whatever the
    // thread split.
    // The nearest list of each query comes first, alone: it holds most of the query's best
    // rows, so its heap's threshold is tight before the other lists are met.
    for (size_t q = q0; q < q1; ++q) {
      const int32_t l = probes[q * np_];
      if (l >= 0 && sizes[l] > 0) {
        const size_t b0 = static_cast<size_t>(block_off[l]), b1 = static_cast<size_t>(block_off[l + 1]);
        scan_lists(isa, codes, b0, b1, ncols, luts + q * lut_stride, 1, &heaps[q],
                   static_cast<int64_t>(b0) * kBlockRows + sizes[l]);
      }
    }
    std::vector<size_t> first(static_cast<size_t>(nlist) + 1, 0);
    for (size_t q = q0; q < q1; ++q)
      for (size_t j = 1; j < np_; ++j) {
        const int32_t l = probes[q * np_ + j];
        if (l >= 0) ++first[static_cast<size_t>(l) + 1];
      }
    for (size_t l = 0; l < static_cast<size_t>(nlist); ++l) first[l + 1] += first[l];
    std::vector<size_t> fill(first.begin(), first.end() - 1), who(first.back());
    for (size_t q = q0; q < q1; ++q)
      for (size_t j = 1; j < np_; ++j) {
        const int32_t l = probes[q * np_ + j];
        if (l >= 0) who[fill[static_cast<size_t>(l)]++] = q;  // a list probed twice is scanned twice: harmless
      }
    std::vector<uint8_t> group_luts(kGroup * lut_stride);
    std::vector<TopK> group(kGroup, TopK(k));
    for (size_t l = 0; l < static_cast<size_t>(nlist); ++l) {
      if (sizes[l] == 0) continue;
      // Rows are pushed with their slot in the whole buffer (32 * block + row in block);
      // slots from the list's end up to its next block boundary are padding and ignored.
      const size_t b0 = static_cast<size_t>(block_off[l]), b1 = static_cast<size_t>(block_off[l + 1]);
      const int64_t n_valid = static_cast<int64_t>(b0) * kBlockRows + sizes[l];
      for (size_t i = first[l]; i < first[l + 1]; i += kGroup) {
        const size_t m = std::min(kGroup, first[l + 1] - i);
        for (size_t g = 0; g < m; ++g) {
          std::memcpy(group_luts.data() + g * lut_stride, luts + who[i + g] * lut_stride, lut_stride);
          std::swap(group[g], heaps[who[i + g]]);
        }
        scan_lists(isa, codes, b0, b1, ncols, group_luts.data(), static_cast<int>(m), group.data(), n_valid);
        for (size_t g = 0; g < m; ++g) std::swap(group[g], heaps[who[i + g]]);
      }
    }
    for (size_t q = q0; q < q1; ++q) {
      const auto best = heaps[q].sorted();
      for (int i = 0; i < k; ++i) {
        const size_t at = q * static_cast<size_t>(k) + static_cast<size_t>(i);
        if (i >= static_cast<int>(best.size())) {
          dist[at] = 0xffffffffu;
          rows[at] = -1;
          continue;
        }
        // slot -> list (the last list starting at or before its block; empty lists start
        // where the next one does and are passed over) -> row
        const int64_t slot = best[static_cast<size_t>(i)].second, blk = slot / kBlockRows;
        const int64_t l = std::upper_bound(block_off, block_off + nlist + 1, blk) - block_off - 1;
        dist[at] = best[static_cast<size_t>(i)].first;
        rows[at] = row_start[l] + (slot - block_off[l] * kBlockRows);
      }
    }
  });
}

}  // namespace bolt
}  // namespace tenfold
