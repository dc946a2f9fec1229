// Each NEON kernel against its scalar reference, bit for bit, on random odd sizes, unaligned
// pointers and padded (non-contiguous) rows. Built for AArch64 and run under qemu by
// `make test-arm`; ends with "N passed, N failed" and exits non-zero on any failure.
//   aarch64-linux-gnu-g++ -O2 -ffp-contract=off -std=c++17 -Icpp tests/native/neon_kernels.cpp
//       <cpp/**/*.cpp except bindings.cpp and the x86 units> -lpthread -o nk
//   qemu-aarch64 -L /usr/aarch64-linux-gnu nk 200
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bolt/bolt.hpp"
#include "common/isa.hpp"
#include "maddness/learn.hpp"
#include "maddness/maddness.hpp"
#include "sprintz/codec_wide.hpp"
#include "sprintz/sprintz.hpp"

using namespace tenfold;

namespace {

std::mt19937_64 rng(20261204);
int passed = 0, failed = 0;

size_t uniform(size_t lo, size_t hi) { return lo + rng() % (hi - lo + 1); }  // [lo, hi]
float normal() { return std::normal_distribution<float>(0.0f, 1.0f)(rng); }

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failed <= 20) std::printf("FAIL %s\n", what.c_str());
  }
}

// A buffer whose data starts `shift` bytes past a 16-byte boundary.
template <class T>
struct Unaligned {
  std::vector<unsigned char> raw;
  T* p;
  Unaligned(size_t n, size_t shift) : raw(n * sizeof(T) + 64) {
    uintptr_t a = (reinterpret_cast<uintptr_t>(raw.data()) + 15) & ~uintptr_t(15);
    p = reinterpret_cast<T*>(a + shift);
  }
};

// A heap block of exactly shift + n values' bytes, the data at `shift` (new[] blocks start
// 16-byte aligned on the targets tested): reading past the n values leaves the block, which a
// sanitizer build (make test-arm-asan) reports.
template <class T>
struct Tight {
  std::vector<unsigned char> raw;
  T* p;
  Tight(size_t n, size_t shift) : raw(n * sizeof(T) + shift), p(reinterpret_cast<T*>(raw.data() + shift)) {}
};

// ---------------------------------------------------------------- Bolt encode
void bolt_encode(int round) {
  const int C = 2 * static_cast<int>(uniform(1, 16));
  const int d = static_cast<int>(uniform(static_cast<size_t>(C), static_cast<size_t>(C) + 40));
  const size_t n = uniform(1, 70), ldx = static_cast<size_t>(d) + uniform(0, 5);
  std::vector<int32_t> bounds(C + 1);
  for (int c = 0; c <= C; ++c) bounds[c] = c * d / C;
  std::vector<float> cent_t(static_cast<size_t>(d) * 16), norms(static_cast<size_t>(C) * 16);
  for (auto& v : cent_t) v = -2.0f * normal();
  for (auto& v : norms) v = std::fabs(normal());
  if (round % 3 == 0)  // duplicate centroids: ties must go to the smaller index on every path
    for (int j = 0; j < d; ++j)
      for (int k = 1; k < 16; k += 2) cent_t[j * 16 + k] = cent_t[j * 16 + k - 1];
  if (round % 3 == 0)
    for (int c = 0; c < C; ++c)
      for (int k = 1; k < 16; k += 2) norms[c * 16 + k] = norms[c * 16 + k - 1];
  Unaligned<float> X(n * ldx, 4 * (round % 4));
  for (size_t i = 0; i < n * ldx; ++i) X.p[i] = normal() * 3.0f;
  const bool poison = round % 5 == 4;
  if (poison) {
    const float bad[3] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 1.5e18f};
    X.p[uniform(0, n - 1) * ldx + uniform(0, static_cast<size_t>(d) - 1)] = bad[round % 3];
  }
  const bolt::EncodeModel m{cent_t.data(), norms.data(), bounds.data(), C, d};
  std::vector<uint8_t> ref(n * C / 2, 0xAA), got(n * C / 2, 0x55);
  const bool fr = bolt::scalar::encode(m, X.p, n, ldx, ref.data());
  const bool fg = bolt::neon::encode(m, X.p, n, ldx, got.data());
  char what[160];
  std::snprintf(what, sizeof what, "bolt encode round %d: n %zu d %d C %d ldx %zu", round, n, d, C, ldx);
  check(fr == fg && fr == !poison, std::string(what) + " (finite flag)");
  if (!poison) check(ref == got, what);
}

