#include "common/checks.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>

#include "common/parallel.hpp"

namespace tenfold {

long long first_nonfinite_row(const float* X, size_t n, size_t d, size_t ld, int n_threads) {
  std::atomic<long long> first{-1};
  parallel_for(n, n_threads, 16384, [&](int, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float* row = X + i * ld;
      uint32_t bad = 0;
      // Compare the magnitude bits (NaN and inf are the largest); branch-free so it vectorizes.
      for (size_t j = 0; j < d; ++j) {
        uint32_t bits;
        std::memcpy(&bits, row + j, 4);
        bad |= static_cast<uint32_t>((bits & 0x7fffffffu) >= kMagnitudeLimitBits);
      }
      if (bad) {
        long long cur = first.load();
        while ((cur < 0 || static_cast<long long>(i) < cur) && !first.compare_exchange_weak(cur, static_cast<long long>(i))) {
        }
        return;
      }
    }
  });
  return first.load();
}

}  // namespace tenfold
