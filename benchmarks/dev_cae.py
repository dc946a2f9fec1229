"""A learned contrastive frame embedding across voices for the speech path (issue 14, session 14): dev voices only.

Idea (in the spirit of the correspondence autoencoder / Siamese frame embeddings of zero-resource
speech): learn, offline, a small nonlinear map of a frame and its +-CONTEXT neighbours such that a
frame of one word said by one voice lands near the DTW-aligned frame of the SAME word said by
ANOTHER voice, and far from frames of OTHER words said by the SAME voice (the near outsiders of a
one-voice all-distinct-word null, where session 12's linear map failed) and from random frames.

Run-time input: 13 MFCCs per 10 ms frame (c0 included, as the evaluation gives them), each
coefficient standardised over the series (mean and sd over all its frames: a per-coefficient
lifter or gain of another MFCC implementation cancels exactly), +-CONTEXT frames stacked (edge
rows repeated), then an MLP (2 hidden ReLU layers) and an L2-normalised output of OUT_DIM.

Training data (all generated here with bench_extract.say, cached audio):
  words   TRAIN_WORDS below (>= 300 common English words), asserted disjoint from bench_extract.WORDS
          (the target words of every dev and held-out draw stay unseen);
  voices  TRAIN_POOL = DEV_SPEAKERS + WIDE_EXTRA + EXTRA_VOICES (more espeak-ng variants of the dev
          languages), asserted to contain no held-out speaker, language, variant or engine;
  seeds   96xx (no other script uses them).
Each word is said by VOICES_PER_WORD voices; the utterances are shuffled into pseudo-recordings of
~10 words with the benchmark's pauses and noise, so the per-series standardisation sees what it sees
at run time. Positives: frames aligned by DTW between two voices' utterances of one word.
Negatives: HARD_NEG frames of other words by the anchor's voice, and every other positive of the batch
(InfoNCE, temperature TAU).

    python benchmarks/dev_cae.py --train                 # writes results/cae/cae_v2.npz (see --weights)
    python benchmarks/dev_cae.py --check bands,cae,cae_nw [--sets 30]
    python benchmarks/dev_cae.py --yard cae [--nowarp] [dev_extract_groups args...]
"""

from __future__ import annotations

import argparse
import hashlib
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
from dev_speaker_proj import dtw_path

from tenfold import audio, segments

SR = B.SR
OUT = Path(__file__).parent / "results" / "cae"
WEIGHTS = OUT / "cae_v2.npz"   # the weights every table of the notes was measured with
SEED = 9600              # 96xx: used by no other script
CHECK_SEED = 9650
CONTEXT = 4              # +-frames stacked around each frame
HIDDEN = 256
OUT_DIM = 32
TAU = 0.1                # InfoNCE temperature (cosine similarities)
HARD_NEG = 16            # negatives per anchor: frames of other words by the anchor's voice
PAUSE_NEG = 4            # ... and frames of the pauses between words
VOICES_PER_WORD = 6

