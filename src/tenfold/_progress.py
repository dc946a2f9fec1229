"""A dependency-free progress bar on stderr (silent when stderr is not a terminal unless forced)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int, desc: str, *, enabled: bool | None = None) -> Iterator[T]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    start, last = time.perf_counter(), 0.0
    for i, item in enumerate(items):
        yield item
        now = time.perf_counter()
        if enabled and (now - last > 0.1 or i + 1 == total):
            last = now
            frac = (i + 1) / max(total, 1)
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r{desc:<24} [{bar:<30}] {i + 1}/{total} {now - start:6.1f}s")
            if i + 1 == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
