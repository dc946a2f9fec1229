"""The eval_bands recipe on MFCCs computed elsewhere (issue 14, session 14, helper foreign): dev draws only.

Every figure of issue 14 was measured with tenfold's own `audio.mfcc` (40 mels, natural log,
25 ms Hamming frames, orthonormal DCT, no lifter). The independent evaluation computes its own
13 MFCCs (c0 included, 10 ms hop); users' MFCCs usually come from one of these, called with
their DEFAULT conventions and only the 10 ms hop and 13 coefficients set:

  librosa      librosa.feature.mfcc(y=, sr=, n_mfcc=13, hop_length=160): 128 mels, power
               spectrogram, power_to_db (10 log10, top_db=80 clipping), orthonormal DCT, n_fft
               2048 (128 ms at 16 kHz), centred frames;
  librosa25    the same with n_fft=400 (25 ms frames, what a speech user often sets);
  librosa25m40 the same with n_fft=400 and n_mels=40 (our mel count); ...nc: and top_db=None (no clipping);
  psf          python_speech_features.mfcc(signal, samplerate): 26 filters, nfft 512, pre-emphasis
               0.97, cepstral lifter 22 (c_k scaled by 1 + 11 sin(pi k / 22): up to 12x at k = 11),
               c0 replaced by the log frame energy;
  kaldilike    Kaldi's (and torchaudio.compliance.kaldi's) main differences on OUR filterbank: 23 mel
               bins and lifter 22 (torchaudio is not installed here; no povey window, dither or
               Kaldi mel formula: a stand-in for the lifter on 23 bins, not Kaldi itself).

Front ends registered in dev_extract_groups.FRONTS (the yardstick's --front):
  bands                    ours: audio.bands_from_mfcc(audio.mfcc(a))  (dev_extract_groups' own)
  bands_ours               ours with lifter=0 (main's bands_from_mfcc before this session)
  bands_librosa, bands_librosa25, bands_psf   audio.bands_from_mfcc(foreign 13 MFCCs)
  mfcc_librosa, mfcc_psf   the foreign 13 MFCCs as they are (the eval recipe)
  <front>_std              bands from cepstra with c1..c12 each divided by its spread over the
                           series (the normalisation candidate: it undoes any per-coefficient scale,
                           a lifter included); e.g. bands_std, bands_psf_std
  <front>_ref              as _std, then multiplied by REF_PROFILE (the spread profile of our own
                           MFCCs on dev speech), so that our MFCCs keep their weights
  <front>_unlift, _auto    audio.bands_from_mfcc(..., lifter=22) / (..., lifter="auto"): the lifter
                           22 undone always / where audio.looks_liftered (src, adopted); every other
                           front calls bands_from_mfcc(..., lifter=0), main's behaviour before
  bands (dev_extract_groups' own) uses the src default, lifter="auto"

    python benchmarks/dev_foreign_mfcc.py groups --front bands_psf [--extra-nulls 80]
    python benchmarks/dev_foreign_mfcc.py match --front bands_psf
    python benchmarks/dev_foreign_mfcc.py profile
    python benchmarks/dev_foreign_mfcc.py spread                # looks_liftered's statistic per convention
    python benchmarks/dev_foreign_mfcc.py nothing --front bands_psf_auto
    python benchmarks/dev_foreign_mfcc.py heldout --front bands_psf_auto [--n 40]     # held out: run ONCE
    python benchmarks/dev_foreign_mfcc.py evallike --front bands_psf_auto --n 30      # eval-like: run ONCE
    python benchmarks/dev_foreign_mfcc.py evallike --front bands_psf_auto --n 100 --group-score speech   # session 17

Needs librosa and python_speech_features (`pip install librosa python_speech_features`; not in
the Makefile's bench deps: no `make bench` target runs this dev script).

groups: dev_extract_groups' tables for the front at main's default bar (variant adapt_nn_-2.5 at
bar 2.925 = segments.group_bar, what find_instances uses with min_group_score=None), the fixed
bar 1.1 (kept), both at equal nulls; then the true-boundary pairwise check on the vpw_many
recordings (AUC of same-word pairs against same-word-to-other pairs of D, 1-NN share) and CPU of
the features per 10 s. Cache: benchmarks/.cache/foreign/<front>_x<extra>.pkl; results:
benchmarks/results/foreign/groups_<front>.txt.
match: bench_extract.py --match-only --sets dev --n 20 --recipe eval_bands with the front's
features in place of eval_bands'; results benchmarks/results/foreign/match_<front>.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G
from _common import tee_output

from tenfold import audio, extract

ROOT = Path(__file__).parent
Case = G.Case        # caches written by dev_extract_groups.py run as a script pickle its Case as __main__.Case
HOP = round(B.SR * B.HOP_S)          # 160 samples: the 10 ms hop the evaluation uses
N_MFCC = 13


def librosa_mfcc(a: np.ndarray, n_fft: int | None = None, **kw) -> np.ndarray:
    """(frames, 13) librosa MFCCs at its defaults (n_fft 2048 unless given; other keywords passed on), 10 ms hop."""
    import librosa
    kw = kw | ({} if n_fft is None else {"n_fft": n_fft})
    if "top_db" in kw:        # mfcc() does not pass top_db on: its own steps, power_to_db given top_db
        top_db = kw.pop("top_db")
        S = librosa.feature.melspectrogram(y=np.asarray(a, np.float32), sr=B.SR, hop_length=HOP, **kw)
        return librosa.feature.mfcc(S=librosa.power_to_db(S, top_db=top_db), n_mfcc=N_MFCC).T.astype(np.float64)
    return librosa.feature.mfcc(y=np.asarray(a, np.float32), sr=B.SR, n_mfcc=N_MFCC, hop_length=HOP, **kw).T \
        .astype(np.float64)


def psf_mfcc(a: np.ndarray) -> np.ndarray:
    """(frames, 13) python_speech_features MFCCs at its defaults (lifter 22, c0 = log energy)."""
    import python_speech_features as psf
    return np.asarray(psf.mfcc(np.asarray(a, np.float64), samplerate=B.SR), np.float64)




def kaldilike_mfcc(a: np.ndarray) -> np.ndarray:
    """(frames, 13) Kaldi's main conventions on our filterbank (not a reimplementation of Kaldi):
    23 mel bins, orthonormal DCT, lifter 22 (c_k times 1 + 11 sin(pi k / 22)); c0 kept as the DCT gives it."""
    C = audio.mfcc(a, B.SR, n_mels=23)
    return C * audio.lifter_factors(audio.STANDARD_LIFTER, C.shape[1])


CEPSTRA = {"": lambda a: audio.mfcc(a, B.SR), "_ours": lambda a: audio.mfcc(a, B.SR), "_librosa": librosa_mfcc,
           "_librosa25": lambda a: librosa_mfcc(a, n_fft=400), "_psf": psf_mfcc,
           "_librosa25m40": lambda a: librosa_mfcc(a, n_fft=400, n_mels=40),
           "_librosa25m40nc": lambda a: librosa_mfcc(a, n_fft=400, n_mels=40, top_db=None), "_kaldilike": kaldilike_mfcc}

# Spread (std over frames) of c1..c12 of audio.mfcc on dev speech, relative to c1: what `profile`
# prints (median over 20 voice-per-word recordings of the dev pool). Used only by the _ref candidate.
REF_PROFILE = np.array([1.000, 0.414, 0.516, 0.404, 0.350, 0.335, 0.309, 0.250, 0.215, 0.179, 0.185, 0.192])


def normalised(C: np.ndarray, how: str) -> np.ndarray:
    """c1.. divided by their spread over the series (std); ref: then times REF_PROFILE."""
    C = np.array(C, np.float64)
    sd = C[:, 1:].std(axis=0)
    C[:, 1:] /= np.where(sd > 0, sd, 1.0)
    if how == "ref":
        C[:, 1:] *= REF_PROFILE
    return C


def _front(name: str):
    """The feature function of a front name (see the module docstring)."""
    norm = ""
    for suf in ("_std", "_ref", "_unlift", "_auto"):
        if name.endswith(suf):
            name, norm = name[:-len(suf)], suf[1:]
    kind, _, conv = name.partition("_")
    cep = CEPSTRA["_" + conv if conv else ""]

    # main before this session had no lifter argument: lifter=0 is its behaviour; _unlift and _auto
    # are audio.bands_from_mfcc's lifter=22 and lifter="auto" (src, this session)
    lifter = {"unlift": audio.STANDARD_LIFTER, "auto": "auto"}.get(norm, 0.0)

    def f(a):
        C = cep(a)
        if norm in ("std", "ref"):
            C = normalised(C, norm)
        return audio.bands_from_mfcc(C, lifter=lifter) if kind == "bands" else C
    return f


FOREIGN = ["bands_ours", "bands_librosa25m40", "bands_librosa25m40nc", "bands_librosa", "bands_librosa25", "bands_psf", "bands_kaldilike", "mfcc_librosa", "mfcc_psf"]
for _n in FOREIGN + [f"{b}_{s}" for b in ("bands", "bands_librosa", "bands_librosa25", "bands_psf", "bands_kaldilike")
                     for s in ("std", "ref", "unlift", "auto")]:
    G.FRONTS[_n] = _front(_n)


def profile(n: int = 20) -> np.ndarray:
    """Median over bdev recordings of the std of c1..c12 relative to c1, per convention."""
    out = {}
    for conv, cep in ((c, f) for c, f in CEPSTRA.items() if c != "_ours"):
        prof, cpu, secs = [], 0.0, 0.0
        rng = np.random.default_rng(100 + 3)
        for _ in range(n):
            rec = B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(3, 9)), voice_per_word=True, many=True)
            t0 = time.process_time()
            C = cep(rec.audio)
            cpu += time.process_time() - t0
            secs += len(rec.audio) / B.SR
            sd = C[:, 1:].std(axis=0)
            prof.append(sd / sd[0])
        out[conv or "_ours"] = np.median(prof, axis=0)
        print(f"{conv or '_ours':11s} std(c_k)/std(c1), k=1..12: " + " ".join(f"{x:.3f}" for x in out[conv or '_ours'])
              + f" | CPU per 10 s {10 * cpu / secs:.4f} s")
    return out["_ours"]


def spread(n: int = 40) -> None:
    """audio.looks_liftered's statistic, median std(c5..c8) / std(c1), per convention on n dev-pool
    recordings (seed 555: voice per word or one voice, few or many distractors, every fifth all
    distinct) and on 10 s of white noise: quantiles 0/10/50/90/100%; and how often looks_liftered fires."""
    def stat(C):
        sd = C.std(axis=0)
        return float(np.median(sd[5:9]) / sd[1])
    res: dict = {c: [] for c in CEPSTRA if c != "_ours"}
    fired: dict = {c: 0 for c in res}
    rng = np.random.default_rng(555)
    for i in range(n):
        rec = B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(3, 9)) if i % 5 else 0,
                               voice_per_word=bool(i % 2), many=bool((i // 2) % 2), distinct_only=i % 5 == 0)
        for c, values in res.items():
            C = CEPSTRA[c](rec.audio)
            values.append(stat(C))
            fired[c] += audio.looks_liftered(C)
    noise = np.random.default_rng(1).normal(size=10 * B.SR) * 0.01
    for c, v in res.items():
        print(f"{c or 'ours':11s} std(c5..c8)/std(c1) quantiles {np.round(np.quantile(v, [0, .1, .5, .9, 1]), 3)}; "
              f"looks_liftered {fired[c]}/{n}; white noise {stat(CEPSTRA[c](noise)):.3f}")


def pairwise_check(recs: list) -> str:
    """True-boundary check on vpw_many recordings: segments with IoU >= .5 with a true instance are the
    word's; AUC of D(word, word) < D(word, other) per recording (mean), and the share of word segments
    whose nearest segment is a word segment."""
    aucs, nn = [], []
    for rec in recs:
        if rec["cond"] != "vpw_many" or rec["fixed"] is not None:
            continue
        c = rec["case"]
        true = np.array([max((G._iou((s, e), t) for t in rec["truth"]), default=0) >= 0.5
                         for s, e in zip(c.s, c.e)])
        if true.sum() < 2 or (~true).sum() < 1:
            continue
        idx = np.flatnonzero(true)
        same = [c.D[i, j] for i in idx for j in idx if i < j]
        other = [c.D[i, j] for i in idx for j in np.flatnonzero(~true)]
        aucs.append(G._auc(other, same))
        for i in idx:
            d = c.D[i].copy()
            d[i] = np.inf
            nn.append(true[int(np.argmin(d))])
    return (f"true-boundary check (vpw_many, {len(aucs)} recordings): AUC same-word < word-other "
            f"{np.mean(aucs):.3f}; nearest segment of a word segment is the word {np.mean(nn):.3f}")


def groups(front: str, extra: int) -> None:
    cache = ROOT / ".cache" / "foreign" / f"{front}_x{extra}.pkl"
    out = ROOT / "results" / "foreign" / f"groups_{front}{'_x' + str(extra) if extra else ''}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = ["--front", front, "--variants", "adapt_nn_-2.5,kept", "--bars", "2.925,1.1", "--cache", str(cache),
            "--extra-nulls", str(extra)]
    with tee_output(str(out), f"dev_foreign_mfcc.py groups --front {front} --extra-nulls {extra}"):
        print("adapt_nn_-2.5 at bar 2.925 = main's default (segments.group_bar); kept at 1.1 = the fixed bar")
        G.run(G_args(argv))
        recs, _ = G.recordings(front, [], str(cache), extra)
        print(pairwise_check(recs))
        f, cpu, secs = G.FRONTS[front], 0.0, 0.0
        rng = np.random.default_rng(7)
        for _ in range(8):
            rec = B.make_recording(rng, B.DEV_SPEAKERS, 5, voice_per_word=True, many=True)
            t0 = time.process_time()
            f(rec.audio)
            cpu += time.process_time() - t0
            secs += len(rec.audio) / B.SR
        print(f"features CPU per 10 s of audio: {10 * cpu / secs:.4f} s (8 recordings, 1 thread)")


def G_args(argv):
    """dev_extract_groups' parsed arguments (its main() parses and tees; we tee ourselves)."""
    import argparse as ap_
    p = ap_.ArgumentParser()
    for a, kw in (("--bars", {"default": "1.0,1.1,1.2"}), ("--front", {}), ("--variants", {"default": "kept"}),
                  ("--cache", {"default": ""}), ("--extra-nulls", {"type": int, "default": 0})):
        p.add_argument(a, **kw)
    args = p.parse_args(argv)
    args.pairs = args.select = args.curve = args.homog = False
    return args


