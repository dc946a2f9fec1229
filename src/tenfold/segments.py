"""Repeated events as a tight group of activity segments compared by dynamic time warping.

The second search of :func:`tenfold.extract.find_instances`, for series whose events stand out
from a quiet background (speech between pauses, gestures between rests, machine cycles between
idle periods). Nothing here is specific to speech.

1. **Background and activity.** Each dimension is scaled by its standard deviation; two-means
   clustering of the (3-step smoothed) rows separates two states, and the tighter one (smaller
   mean squared distance to its centre) is the background. A row is active when it lies farther
   from the background centre than half the distance between the centres, in any direction.
2. **Segments.** Runs of active rows are merged across their shortest gaps first, while the gap
   is at most ``max_length / 5`` rows and the merged run at most ``1.5 * max_length``; merged
   runs with length in ``[min_length / 1.5, 1.5 * max_length]`` are the candidate events
   (tolerant: activity bounds are not the user's bounds). The search applies when these hold at
   least ``MIN_COVERAGE`` of the active rows (a random walk's long excursions do not) and most
   gaps between merged runs are longer than the merge limit (real pauses: in 1-D noise with
   events, noise keeps rows active and the runs are split only by the length cap), and the two
   clusters explain at least 78% of the variance along the axis between their centres (a
   background clearly apart from the events; two-means on pure noise explains about 64%).
3. **Distances.** Every pair of segments is compared by band-limited DTW (C++ kernel) on the
   scaled rows with each segment's own mean removed and each dimension divided by its spread
   within the segment (plus a floor), plus their slopes over +-2 rows (scaled the same way,
   with a smaller floor); the distance is the
   warped Euclidean cost divided by the two lengths' sum. Equalising the spread per segment
   makes repeats that differ by a gain per dimension alike (another voice, another sensor): on
   the benchmark's tuning recordings with a voice per word, the same word became the nearest
   segment in 88% of cases instead of 79%.
4. **Group and significance.** For every segment and every size k up to half the segments (and
   all of them), the segment and its k - 1
   nearest neighbours (re-ranked once by mean distance to that group) form a candidate group.
   Its score is the members' mean silhouette times k: a member's silhouette compares its
   mean distance to the other members (a) with its mean distance to its 3 nearest outsiders (b)
   as (b - a) / max(a, b). Outsiders are the other segments; a group of *every* segment (a series
   that holds only the event) is compared with decoys instead, every other segment rotated by
   half its length (same rows, second half first). Events that merely share an envelope also
   beat decoys, so such a group's size counts as sqrt(k) and its score x 0.75. Repeats that vary
   (a word by many voices) form loose groups whose silhouette falls as members are added; the
   size factor k (sqrt(k) kept groups of 2-3 of 5-8 repeats) keeps them whole. On the
   benchmark's development recordings a word by one voice scored about 1-5.6, by a voice per
   word 0.4-3.2; 93% of all-distinct-word recordings and 92% of synthetic 3-D series of
   distinct events score below 1.1. The best group
   is returned with its score as ``significance``. :func:`group_bar` is the bar below which
   :func:`tenfold.extract.find_instances` reports nothing: :data:`MIN_SIGNIFICANCE` on a typical
   series, higher where the segments have close neighbours (:func:`neighbour_contrast`), where
   chance groups score higher, and lower where they are diverse. With ``group_score="speech"``,
   :func:`tenfold.extract.find_instances` chooses among the same candidate groups
   (:func:`candidate_groups`) with :mod:`tenfold.group_model` instead.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(scale=0.05, size=(2000, 2))           # a quiet background
>>> t = np.linspace(0, 1, 40)[:, None]
>>> event = np.hstack([np.sin(2 * np.pi * t), np.cos(3 * np.pi * t)]) * np.hanning(40)[:, None] * 3
>>> for s in (100, 500, 900, 1300):                      # the event, four times
...     x[s:s + 40] += event
>>> for s in (300, 700, 1100, 1500, 1700):               # five other events, each different
...     f = rng.uniform(1, 4, size=2)
...     x[s:s + 40] += np.sin(2 * np.pi * f * t + rng.uniform(0, 6, 2)) * np.hanning(40)[:, None] * 3
>>> g = find_group(x, 30, 50)
>>> [int(s) for s in g.starts], g.significance > MIN_SIGNIFICANCE   # activity starts a little late
([108, 508, 908, 1308], True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from . import _core

__all__ = ["MIN_SIGNIFICANCE", "Group", "candidate_groups", "compare_segments", "dtw_distances", "find_group",
           "group_bar", "group_score", "joint_group_score", "with_members",
           "joint_match", "neighbour_contrast", "segment_activity", "segment_features", "stored_group_score",
           "template_distances", "template_neighbourhood", "two_way_distances", "warped_distances"]

DECOY_ONLY_WEIGHT = 0.75  # score weight of a group of every segment: sil x sqrt(k) >= 1.33 passes, as before
NEAR_OUTSIDERS = 3       # a member's outsiders: its 3 nearest (fewer if the group is smaller)
MIN_SEPARATION = 0.78    # share of variance the two clusters explain (speech MFCCs 0.80-0.88, noise 0.63-0.72)
MIN_COVERAGE = 0.8       # the segment search applies when candidates hold this much of the activity
MIN_SIGNIFICANCE = 1.1   # group score below which find_instances reports nothing (tuned: see notes)
# The bar adapts to the series (group_bar): MIN_SIGNIFICANCE where neighbour_contrast is
# ADAPTIVE_BAR_REFERENCE, ADAPTIVE_BAR_SLOPE higher per unit the contrast is lower. Both chosen on the
# benchmark's development draws bdev+dev (speech and bands features), checked on the wide draw.
ADAPTIVE_BAR_SLOPE = 2.5
ADAPTIVE_BAR_REFERENCE = 0.73
DTW_BAND = 0.1           # Sakoe-Chiba radius as a fraction of the longer segment (0.05-0.4 tried, see notes)
SEGMENT_SD_FLOOR = 0.3   # per-segment scaling divides by (segment sd + this), in series-sd units
SLOPE_SD_FLOOR = 0.03    # ... and the slopes by (their segment sd + this), series-sd per row (0.01-0.3 tried)
GROUP_SIZE_EXPONENT = 1.0  # group score = mean silhouette x k ** this (0.5 kept groups of 2-3 repeats)
FEATURE_WARPS = (-0.1, 0.1)  # feature-axis stretches tried besides none (see warped_distances)
FEATURE_WARP_MIN_DIMS = 8  # ... on series with at least this many dimensions (an axis, not a few sensors)
KMEANS_ITERS = 20
MAX_SEGMENTS = 400       # the longest are kept beyond this: pairwise DTW is quadratic in the count
MERGE_GAP_DIVISOR = 5    # pauses up to max_length / 5 can lie inside one event
MATCH_POSITION = 0.8     # match() threshold: from the members' typical distance towards outsiders
JOINT_REACH = 1.3       # joint_match considers segments up to this x match()'s distance threshold
LENGTH_TOLERANCE = 1.5   # segments from min_length / 1.5 to 1.5 x max_length are candidates


@dataclass
class Group:
    """A group of segments: bounds (sorted), significance, and all candidate segments."""
    starts: np.ndarray
    ends: np.ndarray
    significance: float
    members: np.ndarray         # indices into the candidate segments
    seg_starts: np.ndarray
    seg_ends: np.ndarray
    distances: np.ndarray       # (S, S) DTW distances between candidate segments
    features: np.ndarray        # (n, d') per-segment normalised rows (rows outside segments: 0)
    decoy_distances: np.ndarray  # (S, S) from segment i to segment j rotated by half its length
    coverage: float             # fraction of active rows inside candidate segments


def _scale(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0)
    keep = sd > 1e-12 * float(np.abs(X).max())   # relative: data of magnitude 1e-12 are not constant
    return (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]


def _smooth(X: np.ndarray, w: int = 3) -> np.ndarray:
    P = np.pad(X, ((w // 2, w - 1 - w // 2), (0, 0)), mode="edge")
    c = np.cumsum(P, axis=0)
    c = np.vstack([np.zeros((1, X.shape[1])), c])
    return (c[w:] - c[:-w]) / w


def _two_means(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0 = background, the tighter cluster) and the two centres, deterministic."""
    r = np.linalg.norm(Y - np.median(Y, axis=0), axis=1)
    order = np.argsort(r, kind="stable")       # start from the nearest and farthest quarters
    C = np.stack([Y[order[: max(1, len(r) // 4)]].mean(axis=0), Y[order[-max(1, len(r) // 4):]].mean(axis=0)])
    lab = np.zeros(len(Y), np.int64)
    for it in range(KMEANS_ITERS):
        d2 = ((Y[:, None, :] - C[None]) ** 2).sum(axis=2)
        new = d2.argmin(axis=1)
        if it > 0 and np.array_equal(new, lab):
            break
        lab = new
        for c in (0, 1):
            if np.any(lab == c):
                C[c] = Y[lab == c].mean(axis=0)
    spread = [((Y[lab == c] - C[c]) ** 2).sum(axis=1).mean() if np.any(lab == c) else np.inf for c in (0, 1)]
    if spread[1] < spread[0]:
        lab, C = 1 - lab, C[::-1].copy()
    return lab, C


def segment_activity(X: np.ndarray, min_length: int, max_length: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Candidate events: merged runs of rows unlike the background.

    Returns (starts, ends, coverage): coverage is the fraction of active rows inside the
    candidates (near 1 when the series is a sequence of separate events; a random walk's long
    excursions give much less), and 0 when the median gap between merged runs is no longer than
    the merge limit (no real pauses between events) or when the two clusters explain less than
    MIN_SEPARATION of the variance along the axis between their centres (no clear background:
    noise, or events in noise as loud as they are).
    """
    Y = _scale(np.asarray(X, dtype=np.float64))
    empty = np.zeros(0, np.int64)
    if Y.shape[1] == 0 or len(Y) < 4:
        return empty, empty.copy(), 0.0
    Ys = _smooth(Y)
    lab, C = _two_means(Ys)
    bg = lab == 0
    if bg.sum() < 2 or bg.all():
        return empty, empty.copy(), 0.0
    # active: farther from the background centre than half-way to the other centre, in any
    # direction (events can leave the background on either side of it)
    active = np.linalg.norm(Ys - C[0], axis=1) > 0.5 * float(np.linalg.norm(C[1] - C[0]))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    rs, re = edges[0::2], edges[1::2]
    if len(rs) == 0:
        return empty, empty.copy(), 0.0
    # merge runs across their shortest gaps first, while the gap is short against the longest
    # event (a pause inside an event) and the merged run stays within the tolerant range
    gap_max = max(2, max_length // MERGE_GAP_DIVISOR)
    long_max = int(LENGTH_TOLERANCE * max_length)
    starts, ends = list(rs), list(re)
    gaps = np.asarray(rs[1:] - re[:-1])
    alive = np.ones(len(rs), bool)          # run i still starts a merged segment
    head = np.arange(len(rs))               # merged segment each run belongs to
    for g in np.argsort(gaps, kind="stable"):
        if gaps[g] > gap_max:
            break
        a, b = head[g], g + 1               # merge segment a (ending with run g) and run g + 1's segment
        if ends[b] - starts[a] > long_max:
            continue
        ends[a] = ends[b]
        alive[b] = False
        head[head == b] = a
    ms, me = np.asarray(starts)[alive], np.asarray(ends)[alive]
    L = me - ms
    ok = (L >= max(2, int(min_length / LENGTH_TOLERANCE))) & (L <= long_max)
    inside = np.zeros(len(active) + 1, np.int64)
    np.add.at(inside, ms[ok], 1)
    np.add.at(inside, me[ok], -1)
    coverage = float(active[np.cumsum(inside)[:-1] > 0].sum()) / max(1.0, float(active.sum()))
    # pauses: most gaps between merged runs must be longer than the merge limit (else the runs
    # were kept apart only by the length cap: activity everywhere, as in noisy 1-D series)
    if len(ms) < 2 or np.median(ms[1:] - me[:-1]) <= gap_max:
        coverage = 0.0
    # a clear background: on the axis between the centres, the two clusters explain most of the
    # variance (two-means on one Gaussian explains 2/pi = 0.64, on a uniform 0.75)
    proj = (Ys - C[0]) @ (C[1] - C[0])
    total = float(((proj - proj.mean()) ** 2).sum())
    within = sum(float(((proj[lab == c] - proj[lab == c].mean()) ** 2).sum()) for c in (0, 1))
    if not total > 0 or 1.0 - within / total < MIN_SEPARATION:
        coverage = 0.0
    return ms[ok].astype(np.int64), me[ok].astype(np.int64), coverage


def segment_features(X: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Scaled rows with each segment's mean removed and spread equalised, plus slopes (rows outside: 0).

    Each dimension of a segment is divided by its standard deviation within the segment plus
    SEGMENT_SD_FLOOR (so a flat dimension is not blown up): repeats of one event that differ by
    a gain or offset per dimension (another sensor, another voice) become alike. Slopes over
    +-2 rows of the series-scaled rows are appended, each dimension divided by its spread within
    the segment plus SLOPE_SD_FLOOR (faster and slower movements of one event become alike).
    """
    Y = _scale(np.asarray(X, dtype=np.float64))
    P = np.pad(Y, ((2, 2), (0, 0)), mode="edge")
    n = len(Y)
    dY = (P[3:3 + n] - P[1:1 + n] + 2 * (P[4:4 + n] - P[0:n])) / 10.0
    Z = np.zeros((n, 2 * Y.shape[1]))
    for s, e in zip(starts, ends):
        seg = Y[s:e] - Y[s:e].mean(axis=0)
        Z[s:e, :Y.shape[1]] = seg / (seg.std(axis=0) + SEGMENT_SD_FLOOR)
        Z[s:e, Y.shape[1]:] = dY[s:e] / (dY[s:e].std(axis=0) + SLOPE_SD_FLOOR)
    return Z


def dtw_distances(ZA: np.ndarray, startsA: np.ndarray, endsA: np.ndarray, ZB: np.ndarray | None = None,
                  startsB: np.ndarray | None = None, endsB: np.ndarray | None = None,
                  band: float = DTW_BAND) -> np.ndarray:
    """(SA, SB) band-limited DTW distances between segments (C++; see dtw_distances_reference)."""
    sym = ZB is None
    if sym:
        ZB, startsB, endsB = ZA, startsA, endsA
    assert ZB is not None and startsB is not None and endsB is not None
    return _core.extract_dtw_segments(np.ascontiguousarray(ZA, np.float64), np.ascontiguousarray(startsA, np.int64),
                                      np.ascontiguousarray(endsA, np.int64), np.ascontiguousarray(ZB, np.float64),
                                      np.ascontiguousarray(startsB, np.int64), np.ascontiguousarray(endsB, np.int64),
                                      float(band), sym)


def two_way_distances(ZA: np.ndarray, startsA: np.ndarray, endsA: np.ndarray, ZB: np.ndarray,
                      startsB: np.ndarray, endsB: np.ndarray, *, average: bool = False) -> np.ndarray:
    """(SA, SB) DTW distances taken both ways: per pair the smaller (or, with ``average``, the
    mean) of A-to-B and B-to-A.

    The band of :func:`dtw_distances` is laid out along the second argument's rows, so two
    segments of different lengths get different distances in the two argument orders (with
    DTW_BAND 0.1, 159 of 200 random pairs differed, median 12%). Both ways, a distance does not
    depend on which series is new and which is stored. find_group's decoys take the smaller,
    as :func:`warped_distances` symmetrises one series' distances; match()'s distances to the
    templates take the mean (on the dev pairs the smaller accepted more unlike segments: match
    F1@.5 0.806 against one-way 0.817; the mean 0.818, see benchmarks/notes/extract.md).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(30, 2)), rng.normal(size=(50, 2))
    >>> sa, ea, sb, eb = np.array([0, 9]), np.array([9, 30]), np.array([0, 20]), np.array([20, 50])
    >>> D = two_way_distances(A, sa, ea, B, sb, eb)
    >>> bool(np.array_equal(D, two_way_distances(B, sb, eb, A, sa, ea).T))
    True
    """
    ab = dtw_distances(ZA, startsA, endsA, ZB, startsB, endsB)
    ba = dtw_distances(ZB, startsB, endsB, ZA, startsA, endsA).T
    return 0.5 * (ab + ba) if average else np.minimum(ab, ba)


def _axis_warp(alpha: float, d: int) -> np.ndarray:
    """(d, d) matrix resampling a row along its dimension index at i * (1 + alpha) (linear, clipped)."""
    idx = np.clip(np.arange(d) * (1.0 + alpha), 0, d - 1)
    lo = np.floor(idx).astype(np.int64)
    hi = np.minimum(lo + 1, d - 1)
    W = np.zeros((d, d))
    np.add.at(W, (np.arange(d), lo), 1.0 - (idx - lo))
    np.add.at(W, (np.arange(d), hi), idx - lo)
    return W


def warped_distances(X: np.ndarray, starts: np.ndarray, ends: np.ndarray, ZB: np.ndarray | None = None,
                     startsB: np.ndarray | None = None, endsB: np.ndarray | None = None) -> np.ndarray:
    """DTW distances with a search over stretches of the feature axis.

    Each segment of X is compared with each segment of B (X's own segments when ZB is None;
    ZB holds segment features as :func:`segment_features` makes them) as is and with X's rows
    resampled along the dimension index at i * (1 + alpha) for alpha in FEATURE_WARPS, keeping
    the smallest distance, each the mean of both ways (:func:`two_way_distances`; when B is X,
    the whole matrix is symmetrised by the smaller of the two directions instead). When
    the dimensions are ordered samples of one axis (spectra, cepstra, filter banks, sensor
    arrays), a stretch of that axis is how a source differs (a voice's vocal tract length,
    a sensor's spacing); on the benchmark's tuning recordings with a voice per word, the same
    word became the nearest segment in 96% of cases instead of 90%. Series with fewer than
    FEATURE_WARP_MIN_DIMS dimensions (a few sensors, whose order means nothing) are compared
    unwarped: there, mixing neighbouring dimensions brought unrelated events closer.
    """
    X = np.asarray(X, dtype=np.float64)
    base = segment_features(X, starts, ends)
    sym = ZB is None
    if sym:
        ZB, startsB, endsB = base, starts, ends
    assert ZB is not None and startsB is not None and endsB is not None
    way = dtw_distances if sym else partial(two_way_distances, average=True)
    D = way(base, starts, ends, ZB, startsB, endsB)
    for alpha in FEATURE_WARPS if X.shape[1] >= FEATURE_WARP_MIN_DIMS else ():
        W = _axis_warp(alpha, X.shape[1])
        if np.array_equal(W, np.eye(X.shape[1])):
            continue
        Zw = segment_features(X @ W.T, starts, ends)
        if Zw.shape[1] != ZB.shape[1]:      # a warp that leaves a dimension constant
            continue
        D = np.minimum(D, way(Zw, starts, ends, ZB, startsB, endsB))
    return np.minimum(D, D.T) if sym else D


def _group_score(D: np.ndarray, R: np.ndarray, members: np.ndarray) -> float:
    """Mean silhouette of the members times k ** GROUP_SIZE_EXPONENT.

    A member's silhouette is (b - a) / max(a, b) with a its mean distance to the other members
    and b its mean distance to its NEAR_OUTSIDERS nearest outsiders (k if fewer): the other
    segments or, when every segment is a member, rotated copies of the other segments (decoys:
    the same rows, second half first). Near 1 for a group far tighter than anything
    around it, near 0 or below for a group no tighter than the segments around it.
    """
    S, k = len(D), len(members)
    if k < 2:
        return 0.0
    inside = np.zeros(S, bool)
    inside[members] = True
    out = np.flatnonzero(~inside)
    a = D[np.ix_(members, members)].sum(axis=1) / (k - 1)
    if len(out):
        cand = D[np.ix_(members, out)]
        b = np.sort(cand, axis=1)[:, :min(k, NEAR_OUTSIDERS, len(out))].mean(axis=1)
    else:                                                  # every segment is a member: decoys
        cand = R[members].copy()
        cand[np.arange(k), members] = np.inf               # not the member's own decoy
        b = np.sort(cand, axis=1)[:, :min(k, NEAR_OUTSIDERS, S - 1)].mean(axis=1)
    sil = (b - a) / np.maximum(np.maximum(a, b), 1e-300)
    if len(out) == 0:         # against decoys only: the size counts as sqrt(k) (a weaker null)
        return float(sil.mean() * np.sqrt(k))
    return float(sil.mean() * k ** GROUP_SIZE_EXPONENT)


def group_score(D: np.ndarray, R: np.ndarray, members: np.ndarray) -> float:
    """best_group's score of a group: _group_score, x DECOY_ONLY_WEIGHT for a group of every segment
    (compared with decoys only, a weaker null than real outsiders)."""
    z = _group_score(D, R, members)
    return z * DECOY_ONLY_WEIGHT if len(members) == len(D) else z


def best_group(D: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, float]:
    """Highest-scoring group (members sorted, score); empty when fewer than 2 segments.

    D: (S, S) distances between segments; R: (S, S) distances from segment i to the
    rotated segment j.
    """
    S = len(D)
    if S < 2:
        return np.zeros(0, np.int64), 0.0
    best, best_z = np.zeros(0, np.int64), -np.inf
    for g in candidate_groups(D):
        z = group_score(D, R, g)
        if z > best_z:
            best, best_z = np.sort(g), z
    return best, float(best_z)


def candidate_groups(D: np.ndarray) -> Iterator[np.ndarray]:
    """best_group's candidate groups (members unsorted, repeats included), in its order: for each
    segment i and each size k from 2 to S // 2 (at least as many outsiders as members) and S, i and
    its k - 1 nearest segments, re-ranked once by mean distance to that group."""
    S = len(D)
    for i in range(S):
        order = np.argsort(D[i], kind="stable")         # i itself first (distance 0)
        for k in [*range(2, S // 2 + 1), S]:
            yield np.argsort(D[:, order[:k]].mean(axis=1), kind="stable")[:k]


def neighbour_contrast(D: np.ndarray) -> float:
    """How far a series' segments stand out from each other: the median over segments of (distance to
    the nearest other segment / median distance to the other segments). Scale-free, in (0, 1].

    Near 1 when every segment is about as far from its nearest neighbour as from the rest; low when
    segments have close neighbours. All-distinct-word recordings of one voice score lower (median
    0.75) than those with a voice per word (0.80-0.82), and the best chance group of such a null
    scores higher the lower it is (Spearman -0.6). Recordings with a repeated event sit lower too,
    but their groups score far higher than the nulls'. With fewer than 3 segments:
    ADAPTIVE_BAR_REFERENCE.

    >>> D = np.array([[0., 1., 4.], [1., 0., 4.], [4., 4., 0.]])
    >>> neighbour_contrast(D)          # segments 0 and 1: 1 / 2.5; segment 2: 4 / 4
    0.4
    """
    D = np.asarray(D, dtype=np.float64)
    S = len(D)
    if S < 3:
        return ADAPTIVE_BAR_REFERENCE
    others = D[~np.eye(S, dtype=bool)].reshape(S, S - 1)
    med = np.median(others, axis=1)
    return float(np.median(others.min(axis=1) / np.maximum(med, 1e-300)))


def group_bar(D: np.ndarray) -> float:
    """The score a series' best group must reach (find_instances' default): MIN_SIGNIFICANCE +
    ADAPTIVE_BAR_SLOPE x (ADAPTIVE_BAR_REFERENCE - neighbour_contrast(D)), from the segments'
    (S, S) distances D.

    Chance groups of alike segments (one source's different events: one voice's different words)
    score higher, and their series have close neighbours everywhere: the bar rises there and falls
    where segments are diverse (a voice per word). Chosen on the benchmark's development draws
    (bdev+dev, 2 parameters), read on the wide draw: at equal nothing found on all-distinct-word
    recordings (93%) and synthetic 3-D nulls (92%), words repeated by a voice per word among many
    distractors are found with F1@.5 +0.06 (bands) / +0.09 (speech) over the fixed bar, one voice
    unchanged (benchmarks/notes/extract.md, session 12, adaptive-bar).

    >>> D = np.array([[0., 1., 4.], [1., 0., 4.], [4., 4., 0.]])
    >>> round(group_bar(D), 3)                 # contrast 0.4: a raised bar
    1.925
    """
    return MIN_SIGNIFICANCE + ADAPTIVE_BAR_SLOPE * (ADAPTIVE_BAR_REFERENCE - neighbour_contrast(D))


def rotated_features(Z: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Decoys: each segment's rows rotated by half its length (second half first)."""
    Zr = Z.copy()
    for s0, e0 in zip(starts, ends):
        Zr[s0:e0] = np.roll(Z[s0:e0], -((e0 - s0) // 2), axis=0)
    return Zr


def compare_segments(X: np.ndarray, min_length: int, max_length: int) -> Group:
    """Segment X by activity and compare every pair of segments; no group chosen yet (no members,
    significance 0)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    s, e, coverage = segment_activity(X, min_length, max_length)
    if len(s) > MAX_SEGMENTS:
        keep = np.argsort(-(e - s), kind="stable")[:MAX_SEGMENTS]
        keep.sort()
        s, e = s[keep], e[keep]
    Z = segment_features(X, s, e)
    D = warped_distances(X, s, e) if len(s) else np.zeros((0, 0))
    R = two_way_distances(Z, s, e, rotated_features(Z, s, e), s, e) if len(s) else np.zeros((0, 0))
    none = np.zeros(0, np.int64)
    return Group(none, none, 0.0, none, s, e, D, Z, R, coverage)


def with_members(group: Group, members: np.ndarray, significance: float) -> Group:
    """The group of those segments (indices into group's candidate segments) with that significance."""
    return replace(group, starts=group.seg_starts[members], ends=group.seg_ends[members], significance=significance,
                   members=members)


def find_group(X: np.ndarray, min_length: int, max_length: int) -> Group:
    """Segment X by activity and return the most significant group of alike segments (best_group)."""
    group = compare_segments(X, min_length, max_length)
    return with_members(group, *best_group(group.distances, group.decoy_distances))


def templates_of(group: Group) -> tuple[np.ndarray, np.ndarray]:
    """The members' normalised rows stacked, and the end row of each (for match)."""
    rows = [group.features[s:e] for s, e in zip(group.seg_starts[group.members], group.seg_ends[group.members])]
    if not rows:
        return np.zeros((0, group.features.shape[1])), np.zeros(0, np.int64)
    return np.vstack(rows), np.cumsum([len(r) for r in rows]).astype(np.int64)


def match_distance_threshold(group: Group) -> float:
    """Largest mean DTW distance to the templates that match() accepts, learned from the group.

    Members' mean distance to the other members (a) and outsiders' mean distance to the members
    (o; decoys' when every segment is a member): the threshold lies MATCH_POSITION of the way
    from the median of a to the median of o, but no farther than the nearest outsider (what the
    training series itself kept out of the group is kept out of matches).
    """
    D, m = group.distances, group.members
    k = len(m)
    if k < 2:
        return 0.0
    a = D[np.ix_(m, m)].sum(axis=1) / (k - 1)
    out = np.setdiff1d(np.arange(len(D)), m)
    if len(out):
        o = D[np.ix_(out, m)].mean(axis=1)
    else:                                       # every segment is a member: decoys instead
        R = group.decoy_distances[np.ix_(m, m)]
        o = (R.sum(axis=1) - np.diag(R)) / (k - 1)
    thr = float(np.median(a) + MATCH_POSITION * (np.median(o) - np.median(a)))
    if len(out):   # no looser than the training series' nearest outsider
        thr = min(thr, float(o.min()))
    return thr


def template_neighbourhood(group: Group) -> tuple[np.ndarray, np.ndarray]:
    """What match() needs to re-score the group with a new series' matches (see joint_group_score).

    Returns the (k, k) distances between the members and, per member, the distances to its
    NEAR_OUTSIDERS nearest outsiders in the training series, ascending ((k, 0) when every
    segment is a member).
    """
    D, m = group.distances, group.members
    out = np.setdiff1d(np.arange(len(D)), m)
    near = np.sort(D[np.ix_(m, out)], axis=1)[:, :NEAR_OUTSIDERS]
    return D[np.ix_(m, m)].copy(), np.ascontiguousarray(near)


def template_distances(X: np.ndarray, templates: np.ndarray, template_ends: np.ndarray, min_length: int,
                       max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments of X and their (S, k) DTW distances to each template: (starts, ends, distances).

    X is segmented as find_group segments its series; the distances are warped_distances of
    X's segments (warped along the feature axis) to the stored templates.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    s, e, _ = segment_activity(X, min_length, max_length)
    k = len(template_ends)
    if len(s) == 0 or k == 0:
        return s, e, np.zeros((len(s), k))
    if segment_features(X, s[:1], e[:1]).shape[1] != templates.shape[1]:   # a dimension constant here
        return s[:0], e[:0], np.zeros((0, k))
    ts = np.concatenate([[0], template_ends[:-1]]).astype(np.int64)
    return s, e, warped_distances(X, s, e, templates, ts, template_ends)


def _joint_scores(M0: np.ndarray, D: np.ndarray, rows: np.ndarray, order: np.ndarray,
                  member_outsiders: np.ndarray) -> np.ndarray:
    """Pooled group score (see joint_group_score) of the members plus each prefix of ``order``.

    M0: (k, k) member distances; D: (S, k) X's segments to the members; rows: (len(order), S)
    warped distances from order's segments to every segment of X. Entry i: the first i
    (entry 0: the members alone, every segment of X among their outsiders).
    """
    k, S = len(M0), len(D)
    out = np.zeros(len(order) + 1)
    for i in range(len(order) + 1):
        A = order[:i]
        R = np.setdiff1d(np.arange(S), A)
        na = len(A)
        K = k + na
        if K < 2:
            continue
        M = np.zeros((K, K))
        M[:k, :k] = M0
        M[k:, :k] = D[A]
        M[:k, k:] = D[A].T
        M[k:, k:] = np.minimum(rows[:na, A], rows[:na, A].T)
        a = M.sum(axis=1) / (K - 1)
        n_near = min(K, NEAR_OUTSIDERS)
        b = np.empty(K)
        for j in range(k):
            c = np.sort(np.concatenate([member_outsiders[j], D[R, j]]))[:n_near]
            b[j] = c.mean() if len(c) else np.inf
        for j in range(na):
            c = np.sort(rows[j, R])[:n_near]
            b[k + j] = c.mean() if len(c) else np.inf
        sil = np.ones(K)             # no outsider at all: nothing to confuse the member with
        fin = np.isfinite(b)
        sil[fin] = (b[fin] - a[fin]) / np.maximum(np.maximum(a[fin], b[fin]), 1e-300)
        out[i] = sil.mean() * K ** GROUP_SIZE_EXPONENT
    return out


def joint_group_score(X: np.ndarray, starts: np.ndarray, ends: np.ndarray, D: np.ndarray, accepted: np.ndarray,
                      member_distances: np.ndarray, member_outsiders: np.ndarray) -> float:
    """The group score of the training members pooled with the accepted segments of a new series.

    The score of :func:`best_group` (mean silhouette x size) for a group of the k training
    members plus the accepted segments of X: a member's a is its mean distance to the other
    pooled members (members to members: ``member_distances``; members to X's segments: D;
    between X's accepted segments: warped DTW); its b is the mean distance to its
    NEAR_OUTSIDERS nearest outsiders, taken for a training member among its stored training
    outsiders (``member_outsiders``) and X's rejected segments, for an accepted segment among
    X's rejected segments. One series may hold too few repeats to pass the bar (the training
    group scored below it); the same event found again in a second series adds members, and
    chance likeness between different events does not (they find nothing alike in the new
    series, or a loose group). As in :func:`best_group`, X must hold at least as many rejected
    segments as accepted ones (else 0: a generic shape that most segments resemble).

    starts, ends: X's segments; D: (S, k) their distances to the members; accepted: (S,) bool.
    """
    A = np.flatnonzero(accepted)
    if len(member_distances) + len(A) < 2 or len(A) == 0 or len(A) > len(D) - len(A):
        return 0.0
    Z = segment_features(X, starts, ends)
    rows = warped_distances(X, starts[A], ends[A], Z, starts, ends)      # (na, S): accepted vs all of X
    return float(_joint_scores(member_distances, D, rows, A, member_outsiders)[-1])


def stored_group_score(member_distances: np.ndarray, member_outsiders: np.ndarray) -> float:
    """The group score of the stored members against their stored training outsiders only.

    The score :func:`best_group` gave the group in its own series (for a group cut to
    ``max_instances``, the score of the kept members), from what match() keeps:
    ``member_distances`` (k, k) and each member's nearest training outsiders' distances
    (k, >= 1). Members without outsiders (a group of every segment was scored against decoys,
    which are not kept) count as silhouette 1: k.
    """
    k = len(member_distances)
    return float(_joint_scores(member_distances, np.zeros((0, k)), np.zeros((0, 0)), np.zeros(0, np.int64),
                               member_outsiders)[0])


def joint_match(X: np.ndarray, starts: np.ndarray, ends: np.ndarray, D: np.ndarray, threshold: float,
                member_distances: np.ndarray, member_outsiders: np.ndarray,
                max_accepted: int | None = None) -> tuple[np.ndarray, float]:
    """The segments of X that, joined to the members, form the best-scoring group: (accepted, score).

    X's segments are ranked by mean distance to the members; of the ranking's prefixes whose
    every segment lies within JOINT_REACH x ``threshold`` and that hold at most
    ``max_accepted`` segments (default: half of X's, as in :func:`best_group`), the one with
    the highest :func:`joint_group_score` is accepted. The cut so adapts to the new series (its
    own spread of distances), as :func:`best_group` chooses a group's size, instead of a
    distance fixed at training time. The empty prefix competes too (the members alone, every
    segment of X among their outsiders): a segment joins only if the group scores higher with it
    than without it, so a series without the event adds nothing, whatever the bar (a single
    unlike segment barely lowers a strong group's score, but it does lower it). Empty with
    score 0 when no segment is within reach or none raises the score.

    The steps of ``ExtractResult.match()`` on a group found in one series:

    >>> import numpy as np
    >>> from tenfold.datasets import event_shapes, events_in_noise
    >>> rng = np.random.default_rng(3)
    >>> shapes = event_shapes(rng, 8)
    >>> X, truth = events_in_noise(rng, shapes, [0, 1, 0, 2, 0, 3, 0, 4])   # event 0, four times
    >>> g = find_group(X, 25, 60)
    >>> [(int(s), int(e)) for s, e in zip(g.starts, g.ends)] == truth
    True
    >>> templates, ends = templates_of(g)
    >>> member_d, outsiders = template_neighbourhood(g)
    >>> bool(np.isclose(stored_group_score(member_d, outsiders), g.significance))
    True
    >>> Y, truth2 = events_in_noise(rng, shapes, [5, 0, 6, 0, 7])            # a new series, twice
    >>> s, e, D = template_distances(Y, templates, ends, 25, 60)
    >>> ok, score = joint_match(Y, s, e, D, match_distance_threshold(g), member_d, outsiders)
    >>> list(zip(s[ok].tolist(), e[ok].tolist())) == truth2, score > g.significance
    (True, True)
    """
    S = len(D)
    accepted = np.zeros(S, bool)
    if S == 0 or D.shape[1] == 0:
        return accepted, 0.0
    v = D.mean(axis=1)
    order = np.argsort(v, kind="stable")
    order = order[v[order] < JOINT_REACH * threshold][:S // 2 if max_accepted is None else max_accepted]
    if len(order) == 0:
        return accepted, 0.0
    Z = segment_features(X, starts, ends)
    rows = warped_distances(X, starts[order], ends[order], Z, starts, ends)
    scores = _joint_scores(member_distances, D, rows, order, member_outsiders)
    best = int(np.argmax(scores))            # the first of equal scores: the smaller prefix
    if best == 0:
        return accepted, 0.0
    accepted[order[:best]] = True
    return accepted, float(scores[best])
