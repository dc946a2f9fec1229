"""MADDNESS: approximate matrix products with hash trees and lookup tables (Blalock & Guttag, ICML'21).

Each of ``ncodebooks`` codebooks is a balanced binary tree of 4 levels (16 leaves). Every node of
one level splits on the same input dimension, so encoding a row costs 4 comparisons per codebook
and no arithmetic on the whole row: only the ``4 * ncodebooks`` split columns of A are read. A
row's codes select one learned prototype per codebook; the prototypes times B are precomputed into
16-entry uint8 tables, so ``A @ B`` becomes ``ncodebooks`` table look-ups per output entry.

Learning (deterministic, the same model for any thread count and SIMD path; the sums over rows in
C++, see trees.py):

- the split values are quantized to signed bytes with an offset/scale per input dimension
  (fitted on the training rows' 0.1-99.9 percentiles), so the encoder compares bytes;
- codebook by codebook, on a running residual: with ``objective="output"`` (default) the residual
  of the product ``A @ B`` for the B given to ``fit`` (the trees then spend their splits on what
  B sees; a departure from the paper that cuts the error sharply at small ``ncodebooks``), with
  ``objective="input"`` the residual of A itself, as in the paper. At each level the candidate
  dimensions are those with the largest summed squared error over the level's nodes (input) or
  that best explain the residual linearly within the nodes (output); for each candidate every
  node's threshold comes from an exact scan of the cumulative SSE over the 256 byte values; the
  candidate with the lowest total SSE wins; the leaf means times ``shrinkage`` (default 0.5, as
  in gradient boosting; the paper's 1.0 overfits the greedy residual with few training rows) are
  subtracted from the residual;
- with ``split_width=w > 1`` (a departure from the paper) a level splits not on one dimension
  but on a signed sum of ``w`` dimensions. The columns and signs come from a local search
  (column swaps and sign flips) on how much of the residual the sum explains linearly within
  the level's nodes, started from the generalised eigenvector of that problem; the exact
  threshold scan then picks between it and the unrefined sign patterns (including the first
  version's: the leading singular vector of the within-node cross-covariance of A and the
  residual), so a level is never worse than that on the training rows;
- the prototypes of all codebooks are then refitted jointly by ridge regression of A on the
  one-hot codes (closed form); ``lam="auto"`` picks the ridge penalty from a grid by
  ``lam_folds``-fold cross-validation of the error of the product itself (with few training rows
  a small penalty overfits). ``set_B`` reuses these prototypes for any B.

Tables: the prototypes times B, quantized to uint8 with an offset per (codebook, output column)
and one scale per output column. Aggregation (``aggregate``): ``"exact"`` sums the bytes in
uint16; ``"average"`` (the paper's) combines groups of up to 16 codebooks with a tree of rounding
byte averages (faster, a little less accurate; the rounding bias is removed in expectation).
``set_tables`` installs float tables fitted by other means, quantized the same way;
``distill_softmax`` fits them to a classifier's softmax on unlabeled rows (knowledge distillation).
"""

from __future__ import annotations

import contextlib
import numbers
from typing import Any, Iterator, Union

import numpy as np

from .. import _core, _io
from .._checks import as_float_matrix, check_choice, check_fitted, check_int, refuse_masked
from .._runtime import resolve_threads
from .._validate import check_maddness_output_range, maddness_log2g, validate_maddness
from .ridge import _LAM_GRID, _cv_lam, _one_hot, _onehot_products, _ridge
from .signed_sums import _learn_tree_sums, _sum_gram
from .trees import _LEVELS, _leaf_means, _learn_tree, _panels, _start

__all__ = ["Maddness"]

_BLOCK = 32
_MIN_ROWS = 64
_AGGREGATES = ("average", "exact")
_NONFINITE_A = ("A contains NaN or infinite values, or values beyond float32's range (~3.4e38), in a "
                "column the encoder reads")
_OBJECTIVES = ("output", "input")
_MAX_TOPK = 64  # the C++ kernel's bound (maddness.hpp, kMaxTopK)


