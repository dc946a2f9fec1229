// Portable build of the learning kernels (learn_kernels.hpp).
#include "maddness/learn.hpp"

namespace tenfold {
namespace maddness {
namespace learn {
namespace scalar {
#include "maddness/learn_kernels.hpp"
}  // namespace scalar
}  // namespace learn
}  // namespace maddness
}  // namespace tenfold
