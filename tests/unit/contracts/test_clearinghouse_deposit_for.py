"""Clearinghouse.deposit_for: the caller pays, another account is credited."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def treasury():
    return boa.env.generate_address("treasury")


@pytest.fixture
def approved(usdc, clearinghouse, treasury):
    usdc.mint(treasury, 1_000 * USDC)
    with boa.env.prank(treasury):
        usdc.approve(clearinghouse.address, 1_000 * USDC)


def test_deposit_for__treasury__credits_account(clearinghouse, usdc, treasury, trader, approved):
    with boa.env.prank(treasury):
        clearinghouse.deposit_for(trader.address, 250 * USDC)

    (log,) = events(clearinghouse, "Deposit")
    assert (log.account, log.payer, log.amount) == (trader.address, treasury, 250 * USDC)
    assert clearinghouse.collateral(trader.address) == 250 * USDC
    assert clearinghouse.collateral(treasury) == 0
    assert usdc.balanceOf(treasury) == 750 * USDC
    assert usdc.balanceOf(clearinghouse.address) == 250 * USDC


def test_deposit_for__self__same_as_deposit(clearinghouse, treasury, approved):
    with boa.env.prank(treasury):
        clearinghouse.deposit_for(treasury, 1)

    assert clearinghouse.collateral(treasury) == 1


def test_deposit_for__account_withdraws__payer_has_no_claim(clearinghouse, usdc, treasury, trader, approved, snapshot):
    with boa.env.prank(treasury):
        clearinghouse.deposit_for(trader.address, 250 * USDC)
    before = snapshot(treasury)
    with boa.env.prank(treasury), boa.reverts("Clearinghouse: exceeds collateral"):
        clearinghouse.withdraw(1)
    assert snapshot(treasury) == before
    with boa.env.prank(trader.address):
        clearinghouse.withdraw(250 * USDC)

    assert usdc.balanceOf(trader.address) == 250 * USDC


def test_deposit_for__zero_account__reverts(clearinghouse, treasury, approved, snapshot):
    before = snapshot(treasury)

    with boa.env.prank(treasury), boa.reverts("Clearinghouse: zero account"):
        clearinghouse.deposit_for(ZERO, 1)

    assert snapshot(treasury) == before


def test_deposit_for__zero_amount__reverts(clearinghouse, treasury, trader, approved, snapshot):
    before = snapshot(treasury)

    with boa.env.prank(treasury), boa.reverts("Clearinghouse: zero amount"):
        clearinghouse.deposit_for(trader.address, 0)

    assert snapshot(treasury) == before


def test_deposit_for__not_approved__reverts(clearinghouse, usdc, trader, non_owner, snapshot):
    usdc.mint(non_owner, 10)
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("erc20: insufficient allowance"):
        clearinghouse.deposit_for(trader.address, 10)

    assert snapshot() == before


def test_deposit_for__token_returns_false__reverts(failing_protocol, failing_snapshot, treasury, trader):
    token, ch = failing_protocol.usdc, failing_protocol.clearinghouse
    token.mint(treasury, 100)
    with boa.env.prank(treasury):
        token.approve(ch.address, 100)
    token.set_failing(True)
    before = failing_snapshot(treasury)

    with boa.env.prank(treasury), boa.reverts("Clearinghouse: transfer failed"):
        ch.deposit_for(trader.address, 100)

    assert failing_snapshot(treasury) == before

    assert ch.collateral(trader.address) == 0
    assert token.balanceOf(treasury) == 100
