"""A learned speaker-invariant linear map for the speech recipe (issue 14, session 12): dev voices only.

Idea: two voices saying one word differ along a few directions of the per-frame log-mel vector
(formant shifts, spectral tilt, nasality ...); other words differ along others. Learn, offline, a
linear map that shrinks the difference between DTW-aligned frames of one word said by two
voices while keeping the spread of frames in general (LDA-like):

  Sw = E[(x - y)(x - y)^T] / 2 over aligned frame pairs (x, y) of one word by two dev voices,
  St = covariance of all frames (each word's own mean removed first: the segment search removes
       each segment's mean, so a voice's static tilt is already gone there),
  generalised eigenvectors V of St v = lambda (Sw_shrunk) v, Sw_shrunk = (1 - g) Sw + g tr(Sw)/d I,
  sorted by lambda (large: spread between words, small: voice).

Front ends built from it (registered in dev_speech_front.FRONT_ENDS when the matrices exist):
  proj{k}[_s]       X @ V[:, :k]                (k projected dims; _s: with the band-axis stretch,
                                                 which then acts on a meaningless axis)
  back{k}           X @ V[:, :k] @ inv(V)[:k]   (the oblique projector that zeros the voice
                                                 coefficients and keeps 28 band-ordered dims, so
                                                 the stretch still acts on bands)
  cb{k}, cbp{k}     the same learned on the 12 cepstra c1..c12 of 13 MFCCs and then mapped onto
                    24 mel positions as audio.bands_from_mfcc does (cb: back-projection on bands,
                    stretch kept; cbp: k projected cepstral dims, no stretch)

Learning data: words of bench_extract.WORDS said by two different voices of the dev pool
(bench_extract.DEV_SPEAKERS + dev_extract_groups.WIDE_EXTRA; never HELDOUT_SPEAKERS) at random
speed and pitch, with the recordings' light noise; seed 9100 (no other script uses seeds 91xx).
`--espeak-only` learns on the pool's espeak-ng voices alone (the check that flite voices, never
seen, gain as well). `--check` measures, on seed 9150, AUC (a same-word segment by another voice
nearer than another word) and the true word group's score, split by the engines of the pair.

`--sweep` runs find_instances once per recording with no group-score bar and reads F1 and nothing
found at every bar (two dev draws: "lite" seeds 98xx, "pipe" seeds 94xx); `--pool` averages the
draws and reads each front end at equal nothing found.

    python benchmarks/dev_speaker_proj.py --learn [--pairs 1500] [--espeak-only]   # writes the .npz
    python benchmarks/dev_speaker_proj.py --check logmel28,back8,cb4,back8_e       # engine split
    python benchmarks/dev_speaker_proj.py --sweep logmel28,back8 --sweep-draw pipe > pipe.txt
    python benchmarks/dev_speaker_proj.py --pool lite.txt,pipe.txt
The yardstick uses dev_speech_front.py with the names above, e.g.
    python benchmarks/dev_speech_front.py --only logmel28,back8,proj8

Result (benchmarks/notes/extract.md, issue 14 session 12): at equal nothing found no map beats the
speech recipe (log mel route within -0.03..+0.01 F1, cepstral route 0.07-0.16 worse); nothing shipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G

from tenfold import audio, segments

SR = B.SR
POOL = B.DEV_SPEAKERS + G.WIDE_EXTRA
LEARN_SEED = 9100
CHECK_SEED = 9150
NOISE = 0.003            # bench_extract.speak's light noise
OUT = Path(__file__).parent / "results" / "speech_front"
SHRINK = (0.0, 0.1, 0.3)


def word(rng, w: str, spk: tuple) -> np.ndarray:
    a = B.say(w, spk, float(rng.choice(B.SPEEDS)), int(rng.choice(B.PITCHES)))
    pad = np.zeros(int(0.05 * SR))
    x = np.concatenate([pad, a, pad])
    return x + rng.normal(scale=NOISE, size=len(x))


def logmel28(a: np.ndarray) -> np.ndarray:
    return audio.speech_features(a, SR)


def ceps12(a: np.ndarray) -> np.ndarray:
    return audio.mfcc(a, SR)[:, 1:]


def dtw_path(A: np.ndarray, Bm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame pairs of the least-cost monotone alignment (squared Euclidean, steps (1,1), (1,0), (0,1))."""
    C = ((A[:, None, :] - Bm[None, :, :]) ** 2).sum(-1)
    n, m = C.shape
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        row, prev, c = D[i], D[i - 1], C[i - 1]
        best = np.minimum(prev[:-1], prev[1:])            # diagonal or from above, vectorised
        for j in range(1, m + 1):
            row[j] = c[j - 1] + min(row[j - 1], best[j - 1])
    i, j, pi, pj = n, m, [], []
    while i > 0 and j > 0:
        pi.append(i - 1)
        pj.append(j - 1)
        k = int(np.argmin((D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])))
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
    return np.array(pi[::-1]), np.array(pj[::-1])


