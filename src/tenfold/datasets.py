"""Synthetic data sets with a known answer, used by the demo, the tests and the benchmarks.

Each generator is seeded and numpy-only:

>>> from tenfold import datasets
>>> datasets.synthetic_embeddings(1000, 64).shape
(1000, 64)
>>> x, truth, shape = datasets.planted_series(3000, 2, 4, 50, 70, seed=0)
>>> x.shape, len(truth), shape.shape
((3000, 2), 4, (70, 2))
>>> datasets.synthetic_sensors(500, 3, 16).dtype
dtype('int16')
"""

from __future__ import annotations

import numpy as np

__all__ = ["planted_series", "synthetic_embeddings", "synthetic_sensors"]


def synthetic_embeddings(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Low-rank Gaussian mixture plus noise, the shape of real embedding sets: float32 (n, d).

    >>> synthetic_embeddings(3, 16, seed=1).dtype
    dtype('float32')
    """
    rng = np.random.default_rng(seed)
    rank = max(4, d // 8)
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    centers = rng.normal(size=(64, rank)) * 2.0
    latent = centers[rng.integers(64, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + 0.25 * rng.normal(size=(n, d))).astype(np.float32)


def planted_series(n: int, d: int, K: int, lo: int, hi: int, seed: int | np.random.Generator = 0, *,
                   noise: float = 0.3, walk: bool = False,
                   shape: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """K time-stretched instances (lengths in [lo, hi]) of one smooth shape in noise.

    The noise is a random walk if ``walk=True``. The shape (hi, d) is random unless given.
    Returns ``(x, truth, shape)``: x float64 (n, d), truth the ``[start, end)`` of every instance.

    >>> x, truth, _ = planted_series(2000, 1, 3, 40, 60, seed=2)
    >>> all(40 <= e - s <= 60 for s, e in truth)
    True
    """
    rng = np.random.default_rng(seed)
    if shape is None:
        shape = rng.normal(size=(hi, d)).cumsum(0)
        shape = (shape - shape.mean(0)) / shape.std(0)
    x = rng.normal(size=(n, d)) * noise
    if walk:
        x = x.cumsum(0)
    sp = hi + hi // 4 + 1
    slots = np.sort(rng.choice(np.arange(n // sp - 1), K, replace=False)) * sp + rng.integers(0, hi // 4, K)
    truth = []
    for s in slots:
        L = int(rng.integers(lo, hi + 1))
        inst = np.stack([np.interp(np.linspace(0, hi - 1, L), np.arange(hi), shape[:, j]) for j in range(d)], 1)
        x[s:s + L] += 2 * inst * np.hanning(L)[:, None] ** 0.5
        truth.append((int(s), int(s + L)))
    return x, truth, shape


def synthetic_sensors(n: int, nvars: int, bits: int, seed: int = 0) -> np.ndarray:
    """Multichannel sensor-like integers (int8 if bits == 8, else int16), shape (n, nvars):
    drifting oscillations, steps, plateaus and noise.

    >>> synthetic_sensors(100, 2, 8).shape
    (100, 2)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    freq = rng.uniform(1 / 400, 1 / 40, size=nvars)
    sig = np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, nvars)) + 0.3 * np.sin(2 * np.pi * 7 * freq * t)
    steps = np.cumsum(rng.random((n, nvars)) < 0.0005, axis=0) % 3 * 0.3
    sig = sig + steps
    top = (1 << (bits - 1)) - 1
    x = np.rint(sig / np.abs(sig).max() * 0.8 * top + rng.normal(0, 3 if bits == 16 else 0.6, size=(n, nvars)))
    return x.astype(np.int8 if bits == 8 else np.int16)
