"""Learned bottleneck features for the speech path (issue 14, session 14, helper bnf): dev voices only.

Idea (query-by-example spoken term detection's "bottleneck features"): a small MLP, trained offline
on many voices saying many words, maps a context of +-CONTEXT frames of `audio.bands_from_mfcc`
rows to (word, position-in-word bin) classes; its narrow linear layer (the bottleneck) is kept as
the new per-frame features. Frames of one word said by other voices must land in the same class,
so the bottleneck should bring another voice's repeat closer than one voice's different words.

Training data (never the benchmark's words, never a held-out voice):
  WORDS  TRAIN_WORDS below, asserted disjoint from bench_extract.WORDS (the benchmark's and the
         dev/held-out draws' target and distractor words stay unseen);
  VOICES bench_extract.DEV_SPEAKERS + dev_extract_groups.WIDE_EXTRA + more espeak-ng variants of
         the dev languages (TRAIN_POOL), asserted disjoint from HELDOUT_SPEAKERS, the held-out
         languages and variants; random speed and pitch (bench_extract.SPEEDS/PITCHES);
  recordings of 5-8 distinct words, a voice per word, 0.15-0.6 s pauses and the benchmark's light
  noise, as bench_extract.speak builds them; features normalised per recording (mean and sd of
  each band over the whole series), as they are at use. Seed TRAIN_SEED = 9400 (no other script
  uses 94xx... except dev_speaker_proj's sweep "pipe" draw (94xx recordings of bench_extract.WORDS);
  this script's words are disjoint from those, so no recording is shared).

    python benchmarks/dev_bnf.py --train                 # data + MLP; writes .cache/bnf/bnf_<tag>.npz
    python benchmarks/dev_bnf.py --check bands,bnf       # pairwise AUC / 1-NN / group scores, dev voices
    python benchmarks/dev_bnf.py --groups bnf [--nowarp] # dev_extract_groups' yardstick with this front

The forward pass at use is numpy only (`forward`).
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

from tenfold import audio, segments

SR = B.SR
HOP = round(B.HOP_S * SR)
FRAME = round(audio.SPEECH_FRAME_S * SR)
TRAIN_SEED = 9400
CHECK_SEED = 9450
NOISE = 0.003                       # bench_extract.speak's light noise
CONTEXT = 5                          # frames either side stacked into the MLP's input
OUT = Path(__file__).parent / "results" / "bnf"
CACHE = Path(__file__).parent / ".cache" / "bnf"

TRAIN_WORDS = """able about above actor after again agent alarm album alive allow almost alone along angle
angry animal answer apron arrow artist autumn avenue away baby bacon badge bakery balance ballet balloon
bamboo banana bandage banker barrel beaver bedroom before begin behind below berry better bicycle bishop
blossom body bonus border borrow bottom boulder bracelet branch bravely breakfast brother bubble budget
buffalo bundle burden butcher cabin cactus canvas captain carbon career carrot cartoon cattle cellar
center cereal chapter cherry chimney chorus cinema city classic clever climate closet cobra coconut
coffee collar colour comet common copper corner costume cottage county cousin coward cradle crayon
credit cricket crystal cupboard curtain cushion customer daily damage danger daughter deadline decade
decent defend degree dentist deposit detail diamond differ dinosaur direct dolphin donkey double dozen
drama drawer dream driver duty eagle early easy echo edit effort eighty elder elephant eleven empire
empty enemy enjoy enough entry equal error escape evening event exit expert fabric factory fairy family
famous farmer fashion father fiction fifty figure final fishing flavor follow forty fossil fountain
freedom friday frozen funny future galaxy gallon gamble garlic gather gentle giant ginger giraffe glory
goblin golden gossip govern grammar granite gravel gravy happy hardly harvest hazard healthy heaven
heavy hero hidden history hobby holiday honey honest hotel hundred hunger hunter husband idea igloo
image insect invite iron ivory jelly jewel journey judgement juggle jungle justice kangaroo kennel
keyboard kingdom kitten knuckle label laptop laundry lawyer leader legend leisure lesson letter level
liquid little lizard lobster locket lonely lucky lumber lunchbox machine mango manner maple master
matter medal melon member memory message metal middle minute mitten model moment money monster morning
mother mountain muffin murmur muscle museum music mustard narrow nature nephew nervous nickel noodle
normal notebook novel number nurse oatmeal object olive onion open oven owner oyster paddle palace
panda panther parent party pasta patient pattern peanut pelican penguin people person photo piano
picnic pigeon pirate pizza plastic player pleasant plenty poem poet police polish pony popcorn poster
powder practice present pretty problem promise proper public pumpkin puppy purple rabbi raccoon radar
radio rainbow raisin random razor reason record remote rescue ribbon riddle robin robot rooster rubber
ruler sailor sample sandal satin sausage scissors season second secret seldom sermon servant seventy
shallow shelter shoulder shower silent simple singer sixty skeleton slipper soccer soldier sorry
special spinach spirit sponge squirrel stadium statue sticker stomach story stranger student subject
suitcase sunday sunset supper surface sweater swimmer symbol tablet tailor talent teacher temple tennis
theory thirty thousand ticket timber toaster today toddler tongue topic towel tower tractor traffic
treasure triangle trumpet tuesday tulip turkey twenty uncle under unit useful valley vanish vessel
victim video violin virus visit vitamin volcano wallet walrus warning weather wedding welcome whisper
whistle widow willow wolf woman wonder wooden worry writer yogurt young zipper""".split()

HELDOUT_LANGS = ("en", "en-gb", "en-gb-scotland", "en-us-nyc", "en-gb-x-gbclan")   # en-gb: espeak's "en"
HELDOUT_VARIANTS = ("+m2", "+m5", "+f2", "+f4")
TRAIN_LANGS = ("en-us", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd")
EXTRA_VARIANTS = ("+m4", "+m6", "+m7", "+f5", "+klatt", "+klatt2", "+klatt3", "+Andy", "+Annie",
                  "+Alicia", "+david", "+ed", "+john", "+Lee", "+linda", "+max", "+Michael", "+steph",
                  "+robert", "+quincy", "+Denis", "+belinda", "+benjamin", "+edward", "+iven", "+paul")
TRAIN_POOL = sorted(set(B.DEV_SPEAKERS + G.WIDE_EXTRA
                        + [("espeak", f"{lang}{var}") for lang in TRAIN_LANGS for var in EXTRA_VARIANTS]))
FLITE_SHARE = 0.2                    # flite voices (2 of the pool) drawn this often: another engine


def _assert_unseen() -> None:
    assert not set(TRAIN_WORDS) & set(B.WORDS), "training words overlap the benchmark's"
    assert len(set(TRAIN_WORDS)) == len(TRAIN_WORDS) >= 300
    assert not set(TRAIN_POOL) & set(B.HELDOUT_SPEAKERS)
    for eng, v in TRAIN_POOL:
        assert eng in ("espeak", "flite"), eng
        if eng == "flite":
            assert v in ("kal16", "awb"), v
            continue
        lang, _, var = v.partition("+")
        assert lang not in HELDOUT_LANGS, v
        assert lang in TRAIN_LANGS, v
        assert ("+" + var) not in HELDOUT_VARIANTS and var.lower() not in ("f2", "f4", "m2", "m5"), v


_assert_unseen()


# ----------------------------------------------------------------------------- features
def bands(a: np.ndarray, n_mels: int = 40, lifter: float = 0.0) -> np.ndarray:
    """The evaluation's route: 13 MFCCs (c0 included) -> audio.bands_from_mfcc (24 bands, c0 dropped).
    n_mels / lifter: another MFCC implementation (filter bank size; HTK-style sinusoidal lifter)."""
    M = audio.mfcc(a, SR, n_mels=n_mels)
    if lifter:
        M = M * (1 + lifter / 2 * np.sin(np.pi * np.arange(M.shape[1]) / lifter))
    return audio.bands_from_mfcc(M)


def normalise(X: np.ndarray) -> np.ndarray:
    """Each column to mean 0, sd 1 over the whole series."""
    X = np.asarray(X, np.float64)
    return (X - X.mean(0)) / np.maximum(X.std(0), 1e-8)


def stack(X: np.ndarray, k: int = CONTEXT) -> np.ndarray:
    """Rows t-k..t+k side by side (edge rows repeated): (T, (2k+1) d)."""
    P = np.concatenate([np.repeat(X[:1], k, 0), X, np.repeat(X[-1:], k, 0)])
    return np.concatenate([P[i:i + len(X)] for i in range(2 * k + 1)], axis=1)


def forward(W: dict, X: np.ndarray, layer: str = "bn") -> np.ndarray:
    """numpy forward pass from per-recording features X (T, 24) to the bottleneck (T, n_bn);
    layer "h2": the last hidden layer before the bottleneck instead."""
    H = stack(normalise(X))
    H = np.maximum(H @ W["w1"].T + W["b1"], 0)
    H = np.maximum(H @ W["w2"].T + W["b2"], 0)
    if layer == "h2":
        return H
    return H @ W["w3"].T + W["b3"]


# ----------------------------------------------------------------------------- training data
def recording(rng, words, pick):
    """(audio, [(word, start_sample, end_sample)]) as bench_extract.speak builds a recording."""
    parts, spans, pos = [], [], 0
    for w in words:
        a = B.say(w, pick(), float(rng.choice(B.SPEEDS)), int(rng.choice(B.PITCHES)))
        gap = np.zeros(int(SR * rng.uniform(0.15, 0.6)))
        parts += [gap, a]
        pos += len(gap)
        spans.append((w, pos, pos + len(a)))
        pos += len(a)
    parts.append(np.zeros(int(SR * rng.uniform(0.15, 0.6))))
    x = np.concatenate(parts)
    return x + rng.normal(scale=NOISE, size=len(x)), spans


def pick_voice(rng):
    fl = [s for s in TRAIN_POOL if s[0] == "flite"]
    es = [s for s in TRAIN_POOL if s[0] == "espeak"]
    return fl[rng.integers(len(fl))] if rng.random() < FLITE_SHARE else es[rng.integers(len(es))]


def frame_labels(n_frames: int, spans, word_index: dict, n_bins: int) -> np.ndarray:
    """Class per frame (by its centre sample): word_index[w] * n_bins + position bin inside the word,
    or the silence class n_words * n_bins between words."""
    centre = np.arange(n_frames) * HOP + FRAME // 2
    y = np.full(n_frames, len(word_index) * n_bins, np.int64)
    for w, s, e in spans:
        inside = (centre >= s) & (centre < e)
        pos = (centre[inside] - s) / (e - s)
        y[inside] = word_index[w] * n_bins + np.minimum((pos * n_bins).astype(np.int64), n_bins - 1)
    return y


VOWEL_MARKS = set("aeiouAEIOUV@3")      # espeak-ng's ASCII phoneme names: a vowel contains one of these


def phonemes(words) -> dict:
    """Each word's en-us phoneme names (espeak-ng -x, stress marks dropped): the transcription of
    every voice's rendering (a shared label set, not what each voice says exactly)."""
    import subprocess
    out = subprocess.run(["espeak-ng", "-q", "-x", "--sep=_", "-v", "en-us", " ".join(words)],
                         check=True, capture_output=True, text=True).stdout.split()
    assert len(out) == len(words), (len(out), len(words))
    return {w: [p.strip("',") for p in o.split("_") if p.strip("',")] for w, o in zip(words, out)}


