"""Attack (issue 16.3): bad debt fell on whoever withdrew last.

The old sequence: an account goes insolvent beyond the insurance fund and is closed out; its
shortfall is written off as `bad_debt`, so the claims (collateral + fees) exceed the token balance
by that amount; the owner withdraws the fees first, the first withdrawers get out whole, and the
last withdrawer's `withdraw` fails with "transfer amount exceeds balance".

Now: nothing is written off. The close-out refuses to run while the fund cannot carry the loss
(the account is flagged, `withdraw_fees` is refused), `deleverage` assigns the loss to the most
profitable opposite position, and afterwards every claim is paid in full, in any order.
"""

import boa

from tests.utils.contract_helpers import MARK, UNIT, USDC, events

FEE = USDC


def _claims(protocol, accounts):
    ch = protocol.clearinghouse
    return sum(ch.collateral(a.address) for a in accounts) + ch.insurance_fund() + ch.fees()


def test_attack__insolvent_beyond_fund__every_claim_paid_in_any_order(
    protocol,
    clearinghouse,
    usdc,
    market,
    second_market,
    funded,
    fund,
    book,
    set_mark,
    owner,
    trader,
    maker,
    taker,
    keeper,
    liquidator,
):
    everyone = [trader, maker, taker, keeper, liquidator]
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK, FEE, FEE)
    book(trader, maker, second_market, UNIT, MARK, FEE, FEE)
    set_mark(market, -20 * USDC)  # trader: 58 - 70 = -$12, the insurance fund is empty
    assert clearinghouse.insurance_fund() == 0 and clearinghouse.fees() == 4 * FEE

    # 1. the close-out that used to write $12 off: now it only flags the account
    with boa.env.prank(liquidator.address):
        assert clearinghouse.liquidate(trader.address, market, 10**9) == 0
    assert events(clearinghouse, "DeleverageNeeded")[0].account == trader.address
    assert clearinghouse.bad_debt() == 0

    # 2. the owner used to withdraw the fees first
    with boa.env.prank(owner), boa.reverts("Clearinghouse: loss unassigned"):
        clearinghouse.withdraw_fees(owner, 4 * FEE)

    # 3. the loss goes to the profitable short, the rest is an ordinary liquidation
    with boa.env.prank(keeper.address):
        clearinghouse.deleverage(trader.address, market, [maker.address])
    with boa.env.prank(liquidator.address):
        clearinghouse.liquidate(trader.address, second_market, 10**9)
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.adl_pending_count() == 0
    assert usdc.balanceOf(clearinghouse.address) == _claims(protocol, everyone)

    # 4. the liquidator passes its leg back to the maker; then every claim is paid in full, and
    #    the last withdrawer is not short
    book(maker, liquidator, second_market, UNIT, MARK)
    with boa.env.prank(owner):
        clearinghouse.withdraw_fees(owner, 4 * FEE)
    for who in (maker, liquidator, keeper, taker):
        amount = clearinghouse.collateral(who.address)
        if amount > 0:
            with boa.env.prank(who.address):
                clearinghouse.withdraw(amount)
            assert clearinghouse.collateral(who.address) == 0
    assert usdc.balanceOf(clearinghouse.address) == clearinghouse.insurance_fund() + clearinghouse.collateral(
        trader.address
    )
    assert usdc.balanceOf(clearinghouse.address) >= 0 and clearinghouse.bad_debt() == 0
