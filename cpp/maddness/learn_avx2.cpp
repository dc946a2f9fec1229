// AVX2 build (the same source, 4 doubles per vector) of the learning kernels (learn_kernels.hpp).
#include <immintrin.h>

#include "maddness/learn.hpp"

namespace tenfold {
namespace maddness {
namespace learn {
namespace avx2 {
#include "maddness/learn_kernels.hpp"
}  // namespace avx2
}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
