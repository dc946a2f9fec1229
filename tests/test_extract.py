"""EXTRACT: objective vs a naive reference, planted-pattern recovery, match, determinism, bad input."""

import numpy as np
import pytest

import tenfold
from tenfold import extract as ex
from tenfold.datasets import planted_series
from tenfold.metrics import interval_f1


def f1_at(starts, ends, truth, thr=0.5):
    return interval_f1(list(zip(starts, ends)), truth, thr)


# ------------------------------------------------------------------ objective vs naive reference

def naive_prefix_scores(X, B, cands, W, log0, p0blur):
    """Straightforward loop over k, written from the objective's definition."""
    out = np.full(len(cands) + 1, -np.inf)
    for k in range(2, len(cands) + 1):
        cnt = sum(X[c:c + W] for c in cands[:k]).astype(np.float64)
        cb = sum(B[c:c + W] for c in cands[:k]).astype(np.float64)
        theta = cb / k
        logdiff = np.log(np.maximum(theta, 1e-300)) - log0
        filt = np.where((cnt * logdiff > 0) & (theta > 0.5), logdiff, 0.0)
        odds = (cnt * filt).sum()
        enemy = (filt * X[cands[k]:cands[k] + W]).sum() * k if k < len(cands) else -np.inf
        noise = filt.sum() * p0blur * k
        out[k] = odds - max(noise, enemy)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prefix_scores_match_naive(seed):
    rng = np.random.default_rng(seed)
    n, F, W = 600, 23, 17
    X = (rng.random((n, F)) < 0.05).astype(np.float32)
    B = ex._blur(X.T.copy(), 9).T.copy()
    keep = X.sum(0) > 0
    X, B = np.ascontiguousarray(X[:, keep]), np.ascontiguousarray(B[:, keep])
    log0 = np.log(B.mean(0)).astype(np.float32)
    cands = rng.choice(n - W, size=40, replace=False)
    ref = naive_prefix_scores(X, B, cands, W, log0, float(B.mean()))
    for fast in (ex._prefix_scores(X, B, cands, W, log0, float(B.mean())),                  # C++
                 ex._prefix_scores_numpy(X, B, cands, W, log0, float(B.mean()), chunk_elems=1)):
        done = np.isfinite(fast)  # both may stop early; what they computed must agree
        assert done[2:10].all()
        np.testing.assert_allclose(fast[done], ref[done], rtol=2e-4, atol=1e-3)
        assert np.isneginf(fast[:2]).all()


def test_prefix_scores_kernel_rejects_bad_windows():
    X = np.zeros((50, 3), np.float32)
    log0 = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="out of range"):
        ex._prefix_scores(X, X, np.array([0, 45]), 10, log0, 0.1)
    with pytest.raises(ValueError, match="out of range"):
        ex._prefix_scores(X, X, np.array([-1, 5]), 10, log0, 0.1)
    with pytest.raises(ValueError, match="log0"):
        ex._prefix_scores(X, X, np.array([0, 5]), 10, np.zeros(2, np.float32), 0.1)


def test_slide_and_seed_dots_match_direct():
    rng = np.random.default_rng(3)
    n, F, W = 300, 7, 11
    XT = rng.random((n, F)).astype(np.float32)
    BT = rng.random((n, F)).astype(np.float32)
    seeds = np.array([5, 9, 13, 200, 204])
    dots = ex._seed_dots(XT, BT, seeds, W, max_elems=2000)
    direct = np.array([[np.sum(BT[s:s + W] * XT[t:t + W]) for t in range(n - W + 1)] for s in seeds])
    np.testing.assert_allclose(dots, direct, rtol=1e-4)
    f = rng.random((W, F)).astype(np.float32)
    np.testing.assert_allclose(ex._slide(f, XT, block=50),
                               [np.sum(f * XT[t:t + W]) for t in range(n - W + 1)], rtol=1e-4)


