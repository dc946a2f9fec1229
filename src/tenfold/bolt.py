"""Bolt: 4-bit product-quantization codes and lookup-table scans (Blalock & Guttag, KDD'17).

Vectors are split into ``ncodebooks`` subspaces; each subspace is quantized to the nearest of
16 centroids learned by k-means, so a vector becomes ``ncodebooks`` 4-bit codes (two per byte).
A query becomes one 16-entry table per subspace holding its distance (or negated dot product)
to each centroid, quantized to uint8; the approximate distance to a coded vector is the sum of
its table entries, computed for 32 vectors at a time with byte shuffles.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, cast

import numpy as np

from . import _core, _io
from ._checks import as_float_matrix, check_choice, check_fitted, check_int, raise_nonfinite, raise_too_small
from ._runtime import resolve_threads
from ._validate import INT32_MAX, INT64_MAX, validate_bolt_encoder, validate_bolt_index

__all__ = ["BoltEncoder", "BoltIndex"]

_METRICS = ("l2", "dot", "ip", "cosine")  # "ip" = "dot"; "cosine" = "dot" on unit-norm rows
_BLOCK = 32
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
        for c in map(int, np.flatnonzero((counts == 0).any(axis=1))):
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
    metric : "l2" (squared Euclidean, smaller is closer), "dot" or its alias "ip" (inner product,
        larger is closer), or "cosine" (rows scaled to unit length when fitted, encoded and
        queried, then "dot": results are cosine similarities).
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
        # the bounds a saved file's fields are checked against on load (_validate)
        check_int(self.n_iter, "n_iter", minimum=0, maximum=INT32_MAX)
        if self.random_state is not None:
            check_int(self.random_state, "random_state", minimum=0, maximum=INT64_MAX)

    @property
    def inner_product(self) -> bool:
        """True for the metrics where larger is closer ("dot", "ip", "cosine")."""
        return self.metric != "l2"

    def normalize(self, X: np.ndarray) -> np.ndarray:
        """Rows of a validated float32 matrix scaled to unit length under "cosine" (all-zero rows
        stay zero); X itself under the other metrics."""
        if self.metric != "cosine" or X.size == 0:
            return X
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        return (X / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)

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
        if self.metric != "cosine":   # (cosine scales rows to unit length)
            raise_too_small(X, "X")
        rng = np.random.default_rng(self.random_state)
        if n > _MAX_TRAIN:
            X = X[np.sort(rng.choice(n, _MAX_TRAIN, replace=False))]
        X = self.normalize(X)
        bounds = _subspace_bounds(d, self.ncodebooks)
        self.centroids_ = _kmeans(X, bounds, rng, self.n_iter, resolve_threads(None))
        self.bounds_ = bounds
        self._prepare()
        return self

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        """(centroids_, bounds_), or a ValueError before fit()."""
        cent, bounds = self.centroids_, self.bounds_
        if cent is None or bounds is None:
            raise ValueError("this BoltEncoder is not fitted yet: call fit() first")
        return cent, bounds

    def _prepare(self) -> None:
        """Derived tables the C++ encoder reads."""
        cent, bounds = self._fitted()
        self._centroids_t, self._norms = _encoder_tables(cent, bounds)
        self._lut_centroids = np.ascontiguousarray(cent.T, dtype=np.float32)  # (d, 16)

    # ---------------------------------------------------------------- codes
    def encode(self, X: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Codes of X as uint8 (n, ncodebooks // 2): codebook 2j in the low nibble of byte j."""
        _, bounds = self._fitted()
        threads = resolve_threads(n_threads)
        original = X
        X = as_float_matrix(X, "X", cols=self.d, n_threads=threads, check_finite=False)
        if self.metric == "cosine":
            raise_nonfinite(original, X, "X", threads)  # before scaling hides an inf
            X = self.normalize(X)
        codes, finite = _core.bolt_encode(X, self._centroids_t, self._norms, bounds, threads)
        if not finite:  # the kernel checks as it reads; find the row for the message
            raise_nonfinite(original, X, "X", threads)
        return codes

    def decode(self, codes: Any) -> np.ndarray:
        """Reconstruction (n, d) float32: the chosen centroid of every subspace."""
        cent, bounds = self._fitted()
        codes = self._check_codes(codes)
        idx = np.empty((codes.shape[0], self.ncodebooks), dtype=np.intp)
        idx[:, 0::2] = codes & 15
        idx[:, 1::2] = codes >> 4
        widths = np.diff(bounds)
        per_dim = np.repeat(idx, widths, axis=1)  # (n, d): centroid index used for each dim
        return np.take_along_axis(cent, per_dim, axis=0) if len(codes) else \
            np.empty((0, cent.shape[1]), dtype=np.float32)

    def _check_codes(self, codes: Any) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8:
            raise TypeError(f"codes must be uint8 (as returned by encode), got {codes.dtype}")
        if codes.ndim != 2 or codes.shape[1] != self.ncodebooks // 2:
            raise ValueError(f"codes must have shape (n, {self.ncodebooks // 2}), got {codes.shape}")
        return np.ascontiguousarray(codes)

    # ---------------------------------------------------------------- query tables
    def lookup_tables(self, Q: np.ndarray, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quantized tables for validated float32 queries Q (nq, d), already normalized
        (:meth:`normalize`) under "cosine".

        Returns (luts uint8 (nq, C, 16), scale (nq,), offset (nq,)) such that the approximate
        distance is ``sum(luts entries) / scale + offset``. Every table is shifted by its own
        minimum (ranking is unaffected, no resolution is spent below the smallest entry) and
        all tables of a query share one scale that maps the widest table onto 0..127: 7-bit
        entries let the scan add two look-ups in one byte (measured: no recall lost against
        8 bits on 128-d data with C = 16, and a faster inner loop).
        """
        Q = Q if Q.strides[1] == Q.itemsize and Q.strides[0] >= 0 else np.ascontiguousarray(Q)
        # exact tables in double precision (distances, or negated inner products so that smaller
        # is better in both metrics), minima, scale and rounding: one C++ pass per query
        return _core.bolt_lookup_tables(Q, self._lut_centroids, self._fitted()[1], self.inner_product, n_threads)

    # ---------------------------------------------------------------- persistence
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        cent, bounds = self._fitted()
        return self.get_params(), {"centroids": cent, "bounds": bounds}

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> BoltEncoder:
        validate_bolt_encoder(meta, arrays)
        enc = cls(**{k: meta[k] for k in ("ncodebooks", "metric", "n_iter", "random_state")})
        cent = np.ascontiguousarray(arrays["centroids"], dtype=np.float32)
        bounds = np.ascontiguousarray(arrays["bounds"], dtype=np.int32)
        enc.centroids_, enc.bounds_ = cent, bounds
        enc._prepare()
        return enc

    def save(self, path: _io.PathLike) -> None:
        """Save to a file readable by :func:`tenfold.load`."""
        meta, arrays = self._state()
        _io.save(path, "BoltEncoder", meta, arrays)


def finish_search(raw: np.ndarray, ids: np.ndarray, scale: np.ndarray, offset: np.ndarray, k: int,
                  inner_product: bool) -> tuple[np.ndarray, np.ndarray]:
    """Dequantize integer sums (nq, k') into (D, I) of width k, padding with -1 / +-inf."""
    nq, found = raw.shape
    D = np.full((nq, k), np.inf, dtype=np.float32)
    I = np.full((nq, k), -1, dtype=np.int64)
    D[:, :found] = raw / scale[:, None] + offset[:, None]
    I[:, :found] = ids
    return (-D if inner_product else D), I


_REFINE = {"float32": np.float32, "float16": np.float16}
# A result wider than the index is padded with -1 (as FAISS does) up to this width; a larger k
# on a smaller index is refused, so that k = 2**31 cannot allocate gigabytes of padding.
_MAX_PADDED_K = 4096
_FLOAT16_MAX = 65504.0  # largest finite float16


def check_rerank(rerank: Any, k: int, refine: str | None) -> int | None:
    """``search``'s ``rerank`` argument (BoltIndex and IVFBoltIndex): None, or an int >= k on an
    index that keeps its vectors."""
    if rerank is None:
        return None
    rerank = check_int(rerank, "rerank", minimum=1)
    if refine is None:
        raise ValueError("rerank needs the vectors: create the index with refine='float32' or 'float16'")
    if rerank < k:
        raise ValueError(f"rerank ({rerank}) must be >= k ({k})")
    return rerank


class _Contents(NamedTuple):
    """One version of an index's contents. Writers build a new one and publish it with a single
    attribute assignment; readers take it once per call, so every call sees one version whole.
    Arrays have spare capacity: rows >= n may be written by a later version (appends), rows < n
    are never changed once published."""

    n: int
    blocked: np.ndarray             # codes in the scan's blocked layout
    vectors: np.ndarray | None      # (capacity, d) float32, or float16 stored as uint16 bits
    ids: np.ndarray | None          # (capacity,) int64 ids; None: the id of row i is i
    next_id: int                    # id that add() gives the next row

    def row_ids(self) -> np.ndarray:
        return np.arange(self.n, dtype=np.int64) if self.ids is None else self.ids[:self.n]


def _grown(arr: np.ndarray, need: int, zero: bool) -> np.ndarray:
    """arr itself if it holds `need` rows and is writeable, else a copy with doubled capacity."""
    if need <= len(arr) and arr.flags.writeable:
        return arr
    make = np.zeros if zero else np.empty
    out = make((max(need, 2 * len(arr)),) + arr.shape[1:], dtype=arr.dtype)
    out[:len(arr)] = arr
    return out


class _VectorIndex:
    """What BoltIndex and IVFBoltIndex share: the write lock (dropped when pickled), the row
    count, the kept vectors of ``refine`` and the checks of ids and of vectors to keep."""

    encoder: BoltEncoder
    refine: str | None
    _lock: threading.Lock

    def _size(self) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._size()

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return self._size()

    def __getstate__(self) -> dict[str, Any]:
        # Dask moves shards between workers by pickling: a lock cannot travel (unpicklable),
        # a fresh one is made on arrival
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _no_vectors(self) -> np.ndarray | None:
        """The kept vectors of an empty index: None without refine."""
        if self.refine is None:
            return None
        return np.zeros((0, self.encoder._fitted()[0].shape[1]), dtype=np.float32 if self.refine == "float32"
                        else np.uint16)

    def _vectors_to_keep(self, X: np.ndarray) -> np.ndarray | None:
        """Validated (and under "cosine" normalized) float32 rows as refine keeps them: float32,
        or float16 bits as uint16 (values beyond float16's range refused); None without refine."""
        if self.refine is None:
            return None
        if self.refine == "float16":
            if X.size and np.abs(X).max() > _FLOAT16_MAX:
                raise ValueError(f"X holds values beyond float16's range (+-{_FLOAT16_MAX}): use refine='float32'")
            return X.astype(np.float16).view(np.uint16)
        return X

    def _kept_as_float32(self, vecs: np.ndarray) -> np.ndarray:
        """Kept rows (a fancy-indexed copy) as float32."""
        return vecs.view(np.float16).astype(np.float32) if self.refine == "float16" else np.array(vecs)

    def _rerank(self, vectors: np.ndarray, n: int, Q: np.ndarray, cand: np.ndarray, k: int,
                threads: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact re-ranking of candidate rows cand (nq, R; -1 for none) of the kept vectors:
        (D float32 (nq, k) as search returns it, rows int64 (nq, k)), missing places +-inf / -1."""
        inner = self.encoder.inner_product
        fn = _core.bolt_rerank_f32 if self.refine == "float32" else _core.bolt_rerank_f16
        dist, rows = fn(vectors, n, Q, cand, min(k, max(cand.shape[1], 1)), inner, threads)
        D = np.full((len(Q), k), np.inf, dtype=np.float32)
        I = np.full((len(Q), k), -1, dtype=np.int64)
        D[:, :dist.shape[1]], I[:, :rows.shape[1]] = dist, rows
        return (-D if inner else D), I

    @staticmethod
    def _check_ids(ids: Any) -> np.ndarray:
        """ids of remove_ids or reconstruct: a 1-D integer array, as int64."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.dtype.kind not in "iu" and arr.size):
            raise TypeError(f"ids must be a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
        return arr.astype(np.int64)

    @staticmethod
    def check_id_room(next_id: int, n: int) -> None:
        """ValueError if add() of n rows would number them beyond int64 (ids from next_id on)."""
        if next_id + n > INT64_MAX:
            raise ValueError(f"add() would give ids beyond 2**63 - 1 (the next id is {next_id}): "
                             "give the rows ids with add_with_ids")

    @staticmethod
    def _check_new_ids(ids: Any) -> np.ndarray:
        """ids of add_with_ids: distinct integers in [0, 2**63 - 2], as int64 (the largest id plus
        one, where add() continues, must fit in int64 too: it is saved with the index)."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.dtype.kind not in "iu" and arr.size):
            raise TypeError(f"ids must be a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= INT64_MAX):
            raise ValueError("ids must be >= 0 and <= 2**63 - 2 (-1 marks a missing result; add() continues "
                             "from the largest id plus one)")
        arr = arr.astype(np.int64)
        if len(np.unique(arr)) != len(arr):
            raise ValueError("ids must be distinct")
        return arr


class BoltIndex(_VectorIndex):
    """Approximate nearest-neighbour search over Bolt codes, optionally re-ranked exactly.

    ``refine="float32"`` or ``"float16"`` also keeps the added vectors (4 or 2 bytes per value,
    in memory and in the saved file): ``search(Q, k, rerank=R)`` then takes the R best rows by
    code and returns the k best of those by exact distance. Ids are int64: row numbers from
    :meth:`add`, or your own from :meth:`add_with_ids`.

    Thread safety: every method may be called from many threads at once. Each call works on one
    version of the contents: a search or ``scores`` running beside an ``add``, ``remove_ids`` or
    ``reset`` sees the index as it was before that write or as it is after it, never a mix.
    Writes are serialized by a lock. The encoder must not be refitted while an index uses it.

    >>> import numpy as np, tenfold
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 32)).astype(np.float32)
    >>> index = tenfold.BoltIndex(tenfold.BoltEncoder(ncodebooks=8).fit(X), refine="float32")
    >>> index.add(X)
    >>> D, I = index.search(X[:3], k=5, rerank=50)
    >>> I.shape, I.dtype, D.dtype
    ((3, 5), dtype('int64'), dtype('float32'))
    >>> [int(i) for i in I[:, 0]]  # each query finds itself first after exact re-ranking
    [0, 1, 2]
    >>> index.add_with_ids(X[:2], ids=[5000, 5001]); index.remove_ids([0, 5000])
    2
    >>> index.reconstruct([5001]).shape
    (1, 32)
    """

    def __init__(self, encoder: BoltEncoder, refine: str | None = None) -> None:
        if not isinstance(encoder, BoltEncoder):
            raise TypeError(f"encoder must be a BoltEncoder, got {type(encoder).__name__}")
        check_fitted(encoder, "centroids_")
        if refine is not None:
            check_choice(refine, "refine", tuple(_REFINE))
        self.encoder = encoder
        self.refine = refine
        self._ncols = encoder.ncodebooks // 2
        self._lock = threading.Lock()
        self._contents = self._empty()

    def _empty(self) -> _Contents:
        return _Contents(0, np.zeros(0, dtype=np.uint8), self._no_vectors(), None, 0)

    def _size(self) -> int:
        return self._contents.n

    @property
    def codes(self) -> np.ndarray:
        """Row-major codes of every vector, uint8 (ntotal, ncodebooks // 2), in row order."""
        c = self._contents
        return _core.bolt_unpack_blocked(c.blocked, c.n, self._ncols)

    @property
    def ids(self) -> np.ndarray:
        """The id of every row, int64 (ntotal,): the columns of :meth:`scores`, in order."""
        return self._contents.row_ids().copy()

    # ---------------------------------------------------------------- writers
    def add(self, X: Any, *, n_threads: int | None = None) -> None:
        """Encode vectors X (n, d) and append them. Their ids continue from the largest id so
        far plus one (0, 1, 2, ... when every row came from add)."""
        self._add(X, None, n_threads)

    def add_with_ids(self, X: Any, ids: Any, *, n_threads: int | None = None) -> None:
        """Encode vectors X (n, d) and append them with the given ids: distinct int64 values
        >= 0 not already in the index (checked, O(ntotal log ntotal) per call)."""
        self._add(X, ids, n_threads)

    def add_codes(self, codes: Any) -> None:
        """Append codes already produced by ``encoder.encode`` (indexes without ``refine``)."""
        if self.refine is not None:
            raise ValueError("add_codes cannot keep vectors for refine: use add() on this index")
        codes = self.encoder._check_codes(codes)
        with self._lock:
            self._append(codes, None, None)

    def _add(self, X: Any, ids: Any, n_threads: int | None) -> None:
        threads = resolve_threads(n_threads)
        new_ids = None if ids is None else self._check_new_ids(ids)
        vectors = None
        if self.refine is not None:
            vectors = self._vectors_to_keep(
                self.encoder.normalize(as_float_matrix(X, "X", cols=self.encoder.d, n_threads=threads)))
        codes = self.encoder.encode(X, n_threads=threads)
        if new_ids is not None and len(new_ids) != len(codes):
            raise ValueError(f"ids must have one entry per row of X ({len(codes)}), got {len(new_ids)}")
        with self._lock:
            if new_ids is not None and self._contents.n:
                existing = np.sort(self._contents.row_ids())
                pos = np.minimum(np.searchsorted(existing, new_ids), len(existing) - 1)
                taken = existing[pos] == new_ids
                if taken.any():
                    raise ValueError(f"ids: {int(new_ids[np.argmax(taken)])} is already in the index")
            self._append(codes, vectors, new_ids)

    def _append(self, codes: np.ndarray, vectors: np.ndarray | None, new_ids: np.ndarray | None) -> None:
        """Publish contents with rows appended (caller holds the lock)."""
        c = self._contents
        if new_ids is None:
            self.check_id_room(c.next_id, len(codes))
        n_new = c.n + len(codes)
        blocked = _grown(c.blocked, (n_new + _BLOCK - 1) // _BLOCK * _BLOCK * self._ncols, zero=True)
        _core.bolt_pack_blocked(codes, blocked, c.n)
        vecs = c.vectors
        if vectors is not None:  # under refine, where the contents always hold vectors
            vecs = _grown(cast(np.ndarray, vecs), n_new, zero=False)
            vecs[c.n:n_new] = vectors
        ids, next_id = c.ids, c.next_id
        if new_ids is not None or ids is not None:
            given = np.arange(next_id, next_id + len(codes), dtype=np.int64) if new_ids is None else new_ids
            ids = _grown(np.arange(c.n, dtype=np.int64) if ids is None else ids, n_new, zero=False)
            ids[c.n:n_new] = given
            if len(given):
                next_id = max(next_id, int(given.max()) + 1)
        else:
            next_id = n_new
        self._contents = _Contents(n_new, blocked, vecs, ids, next_id)

    def remove_ids(self, ids: Any) -> int:
        """Remove the rows with these ids (ids not in the index are ignored); returns how many
        were removed. Later rows move up; every remaining row keeps its id."""
        arr = self._check_ids(ids)
        with self._lock:
            c = self._contents
            row_ids = c.row_ids()
            keep = ~np.isin(row_ids, arr)
            removed = int(c.n - keep.sum())
            if removed == 0:
                return 0
            codes = _core.bolt_unpack_blocked(c.blocked, c.n, self._ncols)[keep]
            blocked = np.zeros((len(codes) + _BLOCK - 1) // _BLOCK * _BLOCK * self._ncols, dtype=np.uint8)
            _core.bolt_pack_blocked(np.ascontiguousarray(codes), blocked, 0)
            vectors = None if c.vectors is None else c.vectors[:c.n][keep]
            self._contents = _Contents(len(codes), blocked, vectors, row_ids[keep], c.next_id)
            return removed

    def reset(self) -> None:
        """Remove every vector (the encoder stays); ids start again from 0."""
        with self._lock:
            self._contents = self._empty()

    def reconstruct(self, ids: Any) -> np.ndarray:
        """Vectors of these ids, float32 (len(ids), d): the kept vectors under ``refine``
        (exact for float32, scaled to unit length under "cosine"), else decoded from the codes.
        An id not in the index is a ValueError."""
        arr = self._check_ids(ids)
        c = self._contents
        row_ids = c.row_ids()
        order = np.argsort(row_ids, kind="stable")
        pos = np.searchsorted(row_ids[order], arr) if c.n else np.zeros(len(arr), np.intp)
        found = (pos < c.n) & (row_ids[order][np.minimum(pos, max(c.n - 1, 0))] == arr) if c.n else \
            np.zeros(len(arr), bool)
        if not found.all():
            raise ValueError(f"ids: {arr[np.argmin(found)]} is not in the index")
        rows = order[pos]
        if c.vectors is None:
            codes = _core.bolt_unpack_blocked(c.blocked, c.n, self._ncols)[rows]
            return self.encoder.decode(codes)
        return self._kept_as_float32(c.vectors[rows])

    # ---------------------------------------------------------------- readers
    def _checked_queries(self, Q: Any, c: _Contents, threads: int) -> np.ndarray:
        if c.n == 0:
            raise ValueError("the index is empty: add() vectors before searching")
        return np.ascontiguousarray(self.encoder.normalize(as_float_matrix(Q, "Q", cols=self.encoder.d,
                                                                           n_threads=threads)))

    def _queries(self, Q: Any, c: _Contents, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Q = self._checked_queries(Q, c, threads)
        return (Q,) + self.encoder.lookup_tables(Q, threads)

    def search(self, Q: Any, k: int = 10, *, rerank: int | None = None,
               n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows (l2: smallest squared distance; dot/ip/cosine: largest inner product).

        Returns D float32 (nq, k), the squared distances (l2) or inner products (cosine
        similarities under "cosine"), and I int64 (nq, k), the ids, both best first with ties
        going to the earlier row. Without ``rerank`` both come from the codes (approximate);
        with ``rerank=R`` (needs ``refine``) the R best rows by code are ranked again by exact
        distance to the kept vectors and D is exact. If k > ntotal the missing places hold
        id -1 and D = +inf (l2) / -inf (inner products); k above both ntotal and 4096 is an error.
        """
        k = check_int(k, "k", minimum=1)
        rerank = check_rerank(rerank, k, self.refine)
        threads = resolve_threads(n_threads)
        c = self._contents  # one version for the whole call
        if k > max(c.n, _MAX_PADDED_K):
            raise ValueError(f"k ({k}) exceeds the {c.n} vectors in the index (and {_MAX_PADDED_K}, "
                             "the widest padded result)")
        Q = self._checked_queries(Q, c, threads)
        enc, inner = self.encoder, self.encoder.inner_product

        def scan(width: int, ordered: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            # tables built inside the scan call, per thread when the queries are split
            return _core.bolt_search_queries(Q, enc._lut_centroids, enc._fitted()[1], inner, c.blocked, c.n,
                                             min(width, c.n), threads, ordered)

        if rerank is None:
            raw, rows, scale, offset = scan(k, True)
            D, I = finish_search(raw, rows, scale, offset, k, inner)
        else:
            # the candidate set alone matters (the re-ranking orders it by exact distance)
            cand = scan(rerank, False)[1]
            vectors = cast(np.ndarray, c.vectors)  # kept under refine, which rerank requires (checked above)
            D, I = self._rerank(vectors, c.n, Q, cand, k, threads)
        if c.ids is not None:
            I = np.where(I >= 0, c.ids[np.maximum(I, 0)], -1)
        return D, I

    def _search_raw(self, luts: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Integer sums and ids of the best min(k, ntotal) codes per query (tables precomputed),
        and whether the ids are row numbers (True) or ids given to add_with_ids."""
        c = self._contents
        if c.n == 0:
            empty = np.zeros((luts.shape[0], 0), np.int64)
            return empty.astype(np.uint32), empty, True
        raw, rows = _core.bolt_search(c.blocked, c.n, self._ncols, luts, min(k, c.n), threads)
        if c.ids is None:
            return raw, rows, True
        return raw, np.where(rows >= 0, c.ids[np.maximum(rows, 0)], -1), False

    def scores(self, Q: Any, *, n_threads: int | None = None) -> np.ndarray:
        """Approximate squared distances (l2) or inner products, float32 (nq, ntotal); column j
        belongs to row j, whose id is ``ids[j]``."""
        threads = resolve_threads(n_threads)
        c = self._contents  # one version for the whole call
        _, luts, scale, offset = self._queries(Q, c, threads)
        raw = _core.bolt_scan(c.blocked, c.n, self._ncols, luts, threads)[:, :c.n]
        sign = -1.0 if self.encoder.inner_product else 1.0
        out = raw.astype(np.float32)
        out *= (sign / scale)[:, None].astype(np.float32)
        out += (sign * offset)[:, None].astype(np.float32)
        return out

    # ---------------------------------------------------------------- persistence
    def save(self, path: _io.PathLike) -> None:
        """Save encoder, codes, ids and kept vectors to a file readable by :func:`tenfold.load`.

        Codes and vectors are stored as the search reads them, so ``tenfold.load(path,
        mmap=True)`` searches and re-ranks an index larger than memory straight from the file.
        """
        c = self._contents
        meta, arrays = self.encoder._state()
        meta = dict(meta, ntotal=c.n, refine=self.refine, next_id=c.next_id)
        used = (c.n + _BLOCK - 1) // _BLOCK * _BLOCK * self._ncols
        arrays = dict(arrays, codes_blocked=c.blocked[:used])
        if c.vectors is not None:
            arrays["vectors"] = c.vectors[:c.n]
        if c.ids is not None:
            arrays["ids"] = c.ids[:c.n]
        _io.save(path, "BoltIndex", meta, arrays)

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> BoltIndex:
        where = "saved BoltIndex"
        validate_bolt_index(meta, arrays, _BLOCK, own_meta=("refine", "next_id"), own_arrays=("vectors", "ids"))
        refine = meta.get("refine")
        if refine is not None and refine not in _REFINE:
            raise ValueError(f"{where}: refine must be one of {tuple(_REFINE)} or null, got {refine!r}")
        params = ("ncodebooks", "metric", "n_iter", "random_state")
        index = cls(BoltEncoder._from_state({k: meta[k] for k in params},
                                            {k: arrays[k] for k in ("centroids", "bounds")}), refine=refine)
        try:
            n = check_int(meta["ntotal"], "ntotal", minimum=0)
            next_id = check_int(meta.get("next_id", n), "next_id", minimum=0, maximum=np.iinfo(np.int64).max)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: bad ntotal or next_id ({err})") from None
        blocked = arrays["codes_blocked"]
        if blocked.dtype != np.uint8 or blocked.ndim != 1 or \
                blocked.size != (n + _BLOCK - 1) // _BLOCK * _BLOCK * index._ncols:
            raise ValueError(f"{where}: codes do not match ntotal and ncodebooks")
        vectors = arrays.get("vectors")
        if (vectors is None) != (refine is None):
            raise ValueError(f"{where}: kept vectors present without refine, or missing with it")
        if vectors is not None:
            want = np.float32 if refine == "float32" else np.uint16
            if vectors.dtype != want or vectors.shape != (n, index.encoder.d):
                raise ValueError(f"{where}: vectors must be {np.dtype(want)} ({n}, {index.encoder.d}), "
                                 f"got {vectors.dtype} {vectors.shape}")
            if not isinstance(vectors, np.memmap):  # a mapped file is not read whole to check it
                values = vectors if refine == "float32" else vectors.view(np.float16)
                if not np.isfinite(values).all():
                    raise ValueError(f"{where}: vectors hold NaN or infinite values")
        ids = arrays.get("ids")
        if ids is not None:
            if ids.dtype != np.int64 or ids.shape != (n,):
                raise ValueError(f"{where}: ids must be int64 ({n},), got {ids.dtype} {ids.shape}")
            if n and (ids.min() < 0 or ids.max() >= next_id or len(np.unique(ids)) != n):
                raise ValueError(f"{where}: ids must be distinct, >= 0 and below next_id")
        elif next_id != n:
            raise ValueError(f"{where}: next_id ({next_id}) differs from ntotal ({n}) without ids")
        index._contents = _Contents(n, blocked, vectors, ids, next_id)
        return index


_io.register("BoltEncoder", BoltEncoder._from_state)
_io.register("BoltIndex", BoltIndex._from_state)