def scatter(pool, n_pairs: int, feats) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(St, Sw, Sn, frames) from n_pairs (word w, voice A, voice B, word w') draws, each word's mean
    removed: Sw from w by A aligned with w by B, Sn from w by A aligned with w' by A (another word
    by the same voice: the near outsiders of an all-distinct-word recording of one voice)."""
    rng = np.random.default_rng(LEARN_SEED)
    frames, diffs, negs = [], [], []
    for _ in range(n_pairs):
        w = str(rng.choice(B.WORDS))
        ia, ib = rng.choice(len(pool), 2, replace=False)
        X = feats(word(rng, w, pool[ia]))
        Y = feats(word(rng, w, pool[ib]))
        X = X - X.mean(0)
        Y = Y - Y.mean(0)
        i, j = dtw_path(X, Y)
        diffs.append(X[i] - Y[j])
        frames += [X, Y]
    rng = np.random.default_rng(LEARN_SEED + 1)
    for _ in range(n_pairs):
        w, w2 = (str(v) for v in rng.choice(B.WORDS, 2, replace=False))
        spk = pool[rng.integers(len(pool))]
        X = feats(word(rng, w, spk))
        Y = feats(word(rng, w2, spk))
        X = X - X.mean(0)
        Y = Y - Y.mean(0)
        i, j = dtw_path(X, Y)
        negs.append(X[i] - Y[j])
    F = np.vstack(frames)
    Dd = np.vstack(diffs)
    Dn = np.vstack(negs)
    return F.T @ F / len(F), Dd.T @ Dd / (2 * len(Dd)), Dn.T @ Dn / (2 * len(Dn)), len(F)


def solve(St: np.ndarray, Sw: np.ndarray, shrink: float, null: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generalised eigenvectors (columns, largest lambda first) and lambdas, within the complement of null."""
    from scipy.linalg import eigh
    d = len(St)
    Q = np.eye(d)
    if null is not None:          # work in the orthonormal complement of the null direction(s)
        Q = np.linalg.qr(np.column_stack([null, np.eye(d)[:, :d - null.shape[1]]]))[0][:, null.shape[1]:]
    St_, Sw_ = Q.T @ St @ Q, Q.T @ Sw @ Q
    Sw_ = (1 - shrink) * Sw_ + shrink * np.trace(Sw_) / len(Sw_) * np.eye(len(Sw_)) + 1e-9 * np.trace(Sw_) * np.eye(len(Sw_))
    lam, V = eigh(St_, Sw_)
    order = np.argsort(lam)[::-1]
    return Q @ V[:, order], lam[order]


