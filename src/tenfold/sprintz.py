"""Sprintz: lossless compression of 8/16-bit integer time series (Blalock et al., IMWUT 2018).

Each variable (column) is predicted from its past (``"delta"``: the previous sample; ``"fire"``:
the previous sample plus a learned multiple of the previous change), the prediction errors are
zigzag-encoded and bit-packed in blocks of 8 samples with one bit width per block, runs of
all-zero blocks collapse to a count, and an optional Huffman stage codes large chunks of the
packed bytes when that pays. The stream is self-describing (dtype, shape, memory order,
options) and carries a checksum of the decoded data; corrupt or hostile input raises
``ValueError``.

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

import os
from typing import Any

import numpy as np

from . import _core
from ._checks import check_choice, check_int

__all__ = ["compress", "decompress", "quantize", "dequantize", "info", "compress_file", "decompress_file"]

_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.uint16))
_FORECASTERS = ("delta", "fire")
_CHUNK_BYTES = 1 << 18  # target raw bytes per chunk (forecaster state and Huffman tables reset)


def _dtype_code(x: np.ndarray, name: str) -> int:
    dt = x.dtype
    if dt.kind in "fc":
        raise TypeError(
            f"{name} has dtype {dt}: Sprintz is lossless for integers only. Quantize floats first, e.g. "
            f"q, scale, offset = tenfold.sprintz.quantize({name}, bits=16), then compress q"
        )
    native = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
    for code, ok in enumerate(_DTYPES):
        if native == ok:
            return code
    raise TypeError(f"{name} must have dtype int8, uint8, int16 or uint16, got {dt}")


def _chunk_rows(nvars: int, itemsize: int) -> int:
    return max(16, _CHUNK_BYTES // (nvars * itemsize) // 16 * 16)


def compress(x: Any, forecaster: str = "fire", entropy: bool = True) -> bytes:
    """Compress an int8/uint8/int16/uint16 array of shape (n,) or (n, nvars) losslessly.

    Rows are time steps and columns are variables. C- and Fortran-ordered arrays are both
    compressed without a copy, and :func:`decompress` returns the same memory order.

    Parameters
    ----------
    x : array of int8, uint8, int16 or uint16, shape (n,) or (n, nvars); n may be 0.
    forecaster : ``"fire"`` (learned autoregression on deltas, best on smooth signals; used
        per chunk only where it beats delta by >= 1%) or ``"delta"`` (previous sample; fastest
        to decode). With either, a single variable whose chunk is periodic (e.g. appliance
        cycles) is coded as lag-L deltas (L <= 16, chosen per chunk) where that is >= 2% smaller.
    entropy : add the Huffman stage where it makes a chunk at least 5% smaller (it costs about
        as much decode time as the rest of the decoder).

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> x = np.arange(64, dtype=np.uint8).reshape(32, 2)
    >>> np.array_equal(sprintz.decompress(sprintz.compress(x, forecaster="delta")), x)
    True
    """
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    code = _dtype_code(arr, "x")
    check_choice(forecaster, "forecaster", _FORECASTERS)
    if not isinstance(entropy, (bool, np.bool_)):
        raise TypeError(f"entropy must be a bool, got {type(entropy).__name__}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"x must have shape (n,) or (n, nvars), got shape {arr.shape}")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"x must have at least one column, got shape {arr.shape}")
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.flags.c_contiguous:
        order = 0
    elif arr.flags.f_contiguous:
        order = 1
    else:
        arr, order = np.ascontiguousarray(arr), 0
    n = arr.shape[0]
    nvars = 1 if arr.ndim == 1 else arr.shape[1]
    raw = arr.ravel(order="F" if order else "C").view(np.uint8)
    return _core.sprintz_compress(raw, code, n, nvars, arr.ndim, order, _FORECASTERS.index(forecaster),
                                  bool(entropy), _chunk_rows(nvars, arr.dtype.itemsize))


def _as_bytes_array(buf: Any) -> np.ndarray:
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise TypeError(f"buf must be bytes-like or a 1-D uint8 array, got {buf.dtype} array of shape {buf.shape}")
        return np.ascontiguousarray(buf)
    if isinstance(buf, (bytes, bytearray, memoryview)):
        return np.frombuffer(buf, dtype=np.uint8)
    raise TypeError(f"buf must be bytes, bytearray, memoryview or a uint8 array, got {type(buf).__name__}")


def info(buf: Any) -> dict:
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
            "chunk_rows": h["chunk_rows"], "checksum": h["checksum"]}


def decompress(buf: Any, out: np.ndarray | None = None) -> np.ndarray:
    """Decode a stream from :func:`compress`; returns the original array bit for bit.

    ``out``, if given, must be a writeable array of the stream's dtype and shape in its memory
    order (see :func:`info`); it is filled and returned (no allocation).

    Raises ValueError for anything that is not an intact stream (truncation, corruption,
    unknown version), after checking every length against the buffer and the checksum.

    >>> import numpy as np
    >>> from tenfold import sprintz
    >>> sprintz.decompress(sprintz.compress(np.array([1, 2, 3], np.int8)))
    array([1, 2, 3], dtype=int8)
    """
    if out is None:
        # one native call parses the header, allocates the array and decodes (small streams are
        # dominated by fixed costs); a header declaring more than can be allocated is a ValueError
        if type(buf) is bytes:
            return _core.sprintz_decompress_bytes(buf)
        return _core.sprintz_decompress(_as_bytes_array(buf))
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if type(buf) is bytes:
        data, native = buf, _core.sprintz_decompress_out_bytes
    else:
        data, native = _as_bytes_array(buf), _core.sprintz_decompress_out
    if out.flags.writeable:  # the native call checks dtype, shape and contiguity against the header
        try:
            if native(data, out):
                return out
        except TypeError:  # an array the native layer cannot take (e.g. non-native byte order)
            pass
    meta = info(data)
    raise ValueError(f"out must be a writeable {meta['order']}-contiguous {meta['dtype']} array of shape "
                     f"{meta['shape']}, got {out.dtype} {out.shape}")


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
    scale = (hi - lo) / levels if hi > lo else 1.0
    q = np.rint((arr - lo) / scale).clip(0, levels).astype(np.uint8 if bits == 8 else np.uint16)
    return q, scale, lo


def dequantize(q: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """Inverse of :func:`quantize` (float64)."""
    return np.asarray(q, dtype=np.float64) * scale + offset


# ---------------------------------------------------------------------------- files
_FILE_MAGIC = b"TFSF"
_FILE_VERSION = 1
_FRAME_BYTES = 1 << 24  # raw bytes per frame: memory stays bounded by a few frames


def _check_path(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(path).__name__}")
    return os.fspath(path)


def compress_file(src: Any, dst: Any, forecaster: str = "fire", entropy: bool = True,
                  progress: bool | None = None) -> dict:
    """Compress a ``.npy`` file to ``dst`` frame by frame (memory stays bounded for any size).

    The file holds a small header (dtype, shape, order) then independent Sprintz frames of
    about 16 MiB of raw data each. Returns ``{"raw_bytes", "compressed_bytes", "ratio"}``.

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

    from ._progress import progress as _progress

    src, dst = _check_path(src, "src"), _check_path(dst, "dst")
    check_choice(forecaster, "forecaster", _FORECASTERS)
    try:
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
    total = 0
    with open(dst, "wb") as f:
        f.write(_FILE_MAGIC + bytes([_FILE_VERSION, 0, 0, 0]) + len(header).to_bytes(4, "little") + header)
        for i in _progress(range(nframes), nframes, "sprintz compress", enabled=progress):
            part = np.ascontiguousarray(x[i * frame_rows:(i + 1) * frame_rows])
            buf = compress(part, forecaster=forecaster, entropy=entropy)
            f.write(len(buf).to_bytes(8, "little"))
            f.write(buf)
        total = f.tell()
    raw = int(x.nbytes)
    return {"raw_bytes": raw, "compressed_bytes": total, "ratio": raw / total if total else 0.0}


