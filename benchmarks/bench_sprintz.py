"""Sprintz vs pcodec, zstd (1/3/19), lz4 and blosc2 on real integer sensor data, one thread.

Data (all from packages on PyPI or Debian, fetched with their ordinary clients and cached in
~/.cache/tenfold-bench or $TENFOLD_BENCH_DATA):
  speech-16      espeak-ng (Debian) reading a fixed English text: int16 PCM, 1 variable
  seismo-16      obspy wheel, signal/tests/data/CRLZ.HHZ.10.NZ.SAC: seismogram counts, int16, 1 var
  acsf1-16       aeon wheel, ACSF1 appliance power (all series concatenated) scaled to uint16, 1 var
  daphnet-16     aeon wheel, Daphnet S06R02E0 raw accelerometers (mg): int16, 9 variables
  daphnet-8      the same quantized to uint8, 9 variables
  motions-8      aeon wheel, BasicMotions accelerometer+gyroscope (train+test concatenated)
                 quantized to uint8, 6 variables
  synth-8x64     SYNTHETIC (numpy, seeded): 100,000 rows x 64 uint8 channels of slow sines plus
                 Gaussian noise (sd 2), the many-column 8-bit speed case at a size where per-call
                 overhead does not dominate (the real many-column sets above are 48-63 KB)
Every codec sees the same array; multi-variable data is given row-major (as recorded) to
everything except pcodec, which gets each column as its own series (its best case; the
transpose is not timed). pcodec needs enable_8_bit for 8-bit data. blosc2 uses
shuffle + bytedelta + zstd level 5 with 1 thread. Times are CPU time (time.process_time) of
the process, median of 9 rounds; in each round every codec is timed once (looping to >= 20 ms),
so load from other processes affects all codecs alike. Every decompression is checked for
equality. MB/s are of uncompressed bytes. Every codec returns a new array except
"sprintz delta (out=)", the same stream as "sprintz delta" decoded into a preallocated array:
for large outputs, faulting in fresh pages costs a sizeable share of the decode time here.

Run: python benchmarks/bench_sprintz.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path

import numpy as np

import tenfold
from tenfold import sprintz

CACHE = Path(os.environ.get("TENFOLD_BENCH_DATA", Path.home() / ".cache" / "tenfold-bench"))
RESULTS = Path(__file__).resolve().parent / "results"
TEXT = (
    "Sprintz compresses integer time series from sensors. Each variable is predicted from its recent past, "
    "and only the small prediction errors are stored, packed into as few bits as each block of eight samples "
    "needs. Long stretches without change cost almost nothing. The quick brown fox jumps over the lazy dog, "
    "while the weather station on the hill records temperature, humidity, wind speed and pressure every "
    "second of every day. Accelerometers in a phone, a watch or a shoe measure movement a hundred times per "
    "second along three axes; seismometers listen to the ground; microphones sample the air pressure forty "
    "thousand times per second. All of these produce numbers that change smoothly most of the time."
)


def wheel(pkg: str, version: str) -> zipfile.ZipFile:
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"{pkg}-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", f"{pkg}=={version}",
                        "-d", str(CACHE)], check=True)
        found = sorted(CACHE.glob(f"{pkg}-{version}-*.whl"))
    return zipfile.ZipFile(found[0])


def read_ts(text: str) -> list[np.ndarray]:
    """Cases of a .ts file, each (dims, length)."""
    body = text.split("@data", 1)[1].strip().splitlines()
    cases = []
    for line in body:
        parts = line.strip().split(":")[:-1]
        cases.append(np.array([[float(v) for v in p.split(",")] for p in parts]))
    return cases


def load_datasets() -> dict[str, np.ndarray]:
    data: dict[str, np.ndarray] = {}
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["espeak-ng", "-s", "150", "-w", f"{d}/s.wav", TEXT * 2], check=True)
            with wave.open(f"{d}/s.wav") as w:
                assert w.getsampwidth() == 2 and w.getnchannels() == 1
                data["speech-16"] = np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()
    else:
        print("espeak-ng not installed (apt-get install espeak-ng): skipping speech-16", file=sys.stderr)
    ob = wheel("obspy", "1.5.1")
    raw = ob.read("obspy/signal/tests/data/CRLZ.HHZ.10.NZ.SAC")
    npts = int(np.frombuffer(raw[316:320], "<i4")[0])
    sac = np.frombuffer(raw[632:632 + 4 * npts], "<f4")
    assert np.all(sac == np.round(sac)), "SAC counts should be integers"
    assert np.abs(sac).max() < 32768
    data["seismo-16"] = sac.astype(np.int16)
    ae = wheel("aeon", "1.6.0")
    base = "aeon/datasets/data/"
    acsf = np.concatenate([c[0] for part in ("TRAIN", "TEST")
                           for c in read_ts(ae.read(f"{base}ACSF1/ACSF1_{part}.ts").decode())])
    data["acsf1-16"] = sprintz.quantize(acsf, 16)[0]
    csv = ae.read(f"{base}Daphnet_S06R02E0/S06R02E0.csv").decode().strip().splitlines()
    daph = np.array([[int(v) for v in line.split(",")[1:10]] for line in csv[1:]])
    data["daphnet-16"] = daph.astype(np.int16)
    data["daphnet-8"] = np.column_stack([sprintz.quantize(c, 8)[0] for c in daph.T])
    mot = np.concatenate([c.T for part in ("TRAIN", "TEST")
                          for c in read_ts(ae.read(f"{base}BasicMotions/BasicMotions_{part}.ts").decode())])
    data["motions-8"] = np.column_stack([sprintz.quantize(c, 8)[0] for c in mot.T])
    rng = np.random.default_rng(0)
    t = np.arange(100_000)[:, None]
    data["synth-8x64"] = np.clip(np.rint(128 + 60 * np.sin(t / (50 + np.arange(64))) + rng.normal(0, 2, (t.size, 64))),
                                 0, 255).astype(np.uint8)
    return data


def codecs() -> dict[str, tuple]:
    """name -> (compress(x) -> bytes-like, decompress(buf, x) -> ndarray)."""
    import blosc2
    import lz4.frame
    import pcodec
    import zstandard
    from pcodec import standalone

    def sz(fc, ent):
        return (lambda x: sprintz.compress(x, forecaster=fc, entropy=ent), lambda b, x: sprintz.decompress(b))

    def pco_comp(x):
        cfg = pcodec.ChunkConfig(enable_8_bit=x.dtype.itemsize == 1)
        cols = [np.ascontiguousarray(c) for c in (x.T if x.ndim == 2 else [x])]
        return [standalone.simple_compress(c, cfg) for c in cols]

    def pco_decomp(bufs, x):
        cols = [standalone.simple_decompress(b) for b in bufs]
        return cols[0] if x.ndim == 1 else np.column_stack(cols)

    def into(b, x, cache={}):
        # decode into a preallocated array (the Zarr / streaming use): no fresh pages to fault in
        key = (x.shape, x.dtype.str, x.flags.f_contiguous and not x.flags.c_contiguous)
        if key not in cache:
            cache.clear()
            cache[key] = np.empty(x.shape, x.dtype, order="F" if key[2] else "C")
        return sprintz.decompress(b, out=cache[key])

    out = {
        "sprintz delta": sz("delta", False),
        "sprintz delta (out=)": (lambda x: sprintz.compress(x, forecaster="delta", entropy=False), into),
        "sprintz fire": sz("fire", False),
        "sprintz delta+huf": sz("delta", True),
        "sprintz fire+huf": sz("fire", True),
        "pcodec": (pco_comp, pco_decomp),
    }
    for lvl in (1, 3, 19):
        c, d = zstandard.ZstdCompressor(level=lvl), zstandard.ZstdDecompressor()
        out[f"zstd-{lvl}"] = ((lambda x, c=c: c.compress(x.tobytes())),
                              (lambda b, x, d=d: np.frombuffer(d.decompress(b), x.dtype).reshape(x.shape)))
    out["lz4"] = ((lambda x: lz4.frame.compress(x.tobytes())),
                  (lambda b, x: np.frombuffer(lz4.frame.decompress(b), x.dtype).reshape(x.shape)))
    blosc2.set_nthreads(1)

    def b2_comp(x):
        return blosc2.compress2(x.tobytes(), typesize=x.dtype.itemsize, codec=blosc2.Codec.ZSTD, clevel=5,
                                filters=[blosc2.Filter.SHUFFLE, blosc2.Filter.BYTEDELTA], filters_meta=[0, 0],
                                nthreads=1)

    out["blosc2 shuf+bytedelta+zstd"] = (b2_comp, lambda b, x: np.frombuffer(blosc2.decompress2(b, nthreads=1),
                                                                             x.dtype).reshape(x.shape))
    return out


def loops_for(fn) -> int:
    """How many calls of fn make one timed sample of >= 20 ms."""
    fn()
    t = time.process_time()
    fn()
    once = max(time.process_time() - t, 1e-6)
    return max(1, int(0.02 / once))


def timed(fn, loops: int) -> float:
    t = time.process_time()
    for _ in range(loops):
        fn()
    return (time.process_time() - t) / loops


def nbytes(buf) -> int:
    return sum(len(b) for b in buf) if isinstance(buf, list) else len(buf)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    ap.add_argument("--report-only", action="store_true", help="rewrite the table and plot from the JSON")
    args = ap.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS / "sprintz.json").read_text())
        write_markdown(saved["meta"], saved["rows"])
        plot(saved["rows"])
        return
    repeat = 3 if args.quick else 9
    data = load_datasets()
    cs = codecs()
    rows = []
    for dname, x in data.items():
        # every codec is timed once per round, round after round (median over the rounds), so
        # that load from other processes on a shared machine hits all codecs alike
        jobs = []
        for cname, (comp, decomp) in cs.items():
            buf = comp(x)
            y = decomp(buf, x)
            assert np.array_equal(np.asarray(y).reshape(x.shape), x), (dname, cname)
            c = (lambda comp=comp: comp(x))
            d = (lambda decomp=decomp, buf=buf: decomp(buf, x))
            jobs.append((cname, nbytes(buf), c, loops_for(c), d, loops_for(d), [], []))
        for _ in range(repeat):
            for cname, size, c, lc, d, ld, tcs, tds in jobs:
                tcs.append(timed(c, lc))
                tds.append(timed(d, ld))
        for cname, size, c, lc, d, ld, tcs, tds in jobs:
            tc, td = float(np.median(tcs)), float(np.median(tds))
            rows.append({"data": dname, "dtype": str(x.dtype), "shape": list(x.shape), "codec": cname,
                         "ratio": x.nbytes / size, "compress_MBps": x.nbytes / tc / 1e6,
                         "decompress_MBps": x.nbytes / td / 1e6})
            r = rows[-1]
            print(f"{dname:11s} {cname:28s} ratio {r['ratio']:6.2f}  comp {r['compress_MBps']:8.0f} MB/s  "
                  f"dec {r['decompress_MBps']:8.0f} MB/s", flush=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    meta = {"cpu": cpu, "isa": tenfold.isa(), "threads": 1, "repeats": repeat, "clock": "time.process_time",
            "python": platform.python_version(), "datasets": {k: [str(v.dtype), list(v.shape)] for k, v in data.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sprintz.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    write_markdown(meta, rows)
    plot(rows)


def write_markdown(meta: dict, rows: list[dict]) -> None:
    lines = [f"# Sprintz benchmark\n", f"CPU: {meta['cpu']}, path {meta['isa']}, 1 thread, median of "
             f"{meta['repeats']} rounds of CPU time (codecs timed round-robin). MB/s of uncompressed data. Ratio = raw / compressed.\n"]
    for dname in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == dname]
        pco = next(r for r in sub if r["codec"] == "pcodec")
        lines.append(f"\n## {dname} ({sub[0]['dtype']}, shape {tuple(sub[0]['shape'])})\n")
        lines.append("| codec | ratio | compress MB/s | decompress MB/s | ratio vs pcodec | decompress vs pcodec |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for r in sub:
            lines.append(f"| {r['codec']} | {r['ratio']:.2f} | {r['compress_MBps']:.0f} | {r['decompress_MBps']:.0f} "
                         f"| {r['ratio'] / pco['ratio']:.2f}x | {r['decompress_MBps'] / pco['decompress_MBps']:.1f}x |")
    lines.append("\n## Summary: best-ratio Sprintz configuration per dataset vs pcodec\n")
    lines.append("| data | sprintz config | ratio | pcodec ratio | decompress MB/s | pcodec MB/s | speed vs pcodec |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for dname in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == dname]
        pco = next(r for r in sub if r["codec"] == "pcodec")
        best = max((r for r in sub if r["codec"].startswith("sprintz") and "out=" not in r["codec"]), key=lambda r: (r["ratio"], r["decompress_MBps"]))
        lines.append(f"| {dname} | {best['codec']} | {best['ratio']:.2f} | {pco['ratio']:.2f} | "
                     f"{best['decompress_MBps']:.0f} | {pco['decompress_MBps']:.0f} | "
                     f"{best['decompress_MBps'] / pco['decompress_MBps']:.1f}x |")
    lines += targets(rows)
    (RESULTS / "sprintz.md").write_text("\n".join(lines) + "\n")


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, checked against this run's numbers."""
    by = {(r["data"], r["codec"]): r for r in rows}
    names = list(dict.fromkeys(r["data"] for r in rows))
    real = [d for d in names if not d.startswith("synth")]
    out = ["\n## Targets (this run)\n", "| target | result | met |", "|---|---|:-:|"]

    def one(d):
        return len(by[(d, "pcodec")]["shape"]) == 1

    many8 = [d for d in names if by[(d, "pcodec")]["dtype"] in ("uint8", "int8") and not one(d)]
    for c in ("sprintz delta", "sprintz delta (out=)", "sprintz fire"):
        got = {d: by[(d, c)]["decompress_MBps"] for d in many8}
        txt = ", ".join(f"{d} {v:.0f}" for d, v in got.items())
        out.append(f"| decode >= 3000 MB/s, many-column 8-bit, no entropy stage ({c}) | {txt} | "
                   f"{'yes' if all(v >= 3000 for v in got.values()) else 'no'} |")
    one16 = [d for d in names if by[(d, "pcodec")]["dtype"] in ("int16", "uint16") and one(d)]
    for c in ("sprintz delta", "sprintz fire"):
        got = {d: by[(d, c)]["decompress_MBps"] for d in one16}
        txt = ", ".join(f"{d} {v:.0f}" for d, v in got.items())
        out.append(f"| decode >= 1500 MB/s, single 16-bit column, no entropy stage ({c}) | {txt} | "
                   f"{'yes' if all(v >= 1500 for v in got.values()) else 'no'} |")
    for c in ("sprintz delta+huf", "sprintz fire+huf"):
        sp = {d: by[(d, c)]["decompress_MBps"] / by[(d, "pcodec")]["decompress_MBps"] for d in real}
        txt = ", ".join(f"{d} {v:.1f}x" for d, v in sp.items())
        out.append(f"| with entropy stage: decode >= 2x pcodec on every real dataset ({c}) | {txt} | "
                   f"{'yes' if all(v >= 2 for v in sp.values()) else 'no'} |")
        wins = [d for d in real if by[(d, c)]["ratio"] >= by[(d, "pcodec")]["ratio"]]
        out.append(f"| with entropy stage: ratio >= pcodec on >= half of the real datasets ({c}) | "
                   f"{len(wins)}/{len(real)}: {', '.join(wins)} | {'yes' if 2 * len(wins) >= len(real) else 'no'} |")
    return out


def plot(rows: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.ticker
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = list(dict.fromkeys(r["data"] for r in rows))
    fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(5 * ((len(names) + 1) // 2), 8), squeeze=False)
    for ax, dname in zip(axes.flat, names):
        for r in (r for r in rows if r["data"] == dname):
            mark = "o" if r["codec"].startswith("sprintz") else "s"
            ax.scatter(r["decompress_MBps"], r["ratio"], marker=mark)
            ax.annotate(r["codec"], (r["decompress_MBps"], r["ratio"]), fontsize=7)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("decompress MB/s (1 thread)")
        ax.set_ylabel("compression ratio")
        ax.set_title(dname)
    fig.tight_layout()
    fig.savefig(RESULTS / "sprintz.png", dpi=110)


if __name__ == "__main__":
    main()
