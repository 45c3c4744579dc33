# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Timelock
@notice Owner of the Oracle, Clearinghouse and Exchange. Every owner call to them (margin,
        fees, reporters and quorum, feed bounds, dispute resolution, market listing, fee
        withdrawal, ownership) is first `queue`d, which logs the full call (target, value,
        calldata, eta), and can be `execute`d only once `eta` has passed, and at most
        GRACE_PERIOD after it. Users therefore see every change at least `delay` seconds
        before it can take effect, and can withdraw, reduce or cancel their orders first.
        Modelled on Compound's Timelock (queue/execute/cancel keyed by
        keccak256(target, value, data, eta)).

        Not delayed, and why:
        - the guardian's own powers (Clearinghouse.halt_market, guardian disputes on the
          Oracle): they are held by a separate address, never by this contract, so an
          emergency halt stays immediate;
        - `accept_ownership_of(target)`: completes a transfer some current owner started;
          it only gives power to this contract (whose every later use is delayed), takes
          nothing from anyone, and takes no arguments the admin could abuse;
        - `cancel`: dropping a queued call can only keep things as users already see them;
        - this contract's own admin rotation (snekmate ownable_2step): a new admin inherits
          no shortcut, every call it makes still waits `delay`. There is no
          renounce_ownership: a Timelock without admin could never resume a halted market.

        `delay` is fixed at deploy and changes only through the Timelock itself (a queued
        `set_delay`); it is at least MIN_DELAY (24 h) on every chain but anvil's 31337,
        where 0 is allowed for tests and demos. A generic timelock delays decreases too
        (lowering a margin or a fee, resuming a market): see docs/protocol.md, "Timelock
        and roles".

        Holds and forwards ETH: forfeited Oracle dispute bonds are credited to the owner,
        i.e. to this contract, and reach it through a (queued) `claim_bond` call.

        Units: times and delays in unix seconds; value in wei.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

# two-step admin transfer: a typo'd admin address must not strand the whole protocol
initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


interface IOwnable2Step:
    def accept_ownership(): nonpayable


# shortest delay off anvil, seconds (issue 16: >= 24 h on testnets)
MIN_DELAY: public(constant(uint256)) = 86_400
# longest delay, seconds: beyond it a mistake in the delay itself could not be undone in time
MAX_DELAY: public(constant(uint256)) = 30 * 86_400
# seconds after eta during which a queued call may still run; later it must be queued again
GRACE_PERIOD: public(constant(uint256)) = 14 * 86_400
# the one chain where a delay below MIN_DELAY (down to 0) is allowed: anvil / local devnets
LOCAL_CHAIN_ID: public(constant(uint256)) = 31_337
# longest calldata a queued call may carry, bytes (list_market is 516, 16 reporters 612)
MAX_CALLDATA: public(constant(uint256)) = 4_096
# longest revert reason bubbled up from a failed call, bytes
_MAX_RETURN: constant(uint256) = 1_024

# seconds between queue and the earliest eta
delay: public(uint256)
# operation id -> queued (ids from `operation_id`)
queued: public(HashMap[bytes32, bool])


event CallQueued:
    id: indexed(bytes32)
    target: indexed(address)
    value: uint256
    data: Bytes[MAX_CALLDATA]
    eta: uint256

event CallExecuted:
    id: indexed(bytes32)
    target: indexed(address)
    value: uint256
    data: Bytes[MAX_CALLDATA]
    eta: uint256

event CallCancelled:
    id: indexed(bytes32)

event OwnershipAccepted:
    target: indexed(address)

event DelaySet:
    delay: uint256

event Received:
    sender: indexed(address)
    amount: uint256


@deploy
def __init__(admin_: address, delay_: uint256):
    """
    @param admin_ Who may queue, execute and cancel (an EOA on devnets, a multisig in
           production); non-zero.
    @param delay_ Seconds between queue and earliest execution: MIN_DELAY (86,400) ..
           MAX_DELAY (30 days), or anything from 0 on chain id 31337.
    """
    assert admin_ != empty(address), "Timelock: zero admin"
    ownable.__init__()
    ownable_2step.__init__()
    ownable_2step._transfer_ownership(admin_)
    self._set_delay(delay_)


@external
@payable
def __default__():
    """
    @notice Receive ETH (forfeited dispute bonds, funds for a queued call's value). Plain
            transfers only: a call to a function this contract does not have reverts instead
            of silently succeeding. Kept within the 2,300 gas a Vyper `send` forwards.
    """
    assert len(msg.data) == 0, "Timelock: unknown function"
    log Received(sender=msg.sender, amount=msg.value)


# ---------------------------------------------------------------- queued calls


