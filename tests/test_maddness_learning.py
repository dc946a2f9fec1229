"""Learning-side options of Maddness: cross-validated ridge penalty, shrinkage of the greedy
residual updates, determinism."""

import numpy as np
import pytest

import tenfold
from tenfold.maddness.ridge import _LAM_GRID, _cv_lam, _one_hot, _ridge

from conftest import structured_data


def _codes_matrix(packed):
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(packed.shape[0], -1)


@pytest.fixture(scope="module")
def few_rows():
    """Few training rows for many one-hot columns (ridge overfits at small lam), plus a big
    held-out set drawn from the same distribution."""
    rng = np.random.default_rng(1)
    A = structured_data(3400, 32, rng, rank=8, clusters=10, noise=0.3)
    B = rng.normal(size=(32, 5)).astype(np.float32)
    return A[:400], A[400:], B


def _heldout_errors(amm, A_train, A_test, B, grid):
    """Held-out error of the product for ridge prototypes fitted at each lam on the codes of amm."""
    G = _one_hot(_codes_matrix(amm.encode(A_train))).astype(np.float64)
    Gt = _one_hot(_codes_matrix(amm.encode(A_test))).astype(np.float64)
    GtG, GtA = G.T @ G, G.T @ A_train.astype(np.float64)
    return [np.linalg.norm(Gt @ _ridge(GtG, GtA, lam) @ B - A_test @ B) for lam in grid]


def test_cv_lam_picks_from_grid_and_beats_worst(few_rows):
    A_train, A_test, B = few_rows
    amm = tenfold.Maddness(ncodebooks=32, lam="auto").fit(A_train, B)
    assert amm.lam_ in _LAM_GRID
    cv = amm.lam_cv_errors_
    assert set(cv) == set(_LAM_GRID) and cv[amm.lam_] == min(cv.values())
    # The chosen lam is much better than the worst of the grid on fresh rows too...
    held = dict(zip(_LAM_GRID, _heldout_errors(amm, A_train, A_test, B, _LAM_GRID)))
    assert held[amm.lam_] < 0.9 * max(held.values())
    # ...and within a few percent of the best lam in hindsight.
    assert held[amm.lam_] <= 1.05 * min(held.values())
    # With 400 rows and 512 one-hot columns, a tiny penalty overfits.
    assert amm.lam_ > _LAM_GRID[0]


def test_cv_lam_function_direct():
    rng = np.random.default_rng(0)
    codes = rng.integers(16, size=(300, 4))
    G = _one_hot(codes).astype(np.float64)
    P = rng.normal(size=(64, 6))
    A = G @ P + 0.01 * rng.normal(size=(300, 6))   # A is almost exactly a function of the codes
    B = rng.normal(size=(6, 3))
    lam, errs, _ = _cv_lam(codes, A, B, 5, np.random.default_rng(0))
    assert len(errs) == len(_LAM_GRID) and lam == _LAM_GRID[int(np.argmin(errs))]
    assert lam <= 1.0   # little noise: a small penalty wins
    assert np.all(np.diff(errs[_LAM_GRID.index(lam):]) >= 0)  # larger penalties only add bias here


def test_lam_auto_deterministic_and_seed_used(few_rows):
    A_train, A_test, B = few_rows
    a = tenfold.Maddness(ncodebooks=16, random_state=5).fit(A_train, B)
    b = tenfold.Maddness(ncodebooks=16, random_state=5).fit(A_train, B)
    assert a.lam_ == b.lam_ and a.lam_cv_errors_ == b.lam_cv_errors_
    assert np.array_equal(a.prototypes_, b.prototypes_) and np.array_equal(a.matmul(A_test), b.matmul(A_test))
    c = tenfold.Maddness(ncodebooks=16, random_state=6).fit(A_train, B)
    assert c.lam_cv_errors_ != a.lam_cv_errors_  # the folds depend on the seed


def test_shrinkage(few_rows):
    A_train, A_test, B = few_rows
    exact = A_test @ B
    fits = {s: tenfold.Maddness(ncodebooks=16, shrinkage=s, lam=10.0).fit(A_train, B) for s in (1.0, 0.5)}
    assert not np.array_equal(fits[1.0].split_dims_, fits[0.5].split_dims_) \
        or not np.array_equal(fits[1.0].thresholds_, fits[0.5].thresholds_)
    for s, amm in fits.items():
        assert np.linalg.norm(amm.matmul(A_test) - exact) / np.linalg.norm(exact) < 0.5, s
    assert tenfold.Maddness().shrinkage == 0.5 and tenfold.Maddness().get_params()["shrinkage"] == 0.5


