"""sdk.hedge strips: several months hedged in one plan, over markets/default.json listed for
eight successive months (no chain)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scripts._markets import load_markets
from sdk import hedge
from sdk.errors import InvalidOrder, UnknownMarket
from tests.utils.sdk_helpers import NOW, FakeReader, market_from_entry

MONTH = 31 * 86400
MARKS = {"POWER": 45_230_000, "COMPUTE": 2_500_000, "SPREAD": 2_400_000}


class StripReader(FakeReader):
    def now(self):
        return NOW


def _listed(months: int, spread: bool = True):
    out, mid = [], 1
    for k in range(months):
        for lm in load_markets(None, NOW + k * MONTH):
            m = market_from_entry(lm.manifest_entry(mid))
            if any(x.symbol == m.symbol for x in out) or (m.kind == "SPREAD" and not spread):
                continue
            out.append(m)
            mid += 1
    return out


@pytest.fixture
def reader():
    ms = _listed(8)
    return StripReader(ms, {m.id: MARKS[m.kind] for m in ms})


def test_spread_strip__six_months_one_plan_in_delivery_order(reader):
    plan = hedge.hedge_compute_spread_strip(reader, "H100-SXM", "HB_WEST", Decimal(720), 6)
    assert [o.market.period for o in plan.orders] == ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
    assert all(o.market.kind == "SPREAD" and o.side == "sell" and o.quantity == 720 for o in plan.orders)
    assert "for 6 months (2026-12 to 2027-05)" in plan.description
    one = hedge.hedge_compute_spread(reader, "H100-SXM", "HB_WEST", Decimal(720), "2026-12")
    # the strip's margin is the six months' together: six times one month's at identical marks
    assert plan.margin_needed_units == 6 * one.margin_needed_units and plan.fees_units == 6 * one.fees_units


def test_spread_strip__from_a_start_month_and_two_legs(reader):
    plan = hedge.hedge_compute_spread_strip(
        reader, "H100-SXM", "HB_WEST", Decimal(100), 2, start="2027-02", prefer_spread=False, power_profile="PEAK"
    )
    assert [(o.market.kind, o.market.period, o.side) for o in plan.orders] == [
        ("COMPUTE", "2027-02", "sell"),
        ("POWER", "2027-02", "buy"),
        ("COMPUTE", "2027-03", "sell"),
        ("POWER", "2027-03", "buy"),
    ]
    assert [o.quantity for o in plan.orders if o.market.kind == "POWER"] == [Decimal("0.12")] * 2
    # the assumed-ratio note applies to every month: said once, not per month
    assert sum("assumed 0.0012" in n for n in plan.notes) == 1


def test_spread_strip__fewer_listed_than_asked__plans_those_and_says_so():
    ms = _listed(3)
    plan = hedge.hedge_compute_spread_strip(
        StripReader(ms, {m.id: MARKS[m.kind] for m in ms}), "H100-SXM", "HB_WEST", 10, 6
    )
    assert len(plan.orders) == 3 and any("only 3 of the 6 months" in n for n in plan.notes)
    assert "only 3 of the 6 months" in plan.summary()


def test_strip__expired_months_are_not_hedged(reader):
    later = StripReader(list(reader._markets.values()), reader._marks)
    dec = next(m for m in reader._markets.values() if m.symbol == "SPREAD.H100-SXM.HB_WEST.2026-12")
    later.now = lambda: dec.last_trade_time  # December has stopped trading
    plan = hedge.hedge_compute_spread_strip(later, "H100-SXM", "HB_WEST", 10, 2)
    assert [o.market.period for o in plan.orders] == ["2027-01", "2027-02"]


def test_power_strip__mwh_from_each_months_own_profile_hours(reader):
    plan = hedge.hedge_power_strip(reader, "HB_WEST", Decimal(5), "PEAK", 3)
    assert [o.market.period for o in plan.orders] == ["2026-12", "2027-01", "2027-02"]
    for o in plan.orders:
        assert o.quantity == hedge.power_mwh(o.market, 5) and o.side == "buy"
    assert len({o.quantity for o in plan.orders}) > 1  # months differ in peak hours


@pytest.mark.parametrize(
    "kw, err, words",
    [
        ({"months": 0}, InvalidOrder, "1 to 36"),
        ({"months": 37}, InvalidOrder, "1 to 36"),
        ({"months": 2, "start": "Dec"}, InvalidOrder, "2026-12"),
        ({"months": 2, "start": "2030-01"}, UnknownMarket, "from 2030-01"),
    ],
)
def test_strip__bad_arguments__refused(reader, kw, err, words):
    with pytest.raises(err, match=words):
        hedge.hedge_compute_spread_strip(reader, "H100-SXM", "HB_WEST", 10, **kw)


def test_strip__unknown_node__names_what_is_listed(reader):
    with pytest.raises(UnknownMarket):
        hedge.hedge_power_strip(reader, "HB_NOWHERE", 1, "PEAK", 2)


def test_spread_strip__a_fleet_hedges_each_months_own_hours(reader):
    plan = hedge.hedge_compute_spread_strip(reader, "H100-SXM", "HB_WEST", None, 3, gpus=Decimal("7.2"))
    hours = [(o.market.delivery_end - o.market.delivery_start) // 3600 for o in plan.orders]
    assert hours == [744, 744, 672]  # Dec, Jan, Feb: each month its own hours
    step = plan.orders[0].market.step  # quantities round down to the step
    assert [o.quantity for o in plan.orders] == [(Decimal("7.2") * h // step) * step for h in hours]
    assert "7.2 H100-SXM GPUs' hours" in plan.description
    with pytest.raises(InvalidOrder, match="not both"):
        hedge.hedge_compute_spread_strip(reader, "H100-SXM", "HB_WEST", 10, 3, gpus=1)
