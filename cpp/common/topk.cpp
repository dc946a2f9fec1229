#include "common/topk.hpp"

#include "common/portable.hpp"

#include <algorithm>

namespace tenfold {

TopK::TopK(int k) : threshold((1u << 16) + 1), k_(k) { heap_.reserve(static_cast<size_t>(k)); }

void TopK::push(uint32_t dist, int64_t id) {
  std::pair<uint32_t, int64_t> item(dist, id);
  if (static_cast<int>(heap_.size()) < k_) {
    heap_.push_back(item);
    std::push_heap(heap_.begin(), heap_.end());
  } else if (item < heap_.front()) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.back() = item;
    std::push_heap(heap_.begin(), heap_.end());
  } else {
    return;
  }
  if (static_cast<int>(heap_.size()) == k_) threshold = heap_.front().first;
}

void TopK::push_block(const uint16_t* d, uint32_t mask, int64_t base, int64_t n_valid) {
  while (mask) {
    int i = ctz32(mask);
    mask &= mask - 1;
    if (base + i >= n_valid) break;  // bits are visited in increasing id order
    if (d[i] < threshold) push(d[i], base + i);
  }
}

void TopK::merge(const TopK& other) {
  for (const auto& item : other.heap_) push(item.first, item.second);
}

std::vector<std::pair<uint32_t, int64_t>> TopK::sorted() const {
  auto out = heap_;
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tenfold