@external
def queue(target: address, value_: uint256, data: Bytes[MAX_CALLDATA], eta: uint256) -> bytes32:
    """
    @notice Announce a call (admin). The CallQueued event carries the full call so anyone
            can decode what will change and when.
    @param target Contract (or account) to call; non-zero.
    @param value_ Wei to send with the call, from this contract's balance at execution.
    @param data Full calldata (selector + ABI-encoded arguments), at most MAX_CALLDATA bytes.
    @param eta Unix seconds, block.timestamp + delay .. + delay + GRACE_PERIOD: the earliest
           execution time. The upper bound keeps an announcement from being parked for
           months and executed when nobody is watching any more.
    @return The operation id, keccak256(abi_encode(target, value_, data, eta)).
    """
    ownable._check_owner()
    assert target != empty(address), "Timelock: zero target"
    earliest: uint256 = block.timestamp + self.delay
    assert eta >= earliest, "Timelock: eta before delay"
    assert eta <= earliest + GRACE_PERIOD, "Timelock: eta too far"
    op: bytes32 = self._operation_id(target, value_, data, eta)
    assert not self.queued[op], "Timelock: already queued"
    self.queued[op] = True
    log CallQueued(id=op, target=target, value=value_, data=data, eta=eta)
    return op


@external
@payable
@nonreentrant
def execute(target: address, value_: uint256, data: Bytes[MAX_CALLDATA], eta: uint256) -> Bytes[_MAX_RETURN]:
    """
    @notice Run a queued call once its eta has passed (admin), at most GRACE_PERIOD later.
            A reverting call reverts this transaction with the target's own reason and stays
            queued.
    @param target As queued.
    @param value_ Wei, as queued; paid from this contract's balance (plus msg.value).
    @param data Calldata, as queued.
    @param eta Unix seconds, as queued.
    @return What the call returned (up to 1,024 bytes).
    """
    ownable._check_owner()
    op: bytes32 = self._operation_id(target, value_, data, eta)
    assert self.queued[op], "Timelock: not queued"
    assert block.timestamp >= eta, "Timelock: not ready"
    assert block.timestamp <= eta + GRACE_PERIOD, "Timelock: stale"
    assert self.balance >= value_, "Timelock: insufficient balance"
    # cleared before the call: a call that re-enters cannot run twice
    self.queued[op] = False
    success: bool = False
    response: Bytes[_MAX_RETURN] = b""
    success, response = raw_call(
        target, data, value=value_, max_outsize=_MAX_RETURN, revert_on_failure=False
    )
    if not success:
        # the target's own reason ("Clearinghouse: unknown market", ...), not a generic one
        raw_revert(response)
    log CallExecuted(id=op, target=target, value=value_, data=data, eta=eta)
    return response


@external
def cancel(target: address, value_: uint256, data: Bytes[MAX_CALLDATA], eta: uint256):
    """
    @notice Drop a queued call (admin).
    @param target As queued.
    @param value_ Wei, as queued.
    @param data Calldata, as queued.
    @param eta Unix seconds, as queued.
    """
    ownable._check_owner()
    op: bytes32 = self._operation_id(target, value_, data, eta)
    assert self.queued[op], "Timelock: not queued"
    self.queued[op] = False
    log CallCancelled(id=op)


# ---------------------------------------------------------------- immediate


@external
def accept_ownership_of(target: address):
    """
    @notice Complete a two-step ownership transfer of `target` to this contract at once
            (admin). Not delayed: it only gives this contract power, every use of which is
            delayed, and it carries no arguments.
    @param target A contract whose `pending_owner` is this Timelock (snekmate ownable_2step).
    """
    ownable._check_owner()
    extcall IOwnable2Step(target).accept_ownership()
    log OwnershipAccepted(target=target)


# ---------------------------------------------------------------- self-governed


@external
def set_delay(delay_: uint256):
    """
    @notice Change the delay. Only the Timelock itself may call this, i.e. through a queued
            call that waited the current delay; calls already queued keep their eta.
    @param delay_ Seconds, within the bounds of the constructor.
    """
    assert msg.sender == self, "Timelock: only through the timelock"
    self._set_delay(delay_)


# ---------------------------------------------------------------- views


@pure
@external
def operation_id(target: address, value_: uint256, data: Bytes[MAX_CALLDATA], eta: uint256) -> bytes32:
    """
    @return keccak256(abi_encode(target, value_, data, eta)): the key of a queued call.
    """
    return self._operation_id(target, value_, data, eta)


# ---------------------------------------------------------------- internals


@internal
def _set_delay(delay_: uint256):
    assert delay_ <= MAX_DELAY, "Timelock: delay above maximum"
    assert delay_ >= MIN_DELAY or chain.id == LOCAL_CHAIN_ID, "Timelock: delay below minimum"
    self.delay = delay_
    log DelaySet(delay=delay_)


@pure
@internal
def _operation_id(target: address, value_: uint256, data: Bytes[MAX_CALLDATA], eta: uint256) -> bytes32:
    return keccak256(abi_encode(target, value_, data, eta))