def match(front: str) -> None:
    f = G.FRONTS[front]
    B.tenfold_features = lambda a, recipe: f(a)
    B.main(["--match-only", "--sets", "dev", "--n", "20", "--no-stumpy", "--recipe", "eval_bands",
            "--out", str(ROOT / "results" / "foreign"), "--tag", f"match_{front}"])


def heldout(front: str, n: int) -> None:
    """The COMMON_S14 held-out command (eval_bands, n recordings per condition, no stumpy, no extras)
    with the front's features in place of eval_bands' (bands: ours, i.e. src's bands_from_mfcc)."""
    f = G.FRONTS[front]
    B.tenfold_features = lambda a, recipe: f(a)
    B.main(["--sets", "heldout", "--n", str(n), "--no-stumpy", "--no-extras", "--recipe", "eval_bands",
            "--out", str(ROOT / "results" / "foreign"), "--tag", f"heldout_{front}_n{n}"])


def nothing(front: str) -> None:
    """bench_extract's nothing-found rows on the dev pool (all-distinct words, and white/brown noise)
    with the front's features; prints them and writes results/foreign/nothing_<front>.txt."""
    f = G.FRONTS[front]
    B.tenfold_features = lambda a, recipe: f(a)
    with tee_output(str(ROOT / "results" / "foreign" / f"nothing_{front}.txt"),
                    f"dev_foreign_mfcc.py nothing --front {front}"):
        B.bench_nothing("dev", B.DEV_SPEAKERS, 1, 20, "eval_bands", print)


