// Top-k (smallest distances, ties to the smaller id) with a threshold that SIMD scans read to
// skip blocks. Candidates are appended to a buffer of 2k + 32; when it fills, nth_element keeps
// the k best and the threshold drops to the k-th distance: O(1) per candidate, where a heap of
// k = 200 (re-ranking candidate counts) spent most of a search in its sift-downs.
// Member functions are defined out of line in topk.cpp (a baseline translation unit) so that
// ISA-specific kernels only read `threshold` and call push_block.
// Counting mode (distances known to be <= max_dist, k >= kCountingMinK): a histogram of the
// kept distances lowers the threshold after every push, as soon as the k-th best allows, instead
// of once per compaction; a compaction then mostly drops the entries above it. With k in the
// hundreds the threshold otherwise lags far behind and the scan pushes (and sorts) many times
// more candidates than it keeps.
#pragma once
#include <cstdint>
#include <cstddef>
#include <utility>
#include <vector>

namespace tenfold {

class TopK {
 public:
  static constexpr int kCountingMinK = 32;
  explicit TopK(int k, uint32_t max_dist = 0);
  // Only distances strictly below `threshold` can enter: 1 << 16 + 1 (everything) until the
  // buffer first fills, then the k-th best distance at the last compaction (an upper bound).
  uint32_t threshold;

  void push(uint32_t dist, int64_t id);
  // d holds 32 consecutive distances for ids base..base+31; bit i of mask marks candidates.
  // Ids >= n_valid (padding rows) are ignored.
  void push_block(const uint16_t* d, uint32_t mask, int64_t base, int64_t n_valid);
  // Merge another heap (e.g. from another thread's row range).
  void merge(const TopK& other);
  // Sorted best first; ties broken by smaller id.
  std::vector<std::pair<uint32_t, int64_t>> sorted() const;

 private:
  void compact();
  void lower();
  int k_;
  size_t cap_;
  int shift_ = 0;               // counting mode: bin of a distance = dist >> shift_
  std::vector<uint32_t> hist_;  // kept entries below the threshold, per bin (empty: no counting)
  size_t counted_ = 0;          // their number
  std::vector<std::pair<uint32_t, int64_t>> items_;  // unordered candidates
};

}  // namespace tenfold
