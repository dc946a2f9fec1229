"""MADDNESS tree learning: byte quantization of the split values, and one balanced 4-level tree
per codebook on a running residual (one input dimension per level), with the row sums in C++.

The rows of each node are kept contiguous in a permutation, so every statistic is a sum over a
node's rows: the exact threshold scans (``_core.maddness_split_scan``: per node and candidate
dimension, 256 byte bins of the residual's sums, then a cumulative scan) and the within-node
moments that rank the candidates. Of the two children of a node only the smaller is summed; the
other is the parent minus it. A tree then costs, per level, one pass over the residual per group
of candidates plus one over the smaller children's rows of A, instead of dense n x d products.
tests/maddness_reference.py keeps the numpy learner this replaced; the tests compare the two."""

from __future__ import annotations

import numpy as np

from .. import _core

_LEVELS = 4


_PERCENTILES = (0.1, 99.9)  # each dimension's byte range spans these percentiles of its training values


def _offset_scale(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, scale) mapping [lo, hi] onto the byte range [-128, 127]."""
    width = hi - lo
    scale = np.where(width > 0, 255.0 / np.where(width > 0, width, 1.0), 1.0).astype(np.float32)
    offset = (lo + 128.0 / scale).astype(np.float32)
    return offset, scale


def _quant_params(A: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (offset, scale): q = rint(clip((a - offset) * scale, -128, 127)). The
    dimensions are A's columns, or its rows with ``axis=1``. (numpy; :func:`_split_bytes` gets
    the same values from C++ order statistics.)"""
    lo, hi = np.percentile(A, _PERCENTILES, axis=axis)
    return _offset_scale(lo, hi)


def _column_percentiles(A: np.ndarray, n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """np.percentile(A, _PERCENTILES, axis=0) of a finite float32 (n, d) array, bit for bit, from
    the order statistics it interpolates between (selected in C++, no sort or copy of A): the
    same virtual index, neighbouring ranks and linear interpolation as numpy's default method."""
    n = A.shape[0]
    q = np.true_divide(np.array(_PERCENTILES), 100)
    virtual = (n - 1) * q                                    # numpy's default ("linear") method
    prev = np.floor(virtual)
    nxt = prev + 1
    prev[virtual >= n - 1] = nxt[virtual >= n - 1] = -1      # past the last rank: the maximum
    prev[virtual < 0] = nxt[virtual < 0] = 0
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    gamma = (virtual - prev)[:, None]
    ranks = np.unique(np.concatenate([prev, nxt]) % n).astype(np.int64)
    stats = _core.maddness_column_order_stats(A, ranks, n_threads)         # (len(ranks), d)
    a, b = stats[np.searchsorted(ranks, prev % n)], stats[np.searchsorted(ranks, nxt % n)]
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5, casting="unsafe", dtype=out.dtype)
    return out[0], out[1]


