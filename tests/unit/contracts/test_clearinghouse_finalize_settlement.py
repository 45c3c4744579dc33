"""Clearinghouse.finalize_settlement: fixes a market's settlement price once delivery is over
and a value observed at or after delivery_end has stood undisputed for the dispute window
(or was resolved final by the owner); rounded down to the tick."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events


@pytest.fixture
def delivered(clearinghouse, market):
    """Block time = delivery_end of the market."""
    boa.env.evm.patch.timestamp = clearinghouse.market(market).delivery_end
    return clearinghouse.market(market).delivery_end


def _settlement_feed(protocol, mid):
    return protocol.feeds[mid][1]


def test_finalize_settlement__value_stood_dispute_window__settles(protocol, clearinghouse, market, delivered, keeper):
    protocol.set_settlement(market, 45_230_000)
    boa.env.time_travel(seconds=3_600)
    with boa.env.prank(keeper.address):
        clearinghouse.finalize_settlement(market)

    (log,) = events(clearinghouse, "SettlementFinalized")
    assert (log.market_id, log.price) == (market, 45_230_000)
    state = clearinghouse.market_state(market)
    assert (state.settled, state.settlement_price) == (True, 45_230_000)
    assert clearinghouse.mark(market) == (45_230_000, boa.env.evm.patch.timestamp, True)


@pytest.mark.parametrize(
    "value, settled",
    [
        (45_234_999, 45_230_000),
        (45_235_000, 45_240_000),  # half a tick rounds up
        (45_239_999, 45_240_000),
        (-12_345_000, -12_340_000),  # halves up (toward +infinity) for negative prices too
        (-12_345_001, -12_350_000),
        (-12_340_000, -12_340_000),
        (-1, 0),
        (-5_001, -10_000),
        (9_999, 10_000),
    ],
)
def test_finalize_settlement__off_tick_value__rounded_to_nearest_tick(
    protocol, clearinghouse, market, delivered, value, settled
):
    protocol.set_settlement(market, value)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)

    assert clearinghouse.market_state(market).settlement_price == settled


def test_finalize_settlement__resolved_final__settles_without_waiting(
    protocol, oracle, clearinghouse, market, delivered, guardian, owner
):
    protocol.set_settlement(market, 45 * USDC)
    with boa.env.prank(guardian):
        oracle.dispute(_settlement_feed(protocol, market))
    with boa.env.prank(owner):
        oracle.resolve(_settlement_feed(protocol, market), 44 * USDC)
    clearinghouse.finalize_settlement(market)

    assert clearinghouse.market_state(market).settlement_price == 44 * USDC


def test_finalize_settlement__observed_exactly_at_delivery_end__accepted(protocol, clearinghouse, market, delivered):
    protocol.set_settlement(market, 45 * USDC, observed_at=delivered)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)

    assert clearinghouse.market_state(market).settled


def test_finalize_settlement__minimum_dispute_window__settles_after_ten_minutes(protocol, clearinghouse):
    mid = protocol.list_market("SHORTWINDOW", dispute_window=600)
    boa.env.evm.patch.timestamp = clearinghouse.market(mid).delivery_end
    protocol.set_settlement(mid, 45 * USDC)
    with boa.reverts("Clearinghouse: dispute window open"):
        clearinghouse.finalize_settlement(mid)
    boa.env.time_travel(seconds=600)
    clearinghouse.finalize_settlement(mid)

    assert clearinghouse.market_state(mid).settlement_price == 45 * USDC


def test_finalize_settlement__unknown_market__reverts(clearinghouse, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: unknown market"):
        clearinghouse.finalize_settlement(42)

    assert snapshot() == before


def test_finalize_settlement__already_settled__reverts(protocol, clearinghouse, market, delivered, snapshot):
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)
    before = snapshot()

    with boa.reverts("Clearinghouse: already settled"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


# The Oracle refuses settlement values before delivery end and re-writes of them; the markets
# below configure their settlement feed as a plain feed (an Oracle that does not enforce that)
# to show the Clearinghouse's own checks behind it.


@pytest.fixture
def plain(protocol, clearinghouse):
    """(market id, delivery_end) of a market whose settlement feed is a plain feed."""
    mid = protocol.list_market("PLAIN", plain_settlement_feed=True)
    return mid, clearinghouse.market(mid).delivery_end


def test_finalize_settlement__delivery_not_over__reverts(protocol, clearinghouse, plain, snapshot):
    market, end = plain
    boa.env.evm.patch.timestamp = end - 1
    protocol.set_settlement(market, 45 * USDC, observed_at=end + 59)  # within future drift
    before = snapshot()

    with boa.reverts("Clearinghouse: delivery not over"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__no_settlement_value__reverts(clearinghouse, market, delivered, snapshot):
    before = snapshot()

    with boa.reverts("Clearinghouse: no settlement price"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__value_observed_before_delivery_end__reverts(protocol, clearinghouse, plain, snapshot):
    market, delivered = plain
    boa.env.evm.patch.timestamp = delivered
    protocol.set_settlement(market, 45 * USDC, observed_at=delivered - 1)
    boa.env.time_travel(seconds=3_600)
    before = snapshot()

    with boa.reverts("Clearinghouse: no settlement price"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__disputed_value__reverts(
    protocol, oracle, clearinghouse, market, delivered, guardian, snapshot
):
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_600)
    with boa.env.prank(guardian):
        oracle.dispute(_settlement_feed(protocol, market))
    before = snapshot()

    with boa.reverts("Clearinghouse: settlement disputed"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__dispute_window_open__reverts(protocol, clearinghouse, market, delivered, snapshot):
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_599)
    before = snapshot()

    with boa.reverts("Clearinghouse: dispute window open"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__value_written_before_delivery_end__reverts(protocol, clearinghouse, plain, snapshot):
    market, end = plain
    boa.env.evm.patch.timestamp = end - 60
    protocol.set_settlement(market, 45 * USDC, observed_at=end)  # observed "at" the end, 60 s early
    boa.env.time_travel(seconds=7_200)
    before = snapshot()

    with boa.reverts("Clearinghouse: written before delivery end"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before


def test_finalize_settlement__newer_value_restarts_window__reverts(protocol, clearinghouse, plain, snapshot):
    market, end = plain
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_000)
    protocol.set_settlement(market, 46 * USDC)
    boa.env.time_travel(seconds=1_000)
    before = snapshot()

    with boa.reverts("Clearinghouse: dispute window open"):
        clearinghouse.finalize_settlement(market)

    assert snapshot() == before
