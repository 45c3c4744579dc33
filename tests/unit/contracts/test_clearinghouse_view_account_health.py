"""ClearinghouseView.account_health: account_summary plus is_liquidatable and adl_pending."""

import boa

from tests.utils.contract_helpers import MARK, UNIT, USDC


def test_account_health__healthy__not_liquidatable(clearinghouse_view, market, funded, book, maker, taker):
    book(taker, maker, market, UNIT, MARK)

    h = clearinghouse_view.account_health(taker.address)
    assert h.summary == clearinghouse_view.account_summary(taker.address)
    assert (h.liquidatable, h.adl_pending) == (False, False)


def test_account_health__below_maintenance__liquidatable(
    clearinghouse, clearinghouse_view, market, funded, fund, book, set_mark, trader, maker
):
    fund(trader, 30 * USDC)
    book(trader, maker, market, UNIT, MARK)
    set_mark(market, 35_290_000)  # equity $15.29 < MM $15.2935

    h = clearinghouse_view.account_health(trader.address)
    assert h.liquidatable is True is clearinghouse.is_liquidatable(trader.address)
    assert h.adl_pending is False


def test_account_health__insolvent_beyond_fund__flagged(
    clearinghouse, clearinghouse_view, market, insolvent, trader, liquidator
):
    with boa.env.prank(liquidator.address):
        assert clearinghouse.liquidate(trader.address, market, UNIT) == 0  # empty fund: flagged only

    h = clearinghouse_view.account_health(trader.address)
    assert (h.liquidatable, h.adl_pending) == (True, True) and h.summary.equity == -10 * USDC
