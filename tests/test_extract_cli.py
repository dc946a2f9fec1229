"""EXTRACT front ends: WAV reader, MFCC, and the `tenfold find-instances` command end to end."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from tenfold import _demo, cli
from tenfold import extract as ex
from tenfold.datasets import planted_series
from tenfold.metrics import interval_f1

DATA = Path(__file__).parent / "data"


def write_wav(path, samples, sr, width=2, channels=1):
    scale = float(1 << (8 * width - 1))
    ints = np.clip(np.round(np.asarray(samples) * scale), -scale, scale - 1).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        u = ints.astype(np.int64) & 0xFFFFFF
        raw = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], -1).astype(np.uint8).tobytes()
    else:
        raw = ints.astype("<i2" if width == 2 else "<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(raw)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_widths(tmp_path, width):
    x = np.sin(np.linspace(0, 20, 1000)) * 0.5
    write_wav(tmp_path / "a.wav", x, 8000, width)
    a, sr = ex.read_wav(tmp_path / "a.wav")
    assert sr == 8000 and a.shape == (1000,)
    assert np.abs(a - x).max() < 2.0 / (1 << (8 * width - 1)) + 1e-9


def test_read_wav_stereo_and_garbage(tmp_path):
    x = np.stack([np.linspace(-0.5, 0.5, 400), np.zeros(400)], 1)
    write_wav(tmp_path / "s.wav", x.ravel(), 8000, 2, channels=2)
    a, _ = ex.read_wav(tmp_path / "s.wav")
    assert a.shape == (400, 2)
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    with pytest.raises(ValueError, match="not a readable PCM WAV"):
        ex.read_wav(tmp_path / "bad.wav")


def test_mfcc_properties():
    sr = 16000
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)
    tone = ex.mfcc(np.sin(2 * np.pi * 300 * t), sr)
    noise = ex.mfcc(rng.normal(size=sr), sr)
    assert tone.shape == (98, 13) and noise.shape == (98, 13)
    assert np.isfinite(tone).all()
    # a louder copy of the same signal: only c0 (orthonormal DCT of the log energies) moves,
    # by sqrt(n_mels) * log(gain^2)
    z = rng.normal(size=sr)
    loud, quiet = ex.mfcc(4 * z, sr), ex.mfcc(z, sr)
    np.testing.assert_allclose(loud[:, 0] - quiet[:, 0], np.sqrt(40) * np.log(16), rtol=1e-6)
    np.testing.assert_allclose(loud[:, 1:], quiet[:, 1:], atol=1e-6)
    # a stereo copy gives the same features
    np.testing.assert_allclose(ex.mfcc(np.stack([t * 0 + np.sin(2 * np.pi * 300 * t)] * 2, 1), sr), tone)
    with pytest.raises(ValueError, match="sample_rate"):
        ex.mfcc(np.zeros(1000), 0)
    with pytest.raises(ValueError, match="NaN"):
        ex.mfcc(np.full(1000, np.nan), 8000)
    with pytest.raises(ValueError, match="fewer than one frame"):
        ex.mfcc(np.zeros(10), 8000)
    with pytest.raises(TypeError, match="numeric"):
        ex.mfcc(np.array(["a"] * 1000), 8000)


def _parse_table(out):
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].isdigit():
            rows.append((float(parts[1]), float(parts[2])))
    return rows


def test_cli_find_instances_on_spoken_word(capsys, tmp_path):
    """espeak-ng "seven" x4 among "window"/"paper" (tests/data/make_extract_fixture.py)."""
    truth = json.loads((DATA / "extract_seven.json").read_text())["bounds_s"]
    png = tmp_path / "out.png"
    argv = ["find-instances", str(DATA / "extract_seven.wav"), "--min-length", "0.25s",
            "--max-length", "600ms"]
    try:
        import matplotlib  # noqa: F401
        argv += ["--plot", str(png)]
    except ImportError:
        png = None
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows = _parse_table(out)
    assert interval_f1(rows, [tuple(t) for t in truth], 0.5) >= 0.75, out
    if png is not None:
        assert png.stat().st_size > 1000


def test_cli_npy_and_errors(capsys, tmp_path):
    x, truth, _ = planted_series(2000, 2, 4, 40, 60, seed=1)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "40", "--max-length", "60"]) == 0
    rows = _parse_table(capsys.readouterr().out)
    assert interval_f1(rows, truth, 0.5) >= 0.75
    with pytest.raises(SystemExit, match="--min-length"):
        cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "abc", "--max-length", "60"])
    with pytest.raises(SystemExit, match="min_length"):
        cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "80", "--max-length", "60"])


def test_demo_section_runs():
    rows = _demo.demo_extract(n_series=1)
    assert rows and rows[0][0].startswith("tenfold") and "F1" in rows[0][2]
    assert "skipped" in rows[1][1]   # stumpy only on request
