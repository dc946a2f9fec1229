// Inverted-file search (baseline translation unit) over the per-ISA scan kernels of bolt.hpp.
//
// Two ways to find a query's k best rows among its probed lists, chosen per query by how many
// rows it probes against k (the result is the same either way):
// - select: the sums of every probed row into a buffer (scan_u16), a histogram of the sums,
//   the k-th smallest from its prefix sums, one pass to collect. Costs a few ns per row
//   whatever k is: the choice when a query probes few rows per wanted candidate (re-ranking
//   asks for k = hundreds).
// - heap: the fused scan + top-k (scan_topk), whose threshold skips blocks without a candidate
//   once it is tight: the choice for many rows per candidate. The queries of a thread probing
//   the same list are scanned together, up to 4 at a time, sharing each load of its codes.
// Which of the rows tied at the k-th sum are kept, and the order of equal sums, depend on the
// path (select: the row met first, lists in probe order; heap: see the heap path) but never on
// n_threads: both are deterministic.
#include "bolt/ivf.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
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
// A query probing at most this many rows per wanted candidate takes the select path. Measured
// (CPU time, MiniLM codes, C = 32, k = 100, 100k rows in 256 lists): select 6 vs heap 11 us at
// 4 rows per candidate, 13 vs 18 at 31, 31 vs 24 at 125, 55 vs 31 at 250.
constexpr size_t kSelectRowsPerCandidate = 64;
// Marks a padding row in the select buffer: no sum reaches it (C * 127 <= 32,512).
constexpr uint16_t kPadSum = 0xffff;

