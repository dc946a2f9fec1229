"""The pocketsphinx decoder's phones as a representation for find_instances (issue 14, session 15).

pocketsphinx's Decoder in allphone mode (a phone loop weighted by the en-us phone bigram
`en-us-phone.lm.bin`, the context-dependent PTM senones and HMMs of the en-us model) decodes a whole
recording once; its 1-best phone segments become a per-frame representation:

  one-hot  the 1-best phone of each frame (42 columns, mdef order), moving average over +-k frames,
           sqrt (Euclidean on sqrt p is the Hellinger distance);
  nbest    the same averaged over the decoder's n-best phone strings (a crude soft version).

Two routes into the decoder:
  raw   16 kHz int16 audio (process_raw: sphinx's own front end, noise removal, batch CMN);
  cep   the user's 13 MFCCs -> bands_from_mfcc -> sphinx-like cepstra (dev_phones.mfcc_cepstra),
        handed to process_cep with full_utt=True (pre-CMN cepstra: the decoder's acmod applies the
        model's batch CMN and 1s_c_d_dd itself).

    python benchmarks/dev_phdec.py --sanity
    python benchmarks/dev_phdec.py --check bands,pd_cep_s4_nw,... [--sets 20]
    python benchmarks/dev_phdec.py --yard pd_cep_s4_nw [dev_extract_groups args...]
    python benchmarks/dev_phdec.py --hybrid pd_cep_s4_nw
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_phones as P

from tenfold import audio

SR = B.SR
LW = 6.5          # language weight of the phone bigram (pocketsphinx's default)
BEAM = 1e-48      # pocketsphinx's defaults
PBEAM = 1e-48
# pocketsphinx's batch CMN averages only frames with c0 >= 0 (sphinx's level: log mel energies of 16-bit
# samples); dev_phones.mfcc_cepstra keeps audio.mfcc's level (float samples), about 110.6 lower in c0
# (5 ln(32768^2) = 104.0 for the sample scale, the rest the filters' normalisation; median over the 24
# --sanity words, 110.4-110.9). Without it every frame is excluded and the decoder sees NaN cepstra.
C0_OFFSET = 110.6


@cache
def decoder(lw: float = LW, beam: float = BEAM, pbeam: float = PBEAM, pip: float = 1.0):
    from pocketsphinx import Decoder
    md = P.model_dir()
    return Decoder(hmm=str(md), allphone=str(md.parent / "en-us-phone.lm.bin"), lw=lw, beam=beam,
                   pbeam=pbeam, pip=pip, bestpath=True, loglevel="FATAL")


@cache
def phone_index() -> dict:
    return {p: i for i, p in enumerate(P.model()["phones"])}


def _segments(dec) -> list:
    return [(s.word, int(s.start_frame), int(s.end_frame)) for s in dec.seg()]


def decode_raw(a: np.ndarray, **kw) -> tuple[list, int]:
    """1-best (phone, first frame, last frame) from 16 kHz float audio; and the decoder's frame count."""
    dec = decoder(**kw)
    pcm = (np.clip(np.asarray(a, np.float64), -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()
    dec.start_utt()
    dec.process_raw(pcm, False, True)
    dec.end_utt()
    return _segments(dec), int(dec.n_frames())


def decode_cep(cep: np.ndarray, **kw) -> tuple[list, int]:
    """1-best (phone, first frame, last frame) from pre-CMN 13-dim cepstra (frames x 13)."""
    dec = decoder(**kw)
    dec.start_utt()
    dec.process_cep(np.ascontiguousarray(cep, np.float32).tobytes(), False, True)
    dec.end_utt()
    return _segments(dec), int(dec.n_frames())


def onehot(segs: list, T: int) -> np.ndarray:
    """(T, 42) one-hot of the decoded phone per frame; frames no segment covers stay all zero
    (then filled from the nearest covered frame)."""
    idx = phone_index()
    Y = np.zeros((T, len(idx)))
    covered = np.zeros(T, bool)
    for w, s, e in segs:
        j = idx.get(w, idx["SIL"])
        s, e = max(0, s), min(T - 1, e)
        if e >= s:
            Y[s:e + 1, j] = 1.0
            covered[s:e + 1] = True
    if covered.any() and not covered.all():
        c = np.flatnonzero(covered)
        near = c[np.clip(np.searchsorted(c, np.arange(T)), 0, len(c) - 1)]
        Y[~covered] = Y[near[~covered]]
    return Y


def cep_of(a: np.ndarray) -> np.ndarray:
    """The mfcc route: the user's 13 MFCCs (audio.mfcc, the evaluator's convention) -> sphinx-like cepstra."""
    return to_sphinx_level(P.mfcc_cepstra(audio.mfcc(a, SR)))


def to_sphinx_level(cep: np.ndarray) -> np.ndarray:
    out = np.array(cep, np.float64)
    out[:, 0] += C0_OFFSET
    return out


def pd_cep(a: np.ndarray, k: int = 4, **kw) -> np.ndarray:
    C = audio.mfcc(a, SR)
    segs, _ = decode_cep(to_sphinx_level(P.mfcc_cepstra(C)), **kw)
    return np.sqrt(P.smooth(onehot(segs, len(C)), k)) if k else onehot(segs, len(C))


def pd_raw(a: np.ndarray, k: int = 4, **kw) -> np.ndarray:
    T = len(audio.mfcc(a, SR))
    segs, _ = decode_raw(a, **kw)
    return np.sqrt(P.smooth(onehot(segs, T), k)) if k else onehot(segs, T)


def onehot_cep(C: np.ndarray, **kw) -> np.ndarray:
    """(T, 42) 1-best one-hot from the user's MFCCs C (T x 13)."""
    segs, _ = decode_cep(to_sphinx_level(P.mfcc_cepstra(C)), **kw)
    return onehot(segs, len(C))


def pd_ens(a: np.ndarray, k: int = 4, lws=(2.0, 4.0, 6.5, 10.0)) -> np.ndarray:
    """The one-hots of decodes at several language weights averaged (a soft 1-best), smoothed, sqrt."""
    C = audio.mfcc(a, SR)
    return np.sqrt(P.smooth(np.mean([onehot_cep(C, lw=lw) for lw in lws], axis=0), k))


def pd_mix(a: np.ndarray, alpha: float = 0.5, k: int = 6, product: bool = False) -> np.ndarray:
    """Fusion with dev_phones' frame posteriorgram (mixture weights, temperature 2, +-6 smoothing):
    alpha * one-hot + (1 - alpha) * posteriorgram, or (product) the posteriorgram times
    (0.1 + one-hot) renormalised (the decoded phone as a prior on the frame's posteriors); sqrt."""
    C = audio.mfcc(a, SR)
    Q = P.smooth(P.posteriors(P.loglik(P.streams(P.mfcc_cepstra(C)), True), 2.0), k)
    Y = P.smooth(onehot_cep(C), k)
    if product:
        R = Q * (0.1 + Y)
        return np.sqrt(R / R.sum(axis=1, keepdims=True))
    return np.sqrt(alpha * Y + (1 - alpha) * Q)


def chunks(C: np.ndarray, gap: int = 8, pad: int = 5) -> list:
    """Runs of loud frames (smoothed c0 above 30% of the way from its 10th to its 90th percentile),
    merged across gaps shorter than `gap` frames, padded by `pad`: [(start, end exclusive)]."""
    c0 = P.smooth(C[:, :1], 2)[:, 0]
    lo, hi = np.percentile(c0, [10, 90])
    act = c0 > lo + 0.3 * (hi - lo)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], act.astype(np.int8), [0]])))
    runs = []
    for a, b in zip(edges[0::2], edges[1::2]):
        if runs and a - runs[-1][1] < gap:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(max(0, a - pad), min(len(C), b + pad)) for a, b in runs]


