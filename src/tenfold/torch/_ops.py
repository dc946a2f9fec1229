"""The MADDNESS kernels as PyTorch operators: ``torch.ops.tenfold.maddness_matmul`` and
``torch.ops.tenfold.maddness_encode``.

Registered with ``torch.library`` (schema, CPU kernel, fake kernel for shape propagation), so
``torch.jit.trace``, ``torch.export`` and ``torch.compile`` record a call to the operator
instead of running the kernel at trace time and baking its result into the graph. Every array
of the model is an argument, so a traced or exported graph takes them from the module's buffers.

- The input keeps its dtype: float16/bfloat16/float64 in, the same dtype out (the kernel
  itself reads float32; other dtypes are converted once).
- Threads: ``torch.get_num_threads()`` at the time of the call.
- Gradient: none. The codes are piecewise constant in the input and the uint8 tables are not
  trainable, so ``backward`` through the operator raises; fine-tune through
  ``MaddnessLinear.train()`` (float tables) instead.
"""

from __future__ import annotations

import atexit
from collections import OrderedDict
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..maddness import Maddness

_MATMUL_SCHEMA = ("(Tensor x, Tensor split_dims, Tensor offsets, Tensor scales, Tensor thresholds, "
                  "Tensor luts, Tensor mul, Tensor add, int log2g, Tensor? sum_cols, Tensor? sum_npos) -> Tensor")
_ENCODE_SCHEMA = ("(Tensor x, Tensor split_dims, Tensor offsets, Tensor scales, Tensor thresholds, "
                  "Tensor? sum_cols, Tensor? sum_npos) -> Tensor")


