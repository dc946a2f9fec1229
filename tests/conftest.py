import os

import numpy as np
import pytest

import tenfold

# Keep hypothesis quick in `make test`; `make fuzz` raises the example count.
try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=40, deadline=None)
    settings.register_profile("fuzz", max_examples=int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "2000")), deadline=None)
    settings.load_profile("fuzz" if os.environ.get("TENFOLD_FUZZ_EXAMPLES") else "ci")
except ImportError:  # pragma: no cover
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: long randomized runs (make fuzz)")


@pytest.fixture(params=tenfold.supported_isas())
def isa(request):
    """Runs a test once per SIMD path this CPU supports."""
    with tenfold.use_isa(request.param):
        yield request.param


def structured_data(n, d, rng, rank=12, clusters=40, noise=0.2):
    """Low-rank mixture plus noise: what real embeddings look like to a quantizer."""
    basis = rng.normal(size=(rank, d))
    centers = rng.normal(size=(clusters, rank)) * 2.0
    latent = centers[rng.integers(clusters, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + noise * rng.normal(size=(n, d))).astype(np.float32)
