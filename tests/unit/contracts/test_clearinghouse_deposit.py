"""Clearinghouse.deposit: pull collateral from the caller into its own account."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events


@pytest.fixture
def minted(usdc, trader):
    usdc.mint(trader.address, 1_000 * USDC)


def test_deposit__approved__credits_caller(clearinghouse, usdc, trader, minted):
    with boa.env.prank(trader.address):
        usdc.approve(clearinghouse.address, 400 * USDC)
        clearinghouse.deposit(400 * USDC)

    (deposit,) = events(clearinghouse, "Deposit")
    (updated,) = events(clearinghouse, "CollateralUpdated")
    assert (deposit.account, deposit.payer, deposit.amount) == (trader.address, trader.address, 400 * USDC)
    assert (updated.account, updated.collateral) == (trader.address, 400 * USDC)
    assert clearinghouse.collateral(trader.address) == 400 * USDC
    assert usdc.balanceOf(trader.address) == 600 * USDC
    assert usdc.balanceOf(clearinghouse.address) == 400 * USDC
    assert usdc.allowance(trader.address, clearinghouse.address) == 0


def test_deposit__twice__adds_up(clearinghouse, usdc, trader, minted):
    with boa.env.prank(trader.address):
        usdc.approve(clearinghouse.address, 1_000 * USDC)
        clearinghouse.deposit(1)
        clearinghouse.deposit(999_999_999)

    assert clearinghouse.collateral(trader.address) == 1_000 * USDC
    assert usdc.balanceOf(trader.address) == 0


def test_deposit__zero_amount__reverts(clearinghouse, usdc, trader, minted, snapshot):
    with boa.env.prank(trader.address):
        usdc.approve(clearinghouse.address, 1_000 * USDC)
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: zero amount"):
        clearinghouse.deposit(0)

    assert snapshot() == before


def test_deposit__not_approved__reverts(clearinghouse, trader, minted, snapshot):
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("erc20: insufficient allowance"):
        clearinghouse.deposit(1)

    assert snapshot() == before


def test_deposit__above_balance__reverts(clearinghouse, usdc, trader, minted, snapshot):
    with boa.env.prank(trader.address):
        usdc.approve(clearinghouse.address, 2_000 * USDC)
    before = snapshot()

    with boa.env.prank(trader.address), boa.reverts("erc20: transfer amount exceeds balance"):
        clearinghouse.deposit(1_000 * USDC + 1)

    assert snapshot() == before


def test_deposit__token_returns_false__reverts(failing_protocol, failing_snapshot, trader):
    token, ch = failing_protocol.usdc, failing_protocol.clearinghouse
    token.mint(trader.address, 100)
    with boa.env.prank(trader.address):
        token.approve(ch.address, 100)
    token.set_failing(True)
    before = failing_snapshot()

    with boa.env.prank(trader.address), boa.reverts("Clearinghouse: transfer failed"):
        ch.deposit(100)

    assert failing_snapshot() == before

    assert ch.collateral(trader.address) == 0
    assert token.balanceOf(trader.address) == 100
    assert token.balanceOf(ch.address) == 0
