"""``MaddnessLinear``: a drop-in for ``torch.nn.Linear`` computed from MADDNESS codes.

Two modes, as ``nn.Module.train``/``eval`` select:

- ``train()``: the output is the sum over codebooks of float tables looked up by the input's
  codes, plus the bias. The tables (``tables``, (ncodebooks, 16, out_features)) and ``bias``
  are ``nn.Parameter``s with their exact gradient; the encoder is fixed. An ordinary training
  loop fine-tunes the tables. The codes are piecewise constant in the input, so the input's
  exact gradient is zero: layers before this one would learn nothing. With
  ``input_grad=True`` (default) the input instead gets the straight-through estimate
  ``grad_output @ ste_weight``, the replaced layer's weight (a buffer used only for this), so
  stacked layers and the layers before them fine-tune together.
- ``eval()``: the tables are quantized to uint8 (as :meth:`tenfold.Maddness.set_tables` does)
  and the output comes from the C++ lookup kernel through ``torch.ops.tenfold.maddness_matmul``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from ..maddness import Maddness
from . import _ops

_LEVELS = 4          # tree levels per codebook (16 leaves)
_LEAVES = 16
# torch.jit.is_tracing, which torch's stubs neither export nor type.
_is_tracing: Callable[[], bool] = torch.jit.is_tracing  # type: ignore[attr-defined]


def _as_rows(x: Any, d: int, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy()
    X = np.asarray(x, dtype=np.float32)
    if X.ndim >= 1:
        X = X.reshape(-1, X.shape[-1])
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"{name} must have last dimension {d} (the layer's in_features), got shape {np.shape(x)}")
    return X


class _StraightThrough(torch.autograd.Function):
    """Identity on the table output ``y``; the input x gets ``grad_y @ weight`` (the gradient of
    the dense layer the tables approximate)."""

    @staticmethod
    def forward(y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return y.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        _, x, weight = inputs
        ctx.save_for_backward(weight)
        ctx.x_dtype = x.dtype

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (weight,) = ctx.saved_tensors
        gx = (grad.to(weight.dtype) @ weight).to(ctx.x_dtype) if ctx.needs_input_grad[1] else None
        return grad, gx, None


class MaddnessLinear(nn.Module):
    """Approximate ``nn.Linear`` on CPU from MADDNESS codes: trainable float tables in ``train()``
    mode, the uint8 lookup kernel in ``eval()`` mode.

    Build it with :meth:`from_linear` (fits the encoder on calibration inputs), or empty from a
    config (``MaddnessLinear(**config)`` / :meth:`from_config`) and fill it with
    ``load_state_dict``. Accepts inputs of any leading shape ``(..., in_features)`` and returns
    the input's floating dtype. Threads: ``torch.get_num_threads()``.

    State: the encoder (``split_dims``, ``offsets``, ``scales``, ``thresholds``, and
    ``sum_cols``/``sum_npos`` when ``split_width > 1``) and the uint8 tables (``luts``, ``mul``,
    ``add``) are buffers; ``tables`` and ``bias`` are parameters. The float tables are the
    reference: the uint8 ones are recomputed from them on ``eval()`` whenever they changed (a
    deterministic function of the float32 values, so a copy or a reloaded layer computes the
    same).

    >>> import torch, tenfold.torch as tt
    >>> _ = torch.manual_seed(0)
    >>> lin = torch.nn.Linear(32, 8)
    >>> X = torch.randn(1000, 4) @ torch.randn(4, 32)
    >>> layer = tt.MaddnessLinear.from_linear(lin, X, ncodebooks=16).eval()
    >>> layer
    MaddnessLinear(in_features=32, out_features=8, ncodebooks=16, aggregate='average')
    >>> y = layer(X[:5])
    >>> y.shape, bool(((y - lin(X[:5])).norm() / lin(X[:5]).norm()) < 0.3)
    (torch.Size([5, 8]), True)
    >>> twin = tt.MaddnessLinear.from_config(layer.config)
    >>> _ = twin.load_state_dict(layer.state_dict())
    >>> bool(torch.equal(twin.eval()(X[:5]), y))
    True
    """

    split_dims: torch.Tensor
    offsets: torch.Tensor
    scales: torch.Tensor
    thresholds: torch.Tensor
    sum_cols: Optional[torch.Tensor]
    sum_npos: Optional[torch.Tensor]
    luts: torch.Tensor
    mul: torch.Tensor
    add: torch.Tensor
    ste_weight: Optional[torch.Tensor]
    _code_base: torch.Tensor

    def __init__(self, in_features: int, out_features: int, ncodebooks: int = 16, aggregate: str = "average",
                 split_width: int = 1, bias: bool = True, input_grad: bool = True) -> None:
        super().__init__()
        for name, v, lo in (("in_features", in_features, 1), ("out_features", out_features, 1),
                            ("ncodebooks", ncodebooks, 2), ("split_width", split_width, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        if ncodebooks % 2 or ncodebooks > 256:
            raise ValueError(f"ncodebooks must be even and <= 256, got {ncodebooks}")
        if not isinstance(bias, bool) or not isinstance(input_grad, bool):
            raise TypeError("bias and input_grad must be bools")
        if aggregate not in ("average", "exact"):
            raise ValueError(f"aggregate must be 'average' or 'exact', got {aggregate!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.ncodebooks, self.aggregate = int(ncodebooks), aggregate
        self.split_width = min(int(split_width), self.in_features)
        C, m, w = self.ncodebooks, self.out_features, self.split_width
        self.register_buffer("split_dims", torch.zeros(C, _LEVELS, dtype=torch.int64))
        self.register_buffer("offsets", torch.zeros(C, _LEVELS))
        self.register_buffer("scales", torch.ones(C, _LEVELS))
        self.register_buffer("thresholds", torch.zeros(C, _LEVELS, _LEAVES, dtype=torch.int8))
        if w > 1:
            self.register_buffer("sum_cols", torch.zeros(C, _LEVELS, w, dtype=torch.int64))
            self.register_buffer("sum_npos", torch.zeros(C, _LEVELS, dtype=torch.int32))
        else:
            # Plain attributes, not None buffers: torch.export of a bare layer fails on a module's
            # own None buffers (an IndexError inside torch 2.13's export), inside a container not.
            self.sum_cols, self.sum_npos = None, None
        self.register_buffer("luts", torch.zeros(m, C, _LEAVES, dtype=torch.uint8))
        self.register_buffer("mul", torch.zeros(m))
        self.register_buffer("add", torch.zeros(m))
        # Row c*16 + k of the flattened tables is codebook c's code k.
        self.register_buffer("_code_base", torch.arange(C, dtype=torch.int64) * _LEAVES, persistent=False)
        self.tables = nn.Parameter(torch.zeros(C, _LEAVES, m))
        self.bias = nn.Parameter(torch.zeros(m)) if bias else None
        if input_grad:
            self.register_buffer("ste_weight", torch.zeros(m, self.in_features))
        else:
            self.ste_weight = None     # an attribute, not a None buffer (see sum_cols above)
        self.log2g = 0
        self._quantized_at: tuple[Any, ...] = ()
        self.quantize_tables()

    # ------------------------------------------------------------------ construction
    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments: ``MaddnessLinear(**layer.config)`` has the same state shapes."""
        return dict(in_features=self.in_features, out_features=self.out_features, ncodebooks=self.ncodebooks,
                    aggregate=self.aggregate, split_width=self.split_width, bias=self.bias is not None,
                    input_grad=self.ste_weight is not None)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MaddnessLinear":
        """An empty layer of the given :attr:`config`, to be filled by ``load_state_dict``."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        return cls(**config)

    @classmethod
    def from_linear(cls, linear: nn.Linear, calibration_inputs: Any, ncodebooks: int = 16, input_grad: bool = True,
                    **maddness_params: Any) -> "MaddnessLinear":
        """Fit a :class:`tenfold.Maddness` encoder on ``calibration_inputs`` (..., in_features),
        the rows this layer will see, and fold ``linear``'s weight into tables
        (``prototypes_ @ weight.T``). ``input_grad``: keep the weight for the straight-through
        input gradient in ``train()`` mode (see the module's docstring; False for inference
        only). ``maddness_params`` go to :class:`tenfold.Maddness`. The layer is returned in
        the linear's mode (``training`` flag)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        X = _as_rows(calibration_inputs, linear.in_features, "calibration_inputs")
        W = linear.weight.detach().cpu().double().numpy()           # (out, in)
        b = None if linear.bias is None else linear.bias.detach().cpu().double().numpy()
        amm = Maddness(ncodebooks=ncodebooks, **maddness_params).fit(X, W.T, bias=b)
        sum_cols = getattr(amm, "sum_cols_", None)
        layer = cls(linear.in_features, linear.out_features, amm.ncodebooks, aggregate=amm.aggregate,
                    split_width=1 if sum_cols is None else sum_cols.shape[-1], bias=b is not None,
                    input_grad=input_grad)
        with torch.no_grad():
            for name in ("split_dims", "offsets", "scales", "thresholds", "sum_cols", "sum_npos"):
                if getattr(layer, name) is not None:
                    getattr(layer, name).copy_(torch.from_numpy(np.ascontiguousarray(getattr(amm, name + "_"))))
            C, d = amm.ncodebooks, amm.n_features_in_
            T = amm.prototypes_.reshape(_LEAVES * C, d).astype(np.float64) @ W.T
            layer.tables.copy_(torch.from_numpy(T.reshape(C, _LEAVES, -1)))
            if layer.bias is not None:
                layer.bias.copy_(torch.from_numpy(b))
            if layer.ste_weight is not None:
                layer.ste_weight.copy_(linear.weight.detach())
        # Quantized from the float32 parameters (not taken from amm), so that requantizing them
        # (after a copy or a load_state_dict) gives the same uint8 tables bit for bit.
        layer.quantize_tables()
        return layer.train(linear.training)

    def to_maddness(self) -> Maddness:
        """A :class:`tenfold.Maddness` (copies) computing what ``eval()`` mode computes."""
        self._refresh()
        amm = self._encoder()
        for name in ("split_dims", "offsets", "scales", "thresholds", "sum_cols", "sum_npos"):
            v = getattr(amm, name + "_")
            setattr(amm, name + "_", None if v is None else v.copy())
        amm.luts_, amm.mul_, amm.add_ = self.luts.numpy().copy(), self.mul.numpy().copy(), self.add.numpy().copy()
        amm.log2g_, amm.n_outputs_ = self.log2g, self.out_features
        return amm

    # ------------------------------------------------------------------ tables
    def _encoder(self) -> Maddness:
        amm = _ops._model(self.split_dims, self.offsets, self.scales, self.thresholds, self.sum_cols, self.sum_npos,
                          self.in_features)
        amm.aggregate = self.aggregate
        return amm

    def _table_state(self) -> tuple[Any, ...]:
        # In-place updates (optimizer steps, load_state_dict) bump a tensor's version counter.
        ps = [self.tables] + ([] if self.bias is None else [self.bias])
        return tuple((id(p), p.data_ptr(), p._version) for p in ps)

    @torch.no_grad()
    def quantize_tables(self) -> None:
        """Quantize the float ``tables`` and ``bias`` into the uint8 ``luts`` and the ``mul``/``add``
        of the lookup kernel (done by ``eval()`` when they changed)."""
        T = self.tables.detach().double().permute(2, 0, 1).numpy()           # (m, C, 16)
        b = None if self.bias is None else self.bias.detach().double().numpy()
        amm = self._encoder().set_tables(T, b)
        self.luts.copy_(torch.from_numpy(amm.luts_))
        self.mul.copy_(torch.from_numpy(amm.mul_))
        self.add.copy_(torch.from_numpy(amm.add_))
        self.log2g = int(amm.log2g_)
        self._quantized_at = self._table_state()

    def _refresh(self) -> None:
        if self._quantized_at != self._table_state():
            self.quantize_tables()

    def train(self, mode: bool = True) -> "MaddnessLinear":
        super().train(mode)
        if not mode:
            self._refresh()
        return self

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _is_tracing() and not torch.compiler.is_compiling():
            if x.dim() == 0 or x.shape[-1] != self.in_features:
                raise ValueError(f"input must have last dimension {self.in_features}, got shape {tuple(x.shape)}")
            if not self.training:
                self._refresh()
        if self.training:
            return self._forward_float(x)
        return torch.ops.tenfold.maddness_matmul(x, self.split_dims, self.offsets, self.scales, self.thresholds,
                                                 self.luts, self.mul, self.add, self.log2g, self.sum_cols,
                                                 self.sum_npos)

    def _forward_float(self, x: torch.Tensor) -> torch.Tensor:
        C, m = self.ncodebooks, self.out_features
        codes = torch.ops.tenfold.maddness_encode(x, self.split_dims, self.offsets, self.scales, self.thresholds,
                                                  self.sum_cols, self.sum_npos)
        rows = codes.reshape(-1, C).long() + self._code_base
        out = nn.functional.embedding_bag(rows, self.tables.reshape(C * _LEAVES, m), mode="sum")
        if self.bias is not None:
            out = out + self.bias
        if self.ste_weight is not None and x.requires_grad and torch.is_grad_enabled():
            flat = x.reshape(-1, self.in_features)
            out = _StraightThrough.apply(out, flat, self.ste_weight)  # type: ignore[no-untyped-call]
        return out.reshape(*x.shape[:-1], m).to(x.dtype)

    def extra_repr(self) -> str:
        width = "" if self.split_width == 1 else f", split_width={self.split_width}"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"ncodebooks={self.ncodebooks}, aggregate={self.aggregate!r}{width}")
