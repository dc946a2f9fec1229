"""Speech front end for EXTRACT: WAV reading, MFCCs, and the speech feature recipe (numpy only).

:func:`read_wav` reads RIFF/WAVE files: integer PCM with 8, 16, 24 or 32-bit samples, IEEE float
(32 or 64-bit), in the plain or the WAVE_FORMAT_EXTENSIBLE layout. Other codecs (FLAC, MP3,
ADPCM, ...) are rejected with a message that says so; convert them first, e.g.
``ffmpeg -i in.flac out.wav``.

:func:`log_mel` computes log mel filterbank energies and :func:`mfcc` their cepstral coefficients.
:func:`speech_features` is the recipe the ``tenfold find-instances`` command uses on a recording:
every 10 ms, 28 log mel energies with the frame's level (their mean, the frame's log energy,
which makes windows that are mostly silence look alike) removed; deltas are optional (they did
not help on the benchmark's development set); ``front_end="mfcc"`` gives the earlier recipe
(13 MFCCs without c0). :func:`bands_from_mfcc` turns MFCCs a user already has back into
level-free values on the mel axis (the inverse DCT), the form the search does best with on
speech. The event search itself (:mod:`tenfold.extract`) knows nothing of speech.

>>> import numpy as np
>>> sr = 16000
>>> t = np.arange(sr) / sr
>>> speech_features(np.sin(2 * np.pi * 440 * t), sr).shape    # 1 s -> 98 frames of 28 bands
(98, 28)
"""

from __future__ import annotations

import numbers
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["bands_from_mfcc", "difference_autocorrelation", "lifter_factors", "log_mel", "looks_liftered", "mfcc",
           "read_wav", "speech_features"]

# WAVE format tags (Microsoft RIFF specification, mmreg.h)
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_TAG_NAMES = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
              0x0055: "MP3", 0x0050: "MPEG", 0xF1AC: "FLAC"}
SUPPORTED = "PCM WAV (8/16/24/32-bit integer or 32/64-bit float samples, plain or extensible header)"
SPEECH_HOP_S = 0.010     # 10 ms between frames: the usual hop for speech features
SPEECH_FRAME_S = 0.025   # 25 ms analysis window
SPEECH_MEL_BANDS = 28    # log-mel bands of the speech recipe (16-40 tried on dev speakers: see notes)


def _unsupported(path: str, what: str) -> ValueError:
    return ValueError(f"{path!r}: {what}; supported: {SUPPORTED}. Convert other formats first, "
                      "e.g. ffmpeg -i input.flac output.wav")