def test_feature_matrix_matches_direct_distance():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2)).cumsum(0)
    bank = ex._sample_shapelets(x, 16, rng, 5, np.abs(x).max(axis=0))
    feats = ex._feature_matrix(x, bank, 0.25)
    for f in range(len(bank.dims)):
        L, j = int(bank.lengths[f]), int(bank.dims[f])
        s = bank.values[f, :L]
        win = np.lib.stride_tricks.sliding_window_view(x[:, j], L)
        win = win - win.mean(1, keepdims=True)
        D = ((win - s) ** 2).sum(1) / (L * bank.variances[f])
        fire = (D < 0.25) & ex._local_min_mask(D)
        assert np.array_equal(feats[f, L // 2:L // 2 + len(D)].astype(bool), fire)


@pytest.mark.parametrize("seed", range(5))
def test_nonoverlapping_maxima_kernel_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=int(rng.integers(1, 500)))
    if seed == 1:
        v = np.round(v, 1)                     # ties
    for sep, floor, limit in [(1, -np.inf, None), (7, 0.0, None), (40, -1.0, 3), (1000, 0.5, None)]:
        got = ex._nonoverlapping_maxima(v, sep, limit, floor)
        want = ex._nonoverlapping_maxima_numpy(v, sep, limit, floor)
        assert np.array_equal(got, want)
    assert len(ex._nonoverlapping_maxima(np.zeros(0), 3)) == 0


def test_best_segment_brute_force():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 30))
    a, b = ex._best_segment(w, 5, 12)
    for r in range(4):
        best = max((w[r, i:j].sum(), i, j) for i in range(30) for j in range(i + 5, min(30, i + 12) + 1))
        assert np.isclose(w[r, a[r]:b[r]].sum(), best[0]) and 5 <= b[r] - a[r] <= 12


# ------------------------------------------------------------------ recovery on synthetic data

@pytest.mark.parametrize("lo,hi,d,iou_thr", [(50, 60, 1, 0.5), (50, 70, 3, 0.5), (40, 100, 1, 0.25)])
def test_planted_recovery(lo, hi, d, iou_thr):
    """Mean F1 over 4 series >= 0.75 at IoU 0.5; for the 2.5x range (each instance time-stretched
    to a length anywhere in 40..100) only at IoU 0.25: bounds of stretched instances are loose."""
    scores = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        K = int(rng.integers(3, 9))
        x, truth, _ = planted_series(3000, d, K, lo, hi, rng)
        hits = ex.find_instances(x, lo, hi, random_state=0)
        assert np.all(np.diff(hits.starts) > 0) and np.all(hits.starts[1:] >= hits.ends[:-1])
        assert np.all((hits.lengths >= lo) & (hits.lengths <= hi))
        assert len(hits) <= 1.5 * K + 1   # a wide range must not produce many false instances
        scores.append(f1_at(hits.starts, hits.ends, truth, iou_thr))
    assert np.mean(scores) >= 0.75, scores


def test_match_finds_event_in_new_series():
    rng = np.random.default_rng(7)
    x, truth, shape = planted_series(3000, 2, 5, 50, 70, rng)
    hits = ex.find_instances(x, 50, 70, random_state=0)
    assert f1_at(hits.starts, hits.ends, truth) >= 0.8
    y, truth_y, _ = planted_series(2500, 2, 4, 50, 70, rng, shape=shape)
    found = hits.match(y)
    assert f1_at(found.starts, found.ends, truth_y) >= 0.75
    z = rng.normal(size=(2500, 2)) * 0.3             # no event at all: (almost) nothing found
    assert len(hits.match(z)) <= 1
    with pytest.raises(ValueError, match="dimensions"):
        hits.match(rng.normal(size=(500, 3)))


def test_deterministic_and_pattern():
    rng = np.random.default_rng(8)
    x, truth, _ = planted_series(2000, 1, 4, 40, 60, rng)
    a = ex.find_instances(x[:, 0], 40, 60, random_state=3, search="shapelets")   # seeded sampling
    b = ex.find_instances(x[:, 0], 40, 60, random_state=3, search="shapelets")
    assert np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)
    assert np.array_equal(a.scores, b.scores)
    assert a.pattern.shape == (int(np.median(a.lengths)), 1)
    assert a.starts.dtype == np.int64 and a.ends.dtype == np.int64


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(9)
    x, truth, _ = planted_series(2000, 2, 4, 40, 60, rng)
    hits = ex.find_instances(x, 40, 60, random_state=0, search="shapelets")   # the shapelet model
    hits.save(tmp_path / "e.tfz")
    back = tenfold.load(tmp_path / "e.tfz")
    assert np.array_equal(back.starts, hits.starts)
    assert back.significance == hits.significance > 0
    assert np.array_equal(back.match(x).starts, hits.match(x).starts)
    from tenfold import _io
    type_name, meta, arrays = _io.read(tmp_path / "e.tfz")
    arrays["bank_dims"] = arrays["bank_dims"] + 5          # points at a dimension that does not exist
    _io.save(tmp_path / "bad.tfz", type_name, meta, arrays, verify=False)
    with pytest.raises(ValueError, match="invalid shapelet bank"):
        tenfold.load(tmp_path / "bad.tfz")


