"""Sprintz on hostile or careless input (issue 13): files never lose data, hostile .tfsz headers,
codecs that check streams against the array, decompression bombs, absurd parameters, and
streams written by earlier versions."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tenfold import _core, sprintz

DATA = Path(__file__).resolve().parent / "data"


def reseal(b: bytearray) -> bytes:
    """Recompute a version-3 stream's checksum (header bytes 4-31, then the checksum of bytes 40-end)."""
    body = _core.sprintz_checksum(np.frombuffer(bytes(b[40:]), np.uint8))
    seal = _core.sprintz_checksum(np.frombuffer(bytes(b[4:32]) + int(body).to_bytes(4, "little"), np.uint8))
    b[32:36] = int(seal).to_bytes(4, "little")
    return bytes(b)


def _files(folder):
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------ 1. no data loss
@pytest.fixture
def npy(tmp_path):
    x = np.cumsum(np.random.default_rng(0).integers(-3, 4, (5000, 3)), axis=0).astype(np.int16)
    np.save(tmp_path / "x.npy", x)
    sprintz.compress_file(tmp_path / "x.npy", tmp_path / "x.tfsz", progress=False)
    return tmp_path, x


@pytest.mark.parametrize("link", ["same", "hard", "sym", "dotted"])
def test_same_file_as_source_and_destination_is_refused(npy, link):
    folder, _ = npy
    for fn, src in ((sprintz.compress_file, folder / "x.npy"), (sprintz.decompress_file, folder / "x.tfsz")):
        before = src.read_bytes()
        dst = {"same": src, "dotted": folder / "." / src.name, "hard": folder / "hard", "sym": folder / "sym"}[link]
        if link == "hard":
            os.link(src, dst)
        elif link == "sym":
            os.symlink(src, dst)
        listing = _files(folder)
        with pytest.raises(ValueError, match="same file"):
            fn(src, dst, progress=False)
        assert src.read_bytes() == before and _files(folder) == listing
        if link in ("hard", "sym"):
            os.remove(dst)


