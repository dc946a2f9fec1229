"""MADDNESS as a drop-in for ``torch.nn.Linear`` (CPU inference only; needs the ``torch`` extra).

``MaddnessLinear.from_linear(linear, calibration_inputs)`` learns a :class:`tenfold.Maddness`
encoder on the layer's inputs and folds the weight and bias into lookup tables.
``replace_linear(model, calibration_inputs)`` records each chosen layer's inputs on a calibration
batch (forward hooks) and swaps the layers in place.

>>> import torch, tenfold.torch as tt
>>> _ = torch.manual_seed(0)
>>> lin = torch.nn.Linear(32, 8)
>>> X = torch.randn(2000, 4) @ torch.randn(4, 32)
>>> layer = tt.MaddnessLinear.from_linear(lin, X, ncodebooks=16)
>>> layer
MaddnessLinear(in_features=32, out_features=8, ncodebooks=16, aggregate='average')
>>> y = layer(X[:5])
>>> y.shape, bool(((y - lin(X[:5])).norm() / lin(X[:5]).norm()) < 0.3)
(torch.Size([5, 8]), True)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as err:  # pragma: no cover
    raise ImportError("tenfold.torch needs PyTorch: pip install 'tenfold[torch]'") from err

from .maddness import Maddness

__all__ = ["MaddnessLinear", "replace_linear"]


class _MaddnessFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, layer: "MaddnessLinear") -> torch.Tensor:
        return layer._apply_numpy(x)

    @staticmethod
    def backward(ctx: Any, *grad: Any) -> Any:  # pragma: no cover - raised through autograd
        raise RuntimeError("MaddnessLinear is inference only: it has no gradient (its codes are discrete). "
                           "Train the original nn.Linear, then convert it.")


class MaddnessLinear(nn.Module):
    """Approximate ``nn.Linear`` computed with MADDNESS lookup tables (CPU, inference only).

    Holds its tables as buffers (not parameters), so ``state_dict`` carries them and optimizers
    ignore them. Accepts inputs of any leading shape ``(..., in_features)``; float32 output.
    """

    def __init__(self, amm: Maddness, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.amm = amm
        # The signed-sum columns too when the model has them (split_width > 1).
        self._buffers_of_model = [name for name in ("split_dims", "offsets", "scales", "thresholds", "luts", "mul",
                                                    "add", "sum_cols", "sum_npos")
                                  if getattr(amm, name + "_", None) is not None]
        for name in self._buffers_of_model:
            self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(getattr(amm, name + "_"))))

    @classmethod
    def from_linear(cls, linear: nn.Linear, calibration_inputs: Any, ncodebooks: int = 16,
                    **maddness_params: Any) -> "MaddnessLinear":
        """Fit on ``calibration_inputs`` (..., in_features): the rows this layer will see."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {type(linear).__name__}")
        X = _to_numpy(calibration_inputs, "calibration_inputs")
        if X.ndim >= 1:
            X = X.reshape(-1, X.shape[-1])
        if X.ndim != 2 or X.shape[1] != linear.in_features:
            raise ValueError(f"calibration_inputs must have last dimension {linear.in_features} "
                             f"(the layer's in_features), got shape {tuple(np.shape(calibration_inputs))}")
        W = linear.weight.detach().cpu().double().numpy()           # (out, in)
        bias = None if linear.bias is None else linear.bias.detach().cpu().double().numpy()
        amm = Maddness(ncodebooks=ncodebooks, **maddness_params).fit(X, W.T, bias=bias)
        return cls(amm, linear.in_features, linear.out_features)

    def _sync(self) -> None:
        # Buffers may have been replaced by load_state_dict: refresh the numpy model from them.
        for name in self._buffers_of_model:
            buf = getattr(self, name)
            cur = getattr(self.amm, name + "_")
            if buf.data_ptr() != getattr(self, "_ptr_" + name, None):
                arr = buf.detach().cpu().numpy()
                if arr.shape != cur.shape or arr.dtype != cur.dtype:
                    raise ValueError(f"buffer {name!r} has shape {arr.shape}/{arr.dtype}, expected {cur.shape}/{cur.dtype}")
                setattr(self.amm, name + "_", np.ascontiguousarray(arr))
                object.__setattr__(self, "_ptr_" + name, buf.data_ptr())

    def _apply_numpy(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            raise ValueError(f"MaddnessLinear runs on CPU tensors, got device {x.device}")
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"input must have last dimension {self.in_features}, got shape {tuple(x.shape)}")
        self._sync()
        lead = x.shape[:-1]
        X = x.detach().reshape(-1, self.in_features)
        if X.dtype != torch.float32:
            X = X.float()
        # Row-major output written directly by the kernel: downstream torch ops (an nn.Linear in
        # particular) are much slower on column-major tensors than this costs.
        out = self.amm.matmul(X.numpy(), order="C")
        return torch.from_numpy(out).reshape(*lead, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _MaddnessFunction.apply(x, self)  # type: ignore[no-untyped-call]
        return self._apply_numpy(x)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"ncodebooks={self.amm.ncodebooks}, aggregate={self.amm.aggregate!r}")


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.device.type != "cpu":
            x = x.cpu()
        return x.detach().float().numpy()
    return np.asarray(x, dtype=np.float32)


def replace_linear(model: nn.Module, calibration_inputs: Any,
                   filter_fn: Optional[Callable[[str, nn.Linear], bool]] = None,
                   ncodebooks: int = 16, **maddness_params: Any) -> nn.Module:
    """Swap the chosen ``nn.Linear`` layers of ``model`` for :class:`MaddnessLinear`, in place.

    The model is run once on ``calibration_inputs`` (anything ``model(...)`` accepts; a tuple is
    unpacked) with forward hooks recording each chosen layer's inputs; each layer is then fitted
    on what it saw. ``filter_fn(name, module)`` chooses layers (default: all ``nn.Linear``).
    Layers are fitted in order on the exact model's activations. Returns ``model``.

    >>> import torch, tenfold.torch as tt
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    >>> net = tt.replace_linear(net, torch.randn(500, 16), ncodebooks=8)
    >>> [type(m).__name__ for m in net]
    ['MaddnessLinear', 'ReLU', 'MaddnessLinear']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    chosen = [(name, mod) for name, mod in model.named_modules()
              if isinstance(mod, nn.Linear) and (filter_fn is None or filter_fn(name, mod))]
    if not chosen:
        raise ValueError("no nn.Linear layer of the model was selected")
    seen: dict[str, list[np.ndarray]] = {name: [] for name, _ in chosen}
    hooks = []
    for name, mod in chosen:
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any, _name: str = name) -> None:
            x = inputs[0]
            seen[_name].append(x.detach().cpu().float().reshape(-1, x.shape[-1]).numpy())
        hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            if isinstance(calibration_inputs, tuple):
                model(*calibration_inputs)
            else:
                model(calibration_inputs)
    finally:
        for h in hooks:
            h.remove()
    for name, mod in chosen:
        if not seen[name]:
            raise ValueError(f"layer {name!r} was not called on the calibration inputs")
        X = np.concatenate(seen[name], axis=0)
        new = MaddnessLinear.from_linear(mod, X, ncodebooks=ncodebooks, **maddness_params)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
    return model
