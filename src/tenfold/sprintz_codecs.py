"""Sprintz as a numcodecs codec (Zarr v2, ``SprintzCodec``) and a Zarr v3 serializer
(``SprintzZarrCodec``). Imported lazily: ``tenfold.sprintz.SprintzCodec`` needs numcodecs and
``tenfold.sprintz.SprintzZarrCodec`` needs zarr >= 3; numpy stays tenfold's only hard dependency.

Chunks of any dimensionality are compressed as a (rows, columns) matrix: the first axis is
time, all other axes are flattened into variables.

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
    if a.ndim == 0:
        return a.reshape(1)
    if a.ndim > 2:
        return np.ascontiguousarray(a).reshape(a.shape[0], -1)
    return a


def _check_options(forecaster: Any, entropy: Any) -> tuple[str, bool]:
    check_choice(forecaster, "forecaster", ("delta", "fire"))
    if not isinstance(entropy, (bool, np.bool_)):
        raise TypeError(f"entropy must be a bool, got {type(entropy).__name__}")
    return forecaster, bool(entropy)


try:
    from numcodecs.abc import Codec as _NumcodecsCodec
except ImportError:  # pragma: no cover - exercised only without numcodecs
    _NumcodecsCodec = None

if _NumcodecsCodec is not None:

    class SprintzCodec(_NumcodecsCodec):
        """numcodecs codec ``"tenfold.sprintz"`` for int8/uint8/int16/uint16 chunks (Zarr v2).

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
            return _sz.compress(_as_matrix(arr), forecaster=self.forecaster, entropy=self.entropy)

        def decode(self, buf: Any, out: Any = None) -> Any:
            from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy

            raw = ensure_contiguous_ndarray(buf).view(np.uint8).reshape(-1)
            arr = _sz.decompress(raw)
            if out is not None:
                return ndarray_copy(np.ascontiguousarray(arr).reshape(-1), out)
            return arr

        def __repr__(self) -> str:
            return f"SprintzCodec(forecaster={self.forecaster!r}, entropy={self.entropy})"

    from numcodecs.registry import register_codec as _register_numcodecs

    _register_numcodecs(SprintzCodec)


try:
    from zarr.abc.codec import ArrayBytesCodec as _ArrayBytesCodec
except ImportError:  # pragma: no cover - zarr < 3 or absent
    _ArrayBytesCodec = None

if _ArrayBytesCodec is not None:
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
        def from_dict(cls, data: dict) -> "SprintzZarrCodec":
            from zarr.core.common import parse_named_configuration

            _, config = parse_named_configuration(data, CODEC_ID, require_configuration=False)
            return cls(**(config or {}))

        def to_dict(self) -> dict:
            return {"name": CODEC_ID, "configuration": {"forecaster": self.forecaster, "entropy": self.entropy}}

        async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            arr = _sz.decompress(chunk_bytes.as_numpy_array().view(np.uint8).reshape(-1))
            arr = np.ascontiguousarray(arr).reshape(chunk_spec.shape)
            return chunk_spec.prototype.nd_buffer.from_numpy_array(arr)

        async def _encode_single(self, chunk_array: Any, chunk_spec: Any) -> Any:
            arr = np.ascontiguousarray(chunk_array.as_numpy_array())
            buf = _sz.compress(_as_matrix(arr), forecaster=self.forecaster, entropy=self.entropy)
            return chunk_spec.prototype.buffer.from_bytes(buf)

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
            raise NotImplementedError("Sprintz output size depends on the data")

    from zarr.registry import register_codec as _register_zarr

    _register_zarr(CODEC_ID, SprintzZarrCodec)