def test_cli_same_file_keeps_the_data(npy):
    """`tenfold compress x.npy x.npy` died with SIGBUS leaving x.npy empty; `tenfold decompress
    z.tfsz z.tfsz` deleted z.tfsz."""
    folder, _ = npy
    for cmd, name in (("compress", "x.npy"), ("decompress", "x.tfsz")):
        before = (folder / name).read_bytes()
        r = subprocess.run([sys.executable, "-m", "tenfold", cmd, name, name], cwd=folder, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert f"tenfold {cmd}: error:" in r.stderr and "same file" in r.stderr and "Traceback" not in r.stderr
        assert (folder / name).read_bytes() == before


def test_failure_midway_leaves_destination_untouched(npy, monkeypatch):
    folder, x = npy
    monkeypatch.setattr(sprintz, "_FRAME_BYTES", 4096)  # many frames
    (folder / "out.tfsz").write_bytes(b"precious")
    (folder / "out.npy").write_bytes(b"precious too")
    listing = _files(folder)
    calls = []
    real = sprintz.compress

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(sprintz, "compress", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        sprintz.compress_file(folder / "x.npy", folder / "out.tfsz", progress=False)
    assert len(calls) == 3 and (folder / "out.tfsz").read_bytes() == b"precious" and _files(folder) == listing
    monkeypatch.setattr(sprintz, "compress", real)
    sprintz.compress_file(folder / "x.npy", folder / "many.tfsz", progress=False)
    data = (folder / "many.tfsz").read_bytes()
    (folder / "bad.tfsz").write_bytes(b"")
    listing = _files(folder)
    # a corrupt byte in the last frame (every earlier frame decodes first), truncation, trailing bytes
    for bad in (data[:-5] + bytes([data[-5] ^ 1]) + data[-4:], data[:-3], data + b"\0"):
        (folder / "bad.tfsz").write_bytes(bad)
        with pytest.raises(ValueError, match="corrupt"):
            sprintz.decompress_file(folder / "bad.tfsz", folder / "out.npy", progress=False)
        assert (folder / "out.npy").read_bytes() == b"precious too" and _files(folder) == listing
    sprintz.decompress_file(folder / "many.tfsz", folder / "out.npy", progress=False)
    assert np.array_equal(np.load(folder / "out.npy"), x)


# ------------------------------------------------------------------ 2. hostile .tfsz headers
def _tfsz(meta, frames=b"", reserved=b"\0\0\0"):
    head = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return b"TFSF\x01" + reserved + len(head).to_bytes(4, "little") + head + frames


@pytest.mark.parametrize("meta", [
    {"dtype": "<i2", "shape": [1 << 40], "order": "C", "frame_rows": 1 << 60},  # unbounded frame_rows
    {"dtype": "<i2", "shape": [1 << 62], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [1 << 20, 1 << 40], "order": "F", "frame_rows": 16},
    {"dtype": "<i2", "shape": [100], "order": "C", "frame_rows": 8},
    {"dtype": "<i2", "shape": [100], "order": "C", "frame_rows": 17},
    {"dtype": "<i2", "shape": [-5], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [100, 0], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [1, 2, 3], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [100.5], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [True], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [100], "order": "C", "frame_rows": "16"},
    {"dtype": "<i2", "shape": [100], "order": "X", "frame_rows": 16},
    {"dtype": "<f4", "shape": [100], "order": "C", "frame_rows": 16},
    {"dtype": ">i2", "shape": [100], "order": "C", "frame_rows": 16},
    {"dtype": "O", "shape": [100], "order": "C", "frame_rows": 16},
    {"dtype": 5, "shape": [100], "order": "C", "frame_rows": 16},
    {"dtype": "<i2", "shape": [100], "order": "C"},
    {"dtype": "<i2", "shape": [100], "order": "C", "frame_rows": 16, "extra": 1},
    [1, 2],
    b"\xff\xfe",
    b"{not json",
])
def test_hostile_file_header_is_a_value_error_and_leaves_nothing(tmp_path, meta):
    (tmp_path / "h.tfsz").write_bytes(_tfsz(meta, bytes(64 << 10)))
    (tmp_path / "out.npy").write_bytes(b"keep")
    with pytest.raises(ValueError, match="corrupt|Sprintz file"):
        sprintz.decompress_file(tmp_path / "h.tfsz", tmp_path / "out.npy", progress=False)
    assert _files(tmp_path) == ["h.tfsz", "out.npy"] and (tmp_path / "out.npy").read_bytes() == b"keep"


def test_file_header_reserved_bytes_and_missing_source(tmp_path):
    meta = {"dtype": "<i2", "shape": [0], "order": "C", "frame_rows": 16}
    (tmp_path / "ok.tfsz").write_bytes(_tfsz(meta))
    assert sprintz.decompress_file(tmp_path / "ok.tfsz", tmp_path / "e.npy", progress=False) == (0,)
    assert np.load(tmp_path / "e.npy").shape == (0,)
    (tmp_path / "r.tfsz").write_bytes(_tfsz(meta, reserved=b"\0\1\0"))
    with pytest.raises(ValueError, match="reserved"):
        sprintz.decompress_file(tmp_path / "r.tfsz", tmp_path / "r.npy", progress=False)
    with pytest.raises(ValueError, match="readable"):
        sprintz.decompress_file(tmp_path / "missing.tfsz", tmp_path / "m.npy", progress=False)
    assert _files(tmp_path) == ["e.npy", "ok.tfsz", "r.tfsz"]


# ------------------------------------------------------------------ 4. codecs check the stream against the array
def test_zarr_codec_checks_dtype_and_shape_on_decode(tmp_path):
    zarr = pytest.importorskip("zarr", minversion="3")
    from tenfold.sprintz import SprintzZarrCodec

    def array(name, shape, dtype):
        return zarr.create_array(str(tmp_path / name), shape=shape, chunks=shape, dtype=dtype,
                                 serializer=SprintzZarrCodec(), compressors=None)

    def chunk_file(name):
        files = [p for p in (tmp_path / name).rglob("*") if p.is_file() and not p.name.startswith("zarr")]
        assert len(files) == 1
        return files[0]

    z8 = array("a8", (100,), "int8")
    z8[:] = np.arange(100, dtype=np.int8)
    chunk_file("a8").write_bytes(sprintz.compress(np.arange(100, dtype=np.int16) * 300))  # int16 in an int8 array
    with pytest.raises(ValueError, match="int16.*int8"):
        z8[:]
    z4 = array("a4", (4,), "int16")
    z4[:] = np.arange(4, dtype=np.int16)
    chunk_file("a4").write_bytes(sprintz.compress(np.arange(4, dtype=np.int16).reshape(2, 2)))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        z4[:]
    z22 = array("a22", (2, 3), "int16")
    z22[:] = np.arange(6, dtype=np.int16).reshape(2, 3)
    chunk_file("a22").write_bytes(sprintz.compress(np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))))
    with pytest.raises(ValueError, match="F order"):
        z22[:]
    # matching streams of 0-, 1-, 2- and 3-D chunks decode
    for shape in [(), (7,), (5, 3), (4, 3, 2)]:
        z = array(f"ok{len(shape)}", shape, "uint16")
        x = np.arange(int(np.prod(shape)), dtype=np.uint16).reshape(shape)
        z[...] = x
        assert np.array_equal(z[...], x)