def _split_bytes(A: np.ndarray, n_threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(QT, offset, scale) for a float32 (n, d) C-order array A of finite values: the byte
    quantization of every dimension (as :func:`_quant_params`) and the split bytes transposed,
    QT (d, n) int8 = _quantize(A, offset, scale).T, without a transposed copy of A."""
    offset, scale = _offset_scale(*_column_percentiles(A, n_threads))
    return _core.maddness_quantize_transposed(A, offset, scale, n_threads), offset, scale


def _quantize(a: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Exactly the encoder's arithmetic (float32 sub, mul, clamp, round half to even)."""
    u = np.subtract(a, offset, dtype=np.float32)
    u *= scale
    np.clip(u, np.float32(-128), np.float32(127), out=u)
    np.rint(u, out=u)
    return u.astype(np.int8)


class _TreeData:
    """What every tree of one fit reads: the quantized split values QT (d, n), a candidate's
    values contiguous; for ``objective="output"``, A's rows as float32 (n, d) C order, A's
    column means and the squared norms of its centred columns (the within-node moments of A
    are these minus the node means' part)."""

    def __init__(self, QT: np.ndarray, A32: np.ndarray | None, mean: np.ndarray | None,
                 col_sq: np.ndarray | None, n_threads: int) -> None:
        self.QT, self.A32, self.mean, self.col_sq, self.n_threads = QT, A32, mean, col_sq, n_threads
        self._sum_A: np.ndarray | None = None

    def sum_A(self) -> np.ndarray:
        """The sums of A's columns in float64 (every tree's root; summed on first use)."""
        if self._sum_A is None:
            assert self.A32 is not None
            whole = np.array([[0, self.A32.shape[0]]], dtype=np.int64)
            perm = np.arange(self.A32.shape[0], dtype=np.int32)
            self._sum_A = _core.maddness_group_sums(self.A32, perm, whole, False, self.n_threads)[0][0]
        return self._sum_A


_ROW_BLOCK = 4096  # rows per block of the float64 work in _start: (4096, d) float64 stays in L2/L3


def _start(A: np.ndarray, B: np.ndarray | None, n_threads: int
           ) -> tuple[_TreeData, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Everything the greedy pass of fit starts from, computed from the float32 (n, d) C-order
    training rows A in blocks of rows (no float64 copy of A, no transposed copy):

    - the tree data (split bytes, and for ``objective="output"`` A's column means and the
      squared norms of its centred columns) and the per-dimension (offset, scale);
    - the residual in panels (``_panels``), initially A @ B in float64 ("output", B given) or A
      ("input", B None), and its squared row norms;
    - Acᵀ R (d, m) for "output" (Ac: A minus its column means), else None;
    - the squared row norms of A @ B for the cross-validation of the ridge penalty ("output"; for
      "input" those of A, unused).
    Returns (data, offset, scale, RP, R2, AcR, target_sq).
    """
    n, d = A.shape
    QT, offset, scale = _split_bytes(A, n_threads)
    output = B is not None
    m = B.shape[1] if B is not None else d
    npan = -(-m // _PANEL)
    RP = np.empty((npan, n, _PANEL))
    target_sq = np.empty(n)
    mean = A.mean(0, dtype=np.float64)
    Bp = AcR = col_sq = None
    if B is not None:
        Bp = np.zeros((d, npan * _PANEL))
        Bp[:, :m] = B
        AcR = np.zeros((d, npan * _PANEL))
        col_sq = np.zeros(d)
    rows = min(n, _ROW_BLOCK)
    buf, ybuf = np.empty((rows, d)), np.zeros((rows, npan * _PANEL))
    for b in range(0, n, _ROW_BLOCK):
        e = min(n, b + _ROW_BLOCK)
        a, y = buf[:e - b], ybuf[:e - b]
        np.copyto(a, A[b:e])                                       # float32 -> float64, exact
        if Bp is not None:
            np.matmul(a, Bp, out=y)
        else:
            y[:, :d] = a
        RP[:, b:e, :] = y.reshape(e - b, npan, _PANEL).transpose(1, 0, 2)
        target_sq[b:e] = np.einsum("ij,ij->i", y[:, :m], y[:, :m])
        if AcR is not None and col_sq is not None:
            a -= mean
            AcR += a.T @ y
            col_sq += np.einsum("ij,ij->j", a, a)
    data = _TreeData(QT, A if output else None, mean if output else None, col_sq, n_threads)
    R2 = np.einsum("pij,pij->i", RP, RP)
    return (data, offset, scale, RP, R2, None if AcR is None else np.ascontiguousarray(AcR[:, :m]), target_sq)


def _group_sums(X: np.ndarray, perm: np.ndarray, ranges: np.ndarray, want_sq: bool, n_threads: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sums (and sums of squares) of X's rows perm[b:e] per range; X (n, p) or panels (P, n, 8)."""
    if X.ndim == 3:
        return _core.maddness_panel_sums(X, perm, ranges, want_sq, n_threads)
    return _core.maddness_group_sums(X, perm, ranges, want_sq, n_threads)


_PANEL = 8  # residual columns per panel of the threshold scan (learn.hpp: kPanel)


def _panels(R: np.ndarray) -> np.ndarray:
    """R (n, m) as the threshold scan reads it: (ceil(m / 8), n, 8) float64, each panel of 8
    columns contiguous, the last one zero-padded (zero columns add nothing to any sum)."""
    n, m = R.shape
    out = np.zeros((-(-m // _PANEL), n, _PANEL))
    for p in range(out.shape[0]):
        cols = R[:, p * _PANEL:(p + 1) * _PANEL]
        out[p, :, :cols.shape[1]] = cols
    return out


def _leaf_means(node: np.ndarray, R: np.ndarray, n_threads: int) -> np.ndarray:
    """(16, m): the mean of R's rows in each leaf (0 for an empty leaf)."""
    leaf = np.ascontiguousarray(node, dtype=np.uint8)[:, None]
    sums = _core.maddness_onehot_sums(leaf, np.ascontiguousarray(R), n_threads)
    return sums / np.maximum(np.bincount(leaf[:, 0], minlength=16), 1)[:, None]


def _child_sums(X: np.ndarray, perm: np.ndarray, starts: np.ndarray, parent: np.ndarray,
                parent_sq: np.ndarray | None, n_threads: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Sums (and sums of squares if ``parent_sq`` is given) of X's rows over the children of each
    node (starts: 2 * nparents + 1 boundaries in perm): the smaller child is summed, the other
    is its parent minus it."""
    cnt = np.diff(starts)
    small = np.arange(0, len(cnt), 2) + (cnt[0::2] > cnt[1::2])
    ranges = np.stack([starts[small], starts[small + 1]], axis=1)
    s, sq = _group_sums(X, perm, ranges, parent_sq is not None, n_threads)
    out = np.repeat(parent, 2, axis=0)
    out[small] = s
    out[small ^ 1] -= s
    if parent_sq is None:
        return out, None
    out_sq = np.repeat(parent_sq, 2, axis=0)
    out_sq[small] = sq
    out_sq[small ^ 1] -= sq
    return out, out_sq


def _split_sums(parent: np.ndarray, left: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The children's sums from their parents' (nparents, p) and the left children's (from the
    threshold scan): the right child is its parent minus its left sibling; a child without rows
    sums to exactly 0 (its sibling to exactly the parent)."""
    out = np.empty((2 * len(parent), parent.shape[1]))
    out[0::2] = left
    out[1::2] = parent - left
    empty = counts == 0
    out[empty] = 0.0
    out[np.flatnonzero(empty) ^ 1] = parent[np.flatnonzero(empty) >> 1]
    return out


def _learn_tree(data: _TreeData, RP: np.ndarray, R2: np.ndarray, AcR: np.ndarray | None, k: int,
                SR0: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """One balanced 4-level tree on the residual R (n, m), given in panels RP = _panels(R), and R2
    its squared row norms (and, for the output objective, SR0 its column sums if known: the
    last residual update's).

    With ``AcR`` (d, m) = Ac.T @ R (Ac: A minus its column means) the objective is "output":
    the ``k`` candidate dimensions of a level are those that best explain the residual linearly
    within the nodes (largest SSE reduction of a per-node linear fit); without, "input": those
    with the largest within-node SSE of R (R is then A's residual, m = d). The candidate whose
    exact threshold scan gives the lowest total SSE wins (the first on ties).
    Returns (dims (4,), thresholds (4, 16), leaf of each row (n,) uint8, leaf sums of R (16, m
    rounded up to a multiple of 8, zero-padded), leaf counts (16,), leaf sums of Ac (16, d) or None).
    """
    n = RP.shape[1]
    nt = data.n_threads
    dims = np.zeros(_LEVELS, dtype=np.int64)
    thresholds = np.zeros((_LEVELS, 16), dtype=np.int8)
    perm = np.arange(n, dtype=np.int32)
    starts = np.array([0, n], dtype=np.int64)
    node = np.zeros(n, dtype=np.uint8)
    whole = np.array([[0, n]], dtype=np.int64)
    counts = np.array([n], dtype=np.int64)
    output = AcR is not None
    A32, mean, col_sq = data.A32, data.mean, data.col_sq
    if output and (A32 is None or mean is None or col_sq is None):
        raise ValueError("the output objective needs the tree data's A32, mean and col_sq")
    if output:
        SA = data.sum_A()[None, :]                                                   # sums of A's rows
        SR = _group_sums(RP, perm, whole, False, nt)[0] if SR0 is None else SR0[None, :]
    else:
        SR, SR2 = _group_sums(RP, perm, whole, True, nt)
    for level in range(_LEVELS):
        cnt = np.maximum(counts, 1)[:, None]
        if AcR is not None and mean is not None and col_sq is not None:
            SAc = SA - counts[:, None] * mean                                 # sums of Ac's rows
            cross = AcR - SAc.T @ (SR[:, :AcR.shape[1]] / cnt)                # (d, m)
            within_sq = col_sq - (SAc * SAc / cnt).sum(0)
            score = np.einsum("ij,ij->i", cross, cross) / np.maximum(within_sq, 1e-12)
        else:
            score = (SR2 - SR * SR / cnt).sum(0)[:data.QT.shape[0]]          # SSE per dimension
        cands = np.argsort(-score, kind="stable")[:k].astype(np.int64)
        if output:  # with the sums of R over the rows each threshold sends left: the children's sums
            loss, thr, left = _core.maddness_split_scan(data.QT, cands, perm, starts, RP, R2, nt, True)
        else:
            loss, thr = _core.maddness_split_scan(data.QT, cands, perm, starts, RP, R2, nt)
        b = int(np.argmin(loss))
        j = int(cands[b])
        dims[level] = j
        thresholds[level, :1 << level] = thr[b]
        starts = _core.maddness_partition(data.QT[j], thr[b], perm, starts, node)
        counts = np.diff(starts)
        if output and A32 is not None:
            SR = _split_sums(SR, left[b], counts)
            SA = _child_sums(A32, perm, starts, SA, None, nt)[0]
        else:
            SR, SR2_children = _child_sums(RP, perm, starts, SR, SR2, nt)
            assert SR2_children is not None  # sums of squares were asked for
            SR2 = SR2_children
    leaf_A = SA - counts[:, None] * mean if output and mean is not None else None
    return dims, thresholds, node, SR, counts, leaf_A
