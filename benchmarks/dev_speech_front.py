"""Development yardstick for speech front ends (issue 14, session 11): dev speakers only.

Does a speaker-robust front end make a word said by another voice nearer than another word?
Each candidate front end turns the same development recordings into features; the words are
cut at their true boundaries (from the waveform: the renderer separates words by >= 0.15 s of
silence), so every front end is compared on the same segments, and the segments are compared
exactly as the segment search compares them (`segments.warped_distances`: per-segment scaling,
slopes, band-limited DTW, feature-axis warps). Reported per front end:

  1-NN    a target word's nearest other word is the target word (voice per word, few + many)
  AUC     per target segment, P(another instance of the word is nearer than another word)
  pass    the true group's score (`segments._group_score`: mean silhouette x k, the score the
          search thresholds) above the 90% / 95% quantile of the best group's score on
          all-distinct-word recordings of the same front end (an equal-null comparison), and
          above the kept bar 1.1 (with the nulls' share below 1.1)
  one     the same pass rate (90% quantile) for one voice with many distractors (no regression)
  cpu     front-end CPU per 10 s of audio (median)

Recordings: DEV_SPEAKERS plus dev_extract_groups.WIDE_EXTRA (no held-out voice), seeds 97xx,
never used by another script. Other modes, each with the named front end in place of
`audio.mfcc` / `audio.speech_features`:
  --lite             find_instances per condition and on all-distinct-word recordings (seeds 98xx)
  --pipeline NAME    dev_extract_groups.py (find_group on its bdev/dev/wide draws), then
                     bench_extract.py --sets dev --recipe speech --no-stumpy (n 20) and
                     --match-only (n 60); `--sets heldout` runs the held-out set instead (report only)
  --evallike NAME    bench_extract_evallike.py's draw (never tuned on), n 30, without stumpy
Results: benchmarks/results/speech_front/.

    python benchmarks/dev_speech_front.py                       # the yardstick table (~4 min)
    python benchmarks/dev_speech_front.py --only mfcc,logmel28  # some front ends
    python benchmarks/dev_speech_front.py --lite --only mfcc,logmel28
    python benchmarks/dev_speech_front.py --pipeline logmel28   # full dev pipeline for one (~6 min)
    python benchmarks/dev_speech_front.py --lite --lite-pos 0 --lite-nulls 200 --only bands24  # nulls only
Front ends bands16..bands48: the eval's 13 MFCCs through audio.bands_from_mfcc (helper cepstra).
Learned speaker-invariant maps (proj*, back*, soft*, cb*, ...; session 12) are added from
results/speech_front/speaker_proj*.npz when dev_speaker_proj.py --learn has written them; proj* and
cbp* run without the band-axis stretch.
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
import dev_speaker_proj as _SP

from tenfold import audio, segments

SR = B.SR
POOL = B.DEV_SPEAKERS + G.WIDE_EXTRA
SEED0 = 97
LOUD = 0.02          # say() trims each word at |a| > 0.02: word edges are loud, pauses are not
MIN_PAUSE_S = 0.15   # speak() puts at least 0.15 s of silence between words
N_VPW, N_NULL = 40, 80   # recordings per voice-per-word cell; all-distinct-word recordings


# ----------------------------------------------------------------------------- front ends
def _framed(a: np.ndarray, sr: int, frame_s: float = audio.SPEECH_FRAME_S, hop_s: float = audio.SPEECH_HOP_S,
            pre: float = 0.97):
    """Hamming-windowed frames as audio.mfcc makes them (pre-emphasised and raw), and nfft."""
    a = np.asarray(a, np.float64)
    frame, hop = round(frame_s * sr), round(hop_s * sr)
    e = np.concatenate([a[:1], a[1:] - pre * a[:-1]])
    n = 1 + (len(a) - frame) // hop
    w = np.hamming(frame)
    F = np.lib.stride_tricks.sliding_window_view(e, frame)[::hop][:n] * w
    R = np.lib.stride_tricks.sliding_window_view(a, frame)[::hop][:n] * w
    nfft = 1 << int(np.ceil(np.log2(frame)))
    return F, R, nfft, w


def _melbank(sr: int, nfft: int, n_mels: int, fmin: float = 20.0, fmax: float | None = None) -> np.ndarray:
    fmax = sr / 2.0 if fmax is None else fmax
    pts = audio._mel_inv(np.linspace(audio._mel(np.array(fmin)), audio._mel(np.array(fmax)), n_mels + 2))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    lo, c, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))


def _dct(n_in: int, n_out: int) -> np.ndarray:
    k = np.arange(n_out)[:, None]
    D = np.cos(np.pi * k * (2 * np.arange(n_in)[None, :] + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    D[0] /= np.sqrt(2.0)
    return D


def _f0(R: np.ndarray, w: np.ndarray, sr: int, fmin: float = 70.0, fmax: float = 400.0, voicing: float = 0.45):
    """Per-frame F0 (Hz, 0 when unvoiced): the peak of the window-corrected normalised autocorrelation."""
    n = R.shape[1]
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    ac = np.fft.irfft(np.abs(np.fft.rfft(R, nfft, axis=1)) ** 2, nfft, axis=1)[:, :n]
    wac = np.fft.irfft(np.abs(np.fft.rfft(w, nfft)) ** 2, nfft)[:n]
    lo, hi = int(sr / fmax), min(int(sr / fmin), n - 1)
    r = ac[:, lo:hi + 1] / np.maximum(ac[:, :1], 1e-20) / (wac[lo:hi + 1] / wac[0])
    best = r.max(axis=1)
    peak = np.zeros_like(r, bool)
    peak[:, 1:-1] = (r[:, 1:-1] >= r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
    # the shortest lag whose peak is nearly the best one (longer lags repeat the period: octave errors)
    k = np.argmax(peak & (r >= 0.85 * best[:, None]), axis=1)
    k = np.where(np.take_along_axis(peak & (r >= 0.85 * best[:, None]), k[:, None], 1)[:, 0], k, r.argmax(axis=1))
    f0 = sr / (lo + k)
    return np.where(best >= voicing, f0, 0.0)


def _smooth_bins(P: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Each row of P averaged over a box of `width[i]` bins centred on each bin (mirrored edges)."""
    B_ = P.shape[1]
    pad = int(np.ceil(width.max() / 2)) + 2
    Q = np.concatenate([P[:, pad:0:-1], P, P[:, -2:-pad - 2:-1]], axis=1)
    C = np.concatenate([np.zeros((len(P), 1)), np.cumsum(Q, axis=1)], axis=1)   # C[j]: sum of Q[:j]
    k = np.arange(B_)[None, :] + pad + 0.5          # centre of bin k in C's boundary coordinate
    h = np.maximum(width, 1.0)[:, None] / 2

    def at(x):
        i = np.floor(x).astype(np.int64)
        f = x - i
        return np.take_along_axis(C, i, 1) * (1 - f) + np.take_along_axis(C, i + 1, 1) * f
    return (at(k + h) - at(k - h)) / (2 * h)