def naive_significance(XTp, BTp, locs, We, log0, sep):
    """Leave-one-out robust z-scores from the definition: every window position, one at a time."""
    if len(locs) < 3:
        return 0.0
    npos = XTp.shape[0] - We + 1
    far = [t for t in range(npos) if all(abs(t - c) >= sep for c in locs)]
    z = []
    for i in range(len(locs)):
        f = ex._filter_for(XTp, BTp, np.delete(locs, i), We, log0).astype(np.float64)
        r = np.array([np.sum(f * BTp[t:t + We]) for t in range(npos)])    # blurred features
        bg = r[far]
        spread = max(1.4826 * np.median(np.abs(bg - np.median(bg))), f[f > 0].mean())
        zi = (r[locs[i]] - np.median(bg)) / spread
        z.append(np.sqrt(max(zi ** 2 - 2 * np.log(npos / sep), 0)) if zi > 0 else 0.0)
    return float(np.median(z))


def test_significance_matches_definition_and_separates():
    rng = np.random.default_rng(11)
    n, F, We = 400, 9, 20
    XT = (rng.random((n, F)) < 0.05).astype(np.float32)
    locs = np.array([30, 120, 250, 330])
    for c in locs:                                  # the event: features 0-5 fire at fixed offsets
        XT[c + np.arange(6) * 3, np.arange(6)] = 1
    BT = ex._blur(XT.T.copy(), 5).T.copy()
    log0 = np.log(BT.mean(0)).astype(np.float32)
    got = ex._significance(XT, BT, locs, We, log0, 20)
    assert np.isclose(got, naive_significance(XT, BT, locs, We, log0, 20), rtol=1e-4)
    assert got > 5
    # the same number of windows at random places: no held-out evidence
    rand = np.sort(rng.choice(np.arange(0, n - We, 25), 4, replace=False))
    assert ex._significance(XT, BT, rand, We, log0, 20) < 2
    # a pair tests nothing (each was chosen for matching the other): 0, whatever the features
    assert ex._significance(XT, BT, locs[:2], We, log0, 20) == 0.0


def test_complete_adds_left_out_instances_only():
    """_complete: windows of the event the search left out join; chance windows do not."""
    rng = np.random.default_rng(13)
    n, F, We = 900, 12, 20
    XT = (rng.random((n, F)) < 0.03).astype(np.float32)
    event = np.array([40, 190, 330, 480, 620, 770])
    for c in event:                                  # features 0-7 fire at fixed offsets
        XT[c + np.arange(8) * 2, np.arange(8)] = 1
    BT = ex._blur(XT.T.copy(), 5).T.copy()
    log0 = np.log(BT.mean(0)).astype(np.float32)
    found = event[[0, 2, 3]]
    filt = ex._filter_for(XT, BT, found, We, log0)
    more = ex._complete(XT, BT, found, filt, We, 20)
    assert np.array_equal(np.sort(more), event[[1, 4, 5]])
    # chance windows: their filter matches nothing elsewhere well enough
    rand = np.array([100, 400, 700])
    assert len(ex._complete(XT, BT, rand, ex._filter_for(XT, BT, rand, We, log0), We, 20)) == 0


def test_min_significance_gates_the_result():
    rng = np.random.default_rng(12)
    x, truth, _ = planted_series(3000, 3, 5, 40, 60, rng)
    hits = ex.find_instances(x, 40, 60, random_state=0, search="shapelets")   # its leave-one-out z
    assert hits.significance > 3 and len(hits) >= 4
    gated = ex.find_instances(x, 40, 60, random_state=0, min_significance=hits.significance + 1,
                              search="shapelets")
    assert len(gated) == 0 and gated.significance == hits.significance
    with pytest.raises(ValueError, match="min_significance"):
        ex.find_instances(x, 40, 60, min_significance=float("nan"))
    with pytest.raises(ValueError, match="n_seeds"):
        ex.find_instances(x, 40, 60, n_seeds=0)
    # a bool is refused as a threshold wherever one is taken (True is not the number 1 here)
    for name in ("min_significance", "min_group_score", "threshold"):
        with pytest.raises(ValueError, match=name):
            ex.find_instances(x, 40, 60, **{name: True})
    with pytest.raises(ValueError, match="min_score"):
        hits.match(x, min_score=False)


