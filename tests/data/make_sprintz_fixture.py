"""Regenerates tests/data/sprintz_v2_streams.npz and sprintz_v1_file.tfsz: Sprintz streams of
format version 2 and a .tfsz file of file version 1, as written by tenfold before the version-3
stream (which adds a checksum of the compressed bytes). tests/test_sprintz_trust.py checks that
they still decode to ``arrays()``. Run with the tenfold build whose output should be frozen:
    python tests/data/make_sprintz_fixture.py
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def arrays() -> dict:
    """The arrays the fixture holds (deterministic: seeded numpy generators), with their options.

    Together they reach every chunk kind of the format: FIRE (segmented 1-variable and
    multi-variable), delta, lagged delta, Huffman-coded, raw (incompressible) chunks, zero runs,
    raw row tails, Fortran order, several chunks per stream, and an empty array.
    """
    rng = np.random.default_rng(2018)
    t = np.arange(5000)
    out = {
        "sine_i16_fire": ((3000 * np.sin(t / 40) + rng.normal(0, 3, t.size)).astype(np.int16), "fire", True),
        "periodic_u8_lag": (((t % 7) * 30 + rng.integers(0, 3, t.size)).astype(np.uint8), "delta", True),
        "noise_i8_raw": (rng.integers(-128, 128, (2000, 3)).astype(np.int8), "fire", True),
        "walk_u16_F_delta": (np.asfortranarray(np.cumsum(rng.integers(0, 3, (301, 5)), axis=0).astype(np.uint16)),
                             "delta", False),
        "multi_i16_fire": ((500 * np.sin(t[:, None] / (20 + np.arange(4))) + rng.normal(0, 1, (t.size, 4)))
                           .astype(np.int16), "fire", False),
        "long_i16_zero_runs": (np.repeat(np.arange(300, dtype=np.int16), 1000), "fire", True),
        "empty_i16": (np.zeros(0, np.int16), "fire", True),
    }
    return out


def file_array() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.cumsum(rng.integers(-2, 3, (3000, 2)), axis=0).astype(np.int16)


def main() -> None:
    import tempfile

    from tenfold import sprintz

    streams = {}
    for name, (x, fc, ent) in arrays().items():
        buf = sprintz.compress(x, forecaster=fc, entropy=ent)
        assert np.array_equal(sprintz.decompress(buf), x)
        streams[name] = np.frombuffer(buf, np.uint8)
    np.savez(HERE / "sprintz_v2_streams.npz", **streams)
    with tempfile.TemporaryDirectory() as d:
        np.save(f"{d}/x.npy", file_array())
        sprintz.compress_file(f"{d}/x.npy", HERE / "sprintz_v1_file.tfsz", progress=False)
    print({k: v.size for k, v in streams.items()})


if __name__ == "__main__":
    main()
