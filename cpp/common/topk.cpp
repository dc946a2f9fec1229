#include "common/topk.hpp"

#include "common/portable.hpp"

#include <algorithm>

namespace tenfold {

namespace {
constexpr uint32_t kMaxBins = 1024;  // histogram of at most 4 KB per heap
}  // namespace

TopK::TopK(int k, uint32_t max_dist) : threshold((1u << 16) + 1), k_(k), cap_(2 * static_cast<size_t>(k) + 32) {
  if (max_dist > 0 && max_dist < (1u << 16) && k >= kCountingMinK) {
    while ((max_dist >> shift_) >= kMaxBins) ++shift_;
    hist_.assign((max_dist >> shift_) + 1, 0u);
    threshold = max_dist + 1;
  }
}

// Counting mode: while the entries below the threshold's top bin are k or more, no entry of
// that bin (or above) can be among the k best.
void TopK::lower() {
  while (threshold > 0 && counted_ >= static_cast<size_t>(k_)) {
    const uint32_t top = (threshold - 1) >> shift_;
    if (counted_ - hist_[top] < static_cast<size_t>(k_)) break;
    counted_ -= hist_[top];
    hist_[top] = 0;
    threshold = top << shift_;
  }
}

void TopK::push(uint32_t dist, int64_t id) {
  if (dist >= threshold) return;
  if (items_.capacity() == 0) items_.reserve(cap_);
  items_.emplace_back(dist, id);
  if (!hist_.empty()) {
    ++hist_[dist >> shift_];
    ++counted_;
    lower();
  }
  if (items_.size() == cap_) compact();
}

void TopK::compact() {
  if (!hist_.empty()) {
    // entries at or above the threshold lost their place: drop them (order kept)
    const uint32_t t = threshold;
    items_.erase(std::remove_if(items_.begin(), items_.end(), [t](const auto& e) { return e.first >= t; }),
                 items_.end());
    if (items_.size() <= (cap_ + static_cast<size_t>(k_)) / 2) return;
    // many entries share the top bin (ties, or bins of several values): exact compaction below
  }
  const auto kth = items_.begin() + (k_ - 1);
  std::nth_element(items_.begin(), kth, items_.end());
  items_.resize(static_cast<size_t>(k_));
  // Rows arrive in increasing id order (and heaps merge in range order), so a later row with
  // the k-th distance would rank after it: strictly smaller distances only from now on.
  threshold = kth->first;
  if (!hist_.empty()) {
    std::fill(hist_.begin(), hist_.end(), 0u);
    counted_ = 0;
    for (const auto& e : items_)
      if (e.first < threshold) {
        ++hist_[e.first >> shift_];
        ++counted_;
      }
  }
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
