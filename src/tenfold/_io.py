"""Persistence without pickle.

File layout (little-endian), format 2:
  8 bytes   magic b"TENFOLD\\0"
  4 bytes   format version (uint32)
  4 bytes   header length H (uint32)
  4 bytes   CRC-32 of the H header bytes (uint32)
  H bytes   JSON header: {"type", "meta", "arrays": [{"name", "dtype", "shape", "offset",
            "nbytes", "crc32"}]}
  ...       raw C-ordered array data, each array at the first 64-byte boundary after the
            previous one (after the header for the first), zero bytes between them; the file
            ends where the last array ends.

Format 1 (tenfold before the header checksum) is the same without the header CRC; it is still
read. Every byte of a file is checked: the header by its CRC (format 2), each array by its own,
the padding must be zeros and nothing may follow the last array. The loader of each type then
checks every field (:mod:`tenfold._validate`), so a file yields the saved object or ValueError.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from ._atomic import atomic_output

MAGIC = b"TENFOLD\x00"
FORMAT_VERSION = 2
_PREFIXES = {1: struct.Struct("<8sII"), 2: struct.Struct("<8sIII")}  # version -> fixed-size prefix
_ALIGN = 64
_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64", "float32", "float64"}
_MAX_NDIM = 32  # numpy's limit on array dimensions
_HEADER_KEYS = {"type", "meta", "arrays"}
_ENTRY_KEYS = {"name", "dtype", "shape", "offset", "nbytes", "crc32"}

PathLike = Union[str, "os.PathLike[str]"]

# type name -> constructor from (meta, arrays); filled by the modules that define the types.
_LOADERS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray]], Any]] = {}


def register(type_name: str, loader: Callable[[dict[str, Any], dict[str, np.ndarray]], Any]) -> None:
    _LOADERS[type_name] = loader


def _aligned(pos: int) -> int:
    return (pos + _ALIGN - 1) // _ALIGN * _ALIGN


def _layout(header_end: int, sizes: list[int]) -> list[int]:
    """Offsets of arrays of the given byte sizes: each at the first aligned position after the
    previous one (after the header for the first)."""
    offsets, pos = [], header_end
    for nbytes in sizes:
        pos = _aligned(pos)
        offsets.append(pos)
        pos += nbytes
    return offsets


def save(path: PathLike, type_name: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], *,
         verify: bool = True) -> None:
    """Write an object atomically (a temporary file renamed into place). With ``verify`` (the
    models' ``save``) the type's loader first checks what would be written; tests that write
    hostile files on purpose pass False."""
    prefix = _PREFIXES[FORMAT_VERSION]
    entries: list[dict[str, Any]] = []
    blobs: list[np.ndarray] = []
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.name not in _DTYPES:
            raise TypeError(f"cannot save array {name!r} of dtype {arr.dtype}")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        entries.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape),
                        "nbytes": int(arr.nbytes), "crc32": zlib.crc32(arr.data) & 0xFFFFFFFF})
        blobs.append(arr)
    if verify:
        _check_loadable(type_name, meta, {e["name"]: arr for e, arr in zip(entries, blobs)})
    # Offsets depend on the header length, which depends on the offsets: iterate to a fixpoint.
    offsets = [0] * len(entries)
    while True:
        for e, off in zip(entries, offsets):
            e["offset"] = off
        header = json.dumps({"type": type_name, "meta": meta, "arrays": entries}).encode()
        new_offsets = _layout(prefix.size + len(header), [e["nbytes"] for e in entries])
        if new_offsets == offsets:
            break
        offsets = new_offsets
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(prefix.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header) & 0xFFFFFFFF))
        f.write(header)
        for e, arr in zip(entries, blobs):
            f.write(b"\0" * (e["offset"] - f.tell()))
            f.write(arr.data)


def _check_loadable(type_name: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Run the loader of ``type_name`` on what is about to be written (read-only views, meta as
    JSON gives it back): a state its loader refuses, e.g. after ``set_params`` changed
    ``ncodebooks`` of a fitted model, is a ValueError before anything is written, not a file
    that can never be loaded."""
    loader = _LOADERS.get(type_name)
    if loader is None:
        return
    views = {}
    for name, arr in arrays.items():
        view = arr.view()
        view.flags.writeable = False
        views[name] = view
    try:
        loader(json.loads(json.dumps(meta)), views)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"cannot save this {type_name}: its state would not load back ({err}); "
                         "if parameters were changed with set_params after fitting, fit() again") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(raw: bytes, where: str) -> tuple[str, dict[str, Any], list[Any]]:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
        raise ValueError(f"{where} has a corrupt header: {err}") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise ValueError(f"{where} has a corrupt header: expected the keys {sorted(_HEADER_KEYS)}")
    type_name, meta, entries = header["type"], header["meta"], header["arrays"]
    if not isinstance(type_name, str) or not isinstance(meta, dict) or not isinstance(entries, list):
        raise ValueError(f"{where} has a corrupt header: type, meta or arrays of the wrong kind")
    return type_name, meta, entries