def pd_chunked(a: np.ndarray, k: int = 4, **kw) -> np.ndarray:
    """Each loud chunk decoded on its own (so batch CMN is per chunk: per word and voice here);
    frames outside every chunk are SIL."""
    C = audio.mfcc(a, SR)
    cep = to_sphinx_level(P.mfcc_cepstra(C))
    Y = np.zeros((len(C), len(phone_index())))
    Y[:, phone_index()["SIL"]] = 1.0
    for s, e in chunks(C):
        if e - s >= 8:
            segs, _ = decode_cep(cep[s:e], **kw)
            Y[s:e] = onehot(segs, e - s)
    return np.sqrt(P.smooth(Y, k))


def phm_chunked(a: np.ndarray, k: int = 6, temp: float = 2.0) -> np.ndarray:
    """dev_phones' posteriorgram (mixture weights, temperature 2, +-6 smoothing) with CMN and deltas per
    loud chunk instead of per recording (frames outside chunks: the recording's CMN)."""
    C = audio.mfcc(a, SR)
    cep = P.mfcc_cepstra(C)
    ll = P.loglik(P.streams(cep), True)
    for s, e in chunks(C):
        if e - s >= 8:
            ll[s:e] = P.loglik(P.streams(cep[s:e]), True)
    return np.sqrt(P.smooth(P.posteriors(ll, temp), k))