def read_wav(path: Any) -> tuple[np.ndarray, int]:
    """Read a WAV file: integer PCM (8/16/24/32-bit) or float (32/64-bit), any channel count.

    Returns ``(audio, sample_rate)``: float64 in [-1, 1] for integer PCM (float files as stored),
    shape (n,) for mono or (n, channels). A file that is not such a WAV file raises ValueError
    saying why (not RIFF/WAVE, FLAC or MP3 data, a compressed codec, a truncated header).

    >>> import tempfile, os, wave
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> with wave.open(p, "wb") as w:
    ...     w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    ...     w.writeframes(np.array([0, 16384, -32768], "<i2").tobytes())
    >>> read_wav(p)
    (array([ 0. ,  0.5, -1. ]), 8000)
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{name!r}: cannot read the file: {err.strerror or err}") from err
    head = data[:12]
    if head[:4] == b"fLaC":
        raise _unsupported(name, "this is FLAC data, not WAV")
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        raise _unsupported(name, "this looks like MP3 data, not WAV")
    if head[:4] == b"OggS":
        raise _unsupported(name, "this is Ogg data, not WAV")
    if len(data) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise _unsupported(name, "not a RIFF/WAVE file (no 'RIFF....WAVE' header)")
    fmt = None
    samples = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            samples = body       # may be shorter than `size` if the file was cut: use what is there
            break
        pos += 8 + size + (size & 1)     # chunks are padded to even sizes
    if fmt is None or len(fmt) < 16:
        raise _unsupported(name, "no complete 'fmt ' chunk before the audio data")
    if samples is None:
        raise _unsupported(name, "no 'data' chunk")
    tag, ch, sr, _, block, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise _unsupported(name, "WAVE_FORMAT_EXTENSIBLE header shorter than 40 bytes")
        tag = struct.unpack_from("<H", fmt, 24)[0]    # first two bytes of the SubFormat GUID
    if tag not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
        what = _TAG_NAMES.get(tag, f"format tag {tag:#06x}")
        raise _unsupported(name, f"compressed or unknown codec ({what})")
    if ch < 1 or sr < 1:
        raise _unsupported(name, f"invalid header ({ch} channels, {sr} Hz)")
    width = (bits + 7) // 8
    if tag == WAVE_FORMAT_PCM and width not in (1, 2, 3, 4):
        raise _unsupported(name, f"{bits}-bit integer samples")
    if tag == WAVE_FORMAT_IEEE_FLOAT and width not in (4, 8):
        raise _unsupported(name, f"{bits}-bit float samples")
    if block < width * ch:
        raise _unsupported(name, f"invalid block size {block} for {ch} x {bits}-bit samples")
    frames = len(samples) // block
    raw = np.frombuffer(samples, np.uint8, count=frames * block).reshape(frames, block)
    raw = raw[:, :width * ch].reshape(frames * ch, width)    # drop any per-block padding
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        a = raw.copy().view("<f4" if width == 4 else "<f8")[:, 0].astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{name!r}: float samples contain NaN or infinity")
    elif width == 1:
        a = (raw[:, 0].astype(np.float64) - 128.0) / 128.0     # 8-bit WAV is unsigned
    else:
        # little-endian signed integers of `width` bytes: place them in the top of an int32
        buf = np.zeros((len(raw), 4), np.uint8)
        buf[:, 4 - width:] = raw
        a = buf.view("<i4")[:, 0].astype(np.float64) / float(1 << 31)
    a = a.reshape(frames, ch)
    return (a[:, 0] if ch == 1 else a), int(sr)


def _mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_inv(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def log_mel(audio: Any, sample_rate: int, *, n_mels: int = 40, frame_length: float = SPEECH_FRAME_S,
            hop_length: float = SPEECH_HOP_S, fmin: float = 20.0, fmax: float | None = None,
            preemphasis: float = 0.97) -> np.ndarray:
    """Log mel filterbank energies, one row per frame and one column per band (numpy only).

    Pre-emphasis, frames of ``frame_length`` seconds every ``hop_length`` seconds, Hamming
    window, power spectrum, ``n_mels`` triangular filters evenly spaced on the mel scale from
    ``fmin`` to ``fmax`` (default: half the sample rate), natural log (of the energy + 1e-10).
    Frame ``i`` starts at sample ``i * round(hop_length * sample_rate)``. Stereo input is
    averaged. :func:`mfcc` is the DCT of these rows.

    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> L = log_mel(np.sin(2 * np.pi * 440 * t), sr, n_mels=24)
    >>> L.shape, int(L[50].argmax())     # the band holding 440 Hz is the loudest
    ((98, 24), 4)
    """
    a, frame, hop = _framing(audio, sample_rate, frame_length, hop_length)
    if isinstance(n_mels, bool) or not isinstance(n_mels, numbers.Integral) or n_mels < 1:
        raise ValueError(f"n_mels must be a positive int, got {n_mels!r}")
    for name, v in (("fmin", fmin), ("fmax", fmax)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise ValueError(f"{name} must be a number of Hz, got {v!r}")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= float(fmin) < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2 = {sample_rate / 2.0:g} Hz, "
                         f"got fmin={fmin!r}, fmax={fmax!r}")
    a = np.concatenate([a[:1], a[1:] - preemphasis * a[:-1]])
    n_frames = 1 + (len(a) - frame) // hop
    frames = np.lib.stride_tricks.sliding_window_view(a, frame)[::hop][:n_frames] * np.hamming(frame)
    nfft = 1 << int(np.ceil(np.log2(frame)))
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2 / nfft
    pts = _mel_inv(np.linspace(_mel(np.array(float(fmin))), _mel(np.array(fmax)), int(n_mels) + 2))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    lower, centre, upper = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    bank = np.maximum(0.0, np.minimum((freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)))
    return np.log(power @ bank.T + 1e-10)


def _framing(audio: Any, sample_rate: int, frame_length: float, hop_length: float) -> tuple[np.ndarray, int, int]:
    """Validated mono float64 samples and the frame and hop lengths in samples."""
    a = np.asarray(audio)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"audio must be a real numeric array, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a.mean(axis=1)
    if a.ndim != 1:
        raise ValueError(f"audio must have shape (n,) or (n, channels), got {a.shape}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("audio contains NaN or infinite values")
    frame = int(round(frame_length * sample_rate))
    hop = int(round(hop_length * sample_rate))
    if frame < 2 or hop < 1:
        raise ValueError("frame_length and hop_length are too short for this sample_rate")
    if len(a) < frame:
        raise ValueError(f"audio has {len(a)} samples, fewer than one frame ({frame})")
    return a, frame, hop


def mfcc(audio: Any, sample_rate: int, *, n_mfcc: int = 13, frame_length: float = SPEECH_FRAME_S,
         hop_length: float = SPEECH_HOP_S, n_mels: int = 40, fmin: float = 20.0,
         fmax: float | None = None, preemphasis: float = 0.97) -> np.ndarray:
    """Mel-frequency cepstral coefficients, one row per frame (numpy only).

    The rows of :func:`log_mel` (same arguments) times the orthonormal DCT-II: c0 is the
    frame's mean log energy times sqrt(n_mels), c1, c2, ... its spectral shape, coarse to fine.

    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> feats = mfcc(np.sin(2 * np.pi * 440 * t), sr)
    >>> feats.shape
    (98, 13)
    """
    logmel = log_mel(audio, sample_rate, n_mels=n_mels, frame_length=frame_length, hop_length=hop_length,
                     fmin=fmin, fmax=fmax, preemphasis=preemphasis)
    if isinstance(n_mfcc, bool) or not isinstance(n_mfcc, numbers.Integral) or not 1 <= n_mfcc <= n_mels:
        raise ValueError(f"n_mfcc must be an int in [1, n_mels={n_mels}], got {n_mfcc!r}")
    return logmel @ _dct_rows(n_mfcc, n_mels).T


def _dct_rows(n_coefficients: int, n_points: int) -> np.ndarray:
    """(n_coefficients, n_points): the first rows of the orthonormal DCT-II on n_points values.

    :func:`mfcc` multiplies log mel rows by its transpose; :func:`bands_from_mfcc` maps cepstra
    back through it (the inverse, since the rows are orthonormal).
    """
    k = np.arange(n_coefficients)[:, None]
    rows = np.cos(np.pi * k * (2 * np.arange(n_points)[None, :] + 1) / (2 * n_points)) * np.sqrt(2.0 / n_points)
    rows[0] /= np.sqrt(2.0)
    return rows


BANDS_FROM_MFCC = 24      # mel positions for bands_from_mfcc (16-48 tried on dev recordings: see notes)
# The sinusoidal cepstral lifter of HTK, Kaldi (torchaudio.compliance.kaldi) and python_speech_features,
# on by default there with L = 22: c_k is multiplied by 1 + (L / 2) sin(pi k / L), up to 12x at k = 11.
STANDARD_LIFTER = 22.0
# lifter="auto" reads MFCCs as liftered when the median spread (std over frames) of c5..c8 exceeds
# this multiple of c1's. Speech cepstra decay with k: 0.14-0.46 unliftered (audio.mfcc, librosa),
# 0.53-1.36 with lifter 22 (python_speech_features and 23-bin Kaldi-like), on 40 dev recordings each
# (benchmarks/notes/extract.md, issue 14 session 14); lifter 22 raises c5..c8 about 3.8x against c1.
LIFTED_SPREAD_RATIO = 0.6
_LIFTER_PROBE = slice(5, 9)     # c5..c8, where the standard lifter's factor is 8-11 (c1: 2.6)
# MFCCs from frames much longer than their hop change slowly, so their frame-to-frame differences are
# correlated: the lag-1 autocorrelation of the differences (median over the coefficients) was 0.69-0.87
# for librosa's default n_fft=2048 (128 ms frames every 10 ms at 16 kHz) and -0.28-0.14 for 25 ms
# frames (ours, librosa with n_fft=400, python_speech_features) on 309 dev recordings each
# (benchmarks/notes/extract.md, issue 14 session 14). bands_from_mfcc warns above this value.
LONG_FRAME_AUTOCORRELATION = 0.6


def lifter_factors(lifter: float, n_coefficients: int) -> np.ndarray:
    """The factors 1 + (lifter / 2) sin(pi k / lifter), k = 0..n_coefficients-1, of a sinusoidal
    cepstral lifter (ones for lifter 0).

    >>> np.round(lifter_factors(22.0, 13)[[0, 1, 11, 12]], 2)
    array([ 1.  ,  2.57, 12.  , 11.89])
    """
    if isinstance(lifter, bool) or not isinstance(lifter, numbers.Real) or not np.isfinite(lifter) or lifter < 0:
        raise ValueError(f"lifter must be a finite number >= 0, got {lifter!r}")
    if isinstance(n_coefficients, bool) or not isinstance(n_coefficients, numbers.Integral) or n_coefficients < 1:
        raise ValueError(f"n_coefficients must be an int >= 1, got {n_coefficients!r}")
    if lifter == 0:
        return np.ones(n_coefficients)
    return 1.0 + lifter / 2.0 * np.sin(np.pi * np.arange(n_coefficients) / lifter)


def _as_mfccs(mfccs: Any) -> np.ndarray:
    """``mfccs`` checked (real, finite, (frames, coefficients) with >= 2 coefficients) as float64."""
    C = np.asarray(mfccs)
    if C.dtype.kind not in "fiu":
        raise TypeError(f"mfccs must be a real numeric array, got dtype {C.dtype}")
    if C.ndim != 2:
        raise ValueError(f"mfccs must have shape (frames, coefficients), got {C.shape}")
    if C.shape[1] < 2:
        raise ValueError(f"mfccs needs at least 2 coefficients (c0 and c1) per frame, got shape {C.shape}")
    if C.shape[1] > C.shape[0]:
        raise ValueError(f"mfccs has more coefficients than frames (shape {C.shape}): rows must be frames; "
                         "librosa's (coefficients, frames) layout needs a transpose (.T)")
    C = C.astype(np.float64)
    if not np.isfinite(C).all():
        raise ValueError("mfccs contains NaN or infinite values")
    return C


def difference_autocorrelation(mfccs: Any) -> float:
    """The lag-1 autocorrelation of each coefficient's frame-to-frame differences, median over the
    coefficients that vary (nan with fewer than 4 frames or none varying). Near 0 or below for MFCCs
    from frames about 2.5x their hop; near 1 when each frame spans many hops (see
    LONG_FRAME_AUTOCORRELATION).

    >>> x = np.random.default_rng(0).normal(size=32000)
    >>> short, long = mfcc(x, 16000), mfcc(x, 16000, frame_length=0.128)   # 25 ms and 128 ms frames
    >>> bool(difference_autocorrelation(short) < 0.6 < difference_autocorrelation(long))
    True
    """
    C = _as_mfccs(mfccs)
    d = np.diff(C[:, C.std(axis=0) > 0], axis=0)
    if d.shape[0] < 3 or d.shape[1] == 0:
        return float("nan")
    d = d - d.mean(axis=0)
    var = (d * d).mean(axis=0)
    d, var = d[:, var > 0], var[var > 0]
    if len(var) == 0:
        return float("nan")
    return float(np.median((d[1:] * d[:-1]).mean(axis=0) / var))


def looks_liftered(mfccs: Any) -> bool:
    """True when the spread of c5..c8 over the frames (rows) is that of liftered speech cepstra
    (see LIFTED_SPREAD_RATIO); False with fewer than 9 coefficients, more than the standard lifter
    can have been applied to (its factor is <= 0 from c23 on), or a constant c1.

    >>> C = np.random.default_rng(0).normal(size=(200, 13)) / (1.0 + np.arange(13))   # decaying spreads
    >>> looks_liftered(C), looks_liftered(C * lifter_factors(STANDARD_LIFTER, 13))
    (False, True)
    """
    C = _as_mfccs(mfccs)
    if not _LIFTER_PROBE.stop <= C.shape[1] or (lifter_factors(STANDARD_LIFTER, C.shape[1]) <= 0).any():
        return False
    spread = C.std(axis=0)
    return bool(spread[1] > 0 and np.median(spread[_LIFTER_PROBE]) > LIFTED_SPREAD_RATIO * spread[1])


def bands_from_mfcc(mfccs: Any, n_bands: int = BANDS_FROM_MFCC, *, drop_c0: bool = True,
                    lifter: float | str = "auto") -> np.ndarray:
    """Map cepstra back onto the mel axis: the inverse orthonormal DCT-II of each frame's MFCCs.

    ``mfccs`` has one row per frame and one column per coefficient, c0 first: shape
    ``(frames, coefficients)``, as :func:`mfcc` returns them and as
    :func:`tenfold.extract.find_instances` reads a series. (librosa's ``feature.mfcc`` returns
    ``(coefficients, frames)``: pass its transpose.) Each row ``c`` becomes
    ``v[j] = sum_k c[k] * w_k * cos(pi * k * (2j + 1) / (2 * n_bands))`` for the ``n_bands``
    evenly spaced mel positions ``j``, with the orthonormal weights ``w_0 = sqrt(1 / n_bands)``,
    ``w_k = sqrt(2 / n_bands)``. With ``drop_c0`` (default) c0, the frame's level, is left out,
    so every output row sums to zero. When ``n_bands`` equals the number of mel filters the
    MFCCs came from and every coefficient is given, this returns the log mel energies minus
    each frame's mean exactly; with fewer coefficients it is their smoothed version (the
    projection onto the first cosines), sampled at ``n_bands`` positions.

    ``lifter`` undoes a sinusoidal cepstral lifter first (each c_k divided by
    :func:`lifter_factors`): a number L (0: none; 22 for python_speech_features', Kaldi's and HTK's
    defaults), or ``"auto"`` (default): L = ``STANDARD_LIFTER`` when :func:`looks_liftered`, else
    none. Liftered coefficients weigh the fine spectral detail up to 12x, and on dev recordings with
    a voice per word and many distractors python_speech_features' MFCCs scored F1@.5 0.60 through
    this function without undoing it, 0.75 with ``"auto"``, as ours (0.76); unliftered MFCCs
    (:func:`mfcc`, librosa's) were never read as liftered there. Stationary noise has flat cepstral
    spreads and is read as liftered: harmless, it holds no event to find.

    A ``UserWarning`` says when the MFCCs look computed from frames much longer than their hop
    (:func:`difference_autocorrelation` above ``LONG_FRAME_AUTOCORRELATION``), as librosa's default
    ``n_fft=2048`` gives at a 10 ms hop: on dev recordings such MFCCs scored 0.54 with a voice per
    word and many distractors and found a chance group in 24% of recordings without a repeat (ours
    0.76 and 6%); nothing inside this function recovered it (sharpening the time course was tried).

    No information is added: the point is where it sits. The segment search scales each
    dimension and stretches the feature axis by a few percent; on mel positions these act on
    frequency bands (a voice's formants sit higher or lower on that axis), on cepstra they mean
    little. Held out, with a different voice per word, 13 MFCCs passed this way to
    ``find_instances`` (default arguments) scored F1@.5 0.64-0.69 against 0.45-0.51 as they
    were, nothing found on all-distinct words 95% (``benchmarks/notes/extract.md``, issue 14);
    with ``find_instances(..., group_score="speech")``, the objective learned on these bands,
    0.79-0.80 (session 17).

    >>> sr = 16000
    >>> x = np.random.default_rng(0).normal(size=sr)
    >>> C = mfcc(x, sr)                                     # (98, 13): c0..c12
    >>> B = bands_from_mfcc(C)
    >>> B.shape, bool(np.allclose(B.sum(axis=1), 0.0))      # no level left in a frame
    ((98, 24), True)
    >>> L = log_mel(x, sr, n_mels=24)                       # all 24 coefficients: exact inverse
    >>> full = bands_from_mfcc(mfcc(x, sr, n_mfcc=24, n_mels=24), n_bands=24, lifter=0)
    >>> bool(np.allclose(full, L - L.mean(axis=1, keepdims=True)))
    True
    >>> lifted = C * lifter_factors(22.0, 13)               # as python_speech_features returns them
    >>> bool(np.allclose(bands_from_mfcc(lifted, lifter=22.0), bands_from_mfcc(C, lifter=0)))
    True
    """
    C = _as_mfccs(mfccs)
    if isinstance(n_bands, bool) or not isinstance(n_bands, numbers.Integral) or n_bands < 2:
        raise ValueError(f"n_bands must be an int >= 2, got {n_bands!r}")
    if not isinstance(drop_c0, (bool, np.bool_)):
        raise TypeError(f"drop_c0 must be a bool, got {drop_c0!r}")
    if isinstance(lifter, str):
        if lifter != "auto":
            raise ValueError(f"lifter must be 'auto' or a number >= 0, got {lifter!r}")
        lifter = STANDARD_LIFTER if looks_liftered(C) else 0.0
    factors = lifter_factors(lifter, C.shape[1])      # refuses a lifter that is not a finite number >= 0
    if (factors <= 0).any():
        raise ValueError(f"lifter={lifter!r} has a factor <= 0 for c{int(np.argmax(factors <= 0))} "
                         f"of {C.shape[1]} coefficients: it cannot have been applied")
    C = C / factors
    slow = difference_autocorrelation(C)
    if slow > LONG_FRAME_AUTOCORRELATION:
        warnings.warn(f"mfccs change slowly from frame to frame (lag-1 autocorrelation of their differences "
                      f"{slow:.2f} > {LONG_FRAME_AUTOCORRELATION}), as MFCCs from frames "
                      "much longer than the hop do (librosa's default n_fft=2048 is 128 ms at 16 kHz); on such "
                      "input find_instances finds chance groups more often: compute them from ~25 ms frames "
                      "(librosa: n_fft=400 at 16 kHz)", UserWarning, stacklevel=2)
    basis = _dct_rows(C.shape[1], int(n_bands))
    if drop_c0:
        basis[0] = 0.0
    return C @ basis


def _deltas(F: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression slope of each column over +-width frames (edges repeated)."""
    P = np.pad(F, ((width, width), (0, 0)), mode="edge")
    n = F.shape[0]
    num = sum(k * (P[width + k:width + k + n] - P[width - k:width - k + n]) for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


SPEECH_FRONT_ENDS = ("logmel", "mfcc")


def speech_features(audio: Any, sample_rate: int, *, deltas: bool = False, front_end: str = "logmel") -> np.ndarray:
    """The speech recipe for :func:`tenfold.extract.find_instances`: one row per 10 ms frame.

    ``front_end="logmel"`` (default): ``SPEECH_MEL_BANDS`` log mel energies, each frame's mean
    over the bands subtracted (the frame's level: with it, windows that are mostly silence
    match each other better than two utterances of one word do). The same information as every
    cepstral coefficient but c0, kept on the band axis, where the segment search's per-dimension
    scaling and feature-axis stretch act on frequency bands (a voice's formants sit higher or
    lower on that axis). With a different voice per word, the benchmark's development speakers
    found the repeated word far more often than with MFCCs (see benchmarks/notes/extract.md).
    ``front_end="mfcc"``: the earlier recipe, 13 MFCCs with c0 dropped (c1..c12).
    ``deltas`` appends each column's slope over +-2 frames. The ``find-instances`` command passes
    these to ``find_instances(..., group_score="speech")``, the group objective learned on speech.

    >>> sr = 8000
    >>> x = np.random.default_rng(0).normal(size=sr)
    >>> speech_features(x, sr).shape, speech_features(x, sr, front_end="mfcc", deltas=True).shape
    ((98, 28), (98, 24))
    >>> bool(np.allclose(speech_features(x, sr).sum(axis=1), 0.0))   # no level left in a frame
    True
    """
    if front_end == "logmel":
        L = log_mel(audio, sample_rate, n_mels=SPEECH_MEL_BANDS)
        c = L - L.mean(axis=1, keepdims=True)
    elif front_end == "mfcc":
        c = mfcc(audio, sample_rate)[:, 1:]
    else:
        raise ValueError(f"front_end must be one of {SPEECH_FRONT_ENDS}, got {front_end!r}")
    return np.hstack([c, _deltas(c)]) if deltas else c