// ---------------------------------------------------------------- Bolt scans
void bolt_scans(int round) {
  const int ncols = static_cast<int>(uniform(1, 24)), nq = static_cast<int>(uniform(1, 9));
  const size_t n = uniform(1, 200), nblocks = (n + 31) / 32;
  const int top = round % 4 == 0 ? 3 : bolt::kMaxLutEntry;  // small tables: many equal sums
  Unaligned<uint8_t> codes(nblocks * 32 * ncols, round % 16);
  for (size_t i = 0; i < nblocks * 32 * ncols; ++i) codes.p[i] = static_cast<uint8_t>(rng());
  Unaligned<uint8_t> luts(static_cast<size_t>(nq) * 2 * ncols * 16, (round * 7) % 16);
  for (size_t i = 0; i < static_cast<size_t>(nq) * 2 * ncols * 16; ++i)
    luts.p[i] = static_cast<uint8_t>(rng() % (top + 1));
  const size_t ldo = nblocks * 32 + uniform(0, 3);
  std::vector<uint16_t> ref(nq * ldo, 1), got(nq * ldo, 1);
  bolt::scalar::scan_u16(codes.p, 0, nblocks, ncols, luts.p, nq, ref.data(), ldo);
  bolt::neon::scan_u16(codes.p, 0, nblocks, ncols, luts.p, nq, got.data(), ldo);
  char what[160];
  std::snprintf(what, sizeof what, "bolt scan_u16 round %d: n %zu ncols %d nq %d", round, n, ncols, nq);
  check(ref == got, what);

  const int k = static_cast<int>(uniform(1, 60));  // k >= 32: the TopK's counting mode
  const uint32_t max_sum = static_cast<uint32_t>(2 * ncols) * bolt::kMaxLutEntry;
  std::vector<TopK> hr(nq, TopK(k, max_sum)), hg(nq, TopK(k, max_sum));
  // two calls over split block ranges, as the tiled dispatcher makes them
  const size_t mid = uniform(0, nblocks);
  bolt::scalar::scan_topk(codes.p, 0, mid, ncols, luts.p, nq, hr.data(), static_cast<int64_t>(n));
  bolt::scalar::scan_topk(codes.p, mid, nblocks, ncols, luts.p, nq, hr.data(), static_cast<int64_t>(n));
  bolt::neon::scan_topk(codes.p, 0, mid, ncols, luts.p, nq, hg.data(), static_cast<int64_t>(n));
  bolt::neon::scan_topk(codes.p, mid, nblocks, ncols, luts.p, nq, hg.data(), static_cast<int64_t>(n));
  bool same = true;
  for (int q = 0; q < nq; ++q) same &= hr[q].sorted() == hg[q].sorted();
  std::snprintf(what, sizeof what, "bolt scan_topk round %d: n %zu ncols %d nq %d k %d", round, n, ncols, nq, k);
  check(same, what);

  // candidate collection (counting selection) over the sums just scanned, from an unaligned
  // start, at a limit below, inside and above their range
  const size_t start = uniform(0, std::min<size_t>(n - 1, 3)), len = n - start;
  const uint16_t limit = static_cast<uint16_t>(round % 3 == 0 ? 0xffff : uniform(0, 2 * ncols * top));
  std::vector<uint32_t> cr(len + 1, 7), cg(len + 1, 7);
  const size_t mr = bolt::scalar::collect_le(ref.data() + start, len, limit, cr.data());
  const size_t mg = bolt::neon::collect_le(ref.data() + start, len, limit, cg.data());
  std::snprintf(what, sizeof what, "bolt collect_le round %d: n %zu limit %u", round, len, unsigned(limit));
  check(mr == mg && std::equal(cr.begin(), cr.begin() + ptrdiff_t(mr), cg.begin()), what);
}