TRAIN_WORDS = """
about above across action afraid after again against almost alone along always amount animal
answer anyone around arrive artist autumn award baby back badge baker balance ball banana band
bank barrel beach beautiful because become bedroom before begin behind belief below bench berry
better between beyond bicycle birthday biscuit black blossom board body border borrow bottom
bounce branch bread breakfast breath brick bright broken brother brown buffalo builder busy
cabin cactus calendar camel canal canvas captain carbon careful carrot cattle ceiling center
chair chapter charcoal cheese cherry chimney chocolate church city classic clever climate clock
closet cloudy coffee collar colour comet common copper corner country courage cousin cover crayon
credit cricket crystal culture curtain custom daily damage dancer danger daughter decide deep
degree dentist design detail diamond different digital dinosaur direct distant divide dollar
donkey double dozen drawer dream dresser early earth easy echo edge eagle eight eleven empty
energy enough equal evening every exact example expert fabric factory family famous farmer
father favour fellow fever field fifty final follow football fountain fourteen freedom friday
fresh friend frozen future gallery garlic gentle giant ginger giraffe glacier glass global
golden goodbye gravel green ground guest habit handle happy harvest heavy hello hidden history
hockey holiday honey horizon hospital hotel hundred hunter husband iceberg idea igloo income
insect invite iron jelly jewel journey jungle justice kangaroo kennel kingdom kitten knowledge
ladybug language laptop large laughter lawyer leather letter level liberty library lion liquid
little lizard lobster lonely lucky lunch machine mango manner maple master meeting melon member
message metal middle minute mission mobile modern moment monday money monster morning mother
mountain muffin museum music narrow nation nature nephew nervous never noodle normal north
number nurse oatmeal object october olive onion open option orchard oven owner oyster package
paddle palace panda panel parade parent party pasta pattern peanut people perfect person
picture pigeon pilot pirate pizza plastic player pleasant plenty poem police popcorn portrait
powder present pretty prince problem promise public pumpkin purple quarter question quiet
raccoon radio rainbow random reason record remote repair rescue ribbon robot rubber
ruler runner sailor sandwich saturday scissors second secret shelter shoulder silent
simple singer sixty sleepy slowly smoke snowman soccer soldier sorry sound spinach sport spring
square stable stomach story strange street student subject sudden sunday sunset supper surface
sweater swimmer system teacher temple tennis thirty thousand ticket timber toast today toffee
tonight total tower tractor traffic travel treasure triangle trouble trumpet tuesday tulip
twenty umbrella uncle under unicorn useful vacuum valley vanilla vegetable victory violin
visit volcano waffle waiter wallet walrus weather wedding welcome western whisper whistle willow
winner wonder wooden yogurt young zipper
""".split()

EXTRA_VOICES = [("espeak", f"{lang}{var}") for lang in ("en-us", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd")
                for var in ("+m4", "+m6", "+m7", "+f5", "+klatt2", "+klatt4", "+Andy", "+Annie", "+Steph",
                            "+Gene", "+m1", "+f1")]
HELDOUT_LANGS = ("en", "en-gb-scotland", "en-us-nyc", "en-gb-x-gbclan")
HELDOUT_VARIANTS = ("+m2", "+m5", "+f2", "+f4")


def left_out(spk: tuple) -> bool:
    """The voices --leave-out keeps out of training (a dev-only test of unseen voices): every en-029
    espeak-ng voice and flite awb."""
    return spk == ("flite", "awb") or (spk[0] == "espeak" and spk[1].startswith("en-029"))


LEAVE_OUT = False
AUGMENT = False          # --augment: mel-axis warps and tilts of every training utterance
AUG_WARP = (0.85, 1.15)
AUG_TILT = (-1.0, 1.0)
N_MELS = 40              # audio.mfcc's default
CHECK_POOL = "all"


def train_pool() -> list:
    """DEV_SPEAKERS + WIDE_EXTRA + EXTRA_VOICES (deduplicated), checked against everything held out;
    with LEAVE_OUT, without the left_out() voices."""
    pool = list(dict.fromkeys(B.DEV_SPEAKERS + G.WIDE_EXTRA + EXTRA_VOICES))
    if LEAVE_OUT:
        pool = [s for s in pool if not left_out(s)]
    assert not set(pool) & set(B.HELDOUT_SPEAKERS)
    for eng, v in pool:
        assert eng in ("espeak", "flite"), (eng, v)
        if eng == "flite":
            assert v not in ("rms", "slt", "kal"), v
        else:
            lang, _, var = v.partition("+")
            assert lang not in HELDOUT_LANGS, v
            assert f"+{var}" not in HELDOUT_VARIANTS, v
    return pool


def check_words() -> None:
    assert len(TRAIN_WORDS) >= 300, len(TRAIN_WORDS)
    assert len(set(TRAIN_WORDS)) == len(TRAIN_WORDS), "duplicate training words"
    assert not set(TRAIN_WORDS) & set(B.WORDS), sorted(set(TRAIN_WORDS) & set(B.WORDS))


# ----------------------------------------------------------------------------- the front end (numpy)
def standardise(C: np.ndarray) -> np.ndarray:
    """Each column to mean 0, sd 1 over the series (a constant column becomes 0)."""
    C = np.asarray(C, np.float64)
    sd = C.std(axis=0)
    return (C - C.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)


def stack_context(Z: np.ndarray, k: int = CONTEXT) -> np.ndarray:
    """(n, d) -> (n, (2k+1) d): rows t-k..t+k side by side, edge rows repeated."""
    P = np.pad(Z, ((k, k), (0, 0)), mode="edge")
    n = len(Z)
    return np.hstack([P[i:i + n] for i in range(2 * k + 1)])


def embed(mfccs: np.ndarray, W: dict) -> np.ndarray:
    """13 MFCCs (frames x 13, c0 first) -> (frames, OUT_DIM) L2-normalised embedding."""
    H = stack_context(standardise(mfccs), int(W["context"]))
    H = np.maximum(H @ W["w0"] + W["b0"], 0.0)
    H = np.maximum(H @ W["w1"] + W["b1"], 0.0)
    E = H @ W["w2"] + W["b2"]
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


GATE_DIMS = 4            # constant dims carrying the activity gate (the segment search finds events with them)
GATE_SLOPE = 4.0         # gate = sigmoid(GATE_SLOPE x (standardised c0 - GATE_LEVEL))
GATE_LEVEL = -0.5


def gated(mfccs: np.ndarray, W: dict) -> np.ndarray:
    """The embedding times an activity gate from the frame's standardised level c0, and GATE_DIMS
    columns holding the gate itself: pauses go to the origin, speech to the gated sphere, so that
    segments.segment_activity sees a background (on the bare embedding it finds none: speech
    frames spread over the whole sphere and two-means explains too little variance)."""
    z0 = standardise(mfccs)[:, :1]
    g = 1.0 / (1.0 + np.exp(-GATE_SLOPE * (z0 - GATE_LEVEL)))
    return np.hstack([g * embed(mfccs, W), np.repeat(g, GATE_DIMS, axis=1)])


_W: dict = {}


def weights(path: Path | None = None) -> dict:
    path = WEIGHTS if path is None else path
    if str(path) not in _W:
        _W[str(path)] = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in np.load(path).items()}
    return _W[str(path)]


