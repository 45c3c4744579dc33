"""Attack (issue 16 #1): a 0.1 ETH dispute freezes an account and a market.

The review: anyone could `dispute` any feed for the bond. A disputed mark counts as stale;
with a 1 kWh position in an obscure market plus a dispute of that market's mark, the account
became unliquidatable in every market and every holder of the market could not withdraw;
after `resolve` + `reopen` the attacker disputed again at once. Now only the guardian can
dispute (make stale) a mark feed; a public bonded dispute applies to settlement values only.
"""

import boa
import pytest

from tests.utils.contract_helpers import FUNDING, MARK, USDC

BOND = 10**17  # the 0.1 ETH of the review


@pytest.fixture(scope="module")
def attacker():
    a = boa.env.generate_address("attacker")
    return a


@pytest.fixture
def obscure(protocol, funded, book, maker, taker):
    """An obscure market where taker holds 1 kWh long against maker."""
    mid = protocol.list_market("OBSCURE")
    protocol.set_mark(mid, MARK)
    book(taker, maker, mid, 1, MARK)
    return mid


def test_attack__stranger_disputes_mark_for_bond__reverts(protocol, clearinghouse, obscure, attacker, taker, snapshot):
    mark_feed = protocol.feeds[obscure][0]
    boa.env.set_balance(attacker, BOND)
    before = snapshot(attacker)

    with boa.env.prank(attacker), boa.reverts("Oracle: only the guardian disputes marks"):
        protocol.oracle.dispute(mark_feed, value=BOND)

    assert snapshot(attacker) == before
    assert boa.env.get_balance(attacker) == BOND
    # the harm that no longer happens: the mark stays fresh, the holder can still withdraw
    assert clearinghouse.mark(obscure)[2] is True
    with boa.env.prank(taker.address):
        clearinghouse.withdraw(1 * USDC)
    assert clearinghouse.collateral(taker.address) == FUNDING - 1 * USDC


def test_attack__stranger_disputes_mark_for_free__reverts(protocol, obscure, attacker):
    with boa.env.prank(attacker), boa.reverts("Oracle: only the guardian disputes marks"):
        protocol.oracle.dispute(protocol.feeds[obscure][0])


def test_attack__dispute_again_after_resolve_and_reopen__stranger_still_refused(
    protocol, obscure, guardian, owner, attacker
):
    mark_feed = protocol.feeds[obscure][0]
    with boa.env.prank(guardian):
        protocol.oracle.dispute(mark_feed)
    with boa.env.prank(owner):
        protocol.oracle.resolve(mark_feed, MARK)
        protocol.oracle.reopen(mark_feed)
    boa.env.set_balance(attacker, BOND)

    with boa.env.prank(attacker), boa.reverts("Oracle: only the guardian disputes marks"):
        protocol.oracle.dispute(mark_feed, value=BOND)


def test_guardian__still_disputes_a_mark__mark_stale(protocol, clearinghouse, obscure, guardian):
    with boa.env.prank(guardian):
        protocol.oracle.dispute(protocol.feeds[obscure][0])

    assert protocol.oracle.feed(protocol.feeds[obscure][0])[3] is True
    assert clearinghouse.mark(obscure)[2] is False


def test_public_dispute__settlement_value__allowed_and_mark_untouched(protocol, clearinghouse, obscure, attacker):
    end = clearinghouse.market(obscure).delivery_end
    boa.env.evm.patch.timestamp = end
    protocol.set_mark(obscure, MARK + USDC)
    protocol.set_settlement(obscure, MARK)
    boa.env.set_balance(attacker, BOND)
    with boa.env.prank(attacker):
        protocol.oracle.dispute(protocol.feeds[obscure][1], value=BOND)

    assert protocol.oracle.feed(protocol.feeds[obscure][1])[3] is True
    assert protocol.oracle.feed(protocol.feeds[obscure][0])[3] is False