// ---------------------------------------------------------------- Bolt query tables
void bolt_luts(int round) {
  const int d = static_cast<int>(uniform(2, 90));
  const int C = 2 * static_cast<int>(uniform(1, static_cast<size_t>(std::min(d, 64) / 2)));
  std::vector<int32_t> bounds(C + 1);
  for (int c = 0; c <= C; ++c) bounds[c] = (c * d) / C;
  Unaligned<float> cent(static_cast<size_t>(d) * 16, 4 * (round % 4)), x(d, 1 + round % 3);
  const float spread = round % 5 == 0 ? 0.0f : 1.0f;  // all-equal tables: span 0, scale 1
  for (int i = 0; i < d * 16; ++i) {
    const float v = spread * normal() * 3.0f;
    std::memcpy(cent.p + i, &v, sizeof v);
  }
  for (int j = 0; j < d; ++j) {
    const float v = normal() * 5.0f;
    std::memcpy(x.p + j, &v, sizeof v);
  }
  const bolt::LutModel m{cent.p, bounds.data(), C, d, round % 2 == 1};
  std::vector<double> wr(C * 16), wg(C * 16), lr(C), lg(C);
  std::vector<uint8_t> ur(C * 16), ug(C * 16);
  double sr = 0, sg = 0;
  bolt::scalar::query_lut(m, x.p, wr.data(), ur.data(), lr.data(), &sr);
  bolt::neon::query_lut(m, x.p, wg.data(), ug.data(), lg.data(), &sg);
  char what[160];
  std::snprintf(what, sizeof what, "bolt query_lut round %d: d %d C %d dot %d", round, d, C, round % 2);
  check(ur == ug && std::memcmp(lr.data(), lg.data(), C * sizeof(double)) == 0 &&
            std::memcmp(wr.data(), wg.data(), C * 16 * sizeof(double)) == 0 && std::memcmp(&sr, &sg, sizeof sr) == 0,
        what);
}

// ---------------------------------------------------------------- MADDNESS encode
void maddness_encode(int round) {
  const int C = 2 * static_cast<int>(uniform(1, 12));
  const size_t n = uniform(1, 150), d = uniform(1, 30);
  std::vector<int64_t> dims(C * 4);
  std::vector<float> offsets(C * 4), scales(C * 4);
  std::vector<int8_t> thr(C * 4 * 16);
  for (auto& v : dims) v = static_cast<int64_t>(uniform(0, d - 1));
  for (auto& v : offsets) v = normal();
  for (auto& v : scales) v = std::exp(normal()) * 20.0f;
  for (auto& v : thr) v = static_cast<int8_t>(static_cast<int>(uniform(0, 255)) - 128);
  const maddness::Prepared p = maddness::prepare(dims.data(), offsets.data(), scales.data(), thr.data(), C);
  const maddness::EncodeModel m = p.model();
  // layouts: C order, Fortran order, neither stride 1
  const int layout = round % 3;
  const size_t pad = uniform(0, 3);
  ptrdiff_t rs, cs;
  size_t total;
  if (layout == 0) {
    cs = 1, rs = static_cast<ptrdiff_t>(d + pad), total = n * rs;
  } else if (layout == 1) {
    rs = 1, cs = static_cast<ptrdiff_t>(n + pad), total = d * cs;
  } else {
    cs = 2, rs = static_cast<ptrdiff_t>(2 * d + pad), total = n * rs;
  }
  Unaligned<float> A(total, 4 * (round % 4));
  for (size_t i = 0; i < total; ++i) {
    // values on and next to the float thresholds as well as random ones
    const size_t s = uniform(0, C * 4 - 1);
    const float t = p.fthr[s * 8 + uniform(0, 7)];
    const int kind = static_cast<int>(uniform(0, 3));
    A.p[i] = !std::isfinite(t) || kind == 0 ? normal() * 3.0f
             : kind == 1                    ? t
             : kind == 2                    ? std::nextafter(t, INFINITY)
                                            : std::nextafter(t, -INFINITY);
  }
  const bool poison = round % 7 == 6;
  if (poison) A.p[uniform(0, n - 1) * rs + dims[uniform(0, C * 4 - 1)] * cs] = round % 2 ? NAN : -INFINITY;
  const size_t r1 = (n + 31) / 32 * 32;
  std::vector<uint8_t> ref(r1 * C / 2, 0xAA), got(r1 * C / 2, 0x55);
  const bool fr = maddness::scalar::encode(m, A.p, n, rs, cs, 0, r1, ref.data());
  const bool fg = maddness::neon::encode(m, A.p, n, rs, cs, 0, r1, got.data());
  char what[160];
  std::snprintf(what, sizeof what, "maddness encode round %d: n %zu d %zu C %d layout %d", round, n, d, C, layout);
  check(fr == fg && fr == !poison, std::string(what) + " (finite flag)");
  if (!poison) check(ref == got, what);
}

