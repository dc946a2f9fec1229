"""A speaker-independent phone posteriorgram from pocketsphinx's US-English acoustic model (issue 14, session 15).

The model (installed with the `pocketsphinx` wheel, `<site-packages>/pocketsphinx/model/en-us/en-us/`)
was trained on real speakers. It is a PTM model: one codebook of 128 diagonal Gaussians per
context-independent phone (42: +NSN+ +SPN+ AA ... SIL ... ZH, in mdef order), in three streams
(13 cepstra, their deltas, their delta-deltas). Here, per frame and per phone codebook: the
log-likelihood of each stream (logsumexp over its 128 Gaussians, with equal weights or, mixw=True,
sendump's weights of the phone's 3 CI senones, then the best senone), summed over the streams, then
a softmax over the 42 phones at a temperature: a 42-dim posteriorgram. Fronts (fronts()) use its
square root (Euclidean = Hellinger) or clipped log, optionally smoothed over +-k frames.

Two routes to the model's cepstra:
  wave  a numpy sphinx-like front end from 16 kHz audio (16-bit scale, pre-emphasis 0.97, 410-sample
        Hamming window every 160 samples, 512-point FFT, 25 triangular mel filters 130-6800 Hz,
        natural log floored at 1e-4, orthonormal DCT-II, lifter 22);
  mfcc  the route a user has: 13 MFCCs of audio.mfcc's convention (40 filters 20-8000 Hz, natural
        log, orthonormal DCT; another n_mels rescales the cepstra and would need SRC_NMELS) ->
        audio.bands_from_mfcc (level kept) on a fine grid -> read at sphinx's 25 filter centres ->
        the same DCT and lifter.
Both: batch CMN (the utterance mean removed), then 1s_c_d_dd deltas.

Result (notes, session 15): not adopted; dev only. Commands (all dev):
    python benchmarks/dev_phones.py --selftest          # vectorised log-likelihoods against a naive loop
    python benchmarks/dev_phones.py --sanity            # argmax phones of a few clean words, CPU
    python benchmarks/dev_phones.py --crosscheck        # against pocketsphinx's own allphone decoding
    python benchmarks/dev_phones.py --check bands,phm_w_sqrt_t2s6_nw [--sets 20]
    python benchmarks/dev_phones.py --yard phm_w_sqrt_t2s6_nw --cache benchmarks/.cache/groups_phm_s6.pkl \
        --extra-nulls 80 --variants kept,adapt_nn_-2.5 --bars 2.925 --select
    python benchmarks/dev_phones.py --hybrid phm_w_sqrt_t2s6_nw   # needs .cache/groups_bnf_bands.pkl
    python benchmarks/dev_phones.py --pairdiag phm_w_sqrt_t2s6_nw # idem
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import cache
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B

from tenfold import audio

SR = B.SR
TEMP = 1.0            # softmax temperature on the summed log-likelihoods (1: the model's own posteriors)
FAST = True           # loglik: one exp shift per frame and stream (see loglik)
MIXW = False          # True: sendump's CI-senone mixture weights (max over a phone's 3 states)


# ----------------------------------------------------------------------------- the model files
def model_dir() -> Path:
    import pocketsphinx
    d = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "en-us"
    if not (d / "means").exists():
        raise FileNotFoundError(f"no pocketsphinx en-us model at {d}")
    return d


def _s3_header(buf: bytes) -> tuple[dict, int]:
    """The ASCII header of a Sphinx-3 binary file: ({key: value}, offset just past 'endhdr\\n')."""
    if not buf.startswith(b"s3\n"):
        raise ValueError("not a Sphinx-3 binary file (no 's3' line)")
    end = buf.index(b"endhdr\n") + len(b"endhdr\n")
    fields = {}
    for line in buf[3:end - len(b"endhdr\n")].decode("ascii").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            fields[parts[0]] = parts[1]
    return fields, end


def read_gauden(path: Path) -> np.ndarray:
    """(codebooks, streams, densities, veclen) float32 from a means / variances file; all sizes checked."""
    buf = path.read_bytes()
    fields, off = _s3_header(buf)
    magic = np.frombuffer(buf, "<u4", 1, off)[0]
    if magic != 0x11223344:
        raise ValueError(f"{path.name}: byte-order magic {magic:#x}, expected little-endian 0x11223344")
    off += 4
    n_cb, n_feat, n_den = np.frombuffer(buf, "<i4", 3, off)
    off += 12
    veclen = np.frombuffer(buf, "<i4", n_feat, off)
    off += 4 * n_feat
    total = int(np.frombuffer(buf, "<i4", 1, off)[0])
    off += 4
    if len(set(veclen.tolist())) != 1 or total != n_cb * n_den * int(veclen.sum()):
        raise ValueError(f"{path.name}: counts do not add up ({n_cb}, {n_feat}, {n_den}, {veclen}, {total})")
    data = np.frombuffer(buf, "<f4", total, off)
    off += 4 * total
    rest = len(buf) - off
    if rest != (4 if fields.get("chksum0") == "yes" else 0):
        raise ValueError(f"{path.name}: {rest} bytes left after the data")
    return data.reshape(int(n_cb), int(n_feat), int(n_den), int(veclen[0])).copy()


def read_phones(path: Path) -> list:
    """The CI phone names from a binary mdef (BMDF): the NUL-separated strings after the counts."""
    buf = path.read_bytes()
    i = buf.index(b"+NSN+")
    names = []
    while len(names) < 42:
        j = buf.index(b"\0", i)
        names.append(buf[i:j].decode("ascii"))
        i = j + 1
    return names


def read_sendump(path: Path, n_streams: int = 3, n_den: int = 128) -> tuple[np.ndarray, list]:
    """Quantised mixture weights (senones, streams, densities) uint8 from pocketsphinx's sendump, and
    its header strings.

    Layout (as read, checked by the byte count): (int32 length, NUL-terminated string) pairs ending
    with length 0; with no cluster_count (or 0): int32 rows (densities), int32 columns (senones); then
    per stream, per density, one byte per senone. A byte q is a weight's -log in base 1.0001 shifted
    right by 10 bits: weight = 1.0001 ** -(q * 1024)."""
    buf = path.read_bytes()
    off = 0
    strings = []
    while True:
        n = int(np.frombuffer(buf, "<i4", 1, off)[0])
        off += 4
        if n == 0:
            break
        strings.append(buf[off:off + n - 1].decode("ascii", "replace"))
        off += n
    clusters = [int(x.split()[1]) for x in strings if x.startswith("cluster_count ")]
    if clusters and clusters[0] != 0:
        raise ValueError(f"sendump: clustered weights ({clusters[0]}) not supported")
    r, c = (int(v) for v in np.frombuffer(buf, "<i4", 2, off))
    off += 8
    if r != n_den or len(buf) - off != n_streams * r * c:
        raise ValueError(f"sendump: rows {r}, columns {c}, {len(buf) - off} bytes for {n_streams} streams")
    q = np.frombuffer(buf, np.uint8, n_streams * r * c, off).reshape(n_streams, r, c)
    return q.transpose(2, 0, 1).copy(), strings


@cache
def model(mixw: bool = False) -> dict:
    """Matrices for the vectorised log-likelihoods: per stream s, A[s] (2 x 13, 42 x 128) so that
    [x**2, x] @ A[s] + b[s] is every Gaussian's log density."""
    d = model_dir()
    mu = read_gauden(d / "means").astype(np.float64)         # (42, 3, 128, 13)
    var = read_gauden(d / "variances").astype(np.float64)
    var = np.maximum(var, 1e-4)
    phones = read_phones(d / "mdef")
    n_cb, n_st, n_den, L = mu.shape
    A, b = [], []
    for s in range(n_st):
        m, v = mu[:, s].reshape(-1, L), var[:, s].reshape(-1, L)    # (42*128, 13)
        A.append(np.vstack([(-0.5 / v).T, (m / v).T]))               # (26, 5376)
        b.append(-0.5 * (np.sum(m * m / v, axis=1) + np.sum(np.log(2 * np.pi * v), axis=1)))
    out = {"A": np.stack(A).astype(np.float32), "b": np.stack(b).astype(np.float32), "phones": phones,
           "shape": (n_cb, n_st, n_den, L), "mu": mu, "var": var}
    if mixw:
        q, _ = read_sendump(d / "sendump")
        # the first 42 x 3 senones are the CI ones (phone p, state k -> senone 3p + k); weight = 1.0001 ** -(q << 10)
        logw = -(q[: n_cb * 3].astype(np.float64) * 1024.0) * np.log(1.0001)     # (126, 3, 128)
        out["logw"] = logw.reshape(n_cb, 3, n_st, n_den).astype(np.float32)
        out["w"] = np.exp(out["logw"].astype(np.float64)).transpose(2, 0, 3, 1).astype(np.float32)   # (stream, phone, density, state)
    return out