def learn(n_pairs: int, espeak_only: bool) -> None:
    pool = [s for s in POOL if s[0] == "espeak"] if espeak_only else POOL
    assert not set(pool) & set(B.HELDOUT_SPEAKERS)
    t0 = time.time()
    out: dict = {"pool": np.array([f"{e}:{v}" for e, v in pool]), "pairs": n_pairs, "seed": LEARN_SEED}
    for name, feats, null in (("lm", logmel28, np.ones((audio.SPEECH_MEL_BANDS, 1)) / np.sqrt(audio.SPEECH_MEL_BANDS)),
                              ("cep", ceps12, None)):
        St, Sw, Sn, nf = scatter(pool, n_pairs, feats)
        out[f"{name}_St"], out[f"{name}_Sw"], out[f"{name}_Sn"] = St, Sw, Sn
        for g in SHRINK:
            V, lam = solve(St, Sw, g, null)
            out[f"{name}_V_{g:g}"], out[f"{name}_lam_{g:g}"] = V, lam
            V, lam = solve(Sn, Sw, g, null)      # against another word by the same voice
            out[f"{name}n_V_{g:g}"], out[f"{name}n_lam_{g:g}"] = V, lam
        print(f"{name}: lambdas Sn/Sw (shrink 0) {np.round(out[f'{name}n_lam_0'], 2)}", flush=True)
        print(f"{name}: {nf} frames, lambdas (shrink 0) {np.round(out[f'{name}_lam_0'], 2)}", flush=True)
    tag = "speaker_proj_espeak" if espeak_only else "speaker_proj"
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(OUT / f"{tag}.npz", **out)
    print(f"wrote {OUT / (tag + '.npz')} ({time.time() - t0:.0f} s)")


# ----------------------------------------------------------------------------- front ends
def load(tag: str = "speaker_proj") -> dict | None:
    p = OUT / f"{tag}.npz"
    return dict(np.load(p)) if p.exists() else None


def back_matrix(V: np.ndarray, k: int) -> np.ndarray:
    """(d, d): coefficients on V, the voice ones (beyond k) zeroed, mapped back: V_k inv(V)_k (rows act on x)."""
    d = len(V)
    if V.shape[1] < d:               # the null direction: append it (its coefficient is zeroed too)
        u = np.linalg.svd(V, full_matrices=True)[0][:, V.shape[1]:]
        V = np.column_stack([V, u])
    Vi = np.linalg.inv(V)
    return V[:, :k] @ Vi[:k]


def soft_matrix(V: np.ndarray, lam: np.ndarray, power: float, floor: float = 0.0) -> np.ndarray:
    """(d, d): each coefficient on V scaled by the share of its spread that two voices share,
    max(0, 1 - 1/lambda) ** power (a Wiener-like gain; lambda = St/Sw along it), at least floor
    (relative to the largest gain: the voice directions are shrunk, not dropped), mapped back."""
    d = len(V)
    gain = np.maximum(0.0, 1.0 - 1.0 / np.maximum(lam, 1e-12)) ** power
    gain = np.maximum(gain, floor * gain.max())
    if V.shape[1] < d:
        u = np.linalg.svd(V, full_matrices=True)[0][:, V.shape[1]:]
        V = np.column_stack([V, u])
        gain = np.concatenate([gain, np.zeros(d - len(gain))])
    return V @ (gain[:, None] * np.linalg.inv(V))


