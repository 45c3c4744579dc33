"""The Timelock in the contract unit tests: compile it once, put a deployed protocol under it
(as scripts/deploy.py does off anvil) and queue / execute owner calls through it.

Times in unix seconds; value in wei.
"""

from __future__ import annotations

from dataclasses import dataclass

import boa
from eth_abi import encode
from eth_utils import keccak

from tests.utils.deployers import CONTRACTS, Protocol

TIMELOCK = boa.load_partial(str(CONTRACTS / "Timelock.vy"))

DAY = 86_400
# Timelock constants, restated here so a change to them has to change a test too
MIN_DELAY = DAY
MAX_DELAY = 30 * DAY
GRACE_PERIOD = 14 * DAY
MAX_CALLDATA = 4_096
# a testnet (Sepolia): the minimum delay applies
SEPOLIA = 11_155_111
LOCAL = 31_337


def calldata(contract, fn: str, *args) -> bytes:
    """Selector + ABI-encoded arguments of `contract.fn(*args)`, as a queued call carries them."""
    return bytes(getattr(contract, fn).prepare_calldata(*args))


def operation_id(target: str, value: int, data: bytes, eta: int) -> bytes:
    """keccak256(abi.encode(target, value, data, eta)), computed without the contract."""
    return keccak(encode(["address", "uint256", "bytes", "uint256"], [str(target), value, data, eta]))


def penalty_raise(clearinghouse) -> tuple[list, object]:
    """(args, applied) of a maximal liquidation-penalty raise, for either signature of
    Clearinghouse.set_liquidation_params: (penalty, insurance share) before issue 16 point 4,
    (penalty, penalty cap, reward, min reward, max reward) after it."""
    if len(clearinghouse.set_liquidation_params.func_t.arguments) == 2:
        return [9_000, 0], lambda: clearinghouse.liquidation_penalty_bps() == 9_000
    return [9_000, 2_500, 100, 10**6, 1_000 * 10**6], lambda: clearinghouse.liquidation_params()[0] == 9_000


@dataclass
class Governed:
    """A protocol whose Oracle, Clearinghouse and Exchange are owned by `timelock`;
    `admin` (the protocol's former owner) administers the Timelock."""

    protocol: Protocol
    timelock: object
    admin: str
    delay: int

    def call(self, contract, fn: str, *args) -> tuple[str, int, bytes]:
        """(target, value, data) of an owner call."""
        return contract.address, 0, calldata(contract, fn, *args)

    def eta(self, extra: int = 0) -> int:
        """The earliest eta a call queued now may have (plus `extra` seconds)."""
        return boa.env.evm.patch.timestamp + self.delay + extra

    def queue(self, call: tuple, eta: int | None = None) -> tuple:
        """Queue `call` as the admin; returns (target, value, data, eta)."""
        eta = self.eta() if eta is None else eta
        with boa.env.prank(self.admin):
            self.timelock.queue(*call, eta)
        return (*call, eta)

    def queue_due(self, call: tuple, eta: int | None = None) -> tuple:
        """Queue `call` and warp to its eta: the op is ready to execute."""
        op = self.queue(call, eta)
        self.warp_to(op[3])
        return op

    def execute(self, op: tuple):
        with boa.env.prank(self.admin):
            return self.timelock.execute(*op)

    def warp_to(self, ts: int):
        boa.env.time_travel(seconds=ts - boa.env.evm.patch.timestamp)


def govern(protocol: Protocol, delay: int = DAY) -> Governed:
    """Deploy a Timelock administered by the protocol's owner and hand it the three contracts
    (transfer_ownership by the owner, then the Timelock accepts at once)."""
    admin = protocol.owner
    with boa.env.prank(admin):
        tl = TIMELOCK.deploy(admin, delay)
        for c in (protocol.oracle, protocol.clearinghouse, protocol.exchange):
            c.transfer_ownership(tl.address)
            tl.accept_ownership_of(c.address)
    return Governed(protocol, tl, admin, delay)
