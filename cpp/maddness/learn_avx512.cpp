// AVX-512 build (the same source, 8 doubles per vector: one register per bin of the threshold
// scan) of the learning kernels (learn_kernels.hpp).
#include <immintrin.h>

#include "maddness/learn.hpp"

namespace tenfold {
namespace maddness {
namespace learn {
namespace avx512 {
#include "maddness/learn_kernels.hpp"
}  // namespace avx512
}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
