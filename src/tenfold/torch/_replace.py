"""``replace_linear``: swap a model's ``nn.Linear`` layers for :class:`MaddnessLinear`, each fitted
on the inputs it sees on a calibration batch."""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from ._linear import MaddnessLinear


def replace_linear(model: nn.Module, calibration_inputs: Any,
                   filter_fn: Optional[Callable[[str, nn.Linear], bool]] = None, ncodebooks: int = 16,
                   inplace: bool = False, sequential: bool = False, **maddness_params: Any) -> nn.Module:
    """A copy of ``model`` (``model`` itself if ``inplace=True``) whose chosen ``nn.Linear``
    layers are :class:`MaddnessLinear`.

    The model is run once on ``calibration_inputs`` (anything ``model(...)`` accepts; a tuple is
    unpacked) with forward hooks recording each chosen layer's inputs; each layer is fitted on
    what it saw (the exact model's activations). With ``sequential=True`` the layers are instead
    fitted one at a time in the order the model calls them, each on the inputs it sees once the
    layers called before it are already replaced (one calibration pass per chosen layer): a layer
    is then fitted on the activations it will get in use, approximation errors of the earlier
    layers included. ``filter_fn(name, module)`` chooses layers
    (default: every ``nn.Linear``). The new layers take the mode (``training``) of the layers
    they replace; ``model.train()`` then fine-tunes their float tables, ``model.eval()``
    quantizes them for the lookup kernel. ``maddness_params`` go to :class:`tenfold.Maddness`;
    e.g. ``split_width=8`` (each tree level splits on a signed sum of 8 input columns) generalises
    better to unseen rows once the tables are fine-tuned: on the digits MLP benchmark (C=16, both
    hidden layers, :func:`distill`) 97.3% against 96.1% with single columns (exact 97.6%), at
    4.2-4.4x the fp32 model's speed against 4.3-4.7x; at C=64 it loses (96.4% against 97.6%)
    (``benchmarks/notes/maddness_torch.md``, session 12).

    >>> import torch, tenfold.torch as tt
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    >>> fast = tt.replace_linear(net, torch.randn(300, 16), ncodebooks=4)
    >>> [type(m).__name__ for m in fast], type(net[0]).__name__
    (['MaddnessLinear', 'ReLU', 'MaddnessLinear'], 'Linear')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be a bool, got {type(inplace).__name__}")
    if not isinstance(sequential, bool):
        raise TypeError(f"sequential must be a bool, got {type(sequential).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    chosen = [(name, mod) for name, mod in model.named_modules()
              if isinstance(mod, nn.Linear) and (filter_fn is None or filter_fn(name, mod))]
    if not chosen:
        raise ValueError("no nn.Linear layer of the model was selected")
    if not sequential:
        for name, X in _record_inputs(model, calibration_inputs, chosen)[0].items():
            _install(model, name, MaddnessLinear.from_linear(dict(chosen)[name], X, ncodebooks=ncodebooks,
                                                             **maddness_params))
        return model
    remaining = chosen
    while remaining:  # fit the first-called remaining layer on what it sees now, then the next
        seen, order = _record_inputs(model, calibration_inputs, remaining)
        name = order[0]
        _install(model, name, MaddnessLinear.from_linear(dict(remaining)[name], seen[name], ncodebooks=ncodebooks,
                                                         **maddness_params))
        remaining = [(n, m) for n, m in remaining if n != name]
    return model


def _record_inputs(model: nn.Module, calibration_inputs: Any,
                   chosen: list[tuple[str, nn.Linear]]) -> tuple[dict[str, np.ndarray], list[str]]:
    """One pass of ``model`` over the calibration inputs: each chosen layer's inputs (rows of
    in_features floats) and the layers' names in the order of their first call."""
    seen: dict[str, list[np.ndarray]] = {name: [] for name, _ in chosen}
    order: list[str] = []
    hooks = []
    for name, mod in chosen:
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any, _name: str = name) -> None:
            x = inputs[0]
            if not seen[_name]:
                order.append(_name)
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
    for name, _ in chosen:
        if not seen[name]:
            raise ValueError(f"layer {name!r} was not called on the calibration inputs")
    return {name: np.concatenate(xs, axis=0) for name, xs in seen.items()}, order


def _install(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` in place of the submodule called ``name``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
