"""Sprintz as a numcodecs codec (Zarr v2, ``SprintzCodec``) and a Zarr v3 serializer
(``SprintzZarrCodec``). Imported lazily: ``tenfold.sprintz.SprintzCodec`` needs numcodecs and
``tenfold.sprintz.SprintzZarrCodec`` needs zarr >= 3; numpy stays tenfold's only hard dependency.

Chunks of any dimensionality are compressed as a (rows, columns) matrix: the first axis is
time, all other axes are flattened into variables. Decoding checks the stream's header against
the chunk the array expects (dtype and item count; for Zarr v3 also the matrix shape) before
anything is allocated and decodes straight into the chunk, so a stream claiming a larger
array (a decompression bomb) or another dtype or shape is a ValueError.

>>> import numpy as np
>>> from tenfold.sprintz import SprintzCodec  # doctest: +SKIP
>>> codec = SprintzCodec(forecaster="delta")  # doctest: +SKIP
>>> x = np.arange(100, dtype=np.int16)  # doctest: +SKIP
>>> np.array_equal(np.frombuffer(codec.decode(codec.encode(x)), np.int16), x)  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import sprintz as _sz
from ._checks import check_choice

CODEC_ID = "tenfold.sprintz"


def _as_matrix(a: np.ndarray) -> np.ndarray:
    """``a`` as the (rows,) or (rows, columns) matrix a stream holds, keeping its memory order:
    a numcodecs codec maps bytes to bytes, and Zarr v2 reads an order="F" chunk's decoded bytes
    in Fortran order."""
    if a.ndim == 0:
        return a.reshape(1)
    if a.ndim > 2:
        if a.flags.f_contiguous and not a.flags.c_contiguous:
            return a.reshape(a.shape[0], -1, order="F")   # a Fortran-ordered view: same bytes
        return np.ascontiguousarray(a).reshape(a.shape[0], -1)
    return a


def _native_dtype(dtype: Any) -> np.dtype[Any]:
    """A numpy dtype from a numpy dtype or a zarr >= 3.1 ZDType."""
    to_native = getattr(dtype, "to_native_dtype", None)
    return np.dtype(to_native() if to_native is not None else dtype)


def _stream_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The (rows,) or (rows, columns) shape of the stream that encodes a chunk of ``shape``."""
    if len(shape) == 0:
        return (1,)
    if len(shape) == 1:
        return (int(shape[0]),)
    return (int(shape[0]), int(np.prod(shape[1:], dtype=np.int64)))


def _check_options(forecaster: Any, entropy: Any) -> tuple[str, bool]:
    check_choice(forecaster, "forecaster", ("delta", "fire"))
    if not isinstance(entropy, (bool, np.bool_)):
        raise TypeError(f"entropy must be a bool, got {type(entropy).__name__}")
    return forecaster, bool(entropy)


try:
    from numcodecs.abc import Codec as _NumcodecsCodec
    _HAVE_NUMCODECS = True
except ImportError:  # pragma: no cover - exercised only without numcodecs
    _HAVE_NUMCODECS = False

if _HAVE_NUMCODECS:

    class SprintzCodec(_NumcodecsCodec):  # type: ignore[misc]  # numcodecs ships no type information
        """numcodecs codec ``"tenfold.sprintz"`` for 8- to 64-bit integer and float32/float64 chunks (Zarr v2),
        in native byte order (a big-endian chunk is a TypeError: its bytes could not come back as they were).

        >>> import numpy as np, numcodecs
        >>> from tenfold.sprintz import SprintzCodec
        >>> codec = numcodecs.get_codec({"id": "tenfold.sprintz", "forecaster": "fire", "entropy": True})
        >>> x = np.arange(1000, dtype=np.uint16).reshape(100, 10)
        >>> np.array_equal(np.frombuffer(codec.decode(codec.encode(x)), np.uint16).reshape(100, 10), x)
        True
        """

        codec_id = CODEC_ID

        def __init__(self, forecaster: str = "fire", entropy: bool = True):
            self.forecaster, self.entropy = _check_options(forecaster, entropy)

        def encode(self, buf: Any) -> bytes:
            from numcodecs.compat import ensure_ndarray

            arr = ensure_ndarray(buf)
            if not arr.dtype.isnative:
                # a codec maps bytes to bytes, and a stream holds native-order values: decoded, a
                # big-endian chunk's bytes would come back swapped (Zarr v2 would read garbage)
                raise TypeError(f"SprintzCodec needs native byte order, got dtype {arr.dtype.str}: store the "
                                f"array as {arr.dtype.newbyteorder('=').str}")
            return _sz.compress(_as_matrix(arr), forecaster=self.forecaster, entropy=self.entropy)

        def decode(self, buf: Any, out: Any = None) -> Any:
            """Decode ``buf``; with ``out`` (an array of the chunk's dtype and size, or a byte
            buffer of its size) the stream is checked against ``out`` before anything is decoded
            and decoded straight into it, in the memory order of the encoded buffer."""
            from numcodecs.compat import ensure_contiguous_ndarray

            raw = ensure_contiguous_ndarray(buf).view(np.uint8).reshape(-1)
            if out is None:
                return _sz.decompress(raw)
            dest = ensure_contiguous_ndarray(out)
            if not dest.flags.writeable:
                raise ValueError("out must be writeable")
            if not isinstance(out, np.ndarray):  # a raw byte buffer: take the stream's dtype
                dt = _sz.info(raw)["dtype"]
                if dest.nbytes % dt.itemsize:
                    raise ValueError(f"out holds {dest.nbytes} bytes, not a whole number of {dt} items")
                dest = dest.view(dt)
            _sz._decode_into(raw, dest, "out")
            return out

        def __repr__(self) -> str:
            return f"SprintzCodec(forecaster={self.forecaster!r}, entropy={self.entropy})"

    from numcodecs.registry import register_codec as _register_numcodecs

    _register_numcodecs(SprintzCodec)