// ---------------------------------------------------------------- MADDNESS scan
void maddness_scan(int round) {
  const int log2g = round % 5, g = 1 << log2g;
  const int unit = std::max(2, g);  // C: a multiple of the group size and even, up to 64
  const int C = unit * static_cast<int>(uniform(1, static_cast<size_t>(64 / unit)));
  const int M = static_cast<int>(uniform(1, 9));
  const size_t rows = uniform(1, 300), nblocks = (rows + 31) / 32;
  std::vector<uint8_t> codes(nblocks * 32 * C / 2);
  for (auto& v : codes) v = static_cast<uint8_t>(rng());
  Unaligned<uint8_t> luts(static_cast<size_t>(M) * C * 16, round % 16);
  for (size_t i = 0; i < static_cast<size_t>(M) * C * 16; ++i) luts.p[i] = static_cast<uint8_t>(rng());
  std::vector<float> mul(M), add(M);
  for (int i = 0; i < M; ++i) mul[i] = normal() * 0.01f, add[i] = normal() * 10.0f;
  const maddness::ScanModel s{luts.p, mul.data(), add.data(), C, M, log2g};
  for (int row_major = 0; row_major < 2; ++row_major) {
    const size_t ldo = (row_major ? static_cast<size_t>(M) : rows) + uniform(0, 3);
    const size_t size = row_major ? rows * ldo : M * ldo;
    std::vector<float> ref(size, -1.0f), got(size, -1.0f);
    maddness::scalar::scan(s, codes.data(), rows, ref.data(), ldo, row_major != 0);
    maddness::neon::scan(s, codes.data(), rows, got.data(), ldo, row_major != 0);
    char what[160];
    std::snprintf(what, sizeof what, "maddness scan round %d: rows %zu C %d M %d log2g %d row_major %d", round, rows,
                  C, M, log2g, row_major);
    check(std::memcmp(ref.data(), got.data(), size * sizeof(float)) == 0, what);
  }
}