def _check_entry(e: Any, where: str, seen: set[str]) -> tuple[str, np.dtype[Any], tuple[int, ...], int, int, int]:
    if not isinstance(e, dict) or set(e) != _ENTRY_KEYS:
        raise ValueError(f"{where} has a corrupt array entry: expected the keys {sorted(_ENTRY_KEYS)}")
    name, dtype, shape = e["name"], e["dtype"], e["shape"]
    if not isinstance(name, str) or name in seen:
        raise ValueError(f"{where} has a corrupt array entry: name {name!r} not a string or repeated")
    seen.add(name)
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise ValueError(f"{where}: array {name!r} has an invalid dtype {dtype!r}")
    if not isinstance(shape, list) or len(shape) > _MAX_NDIM or not all(_is_int(s) and s >= 0 for s in shape):
        raise ValueError(f"{where}: array {name!r} has an invalid shape {shape!r}")
    off, nbytes, crc = e["offset"], e["nbytes"], e["crc32"]
    if not (_is_int(off) and _is_int(nbytes) and _is_int(crc) and 0 <= crc <= 0xFFFFFFFF):
        raise ValueError(f"{where}: array {name!r} has an invalid offset, size or checksum field")
    dt = np.dtype(dtype).newbyteorder("<")
    if math.prod(shape) * dt.itemsize != nbytes:
        raise ValueError(f"{where}: array {name!r} size does not match its shape")
    return name, dt, tuple(shape), off, nbytes, crc


def read(path: PathLike, mmap: bool = False) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a file written by :func:`save`; ValueError names what is wrong.

    With mmap=True, arrays of 1 MiB or more are read-only memory maps of the file; their
    checksums are not verified (that would read them whole), everything else is.
    """
    path = Path(path)
    where = f"{str(path)!r}"
    if not path.is_file():
        raise ValueError(f"{where} is not a file")
    size = path.stat().st_size
    longest = max(p.size for p in _PREFIXES.values())
    with open(path, "rb") as f:
        data = f.read(longest if mmap else -1)
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise ValueError(f"{where} is not a tenfold file (" + (f"bad magic {data[:8]!r})" if len(data) >= 8
                                                               else f"only {size} bytes)"))
    if len(data) < 12:
        raise ValueError(f"{where} is truncated: {size} bytes")
    version = int.from_bytes(data[8:12], "little")
    if version not in _PREFIXES:
        raise ValueError(f"{where} has format version {version}; this tenfold reads versions "
                         f"{sorted(_PREFIXES)}")
    prefix = _PREFIXES[version]
    if size < prefix.size:
        raise ValueError(f"{where} is truncated: {size} bytes")
    fields = prefix.unpack_from(data)
    hlen = fields[2]
    header_end = prefix.size + hlen
    if header_end > size:
        raise ValueError(f"{where} is truncated: header of {hlen} bytes does not fit in {size} bytes")
    if mmap:
        file_map = np.memmap(path, dtype=np.uint8, mode="r")
        raw_header = bytes(file_map[prefix.size:header_end])
    else:
        raw_header = data[prefix.size:header_end]
    if version >= 2 and zlib.crc32(raw_header) & 0xFFFFFFFF != fields[3]:
        raise ValueError(f"{where} is corrupt: checksum of the header does not match")
    type_name, meta, entries = _parse_header(raw_header, where)
    seen: set[str] = set()
    checked = [_check_entry(e, where, seen) for e in entries]
    offsets = _layout(header_end, [c[4] for c in checked])
    end = offsets[-1] + checked[-1][4] if checked else header_end
    if end != size:
        raise ValueError(f"{where} is {'truncated' if end > size else 'corrupt'}: the arrays end at byte {end}, "
                         f"the file at {size}" + (" (trailing bytes)" if end < size else ""))
    arrays: dict[str, np.ndarray] = {}
    pos = header_end
    for (name, dt, shape, off, nbytes, crc), expected in zip(checked, offsets):
        if off != expected:
            raise ValueError(f"{where} is corrupt: array {name!r} at offset {off}, expected {expected}")
        buf = file_map if mmap else data
        if any(buf[pos:off]):
            raise ValueError(f"{where} is corrupt: nonzero padding before array {name!r}")
        pos = off + nbytes
        if mmap and nbytes >= 1 << 20:
            arrays[name] = file_map[off:off + nbytes].view(dt).reshape(shape)
            continue
        blob = file_map[off:off + nbytes].data if mmap else memoryview(data)[off:off + nbytes]
        if zlib.crc32(blob) & 0xFFFFFFFF != crc:
            raise ValueError(f"{where} is corrupt: checksum of array {name!r} does not match")
        arrays[name] = np.frombuffer(blob, dtype=dt).reshape(shape).copy()
    return type_name, meta, arrays


def load(path: PathLike, *, mmap: bool = False) -> Any:
    """Load any object saved with ``.save(path)``; never unpickles.

    Returns the saved object or raises ValueError (unreadable, corrupt, truncated or
    inconsistent file, or one of an unknown type); every field is checked before use.
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
    except KeyError as err:
        raise ValueError(f"{str(path)!r} is missing the field {err} of a {type_name}") from err
    except TypeError as err:
        raise ValueError(f"{str(path)!r} is not a valid {type_name} file: {err}") from err
    except ValueError as err:
        raise ValueError(f"{str(path)!r}: {err}") from err