def phone_labels(n_frames: int, spans, phones: dict, phone_index: dict) -> np.ndarray:
    """Phone class per frame: the word's span split among its phonemes in proportion to a duration
    weight (vowels 2, consonants 1); silence class len(phone_index) between words."""
    centre = np.arange(n_frames) * HOP + FRAME // 2
    y = np.full(n_frames, len(phone_index), np.int64)
    for w, s, e in spans:
        ph = phones[w]
        wt = np.array([2.0 if set(p) & VOWEL_MARKS else 1.0 for p in ph])
        edges = np.concatenate([[0.0], np.cumsum(wt) / wt.sum()])
        inside = (centre >= s) & (centre < e)
        pos = (centre[inside] - s) / (e - s)
        k = np.clip(np.searchsorted(edges, pos, side="right") - 1, 0, len(ph) - 1)
        y[inside] = np.array([phone_index[p] for p in ph])[k]
    return y


def training_data(reps: int, n_bins: int):
    """(X stacked inputs float32, y classes, rec id per frame, spans) for reps utterances of every
    training word, cached on disk by its parameters."""
    key = hashlib.sha1(repr((TRAIN_WORDS, TRAIN_POOL, reps, n_bins, CONTEXT, TRAIN_SEED, FLITE_SHARE)).encode()
                       ).hexdigest()[:12]
    path = CACHE / f"train_{key}.npz"
    if path.exists():
        z = np.load(path)
        if "ph" in z.files:                   # else: an older cache without phone labels, remade
            return z["X"], z["y"], z["rec"], z["ph"]
    rng = np.random.default_rng(TRAIN_SEED)
    word_index = {w: i for i, w in enumerate(TRAIN_WORDS)}
    todo = [w for w in TRAIN_WORDS for _ in range(reps)]
    rng.shuffle(todo)
    phones = phonemes(TRAIN_WORDS)
    phone_index = {p: i for i, p in enumerate(sorted({p for v in phones.values() for p in v}))}
    Xs, ys, ps, recs, i, r = [], [], [], [], 0, 0
    t0 = time.time()
    while i < len(todo):
        n = int(rng.integers(5, 9))
        chunk = list(dict.fromkeys(todo[i:i + n]))         # distinct words within a recording
        i += n
        x, spans = recording(rng, chunk, lambda: pick_voice(rng))
        F = bands(x)
        Xs.append(stack(normalise(F)).astype(np.float32))
        ys.append(frame_labels(len(F), spans, word_index, n_bins))
        ps.append(phone_labels(len(F), spans, phones, phone_index))
        recs.append(np.full(len(F), r, np.int32))
        r += 1
        if r % 200 == 0:
            print(f"  {r} recordings, {i}/{len(todo)} words, {time.time() - t0:.0f} s", flush=True)
    X, y, rec = np.concatenate(Xs), np.concatenate(ys), np.concatenate(recs)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, X=X, y=y, rec=rec, ph=np.concatenate(ps))
    os.replace(tmp, path)
    return X, y, rec, np.concatenate(ps)