def test_nothing_found_on_random_walks():
    """Walks shaped like the gesture benchmark's background (1-D and 6-D), no event planted."""
    rng = np.random.default_rng(21)
    for d, L in ((1, 150), (1, 150), (6, 100)):
        walk = rng.normal(scale=0.05, size=(17 * L, d)).cumsum(axis=0)
        hits = ex.find_instances(walk, int(0.8 * L), int(1.2 * L), random_state=0)
        assert hits.method == "shapelets"
        assert len(hits) == 0 and hits.significance < ex.MIN_SIGNIFICANCE


def test_gestures_in_a_random_walk_all_found():
    """A bent, gesture-like shape planted 8 times on a random walk (warped, scaled, noisy): all found.

    The search alone stops at 6 of the 8 here; the completion step adds the other two.
    """
    rng = np.random.default_rng(0)
    K, L = 8, 120
    t = np.linspace(0, 1, L)
    shape = 3 * np.exp(-((t - 0.35) / 0.12) ** 2) - 2 * np.exp(-((t - 0.7) / 0.08) ** 2)
    x = rng.normal(scale=0.05, size=K * 280 + 300).cumsum()
    truth = []
    for s in 150 + np.arange(K) * 280 + rng.integers(0, 60, K):
        x[s:s + L] += (np.interp(t, t ** rng.uniform(0.8, 1.2), shape) * rng.uniform(0.7, 1.3)
                       + rng.normal(scale=0.2, size=L))
        truth.append((int(s), int(s + L)))
    hits = ex.find_instances(x, int(0.8 * L), int(1.2 * L), random_state=0)
    assert hits.significance >= ex.MIN_SIGNIFICANCE
    assert len(hits) == K and f1_at(hits.starts, hits.ends, truth) == 1.0
    for cap in (7, 6):                       # the completion respects max_instances
        capped = ex.find_instances(x, int(0.8 * L), int(1.2 * L), random_state=0, max_instances=cap)
        assert len(capped) == cap      # ... and each is a true instance (precision 1, recall cap / K):
        assert np.isclose(f1_at(capped.starts, capped.ends, truth), 2 * cap / (cap + K))


# ------------------------------------------------------------------ degenerate and bad input

def test_constant_and_pure_noise():
    assert len(ex.find_instances(np.full(500, 3.0), 20, 40)) == 0
    assert len(ex.find_instances(np.zeros((500, 3)), 20, 40)) == 0
    res = ex.find_instances(np.ones(500), 20, 40)
    assert len(res.match(np.ones(300))) == 0


def test_results_do_not_depend_on_the_units():
    """Both searches are scale-free (distances are z-normalised); an absolute 'constant' floor
    made a series of magnitude ~1e-12 (SI units: amperes, strain) report nothing."""
    from tenfold.datasets import event_shapes, events_in_noise
    rng = np.random.default_rng(0)
    event = np.sin(np.linspace(0, 3 * np.pi, 50)) * np.hanning(50)
    X = rng.normal(0, 0.3, 3000)
    for start in (200, 900, 1500, 2100, 2700):
        X[start:start + 50] += 2 * event
    ref = ex.find_instances(X, 40, 60, random_state=0)
    assert ref.method == "shapelets" and len(ref) == 5
    for scale in (1e-12, 1e-40):
        got = ex.find_instances(X * scale, 40, 60, random_state=0)
        assert np.array_equal(got.starts, ref.starts) and np.array_equal(got.ends, ref.ends), scale
    shapes = event_shapes(np.random.default_rng(5), 4)
    Y, _ = events_in_noise(np.random.default_rng(6), shapes, [0, 1, 0, 2, 0, 3, 0])
    ref = ex.find_instances(Y, 30, 55, random_state=0)
    assert ref.method == "segments" and len(ref) >= 3
    got = ex.find_instances(Y * 1e-30, 30, 55, random_state=0)
    assert got.method == "segments" and np.array_equal(got.starts, ref.starts)
    with pytest.raises(ValueError, match="rescale"):   # squares would underflow
        ex.find_instances(X * 1e-160, 40, 60)


