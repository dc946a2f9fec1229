// Sanitizer run of the MADDNESS signed-sum kernels (tenfold::maddness::project): random sizes,
// column choices and layouts (Fortran order with padded columns, row-major with padded rows,
// strided), each A in an exact-size heap block so that any read past it is caught by
// AddressSanitizer; the AVX2 path (1 and 3 threads) must equal the scalar path bit for bit.
// Built and run by tests/test_maddness_signed_sums.py::test_native_sanitizer_project; by hand:
//   g++ -O1 -g -fsanitize=address,undefined -std=c++17 -Icpp tests/native/maddness_project_fuzz.cpp \
//       cpp/maddness/maddness.cpp cpp/maddness/*_scalar.cpp cpp/common/*.cpp \
//       <cpp/maddness/*_avx2.cpp compiled with -mavx2 -mfma -mbmi2> -o fz -lpthread && ./fz 400
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "common/isa.hpp"
#include "maddness/maddness.hpp"

using namespace tenfold;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 100;
  const bool simd = detect_isa() != Isa::Scalar;
  std::mt19937 rng(7);
  long checks = 0;
  for (int it = 0; it < rounds; ++it) {
    // Sizes around the 8-row vectors, 16-row groups and 8-column blocks; sometimes enough rows
    // for a second thread (64 features of 32 terms start one from 1,024 rows).
    const bool big = it % 10 == 0;
    const size_t n = big ? 1024 + rng() % 2100 : 1 + rng() % 300, d = 1 + rng() % 70;
    const int F = big ? 64 : 1 + static_cast<int>(rng() % 9), w = big ? 32 : 1 + static_cast<int>(rng() % 12);
    std::vector<int64_t> cols(static_cast<size_t>(F) * w);
    std::vector<int32_t> npos(F);
    for (auto& c : cols) c = static_cast<int64_t>(rng() % d);
    for (auto& p : npos) p = static_cast<int32_t>(rng() % (w + 1));
    const int layout = static_cast<int>(rng() % 3);
    const size_t pad = rng() % 5, step = 2 + rng() % 2;
    ptrdiff_t rs, cs;
    size_t total;
    if (layout == 0) {  // Fortran order
      rs = 1, cs = static_cast<ptrdiff_t>(n + pad), total = (d - 1) * cs + n;
    } else if (layout == 1) {  // row-major
      cs = 1, rs = static_cast<ptrdiff_t>(d + pad), total = (n - 1) * rs + d;
    } else {  // neither stride 1
      cs = static_cast<ptrdiff_t>(step), rs = static_cast<ptrdiff_t>(d * step + pad), total = (n - 1) * rs + (d - 1) * cs + 1;
    }
    std::vector<float> ref(static_cast<size_t>(F) * n), got(ref.size());
    float* A = new float[total];
    for (size_t i = 0; i < total; ++i) A[i] = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 7.0f;
    set_active_isa(Isa::Scalar);
    maddness::project(cols.data(), npos.data(), F, w, A, n, d, rs, cs, ref.data(), 1);
    if (simd) {
      set_active_isa(detect_isa());  // the best path (AVX2 kernels on x86)
      for (int threads : {1, 3}) {
        maddness::project(cols.data(), npos.data(), F, w, A, n, d, rs, cs, got.data(), threads);
        if (std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)) != 0) {
          printf("MISMATCH round %d: layout %d, n %zu, d %zu, F %d, w %d, %d threads\n", it, layout, n, d, F, w,
                 threads);
          return 1;
        }
        ++checks;
      }
    }
    delete[] A;
  }
  printf("ok: %d rounds, %ld SIMD comparisons\n", rounds, checks);
  return 0;
}
