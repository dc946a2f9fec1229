"""MADDNESS benchmark: speed against numpy A @ B (BLAS pinned to 1 thread) and physical limits.
Accuracy (digits, sentence embeddings, replace_linear) is in bench_maddness_accuracy.py.

Writes benchmarks/results/maddness.json and benchmarks/results/maddness.md. Run: `.venv/bin/python benchmarks/bench_maddness.py`
(`--quick` for fewer repeats).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import tenfold
from tenfold import _core
from tenfold._bench import cpu_name
from tenfold._bench import call_times
from tenfold._bench import median_time as med

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired, write_results  # noqa: E402

SHAPES = [  # name, N, D, M (the paper's tasks)
    ("CIFAR-10-like", 10_000, 512, 10),
    ("CIFAR-100-like", 10_000, 512, 100),
    ("UCR-like", 1_000, 320, 128),
    ("3x3 filters", 49_284, 27, 2),
]
C_LIST = (2, 4, 8, 16, 32, 64)


def hot_rounds(ref, new, rounds):
    """Rounds of 2 reference calls then 1 untimed + 5 timed calls of `new` (its input back in
    cache), so both are sampled over the same period of machine load. Returns (median ref,
    median new, best ref, best new)."""
    tr, tn = [], []
    for _ in range(rounds):
        for _ in range(2):
            t = time.perf_counter()
            ref()
            tr.append(time.perf_counter() - t)
        new()
        for _ in range(5):
            t = time.perf_counter()
            new()
            tn.append(time.perf_counter() - t)
    return float(np.median(tr)), float(np.median(tn)), float(np.min(tr)), float(np.min(tn))


def cpu_mhz() -> float:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1])
    except OSError:
        pass
    return float("nan")


def structured(n, d, rng, rank, clusters=64, noise=0.2):
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    centers = rng.normal(size=(clusters, rank)) * 2.0
    latent = centers[rng.integers(clusters, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + noise * rng.normal(size=(n, d))).astype(np.float32)


def best(fn, repeat):
    return min(call_times(fn, repeat, warmup=1))


def bandwidths(repeat):
    """Single-thread stream test, timed by the calling thread's CPU time (immune to preemption on
    a shared machine) and by the wall clock; best of the repeats (a physical limit is the best
    case). Reads: np.add.reduce over 2 MB (in cache) and 256 MB (from DRAM) of int64. Writes: 4 MB
    (in cache) and 256 MB (to DRAM, pages already mapped), by libc's memset (large fills use
    streaming stores) and by numpy's fill (plain stores: each line is read before it is written);
    the faster of the two is the DRAM write bandwidth. memset writes ones: a fill with zeros
    measured 2x faster than DRAM can take here (54-56 GB/s), which no result write can use."""
    import ctypes

    def best_cpu(fn, r):
        ts = []
        for _ in range(r):
            fn()  # first touch / warm
            c = time.thread_time()
            fn()
            ts.append(time.thread_time() - c)
        return min(ts)

    out = {}
    for name, nbytes in (("read_cache_GBps", 2 << 20), ("read_dram_GBps", 256 << 20)):
        x = np.ones(nbytes // 8, dtype=np.int64)
        out[name] = nbytes / best_cpu(lambda: np.add.reduce(x), repeat * 3 if nbytes < (64 << 20) else repeat) / 1e9
    y = np.empty(1 << 20, dtype=np.float32)
    out["write_GBps"] = y.nbytes / best_cpu(lambda: y.fill(1.0), repeat * 3) / 1e9
    z = np.zeros(64 << 20, dtype=np.float32)  # 256 MB
    out["write_dram_fill_GBps"] = z.nbytes / best_cpu(lambda: z.fill(1.0), repeat) / 1e9
    try:
        libc = ctypes.CDLL(None)
        ptr, size = ctypes.c_void_p(z.ctypes.data), ctypes.c_size_t(z.nbytes)
        out["write_dram_memset_GBps"] = z.nbytes / best_cpu(lambda: libc.memset(ptr, 1, size), repeat) / 1e9
    except (OSError, AttributeError):  # no C library to load (not on Linux/macOS)
        pass
    out["write_dram_GBps"] = max(out["write_dram_fill_GBps"], out.get("write_dram_memset_GBps", 0.0))
    return out


def bench_shapes(repeat, bw):
    rows = []
    rng = np.random.default_rng(0)
    for name, N, D, M in SHAPES:
        ntrain = 10_000
        X = structured(N + ntrain, D, rng, rank=max(4, D // 8))
        A_train, A_c = X[:ntrain], np.ascontiguousarray(X[ntrain:])
        A_f = np.asfortranarray(A_c)
        B = (rng.normal(size=(D, M)) / np.sqrt(D)).astype(np.float32)
        exact = A_c @ B
        t_blas_c = med(lambda: A_c @ B, repeat)
        t_blas_f = med(lambda: A_f @ B, repeat)
        blas = (lambda: A_c @ B) if t_blas_c <= t_blas_f else (lambda: A_f @ B)  # the faster layout
        int8 = torch_int8_linear(B)  # what a PyTorch user picks today, timed against BLAS like MADDNESS
        if int8 is not None:
            call, At = int8[0], int8[1](A_c)
            _, t_int8, sp_int8 = paired(blas, lambda: call(At), repeat)
        else:
            t_int8 = sp_int8 = float("nan")
        for agg in ("average", "exact"):
            amm = tenfold.Maddness(ncodebooks=16, aggregate=agg, n_threads=1).fit(A_train, B)
            out = amm.matmul(A_f)
            rel = float(np.linalg.norm(out - exact) / np.linalg.norm(exact))
            t_blas, t_f, sp_f = paired(blas, lambda: amm.matmul(A_f), repeat)
            buf = np.empty((N, M), np.float32, order="F")
            _, t_fo, sp_fo = paired(blas, lambda: amm.matmul(A_f, out=buf), repeat)
            _, t_c, sp_c = paired(blas, lambda: amm.matmul(A_c), repeat)
            _, t_setb_f, sp_t = paired(blas, lambda: amm.set_B(B).matmul(A_f), repeat)
            bufc = np.empty((N, M), np.float32)
            _, t_cc, sp_cc = paired(blas, lambda: amm.matmul(A_c, out=bufc, order="C"), repeat)
            # The fused kernel's two phases timed apart (same call, out= given): encoding only,
            # aggregation only (of all-zero codes; its cost does not depend on the codes).
            core = (amm._plan(), A_f, amm.split_dims_, amm.offsets_, amm.scales_, amm.thresholds_, amm.luts_,
                    amm.mul_, amm.add_, amm.log2g_, 1, buf.T, False)
            t_enc = med(lambda: _core.maddness_matmul(*core, 1), 3 * repeat)
            t_scan = med(lambda: _core.maddness_matmul(*core, 2), 3 * repeat)
            # Hot: MADDNESS timed alone, so the split columns of A stay in cache between calls (as
            # when A was just produced). The paired timings above alternate with BLAS, which streams
            # all of A (20 MB for the CIFAR shapes) through the caches: there A comes from DRAM.
            t_blas_alone, t_hot, t_blas_best, t_hot_best = hot_rounds(blas, lambda: amm.matmul(A_f, out=buf), repeat)
            # Physical limit: the split columns the encoder must read (Fortran order), at the
            # in-cache read bandwidth measured above, plus N*M*C look-ups at 32 per vpshufb and
            # 2 vpshufb per cycle at the reported clock, plus writing the float32 output.
            ndims = len(np.unique(amm.split_dims_))
            read_bytes_f = N * ndims * 4
            lines = len(np.unique(amm.split_dims_ * 4 // 64))  # cache lines touched per row (C order)
            read_bytes_c = N * min(lines * 64, D * 4)
            lookups = N * M * 16
            t_lookup = lookups / (64 * cpu_mhz() * 1e6)
            t_write = N * M * 4 / (bw["write_GBps"] * 1e9)
            limit_f = read_bytes_f / (bw["read_cache_GBps"] * 1e9) + t_lookup + t_write
            limit_f_cold = read_bytes_f / (bw["read_dram_GBps"] * 1e9) + t_lookup + t_write
            limit_c = read_bytes_c / (bw["read_cache_GBps"] * 1e9) + t_lookup + t_write
            rows.append(dict(
                shape=name, N=N, D=D, M=M, ncodebooks=16, aggregate=agg, rel_err=rel,
                blas_c_ms=t_blas_c * 1e3, blas_f_ms=t_blas_f * 1e3,
                maddness_f_ms=t_f * 1e3, maddness_f_out_ms=t_fo * 1e3, speedup_f_out=sp_fo, maddness_c_ms=t_c * 1e3,
                maddness_c_in_c_out_ms=t_cc * 1e3, speedup_c_in_c_out=sp_cc, maddness_f_with_tables_ms=t_setb_f * 1e3,
                encode_f_ms=t_enc * 1e3, scan_ms=t_scan * 1e3, torch_int8_ms=t_int8 * 1e3, speedup_torch_int8=sp_int8,
                blas_ms=t_blas * 1e3, speedup_f=sp_f, speedup_c=sp_c, speedup_f_with_tables=sp_t,
                limit_f_ms=limit_f * 1e3, limit_c_ms=limit_c * 1e3,
                limit_parts_ms=dict(read_f=read_bytes_f / (bw["read_cache_GBps"] * 1e9) * 1e3,
                                    lookups=t_lookup * 1e3, write_out=t_write * 1e3),
                fraction_of_limit_f=limit_f / t_hot, limit_f_cold_ms=limit_f_cold * 1e3,
                fraction_of_limit_f_cold=limit_f_cold / t_fo, maddness_f_hot_ms=t_hot * 1e3,
                blas_alone_ms=t_blas_alone * 1e3, speedup_f_hot=t_blas_alone / t_hot,
                maddness_f_hot_best_ms=t_hot_best * 1e3, blas_best_ms=t_blas_best * 1e3,
                speedup_f_hot_best=t_blas_best / t_hot_best, fraction_of_limit_f_best=limit_f / t_hot_best))
            print(f"{name:15s} {agg:7s} blas {t_blas * 1e3:7.3f} ms | F {t_f * 1e3:6.3f} ms ({sp_f:5.1f}x) "
                  f"F+out {t_fo * 1e3:6.3f} ms ({sp_fo:5.1f}x) "
                  f"C {t_c * 1e3:6.3f} ms ({sp_c:5.1f}x) C->C {t_cc * 1e3:6.3f} ms ({sp_cc:5.1f}x) +tables {t_setb_f * 1e3:6.3f} ms ({sp_t:5.1f}x) | "
                  f"enc {t_enc * 1e3:.3f} scan {t_scan * 1e3:.3f} | hot {t_hot * 1e3:.3f} ms "
                  f"({t_blas_alone / t_hot:5.1f}x) best {t_hot_best * 1e3:.3f} ms ({t_blas_best / t_hot_best:5.1f}x) | limit F {limit_f * 1e3:.3f} ms | rel.err {rel:.3f}",
                  flush=True)
    return rows


def minor_faults() -> int:
    """Page faults (minor: memory mapped on first touch) of this process so far; 0 where the
    resource module is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def huge_page_fraction(a: np.ndarray) -> float:
    """Share of an array's bytes backed by transparent huge pages (Linux /proc/self/smaps: the
    AnonHugePages of every mapping the array overlaps, pro rata); nan where unknown."""
    lo, hi = a.ctypes.data, a.ctypes.data + a.nbytes
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return float("nan")
    huge = 0.0
    cur = None
    for line in text.splitlines():
        head = line.split(maxsplit=1)[0] if line else ""
        if "-" in head and ":" not in head:
            v0, v1 = (int(x, 16) for x in head.split("-"))
            cur = (v0, v1) if v0 < hi and v1 > lo else None
        elif cur and head == "AnonHugePages:":
            v0, v1 = cur
            huge += int(line.split()[1]) * 1024 * (min(v1, hi) - max(v0, lo)) / (v1 - v0)
    return huge / a.nbytes


