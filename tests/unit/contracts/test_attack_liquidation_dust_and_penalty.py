"""Attack (issue 16.8, liquidation): a partial liquidation could leave a position below the
market's minimum quantity (dust no order can close, since every order is >= min_quantity), and
the penalty, a share of the maintenance margin, reached 26% of the notional at low prices.

Now: a partial liquidation takes all of the position or leaves at least the minimum, and the
penalty is capped at `penalty_cap_bps` (default 10%) of the notional liquidated.
"""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events


@pytest.fixture
def lot_market(protocol):
    """0.1 MWh minimum, 10 kWh step, 10 cent tick."""
    mid = protocol.list_market("LOTS", quantity_step=10, min_quantity=100, price_tick=100_000)
    protocol.set_mark(mid, MARK)
    return mid


def test_attack__remainder_below_min_quantity__whole_position_taken(
    clearinghouse, lot_market, set_mark, funded, fund, book, trader, maker, liquidator
):
    fund(trader, 30 * USDC)
    book(trader, maker, lot_market, UNIT, MARK)
    # equity $2.50, MM $13.375, penalty $2.25/MWh: health needs 978 kWh (980 in steps), which
    # used to leave a 20 kWh remainder below the 100 kWh minimum
    set_mark(lot_market, 22_500_000)

    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, lot_market, 10**9)

    assert taken == UNIT
    assert clearinghouse.position(trader.address, lot_market)[0] == 0


def test_attack__caller_caps_below_the_whole__leaves_at_least_the_minimum(
    clearinghouse, lot_market, set_mark, funded, fund, book, trader, maker, liquidator
):
    fund(trader, 30 * USDC)
    book(trader, maker, lot_market, UNIT, MARK)
    set_mark(lot_market, 22_500_000)

    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, lot_market, 950)

    assert taken == 900
    assert clearinghouse.position(trader.address, lot_market)[0] == 100


@pytest.mark.parametrize("mark", [1 * USDC, 2 * USDC, 5 * USDC, 10 * USDC, 15 * USDC, 20 * USDC])
def test_attack__low_price__penalty_at_most_ten_percent_of_notional(
    clearinghouse, market, second_market, set_mark, funded, fund, book, trader, maker, liquidator, mark
):
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(market, mark)

    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, market, 10**9)

    (log,) = events(clearinghouse, "Liquidation")
    notional = abs(log.quantity) * abs(log.price) // 1000
    assert log.penalty * 10 <= notional
