"""MockUSDC.mint: open devnet faucet, at most 1,000,000 USDC per call."""

import boa

from tests.utils.contract_helpers import USDC, events

ZERO = "0x0000000000000000000000000000000000000000"
CAP = 1_000_000 * USDC


def test_mint__anyone__credits_recipient(usdc, non_owner, holder):
    with boa.env.prank(non_owner):
        usdc.mint(holder, 123 * USDC)

    (log,) = events(usdc, "Transfer")
    assert (log.sender, log.receiver, log.value) == (ZERO, holder, 123 * USDC)
    assert usdc.balanceOf(holder) == 123 * USDC
    assert usdc.totalSupply() == 123 * USDC


def test_mint__exactly_cap__accepted_and_repeatable(usdc, holder):
    usdc.mint(holder, CAP)
    usdc.mint(holder, CAP)

    assert usdc.balanceOf(holder) == 2 * CAP
    assert usdc.MAX_MINT() == CAP


def test_mint__above_cap__reverts(usdc, holder, snapshot):
    before = snapshot(holder)

    with boa.reverts("MockUSDC: above faucet cap"):
        usdc.mint(holder, CAP + 1)

    assert snapshot(holder) == before


def test_mint__zero_address__reverts(usdc, snapshot):
    before = snapshot()

    with boa.reverts("erc20: mint to the zero address"):
        usdc.mint(ZERO, 1)

    assert snapshot() == before
