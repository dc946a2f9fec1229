"""EXTRACT on a draw built like the independent evaluation of issue 14, never used for tuning.

Each recording holds K = 3..8 instances of one target word among 12-33 other words, each used
once; every word is spoken by a different voice drawn from espeak-ng's English voices and
variants (male and female), at random speed and pitch; the length range given is 0.7 x the
shortest to 1.3 x the longest instance; 13 MFCCs with c0 at a 10 ms hop; `find_instances` with
default arguments (with ``--bands``: ``group_score="speech"``, the README's route for MFCCs;
``--group-score`` chooses, and the files' names then end in ``_speech`` or ``_silhouette`` when it
is not the default). match() is trained on one recording and applied to a second recording of the
same target word (other voices, other distractors). stumpy (mstump + mmotifs) is told the true K
and the mean true length. Seeds 3xx: no tuning run of this project has seen these recordings.

    python benchmarks/bench_extract_evallike.py [--n 30] [--nulls 0] [--no-stumpy] [--bands | --contrastive]
                                                [--group-score speech|silhouette]

Writes benchmarks/results/extract_evallike.{json,md}. ``--bands``: the same 13 MFCCs passed through
audio.bands_from_mfcc (the route documented for users who already have MFCCs), the same call;
writes extract_evallike_bands.{json,md}. ``--contrastive``: through session 14's learned frame
embedding (dev_cae.gated, not adopted); writes extract_evallike_contrastive.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")           # every method single-threaded

import numpy as np

from bench_extract import IOUS, SR, WORDS, run_stumpy, speak
from tenfold import audio, extract
from tenfold._bench import cpu_name
from tenfold.metrics import interval_f1

LANGS = ("en", "en-us", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5")
VOICES = [("espeak", lang + var) for lang in LANGS for var in VARIANTS]
SEED0 = 300


def recording(rng: np.random.Generator, target: str) -> tuple[np.ndarray, list]:
    """Audio and the target's [(start frame, end frame)]: K targets among 12-33 distinct other words."""
    K = int(rng.integers(3, 9))
    others = rng.choice([w for w in WORDS if w != target], int(rng.integers(12, 34)), replace=False)
    seq = [target] * K + list(others)
    rng.shuffle(seq)
    rec = speak(rng, seq, target, lambda: VOICES[rng.integers(len(VOICES))])
    return rec.audio, rec.truth


