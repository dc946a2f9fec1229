// Bounded top-k (smallest distances) with a threshold that SIMD scans read to skip blocks.
// Member functions are defined out of line in topk.cpp (a baseline translation unit) so that
// ISA-specific kernels only read `threshold` and call push_block.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace tenfold {

class TopK {
 public:
  explicit TopK(int k);
  // Only distances strictly below `threshold` can enter. While fewer than k items are held it
  // is 1 << 16 + 1 (everything enters); afterwards it is the current worst distance.
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
  int k_;
  std::vector<std::pair<uint32_t, int64_t>> heap_;  // max-heap on (dist, id)
};

}  // namespace tenfold
