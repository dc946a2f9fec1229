// Dispatch to the active ISA and split work over threads (baseline translation unit).
#include "maddness/maddness.hpp"

#include <atomic>

#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace maddness {

namespace {
constexpr size_t kEncodeGrain = 4096;     // rows (a multiple of 32)
constexpr size_t kScanGrainBlocks = 128;  // 4096 rows
}  // namespace

bool encode(const EncodeModel& m, const float* A, size_t n, ptrdiff_t rs, ptrdiff_t cs,
            uint8_t* blocked, int n_threads) {
  const Isa isa = active_isa();
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  std::atomic<bool> ok{true};
  parallel_for(nblocks * kBlockRows, n_threads, kEncodeGrain, [&](int, size_t b, size_t e) {
    const bool good = isa == Isa::Scalar ? scalar::encode(m, A, n, rs, cs, b, e, blocked)
                                         : avx2::encode(m, A, n, rs, cs, b, e, blocked);
    if (!good) ok.store(false);
  });
  return ok.load();
}

void scan(const ScanModel& s, const uint8_t* blocked, size_t n, float* out, size_t ldo,
          int n_threads) {
  const Isa isa = active_isa();
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  parallel_for(nblocks, n_threads, kScanGrainBlocks, [&](int, size_t b0, size_t b1) {
    if (isa == Isa::Scalar)
      scalar::scan(s, blocked, n, b0, b1, out, ldo);
    else
      avx2::scan(s, blocked, n, b0, b1, out, ldo);
  });
}

}  // namespace maddness
}  // namespace tenfold
