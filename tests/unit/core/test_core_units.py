"""core.units: every conversion, rounding never in the user's favour against the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import errors
from core import units as u


@dataclass(frozen=True)
class M:
    id: int = 1
    symbol: str = "TEST"
    price_tick: int = 10_000  # $0.01
    quantity_step: int = 100  # 0.1 unit
    min_quantity: int = 1_000  # 1 unit


MARKET = M()
SPREAD = M(symbol="SPREAD", price_tick=100, quantity_step=1_000, min_quantity=1_000)
base_units = st.integers(min_value=-(10**24), max_value=10**24)
usd_6dp = base_units.map(lambda n: Decimal(n).scaleb(-6))
prices = st.decimals(min_value=Decimal("-10000"), max_value=Decimal("100000"), places=9, allow_nan=False)
sizes = st.decimals(min_value=Decimal("1"), max_value=Decimal("1000000"), places=6, allow_nan=False)


@given(base_units)
def test_usd__base_units_round_trip(n):
    assert u.usd_to_base(u.base_to_usd(n)) == n


@given(usd_6dp)
def test_usd__decimal_round_trip(x):
    assert u.base_to_usd(u.usd_to_base(x)) == x


@given(st.integers(min_value=0, max_value=10**24))
def test_quantity__round_trip(n):
    assert u.quantity_to_units(u.units_to_quantity(n)) == n


def test_usd_to_base__examples():
    assert u.usd_to_base(Decimal("45.23")) == 45_230_000
    assert u.usd_to_base("-12.34") == -12_340_000
    assert u.usd_to_base(7) == 7_000_000
    assert u.quantity_to_units("2.5") == 2_500  # 2.5 MWh
    assert u.quantity_to_units(Decimal("0.001")) == 1  # 1 kWh


def test_usd_to_base__finer_than_6dp__exact_refuses_and_named_rounding_rounds():
    with pytest.raises(errors.InvalidAmount, match="finer than 1e-6"):
        u.usd_to_base(Decimal("1.0000001"))
    assert u.usd_to_base(Decimal("1.0000001"), "down") == 1_000_000
    assert u.usd_to_base(Decimal("1.0000001"), "up") == 1_000_001
    assert u.usd_to_base(Decimal("-1.0000001"), "down") == -1_000_001


@pytest.mark.parametrize("bad", [0.1, 1.5, float("nan"), True])
def test_to_decimal__float_or_bool__refused(bad):
    with pytest.raises(errors.InvalidAmount):
        u.usd_to_base(bad)
    with pytest.raises(ValueError):  # also a ValueError
        u.quantity_to_units(bad)


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", None, [1]])
def test_to_decimal__not_a_number__refused(bad):
    with pytest.raises(errors.InvalidAmount):
        u.to_decimal(bad)


def test_positive_usd__zero_or_negative__refused():
    with pytest.raises(errors.InvalidAmount, match="positive"):
        u.positive_usd(0)
    with pytest.raises(errors.InvalidAmount):
        u.positive_usd("-1")


@given(prices)
def test_round_price__buy_never_above_sell_never_below_the_ask(p):
    for m in (MARKET, SPREAD):
        buy, sell = u.round_price(m, p, "buy"), u.round_price(m, p, "sell")
        assert buy <= p <= sell
        assert sell - buy <= u.base_to_usd(m.price_tick)
        for x in (buy, sell):
            assert u.usd_to_base(x) % m.price_tick == 0


@given(prices)
def test_price_to_units__on_tick_is_unchanged_by_side(p):
    on_tick = u.round_price(MARKET, p, "buy")
    assert u.price_to_units(MARKET, on_tick) == u.price_to_units(MARKET, on_tick, "sell") == u.usd_to_base(on_tick)


def test_round_price__negative_power_prices():
    assert u.round_price(MARKET, Decimal("-12.345"), "buy") == Decimal("-12.35")
    assert u.round_price(MARKET, Decimal("-12.345"), "sell") == Decimal("-12.34")
    assert u.round_price(MARKET, Decimal("45.239"), "buy") == Decimal("45.23")
    assert u.round_price(MARKET, Decimal("45.231"), "sell") == Decimal("45.24")


def test_price_to_units__off_tick_without_side__invalid_order():
    with pytest.raises(errors.InvalidOrder, match="tick"):
        u.price_to_units(MARKET, Decimal("45.231"))


def test_round_price__bad_side__invalid_order():
    with pytest.raises(errors.InvalidOrder, match="side"):
        u.round_price(MARKET, 1, "long")


@given(sizes)
def test_round_quantity__never_more_than_asked_and_on_step(q):
    r = u.round_quantity(MARKET, q)
    assert r <= q and q - r < u.units_to_quantity(MARKET.quantity_step)
    assert u.quantity_to_units(r) % MARKET.quantity_step == 0
    assert u.quantity_to_units(r) >= MARKET.min_quantity


def test_round_quantity__below_minimum__below_minimum_error_names_minimum():
    with pytest.raises(errors.BelowMinimum, match="minimum of 1") as e:
        u.round_quantity(MARKET, Decimal("1.09") - Decimal("0.1"))  # 0.99 -> 0.9 < 1
    assert e.value.minimum == Decimal("1") and isinstance(e.value, errors.InvalidOrder)


def test_quantity_to_step__exact__off_step_refused():
    with pytest.raises(errors.InvalidOrder, match="step"):
        u.quantity_to_step(MARKET, Decimal("1.05"), exact=True)
    assert u.quantity_to_step(MARKET, Decimal("1.05")) == 1_000


@pytest.mark.parametrize("q", [0, -1, "-0.5"])
def test_quantity_to_step__non_positive__invalid_order(q):
    with pytest.raises(errors.InvalidOrder, match="positive"):
        u.quantity_to_step(MARKET, q)


def test_bps_fraction__round_trip():
    assert u.bps_to_fraction(2_500) == Decimal("0.25")
    assert u.fraction_to_bps("0.15") == 1_500
    with pytest.raises(errors.InvalidAmount):
        u.fraction_to_bps("0.00001")


@given(st.integers(1, 10**9), st.integers(-(10**12), 10**12), st.integers(0, 100))
def test_fee_units__rounds_up_and_mirrors_exchange(q, p, bps):
    fee = u.fee_units(q, p, bps)
    exact = Decimal(abs(q * p) // 1000) * bps / 10_000
    assert exact <= fee < exact + 1


@given(st.integers(-(10**9), 10**9), st.integers(0, 10**9), st.integers(0, 10_000), st.integers(-(10**12), 10**12))
def test_margin_units__rounds_up(q, fixed, rate, mark):
    m = u.margin_units(q, fixed, rate, mark)
    exact = Decimal(abs(q)) * (Decimal(fixed) + Decimal(rate) * abs(mark) / 10_000) / 1000
    assert exact <= m < exact + 1


@given(st.integers(-(10**9), 10**9), st.integers(-(10**12), 10**12))
def test_value_units__rounds_down_notional_truncates(q, p):
    exact = Decimal(q) * p / 1000
    assert u.value_units(q, p) <= exact < u.value_units(q, p) + 1
    assert abs(u.notional_units(q, p)) <= abs(exact)


@pytest.mark.parametrize("n", [2**255 - 1, -(2**255), 2**256 - 1])
def test_conversions__full_256_bit_range__exact(n):
    assert u.usd_to_base(u.base_to_usd(n)) == n
    assert u.quantity_to_units(u.units_to_quantity(n)) == n


def test_to_decimal__huge_exponent__invalid_amount_not_decimal_overflow():
    """Regression: "1e999999" passed to_decimal and then overflowed Decimal when scaled to base
    units (a 500 from the dashboard's withdraw route)."""
    from core.errors import InvalidAmount
    from core.units import positive_usd, quantity_to_units

    for f in (positive_usd, quantity_to_units):
        with pytest.raises(InvalidAmount, match="too large"):
            f("1e999999")


# ---------------------------------------------------------------- statistics (oracle marks and indices)


@pytest.mark.parametrize(
    "usd, units",
    [
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
    ],
)
def test_float_usd_to_base__rounds_half_even_to_micro_dollars(usd, units):
    assert u.float_usd_to_base(usd) == units


def test_float_usd_to_base__float_noise__is_removed_via_str():
    assert u.float_usd_to_base(0.1 + 0.2) == 300_000


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", True])
def test_float_usd_to_base__non_finite_or_bool__invalid_amount(bad):
    with pytest.raises(errors.InvalidAmount):
        u.float_usd_to_base(bad)


def test_base_to_usd__is_exact_inverse_over_int256():
    assert u.base_to_usd(-1_740_000) == Decimal("-1.74")
    assert u.base_to_usd(2**255 - 1) * 10**6 == 2**255 - 1


@pytest.mark.parametrize("bad", [1.0, "1", True])
def test_base_to_usd__not_an_int__type_error(bad):
    with pytest.raises(TypeError):
        u.base_to_usd(bad)


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_float_usd_to_base__within_half_a_micro_dollar_of_the_repr(x):
    units = u.float_usd_to_base(x)
    assert abs(Decimal(str(x)) * 10**6 - units) <= Decimal("0.5")


@given(base_units)
def test_float_usd_to_base__round_trips_exact_base_units(n):
    assert u.float_usd_to_base(u.base_to_usd(n)) == n


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=1, max_value=10**12))
def test_div_half_even__matches_decimal_half_even(num, den):
    from decimal import ROUND_HALF_EVEN, localcontext

    with localcontext(prec=80):
        want = int((Decimal(num) / Decimal(den)).to_integral_value(rounding=ROUND_HALF_EVEN))
    assert u.div_half_even(num, den) == want


