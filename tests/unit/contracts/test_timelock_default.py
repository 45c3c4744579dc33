"""Timelock.__default__: it receives ETH (forfeited Oracle dispute bonds are credited to the
owner, i.e. the Timelock) and can only move it on through a queued call."""

import boa
import pytest
from eth.exceptions import Revert
from eth_abi import encode

from tests.utils.contract_helpers import USDC, submit_rows
from tests.utils.deployers import feed_id
from tests.utils.timelock import DAY, govern

FEED = feed_id("TIMELOCK/SETTLE")
BOND = 10**17
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


@pytest.fixture(scope="module")
def governed(protocol, owner, reporters):
    with boa.env.prank(owner):
        if hasattr(protocol.oracle, "set_settlement_feed"):
            # issue 16.1 Oracle: only a settlement feed takes public (bonded) disputes
            protocol.oracle.set_settlement_feed(FEED, -1_000 * USDC, 1_000 * USDC, boa.env.evm.patch.timestamp, 3_600)
        else:
            protocol.oracle.set_feed(FEED, -1_000 * USDC, 1_000 * USDC)
    submit_rows(protocol, reporters[:2], [FEED], [[5], [5]])
    return govern(protocol, DAY)


@pytest.fixture(scope="module")
def timelock(governed):
    return governed.timelock


@pytest.fixture(scope="module")
def disputer():
    return boa.env.generate_address("disputer")


def test_default__plain_transfer__received(timelock, non_owner):
    boa.env.set_balance(non_owner, 10**18)

    with boa.env.prank(non_owner):
        computation = boa.env.raw_call(timelock.address, value=10**17)

    assert boa.env.get_balance(timelock.address) == 10**17
    (log,) = timelock.get_logs(computation=computation)
    assert (log.sender, log.amount) == (non_owner, 10**17)


def test_default__forfeited_bond__claimed_through_queue(governed, timelock, oracle, disputer):
    """A wrong dispute's bond goes to the owner; the Timelock claims it with a queued call
    (Oracle.claim_bond pays with `send`, 2,300 gas: __default__ must fit in it)."""
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        oracle.dispute(FEED, value=BOND)
    resolve = governed.queue(governed.call(oracle, "resolve", FEED, 5))  # unchanged: disputer wrong
    governed.warp_to(resolve[3])
    governed.execute(resolve)
    assert oracle.bond_claims(timelock.address) == BOND
    claim = governed.queue_due(governed.call(oracle, "claim_bond"))

    governed.execute(claim)

    assert boa.env.get_balance(timelock.address) == BOND
    assert oracle.bond_claims(timelock.address) == 0


def test_default__held_eth__leaves_only_through_queue(governed, timelock, non_owner, snapshot):
    boa.env.set_balance(timelock.address, BOND)
    payout = governed.queue((non_owner, BOND, b""))
    before = snapshot(contracts=[timelock])

    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        timelock.execute(*payout)

    assert snapshot(contracts=[timelock]) == before
    governed.warp_to(payout[3])
    governed.execute(payout)
    assert boa.env.get_balance(non_owner) == BOND


@pytest.mark.parametrize("data", [bytes.fromhex("715018a6"), b"\x00", bytes.fromhex("deadbeef") + b"\x00" * 32])
def test_default__calldata_of_no_function__reverts(timelock, non_owner, snapshot, data):
    """e.g. renounce_ownership() (0x715018a6), which the Timelock does not have: a typo or a
    wrong ABI must fail loudly, not succeed doing nothing."""
    boa.env.set_balance(non_owner, 10**18)
    before = snapshot(non_owner, contracts=[timelock])

    with boa.env.prank(non_owner), pytest.raises(Revert) as e:
        boa.env.raw_call(timelock.address, data=data, value=1)

    assert e.value.args[0] == ERROR_SELECTOR + encode(["string"], ["Timelock: unknown function"])
    assert snapshot(non_owner, contracts=[timelock]) == before
