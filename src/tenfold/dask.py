"""Scale-out on Dask: encode and search vectors that outgrow one machine (extra ``[dask]``).

The same code runs on a laptop (``distributed.LocalCluster``) and on a real cluster
(dask-jobqueue, Kubernetes, Coiled): pass that cluster's ``Client``.

>>> import numpy as np, tenfold, tenfold.dask
>>> from distributed import Client, LocalCluster
>>> X = np.random.default_rng(0).normal(size=(20_000, 32)).astype(np.float32)
>>> enc = tenfold.BoltEncoder(ncodebooks=8).fit(X[:5000])
>>> with LocalCluster(n_workers=2, processes=False) as cluster, Client(cluster) as client:
...     index = tenfold.dask.ShardedIndex(enc, client=client)
...     index.add(X, chunk_rows=5000)
...     D, I = index.search(X[:3], k=5)
>>> I.shape
(3, 5)

Every shard of codes is built by a task from the source array's chunk, so Dask knows how to
rebuild it: losing a worker costs the time to re-encode its shards, not the answer.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np

from . import _io
from ._atomic import atomic_output
from ._checks import as_float_matrix, check_fitted, check_int
from ._runtime import resolve_threads
from .bolt import _MAX_PADDED_K, BoltEncoder, BoltIndex, check_rerank, finish_search
from .ivf import IVFBoltIndex

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["encode", "matmul", "compress_to_zarr", "ShardedIndex", "load_index"]


def _dask_array() -> ModuleType:
    try:
        import dask.array as da
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("tenfold.dask needs Dask: pip install 'tenfold[dask]'") from err
    return da


def _chunked_by_rows(X: Any, chunk_rows: int | None, default_rows: int) -> da.Array:
    """X as a Dask array: numpy and Zarr arrays are wrapped in chunks of rows (`chunk_rows`, else
    at most `default_rows`); a Dask array is rechunked only if `chunk_rows` is given."""
    da = _dask_array()
    if chunk_rows is not None:
        chunk_rows = check_int(chunk_rows, "chunk_rows", minimum=1)
    if not isinstance(X, da.Array):
        if not hasattr(X, "shape") or not hasattr(X, "dtype"):
            X = np.asarray(X)
        rows = chunk_rows or max(1, min(X.shape[0] if X.shape else 1, default_rows))
        # name=False: a fresh key per call, without hashing the data (the same rows added again
        # after reset() must not share keys with the copy the scheduler may still be releasing)
        return da.from_array(X, chunks=(rows,) + tuple(-1 for _ in X.shape[1:]), name=False)
    return X.rechunk({0: chunk_rows}) if chunk_rows is not None else X


def _as_dask_rows(X: Any, d: int | None, chunk_rows: int | None, name: str = "X") -> da.Array:
    """A 2-D float Dask array chunked by rows only (numpy and Zarr arrays are wrapped)."""
    X = _chunked_by_rows(X, chunk_rows, 262_144)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {X.shape}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {X.dtype}")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns (the fitted dimension), got {X.shape[1]}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _encode_block(block: np.ndarray, encoder: Any) -> np.ndarray:
    # one thread per task: Dask already runs one task per worker thread
    if isinstance(encoder, BoltEncoder):
        return encoder.encode(block, n_threads=1)
    return encoder.encode(block)


def _single_threaded(model: Any) -> Any:
    from .maddness import Maddness

    if isinstance(model, Maddness) and model.n_threads != 1:
        model = copy.copy(model)
        model.n_threads = 1
    return model


def _fitted_d(encoder: BoltEncoder) -> int:
    """The input dimension of a fitted encoder (NotFittedError if it is not)."""
    check_fitted(encoder, "centroids_")
    d = encoder.d
    if d is None:  # pragma: no cover - a fitted encoder has its dimension
        raise ValueError("the encoder has no input dimension")
    return int(d)


def _input_dim(model: Any) -> int:
    from .maddness import Maddness

    if isinstance(model, BoltEncoder):
        return _fitted_d(model)
    if isinstance(model, Maddness):
        check_fitted(model, "split_dims_")
        return int(model.n_features_in_)
    raise TypeError(f"expected a fitted BoltEncoder or Maddness, got {type(model).__name__}")


def encode(encoder: Any, X: Any, *, chunk_rows: int | None = None) -> da.Array:
    """Codes of every row of X as a Dask array (one task per chunk of rows), for a fitted
    BoltEncoder or Maddness model; identical to ``encoder.encode(X)``."""
    d = _input_dim(encoder)
    encoder = _single_threaded(encoder)
    X = _as_dask_rows(X, d, chunk_rows)
    ncols = encoder.ncodebooks // 2
    return X.map_blocks(_encode_block, encoder, dtype=np.uint8, chunks=(X.chunks[0], (ncols,)),
                        meta=np.empty((0, ncols), np.uint8))


def _matmul_block(block: np.ndarray, model: Any) -> np.ndarray:
    return np.ascontiguousarray(model.matmul(block))


def matmul(model: Any, A: Any, *, chunk_rows: int | None = None) -> da.Array:
    """MADDNESS ``A @ B`` over a Dask array of rows: a Dask array (n, m) of float32, identical
    to ``model.matmul(A)`` chunk by chunk."""
    from .maddness import Maddness

    if not isinstance(model, Maddness):
        raise TypeError(f"model must be a fitted Maddness, got {type(model).__name__}")
    d = _input_dim(model)
    model = _single_threaded(model)
    A = _as_dask_rows(A, d, chunk_rows, name="A")
    m = int(model.matmul(np.zeros((1, d), dtype=np.float32)).shape[1])
    return A.map_blocks(_matmul_block, model, dtype=np.float32, chunks=(A.chunks[0], (m,)),
                        meta=np.empty((0, m), np.float32))


# ---------------------------------------------------------------- sharded index
Shard = Union[BoltIndex, IVFBoltIndex]


def _new_shard(model: BoltEncoder | IVFBoltIndex, refine: str | None) -> Shard:
    """An empty shard: a BoltIndex of this encoder, or an empty copy of a trained IVFBoltIndex."""
    return model.empty_copy() if isinstance(model, IVFBoltIndex) else BoltIndex(model, refine=refine)


def _build_shard(block: np.ndarray, model: BoltEncoder | IVFBoltIndex, refine: str | None) -> Shard:
    shard = _new_shard(model, refine)
    shard.add(block, n_threads=1)
    return shard


def _build_shard_with_ids(block: np.ndarray, ids: np.ndarray, model: BoltEncoder | IVFBoltIndex,
                          refine: str | None) -> Shard:
    shard = _new_shard(model, refine)
    shard.add_with_ids(block, ids, n_threads=1)
    return shard


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is not None and b is not None and np.array_equal(a, b)


def _load_shard(path: str, model: BoltEncoder | IVFBoltIndex, size: int, refine: str | None) -> Shard:
    shard = _io.load(path)
    encoder = model.encoder if isinstance(model, IVFBoltIndex) else model
    ok = isinstance(shard, (IVFBoltIndex if isinstance(model, IVFBoltIndex) else BoltIndex)) \
        and len(shard) == size and shard.refine == refine \
        and shard.encoder.get_params() == encoder.get_params() \
        and _same_array(shard.encoder.centroids_, encoder.centroids_)
    if ok and isinstance(model, IVFBoltIndex):  # IVF shards also share the coarse lists
        ok = isinstance(shard, IVFBoltIndex) and _same_array(shard.centroids_, model.centroids_)
    if not ok:
        raise ValueError(f"{path!r} is not the shard its index.json lists (another encoder, size or refine)")
    return shard


def _search_shard(shard: BoltIndex, luts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    raw, ids, _ = shard._search_raw(luts, k, 1)
    return raw, ids


def _search_shard_rerank(shard: Shard, Q: np.ndarray, k: int, rerank: int | None,
                         nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A shard's own search (exact distances with rerank; for IVF shards, with or without)."""
    if len(shard) == 0:
        return np.zeros((len(Q), 0), np.float32), np.zeros((len(Q), 0), np.int64)
    kw = {} if nprobe is None else {"nprobe": nprobe}
    D, I = shard.search(Q, min(k, len(shard)), rerank=rerank, n_threads=1, **kw)
    return D, I


