"""MADDNESS: approximate matrix products with hash trees and lookup tables (Blalock & Guttag, ICML'21).

One concern per module: ``model`` (the :class:`Maddness` estimator: fitting loop, tables,
inference, persistence), ``trees`` (split quantization, exact threshold scans, one tree per
codebook), ``signed_sums`` (trees splitting on signed sums of columns, ``split_width > 1``),
``ridge`` (one-hot codes, ridge prototypes, cross-validated penalty).

>>> import tenfold
>>> tenfold.maddness.Maddness is tenfold.Maddness
True
"""

from .model import Maddness

__all__ = ["Maddness"]