// ---------------------------------------------------------------- Sprintz
// Compressed by each path's encoder (streams must be equal) and decoded by each path (outputs,
// or error messages for corrupted streams, must be equal). Walks whose step sizes vary by block
// exercise every bit width, constant stretches the zero runs.
std::string decompress_as(Isa isa, const std::vector<uint8_t>& buf, std::vector<uint8_t>& out) {
  set_active_isa(isa);
  try {
    sprintz::decompress(buf.data(), buf.size(), out.data(), out.size());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

void sprintz_codec(int round) {
  const int dtype = round % 4, fc = (round / 4) % 2, isz = dtype < 2 ? 1 : 2;
  const size_t n = uniform(1, 700), nv = round % 5 == 0 ? 1 : uniform(1, 20);
  const int order = static_cast<int>(uniform(0, 1)), ndim = nv == 1 && uniform(0, 1) ? 1 : 2;
  const bool entropy = uniform(0, 2) == 0;
  std::vector<uint8_t> x(n * nv * isz);
  const int maxbits = isz * 8;
  for (size_t v = 0; v < nv; ++v) {
    uint32_t level = static_cast<uint32_t>(rng());
    int bits = 0;
    for (size_t r = 0; r < n; ++r) {
      if (r % 8 == 0) bits = static_cast<int>(uniform(0, static_cast<size_t>(maxbits)));
      if (bits > 0) level += static_cast<uint32_t>(rng() % (1u << bits)) - (1u << (bits - 1));
      const size_t at = order == 0 ? r * nv + v : v * n + r;
      if (isz == 1) {
        x[at] = static_cast<uint8_t>(level);
      } else {
        const uint16_t w = static_cast<uint16_t>(level);
        std::memcpy(&x[2 * at], &w, 2);
      }
    }
  }
  const size_t chunk = 16 * uniform(1, 40);
  // the NEON encoder reads an unaligned copy (an element-aligned start off the 16-byte grid)
  Unaligned<uint8_t> xu(x.size(), static_cast<size_t>(isz) * uniform(0, 15 / isz));
  std::memcpy(xu.p, x.data(), x.size());
  std::vector<uint8_t> sref, sgot;
  set_active_isa(Isa::Scalar);
  sprintz::compress(sref, x.data(), dtype, n, nv, ndim, order, fc, entropy, chunk);
  set_active_isa(Isa::Neon);
  sprintz::compress(sgot, xu.p, dtype, n, nv, ndim, order, fc, entropy, chunk);
  char what[200];
  std::snprintf(what, sizeof what, "sprintz round %d: dtype %d fc %d n %zu nv %zu order %d chunk %zu entropy %d",
                round, dtype, fc, n, nv, order, chunk, int(entropy));
  check(sref == sgot, std::string(what) + " (encoded streams)");
  std::vector<uint8_t> oref(x.size()), ogot(x.size());
  const std::string eref = decompress_as(Isa::Scalar, sref, oref), egot = decompress_as(Isa::Neon, sref, ogot);
  check(eref.empty() && egot.empty() && oref == x && ogot == x, std::string(what) + " (round trip)");
  // corrupted copies: same error (or, if undetected, same bytes) on both paths
  for (int k = 0; k < 3; ++k) {
    std::vector<uint8_t> bad = sref;
    bad[uniform(sprintz::kHeaderBytes, bad.size() - 1)] ^= static_cast<uint8_t>(1 + rng() % 255);
    std::fill(oref.begin(), oref.end(), 0);
    std::fill(ogot.begin(), ogot.end(), 0);
    const std::string a = decompress_as(Isa::Scalar, bad, oref), b = decompress_as(Isa::Neon, bad, ogot);
    check(a == b && (!a.empty() || oref == ogot), std::string(what) + " (corrupted: " + a + " / " + b + ")");
  }
  // the checksum alone, on unaligned data of any length
  Unaligned<uint8_t> data(x.size() + 130, round % 16);
  for (size_t i = 0; i < x.size() + 130; ++i) data.p[i] = static_cast<uint8_t>(rng());
  const size_t len = uniform(0, x.size() + 130);
  set_active_isa(Isa::Scalar);
  const uint32_t cref = sprintz::checksum(data.p, len);
  set_active_isa(Isa::Neon);
  check(cref == sprintz::checksum(data.p, len), std::string(what) + " (checksum)");
}

// ---------------------------------------------------------------- MADDNESS learning
// The threshold scan's bin updates (learn_scalar.cpp: NEON intrinsics on AArch64) against plain
// additions in the same order: every bin adds its rows in increasing r.
void learn_histogram(int round) {
  using namespace tenfold::maddness::learn;
  const int ncand = static_cast<int>(uniform(1, 5));
  const size_t n = uniform(1, 1500), nrows = uniform(0, n);
  Unaligned<double> P(n * kPanel, 8 * (round % 2));
  for (size_t i = 0; i < n * kPanel; ++i) P.p[i] = normal();
  std::vector<int32_t> rows(nrows), bins(static_cast<size_t>(ncand) * nrows);
  for (auto& r : rows) r = static_cast<int32_t>(uniform(0, n - 1));
  for (int c = 0; c < ncand; ++c)
    for (size_t r = 0; r < nrows; ++r) bins[c * nrows + r] = static_cast<int32_t>(c * kBins + uniform(0, 255));
  std::vector<double> got(static_cast<size_t>(ncand) * kBins * kPanel, 0.0), want(got);
  scalar::histogram(bins.data(), ncand, rows.data(), nrows, P.p, got.data());
  for (int c = 0; c < ncand; ++c)
    for (size_t r = 0; r < nrows; ++r)
      for (size_t j = 0; j < kPanel; ++j) want[bins[c * nrows + r] * kPanel + j] += P.p[rows[r] * kPanel + j];
  check(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)) == 0,
        "maddness learn histogram, round " + std::to_string(round));
}

