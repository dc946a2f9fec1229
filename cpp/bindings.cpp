// The only file that knows Python. Arguments are validated in src/tenfold/*.py; the checks
// here are a second line of defence so that no call can read or write out of bounds.
// Every kernel runs with the GIL released.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <limits>
#include <mutex>
#include <utility>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "bolt/bolt.hpp"
#include "bolt/ivf.hpp"
#include "maddness/maddness.hpp"
#include "maddness/learn.hpp"
#include "extract/extract.hpp"
#include "common/checks.hpp"
#include "common/isa.hpp"
#include "sprintz/sprintz.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

template <class T, class... Dims>
using In = nb::ndarray<const T, nb::c_contig, nb::device::cpu, Dims...>;
template <class T>
using Out = nb::ndarray<nb::numpy, T>;

// Multi-MB buffers are advised for transparent huge pages (as numpy does for its large arrays):
// writing a fresh 25 MB result then faults in a dozen 2 MB pages instead of ~6,000 small ones
// (those cost ~30 ms here, more than a MADDNESS product of 100,000 rows), which matters where
// malloc hands back fresh memory on every call. Huge pages also spare the TLB: a 4 MB MADDNESS
// result written column by column (100 columns, 40 KB apart) touches ~1,000 small pages per
// call, whose page walks (their page-table lines flushed from the caches like the data) cost
// 0.08-0.13 ms of a 0.4-0.5 ms cold call here; with two huge pages they disappear.
constexpr size_t kHugePage = size_t(1) << 21;
// Worth huge pages: from 4 MiB on (rounding up wastes at most a third), and from 2 MiB on where
// rounding up to whole huge pages wastes at most an eighth (a 4,000,000-byte result: 5%).
bool huge_worthy(size_t n) {
  const size_t rounded = (n + kHugePage - 1) / kHugePage * kHugePage;
  return n >= 2 * kHugePage || (n >= kHugePage && rounded - n <= n / 8);
}

void advise_huge_pages(void* ptr, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge_worthy(n)) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(ptr), h = kHugePage;
    const uintptr_t a = (p + h - 1) & ~(h - 1), b = (p + n) & ~(h - 1);
    if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE);  // advice only: errors ignored
  }
#else
  (void)ptr;
  (void)n;
#endif
}

#if defined(__linux__)
// Huge-page blocks for large arrays, kept for reuse after Python frees them. malloc cannot
// promise huge pages: it often hands back heap memory already mapped with small pages, and
// MADV_HUGEPAGE does not convert those (measured: in one process of four the 4 MB MADDNESS
// result had small pages and took 0.08 ms longer from cold memory). A block is mapped on its
// own, advised before its first touch, and on release kept for the next array of the same size
// (no page faults, no zeroing by the kernel), up to kKeepBytes in all.
class HugeBlocks {
 public:
  static constexpr size_t kKeepBytes = size_t(32) << 20;  // freed blocks kept: 8 results of 4 MB
  HugeBlocks() { free_.reserve(kKeepBytes / kHugePage); }  // put() never allocates
  void* get(size_t block) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = free_.size(); i-- > 0;)
        if (free_[i].second == block) {
          void* p = free_[i].first;
          free_.erase(free_.begin() + static_cast<ptrdiff_t>(i));
          kept_ -= block;
          return p;
        }
    }
    // Map one huge page more than needed and trim both ends to a 2 MiB boundary.
    void* raw = mmap(nullptr, block + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const uintptr_t r = reinterpret_cast<uintptr_t>(raw), a = (r + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
    if (a > r) munmap(raw, a - r);
    if (r + kHugePage > a) munmap(reinterpret_cast<void*>(a + block), r + kHugePage - a);
#if defined(MADV_HUGEPAGE)
    madvise(reinterpret_cast<void*>(a), block, MADV_HUGEPAGE);  // advice only: errors ignored
#endif
    return reinterpret_cast<void*>(a);
  }
  // Keeps the newest blocks: the oldest are unmapped to make room.
  void put(void* p, size_t block) noexcept {
    if (block > kKeepBytes) {
      munmap(p, block);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    while (kept_ + block > kKeepBytes) {
      munmap(free_.front().first, free_.front().second);
      kept_ -= free_.front().second;
      free_.erase(free_.begin());
    }
    free_.emplace_back(p, block);
    kept_ += block;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<void*, size_t>> free_;
  size_t kept_ = 0;
};
HugeBlocks& huge_blocks() {
  static HugeBlocks* pool = new HugeBlocks;  // never destroyed: arrays may be freed during interpreter teardown
  return *pool;
}
#endif

// A new numpy array; zeroed unless the caller writes every element. Its memory: a huge-page
// block (above) when large, else on a cache line when over a page (streaming stores write whole
// 64-byte lines: MADDNESS's column-major results use them), else malloc's.
template <class T>
Out<T> new_array(std::initializer_list<size_t> shape, bool zero = true) {
  size_t total = 1;
  for (size_t s : shape) total *= s;
  const size_t bytes = total * sizeof(T);
  void* p = nullptr;
  nb::capsule owner;
#if defined(__linux__)
  constexpr size_t kLine = 64, kPage = 4096;
  if (huge_worthy(bytes)) {
    const size_t block = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    p = huge_blocks().get(block);
    if (!p) throw std::bad_alloc();
    // The capsule's deleter gets one pointer: a small cell carries the block and its size.
    auto* cell = new (std::nothrow) std::pair<void*, size_t>(p, block);
    if (!cell) {
      huge_blocks().put(p, block);
      throw std::bad_alloc();
    }
    owner = nb::capsule(cell, [](void* c) noexcept {
      auto* pc = static_cast<std::pair<void*, size_t>*>(c);
      huge_blocks().put(pc->first, pc->second);
      delete pc;
    });
  } else {
    p = bytes >= kPage ? std::aligned_alloc(kLine, (bytes + kLine - 1) / kLine * kLine)
                       : std::malloc(bytes > 0 ? bytes : 1);
    if (!p) throw std::bad_alloc();
    owner = nb::capsule(p, [](void* q) noexcept { std::free(q); });
  }
#else  // no huge-page advice elsewhere (and MSVC has no std::aligned_alloc)
  p = std::malloc(bytes > 0 ? bytes : 1);
  if (!p) throw std::bad_alloc();
  owner = nb::capsule(p, [](void* q) noexcept { std::free(q); });
#endif
  T* data = static_cast<T*>(p);
  if (zero) std::memset(data, 0, bytes);
  return Out<T>(data, shape, owner);
}

// The message is a literal: no std::string is built unless the check fails (checks run per element).
void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}

// ---------------------------------------------------------------- Bolt
tenfold::bolt::EncodeModel bolt_model(const In<float, nb::ndim<2>>& centroids_t,
                                      const In<float, nb::ndim<2>>& norms,
                                      const In<int32_t, nb::ndim<1>>& bounds) {
  const size_t d = centroids_t.shape(0), C = norms.shape(0);
  require(centroids_t.shape(1) == 16 && norms.shape(1) == 16, "centroid tables must have 16 columns");
  require(C >= 2 && C % 2 == 0 && C <= 256, "ncodebooks must be even and in [2, 256]");
  require(bounds.shape(0) == C + 1, "bounds must have ncodebooks + 1 entries");
  const int32_t* bd = bounds.data();
  require(bd[0] == 0 && static_cast<size_t>(bd[C]) == d, "bounds must span [0, d]");
  for (size_t c = 0; c < C; ++c) require(bd[c] <= bd[c + 1], "bounds must be non-decreasing");
  return {centroids_t.data(), norms.data(), bd, static_cast<int>(C), static_cast<int>(d)};
}

size_t blocked_bytes(size_t n, size_t ncols) {
  return (n + tenfold::bolt::kBlockRows - 1) / tenfold::bolt::kBlockRows * tenfold::bolt::kBlockRows * ncols;
}

void check_luts(const In<uint8_t, nb::ndim<3>>& luts, size_t ncols) {
  require(luts.shape(1) == 2 * ncols && luts.shape(2) == 16, "luts must have shape (nq, 2 * ncols, 16)");
  const uint8_t* p = luts.data();
  uint8_t top = 0;
  for (size_t i = 0, n = luts.shape(0) * luts.shape(1) * 16; i < n; ++i) top = p[i] > top ? p[i] : top;
  require(top <= tenfold::bolt::kMaxLutEntry, "lookup table entries must be <= 127");
}

std::vector<std::string> feature_list(uint32_t bits) {
  std::vector<std::string> out;
  for (const auto& f : tenfold::feature_names())
    if (bits & f.first) out.emplace_back(f.second);
  return out;
}

uint32_t feature_bits(const std::vector<std::string>& names) {
  uint32_t bits = 0;
  for (const std::string& name : names) {
    bool known = false;
    for (const auto& f : tenfold::feature_names())
      if (name == f.second) {
        bits |= f.first;
        known = true;
      }
    if (!known) throw nb::value_error(("features: unknown CPU feature '" + name + "'").c_str());
  }
  return bits;
}

std::vector<std::string> isa_list(const std::vector<tenfold::Isa>& isas) {
  std::vector<std::string> out;
  for (tenfold::Isa isa : isas) out.emplace_back(tenfold::isa_name(isa));
  return out;
}

}  // namespace

