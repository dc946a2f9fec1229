"""EXTRACT: find every instance of an unknown repeated event (Blalock & Guttag, ICDM'16).

Given a (multivariate) series that contains several instances of one event whose shape is not
known, and only a rough range for its length, :func:`find_instances` returns where each
instance starts and ends.

Two searches. When the series is a sequence of separate events between stretches of a quiet
background (speech between pauses, gestures between rests), the **segment search**
(:mod:`tenfold.segments`) decides: activity segments compared by time-warped distance, the
tightest group against its nearest outsiders, nothing if no group stands out
(``ExtractResult.method == "segments"``); for speech features, ``group_score="speech"`` chooses
and scores the group by an objective learned on speech recordings instead
(:mod:`tenfold.group_model`). Otherwise (events embedded in a continuous signal, e.g. a random
walk), the **shapelet search** below, after the EXTRACT paper, decides:

1. **Features.** For every dimension and every shapelet length (powers of two from 8 up to the
   max length) about ``log2(n)`` windows are sampled as shapelets, favouring windows with more
   structure than a random walk with the same step variance would have. A binary feature fires
   where a window of the series is a local minimum of the mean-centred squared distance to its
   shapelet, normalised by the shapelet's variance, and that distance is below ``threshold``.
   Features that fire fewer than twice, or (blurred) in at least half of all positions, are
   dropped. Each feature is blurred over time with a Hamming window of 0.6 x the min length
   (clipped to 1), so that slightly shifted instances still overlap.
2. **Objective.** A set of ``k`` equally long windows is scored by the log-odds of the features
   that fire in the same relative positions across them (a MAP estimate of a Bernoulli model per
   feature and offset, against each feature's background rate), minus the larger of the score
   expected from noise and the score of the best window left out (the "nearest enemy").
3. **Search.** Seed windows (the eight most structured at least ``min_length`` apart, plus
   shifts of them) are cross-correlated with the whole feature matrix; the local maxima at least ``min_length`` apart become
   candidates, added in order of similarity; the best prefix over all seeds wins. Instance
   bounds come from a maximum-sum segment, of length within the range, of each instance's
   evidence per time step minus its 60th percentile (so that consistent background, such as
   the silence around a word, is not counted as part of the event).
4. **Significance.** Each instance (up to 8) is held out in turn and scored by the filter learned
   from the others, slid over the blurred features: its response minus the median response away
   from every instance, in robust standard deviations (1.4826 x the median absolute deviation,
   at least one feature's weight), corrected for the search's choice among the series' disjoint
   windows. The median is ``significance``; a pair scores 0 (each was chosen for matching the
   other). Sets below ``min_significance`` are not reported.
5. **Completion.** A set that passes keeps growing: windows the search left out whose response
   to the set's filter reaches 0.4 x the instances' median (robust z, at least 3) join it.

Speech (WAV reading, MFCCs, the feature recipe) lives in :mod:`tenfold.audio`; nothing here is
specific to it but the ``group_score="speech"`` option, whose weights were fitted on speech
recordings and are used only when asked for.

Unlike the authors' research code, this handles length ranges wider than 2x: a long instance can
hold two candidate peaks ``min_length`` apart, so the search is repeated with candidates kept at
least the learned event length apart, and the final instances never overlap.

>>> import numpy as np
>>> from tenfold.extract import find_instances
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(scale=0.3, size=3000)
>>> bump = np.sin(np.linspace(0, 3 * np.pi, 60)) * 3
>>> for s in (300, 900, 1500, 2100, 2700):
...     x[s:s + 60] += bump
>>> hits = find_instances(x, 40, 80, random_state=0)
>>> [int(round(s, -2)) for s in hits.starts]   # starts, to the nearest hundred samples
[300, 900, 1500, 2100, 2700]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core, _io, group_model, segments
from ._checks import refuse_masked
from ._validate import validate_extract_result

__all__ = ["ExtractResult", "find_instances"]

_TYPE_NAME = "tenfold.ExtractResult"
MAX_FEATURE_CELLS = 400_000_000   # n x features of the binary feature matrix (float32)
# Largest |value| accepted in X: window sums of squares (up to n * value^2) must stay far below
# float64's maximum, 1.8e308.
MAX_ABS_VALUE = 1e100
# Smallest largest-|value| of a series that is not all zeros: squared differences (down to
# value^2 / n) must stay far above float64's smallest normal number, 2.2e-308.
MIN_ABS_VALUE = 1e-100
SIGNIFICANCE_FOLDS = 8
COMPLETE_FRACTION = 0.4  # a left-out window joins at this fraction of the instances' median z
JOIN_MIN_Z = 3.0         # ... and never below 3 robust standard deviations above the background
MAD_TO_SD = 1.4826      # median absolute deviation -> standard deviation of a Gaussian (1 / Phi^-1(3/4))
MATCH_FRACTION = 0.25   # default match() threshold, as a fraction of the median instance score
# match() of a group below the bar: the group pooled with its matches must score this x the bar
# (above the bar: 1 x). On the dev recordings (60 + 78 draws; notes/extract.md) 1.0 / 1.1 / 1.25
# gave match F1 0.75 / 0.74 / 0.70, and pairs of recordings without a repeated word nothing
# found in 85% / 88% / 93% of the benchmark's 60 dev pairs (88% before candidates were kept).
JOINT_BAR_FACTOR = 1.1
# match(): the group pooled with its matches must also score at least this x the score the
# group had alone in its own series (segments.stored_group_score): matches that weaken the group
# are not the event. Binding above the bar (below it, JOINT_BAR_FACTOR x the bar is higher). On
# 40 dev seeds of planted 3-D events (bench_extract_match_null.py) 0 / 0.9 / 1.0 gave nothing
# found in a series without the event in 78% / 82% / 95%, recall 0.98 throughout; speech dev
# match F1 0.71 / 0.71 / 0.69 (notes/extract.md, session 10, match-null).
JOINT_KEEP = 1.0
BOUNDARY_QUANTILE = 0.6  # per-instance bounds: evidence above this quantile of the window
# Default bar of the shapelet search's significance (see _significance). On series without a
# repeated event the best set scored at most 9.0 (60 MFCC noise recordings), 11.1 (40 1-D random
# walks, events 120-180 long), 4.8 (6-D walks) and 3.2 (white noise); GunPoint and BasicMotions
# gestures planted in random walks scored 41-274 and 2-718 (18 of 20 above 20). Dev series only;
# benchmarks/notes/extract.md has the held-out figures.
MIN_SIGNIFICANCE = 15.0
GROUP_SCORES = ("silhouette", "speech")   # find_instances(group_score=...)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def _as_series(X: Any, name: str = "X") -> np.ndarray:
    refuse_masked(X, name)
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one dimension, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        row = int(np.argmax(~np.isfinite(arr).all(axis=1)))
        raise ValueError(f"{name} contains NaN or infinite values (first at row {row}); "
                         "interpolate or drop them first")
    big = float(np.abs(arr).max()) if arr.size else 0.0
    if big > MAX_ABS_VALUE:
        raise ValueError(f"{name} has values up to {big:.3g} in magnitude; values beyond "
                         f"{MAX_ABS_VALUE:.0e} overflow the distance sums: rescale {name} first")
    if 0 < big < MIN_ABS_VALUE:
        raise ValueError(f"{name} has values of at most {big:.3g} in magnitude; below {MIN_ABS_VALUE:.0e} "
                         f"the distance sums underflow: rescale {name} first")
    return arr


def _is_real(value: Any) -> bool:
    """A real number, not NaN and not a bool (a bool given as a threshold is a slip, not 0 or 1)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(float(value))


