"""``distill``: fine-tune a model after :func:`replace_linear` by distillation from the exact model.

The recipe measured on the benchmark (``benchmarks/bench_maddness_torch.py``): the student's
outputs are fitted to the teacher's on the same rows (no labels needed), with Adam, a larger
learning rate for the :class:`MaddnessLinear` tables and biases than for the model's other
parameters, small batches, and Gaussian noise on the replaced layers' inputs during training
(the codes of unseen rows differ from those of the training rows; the noise makes the tables
robust to that instead of memorising the training rows' codes).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from ._linear import MaddnessLinear

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _kl(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL divergence from the teacher's softmax (over the last dimension) to the student's."""
    d = out.shape[-1]
    return nn.functional.kl_div(out.reshape(-1, d).log_softmax(1), target.reshape(-1, d).log_softmax(1),
                                log_target=True, reduction="batchmean")


_LOSSES: dict[str, Loss] = {"kl": _kl, "mse": nn.functional.mse_loss}


def _check_float(v: object, name: str, minimum: float, strict: bool) -> float:
    x = float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else float("nan")
    if not math.isfinite(x) or not (x > minimum if strict else x >= minimum):
        raise ValueError(f"{name} must be a finite float {'>' if strict else '>='} {minimum:g}, got {v!r}")
    return x


