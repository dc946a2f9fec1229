"""MADDNESS trees whose levels split on signed sums of ``split_width`` input columns: the search
over columns and signs, and the tree learner that scans the candidates' thresholds exactly."""

from __future__ import annotations

import numpy as np

from .. import _core
from .trees import _LEVELS, _child_sums, _panels, _quant_params, _quantize


_SHORTLIST = 64        # additions scored exactly per pass of the column search (_refine_signs)
_SWAP_BUDGET = 1 << 24  # bound on passes x (width x shortlist + d) per level: caps the search for huge w, d


def _sign_pattern(u: np.ndarray, width: int) -> np.ndarray:
    """(d,) in {-1, 0, +1}: the signs of the ``width`` largest entries of ``u`` (ties: lower index)."""
    top = np.argsort(-np.abs(u), kind="stable")[:width]
    v = np.zeros(len(u))
    v[top] = np.where(u[top] >= 0, 1.0, -1.0)
    return v


def _sum_fit(v: np.ndarray, K: np.ndarray, S: np.ndarray) -> float:
    """How much of the residual the feature ``A v`` explains linearly within the nodes.

    ``K = X Xᵀ`` with X the within-node cross-covariance of A and the residual, ``S`` the
    within-node covariance of A. The ratio vᵀKv / vᵀSv is the squared norm of the regression
    of the residual on the feature, summed over the residual's columns: it does not depend on
    the feature's scale, which a threshold split ignores too.
    """
    return float(v @ K @ v) / max(float(v @ S @ v), 1e-300)


def _refine_signs(v: np.ndarray, K: np.ndarray, S: np.ndarray, max_swaps: int) -> np.ndarray:
    """Best-improvement local search on ``_sum_fit`` over sign patterns with ``v``'s support size.

    A move flips the sign of a used column, or drops a used column and adds an unused one with
    either sign. Moves are scored exactly from K v and S v (rank-2 updates of the quadratic
    forms); the added column is one of the ``_SHORTLIST`` (column, sign) pairs that would raise
    the fit most if added alone, so a pass costs O(d + width * _SHORTLIST), not O(width * d)
    (K v and S v are updated in place, O(d) per move). The best move is taken while it raises
    the fit. Why: the sign pattern of a dense direction's largest entries is only a rounding of
    it, and on correlated inputs (embeddings) an explicit search over the sum's columns recovers
    what the rounding lost (text task, with the eigenvector start: +7 points at C=16, w=32).
    """
    v = v.copy()
    dK, dS = np.diag(K), np.diag(S)
    floor = 1e-12 * max(float(dS.mean()), 1e-300)  # a feature constant within every node explains nothing
    signs = np.array([[1.0], [-1.0]])

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.where(den > floor, num / np.maximum(den, floor), 0.0)

    Kv, Sv = K @ v, S @ v
    for _ in range(max_swaps):
        num, den = float(v @ Kv), float(v @ Sv)
        best_fit, move = (num / den if den > floor else 0.0) * (1 + 1e-9), None
        used, free = np.flatnonzero(v), np.flatnonzero(v == 0)
        vi = v[used]
        # Flip used column i: v' = v - 2 v_i e_i.
        flip = ratio(num - 4 * vi * Kv[used] + 4 * dK[used], den - 4 * vi * Sv[used] + 4 * dS[used])
        a = int(np.argmax(flip))
        if flip[a] > best_fit:
            best_fit, move = float(flip[a]), (used[a], used[a], -vi[a])
        if free.size:
            # Shortlist of additions (column j, sign s) by their fit alone...
            alone = ratio(num + 2 * signs * Kv[free] + dK[free], den + 2 * signs * Sv[free] + dS[free])
            sj, jj = np.unravel_index(np.argsort(-alone, axis=None, kind="stable")[:_SHORTLIST], alone.shape)
            sg, j = signs[sj, 0], free[jj]
            # ...then every (drop i, add j with sign s) pair exactly: v' = v - v_i e_i + s e_j.
            vc = vi[:, None]
            n2 = (num - 2 * vc * Kv[used][:, None] + dK[used][:, None]
                  + 2 * sg * (Kv[j] - vc * K[np.ix_(used, j)]) + dK[j])
            d2 = (den - 2 * vc * Sv[used][:, None] + dS[used][:, None]
                  + 2 * sg * (Sv[j] - vc * S[np.ix_(used, j)]) + dS[j])
            pair = ratio(n2, d2)
            a2 = np.unravel_index(int(np.argmax(pair)), pair.shape)
            if pair[a2] > best_fit:
                best_fit, move = float(pair[a2]), (used[a2[0]], j[a2[1]], sg[a2[1]])
        if move is None:
            break
        i, j_, s_ = move
        Kv += s_ * K[:, j_] - v[i] * K[:, i]
        Sv += s_ * S[:, j_] - v[i] * S[:, i]
        v[i], v[j_] = 0.0, s_
    return v