def _levinson(r: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """LPC polynomial rows [1, a1..ap] and prediction error from autocorrelation rows r[:, :p+1]."""
    n = len(r)
    A = np.zeros((n, p + 1))
    A[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, p + 1):
        acc = r[:, i] + (A[:, 1:i] * r[:, i - 1:0:-1]).sum(axis=1)
        k = -acc / np.maximum(err, 1e-20)
        A[:, 1:i] = A[:, 1:i] + k[:, None] * A[:, i - 1:0:-1]
        A[:, i] = k
        err = err * (1 - k * k)
    return A, np.maximum(err, 1e-20)


def _lpc_cepstrum(A: np.ndarray, err: np.ndarray, n: int) -> np.ndarray:
    """c1..cn of the all-pole model err / |A|^2 (the usual recursion)."""
    a = -A[:, 1:]
    p = a.shape[1]
    c = np.zeros((len(A), n + 1))
    c[:, 0] = np.log(err)
    for m in range(1, n + 1):
        acc = a[:, m - 1].copy() if m <= p else np.zeros(len(A))
        for k in range(max(1, m - p), m):
            acc += (k / m) * c[:, k] * a[:, m - k - 1]
        c[:, m] = acc
    return c[:, 1:]


def fe_mfcc(a, sr, *, n_mels=40, frame_s=audio.SPEECH_FRAME_S, n_ceps=12, first=1):
    return audio.mfcc(a, sr, n_mfcc=n_ceps + first, n_mels=n_mels, frame_length=frame_s)[:, first:]


def fe_pitchsmooth(a, sr, *, factor=1.0, n_mels=40, unvoiced_hz=0.0, frame_s=audio.SPEECH_FRAME_S):
    """Power spectrum smoothed over factor x F0 per voiced frame before the mel filterbank."""
    F, R, nfft, w = _framed(a, sr, frame_s)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    f0 = _f0(R, w, sr)
    width = np.where(f0 > 0, factor * f0, unvoiced_hz) / (sr / nfft)
    S = _smooth_bins(P, width)
    return np.log(S @ _melbank(sr, nfft, n_mels).T + 1e-10) @ _dct(n_mels, 13)[1:].T


def fe_lpmel(a, sr, *, order=16, n_mels=40, lag_hz=0.0, frame_s=audio.SPEECH_FRAME_S):
    """All-pole (LPC) envelope of each frame on the FFT grid -> mel filterbank -> log -> DCT c1..c12."""
    F, _, nfft, _ = _framed(a, sr, frame_s)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    r = np.fft.irfft(P, nfft, axis=1)[:, :order + 1]
    r[:, 0] *= 1.0 + 1e-6
    if lag_hz > 0:     # Gaussian lag window: widens formant bandwidths
        lag = np.arange(order + 1) / sr
        r = r * np.exp(-0.5 * (2 * np.pi * lag_hz * lag) ** 2)
    A, err = _levinson(r, order)
    env = err[:, None] / np.maximum(np.abs(np.fft.rfft(A, nfft, axis=1)) ** 2, 1e-20)
    return np.log(env @ _melbank(sr, nfft, n_mels).T + 1e-10) @ _dct(n_mels, 13)[1:].T


def fe_lpcc(a, sr, *, order=16, n=12, frame_s=audio.SPEECH_FRAME_S):
    F, _, nfft, _ = _framed(a, sr, frame_s)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    r = np.fft.irfft(P, nfft, axis=1)[:, :order + 1]
    r[:, 0] *= 1.0 + 1e-6
    A, err = _levinson(r, order)
    return _lpc_cepstrum(A, err, n)


def fe_plp(a, sr, *, order=12, n_mels=24, n=12, frame_s=audio.SPEECH_FRAME_S):
    """PLP-like: mel power bands, equal-loudness weight, cube root, all-pole fit on the band axis, cepstrum."""
    F, _, nfft, _ = _framed(a, sr, frame_s, pre=0.0)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    bank = _melbank(sr, nfft, n_mels)
    fc = (bank * np.fft.rfftfreq(nfft, 1.0 / sr)).sum(1) / np.maximum(bank.sum(1), 1e-12)
    w2 = (2 * np.pi * fc) ** 2        # Hermansky's 1990 equal-loudness curve (40 dB)
    eql = (w2 + 56.8e6) * w2 ** 2 / ((w2 + 6.3e6) ** 2 * (w2 + 0.38e9))
    E = ((P @ bank.T) * eql + 1e-12) ** (1.0 / 3.0)
    E = np.concatenate([E[:, :1], E, E[:, -1:]], axis=1)     # the band axis from 0 to Nyquist
    r = np.fft.irfft(E, 2 * (E.shape[1] - 1), axis=1)[:, :order + 1]
    A, err = _levinson(r, order)
    return _lpc_cepstrum(A, err, n)


def fe_rasta(a, sr, *, pole=0.94, n_mels=40, n_ceps=12):
    """RASTA band-pass filter along time on each log-mel band, then the DCT c1..c12."""
    F, _, nfft, _ = _framed(a, sr)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    L = np.log(P @ _melbank(sr, nfft, n_mels).T + 1e-10)
    return _rasta(L, pole) @ _dct(n_mels, n_ceps + 1)[1:].T


def _rasta(L: np.ndarray, pole: float) -> np.ndarray:
    from scipy.signal import lfilter
    return lfilter(np.array([0.2, 0.1, 0.0, -0.1, -0.2]), np.array([1.0, -pole]), L - L[:1], axis=0)


def fe_logmel(a, sr, *, n_mels=24, pitch=False, centre=True, rasta=0.0, mix=None):
    """Log-mel band energies, mean over bands removed per frame (no DCT: the warp acts on the mel axis)."""
    F, R, nfft, w = _framed(a, sr)
    P = np.abs(np.fft.rfft(F, nfft, axis=1)) ** 2 / nfft
    if pitch:
        f0 = _f0(R, w, sr)
        P = _smooth_bins(P, np.where(f0 > 0, f0, 0.0) / (sr / nfft))
    L = np.log(P @ _melbank(sr, nfft, n_mels).T + 1e-10)
    if rasta and mix is None:
        L = _rasta(L, rasta)
    elif rasta and mix == "sum":              # the steady spectrum plus its RASTA-filtered change
        L = L + _rasta(L, rasta)
    elif rasta and mix == "concat":
        L = np.hstack([L - L.mean(axis=1, keepdims=True), _rasta(L, rasta)])
    return L - L.mean(axis=1, keepdims=True) if centre else L


def fe_mfcc_idct(a, sr, *, n_points=24):
    """c1..c12 of the 40-band MFCCs mapped back onto n_points of the mel axis (a smoothed log-mel, no level)."""
    c = audio.mfcc(a, sr)[:, 1:]
    u = (np.arange(n_points) + 0.5) / n_points * 40           # positions on the 40-band axis
    basis = np.cos(np.pi * np.arange(1, 13)[:, None] * (2 * u[None, :]) / 80) * np.sqrt(2.0 / 40)
    return c @ basis


FRONT_ENDS = {
    "mfcc": lambda a, sr: audio.mfcc(a, sr)[:, 1:],                    # the MFCC recipe: c1..c12
    "mfcc_c0": lambda a, sr: audio.mfcc(a, sr),                         # the eval recipe: c0..c12
    "mels20": lambda a, sr: fe_mfcc(a, sr, n_mels=20),
    "mels24": lambda a, sr: fe_mfcc(a, sr, n_mels=24),
    "mels26": lambda a, sr: fe_mfcc(a, sr, n_mels=26),
    "win32": lambda a, sr: fe_mfcc(a, sr, frame_s=0.032),
    "win40": lambda a, sr: fe_mfcc(a, sr, frame_s=0.040),
    "c2_12": lambda a, sr: fe_mfcc(a, sr, n_ceps=11, first=2),
    "c1_16": lambda a, sr: fe_mfcc(a, sr, n_ceps=16),
    "pitch1.0": lambda a, sr: fe_pitchsmooth(a, sr, factor=1.0),
    "pitch0.67": lambda a, sr: fe_pitchsmooth(a, sr, factor=2 / 3),
    "pitch1.0u150": lambda a, sr: fe_pitchsmooth(a, sr, factor=1.0, unvoiced_hz=150.0),
    "pitch1.0m24": lambda a, sr: fe_pitchsmooth(a, sr, factor=1.0, n_mels=24),
    "lpmel12": lambda a, sr: fe_lpmel(a, sr, order=12),
    "lpmel16": lambda a, sr: fe_lpmel(a, sr, order=16),
    "lpmel20": lambda a, sr: fe_lpmel(a, sr, order=20),
    "lpmel16bw": lambda a, sr: fe_lpmel(a, sr, order=16, lag_hz=60.0),
    "lpcc12": lambda a, sr: fe_lpcc(a, sr, order=12),
    "lpcc16": lambda a, sr: fe_lpcc(a, sr, order=16),
    "plp12": lambda a, sr: fe_plp(a, sr, order=12),
    "plp8": lambda a, sr: fe_plp(a, sr, order=8),
    "rasta": lambda a, sr: fe_rasta(a, sr),
    "logmel24": lambda a, sr: fe_logmel(a, sr, n_mels=24),
    "logmel24p": lambda a, sr: fe_logmel(a, sr, n_mels=24, pitch=True),
    "logmel16": lambda a, sr: fe_logmel(a, sr, n_mels=16),
    "logmel32": lambda a, sr: fe_logmel(a, sr, n_mels=32),
    "logmel40": lambda a, sr: fe_logmel(a, sr, n_mels=40),
    "logmel24raw": lambda a, sr: fe_logmel(a, sr, n_mels=24, centre=False),
    "logmel24r": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.94),
    "logmel24pr": lambda a, sr: fe_logmel(a, sr, n_mels=24, pitch=True, rasta=0.94),
    "logmel20": lambda a, sr: fe_logmel(a, sr, n_mels=20),
    "logmel28": lambda a, sr: fe_logmel(a, sr, n_mels=28),
    "mfcc_idct24": lambda a, sr: fe_mfcc_idct(a, sr, n_points=24),
    # the eval's 13 MFCCs (c0..c12) through audio.bands_from_mfcc (c0 dropped), n mel positions
    **{f"bands{n}": (lambda a, sr, n=n: audio.bands_from_mfcc(audio.mfcc(a, sr), n_bands=n))
       for n in (16, 24, 32, 40, 48)},
    "logmel24sum": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.94, mix="sum"),
    "logmel20sum": lambda a, sr: fe_logmel(a, sr, n_mels=20, rasta=0.94, mix="sum"),
    "logmel24cat": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.94, mix="concat"),
    "logmel16r": lambda a, sr: fe_logmel(a, sr, n_mels=16, rasta=0.94),
    "logmel20r": lambda a, sr: fe_logmel(a, sr, n_mels=20, rasta=0.94),
    "logmel28r": lambda a, sr: fe_logmel(a, sr, n_mels=28, rasta=0.94),
    "logmel24r90": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.90),
    "logmel24r98": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.98),
    "logmel24rraw": lambda a, sr: fe_logmel(a, sr, n_mels=24, rasta=0.94, centre=False),
    "rasta24c23": lambda a, sr: fe_rasta(a, sr, n_mels=24, n_ceps=23),
    "rasta98": lambda a, sr: fe_rasta(a, sr, pole=0.98),
    "rasta24": lambda a, sr: fe_rasta(a, sr, n_mels=24),
}
# learned speaker-invariant maps (dev_speaker_proj.py --learn writes them): proj*/cbp* run without the stretch
NO_WARP = _SP.register(FRONT_ENDS)