def _read_file_header(f: Any, size: int) -> tuple[np.dtype, tuple, str, int]:
    import json

    head = f.read(12)
    if len(head) < 12 or head[:4] != _FILE_MAGIC:
        raise ValueError("not a tenfold Sprintz file (bad magic)")
    if head[4] != _FILE_VERSION:
        raise ValueError(f"unsupported Sprintz file version {head[4]} (this build reads version {_FILE_VERSION})")
    hlen = int.from_bytes(head[8:12], "little")
    if hlen > min(size - 12, 1 << 16):
        raise ValueError("corrupt Sprintz file: header length exceeds the file")
    try:
        meta = json.loads(f.read(hlen).decode())
        dtype = np.dtype(meta["dtype"])
        shape = tuple(int(s) for s in meta["shape"])
        order, frame_rows = meta["order"], int(meta["frame_rows"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt Sprintz file header: {exc}") from exc
    if (dtype not in _DTYPES or len(shape) not in (1, 2) or min(shape) < 0 or order not in ("C", "F")
            or frame_rows < 16 or frame_rows % 16 or (len(shape) == 2 and shape[1] == 0)):
        raise ValueError("corrupt Sprintz file header: invalid dtype, shape, order or frame size")
    nframes = (shape[0] + frame_rows - 1) // frame_rows
    if nframes * 48 > size:
        raise ValueError("corrupt Sprintz file: too short for its declared shape")
    return dtype, shape, order, frame_rows


def decompress_file(src: Any, dst: Any, progress: bool | None = None) -> tuple:
    """Decode a file from :func:`compress_file` into the ``.npy`` file ``dst``; returns its shape.

    Frames are decoded one at a time into a memory-mapped output, so memory stays bounded.
    Raises ValueError for a corrupt or truncated file (a partial ``dst`` is removed).
    """
    from ._progress import progress as _progress

    src, dst = _check_path(src, "src"), _check_path(dst, "dst")
    size = os.path.getsize(src)
    with open(src, "rb") as f:
        dtype, shape, order, frame_rows = _read_file_header(f, size)
        n = shape[0]
        nframes = (n + frame_rows - 1) // frame_rows
        out = np.lib.format.open_memmap(dst, mode="w+", dtype=dtype, shape=shape, fortran_order=order == "F")
        try:
            for i in _progress(range(nframes), nframes, "sprintz decompress", enabled=progress):
                raw_len = f.read(8)
                if len(raw_len) < 8:
                    raise ValueError("corrupt Sprintz file: truncated frame length")
                blen = int.from_bytes(raw_len, "little")
                if blen > size - f.tell():
                    raise ValueError("corrupt Sprintz file: frame longer than the file (truncated?)")
                frame = decompress(f.read(blen))
                rows = min(frame_rows, n - i * frame_rows)
                if frame.dtype != dtype or frame.shape != (rows,) + tuple(shape[1:]):
                    raise ValueError("corrupt Sprintz file: frame does not match the declared shape")
                out[i * frame_rows:i * frame_rows + rows] = frame
            if f.read(1):
                raise ValueError("corrupt Sprintz file: trailing bytes after the last frame")
            out.flush()
        except BaseException:
            del out
            os.remove(dst)
            raise
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
