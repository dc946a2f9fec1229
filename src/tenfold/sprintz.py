"""Sprintz: lossless compression of integer and float time series (Blalock et al., IMWUT 2018).

8/16-bit integers take the paper's design below. 32/64-bit integers are predicted by delta or
delta of delta, or (``"fire"``) stored as a start, a step and a sparse list of off-step samples
(regular timestamps with jitter and gaps cost about nothing); chunks whose values span less than
2^16 are narrowed onto the 16-bit path, and chunks that repeat few distinct values (a coarse
sensor's levels) are coded as ranks into a per-chunk dictionary where that is >= 10% smaller.
float32/float64 chunks store each column's values as decimal digits where that reproduces them
bit for bit (values that are integers times 10^-e, as sensor and price data are); a value with up
to 3 more decimals than its column (numbers of fixed significant digits below 1) costs a short
exception of about two bytes, every other value (-0.0, NaN payloads, infinities) is stored
verbatim as an exception, and columns without such structure as bit patterns.

Each variable (column) is predicted from its past (``"delta"``: the previous sample; ``"fire"``:
the previous sample plus a learned multiple of the previous change), the prediction errors are
zigzag-encoded and bit-packed in blocks of 8 samples with one bit width per block, runs of
all-zero blocks collapse to a count, and an optional Huffman stage codes large chunks of the
packed bytes when that pays. The stream is self-describing (dtype, shape, memory order,
options) and carries a checksum of its compressed bytes, verified before anything is decoded;
corrupt or hostile input raises ``ValueError``, and ``max_output_bytes`` or ``out`` bound the
memory a stream can make :func:`decompress` allocate.

>>> import numpy as np
>>> from tenfold import sprintz
>>> x = (1000 * np.sin(np.arange(10_000) / 50)).astype(np.int16)
>>> buf = sprintz.compress(x)
>>> len(buf) < x.nbytes / 3
True
>>> np.array_equal(sprintz.decompress(buf), x)
True
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

from . import _core
from ._checks import check_choice, check_int, refuse_masked

__all__ = ["compress", "decompress", "quantize", "dequantize", "info", "compress_file", "decompress_file"]

# The dtypes a stream can hold, in the order of the format's dtype codes: the one list every
# entry point (arrays, files, the numcodecs and Zarr codecs) checks against.
_DTYPES = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                                      np.uint64, np.float32, np.float64))
_FORECASTERS = ("delta", "fire")
_CHUNK_BYTES = 1 << 18  # target raw bytes per chunk (forecaster state and Huffman tables reset)


_DTYPE_CODES = {dt: code for code, dt in enumerate(_DTYPES)}  # one hash lookup for native-order dtypes


def _dtype_code(x: Any, name: str) -> int:
    """The format's code for the dtype of array ``x`` (or of dtype ``x``); TypeError if unsupported."""
    dt = x if isinstance(x, np.dtype) else x.dtype
    code = _DTYPE_CODES.get(dt)
    if code is not None:
        return code
    native = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
    for code, ok in enumerate(_DTYPES):
        if native == ok:
            return code
    names = ", ".join(str(d) for d in _DTYPES[:-1]) + f" or {_DTYPES[-1]}"
    raise TypeError(f"{name} must have dtype {names}, got {dt}")


