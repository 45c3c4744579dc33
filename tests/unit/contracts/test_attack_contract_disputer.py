"""Attack / failure (issue 16 #8, #5 of the oracle brief): bonds paid with `send`.

`claim_bond` paid with `send` (2,300 gas stipend), so a Safe or any contract wallet whose
receive does real work could not be a disputer: its bond stayed stuck. Now bonds are paid
with a plain call forwarding all gas, and `claim_bond(to)` lets a contract that cannot take
ETH at all (a timelock owner collecting forfeited bonds) send its claim elsewhere.
"""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import configure_settlement_feed, feed_id

BOND = 10**17
FEED = feed_id("ATTACK/WALLET/SETTLE")

# a contract wallet: forwards calls, and its receive writes storage (> 2,300 gas), like a
# Safe's fallback emitting SafeReceived
WALLET = """
# pragma version ~=0.4.3
received: public(uint256)
payments: public(uint256)

@external
@payable
def execute(target: address, data: Bytes[256]):
    raw_call(target, data, value=msg.value)

@external
@payable
def __default__():
    self.received += msg.value
    self.payments += 1
"""

# an owner contract that cannot take ETH (no payable fallback), e.g. a timelock
NO_ETH_OWNER = """
# pragma version ~=0.4.3
@external
def execute(target: address, data: Bytes[256]):
    raw_call(target, data)
"""

# pays with `send`, the 2,300-gas stipend the Oracle used to pay bonds with
STIPEND_PAYER = """
# pragma version ~=0.4.3
@external
@payable
def pay(to: address):
    send(to, msg.value)
"""


@pytest.fixture(scope="module", autouse=True)
def reported(protocol, owner, reporters):
    configure_settlement_feed(protocol.oracle, owner, FEED, -1_000 * USDC, 1_000 * USDC, now() - 200)
    submit_rows(protocol, reporters, [FEED], [[45 * USDC]] * 3)


@pytest.fixture
def wallet():
    return boa.loads(WALLET)


def test_receive_costs_more_than_2300_gas__old_send_fails(wallet):
    payer = boa.loads(STIPEND_PAYER)
    boa.env.set_balance(boa.env.eoa, 1)
    with boa.reverts():
        payer.pay(wallet.address, value=1)


def test_attack__contract_wallet_disputer__claims_its_bond(protocol, oracle, owner, wallet):
    boa.env.set_balance(boa.env.eoa, BOND)
    wallet.execute(oracle.address, oracle.dispute.prepare_calldata(FEED), value=BOND)
    with boa.env.prank(owner):
        oracle.resolve(FEED, 44 * USDC)  # the wallet was right

    assert oracle.bond_claims(wallet.address) == BOND
    wallet.execute(oracle.address, oracle.claim_bond.prepare_calldata())

    assert wallet.received() == BOND
    assert wallet.payments() == 1
    assert boa.env.get_balance(wallet.address) == BOND
    assert oracle.bond_claims(wallet.address) == 0


def test_forfeited_bond__contract_owner_without_receive__claims_to_another_address(protocol, oracle, owner):
    timelock = boa.loads(NO_ETH_OWNER)
    treasury = boa.env.generate_address("treasury")
    with boa.env.prank(owner):
        oracle.transfer_ownership(timelock.address)
    timelock.execute(oracle.address, oracle.accept_ownership.prepare_calldata())
    disputer = boa.env.generate_address("wrong_disputer")
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        oracle.dispute(FEED, value=BOND)
    timelock.execute(oracle.address, oracle.resolve.prepare_calldata(FEED, 45 * USDC))  # unchanged: bond forfeited
    assert oracle.bond_claims(timelock.address) == BOND

    with boa.reverts():  # it cannot take ETH itself
        timelock.execute(oracle.address, oracle.claim_bond.prepare_calldata())
    timelock.execute(oracle.address, oracle.claim_bond.prepare_calldata(treasury))

    assert boa.env.get_balance(treasury) == BOND
    assert oracle.bond_claims(timelock.address) == 0
