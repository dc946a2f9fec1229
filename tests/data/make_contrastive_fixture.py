"""Regenerates tests/data/contrastive_words.npz (needs espeak-ng and flite; run from the repository root).

One recording: 8 of the benchmark's target words (never seen when the embedding was trained),
each said by 3 development voices (2 espeak-ng, 1 flite), in random order between pauses, with
light noise (benchmarks/bench_extract.py's words, voices and recording recipe; seed 9660). Stored:
its 13 MFCCs (audio.mfcc, 16 kHz, float32), each word's frame bounds, word and voice labels.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    import bench_extract as B
    import dev_cae as C

    from tenfold import audio

    rng = np.random.default_rng(9660)
    esp = [s for s in B.DEV_SPEAKERS if s[0] == "espeak"]
    fl = [s for s in B.DEV_SPEAKERS if s[0] == "flite"]
    words = [str(w) for w in rng.choice(B.WORDS, 8, replace=False)]
    voices = [esp[rng.integers(len(esp))], esp[rng.integers(len(esp))], fl[rng.integers(len(fl))]]
    while voices[1] == voices[0]:
        voices[1] = esp[rng.integers(len(esp))]
    items = [(w, v) for w in words for v in voices]
    items = [items[i] for i in rng.permutation(len(items))]
    x, marks = C._speak(rng, items)
    M = audio.mfcc(x, B.SR).astype(np.float32)
    np.savez_compressed(Path(__file__).with_name("contrastive_words.npz"), mfcc=M,
                        starts=np.array([m[2] for m in marks]), ends=np.minimum([m[3] for m in marks], len(M)),
                        words=np.array([m[0] for m in marks]), voices=np.array([f"{m[1][0]}:{m[1][1]}" for m in marks]))


if __name__ == "__main__":
    main()