def _chunk_rows(nvars: int, itemsize: int) -> int:
    return max(16, _CHUNK_BYTES // (nvars * itemsize) // 16 * 16)


def compress(x: Any, forecaster: str = "fire", entropy: bool = True) -> bytes:
    """Compress an integer (8 to 64 bits) or float32/float64 array of shape (n,) or (n, nvars) losslessly.

    Rows are time steps and columns are variables. C- and Fortran-ordered arrays are both
    compressed without a copy, and :func:`decompress` returns the same memory order.

    Parameters
    ----------
    x : array of int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32 or float64,
        shape (n,) or (n, nvars); n may be 0. Floats round-trip bit for bit (NaN payloads, -0.0).
    forecaster : ``"fire"`` (learned autoregression on deltas, best on smooth signals; used
        per chunk only where it beats delta by >= 1%) or ``"delta"`` (previous sample; fastest
        to decode; for 32/64-bit dtypes it disables delta of delta). With either, a single variable whose chunk is periodic (e.g. appliance
        cycles) is coded as lag-L deltas (L <= 16, chosen per chunk) where that is >= 2% smaller.
    entropy : add the Huffman stage where it makes a chunk at least 5% smaller (8% for 32/64-bit
        and float chunks); it costs about as much decode time as the rest of the decoder.

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> x = np.arange(64, dtype=np.uint8).reshape(32, 2)
    >>> np.array_equal(sprintz.decompress(sprintz.compress(x, forecaster="delta")), x)
    True
    """
    if type(x) is np.ndarray:
        arr = x
    else:
        refuse_masked(x, "x")   # np.asarray would drop the mask without a word
        arr = np.asarray(x)     # subclasses (np.matrix) as plain arrays
    # (the common case first: a native-order dtype is one dict lookup, a known forecaster one
    # tuple scan; small arrays spend a good part of a call on these checks)
    code = _DTYPE_CODES.get(arr.dtype)
    if code is None:
        code = _dtype_code(arr, "x")
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
    if type(forecaster) is not str or forecaster not in _FORECASTERS:
        check_choice(forecaster, "forecaster", _FORECASTERS)
    if entropy is not True and entropy is not False and not isinstance(entropy, np.bool_):
        raise TypeError(f"entropy must be a bool, got {type(entropy).__name__}")
    ndim, shape = arr.ndim, arr.shape
    if ndim == 1:
        nvars = 1
    elif ndim != 2:
        raise ValueError(f"x must have shape (n,) or (n, nvars), got shape {shape}")
    elif shape[1] == 0:
        raise ValueError(f"x must have at least one column, got shape {shape}")
    else:
        nvars = shape[1]
    flags = arr.flags
    if flags.c_contiguous:
        order = 0
    elif flags.f_contiguous:
        order = 1
    else:
        arr, order = np.ascontiguousarray(arr), 0
    raw = arr.view(np.uint8) if ndim == 1 else arr.ravel(order="F" if order else "C").view(np.uint8)
    return _core.sprintz_compress(raw, code, shape[0], nvars, ndim, order, _FORECASTERS.index(forecaster),
                                  bool(entropy), _chunk_rows(nvars, arr.itemsize))


def _as_bytes_array(buf: Any) -> np.ndarray:
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise TypeError(f"buf must be bytes-like or a 1-D uint8 array, got {buf.dtype} array of shape {buf.shape}")
        return np.ascontiguousarray(buf)
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return np.frombuffer(buf, dtype=np.uint8)
    raise TypeError(f"buf must be bytes, bytearray, memoryview or a uint8 array, got {type(buf).__name__}")


def info(buf: Any) -> dict[str, Any]:
    """The header of a compressed stream: dtype, shape, order, forecaster, entropy flag.

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> sprintz.info(sprintz.compress(np.zeros((5, 3), np.int16)))["shape"]
    (5, 3)
    """
    h = _core.sprintz_header(_as_bytes_array(buf))
    shape = (h["n"],) if h["ndim"] == 1 else (h["n"], h["nvars"])
    return {"dtype": _DTYPES[h["dtype"]], "shape": shape, "order": "CF"[h["order"]],
            "forecaster": _FORECASTERS[h["forecaster"]], "entropy": bool(h["entropy"]),
            "chunk_rows": h["chunk_rows"], "checksum": h["checksum"], "version": h["version"]}


_NO_LIMIT = (1 << 64) - 1


def decompress(buf: Any, out: np.ndarray | None = None, max_output_bytes: int | None = None) -> np.ndarray:
    """Decode a stream from :func:`compress`; returns the original array bit for bit.

    ``out``, if given, must be a writeable array of the stream's dtype and shape in its memory
    order (see :func:`info`); it is filled and returned (no allocation). ``max_output_bytes``,
    if given, refuses (ValueError) a stream that declares a larger array before anything is
    allocated: set it (or pass ``out``) when the stream comes from outside, since a few
    kilobytes of all-zero runs can legitimately declare gigabytes.

    Raises ValueError for anything that is not an intact stream (truncation, corruption,
    unknown version): every length is checked against the buffer and, before any output is
    written, the checksum of the compressed bytes (streams written before format version 3
    have their checksum, of the decoded data, checked after decoding).

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> sprintz.decompress(sprintz.compress(np.array([1, 2, 3], np.int8)))
    array([1, 2, 3], dtype=int8)
    >>> sprintz.decompress(sprintz.compress(np.zeros(10**6, np.int16)), max_output_bytes=10**6)
    Traceback (most recent call last):
    ...
    ValueError: the stream declares 2000000 bytes of output, more than max_output_bytes=1000000
    """
    limit = _NO_LIMIT if max_output_bytes is None else check_int(max_output_bytes, "max_output_bytes", minimum=0)
    if out is None:
        # one native call parses the header, checks it against the limit and the checksum,
        # allocates the array and decodes (small streams are dominated by fixed costs)
        if type(buf) is bytes:
            return _core.sprintz_decompress_bytes(buf, limit)
        return _core.sprintz_decompress(_as_bytes_array(buf), limit)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if max_output_bytes is not None and out.nbytes > limit:
        raise ValueError(f"out has {out.nbytes} bytes, more than max_output_bytes={limit}")
    data: bytes | np.ndarray = buf if type(buf) is bytes else _as_bytes_array(buf)
    if out.flags.writeable:  # the native call checks dtype, shape and contiguity against the header
        try:
            if (_core.sprintz_decompress_out_bytes(data, out) if isinstance(data, bytes)
                    else _core.sprintz_decompress_out(data, out)):
                return out
        except TypeError:  # an array the native layer cannot take (e.g. non-native byte order)
            pass
    meta = info(data)
    raise ValueError(f"out must be a writeable {meta['order']}-contiguous {meta['dtype']} array of shape "
                     f"{meta['shape']}, got {out.dtype} {out.shape}")


def _decode_into(buf: Any, dest: np.ndarray, name: str) -> None:
    """Decode ``buf`` into the 1-D contiguous array ``dest`` (the codecs' decode): the stream's
    dtype and item count must equal ``dest``'s, checked on the header before anything is decoded;
    the items land in the stream's memory order (the byte order of the buffer that was encoded)."""
    meta = info(buf)
    shape = meta["shape"]
    count = shape[0] * (shape[1] if len(shape) == 2 else 1)
    if meta["dtype"] != dest.dtype or count != dest.size:
        raise ValueError(f"{name}: the Sprintz stream holds {count} {meta['dtype']} items (shape {shape}), but "
                         f"the destination holds {dest.size} {dest.dtype} items: wrong codec configuration or a "
                         f"corrupt chunk")
    view = dest.reshape(shape) if meta["order"] == "C" else dest.reshape(shape[::-1]).T
    decompress(buf, out=view)


def quantize(x: Any, bits: int = 16) -> tuple[np.ndarray, float, float]:
    """Lossy helper for float data: map x linearly onto uint8/uint16 (``bits`` = 8 or 16).

    Returns ``(q, scale, offset)`` with ``x ~= q * scale + offset`` (max error scale / 2).

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> x = np.linspace(-1, 1, 101)
    >>> q, scale, offset = sprintz.quantize(x, bits=16)
    >>> bool(np.abs(sprintz.dequantize(q, scale, offset) - x).max() <= scale / 2 + 1e-12)
    True
    """
    bits = check_int(bits, "bits")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"x must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError("x contains NaN or infinite values")
    lo = float(arr.min()) if arr.size else 0.0
    hi = float(arr.max()) if arr.size else 0.0
    levels = (1 << bits) - 1
    if not np.isfinite(hi - lo):
        raise ValueError(f"x spans [{lo!r}, {hi!r}], a range wider than float64 can hold (max - min overflows): "
                         f"scale x down or quantize its parts separately")
    # a range of a few subnormals would give scale 0: use the smallest positive double instead
    scale = max((hi - lo) / levels, float(np.finfo(np.float64).smallest_subnormal)) if hi > lo else 1.0
    q = np.rint((arr - lo) / scale).clip(0, levels).astype(np.uint8 if bits == 8 else np.uint16)
    return q, scale, lo


def dequantize(q: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """Inverse of :func:`quantize` (float64).

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> sprintz.dequantize(np.array([0, 2], np.uint8), 0.5, -1.0)
    array([-1.,  0.])
    """
    for value, name in ((scale, "scale"), (offset, "offset")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    return np.asarray(q, dtype=np.float64) * scale + offset


# ---------------------------------------------------------------------------- files
_FILE_MAGIC = b"TFSF"
_FILE_VERSION = 1
_FRAME_BYTES = 1 << 24  # raw bytes per frame written: memory stays bounded by a few frames
_MAX_FRAME_BYTES = 1 << 26  # raw bytes per frame accepted when reading (16-row frames always are)
_CHUNK_LIMIT = 1 << 20  # raw bytes per chunk inside a stream (kMaxChunkBytes of sprintz.cpp)
_STREAM_HEADER, _CHUNK_HEADER, _FRAME_LENGTH = 40, 12, 8  # fixed byte counts of the two formats


def _check_path(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(path).__name__}")
    return os.fspath(path)


def compress_file(src: Any, dst: Any, forecaster: str = "fire", entropy: bool = True,
                  progress: bool | None = None) -> dict[str, Any]:
    """Compress a ``.npy`` file to ``dst`` frame by frame (memory stays bounded for any size).

    The file holds a small header (dtype, shape, order) then independent Sprintz frames of
    about 16 MiB of raw data each. Returns ``{"raw_bytes", "compressed_bytes", "ratio"}``.
    ``dst`` is written to a temporary file beside it and renamed into place only when complete:
    on any error an existing ``dst`` is left as it was. ``dst`` naming the same file as ``src``
    (also through a link) is a ValueError.

    >>> import numpy as np, os, tempfile
    >>> from tenfold import sprintz
    >>> d = tempfile.mkdtemp()
    >>> x = np.cumsum(np.ones((1000, 3), np.int16), axis=0, dtype=np.int16)
    >>> np.save(os.path.join(d, "x.npy"), x)
    >>> stats = sprintz.compress_file(os.path.join(d, "x.npy"), os.path.join(d, "x.tfsz"))
    >>> _ = sprintz.decompress_file(os.path.join(d, "x.tfsz"), os.path.join(d, "y.npy"))
    >>> np.array_equal(np.load(os.path.join(d, "y.npy")), x)
    True
    """
    import json

    from ._atomic import atomic_output, check_distinct
    from ._progress import progress as _progress

    src, dst = _check_path(src, "src"), _check_path(dst, "dst")
    check_choice(forecaster, "forecaster", _FORECASTERS)
    if not isinstance(entropy, (bool, np.bool_)):
        raise TypeError(f"entropy must be a bool, got {type(entropy).__name__}")
    check_distinct(src, dst)
    try:
        with open(src, "rb") as f:   # np.load would also open .npz archives and guess at other files
            if f.read(6) != b"\x93NUMPY":
                raise ValueError(f"src {src!r} is not a .npy file (it does not start with numpy's header)")
        x = np.load(src, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"src must be a readable .npy file: {exc}") from exc
    _dtype_code(x, "src")
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError(f"src must hold an array of shape (n,) or (n, nvars), got shape {x.shape}")
    n = x.shape[0]
    nvars = 1 if x.ndim == 1 else x.shape[1]
    order = "F" if (x.ndim == 2 and x.flags.f_contiguous and not x.flags.c_contiguous) else "C"
    frame_rows = max(16, _FRAME_BYTES // (nvars * x.dtype.itemsize) // 16 * 16)
    header = json.dumps({"dtype": np.dtype(x.dtype).newbyteorder("=").str if x.dtype.byteorder != "|" else x.dtype.str,
                         "shape": list(x.shape), "order": order, "frame_rows": frame_rows}).encode()
    nframes = (n + frame_rows - 1) // frame_rows
    with atomic_output(dst) as tmp, open(tmp, "wb") as f:
        f.write(_FILE_MAGIC + bytes([_FILE_VERSION, 0, 0, 0]) + len(header).to_bytes(4, "little") + header)
        for i in _progress(range(nframes), nframes, "sprintz compress", enabled=progress):
            part = np.ascontiguousarray(x[i * frame_rows:(i + 1) * frame_rows])
            buf = compress(part, forecaster=forecaster, entropy=entropy)
            f.write(len(buf).to_bytes(_FRAME_LENGTH, "little"))
            f.write(buf)
        total = f.tell()
    raw = int(x.nbytes)
    return {"raw_bytes": raw, "compressed_bytes": total, "ratio": raw / total if total else 0.0}


def _min_stream_bytes(rows: int, row_bytes: int) -> int:
    """The fewest bytes a Sprintz stream of ``rows`` rows can take: its header plus one chunk
    header per chunk, a chunk holding at most 1 MiB of raw rows (or 16 rows)."""
    chunk_rows = max(16, _CHUNK_LIMIT // row_bytes // 16 * 16)
    return _STREAM_HEADER + _CHUNK_HEADER * (-(-rows // chunk_rows))


def _read_file_header(f: Any, size: int) -> tuple[np.dtype[Any], tuple[int, ...], str, int]:
    """Parse and bound a .tfsz header: every field is checked, and the declared shape must fit
    in the file (each frame takes at least its length field and a minimal stream), so a short
    file cannot declare an output larger than the format can expand it to."""
    import json

    head = f.read(12)
    if len(head) < 12 or head[:4] != _FILE_MAGIC:
        raise ValueError("not a tenfold Sprintz file (bad magic)")
    if head[4] != _FILE_VERSION:
        raise ValueError(f"unsupported Sprintz file version {head[4]} (this build reads version {_FILE_VERSION})")
    if head[5:8] != bytes(3):
        raise ValueError("corrupt Sprintz file header: reserved bytes are not zero")
    hlen = int.from_bytes(head[8:12], "little")
    if hlen > min(size - 12, 1 << 16):
        raise ValueError("corrupt Sprintz file: header length exceeds the file")
    try:
        meta = json.loads(f.read(hlen).decode())
        if not isinstance(meta, dict) or set(meta) != {"dtype", "shape", "order", "frame_rows"}:
            raise ValueError("expected exactly the keys dtype, shape, order, frame_rows")
        if not isinstance(meta["dtype"], str) or not isinstance(meta["shape"], list) or not all(
                type(v) is int for v in meta["shape"] + [meta["frame_rows"]]):
            raise ValueError("dtype must be a string, shape a list of ints and frame_rows an int")
        dtype = np.dtype(meta["dtype"])
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt Sprintz file header: {exc}") from exc
    shape, order, frame_rows = tuple(meta["shape"]), meta["order"], meta["frame_rows"]
    if dtype not in _DTYPES or dtype.byteorder not in ("=", "|"):
        raise ValueError(f"corrupt Sprintz file header: unsupported dtype {meta['dtype']!r}")
    if len(shape) not in (1, 2) or min(shape) < 0 or (len(shape) == 2 and shape[1] == 0) or order not in ("C", "F"):
        raise ValueError(f"corrupt Sprintz file header: invalid shape {shape} or order {order!r}")
    row_bytes = dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
    if frame_rows < 16 or frame_rows % 16 or frame_rows * row_bytes > max(_MAX_FRAME_BYTES, 16 * row_bytes):
        raise ValueError(f"corrupt Sprintz file header: invalid frame_rows {frame_rows}")
    n = shape[0]
    nframes = -(-n // frame_rows)
    need = 12 + hlen
    if nframes:
        last = n - (nframes - 1) * frame_rows
        need += (nframes - 1) * (_FRAME_LENGTH + _min_stream_bytes(frame_rows, row_bytes))
        need += _FRAME_LENGTH + _min_stream_bytes(last, row_bytes)
    if need > size:
        raise ValueError(f"corrupt Sprintz file: {size} bytes cannot hold the declared shape {shape} "
                         f"(at least {need} bytes needed)")
    return dtype, shape, order, frame_rows


def decompress_file(src: Any, dst: Any, progress: bool | None = None) -> tuple[int, ...]:
    """Decode a file from :func:`compress_file` into the ``.npy`` file ``dst``; returns its shape.

    Frames are decoded one at a time and written out (C order) or into a memory map of the
    output (F order), so memory stays bounded by a frame (16 MiB of raw data).
    ``dst`` is written to a temporary file beside it and renamed into place only once every
    frame has decoded and checked: a corrupt or truncated file raises ValueError and leaves an
    existing ``dst`` as it was, with no partial file. ``dst`` naming the same file as ``src``
    (also through a link) is a ValueError.

    >>> import numpy as np, os, tempfile
    >>> from tenfold import sprintz
    >>> d = tempfile.mkdtemp()
    >>> np.save(os.path.join(d, "x.npy"), np.arange(100, dtype=np.uint8))
    >>> _ = sprintz.compress_file(os.path.join(d, "x.npy"), os.path.join(d, "x.tfsz"))
    >>> sprintz.decompress_file(os.path.join(d, "x.tfsz"), os.path.join(d, "y.npy"))
    (100,)
    """
    from ._atomic import atomic_output, check_distinct
    from ._progress import progress as _progress

    src, dst = _check_path(src, "src"), _check_path(dst, "dst")
    check_distinct(src, dst)
    try:
        f = open(src, "rb")
    except OSError as exc:
        raise ValueError(f"src must be a readable file: {exc}") from exc
    with f, atomic_output(dst) as tmp:
        size = os.fstat(f.fileno()).st_size
        dtype, shape, order, frame_rows = _read_file_header(f, size)
        n = shape[0]
        nframes = (n + frame_rows - 1) // frame_rows
        row_shape = tuple(shape[1:])
        row_bytes = dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
        # a frame's stream never exceeds its raw bytes much: raw chunks plus headers
        max_frame = _min_stream_bytes(frame_rows, row_bytes) + frame_rows * row_bytes
        # C order: frames are consecutive byte ranges of the output, written as they decode (memory:
        # one frame); F order: each frame's rows are scattered over the columns of a memory map
        out = None if order == "C" else np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape,
                                                                   fortran_order=True)
        try:
            with open(tmp, "wb") if out is None else contextlib.nullcontext() as g:
                if g is not None:  # open exactly when out is None (C order)
                    np.lib.format.write_array_header_1_0(g, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                             "fortran_order": False, "shape": shape})
                frame_buf = np.empty((min(frame_rows, n),) + row_shape, dtype)  # untouched until a frame decodes
                for i in _progress(range(nframes), nframes, "sprintz decompress", enabled=progress):
                    raw_len = f.read(_FRAME_LENGTH)
                    if len(raw_len) < _FRAME_LENGTH:
                        raise ValueError("corrupt Sprintz file: truncated frame length")
                    blen = int.from_bytes(raw_len, "little")
                    if blen > min(size - f.tell(), max_frame):
                        raise ValueError(f"corrupt Sprintz file: frame {i} is longer than the file or than a frame "
                                         f"can be ({blen} bytes)")
                    frame = f.read(blen)
                    rows = min(frame_rows, n - i * frame_rows)
                    meta = info(frame)
                    if (meta["dtype"] != dtype or meta["shape"] != (rows,) + row_shape
                            or (meta["order"] != "C" and rows > 1 and row_bytes > dtype.itemsize)):
                        raise ValueError(f"corrupt Sprintz file: frame {i} holds {meta['dtype']} {meta['shape']}, "
                                         f"not the declared {dtype} {(rows,) + row_shape}")
                    try:
                        decoded = decompress(frame, out=frame_buf[:rows])
                    except ValueError as exc:
                        raise ValueError(f"corrupt Sprintz file: frame {i}: {exc}") from None
                    if out is None:
                        assert g is not None
                        g.write(decoded.data)
                    else:
                        out[i * frame_rows:i * frame_rows + rows] = decoded
                if f.read(1):
                    raise ValueError("corrupt Sprintz file: trailing bytes after the last frame")
                if out is not None:
                    out.flush()
        finally:
            del out
    return shape


def __getattr__(name: str) -> Any:
    # SprintzCodec (numcodecs) and SprintzZarrCodec (zarr v3) load their optional dependency lazily
    if name in ("SprintzCodec", "SprintzZarrCodec"):
        from . import sprintz_codecs

        if not hasattr(sprintz_codecs, name):
            need = "numcodecs" if name == "SprintzCodec" else "zarr>=3"
            raise ImportError(f"tenfold.sprintz.{name} needs {need}: pip install {need.split('>')[0]}")
        return getattr(sprintz_codecs, name)
    raise AttributeError(f"module 'tenfold.sprintz' has no attribute {name!r}")
