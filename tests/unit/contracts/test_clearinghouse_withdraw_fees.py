"""Clearinghouse.withdraw_fees: the owner sends accrued trading fees out."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, events

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def treasury():
    return boa.env.generate_address("treasury")


@pytest.fixture
def accrued(market, funded, book, maker, taker):
    """$0.70 of fees accrued."""
    book(taker, maker, market, UNIT, MARK, buyer_fee=400_000, seller_fee=300_000)


def test_withdraw_fees__owner__sends_part(clearinghouse, usdc, accrued, owner, treasury):
    held = usdc.balanceOf(clearinghouse.address)
    with boa.env.prank(owner):
        clearinghouse.withdraw_fees(treasury, 500_000)

    (log,) = events(clearinghouse, "FeesWithdrawn")
    assert (log.to, log.amount) == (treasury, 500_000)
    assert clearinghouse.fees() == 200_000
    assert usdc.balanceOf(treasury) == 500_000
    assert usdc.balanceOf(clearinghouse.address) == held - 500_000


def test_withdraw_fees__all__pool_empty(clearinghouse, usdc, accrued, owner, treasury):
    with boa.env.prank(owner):
        clearinghouse.withdraw_fees(treasury, 700_000)

    assert clearinghouse.fees() == 0
    assert usdc.balanceOf(treasury) == 700_000


def test_withdraw_fees__more_than_accrued__reverts(clearinghouse, accrued, owner, treasury, snapshot):
    before = snapshot(treasury)

    with boa.env.prank(owner), boa.reverts("Clearinghouse: exceeds fees"):
        clearinghouse.withdraw_fees(treasury, 700_001)

    assert snapshot(treasury) == before


def test_withdraw_fees__to_zero_address__reverts(clearinghouse, accrued, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("erc20: transfer to the zero address"):
        clearinghouse.withdraw_fees(ZERO, 1)

    assert snapshot() == before


def test_withdraw_fees__non_owner__reverts(clearinghouse, accrued, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.withdraw_fees(non_owner, 1)

    assert snapshot() == before


def test_withdraw_fees__token_returns_false__reverts(failing_protocol, failing_snapshot, maker, taker, treasury):
    fp = failing_protocol
    ch = fp.clearinghouse
    mid = fp.list_market("FEES")
    fp.set_mark(mid, MARK)
    fp.fund(maker.address, 10**9)
    fp.fund(taker.address, 10**9)
    with boa.env.prank(fp.exchange.address):
        ch.trade(mid, taker.address, maker.address, UNIT, MARK, 5, 5)
    fp.usdc.set_failing(True)
    before = failing_snapshot(treasury)

    with boa.env.prank(fp.owner), boa.reverts("Clearinghouse: transfer failed"):
        ch.withdraw_fees(treasury, 10)

    assert failing_snapshot(treasury) == before

    assert ch.fees() == 10
    assert fp.usdc.balanceOf(treasury) == 0
