"""ClearinghouseView.account_summary: the composite the Clearinghouse served before issue 13,
built from its pinned views (collateral, equity, margin_requirements, open_markets, mark)."""

import boa

from tests.utils.contract_helpers import MARK, UNIT, USDC


def test_account_summary__two_markets__every_field(clearinghouse, clearinghouse_view, book_two, trader):
    s = clearinghouse_view.account_summary(trader.address)

    assert s.collateral == 1_000 * USDC
    assert s.equity == clearinghouse.equity(trader.address)
    assert (s.initial, s.maintenance) == clearinghouse.margin_requirements(trader.address)
    assert (s.fresh, s.open_markets) == (True, 2)


def test_account_summary__one_stale_mark__not_fresh(
    clearinghouse_view, market, second_market, book_two, trader, protocol
):
    boa.env.time_travel(seconds=3_000)
    protocol.set_mark(market, 47_123_457)
    boa.env.time_travel(seconds=700)  # market 2's mark is now 3,701 s old

    assert clearinghouse_view.account_summary(trader.address).fresh is False


def test_account_summary__halted_leg_on_stale_mark__not_fresh(
    clearinghouse, clearinghouse_view, market, funded, book, guardian, maker, taker
):
    book(taker, maker, market, UNIT, MARK)
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    boa.env.time_travel(seconds=3_601)

    # a halt does not make a mark fresh: the summary says so, the margins are still the last mark's
    s = clearinghouse_view.account_summary(taker.address)
    assert s.fresh is False and (s.initial, s.maintenance) == clearinghouse.margin_requirements(taker.address)


def test_account_summary__settled_market__fresh_and_no_margin(
    protocol, clearinghouse, clearinghouse_view, market, funded, book, maker, taker
):
    book(taker, maker, market, UNIT, MARK)
    boa.env.evm.patch.timestamp = clearinghouse.market(market).delivery_end
    protocol.set_settlement(market, 44_440_000)
    boa.env.time_travel(seconds=3_600)
    clearinghouse.finalize_settlement(market)
    boa.env.time_travel(seconds=30 * 86_400)

    s = clearinghouse_view.account_summary(taker.address)
    # settled value is final: fresh, nothing to margin, unrealised = 1 * (44.44 - 50)
    assert (s.fresh, s.initial, s.maintenance, s.open_markets) == (True, 0, 0, 1)
    assert s.equity == s.collateral - 5_560_000 == clearinghouse.equity(taker.address)


def test_account_summary__no_positions__collateral_only(clearinghouse_view, fund, trader):
    fund(trader, 7)

    assert tuple(clearinghouse_view.account_summary(trader.address)) == (7, 7, 0, 0, True, 0)
    assert tuple(clearinghouse_view.account_summary(boa.env.generate_address("nobody"))) == (0, 0, 0, 0, True, 0)