# ----------------------------------------------------------------------------- fronts
_mel, _mel_inv = audio._mel, audio._mel_inv       # the HTK mel scale, as audio.log_mel uses it

NFILT, LOWERF, UPPERF, NCEP, LIFTER = 25, 130.0, 6800.0, 13, 22.0
_EDGES = _mel_inv(np.linspace(_mel(LOWERF), _mel(UPPERF), NFILT + 2))


def _dct() -> np.ndarray:
    """(13, 25) orthonormal DCT-II rows times sphinx's lifter 1 + (L/2) sin(pi k / L)."""
    k = np.arange(NCEP)[:, None]
    D = np.cos(np.pi * k * (np.arange(NFILT)[None, :] + 0.5) / NFILT) * np.sqrt(2.0 / NFILT)
    D[0] /= np.sqrt(2.0)
    return D * (1.0 + LIFTER / 2 * np.sin(np.pi * np.arange(NCEP) / LIFTER))[:, None]


def wave_cepstra(a: np.ndarray, sr: int = SR) -> np.ndarray:
    """Sphinx-like liftered cepstra (T, 13) from audio; T as audio.mfcc's frame count (410-sample
    windows at audio.mfcc's frame starts, the signal's end padded by 10 zeros)."""
    assert sr == 16000
    a = np.asarray(a, np.float64) * 32768.0            # sphinx reads 16-bit samples
    a = np.concatenate([a[:1], a[1:] - 0.97 * a[:-1], np.zeros(10)])
    win, hop, nfft = 410, 160, 512
    n = 1 + (len(a) - 10 - 400) // hop
    frames = np.lib.stride_tricks.sliding_window_view(a, win)[::hop][:n] * np.hamming(win)
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    lo, ce, hi = _EDGES[:-2, None], _EDGES[1:-1, None], _EDGES[2:, None]
    bank = np.maximum(0.0, np.minimum((freqs - lo) / (ce - lo), (hi - freqs) / (hi - ce)))
    bank *= 2.0 / (hi - lo)                  # unit area (a constant per filter: CMN removes it anyway)
    return np.log(np.maximum(power @ bank.T, 1e-4)) @ _dct().T   # sphinx's floor on the mel energies