def test_max_instances_two_returns_the_two_strongest():
    """max_instances=2 (allowed) always returned nothing: the significance needs 3 instances to
    hold one out, so a set capped at 2 scored 0. The search now looks for 3 and keeps the 2
    strongest; caps >= 3 are unchanged."""
    rng = np.random.default_rng(0)
    event = np.sin(np.linspace(0, 3 * np.pi, 50)) * np.hanning(50)
    X = rng.normal(0, 0.3, 3000)
    truth = [(s, s + 50) for s in (200, 900, 1500, 2100, 2700)]
    for s, e in truth:
        X[s:e] += 2 * event
    full = ex.find_instances(X, 40, 60, random_state=0)
    two = ex.find_instances(X, 40, 60, random_state=0, max_instances=2)
    assert len(two) == 2 and two.significance >= ex.MIN_SIGNIFICANCE
    assert interval_f1(list(zip(two.starts, two.ends)), truth) == 2 * 2 / (2 + 5)   # both are true instances
    assert len(two.match(X)) >= 2
    three = ex.find_instances(X, 40, 60, random_state=0, max_instances=3)
    assert len(three) == 3 and len(full) == 5


def test_match_min_score_must_be_a_number():
    """min_score=nan matched nothing silently (every comparison false), True counted as 1 and a
    string failed inside float(); each is now a ValueError naming min_score."""
    x, _, _ = planted_series(1500, 1, 4, 40, 60, seed=1)
    hits = ex.find_instances(x, 40, 60, random_state=0)
    for bad in (float("nan"), True, "x"):
        with pytest.raises(ValueError, match="min_score"):
            hits.match(x, min_score=bad)
    assert len(hits.match(x, min_score=-np.inf)) >= len(hits.match(x, min_score=np.float32(0.0)))


@pytest.mark.parametrize("bad,err,msg", [
    (np.array([1.0, np.nan] * 100), ValueError, "NaN"),
    (np.array([1.0, np.inf] * 100), ValueError, "NaN or inf"),
    (np.array(["a"] * 200), TypeError, "numeric"),
    (np.zeros((10, 10, 10)), ValueError, "shape"),
    (np.zeros(50), ValueError, "2 \\* max_length"),
    (np.zeros((200, 0)), ValueError, "at least one dimension"),
])
def test_bad_series(bad, err, msg):
    with pytest.raises(err, match=msg):
        ex.find_instances(bad, 10, 30)


def test_bad_lengths():
    x = np.random.default_rng(0).normal(size=500)
    with pytest.raises(ValueError, match="min_length .* must be <= max_length"):
        ex.find_instances(x, 50, 40)
    with pytest.raises(TypeError, match="min_length"):
        ex.find_instances(x, "10", 40)
    with pytest.raises(TypeError, match="max_length"):
        ex.find_instances(x, 10, 40.5)
    with pytest.raises(ValueError, match="min_length must be >= 2"):
        ex.find_instances(x, 1, 40)
    with pytest.raises(ValueError, match="threshold"):
        ex.find_instances(x, 10, 40, threshold=-1)
    with pytest.raises(ValueError, match="max_instances"):
        ex.find_instances(x, 10, 40, max_instances=1)
    with pytest.raises(ValueError, match="shapelets_per_length"):
        ex.find_instances(x, 10, 40, shapelets_per_length=0)
    with pytest.raises(ValueError, match="n_shifts"):
        ex.find_instances(x, 10, 40, n_shifts=-1)


def test_too_long_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(ex, "MAX_FEATURE_CELLS", 10_000)
    with pytest.raises(ValueError, match="too long"):
        ex.find_instances(np.random.default_rng(0).normal(size=2000), 10, 40)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(ex, raise_on_error=False).failed == 0


def test_absurd_parameters_fail_fast_or_work():
    """issue 13 item 7: no long run or huge allocation before a clear error."""
    import time
    x = np.random.default_rng(0).normal(size=3000)
    t = time.perf_counter()
    with pytest.raises(ValueError, match="blur_length"):
        ex.find_instances(x, 40, 80, blur_length=10 ** 9)
    with pytest.raises(ValueError, match="rescale X"):
        ex.find_instances(x * 1e160, 40, 80)
    assert time.perf_counter() - t < 2.0
    # a blur as wide as the series works, and equals the full-width blur on every row
    F = (np.random.default_rng(1).random((2, 40)) < 0.2).astype(np.float32)
    h = np.hamming(2001) / np.hamming(2001).max()
    direct = np.clip([np.convolve(r, h)[1000:1040] for r in F], 0, 1)
    np.testing.assert_allclose(ex._blur(F, 2001), direct, atol=1e-6)
    assert ex._blur(F, 10 ** 12).shape == (2, 40)
    ex.find_instances(x, 40, 80, blur_length=3000, random_state=0)   # runs (nothing to assert on noise)
