import pytest

from tenfold.metrics import interval_f1


def test_one_to_one_matching():
    # one prediction cannot count for two true intervals
    assert interval_f1([(0, 10)], [(0, 10), (1, 10)]) == 2 * 1 / (1 + 2)
    assert interval_f1([(0, 10), (0, 10)], [(0, 10)]) == 2 * 1 / (2 + 1)
    assert interval_f1([(0, 10), (20, 30)], [(21, 30), (0, 9)]) == 1.0


def test_empty_and_zero_length_intervals():
    assert interval_f1([], [(0, 10)]) == 0.0 and interval_f1([(0, 10)], []) == 0.0
    # two identical zero-length intervals used to divide 0 by 0
    assert interval_f1([(5, 5)], [(5, 5)]) == 0.0
    assert interval_f1([(5, 5), (0, 10)], [(5, 5), (0, 10)]) == 2 * 1 / 4


def test_reversed_interval_is_refused():
    with pytest.raises(ValueError, match="truth"):
        interval_f1([(0, 10)], [(10, 0)])
    with pytest.raises(ValueError, match="pred"):
        interval_f1([(3, 1)], [(0, 10)])
