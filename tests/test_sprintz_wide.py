"""Sprintz for 32/64-bit integers and lossless floats (issue 16): bit-exact round trips in every
layout, special float values, the wider-storage and timestamp claims, hostile streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenfold import _core, sprintz

DATA = Path(__file__).resolve().parent / "data"
INTS = ["int32", "uint32", "int64", "uint64"]
FLOATS = ["float32", "float64"]


def reseal(b: bytearray) -> bytes:
    """Recompute a version-3 stream's checksum so a mutated stream reaches the decoder."""
    body = _core.sprintz_checksum(np.frombuffer(bytes(b[40:]), np.uint8))
    seal = _core.sprintz_checksum(np.frombuffer(bytes(b[4:32]) + int(body).to_bytes(4, "little"), np.uint8))
    b[32:36] = int(seal).to_bytes(4, "little")
    return bytes(b)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def assert_round_trip(x: np.ndarray, **kw) -> bytes:
    buf = sprintz.compress(x, **kw)
    y = sprintz.decompress(buf)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert np.array_equal(bits(y), bits(x))  # bit for bit: NaN payloads and -0.0 included
    if x.ndim == 2 and not x.flags.c_contiguous and x.flags.f_contiguous:
        assert y.flags.f_contiguous
    out = np.empty_like(y)
    assert np.array_equal(bits(sprintz.decompress(buf, out=out)), bits(x))
    # a misaligned out (one byte into a buffer): 64-bit chunks decode in place only into aligned
    # rows, so this takes the copying path
    raw = np.zeros(y.nbytes + 1, np.uint8)[1:]
    order = "F" if y.ndim == 2 and not y.flags.c_contiguous else "C"
    odd = raw.view(y.dtype).reshape(y.shape, order=order) if y.size else np.empty_like(y)
    assert y.size == 0 or y.itemsize == 1 or not odd.flags.aligned
    assert np.array_equal(bits(sprintz.decompress(buf, out=odd)), bits(x))
    return buf


def series(dtype: str, n: int, nvars: int, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    shape = (n, nvars) if nvars else (n,)
    if dt.kind == "f":
        if kind == "decimal":  # a 2-decimal random walk, like prices or sensor readings
            return (np.round(rng.normal(size=shape).cumsum(0) * 100) / 100).astype(dt)
        if kind == "random":
            return rng.normal(size=shape).astype(dt)
        return rng.integers(0, 1 << (8 * dt.itemsize), size=shape, dtype=f"u{dt.itemsize}",
                            endpoint=False).view(dt)  # arbitrary bit patterns: NaNs, subnormals, ...
    info = np.iinfo(dt)
    if kind == "walk":
        return (np.cumsum(rng.integers(-1000, 1000, size=shape), axis=0) % (1 << 20)).astype(dt)
    if kind == "extremes":
        return rng.choice(np.array([info.min, info.max, 0, 1, info.max - 1], dtype=dt), size=shape)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_round_trips_every_layout(dtype):
    kinds = ["walk", "extremes", "uniform"] if dtype in INTS else ["decimal", "random", "bits"]
    for i, (n, nvars) in enumerate([(0, 0), (1, 0), (15, 0), (17, 3), (1001, 0), (333, 5), (40_003, 0)]):
        for kind in kinds:
            x = series(dtype, n, nvars, kind, seed=i)
            for fc in ("fire", "delta"):
                assert_round_trip(x, forecaster=fc, entropy=fc == "fire")
            if x.ndim == 2:
                assert_round_trip(np.asfortranarray(x))
                assert_round_trip(x[::2, ::-1])  # non-contiguous
    # more rows than one chunk, non-contiguous 1-D
    assert_round_trip(series(dtype, 200_001, 0, kinds[0], 9)[::3])


@pytest.mark.parametrize("dtype", FLOATS)
def test_special_float_values_are_exact(dtype):
    dt = np.dtype(dtype)
    u = f"u{dt.itemsize}"
    fi = np.finfo(dt)
    nan_payloads = np.array([0x7FF8000000000123, 0xFFF0000000000001] if dt.itemsize == 8 else
                            [0x7FC00123, 0xFF800001], u).view(dt)  # quiet and signalling, both signs
    special = np.concatenate([np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal,
                                        -fi.smallest_subnormal, fi.tiny, fi.max, -fi.max, 0.1, 1e300 if
                                        dt.itemsize == 8 else 1e30], dt), nan_payloads])
    rng = np.random.default_rng(1)
    base = np.round(rng.normal(size=5000).cumsum(), 1).astype(dt)  # decimal structure around them
    base[rng.choice(5000, size=len(special) * 20)] = np.tile(special, 20)
    buf = assert_round_trip(base)
    assert len(buf) < base.nbytes / 2  # the exceptions do not cost the structure of the rest
    assert_round_trip(np.tile(special, 7).reshape(-1, 2))  # nothing but exceptions
    assert_round_trip(np.full(100, -0.0, dt))


