// Dispatch to the active ISA and split work over threads (baseline translation unit).
#include "bolt/bolt.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "common/isa.hpp"
#include "common/parallel.hpp"

namespace tenfold {
namespace bolt {

namespace {
// Rows per thread below which starting threads costs more than it saves.
constexpr size_t kEncodeGrain = 4096;
constexpr size_t kScanGrainBlocks = 2048;  // 64k rows

// Codes are scanned in tiles of about this many bytes, every query over one tile before the
// next: a batch of queries then reads the codes from L2 instead of memory (or L3) once per
// group of queries, which is what lets a large batch scale with threads.
constexpr size_t kTileBytes = 256 * 1024;

size_t tile_blocks(int ncols) {
  return std::max<size_t>(16, kTileBytes / (kBlockRows * static_cast<size_t>(ncols)));
}
}  // namespace

bool encode(const EncodeModel& m, const float* X, size_t n, size_t ldx, uint8_t* out, int n_threads) {
  const Isa isa = active_isa();
  const size_t ncols = static_cast<size_t>(m.ncodebooks / 2);
  std::atomic<bool> finite{true};
  parallel_for(n, n_threads, kEncodeGrain, [&](int, size_t b, size_t e) {
    const float* x = X + b * ldx;
    uint8_t* o = out + b * ncols;
    bool ok;
    switch (isa) {
#if defined(TENFOLD_X86)
      case Isa::Avx512: ok = avx512::encode(m, x, e - b, ldx, o); break;
      case Isa::Avx2: ok = avx2::encode(m, x, e - b, ldx, o); break;
#elif defined(TENFOLD_ARM64)
      case Isa::Neon: ok = neon::encode(m, x, e - b, ldx, o); break;
#endif
      default: ok = scalar::encode(m, x, e - b, ldx, o); break;
    }
    if (!ok) finite = false;
  });
  return finite;
}

void pack_blocked(const uint8_t* rowmajor, size_t n, int ncols, uint8_t* blocked, size_t row0) {
  for (size_t i = 0; i < n; ++i) {
    const size_t row = row0 + i, b = row / kBlockRows, r = row % kBlockRows;
    uint8_t* blk = blocked + b * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) blk[j * kBlockRows + r] = rowmajor[i * ncols + j];
  }
}

void unpack_blocked(const uint8_t* blocked, size_t n, int ncols, uint8_t* rowmajor) {
  for (size_t row = 0; row < n; ++row) {
    const size_t b = row / kBlockRows, r = row % kBlockRows;
    const uint8_t* blk = blocked + b * kBlockRows * ncols;
    for (int j = 0; j < ncols; ++j) rowmajor[row * ncols + j] = blk[j * kBlockRows + r];
  }
}

void scan_u16(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq,
              uint16_t* out, int n_threads) {
  const Isa isa = active_isa();
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows, ldo = nblocks * kBlockRows;
  const size_t tile = tile_blocks(ncols);
  parallel_for(nblocks, n_threads, kScanGrainBlocks, [&](int, size_t b0, size_t b1) {
    for (size_t t0 = b0; t0 < b1; t0 += tile) {
      const size_t t1 = std::min(b1, t0 + tile);
      switch (isa) {
#if defined(TENFOLD_X86)
        case Isa::Avx512: avx512::scan_u16(codes, t0, t1, ncols, luts, nq, out, ldo); break;
        case Isa::Avx2: avx2::scan_u16(codes, t0, t1, ncols, luts, nq, out, ldo); break;
#elif defined(TENFOLD_ARM64)
        case Isa::Neon: neon::scan_u16(codes, t0, t1, ncols, luts, nq, out, ldo); break;
#endif
        default: scalar::scan_u16(codes, t0, t1, ncols, luts, nq, out, ldo); break;
      }
    }
  });
}

void query_tables(const float* Q, size_t nq, const float* centroids, const int32_t* bounds, int ncodebooks,
                  int d, bool dot, double* out, int n_threads) {
  // Centroids transposed so the innermost loop runs over the 16 centroids (independent sums
  // the compiler vectorizes); each sum still adds its terms in dimension order, so results
  // do not depend on the vector width.
  std::vector<float> cent_t(static_cast<size_t>(d) * 16);
  for (int k = 0; k < 16; ++k)
    for (int j = 0; j < d; ++j) cent_t[static_cast<size_t>(j) * 16 + k] = centroids[static_cast<size_t>(k) * d + j];
  parallel_for(nq, n_threads, 256, [&](int, size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      const float* x = Q + q * static_cast<size_t>(d);
      double* t = out + q * static_cast<size_t>(ncodebooks) * 16;
      for (int c = 0; c < ncodebooks; ++c) {
        double acc[16] = {};
        for (int j = bounds[c]; j < bounds[c + 1]; ++j) {
          const double xj = x[j];
          const float* cj = cent_t.data() + static_cast<size_t>(j) * 16;
          if (dot) {
            for (int k = 0; k < 16; ++k) acc[k] -= xj * cj[k];
          } else {
            for (int k = 0; k < 16; ++k) {
              const double diff = xj - cj[k];
              acc[k] += diff * diff;
            }
          }
        }
        for (int k = 0; k < 16; ++k) t[c * 16 + k] = acc[k];
      }
    }
  });
}