def cae_front(a: np.ndarray, sr: int = SR, **mfcc_kw) -> np.ndarray:
    return embed(audio.mfcc(a, sr, **mfcc_kw), weights())


# ----------------------------------------------------------------------------- training data
def say_any(rng, w: str, spk: tuple) -> np.ndarray:
    return B.say(w, spk, float(rng.choice(B.SPEEDS)), int(rng.choice(B.PITCHES)))


def pseudo_recordings(rng, pool: list, words: list, per_word: int, per_rec: int = 10):
    """Each word said by per_word distinct voices, shuffled into recordings of ~per_rec words (the
    benchmark's pauses and light noise); yields (mfcc of the recording, [(word, voice, start, end)])."""
    items = []
    for w in words:
        for vi in rng.choice(len(pool), per_word, replace=False):
            items.append((w, pool[int(vi)]))
    order = rng.permutation(len(items))
    items = [items[i] for i in order]
    for r0 in range(0, len(items), per_rec):
        x, marks = _speak(rng, items[r0:r0 + per_rec])
        yield audio.log_mel(x, SR, n_mels=N_MELS), marks


def augment(L: np.ndarray, marks: list, rng) -> np.ndarray:
    """Each utterance's log mel rows warped along the mel axis by a random factor (vocal tract
    length: band j reads band j x alpha, alpha in AUG_WARP) and tilted (a line over the bands
    from -t to +t natural-log units, t in AUG_TILT); pauses untouched."""
    L = L.copy()
    j = np.arange(L.shape[1], dtype=np.float64)
    for _, _, s0, e0 in marks:
        alpha = rng.uniform(*AUG_WARP)
        tilt = rng.uniform(*AUG_TILT)
        seg = L[s0:e0]
        src = np.clip(j * alpha, 0, L.shape[1] - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, L.shape[1] - 1)
        fr = src - lo
        L[s0:e0] = seg[:, lo] * (1 - fr) + seg[:, hi] * fr + tilt * (2 * j / (L.shape[1] - 1) - 1)
    return L


