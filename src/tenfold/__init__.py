"""tenfold: machine learning on compressed representations, on ordinary CPUs.

>>> import numpy as np, tenfold
>>> X = np.random.default_rng(0).normal(size=(1000, 16)).astype(np.float32)
>>> index = tenfold.BoltIndex(tenfold.BoltEncoder(ncodebooks=4).fit(X))
>>> index.add(X)
>>> index.search(X[:1], k=1)[1].shape
(1, 1)
"""

__version__ = "0.1.0"  # the one version source (pyproject.toml reads it)

from ._io import load
from ._runtime import isa, set_isa, supported_isas, use_isa
from .bolt import BoltEncoder, BoltIndex
from .ivf import IVFBoltIndex
from . import extract, sprintz
from .maddness import Maddness
from ._selfcheck import verify_simd_paths as _verify_simd_paths

_verify_simd_paths()

__all__ = ["BoltEncoder", "BoltIndex", "IVFBoltIndex", "Maddness", "extract", "isa", "load", "set_isa", "sprintz",
           "supported_isas", "use_isa"]
