"""Speed of Sprintz on 32/64-bit integers and floats against pcodec, one thread, same process.

The speed half of bench_sprintz_wide.py (same data, loaded by its load(); same pcodec setup: each
column its own series, default level), without zstd and FastPFor, with more interleaved rounds so
the two speed targets of issue 16 (decompress >= 2x pcodec on every set, compress >= 4x pcodec)
can be read on a shared machine. Times are CPU time (time.process_time) of one call, each sample
looping the call to >= 20 ms; every round times every codec of a set once (round-robin), the
figure is the median over rounds of Sprintz / pcodec measured in the same round. Every round trip
is checked bit for bit. MB/s are of uncompressed bytes.

Run: python benchmarks/bench_sprintz_wide_speed.py [--rounds 7] [--only nile,ACSF1]
Writes results/sprintz_wide_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

import tenfold
from tenfold import sprintz

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sprintz import loops_for, timed  # noqa: E402
from bench_sprintz_wide import load, same_bits  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def codecs() -> dict[str, tuple]:
    import pcodec
    from pcodec import standalone

    cfg = pcodec.ChunkConfig()

    def pco_comp(x):
        return [standalone.simple_compress(np.ascontiguousarray(c), cfg) for c in (x.T if x.ndim == 2 else [x])]

    def pco_decomp(bufs, x):
        cols = [standalone.simple_decompress(b) for b in bufs]
        return cols[0] if x.ndim == 1 else np.column_stack(cols)

    return {"sprintz": (lambda x: sprintz.compress(x), lambda b, x: sprintz.decompress(b)),
            "pcodec": (pco_comp, pco_decomp)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default="", help="comma-separated set names")
    args = ap.parse_args()
    data, cs = load(), codecs()
    if args.only:
        keep = args.only.split(",")
        data = {k: v for k, v in data.items() if k in keep}
    rows = []
    for dname, (x, real) in data.items():
        jobs = []
        for cname, (comp, decomp) in cs.items():
            buf = comp(x)
            assert same_bits(x, decomp(buf, x)), (dname, cname)
            c = (lambda comp=comp: comp(x))
            d = (lambda decomp=decomp, buf=buf: decomp(buf, x))
            jobs.append((cname, c, loops_for(c), d, loops_for(d)))
        tc = {name: [] for name, *_ in jobs}
        td = {name: [] for name, *_ in jobs}
        for _ in range(args.rounds):
            for cname, c, lc, d, ld in jobs:
                tc[cname].append(timed(c, lc))
                td[cname].append(timed(d, ld))
        sc, sd = np.array(tc["sprintz"]), np.array(td["sprintz"])
        pc, pd = np.array(tc["pcodec"]), np.array(td["pcodec"])
        r = {"data": dname, "real": real, "dtype": str(x.dtype), "shape": list(x.shape), "bytes": int(x.nbytes),
             "sprintz_comp_us": float(np.median(sc)) * 1e6, "sprintz_dec_us": float(np.median(sd)) * 1e6,
             "pcodec_comp_us": float(np.median(pc)) * 1e6, "pcodec_dec_us": float(np.median(pd)) * 1e6,
             "comp_x_pcodec": float(np.median(pc / sc)), "dec_x_pcodec": float(np.median(pd / sd))}
        rows.append(r)
        print(f"{dname:18s} comp {r['sprintz_comp_us']:9.1f} us ({r['comp_x_pcodec']:4.1f}x)  "
              f"dec {r['sprintz_dec_us']:9.1f} us ({r['dec_x_pcodec']:4.1f}x)", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    meta = {"cpu": cpu, "isa": tenfold.isa(), "threads": 1, "rounds": args.rounds, "clock": "time.process_time"}
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if not args.only else "_partial"
    (RESULTS / f"sprintz_wide_speed{suffix}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    out = ["# Sprintz wide dtypes: speed against pcodec\n",
           f"CPU: {meta['cpu']}, Sprintz path {meta['isa']}, 1 thread, CPU time (time.process_time), median over "
           f"{meta['rounds']} interleaved rounds of the per-round ratio Sprintz / pcodec. MB/s of uncompressed "
           "data. Every round trip checked bit for bit. Data and pcodec setup as bench_sprintz_wide.py.\n",
           "| data | dtype, shape | comp MB/s | pcodec comp MB/s | comp x pcodec | dec MB/s | pcodec dec MB/s | "
           "dec x pcodec |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mb = r["bytes"]
        tag = "" if r["real"] else " (synthetic)"
        out.append(f"| {r['data']}{tag} | {r['dtype']} {tuple(r['shape'])} | {mb / r['sprintz_comp_us']:.0f} | "
                   f"{mb / r['pcodec_comp_us']:.0f} | {r['comp_x_pcodec']:.1f}x | {mb / r['sprintz_dec_us']:.0f} | "
                   f"{mb / r['pcodec_dec_us']:.0f} | {r['dec_x_pcodec']:.1f}x |")
    nd = sum(r["dec_x_pcodec"] >= 2 for r in rows)
    nc = sum(r["comp_x_pcodec"] >= 4 for r in rows)
    out += ["", f"- decompress >= 2x pcodec on every set: {nd} of {len(rows)} "
            f"({'met' if nd == len(rows) else 'NOT met'})",
            f"- compress >= 4x pcodec on every set: {nc} of {len(rows)} ({'met' if nc == len(rows) else 'NOT met'})"]
    (RESULTS / f"sprintz_wide_speed{suffix}.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