def build_data(seed: int = SEED) -> dict:
    """Context-stacked input rows of every pseudo-recording, and index arrays: positive pairs (rows of
    one word by two voices, DTW-aligned), each row's voice id and word id (-1: a pause)."""
    check_words()
    pool = train_pool()
    rng = np.random.default_rng(seed)
    rows, voice, word = [], [], []
    spans = {}                              # word -> [(voice id, first row, last row + 1)]
    off = 0
    widx = {w: i for i, w in enumerate(TRAIN_WORDS)}
    vidx = {v: i for i, v in enumerate(pool)}
    dct = audio._dct_rows(13, N_MELS)
    for L, marks in pseudo_recordings(rng, pool, TRAIN_WORDS, VOICES_PER_WORD):
        if AUGMENT:
            L = augment(L, marks, rng)
        C = L @ dct.T                          # = audio.mfcc(x, SR) without augmentation
        H = stack_context(standardise(C))
        n = len(H)
        wv = np.full(n, -1)
        vv = np.full(n, -1)
        for w, spk, s, e in marks:
            e = min(e, n)
            wv[s:e] = widx[w]
            vv[s:e] = vidx[spk]
            spans.setdefault(w, []).append((vidx[spk], off + s, off + e))
        rows.append(H)
        word.append(wv)
        voice.append(vv)
        off += n
    X = np.vstack(rows).astype(np.float32)
    word_id = np.concatenate(word)
    voice_id = np.concatenate(voice)
    d = X.shape[1] // (2 * CONTEXT + 1)
    centre = X[:, CONTEXT * d:(CONTEXT + 1) * d]
    pa, pb = [], []
    for w, sp in spans.items():
        for i in range(len(sp)):
            for j in range(i + 1, len(sp)):
                (va, sa, ea), (vb, sb, eb) = sp[i], sp[j]
                if va == vb or ea - sa < 3 or eb - sb < 3:
                    continue
                ii, jj = dtw_path(centre[sa:ea, 1:], centre[sb:eb, 1:])
                pa.append(sa + ii)
                pb.append(sb + jj)
    return {"X": X, "word": word_id, "voice": voice_id, "pa": np.concatenate(pa), "pb": np.concatenate(pb),
            "n_voices": np.int64(len(pool))}


def train(steps: int = 4000, batch: int = 512, seed: int = SEED) -> None:
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    aug = f"_aug{AUG_WARP[0]:g}-{AUG_WARP[1]:g}-{AUG_TILT[1]:g}" if AUGMENT else ""
    cache = Path(__file__).parent / ".cache" / f"cae_data_{seed}{'_lo' if LEAVE_OUT else ''}{aug}.npz"   # pairs: ~2 min
    if cache.exists():
        data = dict(np.load(cache))
    else:
        data = build_data(seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **data)
        os.replace(tmp, cache)
    X = torch.from_numpy(data["X"])
    word, voice = data["word"], data["voice"]
    pa, pb = data["pa"], data["pb"]
    # both directions of every aligned pair
    A_idx = np.concatenate([pa, pb])
    P_idx = np.concatenate([pb, pa])
    spoken = np.flatnonzero(voice >= 0)
    v_rows = spoken[np.argsort(voice[spoken], kind="stable")]           # word rows grouped by voice
    v_count = np.bincount(voice[spoken], minlength=data["n_voices"])
    v_start = np.concatenate([[0], np.cumsum(v_count)[:-1]])
    pause = np.flatnonzero(word < 0)
    print(f"data: {len(X)} rows ({X.shape[1]} inputs), {len(pa)} aligned pairs, {len(pause)} pause rows, "
          f"{time.time() - t0:.0f} s", flush=True)
    d_in = X.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(d_in, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
                              torch.nn.ReLU(), torch.nn.Linear(HIDDEN, OUT_DIM))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.default_rng(seed + 1)

    def f(idx):
        return torch.nn.functional.normalize(net(X[idx]), dim=1)

    for step in range(steps):
        k = rng.integers(len(A_idx), size=batch)
        a, p = A_idx[k], P_idx[k]
        va = voice[a]                                       # other words by the anchor's voice
        hard = v_rows[v_start[va][:, None] + (rng.random((batch, HARD_NEG)) * v_count[va][:, None]).astype(np.int64)]
        same = word[hard] == word[a][:, None]
        hard[same] = pause[rng.integers(len(pause), size=int(same.sum()))]   # the anchor's own word: a pause row
        ea, ep = f(a), f(p)
        if PAUSE_NEG:                                       # pauses: keep speech away from silence
            hard = np.hstack([hard, pause[rng.integers(len(pause), size=(batch, PAUSE_NEG))]])
        eh = f(hard.ravel()).view(batch, hard.shape[1], OUT_DIM)
        s_batch = ea @ ep.T / TAU                             # diagonal: the positives
        s_hard = torch.einsum("bd,bkd->bk", ea, eh) / TAU
        same_word = torch.from_numpy(word[a][:, None] == word[p][None, :])
        s_batch = s_batch.masked_fill(same_word & ~torch.eye(batch, dtype=torch.bool), -1e9)
        logits = torch.cat([s_batch, s_hard], dim=1)
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(batch))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            with torch.no_grad():
                acc = float((logits.argmax(1) == torch.arange(batch)).float().mean())
            print(f"step {step}: loss {float(loss.detach()):.3f}, top-1 {acc:.3f} ({time.time() - t0:.0f} s)", flush=True)
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    out = {"context": np.int64(CONTEXT), "seed": np.int64(seed), "steps": np.int64(steps)}
    for i, m in enumerate(lin):
        out[f"w{i}"] = m.weight.detach().numpy().T.copy()          # float32, as trained
        out[f"b{i}"] = m.bias.detach().numpy().copy()
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(WEIGHTS, **out)
    h = hashlib.sha256(b"".join(np.ascontiguousarray(out[k]).tobytes() for k in sorted(out))).hexdigest()
    print(f"wrote {WEIGHTS}; sha256 of the arrays (sorted by name) {h} ({time.time() - t0:.0f} s)")