# ----------------------------------------------------------------------------- training
def train(reps: int, n_bins: int, hidden: int, n_bn: int, epochs: int, tag: str, targets: str = "word") -> Path:
    """The MLP: input -> hidden -> hidden -> linear bottleneck -> hidden -> softmax head(s); targets
    "word" ((word, position bin) classes), "phone" (en-us phonemes, uniform-by-weight alignment) or
    "both" (two heads, losses added)."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(TRAIN_SEED)
    torch.use_deterministic_algorithms(True)
    X, y, rec, ph = training_data(reps, n_bins)
    n_cls = len(TRAIN_WORDS) * n_bins + 1
    n_ph = int(ph.max()) + 1
    print(f"training data: {len(X)} frames x {X.shape[1]}, {rec.max() + 1} recordings, {n_cls} word classes, "
          f"{n_ph} phone classes, silence share {np.mean(y == n_cls - 1):.2f}; targets {targets}", flush=True)
    rng = np.random.default_rng(TRAIN_SEED + 1)
    val = np.isin(rec, rng.choice(rec.max() + 1, (rec.max() + 1) // 20, replace=False))   # 5% recordings
    Xt, Xv = torch.from_numpy(X[~val]), torch.from_numpy(X[val])
    T = {"word": (y, n_cls), "phone": (ph, n_ph)}
    use = ["word", "phone"] if targets == "both" else [targets]
    lin = torch.nn.Linear
    trunk = [lin(X.shape[1], hidden), lin(hidden, hidden), lin(hidden, n_bn), lin(n_bn, hidden)]
    heads = {u: lin(hidden, T[u][1]) for u in use}
    net = torch.nn.ModuleList(trunk + list(heads.values()))

    def run(xb):
        h = torch.relu(trunk[1](torch.relu(trunk[0](xb))))
        h = torch.relu(trunk[3](torch.relu(trunk[2](h))))
        return {u: heads[u](h) for u in use}

    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(TRAIN_SEED)
    yt = {u: torch.from_numpy(T[u][0][~val]) for u in use}
    yv = {u: torch.from_numpy(T[u][0][val]) for u in use}
    for ep in range(epochs):
        c0 = time.process_time()
        perm = torch.randperm(len(Xt), generator=g)
        tot = 0.0
        for b in range(0, len(perm), 512):
            idx = perm[b:b + 512]
            xb = Xt[idx] + 0.1 * torch.randn(len(idx), X.shape[1], generator=g)   # light input noise
            out = run(xb)
            loss = sum(lossf(out[u], yt[u][idx]) for u in use)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
        sched.step()
        with torch.no_grad():
            out = run(Xv)
            acc = ", ".join(f"{u} {float((out[u].argmax(1) == yv[u]).float().mean()):.3f}" for u in use)
        print(f"  epoch {ep + 1}/{epochs}: train loss {tot / len(Xt):.3f}, held-back recordings' frame "
              f"accuracy {acc}, CPU {time.process_time() - c0:.0f} s", flush=True)
    W = {"w1": trunk[0].weight, "b1": trunk[0].bias, "w2": trunk[1].weight, "b2": trunk[1].bias,
         "w3": trunk[2].weight, "b3": trunk[2].bias}
    W = {k: v.detach().numpy().astype(np.float32) for k, v in W.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"bnf_{tag}.npz"               # weights stay out of git: --train remakes them
    np.savez(path, **W, context=np.int64(CONTEXT))
    print(f"wrote {path}; sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")
    return path


def load(tag: str) -> dict:
    z = np.load(CACHE / f"bnf_{tag}.npz")
    return {k: z[k].astype(np.float64) for k in z.files if k != "context"}


# ----------------------------------------------------------------------------- front ends
def front(name: str):
    """A feature function audio -> (T, d) by name: bands; speech (audio.speech_features); bands26/bands_lift (other MFCC settings);
    bnf[_TAG][_h2][@26|@lift] (the bottleneck of weights TAG, default "main"; h2: last hidden layer);
    cat_bnf...: bands and that bottleneck side by side."""
    base, _, mf = name.partition("@")
    opts = {"": {}, "26": {"n_mels": 26}, "lift": {"lifter": 22.0}}[mf]
    if base == "bands":
        return lambda a: bands(a, **opts)
    if base == "speech":
        return lambda a: audio.speech_features(a, SR)
    parts = base.split("_")
    if parts[0] == "cat":                     # bands and the bottleneck side by side
        f = front("_".join(parts[1:]) + ("@" + mf if mf else ""))
        return lambda a: np.hstack([bands(a, **opts), f(a)])
    assert parts[0] == "bnf", name
    layer = "h2" if "h2" in parts else "bn"
    tags = [p for p in parts[1:] if p != "h2"]
    W = load(tags[0] if tags else "main")
    return lambda a: forward(W, bands(a, **opts), layer)


# ----------------------------------------------------------------------------- quick check
def check(names: list, n_sets: int) -> None:
    """Sets of 8 words of bench_extract.WORDS (unseen in training) x 3 dev voices each, plus 3 more
    distinct words by one voice, spoken into one recording per set (pauses, noise), seed CHECK_SEED.
    Features of the whole recording, distances between the true word spans (segments.warped_distances):
    AUC of a same-word-other-voice pair against other words (by the same voice as the anchor / by
    another voice), 1-NN, and the group score of each word's 3 voices against the chance group of one
    voice's 3 different words (AUC: true group score > chance group score)."""
    pool = B.DEV_SPEAKERS + G.WIDE_EXTRA
    rng = np.random.default_rng(CHECK_SEED)
    sets = []
    for _ in range(n_sets):
        ws = [str(w) for w in rng.choice(B.WORDS, 11, replace=False)]
        seq = []
        for w in ws[:8]:
            for j in rng.choice(len(pool), 3, replace=False):
                seq.append((w, pool[j]))
        one = pool[rng.integers(len(pool))]
        seq += [(w, one) for w in ws[8:]]
        order = rng.permutation(len(seq))
        seq = [seq[i] for i in order]
        it = iter(seq)
        x, spans = recording(rng, [w for w, _ in seq], lambda it=it: next(it)[1])
        sets.append((x, spans, [s for _, s in seq], ws[8:]))
    print(f"{n_sets} recordings of 8 words x 3 dev voices + 3 words by one voice; seed {CHECK_SEED}; "
          f"bench_extract.WORDS (unseen in training)")
    print("| front | warp | AUC vs other word, same voice | AUC vs other word, other voice | 1-NN same word | "
          "true group score (median) | chance one-voice group (median) | AUC true > chance |")
    print("|---|---|---|---|---|---|---|---|")
    kept = segments.FEATURE_WARPS
    for n in names:
        base, warp = (n[:-3], False) if n.endswith(":nw") else (n, True)
        f = front(base)
        for_warp = kept if warp else ()
        a_same, a_other, nn, tg, cg = [], [], [], [], []
        segments.FEATURE_WARPS = for_warp
        try:
            for x, spans, spk, chance in sets:
                X = f(x)
                s = np.array([round(a / HOP) for _, a, _ in spans])
                e = np.array([round(b / HOP) for _, _, b in spans])
                e = np.minimum(e, len(X))
                D = segments.warped_distances(X, s, e)
                wl = np.array([w for w, _, _ in spans])
                for i in range(len(wl)):
                    same = np.flatnonzero((wl == wl[i]) & (np.arange(len(wl)) != i))
                    if not len(same):
                        continue
                    negs = np.flatnonzero(wl != wl[i])
                    sv = np.array([spk[j] == spk[i] for j in negs])
                    for j in same:
                        if spk[j] == spk[i]:
                            continue
                        if sv.any():
                            a_same.append(float(np.mean((D[i, j] < D[i, negs[sv]]) + 0.5 * (D[i, j] == D[i, negs[sv]]))))
                        if (~sv).any():
                            a_other.append(float(np.mean((D[i, j] < D[i, negs[~sv]])
                                                         + 0.5 * (D[i, j] == D[i, negs[~sv]]))))
                    d = D[i].copy()
                    d[i] = np.inf
                    nn.append(float(wl[int(np.argmin(d))] == wl[i]))
                for w in np.unique(wl):
                    m = np.flatnonzero(wl == w)
                    if len(m) == 3:
                        tg.append(segments._group_score(D, D, m))
                cg.append(segments._group_score(D, D, np.flatnonzero(np.isin(wl, chance))))
        finally:
            segments.FEATURE_WARPS = kept
        print(f"| {base} | {'yes' if warp else 'no'} | {np.mean(a_same):.3f} | {np.mean(a_other):.3f} | "
              f"{np.mean(nn):.3f} | {np.median(tg):.2f} | {np.median(cg):.2f} | {G._auc(tg, cg):.3f} |", flush=True)


