"""Speech front end: WAV formats (and why a file is refused), MFCCs, the speech feature recipe."""

import struct
import warnings

import numpy as np
import pytest

from tenfold import audio

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"   # KSDATAFORMAT_SUBTYPE_*


def riff(fmt_body: bytes, data: bytes, extra_chunk: bytes = b"") -> bytes:
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra_chunk
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def wav_bytes(x, sr=8000, bits=16, channels=1, floating=False, extensible=False, valid_bits=None):
    """A WAV file written from the format definition (independent of read_wav's code)."""
    x = np.asarray(x, np.float64).reshape(-1, channels)
    width = bits // 8
    if floating:
        data = x.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        data = np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    else:
        scale = 2.0 ** (bits - 1)
        ints = np.clip(np.round(x * scale), -scale, scale - 1).astype(np.int64).ravel()
        data = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    tag = 3 if floating else 1
    block = width * channels
    base = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, sr, sr * block, block, bits)
    if extensible:
        base += struct.pack("<HHI", 22, valid_bits or bits, 0) + struct.pack("<H", tag) + GUID_TAIL
    return riff(base, data, extra_chunk=b"LIST" + struct.pack("<I", 3) + b"abc\x00")  # odd chunk, padded


SIGNAL = np.sin(np.linspace(0, 20, 1001)) * 0.5


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("extensible", [False, True])
def test_integer_pcm(tmp_path, bits, extensible):
    p = tmp_path / "a.wav"
    p.write_bytes(wav_bytes(SIGNAL, bits=bits, extensible=extensible))
    a, sr = audio.read_wav(p)
    assert sr == 8000 and a.shape == (1001,) and a.dtype == np.float64
    assert np.abs(a - SIGNAL).max() <= 1.0 / 2 ** (bits - 1) + 1e-12


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("extensible", [False, True])
def test_float(tmp_path, bits, extensible):
    p = tmp_path / "f.wav"
    p.write_bytes(wav_bytes(SIGNAL * 1.5, bits=bits, floating=True, extensible=extensible))
    a, _ = audio.read_wav(p)
    np.testing.assert_allclose(a, SIGNAL * 1.5, rtol=1e-6 if bits == 32 else 0)


def test_stereo_24bit_extensible_and_extremes(tmp_path):
    x = np.stack([np.linspace(-1, 1 - 2 ** -23, 300), np.zeros(300)], 1)
    p = tmp_path / "s.wav"
    p.write_bytes(wav_bytes(x, bits=24, channels=2, extensible=True))
    a, _ = audio.read_wav(p)
    assert a.shape == (300, 2) and a[0, 0] == -1.0 and a[-1, 0] == 1 - 2 ** -23
    np.testing.assert_allclose(a, x, atol=2 ** -23)


def test_stdlib_writer_agrees(tmp_path):
    import wave
    p = str(tmp_path / "w.wav")
    with wave.open(p, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.array([0, 1, -1, 32767, -32768], "<i2").tobytes())
    a, sr = audio.read_wav(p)
    assert sr == 16000
    np.testing.assert_array_equal(a, np.array([0, 1, -1, 32767, -32768]) / 32768.0)


@pytest.mark.parametrize("content, reason", [
    (b"hello, this is a text file\n" * 3, "not a RIFF/WAVE file"),
    (b"fLaC\x00\x00\x00\x22" + bytes(40), "FLAC"),
    (b"ID3\x03\x00" + bytes(40), "MP3"),
    (b"\xff\xfb\x90\x64" + bytes(40), "MP3"),
    (b"RIFF\x00\x00\x00\x00WAVE", "no complete 'fmt '"),
    (riff(struct.pack("<HHIIHH", 0x55, 1, 8000, 2000, 1, 0), b"\x00" * 10), r"MP3\)"),
    (riff(struct.pack("<HHIIHH", 2, 1, 8000, 4000, 256, 4), b"\x00" * 10), "ADPCM"),
    (riff(struct.pack("<HHIIHH", 1, 1, 8000, 48000, 6, 48), b"\x00" * 12), "48-bit"),
])
def test_refusals_say_why(tmp_path, content, reason):
    p = tmp_path / "x.wav"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as info:
        audio.read_wav(p)
    assert "supported: PCM WAV" in str(info.value)