@pytest.mark.parametrize("dtype", ["float16", "bool", "complex64"])
def test_zarr_codec_rejects_unsupported_dtypes_at_create(tmp_path, dtype):
    zarr = pytest.importorskip("zarr", minversion="3")
    from tenfold.sprintz import SprintzZarrCodec

    with pytest.raises((TypeError, ValueError), match="dtype"):
        zarr.create_array(str(tmp_path / "a"), shape=(10,), chunks=(10,), dtype=dtype,
                          serializer=SprintzZarrCodec(), compressors=None)


def test_numcodecs_codec_checks_out_before_decoding():
    pytest.importorskip("numcodecs")
    from tenfold.sprintz import SprintzCodec

    codec = SprintzCodec()
    x = np.arange(1000, dtype=np.int16)
    buf = codec.encode(x)
    out = np.zeros(1000, np.int8)
    with pytest.raises(ValueError, match="int16"):
        codec.decode(buf, out=out)
    assert not out.any()
    for out in (np.empty(1000, np.int16), np.empty((10, 100), np.int16), bytearray(2000)):
        res = codec.decode(buf, out=out)
        assert res is out and np.array_equal(np.frombuffer(out, np.int16).reshape(-1), x)
    for out in (np.empty(999, np.int16), bytearray(1999), bytearray(2002)):
        with pytest.raises(ValueError):
            codec.decode(buf, out=out)
    # an F-ordered 2-D chunk comes back in the encoded buffer's memory order
    f = np.asfortranarray(np.arange(600, dtype=np.uint8).reshape(20, 30))
    out = np.empty(600, np.uint8)
    codec.decode(codec.encode(f), out=out)
    assert np.array_equal(out, f.ravel(order="K"))


# ------------------------------------------------------------------ 5. decompression bombs
ROWS_PER_CHUNK = 1 << 19  # int16 rows in 1 MiB, the largest chunk the format allows
BOMB_ROWS = 1 << 31  # 4 GiB of int16


