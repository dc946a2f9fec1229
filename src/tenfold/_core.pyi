"""tenfold's C++ kernels (internal; use the tenfold package)"""

from collections.abc import Sequence
from typing import Annotated, overload, Any

import numpy
from numpy.typing import NDArray


BOLT_MAX_LUT_ENTRY: int = 127

def detect_isa() -> str: ...

def active_isa() -> str: ...

def set_isa(arg: str, /) -> None: ...

def cpu_features() -> list[str]:
    """Features of this CPU and OS that the SIMD units depend on."""

def isa_requirements(name: str) -> list[str]:
    """Features the unit of ISA `name` was compiled for."""

def compiled_isas() -> list[str]:
    """ISAs whose kernels this build holds, portable first."""

def usable_isas(features: Sequence[str]) -> list[str]:
    """
    ISAs runnable on a CPU with `features`, portable first (pure: for tests).
    """

def choose_isa(features: Sequence[str]) -> str:
    """
    The ISA the dispatchers would pick on a CPU with `features` (pure: for tests).
    """

def first_nonfinite_row(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_threads: int) -> int: ...

def bolt_encode(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], centroids_t: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], norms: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int) -> tuple[NDArray[numpy.uint8], bool]:
    """Returns (codes, all_finite)."""

def bolt_centroid_sums(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int) -> tuple[NDArray[numpy.float64], NDArray[numpy.int64]]:
    """
    k-means update step: per-centroid sums (16, d) and counts (C, 16) of rows by code.
    """

def bolt_query_tables(Q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], centroids: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], dot: bool, n_threads: int) -> NDArray[numpy.float64]: ...

def bolt_lookup_tables(Q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], cent_t: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], dot: bool, n_threads: int) -> tuple[NDArray[numpy.uint8], NDArray[numpy.float64], NDArray[numpy.float64]]:
    """
    Quantized query tables (luts (nq, C, 16) uint8, scale (nq,), offset (nq,)); Q's rows may be strided.
    """

def bolt_pack_blocked(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu')], row0: int) -> None: ...

def bolt_unpack_blocked(blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], n: int, ncols: int) -> NDArray[numpy.uint8]: ...

def bolt_scan(blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], n: int, ncols: int, luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.uint16]:
    """Raw uint16 sums, shape (nq, n rounded up to 32)."""

def bolt_search(blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], n: int, ncols: int, luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], k: int, n_threads: int, sorted: bool = True) -> tuple[NDArray[numpy.uint32], NDArray[numpy.int64]]:
    """
    The k best (sums, rows) per query: best first, or in no particular order if not sorted.
    """

def bolt_search_queries(Q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], cent_t: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], bounds: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], dot: bool, blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], n: int, k: int, n_threads: int, sorted: bool = True) -> tuple[NDArray[numpy.uint32], NDArray[numpy.int64], NDArray[numpy.float64], NDArray[numpy.float64]]:
    """
    Query tables and search in one call: (sums (nq, k), rows (nq, k), scale (nq,), offset (nq,)).
    """

def bolt_ivf_search(blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], ncols: int, block_off: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], sizes: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], row_start: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], probes: Annotated[NDArray[numpy.int32], dict(shape=(None, None), order='C', device='cpu', writable=False)], luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], k: int, n_threads: int) -> tuple[NDArray[numpy.uint32], NDArray[numpy.int64]]:
    """
    Top-k rows by code over the probed inverted lists: (dist uint32 (nq, k), rows int64 (nq, k)).
    """

def bolt_rerank_f32(vectors: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_rows: int, Q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], cand: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], k: int, dot: bool, n_threads: int) -> tuple[NDArray[numpy.float32], NDArray[numpy.int64]]:
    """
    Exact distances (or minus inner products) of candidate rows: the k best per query, (dist, rows).
    """

