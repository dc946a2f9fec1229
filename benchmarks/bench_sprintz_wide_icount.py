"""Instructions per value of the wide Sprintz codec, per data set and direction (callgrind).

Wall-clock and even CPU time are noisy on a shared machine; instruction counts are not. The data are
bench_sprintz_wide.py's (its load()), written to .npy files; benchmarks/native/sprintz_wide_harness.cpp
is compiled with the repository's C++ sources (-O3, the AVX2 unit with its flags) and run under
`valgrind --tool=callgrind` twice per set and direction, with R calls and with 0: the difference / R
is the instructions of one call of the C++ codec (no Python), / values per value. Not a speed by
itself (instructions differ in cost), but what a kernel change removes is measured exactly.

Run: python benchmarks/bench_sprintz_wide_icount.py [--only nile,ACSF1] [--isa scalar]
Writes results/sprintz_wide_icount.{json,md} (needs g++ and valgrind; a few minutes).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sprintz_wide import load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
AVX2 = ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mpopcnt", "-mf16c"]
TARGET_BYTES = 20_000_000  # bytes of data per callgrind run (R = this / the set's bytes, 2..200)


def build(tmp: Path) -> Path:
    flags = ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-math-errno", f"-I{ROOT / 'cpp'}"]
    sources = sorted((ROOT / "cpp" / "sprintz").glob("*.cpp")) + [ROOT / "cpp" / "common" / "isa.cpp"]
    sources = [s for s in sources if not s.stem.endswith(("_neon", "_avx512"))]

    def compile_one(src: Path) -> Path:
        obj = tmp / f"{src.stem}.o"
        subprocess.run(["g++", *flags, *(AVX2 if src.stem.endswith("_avx2") else []), "-c", str(src), "-o", str(obj)],
                       check=True)
        return obj

    with ThreadPoolExecutor(2) as pool:
        objs = list(pool.map(compile_one, sources + [ROOT / "benchmarks" / "native" / "sprintz_wide_harness.cpp"]))
    exe = tmp / "harness"
    subprocess.run(["g++", *map(str, objs), "-lpthread", "-o", str(exe)], check=True)
    return exe


def instructions(cmd: list[str]) -> int:
    res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                         capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : ([\d,]+)", res.stderr).group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--isa", default="", help="force a path (scalar, avx2, avx512)")
    args = ap.parse_args()
    data = load()
    if args.only:
        data = {k: v for k, v in data.items() if k in args.only.split(",")}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        exe = build(tmp)
        for name, (x, _) in data.items():
            path = tmp / f"{name}.npy"
            np.save(path, np.ascontiguousarray(x))
            reps = min(200, max(2, TARGET_BYTES // x.nbytes))
            row = {"data": name, "dtype": str(x.dtype), "shape": list(x.shape), "values": int(x.size)}
            for op in "cd":
                extra = [args.isa] if args.isa else []
                base = instructions([str(exe), str(path), op, "0", *extra])
                total = instructions([str(exe), str(path), op, str(reps), *extra])
                row[f"{op}_per_value"] = (total - base) / reps / x.size
            rows.append(row)
            print(f"{name:18s} compress {row['c_per_value']:7.1f}  decompress {row['d_per_value']:6.1f} instr/value",
                  flush=True)
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if not (args.only or args.isa) else "_partial"
    (RESULTS / f"sprintz_wide_icount{suffix}.json").write_text(json.dumps({"isa": args.isa or "best", "rows": rows},
                                                                         indent=1))
    out = ["# Sprintz wide dtypes: instructions per value (callgrind)\n",
           f"C++ codec only (benchmarks/native/sprintz_wide_harness.cpp, g++ -O3), ISA {args.isa or 'best available'}, "
           "one call = (instructions of R calls - of 0 calls) / R. Data as bench_sprintz_wide.py.\n",
           "| data | dtype, shape | compress instr/value | decompress instr/value |", "|---|---|---|---|"]
    out += [f"| {r['data']} | {r['dtype']} {tuple(r['shape'])} | {r['c_per_value']:.1f} | {r['d_per_value']:.1f} |"
            for r in rows]
    (RESULTS / f"sprintz_wide_icount{suffix}.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
