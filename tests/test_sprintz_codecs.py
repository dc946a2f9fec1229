"""Sprintz as a numcodecs codec (Zarr v2 API) and a Zarr v3 serializer, on real stores on disk."""

import numpy as np
import pytest

from tenfold import sprintz


def series(n, nvars, dtype=np.int16, seed=0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.integers(-4, 5, size=(n, nvars)), axis=0)
    return x.astype(dtype)


def test_numcodecs_roundtrip_and_config():
    numcodecs = pytest.importorskip("numcodecs")
    codec = sprintz.SprintzCodec(forecaster="delta", entropy=False)
    cfg = codec.get_config()
    assert cfg == {"id": "tenfold.sprintz", "forecaster": "delta", "entropy": False}
    again = numcodecs.get_codec(cfg)
    assert isinstance(again, sprintz.SprintzCodec) and again.get_config() == cfg
    for x in [series(1000, 3), series(777, 1, np.uint8)[:, 0], series(64, 6, np.int8).reshape(64, 2, 3)]:
        enc = codec.encode(x)
        dec = np.asarray(codec.decode(enc))
        assert np.array_equal(dec.reshape(-1), np.ascontiguousarray(x).reshape(-1))
        out = np.empty(x.shape, x.dtype)
        codec.decode(enc, out=out)
        assert np.array_equal(out, x)
    with pytest.raises(ValueError):
        sprintz.SprintzCodec(forecaster="nope")
    with pytest.raises(ValueError):
        codec.decode(b"garbage that is not a stream at all.......")


def test_numcodecs_entry_point():
    pytest.importorskip("numcodecs")
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="numcodecs.codecs")}
    assert names.get("tenfold.sprintz") == "tenfold.sprintz_codecs:SprintzCodec"


def test_zarr_v3_store_on_disk(tmp_path):
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr v3 API needed")
    x = series(5000, 7)
    path = tmp_path / "store.zarr"
    z = zarr.create_array(str(path), shape=x.shape, chunks=(1024, 7), dtype=x.dtype,
                          serializer=sprintz.SprintzZarrCodec(forecaster="fire"), compressors=None)
    z[:] = x
    again = zarr.open_array(str(path), mode="r")
    assert np.array_equal(again[:], x)
    assert np.array_equal(again[1000:1100, 2:5], x[1000:1100, 2:5])
    codec = again.serializer
    assert isinstance(codec, sprintz.SprintzZarrCodec) and codec.forecaster == "fire"
    assert sprintz.SprintzZarrCodec.from_dict(codec.to_dict()) == codec
    stored = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "zarr.json" not in f.name)
    assert stored < x.nbytes / 2


def test_zarr_v2_format_with_numcodecs(tmp_path):
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("numcodecs")
    x = series(3000, 4, np.uint16)
    kwargs = dict(shape=x.shape, chunks=(512, 4), dtype=x.dtype)
    if int(zarr.__version__.split(".")[0]) >= 3:
        z = zarr.create_array(str(tmp_path / "v2.zarr"), zarr_format=2, compressors=sprintz.SprintzCodec(),
                              filters=None, **kwargs)
    else:  # pragma: no cover
        z = zarr.open(str(tmp_path / "v2.zarr"), mode="w", compressor=sprintz.SprintzCodec(), **kwargs)
    z[:] = x
    assert np.array_equal(zarr.open_array(str(tmp_path / "v2.zarr"), mode="r")[:], x)


def test_dask_array_to_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr v3 API needed")
    x = series(4096, 5, np.int8)
    dx = da.from_array(x, chunks=(1024, 5))
    z = zarr.create_array(str(tmp_path / "dask.zarr"), shape=x.shape, chunks=(1024, 5), dtype=x.dtype,
                          serializer=sprintz.SprintzZarrCodec(), compressors=None)
    da.store(dx, z, lock=False, scheduler="synchronous")
    back = da.from_zarr(str(tmp_path / "dask.zarr"))
    assert np.array_equal(back.compute(scheduler="synchronous"), x)


def test_numcodecs_keeps_memory_order_of_fortran_chunks(tmp_path):
    """A numcodecs codec maps bytes to bytes: Zarr v2 with order="F" hands the codec Fortran-ordered
    chunks and reads the decoded bytes back in Fortran order, so an N-D chunk must decode to its
    own memory layout (it used to come back in C order: silently scrambled values)."""
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("numcodecs")
    codec = sprintz.SprintzCodec()
    x = np.asfortranarray(series(60, 12).reshape(60, 4, 3))
    raw = bytearray(x.nbytes)
    codec.decode(codec.encode(x), out=raw)
    assert bytes(raw) == x.tobytes(order="A")
    out = np.empty_like(x)   # Fortran-ordered, as x
    codec.decode(codec.encode(x), out=out)
    assert np.array_equal(out, x)
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr v3 API needed for zarr_format=2 with order")
    z = zarr.create_array(str(tmp_path / "f.zarr"), shape=x.shape, chunks=(32, 4, 2), dtype=x.dtype,
                          zarr_format=2, compressors=codec, filters=None, order="F")
    z[:] = x
    assert np.array_equal(zarr.open_array(str(tmp_path / "f.zarr"), mode="r")[:], x)


def test_numcodecs_refuses_big_endian_chunks(tmp_path):
    """Zarr v2 arrays of dtype '>i4' hand the codec big-endian chunks; the stream stores native
    values, so their decoded bytes came back swapped and Zarr read garbage (1 -> 16777216).
    Such chunks are now a TypeError naming the native dtype; byte-order-free dtypes still work."""
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("numcodecs")
    codec = sprintz.SprintzCodec()
    for dt in (">i4", ">f8", ">u2"):
        with pytest.raises(TypeError, match="native byte order"):
            codec.encode(np.arange(10).astype(dt))
    x = series(100, 3, np.int8)
    assert np.array_equal(np.frombuffer(codec.decode(codec.encode(x)), np.int8).reshape(x.shape), x)
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr v3 API needed for zarr_format=2")
    z = zarr.create_array(str(tmp_path / "be.zarr"), shape=(100, 3), chunks=(32, 3), dtype=">i4", zarr_format=2,
                          compressors=codec, filters=None)
    with pytest.raises(TypeError, match="native byte order"):
        z[:] = np.arange(300).reshape(100, 3)
