"""A learned frame embedding of 13 MFCCs in which one word said by different voices lines up (numpy only).

The weights (``speech_contrastive.npz``, next to this file) are a small multilayer perceptron
trained offline by ``benchmarks/dev_cae.py --train`` (torch, seeded, CPU) with a contrastive loss:
a frame of a word said by one voice is pulled towards the DTW-aligned frame of the same word said
by another voice, and pushed from frames of other words said by the same voice, from pauses and
from the other frames of a batch. Training used 439 common English words (none of the
benchmark's target words) said by 62 espeak-ng and flite voices of the development pool (none of
its held-out voices); see benchmarks/notes/extract.md, issue 14, session 14.

Per series (one recording):
1. each MFCC column is standardised over the series (mean 0, sd 1): a per-coefficient gain, such
   as another implementation's lifter, cancels exactly;
2. each frame is stacked with its +-``context`` neighbours (edge rows repeated);
3. two ReLU layers and a linear output; the output row is scaled to unit length;
4. an activity gate ``g = sigmoid(GATE_SLOPE * (c0' - GATE_LEVEL))`` from the standardised level
   c0' multiplies the row, and ``GATE_DIMS`` columns hold g itself. Pauses thus sit near the
   origin and speech away from it, which is what the event search's background detection needs:
   on the bare unit-length rows it finds no background, since speech fills the whole sphere.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("speech_contrastive.npz")
# sha256 over the arrays (name, dtype, shape, bytes; sorted by name), so a re-saved file with the
# same numbers passes and a changed or truncated one does not
WEIGHTS_SHA256 = "dfd9abe58c7ec70eab7f710362217caa36031c75910a63d91bee299c2e58937a"
N_MFCC = 13              # c0..c12, as the evaluation and audio.mfcc give them
GATE_DIMS = 4            # columns that carry the activity gate
GATE_SLOPE = 4.0         # per series-sd of c0
GATE_LEVEL = -0.5        # the gate is one half this many series-sds below the mean level
_LAYERS = 3

_cache: dict[str, np.ndarray] = {}


def weights_digest(arrays: dict[str, np.ndarray]) -> str:
    """The checksum WEIGHTS_SHA256 is compared with (see above)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_weights() -> dict[str, np.ndarray]:
    """The packaged weights as float64 arrays (checked against WEIGHTS_SHA256 once per process)."""
    if not _cache:
        with np.load(WEIGHTS_FILE) as f:
            arrays = {k: f[k] for k in f.files}
        if weights_digest(arrays) != WEIGHTS_SHA256:
            raise RuntimeError(f"{WEIGHTS_FILE} does not match its checksum: reinstall tenfold")
        _cache.update({k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in arrays.items()})
    return _cache


def output_dims() -> int:
    """Columns of :func:`embed_mfcc`'s result."""
    return int(load_weights()[f"b{_LAYERS - 1}"].shape[0]) + GATE_DIMS


def _standardise(C: np.ndarray) -> np.ndarray:
    sd = C.std(axis=0)
    return (C - C.mean(axis=0)) / np.where(sd > 1e-12 * max(1.0, float(np.abs(C).max())), sd, 1.0)


def _stack(Z: np.ndarray, k: int) -> np.ndarray:
    P = np.pad(Z, ((k, k), (0, 0)), mode="edge")
    n = len(Z)
    return np.hstack([P[i:i + n] for i in range(2 * k + 1)])


def embed_mfcc(mfccs: np.ndarray) -> np.ndarray:
    """(frames, 13) MFCCs, c0 first -> (frames, output_dims()) float64 (see the module docstring)."""
    C = np.asarray(mfccs)
    if C.ndim != 2 or C.shape[1] != N_MFCC:
        raise ValueError(f"mfccs must have shape (frames, {N_MFCC}) with c0 first, got {C.shape}")
    if C.dtype.kind not in "fiu":
        raise TypeError(f"mfccs must be a real numeric array, got dtype {C.dtype}")
    if len(C) < 2:
        raise ValueError(f"mfccs must have at least 2 frames, got {len(C)}")
    C = C.astype(np.float64)
    if not np.isfinite(C).all():
        raise ValueError("mfccs must be finite (no NaN or inf)")
    W = load_weights()
    Z = _standardise(C)
    H = _stack(Z, int(W["context"]))
    for i in range(_LAYERS):
        H = H @ W[f"w{i}"] + W[f"b{i}"]
        if i < _LAYERS - 1:
            H = np.maximum(H, 0.0)
    E = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-12)
    g = 1.0 / (1.0 + np.exp(-GATE_SLOPE * (Z[:, :1] - GATE_LEVEL)))
    return np.hstack([g * E, np.repeat(g, GATE_DIMS, axis=1)])