def _np(t: torch.Tensor, dtype: type, name: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU tensor, got device {t.device}")
    return np.ascontiguousarray(t.detach().numpy(), dtype=dtype)


def _model(split_dims: torch.Tensor, offsets: torch.Tensor, scales: torch.Tensor, thresholds: torch.Tensor,
           sum_cols: Optional[torch.Tensor], sum_npos: Optional[torch.Tensor], d: int) -> Maddness:
    """A Maddness encoder over the tensors' memory (no copy for the buffers' own dtypes)."""
    C = int(split_dims.shape[0])
    width = 1 if sum_cols is None else int(sum_cols.shape[-1])
    amm = Maddness(ncodebooks=C, split_width=width, n_threads=torch.get_num_threads())
    amm.split_dims_ = _np(split_dims, np.int64, "split_dims")
    amm.offsets_ = _np(offsets, np.float32, "offsets")
    amm.scales_ = _np(scales, np.float32, "scales")
    amm.thresholds_ = _np(thresholds, np.int8, "thresholds")
    amm.sum_cols_ = None if sum_cols is None else _np(sum_cols, np.int64, "sum_cols")
    amm.sum_npos_ = None if sum_npos is None else _np(sum_npos, np.int32, "sum_npos")
    amm.n_features_in_ = d
    return amm


# Models built from the same tensors are reused (binding a model costs more than a small batch's
# products). Keyed by each tensor's identity, storage and version counter (bumped by any in-place
# edit), so an edited or replaced tensor never meets a stale model; the entry holds the tensors,
# so an id cannot be reused while it is cached. Bounded: least recently used entries are dropped.
_CACHE: "OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Maddness]]" = OrderedDict()
_CACHE_SIZE = 128
atexit.register(_CACHE.clear)     # the C++ objects must go before the extension module does


def _cached(tensors: tuple[Any, ...], build: Callable[[], Maddness]) -> Maddness:
    try:
        key = tuple((id(t), t.data_ptr(), t._version, t.dtype) if isinstance(t, torch.Tensor) else t
                    for t in tensors)
    except RuntimeError:                         # inference tensors have no version counter
        return build()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit[1]
    amm = build()
    _CACHE[key] = (tensors, amm)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return amm


def _rows(x: torch.Tensor) -> np.ndarray:
    """x (..., d) as a float32 (n, d) array the kernel reads in place (a copy only for other
    dtypes or layouts a reshape cannot view)."""
    if x.device.type != "cpu":
        raise ValueError(f"x must be a CPU tensor, got device {x.device}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension (..., in_features)")
    X = x.detach().reshape(-1, x.shape[-1])
    if X.dtype != torch.float32:
        X = X.float()
    return X.numpy()


@torch.library.custom_op("tenfold::maddness_matmul", mutates_args=(), schema=_MATMUL_SCHEMA)
def maddness_matmul(x: torch.Tensor, split_dims: torch.Tensor, offsets: torch.Tensor, scales: torch.Tensor,
                    thresholds: torch.Tensor, luts: torch.Tensor, mul: torch.Tensor, add: torch.Tensor, log2g: int,
                    sum_cols: Optional[torch.Tensor], sum_npos: Optional[torch.Tensor]) -> torch.Tensor:
    """Approximate ``x @ B + bias`` over the last dimension of x with the lookup kernel:
    (..., d) -> (..., m), m = ``luts.shape[0]``, in x's dtype."""
    X = _rows(x)

    def build() -> Maddness:
        amm = _model(split_dims, offsets, scales, thresholds, sum_cols, sum_npos, X.shape[1])
        amm.luts_ = _np(luts, np.uint8, "luts")
        amm.mul_ = _np(mul, np.float32, "mul")
        amm.add_ = _np(add, np.float32, "add")
        amm.log2g_ = int(log2g)
        amm.n_outputs_ = int(luts.shape[0])
        return amm
    amm = _cached((split_dims, offsets, scales, thresholds, sum_cols, sum_npos, luts, mul, add, int(log2g),
                   X.shape[1]), build)
    amm.n_threads = torch.get_num_threads()
    out = torch.from_numpy(amm.matmul(X, order="C")).reshape(*x.shape[:-1], amm.n_outputs_)
    return out if out.dtype == x.dtype else out.to(x.dtype)


@maddness_matmul.register_fake
def _(x, split_dims, offsets, scales, thresholds, luts, mul, add, log2g, sum_cols, sum_npos):  # type: ignore[no-untyped-def]
    return x.new_empty((*x.shape[:-1], luts.shape[0]))


@torch.library.custom_op("tenfold::maddness_encode", mutates_args=(), schema=_ENCODE_SCHEMA)
def maddness_encode(x: torch.Tensor, split_dims: torch.Tensor, offsets: torch.Tensor, scales: torch.Tensor,
                    thresholds: torch.Tensor, sum_cols: Optional[torch.Tensor],
                    sum_npos: Optional[torch.Tensor]) -> torch.Tensor:
    """Codes of x (..., d): uint8 (..., ncodebooks), one 4-bit code (0..15) per codebook."""
    X = _rows(x)
    amm = _cached((split_dims, offsets, scales, thresholds, sum_cols, sum_npos, X.shape[1]),
                  lambda: _model(split_dims, offsets, scales, thresholds, sum_cols, sum_npos, X.shape[1]))
    amm.n_threads = torch.get_num_threads()
    packed = amm.encode(X)                                              # (n, C/2), two codes a byte
    codes = np.stack([packed & 15, packed >> 4], axis=2).reshape(X.shape[0], -1)
    return torch.from_numpy(codes).reshape(*x.shape[:-1], codes.shape[1])


@maddness_encode.register_fake
def _(x, split_dims, offsets, scales, thresholds, sum_cols, sum_npos):  # type: ignore[no-untyped-def]
    return x.new_empty((*x.shape[:-1], split_dims.shape[0]), dtype=torch.uint8)


def _no_backward(ctx, grad):  # type: ignore[no-untyped-def]
    raise RuntimeError("tenfold::maddness_matmul has no gradient (its codes are discrete and its uint8 tables "
                       "fixed): MaddnessLinear is inference-only in eval() mode; call .train() to fine-tune its "
                       "float tables")


maddness_matmul.register_autograd(_no_backward)
