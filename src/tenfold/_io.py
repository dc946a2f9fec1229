"""Persistence without pickle.

File layout (little-endian):
  8 bytes   magic b"TENFOLD\\0"
  4 bytes   format version (uint32)
  4 bytes   header length H (uint32)
  H bytes   JSON header: {"type", "meta", "arrays": [{"name", "dtype", "shape", "offset",
            "nbytes", "crc32"}]}; offsets are from the start of the file, 64-byte aligned
  ...       raw C-ordered array data
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from ._atomic import atomic_output

MAGIC = b"TENFOLD\x00"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_ALIGN = 64
_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64", "float32", "float64"}

PathLike = Union[str, "os.PathLike[str]"]

# type name -> constructor from (meta, arrays); filled by the modules that define the types.
_LOADERS: dict[str, Callable[[dict, dict], Any]] = {}


def register(type_name: str, loader: Callable[[dict, dict], Any]) -> None:
    _LOADERS[type_name] = loader


def save(path: PathLike, type_name: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write an object atomically (a temporary file renamed into place)."""
    entries, blobs = [], []
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.name not in _DTYPES:
            raise TypeError(f"cannot save array {name!r} of dtype {arr.dtype}")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        entries.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape),
                        "nbytes": int(arr.nbytes), "crc32": zlib.crc32(arr.data) & 0xFFFFFFFF})
        blobs.append(arr)
    # Offsets depend on the header length, which depends on the offsets: iterate to a fixpoint.
    offsets = [0] * len(entries)
    while True:
        for e, off in zip(entries, offsets):
            e["offset"] = off
        header = json.dumps({"type": type_name, "meta": meta, "arrays": entries}).encode()
        pos = _PREFIX.size + len(header)
        new_offsets = []
        for e in entries:
            pos = (pos + _ALIGN - 1) // _ALIGN * _ALIGN
            new_offsets.append(pos)
            pos += e["nbytes"]
        if new_offsets == offsets:
            break
        offsets = new_offsets
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
        f.write(header)
        for e, arr in zip(entries, blobs):
            f.write(b"\0" * (e["offset"] - f.tell()))
            f.write(arr.data)


def read(path: PathLike, mmap: bool = False) -> tuple[str, dict, dict[str, np.ndarray]]:
    """Read and verify a file written by :func:`save`; ValueError names what is wrong.

    With mmap=True, arrays of 1 MiB or more are read-only memory maps of the file; their
    checksums are not verified (that would read them whole), everything else is.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a file")
    size = path.stat().st_size
    if mmap:
        with open(path, "rb") as f:
            head = f.read(_PREFIX.size)
            hlen = _PREFIX.unpack_from(head)[2] if len(head) == _PREFIX.size else 0
            data = head + f.read(min(hlen, max(size - _PREFIX.size, 0)))
        file_map = np.memmap(path, dtype=np.uint8, mode="r") if size else None
    else:
        data = path.read_bytes()
    where = f"{str(path)!r}"
    if size < _PREFIX.size:
        raise ValueError(f"{where} is not a tenfold file: only {size} bytes")
    magic, version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"{where} is not a tenfold file (bad magic {magic!r})")
    if version != FORMAT_VERSION:
        raise ValueError(f"{where} has format version {version}; this tenfold reads version {FORMAT_VERSION}")
    if _PREFIX.size + hlen > size:
        raise ValueError(f"{where} is truncated: header of {hlen} bytes does not fit in {size} bytes")
    try:
        header = json.loads(data[_PREFIX.size:_PREFIX.size + hlen].decode())
        type_name, meta, entries = header["type"], header["meta"], header["arrays"]
        if not isinstance(type_name, str) or not isinstance(meta, dict) or not isinstance(entries, list):
            raise TypeError
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{where} has a corrupt header") from err
    arrays = {}
    for e in entries:
        try:
            name, dtype, shape = str(e["name"]), str(e["dtype"]), tuple(int(s) for s in e["shape"])
            off, nbytes, crc = int(e["offset"]), int(e["nbytes"]), int(e["crc32"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where} has a corrupt array entry") from err
        if dtype not in _DTYPES or any(s < 0 for s in shape):
            raise ValueError(f"{where}: array {name!r} has an invalid dtype or shape")
        if int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize != nbytes:
            raise ValueError(f"{where}: array {name!r} size does not match its shape")
        if off < _PREFIX.size + hlen or off + nbytes > size:
            raise ValueError(f"{where} is truncated or corrupt: array {name!r} lies outside the file")
        dt = np.dtype(dtype).newbyteorder("<")
        if mmap and nbytes >= 1 << 20:
            arrays[name] = file_map[off:off + nbytes].view(dt).reshape(shape)
            continue
        blob = memoryview(file_map[off:off + nbytes]) if mmap else memoryview(data)[off:off + nbytes]
        if zlib.crc32(blob) & 0xFFFFFFFF != crc:
            raise ValueError(f"{where} is corrupt: checksum of array {name!r} does not match")
        arrays[name] = np.frombuffer(blob, dtype=dt).reshape(shape).copy()
    return type_name, meta, arrays


def load(path: PathLike, *, mmap: bool = False) -> Any:
    """Load any object saved with ``.save(path)``; never unpickles.

    ``mmap=True`` maps large arrays (e.g. a BoltIndex's codes) from the file instead of reading
    them, so an index larger than memory can be searched; adding to it copies the codes.

    >>> import tenfold, numpy as np, tempfile, os
    >>> enc = tenfold.BoltEncoder(ncodebooks=4).fit(np.random.default_rng(0).normal(size=(200, 8)))
    >>> path = os.path.join(tempfile.mkdtemp(), "enc.tfz")
    >>> enc.save(path)
    >>> tenfold.load(path).ncodebooks
    4
    """
    type_name, meta, arrays = read(path, mmap=mmap)
    loader = _LOADERS.get(type_name)
    if loader is None:
        raise ValueError(f"{str(path)!r} holds an object of unknown type {type_name!r}")
    try:
        return loader(meta, arrays)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{str(path)!r} is missing fields for a {type_name}: {err}") from err
