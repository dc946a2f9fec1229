// Inverted-file search (bolt/ivf.hpp) on the NEON path against the scalar one, bit for bit, and
// both against a brute-force reference (the k smallest sums over the probed lists' rows): random
// list sizes (empty lists, partial last blocks), probes with repeats and -1, k on both sides of
// the select/heap switch, 1 and 3 threads. Built for AArch64 and run under qemu by `make test-arm`.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bolt/bolt.hpp"
#include "bolt/ivf.hpp"
#include "common/isa.hpp"

using namespace tenfold;

namespace {

std::mt19937_64 rng(20261205);
int passed = 0, failed = 0;

size_t uniform(size_t lo, size_t hi) { return lo + rng() % (hi - lo + 1); }  // [lo, hi]

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failed <= 20) std::printf("FAIL %s\n", what.c_str());
  }
}

void round_of(int round) {
  const int ncols = static_cast<int>(uniform(1, 12)), C = 2 * ncols;
  const int64_t nlist = static_cast<int64_t>(uniform(1, 12));
  std::vector<int64_t> sizes(static_cast<size_t>(nlist)), block_off(static_cast<size_t>(nlist) + 1, 0),
      row_start(static_cast<size_t>(nlist), 0);
  int64_t n = 0;
  for (int64_t l = 0; l < nlist; ++l) {
    sizes[static_cast<size_t>(l)] = uniform(0, 3) == 0 ? 0 : static_cast<int64_t>(uniform(1, 150));
    row_start[static_cast<size_t>(l)] = n;
    n += sizes[static_cast<size_t>(l)];
    block_off[static_cast<size_t>(l) + 1] =
        block_off[static_cast<size_t>(l)] + (sizes[static_cast<size_t>(l)] + bolt::kBlockRows - 1) / bolt::kBlockRows;
  }
  const size_t nslots = static_cast<size_t>(block_off.back()) * bolt::kBlockRows;
  std::vector<uint8_t> rowmajor(nslots * static_cast<size_t>(ncols), 0), codes(nslots * static_cast<size_t>(ncols));
  for (int64_t l = 0; l < nlist; ++l)  // padding rows stay zero, as the index writes them
    for (int64_t r = 0; r < sizes[static_cast<size_t>(l)]; ++r)
      for (int j = 0; j < ncols; ++j)
        rowmajor[(static_cast<size_t>(block_off[static_cast<size_t>(l)]) * bolt::kBlockRows + static_cast<size_t>(r)) *
                     static_cast<size_t>(ncols) + static_cast<size_t>(j)] = static_cast<uint8_t>(rng());
  bolt::pack_blocked(rowmajor.data(), nslots, ncols, codes.data(), 0);
  const int nq = static_cast<int>(uniform(1, 11)), nprobe = static_cast<int>(uniform(1, static_cast<size_t>(nlist) + 2));
  std::vector<int32_t> probes(static_cast<size_t>(nq) * static_cast<size_t>(nprobe));
  for (auto& p : probes) p = uniform(0, 9) == 0 ? -1 : static_cast<int32_t>(uniform(0, static_cast<size_t>(nlist) - 1));
  std::vector<uint8_t> luts(static_cast<size_t>(nq) * static_cast<size_t>(C) * 16);
  const int top = static_cast<int>(uniform(1, bolt::kMaxLutEntry));  // narrow tables: many tied sums
  for (auto& v : luts) v = static_cast<uint8_t>(uniform(0, static_cast<size_t>(top)));
  const int k = round % 3 == 0 ? static_cast<int>(uniform(1, 3)) : static_cast<int>(uniform(1, 400));
  const size_t out = static_cast<size_t>(nq) * static_cast<size_t>(k);
  auto run = [&](Isa isa, int threads, std::vector<uint32_t>& dist, std::vector<int64_t>& rows) {
    set_active_isa(isa);
    dist.assign(out, 7);
    rows.assign(out, 7);
    bolt::ivf_search(codes.data(), ncols, block_off.data(), sizes.data(), row_start.data(), nlist, probes.data(),
                     nprobe, luts.data(), nq, k, dist.data(), rows.data(), threads);
  };
  std::vector<uint32_t> d_ref, d_got;
  std::vector<int64_t> r_ref, r_got;
  run(Isa::Scalar, 1, d_ref, r_ref);
  char what[160];
  std::snprintf(what, sizeof what, "ivf round %d: ncols %d nlist %lld nq %d nprobe %d k %d", round, ncols,
                static_cast<long long>(nlist), nq, nprobe, k);
  for (int threads : {1, 3}) {
    run(Isa::Neon, threads, d_got, r_got);
    check(d_ref == d_got && r_ref == r_got, std::string(what) + " neon threads " + std::to_string(threads));
  }
  // brute force: the k smallest sums over the probed lists' rows (a list probed twice counts
  // once); every returned row belongs to a probed list
  for (int q = 0; q < nq; ++q) {
    std::vector<uint32_t> all;
    std::vector<char> probed(static_cast<size_t>(nlist), 0);
    for (int j = 0; j < nprobe; ++j) {
      const int32_t l = probes[static_cast<size_t>(q) * static_cast<size_t>(nprobe) + static_cast<size_t>(j)];
      if (l < 0 || probed[static_cast<size_t>(l)]) continue;
      probed[static_cast<size_t>(l)] = 1;
      for (int64_t r = 0; r < sizes[static_cast<size_t>(l)]; ++r) {
        const size_t slot = static_cast<size_t>(block_off[static_cast<size_t>(l)]) * bolt::kBlockRows + static_cast<size_t>(r);
        uint32_t s = 0;
        for (int c = 0; c < C; ++c) {
          const uint8_t b = rowmajor[slot * static_cast<size_t>(ncols) + static_cast<size_t>(c / 2)];
          s += luts[(static_cast<size_t>(q) * static_cast<size_t>(C) + static_cast<size_t>(c)) * 16 + ((c % 2) ? b >> 4 : b & 15)];
        }
        all.push_back(s);
      }
    }
    std::sort(all.begin(), all.end());
    bool ok = true;
    for (int i = 0; i < k; ++i) {
      const size_t at = static_cast<size_t>(q) * static_cast<size_t>(k) + static_cast<size_t>(i);
      const uint32_t want = static_cast<size_t>(i) < all.size() ? all[static_cast<size_t>(i)] : 0xffffffffu;
      ok = ok && d_ref[at] == want;
      if (r_ref[at] < 0) {
        ok = ok && static_cast<size_t>(i) >= all.size();
        continue;
      }
      const int64_t row = r_ref[at];
      const int64_t l = std::upper_bound(row_start.begin(), row_start.end(), row) - row_start.begin() - 1;
      // the list holding the row: the last one starting at or before it that is not empty
      int64_t owner = l;
      while (owner >= 0 && (row - row_start[static_cast<size_t>(owner)]) >= sizes[static_cast<size_t>(owner)]) --owner;
      ok = ok && owner >= 0 && probed[static_cast<size_t>(owner)];
    }
    check(ok, std::string(what) + " brute force, query " + std::to_string(q));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  for (int r = 0; r < rounds; ++r) round_of(r);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