def front_ends(M: dict, suffix: str = "") -> tuple[dict, set]:
    """{name: fn(a, sr)} and the names to run without the band-axis stretch."""
    fes: dict = {}
    nowarp: set = set()
    basis = audio._dct_rows(13, audio.BANDS_FROM_MFCC)[1:]      # c1..c12 -> 24 mel positions
    for g in SHRINK:
        gs = "" if g == 0.1 else f"g{g:g}"
        if "lmn_V_0" in M:        # against another word by the same voice
            for k in (3, 4, 6, 8, 12):
                Mb = back_matrix(M[f"lmn_V_{g:g}"], k)
                fes[f"backn{k}{gs}{suffix}"] = lambda a, sr, Mb=Mb: audio.speech_features(a, sr) @ Mb
                Mc = back_matrix(M[f"cepn_V_{g:g}"], k)
                fes[f"cbn{k}{gs}{suffix}"] = lambda a, sr, Mc=Mc: audio.mfcc(a, sr)[:, 1:] @ Mc @ basis
            for pw in (0.5, 1.0):
                Ms = soft_matrix(M[f"lmn_V_{g:g}"], M[f"lmn_lam_{g:g}"], pw)
                fes[f"softn{pw:g}{gs}{suffix}"] = lambda a, sr, Ms=Ms: audio.speech_features(a, sr) @ Ms
        V = M[f"lm_V_{g:g}"]
        for k in (3, 4, 5, 6, 8, 12, 16, 20, 24):
            Pk = V[:, :k].copy()
            fes[f"proj{k}{gs}{suffix}"] = lambda a, sr, P=Pk: audio.speech_features(a, sr) @ P
            nowarp.add(f"proj{k}{gs}{suffix}")
            fes[f"proj{k}{gs}_s{suffix}"] = lambda a, sr, P=Pk: audio.speech_features(a, sr) @ P
            Mb = back_matrix(V, k)
            fes[f"back{k}{gs}{suffix}"] = lambda a, sr, Mb=Mb: audio.speech_features(a, sr) @ Mb
        for pw in (0.5, 1.0, 2.0):
            Ms = soft_matrix(V, M[f"lm_lam_{g:g}"], pw)
            fes[f"soft{pw:g}{gs}{suffix}"] = lambda a, sr, Ms=Ms: audio.speech_features(a, sr) @ Ms
            Mcs = soft_matrix(M[f"cep_V_{g:g}"], M[f"cep_lam_{g:g}"], pw)
            fes[f"cbsoft{pw:g}{gs}{suffix}"] = lambda a, sr, Mcs=Mcs: audio.mfcc(a, sr)[:, 1:] @ Mcs @ basis
        for fl in (0.3, 0.6):
            Mf = soft_matrix(V, M[f"lm_lam_{g:g}"], 1.0, fl)
            fes[f"softf{fl:g}{gs}{suffix}"] = lambda a, sr, Mf=Mf: audio.speech_features(a, sr) @ Mf
        Vc = M[f"cep_V_{g:g}"]
        for k in (3, 4, 5, 6, 8, 10):
            Mc = back_matrix(Vc, k)
            fes[f"cb{k}{gs}{suffix}"] = lambda a, sr, Mc=Mc: audio.mfcc(a, sr)[:, 1:] @ Mc @ basis
            Pc = Vc[:, :k].copy()
            fes[f"cbp{k}{gs}{suffix}"] = lambda a, sr, Pc=Pc: audio.mfcc(a, sr)[:, 1:] @ Pc
            nowarp.add(f"cbp{k}{gs}{suffix}")
    return fes, nowarp


def register(FRONT_ENDS: dict) -> set:
    """Add the learned front ends to dev_speech_front's table (when learned); the no-stretch names."""
    nowarp: set = set()
    for tag, suffix in (("speaker_proj", ""), ("speaker_proj_espeak", "_e")):
        M = load(tag)
        if M is not None:
            f, nw = front_ends(M, suffix)
            FRONT_ENDS.update(f)
            nowarp |= nw
    return nowarp