def test_bad_learning_params(few_rows):
    A_train, _, B = few_rows
    for bad in (0, -0.5, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="shrinkage"):
            tenfold.Maddness(shrinkage=bad).fit(A_train, B)
    for bad in (1, 21):
        with pytest.raises(ValueError, match="lam_folds"):
            tenfold.Maddness(lam_folds=bad).fit(A_train, B)


def test_new_params_survive_save_load(tmp_path, few_rows):
    A_train, A_test, B = few_rows
    amm = tenfold.Maddness(ncodebooks=8, shrinkage=0.3, lam_folds=3).fit(A_train, B)
    amm.save(tmp_path / "m.tfz")
    back = tenfold.load(tmp_path / "m.tfz")
    assert back.shrinkage == 0.3 and back.lam_folds == 3
    assert np.array_equal(back.matmul(A_test), amm.matmul(A_test))


def test_set_tables(few_rows):
    A_train, A_test, B = few_rows
    for agg in ("exact", "average"):
        amm = tenfold.Maddness(ncodebooks=8, aggregate=agg).fit(A_train, B)
        bias = np.arange(B.shape[1], dtype=np.float32)
        ref = amm.set_B(B, bias).matmul(A_test)
        T = (amm.prototypes_.reshape(16 * 8, -1) @ B).reshape(8, 16, -1).transpose(2, 0, 1)
        assert np.array_equal(amm.set_tables(T, bias).matmul(A_test), ref)
        # Arbitrary tables: the result is the sum of the looked-up entries, to the uint8 precision.
        rng = np.random.default_rng(0)
        T2 = rng.normal(size=(3, 8, 16))
        codes = _codes_matrix(amm.encode(A_test))
        want = sum(T2[:, c, codes[:, c]].T for c in range(8))
        got = amm.set_tables(T2).matmul(A_test)
        assert got.shape == (len(A_test), 3) and amm.n_outputs_ == 3
        step = (T2.max(2) - T2.min(2)).max(1) / 255  # one table step per output column
        # Rounding each of the 8 entries: half a step each; the averaging tree adds up to half a
        # step (times the group size 8) per level of its 3 levels.
        bound = 4 * step if agg == "exact" else (4 + 8 * 3 * 0.5) * step
        assert np.all(np.abs(got - want) <= bound + 1e-4), agg
    with pytest.raises(ValueError, match="tables must have shape"):
        amm.set_tables(np.zeros((3, 7, 16)))
    with pytest.raises(ValueError, match="NaN"):
        amm.set_tables(np.full((3, 8, 16), np.nan))
    with pytest.raises(ValueError, match="bias"):
        amm.set_tables(np.zeros((3, 8, 16)), bias=np.zeros(4))
    with pytest.raises(ValueError, match="not fitted"):
        tenfold.Maddness(ncodebooks=8).set_tables(np.zeros((3, 8, 16)))


@pytest.fixture(scope="module")
def classes():
    """A 6-class linear classifier on clustered data (logits B, bias)."""
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(6, 24)) * 1.2
    labels = rng.integers(6, size=3000)
    A = (centers[labels] + rng.normal(size=(3000, 24))).astype(np.float32)
    B = (centers.T * 1.5).astype(np.float32)
    bias = -0.75 * (centers ** 2).sum(1)
    return A[:1500], A[1500:], B, bias


def test_distill_softmax_matches_argmax_better(classes):
    A_train, A_test, B, bias = classes
    amm = tenfold.Maddness(ncodebooks=4).fit(A_train, B, bias=bias)

    def agree(model, A):
        return float((model.matmul(A).argmax(1) == (A @ B + bias).argmax(1)).mean())

    def kl(model, A):
        def logsoftmax(z):
            z = z - z.max(1, keepdims=True)
            return z - np.log(np.exp(z).sum(1, keepdims=True))
        lp = logsoftmax(A.astype(np.float64) @ B + bias)
        return float((np.exp(lp) * (lp - logsoftmax(model.matmul(A).astype(np.float64)))).sum(1).mean())

    before = (agree(amm, A_train), agree(amm, A_test), kl(amm, A_train))
    split_dims = amm.split_dims_.copy()
    amm.distill_softmax(A_train, B, bias)
    after = (agree(amm, A_train), agree(amm, A_test), kl(amm, A_train))
    assert after[2] < 0.8 * before[2]            # the objective it minimises, on its rows
    assert after[0] > before[0] and after[1] >= before[1] - 0.01
    assert np.array_equal(amm.split_dims_, split_dims)   # encoder untouched
    # Deterministic.
    again = tenfold.Maddness(ncodebooks=4).fit(A_train, B, bias=bias).distill_softmax(A_train, B, bias)
    assert np.array_equal(again.luts_, amm.luts_)
    # set_B goes back to the ridge tables.
    amm.set_B(B, bias)
    assert agree(amm, A_train) == before[0]