// ---------------------------------------------------------------- Sprintz encoder kernels
// encode8/encode16 of each path on one chunk view: C-ordered rows (the NEON forecaster, 8
// variables per step, partial last groups), contiguous columns (rs == 1, the forecaster with a
// transposed gather), a padded C order and strided columns (the shared loop), unaligned starts and
// row counts that leave raw tails. Residual widths vary per block (every width code, 16 for 16-bit
// data) and some stretches are constant (all-zero blocks, zero runs). Packed streams must be equal
// byte for byte, and so must the forecaster state the scratch holds afterwards.
template <class T>
void sprintz_encoder_view(int round) {
  constexpr int W = int(sizeof(T)) * 8;
  const size_t nv = uniform(1, 27), rows = uniform(1, 90);
  const int layout = static_cast<int>(uniform(0, 3)), fc = static_cast<int>(uniform(0, 1));
  const size_t pad = uniform(1, 3);
  ptrdiff_t rs, cs;
  size_t total;
  if (layout == 0) rs = ptrdiff_t(nv), cs = 1, total = rows * nv;                  // C order
  else if (layout == 1) rs = 1, cs = ptrdiff_t(rows), total = rows * nv;           // Fortran order
  else if (layout == 2) rs = ptrdiff_t(nv + pad), cs = 1, total = rows * (nv + pad);  // padded rows
  else rs = 1, cs = ptrdiff_t(rows + pad), total = nv * (rows + pad);             // padded columns
  // the input is exactly `total` values long: a kernel reading past the view reads past the block
  Tight<T> x(total, sizeof(T) * uniform(0, 15 / sizeof(T)));
  for (size_t v = 0; v < nv; ++v) {
    uint32_t level = static_cast<uint32_t>(rng());
    int bits = 0;
    for (size_t r = 0; r < rows; ++r) {
      if (r % 8 == 0) bits = uniform(0, 3) == 0 ? 0 : static_cast<int>(uniform(0, W));
      if (bits > 0) level += static_cast<uint32_t>(rng() % (uint64_t(1) << bits)) - (1u << (bits - 1));
      x.p[ptrdiff_t(r) * rs + ptrdiff_t(v) * cs] = static_cast<T>(level);
    }
  }
  const sprintz::View view{rows, nv, rs, cs};
  const size_t cap = sprintz::max_packed_bytes((rows + 15) / 16 * 16, nv, W) + 64;
  std::vector<uint8_t> ref(cap, 0xAA), got(cap, 0x55);
  std::vector<int32_t> sref(sprintz::scratch_words(nv), 7), sgot(sprintz::scratch_words(nv), -7);
  size_t lr, lg;
  if (W == 8) {
    lr = sprintz::scalar::encode8(reinterpret_cast<const uint8_t*>(x.p), view, fc, ref.data(), sref.data());
    lg = sprintz::neon::encode8(reinterpret_cast<const uint8_t*>(x.p), view, fc, got.data(), sgot.data());
  } else {
    lr = sprintz::scalar::encode16(reinterpret_cast<const uint16_t*>(x.p), view, fc, ref.data(), sref.data());
    lg = sprintz::neon::encode16(reinterpret_cast<const uint16_t*>(x.p), view, fc, got.data(), sgot.data());
  }
  char what[200];
  std::snprintf(what, sizeof what, "sprintz encode%d round %d: rows %zu nv %zu layout %d fc %d", W, round, rows, nv,
                layout, fc);
  check(lr == lg && std::equal(ref.begin(), ref.begin() + ptrdiff_t(lr), got.begin()), std::string(what) + " (stream)");
  // the forecaster state (prev, d, a of each variable) after the last block
  const size_t padded = (nv + 7) / 8 * 8;
  bool same_state = true;
  for (int k = 0; k < 3; ++k)
    for (size_t v = 0; v < nv; ++v) same_state &= sref[k * padded + v] == sgot[k * padded + v];
  check(same_state, std::string(what) + " (state)");
}

