// Sanitizer fuzz run of the Sprintz decoder (both ISA paths): mutated and truncated streams must
// raise std::invalid_argument (the checksum of the compressed bytes catches every change) or
// decode to exactly the original data; mutated streams whose checksum is then recomputed
// (reseal) reach the decoder proper and must raise or decode to some array of the declared size,
// with no out-of-bounds access (AddressSanitizer) or undefined behaviour (UBSan). Each input is
// copied to an exact-size heap block so any over-read is caught. Built and run by
// tests/test_sprintz.py::test_native_sanitizer_fuzz under `make fuzz`; by hand:
//   g++ -O1 -g -fsanitize=address,undefined -std=c++17 -Icpp tests/native/sprintz_fuzz.cpp \
//       cpp/sprintz/sprintz.cpp cpp/sprintz/codec_scalar.cpp cpp/sprintz/huffman.cpp cpp/common/isa.cpp \
//       <cpp/sprintz/codec_avx2.cpp compiled with -mavx2 -mfma -mbmi -mbmi2> -o fz && ./fz 1000 [seed]
// Prints the seed and the number of cases; the same seed and rounds replay the same run.
#include "sprintz/sprintz.hpp"
#include "sprintz/wide_blocks.hpp"
#include "common/isa.hpp"
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>
using namespace tenfold::sprintz;

