"""match() without the event: does it find nothing? Generic (non-speech) series, seeded.

For each domain and seed, find_instances is trained (default arguments) on a series that holds
the event K times, then match() is applied to
  * a series that does NOT hold the event (hard condition: nothing found), and
  * a series that holds it again (recall: F1@IoU 0.5 against the planted instances).
Domains:
  planted 3-D     : smooth 3-D shapes, time warp +-20% and a gain of 0.5-2x per dimension, in
                    quiet noise; training: the event 3-5 times among 11 other shapes; null: 12
                    other shapes (none the event); positive: the event 4 times among 8 others.
  planted 3-D, shared : as above, but the null series reuses 6 of the training series' other
                    shapes (the outsiders the training group was compared with) and 6 new ones.
  planted 3-D, second event : the training series also holds a second event twice (its
                    runner-up group); null: the second event twice among 10 other shapes, without
                    the event (a match of the second event is a false match); positive: the event 4
                    times, the second event twice, 6 others (F1 against the event's 4 only).
  GunPoint walk   : bench_extract.planted_walk (1-D, L = 150); null: another class planted in a
                    random walk (Gun vs Point), and the walk alone.
  BasicMotions walk : the same with 6-D accelerometer + gyroscope gestures (L = 100).
  random walk     : 1-D and 6-D random walks with no event at all (training and null).

    python benchmarks/bench_extract_match_null.py [--seeds 40] [--first 0] [--out benchmarks/results]

Writes extract_match_null.{json,md} (``--tag`` to rename). Seeds 0..39 are the dev seeds (used
to choose match()'s settings); ``--first 100`` gives held-out seeds. ~1 min CPU for 40 seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_extract import planted_walk, ucr_instances

from tenfold import extract
from tenfold._bench import cpu_name
from tenfold.datasets import event_shapes, events_in_noise
from tenfold.metrics import interval_f1

GAIN = (0.5, 2.0)   # per-dimension gain of each planted 3-D event (another sensor, another voice)


def planted3d(seed: int, shared: bool):
    rng = np.random.default_rng(seed)
    pool = event_shapes(rng, 32)
    K = int(rng.integers(3, 6))
    order = [0] * K + list(range(1, 12))
    rng.shuffle(order)
    X, _ = events_in_noise(rng, pool, order, gain=GAIN)
    if shared:
        null_order = list(rng.choice(np.arange(1, 12), 6, replace=False)) + list(range(20, 26))
    else:
        null_order = list(range(20, 32))
    rng.shuffle(null_order)
    N, _ = events_in_noise(rng, pool, null_order, gain=GAIN)
    pos_order = [0] * 4 + list(range(12, 20))
    rng.shuffle(pos_order)
    P, truth = events_in_noise(rng, pool, pos_order, gain=GAIN)
    return X, (25, 60), {"null": N}, (P, truth)


def planted3d_second(seed: int):
    """Training with a second repeated event (shape 1, twice): match() must not report it."""
    rng = np.random.default_rng(50_000 + seed)
    pool = event_shapes(rng, 32)
    K = int(rng.integers(3, 6))
    order = [0] * K + [1, 1] + list(range(2, 11))
    rng.shuffle(order)
    X, _ = events_in_noise(rng, pool, order, gain=GAIN)
    null_order = [1, 1] + list(range(20, 30))
    rng.shuffle(null_order)
    N, _ = events_in_noise(rng, pool, null_order, gain=GAIN)
    pos_order = [0] * 4 + [1, 1] + list(range(12, 18))
    rng.shuffle(pos_order)
    P, truth = events_in_noise(rng, pool, pos_order, gain=GAIN)      # truth: shape 0's spans only
    return X, (25, 60), {"null": N}, (P, truth)


def walk_case(data, seed: int):
    X_all, y = data
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    c = classes[rng.integers(len(classes))]
    keep = y == c
    x, _, _, L = planted_walk(X_all[keep], y[keep], rng)
    P, truth, _, _ = planted_walk(X_all[keep], y[keep], rng)
    other = y != c
    N, _, _, _ = planted_walk(X_all[other], np.full(other.sum(), "o"), rng)   # another class
    d = X_all.shape[1]
    W = rng.normal(scale=0.05, size=(len(N), d)).cumsum(axis=0)                 # the walk alone
    sq = (lambda a: a[:, 0]) if d == 1 else (lambda a: a)
    return sq(x), (int(0.8 * L), int(1.2 * L)), {"other class": sq(N), "walk only": sq(W)}, (sq(P), truth)


def random_walk(seed: int, d: int, L: int = 100):
    rng = np.random.default_rng(seed)
    mk = lambda: rng.normal(scale=0.05, size=(int(rng.integers(15, 21)) * L, d)).cumsum(axis=0)
    sq = (lambda a: a[:, 0]) if d == 1 else (lambda a: a)
    return sq(mk()), (int(0.8 * L), int(1.2 * L)), {"null": sq(mk())}, None


def run(seeds: list[int], log) -> dict:
    gp, bm = ucr_instances("GunPoint", "test"), ucr_instances("BasicMotions", "test")
    domains = {"planted 3-D": lambda s: planted3d(s, False),
               "planted 3-D, shared distractors": lambda s: planted3d(s, True),
               "planted 3-D, second event": planted3d_second,
               "random walk 1-D": lambda s: random_walk(s, 1),
               "random walk 6-D": lambda s: random_walk(s, 6)}
    if gp is not None:
        domains["GunPoint in a walk"] = lambda s: walk_case(gp, 1000 + s)
        domains["BasicMotions (6-D) in a walk"] = lambda s: walk_case(bm, 2000 + s)
    out: dict = {}
    for name, make in domains.items():
        nulls: dict = {}
        f1, trained, methods, cpu = [], [], [], []
        for s in seeds:
            X, (lo, hi), null, pos = make(s)
            hits = extract.find_instances(X, lo, hi, random_state=0)
            methods.append(hits.method)
            trained.append(len(hits))
            for k, N in null.items():
                t0 = time.process_time()
                nulls.setdefault(k, []).append(len(hits.match(N)))
                cpu.append(time.process_time() - t0)
            if pos is not None:
                P, truth = pos
                m = hits.match(P)
                f1.append(interval_f1(list(zip(m.starts.tolist(), m.ends.tolist())), truth, 0.5))
        res = {"n": len(seeds), "seeds": seeds, "training_found_nothing": int(np.sum(np.array(trained) == 0)),
               "segment_search": int(sum(m == "segments" for m in methods)),
               "match_cpu_s_median": float(np.median(cpu)),
               "null": {k: {"nothing_found_fraction": float(np.mean(np.array(v) == 0)), "found": v}
                        for k, v in nulls.items()}}
        if f1:
            res["recall_f1_0.5"] = float(np.mean(f1))
            res["recall_f1_rows"] = [round(v, 4) for v in f1]
        out[name] = res
        nl = ", ".join(f"{k}: nothing found {r['nothing_found_fraction']:.0%}" for k, r in res["null"].items())
        log(f"{name:32s} {nl}; recall F1@.5 {res.get('recall_f1_0.5', float('nan')):.2f} "
            f"(segment search {res['segment_search']}/{len(seeds)}, training found nothing "
            f"{res['training_found_nothing']})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first", type=int, default=0, help="first seed (0: dev; 100: held out)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--tag", default="extract_match_null")
    args = ap.parse_args(argv)
    seeds = list(range(args.first, args.first + args.seeds))
    res = {"cpu": cpu_name(), "threads": 1, "seeds": seeds, "domains": run(seeds, lambda s: print(s, flush=True))}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps(res, indent=2))
    lines = [f"# match() without the event (seeds {seeds[0]}..{seeds[-1]}; {res['cpu']}, 1 thread)", "",
             "| domain | null series: nothing found | recall F1@.5 | segment search | training found nothing |",
             "|---|---|---|---|---|"]
    for name, r in res["domains"].items():
        nl = "; ".join(f"{k} {v['nothing_found_fraction']:.0%}" for k, v in r["null"].items())
        rec = f"{r['recall_f1_0.5']:.2f}" if "recall_f1_0.5" in r else "-"
        lines.append(f"| {name} | {nl} | {rec} | {r['segment_search']}/{r['n']} | {r['training_found_nothing']} |")
    lines += ["", (f"Reproduce: `.venv/bin/python benchmarks/bench_extract_match_null.py --seeds {args.seeds} "
                   f"--first {args.first}`")]
    (out / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / (args.tag + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