# the evaluator's own mel axis: audio.mfcc's (40 filters 20-8000 Hz) is what the benchmark uses; a
# user's MFCCs with another range would shift these positions a little
SRC_NMELS, SRC_FMIN, SRC_FMAX = 40, 20.0, 8000.0
FINE = 200


def mfcc_cepstra(C: np.ndarray, warp: float = 1.0) -> np.ndarray:
    """Sphinx-like cepstra (T, 13) from 13 MFCCs (c0 first) of the audio.mfcc convention, through
    audio.bands_from_mfcc (level kept) evaluated on a fine grid and read at sphinx's filter centres."""
    # (T, FINE) at u = (j + 0.5) / FINE; bands_from_mfcc's orthonormal weights for FINE points scale the
    # log energies by sqrt(SRC_NMELS / FINE) against the source's own SRC_NMELS filters: undone here
    V = audio.bands_from_mfcc(C, n_bands=FINE, drop_c0=False) * np.sqrt(FINE / SRC_NMELS)
    # mel of source filter i's centre: m_lo + (i + 1) * step; the DCT's position u = (i + 0.5) / n_mels
    m_lo, m_hi = _mel(SRC_FMIN), _mel(SRC_FMAX)
    step = (m_hi - m_lo) / (SRC_NMELS + 1)
    centres = _mel(np.clip(_EDGES[1:-1] * warp, SRC_FMIN, SRC_FMAX))   # warp > 1 reads higher frequencies
    u = ((centres - m_lo) / step - 1.0 + 0.5) / SRC_NMELS
    grid = (np.arange(FINE) + 0.5) / FINE
    W = np.zeros((FINE, NFILT))                  # linear interpolation as a matrix
    for j, uj in enumerate(u):
        k = np.clip(np.searchsorted(grid, uj) - 1, 0, FINE - 2)
        t = np.clip((uj - grid[k]) / (grid[k + 1] - grid[k]), 0.0, 1.0)
        W[k, j], W[k + 1, j] = 1.0 - t, t
    return (V @ W) @ _dct().T