void scan_topk_isa(Isa isa, const uint8_t* codes, size_t b0, size_t b1, int ncols, const uint8_t* luts, int m,
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

void scan_u16_isa(Isa isa, const uint8_t* codes, size_t nblocks, int ncols, const uint8_t* lut, uint16_t* out) {
  switch (isa) {
#if defined(TENFOLD_X86)
    case Isa::Avx512: avx512::scan_u16(codes, 0, nblocks, ncols, lut, 1, out, 0); break;
    case Isa::Avx2: avx2::scan_u16(codes, 0, nblocks, ncols, lut, 1, out, 0); break;
#elif defined(TENFOLD_ARM64)
    case Isa::Neon: neon::scan_u16(codes, 0, nblocks, ncols, lut, 1, out, 0); break;
#endif
    default: scalar::scan_u16(codes, 0, nblocks, ncols, lut, 1, out, 0); break;
  }
}

struct Lists {
  const uint8_t* codes;
  int ncols;
  const int64_t* block_off;
  const int64_t* sizes;
  const int64_t* row_start;
  int64_t nlist;

  size_t padded_rows(int32_t l) const {
    return l < 0 ? 0 : static_cast<size_t>(block_off[l + 1] - block_off[l]) * kBlockRows;
  }
  // Row (list order) of a slot of the whole buffer (32 * block + row in block): the list is
  // the last one starting at or before the slot's block (empty lists start where the next one
  // does and are passed over).
  int64_t row_of_slot(int64_t slot) const {
    const int64_t blk = slot / kBlockRows;
    const int64_t l = std::upper_bound(block_off, block_off + nlist + 1, blk) - block_off - 1;
    return row_start[l] + (slot - block_off[l] * kBlockRows);
  }
};

void write_result(const std::vector<std::pair<uint32_t, int64_t>>& best, int k, uint32_t* dist, int64_t* rows) {
  for (int i = 0; i < k; ++i) {
    const bool have = i < static_cast<int>(best.size());
    dist[i] = have ? best[static_cast<size_t>(i)].first : 0xffffffffu;
    rows[i] = have ? best[static_cast<size_t>(i)].second : -1;
  }
}

// The select path for one query; buf and hist are the thread's scratch.
void select_query(Isa isa, const Lists& L, const int32_t* probe, int nprobe, const uint8_t* lut, int k,
                  int max_sum, std::vector<uint16_t>& buf, std::vector<uint32_t>& hist,
                  std::vector<std::pair<uint32_t, int64_t>>& best, uint32_t* dist, int64_t* rows) {
  const size_t ncols = static_cast<size_t>(L.ncols);
  size_t total = 0;
  for (int j = 0; j < nprobe; ++j) total += L.padded_rows(probe[j]);
  buf.resize(total);
  // sums of the probed lists one after the other, padding rows marked
  size_t pos = 0;
  for (int j = 0; j < nprobe; ++j) {
    const int32_t l = probe[j];
    const size_t rows_l = L.padded_rows(l);
    if (rows_l == 0) continue;
    scan_u16_isa(isa, L.codes + static_cast<size_t>(L.block_off[l]) * kBlockRows * ncols, rows_l / kBlockRows,
                 L.ncols, lut, buf.data() + pos);
    std::fill(buf.begin() + static_cast<std::ptrdiff_t>(pos + static_cast<size_t>(L.sizes[l])),
              buf.begin() + static_cast<std::ptrdiff_t>(pos + rows_l), kPadSum);
    pos += rows_l;
  }
  hist.assign(static_cast<size_t>(max_sum) + 1, 0);
  size_t valid = 0;
  for (size_t p = 0; p < total; ++p) {
    const uint16_t s = buf[p];
    if (s != kPadSum) {
      ++hist[s];
      ++valid;
    }
  }
  const size_t want = std::min(valid, static_cast<size_t>(k));
  // the want-th smallest sum t: `below` rows have smaller sums, the first want - below rows
  // with sum t are taken too
  size_t below = 0;
  uint32_t t = 0;
  if (want) {
    while (below + hist[t] < want) below += hist[t++];
  }
  size_t ties = want - below;
  best.clear();
  pos = 0;
  for (int j = 0; j < nprobe && best.size() < want; ++j) {
    const int32_t l = probe[j];
    const size_t rows_l = L.padded_rows(l);
    if (rows_l == 0) continue;
    const uint16_t* s = buf.data() + pos;
    for (size_t r = 0; r < static_cast<size_t>(L.sizes[l]); ++r) {
      if (s[r] < t || (s[r] == t && ties > 0)) {
        if (s[r] == t) --ties;
        // position in the buffer as the tie-breaker: the order the rows were met
        best.emplace_back(s[r], static_cast<int64_t>(pos + r));
      }
    }
    pos += rows_l;
  }
  std::sort(best.begin(), best.end());
  // buffer positions -> rows
  std::vector<std::pair<size_t, int32_t>> segs;  // (start in buffer, list)
  pos = 0;
  for (int j = 0; j < nprobe; ++j) {
    const size_t rows_l = L.padded_rows(probe[j]);
    if (rows_l) segs.emplace_back(pos, probe[j]);
    pos += rows_l;
  }
  for (auto& b : best) {
    const size_t p = static_cast<size_t>(b.second);
    const auto it = std::upper_bound(segs.begin(), segs.end(), std::make_pair(p, INT32_MAX)) - 1;
    b.second = L.row_start[it->second] + static_cast<int64_t>(p - it->first);
  }
  write_result(best, k, dist, rows);
}
}  // namespace