// The active ISA's wide block kernels (wide_blocks.hpp) against the scalar reference: residual
// unpacking at every width 0..64, full and short blocks, from exact-size heap buffers at random
// offsets with the least readable bytes the contract allows (an over-read is an ASan report), and
// the lag probe on small walks, periodic words, full-range words and words of every bit width,
// 1..9 columns, odd lengths. Returns the number of mismatches.
static int check_wide_blocks(std::mt19937_64& rng, int rounds) {
  namespace W = tenfold::sprintz::wide;
  int bad = 0;
  const W::UnpackFn unpack = W::residual_unpacker();
  for (int r = 0; r < rounds; ++r)
    for (int width = 0; width <= 64; ++width) {
      const size_t cnt = r % 3 ? 16 : 1 + rng() % 16;
      const size_t need = std::max((cnt * size_t(width) + 7) / 8, (cnt - 1) * size_t(width) / 8 + 9);
      const size_t avail = need + (r % 2 ? 0 : rng() % 24), off = rng() % 8;
      uint8_t* buf = new uint8_t[avail + off];
      for (size_t i = 0; i < avail + off; ++i) buf[i] = uint8_t(rng());
      uint64_t a[16], b[16];
      W::scalar::unpack_residuals(buf + off, avail, cnt, width, a);
      unpack(buf + off, avail, cnt, width, b);
      if (std::memcmp(a, b, cnt * 8) != 0) { printf("unpack_residuals mismatch: width %d cnt %zu\n", width, cnt); ++bad; }
      delete[] buf;
    }
  // the packer (scalar on every ISA) against a bit-by-bit reference: every width 0..64, full and
  // short blocks, values at the width's maximum and random, into an exact-size heap block plus the
  // 8 bytes of room its contract asks (a write past them is an ASan report); its bytes must also
  // unpack to the values
  for (int r = 0; r < rounds; ++r)
    for (int width = 0; width <= 64; ++width) {
      const size_t cnt = r % 3 ? 16 : 1 + rng() % 16, nbytes = (cnt * size_t(width) + 7) / 8;
      const uint64_t mask = width == 64 ? ~uint64_t(0) : (uint64_t(1) << width) - 1;
      uint64_t z[16], back[16];
      for (size_t i = 0; i < cnt; ++i) z[i] = (r % 4 == 1 ? ~uint64_t(0) : uint64_t(rng())) & mask;
      std::vector<uint8_t> ref(nbytes + 9, 0);
      for (size_t i = 0; i < cnt; ++i)
        for (int k = 0; k < width; ++k)
          if ((z[i] >> k) & 1) ref[(i * size_t(width) + size_t(k)) / 8] |= uint8_t(1u << ((i * size_t(width) + size_t(k)) % 8));
      uint8_t* buf = new uint8_t[nbytes + 8];
      W::pack_residuals(z, cnt, width, buf);
      if (std::memcmp(buf, ref.data(), nbytes) != 0) { printf("pack_residuals mismatch: width %d cnt %zu\n", width, cnt); ++bad; }
      std::memcpy(ref.data(), buf, nbytes);  // unpack reads 9 bytes past a value's first byte: from the padded copy
      W::scalar::unpack_residuals(ref.data(), ref.size(), cnt, width, back);
      for (size_t i = 0; i < cnt; ++i)
        if (back[i] != ((z[i] >> 1) ^ (uint64_t(0) - (z[i] & 1)))) { printf("pack_residuals round trip: width %d cnt %zu\n", width, cnt); ++bad; break; }
      delete[] buf;
    }
  // the residual kernel against the scalar rule: every lag 0..16 (0 delta of delta), full and
  // short blocks, small walks and full-range words (wrapping differences), from an exact-size heap
  // block holding just the history the contract asks
  const W::ResidualsFn residuals = W::residual_maker();
  for (int r = 0; r < rounds; ++r)
    for (size_t lag = 0; lag <= size_t(W::kProbeLags); ++lag) {
      const size_t cnt = r % 3 ? 16 : 1 + rng() % 16, hist = lag ? lag : 2;
      uint64_t* x = new uint64_t[hist + cnt];
      for (size_t i = 0; i < hist + cnt; ++i) x[i] = r % 2 ? uint64_t(rng()) : (i ? x[i - 1] : 0) + rng() % 9 - 4;
      uint64_t za[16], zb[16];
      const uint64_t oa = W::scalar::block_residuals(x + hist, cnt, lag, za);
      const uint64_t ob = residuals(x + hist, cnt, lag, zb);
      if (oa != ob || std::memcmp(za, zb, cnt * 8) != 0) { printf("block_residuals mismatch: lag %zu cnt %zu\n", lag, cnt); ++bad; }
      delete[] x;
    }
  for (int r = 0; r < rounds; ++r) {
    const size_t n = 16 + rng() % 300, nv = 1 + rng() % 9;
    const int kind = r % 4, bits = int(rng() % 65);
    uint64_t* w = new uint64_t[n * nv];
    for (size_t i = 0; i < n * nv; ++i) {
      const uint64_t noise = rng();
      w[i] = kind == 0 ? (i >= nv ? w[i - nv] : 0) + noise % 7 - 3
           : kind == 1 ? uint64_t(1000 * ((i / nv) % (2 + r % 15))) + noise % 5
           : kind == 2 ? noise : (bits == 64 ? noise : noise & ((uint64_t(1) << bits) - 1));
    }
    uint64_t ca[W::kProbeLags + 1], cb[W::kProbeLags + 1];
    W::scalar::lag_costs(w, n, nv, ca);
    W::lag_costs(w, n, nv, cb);
    if (std::memcmp(ca, cb, sizeof ca) != 0) { printf("lag_costs mismatch: n %zu nv %zu kind %d\n", n, nv, kind); ++bad; }
    delete[] w;
    // the 8/16-bit probe: full-range, periodic and flat samples, up to its 4096-sample limit
    const int nbits = r % 2 ? 8 : 16;
    const size_t m = r % 5 ? 16 + rng() % 600 : W::kNarrowProbeMax - rng() % 40, off = rng() % 2;
    uint8_t* x = new uint8_t[m * size_t(nbits / 8) + off];
    for (size_t i = 0; i < m * size_t(nbits / 8) + off; ++i)
      x[i] = kind == 0 ? uint8_t(rng()) : kind == 1 ? uint8_t((i % (3 + r % 13)) * 40 + rng() % 3) : uint8_t(i / 97);
    W::scalar::narrow_lag_costs(x + off, nbits, m, ca);
    W::narrow_lag_costs(x + off, nbits, m, cb);
    if (std::memcmp(ca, cb, sizeof ca) != 0) { printf("narrow_lag_costs mismatch: n %zu bits %d kind %d\n", m, nbits, kind); ++bad; }
    delete[] x;
  }
  return bad;
}

