"""The `tenfold find-instances` command end to end (WAV reading and MFCCs: test_audio.py)."""

import json
from pathlib import Path

import numpy as np

from tenfold import _demo, cli
from tenfold.datasets import planted_series
from tenfold.metrics import interval_f1

DATA = Path(__file__).parent / "data"


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


def test_cli_group_score(capsys, tmp_path):
    """A .npy of speech features with --group-score speech gives what the WAV file gives; a wrong name
    is a usage error."""
    from tenfold import audio
    wav = str(DATA / "extract_seven.wav")
    np.save(tmp_path / "f.npy", audio.speech_features(*audio.read_wav(wav)))
    lengths = ["--min-length", "25", "--max-length", "60"]
    assert cli.main(["find-instances", wav, *lengths]) == 0
    from_wav = _parse_table(capsys.readouterr().out)
    assert cli.main(["find-instances", str(tmp_path / "f.npy"), *lengths, "--group-score", "speech"]) == 0
    from_npy = _parse_table(capsys.readouterr().out)
    assert len(from_wav) >= 3 and from_npy == [(round(s * 100), round(e * 100)) for s, e in from_wav]
    assert cli.main(["find-instances", wav, *lengths, "--group-score", "learned"]) == 2
    assert "--group-score" in capsys.readouterr().err


def test_cli_npy_and_errors(capsys, tmp_path):
    x, truth, _ = planted_series(2000, 2, 4, 40, 60, seed=1)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "40", "--max-length", "60"]) == 0
    rows = _parse_table(capsys.readouterr().out)
    assert interval_f1(rows, truth, 0.5) >= 0.75
    assert cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "abc", "--max-length", "60"]) == 2
    assert "--min-length" in capsys.readouterr().err
    assert cli.main(["find-instances", str(tmp_path / "x.npy"), "--min-length", "80", "--max-length", "60"]) == 2
    assert capsys.readouterr().err == ("tenfold find-instances: error: --min-length 80 is longer than "
                                       "--max-length 60\n")


def test_demo_section_runs():
    rows = _demo.demo_extract(n_series=1)
    assert rows and rows[0][0].startswith("tenfold") and "F1" in rows[0][2]
    assert "skipped" in rows[1][1]   # stumpy only on request


def test_cli_reports_nothing_on_noise(capsys, tmp_path):
    """The library's significance bar, the same for speech: white and brown noise hold no repeated word.

    Without a bar, find_instances returns 3 "instances" on each of these (significance about 0).
    """
    import wave

    rng = np.random.default_rng(3)
    for i, brown in enumerate((False, True)):
        x = rng.normal(scale=0.05, size=8 * 16000)
        if brown:
            x = np.cumsum(x) * 0.05
        x = np.clip(x / max(1e-9, np.abs(x).max()) * 0.5, -1, 1)
        path = tmp_path / f"noise{i}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes((x * 32767).astype("<i2").tobytes())
        assert cli.main(["find-instances", str(path), "--min-length", "0.3s", "--max-length", "0.6s"]) == 0
        out = capsys.readouterr().out
        assert "; 0 instance(s) found" in out, out