def test_missing_file_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        audio.read_wav(tmp_path / "nope.wav")
    p = tmp_path / "d.wav"
    p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16))
    with pytest.raises(ValueError, match="no 'data' chunk"):
        audio.read_wav(p)


def test_truncated_data_reads_whole_frames(tmp_path):
    b = wav_bytes(SIGNAL, bits=16)
    p = tmp_path / "t.wav"
    p.write_bytes(b[:-3])        # the header still claims every sample
    a, _ = audio.read_wav(p)
    assert len(a) == 999
    np.testing.assert_allclose(a, SIGNAL[:999], atol=1 / 2 ** 15)


def test_mfcc_properties():
    sr = 16000
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)
    tone = audio.mfcc(np.sin(2 * np.pi * 300 * t), sr)
    noise = audio.mfcc(rng.normal(size=sr), sr)
    assert tone.shape == (98, 13) and noise.shape == (98, 13)
    assert np.isfinite(tone).all()
    # a louder copy of the same signal: only c0 (orthonormal DCT of the log energies) moves,
    # by sqrt(n_mels) * log(gain^2)
    z = rng.normal(size=sr)
    loud, quiet = audio.mfcc(4 * z, sr), audio.mfcc(z, sr)
    np.testing.assert_allclose(loud[:, 0] - quiet[:, 0], np.sqrt(40) * np.log(16), rtol=1e-6)
    np.testing.assert_allclose(loud[:, 1:], quiet[:, 1:], atol=1e-6)
    # a stereo copy gives the same features
    np.testing.assert_allclose(audio.mfcc(np.stack([np.sin(2 * np.pi * 300 * t)] * 2, 1), sr), tone)
    with pytest.raises(ValueError, match="sample_rate"):
        audio.mfcc(np.zeros(1000), 0)
    with pytest.raises(ValueError, match="NaN"):
        audio.mfcc(np.full(1000, np.nan), 8000)
    with pytest.raises(ValueError, match="fewer than one frame"):
        audio.mfcc(np.zeros(10), 8000)
    with pytest.raises(TypeError, match="numeric"):
        audio.mfcc(np.array(["a"] * 1000), 8000)