// ---------------------------------------------------------------- dispatch
void dispatch() {
  check(detect_isa() == Isa::Neon, "detect_isa() is neon on AArch64");
  set_active_isa(Isa::Neon);
  check(active_isa() == Isa::Neon, "set_active_isa(neon)");
  bool refused = false;
  try {
    set_active_isa(Isa::Avx2);
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  check(refused, "an AArch64 build refuses the avx2 path");
}

// Wide Sprintz: decimal digits (small, near 2^52 and arbitrary words of a corrupt stream) to
// float32/float64 with strided input and output, against the scalar reference.
void sprintz_wide_digits(int round) {
  const size_t n = uniform(0, 300), stride = uniform(1, 4);
  const bool f32 = round % 2;
  const size_t isz = f32 ? 4 : 8, step = isz * uniform(1, 3);
  std::vector<uint64_t> w(n * stride + 1);
  for (auto& d : w) {
    const int kind = int(uniform(0, 2));
    d = kind == 0 ? uint64_t(int64_t(uniform(0, 2000000)) - 1000000) : kind == 1 ? (uint64_t(1) << 52) - uniform(0, 9) : rng();
  }
  // one column (period 1) or rows of several columns, each with its own exponent
  const size_t period = uniform(0, 1) ? 1 : uniform(2, 7);
  std::vector<double> exps(period), divisors(period + sprintz::wide::kDivisorPad);
  for (auto& e : exps) e = std::pow(10.0, double(uniform(0, 18)));
  for (size_t k = 0; k < divisors.size(); ++k) divisors[k] = exps[k % period];
  std::vector<uint8_t> ref(n * step + 1, 0), got(n * step + 1, 0);
  sprintz::wide::scalar::digits_to_floats(w.data(), stride, n, divisors.data(), period, f32, ref.data() + 1,
                                          ptrdiff_t(step));
  sprintz::wide::neon::digits_to_floats(w.data(), stride, n, divisors.data(), period, f32, got.data() + 1,
                                        ptrdiff_t(step));
  char what[120];
  std::snprintf(what, sizeof what, "sprintz wide digits round %d: n %zu stride %zu period %zu f32 %d", round, n,
                stride, period, int(f32));
  check(ref == got, what);
  // and back: the digits of those floats (exact ones replaced, flags set) for a random exponent
  std::vector<uint64_t> fw(n * stride + 1), gw;
  for (size_t i = 0; i < n; ++i) {
    uint64_t b = 0;
    std::memcpy(&b, ref.data() + 1 + i * step, isz);
    const uint64_t minus_zero = f32 ? 0x80000000u : 0x8000000000000000u;
    fw[i * stride] = uniform(0, 9) ? b : uniform(0, 1) ? minus_zero : rng() >> (f32 ? 32 : 0);  // -0.0, any bits
  }
  gw = fw;
  std::vector<uint8_t> fe(n + 1, 7), ge(n + 1, 7);
  const double p2 = std::pow(10.0, double(uniform(0, 18)));
  const size_t fh = sprintz::wide::scalar::floats_to_digits(fw.data(), stride, n, p2, f32, fe.data());
  const size_t gh = sprintz::wide::neon::floats_to_digits(gw.data(), stride, n, p2, f32, ge.data());
  check(fh == gh && fw == gw && fe == ge, std::string(what) + " (floats_to_digits)");
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  dispatch();
  for (int r = 0; r < rounds; ++r) {
    bolt_encode(r);
    bolt_scans(r);
    bolt_luts(r);
    maddness_encode(r);
    maddness_scan(r);
    sprintz_codec(r);
    learn_histogram(r);
    sprintz_wide_digits(r);
    sprintz_encoder_view<uint8_t>(r);
    sprintz_encoder_view<uint16_t>(r);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
