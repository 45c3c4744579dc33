"""MockUSDC.transferFrom (snekmate erc20): spends allowance, infinite allowance is not spent."""

import boa
import pytest

from tests.utils.contract_helpers import USDC

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def approved(usdc, holder, spender):
    usdc.mint(holder, 100 * USDC)
    with boa.env.prank(holder):
        usdc.approve(spender, 60 * USDC)


def test_transfer_from__within_allowance__moves_and_spends(usdc, approved, holder, spender, recipient):
    with boa.env.prank(spender):
        assert usdc.transferFrom(holder, recipient, 45 * USDC) is True

    assert usdc.balanceOf(recipient) == 45 * USDC
    assert usdc.balanceOf(holder) == 55 * USDC
    assert usdc.allowance(holder, spender) == 15 * USDC


def test_transfer_from__infinite_allowance__not_spent(usdc, approved, holder, spender, recipient):
    with boa.env.prank(holder):
        usdc.approve(spender, 2**256 - 1)
    with boa.env.prank(spender):
        usdc.transferFrom(holder, recipient, 100 * USDC)

    assert usdc.allowance(holder, spender) == 2**256 - 1


def test_transfer_from__above_allowance__reverts(usdc, approved, holder, spender, recipient, snapshot):
    before = snapshot(holder, spender, recipient)

    with boa.env.prank(spender), boa.reverts("erc20: insufficient allowance"):
        usdc.transferFrom(holder, recipient, 60 * USDC + 1)

    assert snapshot(holder, spender, recipient) == before


def test_transfer_from__above_balance__reverts(usdc, approved, holder, spender, recipient, snapshot):
    with boa.env.prank(holder):
        usdc.approve(spender, 1_000 * USDC)
    before = snapshot(holder, spender, recipient)

    with boa.env.prank(spender), boa.reverts("erc20: transfer amount exceeds balance"):
        usdc.transferFrom(holder, recipient, 100 * USDC + 1)

    assert snapshot(holder, spender, recipient) == before


def test_transfer_from__to_zero_address__reverts(usdc, approved, holder, spender, snapshot):
    before = snapshot(holder, spender)

    with boa.env.prank(spender), boa.reverts("erc20: transfer to the zero address"):
        usdc.transferFrom(holder, ZERO, 1)

    assert snapshot(holder, spender) == before
