"""The `tenfold find-instances` command end to end (WAV reading and MFCCs: test_audio.py)."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from tenfold import _demo, cli
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
