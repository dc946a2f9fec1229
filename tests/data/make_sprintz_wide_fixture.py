"""Writes sprintz_wide_v3_arrays.npz and sprintz_wide_v3_streams.npz: streams of the 32/64-bit and
float dtypes (format version 3, dtype codes 4-9) as this build wrote them, so later builds are
tested to still decode them. Run from the repository root: python tests/data/make_sprintz_wide_fixture.py"""

from pathlib import Path

import numpy as np

from tenfold import sprintz

HERE = Path(__file__).resolve().parent


def arrays() -> dict:
    rng = np.random.default_rng(16)
    walk = np.cumsum(rng.integers(-500, 500, size=(300, 2)), axis=0)
    stamps = np.int64(1_600_000_000_000) + np.arange(300, dtype=np.int64) * 250
    stamps[::37] += 3
    prices = np.round(rng.normal(size=(300, 3)).cumsum(0), 2)
    prices[7, 1], prices[8, 2] = np.nan, -0.0
    return {
        "int32_walk_F": np.asfortranarray(walk.astype(np.int32)),
        "uint32_random": rng.integers(0, 2**32, size=300, dtype=np.uint32),
        "int64_stamps": stamps,
        "uint64_walk": walk[:, 0].astype(np.uint64) + np.uint64(2**63),
        "float32_decimal": prices.astype(np.float32),
        "float64_mixed": np.concatenate([prices[:, :2], rng.normal(size=(300, 1))], axis=1),
    }


if __name__ == "__main__":
    a = arrays()
    np.savez(HERE / "sprintz_wide_v3_arrays.npz", **a)
    np.savez(HERE / "sprintz_wide_v3_streams.npz",
             **{k: np.frombuffer(sprintz.compress(v), np.uint8) for k, v in a.items()})
