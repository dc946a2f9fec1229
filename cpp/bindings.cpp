// The only file that knows Python. Arguments are validated in src/tenfold/*.py; the checks
// here are a second line of defence so that no call can read or write out of bounds.
// Every kernel runs with the GIL released.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "bolt/bolt.hpp"
#include "maddness/maddness.hpp"
#include "common/checks.hpp"
#include "common/isa.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

template <class T, class... Dims>
using In = nb::ndarray<const T, nb::c_contig, nb::device::cpu, Dims...>;
template <class T>
using Out = nb::ndarray<nb::numpy, T>;

template <class T>
Out<T> new_array(std::initializer_list<size_t> shape) {
  size_t total = 1;
  for (size_t s : shape) total *= s;
  T* data = new T[total > 0 ? total : 1]();
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return Out<T>(data, shape, owner);
}

void require(bool ok, const std::string& what) {
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
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "tenfold's C++ kernels (internal; use the tenfold package)";

  m.def("detect_isa", [] { return std::string(tenfold::isa_name(tenfold::detect_isa())); });
  m.def("active_isa", [] { return std::string(tenfold::isa_name(tenfold::active_isa())); });
  m.def("set_isa", [](const std::string& name) { tenfold::set_active_isa(tenfold::isa_from_name(name)); });

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
        {
          nb::gil_scoped_release release;
          tenfold::bolt::encode(model, X.data(), n, static_cast<size_t>(model.d), out.data(), n_threads);
        }
        return out;
      },
      "X"_a.noconvert(), "centroids_t"_a.noconvert(), "norms"_a.noconvert(), "bounds"_a.noconvert(),
      "n_threads"_a);

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
         int n_threads) {
        require(ncols >= 1 && blocked.shape(0) >= blocked_bytes(n, ncols), "blocked buffer too small");
        check_luts(luts, ncols);
        require(k >= 1, "k must be >= 1");
        const size_t nq = luts.shape(0);
        auto dist = new_array<uint32_t>({nq, static_cast<size_t>(k)});
        auto ids = new_array<int64_t>({nq, static_cast<size_t>(k)});
        {
          nb::gil_scoped_release release;
          tenfold::bolt::search(blocked.data(), n, static_cast<int>(ncols), luts.data(), static_cast<int>(nq), k,
                                dist.data(), ids.data(), n_threads);
        }
        return std::make_pair(dist, ids);
      },
      "blocked"_a.noconvert(), "n"_a, "ncols"_a, "luts"_a.noconvert(), "k"_a, "n_threads"_a);

  // ---------------------------------------------------------------- maddness
  m.def(
      "maddness_encode",
      [](nb::ndarray<const float, nb::ndim<2>, nb::device::cpu> A, In<int64_t, nb::ndim<2>> dims,
         In<float, nb::ndim<2>> offsets, In<float, nb::ndim<2>> scales, In<int8_t, nb::ndim<3>> thresholds,
         In<int32_t, nb::ndim<1>> slot, In<int64_t, nb::ndim<1>> slot_dims, In<float, nb::ndim<1>> slot_offsets,
         In<float, nb::ndim<1>> slot_scales, int n_threads) {
        const size_t n = A.shape(0), d = A.shape(1), C = dims.shape(0);
        require(C >= 2 && C % 2 == 0 && C <= 256, "ncodebooks must be even and in [2, 256]");
        require(dims.shape(1) == 4 && offsets.shape(0) == C && offsets.shape(1) == 4 && scales.shape(0) == C &&
                    scales.shape(1) == 4 && thresholds.shape(0) == C && thresholds.shape(1) == 4 &&
                    thresholds.shape(2) == 16,
                "split tables must have shapes (C, 4) and thresholds (C, 4, 16)");
        for (size_t i = 0; i < 4 * C; ++i)
          require(dims.data()[i] >= 0 && static_cast<size_t>(dims.data()[i]) < d, "split dimension out of range");
        const ptrdiff_t rs = static_cast<ptrdiff_t>(A.stride(0)), cs = static_cast<ptrdiff_t>(A.stride(1));
        const ptrdiff_t lim = ptrdiff_t(1) << 25;
        require(rs > -lim && rs < lim, "row stride of A too large; pass a contiguous array");
        const size_t nblocks = (n + tenfold::maddness::kBlockRows - 1) / tenfold::maddness::kBlockRows;
        auto out = new_array<uint8_t>({nblocks * tenfold::maddness::kBlockRows * (C / 2)});
        const size_t nslots = slot_dims.shape(0);
        require(slot.shape(0) == 4 * C && nslots >= 1 && nslots <= 4 * C && slot_offsets.shape(0) == nslots &&
                    slot_scales.shape(0) == nslots,
                "slot tables must have 4 * ncodebooks and nslots <= 4 * ncodebooks entries");
        for (size_t i = 0; i < 4 * C; ++i) {
          const int32_t t = slot.data()[i];
          require(t >= 0 && static_cast<size_t>(t) < nslots, "slot index out of range");
          require(slot_dims.data()[t] == dims.data()[i] && slot_offsets.data()[t] == offsets.data()[i] &&
                      slot_scales.data()[t] == scales.data()[i],
                  "slot tables disagree with the split tables");
        }
        tenfold::maddness::EncodeModel model{dims.data(),  offsets.data(),      scales.data(),
                                             thresholds.data(), static_cast<int>(C), slot.data(),
                                             slot_dims.data(), slot_offsets.data(), slot_scales.data(),
                                             static_cast<int>(nslots)};
        bool ok;
        {
          nb::gil_scoped_release release;
          ok = n == 0 || tenfold::maddness::encode(model, A.data(), n, rs, cs, out.data(), n_threads);
        }
        return std::make_pair(out, ok);
      },
      "A"_a.noconvert(), "dims"_a.noconvert(), "offsets"_a.noconvert(), "scales"_a.noconvert(),
      "thresholds"_a.noconvert(), "slot"_a.noconvert(), "slot_dims"_a.noconvert(), "slot_offsets"_a.noconvert(),
      "slot_scales"_a.noconvert(), "n_threads"_a,
      "Blocked 4-bit codes (nblocks*32*C/2,) and False if a value read was NaN/inf.");

  m.def(
      "maddness_scan",
      [](In<uint8_t, nb::ndim<1>> blocked, size_t n, In<uint8_t, nb::ndim<3>> luts, In<float, nb::ndim<1>> mul,
         In<float, nb::ndim<1>> add, int log2g, int n_threads,
         std::optional<nb::ndarray<float, nb::ndim<2>, nb::c_contig, nb::device::cpu>> into,
         bool row_major) -> nb::object {
        const size_t M = luts.shape(0), C = luts.shape(1);
        require(C >= 2 && C % 2 == 0 && C <= 256 && luts.shape(2) == 16, "luts must have shape (M, C, 16), C even <= 256");
        require(blocked.shape(0) >= blocked_bytes(n, C / 2), "blocked buffer too small");
        require(mul.shape(0) == M && add.shape(0) == M, "mul and add must have M entries");
        require(log2g >= 0 && log2g <= 4 && C % (size_t(1) << log2g) == 0, "bad averaging group size");
        // Column-major (n, M): written as an (M, n) C-ordered buffer (the caller transposes);
        // row_major: an (n, M) C-ordered buffer. Either `into` or a new array (not zero-filled:
        // the kernel writes every element).
        float* data;
        nb::object result;
        const size_t d0 = row_major ? n : M, d1 = row_major ? M : n;
        if (into) {
          require(into->shape(0) == d0 && into->shape(1) == d1, "out buffer has the wrong shape");
          data = into->data();
          result = nb::none();
        } else {
          data = new float[M * n > 0 ? M * n : 1];
          nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<float*>(p); });
          result = nb::cast(Out<float>(data, {d0, d1}, owner));
        }
        {
          nb::gil_scoped_release release;
          tenfold::maddness::ScanModel s{luts.data(), mul.data(), add.data(), static_cast<int>(C),
                                         static_cast<int>(M), log2g, row_major ? M : 1};
          if (n > 0 && M > 0) tenfold::maddness::scan(s, blocked.data(), n, data, row_major ? 1 : n, n_threads);
        }
        return result;
      },
      "blocked"_a.noconvert(), "n"_a, "luts"_a.noconvert(), "mul"_a.noconvert(), "add"_a.noconvert(),
      "log2g"_a, "n_threads"_a, "out"_a.noconvert() = nb::none(), "row_major"_a = false,
      "Dequantized products, float32 (M, n) (transpose for (n, M)) or (n, M) if row_major; into `out` if given "
      "(returns None).");
}
