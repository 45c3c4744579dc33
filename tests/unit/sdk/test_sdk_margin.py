"""sdk.margin: the Clearinghouse's arithmetic in Python, and the liquidation price."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import units as u
from sdk.margin import Holding, apply_fill, grows, liquidation_price, project_trade, summarise


@pytest.fixture(scope="module")
def power(default_markets):
    return next(
        m for m in default_markets if m.kind == "POWER" and m.spec["profile"] == "PEAK" and m.spec["iso"] == "ERCOT"
    )


@pytest.fixture(scope="module")
def gpu(default_markets):
    return next(m for m in default_markets if m.kind == "COMPUTE" and m.spec["gpu"] == "H100-SXM")


def test_summarise__equity_im_mm_like_the_contract(gpu):
    # short 40 GPU-hours entered at 2.48, mark 2.50: IM 40 x (0.40 + 15% x 2.5), MM 40 x (0.25 + 10% x 2.5)
    h = Holding(gpu, -40_000, -99_200_000, 2_500_000)
    s = summarise(10_000_000_000, {gpu.id: h})
    assert s.equity == 10_000_000_000 - 800_000 and s.initial == 31_000_000 and s.maintenance == 20_000_000


def test_apply_fill__open_reduce_flip_close(gpu):
    h = Holding(gpu, 0, 0, 2_500_000)
    c, h = apply_fill(0, h, 10_000, 2_500_000, 0)  # buy 10 @ 2.50
    assert (c, h.quantity, h.open_notional) == (0, 10_000, 25_000_000)
    c, h = apply_fill(c, h, -4_000, 3_000_000, 0)  # sell 4 @ 3.00: realise 4 x 0.50
    assert (c, h.quantity, h.open_notional) == (2_000_000, 6_000, 15_000_000)
    c, h = apply_fill(c, h, -10_000, 2_000_000, 7)  # sell 10 @ 2.00: close 6 (-3.00), open short 4; fee 7
    assert (c, h.quantity, h.open_notional) == (2_000_000 - 3_000_000 - 7, -4_000, -8_000_000)
    c, h = apply_fill(c, h, 4_000, 2_000_000, 0)
    assert h.quantity == 0 and h.open_notional == 0


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6))
def test_grows__matches_definition(q0, d):
    q1 = q0 + d
    assert grows(q0, d) == (abs(q1) > abs(q0) or (q0 * q1 < 0))


def test_project_trade__adds_margin_and_fee(gpu):
    s = project_trade(1_000_000_000, {}, gpu, 2_500_000, 100_000, 2_500_000, 125_000)
    assert s.equity == 1_000_000_000 - 125_000 and s.initial == 77_500_000


def _health(collateral, holdings, mid, mark):
    hs = {k: replace(h, mark=mark) if k == mid else h for k, h in holdings.items()}
    s = summarise(collateral, hs)
    return s.equity - s.maintenance


@settings(max_examples=200, deadline=None)
@given(
    q=st.integers(100, 10**7).flatmap(lambda n: st.sampled_from([n, -n])),
    entry=st.integers(-500, 5_000),
    mark=st.integers(-500, 5_000),
    collateral=st.integers(0, 10**6),
    other=st.integers(-(10**5), 10**5),
    use_gpu=st.booleans(),
)
def test_liquidation_price__first_liquidatable_mark(power, gpu, q, entry, mark, collateral, other, use_gpu):
    """At the returned mark the account is liquidatable (equity <= MM); one tick toward safety it is not."""
    m = gpu if use_gpu else power
    entry_u, mark_u = entry * m.price_tick, mark * m.price_tick
    holdings = {m.id: Holding(m, q, u.notional_units(q, entry_u), mark_u)}
    other_m = power if use_gpu else gpu
    if other:
        holdings[other_m.id] = Holding(other_m, other, u.notional_units(other, 2_500_000), 2_400_000)
    coll = collateral * u.USD_SCALE
    s = summarise(coll, holdings)
    p = liquidation_price(s, holdings[m.id])
    assert p is not None  # rates < 100%: some price always liquidates
    pu = u.usd_to_base(p)
    assume(abs(pu) < 10**13)
    assert _health(coll, holdings, m.id, pu) <= 0
    safer = pu + m.price_tick if q > 0 else pu - m.price_tick  # a long is safer higher
    assert _health(coll, holdings, m.id, safer) > 0


def test_liquidation_price__long_below_short_above(gpu):
    long_ = {gpu.id: Holding(gpu, 100_000, 250_000_000, 2_500_000)}
    s = summarise(100_000_000, long_)
    assert liquidation_price(s, long_[gpu.id]) < Decimal("2.5")
    short = {gpu.id: Holding(gpu, -100_000, -250_000_000, 2_500_000)}
    s = summarise(100_000_000, short)
    assert liquidation_price(s, short[gpu.id]) > Decimal("2.5")


def test_liquidation_price__negative_power_prices(power):
    # long 10 MWh of ERCOT PEAK with little collateral: liquidated at a negative price
    h = Holding(power, 10_000, 200_000_000, 20_000_000)
    s = summarise(1_000_000_000, {power.id: h})
    p = liquidation_price(s, h)
    assert p is not None and p < 0


def test_liquidation_price__flat_or_settled__none(gpu):
    s = summarise(0, {})
    assert liquidation_price(s, Holding(gpu, 0, 0, 1)) is None
    assert liquidation_price(s, Holding(gpu, 1000, 1, 1, settled=True)) is None
