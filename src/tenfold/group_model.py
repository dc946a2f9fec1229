"""A learned group objective for the segment search on speech features.

:func:`tenfold.segments.best_group` scores a candidate group of segments by the members' mean
silhouette times k. With a voice per word, three or four repeats of a word among many other words
score about like the best chance group of a recording without a repeat, and on voices not used in
tuning the best-scoring group is often part of the true group or a superset of it
(``benchmarks/notes/extract.md``, issue 14, sessions 15-17). This module scores the same candidate
groups by :data:`STATISTICS`, twenty scale-free statistics of a group and its series (silhouettes,
distances over the series' median distance, the members' length spread and fit to the user's
range, ...), with two linear models fitted on the benchmark's development speech recordings
(``benchmarks/fit_group_model.py``, weights in :mod:`tenfold._group_weights`):

* a **ranker** whose highest-scoring candidate is the group (fitted listwise: a softmax over a
  recording's candidates against their overlap with the true instances);
* a **bar model**, a logistic regression of the chosen group's statistics on its F1; its logit is
  the group's ``significance``, and :data:`BAR` (chosen so that 93% of the development recordings
  without a repeated word report nothing) is the default bar.

:func:`tenfold.extract.find_instances` uses it when asked, ``group_score="speech"`` (the
``find-instances`` command does on WAV files). The statistics are scale-free, but the weights
come from speech and do not carry to other data: on synthetic 16-D series of events gliding along
the feature axis the silhouette score finds F1@.5 0.61 and this 0.16, at the same 90% nothing
found on series without a repeat (``benchmarks/notes/extract.md``, session 17).

>>> import numpy as np
>>> D = np.array([[0., 1., 5., 5.], [1., 0., 5., 5.], [5., 5., 0., 4.], [5., 5., 4., 0.]])
>>> groups = [np.array([0, 1]), np.array([2, 3])]
>>> F = group_statistics(D, D, np.array([0, 10, 20, 30]), np.array([8, 18, 28, 38]), 6, 10, groups)
>>> F.shape, bool(F[0, STATISTICS.index("sil")] > F[1, STATISTICS.index("sil")])
((2, 20), True)
"""

from __future__ import annotations

import numpy as np

from . import _group_weights as W
from . import segments

__all__ = ["BAR", "STATISTICS", "best_group", "candidate_groups", "group_statistics"]

STATISTICS = ("sil", "silmin", "silmed", "z", "k", "logk", "k/S", "logS", "a", "b", "amax/b1min", "wmax", "b1",
              "bmed", "auc", "h", "lensd", "inrange", "maxrel", "all")
BAR = W.BAR
TINY = 1e-300
CHUNK_CELLS = 2_000_000   # groups x members x segments per vectorised block (16 MB of float64)
# auc compares at most this many member-to-outsider distances per group (beyond it: each member's
# at evenly spaced ranks) with at most this many within-group distances (evenly spaced pairs), so
# that its cost per group stays bounded on series with hundreds of segments
AUC_SAMPLES = 512


def candidate_groups(D: np.ndarray) -> list[np.ndarray]:
    """The distinct candidate groups of :func:`tenfold.segments.best_group` (members sorted), in
    lexicographic order of their members."""
    return [np.array(g, dtype=np.int64) for g in sorted({tuple(np.sort(g).tolist())
                                                          for g in segments.candidate_groups(D)})]


