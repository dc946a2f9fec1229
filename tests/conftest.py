import os
from pathlib import Path

import numpy as np
import pytest

import tenfold

# Keep hypothesis quick in `make test`; `make fuzz` raises the example count.
try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=40, deadline=None)
    settings.register_profile("fuzz", max_examples=int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "2000")), deadline=None)
    settings.load_profile("fuzz" if os.environ.get("TENFOLD_FUZZ_EXAMPLES") else "ci")
except ImportError:  # pragma: no cover
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: long randomized runs (make fuzz)")


@pytest.fixture(params=tenfold.supported_isas())
def isa(request):
    """Runs a test once per SIMD path this CPU supports."""
    with tenfold.use_isa(request.param):
        yield request.param


def structured_data(n, d, rng, rank=12, clusters=40, noise=0.2):
    """Low-rank mixture plus noise: what real embeddings look like to a quantizer."""
    basis = rng.normal(size=(rank, d))
    centers = rng.normal(size=(clusters, rank)) * 2.0
    latent = centers[rng.integers(clusters, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + noise * rng.normal(size=(n, d))).astype(np.float32)


def sanitizer_compiler(tmp_path):
    """(compiler, flags) for an ASan + UBSan build of a native test, or skip the test when this
    machine cannot build one."""
    import shutil
    import subprocess

    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    cpp = Path(__file__).resolve().parent.parent / "cpp"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-std=c++17", f"-I{cpp}"]
    probe = tmp_path / "probe.cpp"
    probe.write_text("int main() { return 0; }\n")
    if subprocess.run([cxx, *flags, str(probe), "-o", str(tmp_path / "probe")], capture_output=True).returncode:
        pytest.skip("the C++ compiler has no ASan/UBSan runtime")
    return cxx, flags


# The SIMD translation units of a native test build and their flags, by host architecture (as
# CMakeLists.txt compiles them): AVX2 units with their -m flags on x86-64, NEON units (no flags:
# Advanced SIMD is AArch64's baseline) on AArch64, none elsewhere (the scalar kernels alone).
AVX2_FLAGS = ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mpopcnt", "-mf16c"]


def host_simd_units(kernel_dir, stems):
    """[(source path, flags)] of the host's SIMD unit for each kernel stem (e.g. "codec" ->
    codec_avx2.cpp or codec_neon.cpp) that exists in kernel_dir."""
    import platform

    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        isa, flags = "avx2", AVX2_FLAGS
    elif machine in ("aarch64", "arm64"):
        isa, flags = "neon", []
    else:
        return []
    return [(kernel_dir / f"{stem}_{isa}.cpp", flags) for stem in stems if (kernel_dir / f"{stem}_{isa}.cpp").exists()]


def maddness_task(seed):
    """(A_train (1500, 48), A_test (1000, 48), B (48, 7)): structured rows and a random B."""
    rng = np.random.default_rng(seed)
    A = structured_data(2500, 48, rng, rank=6, clusters=12, noise=0.05)
    B = rng.normal(size=(48, 7)).astype(np.float32)
    return A[:1500], A[1500:], B


def unpack_maddness_codes(packed):
    """(n, C/2) packed nibbles -> (n, C) codes, codebook 2j in the low nibble of byte j."""
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(packed.shape[0], -1)


def reference_maddness_codes(amm, A):
    """MADDNESS encoder in numpy, with the learning code's arithmetic: quantize the split value
    to int8, compare with the int8 threshold of the node, descend."""
    from tenfold.maddness.trees import _quantize

    n, C = A.shape[0], amm.ncodebooks
    codes = np.zeros((n, C), dtype=np.uint8)
    for c in range(C):
        node = np.zeros(n, dtype=np.int64)
        for level in range(4):
            j = amm.split_dims_[c, level]
            q = _quantize(A[:, j], amm.offsets_[c, level], amm.scales_[c, level])
            node = 2 * node + (q > amm.thresholds_[c, level][node])
        codes[:, c] = node
    return codes
