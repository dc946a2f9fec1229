"""Bolt: 4-bit product-quantization codes and lookup-table scans (Blalock & Guttag, KDD'17).

Vectors are split into ``ncodebooks`` subspaces; each subspace is quantized to the nearest of
16 centroids learned by k-means, so a vector becomes ``ncodebooks`` 4-bit codes (two per byte).
A query becomes one 16-entry table per subspace holding its distance (or negated dot product)
to each centroid, quantized to uint8; the approximate distance to a coded vector is the sum of
its table entries, computed for 32 vectors at a time with byte shuffles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _io
from ._checks import as_float_matrix, check_choice, check_fitted, check_int, raise_nonfinite
from ._runtime import resolve_threads
from ._validate import validate_bolt_encoder, validate_bolt_index

__all__ = ["BoltEncoder", "BoltIndex"]

_METRICS = ("l2", "dot")
_BLOCK = 32
_LUT_TOP = _core.BOLT_MAX_LUT_ENTRY  # 127
_MAX_TRAIN = 1 << 17  # k-means sees at most this many rows (a random sample beyond it)


def _subspace_bounds(d: int, ncodebooks: int) -> np.ndarray:
    """Boundaries of ncodebooks contiguous subspaces whose widths differ by at most one."""
    return np.array([(c * d) // ncodebooks for c in range(ncodebooks + 1)], dtype=np.int32)


def _kmeanspp16(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: 16 rows of X (n, w), each drawn with probability ~ its squared
    distance to the nearest row already chosen."""
    X64 = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    cent = np.empty((16, X.shape[1]))
    cent[0] = X64[rng.integers(len(X64))]
    closest = sq - 2 * X64 @ cent[0] + cent[0] @ cent[0]
    for k in range(1, 16):
        total = closest.clip(min=0).sum()
        if total <= 0:  # fewer than 16 distinct points: duplicates are harmless
            cent[k:] = cent[0]
            break
        cent[k] = X64[rng.choice(len(X64), p=closest.clip(min=0) / total)]
        closest = np.minimum(closest, sq - 2 * X64 @ cent[k] + cent[k] @ cent[k])
    return cent.astype(np.float32)


