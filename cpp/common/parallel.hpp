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
// `grain`, and a thread gets at least `min_per_thread` items (starting a thread and waking an idle
// core costs tens of microseconds, more than short calls gain). Runs inline when one thread
// suffices; otherwise the calling thread takes the first chunk. Rethrows the first exception.
template <class Fn>
void parallel_for(size_t n, int n_threads, size_t grain, Fn&& fn, size_t min_per_thread = 0) {
  if (grain == 0) grain = 1;
  size_t units = (n + grain - 1) / grain;
  size_t t = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(n_threads, 1)), units));
  if (min_per_thread) t = std::max<size_t>(1, std::min(t, n / min_per_thread));
  if (t <= 1) {
    fn(0, size_t(0), n);
    return;
  }
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> errors(t);
  size_t per = units / t, extra = units % t, begin_unit = 0;
  auto run = [&](size_t i, size_t b, size_t e) {
    try {
      fn(static_cast<int>(i), b, e);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  size_t b0 = 0, e0 = 0;
  for (size_t i = 0; i < t; ++i) {
    size_t cnt = per + (i < extra ? 1 : 0);
    size_t b = std::min(n, begin_unit * grain), e = std::min(n, (begin_unit + cnt) * grain);
    begin_unit += cnt;
    if (i == 0) {
      b0 = b;
      e0 = e;
    } else {
      workers.emplace_back(run, i, b, e);
    }
  }
  run(0, b0, e0);
  for (auto& w : workers) w.join();
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace tenfold