def streams(cep: np.ndarray) -> np.ndarray:
    """Batch CMN then 1s_c_d_dd: (3, T, 13): c, d[t] = c[t+2] - c[t-2], dd[t] = d'[t+1] - d'[t-1] with
    d'[t] = c[t+2] - c[t-2] (so dd[t] = (c[t+3] - c[t-1]) - (c[t+1] - c[t-3])); edges repeat the first/last row."""
    c = cep - cep.mean(axis=0)
    T = len(c)
    p = np.concatenate([np.repeat(c[:1], 3, 0), c, np.repeat(c[-1:], 3, 0)])    # p[t + 3] = c[t]
    d = p[5:5 + T] - p[1:1 + T]
    dd = (p[6:6 + T] - p[2:2 + T]) - (p[4:4 + T] - p[0:0 + T])
    return np.stack([c, d, dd])


def loglik(S: np.ndarray, mixw: bool = False, senones: bool = False) -> np.ndarray:
    """(T, 42) per phone: sum over streams of logsumexp over its 128 Gaussians (equal weights 1/128),
    or with mixw the max over the phone's 3 CI senones of their weighted sums."""
    M = model(mixw)
    n_cb, n_st, n_den, _ = M["shape"]
    T = S.shape[1]
    S = S.astype(np.float32)
    per = []
    for s in range(n_st):
        G = np.hstack([S[s] * S[s], S[s]]) @ M["A"][s] + M["b"][s]         # (T, 5376)
        per.append(G.reshape(T, n_cb, n_den))
    if not mixw:
        out = np.zeros((T, n_cb), np.float64)
        for G in per:
            mx = G.max(axis=2)
            out += mx + np.log(np.exp(G - mx[:, :, None]).sum(axis=2)) - np.log(n_den)
        return out
    # weighted: per stream, logsumexp_k(G_k + log w_k) = mx + log(sum_k exp(G_k - mx) w_k), the sum
    # for the phone's 3 CI senones at once as a batched matmul with the (phone, density, state) weights
    W = M["w"]
    sen = np.zeros((T, n_cb, 3), np.float64)
    if FAST:
        # one shift per frame (its best Gaussian of the stream) instead of one per frame and phone:
        # a phone whose every Gaussian is > ~87 nats below that best underflows in float32 and is
        # floored (its posterior is nil at any temperature used here)
        for s, G in enumerate(per):
            G2 = G.reshape(T, -1)
            mx = G2.max(axis=1)
            E = np.exp(G2 - mx[:, None]).reshape(T, n_cb, n_den).transpose(1, 0, 2)   # (42, T, 128)
            sen += mx[:, None, None] + np.log(np.maximum(np.matmul(E, W[s]), 1e-37)).transpose(1, 0, 2)
        return sen.reshape(T, -1) if senones else sen.max(axis=2)
    for s, G in enumerate(per):
        mx = G.max(axis=2)
        E = np.exp(G - mx[:, :, None])                                   # (T, 42, 128) float32
        sen += mx[:, :, None] + np.log(np.maximum(np.einsum("tpk,pkj->tpj", E, W[s]), 1e-30))
    return sen.reshape(T, -1) if senones else sen.max(axis=2)


def posteriors(ll: np.ndarray, temp: float = TEMP) -> np.ndarray:
    z = ll / temp
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def post_mfcc_sen(a, temp=1.0):
    """(T, 126) CI-senone posteriors (3 states per phone) through the mfcc route, mixture weights on."""
    return posteriors(loglik(streams(mfcc_cepstra(audio.mfcc(a, SR))), True, senones=True), temp)