def evallike(front: str, n: int, group_score: str = "silhouette") -> None:
    """bench_extract_evallike.py's draw (seeds 300, n pairs, never tuned on) with the front's features:
    find_instances F1@.5 and match() F1@.5; results/foreign/evallike_<front>[_speech].txt."""
    import bench_extract_evallike as E
    f = G.FRONTS[front]
    tag = "" if group_score == "silhouette" else f"_{group_score}"
    with tee_output(str(ROOT / "results" / "foreign" / f"evallike_{front}{tag}.txt"),
                    f"dev_foreign_mfcc.py evallike --front {front} --n {n} --group-score {group_score}"):
        rng = np.random.default_rng(E.SEED0)
        f1, mt, cpu = [], [], []
        for i in range(n):
            target = str(rng.choice(E.WORDS))
            (a1, t1), (a2, t2) = E.recording(rng, target), E.recording(rng, target)
            X1, X2 = f(a1), f(a2)
            lens = np.array([e - s for s, e in t1])
            lo, hi = max(2, int(np.floor(0.7 * lens.min()))), int(np.ceil(1.3 * lens.max()))
            c = time.process_time()
            found = extract.find_instances(X1, lo, hi, random_state=i, group_score=group_score)
            cpu.append((time.process_time() - c) / (len(a1) / B.SR) * 10)
            f1.append(E.f1s(found, t1)[1])
            mt.append(E.f1s(found.match(X2), t2)[1])
        print(f"front {front}: {n} pairs; find_instances F1@.5 {np.mean(f1):.3f}; match() F1@.5 {np.mean(mt):.3f}; "
              f"CPU per 10 s (find_instances, median) {np.median(cpu):.3f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["groups", "match", "profile", "spread", "heldout", "nothing",
                                           "evallike"])
    ap.add_argument("--n", type=int, default=40, help="heldout: recordings per condition")
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--extra-nulls", type=int, default=0)
    ap.add_argument("--group-score", default="silhouette", choices=["silhouette", "speech"],
                    help="evallike: find_instances(group_score=...) (session 17)")
    args = ap.parse_args(argv)
    if args.what == "profile":
        profile()
    elif args.what == "spread":
        with tee_output(str(ROOT / "results" / "foreign" / "spread.txt"), "dev_foreign_mfcc.py spread"):
            spread()
    elif args.what == "groups":
        groups(args.front, args.extra_nulls)
    elif args.what == "heldout":
        heldout(args.front, args.n)
    elif args.what == "evallike":
        evallike(args.front, args.n, args.group_score)
    elif args.what == "nothing":
        nothing(args.front)
    else:
        match(args.front)
    return 0


if __name__ == "__main__":
    sys.exit(main())
