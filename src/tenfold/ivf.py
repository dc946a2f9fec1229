"""Inverted-file index over Bolt codes, for collections too large to scan whole.

A coarse k-means splits the vectors into ``nlist`` lists; a query scans only the ``nprobe``
lists whose centroids are nearest to it. Bolt codes the vectors themselves (not their residuals
to the list centroid), so a query's lookup tables are built once and serve every list it probes.
Each list's codes are stored in the scan's blocked layout (blocks of 32 rows, the last one
zero-padded), the lists one after the other in one buffer.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from . import _core, _io
from ._checks import as_float_matrix, check_choice, check_int, raise_too_small
from ._runtime import resolve_threads
from ._validate import INT32_MAX, INT64_MAX, IVF_MAX_NLIST, validate_ivf_bolt_index
from .bolt import _BLOCK, _MAX_PADDED_K, _REFINE, BoltEncoder, _VectorIndex, check_rerank, finish_search

__all__ = ["IVFBoltIndex"]

# k-means of the coarse quantizer sees at most this many training rows per list (a random
# sample beyond it): more only slows training (the same cap as FAISS's default).
_TRAIN_PER_LIST = 256
# Rows whose scores against every centroid are computed at once: bounds the (rows, nlist)
# score matrix to 2**22 floats (16 MiB).
_SCORE_CELLS = 1 << 22
# Most lists an index may have: an empty index holds three int64 tables of nlist entries (96 MiB
# at this bound); a billion vectors take ~2**16-2**20 lists. (_validate checks saved files
# against the same bound.)
MAX_NLIST = IVF_MAX_NLIST
# Queries per thread below which the coarse scoring of a search stays on one thread.
_PROBE_ROWS_PER_THREAD = 64
# Score products below this stay finite in float32 (max ~3.4e38) with room for the sums.
_FLOAT32_SAFE = 1e36


class _Lists(NamedTuple):
    """One version of an index's contents, published whole (as BoltIndex's _Contents).

    Rows are numbered in list order: list l holds rows [row_start[l], row_start[l] + sizes[l]),
    whose codes fill blocks [block_off[l], block_off[l + 1]) of ``blocked``."""

    sizes: np.ndarray            # (nlist,) int64
    block_off: np.ndarray        # (nlist + 1,) int64
    row_start: np.ndarray        # (nlist,) int64
    blocked: np.ndarray          # uint8 (block_off[-1] * 32 * ncols,)
    vectors: np.ndarray | None   # (n, d) float32, or float16 bits as uint16, in row order
    ids: np.ndarray              # (n,) int64 in row order
    next_id: int                 # id add() gives the next row

    @property
    def n(self) -> int:
        return len(self.ids)

    def slots(self) -> np.ndarray:
        """Position of every row in the blocked buffer (32 * block + row within it)."""
        pad_before = self.block_off[:-1] * _BLOCK - self.row_start
        return np.repeat(pad_before, self.sizes) + np.arange(self.n, dtype=np.int64)


def _layout(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """block_off and row_start of lists of these sizes."""
    block_off = np.concatenate([[0], np.cumsum((sizes + _BLOCK - 1) // _BLOCK)]).astype(np.int64)
    row_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return block_off, row_start


def _nearest(X: np.ndarray, cent: np.ndarray, inner: bool, nbest: int) -> np.ndarray:
    """The nbest centroids of each row of X, best first, int32 (n, nbest): smallest squared L2
    distance, or largest inner product if ``inner``."""
    n, nlist = len(X), len(cent)
    big = float(np.abs(X).max(initial=0)) * float(np.abs(cent).max(initial=0)) * X.shape[1] > _FLOAT32_SAFE
    C: np.ndarray = cent.astype(np.float64 if big else np.float32)
    c_sq = np.einsum("ij,ij->i", C, C)
    out = np.empty((n, nbest), dtype=np.int32)
    step = max(1, _SCORE_CELLS // nlist)
    for r0 in range(0, n, step):
        s: np.ndarray = X[r0:r0 + step].astype(C.dtype, copy=False) @ C.T
        s = -s if inner else c_sq - 2 * s  # smaller is better; |x|^2 is the same for every list
        if nbest == 1:
            out[r0:r0 + step, 0] = s.argmin(axis=1)
            continue
        part = np.argpartition(s, nbest - 1, axis=1)[:, :nbest] if nbest < nlist else \
            np.broadcast_to(np.arange(nlist), s.shape)
        order = np.argsort(np.take_along_axis(s, part, 1), axis=1, kind="stable")
        out[r0:r0 + step] = np.take_along_axis(part, order, 1)
    return out


def _coarse_kmeans(X: np.ndarray, nlist: int, n_iter: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd's k-means (squared L2) from nlist distinct random rows; float32 (nlist, d).
    An emptied list takes the row worst served by its centroid."""
    cent = X[rng.choice(len(X), nlist, replace=False)].astype(np.float32)
    XT = np.ascontiguousarray(X.T)  # one weighted bincount per dimension sums the lists' rows
    assign = None
    for _ in range(n_iter):
        new = _nearest(X, cent, False, 1)[:, 0]
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        counts = np.bincount(assign, minlength=nlist)
        full = np.flatnonzero(counts)
        sums = np.stack([np.bincount(assign, weights=col, minlength=nlist) for col in XT], axis=1)
        cent[full] = (sums[full] / counts[full, None]).astype(np.float32)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            err = ((X - cent[assign]) ** 2).sum(axis=1)
            cent[empty] = X[np.argsort(err)[::-1][:len(empty)]]
    return cent


