// Dispatch to the active ISA and split work over threads (baseline translation unit).
#include "bolt/bolt.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "common/isa.hpp"
#include "common/parallel.hpp"
#include "common/portable.hpp"

namespace tenfold {
namespace bolt {

namespace {
// Rows per thread below which starting threads costs more than it saves.
constexpr size_t kEncodeGrain = 4096;
constexpr size_t kScanGrainBlocks = 2048;  // 64k rows
// Batch search splits queries over threads in groups of this many (the scan kernels handle 4
// queries per pass) once there are codes x queries enough to pay for waking another core
// (~50 us here; 2^21 code look-ups take ~0.5 ms on one core).
constexpr int kQueriesPerThread = 4;
constexpr size_t kMinThreadedWork = size_t(1) << 21;

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
    for (int j = 0; j < d; ++j) cent_t[static_cast<size_t>(j) * 16 + k] = load_f32(centroids + static_cast<size_t>(k) * d + j);
  parallel_for(nq, n_threads, 256, [&](int, size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; ++q) {
      const float* x = Q + q * static_cast<size_t>(d);
      double* t = out + q * static_cast<size_t>(ncodebooks) * 16;
      for (int c = 0; c < ncodebooks; ++c) {
        double acc[16] = {};
        for (int j = bounds[c]; j < bounds[c + 1]; ++j) {
          const double xj = load_f32(x + j);
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
          for (int j = bounds[c]; j < bounds[c + 1]; ++j) s[j] += load_f32(x + j);
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
  const size_t lut_stride = static_cast<size_t>(2 * ncols) * 16;
  const size_t tile = tile_blocks(ncols);
  // Scans blocks [b0, b1) for queries [q0, q1) into heaps h (one per query of the range).
  auto scan = [&](size_t b0, size_t b1, size_t q0, size_t q1, TopK* h) {
    const uint8_t* l = luts + q0 * lut_stride;
    const int m = static_cast<int>(q1 - q0);
    for (size_t t0 = b0; t0 < b1; t0 += tile) {
      const size_t t1 = std::min(b1, t0 + tile);
      switch (isa) {
#if defined(TENFOLD_X86)
        case Isa::Avx512: avx512::scan_topk(codes, t0, t1, ncols, l, m, h, static_cast<int64_t>(n)); break;
        case Isa::Avx2: avx2::scan_topk(codes, t0, t1, ncols, l, m, h, static_cast<int64_t>(n)); break;
#elif defined(TENFOLD_ARM64)
        case Isa::Neon: neon::scan_topk(codes, t0, t1, ncols, l, m, h, static_cast<int64_t>(n)); break;
#endif
        default: scalar::scan_topk(codes, t0, t1, ncols, l, m, h, static_cast<int64_t>(n)); break;
      }
    }
  };
  std::vector<TopK> heaps(static_cast<size_t>(nq), TopK(k));
  const size_t work = n * static_cast<size_t>(nq);
  if (n_threads > 1 && nq >= kQueriesPerThread * 2 && work >= kMinThreadedWork) {
    // Many queries: each thread takes a share of them over all the codes (no merging; every
    // thread streams the codes tile by tile, from the shared cache).
    parallel_for(static_cast<size_t>(nq), n_threads, kQueriesPerThread,
                 [&](int, size_t q0, size_t q1) { scan(0, nblocks, q0, q1, heaps.data() + q0); });
  } else {
    // Few queries: split the codes, one set of heaps per thread, merged afterwards.
    const int t = std::max(1, std::min<int>(n_threads, static_cast<int>((nblocks + kScanGrainBlocks - 1) / kScanGrainBlocks)));
    std::vector<std::vector<TopK>> extra(static_cast<size_t>(t - 1), std::vector<TopK>(static_cast<size_t>(nq), TopK(k)));
    parallel_for(nblocks, t, kScanGrainBlocks, [&](int ti, size_t b0, size_t b1) {
      scan(b0, b1, 0, static_cast<size_t>(nq), ti == 0 ? heaps.data() : extra[static_cast<size_t>(ti - 1)].data());
    });
    for (auto& part : extra)
      for (int q = 0; q < nq; ++q) heaps[static_cast<size_t>(q)].merge(part[static_cast<size_t>(q)]);
  }
  for (int q = 0; q < nq; ++q) {
    const auto best = heaps[static_cast<size_t>(q)].sorted();
    for (int i = 0; i < k; ++i) {
      const bool have = i < static_cast<int>(best.size());
      dist[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].first : 0xffffffffu;
      ids[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].second : -1;
    }
  }
}

namespace {
// float16 bits -> float, exactly (every half is a float). Used through a 65,536-entry table.
float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);  // rebias the exponent
  } else {
    const float v = static_cast<float>(mant) * 0x1p-24f;  // subnormal half: mant * 2^-24, exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

namespace scalar {
namespace {
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = half_bits_to_float(static_cast<uint16_t>(i));
    return t;
  }();
  return table.data();
}
}  // namespace

// Eight partial sums (lane l adds dimensions j = l mod 8 in order), then a fixed reduction
// tree and the tail: the order the AVX2 variant follows with one 8-float register.
float exact_distance(const float* q, const void* row, int d, bool dot, bool half) {
  constexpr int kLanes = 8;
  const float* table = half ? half_table() : nullptr;
  const auto* f32 = static_cast<const float*>(row);
  const auto* f16 = static_cast<const uint16_t*>(row);
  auto x = [&](int j) { return half ? table[f16[j]] : f32[j]; };
  float acc[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= d; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float qj = load_f32(q + j + l), xj = x(j + l);
      if (dot) {
        acc[l] -= qj * xj;
      } else {
        acc[l] += (qj - xj) * (qj - xj);
      }
    }
  float tail = 0.0f;
  for (; j < d; ++j) {
    const float qj = load_f32(q + j), xj = x(j);
    if (dot) {
      tail -= qj * xj;
    } else {
      tail += (qj - xj) * (qj - xj);
    }
  }
  return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + tail;
}
}  // namespace scalar

void rerank(const void* vectors, bool half, size_t n_rows, int d, const float* Q, size_t nq,
            const int64_t* cand, int R, int k, bool dot, float* dist, int64_t* rows, int n_threads) {
#if defined(TENFOLD_X86)
  const bool simd = active_isa() != Isa::Scalar;  // AVX-512 CPUs run the AVX2 loop
#else
  const bool simd = false;  // no NEON variant yet: the portable loop
#endif
  const size_t D = static_cast<size_t>(d);
  const auto* f32 = static_cast<const float*>(vectors);
  const auto* f16 = static_cast<const uint16_t*>(vectors);
  parallel_for(nq, n_threads, 8, [&](int, size_t q0, size_t q1) {
    std::vector<std::pair<float, int64_t>> scored;
    scored.reserve(static_cast<size_t>(R));
    for (size_t q = q0; q < q1; ++q) {
      scored.clear();
      const int64_t* c = cand + q * static_cast<size_t>(R);
      for (int i = 0; i < R; ++i) {
        const int64_t r = c[i];
        if (r < 0 || static_cast<size_t>(r) >= n_rows) continue;
        if (i + 1 < R && c[i + 1] >= 0 && static_cast<size_t>(c[i + 1]) < n_rows) {
          // the next row is at a random place in memory: start fetching its first lines now
          const char* next = half ? reinterpret_cast<const char*>(f16 + static_cast<size_t>(c[i + 1]) * D)
                                  : reinterpret_cast<const char*>(f32 + static_cast<size_t>(c[i + 1]) * D);
          for (size_t off = 0; off < D * (half ? 2 : 4); off += 64) prefetch(next + off);
        }
        const size_t at = static_cast<size_t>(r) * D;
        const void* row = half ? static_cast<const void*>(f16 + at) : static_cast<const void*>(f32 + at);
#if defined(TENFOLD_X86)
        float v = simd ? avx2::exact_distance(Q + q * D, row, d, dot, half)
                       : scalar::exact_distance(Q + q * D, row, d, dot, half);
#else
        float v = scalar::exact_distance(Q + q * D, row, d, dot, half);
#endif
        if (v != v) v = std::numeric_limits<float>::infinity();  // overflowing dot products: rank last
        scored.emplace_back(v, r);
      }
      const size_t keep = std::min(scored.size(), static_cast<size_t>(k));
      std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end());
      for (int i = 0; i < k; ++i) {
        const bool have = static_cast<size_t>(i) < keep;
        dist[q * static_cast<size_t>(k) + i] = have ? scored[static_cast<size_t>(i)].first
                                                    : std::numeric_limits<float>::infinity();
        rows[q * static_cast<size_t>(k) + i] = have ? scored[static_cast<size_t>(i)].second : -1;
      }
    }
  });
}

}  // namespace bolt
}  // namespace tenfold
