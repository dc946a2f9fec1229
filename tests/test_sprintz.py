"""Sprintz: bit-exact round trips, SIMD paths against scalar, hostile input, API errors."""

import os

import numpy as np
import pytest

import tenfold
from tenfold import _core, sprintz
from conftest import host_simd_units, sanitizer_compiler

hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DTYPES = [np.int8, np.uint8, np.int16, np.uint16]
PATTERNS = ["constant", "ramp", "random", "extreme", "walk", "smooth", "sparse"]


def make(dtype, n, nvars, pattern, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    shape = (n,) if nvars is None else (n, nvars)
    if pattern == "constant":
        x = np.full(shape, rng.integers(info.min, info.max + 1), dtype=np.int64)
    elif pattern == "ramp":
        x = np.arange(n, dtype=np.int64).reshape(-1, *([1] if nvars else [])) * rng.integers(-5, 6) + np.zeros(shape, np.int64)
    elif pattern == "random":
        x = rng.integers(info.min, info.max + 1, size=shape)
    elif pattern == "extreme":
        x = rng.choice([info.min, info.max, 0, info.min + 1, info.max - 1], size=shape)
    elif pattern == "walk":
        x = np.cumsum(rng.integers(-3, 4, size=shape), axis=0)
    elif pattern == "smooth":
        t = np.arange(n).reshape(-1, *([1] if nvars else []))
        x = np.rint(0.4 * (info.max - info.min) * np.sin(t / rng.uniform(3, 80) + rng.uniform(0, 6, size=shape[1:])))
        x = x + rng.integers(-2, 3, size=shape)
    else:
        x = np.where(rng.random(shape) < 0.02, rng.integers(info.min, info.max + 1, size=shape), 0)
    # wrap into the dtype's range the way the hardware would
    return (np.asarray(x, dtype=np.int64) % (1 << (8 * np.dtype(dtype).itemsize))).astype(np.uint64).astype(dtype)


def roundtrip(x, forecaster, entropy):
    buf = sprintz.compress(x, forecaster=forecaster, entropy=entropy)
    y = sprintz.decompress(buf)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert np.array_equal(y, x)
    if x.ndim == 2 and x.shape[0] > 1 and x.shape[1] > 1:
        assert y.flags.f_contiguous == x.flags.f_contiguous
    return buf


@settings(max_examples=int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "60")))
@given(
    dtype=st.sampled_from(DTYPES),
    n=st.integers(0, 1000),
    nvars=st.sampled_from([None, 1, 2, 3, 7, 16, 33]),
    pattern=st.sampled_from(PATTERNS),
    order=st.sampled_from("CF"),
    forecaster=st.sampled_from(["delta", "fire"]),
    entropy=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_roundtrip_hypothesis(dtype, n, nvars, pattern, order, forecaster, entropy, seed):
    x = make(dtype, n, nvars, pattern, seed)
    x = np.asfortranarray(x) if order == "F" else x
    for isa_name in tenfold.supported_isas():
        with tenfold.use_isa(isa_name):
            roundtrip(x, forecaster, entropy)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nvars", [None, 5, 64])
def test_large_roundtrip_and_simd_equals_scalar(dtype, nvars):
    n = 400_000 if nvars is None else 30_000
    x = make(dtype, n, nvars, "smooth", 1)
    for forecaster in ("delta", "fire"):
        bufs = {}
        for isa_name in tenfold.supported_isas():
            with tenfold.use_isa(isa_name):
                bufs[isa_name] = roundtrip(x, forecaster, True)
                roundtrip(np.asfortranarray(x), forecaster, False)
        # every ISA writes the same bytes
        assert len(set(bufs.values())) == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_new_kernel_paths_equal_scalar_on_odd_sizes(dtype):
    """The fused/segmented kernels (1-variable FIRE segments, F-order FIRE column groups, C-order
    8-bit delta groups incl. the overlapping last group, Huffman) against scalar, odd sizes."""
    cases = []
    for n in (127, 128, 129, 255, 1001, 4099):
        cases.append(make(dtype, n, None, "smooth", n))              # 1 variable: segmented FIRE
    for n, nv in ((130, 8), (333, 9), (257, 17), (1000, 23)):
        x = make(dtype, n, nv, "walk", n + nv)
        x[40:90] = x[40]                                               # zero runs (zero residuals)
        cases += [x, np.asfortranarray(x)]
    # widest codes in every lane of a superblock (regression: 16-bit width sums overflowed a
    # byte) and few variables with a raw tail shorter than a SIMD row store (regression: spill)
    for n, nv in ((32, 16), (33, 8), (48, 24), (17, 2), (18, 3), (19, 5), (161, 7)):
        x = make(dtype, n, nv, "extreme", n * nv)
        y = make(dtype, n, nv, "walk", n)
        y[:16] = make(dtype, 16, nv, "random", nv)  # one full-width superblock, the rest narrow
        cases += [x, y]
    for x in cases:
        for forecaster in ("delta", "fire"):
            for entropy in (False, True):
                bufs = set()
                for isa_name in tenfold.supported_isas():
                    with tenfold.use_isa(isa_name):
                        bufs.add(roundtrip(x, forecaster, entropy))
                assert len(bufs) == 1
                buf = bufs.pop()
                for isa_name in tenfold.supported_isas():  # each path decodes the shared stream
                    with tenfold.use_isa(isa_name):
                        assert np.array_equal(sprintz.decompress(buf), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_column_count_equals_scalar(dtype):
    """1..70 variables (the AVX2 path has register kernels specialised per count for 2..16
    8-bit variables, group kernels beyond), odd n with raw tails and zero runs, C and F order,
    both forecasters: every ISA writes the same stream and every ISA decodes it exactly, also
    from an unaligned buffer and into a preallocated array."""
    isas = tenfold.supported_isas()
    patterns = ["walk", "smooth", "random", "extreme"]
    for nv in range(1, 71):
        n = 16 * (3 + nv % 5) + 2 * (nv % 8) + 1  # odd, every raw tail length 1..15 over the counts
        x = make(dtype, n, nv, patterns[nv % 4], 1000 + nv)
        if nv % 3 == 0:
            x[16:64] = x[15]  # a run of all-zero superblocks
        for arr in (x, np.asfortranarray(x)):
            for forecaster in ("delta", "fire"):
                bufs = set()
                for isa_name in isas:
                    with tenfold.use_isa(isa_name):
                        bufs.add(sprintz.compress(arr, forecaster=forecaster, entropy=False))
                assert len(bufs) == 1, (nv, forecaster)
                buf = bufs.pop()
                unaligned = np.frombuffer(b"\x00" + buf, np.uint8)[1:]
                for isa_name in isas:
                    with tenfold.use_isa(isa_name):
                        y = sprintz.decompress(buf)
                        assert np.array_equal(y, x) and y.dtype == x.dtype, (nv, forecaster, isa_name)
                        assert y.flags.f_contiguous == arr.flags.f_contiguous and y.flags.writeable
                        assert np.array_equal(sprintz.decompress(unaligned), x)
                        out = np.empty_like(arr)
                        assert sprintz.decompress(memoryview(buf), out=out) is out and np.array_equal(out, x)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_fire_chunks_with_few_variables_equal_scalar(dtype):
    """Fast sines make FIRE win over delta per chunk (chunk header byte 1), so the AVX2 FIRE
    recurrence for C-order 8-bit variables runs (2..16 in registers, more in groups of 16 with
    a partial group of every size); exact against scalar, incl. zero runs."""
    rng = np.random.default_rng(11)
    fire = 0
    for nv in [*range(2, 18), 24, 31, 32, 33, 40, 64]:
        for n in (257, 1040, 4099):
            t = np.arange(n)[:, None]
            x = np.rint(120 * np.sin(t / (4 + 0.3 * np.arange(nv))) + rng.integers(0, 2, (n, nv)))
            x[64:112] = 7  # a run of all-zero residual superblocks (FIRE state keeps running)
            x = (x.astype(np.int64) % 256).astype(np.uint8).astype(dtype)
            buf = sprintz.compress(x, forecaster="fire", entropy=False)
            fire += buf[41] == 1
            for isa_name in tenfold.supported_isas():
                with tenfold.use_isa(isa_name):
                    assert np.array_equal(sprintz.decompress(buf), x), (nv, n, isa_name)
    assert fire >= 55  # of 66 streams, most start with a FIRE-coded chunk


def test_decompress_out_is_checked_against_the_header():
    x = make(np.int16, 301, 5, "walk", 4)
    for arr in (x, np.asfortranarray(x)):
        buf = sprintz.compress(arr)
        good = np.empty_like(arr)
        for b in (buf, bytearray(buf), np.frombuffer(buf, np.uint8)):
            good[...] = 0
            assert sprintz.decompress(b, out=good) is good and np.array_equal(good, x)
        other = "C" if arr.flags.f_contiguous else "F"
        bad = [np.zeros(x.shape, np.uint16, order=other), np.zeros((301, 4), np.int16),  # dtype, shape
               np.zeros(x.shape, np.int16, order=other),  # memory order
               np.zeros((301, 10), np.int16)[:, ::2],  # not contiguous
               np.zeros(x.size, np.int16), np.zeros((301, 5, 1), np.int16),  # ndim
               np.zeros(x.shape, ">i2", order=arr.flags.f_contiguous and "F" or "C"),  # byte order
               np.zeros(x.shape, object, order=arr.flags.f_contiguous and "F" or "C")]
        ro = np.zeros_like(arr)
        ro.flags.writeable = False
        for out in bad + [ro]:
            with pytest.raises(ValueError, match="out must be"):
                sprintz.decompress(buf, out=out)
            assert not out.any()  # nothing written
        with pytest.raises(TypeError, match="out"):
            sprintz.decompress(buf, out=[0] * x.size)
        good[...] = 0
        with pytest.raises(ValueError, match="checksum"):  # the stream is checked first
            sprintz.decompress(buf[:-3], out=good)
        assert not good.any()  # nothing written
    # 1-D, a single column, and empty arrays
    for y in (make(np.uint8, 1001, None, "walk", 1), make(np.uint8, 77, 1, "walk", 2),
              np.asfortranarray(make(np.uint8, 77, 1, "walk", 2)), np.zeros((0, 3), np.uint8), np.zeros(0, np.int8)):
        out = np.empty_like(y)
        assert sprintz.decompress(sprintz.compress(y), out=out) is out and np.array_equal(out, y)


def test_decompress_accepts_buffers_and_noncontiguous_arrays():
    x = make(np.uint8, 333, 9, "walk", 3)
    buf = sprintz.compress(x[::-1, ::1])  # non-contiguous input
    assert np.array_equal(sprintz.decompress(buf), x[::-1])
    arr = np.frombuffer(buf, np.uint8)
    strided = np.repeat(arr, 2)[::2]  # a non-contiguous uint8 view of the stream
    for b in (bytearray(buf), memoryview(buf), arr, strided):
        assert np.array_equal(sprintz.decompress(b), x[::-1])
    with pytest.raises(TypeError, match="buf"):
        sprintz.decompress(arr.astype(np.int16))
    with pytest.raises(ValueError, match="checksum"):
        sprintz.decompress(buf[:-1])
    with pytest.raises(ValueError, match="truncated"):  # the walk over the chunks, once resealed
        sprintz.decompress(reseal(bytearray(buf[:-1])))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lagged_delta_for_periodic_single_variable(dtype):
    """Periodic 1-variable data (appliance cycles) is coded as lag-L deltas: far smaller than plain
    deltas, bit-exact, identical across ISAs, for odd lengths and both memory orders."""
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    for period, n in ((3, 5001), (4, 70_001), (7, 999), (13, 20_000)):
        levels = rng.integers(info.min // 2, info.max // 2, period)
        x = (np.tile(levels, n // period + 1)[:n] + rng.integers(-2, 3, n)).astype(dtype)
        for entropy in (False, True):
            bufs = set()
            for isa_name in tenfold.supported_isas():
                with tenfold.use_isa(isa_name):
                    bufs.add(roundtrip(x, "delta", entropy))
                    roundtrip(x.reshape(-1, 1), "fire", entropy)
                    roundtrip(np.asfortranarray(x.reshape(-1, 1)), "fire", entropy)
            assert len(bufs) == 1
            # lag-L residuals are the noise difference (3-4 bits) instead of jumps between levels
            # (short arrays keep a raw tail of up to 15 rows of the (n / L, L) view)
            assert len(bufs.pop()) < x.nbytes / (1.6 if x.itemsize == 1 else 3.2) or n < 2000
    # the chunk header's lag byte is validated
    x = (np.tile([0, 5000, 100, 9000], 1000) + rng.integers(-2, 3, 4000)).astype(np.int16)
    buf = bytearray(sprintz.compress(x, "delta", False))
    assert buf[42] == 4  # first chunk header: mode, forecaster, lag
    for bad in (1, 17, 255):
        b = bytearray(buf)
        b[42] = bad
        with pytest.raises(ValueError, match="checksum"):
            sprintz.decompress(bytes(b))
        with pytest.raises(ValueError, match="lag"):  # the chunk check, once the checksum is recomputed
            sprintz.decompress(reseal(b))


def test_old_format_version_is_rejected():
    buf = bytearray(sprintz.compress(make(np.int16, 300, None, "walk", 0)))
    buf[4] = 1  # format version 1 (before the segmented FIRE layout)
    with pytest.raises(ValueError, match="version 1"):
        sprintz.decompress(bytes(buf))


def test_huffman_stage_only_where_it_pays():
    rng = np.random.default_rng(3)
    # a residual distribution with strong byte-level skew: Huffman must be used and pay >= 5%
    x = np.cumsum(rng.geometric(0.6, 200_000) * rng.choice([-1, 1], 200_000)).astype(np.uint8)
    with_h, without = sprintz.compress(x, "delta", True), sprintz.compress(x, "delta", False)
    assert len(with_h) <= 0.95 * len(without)
    # white noise of the full width: packed bytes are uniform, Huffman cannot pay
    y = rng.integers(-2000, 2000, 100_000).astype(np.int16)
    assert len(sprintz.compress(y, "delta", True)) == len(sprintz.compress(y, "delta", False))


def test_compresses_structured_data():
    t = np.arange(100_000)
    x = (2000 * np.sin(t / 200) + np.random.default_rng(0).normal(0, 2, t.size)).astype(np.int16)
    assert len(sprintz.compress(x)) < x.nbytes / 2.5
    z = np.zeros((50_000, 4), np.uint8)
    assert len(sprintz.compress(z, entropy=False)) < 300  # zero runs collapse to counts
    # FIRE learns a ramp (constant delta) exactly: residuals go to zero
    ramp = (np.arange(200_000) * 3).astype(np.uint16)
    assert len(sprintz.compress(ramp, forecaster="fire")) < len(sprintz.compress(ramp, forecaster="delta")) / 4


def test_incompressible_data_is_stored_raw():
    rng = np.random.default_rng(0)
    for x in [rng.integers(0, 256, 100_000, dtype=np.uint8),
              np.asfortranarray(rng.integers(-32768, 32768, (50_000, 3)).astype(np.int16))]:
        for entropy in (False, True):
            buf = roundtrip(x, "fire", entropy)
            nchunks = -(-x.shape[0] // sprintz.info(buf)["chunk_rows"])
            assert len(buf) <= x.nbytes + 40 + 12 * nchunks


def test_noncontiguous_and_byteorder():
    x = make(np.int16, 500, 6, "walk", 3)
    roundtrip(x[::2, 1::2], "fire", True)
    y = x.astype(">i2")
    assert np.array_equal(sprintz.decompress(sprintz.compress(y)), x)
    assert np.array_equal(sprintz.decompress(bytearray(sprintz.compress(x))), x)
    assert np.array_equal(sprintz.decompress(np.frombuffer(sprintz.compress(x), np.uint8)), x)


def test_info():
    x = np.asfortranarray(make(np.uint16, 100, 3, "walk", 0))
    meta = sprintz.info(sprintz.compress(x, forecaster="delta", entropy=False))
    assert meta["shape"] == (100, 3) and meta["dtype"] == np.uint16 and meta["order"] == "F"
    assert meta["forecaster"] == "delta" and meta["entropy"] is False


def test_bad_arguments():
    with pytest.raises(TypeError, match="float32 or float64, got float16"):
        sprintz.compress(np.zeros(10, np.float16))
    with pytest.raises(TypeError, match="x must have dtype int8, uint8, int16"):
        sprintz.compress(np.zeros(10, np.complex64))
    with pytest.raises(ValueError, match="shape"):
        sprintz.compress(np.zeros((2, 2, 2), np.int8))
    with pytest.raises(ValueError, match="column"):
        sprintz.compress(np.zeros((5, 0), np.int8))
    with pytest.raises(ValueError, match="forecaster"):
        sprintz.compress(np.zeros(10, np.int8), forecaster="lpc")
    with pytest.raises(TypeError, match="entropy"):
        sprintz.compress(np.zeros(10, np.int8), entropy="yes")
    with pytest.raises(TypeError, match="buf"):
        sprintz.decompress("not bytes")
    with pytest.raises(ValueError, match="bits"):
        sprintz.quantize(np.zeros(3), bits=12)
    with pytest.raises(ValueError, match="NaN"):
        sprintz.quantize(np.array([0.0, np.nan]))


def test_quantize_roundtrip():
    x = np.random.default_rng(0).normal(size=(1000, 3)) * 50 + 7
    for bits in (8, 16):
        q, scale, offset = sprintz.quantize(x, bits)
        assert q.dtype == (np.uint8 if bits == 8 else np.uint16)
        assert np.abs(sprintz.dequantize(q, scale, offset) - x).max() <= scale / 2 * (1 + 1e-9)
        assert np.array_equal(sprintz.decompress(sprintz.compress(q)), q)
    q, scale, offset = sprintz.quantize(np.full(4, 3.0))
    assert np.array_equal(sprintz.dequantize(q, scale, offset), np.full(4, 3.0))


def test_checksum_paths_agree():
    rng = np.random.default_rng(0)
    for n in [0, 1, 3, 63, 64, 65, 1000, 4099]:
        data = rng.integers(0, 256, n, dtype=np.uint8)
        values = set()
        for isa_name in tenfold.supported_isas():
            with tenfold.use_isa(isa_name):
                values.add(_core.sprintz_checksum(data))
        assert len(values) == 1


# ------------------------------------------------------------------ hostile input
def reseal(b: bytearray) -> bytes:
    """Recompute the checksum of a (mutated) version-3 stream, so that it reaches the decoder:
    header bytes 4-31 then the checksum of bytes 40-end, checksummed again (sprintz.hpp)."""
    body = _core.sprintz_checksum(np.frombuffer(bytes(b[40:]), np.uint8))
    seal = _core.sprintz_checksum(np.frombuffer(bytes(b[4:32]) + int(body).to_bytes(4, "little"), np.uint8))
    b[32:36] = int(seal).to_bytes(4, "little")
    return bytes(b)


def _streams():
    rng = np.random.default_rng(5)
    out = []
    for dtype, nvars, fc, ent in [(np.int16, None, "fire", True), (np.uint8, 4, "delta", True),
                                  (np.int8, 3, "fire", False), (np.uint16, 2, "delta", False),
                                  (np.int16, None, "delta", False), (np.uint8, None, "delta", True),
                                  (np.uint8, 11, "fire", True), (np.int16, 9, "delta", False),
                                  (np.uint8, 40, "delta", False), (np.uint16, 35, "fire", False)]:
        x = make(dtype, 700, nvars, "smooth", int(rng.integers(1 << 30)))
        x[300:500] = x[300]  # a zero run
        out.append((x, sprintz.compress(x, forecaster=fc, entropy=ent)))
    big = make(np.int16, 5000, None, "walk", 9)
    out.append((big, sprintz.compress(big, forecaster="fire", entropy=True)))
    # wide dtypes (issue 16): stepped timestamps with jitter and a gap; floats of 8 significant
    # digits across magnitudes (compact exceptions with tags and raw values); a packed walk; few
    # levels far apart
    stamps = np.int64(1_600_000_000_000) + np.arange(900, dtype=np.int64) * 250
    stamps[::41] += rng.integers(-9, 9, size=stamps[::41].size)
    stamps[600:] += 10**6
    walk = np.abs(np.cumsum(rng.normal(size=(300, 2)) * 0.05, axis=0)) + 1e-3
    sig8 = np.array([float(f"{v:.7e}") for v in walk.ravel()]).reshape(walk.shape)
    sig8[5, 1] = -0.0
    words = np.cumsum(rng.integers(-3000, 3000, size=(400, 3)), axis=0).astype(np.uint32)
    levels = rng.integers(-(2**62), 2**62, size=40)[np.cumsum(rng.integers(0, 2, size=2500)) % 40]  # dictionary
    for x in (stamps, sig8, words, levels):
        out.append((x, sprintz.compress(x)))
    return out


def _must_reject_or_match(buf, x):
    try:
        y = sprintz.decompress(buf)
    except ValueError:
        return
    # a change that does not alter the data (e.g. the informational entropy flag) may decode
    assert np.array_equal(y, x) and y.dtype == x.dtype


def _must_reject_or_decode(buf):
    """A resealed mutation: the checksum no longer protects the data, so it may decode to other
    values, but only as an array of the declared dtype and shape (or a ValueError), no crash,
    no read or write out of bounds (the sanitizer build checks that)."""
    try:
        y = sprintz.decompress(buf)
    except ValueError:
        return
    meta = sprintz.info(buf)
    assert y.dtype == meta["dtype"] and y.shape == meta["shape"]


def fuzz_streams(n_mutations, seed):
    """Truncations, mutations (as is: must be rejected; resealed: must not crash) and junk of
    every test stream; returns the number of decompress calls (cases)."""
    rng = np.random.default_rng(seed)
    cases = 0
    for x, buf in _streams():
        assert np.array_equal(sprintz.decompress(buf), x)
        for cut in sorted(set(rng.integers(0, len(buf), size=min(len(buf), n_mutations)).tolist()) | {0, 39, 40, 52}):
            with pytest.raises(ValueError):
                sprintz.decompress(buf[:cut])
            cases += 1
        cases += 1 + 2 * n_mutations + 3 * (n_mutations // 4)
        with pytest.raises(ValueError):
            sprintz.decompress(buf + b"\x00")
        for _ in range(n_mutations):
            b = bytearray(buf)
            for _ in range(int(rng.integers(1, 4))):
                pos = int(rng.integers(len(b)))
                if rng.random() < 0.7:
                    b[pos] ^= 1 << int(rng.integers(8))
                else:
                    b[pos] = int(rng.integers(256))
            if bytes(b) != buf:  # the checksum of the compressed bytes catches every change
                with pytest.raises(ValueError):
                    sprintz.decompress(bytes(b))
            _must_reject_or_decode(reseal(b))
        for _ in range(n_mutations // 4):
            junk = rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
            with pytest.raises(ValueError):
                sprintz.decompress(junk)
            # a valid header followed by junk, as is and resealed
            _must_reject_or_match(buf[:40] + junk, x)
            _must_reject_or_decode(reseal(bytearray(buf[:40] + junk)))
    return cases


def test_hostile_buffers(isa):
    fuzz_streams(150, seed=tenfold.supported_isas().index(isa) + 1)


def test_hostile_headers():
    x = make(np.int16, 100, 2, "walk", 0)
    buf = bytearray(sprintz.compress(x))
    for pos, val, msg in [(0, ord("X"), "magic"), (4, 1, "version"), (4, 4, "version"), (5, 10, "dtype"), (6, 3, "ndim"),
                          (7, 2, "order"), (8, 5, "forecaster"), (10, 1, "reserved")]:
        b = bytearray(buf)
        b[pos] = val
        with pytest.raises(ValueError, match=msg):
            sprintz.decompress(bytes(b))
    b = bytearray(buf)
    b[16:24] = (1 << 60).to_bytes(8, "little")  # absurd n: refused before allocating
    with pytest.raises(ValueError):
        sprintz.decompress(bytes(b))
    b = bytearray(buf)
    b[24:32] = (1 << 39).to_bytes(8, "little")  # absurd nvars
    with pytest.raises(ValueError):
        sprintz.decompress(bytes(b))


@pytest.mark.fuzz
@pytest.mark.skipif(not os.environ.get("TENFOLD_FUZZ_EXAMPLES"), reason="long fuzz run: make fuzz")
def test_hostile_buffers_long():
    n = int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "2000"))
    seed = int(os.environ.get("TENFOLD_FUZZ_SEED", "1"))
    cases = 0
    for isa_name in tenfold.supported_isas():
        with tenfold.use_isa(isa_name):
            cases += fuzz_streams(n, seed=seed)
    print(f"sprintz stream fuzz: seed {seed}, {cases} cases ({n} mutations per stream and ISA; replay with "
          f"TENFOLD_FUZZ_SEED={seed} TENFOLD_FUZZ_EXAMPLES={n} pytest -m fuzz -k hostile_buffers_long)")


# ------------------------------------------------------------------ files and CLI
@pytest.mark.parametrize("order", ["C", "F"])
def test_file_roundtrip(tmp_path, order, monkeypatch):
    monkeypatch.setattr(sprintz, "_FRAME_BYTES", 4096)  # many frames on a small array
    x = make(np.int16, 5000, 3, "walk", 4)
    x = np.asfortranarray(x) if order == "F" else x
    np.save(tmp_path / "x.npy", x)
    stats = sprintz.compress_file(tmp_path / "x.npy", tmp_path / "x.tfsz", progress=False)
    assert stats["ratio"] > 1.5
    assert sprintz.decompress_file(tmp_path / "x.tfsz", tmp_path / "y.npy", progress=False) == x.shape
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y, x) and y.flags.f_contiguous == (order == "F")
    data = (tmp_path / "x.tfsz").read_bytes()
    for bad in [data[:-1], data[: len(data) // 2], data + b"\0", b"TFSF" + data[4:8] + b"\xff\xff\0\0" + data[12:]]:
        (tmp_path / "bad.tfsz").write_bytes(bad)
        with pytest.raises(ValueError):
            sprintz.decompress_file(tmp_path / "bad.tfsz", tmp_path / "z.npy", progress=False)
        assert not (tmp_path / "z.npy").exists()
    np.save(tmp_path / "f.npy", np.zeros(10, np.float16))
    with pytest.raises(TypeError, match="src must have dtype"):
        sprintz.compress_file(tmp_path / "f.npy", tmp_path / "f.tfsz")
    np.savez(tmp_path / "a.npz", x=x)   # np.load gives an archive, not an array (was AttributeError)
    (tmp_path / "t.npy").write_text("1, 2, 3\n")   # (was numpy's "contains pickled data")
    for name in ("a.npz", "t.npy"):
        with pytest.raises(ValueError, match="not a .npy file"):
            sprintz.compress_file(tmp_path / name, tmp_path / "a.tfsz")
        assert not (tmp_path / "a.tfsz").exists()


def test_cli_compress_decompress(tmp_path, capsys):
    from tenfold import cli

    x = make(np.uint8, 3000, None, "smooth", 2)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["compress", str(tmp_path / "x.npy"), str(tmp_path / "x.tfsz"), "--forecaster", "delta"]) == 0
    assert cli.main(["decompress", str(tmp_path / "x.tfsz"), str(tmp_path / "y.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "y.npy"), x)
    assert "ratio" in capsys.readouterr().out
    (tmp_path / "junk").write_bytes(b"junk")
    assert cli.main(["decompress", str(tmp_path / "junk"), str(tmp_path / "j.npy")]) == 1   # 1: a file cannot be used
    assert "error" in capsys.readouterr().err


def test_demo_section_runs():
    from tenfold import _demo

    rows = _demo.demo_sprintz(20_000)
    assert rows and all(r[-1] == "lossless" for r in rows)
    sprintz_16 = [float(r[1]) for r in rows if r[0].startswith("16-bit, 1 var: sprintz")]
    zlib_16 = [float(r[1]) for r in rows if r[0].startswith("16-bit, 1 var: zlib")]
    assert max(sprintz_16) > zlib_16[0]


@pytest.mark.fuzz
def test_native_sanitizer_fuzz(tmp_path):
    """Builds tests/native/sprintz_fuzz.cpp with ASan + UBSan and runs it on both ISA paths: its
    deterministic cases and 50 random rounds here (~15 s), many more under `make fuzz`."""
    import subprocess
    from pathlib import Path

    cxx, flags = sanitizer_compiler(tmp_path)
    root = Path(__file__).resolve().parent.parent
    cpp = root / "cpp"
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # (make fuzz preloads libasan for Python)
    objs = []  # the host's SIMD unit (AVX2 on x86-64, NEON on AArch64), each with its own flags
    for src, unit_flags in host_simd_units(cpp / "sprintz", ["codec", "codec_wide"]):
        objs.append(tmp_path / f"{src.stem}.o")
        subprocess.run([cxx, *flags, *unit_flags, "-c", str(src), "-o", str(objs[-1])], check=True, env=env)
    exe = tmp_path / "fz"
    subprocess.run([cxx, *flags, str(root / "tests" / "native" / "sprintz_fuzz.cpp"),
                    *(str(cpp / f) for f in ("sprintz/sprintz.cpp", "sprintz/codec_scalar.cpp", "sprintz/codec_wide.cpp", "sprintz/wide_blocks.cpp",
                                              "sprintz/huffman.cpp",
                                              "common/isa.cpp")), *map(str, objs), "-o", str(exe), "-lpthread"],
                   check=True, env=env)
    rounds = max(50, int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "0")) // 20)
    seed = int(os.environ.get("TENFOLD_FUZZ_SEED", "42"))
    res = subprocess.run([str(exe), str(rounds), str(seed)], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = res.stdout.strip().splitlines()[-1]
    print(counts)
    assert counts.startswith(f"sprintz native fuzz: seed {seed}, ")
    rejected, resealed = (int(counts.split(w)[1].split()[0]) for w in ("rejected ", "resealed-and-decoded "))
    assert rejected > 0 and resealed > 0  # both kinds of case happened


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")   # np.matrix's own
def test_array_subclasses():
    """np.matrix reached the native call (an unreadable nanobind TypeError) and a masked array
    failed with 'cannot reshape'; a matrix now compresses as its plain array and a masked array
    is a TypeError (compressing its data would lose the mask silently)."""
    m = np.matrix(np.arange(60, dtype=np.int16).reshape(20, 3))
    assert np.array_equal(sprintz.decompress(sprintz.compress(m)), np.asarray(m))
    with pytest.raises(TypeError, match="masked"):
        sprintz.compress(np.ma.masked_array(np.arange(10, dtype=np.int32), mask=[0, 1] * 5))