void ivf_search(const uint8_t* codes, int ncols, const int64_t* block_off, const int64_t* sizes,
                const int64_t* row_start, int64_t nlist, const int32_t* probes, int nprobe,
                const uint8_t* luts, int nq, int k, uint32_t* dist, int64_t* rows, int n_threads) {
  const Isa isa = active_isa();
  const Lists L{codes, ncols, block_off, sizes, row_start, nlist};
  const size_t lut_stride = static_cast<size_t>(2 * ncols) * 16, np_ = static_cast<size_t>(nprobe);
  const int max_sum = 2 * ncols * kMaxLutEntry;
  parallel_for(static_cast<size_t>(nq), n_threads, kQueryGrain, [&](int, size_t q0, size_t q1) {
    std::vector<uint16_t> buf;
    std::vector<uint32_t> hist;
    std::vector<std::pair<uint32_t, int64_t>> best;
    std::vector<size_t> by_heap;  // queries of this range for the heap path
    // This range's probes with repeats dropped (-1): a list probed twice is scanned once (a
    // query's heap must never be in two places of a group at once).
    std::vector<int32_t> own((q1 - q0) * np_);
    std::vector<size_t> stamp(static_cast<size_t>(nlist), SIZE_MAX);
    for (size_t q = q0; q < q1; ++q)
      for (size_t j = 0; j < np_; ++j) {
        int32_t l = probes[q * np_ + j];
        if (l >= 0 && stamp[static_cast<size_t>(l)] == q) l = -1;
        if (l >= 0) stamp[static_cast<size_t>(l)] = q;
        own[(q - q0) * np_ + j] = l;
      }
    for (size_t q = q0; q < q1; ++q) {
      const int32_t* probe = own.data() + (q - q0) * np_;
      size_t total = 0;
      for (size_t j = 0; j < np_; ++j) total += L.padded_rows(probe[j]);
      if (total <= kSelectRowsPerCandidate * static_cast<size_t>(k)) {
        select_query(isa, L, probe, nprobe, luts + q * lut_stride, k, max_sum, buf, hist, best,
                     dist + q * static_cast<size_t>(k), rows + q * static_cast<size_t>(k));
      } else {
        by_heap.push_back(q);
      }
    }
    if (by_heap.empty()) return;
    // Heap path. The nearest list of each query first, alone: it holds most of the query's
    // best rows, so the threshold is tight before the other lists are met. Then list by list,
    // the queries probing a list together (each query meets its other lists in increasing list
    // number, whatever the thread split). Rows are pushed with their slot in the whole buffer;
    // slots from a list's end to its next block boundary are padding and ignored.
    std::vector<TopK> heaps(by_heap.size(), TopK(k));
    for (size_t i = 0; i < by_heap.size(); ++i) {
      const int32_t l = own[(by_heap[i] - q0) * np_];
      if (l >= 0 && sizes[l] > 0) {
        const size_t b0 = static_cast<size_t>(block_off[l]), b1 = static_cast<size_t>(block_off[l + 1]);
        scan_topk_isa(isa, codes, b0, b1, ncols, luts + by_heap[i] * lut_stride, 1, &heaps[i],
                      static_cast<int64_t>(b0) * kBlockRows + sizes[l]);
      }
    }
    std::vector<size_t> first(static_cast<size_t>(nlist) + 1, 0);
    for (size_t i = 0; i < by_heap.size(); ++i)
      for (size_t j = 1; j < np_; ++j) {
        const int32_t l = own[(by_heap[i] - q0) * np_ + j];
        if (l >= 0) ++first[static_cast<size_t>(l) + 1];
      }
    for (size_t l = 0; l < static_cast<size_t>(nlist); ++l) first[l + 1] += first[l];
    std::vector<size_t> fill(first.begin(), first.end() - 1), who(first.back());
    for (size_t i = 0; i < by_heap.size(); ++i)
      for (size_t j = 1; j < np_; ++j) {
        const int32_t l = own[(by_heap[i] - q0) * np_ + j];
        if (l >= 0) who[fill[static_cast<size_t>(l)]++] = i;
      }
    std::vector<uint8_t> group_luts(kGroup * lut_stride);
    std::vector<TopK> group(kGroup, TopK(k));
    for (size_t l = 0; l < static_cast<size_t>(nlist); ++l) {
      if (sizes[l] == 0) continue;
      const size_t b0 = static_cast<size_t>(block_off[l]), b1 = static_cast<size_t>(block_off[l + 1]);
      const int64_t n_valid = static_cast<int64_t>(b0) * kBlockRows + sizes[l];
      for (size_t i = first[l]; i < first[l + 1]; i += kGroup) {
        const size_t m = std::min(kGroup, first[l + 1] - i);
        for (size_t g = 0; g < m; ++g) {
          std::memcpy(group_luts.data() + g * lut_stride, luts + by_heap[who[i + g]] * lut_stride, lut_stride);
          std::swap(group[g], heaps[who[i + g]]);
        }
        scan_topk_isa(isa, codes, b0, b1, ncols, group_luts.data(), static_cast<int>(m), group.data(), n_valid);
        for (size_t g = 0; g < m; ++g) std::swap(group[g], heaps[who[i + g]]);
      }
    }
    for (size_t i = 0; i < by_heap.size(); ++i) {
      auto found = heaps[i].sorted();
      for (auto& f : found) f.second = L.row_of_slot(f.second);
      write_result(found, k, dist + by_heap[i] * static_cast<size_t>(k), rows + by_heap[i] * static_cast<size_t>(k));
    }
  });
}

}  // namespace bolt
}  // namespace tenfold