def ll_mfcc(a, scale=10.0):
    """Per-frame log-likelihoods of the 42 phones (mixture weights on), each frame's mean removed, / scale."""
    ll = loglik(streams(mfcc_cepstra(audio.mfcc(a, SR))), True)
    return (ll - ll.mean(axis=1, keepdims=True)) / scale


def post_mfcc_warpmax(a, temp=2.0, warps=(0.88, 1.0, 1.12)):
    """Per frame and phone the best log-likelihood over a few frequency warps of the filter centres
    (a crude per-frame vocal tract length normalisation), then posteriors."""
    C = audio.mfcc(a, SR)
    ll = np.max([loglik(streams(mfcc_cepstra(C, w)), True) for w in warps], axis=0)
    return posteriors(ll, temp)


def speech_only(P: np.ndarray) -> np.ndarray:
    """The 39 speech phones' columns (SIL, +NSN+, +SPN+ dropped), renormalised per frame."""
    ph = model()["phones"]
    keep = [i for i, p in enumerate(ph) if p not in ("SIL", "+NSN+", "+SPN+")]
    Q = P[:, keep]
    return Q / np.maximum(Q.sum(axis=1, keepdims=True), 1e-12)


def smooth(P: np.ndarray, k: int = 2) -> np.ndarray:
    """Moving average over +-k frames (edges repeated)."""
    Q = np.concatenate([np.repeat(P[:1], k, 0), P, np.repeat(P[-1:], k, 0)])
    c = np.cumsum(np.vstack([np.zeros((1, P.shape[1])), Q]), axis=0)
    return (c[2 * k + 1:] - c[:-2 * k - 1]) / (2 * k + 1)


def post_wave(a, temp=None, mixw=None):
    return posteriors(loglik(streams(wave_cepstra(a)), MIXW if mixw is None else mixw), TEMP if temp is None else temp)


def post_mfcc(a, temp=None, mixw=None):
    C = audio.mfcc(a, SR)
    return posteriors(loglik(streams(mfcc_cepstra(C)), MIXW if mixw is None else mixw), TEMP if temp is None else temp)


def sqrt_feats(P: np.ndarray) -> np.ndarray:
    return np.sqrt(P)


def log_feats(P: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    return np.log(np.maximum(P, floor))


def fronts() -> dict:
    """{name: fn(audio) -> features}; names ending in _nw run without the feature-axis stretch."""
    import dev_extract_groups as G
    return {
        "bands": G.FRONTS["bands"],
        "ph_sqrt_nw": lambda a: sqrt_feats(post_wave(a)),
        "ph_w_sqrt_nw": lambda a: sqrt_feats(post_wave(a, mixw=True)),
        "phm_sqrt_nw": lambda a: sqrt_feats(post_mfcc(a)),
        "phm_w_sqrt_nw": lambda a: sqrt_feats(post_mfcc(a, mixw=True)),
        "phm_w_sqrt_t2_nw": lambda a: sqrt_feats(post_mfcc(a, temp=2.0, mixw=True)),
        "phm_w_sqrt_t05_nw": lambda a: sqrt_feats(post_mfcc(a, temp=0.5, mixw=True)),
        "phm_w_log_nw": lambda a: log_feats(post_mfcc(a, mixw=True)),
        "phm_w_sqrt_t3_nw": lambda a: sqrt_feats(post_mfcc(a, temp=3.0, mixw=True)),
        "phm_w_sqrt_t5_nw": lambda a: sqrt_feats(post_mfcc(a, temp=5.0, mixw=True)),
        "phm_w_sqrt_t2s_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True))),
        "phm_sen_sqrt_t2_nw": lambda a: sqrt_feats(post_mfcc_sen(a, temp=2.0)),
        "phm_ll_nw": lambda a: ll_mfcc(a),
        "phm_w_sqrt_t2s4_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True), 4)),
        "phm_w_sqrt_t3s_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=3.0, mixw=True))),
        "phm_w_sqrt_t1s_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=1.0, mixw=True))),
        "phm_wm_sqrt_t2s_nw": lambda a: sqrt_feats(smooth(post_mfcc_warpmax(a, temp=2.0))),
        "phm_wm_sqrt_t2_nw": lambda a: sqrt_feats(post_mfcc_warpmax(a, temp=2.0)),
        "phm_w_sqrt_t2s6_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True), 6)),
        "phm_w_sqrt_t2s8_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True), 8)),
        "phm_w_sqrt_t15s4_nw": lambda a: sqrt_feats(smooth(post_mfcc(a, temp=1.5, mixw=True), 4)),
        "bands_s2": lambda a: smooth(G.FRONTS["bands"](a), 2),
        "bands_s4": lambda a: smooth(G.FRONTS["bands"](a), 4),
        "phm_w_sp_sqrt_t2s6_nw": lambda a: sqrt_feats(speech_only(smooth(post_mfcc(a, temp=2.0, mixw=True), 6))),
        "bands_phs6": lambda a: np.hstack([G.FRONTS["bands"](a), sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True), 6))]),
        "bands_phs6x3": lambda a: np.hstack([G.FRONTS["bands"](a), 3 * sqrt_feats(smooth(post_mfcc(a, temp=2.0, mixw=True), 6))]),
        "ph_w_sqrt_t2s6_nw": lambda a: sqrt_feats(smooth(post_wave(a, temp=2.0, mixw=True), 6)),
        "bands_phm": lambda a: np.hstack([G.FRONTS["bands"](a), sqrt_feats(post_mfcc(a, temp=2.0, mixw=True))]),
        "bands_phm_nw": lambda a: np.hstack([G.FRONTS["bands"](a), sqrt_feats(post_mfcc(a, temp=2.0, mixw=True))]),
    }


