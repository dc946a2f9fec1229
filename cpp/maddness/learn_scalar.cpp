// Portable build of the learning kernels (learn_kernels.hpp).
#include "maddness/learn.hpp"

// The baseline's 128-bit vectors (part of x86-64 and of AArch64): add_panel_row's intrinsics.
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define TENFOLD_LEARN_SSE2 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>
#define TENFOLD_LEARN_NEON 1
#endif

namespace tenfold {
namespace maddness {
namespace learn {
namespace scalar {
#include "maddness/learn_kernels.hpp"
}  // namespace scalar
}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
