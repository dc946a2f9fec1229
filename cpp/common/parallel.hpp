// Static partitioning of [0, n) over worker threads. Include only from baseline (non-ISA)
// translation units: a template instantiated under -mavx2 could be picked by the linker for
// every caller and leak AVX2 instructions into the portable path.
#pragma once
#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace tenfold {

// Calls fn(thread_index, begin, end) on contiguous chunks; chunk boundaries are multiples of
// `grain`. Runs inline when one thread suffices. Rethrows the first worker exception.
template <class Fn>
void parallel_for(size_t n, int n_threads, size_t grain, Fn&& fn) {
  if (grain == 0) grain = 1;
  size_t units = (n + grain - 1) / grain;
  size_t t = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(n_threads, 1)), units));
  if (t <= 1) {
    fn(0, size_t(0), n);
    return;
  }
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> errors(t);
  size_t per = units / t, extra = units % t, begin_unit = 0;
  for (size_t i = 0; i < t; ++i) {
    size_t cnt = per + (i < extra ? 1 : 0);
    size_t b = std::min(n, begin_unit * grain), e = std::min(n, (begin_unit + cnt) * grain);
    begin_unit += cnt;
    workers.emplace_back([&, i, b, e] {
      try {
        fn(static_cast<int>(i), b, e);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& w : workers) w.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace tenfold