def test_distill_softmax_bad_input(classes):
    A_train, _, B, bias = classes
    amm = tenfold.Maddness(ncodebooks=4).fit(A_train[:300], B, bias=bias)
    with pytest.raises(ValueError, match="steps"):
        amm.distill_softmax(A_train, B, steps=0)
    for name in ("l2", "lr"):
        with pytest.raises(ValueError, match=name):
            amm.distill_softmax(A_train, B, **{name: -1.0})
    with pytest.raises(ValueError, match="B must have"):
        amm.distill_softmax(A_train, B[:5])
    with pytest.raises(ValueError, match="columns"):
        amm.distill_softmax(A_train[:, :5], B)
    with pytest.raises(ValueError, match="bias"):
        amm.distill_softmax(A_train, B, bias=np.zeros(2))
    with pytest.raises(ValueError, match="not fitted"):
        tenfold.Maddness(ncodebooks=4).distill_softmax(A_train, B)


@pytest.fixture(scope="module")
def weighted_B():
    """Structured rows and a B that weighs a few input dimensions much more than the rest (a
    layer that reads some features more than others): what the output objective exploits."""
    rng = np.random.default_rng(5)
    A = structured_data(1500, 40, rng, rank=10, clusters=20, noise=0.3)
    B = (rng.normal(size=(40, 6)) * np.where(np.arange(40) < 8, 3.0, 0.3)[:, None]).astype(np.float32)
    return A, B


def _output_train_error(amm, A, B):
    G = _one_hot(_codes_matrix(amm.encode(A))).astype(np.float64)
    P = amm.prototypes_.reshape(16 * amm.ncodebooks, -1).astype(np.float64)
    return float(np.linalg.norm(G @ P @ B - A.astype(np.float64) @ B))


@pytest.mark.parametrize("C", [4, 8])
def test_output_objective_lowers_output_training_error(weighted_B, C):
    A, B = weighted_B
    errs = {obj: _output_train_error(tenfold.Maddness(ncodebooks=C, lam=1.0, objective=obj).fit(A, B), A, B)
            for obj in ("output", "input")}
    assert errs["output"] < 0.9 * errs["input"], errs


def test_objectives_deterministic_and_saved(tmp_path, weighted_B):
    A, B = weighted_B
    for obj in ("output", "input"):
        a = tenfold.Maddness(ncodebooks=4, objective=obj, random_state=2).fit(A, B)
        b = tenfold.Maddness(ncodebooks=4, objective=obj, random_state=2).fit(A, B)
        assert np.array_equal(a.split_dims_, b.split_dims_) and np.array_equal(a.thresholds_, b.thresholds_)
        assert np.array_equal(a.prototypes_, b.prototypes_) and np.array_equal(a.matmul(A), b.matmul(A))
        a.save(tmp_path / f"{obj}.tfz")
        back = tenfold.load(tmp_path / f"{obj}.tfz")
        assert back.objective == obj and np.array_equal(back.split_dims_, a.split_dims_)
        assert np.array_equal(back.matmul(A), a.matmul(A))


def test_fit_bounds_blas_threads(monkeypatch, few_rows):
    """fit runs numpy's BLAS with at most n_threads threads (its many small products otherwise
    leave OpenBLAS's idle workers spinning: 3x the CPU time of the digits MLP's fits)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import tenfold.maddness.model as model

    seen = []
    real = model._cv_lam

    def spy(*args, **kwargs):
        seen.append([i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"])
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "_cv_lam", spy)
    A, _, B = few_rows
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        tenfold.Maddness(ncodebooks=4, n_threads=1).fit(A, B)
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert seen and seen[0] and all(t == 1 for t in seen[0])
    assert after and all(t == 2 for t in after)  # restored after the fit