def group_statistics(D: np.ndarray, R: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_length: int,
                     max_length: int, groups: list[np.ndarray]) -> np.ndarray:
    """(len(groups), 20) statistics of each group (columns: :data:`STATISTICS`).

    D: (S, S) distances between the series' segments; R: distances to the rotated segments
    (decoys, for a group of every segment); starts, ends: the segments' bounds; groups: member
    indices (at least 2 each). Per group of k members with a (each member's mean distance to the
    other members), its nearest outsiders (b1, nearest; b, mean of the min(k, 3) nearest; bmed,
    median) and silhouettes (b - a) / max(a, b): mean, min and median silhouette; z, the
    silhouette score of best_group; k, log k, k / S, log S; a, b, b1 and bmed averaged over the
    members and divided by the median distance between segments; the largest a over the smallest
    b1; the largest within-group distance over the median; auc, the share of (within-group,
    member-to-outsider) distance pairs in which the within-group one is smaller; h, the series'
    neighbour contrast (1 with two segments); the standard deviation of the members' log lengths;
    the share of members inside [min_length, max_length]; the largest |log(length / centre)| /
    log(max_length / centre) (centre: the range's geometric mean); and whether the group holds
    every segment. Where there are no outsiders, b, b1 and bmed are the median distance and auc is
    0.5. Where the group has more than AUC_SAMPLES member-to-outsider distances, auc takes each
    member's at ceil(AUC_SAMPLES / k) evenly spaced ranks (its sorted distances to the outsiders),
    and of more than AUC_SAMPLES within-group distances (pairs in member order) that many at
    evenly spaced positions.
    """
    D = np.asarray(D, dtype=np.float64)
    S = len(D)
    off = D[~np.eye(S, dtype=bool)].reshape(S, S - 1)
    med = max(float(np.median(off)), TINY)
    h = segments.neighbour_contrast(D) if S >= 3 else 1.0    # 2 segments: each one's nearest is its median
    L = (np.asarray(ends) - np.asarray(starts)).astype(np.float64)
    mid = np.sqrt(min_length * max_length)
    rel = np.log(L / mid) / np.log(max_length / mid) if max_length > min_length else np.zeros(S)
    out = np.zeros((len(groups), len(STATISTICS)))
    by_size: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_size.setdefault(len(g), []).append(i)
    for k, idx in by_size.items():
        step = max(1, CHUNK_CELLS // (k * S))
        for c in range(0, len(idx), step):
            rows = idx[c:c + step]
            G = np.stack([np.asarray(groups[i], dtype=np.int64) for i in rows])
            out[rows] = _same_size(D, R, G, med, h, L, rel)
    return out


def _same_size(D: np.ndarray, R: np.ndarray, G: np.ndarray, med: float, h: float, L: np.ndarray,
               rel: np.ndarray) -> np.ndarray:
    """group_statistics of n groups of one size k: G is (n, k)."""
    n, k = G.shape
    S = len(D)
    Wt = D[G[:, :, None], G[:, None, :]]                          # (n, k, k) within the group
    a = Wt.sum(axis=2) / (k - 1)
    iu = np.triu_indices(k, 1)
    within = Wt[:, iu[0], iu[1]]                                   # (n, k (k - 1) / 2)
    if k < S:
        Q = S - k
        rows = D[G]                                                # (n, k, S) members to every segment
        np.put_along_axis(rows, np.broadcast_to(G[:, None, :], (n, k, k)), np.inf, axis=2)
        near = np.sort(rows, axis=2)[:, :, :Q]                     # members to outsiders, ascending
        b = near[:, :, :min(k, segments.NEAR_OUTSIDERS)].mean(axis=2)
        b1, bmed = near[:, :, 0], 0.5 * (near[:, :, (Q - 1) // 2] + near[:, :, Q // 2])
        outside = near[:, :, _quantile_ranks(Q, -(-AUC_SAMPLES // k))] if k * Q > AUC_SAMPLES else near
        if within.shape[1] > AUC_SAMPLES:
            within_sample = within[:, _quantile_ranks(within.shape[1], AUC_SAMPLES)]
        else:
            within_sample = within
        auc = _auc(within_sample, outside.reshape(n, -1))
    else:
        b = b1 = bmed = np.full((n, k), med)
        auc = np.full(n, 0.5)
    sil = (b - a) / np.maximum(np.maximum(a, b), TINY)
    if k < S:
        z = sil.mean(axis=1) * k ** segments.GROUP_SIZE_EXPONENT
    else:                            # against decoys, as best_group scores a group of every segment
        z = np.array([segments.group_score(D, R, g) for g in G])
    logL = np.log(L[G])
    cols = [sil.mean(axis=1), sil.min(axis=1), np.median(sil, axis=1), z, np.full(n, k), np.full(n, np.log(k)),
            np.full(n, k / S), np.full(n, np.log(S)), a.mean(axis=1) / med, b.mean(axis=1) / med,
            a.max(axis=1) / np.maximum(b1.min(axis=1), TINY), within.max(axis=1) / med, b1.mean(axis=1) / med,
            bmed.mean(axis=1) / med, auc, np.full(n, h), logL.std(axis=1),
            (np.abs(rel[G]) <= 1).mean(axis=1), np.abs(rel[G]).max(axis=1), np.full(n, float(k == S))]
    return np.stack(cols, axis=1)


def _quantile_ranks(size: int, count: int) -> np.ndarray:
    """min(count, size) positions spread evenly over 0 .. size - 1, both ends included: position j
    is j (size - 1) / (m - 1) rounded half up (m = min(count, size); just 0 when m is 1)."""
    m = min(count, size)
    if m <= 1:
        return np.zeros(1, np.int64)
    return (np.arange(m, dtype=np.int64) * (size - 1) + (m - 1) // 2) // (m - 1)


def _auc(within: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Per row, the share of pairs (w, o) with w < o (ties count 0): within (n, p), outside (n, q)."""
    p = within.shape[1]
    q = outside.shape[1]
    both = np.hstack([outside, within])            # outsiders first: a stable sort keeps them before
    order = np.argsort(both, axis=1, kind="stable")  # equal within-group values (a tie is not "<")
    is_out = order < q
    outsiders_before = np.cumsum(is_out, axis=1) - is_out
    greater = np.where(is_out, 0, q - outsiders_before).sum(axis=1)
    return greater / (p * q)


def _standardised(F: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return (F - mu) / sd


def ranker_scores(F: np.ndarray) -> np.ndarray:
    """The ranker's score of each row of statistics (the highest is the group)."""
    return _standardised(F, W.RANKER_MEAN, W.RANKER_SD) @ W.RANKER_WEIGHTS


def bar_logits(F: np.ndarray) -> np.ndarray:
    """The bar model's logit of each row of statistics (the group's significance)."""
    return _standardised(F, W.BAR_MEAN, W.BAR_SD) @ W.BAR_WEIGHTS + W.BAR_CONSTANT


def best_group(D: np.ndarray, R: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_length: int,
               max_length: int) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The ranker's group (members sorted) and its significance (the bar model's logit), and the
    candidates' best group by the silhouette score with that score (segments.best_group's choice,
    up to exact ties); empty groups and -inf with fewer than 2 segments."""
    if len(D) < 2:
        none = np.zeros(0, np.int64)
        return none, -np.inf, none, -np.inf
    groups = candidate_groups(D)
    F = group_statistics(D, R, starts, ends, min_length, max_length, groups)
    i = int(np.argmax(ranker_scores(F)))
    j = int(np.argmax(F[:, STATISTICS.index("z")]))
    return groups[i], float(bar_logits(F[i:i + 1])[0]), groups[j], float(F[j, STATISTICS.index("z")])
