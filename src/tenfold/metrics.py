"""Scores for results with a known answer.

>>> from tenfold.metrics import interval_f1
>>> interval_f1([(0, 10), (50, 60)], [(1, 11), (100, 110)])
0.5
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["interval_f1"]


def interval_f1(pred: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]],
                iou: float = 0.5) -> float:
    """F1 of predicted ``[start, end)`` intervals against the true ones.

    Intervals are matched one to one, greedily by intersection over union (highest first); a pair
    counts as a hit when its IoU is at least ``iou``. Empty ``pred`` or ``truth`` scores 0, and so
    does a pair of zero-length intervals (no overlap to measure). An interval ending before it
    starts is a ValueError.

    >>> interval_f1([(0, 10)], [(0, 10)])
    1.0
    >>> interval_f1([(0, 10)], [(5, 15)], iou=0.5)   # IoU 1/3
    0.0
    """
    for name, intervals in (("pred", pred), ("truth", truth)):
        for a, b in intervals:
            if not b >= a:
                raise ValueError(f"{name} has an interval ({a}, {b}) whose end is before its start")
    if not len(pred) or not len(truth):
        return 0.0

    def overlap(p: tuple[float, float], t: tuple[float, float]) -> float:
        union = max(p[1], t[1]) - min(p[0], t[0])
        return max(0, min(p[1], t[1]) - max(p[0], t[0])) / union if union > 0 else 0.0  # empty: no hit

    M = np.array([[overlap(p, t) for t in truth] for p in pred], dtype=np.float64)
    tp = 0
    while M.size and M.max() >= iou:
        i, j = np.unravel_index(M.argmax(), M.shape)
        tp += 1
        M[i, :] = -1
        M[:, j] = -1
    return 2 * tp / (len(pred) + len(truth))