# ----------------------------------------------------------------------------- engine split check
def check(names: list, n_sets: int) -> None:
    """Sets of 8 words x 3 voices (2 espeak-ng, 1 flite: dev pool), seed 9150: AUC of same-word
    segments against other words, by the engines of the pair, and the word group's score."""
    import dev_speech_front as F
    nowarp = F.NO_WARP
    esp = [s for s in POOL if s[0] == "espeak"]
    fl = [s for s in POOL if s[0] == "flite"]
    rng = np.random.default_rng(CHECK_SEED)
    sets = []
    for _ in range(n_sets):
        ws = rng.choice(B.WORDS, 8, replace=False)
        segs = []
        for w in ws:
            for spk in (esp[rng.integers(len(esp))], esp[rng.integers(len(esp))], fl[rng.integers(len(fl))]):
                segs.append((str(w), spk[0], word(rng, str(w), spk)))
        sets.append(segs)
    print(f"{n_sets} sets of 8 words x (2 espeak-ng + 1 flite voices), dev pool, seed {CHECK_SEED}")
    print("| front end | AUC espeak-espeak | AUC espeak-flite | 1-NN espeak-anchored | 1-NN flite-anchored | word group score (median) |")
    print("|---|---|---|---|---|---|")
    kept = segments.FEATURE_WARPS
    for n in names:
        auc: dict = {"ee": [], "ef": []}
        nn: dict = {"espeak": [], "flite": []}
        score = []
        segments.FEATURE_WARPS = () if n in nowarp else kept
        try:
            for segs in sets:
                Xs = [np.asarray(F.FRONT_ENDS[n](a, SR), np.float64) for _, _, a in segs]
                lens = np.array([len(x) for x in Xs])
                e = np.cumsum(lens)
                s = e - lens
                D = segments.warped_distances(np.vstack(Xs), s, e)
                wl = np.array([w for w, _, _ in segs])
                en = [eng for _, eng, _ in segs]
                for i in range(len(segs)):
                    neg = D[i, wl != wl[i]]
                    same = np.flatnonzero((wl == wl[i]) & (np.arange(len(segs)) != i))
                    for j in same:
                        key = "ee" if en[i] == en[j] == "espeak" else "ef" if en[i] != en[j] else None
                        if key:
                            auc[key].append(float(((D[i, j] < neg) + 0.5 * (D[i, j] == neg)).mean()))
                    d = D[i].copy()
                    d[i] = np.inf
                    nn[en[i]].append(float(wl[int(np.argmin(d))] == wl[i]))
                for w in np.unique(wl):
                    score.append(segments._group_score(D, D, np.flatnonzero(wl == w)))
        finally:
            segments.FEATURE_WARPS = kept
        print(f"| {n} | {np.mean(auc['ee']):.3f} | {np.mean(auc['ef']):.3f} | {np.mean(nn['espeak']):.3f} | "
              f"{np.mean(nn['flite']):.3f} | {np.median(score):.2f} |", flush=True)


