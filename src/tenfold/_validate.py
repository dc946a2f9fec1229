"""Checks of every field a .tfz file gives a loader, before any of it reaches a kernel.

A file that passes its checksums can still have been written by hand or by a buggy program, so
each loader calls the function of its type here first: every meta field is checked for its
type, range and finiteness, every array for its dtype, shape and values, and both for their
consistency with each other. What passes is a state that fitting could have produced (within
the bounds the public API enforces on its arguments); everything else is a ValueError naming the
field. Unknown fields are errors too: a field this version does not read would be silently lost.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, NoReturn

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)
# The magnitude bound as_float_matrix puts on inputs ("too large to compute with in float32"):
# fitted centroids are means of such inputs.
INPUT_LIMIT = 2.0 ** 60
INT32_MAX = 2**31 - 1  # the kernels take counts and thread numbers as C ints
INT64_MAX = 2**63 - 1  # seeds and ids are saved as (JSON) int64
IVF_MAX_NLIST = 1 << 22  # tenfold.ivf.MAX_NLIST: the most lists an IVFBoltIndex may have
UINT8_MAX = 255
# Largest EXTRACT filter weight: a log-odds log(theta / p0) with theta <= 1 and p0 a positive
# float32 mean, so at most -log of float32's smallest subnormal (~103.3).
MAX_LOG_ODDS = -math.log(float(np.finfo(np.float32).smallest_subnormal))


_META = object()  # "read the value from meta[key]"


class _Fields:
    """Reads checked fields of one object's meta dict and arrays; errors name the type and field."""

    def __init__(self, type_name: str, meta: Any, arrays: dict[str, np.ndarray]) -> None:
        self.type_name = type_name
        if not isinstance(meta, dict):
            self.fail(f"meta must be a JSON object, got {type(meta).__name__}")
        self.meta, self.arrays = meta, arrays

    def fail(self, message: str) -> NoReturn:
        raise ValueError(f"{self.type_name} file: {message}")

    def keys(self, meta: Iterable[str], arrays: Iterable[str], optional_arrays: Iterable[str] = (),
             optional_meta: Iterable[str] = ()) -> None:
        """Exactly these meta keys and arrays, plus any of the optional ones."""
        meta, arrays = set(meta), set(arrays)
        opt_meta, opt_arrays = set(optional_meta), set(optional_arrays)
        have = set(self.meta)
        if not meta <= have or not have <= meta | opt_meta:
            self.fail(f"meta fields missing {sorted(meta - have)} / unknown {sorted(have - meta - opt_meta)}")
        have = set(self.arrays)
        if not arrays <= have or not have <= arrays | opt_arrays:
            self.fail(f"arrays missing {sorted(arrays - have)} / unknown {sorted(have - arrays - opt_arrays)}")

    # ------------------------------------------------------------ meta fields
    def int(self, key: str, lo: int, hi: int, value: Any = _META) -> int:
        v = self.meta[key] if value is _META else value
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"{key} must be an int, got {v!r}")
        if not lo <= v <= hi:
            self.fail(f"{key} must be in [{lo}, {hi}], got {v}")
        return int(v)

    def real(self, key: str, lo: float = -math.inf, hi: float = math.inf, *, allow_inf: bool = False,
             open_lo: bool = False, value: Any = _META) -> float:
        v = self.meta[key] if value is _META else value
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            self.fail(f"{key} must be a number, got {v!r}")
        v = float(v)
        if math.isnan(v) or (math.isinf(v) and not allow_inf):
            self.fail(f"{key} must be finite, got {v}")
        if not (lo < v if open_lo else lo <= v) or not v <= hi:
            self.fail(f"{key} must be in {'(' if open_lo else '['}{lo}, {hi}], got {v}")
        return v

    def choice(self, key: str, choices: tuple[Any, ...]) -> Any:
        v = self.meta[key]
        if not isinstance(v, str) or v not in choices:
            self.fail(f"{key} must be one of {choices}, got {v!r}")
        return v

    # ------------------------------------------------------------ arrays
    def array(self, name: str, kind: str, shape: tuple[Any, ...], lo: float | None = None, hi: float | None = None,
              *, open_lo: bool = False, note: str = "") -> np.ndarray:
        """An array of `kind` "int" (any integer dtype), "float" (float32/float64, every value
        finite and within float32's range: the kernels compute in float32) or "float64" (float
        dtype, finite), of the given shape (None: any length on that axis), its values in
        [lo, hi] (or (lo, hi]). `note` ends every error message."""
        try:
            return self._array(name, kind, shape, lo, hi, open_lo)
        except ValueError as err:
            raise ValueError(f"{err} ({note})" if note else str(err)) from None

    def _array(self, name: str, kind: str, shape: tuple[Any, ...], lo: float | None, hi: float | None,
               open_lo: bool) -> np.ndarray:
        a = self.arrays[name]
        if kind == "int" and a.dtype.kind not in "iu" or kind != "int" and a.dtype.kind != "f":
            self.fail(f"array {name!r} must be of {kind} dtype, got {a.dtype}")
        if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            self.fail(f"array {name!r} has shape {a.shape}, expected {want}")
        if a.size == 0:
            return a
        if kind != "int":
            if not np.isfinite(a).all():
                self.fail(f"array {name!r} holds NaN or infinite values")
            if kind == "float":
                lo = -FLOAT32_MAX if lo is None else lo
                hi = FLOAT32_MAX if hi is None else hi
        if lo is None and hi is None:
            return a   # no pass over the values (a memory-mapped index's codes stay unread)
        amin, amax = a.min(), a.max()
        if lo is not None and (amin <= lo if open_lo else amin < lo) or hi is not None and amax > hi:
            self.fail(f"array {name!r} has values out of range: [{amin}, {amax}] not within "
                      f"{'(' if open_lo else '['}{lo}, {hi}]")
        return a