# ----------------------------------------------------------------------------- sanity
SANITY_WORDS = ["seven", "zero", "banana", "yellow", "music", "window"]


def sanity() -> None:
    M = model()
    ph = M["phones"]
    print("phones:", " ".join(ph))
    voices = [("espeak", "en-us"), ("espeak", "en-gb-x-rp+f1"), ("flite", "kal16"), ("flite", "awb")]
    for w in SANITY_WORDS:
        for v in voices:
            a = B.say(w, v, 1.0, 0)
            a = np.concatenate([np.zeros(1600), np.asarray(a, np.float64), np.zeros(1600)])
            a = a + np.random.default_rng(0).normal(scale=0.003, size=len(a))
            for route, f in (("wave", post_wave), ("mfcc", post_mfcc)):
                P = f(a)
                seq = [ph[i] for i in P.argmax(axis=1)]
                comp = [x for i, x in enumerate(seq) if i == 0 or x != seq[i - 1]]
                print(f"{w:8s} {v[0]}:{v[1]:12s} {route}: {' '.join(comp)}")
    a = np.random.default_rng(1).normal(scale=0.1, size=SR * 10)
    for route, f in (("wave", lambda x: post_wave(x)), ("mfcc", lambda x: post_mfcc(x))):
        f(a)
        t0 = time.process_time()
        for _ in range(3):
            f(a)
        print(f"CPU per 10 s, {route} route (features + posteriors): {(time.process_time() - t0) / 3:.3f} s")
    C = audio.mfcc(a, SR)
    t0 = time.process_time()
    for _ in range(3):
        S = streams(mfcc_cepstra(C))
    t1 = time.process_time()
    for _ in range(3):
        loglik(S)
    t2 = time.process_time()
    print(f"  of which cepstra+streams {(t1 - t0) / 3:.3f} s, log-likelihoods {(t2 - t1) / 3:.3f} s")


def selftest() -> None:
    """The vectorised log-likelihoods (both weightings, exact and FAST) against a naive per-frame loop."""
    global FAST
    rng = np.random.default_rng(0)
    S = streams(wave_cepstra(rng.normal(scale=0.05, size=SR * 2)))
    mu, var = model(True)["mu"], model(True)["var"]
    logw = model(True)["logw"].astype(np.float64)
    frames = np.arange(0, S.shape[1], 23)
    for mixw in (False, True):
        ref = np.zeros((len(frames), 42))
        for r, t in enumerate(frames):
            for p in range(42):
                states = []
                for j in range(3 if mixw else 1):
                    tot = 0.0
                    for st in range(3):
                        v = -0.5 * np.sum((S[st, t] - mu[p, st]) ** 2 / var[p, st] + np.log(2 * np.pi * var[p, st]), axis=1)
                        v = v + (logw[p, j, st] if mixw else -np.log(128))
                        tot += v.max() + np.log(np.exp(v - v.max()).sum())
                    states.append(tot)
                ref[r, p] = max(states)
        for fast in (False, True):
            FAST = fast
            got = loglik(S, mixw)[frames]
            print(f"mixw {mixw}, fast {fast}: max |vectorised - naive| {np.abs(got - ref).max():.2e} "
                  f"(values ~{np.abs(ref).mean():.0f})")
    FAST = True


