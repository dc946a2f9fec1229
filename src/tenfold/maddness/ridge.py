"""MADDNESS prototypes: one-hot codes, the ridge regression of A on them, and the choice of the
ridge penalty by cross-validation of the product's error."""

from __future__ import annotations

import functools

import numpy as np

from .. import _core

_LAM_GRID = (1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4)


def _one_hot(codes: np.ndarray) -> np.ndarray:
    n, C = codes.shape
    G = np.zeros((n, 16 * C), dtype=np.float32)
    G[np.arange(n)[:, None], codes.astype(np.int64) + 16 * np.arange(C)] = 1.0
    return G


def _ridge(GtG: np.ndarray, GtA: np.ndarray, lam: float) -> np.ndarray:
    """Ridge prototypes (GᵀG + lam I)⁻¹ GᵀA. One-hot codes are collinear (each codebook's 16
    columns sum to 1) and unused codes give empty columns, so GᵀG is singular: a lam lost in
    its rounding (lam = 0 included) gets the minimum-norm least-squares solution, the limit of
    the ridge as lam -> 0, instead of a singular solve."""
    k = GtG.shape[0]
    if lam <= np.finfo(np.float64).eps * max(float(np.abs(np.diag(GtG)).max(initial=0.0)), 1.0):
        return np.linalg.lstsq(GtG, GtA, rcond=None)[0]
    return np.linalg.solve(GtG + lam * np.eye(k), GtA)


def _onehot_products(codes: np.ndarray, A: np.ndarray, n_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(GᵀG, GᵀA) for the one-hot matrix G (n, 16C) of ``codes`` (n, C), without forming G:
    counts of code pairs and sums of A's rows per (codebook, code), in C++."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    A = np.ascontiguousarray(A) if A.dtype in (np.float32, np.float64) else np.ascontiguousarray(A, np.float64)
    return (_core.maddness_onehot_gram(codes).astype(np.float64),
            _core.maddness_onehot_sums(codes, A, n_threads))


def _product_row_sq(A: np.ndarray, B: np.ndarray, block: int = 4096) -> np.ndarray:
    """Squared norms of the rows of A @ B in float64, in blocks of rows (no (n, m) temporary)."""
    out = np.empty(A.shape[0])
    for b in range(0, A.shape[0], block):
        y = A[b:b + block].astype(np.float64) @ B
        out[b:b + block] = np.einsum("ij,ij->i", y, y)
    return out


def _cv_lam(codes: np.ndarray, A: np.ndarray, B: np.ndarray, folds: int, rng: np.random.Generator,
            grid: tuple[float, ...] = _LAM_GRID, n_threads: int = 1, target_sq: np.ndarray | None = None
            ) -> tuple[float, list[float], tuple[np.ndarray, np.ndarray]]:
    """Ridge penalty from ``grid`` with the lowest ``folds``-fold cross-validated error of the
    product: sum over folds of ||G_val P(lam) B - A_val B||^2, P(lam) fitted on the other folds.

    codes: (n, C) codes in [0, 16) (G their one-hot matrix), A: (n, d) training rows, B: (d, m),
    target_sq: the squared row norms of A @ B if the caller has them. Returns (lam, errors per
    lam, (GᵀG, GᵀA) of all rows: the sums over the folds, for the final fit). Each fold's
    training part is the total minus the held-out part; the per-fold GᵀA come from one pass over
    A. One eigendecomposition GᵀG_f = V diag(e) Vᵀ per fold serves every lam, and the held-out
    error is expanded so that no (n, 16C) matrix is formed: with W = diag(1 / (e + lam)) Vᵀ
    GᵀA_f B, the estimate is G_v V W and ||G_v V W - T||² = tr(Wᵀ H W) - 2 tr(Wᵀ P) + ||T||² for
    H = Vᵀ G_vᵀG_v V, P = Vᵀ G_vᵀ A_v B, T = A_v B.
    """
    n = codes.shape[0]
    folds = max(2, min(folds, n))
    fold = np.empty(n, dtype=np.int64)
    fold[rng.permutation(n)] = np.arange(n) % folds
    B = np.asarray(B, dtype=np.float64)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    A = np.ascontiguousarray(A) if A.dtype in (np.float32, np.float64) else np.ascontiguousarray(A, np.float64)
    sums = _core.maddness_onehot_sums_grouped(codes, A, fold.astype(np.uint8), folds, n_threads)
    parts = [(_core.maddness_onehot_gram(codes[fold == f]).astype(np.float64), sums[f]) for f in range(folds)]
    GtG, GtA = functools.reduce(np.add, [p[0] for p in parts]), functools.reduce(np.add, [p[1] for p in parts])
    if target_sq is None:
        target_sq = _product_row_sq(A, B)
    fold_sq = np.bincount(fold, weights=target_sq, minlength=folds)
    errs = np.zeros(len(grid))
    for f, (GvG, GvA) in enumerate(parts):
        evals, V = np.linalg.eigh(GtG - GvG)
        VtY = V.T @ ((GtA - GvA) @ B)
        H = V.T @ GvG @ V
        P = V.T @ (GvA @ B)
        for i, lam in enumerate(grid):
            W = VtY / (np.maximum(evals, 0.0) + lam)[:, None]
            errs[i] += float(np.sum(W * (H @ W))) - 2.0 * float(np.sum(W * P)) + float(fold_sq[f])
    return float(grid[int(np.argmin(errs))]), [float(e) for e in errs], (GtG, GtA)