def test_exact_units__sub_micro_dollar_price__refused():
    import numpy as np

    assert u.exact_units(np.array([45.23, -0.01, 1.000001])).tolist() == [45_230_000, -10_000, 1_000_001]
    with pytest.raises(errors.InvalidAmount, match="not whole multiples"):
        u.exact_units(np.array([1.0000001]))


@given(base_units.filter(lambda n: abs(n) < 10**21))
def test_quantity_and_bps__round_trip(n):
    assert u.quantity_to_units(u.units_to_quantity(n)) == n
    assert u.fraction_to_bps(u.bps_to_fraction(n)) == n


@pytest.mark.parametrize("bad", [__import__("numpy").float32(1.5), __import__("numpy").float64(0.1), 0.1])
def test_usd_to_base__numpy_or_python_float__refused(bad):
    with pytest.raises(errors.InvalidAmount, match="float"):
        u.usd_to_base(bad)
    assert u.float_usd_to_base(bad) == u.usd_to_base(str(bad), "half_even")


def test_numpy_ints__accepted_as_ints():
    import numpy as np

    assert u.base_to_usd(np.int64(-1_500_000)) == Decimal("-1.5")
    assert u.usd_to_base(np.int64(2)) == 2_000_000


def test_wei_to_eth__exact():
    assert u.wei_to_eth(1) == Decimal("1E-18") and u.wei_to_eth(2 * 10**18) == 2
    with pytest.raises(TypeError):
        u.wei_to_eth(1.0)


def test_eth_to_wei__exact__and_refuses_a_fraction_of_a_wei():
    assert u.eth_to_wei(1) == 10**18
    assert u.eth_to_wei("0.000000000000000001") == 1
    assert u.wei_to_eth(u.eth_to_wei("2.5")) == Decimal("2.5")
    with pytest.raises(errors.InvalidAmount):
        u.eth_to_wei("1e-19")


@pytest.mark.parametrize(
    ("text", "want"),
    [("1,000", "1000"), ("1_000.5", "1000.5"), ("-12,345.6", "-12345.6"), (" 7 ", "7"), ("0.25", "0.25")],
)
def test_typed_decimal__grouped_thousands_and_plain_numbers(text, want):
    assert u.typed_decimal(text) == Decimal(want)


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("1,5", r"write decimals with a point \(1\.5\)"),
        ("12,34", "a comma only groups"),
        ("abc", "is not a number"),
        ("NaN", "is not a finite number"),
        ("inf", "is not a finite number"),
    ],
)
def test_typed_decimal__decimal_comma_text_and_non_finite_refused(text, msg):
    # one rule for the CLI's numbers and pasted price histories (core.basis)
    with pytest.raises(errors.InvalidAmount, match=msg):
        u.typed_decimal(text)