def _check_length(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(float(value))
        else:
            raise TypeError(f"{name} must be an int number of samples, got {value!r}")
    value = int(value)
    if value < 2:
        raise ValueError(f"{name} must be >= 2 samples, got {value}")
    return value


def _check_lengths(n: int, min_length: Any, max_length: Any) -> tuple[int, int]:
    lo = _check_length(min_length, "min_length")
    hi = _check_length(max_length, "max_length")
    if lo > hi:
        raise ValueError(f"min_length ({lo}) must be <= max_length ({hi})")
    if n < 2 * hi:
        raise ValueError(f"X has {n} time steps; it must be at least 2 * max_length = {2 * hi} "
                         "long to contain two instances")
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------------

def _next_fast_len(n: int) -> int:
    """Smallest 2^a 3^b >= n (fast sizes for numpy's pocketfft)."""
    best = 1 << int(np.ceil(np.log2(max(n, 1))))
    p3 = 1
    while p3 < best:
        p2 = p3
        while p2 < n:
            p2 *= 2
        best = min(best, p2)
        p3 *= 3
    return best


def _window_sums(x: np.ndarray, L: int) -> np.ndarray:
    """Sums of every length-L window along the last axis (length n - L + 1)."""
    c = np.cumsum(x, axis=-1)
    c = np.concatenate([np.zeros(c.shape[:-1] + (1,)), c], axis=-1)
    return c[..., L:] - c[..., :-L]


def _structure_scores(x: np.ndarray, L: int, step_var: float) -> np.ndarray:
    """Variance of each length-L window relative to a random walk with the same step variance.

    A random walk of L steps with step variance s^2 has an expected within-window variance of
    about s^2 (L^2 - 1) / (6 L); values well above 1 mean more structure than such a walk.
    """
    s1 = _window_sums(x, L)
    s2 = _window_sums(x * x, L)
    var = np.maximum(s2 / L - (s1 / L) ** 2, 0.0)
    expected = step_var * (L * L - 1) / (6.0 * L)
    return var / expected


def _local_min_mask(D: np.ndarray) -> np.ndarray:
    """True where D is <= its left neighbour and < its right neighbour (along the last axis)."""
    m = np.ones(D.shape, dtype=bool)
    m[..., 1:] &= D[..., 1:] <= D[..., :-1]
    m[..., :-1] &= D[..., :-1] < D[..., 1:]
    return m


def _nonoverlapping_maxima(v: np.ndarray, sep: int, limit: int | None = None,
                           floor: float = 0.0) -> np.ndarray:
    """Indices of greedy maxima of v (largest first) at least `sep` apart, with v > floor (C++)."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    limit = len(v) if limit is None else int(limit)
    return _core.extract_nonoverlapping_maxima(v, max(1, int(sep)), float(floor), limit)


def _nonoverlapping_maxima_numpy(v: np.ndarray, sep: int, limit: int | None = None,
                                 floor: float = 0.0) -> np.ndarray:
    """Reference for the kernel: one vectorised step per selected peak."""
    v = np.array(v, dtype=np.float64)
    n = len(v)
    out: list[int] = []
    limit = n if limit is None else limit
    while len(out) < limit:
        i = int(np.argmax(v))
        if not v[i] > floor:
            break
        out.append(i)
        v[max(0, i - sep + 1):min(n, i + sep)] = -np.inf
    return np.asarray(out, dtype=np.int64)


def _best_segment(weights: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-sum contiguous segment with length in [lo, hi] of each row of `weights`.

    Returns (start, end) arrays (end exclusive). Rows shorter than lo give the whole row.
    """
    w = np.atleast_2d(weights)
    r, W = w.shape
    hi = min(hi, W)
    lo = min(lo, hi)
    c = np.concatenate([np.zeros((r, 1)), np.cumsum(w, axis=1)], axis=1)
    lengths = np.arange(lo, hi + 1)
    starts = np.arange(W + 1)
    ends = starts[None, :] + lengths[:, None]                 # (nL, W+1)
    valid = ends <= W
    sums = np.where(valid[None], c[:, np.minimum(ends, W)] - c[:, starts][:, None, :], -np.inf)
    flat = sums.reshape(r, -1).argmax(axis=1)
    li, si = np.unravel_index(flat, sums.shape[1:])
    return starts[si], starts[si] + lengths[li]


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------

@dataclass
class _ShapeletBank:
    """Shapelets that define the binary features: one row per feature."""
    dims: np.ndarray        # (F,) int64   which dimension of X
    lengths: np.ndarray     # (F,) int64   shapelet length
    values: np.ndarray      # (F, Lmax) float64, mean-centred shapelet, zero-padded
    variances: np.ndarray   # (F,) float64 mean squared value of the centred shapelet


def _shapelet_lengths(max_length: int) -> list[int]:
    lengths = [L for L in (8 << i for i in range(30)) if L <= max_length]
    return lengths or [max_length]


def _sample_shapelets(X: np.ndarray, max_length: int, rng: np.random.Generator,
                      per_length: int, magnitude: np.ndarray) -> _ShapeletBank:
    """Shapelets of the centred series X; ``magnitude`` (d,) is each dimension's largest absolute
    value before centring, the scale against which a dimension is numerically constant."""
    n, d = X.shape
    dims, lens, vals, vars_ = [], [], [], []
    for j in range(d):
        x = X[:, j]
        step_var = float(np.var(np.diff(x)))
        # relative to the data's own scale (an absolute floor made series of magnitude ~1e-12,
        # e.g. SI units, look constant); float64 steps below ~1e-12 of it are rounding noise
        if not step_var > 1e-24 * float(magnitude[j]) ** 2:
            continue  # constant (or numerically constant) dimension: no features
        for L in _shapelet_lengths(max_length):
            score = _structure_scores(x, L, step_var)
            weight = np.maximum(score - 1.0, 0.0)
            total = weight.sum()
            p = weight / total if total > 0 else None
            m = min(per_length, len(score))
            picks = np.sort(rng.choice(len(score), size=m, replace=False, p=p)
                            if p is None or np.count_nonzero(p) >= m
                            else np.flatnonzero(p))
            win = x[picks[:, None] + np.arange(L)]
            win = win - win.mean(axis=1, keepdims=True)
            v = (win * win).mean(axis=1)
            ok = v > 1e-12 * step_var
            win, v = win[ok], v[ok]
            padded = np.zeros((len(win), max_length))
            padded[:, :L] = win
            dims.append(np.full(len(win), j))
            lens.append(np.full(len(win), L))
            vals.append(padded)
            vars_.append(v)
    if not dims:
        return _ShapeletBank(np.zeros(0, np.int64), np.zeros(0, np.int64),
                             np.zeros((0, max_length)), np.zeros(0))
    return _ShapeletBank(np.concatenate(dims).astype(np.int64), np.concatenate(lens).astype(np.int64),
                         np.concatenate(vals), np.concatenate(vars_))


def _feature_matrix(X: np.ndarray, bank: _ShapeletBank, threshold: float) -> np.ndarray:
    """Binary (F, n) float32 matrix; feature f fires at the centre of matching windows."""
    n = X.shape[0]
    F = len(bank.dims)
    out = np.zeros((F, n), dtype=np.float32)
    if F == 0:
        return out
    maxL = int(bank.lengths.max())
    nfft = _next_fast_len(n + maxL)
    for j in np.unique(bank.dims):
        x = X[:, j] - X[:, j].mean()   # distances ignore offsets; centring keeps sums accurate
        xf = np.fft.rfft(x, nfft)
        for L in np.unique(bank.lengths[bank.dims == j]):
            rows = np.flatnonzero((bank.dims == j) & (bank.lengths == L))
            L = int(L)
            s = bank.values[rows, :L]
            corr = np.fft.irfft(xf[None, :] * np.conj(np.fft.rfft(s, nfft, axis=1)), nfft, axis=1)
            corr = corr[:, :n - L + 1]                         # sum_k x[t+k] s[k]
            s1 = _window_sums(x, L)
            s2 = _window_sums(x * x, L)
            wvar = np.maximum(s2 - s1 * s1 / L, 0.0)           # sum of centred squares
            v = bank.variances[rows, None] * L
            D = (wvar[None, :] - 2.0 * corr + v) / v
            fire = (D < threshold) & _local_min_mask(D)
            out[rows, L // 2:L // 2 + n - L + 1] = fire
    return out


def _blur(F_mat: np.ndarray, width: int) -> np.ndarray:
    """Convolve each row with a peak-1 Hamming window of `width` (centred), clip to [0, 1].

    Only the window's taps within n - 1 of its centre can touch an n-long row, so only those are
    built: a width far beyond n costs no more than width = 2n.
    """
    n = F_mat.shape[1]
    if F_mat.shape[0] == 0:
        return F_mat.copy()
    off = (width - 1) // 2
    i0, i1 = max(0, off - (n - 1)), min(width, off + n)       # taps that can reach the row
    idx = np.arange(i0, i1, dtype=np.float64)
    if width > 2:
        h = 0.54 - 0.46 * np.cos(2.0 * np.pi * idx / (width - 1))   # np.hamming(width)[i0:i1]
        h /= 0.54 + 0.46 * (np.cos(np.pi / (width - 1)) if width % 2 == 0 else 1.0)  # peak 1
    else:
        h = np.ones(len(idx))
    m = len(h)
    nfft = _next_fast_len(n + m)
    full = np.fft.irfft(np.fft.rfft(F_mat, nfft, axis=1) * np.fft.rfft(h, nfft)[None, :], nfft, axis=1)
    out = full[:, off - i0:off - i0 + n]
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Objective and search
# ---------------------------------------------------------------------------------------------

def _windows(MT: np.ndarray, starts: np.ndarray, W: int) -> np.ndarray:
    """(len(starts), W, F) stack of MT[s:s+W] for the time-major (n, F) matrix MT."""
    return MT[starts[:, None] + np.arange(W)[None, :]]


def _prefix_scores(XT: np.ndarray, BT: np.ndarray, cands: np.ndarray, W: int, log0: np.ndarray,
                   p0blur: float) -> np.ndarray:
    """Score of every prefix cands[:k] (index k); -inf for k < 2 and prefixes not evaluated.

    C++ kernel (tenfold._core.extract_prefix_scores); _prefix_scores_numpy is the same in numpy.
    """
    return _core.extract_prefix_scores(XT, BT, np.ascontiguousarray(cands, dtype=np.int64), int(W),
                                       np.ascontiguousarray(log0, dtype=np.float32), float(p0blur))


def _prefix_scores_numpy(X: np.ndarray, Xblur: np.ndarray, cands: np.ndarray, W: int,
                   log0: np.ndarray, p0blur: float, chunk_elems: int = 1 << 22) -> np.ndarray:
    """Score of every prefix cands[:k] (index k), k = 2..len(cands); -inf for k < 2.

    score(k) = sum(counts * filt) - max(k * p0blur * sum(filt), k * sum(filt * X[next]))
    with theta = blurred counts / k, filt = (log theta - log theta0) where it is a gain and
    theta > 1/2, and `next` the (k+1)-th candidate (the nearest enemy).
    """
    C = len(cands)
    scores = np.full(C + 1, -np.inf)
    if C < 2:
        return scores
    F = X.shape[1]
    step = int(np.clip(chunk_elems // max(1, F * W), 4, 32))
    counts = np.zeros((W, F), np.float32)
    blur = np.zeros((W, F), np.float32)
    half = np.float32(0.5)
    for c0 in range(0, C, step):
        c1 = min(C, c0 + step)
        if c0 >= 2 * int(np.argmax(scores)) + 8:
            break  # early stop: twice the best size (+8) evaluated without improvement
        wx = _windows(X, cands[c0:c1], W)
        wb = _windows(Xblur, cands[c0:c1], W)
        cnt, cb = wx, wb                      # running sums, in place (one step per candidate)
        cnt[0] += counts
        cb[0] += blur
        for i in range(1, c1 - c0):
            cnt[i] += cnt[i - 1]
            cb[i] += cb[i - 1]
        counts, blur = cnt[-1].copy(), cb[-1].copy()
        kk = np.arange(c0 + 1, c1 + 1, dtype=np.float32)
        theta = cb / kk[:, None, None]
        mask = (theta > half) & (cnt > 0)
        filt = np.log(np.maximum(theta, half), out=theta)
        filt -= log0
        filt *= mask
        np.maximum(filt, 0, out=filt)
        odds = np.einsum("kfw,kfw->k", cnt, filt)
        # nearest enemy: the next candidate (index k, 0-based) if any
        nxt = np.arange(c0 + 1, c1 + 1)
        has_next = nxt < C
        enemy = np.full(c1 - c0, -np.inf)
        if has_next.any():
            wn = _windows(X, cands[nxt[has_next]], W)
            enemy[has_next] = np.einsum("kfw,kfw->k", filt[has_next], wn) * kk[has_next]
        noise = filt.sum(axis=(1, 2)) * p0blur * kk
        sc = odds - np.maximum(noise, enemy)
        sc[kk < 2] = -np.inf
        scores[c0 + 1:c1 + 1] = sc
    return scores


def _seed_starts(X: np.ndarray, min_length: int, max_length: int, W: int, n_shifts: int,
                 step: int, n_seeds: int = 2) -> np.ndarray:
    n = X.shape[0]
    total = np.zeros(n)
    for j in range(X.shape[1]):
        x = X[:, j]
        sv = float(np.var(np.diff(x)))
        if not sv > 0:
            continue
        for div in (1, 2, 4, 8):
            L = max(2, min_length // div)
            sc = _structure_scores(x, L, sv)
            total[:len(sc)] += sc
    base = _nonoverlapping_maxima(total, min_length, limit=n_seeds, floor=-np.inf)
    shifts = step * np.arange(-n_shifts, n_shifts + 1)
    seeds = np.unique((base[:, None] + shifts[None, :]).ravel())
    return seeds[(seeds >= 0) & (seeds <= n - W)]


def _diag_sums(G: np.ndarray, row0: int, W: int, n_out: int) -> np.ndarray:
    """out[t] = sum_{j<W} G[row0 + j, t + j] for t < n_out (a strided view, no copy)."""
    rs, cs = G.strides
    view = np.lib.stride_tricks.as_strided(G[row0:], shape=(W, n_out), strides=(rs + cs, cs),
                                           writeable=False)
    return view.sum(axis=0, dtype=np.float64)


def _slide(filtT: np.ndarray, XT: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """dots[t] = sum_{j,f} filtT[j, f] * XT[t + j, f] for every full window (BLAS + diagonals)."""
    W = filtT.shape[0]
    n = XT.shape[0]
    out = np.empty(n - W + 1)
    for t0 in range(0, n - W + 1, block):
        t1 = min(n - W + 1, t0 + block)
        P = np.ascontiguousarray((XT[t0:t1 + W - 1] @ filtT.T).T)   # (W, t1 - t0 + W - 1)
        out[t0:t1] = _diag_sums(P, 0, W, t1 - t0)
    return out


def _seed_dots(XT: np.ndarray, BT: np.ndarray, seeds: np.ndarray, W: int,
               max_elems: int = 1 << 24) -> np.ndarray:
    """dots[i, t] = sum_{j,f} BT[seeds[i] + j, f] * XT[t + j, f] for every seed and window.

    Seeds come in runs of shifted windows; each run's rows of the blurred matrix are multiplied
    once with the whole feature matrix (BLAS), and each seed's scores are diagonal sums.
    """
    n = XT.shape[0]
    n_out = n - W + 1
    out = np.empty((len(seeds), n_out))
    runs = np.split(np.arange(len(seeds)), np.flatnonzero(np.diff(seeds) > W) + 1)
    for run in runs:
        r0, r1 = int(seeds[run[0]]), int(seeds[run[-1]]) + W
        U = r1 - r0
        block = max(1024, max_elems // U)
        for t0 in range(0, n_out, block):
            t1 = min(n_out, t0 + block)
            G = BT[r0:r1] @ XT[t0:t1 + W - 1].T                     # (U, t1 - t0 + W - 1)
            for i in run:
                out[i, t0:t1] = _diag_sums(G, int(seeds[i]) - r0, W, t1 - t0)
    return out


@dataclass
class _Search:
    score: float
    locs: np.ndarray


def _search(XT: np.ndarray, BT: np.ndarray, dots: np.ndarray, W: int, sep: int,
            log0: np.ndarray, p0blur: float, max_instances: int | None) -> _Search:
    best = _Search(0.0, np.zeros(0, np.int64))
    seen: set[bytes] = set()
    for row in dots:
        cands = _nonoverlapping_maxima(row, sep, limit=max_instances and max_instances + 1,
                                       floor=1e-6 * max(1.0, float(row.max())))
        key = cands.tobytes()
        if len(cands) < 2 or key in seen:   # shifted seeds often give the same candidates
            continue
        seen.add(key)
        scores = _prefix_scores(XT, BT, cands, W, log0, p0blur)
        if max_instances is not None:
            scores = scores[:max_instances + 1]
        k = int(np.argmax(scores))
        if scores[k] > best.score:
            best = _Search(float(scores[k]), np.sort(cands[:k]))
    return best


def _filter_for(XT: np.ndarray, BT: np.ndarray, locs: np.ndarray, W: int,
                log0: np.ndarray) -> np.ndarray:
    """The (W, F) log-odds filter of an instance set (see _prefix_scores)."""
    wx = _windows(XT, locs, W).sum(axis=0)
    wb = _windows(BT, locs, W).sum(axis=0)
    theta = wb / len(locs)
    logdiff = np.log(np.maximum(theta, 1e-12)) - log0
    return np.where((logdiff > 0) & (wx > 0) & (theta > 0.5), logdiff, 0.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

@dataclass
class ExtractResult:
    """Instances found by :func:`find_instances`, and the learned event model.

    Attributes
    ----------
    starts, ends : int64 arrays, sorted; instance i covers ``X[starts[i]:ends[i]]`` (end exclusive).
        Instances never overlap and have lengths within ``[min_length, max_length]``.
    scores : float64 array; log-odds evidence of each instance under the learned model.
    pattern : (length, d) float64 array; the mean of the instances (each cut to the median length).
    objective : the value of the EXTRACT objective for the chosen set (0 when nothing was found).
    significance : how well the set generalises: for each instance, the filter learned from the
        other instances is slid over the series' (blurred) features, and the instance's response
        is measured in robust standard deviations above the median response far from every
        instance, corrected for the number of disjoint windows the search chose from; the median
        over instances (0 for a pair, or if the series has almost no stretch away from the
        instances). On series without a repeated event (MFCCs of noise, 1-D and 6-D random walks,
        white noise) the best set scored at most 11; gestures planted in a random walk 2-718
        (most above 20), spoken words 10-20 (and shared syllables of distinct words up to 20).
        Threshold it with
        ``find_instances(min_significance=...)``. With the segment search, the group's score
        instead (``find_instances(min_group_score=...)``): its members' mean silhouette times k,
        or with ``group_score="speech"`` the learned objective's log-odds that the group is the
        event (:mod:`tenfold.group_model`).
    method : ``"shapelets"`` or ``"segments"``, the search that produced the result; match()
        uses the same one (the segment search: activity segments of the new series that join
        the instances' group; a result below the bar keeps its group as a candidate).
    """

    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    pattern: np.ndarray
    objective: float
    min_length: int
    max_length: int
    threshold: float
    blur_length: int
    # model (used by match)
    _bank: _ShapeletBank = field(repr=False)
    _filter: np.ndarray = field(repr=False)       # (W, F) float32
    _offset: tuple[int, int] = field(repr=False)  # event [loc + a, loc + b) for a filter peak at loc
    _match_threshold: float = field(repr=False)
    _n_dims: int = field(repr=False)
    significance: float = 0.0
    method: str = "shapelets"
    # segment search only: the instances' normalised rows stacked, and the end row of each
    _templates: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _template_ends: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    # ... and for a group below the bar (no instances reported): the members' distances to each
    # other, each one's nearest training outsiders' distances, and the bar (see match())
    _template_distances: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _template_outsiders: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _group_bar: float = field(repr=False, default=np.inf)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def match(self, X: Any, *, min_score: float | None = None) -> "ExtractResult":
        """Find the learned event in another series with the same dimensions.

        Slides the learned log-odds filter over the new series' features; every peak (at least
        one event length apart) whose evidence exceeds ``min_score`` is an instance. By default
        ``min_score`` is 0.25 x the median score of the training instances: the filter was fit
        to those, and new instances (other speakers, on our speech benchmark) score much less.
        For a segment-search result, the new series is segmented the same way and its segments
        are ranked by mean DTW distance to the instances. By default the accepted segments are the
        prefix of that ranking that forms, with the instances, the highest-scoring group (the
        score of ``find_instances``: mean silhouette x size; see
        :func:`tenfold.segments.joint_match`), among segments within 1.3 x a distance 0.8 of the
        way from the instances' typical distance to each other towards the outsiders' distance to
        them (and no farther than the training series' nearest outsider); the pooled group must
        score higher than the instances alone (every segment of the new series among their
        outsiders), still pass the bar, and keep at least the score the group had in its own
        series (``JOINT_KEEP``), else nothing: a segment that makes the group looser is not the
        event, however strong the group was (one such segment barely lowers a strong group's
        score, and passed the bar before). With ``min_score``, a segment is an instance when
        minus its mean distance exceeds it. When the training series' best group scored below the bar (no
        instances were reported: too few or too varied repeats to tell them from chance likeness
        in one series), the group is kept as a candidate: its matches in the new series are
        reported only if the candidate's members together with them score at least
        ``JOINT_BAR_FACTOR`` (1.1) x the bar (``find_instances(min_group_score=...)``) as one
        group (:func:`tenfold.segments.joint_group_score`): the two series together show a
        repeated event. Without such matches, or for a result of the shapelet search, nothing.
        Pooled groups are always scored by the silhouette score, also after
        ``group_score="speech"``, whose ``significance`` is :mod:`tenfold.group_model`'s
        log-odds: there the bar of a reported group is the lower of ``segments.group_bar`` and
        the group's own silhouette score, and a candidate is the silhouette score's best group,
        held to ``JOINT_BAR_FACTOR`` x ``segments.group_bar``.

        >>> import numpy as np
        >>> from tenfold.extract import find_instances
        >>> rng = np.random.default_rng(1)
        >>> bump = np.hanning(50) * 4
        >>> def make(starts, n=2000):
        ...     x = rng.normal(scale=0.3, size=n)
        ...     for s in starts:
        ...         x[s:s + 50] += bump
        ...     return x
        >>> hits = find_instances(make([100, 600, 1100, 1600]), 40, 60, random_state=0)
        >>> found = hits.match(make([300, 1200]))
        >>> [int(round(s, -2)) for s in found.starts]
        [300, 1200]
        """
        if min_score is not None and not _is_real(min_score):
            raise ValueError(f"min_score must be a real number or None, got {min_score!r}")
        Xs = _as_series(X)
        if Xs.shape[1] != self._n_dims:
            raise ValueError(f"X has {Xs.shape[1]} dimensions; the event was learned on {self._n_dims}")
        if self.method == "segments":
            return self._match_segments(Xs, min_score)
        We = self._filter.shape[0]
        a, b = self._offset
        P = self.max_length // 2      # the filter spans [loc - P, loc - P + We)
        n = Xs.shape[0]
        empty = np.zeros(0, np.int64)
        if len(self.starts) == 0 or n < self.max_length:
            return self._derived(empty, empty, np.zeros(0), Xs)
        raw = _feature_matrix(Xs, self._bank, self.threshold)
        dots = _slide(self._filter, np.pad(raw.T, ((P, We), (0, 0))))[:n]
        thr = self._match_threshold if min_score is None else float(min_score)
        locs = np.sort(_nonoverlapping_maxima(dots, max(b - a, self.min_length), floor=thr))
        starts, ends = _place(locs + a, locs + b, n)
        if self.max_length > self.min_length and len(locs):
            blurred = np.pad(_blur(raw, self.blur_length).T, ((P, We), (0, 0)))
            starts, ends = _instance_bounds(blurred, locs, self._filter, P, self.min_length,
                                            self.max_length, n, starts, ends)
        return self._derived(starts, ends, dots[locs], Xs)

    def _match_segments(self, Xs: np.ndarray, min_score: float | None) -> "ExtractResult":
        """match() for the segment search: activity segments of Xs close to the instances by DTW."""
        empty = np.zeros(0, np.int64)
        k = len(self._template_ends)
        candidate = len(self.starts) == 0          # a group below the bar, or nothing at all
        if k == 0 or Xs.shape[0] < 2 or (candidate and len(self._template_distances) != k):
            return self._derived(empty, empty, np.zeros(0), Xs)
        s, e, D = segments.template_distances(Xs, self._templates, self._template_ends,
                                              self.min_length, self.max_length)
        dist = D.mean(axis=1) if len(s) else np.zeros(0)
        thr = self._match_threshold if min_score is None else float(min_score)
        bar = self._group_bar * (JOINT_BAR_FACTOR if candidate else 1.0)
        if min_score is None and len(self._template_distances) == k:
            # the cut adapts to X: the prefix (by distance) that joins the members best; the pooled
            # group must still pass the bar (a candidate below it: JOINT_BAR_FACTOR x the bar)
            # (a result above the bar may also accept every segment within its fixed threshold,
            # e.g. a series that holds only the event; a candidate at most half of them)
            most = len(s) // 2 if candidate else max(len(s) // 2, int(np.sum(-dist > thr)))
            ok, joint = segments.joint_match(Xs, s, e, D, -thr, self._template_distances, self._template_outsiders,
                                             most)
            # ... and keep the group's own score (a group of every segment had no outsiders: the
            # bar only, its score against decoys is not kept)
            own = segments.stored_group_score(self._template_distances, self._template_outsiders) \
                if self._template_outsiders.shape[1] else -np.inf
            if not (ok.any() and joint >= bar and joint >= JOINT_KEEP * own):
                return self._derived(empty, empty, np.zeros(0), Xs)
        else:          # the user's min_score, or a file saved before the neighbourhood was kept
            ok = -dist > thr
            if candidate and not (ok.any() and segments.joint_group_score(
                    Xs, s, e, D, ok, self._template_distances, self._template_outsiders) >= bar):
                return self._derived(empty, empty, np.zeros(0), Xs)
        starts, ends = _fit_range(s[ok], e[ok], self.min_length, self.max_length, Xs.shape[0])
        return self._derived(starts, ends, -dist[ok], Xs)

    def _derived(self, starts: np.ndarray, ends: np.ndarray, scores: np.ndarray,
                 Xs: np.ndarray) -> "ExtractResult":
        return ExtractResult(starts.astype(np.int64), ends.astype(np.int64), np.asarray(scores, np.float64),
                             _mean_pattern(Xs, starts, ends), self.objective, self.min_length,
                             self.max_length, self.threshold, self.blur_length, self._bank,
                             self._filter, self._offset, self._match_threshold, self._n_dims,
                             self.significance, self.method, self._templates, self._template_ends,
                             self._template_distances, self._template_outsiders, self._group_bar)

    def save(self, path: Any) -> None:
        """Save the result and model (``tenfold.load(path)`` reads it back; no pickle)."""
        meta = {"objective": self.objective, "min_length": self.min_length, "max_length": self.max_length,
                "threshold": self.threshold, "blur_length": self.blur_length,
                "offset": list(self._offset), "match_threshold": self._match_threshold,
                "n_dims": self._n_dims, "significance": self.significance, "method": self.method,
                "group_bar": self._group_bar}
        arrays = {"starts": self.starts, "ends": self.ends, "scores": self.scores,
                  "pattern": self.pattern, "filter": self._filter, "bank_dims": self._bank.dims,
                  "bank_lengths": self._bank.lengths, "bank_values": self._bank.values,
                  "bank_variances": self._bank.variances, "templates": self._templates,
                  "template_ends": self._template_ends, "template_distances": self._template_distances,
                  "template_outsiders": self._template_outsiders}
        _io.save(path, _TYPE_NAME, meta, arrays)


def _load(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ExtractResult:
    validate_extract_result(meta, arrays)
    bank = _ShapeletBank(arrays["bank_dims"], arrays["bank_lengths"], arrays["bank_values"],
                         arrays["bank_variances"])
    return ExtractResult(arrays["starts"], arrays["ends"], arrays["scores"], arrays["pattern"],
                         float(meta["objective"]), int(meta["min_length"]), int(meta["max_length"]),
                         float(meta["threshold"]), int(meta["blur_length"]), bank, arrays["filter"],
                         (int(meta["offset"][0]), int(meta["offset"][1])),
                         float(meta["match_threshold"]), int(meta["n_dims"]),
                         float(meta.get("significance", 0.0)),   # older files have none: 0
                         str(meta.get("method", "shapelets")),   # older files: the shapelet search
                         arrays.get("templates", np.zeros((0, 0))),
                         arrays.get("template_ends", np.zeros(0, np.int64)),
                         # absent before the candidate group (files of a result below the bar
                         # then held no templates): match() of such a result finds nothing
                         arrays.get("template_distances", np.zeros((0, 0))),
                         arrays.get("template_outsiders", np.zeros((0, 0))),
                         float(meta.get("group_bar", np.inf)))


_io.register(_TYPE_NAME, _load)


def _fit_range(starts: np.ndarray, ends: np.ndarray, lo: int, hi: int,
               n: int) -> tuple[np.ndarray, np.ndarray]:
    """Widen segments shorter than lo and trim longer than hi about their centres, inside [0, n).

    Widened neighbours may touch; an overlap is cut at the midpoint between the two centres.
    """
    L = ends - starts
    mid2 = starts + ends                          # twice the centre
    newL = np.clip(L, lo, hi)
    s = (mid2 - newL) // 2
    s, e = _place(s, s + newL, n)
    for i in range(1, len(s)):
        if s[i] < e[i - 1]:
            cut = (mid2[i - 1] + mid2[i]) // 4
            e[i - 1], s[i] = max(cut, s[i - 1] + 1), max(cut, s[i - 1] + 1)
    return s.astype(np.int64), e.astype(np.int64)


def _mean_pattern(X: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    if len(starts) == 0:
        return np.zeros((0, X.shape[1]))
    L = int(np.median(ends - starts))
    L = max(1, min(L, X.shape[0] - int(starts.max())))
    return X[starts[:, None] + np.arange(L)[None, :]].mean(axis=0)


def find_instances(X: Any, min_length: int, max_length: int, *, random_state: Any = None,
                   threshold: float = 0.25, blur_length: int | None = None,
                   shapelets_per_length: int | None = None, n_seeds: int = 8, n_shifts: int = 3,
                   max_instances: int | None = None, per_instance_bounds: bool = True,
                   min_significance: float = MIN_SIGNIFICANCE, search: str = "auto",
                   min_group_score: float | None = None, group_score: str = "silhouette") -> ExtractResult:
    """Find every instance of the repeated event in ``X``.

    Parameters
    ----------
    X : array (n,) or (n, d)
        The series (rows are time steps). Must be finite and at least ``2 * max_length`` long.
    min_length, max_length : int
        Range of the event's length in samples; ranges up to (at least) 2.5x are supported.
    random_state : None, int or numpy Generator
        Seeds the shapelet sampling; the result is deterministic for a fixed seed.
    threshold : float
        A feature fires where the normalised distance to its shapelet is below this (0.25).
    blur_length : int, optional
        Width of the Hamming blur (default ``0.6 * min_length``; the authors used ``min_length``,
        which tolerated less variation in speaking rate on our speech benchmark).
    shapelets_per_length : int, optional
        Shapelets sampled per dimension and length (default ``ceil(log2(n))``).
    n_seeds : int
        The search starts from this many seed windows: the most structured windows at least
        ``min_length`` apart (8; two missed the event among many distractor words).
    n_shifts : int
        Each seed window is also tried shifted by ``k * max_length / 10`` for ``|k| <= n_shifts``.
    max_instances : int, optional
        Upper bound on the number of instances returned (>= 2; the strongest are kept. The
        shapelet search's significance needs 3, so with 2 it still looks for 3).
    per_instance_bounds : bool
        Give each instance its own start and end (default); if False, all instances share the
        offsets learned for the event (they then all have the same length).
    min_significance : float
        Shapelet search: report nothing unless the set's leave-one-out significance
        (``ExtractResult.significance``) reaches this. Default 15: the best set on series without
        a repeated event scored at most 11 (MFCC noise, 1-D and 6-D random walks, white noise;
        random walks searched for short events, 50 steps in 2000, reached 47: their ramps
        and bends recur), gestures planted in a random walk mostly 20-700. With 0 every set found
        is reported.
    search : "auto", "segments" or "shapelets"
        Which search decides. ``"auto"`` (default): the segment search when its candidate
        segments hold at least 80% of the series' activity and are separated by real pauses,
        else the shapelet search.
    min_group_score : float or None
        Segment search: report nothing unless the group's score (``significance``) reaches this
        fixed bar. With ``group_score="silhouette"`` the score is the members' mean silhouette
        times k (see :mod:`tenfold.segments`), and by default (None) the bar adapts to the
        series, ``segments.group_bar`` (1.1 on a typical series, higher where the segments have
        close neighbours, as one source's different events do, lower where they are diverse);
        the bar used is kept for ``match()``. With ``group_score="speech"`` the score is
        :mod:`tenfold.group_model`'s log-odds and the default bar ``group_model.BAR`` (about
        -1.1: 93% of the development recordings without a repeated word report nothing).
    group_score : "silhouette" or "speech"
        Segment search: how the group is chosen and scored. ``"silhouette"`` (default, for any
        kind of data): the members' mean silhouette times k. ``"speech"``: a ranker and a
        logistic bar over 20 scale-free group statistics, fitted on speech features (mel bands
        from 13 MFCCs) of the benchmark's development voices (:mod:`tenfold.group_model`); for
        speech on a mel axis (``audio.speech_features``, ``audio.bands_from_mfcc``), as the
        ``find-instances`` command uses it on WAV files. On 120 recordings whose voices no
        fitted draw used, words repeated by a voice per word among many distractors are found
        with F1@.5 0.78 instead of 0.67, and 97% of recordings without a repeat report nothing
        instead of 90%. On raw MFCCs it helps a voice per word less and costs one voice (held
        out 0.90 / 0.92 -> 0.83 / 0.87): map them with ``audio.bands_from_mfcc`` first. It is
        not for other data: on a synthetic 16-D series of events gliding along the feature axis
        it finds F1@.5 0.16 where the silhouette score finds 0.61, at the same 90% nothing found
        (``benchmarks/notes/extract.md``, session 17).

    Returns
    -------
    ExtractResult
        ``starts``, ``ends`` (sorted, non-overlapping), ``scores``, ``pattern``, ``significance``,
        ``method`` and ``match``. With the segment search, ``scores`` are minus each instance's
        mean DTW distance to the others. A series without a repeated structure (e.g. a constant one or noise) gives
        no instances; ``significance`` then says how close the best set came.

    >>> import numpy as np
    >>> x = np.zeros(500)
    >>> len(find_instances(x, 20, 40))
    0
    """
    Xs = _as_series(X)
    n, d = Xs.shape
    lo, hi = _check_lengths(n, min_length, max_length)
    if not (_is_real(threshold) and 0 < threshold < 4):
        raise ValueError(f"threshold must be a number in (0, 4), got {threshold!r}")
    blur = max(2, int(round(0.6 * lo))) if blur_length is None else _check_length(blur_length, "blur_length")
    if blur > n:
        raise ValueError(f"blur_length ({blur}) must be <= the length of X ({n} time steps)")
    if shapelets_per_length is None:
        per_length = int(np.ceil(np.log2(n)))
    elif isinstance(shapelets_per_length, bool) or not isinstance(shapelets_per_length, numbers.Integral) \
            or shapelets_per_length < 1:
        raise ValueError(f"shapelets_per_length must be a positive int, got {shapelets_per_length!r}")
    else:
        per_length = int(shapelets_per_length)
    n_features = d * len(_shapelet_lengths(hi)) * per_length
    if n_features * n > MAX_FEATURE_CELLS:
        raise ValueError(f"X is too long for one call: {n} steps x up to {n_features} features exceeds "
                         f"{MAX_FEATURE_CELLS:.0e} cells (~{MAX_FEATURE_CELLS * 4 / 2**30:.0f} GiB); "
                         "split the series or downsample it")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, numbers.Integral) or not 1 <= n_seeds <= 1000:
        raise ValueError(f"n_seeds must be an int in [1, 1000], got {n_seeds!r}")
    if not _is_real(min_significance):
        raise ValueError(f"min_significance must be a real number, got {min_significance!r}")
    if min_group_score is not None and not _is_real(min_group_score):
        raise ValueError(f"min_group_score must be a real number or None, got {min_group_score!r}")
    if not isinstance(group_score, str) or group_score not in GROUP_SCORES:
        raise ValueError(f"group_score must be one of {', '.join(map(repr, GROUP_SCORES))}, got {group_score!r}")
    if search not in ("auto", "segments", "shapelets"):
        raise ValueError(f"search must be 'auto', 'segments' or 'shapelets', got {search!r}")
    if isinstance(n_shifts, bool) or not isinstance(n_shifts, numbers.Integral) or n_shifts < 0:
        raise ValueError(f"n_shifts must be a non-negative int, got {n_shifts!r}")
    if max_instances is not None:
        if isinstance(max_instances, bool) or not isinstance(max_instances, numbers.Integral) \
                or max_instances < 2:
            raise ValueError(f"max_instances must be an int >= 2 or None, got {max_instances!r}")
        max_instances = int(max_instances)
    rng = np.random.default_rng(random_state)

    if search != "shapelets":
        group = segments.compare_segments(Xs, lo, hi)
        if search == "segments" or (group.coverage >= segments.MIN_COVERAGE and len(group.seg_starts) >= 3):
            # separate events that do not group: nothing found (no fallback to the shapelets,
            # which find sub-event repeats, e.g. shared syllables, in such series)
            if group_score == "speech" and len(group.seg_starts) >= 2:
                bar = group_model.BAR if min_group_score is None else float(min_group_score)
                group, match_bar = _learned_group(group, lo, hi, bar)
            else:
                group = segments.with_members(group, *segments.best_group(group.distances, group.decoy_distances))
                bar = segments.group_bar(group.distances) if min_group_score is None else float(min_group_score)
                match_bar = bar
            return _segment_result(Xs, group, lo, hi, float(threshold), max(2, int(round(0.6 * lo))),
                                   bar, match_bar, max_instances)

    # centre each dimension (keeps cumulative sums accurate; distances are shift-invariant)
    Xc = Xs - Xs.mean(axis=0, keepdims=True)
    bank = _sample_shapelets(Xc, hi, rng, per_length, np.abs(Xs).max(axis=0))
    feats = _feature_matrix(Xc, bank, float(threshold))
    fblur = _blur(feats, blur)
    keep = (feats.sum(axis=1) >= 2) & (fblur.mean(axis=1) < 0.5)
    bank = _ShapeletBank(bank.dims[keep], bank.lengths[keep], bank.values[keep], bank.variances[keep])
    feats, fblur = feats[keep], fblur[keep]

    step = max(1, hi // 10)
    W = hi + step
    empty_i = np.zeros(0, np.int64)

    def nothing(significance: float = 0.0) -> ExtractResult:
        return ExtractResult(empty_i, empty_i.copy(), np.zeros(0), np.zeros((0, d)), 0.0, lo, hi,
                             float(threshold), blur, bank, np.zeros((W + 2 * (hi // 2), len(bank.dims)), np.float32),
                             (0, lo), np.inf, d, float(significance))

    if len(bank.dims) == 0 or n < W + 1:
        return nothing()

    p0blur = float(fblur.mean())
    log0 = np.log(fblur.mean(axis=1)).astype(np.float32)
    XT = np.ascontiguousarray(feats.T)
    BT = np.ascontiguousarray(fblur.T)
    seeds = _seed_starts(Xc, lo, hi, W, n_shifts, step, n_seeds)
    dots = _seed_dots(XT, BT, seeds, W)

    # Seeds need not start where the event starts: learn the filter and the bounds on windows
    # widened by P on both sides (zero features beyond the series ends). Offsets are from loc.
    P = hi // 2
    XTp = np.pad(XT, ((P, P), (0, 0)))
    BTp = np.pad(BT, ((P, P), (0, 0)))
    We = W + 2 * P

    def model(locs: np.ndarray) -> tuple[np.ndarray, int, int]:
        filt = _filter_for(XTp, BTp, locs, We, log0)
        a, b = _segment_offsets(filt, BTp, locs, log0, lo, hi)
        return filt, a - P, b - P

    # the significance holds out one instance of at least 3 (see _significance): with
    # max_instances=2 the search still looks for 3, and the 2 strongest are returned
    search_max = None if max_instances is None else max(max_instances, 3)
    best = _search(XT, BT, dots, W, lo, log0, p0blur, search_max)
    if len(best.locs) < 2:
        return nothing()
    filt, a, b = model(best.locs)
    if b - a > lo:
        # Wide range: candidates only min_length apart can put two peaks in one long instance.
        # Search again with candidates at least the learned event length apart; keep the better.
        again = _search(XT, BT, dots, W, int(b - a), log0, p0blur, search_max)
        if len(again.locs) >= 2 and again.score >= best.score:
            best = again
            filt, a, b = model(best.locs)
    significance = _significance(XTp, BTp, best.locs, We, log0, max(b - a, lo))
    if significance < min_significance:
        return nothing(significance)
    room = None if search_max is None else search_max - len(best.locs)
    if COMPLETE_FRACTION > 0 and room != 0:
        more = _complete(XTp, BTp, best.locs, filt, We, max(b - a, lo), room)
        if len(more):
            best = _Search(best.score, np.sort(np.concatenate([best.locs, more])))
            filt, a, b = model(best.locs)
    locs = best.locs
    inst_scores = np.einsum("kwf,wf->k", _windows(XTp, locs, We), filt).astype(np.float64)
    # instances must not overlap: drop the weaker of any pair closer than the event length
    kept = _nonoverlapping_maxima(_scatter(inst_scores, locs, n), max(b - a, 1), floor=-np.inf)
    locs = np.sort(kept)
    inst_scores = inst_scores[np.searchsorted(best.locs, locs)]
    if max_instances is not None and len(locs) > max_instances:
        top = np.sort(np.argsort(-inst_scores, kind="stable")[:max_instances])
        locs, inst_scores = locs[top], inst_scores[top]
    starts, ends = _place(locs + a, locs + b, n)
    if per_instance_bounds and hi > lo:
        starts, ends = _instance_bounds(BTp, locs, filt, P, lo, hi, n, starts, ends)
    # threshold for match(): the filter was fit to these very instances, and instances in new
    # recordings score much less. On the speech benchmark's tuning recordings (the same word by
    # other speakers), 0.15/0.25/0.35/0.5 x the median gave match F1@.5 0.57/0.62/0.47/0.24.
    match_thr = MATCH_FRACTION * float(np.median(inst_scores))
    return ExtractResult(starts.astype(np.int64), ends.astype(np.int64), inst_scores,
                         _mean_pattern(Xs, starts, ends), best.score, lo, hi, float(threshold), blur,
                         bank, filt, (int(a), int(b)), match_thr, d, significance)


def _learned_group(group: segments.Group, lo: int, hi: int, bar: float) -> tuple[segments.Group, float]:
    """The group of tenfold.group_model among the segments' candidate groups, with the learned
    significance, and match()'s bar in silhouette-score units (match() pools a group with a new
    series' segments and scores them by the silhouette score).

    A group that reaches ``bar`` is reported; match() then needs the pooled group to score at least
    the group's own silhouette score (JOINT_KEEP) and the lower of that and segments.group_bar.
    Below ``bar`` the candidate kept for match() is the silhouette score's best group, whose
    pooled score must reach JOINT_BAR_FACTOR x segments.group_bar (vdev pairs: match() F1 0.793
    and null pairs nothing found 98%, against 0.764 / 98% with the learned group as the candidate
    and 0.781 / 100% before the learned objective; benchmarks/notes/extract.md, session 17).
    """
    D, R = group.distances, group.decoy_distances
    m, significance, m_sil, _ = group_model.best_group(D, R, group.seg_starts, group.seg_ends, lo, hi)
    silhouette_bar = segments.group_bar(D)
    if not significance >= bar:
        return segments.with_members(group, m_sil, significance), silhouette_bar
    return segments.with_members(group, m, significance), min(silhouette_bar, segments.group_score(D, R, m))


def _segment_result(Xs: np.ndarray, group: segments.Group, lo: int, hi: int, threshold: float, blur: int,
                    min_significance: float, match_bar: float, max_instances: int | None) -> ExtractResult:
    """ExtractResult of the segment search (no shapelet model; match() uses the templates and
    match_bar, a bar in silhouette-score units: see ExtractResult.match)."""
    n, d = Xs.shape
    W = hi + max(1, hi // 10)
    bank = _ShapeletBank(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, hi)), np.zeros(0))
    filt = np.zeros((W + 2 * (hi // 2), 0), np.float32)
    m = group.members
    if len(m) < 2:
        e = np.zeros(0, np.int64)
        return ExtractResult(e, e.copy(), np.zeros(0), np.zeros((0, d)), 0.0, lo, hi, threshold, blur, bank,
                             filt, (0, lo), np.inf, d, float(group.significance), "segments")
    if not group.significance >= min_significance:
        # nothing reported; the group is kept as a candidate that match() confirms only together
        # with its matches in another series (the pooled group must pass the same bar)
        e = np.zeros(0, np.int64)
        templates, tends = segments.templates_of(group)
        near_d, near_out = segments.template_neighbourhood(group)
        return ExtractResult(e, e.copy(), np.zeros(0), np.zeros((0, d)), 0.0, lo, hi, threshold, blur, bank,
                             filt, (0, lo), -segments.match_distance_threshold(group), d,
                             float(group.significance), "segments", templates, tends, near_d, near_out,
                             float(match_bar))
    D = group.distances[np.ix_(m, m)]
    closeness = -D.sum(axis=1) / (len(m) - 1)          # minus the mean DTW distance to the others
    if max_instances is not None and len(m) > max_instances:
        keep = np.sort(np.argsort(-closeness, kind="stable")[:max_instances])
        group = segments.Group(group.starts[keep], group.ends[keep], group.significance, m[keep],
                               group.seg_starts, group.seg_ends, group.distances, group.features,
                               group.decoy_distances, group.coverage)
        closeness = closeness[keep]
    templates, tends = segments.templates_of(group)
    near_d, near_out = segments.template_neighbourhood(group)
    starts, ends = _fit_range(group.starts, group.ends, lo, hi, n)
    return ExtractResult(starts, ends, closeness.astype(np.float64), _mean_pattern(Xs, starts, ends), 0.0,
                         lo, hi, threshold, blur, bank, filt, (0, lo),
                         -segments.match_distance_threshold(group), d, float(group.significance),
                         "segments", templates, tends, near_d, near_out, float(match_bar))


def _significance(XTp: np.ndarray, BTp: np.ndarray, locs: np.ndarray, We: int, log0: np.ndarray,
                  sep: int) -> float:
    """Leave-one-out evidence of the instance set, in robust standard deviations of the background.

    For each instance, the filter learned from the *other* instances is slid over the series'
    blurred features (so that a held-out instance a few steps off the others' alignment still
    counts); the instance's response is compared with the responses at every position at least
    ``sep`` away from all instances: minus their median, over 1.4826 x their median absolute
    deviation (the standard deviation for Gaussian responses; instances the search missed are
    outliers there and do not inflate it), floored at the response to one matching feature (a
    background that almost never responds has no spread). The z-score is then corrected for the
    search's choice among the ``N = positions / sep`` disjoint windows (a Bonferroni bound in
    Gaussian units, to leading order: ``sqrt(z^2 - 2 ln N)``, 0 below). Returns the median over
    held-out instances (at most SIGNIFICANCE_FOLDS, evenly spaced: each costs one slide of the
    filter), or 0 when the set has fewer than 3 instances (a pair was chosen because its two
    windows match each other, so holding one out tests nothing) or fewer than 10 positions lie
    away from the instances (no background to compare with).
    """
    k = len(locs)
    if k < 3:
        return 0.0
    npos = XTp.shape[0] - We + 1
    far = np.ones(npos, bool)
    for c in locs:
        far[max(0, c - sep + 1):c + sep] = False     # |t - c| < sep
    if far.sum() < 10:
        return 0.0
    windows = max(1.0, npos / sep)
    z = []
    for i in np.unique(np.linspace(0, k - 1, min(k, SIGNIFICANCE_FOLDS)).round().astype(int)):
        others = np.delete(locs, i)
        f = _filter_for(XTp, BTp, others, We, log0)
        cols = np.flatnonzero(f.any(axis=0))
        if len(cols) == 0:
            z.append(0.0)
            continue
        r = _slide(np.ascontiguousarray(f[:, cols]), np.ascontiguousarray(BTp[:, cols]))
        bg = r[:npos][far]
        centre = float(np.median(bg))
        spread = max(MAD_TO_SD * float(np.median(np.abs(bg - centre))), float(f[f > 0].mean()))
        zi = (float(r[locs[i]]) - centre) / spread
        z.append(float(np.sqrt(max(zi * zi - 2.0 * np.log(windows), 0.0))) if zi > 0 else 0.0)
    return float(np.median(z))


def _robust_z(r: np.ndarray, far: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """(r - median) / spread of the responses r at the `far` positions (see _significance)."""
    bg = r[far]
    centre = float(np.median(bg))
    spread = max(MAD_TO_SD * float(np.median(np.abs(bg - centre))), float(filt[filt > 0].mean()))
    return (r - centre) / spread


def _far_from(locs: np.ndarray, npos: int, sep: int) -> np.ndarray:
    far = np.ones(npos, bool)
    for c in locs:
        far[max(0, c - sep + 1):c + sep] = False     # |t - c| < sep
    return far


def _complete(XTp: np.ndarray, BTp: np.ndarray, locs: np.ndarray, filt: np.ndarray, We: int,
              sep: int, limit: int | None = None) -> np.ndarray:
    """Windows the search left out that respond to the set's filter like its own instances.

    The search stops adding candidates when the objective stops rising, which with a handful of
    instances often leaves some out (GunPoint in a random walk: 4 of 7 found). The filter of the
    whole set is slid over the blurred features; peaks at least `sep` from every instance and
    from each other whose robust z-score (as in _significance) reaches COMPLETE_FRACTION of the
    instances' median z-score, and at least JOIN_MIN_Z, join the set. (find_instances only calls
    this for sets that passed its significance bar.) At most `limit` windows, the strongest.
    """
    npos = XTp.shape[0] - We + 1
    far = _far_from(locs, npos, sep)
    cols = np.flatnonzero(filt.any(axis=0))
    if far.sum() < 10 or len(cols) == 0:
        return np.zeros(0, np.int64)
    r = _slide(np.ascontiguousarray(filt[:, cols]), np.ascontiguousarray(BTp[:, cols]))[:npos]
    z = _robust_z(r, far, filt)
    bar = max(COMPLETE_FRACTION * float(np.median(z[locs])), JOIN_MIN_Z)
    return _nonoverlapping_maxima(np.where(far, z, -np.inf), sep, limit=limit, floor=bar)


def _instance_bounds(BTp: np.ndarray, locs: np.ndarray, filt: np.ndarray, P: int, lo: int, hi: int,
                     n: int, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each instance's own extent: max-sum segment (length in range) of its evidence per column.

    BTp is the blurred feature matrix padded by P rows in front; the window of the instance at
    loc covers BTp[loc : loc + len(filt)]. Consistent background (e.g. the silence around a
    word) also carries evidence, so a column counts as inside only by how much it beats the
    BOUNDARY_QUANTILE of the instance's window. Falls back to (starts, ends) if the refined
    intervals would overlap.
    """
    if len(locs) == 0:
        return starts, ends
    ev = np.einsum("kwf,wf->kw", _windows(BTp, locs, filt.shape[0]), filt).astype(np.float64)
    ev -= np.quantile(ev, BOUNDARY_QUANTILE, axis=1, keepdims=True)
    sa, sb = _best_segment(ev, lo, hi)
    s2, e2 = _place(locs + sa - P, locs + sb - P, n)
    if np.all(s2[1:] >= e2[:-1]):
        return s2, e2
    return starts, ends


def _scatter(values: np.ndarray, locs: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    out[locs] = values
    return out


def _place(starts: np.ndarray, ends: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift intervals that stick out of [0, n) back inside, keeping their lengths."""
    shift = np.maximum(0, -starts) - np.maximum(0, ends - n)
    return (starts + shift).astype(np.int64), (ends + shift).astype(np.int64)


def _segment_offsets(filt: np.ndarray, BT: np.ndarray, locs: np.ndarray, log0: np.ndarray,
                     lo: int, hi: int) -> tuple[int, int]:
    """Event bounds within the window: max-sum segment of the mean evidence above chance."""
    We = filt.shape[0]
    ev = np.einsum("kwf,wf->w", _windows(BT, locs, We), filt).astype(np.float64) / len(locs)
    ev -= (filt * np.exp(log0)).sum(axis=1)
    a, b = _best_segment(ev[None, :], lo, hi)
    return int(a[0]), int(b[0])
