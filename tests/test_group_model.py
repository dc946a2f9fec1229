"""The learned group objective (tenfold.group_model) against naive references, and its use by find_instances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tenfold import group_model, segments
from tenfold.datasets import event_shapes, events_in_noise
from tenfold.extract import find_instances
from tenfold.metrics import interval_f1


def naive_statistics(D, R, starts, ends, lo, hi, g) -> list[float]:
    """group_model.group_statistics of one group, one member at a time (the documented definitions)."""
    S, k = len(D), len(g)
    others = [D[i, j] for i in range(S) for j in range(S) if i != j]
    med = float(np.median(others))
    nearest_ratio = [min(D[i, j] for j in range(S) if j != i) / np.median([D[i, j] for j in range(S) if j != i])
                     for i in range(S)]
    h = float(np.median(nearest_ratio))
    outsiders = [j for j in range(S) if j not in set(g.tolist())]
    a, b, b1, bmed = [], [], [], []
    for i in g:
        a.append(sum(D[i, j] for j in g if j != i) / (k - 1))
        near = sorted(D[i, j] for j in outsiders)
        if near:
            b.append(float(np.mean(near[:min(k, segments.NEAR_OUTSIDERS)])))
            b1.append(near[0])
            bmed.append(float(np.median(near)))
        else:
            b.append(med)
            b1.append(med)
            bmed.append(med)
    sil = [(bb - aa) / max(aa, bb) for aa, bb in zip(a, b)]
    within = [D[g[x], g[y]] for x in range(k) for y in range(x + 1, k)]
    per_member = [sorted(D[i, j] for j in outsiders) for i in g]
    if k * len(outsiders) > group_model.AUC_SAMPLES:
        per_member = [[row[r] for r in even_ranks(len(row), -(-group_model.AUC_SAMPLES // k))] for row in per_member]
    compared = within
    if len(within) > group_model.AUC_SAMPLES:
        compared = [within[r] for r in even_ranks(len(within), group_model.AUC_SAMPLES)]
    outside = [o for row in per_member for o in row]
    auc = float(np.mean([w < o for w in compared for o in outside])) if outside else 0.5
    L = np.array([ends[i] - starts[i] for i in g], dtype=float)
    mid = np.sqrt(lo * hi)
    rel = np.log(L / mid) / np.log(hi / mid) if hi > lo else np.zeros(k)
    return [np.mean(sil), min(sil), np.median(sil), segments.group_score(D, R, g), k, np.log(k), k / S, np.log(S),
            np.mean(a) / med, np.mean(b) / med, max(a) / min(b1), max(within) / med, np.mean(b1) / med,
            np.mean(bmed) / med, auc, h, np.std(np.log(L)), np.mean(np.abs(rel) <= 1), np.max(np.abs(rel)),
            float(k == S)]


def even_ranks(size: int, count: int) -> list[int]:
    m = min(count, size)
    return [0] if m == 1 else [math.floor(j * (size - 1) / (m - 1) + 0.5) for j in range(m)]


def _random_case(seed: int, S: int, ties: bool):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(S, 3))
    D = np.sqrt(((P[:, None] - P[None]) ** 2).sum(axis=2))
    if ties:                                   # many equal distances: the AUC's ties count as "not <"
        D = np.round(D * 2) / 2 + 0.5 * (1 - np.eye(S))
    R = D + rng.uniform(0.1, 1.0, size=(S, S))
    starts = np.cumsum(rng.integers(30, 60, size=S))
    ends = starts + rng.integers(10, 40, size=S)
    return D, R, starts, ends


@pytest.mark.parametrize("seed, S, ties", [(0, 2, False), (1, 3, True), (2, 7, False), (3, 12, True), (4, 19, False),
                                           (7, 61, False)])     # 61: auc on sampled distances
def test_statistics_equal_the_naive_definitions(seed: int, S: int, ties: bool, monkeypatch) -> None:
    D, R, starts, ends = _random_case(seed, S, ties)
    rng = np.random.default_rng(seed + 100)
    sizes = range(2, S + 1) if S < 20 else (2, 3, 10, 20, 30, 33, 45, 60, 61)
    groups = [np.sort(rng.choice(S, size=k, replace=False)) for k in sizes for _ in range(3 if S < 20 else 1)]
    for lo, hi in ((15, 35), (20, 20)):        # a range, and a single length (relative lengths 0)
        want = np.array([naive_statistics(D, R, starts, ends, lo, hi, g) for g in groups])
        got = group_model.group_statistics(D, R, starts, ends, lo, hi, groups)
        assert got.shape == (len(groups), len(group_model.STATISTICS))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        monkeypatch.setattr(group_model, "CHUNK_CELLS", 1)     # one group per vectorised block: same
        np.testing.assert_array_equal(group_model.group_statistics(D, R, starts, ends, lo, hi, groups), got)
        monkeypatch.undo()


def test_candidates_are_best_groups_distinct_candidates() -> None:
    D, R, _, _ = _random_case(5, 11, True)
    got = group_model.candidate_groups(D)
    assert [tuple(g) for g in got] == sorted({tuple(sorted(g.tolist())) for g in segments.candidate_groups(D)})
    # best_group's choice is the best of these under its score
    members, z = segments.best_group(D, R)
    assert z == pytest.approx(max(segments.group_score(D, R, g) for g in got), rel=1e-12)
    assert z == pytest.approx(segments.group_score(D, R, members), rel=1e-12)


def test_best_group_is_the_rankers_choice_with_the_bar_models_logit() -> None:
    D, R, starts, ends = _random_case(6, 14, False)
    groups = group_model.candidate_groups(D)
    F = group_model.group_statistics(D, R, starts, ends, 20, 40, groups)
    i = int(np.argmax(group_model.ranker_scores(F)))
    members, significance, by_silhouette, z = group_model.best_group(D, R, starts, ends, 20, 40)
    assert np.array_equal(members, groups[i])
    assert significance == pytest.approx(float(group_model.bar_logits(F[i:i + 1])[0]))
    # the silhouette score's choice is segments.best_group's
    want, want_z = segments.best_group(D, R)
    assert np.array_equal(by_silhouette, want) and z == pytest.approx(want_z, rel=1e-12)
    one = group_model.best_group(np.zeros((1, 1)), np.zeros((1, 1)), starts[:1], ends[:1], 20, 40)
    assert len(one[0]) == len(one[2]) == 0 and one[1] == one[3] == -np.inf


def _series(seed: int, d: int, repeats: int, shapes_seed: int | None = None, others: range = range(1, 16)):
    """Event 0 repeated (none: every shape once) among the others, shapes from shapes_seed (default: seed)."""
    shapes = event_shapes(np.random.default_rng(seed if shapes_seed is None else shapes_seed), 16, d=d)
    rng = np.random.default_rng(seed + 1000)
    order = list(others) + [0] * repeats if repeats else list(range(16))
    rng.shuffle(order)
    return events_in_noise(rng, shapes, order, gain=(0.5, 2.0))


def test_find_instances_uses_the_learned_objective_when_asked() -> None:
    X, truth = _series(1, 12, 5)
    g = segments.compare_segments(X, 25, 60)
    members, significance, _, _ = group_model.best_group(g.distances, g.decoy_distances, g.seg_starts, g.seg_ends,
                                                         25, 60)
    hits = find_instances(X, 25, 60, group_score="speech")
    assert hits.method == "segments" and hits.significance == significance >= group_model.BAR
    assert len(hits) == len(members) == len(truth)
    # the user's bar is in the same units: just above the significance, nothing is reported
    assert len(find_instances(X, 25, 60, group_score="speech", min_group_score=significance + 1e-9)) == 0
    # by default, on any number of dimensions, the silhouette score
    for d in (3, 12):
        Xd, _ = _series(1, d, 5)
        assert find_instances(Xd, 25, 60).significance == segments.find_group(Xd, 25, 60).significance


def test_group_score_is_checked() -> None:
    X, _ = _series(1, 12, 5)
    for bad in ("learned", "", None, 1, ["speech"], np.array(["speech"])):
        with pytest.raises(ValueError, match="group_score"):
            find_instances(X, 25, 60, group_score=bad)


def test_nothing_found_on_distinct_events_with_the_speech_objective() -> None:
    found = [len(find_instances(_series(seed, 12, 0)[0], 25, 60, group_score="speech")) > 0 for seed in range(10)]
    assert sum(found) <= 1


def test_match_after_the_speech_objective_keeps_silhouette_units(tmp_path) -> None:
    """A reported group's match() bar is the lower of group_bar and its own silhouette score; below
    the bar the candidate is the silhouette score's best group, held to group_bar."""
    X, _ = _series(1, 12, 5)
    g = segments.compare_segments(X, 25, 60)
    m, _, m_sil, _ = group_model.best_group(g.distances, g.decoy_distances, g.seg_starts, g.seg_ends, 25, 60)
    hits = find_instances(X, 25, 60, group_score="speech")
    own = segments.group_score(g.distances, g.decoy_distances, m)
    assert hits._group_bar == min(segments.group_bar(g.distances), own)
    below = find_instances(X, 25, 60, group_score="speech", min_group_score=np.inf)
    assert len(below) == 0 and below._group_bar == segments.group_bar(g.distances)
    assert len(below._template_ends) == len(m_sil)
    # the event in a second series (other gains and warps, other companions) is found; a series
    # without it gives nothing
    Y, truth = _series(2, 12, 4, shapes_seed=1, others=range(8, 16))
    assert interval_f1(list(zip(hits.match(Y).starts, hits.match(Y).ends)), truth, 0.5) >= 0.75
    rng = np.random.default_rng(3)
    Z, _ = events_in_noise(rng, event_shapes(np.random.default_rng(1), 16, d=12), list(range(1, 16)), gain=(0.5, 2.0))
    assert len(hits.match(Z)) == 0