def log_mel_reference(x, sr, n_mels, frame_s=0.025, hop_s=0.010, fmin=20.0, fmax=None, pre=0.97):
    """log_mel from the definitions, one frame and one band at a time (direct DFT sums)."""
    x = np.asarray(x, np.float64)
    e = np.array([x[0]] + [x[i] - pre * x[i - 1] for i in range(1, len(x))])
    frame, hop = round(frame_s * sr), round(hop_s * sr)
    nfft = 1
    while nfft < frame:
        nfft *= 2
    w = [0.54 - 0.46 * np.cos(2 * np.pi * i / (frame - 1)) for i in range(frame)]       # Hamming
    fmax = sr / 2 if fmax is None else fmax

    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = [700.0 * (10 ** ((mel(fmin) + j * (mel(fmax) - mel(fmin)) / (n_mels + 1)) / 2595.0) - 1.0)
             for j in range(n_mels + 2)]
    rows = []
    for s in range(0, len(e) - frame + 1, hop):
        seg = [e[s + i] * w[i] for i in range(frame)]
        power = []
        for k in range(nfft // 2 + 1):
            z = sum(seg[i] * np.exp(-2j * np.pi * k * i / nfft) for i in range(frame))
            power.append(abs(z) ** 2 / nfft)
        row = []
        for b in range(n_mels):
            lo, c, hi = edges[b], edges[b + 1], edges[b + 2]
            tot = 0.0
            for k, p in enumerate(power):
                f = k * sr / nfft
                if lo < f < hi:
                    tot += p * ((f - lo) / (c - lo) if f <= c else (hi - f) / (hi - c))
            row.append(np.log(tot + 1e-10))
        rows.append(row)
    return np.array(rows)


def test_log_mel_matches_a_naive_reference():
    rng = np.random.default_rng(5)
    x = rng.normal(size=700)              # 8 kHz: 200-sample frames, 80-sample hop, 7 frames
    for n_mels, fmin, fmax in ((28, 20.0, None), (9, 300.0, 3400.0)):
        got = audio.log_mel(x, 8000, n_mels=n_mels, fmin=fmin, fmax=fmax)
        np.testing.assert_allclose(got, log_mel_reference(x, 8000, n_mels, fmin=fmin, fmax=fmax), rtol=1e-9, atol=1e-9)
    # mfcc is the orthonormal DCT-II of the log-mel rows
    L = audio.log_mel(x, 8000)
    n = L.shape[1]
    dct = np.array([[np.cos(np.pi * k * (2 * i + 1) / (2 * n)) * np.sqrt((1 if k else 0.5) * 2 / n)
                     for i in range(n)] for k in range(13)])
    np.testing.assert_allclose(audio.mfcc(x, 8000), L @ dct.T, atol=1e-12)
    with pytest.raises(ValueError, match="n_mels"):
        audio.log_mel(x, 8000, n_mels=0)
    with pytest.raises(ValueError, match="n_mels"):
        audio.log_mel(x, 8000, n_mels=2.5)
    with pytest.raises(ValueError, match="fmin"):
        audio.log_mel(x, 8000, fmin=500.0, fmax=400.0)
    with pytest.raises(ValueError, match="fmax"):
        audio.log_mel(x, 8000, fmax=5000.0)          # above the Nyquist frequency
    with pytest.raises(ValueError, match="fmin"):
        audio.log_mel(x, 8000, fmin="low")
    with pytest.raises(ValueError, match="n_mfcc"):
        audio.mfcc(x, 8000, n_mfcc=41)
    with pytest.raises(ValueError, match="n_mfcc"):
        audio.mfcc(x, 8000, n_mfcc=2.0)
    with pytest.raises(ValueError, match="sample_rate"):
        audio.log_mel(x, -8000)
    with pytest.raises(TypeError, match="numeric"):
        audio.log_mel(np.array(["a"] * 700), 8000)


def test_speech_features_logmel_recipe():
    rng = np.random.default_rng(2)
    z = rng.normal(size=8000)
    f = audio.speech_features(z, 8000)
    L = audio.log_mel(z, 8000, n_mels=audio.SPEECH_MEL_BANDS)
    assert f.shape == (98, audio.SPEECH_MEL_BANDS)
    np.testing.assert_allclose(f, L - L.mean(axis=1, keepdims=True), atol=1e-12)
    # the frame's level is gone: a louder copy gives the same features
    np.testing.assert_allclose(audio.speech_features(8 * z, 8000), f, atol=1e-6)
    # ... and it equals every cepstral coefficient but c0, mapped back to the bands
    c = audio.mfcc(z, 8000, n_mels=audio.SPEECH_MEL_BANDS, n_mfcc=audio.SPEECH_MEL_BANDS)
    n = audio.SPEECH_MEL_BANDS
    dct = np.array([[np.cos(np.pi * k * (2 * i + 1) / (2 * n)) * np.sqrt((1 if k else 0.5) * 2 / n)
                     for i in range(n)] for k in range(n)])
    np.testing.assert_allclose(c[:, 1:] @ dct[1:], f, atol=1e-9)
    d = audio.speech_features(z, 8000, deltas=True)
    np.testing.assert_array_equal(d[:, :n], f)
    i = 10
    np.testing.assert_allclose(d[i, n:], sum(k * (f[i + k] - f[i - k]) for k in (1, 2)) / 10.0)
    with pytest.raises(ValueError, match="front_end"):
        audio.speech_features(z, 8000, front_end="plp")


def test_speech_features_mfcc_recipe():
    rng = np.random.default_rng(1)
    z = rng.normal(size=8000)
    m = audio.mfcc(z, 8000)
    f = audio.speech_features(z, 8000, deltas=True, front_end="mfcc")
    np.testing.assert_array_equal(f[:, :12], m[:, 1:])            # c0 dropped
    # deltas: the +-2-frame regression slope, checked in the interior against its definition
    c = m[:, 1:]
    i = 10
    slope = sum(k * (c[i + k] - c[i - k]) for k in (1, 2)) / 10.0
    np.testing.assert_allclose(f[i, 12:], slope)
    # a louder copy changes nothing (c0 is gone)
    np.testing.assert_allclose(audio.speech_features(8 * z, 8000, deltas=True, front_end="mfcc"), f, atol=1e-6)
    np.testing.assert_array_equal(audio.speech_features(z, 8000, front_end="mfcc"), m[:, 1:])


def _naive_inverse(C, n_bands, first):
    """Inverse orthonormal DCT-II written out term by term, coefficients from `first` on."""
    out = np.zeros((C.shape[0], n_bands))
    for t in range(C.shape[0]):
        for j in range(n_bands):
            for k in range(first, C.shape[1]):
                w = np.sqrt((1.0 if k == 0 else 2.0) / n_bands)
                out[t, j] += C[t, k] * w * np.cos(np.pi * k * (2 * j + 1) / (2 * n_bands))
    return out


def test_bands_from_mfcc_inverts_the_dct():
    rng = np.random.default_rng(5)
    z = rng.normal(size=4000)
    L = audio.log_mel(z, 8000, n_mels=20)
    centred = L - L.mean(axis=1, keepdims=True)
    # every coefficient: the log mel energies minus each frame's mean, exactly; with c0 kept, L itself
    full = audio.mfcc(z, 8000, n_mfcc=20, n_mels=20)
    np.testing.assert_allclose(audio.bands_from_mfcc(full, n_bands=20, lifter=0), centred, atol=1e-9)
    np.testing.assert_allclose(audio.bands_from_mfcc(full, n_bands=20, drop_c0=False, lifter=0), L, atol=1e-9)
    # (white noise has flat cepstral spreads, which lifter="auto" reads as liftered: lifter=0 here)
    # fewer coefficients: the least-squares fit of the centred rows by cosines 1..7 (the smoothed
    # projection), computed independently by lstsq
    part = audio.mfcc(z, 8000, n_mfcc=8, n_mels=20)
    B = audio.bands_from_mfcc(part, n_bands=20, lifter=0)
    cos = np.cos(np.pi * np.arange(1, 8)[None, :] * (2 * np.arange(20)[:, None] + 1) / 40)
    coef, *_ = np.linalg.lstsq(cos, centred.T, rcond=None)
    np.testing.assert_allclose(B, (cos @ coef).T, atol=1e-9)
    # other band counts: the term-by-term formula; rows have no level; int input is accepted
    C = audio.mfcc(z, 8000)
    for n in (2, 7, 24):
        np.testing.assert_allclose(audio.bands_from_mfcc(C, n_bands=n, lifter=0), _naive_inverse(C, n, 1), atol=1e-9)
        np.testing.assert_allclose(audio.bands_from_mfcc(C, n_bands=n, drop_c0=False, lifter=0), _naive_inverse(C, n, 0),
                                   atol=1e-9)
    assert audio.bands_from_mfcc(C, lifter=0).shape == (C.shape[0], audio.BANDS_FROM_MFCC)
    np.testing.assert_allclose(audio.bands_from_mfcc(C, lifter=0).sum(axis=1), 0.0, atol=1e-9)
    Ci = np.arange(60).reshape(20, 3)
    np.testing.assert_allclose(audio.bands_from_mfcc(Ci, n_bands=4, lifter=0), _naive_inverse(Ci.astype(float), 4, 1))


def _speechlike_cepstra(rng, frames=300, n=13):
    """Cepstra whose spread decays with k as speech's does (c_k ~ 1/(1+k)), c0 a level."""
    C = rng.normal(size=(frames, n)) / (1.0 + np.arange(n))
    C[:, 0] += 10.0
    return C


def test_bands_from_mfcc_undoes_a_lifter():
    rng = np.random.default_rng(11)
    C = _speechlike_cepstra(rng)
    k = np.arange(13)
    naive = 1 + 11 * np.sin(np.pi * k / 22)          # the standard lifter, L = 22, written out
    np.testing.assert_allclose(audio.lifter_factors(22.0, 13), naive)
    np.testing.assert_allclose(audio.lifter_factors(0.0, 13), np.ones(13))
    for bad in (-1.0, np.nan, True, "22"):
        with pytest.raises(ValueError, match="lifter"):
            audio.lifter_factors(bad, 13)
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="n_coefficients"):
            audio.lifter_factors(22.0, bad)
    lifted = C * naive
    plain = audio.bands_from_mfcc(C, lifter=0)
    # an explicit lifter undoes it exactly; "auto" finds it on the lifted copy and not on the plain one
    np.testing.assert_allclose(audio.bands_from_mfcc(lifted, lifter=22.0), plain, atol=1e-12)
    assert audio.looks_liftered(lifted) and not audio.looks_liftered(C)
    np.testing.assert_allclose(audio.bands_from_mfcc(lifted), plain, atol=1e-12)
    np.testing.assert_array_equal(audio.bands_from_mfcc(C), plain)
    # another lifter is undone exactly when named; auto is not fooled into changing our own MFCCs' scale
    np.testing.assert_allclose(audio.bands_from_mfcc(C * audio.lifter_factors(30.0, 13), lifter=30), plain, atol=1e-12)
    # the per-column mean and a global scale do not change what auto decides
    assert audio.looks_liftered(3.0 * lifted + 5.0) and not audio.looks_liftered(0.1 * C - 2.0)
    # too few coefficients to judge, or more than the lifter can have been applied to: no lifter
    assert not audio.looks_liftered(lifted[:, :8])
    wide = _speechlike_cepstra(rng, n=24)
    wide[:, 1:] = rng.normal(size=(300, 23))        # flat spreads, but 24 coefficients
    assert not audio.looks_liftered(wide)
    np.testing.assert_array_equal(audio.bands_from_mfcc(wide), audio.bands_from_mfcc(wide, lifter=0))


