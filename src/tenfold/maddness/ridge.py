"""MADDNESS prototypes: one-hot codes, the ridge regression of A on them, and the choice of the
ridge penalty by cross-validation of the product's error."""

from __future__ import annotations

import numpy as np

_LAM_GRID = (1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4)


def _one_hot(codes: np.ndarray) -> np.ndarray:
    n, C = codes.shape
    G = np.zeros((n, 16 * C), dtype=np.float32)
    G[np.arange(n)[:, None], codes.astype(np.int64) + 16 * np.arange(C)] = 1.0
    return G


def _ridge(GtG: np.ndarray, GtA: np.ndarray, lam: float) -> np.ndarray:
    k = GtG.shape[0]
    return np.linalg.solve(GtG + lam * np.eye(k), GtA)


def _cv_lam(G: np.ndarray, A: np.ndarray, B: np.ndarray, folds: int, rng: np.random.Generator,
            grid: tuple = _LAM_GRID) -> tuple[float, list[float]]:
    """Ridge penalty from ``grid`` with the lowest ``folds``-fold cross-validated error of the
    product: sum over folds of ||G_val P(lam) B - A_val B||^2, P(lam) fitted on the other folds.

    G: (n, k) one-hot codes, A: (n, d) training rows, B: (d, m). Returns (lam, errors per lam).
    The one-hot Gram matrix of each fold's training part is the full one minus the held-out part.
    """
    n = G.shape[0]
    folds = max(2, min(folds, n))
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % folds
    GtG, GtA = G.T @ G, G.T @ A
    errs = np.zeros(len(grid))
    for f in range(folds):
        va = fold == f
        Gv = G[va]
        GtGf, GtAf = GtG - Gv.T @ Gv, GtA - Gv.T @ A[va]
        target = A[va] @ B
        # One eigendecomposition per fold serves every lam; ridge is linear in its target, so
        # the prototypes times B are fitted directly.
        evals, V = np.linalg.eigh(GtGf)
        GvV, VtY = Gv @ V, V.T @ (GtAf @ B)
        for i, lam in enumerate(grid):
            est = GvV @ (VtY / (np.maximum(evals, 0.0) + lam)[:, None])
            errs[i] += float(np.sum((est - target) ** 2))
    return float(grid[int(np.argmin(errs))]), [float(e) for e in errs]

