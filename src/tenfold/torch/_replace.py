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
                   inplace: bool = False, **maddness_params: Any) -> nn.Module:
    """A copy of ``model`` (``model`` itself if ``inplace=True``) whose chosen ``nn.Linear``
    layers are :class:`MaddnessLinear`.

    The model is run once on ``calibration_inputs`` (anything ``model(...)`` accepts; a tuple is
    unpacked) with forward hooks recording each chosen layer's inputs; each layer is fitted on
    what it saw (the exact model's activations). ``filter_fn(name, module)`` chooses layers
    (default: every ``nn.Linear``). The new layers take the mode (``training``) of the layers
    they replace; ``model.train()`` then fine-tunes their float tables, ``model.eval()``
    quantizes them for the lookup kernel. ``maddness_params`` go to :class:`tenfold.Maddness`.

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
    if not inplace:
        model = copy.deepcopy(model)
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