@pytest.mark.parametrize("args, kwargs, exc, word", [
    ((np.zeros(30),), {}, ValueError, "mfccs"),
    ((np.zeros((30, 13, 2)),), {}, ValueError, "mfccs"),
    ((np.zeros((30, 1)),), {}, ValueError, "mfccs"),
    ((np.zeros((13, 300)),), {}, ValueError, "transpose"),         # librosa's layout, not transposed
    ((np.array([["a", "b"]] * 5),), {}, TypeError, "mfccs"),
    ((np.full((30, 13), np.nan),), {}, ValueError, "mfccs"),
    ((np.zeros((30, 13)),), {"n_bands": 1}, ValueError, "n_bands"),
    ((np.zeros((30, 13)),), {"n_bands": 2.5}, ValueError, "n_bands"),
    ((np.zeros((30, 13)),), {"n_bands": True}, ValueError, "n_bands"),
    ((np.zeros((30, 13)),), {"drop_c0": "yes"}, TypeError, "drop_c0"),
    ((np.zeros((30, 13)),), {"lifter": "kaldi"}, ValueError, "lifter"),
    ((np.zeros((30, 13)),), {"lifter": -1.0}, ValueError, "lifter"),
    ((np.zeros((30, 13)),), {"lifter": np.nan}, ValueError, "lifter"),
    ((np.zeros((30, 13)),), {"lifter": True}, ValueError, "lifter"),
    ((np.zeros((30, 13)),), {"lifter": 4.0}, ValueError, "lifter"),      # factor <= 0 from c5 on
])
def test_bands_from_mfcc_bad_input(args, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        audio.bands_from_mfcc(*args, **kwargs)
    if not kwargs:                      # a bad mfccs array: looks_liftered refuses it the same way
        with pytest.raises(exc, match=word):
            audio.looks_liftered(*args)


def test_docstring_examples():
    import doctest
    result = doctest.testmod(audio)
    assert result.attempted > 0 and result.failed == 0


def test_long_framed_mfccs_are_flagged():
    x = np.random.default_rng(5).normal(size=48000)
    short = audio.mfcc(x, 16000)                               # 25 ms frames every 10 ms
    long = audio.mfcc(x, 16000, frame_length=0.128)             # librosa's default n_fft=2048 at 16 kHz
    # the statistic against a column-by-column loop
    for C in (short, long):
        acs = []
        for col in C.T:
            d = np.diff(col)
            d = d - d.mean()
            acs.append(np.mean(d[1:] * d[:-1]) / np.mean(d * d))
        assert audio.difference_autocorrelation(C) == pytest.approx(np.median(acs), abs=1e-12)
    assert audio.difference_autocorrelation(short) < audio.LONG_FRAME_AUTOCORRELATION
    assert audio.difference_autocorrelation(long) > audio.LONG_FRAME_AUTOCORRELATION
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # 25 ms frames: no warning
        audio.bands_from_mfcc(short)
    with pytest.warns(UserWarning, match="n_fft"):
        B = audio.bands_from_mfcc(long)
    assert B.shape == (long.shape[0], audio.BANDS_FROM_MFCC)   # a warning, the bands are still returned
    assert np.isnan(audio.difference_autocorrelation(np.ones((3, 2))))
    with pytest.raises(ValueError, match="mfccs"):
        audio.difference_autocorrelation(np.zeros(30))
