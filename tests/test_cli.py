"""The `tenfold` command as a person meets it: one-line errors in the terms typed, one exit-status
convention for every subcommand, --version, quiet behaviour in pipes, progress bars only on a
terminal."""

import importlib.util
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from tenfold import cli, extract
from tenfold.datasets import planted_series

DATA = Path(__file__).parent / "data"
WAV = str(DATA / "extract_seven.wav")   # 4.4 s of speech, 22050 Hz, 16-bit PCM


def run_cli(*args, **kwargs):
    """`python -m tenfold ARGS` in a subprocess (the real entry point, real file descriptors)."""
    return subprocess.run([sys.executable, "-m", "tenfold", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kwargs)


@pytest.fixture
def files(tmp_path):
    x, _, _ = planted_series(2000, 2, 4, 40, 60, seed=1)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "complex.npy", np.zeros(300, complex))
    np.save(tmp_path / "nan.npy", np.r_[np.zeros(150), np.nan, np.zeros(149)])
    np.save(tmp_path / "cube.npy", np.zeros((200, 2, 2)))
    np.save(tmp_path / "ints.npy", np.arange(5000, dtype=np.int16))
    (tmp_path / "text.npy").write_text("1, 2, 3\n")
    (tmp_path / "text.wav").write_text("not audio at all\n")
    (tmp_path / "junk.tfsz").write_bytes(b"junk")
    np.savez(tmp_path / "arrays.npz", a=np.arange(10))
    return tmp_path


def fi(path, lo, hi, *extra):
    return ["find-instances", str(path), "--min-length", lo, "--max-length", hi, *extra]


