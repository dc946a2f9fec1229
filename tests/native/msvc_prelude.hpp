// Force-included first by tests/native/check_msvc.py: the system, intrinsic and (for bindings.cpp)
// nanobind headers are read as clang's MSVC mode provides them, then the compiler identity
// macros are taken away so that our files (read after this, their system includes being no-ops
// behind include guards) see what MSVC shows them: _MSC_VER without __clang__ or __GNUC__.
#include <cstddef>
// the MSVC CRT functions clang's <mm_malloc.h> calls on Windows targets (no CRT here)
extern "C" void* _aligned_malloc(size_t, size_t);
extern "C" void _aligned_free(void*);
#include <intrin.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(TENFOLD_CHECK_BINDINGS)
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#endif

#undef __clang__
#undef __clang_major__
#undef __clang_minor__
#undef __GNUC__
#undef __GNUC_MINOR__
#undef __GNUC_PATCHLEVEL__
