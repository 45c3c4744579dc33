"""core.statement: the hedge statement's figures, checked by hand.

The worked example (every figure below computed on paper, in USD):

    January 2027, an H100 site at HB_WEST, hedged with two legs:
      sell 100 GPU-hours of H100-SXM.2027-01 at 2.00 (fee 0.10)
      sell  50 GPU-hours                     at 2.30 (fee 0.10)  -> average entry 315 / 150 = 2.10
      buy  0.18 MWh of ERCOT.HB_WEST.DA.ATC.2027-01 at 40.00 (fee 0.01)
      locked = 315 - 7.20 - 0.21 = 307.59 USD over 150 GPU-hours / 0.18 MWh
             = 2.0506 USD per GPU-hour, 1,708.83 USD per MWh
    February 2027, one SPREAD leg (0.0012 MWh per GPU-hour), settled:
      sell 720 GPU-hours of SPREAD.H100-SXM.HB_WEST.2027-02 at 1.85, settled at 1.70 (PnL +108)
      locked = 1,332.00 USD = 1.85 per GPU-hour, 1,332 / 0.864 = 1,541.67 per MWh
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from core import statement as cs
from core.errors import InvalidMonthRange, LedgerMismatch, NoPositions
from tests.utils.statement_example import EVENTS, MARKETS, USD, fill, holdings, months, tx


def test_entry_price_is_the_average_of_the_fills_that_built_the_position():
    jan = months()[0]
    compute = next(leg for leg in jan.legs if leg.market.kind == "COMPUTE")
    assert compute.entry == Fraction(2_100_000)  # (100 x 2.00 + 50 x 2.30) / 150
    assert cs.usd(compute.entry, 4) == "2.1000"
    assert [s.block for s in compute.fills] == [10, 11]
    assert compute.fees == 200_000 and compute.side == "short" and compute.holding is not None


def test_locked_in_spread_per_gpu_hour_and_per_mwh():
    jan, feb = months()
    assert jan.month == "2027-01" and feb.month == "2027-02"
    assert jan.gpu_hours == 150 and jan.mwh == Fraction(18, 100)
    assert jan.locked == Fraction(307_590_000)
    assert cs.usd(jan.locked) == "307.59"
    assert cs.usd(jan.spread_per_gpu_hour, 4) == "2.0506"  # 307.59 / 150
    assert cs.usd(jan.spread_per_mwh) == "1,708.83"  # 307.59 / 0.18
    assert feb.locked == 1332 * USD and feb.mwh == Fraction(864, 1000)
    assert cs.usd(feb.spread_per_gpu_hour, 4) == "1.8500"
    assert cs.usd(feb.spread_per_mwh) == "1,541.67"


def test_a_settled_leg_keeps_its_size_entry_and_settlement_event():
    feb = months()[1]
    (leg,) = feb.legs
    assert leg.quantity == -720_000 and leg.holding is None
    assert leg.settled == cs.Source(20, tx(2000), "settlement of market 3")
    assert leg.settlement_price == 1_700_000 and leg.settlement_pnl == 108 * USD
    # what the settled hedge paid equals the event's PnL at the settlement price
    assert leg.hedge_pnl(Fraction(2 * USD), (Fraction(2 * USD) - 1_700_000) / Fraction(12, 10_000)) == 108 * USD


def test_revenue_grid_hedged_is_the_floor_whatever_the_prices():
    grid = cs.revenue_grid(months())
    assert grid.months == ("2027-01", "2027-02") and grid.left_out == ()
    flat = {c for row in grid.hedged for c in row}
    assert flat == {307_590_000 + 1332 * USD}  # a site of the hedged size earns the locked amount
    assert grid.floor == 1_639_590_000
    mid = cs.DEFAULT_MOVES.index(0)
    # unhedged at the references: Jan 150 x 2.20 - 0.18 x 45 = 321.90; Feb 720 x 2 - 0.864 x 40 = 1,405.44
    assert grid.unhedged[mid][mid] == 321_900_000 + 1_405_440_000
    # index -50%, power +50%: Jan 150 x 1.10 - 0.18 x 67.5 = 152.85; Feb 720 x 1 - 0.864 x 60 = 668.16
    assert grid.unhedged[0][-1] == 152_850_000 + 668_160_000


def test_a_half_hedged_site_floor_falls_with_the_index():
    grid = cs.revenue_grid(months()[:1], scale=Fraction(2))
    mid = cs.DEFAULT_MOVES.index(0)
    # site twice the hedge: hedged = locked + the unhedged half; at -50% index, 0 power move:
    # 307.59 + (150 x 1.10 - 0.18 x 45) = 307.59 + 156.90 = 464.49
    assert grid.hedged[0][mid] == 464_490_000
    assert grid.floor == min(min(r) for r in grid.hedged) < grid.hedged[mid][mid]


def test_months_outside_the_range_and_months_without_reference_are_left_out():
    only_jan = months(("2027-01", "2027-01"))
    assert [m.month for m in only_jan] == ["2027-01"]
    legs = cs.build_legs(MARKETS, EVENTS, holdings(), ("2027-01", "2027-12"))
    no_refs = cs.group_months(legs, ("2027-01", "2027-12"))
    grid = cs.revenue_grid(no_refs)
    assert grid.months == () and grid.left_out == ("2027-01", "2027-02") and grid.floor is None


def test_a_position_traded_flat_is_no_hedge():
    events = [fill(1, -10_000, 2 * USD, 0, 5), fill(1, 10_000, 2_100_000, 0, 6)]
    src = cs.Source(9, None, "position")
    with pytest.raises(NoPositions, match="no position delivering in 2027-01..2027-12"):
        cs.group_months(
            cs.build_legs(MARKETS, events, {1: cs.Holding(0, 0, None, src)}, ("2027-01", "2027-12")),
            ("2027-01", "2027-12"),
        )


def test_entry_counts_only_fills_since_the_position_was_last_flat():
    events = [
        fill(1, -10_000, 3 * USD, 0, 5),
        fill(1, 10_000, 3 * USD, 0, 6),  # flat again
        fill(1, -20_000, 2 * USD, 0, 7),
        fill(1, 5_000, 1 * USD, 0, 8),  # a partial close keeps the average entry
    ]
    src = cs.Source(9, None, "position")
    (leg,) = cs.build_legs(MARKETS, events, {1: cs.Holding(-15_000, -30 * USD, None, src)}, ("2027-01", "2027-01"))
    assert leg.entry == 2 * USD and [s.block for s in leg.fills] == [7, 8]
    assert leg.realised_by_trades == 5 * USD  # closed 5 GPU-hours bought back at 1.00 against 2.00


def test_fills_that_do_not_reproduce_the_chain_position_are_refused():
    bad = holdings()
    bad[1] = cs.Holding(-160_000, -335 * USD, 2 * USD, bad[1].source)  # a fill the events missed
    with pytest.raises(LedgerMismatch, match="Clearinghouse holds -160000"):
        cs.build_legs(MARKETS, EVENTS, bad, ("2027-01", "2027-12"))


def test_replay_realises_pnl_as_the_clearinghouse_does():
    rows = cs.replay([fill(1, 3_000, 1_000_001, 0, 1), fill(1, -1_000, 900_000, 0, 2)])
    # open notional 3,000.003 (base units: 3_000_003); closing a third realises -100,000 - ceil(1,000,001)
    assert rows[1].quantity_before == 3_000 and rows[1].open_notional_before == 3_000_003
    assert rows[1].realised == 900_000 - 1_000_001 and rows[1].open_notional_after == 2_000_002


def test_settlement_sorts_after_the_trades_of_its_block():
    s = cs.LedgerEvent("settlement", 3, 720_000, 1_700_000, 0, 13, 0, tx(1), pnl=1)
    assert [e.kind for e in cs.ordered([s, EVENTS[3]])] == ["fill", "settlement"]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("2027-01..2027-12", ("2027-01", "2027-12")),
        ("2027-03", ("2027-03", "2027-03")),
        (" 2026-12..2027-01 ", ("2026-12", "2027-01")),
    ],
)
def test_parse_months(text, span):
    assert cs.parse_months(text) == span


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2027-12..2027-01", "ends before it starts"),
        ("2027-13", "not a month"),
        ("2027-1", "not a month"),
        ("january", "not a month"),
        ("2027-01..", "YYYY-MM"),
        ("2027-01..2027-02..2027-03", "YYYY-MM"),
        ("2000-01..2027-01", "more than 120 months"),
    ],
)
def test_parse_months_refuses(text, why):
    with pytest.raises(InvalidMonthRange, match=why):
        cs.parse_months(text)


def test_footnotes_number_each_source_once_in_citation_order():
    n = cs.Footnotes()
    a, b = cs.Source(1, tx(1), "fill"), cs.Source(2, None, "state")
    assert n.cite(a) == "[1]" and n.cite(b, a) == "[1,2]" and n.cite() == ""
    assert [k for k, _ in n.items()] == [1, 2]
    assert a.text() == f"block 1, tx {tx(1)}: fill" and b.text() == "block 2, state read: state"


def test_money_and_quantity_text_round_once_half_even():
    assert cs.usd(Fraction(5, 1000)) == "0.00" and cs.usd(Fraction(15_000, 1)) == "0.02"  # 0.015 -> 0.02 (even)
    assert cs.usd(-1_234_567_890) == "-1,234.57" and cs.usd(None) == "—"
    assert cs.qty(180) == "0.18" and cs.qty(150_000) == "150" and cs.units_qty(Fraction(864, 1000)) == "0.864"