try:
    from zarr.abc.codec import ArrayBytesCodec as _ArrayBytesCodec
    _HAVE_ZARR3 = True
except ImportError:  # pragma: no cover - zarr < 3 or absent
    _HAVE_ZARR3 = False

if _HAVE_ZARR3:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class SprintzZarrCodec(_ArrayBytesCodec):
        """Zarr v3 array-to-bytes codec ``"tenfold.sprintz"`` (use as ``serializer=``).

        >>> import numpy as np, zarr, tempfile
        >>> from tenfold.sprintz import SprintzZarrCodec
        >>> z = zarr.create_array(tempfile.mkdtemp(), shape=(1000, 4), chunks=(256, 4), dtype="int16",
        ...                       serializer=SprintzZarrCodec(), compressors=None)
        >>> z[:] = np.arange(4000, dtype=np.int16).reshape(1000, 4)
        >>> int(z[999, 3])
        3999
        """

        is_fixed_size = False
        forecaster: str = "fire"
        entropy: bool = True

        def __init__(self, *, forecaster: str = "fire", entropy: bool = True) -> None:
            f, e = _check_options(forecaster, entropy)
            object.__setattr__(self, "forecaster", f)
            object.__setattr__(self, "entropy", e)

        @classmethod
        def from_dict(cls, data: dict[str, Any]) -> "SprintzZarrCodec":
            from zarr.core.common import parse_named_configuration

            _, config = parse_named_configuration(data, CODEC_ID, require_configuration=False)
            options: dict[str, Any] = dict(config or {})  # unknown keys: TypeError from __init__
            return cls(**options)

        def to_dict(self) -> dict[str, Any]:
            return {"name": CODEC_ID, "configuration": {"forecaster": self.forecaster, "entropy": self.entropy}}

        def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
            """Refuse, at ``create_array``, an array dtype Sprintz cannot hold."""
            _sz._dtype_code(_native_dtype(dtype), "the array")

        async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            raw = chunk_bytes.as_numpy_array().view(np.uint8).reshape(-1)
            dtype, shape = _native_dtype(chunk_spec.dtype), tuple(chunk_spec.shape)
            meta = _sz.info(raw)
            want = _stream_shape(shape)
            transposed = meta["order"] == "F" and len(want) == 2 and min(want) > 1  # the encoder writes C order
            if meta["dtype"] != dtype or meta["shape"] != want or transposed:
                raise ValueError(f"Sprintz chunk holds {meta['dtype']} of shape {meta['shape']} ({meta['order']} order), but the array's "
                                 f"chunk is {dtype} of shape {shape} (stream shape {want}): corrupt chunk or "
                                 f"wrong codec")
            out = np.empty(shape, dtype)
            _sz._decode_into(raw, out.reshape(-1), "chunk")
            return chunk_spec.prototype.nd_buffer.from_numpy_array(out)

        async def _encode_single(self, chunk_array: Any, chunk_spec: Any) -> Any:
            arr = np.ascontiguousarray(chunk_array.as_numpy_array())
            buf = _sz.compress(_as_matrix(arr), forecaster=self.forecaster, entropy=self.entropy)
            return chunk_spec.prototype.buffer.from_bytes(buf)

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
            raise NotImplementedError("Sprintz output size depends on the data")

    from zarr.registry import register_codec as _register_zarr

    _register_zarr(CODEC_ID, SprintzZarrCodec)
