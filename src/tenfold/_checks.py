"""Input validation shared by every algorithm: clear errors before anything reaches C++."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _core


def as_float_matrix(x: Any, name: str, *, cols: int | None = None, allow_empty: bool = True,
                    n_threads: int = 1, check_finite: bool = True) -> np.ndarray:
    """Return `x` as a C-contiguous float32 (n, d) array of finite values.

    Integers and booleans are converted, other floats are cast; complex, object and string
    arrays are refused with TypeError. Non-contiguous input is copied. With
    check_finite=False the caller must check (kernels that do it in their own pass call
    :func:`raise_nonfinite` when they find a bad value).
    """
    refuse_masked(x, name)
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    kind = arr.dtype.kind
    if kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = "; for one vector use x.reshape(1, -1)" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {arr.shape}{hint}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns (the fitted dimension), got {arr.shape[1]}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    if not allow_empty and arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one row is needed")
    with np.errstate(over="ignore"):  # overflow is reported below as out of range
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if check_finite:
        raise_nonfinite(arr, out, name, n_threads)
    return out


def refuse_masked(x: Any, name: str) -> None:
    """TypeError for a numpy masked array: converting it would drop the mask without a word."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array, whose mask would be ignored: pass {name}.filled(value) "
                        "or drop the masked rows")


def raise_nonfinite(original: Any, converted: np.ndarray, name: str, n_threads: int = 1) -> None:
    """Raise ValueError naming the first row of `converted` holding NaN, inf or |x| >= 2**60."""
    bad = _core.first_nonfinite_row(converted, n_threads) if converted.size else -1
    if bad >= 0:
        if np.isfinite(np.asarray(original)[bad]).all():
            raise ValueError(f"{name} holds values too large to compute with in float32 "
                             f"(|x| >= 2**60, row {bad}): scale the data down")
        raise ValueError(f"{name} contains NaN or infinite values (first in row {bad})")


# Below this largest |value| a float32 training set's squared differences (~2**-120 and less)
# underflow towards float32's subnormals (from 2**-126): k-means sees ties and learns nothing.
# The mirror of the 2**60 bound above.
FIT_MAGNITUDE_FLOOR = 2.0 ** -60


def raise_too_small(X: np.ndarray, name: str) -> None:
    """ValueError if the validated float32 matrix X is not all zeros but every |x| < 2**-60."""
    big = float(np.abs(X).max()) if X.size else 0.0
    if 0.0 < big < FIT_MAGNITUDE_FLOOR:
        raise ValueError(f"{name} holds values too small to learn from in float32 (largest |x| {big:.3g} < 2**-60): "
                         f"scale the data up")


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Validate an integer argument (bools refused) within optional bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_fitted(obj: Any, attr: str) -> None:
    if getattr(obj, attr, None) is None:
        raise ValueError(f"this {type(obj).__name__} is not fitted yet: call fit() first")