def fronts() -> dict:
    """{name: fn(audio) -> features}; names ending in _nw run without the feature-axis stretch."""
    out = dict(P.fronts())
    for k in (2, 4, 6):
        out[f"pd_cep_s{k}_nw"] = lambda a, k=k: pd_cep(a, k)
        out[f"pd_raw_s{k}_nw"] = lambda a, k=k: pd_raw(a, k)
    for lw in (0.5, 1, 2, 4, 10):
        out[f"pd_cep_lw{lw:g}_s4_nw".replace(".", "")] = lambda a, lw=lw: pd_cep(a, 4, lw=float(lw))
    out["pd_ens_s4_nw"] = lambda a: pd_ens(a, 4)
    out["pd_mix05_nw"] = lambda a: pd_mix(a, 0.5)
    out["pd_mix03_nw"] = lambda a: pd_mix(a, 0.3)
    out["pd_prod_nw"] = lambda a: pd_mix(a, product=True)
    out["pd_chunk_s4_nw"] = lambda a: pd_chunked(a, 4)
    out["pd_chunk_lw2_s4_nw"] = lambda a: pd_chunked(a, 4, lw=2.0)
    out["phm_chunk_nw"] = lambda a: phm_chunked(a)
    return out


# ----------------------------------------------------------------------------- sanity
def sanity() -> None:
    voices = [("espeak", "en-us"), ("espeak", "en-gb-x-rp+f1"), ("flite", "kal16"), ("flite", "awb")]
    for w in P.SANITY_WORDS:
        for v in voices:
            a = np.asarray(B.say(w, v, 1.0, 0), np.float64)
            a = np.concatenate([np.zeros(1600), a, np.zeros(1600)])
            a = a + np.random.default_rng(0).normal(scale=0.003, size=len(a))
            T = len(audio.mfcc(a, SR))
            sr_, nr = decode_raw(a)
            sw, nw = decode_cep(P.wave_cepstra(a))
            sm, nm = decode_cep(cep_of(a))
            print(f"{w:8s} {v[0]}:{v[1]:14s} frames mfcc {T} raw {nr} wave {nw} cep {nm}")
            for route, s in (("raw", sr_), ("wave-cep", sw), ("mfcc-cep", sm)):
                print(f"    {route:9s} {' '.join(x[0] for x in s if x[0] != 'SIL')}")
    a = np.random.default_rng(1).normal(scale=0.1, size=SR * 10)
    speech = np.concatenate([np.concatenate([np.asarray(B.say(w, v, 1.0, 0)), np.zeros(3200)])
                             for w in P.SANITY_WORDS for v in voices])
    speech = speech + np.random.default_rng(2).normal(scale=0.003, size=len(speech))
    for name, x in (("noise", a), ("speech", speech)):
        sec = len(x) / SR
        for route, f in (("raw", lambda y: decode_raw(y)), ("cep", lambda y: decode_cep(cep_of(y))),
                         ("cep decode only", None)):
            if f is None:
                c = cep_of(x)
                t0 = time.process_time()
                decode_cep(c)
            else:
                f(x)
                t0 = time.process_time()
                f(x)
            print(f"CPU per 10 s, {name} ({sec:.1f} s), {route}: {(time.process_time() - t0) * 10 / sec:.3f} s")


def cmudict() -> dict:
    """{word: [phones]} from the model's cmudict (first pronunciation, stress marks dropped)."""
    out = {}
    for line in (P.model_dir().parent / "cmudict-en-us.dict").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] not in out:
            out[parts[0]] = ["".join(c for c in x if not c.isdigit()) for x in parts[1:]]
    return out


def edit(a: list, b: list) -> int:
    d = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        prev, d[0] = d.copy(), i
        for j, y in enumerate(b, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (x != y))
    return int(d[-1])


NONSPEECH = {"SIL", "+NSN+", "+SPN+"}


def collapse(labels: list) -> list:
    return [x for i, x in enumerate(labels) if x not in NONSPEECH and (i == 0 or x != labels[i - 1])]