def check_threads_field(f: _Fields, key: str, value: Any) -> None:
    """A saved n_threads: None (the default) or an int a kernel accepts."""
    if value is not None:
        f.int(key, 1, INT32_MAX, value=value)


# -------------------------------------------------------------------------------- Bolt

_BOLT_PARAMS = ("ncodebooks", "metric", "n_iter", "random_state")


def _bolt_encoder_fields(f: _Fields) -> tuple[int, int]:
    C = f.int("ncodebooks", 2, 256)
    if C % 2:
        f.fail(f"ncodebooks must be even, got {C}")
    f.choice("metric", ("l2", "dot", "ip", "cosine"))
    f.int("n_iter", 0, INT32_MAX)
    if f.meta["random_state"] is not None:
        f.int("random_state", 0, INT64_MAX)
    cent = f.array("centroids", "float", (16, None), -INPUT_LIMIT, INPUT_LIMIT)
    d = cent.shape[1]
    if d < C:
        f.fail(f"centroids have {d} columns, fewer than ncodebooks ({C})")
    bounds = f.array("bounds", "int", (C + 1,), 0, d).astype(np.int64)
    if bounds[0] != 0 or bounds[-1] != d or np.any(np.diff(bounds) < 1):
        f.fail(f"subspace bounds must rise strictly from 0 to d = {d}, got {bounds.tolist()}")
    return C, d


def validate_bolt_encoder(meta: Any, arrays: dict[str, np.ndarray]) -> None:
    """Check a BoltEncoder's saved fields; ValueError names the first bad one."""
    f = _Fields("BoltEncoder", meta, arrays)
    f.keys(_BOLT_PARAMS, ("centroids", "bounds"))
    _bolt_encoder_fields(f)