class IVFBoltIndex(_VectorIndex):
    """Bolt codes in ``nlist`` inverted lists: a search scans only the ``nprobe`` nearest lists.

    The encoder (a fitted :class:`BoltEncoder`) codes the vectors; :meth:`train` learns the
    lists' centroids (k-means on at most 256 rows per list); :meth:`add` puts each vector in
    the list of its nearest centroid. ``refine`` keeps the vectors for exact re-ranking as in
    :class:`BoltIndex`: ``search(Q, k, rerank=R)`` ranks the R best rows by code again by exact
    distance. Probing: the lists whose centroids have the smallest squared distance to the query
    ("l2", and "cosine" on unit vectors) or the largest inner product ("dot"/"ip").

    Parameters
    ----------
    encoder : a fitted BoltEncoder (its metric applies).
    nlist : number of lists, in [1, 2**22]; ~4 * sqrt(n) is a common choice.
    refine : None, "float32" or "float16": keep the vectors for ``search(rerank=R)``.
    nprobe : lists scanned per query when ``search`` is not given ``nprobe`` (in [1, nlist]).
    n_iter : k-means iterations of :meth:`train`; random_state : its seed.

    Each :meth:`add` or :meth:`remove_ids` rebuilds the lists (time proportional to ntotal):
    add in large batches. Thread safety as for :class:`BoltIndex` (searches beside a writer see
    the contents before or after the write, never a mix).

    >>> import numpy as np, tenfold
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 32)).astype(np.float32)
    >>> enc = tenfold.BoltEncoder(ncodebooks=8).fit(X)
    >>> index = tenfold.IVFBoltIndex(enc, nlist=16, refine="float32")
    >>> index.train(X)
    >>> index.add(X)
    >>> D, I = index.search(X[:3], k=5, rerank=50, nprobe=4)
    >>> I.shape, I.dtype
    ((3, 5), dtype('int64'))
    >>> [int(i) for i in I[:, 0]]  # each query finds itself first after exact re-ranking
    [0, 1, 2]
    >>> index.remove_ids([0]); bool(index.search(X[:1], k=1, rerank=50, nprobe=4)[1][0, 0] != 0)
    1
    True
    """

    def __init__(self, encoder: BoltEncoder, nlist: int, *, refine: str | None = None, nprobe: int = 1,
                 n_iter: int = 10, random_state: int | None = 0) -> None:
        if not isinstance(encoder, BoltEncoder):
            raise TypeError(f"encoder must be a BoltEncoder, got {type(encoder).__name__}")
        if encoder.d is None:
            raise ValueError("this BoltEncoder is not fitted yet: call fit() first")
        self.nlist = check_int(nlist, "nlist", minimum=1, maximum=MAX_NLIST)
        if refine is not None:
            check_choice(refine, "refine", tuple(_REFINE))
        self.nprobe = check_int(nprobe, "nprobe", minimum=1, maximum=self.nlist)
        self.n_iter = check_int(n_iter, "n_iter", minimum=0, maximum=INT32_MAX)   # as a saved file's
        if random_state is not None:
            check_int(random_state, "random_state", minimum=0, maximum=INT64_MAX)
        self.encoder = encoder
        self.refine = refine
        self.random_state = random_state
        self.centroids_: np.ndarray | None = None  # (nlist, d) coarse centroids
        self._ncols = encoder.ncodebooks // 2
        self._lock = threading.Lock()
        self._lists = self._empty(0)

    def _empty(self, next_id: int) -> _Lists:
        sizes = np.zeros(self.nlist, dtype=np.int64)
        return _Lists(sizes, *_layout(sizes), np.zeros(0, np.uint8), self._no_vectors(), np.zeros(0, np.int64),
                      next_id)

    def _size(self) -> int:
        return self._lists.n

    @property
    def is_trained(self) -> bool:
        return self.centroids_ is not None

    @property
    def list_sizes(self) -> np.ndarray:
        """Rows in each list, int64 (nlist,)."""
        return self._lists.sizes.copy()

    @property
    def ids(self) -> np.ndarray:
        """Every id in the index, int64 (ntotal,), list by list."""
        return self._lists.ids.copy()

    def empty_copy(self) -> "IVFBoltIndex":
        """A new empty index with the same encoder, settings and (if trained) list centroids."""
        out = IVFBoltIndex(self.encoder, self.nlist, refine=self.refine, nprobe=self.nprobe, n_iter=self.n_iter,
                           random_state=self.random_state)
        out.centroids_ = self.centroids_
        return out

    def _check_trained(self) -> np.ndarray:
        if self.centroids_ is None:
            raise ValueError("this IVFBoltIndex is not trained yet: call train() first")
        return self.centroids_

    # ---------------------------------------------------------------- training
    def train(self, X: Any) -> None:
        """Learn the nlist list centroids by k-means on X (n >= nlist; at most 256 * nlist
        rows are used, a random sample beyond it). Only an empty index can be trained."""
        X = as_float_matrix(X, "X", cols=self.encoder.d, allow_empty=False, n_threads=resolve_threads(None))
        if len(X) < self.nlist:
            raise ValueError(f"X needs at least nlist = {self.nlist} rows to learn {self.nlist} lists, got {len(X)}")
        if self.encoder.metric != "cosine":
            raise_too_small(X, "X")
        with self._lock:
            if self._lists.n:
                raise ValueError("the index holds vectors: reset() it before training again")
            rng = np.random.default_rng(self.random_state)
            if len(X) > _TRAIN_PER_LIST * self.nlist:
                X = X[np.sort(rng.choice(len(X), _TRAIN_PER_LIST * self.nlist, replace=False))]
            self.centroids_ = _coarse_kmeans(self.encoder.normalize(X), self.nlist, self.n_iter, rng)

    def assign(self, X: Any) -> np.ndarray:
        """The list :meth:`add` puts each row of X in (nearest centroid), int32 (n,)."""
        cent = self._check_trained()
        X = self.encoder.normalize(as_float_matrix(X, "X", cols=self.encoder.d))
        return self._probes(X, cent, 1, for_add=True)[:, 0]

    def probe(self, Q: Any, nprobe: int | None = None) -> np.ndarray:
        """The lists :meth:`search` scans for each query, best first, int32 (nq, nprobe)."""
        cent = self._check_trained()
        nprobe = self.nprobe if nprobe is None else check_int(nprobe, "nprobe", minimum=1, maximum=self.nlist)
        Q = self.encoder.normalize(as_float_matrix(Q, "Q", cols=self.encoder.d))
        return self._probes(Q, cent, nprobe)

    def _probes(self, X: np.ndarray, cent: np.ndarray, nbest: int, for_add: bool = False,
                threads: int = 1) -> np.ndarray:
        # vectors go to the list of their nearest centroid (the k-means partition); queries
        # under "dot"/"ip" probe the lists of the largest inner product with the centroid
        inner = self.encoder.metric in ("dot", "ip") and not for_add
        parts = min(threads, len(X) // _PROBE_ROWS_PER_THREAD)
        if parts < 2:
            return _nearest(X, cent, inner, nbest)
        # row blocks on threads (numpy's matmul and partitions release the GIL): unsplit, this
        # scoring was the part of a batch search that did not scale with n_threads
        bounds = np.linspace(0, len(X), parts + 1).astype(int)
        with ThreadPoolExecutor(parts) as pool:
            blocks = pool.map(lambda i: _nearest(X[bounds[i]:bounds[i + 1]], cent, inner, nbest), range(parts))
            return np.concatenate(list(blocks))

    # ---------------------------------------------------------------- writers
    def add(self, X: Any, *, n_threads: int | None = None) -> None:
        """Encode vectors X (n, d) and put each in its list. Their ids continue from the
        largest id so far plus one (0, 1, 2, ... when every row came from add)."""
        self._add(X, None, n_threads)

    def add_with_ids(self, X: Any, ids: Any, *, n_threads: int | None = None) -> None:
        """As :meth:`add` with the given ids: distinct int64 values >= 0 not already in the index."""
        self._add(X, ids, n_threads)

    def _add(self, X: Any, ids: Any, n_threads: int | None) -> None:
        cent = self._check_trained()
        threads = resolve_threads(n_threads)
        new_ids = None if ids is None else self._check_new_ids(ids)
        Xf = self.encoder.normalize(as_float_matrix(X, "X", cols=self.encoder.d, n_threads=threads))
        if new_ids is not None and len(new_ids) != len(Xf):
            raise ValueError(f"ids must have one entry per row of X ({len(Xf)}), got {len(new_ids)}")
        vectors = self._vectors_to_keep(Xf)
        codes = self.encoder.encode(Xf, n_threads=threads)  # already unit rows under "cosine": unchanged
        lists = self._probes(Xf, cent, 1, for_add=True)[:, 0]
        with self._lock:
            c = self._lists
            if new_ids is None:
                self.check_id_room(c.next_id, len(Xf))
                new_ids = np.arange(c.next_id, c.next_id + len(Xf), dtype=np.int64)
            elif len(new_ids) and c.n and np.isin(new_ids, c.ids).any():
                raise ValueError(f"ids: {int(new_ids[np.isin(new_ids, c.ids)][0])} is already in the index")
            next_id = max(c.next_id, int(new_ids.max()) + 1) if len(new_ids) else c.next_id
            if c.n:   # the old rows first: within a list, rows keep the order they came in
                lists = np.concatenate([np.repeat(np.arange(self.nlist, dtype=np.int32), c.sizes), lists])
                codes = np.concatenate([self._row_codes(c), codes])
                vectors = None if vectors is None else np.concatenate([c.vectors, vectors])
                new_ids = np.concatenate([c.ids, new_ids])
            self._lists = self._rebuild(lists, codes, vectors, new_ids, next_id)

    def _row_codes(self, c: _Lists) -> np.ndarray:
        """Codes of every row, row-major (n, ncols), in row order."""
        if c.n == 0:
            return np.zeros((0, self._ncols), np.uint8)
        return _core.bolt_unpack_blocked(c.blocked, int(c.block_off[-1]) * _BLOCK, self._ncols)[c.slots()]

    def _rebuild(self, lists: np.ndarray, codes: np.ndarray, vectors: np.ndarray | None, ids: np.ndarray,
                 next_id: int) -> _Lists:
        """Contents holding these rows (any order), grouped by list (stable within a list)."""
        order = np.argsort(lists, kind="stable")
        sizes = np.bincount(lists, minlength=self.nlist).astype(np.int64)
        block_off, row_start = _layout(sizes)
        c = _Lists(sizes, block_off, row_start, np.zeros(0, np.uint8), None, ids[order], next_id)
        padded = np.zeros((int(block_off[-1]) * _BLOCK, self._ncols), np.uint8)
        padded[c.slots()] = codes[order]
        blocked = np.zeros(padded.size, np.uint8)
        _core.bolt_pack_blocked(padded, blocked, 0)
        return c._replace(blocked=blocked, vectors=None if vectors is None else vectors[order])

    def remove_ids(self, ids: Any) -> int:
        """Remove the rows with these ids (ids not in the index are ignored); returns how many
        were removed. Every remaining row keeps its id."""
        arr = self._check_ids(ids)
        with self._lock:
            c = self._lists
            keep = ~np.isin(c.ids, arr)
            removed = int(c.n - keep.sum())
            if removed:
                lists = np.repeat(np.arange(self.nlist, dtype=np.int32), c.sizes)[keep]
                self._lists = self._rebuild(lists, self._row_codes(c)[keep],
                                            None if c.vectors is None else c.vectors[keep], c.ids[keep], c.next_id)
            return removed

    def reset(self) -> None:
        """Remove every vector (the encoder and the list centroids stay); ids start again from 0."""
        with self._lock:
            self._lists = self._empty(0)

    def reconstruct(self, ids: Any) -> np.ndarray:
        """Vectors of these ids, float32 (len(ids), d): the kept vectors under ``refine``
        (exact for float32, unit length under "cosine"), else decoded from the codes.
        An id not in the index is a ValueError."""
        arr = self._check_ids(ids)
        c = self._lists
        order = np.argsort(c.ids, kind="stable")
        pos = np.minimum(np.searchsorted(c.ids[order], arr), max(c.n - 1, 0))
        found = c.ids[order][pos] == arr if c.n else np.zeros(len(arr), bool)
        if not found.all():
            raise ValueError(f"ids: {arr[np.argmin(found)]} is not in the index")
        rows = order[pos]
        if c.vectors is None:
            return self.encoder.decode(self._row_codes(c)[rows])
        return self._kept_as_float32(c.vectors[rows])

    # ---------------------------------------------------------------- search
    def search(self, Q: Any, k: int = 10, *, rerank: int | None = None, nprobe: int | None = None,
               n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows among the ``nprobe`` lists nearest to each query (default: the
        ``nprobe`` attribute).

        Returns D float32 (nq, k), the squared distances (l2) or inner products, and I int64
        (nq, k), the ids, best first. Without ``rerank`` both come from the codes; with
        ``rerank=R`` (needs ``refine``) the R best rows by code are ranked again by exact distance.
        Places the probed lists cannot fill hold id -1 and D = +inf (l2) / -inf (inner products).
        Queries are split over ``n_threads`` threads (the lists' scoring by numpy/BLAS uses its
        own thread setting).
        """
        cent = self._check_trained()
        k = check_int(k, "k", minimum=1)
        nprobe = self.nprobe if nprobe is None else check_int(nprobe, "nprobe", minimum=1, maximum=self.nlist)
        rerank = check_rerank(rerank, k, self.refine)
        threads = resolve_threads(n_threads)
        c = self._lists  # one version for the whole call
        if c.n == 0:
            raise ValueError("the index is empty: add() vectors before searching")
        if k > max(c.n, _MAX_PADDED_K):
            raise ValueError(f"k ({k}) exceeds the {c.n} vectors in the index (and {_MAX_PADDED_K}, "
                             "the widest padded result)")
        Q = self.encoder.normalize(as_float_matrix(Q, "Q", cols=self.encoder.d, n_threads=threads))
        luts, scale, offset = self.encoder.lookup_tables(Q, threads)
        probes = self._probes(Q, cent, nprobe, threads=threads)
        inner = self.encoder.inner_product
        width = min(k if rerank is None else rerank, c.n)
        raw, rows = _core.bolt_ivf_search(c.blocked, self._ncols, c.block_off, c.sizes, c.row_start, probes,
                                          luts, width, threads)
        if rerank is None:
            D, I = finish_search(raw, rows, scale, offset, k, inner)
            D[:, :width][rows < 0] = -np.inf if inner else np.inf
        else:
            if c.vectors is None:  # an index with refine always keeps them (checked at load too)
                raise ValueError("rerank needs the kept vectors, and this index has none")
            D, I = self._rerank(c.vectors, c.n, Q, rows, k, threads)
        return D, np.where(I >= 0, c.ids[np.maximum(I, 0)], -1)

    # ---------------------------------------------------------------- persistence
    def save(self, path: _io.PathLike) -> None:
        """Save encoder, list centroids, codes, ids and kept vectors to a file readable by
        :func:`tenfold.load` (``mmap=True`` searches straight from the file)."""
        cent = self._check_trained()
        c = self._lists
        meta, arrays = self.encoder._state()
        meta = dict(meta, nlist=self.nlist, nprobe=self.nprobe, kmeans_iter=self.n_iter,
                    kmeans_random_state=self.random_state, ntotal=c.n, refine=self.refine, next_id=c.next_id)
        arrays = dict(arrays, coarse_centroids=cent, list_sizes=c.sizes, codes_blocked=c.blocked, ids=c.ids)
        if c.vectors is not None:
            arrays["vectors"] = c.vectors
        _io.save(path, "IVFBoltIndex", meta, arrays)

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "IVFBoltIndex":
        validate_ivf_bolt_index(meta, arrays, _BLOCK)
        params = ("ncodebooks", "metric", "n_iter", "random_state")
        enc = BoltEncoder._from_state({k: meta[k] for k in params}, {k: arrays[k] for k in ("centroids", "bounds")})
        index = cls(enc, meta["nlist"], refine=meta["refine"], nprobe=meta["nprobe"], n_iter=meta["kmeans_iter"],
                    random_state=meta["kmeans_random_state"])
        index.centroids_ = np.ascontiguousarray(arrays["coarse_centroids"], dtype=np.float32)
        sizes = np.ascontiguousarray(arrays["list_sizes"], dtype=np.int64)
        index._lists = _Lists(sizes, *_layout(sizes), arrays["codes_blocked"], arrays.get("vectors"),
                              np.ascontiguousarray(arrays["ids"], dtype=np.int64), meta["next_id"])
        return index


_io.register("IVFBoltIndex", IVFBoltIndex._from_state)
