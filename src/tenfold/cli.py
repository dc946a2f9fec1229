"""The ``tenfold`` command (also ``python -m tenfold``).

Every subcommand reports a problem as one line on stderr, ``tenfold <command>: error: <what>``,
in the terms the user typed (option names, file names, seconds or frames), and exits with:

0
    success
1
    a file could not be used: missing or unreadable input, contents that are not valid input
    (not a .npy array, not a PCM WAV file, a corrupt stream, a recording too short for the
    lengths asked for), or an output that could not be written
2
    the command line itself is wrong: unknown or malformed options, values out of range or
    inconsistent with each other, or an option that cannot be honoured here (``--plot``
    without matplotlib, an output that is the input itself); nothing was written
130
    interrupted (Ctrl-C)
141
    standard output was closed early (e.g. piped into ``head``): the command stops quietly

Progress bars are drawn on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, NoReturn, Sequence

import numpy as np

from ._table import table as _table

EXIT_OK, EXIT_FILE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 128 + 2   # the shell's code for a process ended by SIGINT
EXIT_BROKEN_PIPE = 128 + 13  # ... and by SIGPIPE (what a C tool piped into `head` reports)
MAX_THREADS = 1024           # far above any CPU this runs on; catches typos such as 10**9
NPY_MAGIC = b"\x93NUMPY"     # first bytes of every .npy file (numpy's format specification)

EXIT_CODES = """exit status:
  0    success
  1    a file could not be used (missing, unreadable, invalid content, too short) or written
  2    the command line is wrong (malformed or inconsistent options); nothing was written
  130  interrupted
  141  standard output closed early (e.g. piped into head)"""


class CommandError(Exception):
    """A problem to report as ``tenfold <command>: error: <message>`` with exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_FILE) -> None:
        super().__init__(message)
        self.code = code


def _usage(message: str) -> CommandError:
    return CommandError(message, EXIT_USAGE)


def _file_error(err: OSError, doing: str = "read") -> CommandError:
    name = err.filename if err.filename is not None else "file"
    return CommandError(f"cannot {doing} {os.fspath(name)!r}: {err.strerror or err}")


def version() -> str:
    """The installed package's version (its distribution metadata: the one source of truth).

    >>> from importlib import metadata
    >>> version() == metadata.version("tenfold")
    True
    """
    from importlib import metadata

    try:
        return metadata.version("tenfold")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown (not installed)"


