"""The examples in public docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["tenfold", "tenfold.bolt", "tenfold.ivf", "tenfold._io", "tenfold._atomic", "tenfold._runtime", "tenfold.dask",
           "tenfold.datasets", "tenfold.metrics", "tenfold._table", "tenfold.cli", "tenfold.group_model"]
# Modules that import without their optional extra but whose examples need it.
EXTRA_FOR_EXAMPLES = {"tenfold.dask": "distributed"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as err:  # optional extra not installed
        pytest.skip(str(err))
    if name in EXTRA_FOR_EXAMPLES:
        pytest.importorskip(EXTRA_FOR_EXAMPLES[name])
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