# ----------------------------------------------------------------------------- yardstick
def groups(name: str, nowarp: bool, extra: list) -> None:
    """dev_extract_groups' equal-null table with front `name` (registered in G.FRONTS), its own cache."""
    G.FRONTS[name] = front(name)
    tag = name.replace("@", "-") + ("_nw" if nowarp else "")
    if nowarp:
        segments.FEATURE_WARPS = ()
    G.main(["--front", name, "--cache", str(CACHE.parent / f"groups_bnf_{tag}.pkl"), "--extra-nulls", "80",
            "--out", str(OUT / f"groups_{tag}.txt"), *extra])


def hybrid(name: str, names: list) -> None:
    """Diagnostic: the bands front's segments (its cache, made by --groups bands or
    dev_extract_groups --front bands --cache ...), distances D and decoys R0 recomputed on those
    segments with front `name`: does the learned front group better when segmentation is equal?"""
    import pickle
    sys.modules["__main__"].Case = G.Case     # the bands cache was pickled by dev_extract_groups run as a script
    with open(CACHE.parent / "groups_bnf_bands.pkl", "rb") as fh:
        recs, syn_cases = pickle.load(fh)
    f = front(name)
    for rec, (_, cond, a_X, _, _, _) in zip(recs, _draw_audio()):
        assert rec["cond"] == cond
        c = rec["case"]
        if rec["fixed"] is not None or not len(c.s):
            continue
        X = np.asarray(f(a_X), np.float64)
        Z = segments.segment_features(X, c.s, c.e)
        c.D = segments.warped_distances(X, c.s, c.e)
        c.R0 = segments.two_way_distances(Z, c.s, c.e, segments.rotated_features(Z, c.s, c.e), c.s, c.e)
        c.kept = None
    rows = [G.row_of(rec, names) for rec in recs]
    syn = G.synthetic_nulls(names, syn_cases)
    print(f"hybrid: bands' segments, D and R0 from {name}")
    for v in names:
        print(G.table(rows, syn[v], v, 1.0), " <- bar 1 (adapt: no bar)")
        print(G.table(rows, syn[v], v, G.equal_null_bar([r for r in rows if r["draw"] != "xnull"], syn[v], v)),
              " <- equal nulls")