# ----------------------------------------------------------------------------- fronts and the check
def fronts() -> dict:
    """{name: fn(a) -> features} for the check and the yardstick; names ending in _nw run without
    the feature-axis stretch."""
    return {
        "bands": G.FRONTS["bands"],
        "cae": lambda a: cae_front(a),
        "cae_nw": lambda a: cae_front(a),
        "caeg": lambda a: gated(audio.mfcc(a, SR), weights()),
        "caeg_nw": lambda a: gated(audio.mfcc(a, SR), weights()),
        "caeg_m26": lambda a: gated(audio.mfcc(a, SR, n_mels=26), weights()),
        "caeg_lift": lambda a: gated(audio.mfcc(a, SR) * LIFTER, weights()),
        "cae_m26": lambda a: cae_front(a, n_mels=26),
        "cae_lift": lambda a: embed(audio.mfcc(a, SR) * LIFTER, weights()),
        "bands_m26": lambda a: audio.bands_from_mfcc(audio.mfcc(a, SR, n_mels=26)),
        "bands_lift": lambda a: audio.bands_from_mfcc(audio.mfcc(a, SR) * LIFTER),
    }


LIFTER = 1.0 + 11.0 * np.sin(np.pi * np.arange(13) / 22.0)     # HTK-style sinusoidal lifter, L = 22