def test_decimal_floats_compress_like_their_digits():
    """A 2-decimal float64 series costs about what its integer digits cost (the ALP idea), and far
    less than its bit patterns do."""
    rng = np.random.default_rng(2)
    digits = np.cumsum(rng.integers(-300, 301, size=100_000)) + 20_000
    x = digits / 100
    assert np.array_equal(np.round(x * 100), digits)
    f64 = len(assert_round_trip(x))
    ints = len(sprintz.compress(digits.astype(np.int64)))
    assert f64 <= ints * 1.05
    assert f64 < x.nbytes / 5
    f32 = len(assert_round_trip(x.astype(np.float32)))
    assert f32 <= ints * 1.05


@pytest.mark.parametrize("kind", ["sine", "walk"])
def test_wider_storage_costs_within_five_percent(kind):
    rng = np.random.default_rng(3)
    t = np.arange(100_000)
    if kind == "sine":
        x16 = (8000 * np.sin(t / 40) + rng.normal(size=t.size) * 20).astype(np.int16)
    else:
        x16 = np.clip(np.cumsum(rng.integers(-40, 41, size=(t.size // 4, 4)), axis=0), -32768, 32767).astype(np.int16)
    base = len(sprintz.compress(x16))
    for dt in ("int32", "int64"):
        wide = len(assert_round_trip(x16.astype(dt)))
        assert wide <= base * 1.05, (dt, wide, base)
    for dt in ("uint32", "uint64"):
        wide = len(assert_round_trip(x16.astype(np.uint16).astype(dt)))
        assert wide <= len(sprintz.compress(x16.astype(np.uint16))) * 1.05, (dt, wide, base)


def test_regular_timestamps_cost_about_nothing():
    rng = np.random.default_rng(4)
    n = 200_000
    ns = np.int64(1_700_000_000) * 10**9 + np.arange(n, dtype=np.int64) * 10**9  # 1 Hz in nanoseconds
    jitter = rng.choice(n, size=n // 1000, replace=False)
    ns[jitter] += rng.integers(-500, 500, size=jitter.size)  # 0.1% of samples off by < 1 us
    ns[n // 2:] += 3600 * 10**9  # a one-hour gap
    buf = assert_round_trip(ns)
    # bits per sample, jitter and gap included: each jittered sample is one stepped exception of
    # about 4 bytes (0.032 bits per sample at 0.1%), each chunk ~30 bytes of start and step
    assert len(buf) * 8 / n < 0.05
    assert len(sprintz.compress(np.arange(n, dtype=np.int64) * 10**9)) * 8 / n < 0.015  # 7 chunks: 250 bytes
    assert len(assert_round_trip((ns // 10**9).astype(np.uint32))) * 8 / n < 0.03  # unix seconds
    # "delta" forbids delta of delta: the step's 31-bit zigzag is paid on every sample (< 32 bits, not 64)
    assert 30 < len(sprintz.compress(ns, forecaster="delta", entropy=False)) * 8 / n < 32


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_stepped_columns_round_trip(dtype):
    # regular columns with exceptions in every place the stepped kind treats apart: the first
    # rows, consecutive ones, the last row, steps and deltas that wrap around the integer range
    rng = np.random.default_rng(9)
    dt = np.dtype(dtype)
    n = 1001
    if dt.kind == "f":
        x = np.round(np.arange(n * 3).reshape(n, 3) * 0.25 + 1e3, 2).astype(dt)
        x[[1, 2, 500, n - 1], [0, 1, 2, 0]] = [np.nan, -0.0, np.inf, 1.5e-300 if dt == np.float64 else 1e-40]
    else:
        info = np.iinfo(dt)
        base = rng.integers(info.min // 2, info.max // 2, size=3)
        step = np.array([7, -3 if dt.kind == "i" else 3, 1])
        x = (base + np.arange(n)[:, None] * step).astype(dt)
        x[[1, 2, 3, 400, 401, n - 1], 0] = [info.max, info.min, 0, info.max, 5, info.min]
        x[600:, 1] += dt.type(1000)  # a gap: the line continues from there
    assert_round_trip(x)
    assert_round_trip(np.asfortranarray(x))
    assert_round_trip(x[::2, ::2])
    assert_round_trip(x[:, 0])
    assert_round_trip(x[:2])


@pytest.mark.parametrize("dtype", ["int64", "uint32", "float64", "float32"])
def test_few_levels_use_a_dictionary(dtype):
    # a coarse sensor's few levels spread over a wide range (z-normalised or scaled): the
    # dictionary kind codes each value as its rank among the chunk's distinct words
    rng = np.random.default_rng(11)
    levels = rng.normal(size=300) * 1e6 if dtype.startswith("f") else rng.integers(0, 2**31, size=300)
    walk = np.clip(np.cumsum(rng.integers(-3, 4, size=(40_000, 2)), axis=0) + 150, 0, 299)
    x = levels[walk].astype(dtype)
    if dtype.startswith("f"):
        x[[3, 7], [0, 1]] = [np.nan, -0.0]
    buf = assert_round_trip(x)
    assert_round_trip(np.asfortranarray(x)[::3])
    if dtype == "int64":
        assert buf[40 + 12] == 5  # the first chunk's word kind
    # neighbouring levels differ by ~2^20 (floats) or ~2^31 (ints): > 20 bits per value coded
    # plainly; ranks of <= 300 levels that move by <= 3 a step cost a few bits
    assert len(buf) * 8 / x.size < 8


def test_hostile_dictionary_fields():
    rng = np.random.default_rng(12)
    levels = rng.integers(0, 2**40, size=50)
    x = levels[rng.integers(0, 50, size=4000)]
    b = bytearray(sprintz.compress(x, entropy=False))
    body = 40 + 12
    assert b[body] == 5 and b[body + 1] == 50  # dictionary kind, 50 entries
    for value, what in [(0, "dictionary size"), (0x7F, "Sprintz stream")]:
        m = bytearray(b)
        m[body + 1] = value
        with pytest.raises(ValueError, match=what):
            sprintz.decompress(reseal(m))
    ranks = b.index(bytes([2] + [0] * 8), body + 2)  # the ranks' part: narrowed (kind 2), base 0
    m = bytearray(b)
    m[ranks + 1] = 64  # every rank + 64 >= 50 entries
    with pytest.raises(ValueError, match="rank out of range"):
        sprintz.decompress(reseal(m))
    m = bytearray(b)
    m[ranks] = 5  # a dictionary inside a dictionary's ranks is refused
    with pytest.raises(ValueError, match="unknown word kind"):
        sprintz.decompress(reseal(m))


def test_hostile_stepped_fields():
    x = np.arange(1000, dtype=np.int64) * 1000
    x[[10, 500]] += 3
    b = bytearray(sprintz.compress(x, entropy=False))
    body = 40 + 12
    assert b[body] == 4  # stepped
    at = body + 1 + 16  # the exception count
    assert b[at] == 2
    for value, what in [(0x7F, "exception count"), (2, "exception row")]:
        m = bytearray(b)
        if what == "exception count":
            m[at] = value
        else:
            m[at + 1] = 0xFE  # the first exception's row gap far past the chunk (LEB128 0x7E | 0x80 ...)
            m[at + 2] = 0x7F
        with pytest.raises(ValueError, match=what):
            sprintz.decompress(reseal(m))
    m = bytearray(b)
    m[8] = 0  # the header's forecaster: delta, whose streams have no stepped chunks
    with pytest.raises(ValueError, match="forecaster not allowed"):
        sprintz.decompress(reseal(m))


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_hostile_streams_are_value_errors(dtype):
    kind = "walk" if dtype in INTS else "decimal"
    x = series(dtype, 3000, 3, kind, seed=5)
    if dtype in FLOATS:
        x[5, 1] = np.nan  # exceptions present
    buf = bytearray(sprintz.compress(x))
    rng = np.random.default_rng(6)
    rejected = 0
    for trial in range(300):
        b = bytearray(buf)
        if trial % 3 == 0:
            b = b[: rng.integers(40, len(b))]
        else:
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(40, len(b))] ^= 1 << rng.integers(0, 8)
        try:
            y = sprintz.decompress(reseal(b))  # may decode to other values, never crash
            assert y.dtype == x.dtype and y.shape == x.shape
        except ValueError:
            rejected += 1
    assert rejected > 50
    b = bytearray(buf)
    b[50] ^= 1
    with pytest.raises(ValueError, match="checksum"):  # unsealed corruption: caught before decoding
        sprintz.decompress(bytes(b))
    for code in (10, 255):
        b = bytearray(buf)
        b[5] = code
        with pytest.raises(ValueError, match="dtype"):
            sprintz.decompress(reseal(b))
    b = bytearray(buf)
    b[4] = 2  # version 2 had no wide dtypes
    with pytest.raises(ValueError, match="version 2"):
        sprintz.decompress(bytes(b))


def test_hostile_wide_chunk_fields():
    x = np.round(np.random.default_rng(7).normal(size=(64, 2)), 2)
    buf = bytearray(sprintz.compress(x))
    body = 40 + 12
    cases = {
        "decimal exponent": (body, [19]),  # exponent of column 0 out of range
        "exception count": (body + 2, [0xFF, 0xFF, 0x7F]),  # LEB128 count far above the chunk
        "LEB128": (body + 2, [0xFF] * 11),  # a count longer than 10 bytes
        "chunk mode": (42, [1]),  # wide chunks keep header bytes 2-3 zero
    }
    for layout in (2, 3):  # byte 1: 0 or 1 (compact float exceptions) only
        cases[f"chunk mode{layout}"] = (41, [layout])
    for what, (at, values) in cases.items():
        b = bytearray(buf)
        b[at:at + len(values)] = bytes(values)
        with pytest.raises(ValueError, match=what.rstrip("0123456789")):
            sprintz.decompress(reseal(b))
    x[3, 0] = 1.234  # an exception with one more decimal: tag zigzag(rem) * 4 + 1 after its position 6
    b = bytearray(sprintz.compress(x))
    assert b[41] == 1 and b[body + 2:body + 4] == bytes([1, 6])
    b[body + 4] = 0  # tag 0: 8 raw bytes follow, taken from the word part: it runs short
    with pytest.raises(ValueError):
        sprintz.decompress(reseal(b))
    b = bytearray(sprintz.compress(x))
    b[body + 4] = (b[body + 4] & ~3) | 3  # 3 more decimals: valid (another value), never a crash
    assert sprintz.decompress(reseal(b)).shape == x.shape
    ints = bytearray(sprintz.compress(np.arange(100, dtype=np.int64) * 10**12))
    b = bytearray(ints)
    b[52] = 7  # unknown word kind
    with pytest.raises(ValueError, match="word kind"):
        sprintz.decompress(reseal(b))


@pytest.mark.parametrize("name", ["sprintz_wide_v3", "sprintz_wide_v3_kinds"])
def test_version_3_wide_fixture_still_decodes(name):
    # the first wide layout (exceptions as u32 positions and raw values), and the later word
    # kinds (stepped, dictionary) and compact float exceptions (tests/data/make_sprintz_wide_fixture.py)
    streams = np.load(DATA / f"{name}_streams.npz")
    arrays = np.load(DATA / f"{name}_arrays.npz")
    assert set(streams.files) == set(arrays.files) and len(arrays.files) == 6
    for key in arrays.files:
        buf = streams[key].tobytes()
        assert buf[41] == (1 if name.endswith("kinds") and arrays[key].dtype.kind == "f" else 0)  # float layout
        y = sprintz.decompress(buf)
        assert np.array_equal(bits(y), bits(arrays[key])), key


def test_codecs_and_files_take_the_new_dtypes(tmp_path):
    numcodecs = pytest.importorskip("numcodecs")
    zarr = pytest.importorskip("zarr", minversion="3")
    from tenfold.sprintz import SprintzZarrCodec

    x = series("float64", 1000, 4, "decimal", 8)
    x[3, 2] = -0.0
    codec = numcodecs.get_codec({"id": "tenfold.sprintz"})
    out = np.empty_like(x)
    codec.decode(codec.encode(x), out=out)
    assert np.array_equal(bits(out), bits(x))
    with pytest.raises(ValueError, match="destination"):
        codec.decode(codec.encode(x), out=np.empty(x.size, np.int64))
    for dtype, kind in (("float32", "decimal"), ("uint64", "uniform"), ("int32", "walk")):
        y = series(dtype, 1000, 4, kind, 9)
        z = zarr.create_array(str(tmp_path / dtype), shape=y.shape, chunks=(256, 4), dtype=dtype,
                              serializer=SprintzZarrCodec(), compressors=None)
        z[:] = y
        assert np.array_equal(bits(zarr.open_array(str(tmp_path / dtype))[:]), bits(y))
        np.save(tmp_path / f"{dtype}.npy", y)
        sprintz.compress_file(tmp_path / f"{dtype}.npy", tmp_path / f"{dtype}.tfsz")
        sprintz.decompress_file(tmp_path / f"{dtype}.tfsz", tmp_path / f"{dtype}.out.npy")
        assert np.array_equal(bits(np.load(tmp_path / f"{dtype}.out.npy")), bits(y))


def test_decimal_kernels_equal_scalar_on_every_isa():
    """The SIMD float-to-digit and digit-to-float kernels (codec_wide_<isa>.cpp) give the scalar
    path's streams and bits: odd lengths, strided columns, Fortran order, digits beyond the 2^51
    fast-conversion range, exceptions, and the arbitrary words of a mutated stream."""
    import tenfold

    rng = np.random.default_rng(11)
    cases = []
    for dt in FLOATS:
        for n, nv in [(1, 0), (7, 0), (1001, 0), (333, 5), (64, 3)]:
            cases.append(series(dt, n, nv, "decimal", seed=n))
        big = (np.float64(3e15) + rng.integers(-1000, 1000, size=999).cumsum()).astype(dt)  # e = 0, |d| > 2^51
        cases += [big, -big]
    cases.append(np.asfortranarray(series("float64", 333, 5, "decimal", seed=3)))
    for dt in FLOATS:  # decimals with a few exceptions of every kind, several columns
        x = series(dt, 2001, 3, "decimal", seed=8)
        x[rng.integers(0, 2001, 40), rng.integers(0, 3, 40)] = np.array(
            [np.nan, -0.0, np.inf, 1e-40, 0.123456789, 2.0**52 / 100, 2.0**51 / 100 + 0.5, 7e15], dt)[
            rng.integers(0, 8, 40)]
        cases += [x, x[::3, 1]]
    streams = [sprintz.compress(x) for x in cases]
    with tenfold.use_isa("scalar"):
        assert streams == [sprintz.compress(x) for x in cases]
    mutated = []
    for x in cases[:4] + [cases[10]]:  # cases[3] and cases[10]: 5 columns (the row-major conversion)
        assert x.ndim == 1 or x.shape[1] == 5
        b = bytearray(sprintz.compress(x, entropy=False))
        for k in range(20):
            c = bytearray(b)
            c[rng.integers(40 + 12, len(c))] ^= 1 << int(rng.integers(8))
            mutated.append(reseal(c))
    results = {}
    for isa in tenfold.supported_isas():
        with tenfold.use_isa(isa):
            assert [sprintz.compress(x) for x in cases] == streams, isa
            out = [bits(sprintz.decompress(s)) for s in streams]
            for m in mutated:
                try:
                    out.append(bits(sprintz.decompress(m)))
                except ValueError as e:
                    out.append(str(e))
        results[isa] = out
    for x, y in zip(cases, results["scalar"]):
        assert np.array_equal(bits(x), y)
    for isa, out in results.items():
        assert len(out) == len(results["scalar"])
        for a, b in zip(out, results["scalar"]):
            assert type(a) is type(b) and (a == b if isinstance(a, str) else np.array_equal(a, b)), isa


def test_block_kernels_equal_scalar_on_every_isa():
    """The residual unpacking and lag-probe kernels (wide_blocks.hpp, codec_wide_<isa>.cpp) give
    the scalar path's streams and bits: integer residuals of every width 0..64 (full and short
    blocks), periodic columns (the lag probe picks a lag), several columns, Fortran order, odd
    lengths, a strided view, and 8/16-bit periodic data (the narrow probe)."""
    import tenfold

    rng = np.random.default_rng(5)
    cases = []
    for dt in (np.int64, np.uint64, np.int32, np.uint32):
        info = np.iinfo(dt)
        # one 16-row block per width: delta residuals below 2^width (the top widths wrap around)
        steps = np.concatenate([np.zeros(16, np.uint64), np.array([0, 2**64 - 1] * 8, np.uint64)] + [
            (rng.integers(0, 2**64 - 1, 16, dtype=np.uint64, endpoint=True) >> np.uint64(64 - wd)) * np.uint64(
                1 if wd % 2 else 2**64 - 1) for wd in range(1, 65)])  # odd widths up, even ones down
        cases.append(np.cumsum(steps, dtype=np.uint64).view(np.int64).astype(dt))
        period = np.tile(rng.integers(info.min // 4, info.max // 4, 7, dtype=dt), 300)[:2011]
        cases.append(period + rng.integers(0, 3, period.size).astype(dt))
        cases.append(np.asfortranarray(rng.integers(-50, 50, (1001, 5)).cumsum(0).astype(dt)))
    cases.append(cases[0][::3])
    for dt in (np.int16, np.uint8):
        cases.append((np.tile(np.arange(0, 120, 10), 400) + rng.integers(0, 2, 4800)).astype(dt))
    streams = [sprintz.compress(x) for x in cases]
    for isa in tenfold.supported_isas():
        with tenfold.use_isa(isa):
            assert [sprintz.compress(x) for x in cases] == streams, isa
            for x, s in zip(cases, streams):
                assert np.array_equal(sprintz.decompress(s), x), isa
