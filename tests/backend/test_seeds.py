import pytest

from styleface.errors import StyleFaceError
from styleface.seeds import parse_seeds


def test_ranges_and_lists():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds("5") == [5]
    assert parse_seeds("2,2,1-2") == [2, 1]


@pytest.mark.parametrize("bad", ["", "a", "3-1", "-4", "1-x", "99999999999999999999", "1_000", "\u0661\u0662"])
def test_bad_seed_lists(bad):
    with pytest.raises(StyleFaceError):
        parse_seeds(bad)