def crosscheck() -> None:
    """Frame agreement of this front's argmax phone with pocketsphinx's own allphone decoding (its CD
    models and phone-loop search) of the same audio: 10 words x 4 dev voices, speech frames only."""
    import pocketsphinx as ps
    mp = ps.get_model_path()
    ph = model()["phones"]
    words = ["seven", "zero", "yellow", "music", "window", "banana", "orange", "purple", "table", "garden"]
    voices = [("espeak", "en-us"), ("espeak", "en-gb-x-rp+m3"), ("flite", "kal16"), ("flite", "awb")]
    agree: dict = {k: [] for k in ("wave", "mfcc", "wave, mixture weights", "mfcc, mixture weights")}
    same, corr = [], []
    for w in words:
        for v in voices:
            a = np.asarray(B.say(w, v, 1.0, 0), np.float64)
            a = np.concatenate([np.zeros(3200), a, np.zeros(3200)])
            a = a + np.random.default_rng(0).normal(scale=0.003, size=len(a))
            d = ps.Decoder(hmm=os.path.join(mp, "en-us/en-us"), allphone=os.path.join(mp, "en-us-phone.lm.bin"),
                           lm=None, samprate=16000, loglevel="FATAL", beam=1e-20, pbeam=1e-20, lw=2.0)
            d.start_utt()
            d.process_raw((a * 32767).astype(np.int16).tobytes(), full_utt=True)
            d.end_utt()
            Ps = {"wave": post_wave(a, 1.0, False), "mfcc": post_mfcc(a, 1.0, False),
                  "wave, mixture weights": post_wave(a, 1.0, True), "mfcc, mixture weights": post_mfcc(a, 1.0, True)}
            lab = np.full(len(Ps["wave"]), -1)
            for sg in d.seg():
                if sg.word in ph:
                    lab[sg.start_frame:sg.end_frame + 1] = ph.index(sg.word)
            sp = (lab >= 0) & (lab != ph.index("SIL"))
            for k, Q in Ps.items():
                agree[k].append(float(np.mean(Q.argmax(1)[sp] == lab[sp])))
            same.append(float(np.mean(Ps["wave"].argmax(1) == Ps["mfcc"].argmax(1))))
            corr.append(float(np.corrcoef(np.sqrt(Ps["wave"]).ravel(), np.sqrt(Ps["mfcc"]).ravel())[0, 1]))
    print(f"{len(same)} utterances ({len(words)} words x {len(voices)} dev voices), temperature 1")
    print("| posteriors | argmax = pocketsphinx allphone's phone (speech frames) |\n|---|---|")
    for k, v in agree.items():
        print(f"| {k} | {np.mean(v):.3f} |")
    print(f"wave vs mfcc route (equal weights): argmax agreement {np.mean(same):.3f}, "
          f"correlation of sqrt posteriors {np.mean(corr):.3f}")