def _encoder_tables(cent: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the C++ encoder reads: -2 * centroids transposed (d, 16), per-subspace norms (C, 16)."""
    cent_t = np.ascontiguousarray(-2.0 * cent.T, dtype=np.float32)
    sq = cent.astype(np.float32) ** 2
    return cent_t, np.ascontiguousarray(np.add.reduceat(sq, bounds[:-1], axis=1).T, dtype=np.float32)


def _kmeans(X: np.ndarray, bounds: np.ndarray, rng: np.random.Generator, n_iter: int,
            threads: int) -> np.ndarray:
    """Lloyd's k-means in every subspace at once; returns (16, d) float32 centroids.

    The assignment step is the encoder itself (nearest of 16 per subspace, all subspaces in
    one pass) and the update step one C++ pass of per-code sums, so a fit costs about
    2 * n_iter passes over X. Stops early once no code changes.
    """
    n, d = X.shape
    seed_rows = X if n <= 16384 else X[rng.choice(n, 16384, replace=False)]
    cent = np.empty((16, d), dtype=np.float32)
    for c in range(len(bounds) - 1):
        cent[:, bounds[c]:bounds[c + 1]] = _kmeanspp16(seed_rows[:, bounds[c]:bounds[c + 1]], rng)
    widths = np.diff(bounds)
    codes = None
    for _ in range(n_iter):
        # X passed fit's finiteness and magnitude checks, so the flag is always set here
        new_codes, _ = _core.bolt_encode(X, *_encoder_tables(cent, bounds), bounds, threads)
        if codes is not None and np.array_equal(new_codes, codes):
            break
        codes = new_codes
        sums, counts = _core.bolt_centroid_sums(X, codes, bounds, threads)
        per_dim = np.repeat(counts.T, widths, axis=1)  # (16, d): count of the codebook owning dim j
        cent = np.where(per_dim > 0, sums / np.maximum(per_dim, 1), cent).astype(np.float32)
        for c in np.flatnonzero((counts == 0).any(axis=1)):
            # re-seed empty clusters on the rows worst served by their centroid
            lo, hi = bounds[c], bounds[c + 1]
            own = (codes[:, c // 2] >> (4 * (c % 2))) & 15
            err = ((X[:, lo:hi] - cent[own, lo:hi]) ** 2).sum(axis=1)
            empty = np.flatnonzero(counts[c] == 0)
            cent[empty, lo:hi] = X[np.argsort(err)[::-1][:len(empty)], lo:hi]
    return cent


class BoltEncoder:
    """Learns 4-bit product-quantization codebooks and encodes vectors with them.

    Parameters
    ----------
    ncodebooks : even int in [2, 256] and <= d. Bytes per vector = ncodebooks / 2.
    metric : "l2" (squared Euclidean, smaller is closer) or "dot" (inner product, larger is closer).
    n_iter : k-means iterations per subspace.
    random_state : seed for k-means++ seeding and row sampling.

    >>> import numpy as np, tenfold
    >>> X = np.random.default_rng(0).normal(size=(1000, 32)).astype(np.float32)
    >>> enc = tenfold.BoltEncoder(ncodebooks=8).fit(X)
    >>> codes = enc.encode(X[:5])
    >>> codes.shape, codes.dtype
    ((5, 4), dtype('uint8'))
    >>> enc.decode(codes).shape
    (5, 32)
    """

    def __init__(self, ncodebooks: int = 16, metric: str = "l2", *, n_iter: int = 16,
                 random_state: int | None = 0) -> None:
        self.ncodebooks = ncodebooks
        self.metric = metric
        self.n_iter = n_iter
        self.random_state = random_state
        self._validate_params()
        self.centroids_: np.ndarray | None = None  # (16, d): row k = centroid k of every subspace
        self.bounds_: np.ndarray | None = None     # (ncodebooks + 1,) subspace boundaries

    # ---------------------------------------------------------------- scikit-learn conventions
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"ncodebooks": self.ncodebooks, "metric": self.metric, "n_iter": self.n_iter,
                "random_state": self.random_state}

    def set_params(self, **params: Any) -> "BoltEncoder":
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r} for BoltEncoder")
            setattr(self, key, value)
        self._validate_params()
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"BoltEncoder({args})"

    def _validate_params(self) -> None:
        c = check_int(self.ncodebooks, "ncodebooks", minimum=2, maximum=256)
        if c % 2:
            raise ValueError(f"ncodebooks must be even (two 4-bit codes per byte), got {c}")
        check_choice(self.metric, "metric", _METRICS)
        check_int(self.n_iter, "n_iter", minimum=0)
        if self.random_state is not None:
            check_int(self.random_state, "random_state", minimum=0)

    # ---------------------------------------------------------------- fitting
    @property
    def d(self) -> int | None:
        return None if self.centroids_ is None else int(self.centroids_.shape[1])

    def fit(self, X: Any) -> "BoltEncoder":
        """Learn 16 centroids per subspace from training vectors X (n >= 16, d >= ncodebooks)."""
        self._validate_params()
        X = as_float_matrix(X, "X", allow_empty=False, n_threads=resolve_threads(None))
        n, d = X.shape
        if n < 16:
            raise ValueError(f"X needs at least 16 rows to learn 16 centroids per subspace, got {n}")
        if d < self.ncodebooks:
            raise ValueError(f"ncodebooks ({self.ncodebooks}) must be <= the dimension d ({d})")
        rng = np.random.default_rng(self.random_state)
        if n > _MAX_TRAIN:
            X = X[np.sort(rng.choice(n, _MAX_TRAIN, replace=False))]
        bounds = _subspace_bounds(d, self.ncodebooks)
        self.centroids_ = _kmeans(X, bounds, rng, self.n_iter, resolve_threads(None))
        self.bounds_ = bounds
        self._prepare()
        return self

    def _prepare(self) -> None:
        """Derived tables the C++ encoder reads."""
        self._centroids_t, self._norms = _encoder_tables(self.centroids_, self.bounds_)

    # ---------------------------------------------------------------- codes
    def encode(self, X: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Codes of X as uint8 (n, ncodebooks // 2): codebook 2j in the low nibble of byte j."""
        check_fitted(self, "centroids_")
        threads = resolve_threads(n_threads)
        original = X
        X = as_float_matrix(X, "X", cols=self.d, n_threads=threads, check_finite=False)
        codes, finite = _core.bolt_encode(X, self._centroids_t, self._norms, self.bounds_, threads)
        if not finite:  # the kernel checks as it reads; find the row for the message
            raise_nonfinite(original, X, "X", threads)
        return codes

    def decode(self, codes: Any) -> np.ndarray:
        """Reconstruction (n, d) float32: the chosen centroid of every subspace."""
        check_fitted(self, "centroids_")
        codes = self._check_codes(codes)
        idx = np.empty((codes.shape[0], self.ncodebooks), dtype=np.intp)
        idx[:, 0::2] = codes & 15
        idx[:, 1::2] = codes >> 4
        widths = np.diff(self.bounds_)
        per_dim = np.repeat(idx, widths, axis=1)  # (n, d): centroid index used for each dim
        return np.take_along_axis(self.centroids_, per_dim, axis=0) if len(codes) else \
            np.empty((0, self.d), dtype=np.float32)

    def _check_codes(self, codes: Any) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8:
            raise TypeError(f"codes must be uint8 (as returned by encode), got {codes.dtype}")
        if codes.ndim != 2 or codes.shape[1] != self.ncodebooks // 2:
            raise ValueError(f"codes must have shape (n, {self.ncodebooks // 2}), got {codes.shape}")
        return np.ascontiguousarray(codes)

    # ---------------------------------------------------------------- query tables
    def lookup_tables(self, Q: np.ndarray, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quantized tables for validated float32 queries Q (nq, d).

        Returns (luts uint8 (nq, C, 16), scale (nq,), offset (nq,)) such that the approximate
        distance is ``sum(luts entries) / scale + offset``. Every table is shifted by its own
        minimum (ranking is unaffected, no resolution is spent below the smallest entry) and
        all tables of a query share one scale that maps the widest table onto 0..127: 7-bit
        entries let the scan add two look-ups in one byte (measured: no recall lost against
        8 bits on 128-d data with C = 16, and a faster inner loop).
        """
        C = self.ncodebooks
        nq = Q.shape[0]
        luts = np.empty((nq, C, 16), dtype=np.uint8)
        scale = np.empty(nq, dtype=np.float64)
        offset = np.empty(nq, dtype=np.float64)
        for q0 in range(0, nq, 4096):
            # exact tables in double precision (C++): distances, or negated inner products so
            # that smaller is better in both metrics
            tables = _core.bolt_query_tables(np.ascontiguousarray(Q[q0:q0 + 4096]), self.centroids_, self.bounds_,
                                             self.metric == "dot", n_threads)
            low = tables.min(axis=2)
            shifted = tables - low[:, :, None]
            span = shifted.max(axis=(1, 2))
            s = np.where(span > 0, _LUT_TOP / np.where(span > 0, span, 1.0), 1.0)
            luts[q0:q0 + 4096] = np.rint(shifted * s[:, None, None]).clip(0, _LUT_TOP)
            scale[q0:q0 + 4096] = s
            offset[q0:q0 + 4096] = low.sum(axis=1)
        return luts, scale, offset

    # ---------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict, dict]:
        check_fitted(self, "centroids_")
        return self.get_params(), {"centroids": self.centroids_, "bounds": self.bounds_}

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> "BoltEncoder":
        validate_bolt_encoder(meta, arrays)
        enc = cls(**{k: meta[k] for k in ("ncodebooks", "metric", "n_iter", "random_state")})
        cent = np.ascontiguousarray(arrays["centroids"], dtype=np.float32)
        bounds = np.ascontiguousarray(arrays["bounds"], dtype=np.int32)
        if cent.ndim != 2 or cent.shape[0] != 16 or bounds.shape != (enc.ncodebooks + 1,) \
                or not np.isfinite(cent).all() or bounds[0] != 0 or bounds[-1] != cent.shape[1] \
                or np.any(np.diff(bounds) < 1):
            raise ValueError("saved BoltEncoder has inconsistent centroids or subspace bounds")
        enc.centroids_, enc.bounds_ = cent, bounds
        enc._prepare()
        return enc

    def save(self, path: _io.PathLike) -> None:
        """Save to a file readable by :func:`tenfold.load`."""
        meta, arrays = self._state()
        _io.save(path, "BoltEncoder", meta, arrays)


def finish_search(raw: np.ndarray, ids: np.ndarray, scale: np.ndarray, offset: np.ndarray, k: int,
                  metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Dequantize integer sums (nq, k') into (D, I) of width k, padding with -1 / +-inf."""
    nq, found = raw.shape
    D = np.full((nq, k), np.inf, dtype=np.float32)
    I = np.full((nq, k), -1, dtype=np.int64)
    D[:, :found] = raw / scale[:, None] + offset[:, None]
    I[:, :found] = ids
    return (-D if metric == "dot" else D), I


class BoltIndex:
    """Brute-force approximate search over Bolt codes (no index structure needed).

    >>> import numpy as np, tenfold
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 32)).astype(np.float32)
    >>> index = tenfold.BoltIndex(tenfold.BoltEncoder(ncodebooks=8).fit(X))
    >>> index.add(X)
    >>> D, I = index.search(X[:3], k=5)
    >>> I.shape, I.dtype, D.dtype
    ((3, 5), dtype('int64'), dtype('float32'))
    """

    def __init__(self, encoder: BoltEncoder) -> None:
        if not isinstance(encoder, BoltEncoder):
            raise TypeError(f"encoder must be a BoltEncoder, got {type(encoder).__name__}")
        check_fitted(encoder, "centroids_")
        self.encoder = encoder
        self._ncols = encoder.ncodebooks // 2
        self._n = 0
        self._blocked = np.zeros(0, dtype=np.uint8)  # blocked layout, capacity in whole blocks

    def __len__(self) -> int:
        return self._n

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return self._n

    @property
    def codes(self) -> np.ndarray:
        """Row-major codes of every vector added, uint8 (ntotal, ncodebooks // 2)."""
        return _core.bolt_unpack_blocked(self._blocked, self._n, self._ncols)

    def add(self, X: Any, *, n_threads: int | None = None) -> None:
        """Encode vectors X (n, d) and append them; their ids continue from ntotal."""
        self.add_codes(self.encoder.encode(X, n_threads=n_threads))

    def add_codes(self, codes: Any) -> None:
        """Append codes already produced by ``encoder.encode``."""
        codes = self.encoder._check_codes(codes)
        n_new = self._n + codes.shape[0]
        need = (n_new + _BLOCK - 1) // _BLOCK * _BLOCK * self._ncols
        if need > self._blocked.size or not self._blocked.flags.writeable:
            grown = np.zeros(max(need, 2 * self._blocked.size), dtype=np.uint8)
            grown[: self._blocked.size] = self._blocked
            self._blocked = grown
        _core.bolt_pack_blocked(codes, self._blocked, self._n)
        self._n = n_new

    def _queries(self, Q: Any, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._n == 0:
            raise ValueError("the index is empty: add() vectors before searching")
        Q = as_float_matrix(Q, "Q", cols=self.encoder.d, n_threads=threads)
        return self.encoder.lookup_tables(Q, threads)

    def search(self, Q: Any, k: int = 10, *, n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Approximate k nearest neighbours (l2) or largest inner products (dot).

        Returns D float32 (nq, k), the approximate squared distances (l2) or inner products
        (dot), and I int64 (nq, k), the ids, both sorted best first with ties going to the
        smaller id. If k > ntotal the missing places hold id -1 and D = +inf (l2) / -inf (dot).
        """
        k = check_int(k, "k", minimum=1)
        threads = resolve_threads(n_threads)
        luts, scale, offset = self._queries(Q, threads)
        raw, ids = self._search_raw(luts, k, threads)
        return finish_search(raw, ids, scale, offset, k, self.encoder.metric)

    def _search_raw(self, luts: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer sums and ids of the best min(k, ntotal) codes per query (tables precomputed)."""
        if self._n == 0:
            return np.zeros((luts.shape[0], 0), np.uint32), np.zeros((luts.shape[0], 0), np.int64)
        return _core.bolt_search(self._blocked, self._n, self._ncols, luts, min(k, self._n), threads)

    def scores(self, Q: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Approximate squared distances (l2) or inner products (dot), float32 (nq, ntotal)."""
        threads = resolve_threads(n_threads)
        luts, scale, offset = self._queries(Q, threads)
        raw = _core.bolt_scan(self._blocked, self._n, self._ncols, luts, threads)[:, : self._n]
        sign = -1.0 if self.encoder.metric == "dot" else 1.0
        out = raw.astype(np.float32)
        out *= (sign / scale)[:, None].astype(np.float32)
        out += (sign * offset)[:, None].astype(np.float32)
        return out

    def save(self, path: _io.PathLike) -> None:
        """Save encoder and codes to a file readable by :func:`tenfold.load`.

        Codes are stored in the scan's blocked layout, so ``tenfold.load(path, mmap=True)``
        can search an index larger than memory straight from the file.
        """
        meta, arrays = self.encoder._state()
        meta = dict(meta, ntotal=self._n)
        used = (self._n + _BLOCK - 1) // _BLOCK * _BLOCK * self._ncols
        arrays = dict(arrays, codes_blocked=self._blocked[:used])
        _io.save(path, "BoltIndex", meta, arrays)

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> "BoltIndex":
        validate_bolt_index(meta, arrays, _BLOCK)
        params = ("ncodebooks", "metric", "n_iter", "random_state")
        index = cls(BoltEncoder._from_state({k: meta[k] for k in params},
                                            {k: arrays[k] for k in ("centroids", "bounds")}))
        n = check_int(meta["ntotal"], "ntotal", minimum=0)
        blocked = arrays["codes_blocked"]
        if blocked.dtype != np.uint8 or blocked.ndim != 1 or \
                blocked.size != (n + _BLOCK - 1) // _BLOCK * _BLOCK * index._ncols:
            raise ValueError("saved BoltIndex: codes do not match ntotal and ncodebooks")
        index._blocked, index._n = blocked, n
        return index


_io.register("BoltEncoder", BoltEncoder._from_state)
_io.register("BoltIndex", BoltIndex._from_state)
