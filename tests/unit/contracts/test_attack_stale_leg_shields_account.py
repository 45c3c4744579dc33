"""Attack (issue 16.1): a 0.1 ETH dispute froze an account and a market.

The old sequence: the attacker holds a losing position in a liquid market and 1 kWh in an obscure
one, then disputes the obscure market's MARK feed for the bond. A disputed mark counted as stale
and `liquidate` needed every mark of the account fresh, so the account could not be liquidated in
ANY market while it sank into bad debt.

Now: only the guardian can make a mark stale (the Oracle refuses a stranger's dispute of a mark
feed, see the oracle's own attack test), and even then the Clearinghouse values the stale leg one
maintenance margin against it instead of refusing the whole account: the liquid leg is liquidated.
"""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events


@pytest.fixture
def obscure(protocol):
    mid = protocol.list_market("OBSCURE")
    protocol.set_mark(mid, MARK)
    return mid


@pytest.fixture
def attacker_book(market, obscure, funded, fund, book, trader, maker):
    """trader (the attacker): $31, long 1 MWh of the liquid market and 1 kWh of the obscure one."""
    fund(trader, 31 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, obscure, 1, MARK)


def _sinks(protocol, clearinghouse, market, trader, set_mark):
    set_mark(market, 25 * USDC)  # equity $6 < MM ~$13.77: liquidatable, sinking
    assert clearinghouse.equity(trader.address) < clearinghouse.margin_requirements(trader.address)[1]


def test_attack__stranger_disputes_obscure_mark__liquid_leg_still_liquidated(
    protocol, clearinghouse, oracle, market, obscure, attacker_book, set_mark, trader, liquidator
):
    attacker = boa.env.generate_address("dispute_attacker")
    boa.env.set_balance(attacker, 10**18)
    bond = oracle.dispute_bond()
    # the old attack's move: the Oracle now refuses it for mark feeds (the old one accepted it)
    with boa.env.prank(attacker), boa.reverts("Oracle: only the guardian disputes marks"):
        oracle.dispute(protocol.feeds[obscure][0], value=bond)
    assert clearinghouse.mark(obscure)[2]
    _sinks(protocol, clearinghouse, market, trader, set_mark)

    assert clearinghouse.is_liquidatable(trader.address)
    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, market, 10**9)

    assert taken > 0
    assert events(clearinghouse, "Liquidation")[0].market_id == market


def test_attack__obscure_mark_stale__valued_against_the_account_not_a_shield(
    protocol, clearinghouse, oracle, market, obscure, attacker_book, set_mark, guardian, trader, liquidator
):
    # whoever can still make the obscure mark stale (the guardian, or a reporter outage) ...
    with boa.env.prank(guardian):
        oracle.dispute(protocol.feeds[obscure][0])
    assert not clearinghouse.mark(obscure)[2]
    _sinks(protocol, clearinghouse, market, trader, set_mark)
    s = protocol.view.account_summary(trader.address)
    assert not s.fresh

    # the stale leg itself cannot be moved at a stale price ...
    with boa.env.prank(liquidator.address), boa.reverts("Clearinghouse: stale mark"):
        clearinghouse.liquidate(trader.address, obscure, 10**9)
    # ... but it cannot freeze the account: the liquid leg goes, the stale 1 kWh stays
    with boa.env.prank(liquidator.address):
        taken = clearinghouse.liquidate(trader.address, market, 10**9)

    assert taken > 0
    assert clearinghouse.position(trader.address, obscure)[0] == 1


def test_attack__reporters_stop_on_obscure_market__account_still_liquidatable(
    protocol, clearinghouse, market, obscure, attacker_book, set_mark, trader, liquidator
):
    boa.env.time_travel(seconds=3_601)  # every mark stale; only the liquid market is pushed again
    _sinks(protocol, clearinghouse, market, trader, set_mark)

    with boa.env.prank(liquidator.address):
        assert clearinghouse.liquidate(trader.address, market, 10**9) > 0