int main(int argc, char** argv) {
  if (argc < 2) { printf("usage: fz rounds [seed]\n"); return 2; }
  const int rounds = atoi(argv[1]);
  const unsigned long long seed = argc > 2 ? strtoull(argv[2], nullptr, 10) : 42;
  std::mt19937_64 rng(seed);
  long rejected = 0, accepted = 0, resealed_decoded = 0;
  const int nisa = tenfold::detect_isa() == tenfold::Isa::Scalar ? 1 : 2;
  for (int isa = 0; isa < nisa; ++isa) {
    tenfold::set_active_isa(isa ? tenfold::detect_isa() : tenfold::Isa::Scalar);
    if (check_wide_blocks(rng, 40 + rounds / 10)) return 1;
    // deterministic: few C-order variables with short raw tails (wide SIMD row stores must not
    // spill past the output), both forecasters, all dtypes, exact-size heap output
    for (int dtype = 0; dtype < 4; ++dtype)
      for (int fc = 0; fc < 2; ++fc)
        for (size_t nv = 2; nv <= 17; ++nv)
          for (size_t n : {16, 17, 18, 19, 32, 33, 47, 130, 161}) {
            const size_t isz = dtype < 2 ? 1 : 2;
            std::vector<uint8_t> x(n * nv * isz);
            for (size_t i = 0; i < x.size(); ++i)  // odd n: a first superblock of full-range noise (widest codes)
              x[i] = (n & 1) && i < 16 * nv * isz ? uint8_t(rng()) : uint8_t(rng() % 7 + (i % 5) * 3);
            std::vector<uint8_t> buf;
            compress(buf, x.data(), dtype, n, nv, 2, 0, fc, fc == 1, 16 * (1 + n % 3));
            uint8_t* o = new uint8_t[x.size()];
            decompress(buf.data(), buf.size(), o, x.size());
            if (std::memcmp(o, x.data(), x.size()) != 0) { printf("SMALL-NV ROUNDTRIP FAIL\n"); return 1; }
            delete[] o;
          }
    // deterministic: fast sines, so that FIRE chunks (not delta) are chosen, 8-bit, 2..17 and
    // 20..41 C-order variables (groups of 16 plus partial groups of 0, 1, 8, 9, 15 and others), with and without raw
    // tails and zero runs; exact-size heap input and output
    long fire_chunks = 0;
    for (int dtype = 0; dtype < 2; ++dtype)
      for (size_t nv : {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 24, 25, 31, 32, 33, 40, 41})
        for (size_t n : {161, 256, 511, 1040}) {
          std::vector<uint8_t> x(n * nv);
          for (size_t r = 0; r < n; ++r)
            for (size_t v = 0; v < nv; ++v)
              x[r * nv + v] = (r >= 64 && r < 112) ? 7 : uint8_t(int(120 * std::sin(r / (4.0 + 0.3 * v)) + (rng() % 2)));
          std::vector<uint8_t> buf;
          compress(buf, x.data(), dtype, n, nv, 2, 0, 1, false, n > 256 ? 256 : 128);
          fire_chunks += buf[41] == 1;
          uint8_t* in = new uint8_t[buf.size()];
          std::memcpy(in, buf.data(), buf.size());
          uint8_t* o = new uint8_t[x.size()];
          decompress(in, buf.size(), o, x.size());
          if (std::memcmp(o, x.data(), x.size()) != 0) { printf("FIRE SMALL-NV ROUNDTRIP FAIL\n"); return 1; }
          delete[] o;
          delete[] in;
        }
    if (fire_chunks < 130) {  // of 192 streams: most first chunks must be FIRE-coded
      printf("too few FIRE chunks (%ld)\n", fire_chunks); return 1; }
    for (int cfg = 0; cfg < 120; ++cfg) {  // every dtype code (0..9), both forecasters, entropy on/off, 3 layouts
      int dtype = cfg % 10, fc = (cfg / 10) % 2, ent = (cfg / 20) % 2, order = (cfg / 40) % 3;
      size_t nv = order == 2 ? 1 : (cfg % 3 ? 1 + rng() % 12 : 30 + rng() % 20), n = 1 + rng() % 3000;
      size_t isz = dtype_size(dtype);
      std::vector<uint8_t> x(n * nv * isz);
      for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(int(40 * std::sin(i / (7.0 * nv)) + (rng() % 3)));
      if (dtype >= 8 && cfg % 3)  // floats with 2 decimals (the decimal-digit path), a few NaN exceptions
        for (size_t i = 0; i < n * nv; ++i) {
          const double d = rng() % 97 == 0 ? std::nan("") : std::round(3000 * std::sin(i / 50.0) + rng() % 9) / 100;
          const float f = float(d);
          if (dtype == 8) std::memcpy(x.data() + 4 * i, &f, 4); else std::memcpy(x.data() + 8 * i, &d, 8);
        }
      // periodic 1-variable data (period 3..9) so the lagged-delta chunks are exercised too
      if (nv == 1 && cfg % 2 == 0)
        for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(((i / isz) % (3 + cfg % 7)) * 37 + (rng() % 3));
      // wide dtypes, one config in three: regularly stepped columns (jitter and a gap: the stepped
      // word kind) or, for floats, 8 significant digits across magnitudes (compact exceptions with tags)
      if (dtype >= 4 && rng() % 3 == 0) {
        const bool digits8 = dtype >= 8 && rng() % 2;
        double walk = 1;
        for (size_t i = 0; i < n * nv; ++i) {
          const size_t r = i / nv, j = i % nv;
          uint64_t word = uint64_t(1000003) * (j + 1) + uint64_t(r) * (j + 7) + (r > n / 2 ? 100000 : 0);
          if (rng() % 50 == 0) word += rng() % 1000 - 500;
          double d = double(int64_t(word)) / 4;
          if (digits8) {
            walk = std::fabs(walk + (double(rng() % 2001) - 1000) / 10000) + 1e-4;
            const double k = std::pow(10.0, 7 - std::floor(std::log10(walk)));
            d = std::round(walk * k) / k;
          }
          const float f = float(d);
          if (dtype == 8) std::memcpy(x.data() + 4 * i, &f, 4);
          else if (dtype == 9) std::memcpy(x.data() + 8 * i, &d, 8);
          else std::memcpy(x.data() + isz * i, &word, isz);  // (little-endian: the low bytes)
        }
      }
      // and one in four of the rest: few levels far apart (the dictionary word kind)
      else if (dtype >= 4 && rng() % 4 == 0) {
        uint64_t levels[37];
        for (uint64_t& l : levels) l = rng();
        size_t at = 18;
        for (size_t i = 0; i < n * nv; ++i) {
          at = (at + 37 + rng() % 3 - 1) % 37;
          const double d = double(int64_t(levels[at] >> 11)) / 1024;
          const float f = float(d);
          if (dtype == 8) std::memcpy(x.data() + 4 * i, &f, 4);
          else if (dtype == 9) std::memcpy(x.data() + 8 * i, &d, 8);
          else std::memcpy(x.data() + isz * i, &levels[at], isz);
        }
      }
      size_t chunk = 16 * (1 + rng() % 40);
      std::vector<uint8_t> buf;
      compress(buf, x.data(), dtype, n, nv, order == 2 ? 1 : 2, order == 1, fc, ent, chunk);
      std::vector<uint8_t> out(x.size());
      decompress(buf.data(), buf.size(), out.data(), out.size());
      if (out != x) { printf("ROUNDTRIP FAIL\n"); return 1; }
      for (int r = 0; r < rounds; ++r) {
        std::vector<uint8_t> b(buf);
        const int kind = rng() % 4;  // 0 truncate, 1 mutate, 2 mutate, 3 mutate and reseal
        if (kind == 0) b.resize(rng() % b.size());
        else {
          int flips = 1 + rng() % 4;
          for (int f = 0; f < flips; ++f) {
            size_t pos = rng() % b.size();
            if (rng() % 2) b[pos] ^= uint8_t(1u << (rng() % 8)); else b[pos] = uint8_t(rng());
          }
          if (kind == 3 && b.size() >= kHeaderBytes) reseal(b.data(), b.size());
        }
        // exact-size heap copy so ASan sees any over-read of the input
        uint8_t* heap = new uint8_t[b.size() ? b.size() : 1];
        std::memcpy(heap, b.data(), b.size());
        try {
          Header h = parse_header(heap, b.size());
          size_t need = size_t(h.n) * size_t(h.nvars) * dtype_size(h.dtype);
          if (need > (size_t(1) << 28)) throw std::invalid_argument("big");
          std::vector<uint8_t> o(need);
          decompress(heap, b.size(), o.data(), need);
          if (kind == 3) {
            ++resealed_decoded;  // a valid checksum over changed bytes: any data of the declared size
          } else if (o != x) {
            printf("ACCEPTED WITH DIFFERENT DATA (kind %d)\n", kind);
            return 1;
          } else {
            ++accepted;
          }
        } catch (const std::invalid_argument&) { ++rejected; } catch (const std::bad_alloc&) { ++rejected; }
        delete[] heap;
      }
    }
  }
  printf("sprintz native fuzz: seed %llu, %ld cases: rejected %ld accepted %ld resealed-and-decoded %ld\n", seed,
         rejected + accepted + resealed_decoded, rejected, accepted, resealed_decoded);
}