def bomb_stream(rows=BOMB_ROWS):
    """A valid stream of `rows` int16 zeros (all-zero runs: 16 bytes per 1 MiB chunk)."""
    one = bytearray(_core.sprintz_compress(np.zeros(2 * ROWS_PER_CHUNK, np.uint8), 2, ROWS_PER_CHUNK, 1, 1, 0, 0,
                                           False, ROWS_PER_CHUNK))
    chunk = bytes(one[40:])
    one[16:24] = rows.to_bytes(8, "little")
    return reseal(bytearray(bytes(one[:40]) + chunk * (rows // ROWS_PER_CHUNK)))


def test_bomb_stream_is_what_it_claims():
    small = bomb_stream(8 * ROWS_PER_CHUNK)
    assert np.array_equal(sprintz.decompress(small), np.zeros(8 * ROWS_PER_CHUNK, np.int16))
    big = bomb_stream()
    assert len(big) < 66_000 and sprintz.info(big)["shape"] == (BOMB_ROWS,)


BOMB_SCRIPT = r"""
import json, os, resource, sys, tempfile
import numpy as np
sys.path.insert(0, {tests!r})
from test_sprintz_trust import bomb_stream, bomb_file
from tenfold import sprintz
from tenfold.cli import main

valid = bomb_stream()
corrupt = bytearray(valid); corrupt[-3] ^= 4; corrupt = bytes(corrupt)
d = tempfile.mkdtemp()
bomb_file(os.path.join(d, "bad.tfsz"), corrupt_frame=0)
bomb_file(os.path.join(d, "short.tfsz"), keep_frames=100)
codec = sprintz.SprintzCodec()

import zarr
z = zarr.create_array(os.path.join(d, "z"), shape=(1000,), chunks=(1000,), dtype="int16",
                      serializer=sprintz.SprintzZarrCodec(), compressors=None)
z[:] = np.arange(1000, dtype=np.int16)
chunk = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(d, "z")) for f in fs if not f.startswith("zarr")]
open(chunk[0], "wb").write(valid)

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def zarr_read():
    return z[:]

steps = {{
    "decompress, corrupt": lambda: sprintz.decompress(corrupt),
    "decompress bytearray, corrupt": lambda: sprintz.decompress(bytearray(corrupt)),
    "decompress, max_output_bytes": lambda: sprintz.decompress(valid, max_output_bytes=10 ** 6),
    "decompress, out=": lambda: sprintz.decompress(valid, out=np.empty(1000, np.int16)),
    "numcodecs decode, out=": lambda: codec.decode(valid, out=np.empty(1000, np.int8)),
    "numcodecs decode, corrupt": lambda: codec.decode(corrupt),
    "zarr read": zarr_read,
    "decompress_file, corrupt frame": lambda: sprintz.decompress_file(os.path.join(d, "bad.tfsz"),
                                                                    os.path.join(d, "o.npy"), progress=False),
    "decompress_file, truncated": lambda: sprintz.decompress_file(os.path.join(d, "short.tfsz"),
                                                                os.path.join(d, "o.npy"), progress=False),
}}
report = {{}}
base = rss()
for name, fn in steps.items():
    try:
        fn()
        report[name] = "no error"
    except ValueError as exc:
        report[name] = "ValueError: " + str(exc)[:120]
for name in ("bad.tfsz", "short.tfsz"):
    report["cli " + name] = main(["decompress", os.path.join(d, name), os.path.join(d, "o.npy")])
report["files"] = sorted(os.listdir(d))
report["growth"] = rss() - base
print(json.dumps(report))
"""


def bomb_file(path, corrupt_frame=None, keep_frames=None):
    """A .tfsz file declaring 4 GiB of int16 in 16 MiB frames of zeros (about 80 KB)."""
    frame_rows = 1 << 23
    frame = bomb_stream(frame_rows)
    nframes = BOMB_ROWS // frame_rows
    frames = []
    for i in range(nframes if keep_frames is None else keep_frames):
        f = bytearray(frame)
        if i == corrupt_frame:
            f[60] ^= 1
        frames.append(len(f).to_bytes(8, "little") + bytes(f))
    Path(path).write_bytes(_tfsz({"dtype": "<i2", "shape": [BOMB_ROWS], "order": "C", "frame_rows": frame_rows},
                                 b"".join(frames)))


def test_a_64kb_stream_claiming_4gib_is_rejected_by_every_entry_point_in_bounded_memory():
    pytest.importorskip("zarr", minversion="3")
    pytest.importorskip("numcodecs")
    script = BOMB_SCRIPT.format(tests=str(Path(__file__).resolve().parent))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    growth = report.pop("growth")
    assert report.pop("files") == ["bad.tfsz", "short.tfsz", "z"]  # no partial output anywhere
    assert report.pop("cli bad.tfsz") == 2 and report.pop("cli short.tfsz") == 2
    for name, outcome in report.items():
        assert outcome.startswith("ValueError"), (name, outcome)
    assert "checksum" in report["decompress, corrupt"] and "max_output_bytes" in report["decompress, max_output_bytes"]
    assert growth < 100e6, (growth, report)


def test_max_output_bytes_argument():
    x = np.arange(100, dtype=np.int16)
    buf = sprintz.compress(x)
    assert np.array_equal(sprintz.decompress(buf, max_output_bytes=200), x)
    with pytest.raises(ValueError, match="max_output_bytes"):
        sprintz.decompress(buf, max_output_bytes=199)
    with pytest.raises(ValueError, match="max_output_bytes"):
        sprintz.decompress(buf, max_output_bytes=-1)
    with pytest.raises(TypeError, match="max_output_bytes"):
        sprintz.decompress(buf, max_output_bytes=1.5)
    with pytest.raises(ValueError, match="max_output_bytes"):
        sprintz.decompress(buf, out=np.empty(100, np.int16), max_output_bytes=10)


# ------------------------------------------------------------------ 7. absurd parameters
def test_quantize_absurd_ranges():
    with pytest.raises(ValueError, match="range"):
        sprintz.quantize([-1e308, 0, 1e308])
    with pytest.raises(ValueError, match="range"):
        sprintz.quantize(np.array([-1.7e308, 1.7e308]), bits=8)
    # the widest range that fits, and a range of a few subnormals, work
    for x in (np.array([-8e307, 0, 8e307]), np.array([0.0, 5e-324, 1e-323]), np.array([-1.0, 1.0])):
        q, scale, offset = sprintz.quantize(x)
        assert np.isfinite(scale) and scale > 0
        assert np.abs(sprintz.dequantize(q, scale, offset) - x).max() <= scale / 2 * (1 + 1e-9)
    for scale, offset in ((float("nan"), 0.0), (1.0, float("inf"))):
        with pytest.raises(ValueError, match="finite"):
            sprintz.dequantize(np.zeros(3, np.uint8), scale, offset)
    with pytest.raises(TypeError, match="scale"):
        sprintz.dequantize(np.zeros(3, np.uint8), "1", 0.0)


# ------------------------------------------------------------------ formats written by earlier versions
def _fixture():
    spec = importlib.util.spec_from_file_location("make_sprintz_fixture", DATA / "make_sprintz_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_version_2_streams_still_decode_and_are_checked():
    mod = _fixture()
    streams = np.load(DATA / "sprintz_v2_streams.npz")
    arrays = mod.arrays()
    assert set(streams.files) == set(arrays)
    for name, (x, fc, ent) in arrays.items():
        buf = streams[name].tobytes()
        assert sprintz.info(buf)["version"] == 2
        y = sprintz.decompress(buf)
        assert np.array_equal(y, x) and y.dtype == x.dtype and y.flags.f_contiguous == x.flags.f_contiguous
        out = np.empty_like(x)
        assert np.array_equal(sprintz.decompress(buf, out=out), x)
        new = sprintz.compress(x, forecaster=fc, entropy=ent)
        assert sprintz.info(new)["version"] == 3 and new[36:] == buf[36:]  # same chunks, new checksum
        if x.size:  # a version 2 stream's checksum (of the decoded data) is still verified
            bad = bytearray(buf)
            bad[-1] ^= 1
            with pytest.raises(ValueError):
                sprintz.decompress(bytes(bad))


def test_version_1_file_still_decompresses(tmp_path):
    sprintz.decompress_file(DATA / "sprintz_v1_file.tfsz", tmp_path / "y.npy", progress=False)
    assert np.array_equal(np.load(tmp_path / "y.npy"), _fixture().file_array())


def test_cli_bomb_in_a_subprocess(tmp_path):
    """The command line itself (not just its function): a clean error, exit code 2, no output."""
    bomb_file(tmp_path / "b.tfsz", corrupt_frame=3)
    r = subprocess.run([sys.executable, "-m", "tenfold", "decompress", "b.tfsz", "o.npy"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "checksum" in r.stderr and "Traceback" not in r.stderr
    assert _files(tmp_path) == ["b.tfsz"]

