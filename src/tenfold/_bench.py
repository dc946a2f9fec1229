"""Timing and machine description shared by `tenfold demo` and benchmarks/."""

from __future__ import annotations

import platform
import time
from typing import Callable

import numpy as np


def call_times(fn: Callable[[], object], repeat: int = 5, warmup: int = 0,
               clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Times of `repeat` calls of fn, after `warmup` untimed calls: wall time by default,
    ``clock=time.process_time`` for the CPU time of the process."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return times


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 0,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time (wall by default, see `call_times`) of `repeat` calls of fn, after `warmup` untimed calls."""
    return float(np.median(call_times(fn, repeat, warmup, clock)))


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
