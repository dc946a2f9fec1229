"""Shared benchmark helpers: machine description, timing, result files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from tenfold._bench import cpu_name
from tenfold._bench import median_time as _median_time

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"


def machine() -> dict:
    """CPU model, core count, SIMD path in use: stated with every result."""
    import tenfold

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "isa": tenfold.isa(), "python": platform.python_version(),
            "numpy": np.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


@contextlib.contextmanager
def tee_output(path: str, header: str) -> Iterator[None]:
    """Print as usual; with a path, also write the header and everything printed to that file."""
    buf = io.StringIO()

    class _Tee(io.TextIOBase):
        def write(self, text: str) -> int:
            sys.__stdout__.write(text)
            sys.__stdout__.flush()
            return buf.write(text)

    with contextlib.redirect_stdout(_Tee()):
        print(header)
        yield
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(buf.getvalue())


# Benchmarks time after one untimed warm-up call.
median_time = partial(_median_time, warmup=1)


def read_bandwidth_gbs(nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Single-thread sequential read bandwidth: a sum over an array much larger than the caches."""
    a = np.ones(nbytes // 8, dtype=np.int64)
    t = median_time(lambda: np.add.reduce(a), repeat)
    return nbytes / t / 1e9


def write_results(name: str, payload: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)


def paired(ref, new, repeat: int) -> tuple[float, float, float]:
    """Alternate the two calls so both see the same machine load; returns (median ref time,
    median new time, median of the per-pair ratios ref/new)."""
    ref(), new()
    tr, tn = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        new()
        t2 = time.perf_counter()
        tr.append(t1 - t)
        tn.append(t2 - t1)
    return float(np.median(tr)), float(np.median(tn)), float(np.median(np.array(tr) / np.array(tn)))
