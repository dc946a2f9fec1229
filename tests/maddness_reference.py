"""Numpy reference of MADDNESS tree learning (the library's learner before it moved to C++):
the exact cumulative-SSE threshold scan and the greedy 4-level tree. Tests compare the C++
learner (tenfold.maddness.trees) with it on small inputs."""

import numpy as np

_LEVELS = 4


def best_splits(q: np.ndarray, node: np.ndarray, nnodes: int, R: np.ndarray, R2: np.ndarray):
    """Best byte threshold per node for one split column, by an exact cumulative-SSE scan.

    q: (n,) int8 split values; node: (n,) node of each row; R: (n, d) residual; R2: (n,) squared
    row norms. Returns (total SSE after the split, thresholds (nnodes,) int8); a row goes right
    iff q > threshold.
    """
    key = node.astype(np.int64) * 256 + (q.astype(np.int64) + 128)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    ukeys = ks[starts]
    S1 = np.add.reduceat(R[order], starts, axis=0)
    SQ = np.add.reduceat(R2[order], starts)
    cnt = np.diff(np.r_[starts, len(ks)]).astype(np.float64)
    bnode = ukeys // 256
    bval = ukeys % 256 - 128
    cS1 = np.cumsum(S1, axis=0)
    cSQ = np.cumsum(SQ)
    cN = np.cumsum(cnt)
    # Cumulative values just before each node's first bin.
    first = np.flatnonzero(np.r_[True, bnode[1:] != bnode[:-1]])
    last = np.r_[first[1:], len(bnode)] - 1
    run = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(bnode)]))
    zero_d = np.zeros((1, R.shape[1]))
    base_S1 = np.vstack([zero_d, cS1])[first][run]
    base_SQ = np.r_[0.0, cSQ][first][run]
    base_N = np.r_[0.0, cN][first][run]
    lS1 = cS1 - base_S1
    lSQ = cSQ - base_SQ
    lN = cN - base_N
    tS1 = cS1[last][run] - base_S1
    tSQ = cSQ[last][run] - base_SQ
    tN = cN[last][run] - base_N
    rS1, rSQ, rN = tS1 - lS1, tSQ - lSQ, tN - lN
    left = lSQ - np.einsum("ij,ij->i", lS1, lS1) / lN
    right = np.where(rN > 0, rSQ - np.einsum("ij,ij->i", rS1, rS1) / np.maximum(rN, 1), 0.0)
    loss = left + right
    thresholds = np.full(nnodes, 127, dtype=np.int8)
    total = 0.0
    for f, l in zip(first, last):
        u = f + int(np.argmin(loss[f:l + 1]))
        total += float(loss[u])
        thresholds[bnode[f]] = bval[u] if u < l else 127  # the last bin means "no split"
    return total, thresholds


def leaf_means(node: np.ndarray, R: np.ndarray) -> np.ndarray:
    onehot = (node[:, None] == np.arange(16)).astype(np.float64)
    return (onehot.T @ R) / np.maximum(onehot.sum(0), 1)[:, None]


def node_centred(X: np.ndarray, onehot: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """X minus the mean of each row's node (onehot (n, nnodes), counts (nnodes,))."""
    return X - onehot @ ((onehot.T @ X) / counts[:, None])


def learn_tree(Q: np.ndarray, R: np.ndarray, Ac: np.ndarray | None, k: int, output: bool):
    """One balanced 4-level tree on residual R: (dims (4,), thresholds (4, 16), leaf of each row)."""
    n = Q.shape[0]
    dims = np.zeros(_LEVELS, dtype=np.int64)
    thresholds = np.zeros((_LEVELS, 16), dtype=np.int8)
    node = np.zeros(n, dtype=np.int64)
    R2 = np.einsum("ij,ij->i", R, R)
    for level in range(_LEVELS):
        nnodes = 1 << level
        onehot = (node[:, None] == np.arange(nnodes)).astype(np.float64)
        counts = np.maximum(onehot.sum(0), 1)
        if output:
            # Candidates: the input dimensions that best explain the residual linearly within
            # the nodes (largest SSE reduction of a per-node linear fit).
            Am, Rm = node_centred(Ac, onehot, counts), node_centred(R, onehot, counts)
            cross = Am.T @ Rm                                               # (d, m)
            score = np.einsum("ij,ij->i", cross, cross) / np.maximum(np.einsum("ij,ij->j", Am, Am), 1e-12)
        else:
            S1 = onehot.T @ R
            S2 = onehot.T @ (R * R)
            score = (S2 - S1 ** 2 / counts[:, None]).sum(0)                # SSE per dimension
        best = None
        for j in np.argsort(-score, kind="stable")[:k]:
            loss, thr = best_splits(Q[:, j], node, nnodes, R, R2)
            if best is None or loss < best[0]:
                best = (loss, int(j), thr)
        _, j, thr = best
        dims[level] = j
        thresholds[level, :nnodes] = thr
        node = 2 * node + (Q[:, j] > thr[node])
    return dims, thresholds, node

