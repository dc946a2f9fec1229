"""Regenerates tests/data/extract_seven.wav and extract_seven.json (needs espeak-ng).

Four instances of the word "seven" (en-us voice, speed 150-190, pitch 40-55) between the
distractor words "window" and "paper" and silences, light noise, resampled to 8 kHz mono
16-bit. The JSON holds the exact bounds (seconds) of each "seven".
"""

import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np



def main():
    from tenfold.extract import read_wav

    rng = np.random.default_rng(5)
    out_sr = 8000
    seq = ["window", "seven", "paper", "seven", "seven", "window", "paper", "seven"]
    speeds = [170, 150, 175, 180, 165, 160, 185, 190]
    parts, truth, pos = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for w, sp in zip(seq, speeds):
            path = f"{tmp}/w.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(sp), "-p", str(int(rng.integers(40, 56))),
                            "-w", path, w], check=True, capture_output=True)
            a, sr = read_wav(path)
            loud = np.flatnonzero(np.abs(a) > 0.01)
            a = a[loud[0]:loud[-1] + 1]
            # resample by FFT truncation (band-limited) to 8 kHz
            m = int(round(len(a) * out_sr / sr))
            a = np.fft.irfft(np.fft.rfft(a)[: m // 2 + 1], m) * (m / len(a))
            gap = np.zeros(int(out_sr * rng.uniform(0.2, 0.4)))
            parts += [gap, a]
            pos += len(gap)
            if w == "seven":
                truth.append([pos / out_sr, (pos + len(a)) / out_sr])
            pos += len(a)
    parts.append(np.zeros(int(out_sr * 0.3)))
    x = np.concatenate(parts) + rng.normal(scale=0.003, size=pos + int(out_sr * 0.3))
    here = Path(__file__).parent
    with wave.open(str(here / "extract_seven.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(out_sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    (here / "extract_seven.json").write_text(json.dumps({"word": "seven", "bounds_s": truth}, indent=1))
    print(len(x) / out_sr, "s", truth)


if __name__ == "__main__":
    main()
