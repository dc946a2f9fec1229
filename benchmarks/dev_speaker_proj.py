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

    python benchmarks/dev_speaker_proj.py --learn [--pairs 1500] [--espeak-only]   # writes the .npz
    python benchmarks/dev_speaker_proj.py --check                                  # engine split
The yardstick and find_instances runs use dev_speech_front.py with the names above, e.g.
    python benchmarks/dev_speech_front.py --only logmel28,back16,proj12 --lite
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
import bench_extract as B  # noqa: E402
import dev_extract_groups as G  # noqa: E402

from tenfold import audio, segments  # noqa: E402

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
            v = best[j - 1] if best[j - 1] < row[j - 1] else row[j - 1]
            row[j] = c[j - 1] + v
    i, j, pi, pj = n, m, [], []
    while i > 0 and j > 0:
        pi.append(i - 1)
        pj.append(j - 1)
        k = int(np.argmin((D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])))
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
    return np.array(pi[::-1]), np.array(pj[::-1])


def scatter(pool, n_pairs: int, feats) -> tuple[np.ndarray, np.ndarray, int]:
    """(St, Sw, frames) from n_pairs (word, voice A, voice B) draws, each word's mean removed."""
    rng = np.random.default_rng(LEARN_SEED)
    frames, diffs = [], []
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
    F = np.vstack(frames)
    Dd = np.vstack(diffs)
    return F.T @ F / len(F), Dd.T @ Dd / (2 * len(Dd)), len(F)


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
        St, Sw, nf = scatter(pool, n_pairs, feats)
        out[f"{name}_St"], out[f"{name}_Sw"] = St, Sw
        for g in SHRINK:
            V, lam = solve(St, Sw, g, null)
            out[f"{name}_V_{g:g}"], out[f"{name}_lam_{g:g}"] = V, lam
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


def soft_matrix(V: np.ndarray, lam: np.ndarray, power: float) -> np.ndarray:
    """(d, d): each coefficient on V scaled by the share of its spread that two voices share,
    max(0, 1 - 1/lambda) ** power (a Wiener-like gain; lambda = St/Sw along it), mapped back."""
    d = len(V)
    gain = np.maximum(0.0, 1.0 - 1.0 / np.maximum(lam, 1e-12)) ** power
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learn", action="store_true")
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--espeak-only", action="store_true")
    ap.add_argument("--check", default="", help="comma-separated front ends for the engine-split check")
    ap.add_argument("--check-sets", type=int, default=30)
    args = ap.parse_args(argv)
    if args.learn:
        learn(args.pairs, args.espeak_only)
    if args.check:
        check(args.check.split(","), args.check_sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