def _tables(T: np.ndarray, bias: np.ndarray, aggregate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Quantize float tables T (m, C, 16) to uint8 LUTs plus the per-column dequantization.

    Offset per (column, codebook), one scale per output column. Returns (luts, mul, add, log2g)
    such that the scan kernel's ``fma(float(s), mul, add)`` estimates ``sum_c T[m, c, code_c] + bias``.
    """
    C = T.shape[1]
    off = T.min(axis=2)                                        # (m, C)
    width = (T.max(axis=2) - off).max(axis=1)                  # (m,)
    scale = np.where(width > 0, 255.0 / np.where(width > 0, width, 1.0), 1.0)
    luts = np.rint((T - off[:, :, None]) * scale[:, None, None]).clip(0, 255).astype(np.uint8)
    add = off.sum(axis=1) + bias
    if aggregate == "exact":
        log2g = 0
        mul = 1.0 / scale
    else:
        log2g = maddness_log2g(C, aggregate)                   # largest power of two <= 16 dividing C
        g, ngroups = 1 << log2g, C >> log2g
        # Each rounding average adds 1/4 on average, and averaging keeps the bias of its inputs:
        # a tree of L levels returns sum / g + L / 4 in expectation.
        beta = 0.25 * log2g
        mul = g / scale
        add = add - ngroups * g * beta / scale
    # Constant columns (all tables flat): the bytes are all 0, the result is exactly `add`.
    flat = width <= 0
    mul = np.where(flat, 0.0, mul)
    add = np.where(flat, off.sum(axis=1) + bias, add)
    return np.ascontiguousarray(luts), mul.astype(np.float32), add.astype(np.float32), int(log2g)


@contextlib.contextmanager
def _blas_threads(n_threads: int) -> Iterator[None]:
    """numpy's BLAS limited to ``n_threads`` threads for the body (with threadpoolctl, if installed).

    fit's BLAS calls on small inputs are many small products (d x m rank-k updates per tree
    level): left at one BLAS thread per core, OpenBLAS's idle workers spin between them, which on
    the digits MLP's two 512-wide layers (1,347 rows) tripled fit's CPU time (4.7 s against 1.5 s
    with one thread) without making it faster."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it, BLAS keeps its own thread count
        yield
        return
    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Maddness:
    """Approximate ``A @ B`` for a fixed B (or a few B's) and many rows A, with 4-bit codes.

    Parameters
    ----------
    ncodebooks : even int in [2, 256]. Encoding reads ``4 * ncodebooks`` columns of A; the
        aggregation costs ``ncodebooks`` byte look-ups per output entry. More is more accurate.
    lam : ridge penalty for the prototypes (float >= 0), or ``"auto"`` (default) to choose it from
        ``(0.01, 0.03, 0.1, ..., 1e4)`` by ``lam_folds``-fold cross-validation of the error of
        ``A @ B`` (a small lam overfits when there are few training rows). The chosen value is
        ``lam_``, the cross-validated errors ``lam_cv_errors_``.
    aggregate : ``"average"`` (default; the paper's tree of rounding byte averages, fastest) or
        ``"exact"`` (exact uint16 sums of the table bytes).
    objective : ``"output"`` (default: trees fitted to the residual of ``A @ B``, i.e. A's
        residual in the metric ``B @ B.T``: split dimensions and thresholds minimise the SSE of
        the output) or ``"input"`` (the paper's: trees fitted to the residual of A, agnostic of
        B). Use ``"output"`` for one B (a layer's weights): scikit-learn digits, mean of 5 splits,
        77% vs 46% accurate at C=2 and 94.8% vs 93.0% at C=16, level from C=32; MiniLM
        sentence embeddings (64 classes) 32.9% vs 30.3% at C=16. Use ``"input"`` when one
        encoder must serve many B's through :meth:`set_B`.
    refit_passes : extra backfitting passes (default 0, as in the paper): each tree is relearned
        on the target minus the fit of all the others. Lowers the error (e.g. relative error
        0.30 -> 0.27 on digits at C=16) at the cost of fitting time.
    n_candidates : split dimensions evaluated exactly per tree level (twice as many for "output",
        picked by how well each explains the residual linearly within the nodes). Scanning all
        dimensions instead changed the greedy training error by < 0.2% on the sentence-embedding
        benchmark (384 dims) at 8-70x the fitting time.
    shrinkage : float in (0, 1], default 0.5: fraction of each tree's leaf means removed from the
        residual before the next tree is learned (1.0 is the paper's greedy fit). Smaller values
        spread the fit over more trees and overfit less (digits, C=16, mean of 5 splits: 3.3 ->
        2.2 points lost against exact); the final prototypes are refitted jointly either way.
    lam_folds : folds of the cross-validation of ``lam="auto"`` (2 to 20, default 5).
    split_width : input columns read by each split (default 1, the paper's: one dimension per
        tree level). With ``w > 1`` each level splits on a signed sum of ``w`` columns (added or
        subtracted, still no multiplies), chosen by a search over columns and signs for the sum
        that best explains the residual within the level's nodes. For near-isotropic inputs
        (sentence embeddings), where one dimension says little about a row: on the MiniLM
        benchmark (64 classes, mean of 2 splits) C=16 reaches 46.5% with ``w=32`` against 32.9%
        with ``w=1`` (PQ+ridge 39.9%), C=8 33.4% (PQ+ridge 31.1%), C=32 54.4% (PQ+ridge 48.5%).
        Encoding then costs ``4 * ncodebooks * w`` additions per row and reads every column, so
        it is far slower than ``w=1`` (C=16, w=32: 2.7x over BLAS against 21x); see BENCHMARKS.md. ``split_dims_`` then indexes the
        ``4 * ncodebooks`` sums, whose columns are ``sum_cols_`` (added first, ``sum_npos_`` of
        them, then subtracted).
    random_state : seed for the row sample (``max_train_rows``) and the ``lam="auto"`` folds.
    max_train_rows : at most this many training rows are used (a random sample beyond it).
    n_threads : threads for encoding and aggregation (None: TENFOLD_NUM_THREADS or all cores).

    Memory layout: ``matmul`` reads A in place whatever its strides. Fortran order (contiguous
    columns, e.g. ``np.asfortranarray(A)``) is the fast path: each split column is one
    contiguous read. Row-major A works without a copy (the split values are gathered row by row)
    but reads nearly every cache line of A. The result is a float32 (n, m) array in Fortran order
    (the fastest to write), or C order with ``matmul(A, order="C")``.

    >>> import numpy as np, tenfold
    >>> rng = np.random.default_rng(0)
    >>> A = (rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 32))).astype(np.float32)
    >>> B = rng.normal(size=(32, 5)).astype(np.float32)
    >>> amm = tenfold.Maddness(ncodebooks=16).fit(A, B)
    >>> C = amm.matmul(A)
    >>> C.shape
    (2000, 5)
    >>> bool(np.linalg.norm(C - A @ B) / np.linalg.norm(A @ B) < 0.3)
    True

    Trees fitted to A alone (B-agnostic), to serve several right-hand matrices:

    >>> amm_in = tenfold.Maddness(ncodebooks=16, objective="input").fit(A, B)
    >>> amm_in.set_B(rng.normal(size=(32, 3))).matmul(A).shape
    (2000, 3)

    Splits on signed sums of 8 columns, for inputs where single dimensions carry little:

    >>> X = rng.normal(size=(3000, 64)).astype(np.float32)
    >>> B2 = rng.normal(size=(64, 4)).astype(np.float32)
    >>> err = lambda m: np.linalg.norm(m.fit(X, B2).matmul(X) - X @ B2) / np.linalg.norm(X @ B2)
    >>> bool(err(tenfold.Maddness(split_width=8)) < err(tenfold.Maddness()))
    True
    """

    def __init__(self, ncodebooks: int = 16, lam: Union[float, str] = "auto", aggregate: str = "average",
                 objective: str = "output", refit_passes: int = 0, n_candidates: int = 4, random_state: int = 0,
                 max_train_rows: int = 1 << 16, n_threads: int | None = None, shrinkage: float = 0.5,
                 lam_folds: int = 5, split_width: int = 1) -> None:
        self.ncodebooks = ncodebooks
        self.split_width = split_width
        self.shrinkage = shrinkage
        self.lam_folds = lam_folds
        self.objective = objective
        self.refit_passes = refit_passes
        self.lam = lam
        self.aggregate = aggregate
        self.n_candidates = n_candidates
        self.random_state = random_state
        self.max_train_rows = max_train_rows
        self.n_threads = n_threads
        self.split_dims_: np.ndarray | None = None

    # ---------------------------------------------------------------- sklearn-style params
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("ncodebooks", "lam", "aggregate", "objective", "refit_passes", "n_candidates",
                                              "random_state", "max_train_rows", "n_threads", "shrinkage",
                                              "lam_folds", "split_width")}

    def set_params(self, **params: Any) -> "Maddness":
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"unknown parameter {k!r} for Maddness")
            setattr(self, k, v)
        return self

    def _check_params(self) -> None:
        C = check_int(self.ncodebooks, "ncodebooks", minimum=2, maximum=256)
        if C % 2:
            raise ValueError(f"ncodebooks must be even (two 4-bit codes per byte), got {C}")
        if isinstance(self.lam, str):
            check_choice(self.lam, "lam", ("auto",))
        elif isinstance(self.lam, bool) or not isinstance(self.lam, numbers.Real) or not np.isfinite(self.lam) \
                or self.lam < 0:
            raise ValueError(f"lam must be a finite float >= 0 or 'auto', got {self.lam!r}")
        check_choice(self.aggregate, "aggregate", _AGGREGATES)
        check_choice(self.objective, "objective", _OBJECTIVES)
        check_int(self.n_candidates, "n_candidates", minimum=1)
        check_int(self.random_state, "random_state", minimum=0)
        check_int(self.max_train_rows, "max_train_rows", minimum=_MIN_ROWS)
        check_int(self.lam_folds, "lam_folds", minimum=2, maximum=20)
        check_int(self.split_width, "split_width", minimum=1, maximum=4096)
        if isinstance(self.shrinkage, bool) or not isinstance(self.shrinkage, numbers.Real) \
                or not 0 < self.shrinkage <= 1:
            raise ValueError(f"shrinkage must be a float in (0, 1], got {self.shrinkage!r}")

    # ---------------------------------------------------------------- learning
    def fit(self, A_train: Any, B: Any, bias: Any = None) -> "Maddness":
        """Learn the hash trees and prototypes from ``A_train`` (n, d), then tables for ``B`` (d, m).

        ``bias`` (m,) is added to every output row (folded into the dequantization). ``n_threads``
        also bounds numpy's BLAS threads during the fit (when threadpoolctl is installed).
        """
        self._check_params()
        nt = resolve_threads(self.n_threads)
        with _blas_threads(nt):
            return self._fit(A_train, B, bias, nt)

    def _fit(self, A_train: Any, B: Any, bias: Any, nt: int) -> "Maddness":
        A = as_float_matrix(A_train, "A_train", n_threads=nt)
        n, d = A.shape
        if n < _MIN_ROWS:
            raise ValueError(f"A_train has {n} rows; MADDNESS needs at least {_MIN_ROWS} training rows "
                             f"(16 leaves per tree), and many more for good accuracy")
        Bf = self._check_B(B, d)  # fail before the expensive part
        rng = np.random.default_rng(self.random_state)
        if n > self.max_train_rows:
            A = A[np.sort(rng.choice(n, self.max_train_rows, replace=False))]
            n = A.shape[0]
        C = self.ncodebooks
        output = self.objective == "output"
        width = min(int(self.split_width), d)
        sums = width > 1
        refit_passes = check_int(self.refit_passes, "refit_passes", minimum=0)
        # A dense float64 residual only for signed sums and backfitting; the default path starts
        # from trees._start (the residual in panels, built in blocks of rows).
        dense = sums or refit_passes > 0
        Y: np.ndarray | None = None
        R: Any = None  # running residual: dense (n, m) in C order (rows summed), or trees._start's panels
        target: np.ndarray | None = None
        Ac: np.ndarray | None = None
        if dense:
            A64 = A.astype(np.float64)
            Y = A64 @ Bf.astype(np.float64) if output else None
            R = (A64 if Y is None else Y).copy()
            target = R.copy() if refit_passes else None
            Ac = A64 - A64.mean(0) if output or sums else None
        m_res = Bf.shape[1] if output else d
        target_sq = np.einsum("ij,ij->i", Y, Y) if Y is not None else None  # |A_i B|², for lam="auto"
        dims = np.zeros((C, _LEVELS), dtype=np.int64)
        offsets = np.zeros((C, _LEVELS), dtype=np.float32)
        scales = np.ones((C, _LEVELS), dtype=np.float32)
        thresholds = np.zeros((C, _LEVELS, 16), dtype=np.int8)
        sum_cols = np.zeros((C, _LEVELS, width), dtype=np.int64) if sums else None
        sum_npos = np.zeros((C, _LEVELS), dtype=np.int32) if sums else None
        codes = np.zeros((n, C), dtype=np.uint8)
        k = min(self.n_candidates * (2 if output else 1), d)
        shrink = float(self.shrinkage)
        if sums:
            assert Ac is not None and sum_cols is not None and sum_npos is not None  # dense, and set for sums
            Ac_sums, tree_cols, tree_npos = Ac, sum_cols, sum_npos
            gram = _sum_gram(Ac_sums)

            def learn(c: int, R: Any, AcR: np.ndarray | None, R2: Any) -> tuple[np.ndarray, np.ndarray]:
                tree_cols[c], tree_npos[c], offsets[c], scales[c], thresholds[c], node = \
                    _learn_tree_sums(A, Ac_sums, R, width, nt, gram)
                dims[c] = np.arange(c * _LEVELS, (c + 1) * _LEVELS)  # the encoder reads feature columns
                return node, _leaf_means(node, R, nt)

            def shrink_residual(R: Any, node: np.ndarray, means: np.ndarray) -> Any:
                R -= shrink * means[node]
                return None
        else:
            # The trees read the residual in panels (see trees._panels) and the split values
            # quantized and transposed (one dimension's values contiguous).
            data, offset, scale, R_panels, R2_start, AcR_start, y_sq = _start(A, Bf if output else None, nt)
            if output:
                target_sq = y_sq

            def learn(c: int, R: Any, AcR: np.ndarray | None, R2: Any) -> tuple[np.ndarray, np.ndarray]:
                R2, SR0 = R2 if isinstance(R2, tuple) else (R2, None)  # shrink_residual's row norms, column sums
                if R2 is None:
                    R2 = np.einsum("pij,pij->i", R, R)
                dims[c], thresholds[c], node, leaf_R, leaf_n, leaf_A = _learn_tree(data, R, R2, AcR, k, SR0)
                offsets[c], scales[c] = offset[dims[c]], scale[dims[c]]
                means = leaf_R / np.maximum(leaf_n, 1)[:, None]                 # (16, m padded)
                if AcR is not None:  # Acᵀ R after R -= shrink * means[node], without a pass over A
                    assert leaf_A is not None  # the output objective's trees return it with AcR
                    AcR -= shrink * (leaf_A.T @ means[:, :m_res])
                return node, means

            def shrink_residual(R: Any, node: np.ndarray, means: np.ndarray) -> Any:
                return _core.maddness_shrink_panels(R, node, means, shrink)  # and its new row norms, column sums
        # Acᵀ R, kept current through the greedy pass by the trees (output objective, one column per split).
        AcR = None
        R2 = None  # squared row norms of the residual, when the last update computed them
        if not sums:
            R, R2, AcR = R_panels, R2_start, AcR_start
        for c in range(C):  # greedy pass: each tree on the residual of the previous ones
            node, means = learn(c, R, AcR, R2)
            codes[:, c] = node
            R2 = shrink_residual(R, node, means)
        # Diagnostic: training error of the greedy (leaf-mean) fit, in the objective's space.
        self.greedy_train_error_ = float(np.linalg.norm(R))
        for _ in range(refit_passes):
            assert target is not None  # dense whenever refit_passes > 0
            # Backfitting: relearn each tree on the target minus the (ridge) fit of all others.
            G = _one_hot(codes).astype(np.float64)
            P = _ridge(G.T @ G, G.T @ target, 1.0)
            fit = G @ P
            for c in range(C):
                cols = slice(16 * c, 16 * c + 16)
                fit -= G[:, cols] @ P[cols]
                R = target - fit
                AcR_refit = Ac.T @ R if output and not sums and Ac is not None else None  # Ac: dense and output
                node, _ = learn(c, R if sums else _panels(R), AcR_refit, None)
                codes[:, c] = node
                G[:, cols] = 0.0
                G[np.arange(n), 16 * c + node.astype(np.intp)] = 1.0  # node is uint8: 16 * c + node overflows from c = 16
                P[cols] = _leaf_means(node, R, nt)
                fit += G[:, cols] @ P[cols]
        self.split_dims_ = dims
        self.offsets_ = offsets
        self.scales_ = scales
        self.thresholds_ = thresholds
        self.sum_cols_, self.sum_npos_ = sum_cols, sum_npos
        self.n_features_in_ = d
        # Ridge refinement of all prototypes at once (input space, so set_B works for any B).
        if self.lam == "auto":
            lam, errs, (GtG, GtA) = _cv_lam(codes, A, Bf, self.lam_folds, rng, n_threads=nt, target_sq=target_sq)
            self.lam_cv_errors_ = dict(zip(_LAM_GRID, errs))
        else:
            lam = float(self.lam)
            GtG, GtA = _onehot_products(codes, A, nt)
        self.lam_ = lam
        self.prototypes_ = _ridge(GtG, GtA, lam).reshape(C, 16, d).astype(np.float32)
        self.set_B(Bf, bias)
        return self

    def _check_B(self, B: Any, d: int) -> np.ndarray:
        Bf = as_float_matrix(B, "B")
        if Bf.shape[0] != d:
            raise ValueError(f"B must have {d} rows to multiply A with {d} columns, got shape {Bf.shape}")
        return Bf

    def set_B(self, B: Any, bias: Any = None) -> "Maddness":
        """Rebuild the lookup tables for a new right-hand matrix B (d, m), keeping the encoder.

        With ``objective="output"`` the trees were chosen for the B given to ``fit``; for a
        model meant to serve many B's, fit with ``objective="input"``.

        >>> import numpy as np, tenfold
        >>> rng = np.random.default_rng(0)
        >>> A = rng.normal(size=(500, 16)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=8).fit(A, np.eye(16, 3, dtype=np.float32))
        >>> amm.set_B(rng.normal(size=(16, 7))).matmul(A).shape
        (500, 7)
        """
        check_fitted(self, "split_dims_")
        check_choice(self.aggregate, "aggregate", _AGGREGATES)
        Bf = self._check_B(B, self.n_features_in_)
        m = Bf.shape[1]
        b = self._check_bias(bias, m)
        C = self.ncodebooks
        T = (self.prototypes_.reshape(16 * C, -1) @ Bf).reshape(C, 16, m).transpose(2, 0, 1).astype(np.float64)
        return self.set_tables(T, b)

    def set_tables(self, tables: Any, bias: Any = None) -> "Maddness":
        """Set the float lookup tables directly, keeping the encoder: ``tables`` (m, ncodebooks, 16)
        holds each output column's contribution of each codebook's 16 codes, so that
        ``matmul(A)[i, j] ~= sum_c tables[j, c, code_c(A[i])] + bias[j]``. They are quantized to
        the uint8 tables exactly as :meth:`set_B` quantizes ``prototypes_ @ B``.

        For tables fitted by other means than the ridge prototypes, e.g. distilled to a
        classifier's softmax on the codes of many (unlabeled) rows. ``prototypes_`` are left
        unchanged, so a later :meth:`set_B` rebuilds the tables from them.

        >>> import numpy as np, tenfold
        >>> rng = np.random.default_rng(0)
        >>> A, B = rng.normal(size=(500, 16)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=4).fit(A, B)
        >>> T = (amm.prototypes_.reshape(64, 16) @ B).reshape(4, 16, 3).transpose(2, 0, 1)
        >>> bool(np.array_equal(amm.set_tables(T).matmul(A), amm.set_B(B).matmul(A)))
        True
        """
        check_fitted(self, "split_dims_")
        check_choice(self.aggregate, "aggregate", _AGGREGATES)
        T = np.asarray(tables, dtype=np.float64)
        C = self.ncodebooks
        if T.ndim != 3 or T.shape[1:] != (C, 16) or T.shape[0] < 1:
            raise ValueError(f"tables must have shape (m, {C}, 16), got {T.shape}")
        if not np.isfinite(T).all():
            raise ValueError("tables contain NaN or infinite values")
        m = T.shape[0]
        b = self._check_bias(bias, m)
        with np.errstate(over="ignore"):  # float32 overflow is reported just below
            luts, mul, add, log2g = _tables(T, b, self.aggregate)
        check_maddness_output_range(mul, add, C, log2g, "tables (plus bias)")
        self.luts_ = np.ascontiguousarray(luts)
        self.mul_ = mul.astype(np.float32)
        self.add_ = add.astype(np.float32)
        self.log2g_ = int(log2g)
        self.n_outputs_ = m
        return self

    def distill_softmax(self, A: Any, B: Any, bias: Any = None, steps: int = 300, l2: float = 1e-3,
                        lr: float = 0.025) -> "Maddness":
        """Refit the tables of a classifier's final layer so that ``softmax(matmul(A))`` matches
        the exact ``softmax(A @ B + bias)`` on the rows A (knowledge distillation; no labels).

        For a linear layer followed by a softmax/argmax, where what matters is the predicted
        class, not the logits' squared error. A: any rows of the layer's input (the training
        rows, plus e.g. noisy copies of them: more rows help); the encoder is kept, the float
        tables start from ``prototypes_ @ B`` and take ``steps`` Adam steps on the mean KL
        divergence plus ``l2`` times the squared distance to the start, then are quantized as
        usual (:meth:`set_tables`). Memory: a float32 one-hot matrix of ``len(A) * 16 *
        ncodebooks`` entries. On scikit-learn's digits at C=16 (mean of 5 splits), with 7 noisy
        copies of the training rows: 2.2 points lost against exact -> 0.8.

        >>> import numpy as np, tenfold
        >>> rng = np.random.default_rng(0)
        >>> A = rng.normal(size=(1000, 16)).astype(np.float32)
        >>> B = rng.normal(size=(16, 4)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=8).fit(A, B).distill_softmax(A, B, steps=50)
        >>> amm.matmul(A).shape
        (1000, 4)
        """
        check_fitted(self, "split_dims_")
        steps = check_int(steps, "steps", minimum=1)
        for name, v in (("l2", l2), ("lr", lr)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite float >= 0, got {v!r}")
        Bf = self._check_B(B, self.n_features_in_).astype(np.float64)
        m = Bf.shape[1]
        b = self._check_bias(bias, m)
        X = self._as_input(A)
        if X.shape[0] < 1:
            raise ValueError("A must have at least one row")
        C = self.ncodebooks
        packed = self.encode(X)
        codes = np.stack([packed & 15, packed >> 4], axis=2).reshape(X.shape[0], C)
        G = _one_hot(codes)                                                   # float32 (n, 16C)
        P = _softmax(X.astype(np.float64) @ Bf + b)
        W0 = self.prototypes_.reshape(16 * C, -1).astype(np.float64) @ Bf     # (16C, m)
        W, mom, var = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
        n = X.shape[0]
        for it in range(1, steps + 1):
            grad = (G.T @ (_softmax(G @ W + b) - P)) / n + l2 * (W - W0)
            mom = 0.9 * mom + 0.1 * grad
            var = 0.999 * var + 0.001 * grad * grad
            W -= lr * (mom / (1 - 0.9 ** it)) / (np.sqrt(var / (1 - 0.999 ** it)) + 1e-8)
        return self.set_tables(W.reshape(C, 16, m).transpose(2, 0, 1), b)

    @staticmethod
    def _check_bias(bias: Any, m: int) -> np.ndarray:
        if bias is None:
            return np.zeros(m)
        b = np.asarray(bias, dtype=np.float64).reshape(-1)
        if b.shape != (m,):
            raise ValueError(f"bias must have {m} entries (the columns of B), got shape {np.shape(bias)}")
        if not np.isfinite(b).all():
            raise ValueError("bias contains NaN or infinite values")
        return b

    # ---------------------------------------------------------------- inference
    def _as_input(self, A: Any) -> np.ndarray:
        if type(A) is np.ndarray and A.dtype == np.float32 and A.ndim == 2 and self.split_dims_ is not None \
                and A.shape[1] == self.n_features_in_ and (A.flags.f_contiguous or A.flags.c_contiguous):
            return A  # fast path: a contiguous float32 matrix of the right width
        check_fitted(self, "split_dims_")
        refuse_masked(A, "A")
        arr = A if isinstance(A, np.ndarray) else np.asarray(A)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"A must be a real numeric array, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"A must be a 2-D array (n, d), got shape {arr.shape}")
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(f"A has {arr.shape[1]} columns but the model was fitted on "
                             f"{self.n_features_in_} (B has {self.n_features_in_} rows)")
        if arr.dtype != np.float32 or any(s % 4 for s in arr.strides) or any(s < 0 for s in arr.strides) \
                or abs(arr.strides[0]) >= (1 << 27):
            with np.errstate(over="ignore"):
                arr = np.asarray(arr, dtype=np.float32, order="F" if arr.flags.f_contiguous else "C")
            if arr.strides[0] < 0 or arr.strides[1] < 0 or arr.strides[0] >= (1 << 27):
                arr = np.ascontiguousarray(arr)
        return arr

    def _plan(self) -> Any:
        # C++ cache of the encoder tables derived from the split arrays (checked by value on
        # every call, so it never goes stale); not persisted.
        plan = self.__dict__.get("_plan_cache")
        if plan is None:
            plan = self._plan_cache = _core.maddness_Plan()
        return plan

    def __getstate__(self) -> dict[str, Any]:
        # The C++ caches are rebuilt on demand and cannot be pickled (Dask ships models to
        # workers, copy.deepcopy copies them).
        state = self.__dict__.copy()
        state.pop("_plan_cache", None)
        state.pop("_bound_cache", None)
        return state

    def _bound(self) -> Any:
        # The model's arrays bound once to a C++ object (rebound when an attribute is replaced).
        c = self.__dict__.get("_bound_cache")
        if c is None or not (c[1] is self.split_dims_ and c[2] is self.offsets_ and c[3] is self.scales_
                             and c[4] is self.thresholds_ and c[5] is self.luts_ and c[6] is self.mul_
                             and c[7] is self.add_ and c[8] == self.log2g_):
            assert self.split_dims_ is not None  # callers check_fitted first
            arrays = (self.split_dims_, self.offsets_, self.scales_, self.thresholds_, self.luts_, self.mul_,
                      self.add_, self.log2g_)
            bound = _core.maddness_Bound()
            bound.bind(*arrays)
            c = self._bound_cache = (bound,) + arrays
        return c[0]

    def _split_input(self, A: np.ndarray) -> np.ndarray:
        """What the encoder reads: A itself, or with split_width > 1 the signed-sum features
        (n, 4 * ncodebooks), Fortran order."""
        sum_cols = self.__dict__.get("sum_cols_")
        if sum_cols is None:
            return A
        C = self.ncodebooks
        assert self.sum_npos_ is not None  # set together with sum_cols_
        return _core.maddness_project(A, sum_cols.reshape(C * _LEVELS, -1), self.sum_npos_.reshape(-1),
                                      resolve_threads(self.n_threads)).T

    def _encode_blocked(self, A: np.ndarray) -> np.ndarray:
        A = self._split_input(A)
        assert self.split_dims_ is not None  # callers check_fitted first
        blocked, ok = _core.maddness_encode(self._plan(), A, self.split_dims_, self.offsets_, self.scales_,
                                            self.thresholds_, resolve_threads(self.n_threads))
        if not ok:
            raise ValueError(_NONFINITE_A)
        return blocked

    def encode(self, A: Any) -> np.ndarray:
        """Codes of the rows of A: uint8 (n, ncodebooks // 2), two 4-bit codes per byte
        (codebook 2j in the low nibble of byte j), as :class:`tenfold.BoltEncoder` returns them.

        >>> import numpy as np, tenfold
        >>> A = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=4).fit(A, np.ones((12, 2)))
        >>> codes = amm.encode(A)
        >>> codes.shape, bool(np.allclose(amm.matmul_codes(codes), amm.matmul(A)))
        ((300, 2), True)
        """
        A = self._as_input(A)
        return _core.bolt_unpack_blocked(self._encode_blocked(A), A.shape[0], self.ncodebooks // 2)

    def matmul_codes(self, codes: Any) -> np.ndarray:
        """Approximate products from codes returned by :meth:`encode`; float32 (n, m), Fortran order."""
        check_fitted(self, "split_dims_")
        codes = np.asarray(codes)
        ncols = self.ncodebooks // 2
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != ncols:
            raise ValueError(f"codes must be uint8 of shape (n, {ncols}), got {codes.dtype} {codes.shape}")
        n = codes.shape[0]
        blocked = np.zeros(((n + _BLOCK - 1) // _BLOCK) * _BLOCK * ncols, dtype=np.uint8)
        if n:
            _core.bolt_pack_blocked(np.ascontiguousarray(codes), blocked, 0)
        return self._scan(blocked, n)

    def _scan(self, blocked: np.ndarray, n: int, out: np.ndarray | None = None, order: str = "F") -> np.ndarray:
        threads = resolve_threads(self.n_threads)
        check_choice(order, "order", ("F", "C"))
        row_major = order == "C"
        if out is None:
            res = _core.maddness_scan(blocked, n, self.luts_, self.mul_, self.add_, self.log2g_, threads, None,
                                      row_major)
            assert isinstance(res, np.ndarray)  # the kernel allocates when out is None
            return res if row_major else res.T
        self._check_out(out, n, order)
        _core.maddness_scan(blocked, n, self.luts_, self.mul_, self.add_, self.log2g_, threads,
                            out if row_major else out.T, row_major)
        return out

    def _check_out(self, out: Any, n: int, order: str) -> None:
        m = self.n_outputs_
        row_major = order == "C"
        if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != (n, m) \
                or not ((out.flags.c_contiguous if row_major else out.flags.f_contiguous) and out.flags.writeable):
            raise ValueError(f"out must be a writeable {order}-ordered float32 array of shape ({n}, {m}), "
                             f"e.g. np.empty(({n}, {m}), np.float32, order={order!r})")

    def matmul(self, A: Any, out: np.ndarray | None = None, order: str = "F") -> np.ndarray:
        """Approximate ``A @ B (+ bias)``: float32 (n, m), Fortran order unless ``order="C"``.

        A is read in place (any layout; Fortran order is fastest). Only the split columns of A
        are read, and a NaN or infinity there raises ValueError. ``out``: an optional
        preallocated float32 (n, m) array of the requested order to write into (saves the
        allocation and page faults of a new result on repeated calls). Column-major output is
        the faster one to write; ``order="C"`` writes rows directly (no transposing copy).
        Results of 1 MB or more bypass the caches (streaming stores): column-major, where a
        column's run starts on a 64-byte boundary (new results always do when n % 16 == 0; an
        ``out`` buffer only if it is 64-byte aligned, and numpy's are often only 16); row-major,
        by blocks of 64 whole rows when m <= 128 (rows contiguous, a block on a 64-byte
        boundary). Other writes go through the caches (about 2x slower from cold memory).
        New results of 2 MiB or more (on Linux) are held in 2 MiB pages and reused once freed:
        a 4 MB result written in 4 KB pages costs ~1,000 page walks from cold memory.
        """
        A = self._as_input(A)
        n = A.shape[0]
        row_major = order == "C"
        if not row_major and order != "F":
            check_choice(order, "order", ("F", "C"))
        if out is not None:
            self._check_out(out, n, order)
        res, ok = _core.maddness_run(self._bound(), self._split_input(A), resolve_threads(self.n_threads),
                                     None if out is None else (out if row_major else out.T), row_major)
        if not ok:
            raise ValueError(_NONFINITE_A)
        if out is not None:
            return out
        assert isinstance(res, np.ndarray)  # the kernel allocates when out is None
        return res if row_major else res.T

    def predict(self, A: Any) -> np.ndarray:
        """Index of the largest output of each row, ``matmul(A).argmax(axis=1)`` exactly (first
        maximum on ties), for a classifier head (bias folded in by ``fit``/``set_B``): int64 (n,).

        Fused: each chunk of rows is encoded, aggregated into a small cache-resident buffer and
        reduced, so the (n, m) float32 products are never written to memory.

        >>> import numpy as np, tenfold
        >>> rng = np.random.default_rng(0)
        >>> A = rng.normal(size=(1000, 16)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=8).fit(A, rng.normal(size=(16, 5)), bias=np.arange(5.0))
        >>> bool(np.array_equal(amm.predict(A), amm.matmul(A).argmax(axis=1)))
        True
        """
        A = self._as_input(A)
        idx, _, ok = _core.maddness_run_topk(self._bound(), self._split_input(A), 1, False,
                                             resolve_threads(self.n_threads))
        if not ok:
            raise ValueError(_NONFINITE_A)
        return idx.reshape(-1)

    def topk(self, A: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` largest outputs of each row and their columns, as ``torch.topk``: (values
        float32 (n, k), indices int64 (n, k)), by decreasing value, ties to the lower column
        (the order of a stable sort), exactly those of ``matmul(A)``. 1 <= k <= min(n_outputs, 64).

        Fused like :meth:`predict`: the (n, m) products are never written to memory.

        >>> import numpy as np, tenfold
        >>> rng = np.random.default_rng(0)
        >>> A = rng.normal(size=(1000, 16)).astype(np.float32)
        >>> amm = tenfold.Maddness(ncodebooks=8).fit(A, rng.normal(size=(16, 5)))
        >>> vals, idx = amm.topk(A, 2)
        >>> full = amm.matmul(A)
        >>> bool(np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :2]))
        True
        >>> bool(np.array_equal(vals, np.take_along_axis(full, idx, axis=1)))
        True
        """
        A = self._as_input(A)
        m = self.n_outputs_
        k = check_int(k, "k", minimum=1, maximum=min(m, _MAX_TOPK))
        idx, vals, ok = _core.maddness_run_topk(self._bound(), self._split_input(A), k, True,
                                                resolve_threads(self.n_threads))
        if not ok:
            raise ValueError(_NONFINITE_A)
        return vals, idx

    def __call__(self, A: Any) -> np.ndarray:
        return self.matmul(A)

    # ---------------------------------------------------------------- persistence
    def save(self, path: _io.PathLike) -> None:
        """Save the fitted model (encoder, prototypes and tables); reload with :func:`tenfold.load`."""
        check_fitted(self, "split_dims_")
        assert self.split_dims_ is not None
        meta = {"params": {k: v for k, v in self.get_params().items()}, "lam_": self.lam_,
                "n_features_in_": self.n_features_in_, "n_outputs_": self.n_outputs_, "log2g_": self.log2g_}
        arrays = {"split_dims": self.split_dims_, "offsets": self.offsets_, "scales": self.scales_,
                  "thresholds": self.thresholds_, "prototypes": self.prototypes_,
                  "luts": self.luts_, "mul": self.mul_,
                  "add": self.add_}
        sum_cols = self.__dict__.get("sum_cols_")
        if sum_cols is not None:  # split_width > 1 (sum_npos_ is set with it)
            arrays.update(sum_cols=sum_cols, sum_npos=self.__dict__["sum_npos_"])
        _io.save(path, "Maddness", meta, arrays)

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Maddness":
        obj = cls(**meta["params"])
        obj._check_params()
        validate_maddness(meta, arrays)   # shapes, ranges and log2g_ against ncodebooks: checked there
        d, m, log2g = int(meta["n_features_in_"]), int(meta["n_outputs_"]), int(meta["log2g_"])
        obj.sum_cols_ = obj.sum_npos_ = None
        if min(int(obj.split_width), d) > 1:
            obj.sum_cols_ = arrays["sum_cols"].astype(np.int64)
            obj.sum_npos_ = arrays["sum_npos"].astype(np.int32)
        obj.split_dims_ = arrays["split_dims"].astype(np.int64)
        obj.offsets_ = arrays["offsets"].astype(np.float32)
        obj.scales_ = arrays["scales"].astype(np.float32)
        obj.thresholds_ = arrays["thresholds"].astype(np.int8)
        obj.prototypes_ = arrays["prototypes"].astype(np.float32)
        obj.luts_ = np.ascontiguousarray(arrays["luts"].astype(np.uint8))
        obj.mul_ = arrays["mul"].astype(np.float32)
        obj.add_ = arrays["add"].astype(np.float32)
        obj.log2g_, obj.lam_ = log2g, float(meta["lam_"])
        obj.n_features_in_, obj.n_outputs_ = d, m
        return obj

    def __repr__(self) -> str:
        width = "" if self.split_width == 1 else f", split_width={self.split_width!r}"
        return f"Maddness(ncodebooks={self.ncodebooks!r}, lam={self.lam!r}, aggregate={self.aggregate!r}{width})"


_io.register("Maddness", Maddness._from_state)