// A bytes object of n uninitialized bytes, to be filled before it is shared (huge pages as for
// arrays: Dask workers set MALLOC_TRIM_THRESHOLD_, so malloc hands back fresh memory every call).
static nb::bytes bytes_for_writing(size_t n) {
  PyObject* o = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (!o) throw nb::python_error();
  advise_huge_pages(PyBytes_AsString(o), n);
  return nb::steal<nb::bytes>(o);
}

NB_MODULE(_core, m) {
  m.doc() = "tenfold's C++ kernels (internal; use the tenfold package)";

  m.attr("BOLT_MAX_LUT_ENTRY") = tenfold::bolt::kMaxLutEntry;
  m.def("detect_isa", [] { return std::string(tenfold::isa_name(tenfold::detect_isa())); });
  m.def("active_isa", [] { return std::string(tenfold::isa_name(tenfold::active_isa())); });
  m.def("set_isa", [](const std::string& name) { tenfold::set_active_isa(tenfold::isa_from_name(name)); });
  m.def("cpu_features", [] { return feature_list(tenfold::cpu_features()); },
        "Features of this CPU and OS that the SIMD units depend on.");
  m.def("isa_requirements", [](const std::string& name) {
        return feature_list(tenfold::required_features(tenfold::isa_from_name(name)));
      }, "name"_a, "Features the unit of ISA `name` was compiled for.");
  m.def("compiled_isas", [] { return isa_list(tenfold::compiled_isas()); },
        "ISAs whose kernels this build holds, portable first.");
  m.def("usable_isas", [](const std::vector<std::string>& features) {
        return isa_list(tenfold::usable_isas(feature_bits(features)));
      }, "features"_a, "ISAs runnable on a CPU with `features`, portable first (pure: for tests).");
  m.def("choose_isa", [](const std::vector<std::string>& features) {
        return std::string(tenfold::isa_name(tenfold::choose_isa(feature_bits(features))));
      }, "features"_a, "The ISA the dispatchers would pick on a CPU with `features` (pure: for tests).");

  m.def(
      "first_nonfinite_row",
      [](In<float, nb::ndim<2>> X, int n_threads) {
        nb::gil_scoped_release release;
        return tenfold::first_nonfinite_row(X.data(), X.shape(0), X.shape(1), X.shape(1), n_threads);
      },
      "X"_a.noconvert(), "n_threads"_a);

  m.def(
      "bolt_encode",
      [](In<float, nb::ndim<2>> X, In<float, nb::ndim<2>> centroids_t, In<float, nb::ndim<2>> norms,
         In<int32_t, nb::ndim<1>> bounds, int n_threads) {
        auto model = bolt_model(centroids_t, norms, bounds);
        require(X.shape(1) == static_cast<size_t>(model.d), "X has the wrong number of columns");
        const size_t n = X.shape(0), ncols = static_cast<size_t>(model.ncodebooks / 2);
        auto out = new_array<uint8_t>({n, ncols});
        bool finite;
        {
          nb::gil_scoped_release release;
          finite = tenfold::bolt::encode(model, X.data(), n, static_cast<size_t>(model.d), out.data(), n_threads);
        }
        return std::make_pair(out, finite);
      },
      "X"_a.noconvert(), "centroids_t"_a.noconvert(), "norms"_a.noconvert(), "bounds"_a.noconvert(),
      "n_threads"_a, "Returns (codes, all_finite).");

  m.def(
      "bolt_centroid_sums",
      [](In<float, nb::ndim<2>> X, In<uint8_t, nb::ndim<2>> codes, In<int32_t, nb::ndim<1>> bounds, int n_threads) {
        const size_t n = X.shape(0), d = X.shape(1), C = bounds.shape(0) - 1;
        require(bounds.shape(0) >= 3 && C % 2 == 0 && bounds.data()[0] == 0 && static_cast<size_t>(bounds.data()[C]) == d,
                "bounds must span [0, d] with an even number of codebooks");
        for (size_t c = 0; c < C; ++c) require(bounds.data()[c] <= bounds.data()[c + 1], "bounds must increase");
        require(codes.shape(0) == n && codes.shape(1) == C / 2, "codes must have shape (n, ncodebooks / 2)");
        auto sums = new_array<double>({16, d});
        auto counts = new_array<int64_t>({C, 16});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::centroid_sums(X.data(), n, d, codes.data(), bounds.data(), static_cast<int>(C),
                                       static_cast<int>(d), sums.data(), counts.data(), n_threads);
        }
        return std::make_pair(sums, counts);
      },
      "X"_a.noconvert(), "codes"_a.noconvert(), "bounds"_a.noconvert(), "n_threads"_a,
      "k-means update step: per-centroid sums (16, d) and counts (C, 16) of rows by code.");

  m.def(
      "bolt_query_tables",
      [](In<float, nb::ndim<2>> Q, In<float, nb::ndim<2>> centroids, In<int32_t, nb::ndim<1>> bounds, bool dot,
         int n_threads) {
        const size_t d = centroids.shape(1), C = bounds.shape(0) - 1;
        require(centroids.shape(0) == 16 && Q.shape(1) == d, "Q and centroids must have d columns");
        require(bounds.shape(0) >= 3 && bounds.data()[0] == 0 && static_cast<size_t>(bounds.data()[C]) == d,
                "bounds must span [0, d]");
        for (size_t c = 0; c < C; ++c) require(bounds.data()[c] <= bounds.data()[c + 1], "bounds must increase");
        const size_t nq = Q.shape(0);
        auto out = new_array<double>({nq, C, 16});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::query_tables(Q.data(), nq, centroids.data(), bounds.data(), static_cast<int>(C),
                                      static_cast<int>(d), dot, out.data(), n_threads);
        }
        return out;
      },
      "Q"_a.noconvert(), "centroids"_a.noconvert(), "bounds"_a.noconvert(), "dot"_a, "n_threads"_a);

  m.def(
      "bolt_lookup_tables",
      [](nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> Q, In<float, nb::ndim<2>> cent_t,
         In<int32_t, nb::ndim<1>> bounds, bool dot, int n_threads) {
        const size_t d = cent_t.shape(0), C = bounds.shape(0) - 1;
        require(cent_t.shape(1) == 16 && Q.shape(1) == d, "Q must have d columns and cent_t shape (d, 16)");
        require(bounds.shape(0) >= 3 && C % 2 == 0 && C <= 256 && bounds.data()[0] == 0 &&
                    static_cast<size_t>(bounds.data()[C]) == d, "bounds must span [0, d] with an even C <= 256");
        for (size_t c = 0; c < C; ++c) require(bounds.data()[c] <= bounds.data()[c + 1], "bounds must increase");
        const size_t nq = Q.shape(0);
        // (numpy gives an array without rows zero strides: nothing to check then)
        require(nq == 0 || (Q.stride(1) == 1 && (nq == 1 || Q.stride(0) >= static_cast<int64_t>(d))),
                "Q rows must be contiguous");
        const size_t ldq = nq <= 1 ? d : static_cast<size_t>(Q.stride(0));
        auto luts = new_array<uint8_t>({nq, C, 16}, false);
        auto scale = new_array<double>({nq}, false);
        auto offset = new_array<double>({nq}, false);
        {
          nb::gil_scoped_release release;
          const tenfold::bolt::LutModel model{cent_t.data(), bounds.data(), static_cast<int>(C), static_cast<int>(d), dot};
          tenfold::bolt::lookup_tables(model, Q.data(), nq, ldq, luts.data(), scale.data(), offset.data(), n_threads);
        }
        return std::make_tuple(luts, scale, offset);
      },
      "Q"_a.noconvert(), "cent_t"_a.noconvert(), "bounds"_a.noconvert(), "dot"_a, "n_threads"_a,
      "Quantized query tables (luts (nq, C, 16) uint8, scale (nq,), offset (nq,)); Q's rows may be strided.");

  m.def(
      "bolt_pack_blocked",
      [](In<uint8_t, nb::ndim<2>> codes, nb::ndarray<uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> blocked,
         size_t row0) {
        const size_t n = codes.shape(0), ncols = codes.shape(1);
        require(ncols >= 1, "codes must have at least one column");
        require(blocked.shape(0) >= blocked_bytes(row0 + n, ncols), "blocked buffer too small");
        nb::gil_scoped_release release;
        tenfold::bolt::pack_blocked(codes.data(), n, static_cast<int>(ncols), blocked.data(), row0);
      },
      "codes"_a.noconvert(), "blocked"_a.noconvert(), "row0"_a);

  m.def(
      "bolt_unpack_blocked",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t n, size_t ncols) {
        require(ncols >= 1 && blocked.shape(0) >= blocked_bytes(n, ncols), "blocked buffer too small");
        auto out = new_array<uint8_t>({n, ncols});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::unpack_blocked(blocked.data(), n, static_cast<int>(ncols), out.data());
        }
        return out;
      },
      "blocked"_a.noconvert(), "n"_a, "ncols"_a);

  m.def(
      "bolt_scan",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t n, size_t ncols, In<uint8_t, nb::ndim<3>> luts, int n_threads) {
        require(ncols >= 1 && blocked.shape(0) >= blocked_bytes(n, ncols), "blocked buffer too small");
        check_luts(luts, ncols);
        const size_t nq = luts.shape(0), npad = blocked_bytes(n, ncols) / ncols;
        auto out = new_array<uint16_t>({nq, npad});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::scan_u16(blocked.data(), n, static_cast<int>(ncols), luts.data(), static_cast<int>(nq),
                                  out.data(), n_threads);
        }
        return out;
      },
      "blocked"_a.noconvert(), "n"_a, "ncols"_a, "luts"_a.noconvert(), "n_threads"_a,
      "Raw uint16 sums, shape (nq, n rounded up to 32).");

  m.def(
      "bolt_search",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t n, size_t ncols, In<uint8_t, nb::ndim<3>> luts, int k,
         int n_threads, bool sorted) {
        require(ncols >= 1 && blocked.shape(0) >= blocked_bytes(n, ncols), "blocked buffer too small");
        check_luts(luts, ncols);
        require(k >= 1, "k must be >= 1");
        const size_t nq = luts.shape(0);
        auto dist = new_array<uint32_t>({nq, static_cast<size_t>(k)});
        auto ids = new_array<int64_t>({nq, static_cast<size_t>(k)});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::search(blocked.data(), n, static_cast<int>(ncols), luts.data(), static_cast<int>(nq), k,
                                dist.data(), ids.data(), n_threads, sorted);
        }
        return std::make_pair(dist, ids);
      },
      "blocked"_a.noconvert(), "n"_a, "ncols"_a, "luts"_a.noconvert(), "k"_a, "n_threads"_a, "sorted"_a = true,
      "The k best (sums, rows) per query: best first, or in no particular order if not sorted.");

  m.def(
      "bolt_search_queries",
      [](nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> Q, In<float, nb::ndim<2>> cent_t,
         In<int32_t, nb::ndim<1>> bounds, bool dot, In<uint8_t, nb::ndim<1>> blocked, size_t n, int k,
         int n_threads, bool sorted) {
        const size_t d = cent_t.shape(0), C = bounds.shape(0) - 1, nq = Q.shape(0);
        require(cent_t.shape(1) == 16 && Q.shape(1) == d, "Q must have d columns and cent_t shape (d, 16)");
        require(bounds.shape(0) >= 3 && C % 2 == 0 && C <= 256 && bounds.data()[0] == 0 &&
                    static_cast<size_t>(bounds.data()[C]) == d, "bounds must span [0, d] with an even C <= 256");
        for (size_t c = 0; c < C; ++c) require(bounds.data()[c] <= bounds.data()[c + 1], "bounds must increase");
        require(nq == 0 || (Q.stride(1) == 1 && (nq == 1 || Q.stride(0) >= static_cast<int64_t>(d))),
                "Q rows must be contiguous");   // no rows: zero strides from numpy, nothing to check
        require(blocked.shape(0) >= blocked_bytes(n, C / 2), "blocked buffer too small");
        require(k >= 1, "k must be >= 1");
        require(nq <= static_cast<size_t>(std::numeric_limits<int>::max()), "too many queries");
        const size_t ldq = nq <= 1 ? d : static_cast<size_t>(Q.stride(0));
        auto scale = new_array<double>({nq}, false);
        auto offset = new_array<double>({nq}, false);
        auto dist = new_array<uint32_t>({nq, static_cast<size_t>(k)}, false);
        auto ids = new_array<int64_t>({nq, static_cast<size_t>(k)}, false);
        {
          nb::gil_scoped_release release;
          const tenfold::bolt::LutModel model{cent_t.data(), bounds.data(), static_cast<int>(C), static_cast<int>(d), dot};
          tenfold::bolt::search_queries(model, Q.data(), ldq, static_cast<int>(nq), blocked.data(), n,
                                        static_cast<int>(C / 2), k, scale.data(), offset.data(), dist.data(),
                                        ids.data(), n_threads, sorted);
        }
        return std::make_tuple(dist, ids, scale, offset);
      },
      "Q"_a.noconvert(), "cent_t"_a.noconvert(), "bounds"_a.noconvert(), "dot"_a, "blocked"_a.noconvert(), "n"_a,
      "k"_a, "n_threads"_a, "sorted"_a = true,
      "Query tables and search in one call: (sums (nq, k), rows (nq, k), scale (nq,), offset (nq,)).");

  m.def(
      "bolt_ivf_search",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t ncols, In<int64_t, nb::ndim<1>> block_off,
         In<int64_t, nb::ndim<1>> sizes, In<int64_t, nb::ndim<1>> row_start, In<int32_t, nb::ndim<2>> probes,
         In<uint8_t, nb::ndim<3>> luts, int k, int n_threads) {
        const size_t nlist = sizes.shape(0);
        require(ncols >= 1 && nlist >= 1, "ncols and nlist must be >= 1");
        require(block_off.shape(0) == nlist + 1 && row_start.shape(0) == nlist, "list tables of the wrong length");
        const int64_t* bo = block_off.data();
        const int64_t* sz = sizes.data();
        require(bo[0] == 0, "block_off must start at 0");
        for (size_t l = 0; l < nlist; ++l)
          require(bo[l + 1] >= bo[l] && sz[l] >= 0 && sz[l] <= (bo[l + 1] - bo[l]) * tenfold::bolt::kBlockRows &&
                      row_start.data()[l] >= 0,
                  "list sizes do not fit their blocks");
        require(static_cast<size_t>(bo[nlist]) <= blocked.shape(0) / (tenfold::bolt::kBlockRows * ncols),
                "blocked buffer too small for the lists");
        check_luts(luts, ncols);
        require(probes.shape(0) == luts.shape(0), "probes must have one row per query");
        const int32_t* pr = probes.data();
        for (size_t i = 0, n = probes.shape(0) * probes.shape(1); i < n; ++i)
          require(pr[i] >= -1 && static_cast<size_t>(pr[i] + 1) <= nlist, "probes must be list numbers or -1");
        require(k >= 1, "k must be >= 1");
        const size_t nq = luts.shape(0);
        auto dist = new_array<uint32_t>({nq, static_cast<size_t>(k)}, false);
        auto rows = new_array<int64_t>({nq, static_cast<size_t>(k)}, false);
        {
          nb::gil_scoped_release release;
          tenfold::bolt::ivf_search(blocked.data(), static_cast<int>(ncols), bo, sz, row_start.data(),
                                    static_cast<int64_t>(nlist), pr, static_cast<int>(probes.shape(1)), luts.data(),
                                    static_cast<int>(nq), k, dist.data(), rows.data(), n_threads);
        }
        return std::make_pair(dist, rows);
      },
      "blocked"_a.noconvert(), "ncols"_a, "block_off"_a.noconvert(), "sizes"_a.noconvert(),
      "row_start"_a.noconvert(), "probes"_a.noconvert(), "luts"_a.noconvert(), "k"_a, "n_threads"_a,
      "Top-k rows by code over the probed inverted lists: (dist uint32 (nq, k), rows int64 (nq, k)).");

  // Exact re-ranking; vectors float32 (n, d) or float16 as uint16 bits (n, d).
  auto rerank = [](const void* vectors, bool half, size_t n_rows, size_t d, In<float, nb::ndim<2>>& Q,
                   In<int64_t, nb::ndim<2>>& cand, int k, bool dot, int n_threads) {
    require(Q.shape(1) == d, "Q must have as many columns as the vectors");
    require(cand.shape(0) == Q.shape(0), "cand must have one row per query");
    require(k >= 1 && static_cast<size_t>(k) <= std::max<size_t>(cand.shape(1), 1), "k must be in [1, R]");
    require(d >= 1 && d <= static_cast<size_t>(std::numeric_limits<int>::max()), "d out of range");
    const size_t nq = Q.shape(0), R = cand.shape(1);
    auto dist = new_array<float>({nq, static_cast<size_t>(k)}, false);
    auto rows = new_array<int64_t>({nq, static_cast<size_t>(k)}, false);
    {
      nb::gil_scoped_release release;
      tenfold::bolt::rerank(vectors, half, n_rows, static_cast<int>(d), Q.data(), nq, cand.data(),
                            static_cast<int>(R), k, dot, dist.data(), rows.data(), n_threads);
    }
    return std::make_pair(dist, rows);
  };
  m.def(
      "bolt_rerank_f32",
      [rerank](In<float, nb::ndim<2>> vectors, size_t n_rows, In<float, nb::ndim<2>> Q,
               In<int64_t, nb::ndim<2>> cand, int k, bool dot, int n_threads) {
        require(n_rows <= vectors.shape(0), "n_rows exceeds the vectors");
        return rerank(vectors.data(), false, n_rows, vectors.shape(1), Q, cand, k, dot, n_threads);
      },
      "vectors"_a.noconvert(), "n_rows"_a, "Q"_a.noconvert(), "cand"_a.noconvert(), "k"_a, "dot"_a, "n_threads"_a,
      "Exact distances (or minus inner products) of candidate rows: the k best per query, (dist, rows).");
  m.def(
      "bolt_rerank_f16",
      [rerank](In<uint16_t, nb::ndim<2>> vectors, size_t n_rows, In<float, nb::ndim<2>> Q,
               In<int64_t, nb::ndim<2>> cand, int k, bool dot, int n_threads) {
        require(n_rows <= vectors.shape(0), "n_rows exceeds the vectors");
        return rerank(vectors.data(), true, n_rows, vectors.shape(1), Q, cand, k, dot, n_threads);
      },
      "vectors"_a.noconvert(), "n_rows"_a, "Q"_a.noconvert(), "cand"_a.noconvert(), "k"_a, "dot"_a, "n_threads"_a,
      "As bolt_rerank_f32 for float16 vectors passed as their uint16 bits.");

  // ---- sprintz
  m.def(
      "sprintz_compress",
      [](In<uint8_t, nb::ndim<1>> data, int dtype, size_t n, size_t nvars, int ndim, int order, int forecaster,
         bool entropy, size_t chunk_rows) {
        require(dtype >= 0 && dtype < tenfold::sprintz::kNumDtypes, "dtype code must be in [0, 9]");
        require(order == 0 || order == 1, "order must be 0 (C) or 1 (F)");
        require(forecaster == 0 || forecaster == 1, "forecaster must be 0 (delta) or 1 (fire)");
        require(nvars >= 1 && (n == 0 || nvars <= data.shape(0)), "nvars out of range");
        const size_t isz = tenfold::sprintz::dtype_size(dtype);
        require(n <= data.shape(0) / nvars / isz && data.shape(0) == n * nvars * isz,
                "data must hold exactly n * nvars items");
        // The stream is built in a per-thread buffer kept between calls (fresh multi-MB memory
        // costs page faults), then copied once into the bytes object.
        static thread_local std::vector<uint8_t> out;
        {
          nb::gil_scoped_release release;
          tenfold::sprintz::compress(out, data.data(), dtype, n, nvars, ndim, order, forecaster, entropy,
                                     chunk_rows);
        }
        nb::bytes result = bytes_for_writing(out.size());
        {
          nb::gil_scoped_release release;  // the new object is not shared yet
          std::memcpy(PyBytes_AsString(result.ptr()), out.data(), out.size());
        }
        if (out.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(out);  // keep at most 64 MiB
        return result;
      },
      "data"_a.noconvert(), "dtype"_a, "n"_a, "nvars"_a, "ndim"_a, "order"_a, "forecaster"_a, "entropy"_a,
      "chunk_rows"_a);

  m.def(
      "sprintz_header",
      [](In<uint8_t, nb::ndim<1>> buf) {
        const auto h = tenfold::sprintz::parse_header(buf.data(), buf.shape(0));
        nb::dict d;
        d["dtype"] = h.dtype;
        d["ndim"] = h.ndim;
        d["order"] = h.order;
        d["forecaster"] = h.forecaster;
        d["entropy"] = h.flags & 1;
        d["chunk_rows"] = h.chunk_rows;
        d["n"] = h.n;
        d["nvars"] = h.nvars;
        d["checksum"] = h.checksum;
        d["version"] = h.version;
        return d;
      },
      "buf"_a.noconvert());

  // Parse, verify, allocate and decode in one call (the fixed cost matters for small streams):
  // returns a new numpy array of the stream's dtype, shape and memory order. The header is
  // checked against max_bytes and the stream's checksum (version 3: of the compressed bytes)
  // before anything is allocated.
  static auto sprintz_decode_new = [](const uint8_t* p, size_t len, uint64_t max_bytes) {
    tenfold::sprintz::Header h;
    {
      nb::gil_scoped_release release;
      h = tenfold::sprintz::parse_header(p, len);
      const uint64_t declared = h.n * h.nvars * uint64_t(tenfold::sprintz::dtype_size(h.dtype));  // parse_header bounds it by 2^62
      if (declared > max_bytes)
        throw std::invalid_argument("the stream declares " + std::to_string(declared) +
                                    " bytes of output, more than max_output_bytes=" + std::to_string(max_bytes));
      h = tenfold::sprintz::open_stream(p, len);
    }
    const size_t isz = tenfold::sprintz::dtype_size(h.dtype), n = size_t(h.n), nvars = size_t(h.nvars);
    const size_t nbytes = n * nvars * isz;
    // the array from numpy.empty (its memory then written through the buffer protocol): about
    // half the fixed cost of exporting a C++ buffer as a numpy array, which small streams feel
    static const nb::object* const np_empty = new nb::object(nb::module_::import_("numpy").attr("empty"));
    static const nb::object* const dtypes = [] {
      const char* names[tenfold::sprintz::kNumDtypes] = {"int8",   "uint8", "int16",  "uint16",  "int32",
                                                         "uint32", "int64", "uint64", "float32", "float64"};
      const nb::object np_dtype = nb::module_::import_("numpy").attr("dtype");
      nb::object* d = new nb::object[tenfold::sprintz::kNumDtypes];  // kept for the process (no teardown order)
      for (int k = 0; k < tenfold::sprintz::kNumDtypes; ++k) d[k] = np_dtype(names[k]);
      return d;
    }();
    nb::object arr;
    try {
      arr = (*np_empty)(h.ndim == 1 ? nb::make_tuple(n) : nb::make_tuple(n, nvars), dtypes[h.dtype],
                        h.order == 0 ? "C" : "F");
    } catch (nb::python_error& e) {
      if (!e.matches(PyExc_MemoryError)) throw;
      throw std::invalid_argument("the stream declares " + std::to_string(nbytes) +
                                  " bytes of output, more than can be allocated");
    }
    Py_buffer view;
    // a plain buffer request (cheapest) where the array is C-contiguous, else any-contiguous
    if (PyObject_GetBuffer(arr.ptr(), &view, PyBUF_WRITABLE | (h.order == 0 ? 0 : PyBUF_ANY_CONTIGUOUS)) != 0)
      throw nb::python_error();
    if (size_t(view.len) != nbytes) {
      PyBuffer_Release(&view);
      throw std::runtime_error("numpy.empty gave an array of unexpected size");
    }
    try {
      nb::gil_scoped_release release;
      tenfold::sprintz::decode(h, p, len, static_cast<uint8_t*>(view.buf), nbytes);
    } catch (...) {
      PyBuffer_Release(&view);
      throw;
    }
    PyBuffer_Release(&view);
    return arr;
  };
  // Decode into `out` if it has the stream's dtype and shape and is contiguous in its order
  // (writeable: the caller checks); returns false, writing nothing, otherwise. A corrupt stream
  // (version 3) is rejected before anything is written.
  using AnyArray = nb::ndarray<nb::device::cpu>;
  static auto sprintz_decode_out = [](const uint8_t* p, size_t len, AnyArray& out) {
    const auto h = tenfold::sprintz::parse_header(p, len);
    const size_t isz = tenfold::sprintz::dtype_size(h.dtype), n = size_t(h.n), nvars = size_t(h.nvars);
    const nb::dlpack::dtype dts[tenfold::sprintz::kNumDtypes] = {
        nb::dtype<int8_t>(),  nb::dtype<uint8_t>(),  nb::dtype<int16_t>(), nb::dtype<uint16_t>(), nb::dtype<int32_t>(),
        nb::dtype<uint32_t>(), nb::dtype<int64_t>(), nb::dtype<uint64_t>(), nb::dtype<float>(),   nb::dtype<double>()};
    if (out.dtype() != dts[h.dtype] || out.ndim() != size_t(h.ndim) || out.shape(0) != n ||
        (h.ndim == 2 && out.shape(1) != nvars))
      return false;
    if (n * nvars > 1) {  // contiguous in the stream's order (strides of length-1 axes do not matter)
      const int64_t s0 = out.stride(0), s1 = h.ndim == 2 ? out.stride(1) : 1;
      const bool c = (n <= 1 || s0 == int64_t(h.ndim == 2 ? nvars : 1)) && (h.ndim == 1 || nvars <= 1 || s1 == 1);
      const bool f = (n <= 1 || s0 == 1) && (h.ndim == 1 || nvars <= 1 || s1 == int64_t(n));
      if (!(h.order == 0 ? c : f)) return false;
    }
    uint8_t* data = static_cast<uint8_t*>(out.data());
    nb::gil_scoped_release release;
    tenfold::sprintz::decode(tenfold::sprintz::open_stream(p, len), p, len, data, n * nvars * isz);
    return true;
  };
  m.def(
      "sprintz_decompress_out",
      [](In<uint8_t, nb::ndim<1>> buf, AnyArray out) { return sprintz_decode_out(buf.data(), buf.shape(0), out); },
      "buf"_a.noconvert(), "out"_a.noconvert());
  m.def(
      "sprintz_decompress_out_bytes",
      [](nb::bytes buf, AnyArray out) {
        return sprintz_decode_out(reinterpret_cast<const uint8_t*>(buf.c_str()), buf.size(), out);
      },
      "buf"_a, "out"_a.noconvert());
  m.def(
      "sprintz_decompress",
      [](In<uint8_t, nb::ndim<1>> buf, uint64_t max_bytes) {
        return sprintz_decode_new(buf.data(), buf.shape(0), max_bytes);
      },
      "buf"_a.noconvert(), "max_bytes"_a);
  m.def(
      "sprintz_decompress_bytes",
      [](nb::bytes buf, uint64_t max_bytes) {
        return sprintz_decode_new(reinterpret_cast<const uint8_t*>(buf.c_str()), buf.size(), max_bytes);
      },
      "buf"_a, "max_bytes"_a);

  m.def(
      "sprintz_checksum",
      [](In<uint8_t, nb::ndim<1>> data) {
        nb::gil_scoped_release release;
        return tenfold::sprintz::checksum(data.data(), data.shape(0));
      },
      "data"_a.noconvert());
  // ---------------------------------------------------------------- maddness
  // A model's encoder tables (float thresholds, distinct split columns) are derived once and
  // cached in a maddness_Plan held by the Python object; every call checks by value that the
  // split arrays it passes still match (a few hundred bytes compared) and rebuilds otherwise.
  nb::class_<tenfold::maddness::Plan>(m, "maddness_Plan").def(nb::init<>());
  struct MaddnessSplits {
    In<int64_t, nb::ndim<2>> dims;
    In<float, nb::ndim<2>> offsets, scales;
    In<int8_t, nb::ndim<3>> thresholds;
  };
  // Validates the split tables against A (n, d) and returns the prepared encoder tables.
  static auto maddness_prepared = [](tenfold::maddness::Plan& plan, const MaddnessSplits& sp, size_t d) {
    const size_t C = sp.dims.shape(0);
    require(C >= 2 && C % 2 == 0 && C <= 256, "ncodebooks must be even and in [2, 256]");
    require(sp.dims.shape(1) == 4 && sp.offsets.shape(0) == C && sp.offsets.shape(1) == 4 && sp.scales.shape(0) == C &&
                sp.scales.shape(1) == 4 && sp.thresholds.shape(0) == C && sp.thresholds.shape(1) == 4 &&
                sp.thresholds.shape(2) == 16,
            "split tables must have shapes (C, 4) and thresholds (C, 4, 16)");
    const int64_t* dm = sp.dims.data();
    for (size_t i = 0; i < 4 * C; ++i)
      require(dm[i] >= 0 && static_cast<size_t>(dm[i]) < d, "split dimension out of range");
    return plan.get(dm, sp.offsets.data(), sp.scales.data(), sp.thresholds.data(), static_cast<int>(C));
  };
  static auto maddness_strides = [](const nb::ndarray<const float, nb::ndim<2>, nb::device::cpu>& A) {
    return std::make_pair(static_cast<ptrdiff_t>(A.stride(0)), static_cast<ptrdiff_t>(A.stride(1)));
  };
  // Output buffer: `into` (checked) or a new array (not zero-filled: every element is written).
  // Column-major (n, M) results are an (M, n) C-ordered buffer (the caller transposes).
  static auto maddness_output = [](std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>>& into,
                                   size_t n, size_t M, bool row_major, float*& data) -> nb::object {
    const size_t d0 = row_major ? n : M, d1 = row_major ? M : n;
    if (into) {
      require(into->shape(0) == d0 && into->shape(1) == d1, "out buffer has the wrong shape");
      data = into->data();
      return nb::none();
    }
    auto out = new_array<float>({d0, d1}, false);  // every element is written (or the call raises)
    data = out.data();
    return nb::cast(out);
  };
  // Encode + aggregate A into `into` or a new array: (the new array or None, false if a value
  // read was NaN/inf). Shared by maddness_matmul and a bound model's maddness_run.
  static auto maddness_product = [](const tenfold::maddness::EncodeModel& em, const tenfold::maddness::ScanModel& sm,
                                    const nb::ndarray<const float, nb::ndim<2>, nb::device::cpu>& A,
                                    std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>>& into,
                                    bool row_major, int n_threads, int phases) {
    const size_t n = A.shape(0), M = static_cast<size_t>(sm.m);
    const auto [rs, cs] = maddness_strides(A);
    float* data;
    nb::object result = maddness_output(into, n, M, row_major, data);
    bool ok = true;
    {
      nb::gil_scoped_release release;
      if (n > 0)
        ok = tenfold::maddness::matmul(em, sm, A.data(), n, rs, cs, data, row_major ? M : n, row_major, n_threads,
                                       phases);
    }
    return std::make_pair(result, ok);
  };
  static auto maddness_scan_model = [](const In<uint8_t, nb::ndim<3>>& luts, const In<float, nb::ndim<1>>& mul,
                                       const In<float, nb::ndim<1>>& add, int log2g) {
    const size_t M = luts.shape(0), C = luts.shape(1);
    require(C >= 2 && C % 2 == 0 && C <= 256 && luts.shape(2) == 16, "luts must have shape (M, C, 16), C even <= 256");
    require(mul.shape(0) == M && add.shape(0) == M, "mul and add must have M entries");
    require(log2g >= 0 && log2g <= 4 && C % (size_t(1) << log2g) == 0, "bad averaging group size");
    return tenfold::maddness::ScanModel{luts.data(), mul.data(), add.data(), static_cast<int>(C), static_cast<int>(M),
                                        log2g};
  };

  m.def(
      "maddness_matmul",
      [](tenfold::maddness::Plan& plan, nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A,
         In<int64_t, nb::ndim<2>> dims, In<float, nb::ndim<2>> offsets, In<float, nb::ndim<2>> scales,
         In<int8_t, nb::ndim<3>> thresholds, In<uint8_t, nb::ndim<3>> luts, In<float, nb::ndim<1>> mul,
         In<float, nb::ndim<1>> add, int log2g, int n_threads,
         std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>> into, bool row_major,
         int phases) {
        auto prep = maddness_prepared(plan, MaddnessSplits{dims, offsets, scales, thresholds}, A.shape(1));
        const auto s = maddness_scan_model(luts, mul, add, log2g);
        require(static_cast<size_t>(s.ncodebooks) == dims.shape(0), "luts and split tables disagree on ncodebooks");
        require(phases >= 1 && phases <= 3, "phases must be 1, 2 or 3");
        return maddness_product(prep->model(), s, A, into, row_major, n_threads, phases);
      },
      "plan"_a, "A"_a.noconvert(), "dims"_a.noconvert(), "offsets"_a.noconvert(), "scales"_a.noconvert(),
      "thresholds"_a.noconvert(), "luts"_a.noconvert(), "mul"_a.noconvert(), "add"_a.noconvert(), "log2g"_a,
      "n_threads"_a, "out"_a.noconvert() = nb::none(), "row_major"_a = false, "phases"_a = 3,
      "Encode + aggregate: (products, ok). Products float32 (M, n) (transpose for (n, M)) or (n, M) if row_major; "
      "into `out` if given (then None). ok is False if a value read was NaN/inf. phases (timing): 1 = encode only, "
      "2 = aggregate only, 3 = both.");

  // A model bound once (references to its arrays, shapes validated): per call only A and out
  // are converted, the split parameters compared with the plan's copy and the split dimensions
  // checked against A. Arrays edited in place are seen; replaced arrays need a new bind.
  struct MaddnessBound {
    tenfold::maddness::Plan plan;
    std::optional<MaddnessSplits> sp;
    std::optional<In<uint8_t, nb::ndim<3>>> luts;
    std::optional<In<float, nb::ndim<1>>> mul, add;
    int log2g = 0;
  };
  nb::class_<MaddnessBound>(m, "maddness_Bound")
      .def(nb::init<>())
      .def(
          "bind",
          [](MaddnessBound& b, In<int64_t, nb::ndim<2>> dims, In<float, nb::ndim<2>> offsets,
             In<float, nb::ndim<2>> scales, In<int8_t, nb::ndim<3>> thresholds, In<uint8_t, nb::ndim<3>> luts,
             In<float, nb::ndim<1>> mul, In<float, nb::ndim<1>> add, int log2g) {
            const auto s = maddness_scan_model(luts, mul, add, log2g);
            require(static_cast<size_t>(s.ncodebooks) == dims.shape(0), "luts and split tables disagree on ncodebooks");
            MaddnessSplits sp{dims, offsets, scales, thresholds};
            maddness_prepared(b.plan, sp, std::numeric_limits<size_t>::max());  // shapes, and the tables
            b.sp = sp;
            b.luts = luts;
            b.mul = mul;
            b.add = add;
            b.log2g = log2g;
          },
          "dims"_a.noconvert(), "offsets"_a.noconvert(), "scales"_a.noconvert(), "thresholds"_a.noconvert(),
          "luts"_a.noconvert(), "mul"_a.noconvert(), "add"_a.noconvert(), "log2g"_a);
  m.def(
      "maddness_run",
      [](MaddnessBound& b, nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A, int n_threads,
         std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>> into, bool row_major) {
        require(b.sp.has_value(), "model not bound");
        auto prep = maddness_prepared(b.plan, *b.sp, A.shape(1));
        const auto s = maddness_scan_model(*b.luts, *b.mul, *b.add, b.log2g);
        return maddness_product(prep->model(), s, A, into, row_major, n_threads, 3);
      },
      "bound"_a, "A"_a.noconvert(), "n_threads"_a, "out"_a.noconvert() = nb::none(), "row_major"_a = false,
      "maddness_matmul for a bound model: (products, ok).");
  m.def(
      "maddness_run_topk",
      [](MaddnessBound& b, nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A, size_t k, bool values,
         int n_threads) {
        require(b.sp.has_value(), "model not bound");
        auto prep = maddness_prepared(b.plan, *b.sp, A.shape(1));
        const auto s = maddness_scan_model(*b.luts, *b.mul, *b.add, b.log2g);
        require(k >= 1 && k <= static_cast<size_t>(s.m) && k <= tenfold::maddness::kMaxTopK,
                "k must be in [1, min(n_outputs, 64)]");
        const size_t n = A.shape(0);
        const auto [rs, cs] = maddness_strides(A);
        auto idx = new_array<int64_t>({n, k}, false);  // every entry is written (or the call raises)
        std::optional<Out<float>> val;
        if (values) val = new_array<float>({n, k}, false);
        bool ok = true;
        {
          nb::gil_scoped_release release;
          if (n > 0)
            ok = tenfold::maddness::matmul_topk(prep->model(), s, A.data(), n, rs, cs, k, idx.data(),
                                                val ? val->data() : nullptr, n_threads);
        }
        return nb::make_tuple(nb::cast(idx), val ? nb::cast(*val) : nb::none(), ok);
      },
      "bound"_a, "A"_a.noconvert(), "k"_a, "values"_a, "n_threads"_a,
      "The k largest products of each row of a bound model, fused (no (n, M) result): (int64 (n, k) columns, "
      "float32 (n, k) values or None, ok); by decreasing value, ties to the lower column.");

  m.def(
      "maddness_encode",
      [](tenfold::maddness::Plan& plan, nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A,
         In<int64_t, nb::ndim<2>> dims, In<float, nb::ndim<2>> offsets, In<float, nb::ndim<2>> scales,
         In<int8_t, nb::ndim<3>> thresholds, int n_threads) {
        const size_t n = A.shape(0), d = A.shape(1), C = dims.shape(0);
        auto prep = maddness_prepared(plan, MaddnessSplits{dims, offsets, scales, thresholds}, d);
        const auto [rs, cs] = maddness_strides(A);
        const size_t nblocks = (n + tenfold::maddness::kBlockRows - 1) / tenfold::maddness::kBlockRows;
        auto out = new_array<uint8_t>({nblocks * tenfold::maddness::kBlockRows * (C / 2)});
        bool ok;
        {
          nb::gil_scoped_release release;
          ok = n == 0 || tenfold::maddness::encode(prep->model(), A.data(), n, rs, cs, out.data(), n_threads);
        }
        return std::make_pair(out, ok);
      },
      "plan"_a, "A"_a.noconvert(), "dims"_a.noconvert(), "offsets"_a.noconvert(), "scales"_a.noconvert(),
      "thresholds"_a.noconvert(), "n_threads"_a,
      "Blocked 4-bit codes (nblocks*32*C/2,) in Bolt's layout and False if a value read was NaN/inf.");

  m.def(
      "maddness_scan",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t n, In<uint8_t, nb::ndim<3>> luts, In<float, nb::ndim<1>> mul,
         In<float, nb::ndim<1>> add, int log2g, int n_threads,
         std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>> into,
         bool row_major) -> nb::object {
        const auto s = maddness_scan_model(luts, mul, add, log2g);
        require(blocked.shape(0) >= blocked_bytes(n, s.ncodebooks / 2), "blocked buffer too small");
        const size_t M = luts.shape(0);
        float* data;
        nb::object result = maddness_output(into, n, M, row_major, data);
        {
          nb::gil_scoped_release release;
          if (n > 0 && M > 0)
            tenfold::maddness::scan(s, blocked.data(), n, data, row_major ? M : n, row_major, n_threads);
        }
        return result;
      },
      "blocked"_a.noconvert(), "n"_a, "luts"_a.noconvert(), "mul"_a.noconvert(), "add"_a.noconvert(),
      "log2g"_a, "n_threads"_a, "out"_a.noconvert() = nb::none(), "row_major"_a = false,
      "Dequantized products of codes in Bolt's blocked layout, float32 (M, n) (transpose for (n, M)) or (n, M) if "
      "row_major; into `out` if given (returns None).");
  m.def(
      "maddness_project",
      [](nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A, In<int64_t, nb::ndim<2>> cols,
         In<int32_t, nb::ndim<1>> npos, int n_threads) {
        const size_t n = A.shape(0), d = A.shape(1), F = cols.shape(0), w = cols.shape(1);
        require(F >= 1 && w >= 1 && npos.shape(0) == F, "cols must be (nfeat, width) and npos (nfeat,), both >= 1");
        require(F <= (size_t(1) << 20) && w <= (size_t(1) << 20), "too many features or terms");
        require(d < (size_t(1) << 27), "A has too many columns (the staged groups use 32-bit offsets)");
        const int64_t* c = cols.data();
        for (size_t k = 0; k < F * w; ++k) require(c[k] >= 0 && static_cast<size_t>(c[k]) < d, "column out of range");
        for (size_t f = 0; f < F; ++f)
          require(npos.data()[f] >= 0 && static_cast<size_t>(npos.data()[f]) <= w, "npos out of range");
        const auto [rs, cs] = maddness_strides(A);
        auto out = new_array<float>({F, n}, false);  // every element is written
        {
          nb::gil_scoped_release release;
          if (n > 0)
            tenfold::maddness::project(c, npos.data(), static_cast<int>(F), static_cast<int>(w), A.data(), n, d, rs, cs,
                                       out.data(), n_threads);
        }
        return out;
      },
      "A"_a.noconvert(), "cols"_a.noconvert(), "npos"_a.noconvert(), "n_threads"_a,
      "Signed-sum split features float32 (nfeat, n) (transpose for (n, nfeat)): feature f of row i adds "
      "A[i, cols[f, :npos[f]]] and subtracts A[i, cols[f, npos[f]:]] (order: see maddness.hpp).");
  // ---- maddness learning (learn.hpp): the row sums of fitting, over rows grouped by tree node
  static auto check_perm = [](const In<int32_t, nb::ndim<1>>& perm, size_t n) {
    require(perm.shape(0) == n, "perm must have one entry per row");
    for (size_t r = 0; r < n; ++r)
      require(perm.data()[r] >= 0 && static_cast<size_t>(perm.data()[r]) < n, "perm entry out of range");
  };
  static auto check_ranges = [](const int64_t* r, size_t count, size_t n, bool chained) {
    for (size_t g = 0; g < count; ++g) {
      const int64_t b = chained ? r[g] : r[2 * g], e = chained ? r[g + 1] : r[2 * g + 1];
      require(b >= 0 && b <= e && static_cast<size_t>(e) <= n, "row range out of order or out of bounds");
    }
  };
  m.def(
      "maddness_split_scan",
      [](In<int8_t, nb::ndim<2>> QT, In<int64_t, nb::ndim<1>> cands, In<int32_t, nb::ndim<1>> perm,
         In<int64_t, nb::ndim<1>> starts, In<double, nb::ndim<3>> R, In<double, nb::ndim<1>> R2, int n_threads,
         bool want_left) {
        const size_t d = QT.shape(0), n = QT.shape(1), k = cands.shape(0), np_ = R.shape(0);
        require(k >= 1 && starts.shape(0) >= 2 && starts.shape(0) <= 129, "need >= 1 candidate and 1-128 nodes");
        require(R.shape(1) == n && R.shape(2) == tenfold::maddness::learn::kPanel && R2.shape(0) == n && np_ >= 1,
                "R (npanels, n, 8) and R2 (n,) must match QT (d, n)");
        const int nnodes = static_cast<int>(starts.shape(0) - 1);
        check_perm(perm, n);
        check_ranges(starts.data(), static_cast<size_t>(nnodes), n, true);
        std::vector<const int8_t*> qcols(k);
        for (size_t c = 0; c < k; ++c) {
          require(cands.data()[c] >= 0 && static_cast<size_t>(cands.data()[c]) < d, "candidate out of range");
          qcols[c] = QT.data() + static_cast<size_t>(cands.data()[c]) * n;
        }
        auto loss = new_array<double>({k});
        auto thr = new_array<int8_t>({k, static_cast<size_t>(nnodes)});
        auto left = new_array<double>(
            {want_left ? k : 0, static_cast<size_t>(nnodes), np_ * tenfold::maddness::learn::kPanel}, false);
        {
          nb::gil_scoped_release release;
          tenfold::maddness::learn::split_scan(qcols.data(), static_cast<int>(k), perm.data(), starts.data(), nnodes,
                                               R.data(), n, np_, R2.data(), n_threads, loss.data(), thr.data(),
                                               want_left ? left.data() : nullptr);
        }
        if (want_left) return nb::make_tuple(loss, thr, left);
        return nb::make_tuple(loss, thr);
      },
      "QT"_a.noconvert(), "cands"_a.noconvert(), "perm"_a.noconvert(), "starts"_a.noconvert(), "R"_a.noconvert(),
      "R2"_a.noconvert(), "n_threads"_a, "want_left"_a = false,
      "Exact SSE threshold scan of one tree level for the candidate rows of QT, residual R in panels (npanels, n, 8) "
      "(see learn.hpp): (loss (k,), thresholds (k, nnodes), sums of R over each node's rows that go left at its "
      "threshold (k, nnodes, npanels * 8) if want_left).");
  m.def(
      "maddness_partition",
      [](In<int8_t, nb::ndim<1>> q, In<int8_t, nb::ndim<1>> thr, nb::ndarray<int32_t, nb::ndim<1>, nb::c_contig,
         nb::device::cpu> perm, In<int64_t, nb::ndim<1>> starts, nb::ndarray<uint8_t, nb::ndim<1>, nb::c_contig,
         nb::device::cpu> node) {
        const size_t n = q.shape(0), nnodes = thr.shape(0);
        require(nnodes >= 1 && nnodes <= 128 && starts.shape(0) == nnodes + 1, "starts must have nnodes + 1 entries");
        require(perm.shape(0) == n && node.shape(0) == n, "perm and node must have one entry per row");
        for (size_t r = 0; r < n; ++r)
          require(perm.data()[r] >= 0 && static_cast<size_t>(perm.data()[r]) < n, "perm entry out of range");
        check_ranges(starts.data(), nnodes, n, true);
        require(starts.data()[0] == 0 && static_cast<size_t>(starts.data()[nnodes]) == n, "starts must cover all rows");
        auto new_starts = new_array<int64_t>({2 * nnodes + 1});
        tenfold::maddness::learn::partition(q.data(), thr.data(), perm.data(), starts.data(), static_cast<int>(nnodes),
                                            new_starts.data(), node.data());
        return new_starts;
      },
      "q"_a.noconvert(), "thr"_a.noconvert(), "perm"_a.noconvert(), "starts"_a.noconvert(), "node"_a.noconvert(),
      "Stable partition of each node's rows (perm, in place) by q > thr[node]; node[i] = new node; returns new starts.");
  auto def_sums = [&](auto tag) {
    using T = decltype(tag);
    m.def(
        "maddness_group_sums",
        [](In<T, nb::ndim<2>> X, In<int32_t, nb::ndim<1>> perm, In<int64_t, nb::ndim<2>> ranges, bool want_sq,
           int n_threads) {
          const size_t n = X.shape(0), p = X.shape(1), g = ranges.shape(0);
          require(ranges.shape(1) == 2, "ranges must be (ngroups, 2)");
          check_perm(perm, n);
          check_ranges(ranges.data(), g, n, false);
          auto out = new_array<double>({g, p});
          auto sq = new_array<double>({want_sq ? g : 0, p});
          {
            nb::gil_scoped_release release;
            if constexpr (std::is_same_v<T, float>)
              tenfold::maddness::learn::group_sums_f32(X.data(), p, p, perm.data(), ranges.data(), static_cast<int>(g),
                                                       n_threads, out.data(), want_sq ? sq.data() : nullptr);
            else
              tenfold::maddness::learn::group_sums_f64(X.data(), p, p, perm.data(), ranges.data(), static_cast<int>(g),
                                                       n_threads, out.data(), want_sq ? sq.data() : nullptr);
          }
          return nb::make_tuple(out, sq);
        },
        "X"_a.noconvert(), "perm"_a.noconvert(), "ranges"_a.noconvert(), "want_sq"_a, "n_threads"_a,
        "Sums (and sums of squares if want_sq, else an empty array) of X's rows perm[b:e] per range (b, e): "
        "float64 (ngroups, p) each.");
    m.def(
        "maddness_onehot_sums",
        [](In<uint8_t, nb::ndim<2>> codes, In<T, nb::ndim<2>> X, int n_threads) {
          const size_t n = codes.shape(0), C = codes.shape(1), p = X.shape(1);
          require(X.shape(0) == n && C >= 1, "codes (n, C) and X (n, p) must have the same rows");
          for (size_t i = 0; i < n * C; ++i) require(codes.data()[i] < 16, "codes must be in [0, 16)");
          auto out = new_array<double>({16 * C, p});
          {
            nb::gil_scoped_release release;
            if constexpr (std::is_same_v<T, float>)
              tenfold::maddness::learn::onehot_sums_f32(codes.data(), n, C, X.data(), p, p, nullptr, 1, n_threads,
                                                        out.data());
            else
              tenfold::maddness::learn::onehot_sums_f64(codes.data(), n, C, X.data(), p, p, nullptr, 1, n_threads,
                                                        out.data());
          }
          return out;
        },
        "codes"_a.noconvert(), "X"_a.noconvert(), "n_threads"_a,
        "G^T X for the one-hot matrix G (n, 16C) of 4-bit codes (n, C): float64 (16C, p).");
    m.def(
        "maddness_onehot_sums_grouped",
        [](In<uint8_t, nb::ndim<2>> codes, In<T, nb::ndim<2>> X, In<uint8_t, nb::ndim<1>> group, size_t ngroups,
           int n_threads) {
          const size_t n = codes.shape(0), C = codes.shape(1), p = X.shape(1);
          require(X.shape(0) == n && group.shape(0) == n && C >= 1, "codes (n, C), X (n, p) and group (n,) must have the same rows");
          require(ngroups >= 1 && ngroups <= 256, "ngroups must be in [1, 256]");
          for (size_t i = 0; i < n * C; ++i) require(codes.data()[i] < 16, "codes must be in [0, 16)");
          for (size_t i = 0; i < n; ++i) require(group.data()[i] < ngroups, "group entries must be < ngroups");
          auto out = new_array<double>({ngroups, 16 * C, p});
          {
            nb::gil_scoped_release release;
            if constexpr (std::is_same_v<T, float>)
              tenfold::maddness::learn::onehot_sums_f32(codes.data(), n, C, X.data(), p, p, group.data(), ngroups,
                                                        n_threads, out.data());
            else
              tenfold::maddness::learn::onehot_sums_f64(codes.data(), n, C, X.data(), p, p, group.data(), ngroups,
                                                        n_threads, out.data());
          }
          return out;
        },
        "codes"_a.noconvert(), "X"_a.noconvert(), "group"_a.noconvert(), "ngroups"_a, "n_threads"_a,
        "G_g^T X for every group g of rows (group[i] < ngroups): float64 (ngroups, 16C, p), one pass over X.");
  };
  m.def(
      "maddness_panel_sums",
      [](In<double, nb::ndim<3>> XP, In<int32_t, nb::ndim<1>> perm, In<int64_t, nb::ndim<2>> ranges, bool want_sq,
         int n_threads) {
        const size_t P = XP.shape(0), n = XP.shape(1), w = XP.shape(2), g = ranges.shape(0);
        require(ranges.shape(1) == 2 && w >= 1, "ranges must be (ngroups, 2)");
        check_perm(perm, n);
        check_ranges(ranges.data(), g, n, false);
        auto out = new_array<double>({g, P * w});
        auto sq = new_array<double>({want_sq ? g : 0, P * w});
        {
          nb::gil_scoped_release release;
          std::vector<double> s(g * w), s2(want_sq ? g * w : 0);
          for (size_t p = 0; p < P; ++p) {
            tenfold::maddness::learn::group_sums_f64(XP.data() + p * n * w, w, w, perm.data(), ranges.data(),
                                                     static_cast<int>(g), n_threads, s.data(),
                                                     want_sq ? s2.data() : nullptr);
            for (size_t k = 0; k < g; ++k)
              for (size_t j = 0; j < w; ++j) {
                out.data()[k * P * w + p * w + j] = s[k * w + j];
                if (want_sq) sq.data()[k * P * w + p * w + j] = s2[k * w + j];
              }
          }
        }
        return nb::make_tuple(out, sq);
      },
      "XP"_a.noconvert(), "perm"_a.noconvert(), "ranges"_a.noconvert(), "want_sq"_a, "n_threads"_a,
      "maddness_group_sums for a matrix stored in panels XP (npanels, n, w): float64 (ngroups, npanels * w) each.");
  m.def(
      "maddness_shrink_panels",
      [](nb::ndarray<double, nb::ndim<3>, nb::c_contig, nb::device::cpu> RP, In<uint8_t, nb::ndim<1>> leaf,
         In<double, nb::ndim<2>> means, double shrink) {
        const size_t P = RP.shape(0), n = RP.shape(1);
        require(RP.shape(2) == tenfold::maddness::learn::kPanel, "RP must be (npanels, n, 8)");
        require(leaf.shape(0) == n && means.shape(0) == 16 && means.shape(1) == P * RP.shape(2),
                "leaf (n,) and means (16, npanels * 8) must match RP");
        for (size_t i = 0; i < n; ++i) require(leaf.data()[i] < 16, "leaf must be in [0, 16)");
        auto R2 = new_array<double>({n}, false);
        auto colsum = new_array<double>({P * RP.shape(2)}, false);
        {
          nb::gil_scoped_release release;
          tenfold::maddness::learn::shrink_panels(RP.data(), n, P, leaf.data(), means.data(), shrink, R2.data(),
                                                  colsum.data());
        }
        return nb::make_tuple(R2, colsum);
      },
      "RP"_a.noconvert(), "leaf"_a.noconvert(), "means"_a.noconvert(), "shrink"_a,
      "RP -= shrink * means[leaf] on a residual in panels (in place); returns the new squared row norms and column "
      "sums (npanels * 8,), the latter summed as maddness_panel_sums sums all rows.");
  def_sums(float{});
  def_sums(double{});
  m.def(
      "maddness_column_order_stats",
      [](In<float, nb::ndim<2>> X, In<int64_t, nb::ndim<1>> ranks, int n_threads) {
        const size_t n = X.shape(0), d = X.shape(1), r = ranks.shape(0);
        require(n >= 1 && d >= 1 && r >= 1, "X must be non-empty and ranks given");
        for (size_t k = 0; k < r; ++k)
          require(ranks.data()[k] >= 0 && static_cast<size_t>(ranks.data()[k]) < n &&
                      (k == 0 || ranks.data()[k] >= ranks.data()[k - 1]),
                  "ranks must be ascending and in [0, n)");
        bool finite = true;
        for (size_t i = 0; i < n * d; ++i) {
          float v;  // through memcpy: numpy views may be misaligned
          std::memcpy(&v, X.data() + i, sizeof v);
          finite &= std::isfinite(v);
        }
        require(finite, "X must be finite");
        auto out = new_array<float>({r, d});
        {
          nb::gil_scoped_release release;
          tenfold::maddness::learn::column_order_stats(X.data(), n, d, d, ranks.data(), static_cast<int>(r),
                                                       n_threads, out.data());
        }
        return out;
      },
      "X"_a.noconvert(), "ranks"_a.noconvert(), "n_threads"_a,
      "The ranks[r]-th smallest value of every column of X (n, d) float32, finite: float32 (len(ranks), d).");
  m.def(
      "maddness_quantize_transposed",
      [](In<float, nb::ndim<2>> X, In<float, nb::ndim<1>> offset, In<float, nb::ndim<1>> scale, int n_threads) {
        const size_t n = X.shape(0), d = X.shape(1);
        require(offset.shape(0) == d && scale.shape(0) == d, "offset and scale must have one entry per column of X");
        auto QT = new_array<int8_t>({d, n}, false);
        {
          nb::gil_scoped_release release;
          tenfold::maddness::learn::quantize_transposed(X.data(), n, d, d, offset.data(), scale.data(), n_threads,
                                                        QT.data());
        }
        return QT;
      },
      "X"_a.noconvert(), "offset"_a.noconvert(), "scale"_a.noconvert(), "n_threads"_a,
      "The split bytes of X (n, d) float32, transposed (d, n) int8: rint(clip((x - offset) * scale, -128, 127)) in "
      "float32.");
  m.def(
      "maddness_onehot_gram",
      [](In<uint8_t, nb::ndim<2>> codes) {
        const size_t n = codes.shape(0), C = codes.shape(1);
        require(C >= 1 && C <= 256, "codes must be (n, C) with 1 <= C <= 256");
        for (size_t i = 0; i < n * C; ++i) require(codes.data()[i] < 16, "codes must be in [0, 16)");
        auto out = new_array<int64_t>({16 * C, 16 * C});
        {
          nb::gil_scoped_release release;
          tenfold::maddness::learn::onehot_gram(codes.data(), n, C, out.data());
        }
        return out;
      },
      "codes"_a.noconvert(), "G^T G (counts, int64 (16C, 16C)) for the one-hot matrix G of 4-bit codes (n, C).");
  // ---- extract
  m.def(
      "extract_prefix_scores",
      [](In<float, nb::ndim<2>> XT, In<float, nb::ndim<2>> BT, In<int64_t, nb::ndim<1>> cands, size_t W,
         In<float, nb::ndim<1>> log0, double p0blur) {
        const size_t n = XT.shape(0), F = XT.shape(1), C = cands.shape(0);
        require(BT.shape(0) == n && BT.shape(1) == F, "XT and BT must have the same shape");
        require(log0.shape(0) == F, "log0 must have one entry per feature");
        require(W >= 1 && W <= n, "window length must be in [1, n]");
        const int64_t* c = cands.data();
        for (size_t i = 0; i < C; ++i)
          require(c[i] >= 0 && static_cast<size_t>(c[i]) + W <= n, "candidate window out of range");
        auto out = new_array<double>({C + 1});
        {
          nb::gil_scoped_release release;
          tenfold::extract::prefix_scores(XT.data(), BT.data(), n, F, c, C, W, log0.data(), p0blur,
                                          out.data());
        }
        return out;
      },
      "XT"_a.noconvert(), "BT"_a.noconvert(), "cands"_a.noconvert(), "W"_a, "log0"_a.noconvert(),
      "p0blur"_a);
  m.def(
      "extract_nonoverlapping_maxima",
      [](In<double, nb::ndim<1>> v, size_t sep, double floor, size_t limit) {
        const size_t n = v.shape(0);
        require(sep >= 1, "sep must be >= 1");
        std::vector<int64_t> tmp(n > 0 ? n : 1);
        size_t k;
        {
          nb::gil_scoped_release release;
          k = tenfold::extract::nonoverlapping_maxima(v.data(), n, sep, floor, limit, tmp.data());
        }
        auto out = new_array<int64_t>({k});
        std::memcpy(out.data(), tmp.data(), k * sizeof(int64_t));
        return out;
      },
      "v"_a.noconvert(), "sep"_a, "floor"_a, "limit"_a);
  m.def(
      "extract_dtw_segments",
      [](In<double, nb::ndim<2>> ZA, In<int64_t, nb::ndim<1>> startsA, In<int64_t, nb::ndim<1>> endsA,
         In<double, nb::ndim<2>> ZB, In<int64_t, nb::ndim<1>> startsB, In<int64_t, nb::ndim<1>> endsB,
         double band, bool symmetric) {
        const size_t d = ZA.shape(1), SA = startsA.shape(0), SB = startsB.shape(0);
        require(ZB.shape(1) == d, "ZA and ZB must have the same number of columns");
        require(endsA.shape(0) == SA && endsB.shape(0) == SB, "starts and ends must have the same length");
        require(!symmetric || SA == SB, "symmetric needs the same segments on both sides");
        require(band >= 0.0, "band must be >= 0");
        for (size_t s = 0; s < SA; ++s)
          require(startsA.data()[s] >= 0 && endsA.data()[s] > startsA.data()[s] &&
                      static_cast<size_t>(endsA.data()[s]) <= ZA.shape(0), "segment of A out of range");
        for (size_t s = 0; s < SB; ++s)
          require(startsB.data()[s] >= 0 && endsB.data()[s] > startsB.data()[s] &&
                      static_cast<size_t>(endsB.data()[s]) <= ZB.shape(0), "segment of B out of range");
        auto out = new_array<double>({SA, SB});
        {
          nb::gil_scoped_release release;
          tenfold::extract::dtw_segments(ZA.data(), startsA.data(), endsA.data(), SA, ZB.data(),
                                         startsB.data(), endsB.data(), SB, d, band, symmetric, out.data());
        }
        return out;
      },
      "ZA"_a.noconvert(), "startsA"_a.noconvert(), "endsA"_a.noconvert(), "ZB"_a.noconvert(),
      "startsB"_a.noconvert(), "endsB"_a.noconvert(), "band"_a, "symmetric"_a);
}