def _draw_audio():
    """dev_extract_groups.draws with the raw audio as the 'features' (same order and seeds)."""
    G.FRONTS["_audio"] = lambda a: a
    return G.draws("_audio", 80)


def segment_diagnostic(tags: list) -> None:
    """From --groups caches (.cache/groups_bnf_<tag>.pkl): recordings where segment_activity gave no
    usable segments (find_instances falls back to its shapelet search), median segment count, and the
    share of true instances that an activity segment overlaps with IoU >= 0.5."""
    import pickle
    sys.modules["__main__"].Case = G.Case
    print("| front | condition | no usable segments | median segments | true instances with a segment at IoU >= .5 |")
    print("|---|---|---|---|---|")
    for tag in tags:
        with open(CACHE.parent / f"groups_bnf_{tag}.pkl", "rb") as fh:
            recs, _ = pickle.load(fh)
        for cond in ("one_few", "one_many", "vpw_few", "vpw_many", "distinct"):
            rs = [r for r in recs if r["cond"] == cond]
            hit = [max([max(0, min(e, b) - max(s, a)) / (max(e, b) - min(s, a)) for a, b in zip(r["case"].s, r["case"].e)],
                       default=0.0) >= 0.5 for r in rs for s, e in r["truth"]]
            print(f"| {tag} | {cond} | {sum(r['fixed'] is not None for r in rs)}/{len(rs)} | "
                  f"{np.median([len(r['case'].s) for r in rs]):.0f} | {np.mean(hit) if hit else float('nan'):.2f} |")


