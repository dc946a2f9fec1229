"""Writes sprintz_wide_v3_kinds_arrays.npz and sprintz_wide_v3_kinds_streams.npz: wide-dtype streams
using the word kinds and the float exception layout added after the first wide format (stepped
timestamps, a dictionary of few levels, compact float exceptions with tags), as this build writes
them, so later builds are tested to still decode them. Run from the repository root:
python tests/data/make_sprintz_wide_fixture.py

(sprintz_wide_v3_arrays.npz / sprintz_wide_v3_streams.npz hold the first wide format's streams, as
the build of commit 806b993 wrote them: keep them, they are the only streams of that layout.)"""

from pathlib import Path

import numpy as np

from tenfold import sprintz

HERE = Path(__file__).resolve().parent


def arrays() -> dict:
    rng = np.random.default_rng(161)
    stamps = np.int64(1_600_000_000) * 10**9 + np.arange(3000, dtype=np.int64) * 10**7
    stamps[::97] += rng.integers(-999, 999, size=stamps[::97].size)
    stamps[2000:] += 10**12
    levels = rng.normal(size=60) * 1e5
    few = levels[np.clip(np.cumsum(rng.integers(-2, 3, size=(3000, 2)), axis=0) + 30, 0, 59)]
    walk = np.abs(np.cumsum(rng.normal(size=(500, 2)) * 0.03, axis=0)) + 1e-3
    sig8 = np.array([float(f"{v:.7e}") for v in walk.ravel()]).reshape(walk.shape)
    sig8[[4, 9], [0, 1]] = [np.nan, -0.0]
    return {
        "int64_stepped": stamps,
        "uint32_stepped": (stamps // 10**7).astype(np.uint32),
        "float64_dictionary": few,
        "int64_dictionary": (few * 1000).astype(np.int64),
        "float64_significant": sig8,
        "float32_significant": sig8.astype(np.float32),
    }


if __name__ == "__main__":
    a = arrays()
    np.savez(HERE / "sprintz_wide_v3_kinds_arrays.npz", **a)
    np.savez(HERE / "sprintz_wide_v3_kinds_streams.npz",
             **{k: np.frombuffer(sprintz.compress(v), np.uint8) for k, v in a.items()})