def _sum_candidates(cross: np.ndarray, S: np.ndarray, S_inv_cross: np.ndarray, width: int) -> list[np.ndarray]:
    """Sign patterns to try at one level, from the within-node cross-covariance ``cross`` (d, m)
    of A and the residual, the within-node covariance ``S`` (d, d) of A, and (S + eps I)⁻¹ cross.

    1. the first version's: the leading left singular vector of ``cross``, rounded to signs;
    2. the direction that maximises ``_sum_fit`` among dense ones (the generalised eigenvector of
       (cross crossᵀ, S): it accounts for the correlations of A's columns, which the singular
       vector ignores), rounded to signs;
    3. pattern 2 refined by ``_refine_signs``.
    """
    d = S.shape[0]
    first = _sign_pattern(np.linalg.svd(cross, full_matrices=False)[0][:, 0], width)
    z = np.linalg.eigh(cross.T @ S_inv_cross)[1][:, -1]
    general = _sign_pattern(S_inv_cross @ z, width)
    swaps = min(2 * width, max(1, _SWAP_BUDGET // (width * min(d, _SHORTLIST) + d)))
    return [first, general, _refine_signs(general, cross @ cross.T, S, swaps)]


def _sum_gram(Ac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Acᵀ Ac, (Acᵀ Ac + eps I)⁻¹): the same for every tree of a fit, so computed once. A small
    ridge eps keeps the inverse finite when columns are constant or collinear."""
    G = Ac.T @ Ac
    d = G.shape[0]
    eps = 1e-6 * float(np.trace(G)) / d
    return G, np.linalg.inv(G + (eps if eps > 0 else 1.0) * np.eye(d))


def _learn_tree_sums(A: np.ndarray, Ac: np.ndarray, R: np.ndarray, width: int, n_threads: int,
                     gram: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One 4-level tree whose level l splits on a signed sum of ``width`` columns of A.

    Each level tries the sign patterns of ``_sum_candidates`` (from the within-node statistics of
    Ac, A centred, and the residual R) and keeps the one whose exact threshold scan gives the
    lowest SSE of R, so a level is never worse on the training rows than the first version's
    single candidate (the singular vector's sign pattern). ``gram`` is ``_sum_gram(Ac)`` if the
    caller has it (it is the same for every tree). Returns (cols (4, width), npos (4,),
    offsets (4,), scales (4,), thresholds (4, 16), leaf of each row); the terms added come first
    in cols.
    """
    n = A.shape[0]
    cols = np.zeros((_LEVELS, width), dtype=np.int64)
    npos = np.zeros(_LEVELS, dtype=np.int32)
    offsets = np.zeros(_LEVELS, dtype=np.float32)
    scales = np.ones(_LEVELS, dtype=np.float32)
    thresholds = np.zeros((_LEVELS, 16), dtype=np.int8)
    node = np.zeros(n, dtype=np.uint8)
    perm = np.arange(n, dtype=np.int32)               # rows of each node contiguous (see trees.py)
    starts = np.array([0, n], dtype=np.int64)
    R = np.ascontiguousarray(R)
    R2 = np.einsum("ij,ij->i", R, R)
    RP = _panels(R)
    # Within-node moments from the global ones minus the node means' part (no n x d centred copies).
    G, G_inv = _sum_gram(Ac) if gram is None else gram
    AcR = Ac.T @ R
    SA, SR = Ac.sum(0)[None], R.sum(0)[None]                                # node sums
    counts = np.array([n], dtype=np.int64)
    for level in range(_LEVELS):
        nnodes = 1 << level
        cnt = np.maximum(counts, 1)[:, None]
        S = G - SA.T @ (SA / cnt)
        cross = AcR - SA.T @ (SR / cnt)
        # (S + eps I)⁻¹ cross by the Woodbury identity: S + eps I = (G + eps I) - SAᵀ diag(counts)⁻¹
        # SA is a rank-nnodes update of the fit-wide matrix, so no d x d solve per level.
        GU, Gc = G_inv @ SA.T, G_inv @ cross
        S_inv_cross = Gc + GU @ np.linalg.solve(np.diag(cnt[:, 0].astype(np.float64)) - SA @ GU, SA @ Gc)
        cands = _sum_candidates(cross, S, S_inv_cross, width)
        c_all = np.zeros((len(cands), width), dtype=np.int64)
        p_all = np.zeros(len(cands), dtype=np.int32)
        for i, v in enumerate(cands):
            plus, minus = np.flatnonzero(v > 0), np.flatnonzero(v < 0)
            c_all[i], p_all[i] = np.r_[plus, minus], len(plus)
        # The features exactly as the encoder computes them (float32, the kernel's order);
        # finite, since fit rejects |a| >= 2**60 and width <= 4096.
        f = _core.maddness_project(A, c_all, p_all, n_threads).T               # (n, ncand)
        off, sc = _quant_params(f)
        qT = np.ascontiguousarray(_quantize(f, off, sc).T)                    # (ncand, n)
        loss, thr = _core.maddness_split_scan(
            qT, np.arange(len(cands), dtype=np.int64), perm, starts, RP, R2, n_threads)
        b = int(np.argmin(loss))                                              # the first on ties
        cols[level], npos[level], offsets[level], scales[level] = c_all[b], p_all[b], off[b], sc[b]
        thresholds[level, :nnodes] = thr[b]
        starts = _core.maddness_partition(qT[b], thr[b], perm, starts, node)
        counts = np.diff(starts)
        SR = _child_sums(R, perm, starts, SR, None, n_threads)[0]
        SA = _child_sums(Ac, perm, starts, SA, None, n_threads)[0]
    return cols, npos, offsets, scales, thresholds, node.astype(np.int64)
