"""MockUSDC.approve (snekmate erc20)."""

import boa

from tests.utils.contract_helpers import events

ZERO = "0x0000000000000000000000000000000000000000"


def test_approve__spender__allowance_set_and_overwritten(usdc, holder, spender):
    with boa.env.prank(holder):
        assert usdc.approve(spender, 50) is True
        usdc.approve(spender, 7)

    (log,) = events(usdc, "Approval")
    assert (log.owner, log.spender, log.value) == (holder, spender, 7)
    assert usdc.allowance(holder, spender) == 7


def test_approve__without_balance__allowed(usdc, holder, spender):
    with boa.env.prank(holder):
        usdc.approve(spender, 2**256 - 1)

    assert usdc.allowance(holder, spender) == 2**256 - 1


def test_approve__zero_spender__reverts(usdc, holder, snapshot):
    before = snapshot(holder)

    with boa.env.prank(holder), boa.reverts("erc20: approve to the zero address"):
        usdc.approve(ZERO, 1)

    assert snapshot(holder) == before
