// Native driver for instruction counts of the wide Sprintz codec (bench_sprintz_wide_icount.py
// runs it under valgrind's callgrind): reads a little-endian .npy file (1-D or C-order 2-D), compresses
// it as sprintz.compress does (forecaster fire, entropy on, 256 KiB chunks), then runs `reps`
// compressions (op c) or decompressions (op d), checks the round trip and prints ratio and time.
// usage: sprintz_wide_harness file.npy c|d reps [isa]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>
#include <ctime>
#include "common/isa.hpp"
#include "sprintz/sprintz.hpp"
using namespace tenfold;
static std::vector<uint8_t> readall(const char* p) { FILE* f = fopen(p, "rb"); std::vector<uint8_t> b; uint8_t t[65536]; size_t k; while ((k = fread(t,1,sizeof t,f))>0) b.insert(b.end(), t, t+k); fclose(f); return b; }
int main(int argc, char** argv) {
  auto f = readall(argv[1]);
  uint16_t hl; memcpy(&hl, &f[8], 2); std::string h((char*)&f[10], hl);
  int dtype = -1;
  const char* names[] = {"|i1","|u1","<i2","<u2","<i4","<u4","<i8","<u8","<f4","<f8"};
  for (int i = 0; i < 10; ++i) if (h.find(std::string("'") + names[i] + "'") != std::string::npos) dtype = i;
  size_t sh = h.find("'shape': ("); size_t n = strtoull(h.c_str() + sh + 10, nullptr, 10); size_t nv = 1; int ndim = 1;
  const char* c = strchr(h.c_str() + sh + 10, ','); if (c && c[1] == ' ' && c[2] != ')') { nv = strtoull(c + 2, nullptr, 10); ndim = 2; }
  const uint8_t* data = &f[10 + hl];
  size_t isz = sprintz::dtype_size(dtype);
  if (argc > 4) set_active_isa(isa_from_name(argv[4]));
  size_t chunk_rows = std::max<size_t>(16, (1 << 18) / (nv * isz) / 16 * 16);
  std::vector<uint8_t> out;
  sprintz::compress(out, data, dtype, n, nv, ndim, 0, 1, true, chunk_rows);
  std::vector<uint8_t> dec(n * nv * isz);
  int reps = atoi(argv[3]);
  clock_t t0 = clock();
  for (int r = 0; r < reps; ++r) {
    if (argv[2][0] == 'c') { std::vector<uint8_t> o; sprintz::compress(o, data, dtype, n, nv, ndim, 0, 1, true, chunk_rows); }
    else if (argv[2][0] == 'd') sprintz::decompress(out.data(), out.size(), dec.data(), dec.size());
  }
  double t = double(clock() - t0) / CLOCKS_PER_SEC / (reps ? reps : 1);
  sprintz::decompress(out.data(), out.size(), dec.data(), dec.size());
  if (memcmp(dec.data(), data, dec.size())) { printf("MISMATCH\n"); return 1; }
  printf("%s dtype %d n %zu nv %zu bytes %zu ratio %.4f  %s %.1f us  %.0f MB/s\n", argv[1], dtype, n, nv, out.size(), double(n*nv*isz)/out.size(), argv[2], t*1e6, n*nv*isz/t/1e6);
}