def pair_diagnostic(name: str) -> None:
    """On the bands front's own segments of every dev-draw recording with a target (its cache, as
    --hybrid reads it): per recording, the AUC of a true instance's distance to another true
    instance against its distance to a non-instance segment, and the share of true instances whose
    nearest segment is another instance, with D from bands (cached) and from front `name`."""
    import pickle

    import dev_bnf
    import dev_extract_groups as G

    from tenfold import segments
    sys.modules["__main__"].Case = G.Case
    with open(dev_bnf.CACHE.parent / "groups_bnf_bands.pkl", "rb") as fh:
        recs, _ = pickle.load(fh)
    f = fronts()[name]
    kept = segments.FEATURE_WARPS
    if name.endswith("_nw"):
        segments.FEATURE_WARPS = ()
    out: dict = {}
    for rec, (_, cond, a_X, _, _, _) in zip(recs, dev_bnf._draw_audio()):
        assert rec["cond"] == cond
        c = rec["case"]
        if cond == "distinct" or rec["fixed"] is not None or not len(c.s):
            continue
        inst = []
        for t0, t1 in rec["truth"]:
            iou = [max(0, min(e, t1) - max(s0, t0)) / (max(e, t1) - min(s0, t0)) for s0, e in zip(c.s, c.e)]
            if max(iou) >= 0.5:
                inst.append(int(np.argmax(iou)))
        inst = sorted(set(inst))
        if len(inst) < 2:
            continue
        other = np.setdiff1d(np.arange(len(c.s)), inst)
        X = np.asarray(f(a_X), np.float64)
        for tag, D in (("bands", c.D), (name, segments.warped_distances(X, c.s, c.e))):
            aucs, nn = [], []
            for i in inst:
                pos = [D[i, j] for j in inst if j != i]
                neg = D[i, other]
                aucs.append(np.mean([(p < neg).mean() + 0.5 * (p == neg).mean() for p in pos]))
                d = D[i].copy()
                d[i] = np.inf
                nn.append(int(np.argmin(d)) in inst)
            out.setdefault((cond, tag), []).append((np.mean(aucs), np.mean(nn)))
    segments.FEATURE_WARPS = kept
    print(f"true instances on the bands front's segments (IoU >= .5), dev draws bdev/dev/wide pooled; front {name}")
    print("| condition | front | recordings | AUC instance-instance vs instance-other (mean of recordings) | nearest segment an instance |")
    print("|---|---|---|---|---|")
    for (cond, tag), v in out.items():
        v = np.array(v)
        print(f"| {cond} | {tag} | {len(v)} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} |")


def add_yardstick_args(ap: argparse.ArgumentParser) -> None:
    """The options run_yardsticks reads (shared with dev_phdec.py)."""
    ap.add_argument("--check", default="")
    ap.add_argument("--sets", type=int, default=20)
    ap.add_argument("--yard", default="")
    ap.add_argument("--hybrid", default="")


def run_yardsticks(args, rest: list, fronts) -> int:
    """--check, --yard and --hybrid with the fronts `fronts()` (shared with dev_phdec.py); `_nw`
    names run without the feature-axis stretch. --yard hands the rest of the arguments to
    dev_extract_groups."""
    from tenfold import segments
    if args.check:
        import dev_cae
        dev_cae.fronts = fronts
        dev_cae.check(args.check.split(","), args.sets)
    if args.yard:
        import dev_extract_groups as G
        G.FRONTS[args.yard] = fronts()[args.yard]
        if args.yard.endswith("_nw"):
            segments.FEATURE_WARPS = ()
        return G.main(["--front", args.yard, *rest])
    if args.hybrid:
        import dev_bnf
        dev_bnf.front = lambda name: fronts()[name]
        if args.hybrid.endswith("_nw"):
            segments.FEATURE_WARPS = ()
        dev_bnf.hybrid(args.hybrid, ["kept", "adapt_nn_-2.5"])
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sanity", action="store_true")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--crosscheck", action="store_true", help="against pocketsphinx's allphone decoding")
    add_yardstick_args(ap)
    ap.add_argument("--match", default="", help="fronts: match() F1 on dev_match_cands' dev pairs and null pairs "
                    "(dev_cae.match_check)")
    ap.add_argument("--match-n", type=int, default=60)
    ap.add_argument("--pairdiag", default="", help="a front: pair separation on the bands front's segments")
    args, rest = ap.parse_known_args(argv)
    if args.selftest:
        selftest()
    if args.sanity:
        sanity()
    if args.crosscheck:
        crosscheck()
    if args.match:
        import dev_cae
        dev_cae.fronts = fronts
        dev_cae.match_check(args.match.split(","), args.match_n)
    if args.pairdiag:
        pair_diagnostic(args.pairdiag)
    return run_yardsticks(args, rest, fronts)


if __name__ == "__main__":
    sys.exit(main())