def small_page_array(shape, order: str):
    """A float32 array in memory advised against huge pages (MADV_NOHUGEPAGE), 2 MiB-aligned and
    touched once: (array, mapping to keep alive), or None off Linux."""
    import mmap
    if not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return None
    nbytes = int(np.prod(shape)) * 4
    m = mmap.mmap(-1, nbytes + (2 << 20), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    raw = np.frombuffer(m, np.uint8)
    off = (-raw.ctypes.data) % (2 << 20)
    flat = raw[off:off + nbytes].view(np.float32)
    a = flat.reshape(shape[::-1]).T if order == "F" else flat.reshape(shape)
    a[...] = 0.0
    return a, m


def torch_int8_linear(B):
    """torch's dynamic int8 quantisation (quantize_dynamic) of a Linear layer with weights B.T, one
    thread: (call on a tensor, numpy -> tensor), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    lin = torch.nn.Linear(B.shape[0], B.shape[1], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(B.T)))
    q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)

    def call(x):
        with torch.no_grad():
            return q(x)
    return call, torch.from_numpy


def llc_bytes() -> int:
    """Size of the last-level cache (sysfs), 32 MB if unknown."""
    best_level, size = 0, 32 << 20
    for d in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level, text = int((d / "level").read_text()), (d / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        mult = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
        if level > best_level:
            best_level, size = level, int(text.rstrip("KM")) * mult
    return size


def bench_cold(repeat, bw):
    """Hot and cold memory side by side (issue 17), CIFAR-100 shape (N=10,000, D=512, M=100),
    C=16, one thread. Every method allocates its result (no out=). Cold: before the timed call
    the caches are flushed (a buffer of 3x the last-level cache is written and read). Hot: the
    timed call directly follows an untimed call of the same method (A and the tables in cache).
    Each round times every method under both conditions, so all see the same machine load;
    medians of the calling thread's CPU time (every method runs on the calling thread) and of
    wall time. Anchors: BLAS (numpy, faster layout), torch Linear fp32 and torch's dynamic int8
    quantisation (quantize_dynamic, one thread)."""
    rng = np.random.default_rng(2)
    N, D, M, ntrain, K = 10_000, 512, 100, 10_000, 5
    X = structured(N + ntrain, D, rng, rank=D // 8)
    A_c = np.ascontiguousarray(X[ntrain:])
    A_f = np.asfortranarray(A_c)
    B = (rng.normal(size=(D, M)) / np.sqrt(D)).astype(np.float32)
    exact = A_c @ B
    amm = tenfold.Maddness(ncodebooks=16, n_threads=1).fit(X[:ntrain], B)
    flush_buf = np.zeros(3 * llc_bytes() // 8)

    def flush():
        np.add(flush_buf, 1.0, out=flush_buf)
        return float(flush_buf[::4096].sum())

    def np_topk(P):  # the K largest of each row, by decreasing value (argpartition, then a sort of K)
        part = np.argpartition(-P, K - 1, axis=1)[:, :K]
        vals = np.take_along_axis(P, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        return np.take_along_axis(vals, order, axis=1), np.take_along_axis(part, order, axis=1)

    methods = {"blas_c": lambda: A_c @ B, "blas_f": lambda: A_f @ B,
               "maddness_f": lambda: amm.matmul(A_f), "maddness_c": lambda: amm.matmul(A_c),
               "maddness_c_in_c_out": lambda: amm.matmul(A_c, order="C"),
               # Classifier head: the index of the largest output per row, and the top K.
               "blas_argmax": lambda: (A_c @ B).argmax(1), "maddness_f_argmax": lambda: amm.matmul(A_f).argmax(1),
               "maddness_predict_f": lambda: amm.predict(A_f), "maddness_predict_c": lambda: amm.predict(A_c),
               "blas_topk": lambda: np_topk(A_c @ B), "maddness_topk_f": lambda: amm.topk(A_f, K)}
    # The cost of small pages from cold memory (each 4 KB page of the result or of A's split
    # columns needs a page walk whose table lines were flushed too): the same call into a result
    # buffer, and on a copy of A, held in 4 KB pages.
    small_out, small_a = small_page_array((N, M), "F"), small_page_array((N, D), "F")
    if small_out is not None and small_a is not None:
        small_a[0][...] = A_f
        methods["maddness_f_small_out"] = lambda: amm.matmul(A_f, out=small_out[0])
        methods["maddness_f_small_a"] = lambda: amm.matmul(small_a[0])
    errs = {"maddness_f": float(np.linalg.norm(amm.matmul(A_f) - exact) / np.linalg.norm(exact))}
    agree = {"maddness_predict_f": float((amm.predict(A_f) == exact.argmax(1)).mean())}
    try:
        import torch

        torch.set_num_threads(1)
        lin = torch.nn.Linear(D, M, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(B.T.copy()))
        q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
        At = torch.from_numpy(A_c)
        with torch.no_grad():
            errs["torch_int8"] = float(np.linalg.norm(q(At).numpy() - exact) / np.linalg.norm(exact))
            agree["torch_int8_argmax"] = float((q(At).numpy().argmax(1) == exact.argmax(1)).mean())

        def torch_int8():
            with torch.no_grad():
                return q(At)

        def torch_int8_argmax():
            with torch.no_grad():
                return q(At).argmax(1)

        def torch_fp32():
            with torch.no_grad():
                return lin(At)
        methods["torch_int8"], methods["torch_fp32"] = torch_int8, torch_fp32
        methods["torch_int8_argmax"] = torch_int8_argmax
    except ImportError:
        pass
    cpu = {c: {k: [] for k in methods} for c in ("hot", "cold")}
    wall = {c: {k: [] for k in methods} for c in ("hot", "cold")}
    faults = {c: {k: [] for k in methods} for c in ("hot", "cold")}
    for _ in range(repeat):
        for k, fn in methods.items():
            for cond in ("cold", "hot"):
                if cond == "cold":
                    flush()
                else:
                    fn()
                f0 = minor_faults()
                t0, c0 = time.perf_counter(), time.thread_time()
                fn()
                cpu[cond][k].append(time.thread_time() - c0)
                wall[cond][k].append(time.perf_counter() - t0)
                faults[cond][k].append(minor_faults() - f0)
    huge = {"A_f": huge_page_fraction(A_f), "A_c": huge_page_fraction(A_c)}
    res_f = amm.matmul(A_f)
    huge["result"] = huge_page_fraction(res_f.T)
    if small_out is not None and small_a is not None:
        huge["small_out"], huge["small_a"] = huge_page_fraction(small_out[0].T), huge_page_fraction(small_a[0].T)
    del res_f
    tc = {c: {k: float(np.median(v)) for k, v in d.items()} for c, d in cpu.items()}
    tw = {c: {k: float(np.median(v)) for k, v in d.items()} for c, d in wall.items()}
    blas = {c: min(tc[c]["blas_c"], tc[c]["blas_f"]) for c in tc}
    ndims = len(np.unique(amm.split_dims_))
    lines = len(np.unique(amm.split_dims_ * 4 // 64))
    t_lookup = N * M * 16 / (64 * cpu_mhz() * 1e6)
    t_write = N * M * 4 / (bw["write_dram_GBps"] * 1e9)
    read_f = N * ndims * 4 / (bw["read_dram_GBps"] * 1e9)
    read_c = N * min(lines * 64, D * 4) / (bw["read_dram_GBps"] * 1e9)
    limit_f, limit_c = read_f + t_lookup + t_write, read_c + t_lookup + t_write
    limit_predict = read_f + t_lookup  # no result written
    row = dict(N=N, D=D, M=M, C=16, K=K, llc_mb=llc_bytes() / 2 ** 20, split_dims=ndims, repeat=repeat,
               cpu_ms={c: {k: v * 1e3 for k, v in d.items()} for c, d in tc.items()},
               wall_ms={c: {k: v * 1e3 for k, v in d.items()} for c, d in tw.items()},
               blas_cpu_ms={c: v * 1e3 for c, v in blas.items()},
               cpu_speedup={c: {k: blas[c] / v for k, v in d.items()} for c, d in tc.items()},
               rel_err=errs, argmax_agreement=agree,
               page_faults={c: {k: float(np.median(v)) for k, v in d.items()} for c, d in faults.items()},
               huge_page_fraction=huge,
               limit_f_ms=limit_f * 1e3, limit_c_ms=limit_c * 1e3, limit_predict_ms=limit_predict * 1e3,
               limit_f_speedup=blas["cold"] / limit_f, limit_c_speedup=blas["cold"] / limit_c,
               limit_predict_speedup=blas["cold"] / limit_predict,
               fraction_of_limit_f=limit_f / tc["cold"]["maddness_f"],
               fraction_of_limit_predict=limit_predict / tc["cold"]["maddness_predict_f"],
               limit_parts_ms=dict(read_f=read_f * 1e3, read_c=read_c * 1e3, lookups=t_lookup * 1e3,
                                   write_out=t_write * 1e3))
    for k in methods:
        print(f"{k:22s} hot CPU {tc['hot'][k] * 1e3:8.3f} ms ({blas['hot'] / tc['hot'][k]:6.1f}x)  "
              f"cold CPU {tc['cold'][k] * 1e3:8.3f} ms ({blas['cold'] / tc['cold'][k]:6.1f}x)  "
              f"cold wall {tw['cold'][k] * 1e3:8.3f} ms  faults {np.median(faults['cold'][k]):.0f}", flush=True)
    print("huge-page share", {k: round(v, 2) for k, v in huge.items()}, flush=True)
    print(f"cold limit F {limit_f * 1e3:.3f} ms ({blas['cold'] / limit_f:.1f}x), predict {limit_predict * 1e3:.3f} ms, "
          f"C {limit_c * 1e3:.3f} ms", flush=True)
    return row


def bench_threads(repeat):
    """Thread scaling on the CIFAR-100 shape (M=100, C=16, F-order A, out= given) at 10,000 and
    100,000 rows: MADDNESS with n_threads = 1 and all cores, BLAS pinned to the same counts;
    medians of back-to-back calls (A's split columns stay in cache at 10,000 rows, not at 100,000)."""
    import os

    rng = np.random.default_rng(1)
    D, M, ntrain = 512, 100, 10_000
    X = structured(100_000 + ntrain, D, rng, rank=D // 8)
    B = (rng.normal(size=(D, M)) / np.sqrt(D)).astype(np.float32)
    models = {t: tenfold.Maddness(ncodebooks=16, n_threads=t).fit(X[:ntrain], B)
              for t in sorted({1, os.cpu_count() or 1})}
    rows = []
    for N in (10_000, 100_000):
        A_f = np.asfortranarray(X[ntrain:ntrain + N])
        out = np.empty((N, M), np.float32, order="F")
        for t, amm in models.items():
            # Timed apart, not interleaved: OpenBLAS's threads keep spinning for a while after a
            # multi-threaded call and would take the second core from MADDNESS's thread.
            with threadpool_limits(t):
                t_blas = med(lambda: A_f @ B, repeat, warmup=1)
            time.sleep(0.5)
            t_amm = med(lambda: amm.matmul(A_f, out=out), 5 * repeat, warmup=1)
            rows.append(dict(N=N, threads=t, blas_ms=t_blas * 1e3, maddness_ms=t_amm * 1e3, speedup=t_blas / t_amm))
            print(f"N={N} threads {t}: BLAS {t_blas * 1e3:.3f} ms, MADDNESS {t_amm * 1e3:.3f} ms ({t_blas / t_amm:.1f}x)",
                  flush=True)
    return rows


def render_cold(c, bw) -> str:
    names = {"blas_c": "BLAS, C-order A", "blas_f": "BLAS, F-order A", "torch_fp32": "torch Linear fp32",
             "torch_int8": "torch dynamic int8 (quantize_dynamic)",
             "maddness_f": "MADDNESS, F-order A",
             "maddness_f_small_out": "MADDNESS, F-order A, into an out= buffer in 4 KB pages",
             "maddness_f_small_a": "MADDNESS, F-order A in 4 KB pages",
             "maddness_c": "MADDNESS, C-order A",
             "maddness_c_in_c_out": "MADDNESS, C-order A and result",
             "blas_argmax": "argmax head: BLAS then argmax",
             "torch_int8_argmax": "argmax head: torch int8 then argmax",
             "maddness_f_argmax": "argmax head: MADDNESS matmul then argmax",
             "maddness_predict_f": "argmax head: MADDNESS predict, F-order A (fused, no N x M result)",
             "maddness_predict_c": "argmax head: MADDNESS predict, C-order A",
             "blas_topk": f"top-{c['K']}: BLAS then numpy argpartition + sort",
             "maddness_topk_f": f"top-{c['K']}: MADDNESS topk, F-order A (fused)"}
    L = [f"## Hot and cold memory (CIFAR-100 shape: N={c['N']:,}, D={c['D']}, M={c['M']}, C=16; one thread)\n",
         f"Every call allocates its result (no out=). Cold: before the timed call the caches are flushed (a buffer "
         f"of 3x the {c['llc_mb']:.0f} MB last-level cache is written and read). Hot: the timed call follows an "
         "untimed call of the same method (A in cache). Each round times every method under both conditions; "
         f"medians of {c['repeat']} rounds of the calling thread's CPU time (immune to preemption on a shared "
         "machine, not to memory bandwidth shared with other jobs). Speed-ups against the faster BLAS layout "
         "under the same condition. Command: `.venv/bin/python benchmarks/bench_maddness.py --only cold`.\n",
         "| method | hot CPU ms | hot x BLAS | cold CPU ms | cold x BLAS | cold wall ms | page faults (cold) | rel. err |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k, name in names.items():
        if k in c["cpu_ms"]["cold"]:
            err = c["rel_err"].get(k)
            L.append(f"| {name} | {c['cpu_ms']['hot'][k]:.3f} | {c['cpu_speedup']['hot'][k]:.1f}x | "
                     f"{c['cpu_ms']['cold'][k]:.3f} | {c['cpu_speedup']['cold'][k]:.1f}x | "
                     f"{c['wall_ms']['cold'][k]:.3f} | {c.get('page_faults', {}).get('cold', {}).get(k, float('nan')):.0f} | "
                     f"{'' if err is None else f'{err:.3f}'} |")
    ag = c.get("argmax_agreement", {})
    if ag:
        L.append("\nArgmax agreement with the exact product's: " + ", ".join(
            f"{'MADDNESS predict' if k.startswith('maddness') else 'torch int8'} {v:.3f}" for k, v in ag.items()) + ".")
    p = c["limit_parts_ms"]
    L.append(f"\n**Cold physical limit** (this machine, one thread; stream test above: DRAM read "
             f"{bw['read_dram_GBps']:.1f} GB/s, write {bw['write_dram_GBps']:.1f} GB/s): F order = "
             f"{c['split_dims']} split columns ({c['N'] * c['split_dims'] * 4 / 1e6:.2f} MB) read ({p['read_f']:.3f} ms) "
             f"+ N*M*16 look-ups at 64 per cycle at the reported clock ({p['lookups']:.3f} ms) + the "
             f"{c['N'] * c['M'] * 4 / 1e6:.1f} MB result written ({p['write_out']:.3f} ms) = {c['limit_f_ms']:.3f} ms, "
             f"i.e. at most **{c['limit_f_speedup']:.1f}x** cold BLAS; MADDNESS reaches "
             f"{100 * c['fraction_of_limit_f']:.0f}% of it ({c['cpu_speedup']['cold']['maddness_f']:.1f}x). "
             f"Without the result write (predict/top-k): {c['limit_predict_ms']:.3f} ms = {c['limit_predict_speedup']:.1f}x, "
             f"predict reaches {100 * c['fraction_of_limit_predict']:.0f}%. C order (every cache line holding a split "
             f"dimension, {p['read_c']:.3f} ms) {c['limit_c_ms']:.3f} ms = {c['limit_c_speedup']:.1f}x. "
             "Target of issue 17: >= 25x cold in F order.\n")
    hp = c.get("huge_page_fraction", {})
    L.append("Page faults: minor faults per call (median); 0 means the result's memory was reused, so the cold "
             "times are memory stalls, not first-touch costs. Page size: share of bytes in 2 MB pages "
             + ", ".join(f"{k} {v:.2f}" for k, v in hp.items()) + " (A_f/A_c: the benchmark's numpy arrays; result: "
             "a MADDNESS result; small_*: the 4 KB-page controls). From cold memory every 4 KB page touched needs a "
             "page walk whose table lines were flushed with the data: the 4 MB result written column by column touches "
             "~1,000 pages, the 64 split columns ~640; the rows `into an out= buffer in 4 KB pages` and `F-order A in "
             "4 KB pages` measure that cost in the same run. New results of >= 2 MiB come from a pool of huge-page "
             "blocks (malloc often handed back small-page heap memory, so the cold time had varied by up to 25% from "
             "one process to the next, independent of the load). Results of 1 MB or more are written with streaming "
             "stores (column-major: runs of 512 floats per column; row-major: whole 64-row blocks). "
             "Tried on this machine and not kept (interleaved medians, CPU time): prefetching the next chunk's split "
             "columns while aggregating (encoder 2x faster from cold memory, aggregation slower by more: net 3% "
             "slower); for row-major A, gathering four rows at a time (fewer instructions, 30% slower from memory), "
             "software prefetch 8-64 rows ahead (slower) and 1024-8192-row chunks (no change). Row-major A reads "
             "every cache line that holds a split value, row by row; its limit is the C-order one above.\n")
    return "\n".join(L)


def render_md(res) -> str:
    L = []
    L.append("# MADDNESS benchmark\n")
    L.append(f"CPU: {res['cpu']} ({res['cpu_mhz']:.0f} MHz reported), ISA path `{res['isa']}`, 1 thread for "
             f"tenfold and BLAS (threadpoolctl), numpy {res['numpy']}, median of {res['repeat']} runs. "
             "Absolute times move with the machine's load"
             + (f" (1-minute load average {res['loadavg']:.1f} on {res.get('cores', '?')} cores when the run started)"
                if "loadavg" in res else "") + "; ratios are measured in the same run.\n")
    bw = res["bandwidth"]
    L.append(f"Measured single-thread bandwidth: read {bw['read_cache_GBps']:.1f} GB/s (2 MB, cache), "
             f"{bw['read_dram_GBps']:.1f} GB/s (256 MB); write {bw['write_GBps']:.1f} GB/s (4 MB)"
             + (f", {bw['write_dram_GBps']:.1f} GB/s (256 MB)" if "write_dram_GBps" in bw else "") + ".\n")
    L.append("## Speed, ncodebooks=16 (synthesised structured data; B known ahead unless said)\n")
    L.append("Hot: rounds of 2 BLAS calls (faster layout) then 1 untimed and 5 timed MADDNESS calls (out= "
             "given), so A's split columns are in cache as when A was just produced; medians, and the best "
             "runs (min of each over the same rounds). "
             "Paired columns: each MADDNESS call alternates with a BLAS call (median of the per-pair ratios). "
             "BLAS streams all of A (20 MB) through the caches, but on a machine with a larger last-level cache A "
             "can still be there, and with out= the result buffer is reused: this is not a cold-memory "
             "condition (see the cold section below).\n")
    L.append("| shape | N | D | M | aggregate | BLAS ms | hot, F-order, out= ms (x) | best runs: BLAS / hot ms (x) | "
             "encode / aggregate ms (hot) | limit hot ms = BLAS / limit (% reached, median / best) | paired F-order ms (x) | paired F, out= ms (x) | paired C-order ms (x) | "
             "paired C in and out, out= ms (x) | paired F + tables ms (x) | torch int8 (paired) ms (x) | rel. err |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["shapes"]:
        if "speedup_f_hot" in r:
            hot = (f"{r['maddness_f_hot_ms']:.3f} ({r['speedup_f_hot']:.1f}x) | {r['blas_best_ms']:.3f} / "
                   f"{r['maddness_f_hot_best_ms']:.3f} ({r['speedup_f_hot_best']:.1f}x) | {r['encode_f_ms']:.3f} / "
                   f"{r['scan_ms']:.3f} | {r['limit_f_ms']:.3f} = {r['blas_alone_ms'] / r['limit_f_ms']:.0f}x "
                   f"({100 * r['fraction_of_limit_f']:.0f}% / "
                   f"{100 * r['fraction_of_limit_f_best']:.0f}%)")
            cc = f"{r['maddness_c_in_c_out_ms']:.3f} ({r['speedup_c_in_c_out']:.1f}x)"
            blas = r["blas_alone_ms"]
        else:  # results of the earlier benchmark version
            hot, cc, blas = "n/a | n/a | n/a | n/a", "n/a", r["blas_ms"]
        L.append(f"| {r['shape']} | {r['N']} | {r['D']} | {r['M']} | {r['aggregate']} | {blas:.3f} | {hot} | "
                 f"{r['maddness_f_ms']:.3f} ({r['speedup_f']:.1f}x) | "
                 f"{r['maddness_f_out_ms']:.3f} ({r['speedup_f_out']:.1f}x) | "
                 f"{r['maddness_c_ms']:.3f} ({r['speedup_c']:.1f}x) | {cc} | {r['maddness_f_with_tables_ms']:.3f} "
                 f"({r['speedup_f_with_tables']:.1f}x) | {r.get('torch_int8_ms', float('nan')):.3f} "
                 f"({r.get('speedup_torch_int8', float('nan')):.1f}x) | {r['rel_err']:.3f} |")
    L.append("\nOne C++ call per matmul: rows are encoded and aggregated chunk by chunk (Fortran-order A: up to "
             "8192 rows at C=16 (64 KB of codes), 8 split columns read at a time down the chunk; other layouts 256 rows), so the codes stay "
             "in L1/L2. encode / aggregate: the two phases of that call timed apart (F-order A, out= given). "
             "Limit (hot, F order) = split columns read at the in-cache read bandwidth + N*M*16 look-ups at 64 "
             "per cycle (2 vpshufb of 32 bytes) at the reported clock + writing the float32 (N, M) output at the "
             "measured write bandwidth; BLAS / limit is the largest speed-up any implementation of the issue's "
             "design (float32 A and output) could show on this machine. C order must read every cache line that holds a split dimension "
             "(for D=512 and C=16 nearly the whole row). C in and out is the layout of the torch wrapper "
             "(row-major activations in, row-major output written through 8x8 register transposes).\n")
    if res.get("cold"):
        L.append(render_cold(res["cold"], res["bandwidth"]))
    if res.get("threads"):
        L.append("## Thread scaling (CIFAR-100 shape: D=512, M=100, C=16; F-order A, out= given; medians of back-to-back calls, BLAS and MADDNESS timed apart)\n")
        L.append("A second thread is used from 16,384 rows per thread on (below, starting it costs more "
                 "than it saves), so 10,000 rows run on one thread whatever `n_threads` says.\n")
        L.append("| rows | threads | BLAS ms | MADDNESS ms | speed-up vs BLAS | MADDNESS scaling | BLAS scaling |")
        L.append("|---|---|---|---|---|---|---|")
        for r in res["threads"]:
            one = next(o for o in res["threads"] if o.get("N") == r.get("N") and o["threads"] == 1)
            L.append(f"| {r.get('N', 10_000):,} | {r['threads']} | {r['blas_ms']:.3f} | {r['maddness_ms']:.3f} | "
                     f"{r['speedup']:.1f}x | {one['maddness_ms'] / r['maddness_ms']:.2f}x | "
                     f"{one['blas_ms'] / r['blas_ms']:.2f}x |")
        L.append("")
    L.append("Accuracy (digits, sentence embeddings, replace_linear on a PyTorch MLP): see "
             "[maddness_accuracy.md](maddness_accuracy.md) (benchmarks/bench_maddness_accuracy.py).\n")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("cold",), help="run only the hot/cold section (results/maddness_cold.*)")
    args = ap.parse_args()
    repeat = 5 if args.quick else 9
    res = dict(cpu=cpu_name(), cpu_mhz=cpu_mhz(), isa=tenfold.isa(), numpy=np.__version__, repeat=repeat,
               python=sys.version.split()[0], loadavg=os.getloadavg()[0], cores=os.cpu_count())
    with threadpool_limits(1):
        res["bandwidth"] = bandwidths(repeat)
        print("bandwidth", res["bandwidth"], flush=True)
        if args.only == "cold":
            res["cold"] = bench_cold(2 * repeat + 1, res["bandwidth"])
            write_results("maddness_cold", res, render_cold_md(res))
            return
        res["shapes"] = bench_shapes(repeat, res["bandwidth"])
        res["cold"] = bench_cold(2 * repeat + 1, res["bandwidth"])
    res["threads"] = bench_threads(repeat)
    write_results("maddness", res, render_md(res))


def render_cold_md(res) -> str:
    bw = res["bandwidth"]
    head = (f"# MADDNESS, hot and cold memory\n\nCPU: {res['cpu']} ({res['cpu_mhz']:.0f} MHz reported), ISA path "
            f"`{res['isa']}`, 1 thread for tenfold, BLAS (threadpoolctl) and torch, numpy {res['numpy']}; 1-minute load "
            f"average {res['loadavg']:.1f} on {res['cores']} cores at the start. Stream test (CPU time, best): read "
            f"{bw['read_cache_GBps']:.1f} GB/s in cache, {bw['read_dram_GBps']:.1f} GB/s from DRAM; write "
            f"{bw['write_GBps']:.1f} GB/s in cache, {bw['write_dram_GBps']:.1f} GB/s to DRAM (numpy fill "
            f"{bw['write_dram_fill_GBps']:.1f}, memset {bw.get('write_dram_memset_GBps', float('nan')):.1f}).\n")
    return head + "\n" + render_cold(res["cold"], bw)


if __name__ == "__main__":
    main()