# (argv builder, exit status, fragments the one-line message must contain, fragments it must not)
CASES = {
    "no command": (lambda d: [], 2, ["tenfold: error:", "command"], []),
    "unknown option": (lambda d: ["info", "--bogus"], 2, ["tenfold info: error:", "--bogus"], []),
    "demo --n too small": (lambda d: ["demo", "--n", "10"], 2, ["--n", "1,000"], []),
    "demo --threads 0": (lambda d: ["demo", "--threads", "0"], 2, ["--threads"], []),
    "lengths swapped, seconds, WAV": (lambda d: fi(WAV, "0.6s", "0.3s"), 2,
                                      ["--min-length 0.6s", "--max-length 0.3s"], ["frame", "min_length"]),
    "lengths swapped, samples": (lambda d: fi(d / "x.npy", "80", "60"), 2,
                                 ["--min-length 80", "--max-length 60"], ["min_length"]),
    "length not a length": (lambda d: fi(d / "x.npy", "abc", "60"), 2, ["--min-length", "'abc'", "samples"], []),
    "length negative": (lambda d: fi(d / "x.npy", "-3", "60"), 2, ["--min-length", "positive"], []),
    "length below 2 frames": (lambda d: fi(WAV, "5ms", "0.3s"), 2, ["--min-length 5ms", "2 frames"], []),
    "seconds on .npy without --rate": (lambda d: fi(d / "x.npy", "0.3s", "0.6s"), 2, ["--min-length 0.3s", "--rate"],
                                       []),
    "--rate for a WAV": (lambda d: fi(WAV, "0.3s", "0.6s", "--rate", "8000"), 2, ["--rate", "WAV"], []),
    "--rate not positive": (lambda d: fi(d / "x.npy", "40", "60", "--rate", "-5"), 2, ["--rate", "positive"], []),
    "range too long, WAV": (lambda d: fi(WAV, "1s", "3s"), 1,
                            ["extract_seven.wav", "--max-length 3s", "6.00 s"], ["X ", "max_length"]),
    "range too long, .npy": (lambda d: fi(d / "x.npy", "40", "1200"), 1,
                             ["x.npy", "--max-length 1200", "2000 samples", "2400 samples"], ["X ", "max_length"]),
    "missing .npy": (lambda d: fi(d / "nope.npy", "40", "60"), 1, ["cannot read", "nope.npy", "No such file"], []),
    "missing WAV": (lambda d: fi(d / "nope.wav", "0.3s", "0.6s"), 1, ["nope.wav"], []),
    "text file named .wav": (lambda d: fi(d / "text.wav", "0.3s", "0.6s"), 1, ["text.wav"], []),
    "text file named .npy": (lambda d: fi(d / "text.npy", "40", "60"), 1, ["text.npy", "not a .npy file"], []),
    "complex .npy": (lambda d: fi(d / "complex.npy", "40", "60"), 1, ["complex.npy", "complex128"], ["X "]),
    "NaN in .npy": (lambda d: fi(d / "nan.npy", "40", "60"), 1, ["nan.npy", "NaN", "row 150"], ["X "]),
    "3-d .npy": (lambda d: fi(d / "cube.npy", "40", "60"), 1, ["cube.npy", "(200, 2, 2)"], ["X "]),
    "plot folder missing": (lambda d: fi(d / "x.npy", "40", "60", "--plot", d / "no" / "p.png"), 1,
                            ["--plot", "does not exist"], []),
    "plot format unknown": (lambda d: fi(d / "x.npy", "40", "60", "--plot", d / "p.xyz"), 2, ["--plot", ".xyz"], []),
    "compress missing": (lambda d: ["compress", d / "nope.npy", d / "o.tfsz"], 1, ["cannot read", "nope.npy"], []),
    "compress complex": (lambda d: ["compress", d / "complex.npy", d / "o.tfsz"], 1, ["complex.npy"], []),
    "compress .npz": (lambda d: ["compress", d / "arrays.npz", d / "o.tfsz"], 1, ["arrays.npz", "not a .npy file"], []),
    "compress text named .npy": (lambda d: ["compress", d / "text.npy", d / "o.tfsz"], 1,
                                 ["text.npy", "not a .npy file"], ["pickle"]),
    "compress into missing folder": (lambda d: ["compress", d / "ints.npy", d / "no" / "o.tfsz"], 1,
                                     ["cannot write", "does not exist"], []),
    "decompress junk": (lambda d: ["decompress", d / "junk.tfsz", d / "o.npy"], 1, ["junk.tfsz", "Sprintz"], []),
    "decompress missing": (lambda d: ["decompress", d / "nope.tfsz", d / "o.npy"], 1, ["cannot read"], []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_errors_are_one_line_in_the_users_terms(case, files, capsys, monkeypatch):
    build, code, present, absent = CASES[case]
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    argv = [str(a) for a in build(files)]
    if "--plot" in argv and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("--plot's checks after the format need matplotlib (optional; absent in a wheel's test venv)")
    assert cli.main(argv) == code
    out, err = capsys.readouterr()
    lines = err.splitlines()
    command = argv[0] if argv else None
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tenfold {command}: error: " if command else "tenfold: error: "), err
    for text in present:
        assert text in lines[0], (text, err)
    for text in absent:
        assert text not in lines[0], (text, err)
    assert out == ""
    assert sorted(p.name for p in files.iterdir()) == before   # nothing written, nothing removed


def test_errors_without_traceback_through_the_entry_point(files):
    """The same convention from a real process: stderr is the one line, nothing else."""
    r = run_cli(*fi(files / "text.wav", "0.3s", "0.6s"))
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("tenfold find-instances: error: ")
    r = run_cli(*fi(files / "x.npy", "0.6s", "0.3s", "--rate", "100"))
    assert r.returncode == 2 and r.stderr == "tenfold find-instances: error: --min-length 0.6s is longer than " \
                                             "--max-length 0.3s\n"


def test_compress_onto_its_source_leaves_it_intact(files):
    """Once a SIGBUS that emptied the file: run in a subprocess so a regression cannot kill pytest."""
    src = files / "ints.npy"
    before = src.read_bytes()
    os.symlink(src, files / "link.npy")
    for dst in (src, files / "link.npy"):
        r = run_cli("compress", src, dst)
        assert r.returncode == 2, r.stderr
        assert "same file" in r.stderr and "Traceback" not in r.stderr
        assert src.read_bytes() == before
    r = run_cli("compress", src, files / "ints.tfsz")
    assert r.returncode == 0, r.stderr
    tfsz = files / "ints.tfsz"
    packed = tfsz.read_bytes()
    r = run_cli("decompress", tfsz, tfsz)
    assert r.returncode == 2 and "same file" in r.stderr
    assert tfsz.read_bytes() == packed


def test_plot_problems_are_found_before_the_search(files, capsys, monkeypatch):
    def search_must_not_run(*args, **kwargs):
        raise AssertionError("the search ran before --plot was checked")

    monkeypatch.setattr(extract, "find_instances", search_must_not_run)
    if importlib.util.find_spec("matplotlib") is not None:  # (the folder is checked after matplotlib loads)
        argv = fi(files / "x.npy", "40", "60", "--plot", str(files / "missing" / "out.png"))
        assert cli.main(argv) == 1
        assert "folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    assert cli.main(fi(files / "x.npy", "40", "60", "--plot", str(files / "out.png"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("tenfold find-instances: error: --plot needs matplotlib") and err.count("\n") == 1


def test_plot_is_written(files, capsys):
    pytest.importorskip("matplotlib")
    png = files / "out.png"
    assert cli.main(fi(files / "x.npy", "40", "60", "--plot", str(png))) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in files.iterdir() if p.name.startswith(".")] == []   # no temporary left


def test_npy_lengths_in_samples_or_seconds(files, capsys):
    """Without --rate lengths and the table are in samples; with --rate both are in seconds."""
    assert cli.main(fi(files / "x.npy", "40", "60")) == 0
    samples = capsys.readouterr().out
    assert "start (samples)" in samples
    assert cli.main(fi(files / "x.npy", "0.4s", "0.6s", "--rate", "100")) == 0
    seconds = capsys.readouterr().out
    assert "start (s)" in seconds

    def starts(out):
        return [float(line.split()[1]) for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]

    assert len(starts(samples)) >= 3
    np.testing.assert_allclose(np.array(starts(seconds)) * 100, starts(samples))


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout == f"tenfold {metadata.version('tenfold')}\n"
    r = run_cli("info")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f"tenfold {metadata.version('tenfold')}"


def test_help_documents_the_exit_status():
    r = run_cli("--help")
    assert r.returncode == 0
    for code in ("0", "1", "2", "130", "141"):
        assert any(line.split()[:1] == [code] for line in r.stdout.splitlines()), r.stdout
    r = run_cli("find-instances", "--help")
    assert r.returncode == 0 and "exit status" in r.stdout and "--rate" in r.stdout


@pytest.mark.parametrize("argv", [["info"], ["--help"], ["find-instances", "{x}", "--min-length", "40",
                                                          "--max-length", "60"]])
def test_closed_stdout_is_quiet(argv, files):
    """`tenfold ... | head -0`: stdout's reader is gone before the first write."""
    argv = [a.format(x=files / "x.npy") for a in argv]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run([sys.executable, "-m", "tenfold", *argv], stdout=write_end, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    finally:
        os.close(write_end)
    assert r.stderr == ""   # no BrokenPipeError traceback, no "Exception ignored ... flush" either
    # argparse itself swallows the failed write of --help (and exits 0); the commands report 141
    assert r.returncode == (0 if argv == ["--help"] else cli.EXIT_BROKEN_PIPE)


def test_interrupt_exit_status(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_info", interrupted)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err.strip() == "tenfold info: interrupted"


def test_progress_only_on_a_terminal(files):
    src, dst = files / "ints.npy", files / "ints.tfsz"
    r = run_cli("compress", src, dst)
    assert r.returncode == 0 and r.stderr == ""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "tenfold", "decompress", str(dst), str(files / "y.npy")],
                           stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:   # EIO: the terminal has no writer left
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert r.returncode == 0
    assert b"sprintz decompress" in seen


def test_demo_sections_draw_no_bar_off_a_terminal(capsys):
    from tenfold import _demo

    rows = _demo.demo_sprintz(5_000)
    assert rows and capsys.readouterr().err == ""


def test_demo_extract_returns_the_stumpy_row(monkeypatch):
    """With --stumpy the EXTRACT section used to return None (its table then crashed)."""
    import types

    from tenfold import _demo

    fake = types.ModuleType("stumpy")
    fake.mstump = lambda T, m: (None, None)
    fake.mmotifs = lambda T, P, indices, **kw: (None, [[0, 500, 1000]], None, None)
    monkeypatch.setitem(sys.modules, "stumpy", fake)
    rows = _demo.demo_extract(n_series=1, with_stumpy=True)
    assert [r[0] for r in rows] == ["tenfold extract.find_instances", "stumpy mstump + mmotifs"]
    assert rows[1][2].startswith("F1@IoU.5")


def test_unreadable_recordings_are_one_line(tmp_path):
    """FLAC, MP3 or a truncated WAV: whatever the reader's reason, one line naming the file, status 1."""
    (tmp_path / "a.wav").write_bytes(b"fLaC\x00\x00\x00\x22" + bytes(64))
    (tmp_path / "b.wav").write_bytes(b"ID3\x04\x00" + bytes(64))
    (tmp_path / "c.wav").write_bytes(Path(WAV).read_bytes()[:30])
    for name in ("a.wav", "b.wav", "c.wav"):
        r = run_cli(*fi(tmp_path / name, "0.3s", "0.6s"))
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert r.stderr.startswith("tenfold find-instances: error: ") and r.stderr.count("\n") == 1, r.stderr
        assert name in r.stderr


def test_compress_float_npy_round_trips_bit_for_bit(tmp_path):
    """The command takes the wide dtypes too: float64 with NaN payloads, -0.0 and infinities."""
    x = np.cumsum(np.random.default_rng(3).normal(size=(3000, 2)), axis=0).round(3)
    x[5, 0], x[6, 1], x[7, 0] = -0.0, np.inf, np.uint64(0x7FF8000000000123).view(np.float64)
    np.save(tmp_path / "f.npy", x)
    r = run_cli("compress", tmp_path / "f.npy", tmp_path / "f.tfsz")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.tfsz").stat().st_size < x.nbytes / 2   # the decimal structure is used
    r = run_cli("decompress", tmp_path / "f.tfsz", tmp_path / "g.npy")
    assert r.returncode == 0, r.stderr
    y = np.load(tmp_path / "g.npy")
    assert y.dtype == x.dtype and np.array_equal(y.view(np.uint64), x.view(np.uint64))
