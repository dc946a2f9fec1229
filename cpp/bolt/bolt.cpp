// Dispatch to the active ISA and split work over threads (baseline translation unit).
#include "bolt/bolt.hpp"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <functional>
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

namespace {
// numpy's pairwise summation of n doubles (np.add.reduce over a contiguous axis): plain sums
// below 8 terms, 8 interleaved partial sums up to 128, halves (multiples of 8) beyond.
double pairwise_sum(const double* a, int n) {
  constexpr int kBlock = 128;
  if (n < 8) {
    double r = 0.0;
    for (int i = 0; i < n; ++i) r += a[i];
    return r;
  }
  if (n <= kBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int half = n / 2;
  half -= half % 8;
  return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}
}  // namespace

void lookup_tables(const LutModel& m, const float* Q, size_t nq, size_t ldq, uint8_t* luts, double* scale,
                   double* offset, int n_threads) {
  const Isa isa = active_isa();
  const size_t C = static_cast<size_t>(m.ncodebooks);
  parallel_for(nq, n_threads, 256, [&](int, size_t q0, size_t q1) {
    std::vector<double> work(C * 16), low(C);
    for (size_t q = q0; q < q1; ++q) {
      const float* x = Q + q * ldq;
      uint8_t* lut = luts + q * C * 16;
      switch (isa) {
#if defined(TENFOLD_X86)
        case Isa::Avx512:
        case Isa::Avx2: avx2::query_lut(m, x, work.data(), lut, low.data(), scale + q); break;
#elif defined(TENFOLD_ARM64)
        case Isa::Neon: neon::query_lut(m, x, work.data(), lut, low.data(), scale + q); break;
#endif
        default: scalar::query_lut(m, x, work.data(), lut, low.data(), scale + q); break;
      }
      offset[q] = 0.0 + pairwise_sum(low.data(), m.ncodebooks);  // numpy adds the sum to its identity, 0
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

namespace {
// The k smallest (sum, row) of sums[0, n), by counting: a histogram of the sums (exact integers
// <= C * 127; bins of 2^shift values) finds the bin holding the k-th; rows below it all enter,
// rows in it enter by (sum, row) order. Two passes over n uint16 values and no sorting: where
// k is a sizeable share of n (re-ranking candidates in a small collection) this costs a
// fraction of pushing candidates through a TopK whose threshold falls slowly.
void select_smallest(const uint16_t* sums, size_t n, int k, int shift, std::vector<uint16_t>& hist,
                     std::vector<std::pair<uint32_t, int64_t>>& out) {
  out.clear();
  if (n <= static_cast<size_t>(k)) {
    for (size_t i = 0; i < n; ++i) out.emplace_back(sums[i], static_cast<int64_t>(i));
    return;
  }
  // four histograms, one per row mod 4: neighbouring rows often share a bin, and one counter
  // per bin would chain every increment through memory. Each counts <= kSelectMaxRows / 4 rows.
  const size_t nbins = hist.size() / 4;
  std::fill(hist.begin(), hist.end(), uint16_t{0});
  uint16_t* h[4] = {hist.data(), hist.data() + nbins, hist.data() + 2 * nbins, hist.data() + 3 * nbins};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) ++h[j][sums[i + j] >> shift];
  for (; i < n; ++i) ++h[0][sums[i] >> shift];
  auto count = [&](size_t b) { return size_t{h[0][b]} + h[1][b] + h[2][b] + h[3][b]; };
  size_t below = 0, bin = 0;
  while (below + count(bin) < static_cast<size_t>(k)) below += count(bin++);
  const uint32_t edge = static_cast<uint32_t>(bin);
  const size_t first_edge = below;  // rows of the edge bin follow the rows below it, in row order
  out.resize(below);
  size_t m = 0;
  for (size_t r = 0; r < n; ++r) {
    const uint32_t b = static_cast<uint32_t>(sums[r] >> shift);
    if (b < edge) {
      out[m++] = {sums[r], static_cast<int64_t>(r)};
    } else if (b == edge) {
      out.emplace_back(sums[r], static_cast<int64_t>(r));
    }
  }
  const auto take = out.begin() + static_cast<std::ptrdiff_t>(k);
  // within one bin of one value (shift 0) the rows are already in order; else order the bin
  if (shift != 0) std::nth_element(out.begin() + static_cast<std::ptrdiff_t>(first_edge), take - 1, out.end());
  out.erase(take, out.end());
}

// The same k rows as select_smallest (the k smallest (sum, row)), for a k that is a small share
// of n, in a fraction of its time: a histogram of every s-th sum only (s ~ k / 32) gives a
// limit that about 1.5 k sums stay below (the sampled count is set a few standard deviations
// above k / s), one SIMD pass collects the rows at or below it in row order, and nth_element
// keeps the k smallest. If fewer than k got through (an unlucky sample), returns false and the
// caller counts every sum instead. The k rows come in no particular order.
bool select_sampled(const uint16_t* sums, size_t n, int k, int shift, Isa isa, std::vector<uint32_t>& hist,
                    std::vector<uint32_t>& rowbuf, std::vector<std::pair<uint32_t, int64_t>>& out) {
  const size_t nbins = hist.size();
  const size_t kk = static_cast<size_t>(k);
  const size_t s = std::max<size_t>(1, std::min<size_t>(16, kk / 32));
  std::fill(hist.begin(), hist.end(), 0u);
  for (size_t r = 0; r < n; r += s) ++hist[sums[r] >> shift];
  const double expect = static_cast<double>(kk) / static_cast<double>(s);
  const size_t need = s == 1 ? kk : static_cast<size_t>(expect + 3.0 * std::sqrt(expect) + 2.0);
  size_t below = 0, bin = 0;
  while (bin + 1 < nbins && below + hist[bin] < need) below += hist[bin++];
  const uint16_t limit = static_cast<uint16_t>(std::min<size_t>(0xffff, ((bin + 1) << shift) - 1));
  size_t m;
  switch (isa) {
#if defined(TENFOLD_X86)
    case Isa::Avx512:
    case Isa::Avx2: m = avx2::collect_le(sums, n, limit, rowbuf.data()); break;
#elif defined(TENFOLD_ARM64)
    case Isa::Neon: m = neon::collect_le(sums, n, limit, rowbuf.data()); break;
#endif
    default: m = scalar::collect_le(sums, n, limit, rowbuf.data()); break;
  }
  if (m < kk) return false;
  out.resize(m);
  for (size_t i = 0; i < m; ++i) out[i] = {sums[rowbuf[i]], static_cast<int64_t>(rowbuf[i])};
  if (m > kk) std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(kk - 1), out.end());
  out.resize(kk);
  return true;
}

// Counting selection (select_sampled) pays when a query keeps at least 1/kSelectRowsPerK of the
// rows, and the sums of a group of queries fit in a few hundred kilobytes (measured, C = 32,
// MiniLM codes, one thread, CPU time per query with the tables and the scan: 100,000 rows,
// k = 200: 56 us against 82 us through the TopK scan, k = 100: 63 against 64 us; 10,000 rows,
// k = 20 (selection) 11.5 us against k = 19 (TopK) 11.2 us).
constexpr size_t kSelectRowsPerK = 512;
constexpr size_t kSelectMaxRows = size_t(1) << 17;
static_assert(kSelectMaxRows / 4 + 3 <= 0xffff, "select_smallest counts rows in uint16");
}  // namespace

namespace {
// search(), with an optional prepare(q0, q1) that writes the tables of queries [q0, q1) before
// they are scanned: called by each worker thread for its own queries when the queries are
// split over threads (so that table building scales with them), else once up front.
using Prepare = std::function<void(size_t, size_t)>;

void search_impl(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq, int k,
                 uint32_t* dist, int64_t* ids, int n_threads, bool sorted, const Prepare* prepare) {
  const Isa isa = active_isa();
  const size_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  const size_t lut_stride = static_cast<size_t>(2 * ncols) * 16;
  const size_t tile = tile_blocks(ncols);
  auto write = [&](int q, std::vector<std::pair<uint32_t, int64_t>>& best, bool in_order) {
    if (sorted && !in_order) std::sort(best.begin(), best.end());
    for (int i = 0; i < k; ++i) {
      const bool have = i < static_cast<int>(best.size());
      dist[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].first : 0xffffffffu;
      ids[static_cast<size_t>(q) * k + i] = have ? best[static_cast<size_t>(i)].second : -1;
    }
  };
  if (n <= kSelectMaxRows && n <= kSelectRowsPerK * static_cast<size_t>(k)) {
    const size_t ldo = nblocks * kBlockRows;
    int shift = 0;
    while ((static_cast<size_t>(2 * ncols) * kMaxLutEntry >> shift) >= 4096) ++shift;
    const size_t nbins = ((static_cast<size_t>(2 * ncols) * kMaxLutEntry) >> shift) + 1;
    constexpr int kGroup = 4;  // queries per scan pass (as the scan kernels take them)
    const size_t ngroups = (static_cast<size_t>(nq) + kGroup - 1) / kGroup;
    const bool by_queries = n_threads > 1 && nq >= 2 * kGroup && n * static_cast<size_t>(nq) >= kMinThreadedWork;
    if (prepare && !by_queries) (*prepare)(0, static_cast<size_t>(nq));
    parallel_for(ngroups, by_queries ? n_threads : 1, 1, [&](int, size_t g0, size_t g1) {
      if (prepare && by_queries) (*prepare)(g0 * kGroup, std::min(g1 * kGroup, static_cast<size_t>(nq)));
      std::vector<uint16_t> sums(kGroup * ldo);
      std::vector<uint16_t> hist(4 * nbins);
      std::vector<uint32_t> sample_hist(nbins), rowbuf(ldo);
      std::vector<std::pair<uint32_t, int64_t>> best;
      for (size_t g = g0; g < g1; ++g) {
        const size_t q0 = g * kGroup, m = std::min<size_t>(kGroup, static_cast<size_t>(nq) - q0);
        scan_u16(codes, n, ncols, luts + q0 * lut_stride, static_cast<int>(m), sums.data(),
                 by_queries ? 1 : n_threads);
        for (size_t q = 0; q < m; ++q) {
          const uint16_t* qs = sums.data() + q * ldo;
          if (n <= static_cast<size_t>(k) || !select_sampled(qs, n, k, shift, isa, sample_hist, rowbuf, best))
            select_smallest(qs, n, k, shift, hist, best);
          write(static_cast<int>(q0 + q), best, false);
        }
      }
    });
    return;
  }
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
  const uint32_t max_sum = static_cast<uint32_t>(2 * ncols) * kMaxLutEntry;  // lets large k count (topk.hpp)
  std::vector<TopK> heaps(static_cast<size_t>(nq), TopK(k, max_sum));
  const size_t work = n * static_cast<size_t>(nq);
  if (n_threads > 1 && nq >= kQueriesPerThread * 2 && work >= kMinThreadedWork) {
    // Many queries: each thread takes a share of them over all the codes (no merging; every
    // thread streams the codes tile by tile, from the shared cache).
    parallel_for(static_cast<size_t>(nq), n_threads, kQueriesPerThread, [&](int, size_t q0, size_t q1) {
      if (prepare) (*prepare)(q0, q1);
      scan(0, nblocks, q0, q1, heaps.data() + q0);
    });
  } else {
    if (prepare) (*prepare)(0, static_cast<size_t>(nq));
    // Few queries: split the codes, one set of heaps per thread, merged afterwards.
    const int t = std::max(1, std::min<int>(n_threads, static_cast<int>((nblocks + kScanGrainBlocks - 1) / kScanGrainBlocks)));
    std::vector<std::vector<TopK>> extra(static_cast<size_t>(t - 1), std::vector<TopK>(static_cast<size_t>(nq), TopK(k, max_sum)));
    parallel_for(nblocks, t, kScanGrainBlocks, [&](int ti, size_t b0, size_t b1) {
      scan(b0, b1, 0, static_cast<size_t>(nq), ti == 0 ? heaps.data() : extra[static_cast<size_t>(ti - 1)].data());
    });
    for (auto& part : extra)
      for (int q = 0; q < nq; ++q) heaps[static_cast<size_t>(q)].merge(part[static_cast<size_t>(q)]);
  }
  for (int q = 0; q < nq; ++q) {
    auto best = heaps[static_cast<size_t>(q)].sorted();
    write(q, best, true);
  }
}

}  // namespace

void search(const uint8_t* codes, size_t n, int ncols, const uint8_t* luts, int nq, int k,
            uint32_t* dist, int64_t* ids, int n_threads, bool sorted) {
  search_impl(codes, n, ncols, luts, nq, k, dist, ids, n_threads, sorted, nullptr);
}

void search_queries(const LutModel& m, const float* Q, size_t ldq, int nq, const uint8_t* codes, size_t n,
                    int ncols, int k, double* scale, double* offset, uint32_t* dist, int64_t* ids, int n_threads,
                    bool sorted) {
  const size_t lut_stride = static_cast<size_t>(m.ncodebooks) * 16;
  std::vector<uint8_t> luts(static_cast<size_t>(nq) * lut_stride);
  const Prepare prepare = [&](size_t q0, size_t q1) {
    lookup_tables(m, Q + q0 * ldq, q1 - q0, ldq, luts.data() + q0 * lut_stride, scale + q0, offset + q0, 1);
  };
  search_impl(codes, n, ncols, luts.data(), nq, k, dist, ids, n_threads, sorted, &prepare);
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

// 32 partial sums: chunk i of 8 dimensions into accumulator i mod 4 (four independent chains),
// lane l of a chunk into lane l; accumulators added pairwise, then a fixed reduction tree over
// the lanes and the tail: the order the AVX2 variant follows with four 8-float registers.
float exact_distance(const float* q, const void* row, int d, bool dot, bool half) {
  constexpr int kLanes = 8, kChains = 4;
  const float* table = half ? half_table() : nullptr;
  const auto* f32 = static_cast<const float*>(row);
  const auto* f16 = static_cast<const uint16_t*>(row);
  auto x = [&](int j) { return half ? table[f16[j]] : load_f32(f32 + j); };
  float chain[kChains][kLanes] = {};
  int j = 0;
  for (int i = 0; j + kLanes <= d; j += kLanes, ++i)
    for (int l = 0; l < kLanes; ++l) {
      const float qj = load_f32(q + j + l), xj = x(j + l);
      float& a = chain[i % kChains][l];
      if (dot) {
        a -= qj * xj;
      } else {
        a += (qj - xj) * (qj - xj);
      }
    }
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = (chain[0][l] + chain[1][l]) + (chain[2][l] + chain[3][l]);
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
#endif  // (no NEON variant yet: the portable loop)
  const size_t D = static_cast<size_t>(d), Rs = static_cast<size_t>(R);
  const size_t row_bytes = D * (half ? 2 : 4);
  auto row_at = [&](int64_t r) { return static_cast<const char*>(vectors) + static_cast<size_t>(r) * row_bytes; };
  auto distance = [&](const float* q, const void* row) {
#if defined(TENFOLD_X86)
    float v = simd ? avx2::exact_distance(q, row, d, dot, half) : scalar::exact_distance(q, row, d, dot, half);
#else
    float v = scalar::exact_distance(q, row, d, dot, half);
#endif
    return v != v ? std::numeric_limits<float>::infinity() : v;  // overflowing dot products: rank last
  };
  // Queries are taken in blocks whose vectors stay in L2 (kQueryBlockBytes); within a block
  // every (query, candidate) pair is visited in row order (a counting sort by row, or by a
  // small group of neighbouring rows when the rows far outnumber the pairs), so a row wanted
  // by several queries of the block is read from memory once, and rows come in address order.
  // Each distance is the same exact_distance call as one query at a time would make, and each
  // query's k best are chosen from its R distances alone: the result does not depend on the
  // blocks or the thread count.
  // (and whose pairs, at 8 bytes of scratch each, stay within kBlockPairs unless R alone exceeds it)
  constexpr size_t kQueryBlockBytes = 512 * 1024, kBlockPairs = size_t(1) << 16;
  constexpr int kPrefetchPairs = 4;  // rows fetched ahead, in the sorted order
  const size_t block = std::max<size_t>(1, std::min(kQueryBlockBytes / (D * sizeof(float)), kBlockPairs / std::max<size_t>(Rs, 1)));
  parallel_for(nq, n_threads, 8, [&](int, size_t q0, size_t q1) {
    std::vector<float> scores;
    std::vector<uint32_t> start, order;
    std::vector<std::pair<float, int64_t>> scored;
    scored.reserve(Rs);
    for (size_t b0 = q0; b0 < q1; b0 += block) {
      const size_t b1 = std::min(q1, b0 + block), npairs = (b1 - b0) * Rs;
      const int64_t* c = cand + b0 * Rs;
      int shift = 0;
      while ((n_rows >> shift) > std::max<size_t>(4 * npairs, size_t(1) << 16)) ++shift;
      const size_t nbuckets = (n_rows >> shift) + 1;
      start.assign(nbuckets + 1, 0u);
      for (size_t p = 0; p < npairs; ++p)
        if (c[p] >= 0 && static_cast<size_t>(c[p]) < n_rows) ++start[(static_cast<size_t>(c[p]) >> shift) + 1];
      for (size_t i = 0; i < nbuckets; ++i) start[i + 1] += start[i];
      const size_t nvalid = start[nbuckets];
      order.resize(nvalid);
      for (size_t p = 0; p < npairs; ++p)
        if (c[p] >= 0 && static_cast<size_t>(c[p]) < n_rows)
          order[start[static_cast<size_t>(c[p]) >> shift]++] = static_cast<uint32_t>(p);
      scores.assign(npairs, std::numeric_limits<float>::infinity());
      for (size_t i = 0; i < std::min<size_t>(nvalid, kPrefetchPairs); ++i) {
        const char* r = row_at(c[order[i]]);
        for (size_t off = 0; off < row_bytes; off += 64) prefetch(r + off);
      }
      for (size_t i = 0; i < nvalid; ++i) {
        if (i + kPrefetchPairs < nvalid && c[order[i + kPrefetchPairs]] != c[order[i + kPrefetchPairs - 1]]) {
          const char* r = row_at(c[order[i + kPrefetchPairs]]);
          for (size_t off = 0; off < row_bytes; off += 64) prefetch(r + off);
        }
        const size_t p = order[i];
        scores[p] = distance(Q + (b0 + p / Rs) * D, row_at(c[p]));
      }
      for (size_t q = b0; q < b1; ++q) {
        scored.clear();
        const size_t base = (q - b0) * Rs;
        for (size_t i = 0; i < Rs; ++i) {
          const int64_t r = c[base + i];
          if (r >= 0 && static_cast<size_t>(r) < n_rows) scored.emplace_back(scores[base + i], r);
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
    }
  });
}

}  // namespace bolt
}  // namespace tenfold
