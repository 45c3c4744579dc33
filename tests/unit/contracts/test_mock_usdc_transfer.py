"""MockUSDC.transfer (snekmate erc20)."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def minted(usdc, holder):
    usdc.mint(holder, 100 * USDC)


def test_transfer__within_balance__moves_tokens(usdc, minted, holder, recipient):
    with boa.env.prank(holder):
        assert usdc.transfer(recipient, 40 * USDC) is True

    (log,) = events(usdc, "Transfer")
    assert (log.sender, log.receiver, log.value) == (holder, recipient, 40 * USDC)
    assert usdc.balanceOf(holder) == 60 * USDC
    assert usdc.balanceOf(recipient) == 40 * USDC
    assert usdc.totalSupply() == 100 * USDC


def test_transfer__whole_balance_and_zero__accepted(usdc, minted, holder, recipient):
    with boa.env.prank(holder):
        usdc.transfer(recipient, 0)
        usdc.transfer(recipient, 100 * USDC)

    assert usdc.balanceOf(holder) == 0


def test_transfer__above_balance__reverts(usdc, minted, holder, recipient, snapshot):
    before = snapshot(holder, recipient)

    with boa.env.prank(holder), boa.reverts("erc20: transfer amount exceeds balance"):
        usdc.transfer(recipient, 100 * USDC + 1)

    assert snapshot(holder, recipient) == before


def test_transfer__to_zero_address__reverts(usdc, minted, holder, snapshot):
    before = snapshot(holder)

    with boa.env.prank(holder), boa.reverts("erc20: transfer to the zero address"):
        usdc.transfer(ZERO, 1)

    assert snapshot(holder) == before
