"""Run-time settings: which SIMD path the kernels use and how many threads they may start."""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from typing import Iterator

import numpy as np

from . import _core

ISAS = ("scalar", "avx2", "avx512", "neon")
# The kernels take the thread count as a C int (they start at most one thread per chunk of work).
MAX_THREADS = 2**31 - 1


def isa() -> str:
    """Name of the SIMD path in use: ``"scalar"``, ``"avx2"``, ``"avx512"`` or ``"neon"``.

    >>> import tenfold
    >>> tenfold.isa() in tenfold.supported_isas()
    True
    """
    return str(_core.active_isa())


def supported_isas() -> list[str]:
    """Every path this build holds and this CPU can run (all the features its kernels were
    compiled for are present), portable first.

    >>> import tenfold
    >>> tenfold.supported_isas()[0]
    'scalar'
    """
    return list(_core.usable_isas(_core.cpu_features()))


def set_isa(name: str) -> None:
    """Force a SIMD path (as ``TENFOLD_ISA`` does at import). Raises ValueError if unsupported."""
    if name not in ISAS:
        raise ValueError(f"isa must be one of {ISAS}, got {name!r}")
    if name not in supported_isas():
        raise ValueError(f"this CPU cannot run the {name!r} path; supported: {supported_isas()}")
    _core.set_isa(name)


@contextlib.contextmanager
def use_isa(name: str) -> Iterator[None]:
    """Context manager that runs its body on one SIMD path (used by the tests)."""
    previous = isa()
    set_isa(name)
    try:
        yield
    finally:
        _core.set_isa(previous)


def default_threads() -> int:
    """``TENFOLD_NUM_THREADS`` if set, else the CPUs this process may run on."""
    env = os.environ.get("TENFOLD_NUM_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if 1 <= value <= MAX_THREADS:
            return value
        warnings.warn(f"ignoring TENFOLD_NUM_THREADS={env!r}: expected an integer in [1, {MAX_THREADS}]",
                      RuntimeWarning)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(n_threads: int | None) -> int:
    """Validate an ``n_threads`` argument; None means :func:`default_threads`.

    An int (or integer numpy scalar) in [1, 2**31 - 1]; TypeError for bools, floats and other
    types, ValueError for values out of range.
    """
    if n_threads is None:
        return default_threads()
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be a positive int or None, got {type(n_threads).__name__} {n_threads!r}")
    n_threads = int(n_threads)
    if not 1 <= n_threads <= MAX_THREADS:
        raise ValueError(f"n_threads must be in [1, {MAX_THREADS}] (or None for all cores), got {n_threads}")
    return n_threads


def _apply_environment() -> None:
    requested = os.environ.get("TENFOLD_ISA", "").strip().lower()
    if not requested:
        return
    try:
        set_isa(requested)
    except ValueError as err:
        warnings.warn(f"TENFOLD_ISA={requested!r} ignored: {err}; using {isa()!r}", RuntimeWarning)


_apply_environment()