def _segment_case(X: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D, R0) as find_group computes them, on given segments."""
    Z = segments.segment_features(X, s, e)
    D = segments.warped_distances(X, s, e)
    R0 = segments.two_way_distances(Z, s, e, segments.rotated_features(Z, s, e), s, e)
    return D, R0


def check(names: list, n_sets: int) -> None:
    """True word boundaries on dev voices and target words (unseen in training), in recording context.

    Per set: 8 target words x 3 dev voices (2 espeak-ng + 1 flite, random) in one recording, and one
    voice saying 24 distinct target words in another (a one-voice all-distinct-word null). Reports the
    AUC of a same-word segment by another voice against other words by the SAME voice and by OTHER
    voices, the 1-NN share, the true word groups' score, and the null's best-group score."""
    pool = B.DEV_SPEAKERS + G.WIDE_EXTRA
    if CHECK_POOL == "lo":                       # only voices --leave-out kept out of training
        pool = [s for s in pool if left_out(s)]
    elif CHECK_POOL == "seen":
        pool = [s for s in pool if not left_out(s)]
    esp = [s for s in pool if s[0] == "espeak"]
    fl = [s for s in pool if s[0] == "flite"]
    fr = fronts()
    rng = np.random.default_rng(CHECK_SEED)
    sets = []
    for _ in range(n_sets):
        ws = [str(w) for w in rng.choice(B.WORDS, 8, replace=False)]
        voices = [esp[rng.integers(len(esp))], esp[rng.integers(len(esp))], fl[rng.integers(len(fl))]]
        items = [(w, v) for w in ws for v in voices]
        items = [items[i] for i in rng.permutation(len(items))]
        nv = pool[rng.integers(len(pool))]
        null = [(str(w), nv) for w in rng.choice(B.WORDS, 24, replace=False)]
        sets.append((_speak(rng, items), _speak(rng, null)))
    print(f"voices: {CHECK_POOL}; {n_sets} sets: 8 target words x 3 dev voices (2 espeak-ng + 1 flite) in one recording; nulls: one "
          f"voice x 24 distinct words; seed {CHECK_SEED}; true word boundaries")
    print("| front | AUC vs same-voice other words | AUC vs other-voice other words | 1-NN | 1-NN flite anchor | "
          "true group score median | null best score median / q90 | P(true > null best) |")
    print("|---|---|---|---|---|---|---|---|")
    kept = segments.FEATURE_WARPS
    for n in names:
        segments.FEATURE_WARPS = () if n.endswith("_nw") else kept
        a_same, a_other, nn, nnf, tscore, nscore = [], [], [], [], [], []
        try:
            for (x, marks), (xn, mn) in sets:
                X = np.asarray(fr[n](x), np.float64)
                s = np.array([m[2] for m in marks])
                e = np.minimum(np.array([m[3] for m in marks]), len(X))
                D, R0 = _segment_case(X, s, e)
                wl = np.array([m[0] for m in marks])
                vl = np.array([f"{m[1][0]}:{m[1][1]}" for m in marks])
                for i in range(len(marks)):
                    pos = np.flatnonzero((wl == wl[i]) & (vl != vl[i]))
                    ns = np.flatnonzero((wl != wl[i]) & (vl == vl[i]))
                    no = np.flatnonzero((wl != wl[i]) & (vl != vl[i]))
                    for j in pos:
                        a_same.append(float(np.mean((D[i, j] < D[i, ns]) + 0.5 * (D[i, j] == D[i, ns]))))
                        a_other.append(float(np.mean((D[i, j] < D[i, no]) + 0.5 * (D[i, j] == D[i, no]))))
                    d = D[i].copy()
                    d[i] = np.inf
                    hit = float(wl[int(np.argmin(d))] == wl[i])
                    nn.append(hit)
                    if marks[i][1][0] == "flite":
                        nnf.append(hit)
                for w in np.unique(wl):
                    tscore.append(segments._group_score(D, R0, np.flatnonzero(wl == w)))
                Xn = np.asarray(fr[n](xn), np.float64)
                sn = np.array([m[2] for m in mn])
                en = np.minimum(np.array([m[3] for m in mn]), len(Xn))
                Dn, Rn = _segment_case(Xn, sn, en)
                nscore.append(segments.best_group(Dn, Rn)[1])
        finally:
            segments.FEATURE_WARPS = kept
        tscore_a, nscore_a = np.array(tscore), np.array(nscore)
        p = float(np.mean(tscore_a[:, None] > nscore_a[None, :]))
        print(f"| {n} | {np.mean(a_same):.3f} | {np.mean(a_other):.3f} | {np.mean(nn):.3f} | {np.mean(nnf):.3f} | "
              f"{np.median(tscore_a):.2f} | {np.median(nscore_a):.2f} / {np.quantile(nscore_a, 0.9):.2f} | {p:.3f} |",
              flush=True)


def _speak(rng, items: list) -> tuple[np.ndarray, list]:
    """items [(word, voice)] as one recording (the benchmark's pauses and noise): (audio, [(w, v, s, e)])."""
    parts, marks, pos = [], [], 0
    for w, spk in items:
        a = say_any(rng, w, spk)
        gap = np.zeros(int(SR * rng.uniform(0.15, 0.6)))
        parts += [gap, a]
        pos += len(gap)
        marks.append((w, spk, round(pos / SR / B.HOP_S), round((pos + len(a)) / SR / B.HOP_S)))
        pos += len(a)
    parts.append(np.zeros(int(SR * rng.uniform(0.15, 0.6))))
    x = np.concatenate(parts)
    return x + rng.normal(scale=0.003, size=len(x)), marks


def match_check(names: list, n: int) -> None:
    """match() F1@.5 on dev_match_cands' dev pairs (seed0 1, 7, 8, 9) and its null pairs' nothing
    found (seeds 160, 777), with each front's features (cached per front and weights file)."""
    import dev_match_cands as M
    fr = fronts()
    original = B.tenfold_features
    for name in names:
        recipe = name if name.startswith("bands") else f"{name}_{WEIGHTS.stem}"
        B.tenfold_features = lambda a, r, _o=original, _n=name: _o(a, r) if r in ("eval", "eval_bands", "speech") \
            else np.asarray(fr[_n](a), np.float64)
        kept = segments.FEATURE_WARPS
        segments.FEATURE_WARPS = () if name.endswith("_nw") else kept
        try:
            sets = {s: M.pairs(s, n if s == 1 else 30, recipe) for s in M.DEV_SEED0S}
            nulls = {s: M.null_pairs(s, n if s == 160 else 40, recipe) for s in M.NULL_SEEDS}
            f1s = [M.evaluate(P, [])[0] for P in sets.values()]
            es = [M.evaluate([], N)[1] for N in nulls.values()]
        finally:
            B.tenfold_features = original
            segments.FEATURE_WARPS = kept
        print(f"{recipe:24s} match F1@.5 " + " / ".join(f"{f:.3f}" for f in f1s)
              + f" (mean {np.mean(f1s):.3f}); null pairs nothing found " + " / ".join(f"{e:.0%}" for e in es),
              flush=True)


def main(argv=None) -> int:
    global WEIGHTS, LEAVE_OUT, CHECK_POOL, PAUSE_NEG, AUGMENT, AUG_WARP, AUG_TILT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--weights", default=str(WEIGHTS), help="the .npz the front reads (--train writes it)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--pause-neg", type=int, default=PAUSE_NEG, help="pause frames among each anchor's negatives "
                    "(v1: 0)")
    ap.add_argument("--check", default="")
    ap.add_argument("--leave-out", action="store_true", help="train without the left_out() voices")
    ap.add_argument("--augment", action="store_true", help="warp and tilt each training utterance (augment())")
    ap.add_argument("--aug-warp", default="0.85,1.15", help="the mel-axis warp factor's range")
    ap.add_argument("--aug-tilt", default="1.0", help="the tilt's largest size (natural-log units)")
    ap.add_argument("--check-pool", default="all", choices=["all", "lo", "seen"],
                    help="the check's voices: all dev voices, only left_out() ones, or only the others")
    ap.add_argument("--sets", type=int, default=30)
    ap.add_argument("--yard", default="", help="a front of fronts(): run dev_extract_groups with it (rest of the "
                    "arguments passed on)")
    ap.add_argument("--match", default="", help="fronts of fronts() (comma-separated): match() F1 on "
                    "dev_match_cands' dev pairs and null pairs")
    ap.add_argument("--match-n", type=int, default=60)
    args, rest = ap.parse_known_args(argv)
    LEAVE_OUT, CHECK_POOL, PAUSE_NEG, AUGMENT = args.leave_out, args.check_pool, args.pause_neg, args.augment
    AUG_WARP = tuple(float(v) for v in args.aug_warp.split(","))
    AUG_TILT = (-float(args.aug_tilt), float(args.aug_tilt))
    WEIGHTS = Path(args.weights)
    if args.train:
        train(args.steps)
    if args.check:
        check(args.check.split(","), args.sets)
    if args.match:
        match_check(args.match.split(","), args.match_n)
    if args.yard:
        fr = fronts()
        G.FRONTS[args.yard] = fr[args.yard]
        if args.yard.endswith("_nw"):
            segments.FEATURE_WARPS = ()
        return G.main(["--front", args.yard, *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