def per_table(n_words: int = 30) -> None:
    """Per word and voice (isolated words, 0.1 s pauses, light noise): the phone strings of each route
    against cmudict (phone error rate), and as a symbolic representation: the AUC of a same-word
    other-voice string against the same voice's other words (normalised edit distance)."""
    voices = [("espeak", "en-us"), ("espeak", "en-gb-x-rp+f1"), ("espeak", "en-029+m3"), ("espeak", "en-us+f3"),
              ("flite", "kal16"), ("flite", "awb")]
    ref = cmudict()
    words = [w for w in B.WORDS if w in ref][:n_words]
    ph = P.model()["phones"]
    routes = {
        "decoder raw lw 6.5": lambda a, C: collapse([x[0] for x in decode_raw(a)[0]]),
        "decoder mfcc lw 6.5": lambda a, C: collapse([x[0] for x in decode_cep(to_sphinx_level(P.mfcc_cepstra(C)))[0]]),
        "decoder mfcc lw 2": lambda a, C: collapse([x[0] for x in decode_cep(to_sphinx_level(P.mfcc_cepstra(C)), lw=2.0)[0]]),
        "posteriorgram argmax (s6, runs >= 3 frames)": lambda a, C: _argmax_string(C, ph),
    }
    hyps = {r: {} for r in routes}
    rng = np.random.default_rng(0)
    for w in words:
        for v in voices:
            a = np.concatenate([np.zeros(1600), np.asarray(B.say(w, v, 1.0, 0), np.float64), np.zeros(1600)])
            a = a + rng.normal(scale=0.003, size=len(a))
            C = audio.mfcc(a, SR)
            for r, f in routes.items():
                hyps[r][(w, v)] = f(a, C)
    print(f"{len(words)} words x {len(voices)} voices ({', '.join(f'{e}:{n}' for e, n in voices)}); reference: cmudict")
    print("| route | phone error rate (all) | espeak | flite | example (window, 6 voices) | "
          "string AUC same word other voice vs same voice other word | string 1-NN |")
    print("|---|---|---|---|---|---|---|")
    for r in routes:
        H = hyps[r]
        err = {e: [edit(H[(w, v)], ref[w]) / len(ref[w]) for w in words for v in voices if v[0] == e] for e in ("espeak", "flite")}
        keys = list(H)
        nd = np.array([[edit(H[a], H[b]) / max(1, len(H[a]), len(H[b])) for b in keys] for a in keys])
        auc, nn = [], []
        for i, (w, v) in enumerate(keys):
            pos = [j for j, (w2, v2) in enumerate(keys) if w2 == w and v2 != v]
            neg = [j for j, (w2, v2) in enumerate(keys) if w2 != w and v2 == v]
            for j in pos:
                auc.append(np.mean((nd[i, j] < nd[i, neg]) + 0.5 * (nd[i, j] == nd[i, neg])))
            others = [j for j in range(len(keys)) if keys[j][1] != v]
            best = min(nd[i, j] for j in others)
            ties = [j for j in others if nd[i, j] == best]
            nn.append(np.mean([keys[j][0] == w for j in ties]))
        ex = " / ".join(" ".join(H[("window", v)]) or "-" for v in voices) if "window" in words else ""
        print(f"| {r} | {np.mean(err['espeak'] + err['flite']):.2f} | {np.mean(err['espeak']):.2f} | "
              f"{np.mean(err['flite']):.2f} | {ex} | {np.mean(auc):.3f} | {np.mean(nn):.3f} |")


def _argmax_string(C: np.ndarray, ph: list) -> list:
    lab = P.smooth(P.posteriors(P.loglik(P.streams(P.mfcc_cepstra(C)), True), 2.0), 6).argmax(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[-1], lab, [-1]])))
    runs = [(ph[lab[a]], b - a) for a, b in itertools.pairwise(edges)]
    return collapse([p for p, n in runs if n >= 3])


def cpu_table() -> None:
    """Decoding CPU per 10 s (mfcc route, cepstra precomputed) and the 1-best on the --sanity words at
    a few beam settings."""
    voices = [("espeak", "en-us"), ("flite", "kal16")]
    speech = np.concatenate([np.concatenate([np.asarray(B.say(w, v, 1.0, 0)), np.zeros(3200)])
                             for w in P.SANITY_WORDS for v in voices])
    speech = speech + np.random.default_rng(2).normal(scale=0.003, size=len(speech))
    cep = cep_of(speech)
    sec = len(speech) / SR
    print(f"speech {sec:.1f} s ({len(P.SANITY_WORDS)} words x {len(voices)} voices); CPU of decode_cep only")
    print("| beam / pbeam | maxhmmpf | CPU per 10 s | phones (collapsed) |")
    print("|---|---|---|---|")
    for beam in (1e-48, 1e-30, 1e-20, 1e-10):
        decode_cep(cep, beam=beam, pbeam=beam)
        t0 = time.process_time()
        segs, _ = decode_cep(cep, beam=beam, pbeam=beam)
        t = (time.process_time() - t0) * 10 / sec
        print(f"| {beam:g} | 30000 | {t:.3f} | {' '.join(collapse([x[0] for x in segs]))[:90]} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sanity", action="store_true")
    ap.add_argument("--per", action="store_true")
    ap.add_argument("--cpu", action="store_true")
    P.add_yardstick_args(ap)
    args, rest = ap.parse_known_args(argv)
    if args.sanity:
        sanity()
    if args.per:
        per_table()
    if args.cpu:
        cpu_table()
    return P.run_yardsticks(args, rest, fronts)


if __name__ == "__main__":
    sys.exit(main())
