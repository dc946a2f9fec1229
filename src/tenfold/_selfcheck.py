"""Import-time guard for SIMD paths this project's CI machines cannot run (AVX-512).

Each non-scalar path the CPU supports is run once on a tiny random problem and compared with
the scalar reference; a path that disagrees is not used (with a warning) rather than risk
silently wrong results. Costs about a millisecond.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _core, _runtime


def _bolt_outputs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(12345)
    n, ncols, d = 45, 3, 13
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    blocked = np.zeros(64 * ncols, dtype=np.uint8)
    _core.bolt_pack_blocked(codes, blocked, 0)
    luts = rng.integers(0, _core.BOLT_MAX_LUT_ENTRY + 1, size=(5, 2 * ncols, 16), dtype=np.uint8)
    X = rng.normal(size=(n, d)).astype(np.float32)
    bounds = np.array([(c * d) // 6 for c in range(7)], dtype=np.int32)
    cent_t = rng.normal(size=(d, 16)).astype(np.float32)
    norms = rng.random(size=(6, 16)).astype(np.float32)
    enc, _ = _core.bolt_encode(X, cent_t, norms, bounds, 1)
    return (_core.bolt_scan(blocked, n, ncols, luts, 1), _core.bolt_search(blocked, n, ncols, luts, 7, 1)[1], enc)


def verify_simd_paths() -> None:
    best = _core.active_isa()
    if best == "scalar":
        return
    _core.set_isa("scalar")
    reference = _bolt_outputs()
    chosen = "scalar"
    # Paths in preference order up to the one in use; stop at the first that disagrees.
    for name in _runtime.supported_isas()[1:]:
        _core.set_isa(name)
        if all(np.array_equal(a, b) for a, b in zip(_bolt_outputs(), reference)):
            chosen = name
        else:
            warnings.warn(f"tenfold: the {name} kernels disagree with the scalar reference on this CPU; "
                          f"not using them (please report this)", RuntimeWarning)
            break
        if name == best:
            break
    _core.set_isa(chosen)
