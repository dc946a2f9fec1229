"""Writes that never lose a user's data.

Every file the package writes goes through :func:`atomic_output`: the bytes go to a temporary
file in the destination's folder, which is renamed over the destination only once it is complete.
On any error the destination is left exactly as it was and the temporary file is removed.
:func:`check_distinct` refuses a destination that is the source itself (also through links).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def check_distinct(src: PathLike, dst: PathLike, src_name: str = "src", dst_name: str = "dst") -> None:
    """ValueError if ``dst`` names the same file as ``src`` (same inode: links, symlinks, ``./x``)."""
    try:
        same = os.path.samefile(src, dst)
    except OSError:   # dst does not exist (or src does not: the caller's open reports that)
        return
    if same:
        raise ValueError(f"{dst_name} {os.fspath(dst)!r} is the same file as {src_name} "
                         f"{os.fspath(src)!r}; write to another path")


def _read_umask() -> int:
    mask = os.umask(0)   # the only portable way to read it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_output(dst: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it onto ``dst`` if the block succeeds.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp(); dst = os.path.join(folder, "out.bin")
    >>> with atomic_output(dst) as tmp:
    ...     _ = tmp.write_bytes(b"done")
    >>> open(dst, "rb").read(), sorted(os.listdir(folder))
    (b'done', ['out.bin'])
    """
    dst = Path(dst)
    folder = dst.parent if str(dst.parent) else Path(".")
    if dst.is_dir():
        raise ValueError(f"{str(dst)!r} is a directory, not a file path")
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} of {str(dst)!r} does not exist")
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:   # mkstemp makes the file private (0600): give it the mode a plain open() would
        mode = dst.stat().st_mode & 0o7777 if dst.exists() else 0o666 & ~_UMASK
        os.chmod(name, mode)
    except OSError:
        pass
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:   # the data reach the disk before the rename publishes them
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
