"""Attack (issue 16.4): closing out an insolvent account paid nothing and was all-or-nothing.

The old sequence: an account is insolvent across several markets, one of them halted. A keeper's
`liquidate` had to take every position at once (carrying the whole book at IM in one transaction,
3.25M gas at 32 markets), earned no penalty and no reward, and reverted "market halted" because of
the one halted market, so nobody closed the account out.

Now: one market per call, each paying the caller a reward from the insurance fund; a halted
market is closed out at its last mark; a keeper with capital for one leg can do it leg by leg.
"""

import boa

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, role_trader


def test_attack__insolvent_book_with_halted_market__closed_leg_by_leg_each_paid(
    protocol, clearinghouse, market, set_mark, funded, fund, book, insurance, guardian, trader, maker
):
    legs = [market] + [protocol.list_market(f"LEG{i}") for i in range(3)]
    for mid in legs[1:]:
        protocol.set_mark(mid, MARK)
    fund(trader, 120 * USDC)
    for mid in legs:
        book(trader, maker, mid, UNIT, MARK)
    insurance(100 * USDC)
    set_mark(market, -30 * USDC)  # -$80 on this leg
    for mid in legs[1:]:
        set_mark(mid, 20 * USDC)  # -$30 on each of the others: equity 120 - 80 - 90 = -$50
    assert clearinghouse.equity(trader.address) == -50 * USDC
    with boa.env.prank(guardian):
        clearinghouse.halt_market(legs[2])

    # a small keeper: $40 covers the IM of one 1 MWh leg, not of the whole book
    keeper = role_trader("small_keeper")
    fund(keeper, 40 * USDC)
    rewards = []
    for mid in legs:
        with boa.env.prank(keeper.address):
            assert clearinghouse.liquidate(trader.address, mid, 10**9) == UNIT
        (log,) = events(clearinghouse, "Liquidation")
        rewards.append(log.reward)
        # the keeper sells each leg on before taking the next (a halted market takes risk-reducing trades)
        book(maker, keeper, mid, UNIT, log.price)

    assert all(r >= USDC for r in rewards)  # paid for every close-out, the halted one included
    assert clearinghouse.open_markets(trader.address) == []
    assert clearinghouse.collateral(trader.address) == 0
    assert clearinghouse.bad_debt() == 0