def bolt_rerank_f16(vectors: Annotated[NDArray[numpy.uint16], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_rows: int, Q: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], cand: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], k: int, dot: bool, n_threads: int) -> tuple[NDArray[numpy.float32], NDArray[numpy.int64]]:
    """As bolt_rerank_f32 for float16 vectors passed as their uint16 bits."""

def sprintz_compress(data: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], dtype: int, n: int, nvars: int, ndim: int, order: int, forecaster: int, entropy: bool, chunk_rows: int) -> bytes: ...

def sprintz_header(buf: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> dict[str, Any]: ...

def sprintz_decompress_out(buf: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], out: Annotated[NDArray[Any], dict(device='cpu')]) -> bool: ...

def sprintz_decompress_out_bytes(buf: bytes, out: Annotated[NDArray[Any], dict(device='cpu')]) -> bool: ...

def sprintz_decompress(buf: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], max_bytes: int) -> NDArray[Any]: ...

def sprintz_decompress_bytes(buf: bytes, max_bytes: int) -> NDArray[Any]: ...

def sprintz_checksum(data: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)]) -> int: ...

class maddness_Plan:
    def __init__(self) -> None: ...

def maddness_matmul(plan: maddness_Plan, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], dims: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], offsets: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], scales: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], thresholds: Annotated[NDArray[numpy.int8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], mul: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], add: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], log2g: int, n_threads: int, out: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu')] | None = None, row_major: bool = False, phases: int = 3) -> tuple[object, bool]:
    """
    Encode + aggregate: (products, ok). Products float32 (M, n) (transpose for (n, M)) or (n, M) if row_major; into `out` if given (then None). ok is False if a value read was NaN/inf. phases (timing): 1 = encode only, 2 = aggregate only, 3 = both.
    """

class maddness_Bound:
    def __init__(self) -> None: ...

    def bind(self, dims: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], offsets: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], scales: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], thresholds: Annotated[NDArray[numpy.int8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], mul: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], add: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], log2g: int) -> None: ...

def maddness_run(bound: maddness_Bound, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], n_threads: int, out: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu')] | None = None, row_major: bool = False) -> tuple[object, bool]:
    """maddness_matmul for a bound model: (products, ok)."""

def maddness_run_topk(bound: maddness_Bound, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], k: int, values: bool, n_threads: int) -> tuple[Any, ...]:
    """
    The k largest products of each row of a bound model, fused (no (n, M) result): (int64 (n, k) columns, float32 (n, k) values or None, ok); by decreasing value, ties to the lower column.
    """

def maddness_encode(plan: maddness_Plan, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], dims: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], offsets: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], scales: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], thresholds: Annotated[NDArray[numpy.int8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], n_threads: int) -> tuple[NDArray[numpy.uint8], bool]:
    """
    Blocked 4-bit codes (nblocks*32*C/2,) in Bolt's layout and False if a value read was NaN/inf.
    """

def maddness_scan(blocked: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], n: int, luts: Annotated[NDArray[numpy.uint8], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], mul: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], add: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], log2g: int, n_threads: int, out: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu')] | None = None, row_major: bool = False) -> object:
    """
    Dequantized products of codes in Bolt's blocked layout, float32 (M, n) (transpose for (n, M)) or (n, M) if row_major; into `out` if given (returns None).
    """

def maddness_project(A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), device='cpu', writable=False)], cols: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], npos: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.float32]:
    """
    Signed-sum split features float32 (nfeat, n) (transpose for (n, nfeat)): feature f of row i adds A[i, cols[f, :npos[f]]] and subtracts A[i, cols[f, npos[f]:]] (order: see maddness.hpp).
    """

def maddness_split_scan(QT: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], cands: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], perm: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], starts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], R: Annotated[NDArray[numpy.float64], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], R2: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int, want_left: bool = False) -> tuple[Any, ...]:
    """
    Exact SSE threshold scan of one tree level for the candidate rows of QT, residual R in panels (npanels, n, 8) (see learn.hpp): (loss (k,), thresholds (k, nnodes), sums of R over each node's rows that go left at its threshold (k, nnodes, npanels * 8) if want_left).
    """