def validate_bolt_index(meta: Any, arrays: dict[str, np.ndarray], block: int, *,
                        own_meta: Iterable[str] = (), own_arrays: Iterable[str] = ()) -> None:
    """Check a BoltIndex's saved fields (its encoder's, ntotal, the codes in blocks of `block`
    rows). ``own_meta`` / ``own_arrays``: optional further fields the caller checks itself."""
    f = _Fields("BoltIndex", meta, arrays)
    f.keys(_BOLT_PARAMS + ("ntotal",), ("centroids", "bounds", "codes_blocked"), own_arrays, own_meta)
    C, _ = _bolt_encoder_fields(f)
    n = f.int("ntotal", 0, 2**62)
    f.array("codes_blocked", "int", ((n + block - 1) // block * block * (C // 2),))
    if f.arrays["codes_blocked"].dtype != np.uint8:
        f.fail(f"codes_blocked must be uint8, got {f.arrays['codes_blocked'].dtype}")


def validate_ivf_bolt_index(meta: Any, arrays: dict[str, np.ndarray], block: int) -> None:
    """Check an IVFBoltIndex's saved fields: its encoder's, the list centroids, the list sizes
    against the codes (each list padded to blocks of `block` rows), ids and kept vectors."""
    f = _Fields("IVFBoltIndex", meta, arrays)
    f.keys(_BOLT_PARAMS + ("nlist", "nprobe", "kmeans_iter", "kmeans_random_state", "ntotal", "refine", "next_id"),
           ("centroids", "bounds", "coarse_centroids", "list_sizes", "codes_blocked", "ids"), ("vectors",))
    C, d = _bolt_encoder_fields(f)
    nlist = f.int("nlist", 1, IVF_MAX_NLIST)
    f.int("nprobe", 1, nlist)
    f.int("kmeans_iter", 0, INT32_MAX)
    if meta["kmeans_random_state"] is not None:
        f.int("kmeans_random_state", 0, INT64_MAX)
    refine = meta["refine"]
    if refine is not None:
        f.choice("refine", ("float32", "float16"))
    n = f.int("ntotal", 0, 2**62)
    next_id = f.int("next_id", 0, INT64_MAX)
    f.array("coarse_centroids", "float", (nlist, d), -INPUT_LIMIT, INPUT_LIMIT)
    sizes = f.array("list_sizes", "int", (nlist,), 0, n).astype(np.int64)
    if int(sizes.sum()) != n:
        f.fail(f"list sizes add up to {int(sizes.sum())}, not ntotal = {n}")
    nblocks = int(((sizes + block - 1) // block).sum())
    codes = f.array("codes_blocked", "int", (nblocks * block * (C // 2),))
    if codes.dtype != np.uint8:
        f.fail(f"codes_blocked must be uint8, got {codes.dtype}")
    ids = f.array("ids", "int", (n,), 0, next_id - 1 if n else None)
    if ids.dtype != np.int64:
        f.fail(f"ids must be int64, got {ids.dtype}")
    if n and len(np.unique(ids)) != n:
        f.fail("ids must be distinct")
    if ("vectors" in arrays) != (refine is not None):
        f.fail("kept vectors present without refine, or missing with it")
    if refine is not None:
        vectors = arrays["vectors"]
        want = np.float32 if refine == "float32" else np.uint16
        if vectors.dtype != want or vectors.shape != (n, d):
            f.fail(f"vectors must be {np.dtype(want)} ({n}, {d}), got {vectors.dtype} {vectors.shape}")
        if not isinstance(vectors, np.memmap):  # a mapped file is not read whole to check it
            values = vectors if refine == "float32" else vectors.view(np.float16)
            if not np.isfinite(values).all():
                f.fail("vectors hold NaN or infinite values")


# -------------------------------------------------------------------------------- MADDNESS

MADDNESS_LEVELS = 4       # tree depth: 16 leaves = one 4-bit code
MADDNESS_LEAVES = 16
MADDNESS_MAX_GROUP_LOG2 = 4  # averaging trees of at most 16 codebooks


def maddness_log2g(ncodebooks: int, aggregate: str) -> int:
    """log2 of the codebooks averaged per group: none for exact sums, else the largest power of
    two <= 16 dividing ncodebooks (what the tables are quantized for)."""
    if aggregate == "exact":
        return 0
    return min(MADDNESS_MAX_GROUP_LOG2, (ncodebooks & -ncodebooks).bit_length() - 1)


def check_maddness_output_range(mul: np.ndarray, add: np.ndarray, ncodebooks: int, log2g: int,
                                what: str) -> None:
    """ValueError unless every output ``fma(s, mul, add)`` is finite in float32 for every sum
    ``s`` of table bytes the scan can form (at most 255 per group of 2**log2g codebooks)."""
    top = UINT8_MAX * (ncodebooks >> log2g)
    with np.errstate(over="ignore"):
        worst = np.abs(add.astype(np.float64)) + np.abs(mul.astype(np.float64)) * top
    if not (np.isfinite(worst).all() and (worst <= FLOAT32_MAX).all()):
        raise ValueError(f"{what} reach beyond float32's range ({FLOAT32_MAX:.3g}): the products "
                         "would be infinite; scale the tables or B down")


def validate_maddness(meta: Any, arrays: dict[str, np.ndarray]) -> None:
    """Check a Maddness model's saved fields. ``meta["params"]`` must already have been accepted
    by ``Maddness(**params)._check_params()``; this checks the rest and their consistency."""
    f = _Fields("Maddness", meta, arrays)
    f.keys(("params", "lam_", "n_features_in_", "n_outputs_", "log2g_"),
           ("split_dims", "offsets", "scales", "thresholds", "prototypes", "luts", "mul", "add"),
           ("sum_cols", "sum_npos"))
    params = meta["params"]
    check_threads_field(f, "params.n_threads", params.get("n_threads"))
    C, aggregate = params["ncodebooks"], params["aggregate"]
    d = f.int("n_features_in_", 1, INT32_MAX)
    m = f.int("n_outputs_", 1, INT32_MAX)
    lam = f.real("lam_", 0.0)
    if params["lam"] != "auto" and lam != float(params["lam"]):
        f.fail(f"lam_ ({lam}) differs from the lam parameter ({params['lam']})")
    log2g = f.int("log2g_", 0, MADDNESS_MAX_GROUP_LOG2)
    if log2g != maddness_log2g(C, aggregate):
        f.fail(f"log2g_ is {log2g}, but ncodebooks={C} with aggregate={aggregate!r} averages "
               f"groups of 2**{maddness_log2g(C, aggregate)}")
    width = min(params["split_width"], d)
    L = MADDNESS_LEVELS
    nsplit = d
    if width > 1:
        if "sum_cols" not in arrays or "sum_npos" not in arrays:
            f.fail(f"split_width {width} needs the arrays 'sum_cols' and 'sum_npos'")
        for name, shape in (("sum_cols", (C, L, width)), ("sum_npos", (C, L))):
            if arrays[name].shape != shape:
                f.fail(f"array {name!r} has shape {arrays[name].shape}, expected {shape}")
        f.array("sum_cols", "int", (C, L, width), 0, d - 1, note="signed-sum column out of range")
        f.array("sum_npos", "int", (C, L), 0, width, note="signed-sum term count out of range")
        nsplit = L * C
    elif "sum_cols" in arrays or "sum_npos" in arrays:
        f.fail("signed-sum arrays in a model with split_width 1")
    f.array("split_dims", "int", (C, L), 0, nsplit - 1, note="split dimension out of range")
    f.array("offsets", "float", (C, L))
    f.array("scales", "float", (C, L), 0.0, open_lo=True)
    f.array("thresholds", "int", (C, L, MADDNESS_LEAVES), -128, 127)
    f.array("prototypes", "float", (C, MADDNESS_LEAVES, d))
    f.array("luts", "int", (m, C, MADDNESS_LEAVES), 0, UINT8_MAX)
    mul = f.array("mul", "float", (m,))
    add = f.array("add", "float", (m,))
    try:
        check_maddness_output_range(mul, add, C, log2g, "mul and add")
    except ValueError as err:
        f.fail(str(err))


# -------------------------------------------------------------------------------- EXTRACT

def extract_filter_length(max_length: int) -> int:
    """Rows of the learned filter: the search window (max_length plus a tenth) widened by half
    an event on both sides."""
    return max_length + max(1, max_length // 10) + 2 * (max_length // 2)


def validate_extract_result(meta: Any, arrays: dict[str, np.ndarray]) -> None:
    """Check a saved ExtractResult (instances and event model)."""
    # the longest series find_instances accepts (n x features <= MAX_FEATURE_CELLS, features >= 1)
    from .extract import MAX_FEATURE_CELLS as max_series

    f = _Fields("ExtractResult", meta, arrays)
    f.keys(("objective", "min_length", "max_length", "threshold", "blur_length", "offset",
            "match_threshold", "n_dims"),
           ("starts", "ends", "scores", "pattern", "filter", "bank_dims", "bank_lengths", "bank_values",
            "bank_variances"), optional_meta=("significance", "method", "group_bar"),   # absent before issue 14
           optional_arrays=("templates", "template_ends",                # the segment search's model
                            "template_distances", "template_outsiders"))  # ... of a group below the bar
    if "significance" in meta:
        f.real("significance")
    method = f.choice("method", ("shapelets", "segments")) if "method" in meta else "shapelets"
    if method == "segments":
        if "templates" not in arrays or "template_ends" not in arrays:
            f.fail("a segment-search result needs arrays 'templates' and 'template_ends'")
        tpl = f.array("templates", "float64", (None, None))
        tends = f.array("template_ends", "int", (None,), 1, tpl.shape[0])
        if len(tends) and (np.any(np.diff(tends) < 1) or int(tends[-1]) != tpl.shape[0]):
            f.fail("template_ends must increase strictly and end at the number of template rows")
        if len(tends) == 0 and len(f.arrays["starts"]):
            f.fail("a segment-search result with instances needs templates")
        k = len(tends)
        if "template_distances" in arrays:
            f.array("template_distances", "float64", (k, k), 0.0)
        if "template_outsiders" in arrays:
            from .segments import NEAR_OUTSIDERS    # what template_neighbourhood keeps per member
            near = f.array("template_outsiders", "float64", (k, None), 0.0)
            if near.shape[1] > NEAR_OUTSIDERS:
                f.fail(f"template_outsiders must hold at most {NEAR_OUTSIDERS} distances per template")
        if "group_bar" in meta:
            f.real("group_bar", allow_inf=True)
    n_dims = f.int("n_dims", 1, INT32_MAX)
    hi = f.int("max_length", 2, max_series // 2)
    f.int("min_length", 2, hi)
    f.int("blur_length", 2, max_series)
    f.real("threshold", 0.0, 4.0, open_lo=True)
    f.real("objective")
    mt = f.real("match_threshold", allow_inf=True)
    if mt == -math.inf:
        f.fail("match_threshold must not be -inf")
    W = extract_filter_length(hi)
    offset = meta["offset"]
    if not isinstance(offset, list) or len(offset) != 2:
        f.fail(f"offset must be a list of two ints, got {offset!r}")
    a = f.int("offset[0]", -W, W, value=offset[0])
    b = f.int("offset[1]", -W, W, value=offset[1])
    if not a < b:
        f.fail(f"offset must have offset[0] < offset[1], got {offset}")
    starts = f.array("starts", "int", (None,), 0, max_series)
    k = len(starts)
    ends = f.array("ends", "int", (k,), 1, max_series)
    if k and (np.any(ends <= starts) or np.any(ends[:-1] > starts[1:])):
        f.fail("instances must be sorted, non-empty and non-overlapping (starts < ends <= next start)")
    f.array("scores", "float64", (k,))
    f.array("pattern", "float64", (None, n_dims))
    if k == 0 and f.arrays["pattern"].shape[0]:
        f.fail("a pattern without instances")
    filt = f.array("filter", "float", (W, None), 0.0, MAX_LOG_ODDS)
    F = filt.shape[1]
    bank = "invalid shapelet bank"
    f.array("bank_dims", "int", (F,), 0, n_dims - 1, note=bank)
    lengths = f.array("bank_lengths", "int", (F,), 2, hi, note=bank)
    values = f.array("bank_values", "float64", (F, hi), note=bank)
    var = f.array("bank_variances", "float64", (F,), 0.0, open_lo=True, note=bank)
    for i in range(F):
        L = int(lengths[i])
        if np.any(values[i, L:]):
            f.fail(f"shapelet {i} has nonzero values beyond its length {L} ({bank})")
        with np.errstate(over="ignore"):
            v = float(np.mean(values[i, :L] ** 2))
        if not math.isclose(v, float(var[i]), rel_tol=1e-6):
            f.fail(f"shapelet {i}: variance does not match its values ({bank})")
