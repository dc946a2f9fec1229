#include "common/topk.hpp"

#include "common/portable.hpp"

#include <algorithm>

namespace tenfold {

TopK::TopK(int k) : threshold((1u << 16) + 1), k_(k), cap_(2 * static_cast<size_t>(k) + 32) {}

void TopK::push(uint32_t dist, int64_t id) {
  if (dist >= threshold) return;
  if (items_.capacity() == 0) items_.reserve(cap_);
  items_.emplace_back(dist, id);
  if (items_.size() == cap_) compact();
}

void TopK::compact() {
  const auto kth = items_.begin() + (k_ - 1);
  std::nth_element(items_.begin(), kth, items_.end());
  items_.resize(static_cast<size_t>(k_));
  // Rows arrive in increasing id order (and heaps merge in range order), so a later row with
  // the k-th distance would rank after it: strictly smaller distances only from now on.
  threshold = kth->first;
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
  for (const auto& item : other.items_) push(item.first, item.second);
}

std::vector<std::pair<uint32_t, int64_t>> TopK::sorted() const {
  auto out = items_;
  const size_t keep = std::min(out.size(), static_cast<size_t>(k_));
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end());
  out.resize(keep);
  return out;
}

}  // namespace tenfold
