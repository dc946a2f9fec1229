"""Synthetic data sets with a known answer, used by the demo, the tests and the benchmarks.

Each generator is seeded and numpy-only:

>>> import numpy as np
>>> from tenfold import datasets
>>> datasets.synthetic_embeddings(1000, 64).shape
(1000, 64)
>>> x, truth, shape = datasets.planted_series(3000, 2, 4, 50, 70, seed=0)
>>> x.shape, len(truth), shape.shape
((3000, 2), 4, (70, 2))
>>> rng = np.random.default_rng(0)
>>> X, truth = datasets.events_in_noise(rng, datasets.event_shapes(rng, 5), [0, 1, 0, 2, 0])
>>> X.shape[1], len(truth)
(3, 3)
>>> datasets.synthetic_sensors(500, 3, 16).dtype
dtype('int16')
"""

from __future__ import annotations

import numpy as np

__all__ = ["event_shapes", "events_in_noise", "planted_series", "synthetic_embeddings", "synthetic_sensors"]


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


EVENT_BASELINE = 2.0  # the resting level of event_shapes; events_in_noise's gain scales deviations from it


def event_shapes(rng: np.random.Generator, m: int, d: int = 3, length: int = 40) -> list[np.ndarray]:
    """m distinct smooth events, each (length, d): a windowed sine per dimension (1-4 cycles, random
    phase) around EVENT_BASELINE.

    >>> [s.shape for s in event_shapes(np.random.default_rng(0), 2)]
    [(40, 3), (40, 3)]
    """
    t = np.linspace(0, 1, length)[:, None]
    out = []
    for _ in range(m):
        f = rng.uniform(1, 4, size=(1, d))
        ph = rng.uniform(0, 2 * np.pi, size=(1, d))
        out.append(EVENT_BASELINE + np.sin(2 * np.pi * f * t + ph) * 1.5 * np.hanning(length)[:, None])
    return out


def events_in_noise(rng: np.random.Generator, shapes: list[np.ndarray], order: list[int],
                    gap: tuple[int, int] = (20, 50),
                    gain: tuple[float, float] | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The events ``shapes[i]`` for i in ``order``, each time-warped by up to +-20%, separated by
    quiet noise (sd 0.05, gaps drawn from ``gap``); returns (series, [(start, end)] of shape 0).

    With ``gain``, each event's deviation from EVENT_BASELINE is scaled per dimension by a factor
    drawn from that range (another sensor, another voice).

    >>> rng = np.random.default_rng(1)
    >>> X, truth = events_in_noise(rng, event_shapes(rng, 3, d=2), [0, 1, 2, 0], gain=(0.5, 2.0))
    >>> X.shape[1], len(truth)
    (2, 2)
    """
    d = shapes[0].shape[1]
    parts, truth, pos = [], [], 0
    for i in order:
        g = int(rng.integers(*gap))
        parts.append(rng.normal(scale=0.05, size=(g, d)))
        pos += g
        base = shapes[i]
        L = round(len(base) * rng.uniform(0.8, 1.2))
        t = np.linspace(0, len(base) - 1, L)
        ev = np.stack([np.interp(t, np.arange(len(base)), base[:, k]) for k in range(d)], 1)
        if gain is not None:
            ev = (ev - EVENT_BASELINE) * rng.uniform(*gain, size=(1, d)) + EVENT_BASELINE
        parts.append(ev + rng.normal(scale=0.05, size=ev.shape))
        if i == 0:
            truth.append((pos, pos + L))
        pos += L
    parts.append(rng.normal(scale=0.05, size=(30, d)))
    return np.vstack(parts), truth