void centroid_sums(const float* X, size_t n, size_t ldx, const uint8_t* codes, const int32_t* bounds,
                   int ncodebooks, int d, double* sums, int64_t* counts, int n_threads) {
  // Rows are summed in fixed chunks (each read once, row by row) and the chunks' partial sums
  // added in chunk order: the same bits for any thread count.
  constexpr size_t kChunk = 8192;
  const size_t ncols = static_cast<size_t>(ncodebooks / 2), D = static_cast<size_t>(d);
  const size_t nchunks = std::max<size_t>(1, (n + kChunk - 1) / kChunk);
  const size_t nsum = 16 * D, ncount = static_cast<size_t>(ncodebooks) * 16;
  std::vector<double> part_sums(nchunks * nsum, 0.0);
  std::vector<int64_t> part_counts(nchunks * ncount, 0);
  parallel_for(nchunks, n_threads, 1, [&](int, size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) {
      double* ps = part_sums.data() + k * nsum;
      int64_t* pc = part_counts.data() + k * ncount;
      for (size_t i = k * kChunk; i < std::min(n, (k + 1) * kChunk); ++i) {
        const float* x = X + i * ldx;
        const uint8_t* code = codes + i * ncols;
        for (int c = 0; c < ncodebooks; ++c) {
          const size_t q = (code[c / 2] >> ((c % 2) * 4)) & 15;
          ++pc[c * 16 + q];
          double* s = ps + q * D;
          for (int j = bounds[c]; j < bounds[c + 1]; ++j) s[j] += x[j];
        }
      }
    }
  });
  std::fill(sums, sums + nsum, 0.0);
  std::fill(counts, counts + ncount, int64_t{0});
  for (size_t k = 0; k < nchunks; ++k) {
    for (size_t j = 0; j < nsum; ++j) sums[j] += part_sums[k * nsum + j];
    for (size_t j = 0; j < ncount; ++j) counts[j] += part_counts[k * ncount + j];
  }
}

void search(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq, int k,
            uint32_t* dist, int64_t* ids, int n_threads) {
  const Isa isa = active_isa();
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  const int t = std::max(1, std::min<int>(n_threads, static_cast<int>((nblocks + kScanGrainBlocks - 1) / kScanGrainBlocks)));
  std::vector<std::vector<TopK>> heaps(static_cast<size_t>(t), std::vector<TopK>(static_cast<size_t>(nq), TopK(k)));
  const size_t tile = tile_blocks(ncols);
  parallel_for(nblocks, t, kScanGrainBlocks, [&](int ti, size_t b0, size_t b1) {
    TopK* h = heaps[static_cast<size_t>(ti)].data();
    for (size_t t0 = b0; t0 < b1; t0 += tile) {
      const size_t t1 = std::min(b1, t0 + tile);
      switch (isa) {
#if defined(TENFOLD_X86)
        case Isa::Avx512: avx512::scan_topk(codes, t0, t1, ncols, luts, nq, h, static_cast<int64_t>(n)); break;
        case Isa::Avx2: avx2::scan_topk(codes, t0, t1, ncols, luts, nq, h, static_cast<int64_t>(n)); break;
#elif defined(TENFOLD_ARM64)
        case Isa::Neon: neon::scan_topk(codes, t0, t1, ncols, luts, nq, h, static_cast<int64_t>(n)); break;
#endif
        default: scalar::scan_topk(codes, t0, t1, ncols, luts, nq, h, static_cast<int64_t>(n)); break;
      }
    }
  });
  for (int q = 0; q < nq; ++q) {
    TopK& h = heaps[0][static_cast<size_t>(q)];
    for (int ti = 1; ti < t; ++ti) h.merge(heaps[static_cast<size_t>(ti)][static_cast<size_t>(q)]);
    const auto best = h.sorted();
    for (int i = 0; i < k; ++i) {
      const bool have = i < static_cast<int>(best.size());
      dist[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].first : 0xffffffffu;
      ids[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].second : -1;
    }
  }
}

}  // namespace bolt
}  // namespace tenfold