# ----------------------------------------------------------------------------- bar sweep
def sweep(names: list, n_pos: int, n_null: int, bars: np.ndarray, draw: str = "lite") -> None:
    """find_instances once per recording with no group-score bar; a result found by the segment
    search counts at bar b only when its significance >= b (what find_instances(min_group_score=b)
    returns: the segment route does not depend on the bar otherwise). Draw "lite": dev_speech_front
    --lite's recordings (seeds 9800-9803, 9850; the first 20 per condition and 60 nulls are the
    same); "pipe": seeds 9400-9403 and 9450 (a fresh dev draw: the confirmation, no choosing on it).
    Prints F1@.5 per condition and nothing found on one-voice / voice-per-word nulls per bar."""
    import dev_speech_front as F

    from tenfold import extract
    from tenfold.metrics import interval_f1
    base = {"lite": 9800, "pipe": 9400}[draw]
    conds = (("one_few", False, False), ("one_many", False, True), ("vpw_few", True, False), ("vpw_many", True, True))

    def recs():
        for ci, (cond, vpw, many) in enumerate(conds):
            rng = np.random.default_rng(base + ci)
            for _ in range(n_pos):
                rec = B.make_recording(rng, POOL, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
                yield cond, rec.audio, rec.truth, B.ranges(rec.truth)["0.7/1.3"]
        rng = np.random.default_rng(base + 50)
        for i in range(n_null):
            vpw = bool(i % 2)
            rec = B.make_recording(rng, POOL, 0, voice_per_word=vpw, many=True, distinct_only=True)
            hi = int(rng.integers(40, 90))
            yield ("null_vpw" if vpw else "null_one"), rec.audio, [], (int(0.7 * hi / 1.3), hi)

    res: dict = {n: [] for n in names}        # (cond, segment route, significance, F1 or found-nothing)
    kept = segments.FEATURE_WARPS
    t0 = time.time()
    try:
        for cond, x, truth, (lo, hi) in recs():
            for n in names:
                segments.FEATURE_WARPS = () if n in F.NO_WARP else kept
                X = np.asarray(F.FRONT_ENDS[n](x, SR), np.float64)
                h = extract.find_instances(X, lo, hi, random_state=0, min_significance=extract.MIN_SIGNIFICANCE,
                                           min_group_score=-np.inf)
                pred = list(zip(h.starts.tolist(), h.ends.tolist()))
                v = float(len(pred) == 0) if cond.startswith("null") else interval_f1(pred, truth, 0.5)
                res[n].append((cond, h.method == "segments", float(h.significance), v))
    finally:
        segments.FEATURE_WARPS = kept
    cn = [c for c, _, _ in conds] + ["null_one", "null_vpw"]
    print(f"bar sweep, draw {draw} (dev pool), {n_pos} per condition, {n_null} nulls, {time.time() - t0:.0f} s")
    print("| front end | bar | " + " | ".join(cn) + " | vpw mean |")
    print("|---|---|" + "---|" * (len(cn) + 1))
    for n in names:
        for b in bars:
            row = {}
            for c in cn:
                vals = []
                for cond, seg, sig, v in res[n]:
                    if cond != c:
                        continue
                    passed = (not seg) or sig >= b
                    vals.append(v if passed else (1.0 if c.startswith("null") else 0.0))
                row[c] = np.mean(vals)
            print(f"| {n} | {b:.2f} | " + " | ".join(f"{row[c]:.2f}" for c in cn)
                  + f" | {(row['vpw_few'] + row['vpw_many']) / 2:.3f} |", flush=True)


def pool_sweeps(paths: list) -> None:
    """Average --sweep tables (same n per condition) over draws, row by row (front end, bar); with
    each front end's F1 at the lowest bar whose nothing-found share over all nulls (one voice and
    voice per word together) is at least logmel28's at the kept bar 1.1 (equal nothing found)."""
    rows: dict = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 9 and cells[1].replace(".", "").isdigit():
                rows.setdefault((cells[0], float(cells[1])), []).append([float(c) for c in cells[2:]])
    keys = [k for k in rows if len(rows[k]) == len(paths)]
    mean = {k: np.mean(rows[k], axis=0) for k in keys}
    print(f"pooled over {len(paths)} draws: one few, one many, vpw few, vpw many, null one, null vpw, vpw mean")
    print("| front end | bar | one_few | one_many | vpw_few | vpw_many | null_one | null_vpw | vpw mean |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        print(f"| {k[0]} | {k[1]:.2f} | " + " | ".join(f"{v:.3f}" for v in mean[k]) + " |")
    ref = mean.get(("logmel28", 1.1))
    if ref is None:
        return
    both = (ref[4] + ref[5]) / 2
    print(f"\nat equal nothing found (all nulls >= {both:.3f}: logmel28 at 1.1):")
    for fe in dict.fromkeys(k[0] for k in keys):
        ok = [k for k in keys if k[0] == fe and (mean[k][4] + mean[k][5]) / 2 >= both - 1e-9]
        if ok:
            k = min(ok, key=lambda k: k[1])
            print(f"- {fe}: bar {k[1]:.2f}, vpw few / many {mean[k][2]:.3f} / {mean[k][3]:.3f}, "
                  f"one few / many {mean[k][0]:.3f} / {mean[k][1]:.3f}, nulls {mean[k][4]:.3f} / {mean[k][5]:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learn", action="store_true")
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--espeak-only", action="store_true")
    ap.add_argument("--check", default="", help="comma-separated front ends for the engine-split check")
    ap.add_argument("--check-sets", type=int, default=30)
    ap.add_argument("--sweep", default="", help="comma-separated front ends: find_instances over group-score bars")
    ap.add_argument("--sweep-draw", default="lite", choices=("lite", "pipe"))
    ap.add_argument("--sweep-pos", type=int, default=40)
    ap.add_argument("--sweep-nulls", type=int, default=120)
    ap.add_argument("--bars", default="1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.8")
    ap.add_argument("--pool", default="", help="comma-separated --sweep outputs to average (same front ends and bars)")
    args = ap.parse_args(argv)
    if args.pool:
        pool_sweeps(args.pool.split(","))
    if args.learn:
        learn(args.pairs, args.espeak_only)
    if args.sweep:
        sweep(args.sweep.split(","), args.sweep_pos, args.sweep_nulls, np.array([float(b) for b in args.bars.split(",")]),
              args.sweep_draw)
    if args.check:
        check(args.check.split(","), args.check_sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