def maddness_partition(q: Annotated[NDArray[numpy.int8], dict(shape=(None,), order='C', device='cpu', writable=False)], thr: Annotated[NDArray[numpy.int8], dict(shape=(None,), order='C', device='cpu', writable=False)], perm: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], starts: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], node: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu')]) -> NDArray[numpy.int64]:
    """
    Stable partition of each node's rows (perm, in place) by q > thr[node]; node[i] = new node; returns new starts.
    """

def maddness_panel_sums(XP: Annotated[NDArray[numpy.float64], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], perm: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], ranges: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], want_sq: bool, n_threads: int) -> tuple[Any, ...]:
    """
    maddness_group_sums for a matrix stored in panels XP (npanels, n, w): float64 (ngroups, npanels * w) each.
    """

def maddness_shrink_panels(RP: Annotated[NDArray[numpy.float64], dict(shape=(None, None, None), order='C', device='cpu')], leaf: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], means: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], shrink: float) -> tuple[Any, ...]:
    """
    RP -= shrink * means[leaf] on a residual in panels (in place); returns the new squared row norms and column sums (npanels * 8,), the latter summed as maddness_panel_sums sums all rows.
    """

@overload
def maddness_group_sums(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], perm: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], ranges: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], want_sq: bool, n_threads: int) -> tuple[Any, ...]: ...

@overload
def maddness_group_sums(X: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], perm: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], ranges: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], want_sq: bool, n_threads: int) -> tuple[Any, ...]:
    """
    Sums (and sums of squares if want_sq, else an empty array) of X's rows perm[b:e] per range (b, e): float64 (ngroups, p) each.
    """

@overload
def maddness_onehot_sums(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.float64]: ...

@overload
def maddness_onehot_sums(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], X: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.float64]:
    """
    G^T X for the one-hot matrix G (n, 16C) of 4-bit codes (n, C): float64 (16C, p).
    """

@overload
def maddness_onehot_sums_grouped(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], group: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], ngroups: int, n_threads: int) -> NDArray[numpy.float64]: ...

@overload
def maddness_onehot_sums_grouped(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], X: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], group: Annotated[NDArray[numpy.uint8], dict(shape=(None,), order='C', device='cpu', writable=False)], ngroups: int, n_threads: int) -> NDArray[numpy.float64]:
    """
    G_g^T X for every group g of rows (group[i] < ngroups): float64 (ngroups, 16C, p), one pass over X.
    """

def maddness_column_order_stats(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], ranks: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.float32]:
    """
    The ranks[r]-th smallest value of every column of X (n, d) float32, finite: float32 (len(ranks), d).
    """

def maddness_quantize_transposed(X: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], offset: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], scale: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], n_threads: int) -> NDArray[numpy.int8]:
    """
    The split bytes of X (n, d) float32, transposed (d, n) int8: rint(clip((x - offset) * scale, -128, 127)) in float32.
    """

def maddness_onehot_gram(codes: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)]) -> NDArray[numpy.int64]:
    """
    G^T G (counts, int64 (16C, 16C)) for the one-hot matrix G of 4-bit codes (n, C).
    """

def extract_prefix_scores(XT: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], BT: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], cands: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], W: int, log0: Annotated[NDArray[numpy.float32], dict(shape=(None,), order='C', device='cpu', writable=False)], p0blur: float) -> NDArray[numpy.float64]: ...

def extract_nonoverlapping_maxima(v: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], sep: int, floor: float, limit: int) -> NDArray[numpy.int64]: ...

def extract_dtw_segments(ZA: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], startsA: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], endsA: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], ZB: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], startsB: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], endsB: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], band: float, symmetric: bool) -> NDArray[numpy.float64]: ...
