from decimal import Decimal

import pytest

from oracle.units import from_units, to_units


@pytest.mark.parametrize("usd, units", [
    (45.23, 45_230_000),
    (-12.34, -12_340_000),
    (9000.01, 9_000_010_000),
    (0.1, 100_000),
    (0.0000005, 0),  # half-even: ties go to the even micro-dollar
    (0.0000015, 2),
    (-0.0000025, -2),
    (1798.70103125, 1_798_701_031),
    ("2.575", 2_575_000),
    (Decimal("-1.0866665"), -1_086_666),
])
def test_to_units__rounds_half_even_to_micro_dollars(usd, units):
    assert to_units(usd) == units


def test_to_units__float_noise__is_removed_via_str():
    assert to_units(0.1 + 0.2) == 300_000


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc"])
def test_to_units__non_finite__raises(bad):
    with pytest.raises(ValueError):
        to_units(bad)


def test_from_units__is_exact_inverse():
    assert from_units(-1_740_000) == Decimal("-1.74")
    assert from_units(2**255 - 1) * 10**6 == 2**255 - 1