# ---------------------------------------------------------------------------------------------
# demo, info
# ---------------------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    from . import _demo

    _demo.run(args.n, args.threads, args.stumpy)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    import tenfold

    print(f"tenfold {version()}")
    print(f"isa: {tenfold.isa()} (supported: {', '.join(tenfold.supported_isas())})")
    print(f"threads: {tenfold._runtime.default_threads()}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# find-instances
# ---------------------------------------------------------------------------------------------

class _Length:
    """A --min-length / --max-length value as typed: seconds ('0.3s', '300ms') or a count."""

    def __init__(self, text: str, option: str, unit: str) -> None:
        self.text, self.option = text, option
        t = text.strip().lower()
        scale = 1e-3 if t.endswith("ms") else 1.0 if t.endswith("s") else None
        number = t[:-2] if t.endswith("ms") else t[:-1] if t.endswith("s") else t
        try:
            value = float(number) if scale is not None else int(number)
        except ValueError:
            raise _usage(f"{option} must look like 0.3s, 300ms or a whole number of {unit}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise _usage(f"{option} must be positive, got {text!r}")
        self.seconds = value * scale if scale is not None else None
        self.count = None if scale is not None else int(value)

    def frames(self, rate: float | None, unit: str) -> int:
        """Frames at ``rate`` per second (``unit`` names a frame in messages)."""
        if self.count is not None:  # a count (exactly one of count and seconds is set)
            frames = self.count
        elif rate is None:
            raise _usage(f"{self.option} {self.text} is in seconds, but a .npy series has no sample rate: "
                         f"give --rate (samples per second) or a length in samples")
        else:
            assert self.seconds is not None  # exactly one of count and seconds is set
            frames = int(round(self.seconds * rate))
        if frames < 2:
            at = f" (it is {frames} at {rate:g} {unit} per second)" if self.seconds is not None else ""
            raise _usage(f"{self.option} {self.text} is below the shortest event that can be searched "
                         f"for, 2 {unit}{at}")
        return frames


def _check_plot_target(plot: str, recording: str) -> tuple[Any, str]:
    """Everything --plot needs, checked before the search runs: (pyplot, image format)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise _usage("--plot needs matplotlib, which is not installed (pip install matplotlib)") from None
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    ext = os.path.splitext(plot)[1].lstrip(".").lower()
    if ext not in formats:
        raise _usage(f"--plot {plot!r}: the file name must end in an image format matplotlib writes "
                     f"({', '.join('.' + f for f in sorted(formats))}), got {('.' + ext) if ext else 'no extension'}")
    folder = os.path.dirname(plot) or "."
    if os.path.isdir(plot):
        raise CommandError(f"--plot {plot!r} is a folder; give a file name such as {os.path.join(plot, 'out.png')!r}")
    if not os.path.isdir(folder):
        raise CommandError(f"--plot {plot!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"--plot {plot!r}: folder {folder!r} is not writable")
    try:
        if os.path.samefile(plot, recording):
            raise _usage(f"--plot {plot!r} is the recording itself; write the picture elsewhere")
    except OSError:
        pass   # the plot does not exist yet
    return plt, ext


def _read_npy_series(path: str) -> np.ndarray:
    """The (n,) or (n, d) real, finite array in a .npy file, or a CommandError saying why not."""
    try:
        with open(path, "rb") as f:
            magic = f.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:
            raise CommandError(f"{path!r} is not a .npy file (it does not start with numpy's header)")
        series = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as err:
        raise _file_error(err) from None
    except ValueError as err:
        raise CommandError(f"{path!r} is not a valid .npy array file: {err}") from None
    if series.dtype.kind not in "biuf":
        raise CommandError(f"{path!r} holds {series.dtype} values; find-instances needs real numbers")
    if series.ndim not in (1, 2) or (series.ndim == 2 and series.shape[1] == 0):
        raise CommandError(f"{path!r} holds an array of shape {series.shape}; find-instances needs "
                           "shape (n,) or (n, d): n time steps of d values")
    bad = ~np.isfinite(series.reshape(series.shape[0], -1)).all(axis=1)
    if bad.any():
        raise CommandError(f"{path!r} contains NaN or infinite values (first at row {int(np.argmax(bad))}); "
                           "interpolate or drop them first")
    return np.asarray(series)


def _speech_series(path: str) -> tuple[np.ndarray, str]:
    """Speech features of a WAV recording (one frame per ``audio.SPEECH_HOP_S``) and a description."""
    from . import audio

    try:
        sound, sr = audio.read_wav(path)
        series = audio.speech_features(sound, sr)
    except OSError as err:
        raise _file_error(err) from None
    except ValueError as err:
        raise CommandError(str(err) if repr(path) in str(err) else f"{path!r}: {err}") from None
    return series, f"{len(sound) / sr:.2f} s of audio at {sr} Hz -> {series.shape[0]} frames of speech features"


def _plot_instances(plt: Any, fmt: str, dst: str, series: np.ndarray, hits: Any, rate: float, unit: str) -> None:
    from ._atomic import atomic_output

    fig, ax = plt.subplots(figsize=(12, 4))
    tt = np.arange(series.shape[0]) / rate
    s2 = series.reshape(series.shape[0], -1)
    z = (s2 - s2.mean(0)) / (s2.std(0) + 1e-12)
    ax.imshow(z.T, aspect="auto", origin="lower", cmap="viridis",
              extent=(0, tt[-1] if len(tt) else 1, 0, z.shape[1]))
    for s, e in zip(hits.starts, hits.ends):
        ax.axvspan(s / rate, e / rate, color="red", alpha=0.3)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("feature")
    ax.set_title(f"{len(hits)} instances found by EXTRACT")
    fig.tight_layout()
    try:
        with atomic_output(dst) as tmp:
            fig.savefig(tmp, dpi=100, format=fmt)
    except OSError as err:
        raise _file_error(err, "write") from None
    finally:
        plt.close(fig)


def cmd_find_instances(args: argparse.Namespace) -> int:
    from . import audio, extract

    path = args.recording
    is_npy = path.lower().endswith(".npy")
    speech_rate = 1.0 / audio.SPEECH_HOP_S
    if args.rate is not None and not is_npy:
        raise _usage("--rate is for .npy series; a WAV file's sample rate is read from the file "
                     f"(its features are {speech_rate:g} frames per second)")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise _usage(f"--rate must be a positive number of samples per second, got {args.rate:g}")
    if is_npy:
        rate, unit, frame = args.rate, ("s" if args.rate is not None else "samples"), "samples"
    else:
        rate, unit, frame = speech_rate, "s", "frames"
    lo_arg, hi_arg = _Length(args.min_length, "--min-length", frame), _Length(args.max_length, "--max-length", frame)
    lo, hi = lo_arg.frames(rate, frame), hi_arg.frames(rate, frame)
    if lo > hi:
        raise _usage(f"--min-length {lo_arg.text} is longer than --max-length {hi_arg.text}")
    plot = _check_plot_target(args.plot, path) if args.plot else None

    if is_npy:
        series = _read_npy_series(path)
        label = f"{series.shape[0]} samples" + (f" at {rate:g} per second" if rate is not None else "")
    else:
        series, label = _speech_series(path)
    n = series.shape[0]
    if n < 2 * hi:
        have = f"{n} {frame}" + (f" ({n / rate:.2f} s)" if rate is not None else "")
        need = f"{2 * hi} {frame}" + (f" ({2 * hi / rate:.2f} s)" if rate is not None else "")
        raise CommandError(f"{path!r} is too short for --max-length {hi_arg.text}: it has {have}, and two "
                           f"instances of the longest event need {need}")
    t = time.perf_counter()
    try:
        # the library's bars; on a WAV file's speech features, the objective learned on speech
        score = args.group_score or ("silhouette" if is_npy else "speech")
        hits = extract.find_instances(series, lo, hi, random_state=args.seed, group_score=score)
    except (ValueError, TypeError) as err:
        raise CommandError(f"{path!r}: {err}") from None
    took = time.perf_counter() - t
    scale, digits = (rate, 3) if rate is not None else (1.0, 0)
    print(f"{path}: {label}; {len(hits)} instance(s) found in {took * 1e3:.0f} ms")
    rows = [[str(i + 1), f"{s / scale:.{digits}f}", f"{e / scale:.{digits}f}", f"{(e - s) / scale:.{digits}f}",
             f"{sc:.1f}"]
            for i, (s, e, sc) in enumerate(zip(hits.starts, hits.ends, hits.scores))]
    if rows:
        print(_table(rows, ["#", f"start ({unit})", f"end ({unit})", f"length ({unit})", "score"]))
    if plot is not None:
        _plot_instances(*plot, args.plot, series, hits, scale, unit)
        print(f"plot written to {args.plot}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# compress, decompress
# ---------------------------------------------------------------------------------------------

def _check_src_dst(src: str, dst: str) -> None:
    """Fail before any work when SRC is unreadable, DST cannot be created or is SRC itself."""
    from ._atomic import check_distinct

    try:
        with open(src, "rb"):
            pass
    except OSError as err:
        raise _file_error(err) from None
    folder = os.path.dirname(dst) or "."
    if os.path.isdir(dst):
        raise CommandError(f"cannot write {dst!r}: it is a folder; give a file name")
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write {dst!r}: folder {folder!r} does not exist")
    try:
        check_distinct(src, dst, "SRC", "DST")
    except ValueError as err:
        raise _usage(str(err)) from None


def cmd_compress(args: argparse.Namespace) -> int:
    from . import sprintz

    _check_src_dst(args.src, args.dst)
    t = time.perf_counter()
    try:
        stats = sprintz.compress_file(args.src, args.dst, forecaster=args.forecaster, entropy=not args.no_entropy)
    except OSError as err:
        raise _file_error(err, "write") from None
    except (ValueError, TypeError) as err:
        raise CommandError(f"{args.src!r}: {err}") from None
    dt = time.perf_counter() - t
    print(f"{args.src} -> {args.dst}: {stats['raw_bytes']:,} -> {stats['compressed_bytes']:,} bytes "
          f"(ratio {stats['ratio']:.2f}, {stats['raw_bytes'] / max(dt, 1e-9) / 1e6:.0f} MB/s)")
    return EXIT_OK


def cmd_decompress(args: argparse.Namespace) -> int:
    from . import sprintz

    _check_src_dst(args.src, args.dst)
    t = time.perf_counter()
    try:
        shape = sprintz.decompress_file(args.src, args.dst)
    except OSError as err:
        raise _file_error(err, "write") from None
    except ValueError as err:
        raise CommandError(f"{args.src!r}: {err}") from None
    print(f"{args.src} -> {args.dst}: shape {shape} in {time.perf_counter() - t:.2f} s")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# argument parsing and the error convention
# ---------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``<prog>: error: <message>``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _int_in(lo: int, hi: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {f'between {lo:,} and {hi:,}' if hi else f'>= {lo:,}'}, "
                                             f"got {text}")
        return value
    parse.__name__ = "int"
    return parse


def build_parser() -> argparse.ArgumentParser:
    import tenfold
    from . import audio, extract

    parser = _Parser(prog="tenfold", description=tenfold.__doc__.splitlines()[0], epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tenfold {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    p = sub.add_parser("demo", help="run the main job on synthesised data and compare with numpy/FAISS",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=_int_in(1000), default=1_000_000, help="number of vectors (default 1,000,000)")
    p.add_argument("--threads", type=_int_in(1, MAX_THREADS), default=1, help="threads for every method (default 1)")
    p.add_argument("--stumpy", action="store_true", help="also run stumpy in the EXTRACT section (slow first call)")
    p.set_defaults(fn=cmd_demo, parser=p)
    p = sub.add_parser("find-instances", help="find every instance of the repeated event in a WAV (or .npy) file",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    hop_ms = audio.SPEECH_HOP_S * 1e3
    p.add_argument("recording", help=f"a .wav file (described by speech features every {hop_ms:g} ms) "
                                     "or a .npy array (n,) or (n, d)")
    p.add_argument("--min-length", required=True,
                   help="shortest instance: 0.3s, 300ms, or a number of frames (WAV) / samples (.npy)")
    p.add_argument("--max-length", required=True,
                   help="longest instance: 0.6s, 600ms, or a number of frames (WAV) / samples (.npy)")
    p.add_argument("--rate", type=float, default=None,
                   help="samples per second of a .npy series; needed for lengths in seconds (not for WAV)")
    p.add_argument("--seed", type=_int_in(0), default=0, help="random seed (default 0)")
    p.add_argument("--group-score", choices=extract.GROUP_SCORES, default=None,
                   help="how groups of segments are scored: speech, the objective learned on speech (default "
                        "for WAV files; also for .npy speech features on a mel axis), or silhouette (default "
                        "for .npy)")
    p.add_argument("--plot", default=None, help="write a picture with the instances shaded (needs matplotlib)")
    p.set_defaults(fn=cmd_find_instances, parser=p)
    p = sub.add_parser("compress", help="compress an integer or float .npy file with Sprintz (lossless)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC",
                   help="input .npy (8- to 64-bit integers or float32/float64, shape (n,) or (n, nvars))")
    p.add_argument("dst", metavar="DST", help="output file (written whole or not at all)")
    p.add_argument("--forecaster", choices=["fire", "delta"], default="fire")
    p.add_argument("--no-entropy", action="store_true", help="skip the Huffman stage (faster decoding)")
    p.set_defaults(fn=cmd_compress, parser=p)
    p = sub.add_parser("decompress", help="decompress a file from `tenfold compress` to .npy",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC", help="input written by `tenfold compress`")
    p.add_argument("dst", metavar="DST", help="output .npy (written whole or not at all)")
    p.set_defaults(fn=cmd_decompress, parser=p)
    p = sub.add_parser("info", help="print the version, the SIMD path and thread count in use",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(fn=cmd_info, parser=p)
    return parser


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):   # not a real file (e.g. captured by a test)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tenfold`` command line; returns the exit status (see the module docstring).

    Errors go to stderr as one line; the status says what kind they were:

    >>> from tenfold.cli import main
    >>> main(["find-instances", "x.npy", "--min-length", "0.6s", "--max-length", "0.3s", "--rate", "100"])
    2
    >>> main(["decompress", "no-such-file.tfsz", "out.npy"])
    1
    """
    prog = "tenfold"
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:   # reported by the subcommand's parser, so the message names the subcommand
            args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
        prog = f"tenfold {args.command}"
        code = args.fn(args)
        sys.stdout.flush()
        return code
    except CommandError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as done:   # argparse after --help, --version or a usage error
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        return done.code if isinstance(done.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