def _check_int(v: object, name: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def distill(student: nn.Module, teacher: nn.Module, inputs: torch.Tensor, epochs: int = 5, batch_size: int = 32,
            lr: float = 3e-3, lr_other: float = 1e-4, loss: Union[str, Loss] = "kl", activation_noise: float = 0.6,
            seed: int = 0, callback: Optional[Callable[[int, nn.Module], None]] = None) -> nn.Module:
    """Fine-tune ``student`` (a model with :class:`MaddnessLinear` layers, e.g. from
    :func:`replace_linear`) so that its outputs match ``teacher``'s (the exact model) on
    ``inputs``; returns ``student`` (edited in place) in ``eval()`` mode.

    - ``inputs``: a tensor of model inputs, rows along the first dimension (no labels: the
      targets are the teacher's outputs, computed batch by batch under ``torch.no_grad``).
    - ``epochs`` passes over the rows in a fresh random order, batches of ``batch_size``.
    - Adam; learning rate ``lr`` for the :class:`MaddnessLinear` tables and biases, ``lr_other``
      for every other trainable parameter of the student (0 freezes them).
    - ``loss``: ``"kl"`` (default; KL divergence from the teacher's softmax over the last
      dimension, for classifiers), ``"mse"`` (any output), or a callable
      ``loss(student_out, teacher_out) -> scalar``.
    - ``activation_noise``: in training, each :class:`MaddnessLinear`'s input gets Gaussian noise
      of ``activation_noise`` times the standard deviation of each of its input features (measured
      on ``inputs`` before training); 0 turns it off. On the digits MLP benchmark it is worth
      about one point of test accuracy (the tables otherwise fit the training rows' codes).
    - ``seed``: the batches' order and the noise come from a generator seeded with it, so a run
      is reproducible and leaves torch's global random state alone.
    - ``callback(epoch, student)`` is called after every epoch with the student in ``eval()``
      mode (e.g. to log a validation score).

    >>> import torch, tenfold.torch as tt
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(2000, 6) @ torch.randn(6, 32)
    >>> y = (X[:, :3] @ torch.randn(3, 4)).argmax(1)
    >>> net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
    ...                           torch.nn.ReLU(), torch.nn.Linear(64, 4))
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    >>> for _ in range(100):                                  # the exact model (the teacher)
    ...     opt.zero_grad(); torch.nn.functional.cross_entropy(net(X[:1500]), y[:1500]).backward(); opt.step()
    >>> net = net.eval()
    >>> fast = tt.replace_linear(net, X[:1500], filter_fn=lambda name, m: name == "2", ncodebooks=4)
    >>> agree = lambda m: (m(X[1500:]).argmax(1) == net(X[1500:]).argmax(1)).float().mean().item()
    >>> with torch.no_grad():
    ...     before = agree(fast)
    >>> fast = tt.distill(fast, net, X[:1500])                 # 5 epochs, no labels
    >>> with torch.no_grad():                                  # held-out rows: agrees more often with the teacher
    ...     bool(agree(fast) > before), fast.training
    (True, False)
    """
    if not isinstance(student, nn.Module) or not isinstance(teacher, nn.Module):
        raise TypeError("student and teacher must be torch.nn.Modules")
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    if inputs.dim() == 0 or len(inputs) == 0:
        raise ValueError(f"inputs must have at least one row, got shape {tuple(inputs.shape)}")
    epochs = _check_int(epochs, "epochs", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    seed = _check_int(seed, "seed", 0)
    lr = _check_float(lr, "lr", 0.0, strict=True)
    lr_other = _check_float(lr_other, "lr_other", 0.0, strict=False)
    activation_noise = _check_float(activation_noise, "activation_noise", 0.0, strict=False)
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)} or a callable, got {loss!r}")
        loss_fn = _LOSSES[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise TypeError(f"loss must be a str or a callable, got {type(loss).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    layers = [m for m in student.modules() if isinstance(m, MaddnessLinear)]
    if not layers:
        raise ValueError("student has no MaddnessLinear layer (call replace_linear first)")

    tables = {id(p) for m in layers for p in m.parameters()}
    params = [p for p in student.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in params if id(p) in tables], lr=lr)]
    others = [p for p in params if id(p) not in tables]
    if others and lr_other > 0:
        groups.append(dict(params=others, lr=lr_other))
    frozen = [p for p in others if lr_other == 0]
    opt = torch.optim.Adam(groups)
    gen = torch.Generator().manual_seed(seed)

    hooks = []
    if activation_noise > 0:
        stds = _input_stds(student, layers, inputs, batch_size)
        for m, std in zip(layers, stds):
            def add_noise(mod: nn.Module, args: tuple[Any, ...],
                          _std: torch.Tensor = activation_noise * std) -> Optional[tuple[Any, ...]]:
                if not mod.training:
                    return None
                x = args[0]
                noise = torch.randn(x.shape, generator=gen, dtype=torch.float32).to(x.dtype)
                return (x + noise * _std.to(x.dtype),) + tuple(args[1:])
            hooks.append(m.register_forward_pre_hook(add_noise))
    was_training = teacher.training
    teacher.eval()
    for p in frozen:
        p.requires_grad_(False)
    try:
        for epoch in range(epochs):
            student.train()
            order = torch.randperm(len(inputs), generator=gen)
            for i in range(0, len(inputs), batch_size):
                xb = inputs[order[i:i + batch_size]]
                with torch.no_grad():
                    target = teacher(xb)
                opt.zero_grad()
                loss_fn(student(xb), target).backward()  # type: ignore[no-untyped-call]
                opt.step()
            student.eval()
            if callback is not None:
                callback(epoch, student)
    finally:
        for h in hooks:
            h.remove()
        for p in frozen:
            p.requires_grad_(True)
        teacher.train(was_training)
    return student.eval()


def _input_stds(student: nn.Module, layers: list[MaddnessLinear], inputs: torch.Tensor,
                batch_size: int) -> list[torch.Tensor]:
    """Each layer's per-feature standard deviation of its inputs over ``inputs`` (eval mode)."""
    sums = [torch.zeros(m.in_features, dtype=torch.float64) for m in layers]
    sq = [torch.zeros(m.in_features, dtype=torch.float64) for m in layers]
    count = [0] * len(layers)

    def record(k: int) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0].detach().reshape(-1, mod.in_features).double()
            sums[k] += x.sum(0)
            sq[k] += (x * x).sum(0)
            count[k] += x.shape[0]
        return hook
    hooks = [m.register_forward_pre_hook(record(k)) for k, m in enumerate(layers)]
    student.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(inputs), max(batch_size, 1024)):
                student(inputs[i:i + max(batch_size, 1024)])
    finally:
        for h in hooks:
            h.remove()
    out = []
    for s, q, n in zip(sums, sq, count):
        n = max(n, 1)
        var = (q / n - (s / n) ** 2).clamp_min(0)
        out.append(var.sqrt().float())
    return out