def _save_shard(shard: BoltIndex, path: str) -> int:
    shard.save(path)
    return len(shard)


def _shard_without(shard: BoltIndex, local_ids: np.ndarray) -> BoltIndex:
    out = copy.copy(shard)  # shards are shared by every task holding the future: never modified
    out._lock = threading.Lock()  # (copy.copy goes through __getstate__ and makes a fresh one anyway)
    out.remove_ids(local_ids)
    return out


def _shard_ids(shard: BoltIndex) -> np.ndarray:
    return shard.ids


def _shard_lookup(shard: BoltIndex, local_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    found = np.isin(local_ids, shard.ids)
    return found, shard.reconstruct(local_ids[found])


class _Shards(NamedTuple):
    """One version of a ShardedIndex's contents (published whole, as BoltIndex does)."""

    futures: tuple[Any, ...]  # futures of BoltIndex, one per chunk of rows
    sizes: tuple[int, ...]    # rows in each
    offsets: tuple[int, ...]  # added to a shard's own ids to give global ids (0 for shards built with ids)
    next_id: int    # id that add() gives the next row


class ShardedIndex:
    """A BoltIndex (or IVFBoltIndex) split by rows over Dask workers; same answers as one index.

    Pass a fitted BoltEncoder for BoltIndex shards, or a trained IVFBoltIndex for IVF shards
    (every shard then holds its rows in the same lists, and ``search`` takes ``nprobe``; the
    IVF index's own contents are not used, only its encoder, list centroids and settings).

    Shards stay in the workers' memory (built there, never re-sent); each search sends the
    queries' lookup tables (the queries too when re-ranking), every shard returns its own top-k,
    and the client merges them exactly (ties to the smaller global id). Ids are global row
    numbers in the order rows were added, or the ids given to :meth:`add_with_ids`.
    Thread safety as for BoltIndex: searches beside one writer see the old or the new shards.
    """

    def __init__(self, encoder: BoltEncoder | IVFBoltIndex, client: Any = None, *, refine: str | None = None) -> None:
        self._model: BoltEncoder | IVFBoltIndex = encoder
        if isinstance(encoder, IVFBoltIndex):
            if not encoder.is_trained:
                raise ValueError("the IVFBoltIndex is not trained yet: call train() first")
            if refine is not None and refine != encoder.refine:
                raise ValueError(f"refine ({refine!r}) differs from the IVFBoltIndex's ({encoder.refine!r})")
            refine = encoder.refine
            self._model = encoder.empty_copy()
            encoder = encoder.encoder
        if not isinstance(encoder, BoltEncoder):
            raise TypeError(f"encoder must be a BoltEncoder or IVFBoltIndex, got {type(encoder).__name__}")
        check_fitted(encoder, "centroids_")
        BoltIndex(encoder, refine=refine)  # validates refine
        if client is None:
            from distributed import get_client

            try:
                client = get_client()
            except ValueError as err:
                raise ValueError("no Dask client: pass client=Client(...) or create one first") from err
        self.encoder = encoder
        self.refine = refine
        self.client = client
        self._lock = threading.Lock()
        self._state = _Shards((), (), (), 0)

    def __len__(self) -> int:
        return int(sum(self._state.sizes))

    @property
    def ntotal(self) -> int:
        return len(self)

    @property
    def nshards(self) -> int:
        return len(self._state.futures)

    def add(self, X: Any, *, chunk_rows: int | None = None) -> None:
        """Encode X (Dask, numpy or Zarr array) on the workers, one shard per chunk of rows; ids
        continue from the largest id so far plus one."""
        self._add(X, None, chunk_rows)

    def add_with_ids(self, X: Any, ids: Any, *, chunk_rows: int | None = None) -> None:
        """As :meth:`add` with the given ids (distinct int64 >= 0, not already in the index)."""
        self._add(X, ids, chunk_rows)

    def _add(self, X: Any, ids: Any, chunk_rows: int | None) -> None:
        X = _as_dask_rows(X, self.encoder.d, chunk_rows)
        if ids is not None:
            ids = BoltIndex._check_new_ids(ids)
            if len(ids) != X.shape[0]:
                raise ValueError(f"ids must have one entry per row of X ({X.shape[0]}), got {len(ids)}")
        from dask.delayed import delayed

        enc = delayed(self._model, pure=True)
        # shard tasks get fresh keys (pure=False): after reset() a re-add of the same data must not
        # reuse keys the scheduler may still be releasing for another thread's older version
        with self._lock:
            st = self._state
            if ids is not None and len(st.futures) and len(ids) and np.isin(ids, self.ids).any():
                raise ValueError(f"ids: {int(ids[np.isin(ids, self.ids)][0])} is already in the index")
            blocks = X.to_delayed().ravel()
            bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
            if ids is None:
                BoltIndex.check_id_room(st.next_id, X.shape[0])
                parts = [delayed(_build_shard, pure=False)(b, enc, self.refine) for b in blocks]
                offsets = tuple(int(st.next_id + s) for s in bounds[:-1])
                next_id = st.next_id + X.shape[0]
            else:
                parts = [delayed(_build_shard_with_ids, pure=False)(b, ids[lo:hi], enc, self.refine)
                         for b, lo, hi in zip(blocks, bounds[:-1], bounds[1:])]
                offsets = (0,) * len(parts)
                next_id = max(st.next_id, int(ids.max()) + 1) if len(ids) else st.next_id
            futures = tuple(self.client.compute(parts))
            self._state = _Shards(st.futures + futures, st.sizes + tuple(int(c) for c in X.chunks[0]),
                                  st.offsets + offsets, next_id)

    @property
    def ids(self) -> np.ndarray:
        """Every id in the index, shard by shard (computed on the workers)."""
        st = self._state
        parts = self.client.gather([self.client.submit(_shard_ids, f, pure=False) for f in st.futures])
        return np.concatenate([p + o for p, o in zip(parts, st.offsets)] + [np.zeros(0, np.int64)])

    def remove_ids(self, ids: Any) -> int:
        """Remove the rows with these ids (others ignored); returns how many were removed."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.dtype.kind not in "iu" and arr.size):
            raise TypeError(f"ids must be a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
        arr = arr.astype(np.int64)
        with self._lock:
            st = self._state
            futures = tuple(self.client.submit(_shard_without, f, arr - o, pure=False)
                            for f, o in zip(st.futures, st.offsets))
            sizes = tuple(self.client.gather([self.client.submit(len, f, pure=False) for f in futures]))
            self._state = _Shards(futures, sizes, st.offsets, st.next_id)
            return int(sum(st.sizes) - sum(sizes))

    def reset(self) -> None:
        """Drop every shard (the encoder stays); ids start again from 0."""
        with self._lock:
            self._state = _Shards((), (), (), 0)

    def reconstruct(self, ids: Any) -> np.ndarray:
        """As :meth:`BoltIndex.reconstruct`, over every shard."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.dtype.kind not in "iu" and arr.size):
            raise TypeError(f"ids must be a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
        arr = arr.astype(np.int64)
        st = self._state
        out = np.zeros((len(arr), _fitted_d(self.encoder)), dtype=np.float32)
        seen = np.zeros(len(arr), dtype=bool)
        parts = self.client.gather([self.client.submit(_shard_lookup, f, arr - o, pure=False)
                                    for f, o in zip(st.futures, st.offsets)])
        for found, vecs in parts:
            out[found] = vecs
            seen |= found
        if not seen.all():
            raise ValueError(f"ids: {arr[np.argmin(seen)]} is not in the index")
        return out

    def search(self, Q: Any, k: int = 10, *, rerank: int | None = None,
               nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`BoltIndex.search` (:meth:`IVFBoltIndex.search` with ``nprobe`` for IVF
        shards), over every shard. With ``rerank=R`` every shard re-ranks its own R best by code
        (R per shard: at least as accurate as one index with the same R)."""
        k = check_int(k, "k", minimum=1)
        ivf = isinstance(self._model, IVFBoltIndex)
        if nprobe is not None:
            if not isinstance(self._model, IVFBoltIndex):
                raise ValueError("nprobe applies to IVF shards: create the ShardedIndex from an IVFBoltIndex")
            nprobe = check_int(nprobe, "nprobe", minimum=1, maximum=self._model.nlist)
        rerank = check_rerank(rerank, k, self.refine)
        st = self._state  # one version for the whole call
        n = int(sum(st.sizes))
        if n == 0:
            raise ValueError("the index is empty: add() vectors before searching")
        if k > max(n, _MAX_PADDED_K):
            raise ValueError(f"k ({k}) exceeds the {n} vectors in the index (and {_MAX_PADDED_K}, "
                             "the widest padded result)")
        Q = self.encoder.normalize(as_float_matrix(Q, "Q", cols=self.encoder.d))
        if rerank is not None or ivf:
            # exact distances, or for IVF shards sums dequantized with the same per-query scale
            # and offset in every shard: comparable across shards either way
            futures = [self.client.submit(_search_shard_rerank, f, Q, k, rerank, nprobe, pure=False)
                       for f in st.futures]
            parts = self.client.gather(futures)
            dist = np.concatenate([p[0] for p in parts], axis=1)
            # -1 marks a place an IVF shard's probed lists could not fill
            ids = np.concatenate([np.where(p[1] >= 0, p[1] + o, -1) for p, o in zip(parts, st.offsets)], axis=1)
            key = -dist if self.encoder.inner_product else dist
            order = np.lexsort((ids, key), axis=1)[:, :min(k, dist.shape[1])]
            D = np.full((len(Q), k), -np.inf if self.encoder.inner_product else np.inf, dtype=np.float32)
            I = np.full((len(Q), k), -1, dtype=np.int64)
            D[:, :order.shape[1]] = np.take_along_axis(dist, order, 1)
            I[:, :order.shape[1]] = np.take_along_axis(ids, order, 1)
            return D, I
        luts, scale, offset = self.encoder.lookup_tables(Q, resolve_threads(None))
        # The tables travel inside each task (nq * C * 16 bytes): nothing to lose with a worker.
        futures = [self.client.submit(_search_shard, f, luts, k, pure=False) for f in st.futures]
        parts = self.client.gather(futures)
        raw = np.concatenate([p[0].astype(np.int64) for p in parts], axis=1)
        ids = np.concatenate([p[1] + o for p, o in zip(parts, st.offsets)], axis=1)
        width = min(k, raw.shape[1])
        if ids.size == 0 or ids.max() < 1 << 47:
            # One sort on (sum, id) packed in an int64: sums are < 2**16 (C * 127) and ids < 2**47,
            # so ties go to the smaller id as in BoltIndex; 5x faster than np.lexsort here.
            best = np.sort((raw << 47) | ids, axis=1)[:, :width]
            best_raw, best_ids = best >> 47, best & ((1 << 47) - 1)
        else:
            order = np.lexsort((ids, raw), axis=1)[:, :width]
            best_raw, best_ids = np.take_along_axis(raw, order, 1), np.take_along_axis(ids, order, 1)
        return finish_search(best_raw, best_ids, scale, offset, k, self.encoder.inner_product)

    def save(self, directory: Any) -> None:
        """Each worker writes its shards to `directory` (shared storage on a real cluster)."""
        st = self._state
        path = Path(directory).absolute()  # workers need not share the client's working directory
        path.mkdir(parents=True, exist_ok=True)
        names = [f"shard-{i:05d}.tfz" for i in range(len(st.futures))]
        done = [self.client.submit(_save_shard, s, str(path / n), pure=False) for s, n in zip(st.futures, names)]
        sizes = self.client.gather(done)
        self._model.save(path / "encoder.tfz")  # an IVF index's empty template for IVF shards
        with atomic_output(path / "index.json") as tmp:
            tmp.write_text(json.dumps({"format": "tenfold.ShardedIndex", "version": 2, "shards": names,
                                       "sizes": sizes, "offsets": list(st.offsets),
                                       "next_id": st.next_id, "refine": self.refine}))


def load_index(directory: Any, client: Any = None) -> ShardedIndex:
    """Load a ShardedIndex saved with :meth:`ShardedIndex.save`; shards load on the workers."""
    path = Path(directory).absolute()
    try:
        manifest = json.loads((path / "index.json").read_text())
        names, sizes = manifest["shards"], [int(s) for s in manifest["sizes"]]
        if manifest.get("format") != "tenfold.ShardedIndex" or len(names) != len(sizes) \
                or not all(isinstance(nm, str) for nm in names) or min(sizes, default=0) < 0:
            raise KeyError("format")
        version = manifest.get("version")
        if version == 1:  # row numbers in the order added
            offsets = [int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])] if sizes else []
            next_id, refine = int(sum(sizes)), None
        elif version == 2:
            offsets, next_id, refine = [int(o) for o in manifest["offsets"]], int(manifest["next_id"]), manifest["refine"]
            if len(offsets) != len(names) or min(offsets, default=0) < 0 or next_id < 0:
                raise KeyError("offsets")
        else:
            raise ValueError(f"ShardedIndex version {version} is not supported")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{str(path)!r} does not hold a saved ShardedIndex: {err}") from err
    index = ShardedIndex(_io.load(path / "encoder.tfz"), client=client, refine=refine)
    for name in names:
        if Path(name).name != name:
            raise ValueError(f"{str(path)!r}: shard name {name!r} is not a plain file name")
    futures = tuple(index.client.submit(_load_shard, str(path / n), index._model, s, refine, pure=False)
                    for n, s in zip(names, sizes))
    # Global ids are offsets plus each shard's own: check every shard now, not at the first search.
    index.client.gather(index.client.map(len, list(futures), pure=False))
    index._state = _Shards(futures, tuple(sizes), tuple(offsets), next_id)
    return index


# ---------------------------------------------------------------- Sprintz into Zarr
def compress_to_zarr(x: Any, store: Any, *, forecaster: str = "fire", entropy: bool = True,
                     chunk_rows: int | None = None, overwrite: bool = False) -> Any:
    """Write an array (Dask, numpy or Zarr; 8- to 64-bit integers or float32/float64, 1-D or 2-D) to a
    Zarr v3 store with Sprintz as its serializer, one task per chunk (compressed in parallel
    on the workers of the current Dask client, or locally without one). Returns the Zarr array;
    read it back with ``zarr.open_array(store)`` or ``dask.array.from_zarr(store)``.

    A worker lost mid-write costs time: its chunks are recomputed from the source and written
    again (chunk writes replace whole objects, so a retried write leaves no trace). The write of
    a chunk is a blockwise task, so with a blockwise source (``da.from_zarr``, ``da.from_array``,
    ``map_blocks``, elementwise steps) Dask makes, compresses and writes each chunk in one task.
    """
    try:
        import zarr
        from .sprintz_codecs import SprintzZarrCodec
    except ImportError as err:
        raise ImportError("compress_to_zarr needs zarr >= 3: pip install 'tenfold[zarr]'") from err
    if isinstance(store, (str, os.PathLike)) and "://" not in str(store):
        store = os.path.abspath(store)  # a local path means the client's, whatever the workers' cwd
    x = _chunked_by_rows(x, chunk_rows, 1 << 20)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be 1-D or 2-D (time first), got shape {x.shape}")
    if isinstance(store, str):
        _check_not_a_source(x, store, zarr.Array)
    from .sprintz import _dtype_code

    _dtype_code(np.dtype(x.dtype), "x")  # TypeError naming the dtypes Sprintz holds
    if x.ndim == 2 and len(x.chunks[1]) > 1:
        x = x.rechunk({1: -1})
    if len(set(x.chunks[0][:-1])) > 1 or (len(x.chunks[0]) > 1 and x.chunks[0][-1] > x.chunks[0][0]):
        x = x.rechunk({0: x.chunks[0][0]})  # Zarr needs regular chunks
    chunks = tuple(c[0] for c in x.chunks) if x.size else tuple(max(1, s) for s in x.shape)
    z = zarr.create_array(store, shape=x.shape, chunks=chunks, dtype=x.dtype,
                          serializer=SprintzZarrCodec(forecaster=forecaster, entropy=entropy),
                          compressors=None, overwrite=overwrite,
                          # skips Zarr's scan of every chunk for the fill value (a full extra pass);
                          # an all-zero chunk compresses to a few bytes anyway
                          config={"write_empty_chunks": True})
    if x.size:
        # One write per Dask chunk; chunk boundaries equal Zarr's, so writes never overlap. As a
        # blockwise task the write fuses with a blockwise source (from_zarr, from_array, map_blocks,
        # elementwise steps): read, compress and write a chunk in one task, no hand-off between.
        written = x.map_blocks(_write_block, z, dtype=np.int64, chunks=tuple((1,) * len(c) for c in x.chunks),
                               name=f"tenfold-compress-to-zarr-{uuid.uuid4().hex}")
        written.compute()
    return z


def _zarr_source_paths(x: Any, array_type: type) -> list[str]:
    """Local paths of the Zarr arrays x's graph reads (from_zarr, from_array of a Zarr array)."""
    paths = []
    for value in dict(x.__dask_graph__()).values():
        candidate = value if isinstance(value, array_type) else getattr(value, "value", None)
        if not isinstance(candidate, array_type):
            continue
        arr: Any = candidate
        store = arr.store_path.store
        root = getattr(store, "root", None) or getattr(store, "path", None)   # LocalStore / FsspecStore
        if root is not None and os.path.exists(str(root)):
            paths.append(os.path.realpath(os.path.join(str(root), arr.path)))
    return paths


def _check_not_a_source(x: Any, store: str, array_type: type) -> None:
    """ValueError if the destination folder holds (or is inside) a Zarr array that x reads:
    creating the destination would erase the input before the tasks read it."""
    dst = os.path.realpath(store)
    for src in _zarr_source_paths(x, array_type):
        if os.path.commonpath([src, dst]) in (src, dst):
            raise ValueError(f"store {store!r} holds the Zarr array x is read from ({src!r}); writing there would "
                             "erase the input before it is read: write to another store")


def _write_block(block: np.ndarray, z: Any, block_info: dict[Any, Any] | None = None) -> np.ndarray:
    if block_info is None:  # map_blocks passes it to a function that takes it
        raise ValueError("_write_block needs dask's block_info")
    start = block_info[0]["array-location"][0][0]
    z[start:start + block.shape[0]] = block
    return np.full((1,) * block.ndim, block.shape[0], dtype=np.int64)