def null_recording(rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """Audio of 15-41 distinct words (as many as a recording with a repeat holds), every word by
    another voice, and the length range a user would give for one of them (0.7 x to 1.3 x its length)."""
    seq = list(rng.choice(WORDS, int(rng.integers(15, 42)), replace=False))
    rec = speak(rng, seq, str(rng.choice(seq)), lambda: VOICES[rng.integers(len(VOICES))])
    (s, e), = rec.truth
    return rec.audio, max(2, int(np.floor(0.7 * (e - s)))), int(np.ceil(1.3 * (e - s)))


def f1s(found: extract.ExtractResult, truth: list) -> list[float]:
    pred = list(zip(found.starts.tolist(), found.ends.tolist()))
    return [interval_f1(pred, truth, t) for t in IOUS]


def _contrastive(C: np.ndarray) -> np.ndarray:
    import dev_cae
    return dev_cae.gated(C, dev_cae.weights())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30, help="recording pairs")
    ap.add_argument("--no-stumpy", action="store_true")
    ap.add_argument("--nulls", type=int, default=0,
                    help="also this many recordings without a repeated word (seeds 301): nothing found?")
    ap.add_argument("--group-score", default=None, choices=["speech", "silhouette"],
                    help="find_instances(group_score=...) (default: speech with --bands, else silhouette, the "
                         "library's default; the files' names end in _speech / _silhouette when not the default)")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--bands", action="store_true", help="13 MFCCs -> audio.bands_from_mfcc for tenfold")
    how.add_argument("--contrastive", action="store_true", help="13 MFCCs -> dev_cae.gated (session 14) for tenfold")
    args = ap.parse_args()
    default_score = "speech" if args.bands else "silhouette"
    args.group_score = args.group_score or default_score
    feats = ((lambda a: audio.bands_from_mfcc(audio.mfcc(a, SR))) if args.bands else
             (lambda a: _contrastive(audio.mfcc(a, SR))) if args.contrastive else
             (lambda a: audio.mfcc(a, SR)))
    rng = np.random.default_rng(SEED0)
    rows: dict = {"tenfold": [], "stumpy": [], "match": [], "count_err": [], "cpu10": [], "stumpy_cpu10": [], "K": []}
    for i in range(args.n):
        target = str(rng.choice(WORDS))
        (a1, t1), (a2, t2) = recording(rng, target), recording(rng, target)
        X1, X2 = feats(a1), feats(a2)
        lens = np.array([e - s for s, e in t1])
        lo, hi = max(2, int(np.floor(0.7 * lens.min()))), int(np.ceil(1.3 * lens.max()))
        c = time.process_time()
        found = extract.find_instances(X1, lo, hi, random_state=i, group_score=args.group_score)
        rows["cpu10"].append((time.process_time() - c) / (len(a1) / SR) * 10)
        rows["tenfold"].append(f1s(found, t1))
        rows["count_err"].append(len(found) - len(t1))
        rows["K"].append(len(t1))
        rows["match"].append(f1s(found.match(X2), t2)[1])
        if not args.no_stumpy:
            c = time.process_time()
            pred = run_stumpy(audio.mfcc(a1, SR), len(t1), int(round(lens.mean())))
            rows["stumpy_cpu10"].append((time.process_time() - c) / (len(a1) / SR) * 10)
            rows["stumpy"].append([interval_f1(pred, t1, t) for t in IOUS])
        print(f"{i:3d} {target:8s} K={len(t1)} found {len(found)} F1@.5 {rows['tenfold'][-1][1]:.2f} "
              f"match {rows['match'][-1]:.2f}", flush=True)
    rng = np.random.default_rng(SEED0 + 1)
    nulls = []
    for i in range(args.nulls):
        a, lo, hi = null_recording(rng)
        nulls.append(len(extract.find_instances(feats(a), lo, hi, random_state=i, group_score=args.group_score)))
    summary = {"n": args.n, "voices": len(VOICES), "cpu": cpu_name(), "group_score": args.group_score,
               "nulls_found_counts": nulls,
               "tenfold_f1": dict(zip(map(str, IOUS), np.mean(rows["tenfold"], axis=0).round(4).tolist())),
               "count_err_mean": float(np.mean(rows["count_err"])),
               "count_err_abs_mean": float(np.mean(np.abs(rows["count_err"]))),
               "cpu_s_per_10s_median": float(np.median(rows["cpu10"])),
               "match_f1_0.5": float(np.mean(rows["match"])), "rows": rows}
    if rows["stumpy"]:
        summary["stumpy_f1"] = dict(zip(map(str, IOUS), np.mean(rows["stumpy"], axis=0).round(4).tolist()))
        summary["stumpy_cpu_s_per_10s_median"] = float(np.median(rows["stumpy_cpu10"]))
    out = Path(__file__).parent / "results"
    stem = ("extract_evallike_bands" if args.bands else "extract_evallike_contrastive" if args.contrastive
            else "extract_evallike") + (f"_{args.group_score}" if args.group_score != default_score else "")
    (out / f"{stem}.json").write_text(json.dumps(summary, indent=1))
    f, s = summary["tenfold_f1"], summary.get("stumpy_f1")
    call = (f'`find_instances(X, lo, hi, group_score="{args.group_score}")`, otherwise default arguments'
            if args.group_score != "silhouette" else "`find_instances` with default arguments")
    md = ["# EXTRACT on a draw built like the independent evaluation (issue 14)\n",
          f"CPU: {summary['cpu']}, 1 thread (CPU times are this process's own). {args.n} recording pairs, seeds "
          f"{SEED0}: never used for tuning. Each recording: K = 3..8 instances of a target word among 12-33 other "
          f"words used once, every word by a different voice from {len(VOICES)} espeak-ng English voices and "
          "variants at random speed and pitch; range 0.7 x shortest to 1.3 x longest; 13 MFCCs (c0 included); "
          + ("tenfold gets them through `audio.bands_from_mfcc` (c0 dropped, "
             f"{audio.BANDS_FROM_MFCC} mel positions) and {call}."
             if args.bands else f"session 14's learned frame embedding (`dev_cae.gated`) and {call}."
             if args.contrastive else f"{call}.")
          + " match(): trained on the first recording of a pair, applied "
          "to the second (same word, other voices and distractors).\n",
          "| method | F1@.25 | F1@.5 | F1@.75 | count error (mean, mean abs) | CPU per 10 s |", "|---|---|---|---|---|---|",
          f"| tenfold | {f['0.25']:.2f} | {f['0.5']:.2f} | {f['0.75']:.2f} | {summary['count_err_mean']:+.1f}, "
          f"{summary['count_err_abs_mean']:.1f} | {summary['cpu_s_per_10s_median']:.3f} s |"]
    if s:
        md.append(f"| stumpy, told K and window | {s['0.25']:.2f} | {s['0.5']:.2f} | {s['0.75']:.2f} | (told K) | "
                  f"{summary['stumpy_cpu_s_per_10s_median']:.3f} s |")
    md.append(f"\nmatch() on the second recording: F1@.5 = {summary['match_f1_0.5']:.2f} "
              "(issue 14 targets: 0.75 for both find_instances and match())")
    if nulls:
        md.append(f"\nRecordings without a repeated word ({len(nulls)}: 15-41 distinct words, every word by another "
                  "voice, the range 0.7-1.3 x one word's length; seeds 301): nothing found in "
                  f"{np.mean(np.array(nulls) == 0):.0%} (issue 14 target: 90%)")
    K, f5 = np.array(rows["K"]), np.array(rows["tenfold"])[:, 1]
    md.append("\ntenfold F1@.5 by the number of instances K (recordings): " + ", ".join(
        f"K = {k}: {f5[K == k].mean():.2f} ({int((K == k).sum())})" for k in np.unique(K)))
    (out / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
