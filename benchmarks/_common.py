"""Shared benchmark helpers: machine description, timing, result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"


def machine() -> dict:
    """CPU model, core count, SIMD path in use: stated with every result."""
    import tenfold

    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "isa": tenfold.isa(), "python": platform.python_version(),
            "numpy": np.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def read_bandwidth_gbs(nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Single-thread sequential read bandwidth: a sum over an array much larger than the caches."""
    a = np.ones(nbytes // 8, dtype=np.int64)
    t = median_time(lambda: np.add.reduce(a), repeat)
    del a
    return nbytes / t / 1e9


def write_results(name: str, payload: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)