def _warps_for(name: str) -> tuple:
    return () if name in NO_WARP else segments.FEATURE_WARPS


# ----------------------------------------------------------------------------- yardstick
def word_frames(x: np.ndarray) -> list:
    """(start, end) frames of every word: runs of loud samples merged across gaps < MIN_PAUSE_S."""
    loud = np.flatnonzero(np.abs(x) > LOUD)
    cut = np.flatnonzero(np.diff(loud) > int(0.95 * MIN_PAUSE_S * SR))
    s = np.concatenate([[loud[0]], loud[cut + 1]])
    e = np.concatenate([loud[cut], [loud[-1]]]) + 1
    hop = SR * B.HOP_S
    return [(int(round(a / hop)), int(round(b / hop))) for a, b in zip(s, e)]


def recordings():
    """(cond, audio, word segments, indices of the target's segments) on the dev pool."""
    assert not set(POOL) & set(B.HELDOUT_SPEAKERS)
    sizes = {"vpw_few": N_VPW, "vpw_many": N_VPW, "one_many": 20}
    for ci, (cond, vpw, many) in enumerate((("vpw_few", True, False), ("vpw_many", True, True),
                                            ("one_many", False, True))):
        rng = np.random.default_rng(SEED0 * 100 + ci)
        for _ in range(sizes[cond]):
            rec = B.make_recording(rng, POOL, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
            segs = word_frames(rec.audio)
            tgt = [i for i, (s, e) in enumerate(segs)
                   if any(min(e, te) - max(s, ts) > 0.5 * (max(e, te) - min(s, ts)) for ts, te in rec.truth)]
            yield cond, rec.audio, segs, tgt, B.ranges(rec.truth)["0.7/1.3"]
    rng = np.random.default_rng(SEED0 * 100 + 50)
    for i in range(N_NULL):
        rec = B.make_recording(rng, POOL, 0, voice_per_word=bool(i % 2), many=True, distinct_only=True)
        yield "distinct", rec.audio, word_frames(rec.audio), [], (int(0.7 * 60 / 1.3), 60)


def measure(X: np.ndarray, segs: list, tgt: list, lo: int, hi: int) -> dict:
    cov = segments.segment_activity(X, lo, hi)[2] >= segments.MIN_COVERAGE
    s = np.array([a for a, _ in segs], np.int64)
    e = np.minimum(np.array([b for _, b in segs], np.int64), len(X))
    D = segments.warped_distances(X, s, e)
    out: dict = {"seg": float(cov)}
    if not tgt:
        Z = segments.segment_features(X, s, e)
        R = segments.dtw_distances(Z, s, e, segments.rotated_features(Z, s, e), s, e)
        out["null"] = segments.best_group(D, R)[1]
        return out
    T = np.array(tgt)
    others = np.setdiff1d(np.arange(len(segs)), T)
    nn, auc = [], []
    for i in T:
        d = D[i].copy()
        d[i] = np.inf
        nn.append(float(int(np.argmin(d)) in set(T.tolist())))
        pos = d[T[T != i]]
        neg = d[others]
        auc.append(float(((pos[:, None] < neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()))
    out["nn"], out["auc"] = float(np.mean(nn)), float(np.mean(auc))
    out["score"] = segments._group_score(D, D, T) if len(T) >= 2 else 0.0
    return out


def yardstick(names: list) -> None:
    rows: dict = {n: {"vpw": [], "one_many": [], "null": [], "cpu": [], "seg": []} for n in names}
    t0 = time.time()
    nrec = 0
    for cond, x, segs, tgt, (lo, hi) in recordings():
        nrec += 1
        for n in names:
            c = time.process_time()
            X = np.asarray(FRONT_ENDS[n](x, SR), np.float64)
            rows[n]["cpu"].append((time.process_time() - c) / (len(x) / SR) * 10)
            kept = segments.FEATURE_WARPS
            segments.FEATURE_WARPS = _warps_for(n)
            try:
                m = measure(X, segs, tgt, lo, hi)
            finally:
                segments.FEATURE_WARPS = kept
            rows[n]["seg"].append(m["seg"])
            if cond == "distinct":
                rows[n]["null"].append(m["null"])
            else:
                rows[n]["vpw" if cond.startswith("vpw") else "one_many"].append(m)
    print(f"{nrec} recordings (vpw few {N_VPW} + many {N_VPW}, one voice many 20, distinct {N_NULL}), "
          f"{time.time() - t0:.0f} s wall", flush=True)
    print("| front end | 1-NN vpw | AUC vpw | true-group score vpw (median) | pass at null q90 / q95 | "
          "pass at 1.1 (nulls below) | P(true group > null's best) | one voice many: 1-NN / pass q90 | segment search applies | CPU per 10 s | "
          "null's best: median / q90 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in names:
        r = rows[n]
        null = np.array(r["null"])
        q90, q95 = np.quantile(null, 0.9), np.quantile(null, 0.95)
        sc = np.array([m["score"] for m in r["vpw"]])
        sc1 = np.array([m["score"] for m in r["one_many"]])
        print(f"| {n} | {np.mean([m['nn'] for m in r['vpw']]):.3f} | {np.mean([m['auc'] for m in r['vpw']]):.3f} | "
              f"{np.median(sc):.2f} | {np.mean(sc > q90):.2f} / {np.mean(sc > q95):.2f} | "
              f"{np.mean(sc > 1.1):.2f} ({np.mean(null < 1.1):.2f}) | "
              f"{((sc[:, None] > null[None, :]) + 0.5 * (sc[:, None] == null[None, :])).mean():.3f} | "
              f"{np.mean([m['nn'] for m in r['one_many']]):.3f} / {np.mean(sc1 > q90):.2f} | "
              f"{np.mean(r['seg']):.2f} | "
              f"{np.median(r['cpu']):.3f} s | {np.median(null):.2f} / {q90:.2f} |", flush=True)


def parse_warps(text: str) -> list[tuple[float, ...]]:
    """'-0.1,0.1;-0.15,0.15' -> [(-0.1, 0.1), (-0.15, 0.15)]; an empty grid ('none') is no stretch."""
    grids = []
    for g in text.split(";"):
        g = g.strip()
        grids.append(() if g in ("", "none") else tuple(float(a) for a in g.split(",")))
    return grids


def lite(names: list, n_null: int = 60, n_pos: int = 20, bar: float | None = None,
         warps: list[tuple[float, ...]] | None = None) -> None:
    """find_group + the bar 1.1 (what find_instances does on speech) on seeds 98xx of the dev pool:
    F1@.5 per condition and nothing found on all-distinct-word recordings (one voice / voice per word).
    With warps, each front end is run once per feature-axis stretch grid (segments.FEATURE_WARPS) on
    the same recordings, and the find_instances CPU per 10 s (median) is reported too."""
    from tenfold import extract
    from tenfold.metrics import interval_f1

    def recs():
        for ci, (cond, vpw, many) in enumerate((("one_few", False, False), ("one_many", False, True),
                                                ("vpw_few", True, False), ("vpw_many", True, True))):
            rng = np.random.default_rng(9800 + ci)
            for _ in range(n_pos):
                rec = B.make_recording(rng, POOL, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
                yield cond, rec.audio, rec.truth, B.ranges(rec.truth)["0.7/1.3"]
        rng = np.random.default_rng(9850)
        for i in range(n_null):
            vpw = bool(i % 2)
            rec = B.make_recording(rng, POOL, 0, voice_per_word=vpw, many=True, distinct_only=True)
            hi = int(rng.integers(40, 90))
            yield ("null_vpw" if vpw else "null_one"), rec.audio, [], (int(0.7 * hi / 1.3), hi)

    grids = warps if warps else [segments.FEATURE_WARPS]
    kept = segments.FEATURE_WARPS
    rows = [(n, g) for n in names for g in grids]
    label = {r: (r[0] if not warps else f"{r[0]} {r[1] or 'none'}") for r in rows}
    res: dict = {r: {} for r in rows}
    cpu: dict = {r: [] for r in rows}
    try:
        for cond, x, truth, (lo, hi) in recs():
            for n in names:
                X = np.asarray(FRONT_ENDS[n](x, SR), np.float64)
                for g in grids:
                    segments.FEATURE_WARPS = () if n in NO_WARP else g
                    c = time.process_time()
                    h = extract.find_instances(X, lo, hi, random_state=0, min_significance=extract.MIN_SIGNIFICANCE,
                                               **({} if bar is None else {"min_group_score": bar}))
                    cpu[(n, g)].append((time.process_time() - c) / (len(x) / SR) * 10)
                    pred = list(zip(h.starts.tolist(), h.ends.tolist()))
                    v = float(len(pred) == 0) if cond.startswith("null") else interval_f1(pred, truth, 0.5)
                    res[(n, g)].setdefault(cond, []).append(v)
    finally:
        segments.FEATURE_WARPS = kept
    conds = ["one_few", "one_many", "vpw_few", "vpw_many", "null_one", "null_vpw"]
    print(f"find_instances (group bar {bar or segments.MIN_SIGNIFICANCE}), dev pool seeds 98xx, {n_pos} per condition, "
          f"{n_null} nulls")
    print("| front end | " + " | ".join(conds) + " | CPU / 10 s |")
    print("|---|" + "---|" * (len(conds) + 1))
    for r in rows:
        print(f"| {label[r]} | " + " | ".join(f"{np.mean(res[r][c]):.2f} ({int(np.sum(res[r][c]))}/{len(res[r][c])})"
                                              if c in res[r] else "-" for c in conds)
              + f" | {np.median(cpu[r]):.3f} s |", flush=True)


def warp_alpha(names: list, n: int = 30) -> None:
    """Which feature-axis stretch brings a word nearest to its repeat by another voice: for n
    voice-per-word recordings with few distractors (seed 9802, dev pool), each ordered pair of true
    instances is compared by DTW (as segments.warped_distances compares) with the first one's axis
    stretched by alpha in -0.3..0.3; prints the share of pairs whose distance is smallest at each alpha."""
    alphas = np.round(np.arange(-0.3, 0.301, 0.05), 3) + 0.0      # + 0.0: no "-0.00"
    for name in names:
        wins = np.zeros(len(alphas))
        rng = np.random.default_rng(9802)
        for _ in range(n):
            rec = B.make_recording(rng, POOL, int(rng.integers(3, 9)), voice_per_word=True, many=False)
            X = np.asarray(FRONT_ENDS[name](rec.audio, SR), np.float64)
            s = np.array([a for a, _ in rec.truth])
            e = np.array([b for _, b in rec.truth])
            base = segments.segment_features(X, s, e)
            D = np.array([segments.dtw_distances(segments.segment_features(X @ segments._axis_warp(a, X.shape[1]).T,
                                                                           s, e), s, e, base, s, e)
                          for a in alphas])
            off = ~np.eye(len(s), dtype=bool)
            np.add.at(wins, D[:, off].argmin(0), 1)
        print(f"{name}: share of same-word pairs ({int(wins.sum())}) nearest at each stretch alpha")
        print("| " + " | ".join(f"{a:+.2f}" for a in alphas) + " |")
        print("|" + "---|" * len(alphas))
        print("| " + " | ".join(f"{w / wins.sum():.2f}" for w in wins) + " |", flush=True)


def _label(md: Path, name: str) -> None:
    """Say in a bench_extract result which front end stood in for the speech recipe."""
    md.write_text(md.read_text().replace("features for tenfold: `speech`",
                                         f"features for tenfold: `speech` recipe with the front end `{name}`"))


def pipeline(name: str, bench_n: int, match_n: int, groups: bool = True, bar: float | None = None,
             sets: str = "dev", suffix: str = "") -> None:
    """dev_extract_groups.py and bench_extract.py's dev set (speech recipe) with this front end
    (suffix: appended to the result files' tag)."""
    fe = FRONT_ENDS[name]
    shim = type("shim", (), {})()
    shim.mfcc = fe
    shim.speech_features = fe
    shim.SPEECH_HOP_S = audio.SPEECH_HOP_S
    G.audio = shim
    if groups:
        print(f"== dev_extract_groups with front end {name}", flush=True)
        G.main(["--bars", "1.0,1.1,1.2"])
    B.audio = shim
    if bar is not None:            # the speech recipe's find() with another group-score bar
        from tenfold import extract as _ex
        B.find = lambda X, lo, hi, recipe, seed: _ex.find_instances(
            X, lo, hi, random_state=seed, min_significance=_ex.MIN_SIGNIFICANCE, min_group_score=bar)
        name = f"{name}_bar{bar:g}"
    name += suffix
    B.bench_gesture = lambda *a, **k: None          # gestures and scaling do not use the front end
    B.bench_gesture_nothing = lambda *a, **k: {}
    B.scaling = lambda *a, **k: []
    outdir = str(Path(__file__).parent / "results" / "speech_front")
    if bench_n:
        print(f"== bench_extract --sets {sets} --recipe speech --no-stumpy --n {bench_n} with front end {name}",
              flush=True)
        B.main(["--sets", sets, "--recipe", "speech", "--no-stumpy", "--n", str(bench_n),
                "--tag", f"speech_front_{sets}_{name}", "--out", outdir])
        _label(Path(outdir) / f"speech_front_{sets}_{name}.md", name)
    if match_n:
        print(f"== bench_extract --match-only --sets {sets} --recipe speech --n {match_n} with front end {name}",
              flush=True)
        B.main(["--match-only", "--sets", sets, "--recipe", "speech", "--n", str(match_n),
                "--tag", f"speech_front_match_{sets}_{name}", "--out", outdir])
        _label(Path(outdir) / f"speech_front_match_{sets}_{name}.md", name)


def evallike(name: str, n: int) -> None:
    """bench_extract_evallike.py's draw (never tuned on) with the front end in place of audio.mfcc; its
    results go to results/speech_front/evallike_<name>/results/ (the committed eval-recipe file is not touched)."""
    import bench_extract_evallike as E
    shim = type("shim", (), {})()
    shim.mfcc = FRONT_ENDS[name]
    E.audio = shim
    where = Path(__file__).parent / "results" / "speech_front" / f"evallike_{name}"
    (where / "results").mkdir(parents=True, exist_ok=True)
    E.__file__ = str(where / "bench_extract_evallike.py")
    sys.argv = ["bench_extract_evallike.py", "--n", str(n), "--no-stumpy"]
    print(f"== bench_extract_evallike --n {n} --no-stumpy with front end {name}", flush=True)
    E.main()
    md = where / "results" / "extract_evallike.md"     # say which features were used
    md.write_text(md.read_text().replace("13 MFCCs (c0 included)", f"the front end `{name}` of dev_speech_front.py"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated front ends (default: all)")
    ap.add_argument("--pipeline", default="", help="run the dev pipeline with this front end instead")
    ap.add_argument("--bench-n", type=int, default=20, help="bench_extract dev recordings per cell (0: skip)")
    ap.add_argument("--match-n", type=int, default=60, help="bench_extract --match-only dev recordings (0: skip)")
    ap.add_argument("--no-groups", action="store_true", help="skip dev_extract_groups")
    ap.add_argument("--evallike", default="", help="run bench_extract_evallike's draw with this front end")
    ap.add_argument("--evallike-n", type=int, default=30)
    ap.add_argument("--sets", default="dev", help="--pipeline: bench_extract's set (heldout: run once, at the end)")
    ap.add_argument("--bar", type=float, default=None, help="--pipeline/--lite: find_instances(min_group_score=)")
    ap.add_argument("--lite", action="store_true", help="find_instances per condition and on nulls, seeds 98xx")
    ap.add_argument("--lite-pos", type=int, default=20, help="--lite: recordings per condition (0: nulls only)")
    ap.add_argument("--lite-nulls", type=int, default=60, help="--lite: all-distinct-word recordings (seed 9850)")
    ap.add_argument("--warp-alpha", action="store_true", help="which stretch brings a word nearest its repeat")
    ap.add_argument("--warps", default="", help="--lite: feature-axis stretch grids to compare, e.g. "
                    "'-0.1,0.1;-0.15,0.15;none' (segments.FEATURE_WARPS per grid); --pipeline: the first grid")
    args = ap.parse_args(argv)
    if args.evallike:
        evallike(args.evallike, args.evallike_n)
        return 0
    if args.pipeline:
        if args.warps:             # one stretch grid in place of segments.FEATURE_WARPS for the whole run
            segments.FEATURE_WARPS = parse_warps(args.warps)[0]
            print(f"segments.FEATURE_WARPS = {segments.FEATURE_WARPS}", flush=True)
        suffix = ("_warp" + "_".join(f"{a:g}" for a in segments.FEATURE_WARPS)) if args.warps else ""
        if args.pipeline in NO_WARP:    # a learned projection: its axis is not a band axis
            segments.FEATURE_WARPS = ()
        pipeline(args.pipeline, args.bench_n, args.match_n, not args.no_groups and args.sets == "dev", args.bar,
                 args.sets, suffix)
        return 0
    names = args.only.split(",") if args.only else list(FRONT_ENDS)
    unknown = set(names) - set(FRONT_ENDS)
    if unknown:
        ap.error(f"unknown front ends {sorted(unknown)}; known: {', '.join(FRONT_ENDS)}")
    if args.warp_alpha:
        warp_alpha(names)
    elif args.lite:
        lite(names, n_null=args.lite_nulls, n_pos=args.lite_pos, bar=args.bar,
             warps=parse_warps(args.warps) if args.warps else None)
    else:
        yardstick(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
