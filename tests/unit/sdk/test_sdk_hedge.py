"""sdk.hedge: plans computed before anything is sent, against the real default markets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.calendar import profile_hours
from sdk import errors
from sdk.hedge import hedge_compute_spread, hedge_power, power_mwh
from tests.utils.sdk_helpers import FakeReader, account


@pytest.fixture
def reader(default_markets):
    marks = {m.id: {"POWER": 45_000_000, "COMPUTE": 2_500_000, "SPREAD": 2_400_000}[m.kind] for m in default_markets}
    return FakeReader(default_markets, marks, account(10_000 * 10**6))


def test_spread_listed__one_sell_leg_on_the_spread(reader):
    plan = hedge_compute_spread(reader, "H100-SXM", "HB_WEST", Decimal("720"), "2026-12", account="0xabc")
    (leg,) = plan.orders
    assert leg.market.kind == "SPREAD" and leg.side == "sell" and leg.quantity == Decimal("720")
    assert leg.price == Decimal("2.352")  # mark 2.40 - 2%, a sell rounded up to the 0.0001 tick
    # IM 720 x (0.90 + 15% x 2.40) = 907.20; fill at 2.352 vs mark 2.40 loses 34.56 at once
    assert plan.margin_needed == Decimal("907.2") + Decimal("34.56")
    assert plan.fees == Decimal("0.846720")  # 5 bps of 1,693.44
    assert plan.shortfall == 0 and "SPREAD.H100-SXM.HB_WEST.2026-12" in plan.summary()


def test_spread_listed__different_ratio__power_leg_for_the_difference(reader):
    plan = hedge_compute_spread(
        reader, "H100-SXM", "HB_WEST", Decimal("1000"), "2026-12", mwh_per_gpu_hour=Decimal("0.0015")
    )
    # the default markets list no ATC month at HB_WEST: the difference is noted, not traded
    assert len(plan.orders) == 1 and "0.3000 MWh of power stays unhedged" in plan.notes[0]


def test_no_spread__sell_compute_buy_power(reader):
    plan = hedge_compute_spread(
        reader,
        "H100-SXM",
        "HB_WEST",
        Decimal("1000"),
        "2026-12",
        prefer_spread=False,
        power_profile="PEAK",
        mwh_per_gpu_hour=Decimal("0.0012"),
    )
    compute, power = plan.orders
    assert (compute.market.kind, compute.side, compute.quantity) == ("COMPUTE", "sell", Decimal("1000"))
    assert (power.market.kind, power.side, power.quantity) == ("POWER", "buy", Decimal("1.2"))
    assert power.price == Decimal("45.9")  # 45 + 2%, a buy rounded down to the cent
    assert any("windows differ" in n for n in plan.notes)  # UTC month vs Chicago month


def test_no_market__unknown_market_lists_what_is_listed(reader):
    with pytest.raises(errors.UnknownMarket, match="Listed: SPREAD: SPREAD.H100-SXM.HB_WEST.2026-12"):
        hedge_compute_spread(reader, "H100-SXM", "HB_WEST", Decimal("10"), "2027-01")


def test_no_mark__stale_error(default_markets):
    r = FakeReader(default_markets, {}, None)
    with pytest.raises(errors.StaleMarket):
        hedge_compute_spread(r, "H100-SXM", "HB_WEST", Decimal("10"), "2026-12")


def test_shortfall__small_account(default_markets):
    marks = {m.id: 2_400_000 for m in default_markets}
    r = FakeReader(default_markets, marks, account(100 * 10**6))
    plan = hedge_compute_spread(r, "H100-SXM", "HB_WEST", Decimal("720"), "2026-12", account="0xabc")
    assert plan.shortfall == plan.margin_needed + plan.fees - Decimal("100")


def test_hedge_power__mw_times_profile_hours(reader, default_markets):
    peak = next(
        m for m in default_markets if m.kind == "POWER" and m.spec["profile"] == "PEAK" and m.spec["node"] == "HB_WEST"
    )
    hours = profile_hours(peak.delivery_start, peak.delivery_end, "PEAK", "America/Chicago").size
    assert hours == 352  # December 2026: 23 weekdays - Christmas (Fri 25th) = 22 days x 16 peak hours
    plan = hedge_power(reader, "HB_WEST", Decimal("5"), "PEAK", "2026-12")
    (leg,) = plan.orders
    assert leg.quantity == Decimal(5 * hours) == power_mwh(peak, 5) and leg.side == "buy"


def test_hedge_power__bad_inputs(reader):
    with pytest.raises(errors.InvalidOrder):
        hedge_power(reader, "HB_WEST", 0, "PEAK", "2026-12")
    with pytest.raises(errors.InvalidAmount):
        hedge_power(reader, "HB_WEST", 5.0, "PEAK", "2026-12")
    with pytest.raises(errors.UnknownMarket, match="listed"):
        hedge_power(reader, "HB_WEST", 5, "OFFPEAK", "2026-12")
