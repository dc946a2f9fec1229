"""The ``tenfold`` command (also ``python -m tenfold``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

import numpy as np

import tenfold
from ._table import table as _table


def cmd_demo(args: argparse.Namespace) -> int:
    from . import _demo

    _demo.run(args.n, args.threads, args.stumpy)
    return 0


def _parse_length(text: str, rate: float, name: str) -> int:
    """'0.3s', '300ms' (seconds, converted with `rate` frames per second) or a frame count."""
    t = text.strip().lower()
    try:
        if t.endswith("ms"):
            return max(2, int(round(float(t[:-2]) / 1000.0 * rate)))
        if t.endswith("s"):
            return max(2, int(round(float(t[:-1]) * rate)))
        return int(t)
    except ValueError:
        raise SystemExit(f"tenfold: error: {name} must look like 0.3s, 300ms or a frame count, got {text!r}")


def cmd_find_instances(args: argparse.Namespace) -> int:
    from . import audio, extract

    path = args.recording
    if path.lower().endswith(".npy"):
        series = np.load(path, allow_pickle=False)
        min_sig = 0.0
        rate, unit = args.rate, "s" if args.rate != 1.0 else "samples"
        label = f"{series.shape[0]} samples"
    else:
        try:
            sound, sr = audio.read_wav(path)
        except ValueError as err:
            raise SystemExit(f"tenfold find-instances: error: {err}")
        series = audio.speech_features(sound, sr)
        min_sig = audio.SPEECH_MIN_SIGNIFICANCE
        rate, unit = 1.0 / audio.SPEECH_HOP_S, "s"
        label = f"{len(sound) / sr:.2f} s of audio at {sr} Hz -> {series.shape[0]} frames of speech features"
    lo = _parse_length(args.min_length, rate, "--min-length")
    hi = _parse_length(args.max_length, rate, "--max-length")
    t = time.perf_counter()
    try:
        hits = extract.find_instances(series, lo, hi, random_state=args.seed, min_significance=min_sig)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"tenfold: error: {err}")
    took = time.perf_counter() - t
    print(f"{path}: {label}; {len(hits)} instance(s) found in {took * 1e3:.0f} ms")
    rows = [[str(i + 1), f"{s / rate:.3f}", f"{e / rate:.3f}", f"{(e - s) / rate:.3f}", f"{sc:.1f}"]
            for i, (s, e, sc) in enumerate(zip(hits.starts, hits.ends, hits.scores))]
    if rows:
        print(_table(rows, ["#", f"start ({unit})", f"end ({unit})", f"length ({unit})", "score"]))
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise SystemExit("tenfold: error: --plot needs matplotlib (pip install matplotlib)")
        fig, ax = plt.subplots(figsize=(12, 4))
        tt = np.arange(series.shape[0]) / rate
        s2 = series.reshape(series.shape[0], -1)
        z = (s2 - s2.mean(0)) / (s2.std(0) + 1e-12)
        ax.imshow(z.T, aspect="auto", origin="lower", cmap="viridis",
                  extent=(0, tt[-1] if len(tt) else 1, 0, z.shape[1]))
        for s, e in zip(hits.starts, hits.ends):
            ax.axvspan(s / rate, e / rate, color="red", alpha=0.3)
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("feature")
        ax.set_title(f"{len(hits)} instances found by EXTRACT")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"plot written to {args.plot}")
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    from . import sprintz

    t = time.perf_counter()
    try:
        stats = sprintz.compress_file(args.src, args.dst, forecaster=args.forecaster, entropy=not args.no_entropy)
    except (ValueError, TypeError, OSError) as exc:
        print(f"tenfold compress: error: {exc}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t
    print(f"{args.src} -> {args.dst}: {stats['raw_bytes']:,} -> {stats['compressed_bytes']:,} bytes "
          f"(ratio {stats['ratio']:.2f}, {stats['raw_bytes'] / max(dt, 1e-9) / 1e6:.0f} MB/s)")
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    from . import sprintz

    t = time.perf_counter()
    try:
        shape = sprintz.decompress_file(args.src, args.dst)
    except (ValueError, OSError) as exc:
        print(f"tenfold decompress: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.src} -> {args.dst}: shape {shape} in {time.perf_counter() - t:.2f} s")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    print(f"tenfold {tenfold.__version__}")
    print(f"isa: {tenfold.isa()} (supported: {', '.join(tenfold.supported_isas())})")
    print(f"threads: {tenfold._runtime.default_threads()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tenfold", description=tenfold.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the main job on synthesised data and compare with numpy/FAISS")
    p.add_argument("--n", type=int, default=1_000_000, help="number of vectors (default 1,000,000)")
    p.add_argument("--threads", type=int, default=1, help="threads for every method (default 1)")
    p.add_argument("--stumpy", action="store_true", help="also run stumpy in the EXTRACT section (slow first call)")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("find-instances", help="find every instance of the repeated event in a WAV (or .npy) file")
    p.add_argument("recording", help="a PCM .wav file (MFCC features are used) or a .npy array (n,) or (n, d)")
    p.add_argument("--min-length", required=True, help="shortest instance: 0.3s, 300ms, or a frame count")
    p.add_argument("--max-length", required=True, help="longest instance: 0.6s, 600ms, or a frame count")
    p.add_argument("--rate", type=float, default=1.0, help="samples per second of a .npy series (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--plot", default=None, help="write a picture with the instances shaded (needs matplotlib)")
    p.set_defaults(fn=cmd_find_instances)
    p = sub.add_parser("compress", help="compress an integer .npy file with Sprintz (lossless)")
    p.add_argument("src", help="input .npy (8- to 64-bit integers or float32/float64, shape (n,) or (n, nvars))")
    p.add_argument("dst", help="output file")
    p.add_argument("--forecaster", choices=["fire", "delta"], default="fire")
    p.add_argument("--no-entropy", action="store_true", help="skip the Huffman stage (faster decoding)")
    p.set_defaults(fn=cmd_compress)
    p = sub.add_parser("decompress", help="decompress a file from `tenfold compress` to .npy")
    p.add_argument("src", help="input written by `tenfold compress`")
    p.add_argument("dst", help="output .npy")
    p.set_defaults(fn=cmd_decompress)
    p = sub.add_parser("info", help="print the SIMD path and thread count in use")
    p.set_defaults(fn=cmd_info)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
