// Top-k (smallest distances, ties to the smaller id) with a threshold that SIMD scans read to
// skip blocks. Candidates are appended to a buffer of 2k + 32; when it fills, nth_element keeps
// the k best and the threshold drops to the k-th distance: O(1) per candidate, where a heap of
// k = 200 (re-ranking candidate counts) spent most of a search in its sift-downs.
// Member functions are defined out of line in topk.cpp (a baseline translation unit) so that
// ISA-specific kernels only read `threshold` and call push_block.
#pragma once
#include <cstdint>
#include <cstddef>
#include <utility>
#include <vector>

namespace tenfold {

class TopK {
 public:
  explicit TopK(int k);
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
  int k_;
  size_t cap_;
  std::vector<std::pair<uint32_t, int64_t>> items_;  // unordered candidates
};

}  // namespace tenfold