def match_yardstick(name: str, extra: list) -> None:
    """dev_match_cands' default table (match() F1 per dev draw, null pairs) with front `name` in
    place of its --recipe (its pair caches under .cache/bnf/match_<name>/); name "bands" is the
    eval_bands recipe, run the same way for a paired baseline."""
    import dev_match_cands as M
    M.CACHE = CACHE / f"match_{name.replace('@', '-')}"
    M.CACHE.mkdir(parents=True, exist_ok=True)
    f = front(name)
    B.tenfold_features = lambda a, recipe: f(a)
    M.main(["--recipe", "eval_bands", *extra])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--reps", type=int, default=16, help="utterances per training word")
    ap.add_argument("--bins", type=int, default=4, help="position bins per word")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--bn", type=int, default=24, help="bottleneck width")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--tag", default="main")
    ap.add_argument("--targets", default="word", choices=("word", "phone", "both"))
    ap.add_argument("--check", default="", help="comma-separated fronts (suffix :nw = no feature-axis stretch)")
    ap.add_argument("--check-sets", type=int, default=30)
    ap.add_argument("--groups", default="", help="a front for dev_extract_groups' yardstick")
    ap.add_argument("--nowarp", action="store_true", help="with --groups: no feature-axis stretch")
    ap.add_argument("--hybrid", default="", help="a front: its D on the bands front's segments")
    ap.add_argument("--match", default="", help="a front for dev_match_cands' default table")
    ap.add_argument("--segdiag", default="", help="comma-separated --groups cache tags (e.g. bands,bnf_nw)")
    args, extra = ap.parse_known_args(argv)
    if args.train:
        train(args.reps, args.bins, args.hidden, args.bn, args.epochs, args.tag, args.targets)
    if args.check:
        check(args.check.split(","), args.check_sets)
    if args.hybrid:
        segments.FEATURE_WARPS = () if args.nowarp else segments.FEATURE_WARPS
        hybrid(args.hybrid, ["kept", "adapt_nn_-2.5"])
    if args.segdiag:
        segment_diagnostic(args.segdiag.split(","))
    if args.match:
        match_yardstick(args.match, extra)
    if args.groups:
        groups(args.groups, args.nowarp, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
