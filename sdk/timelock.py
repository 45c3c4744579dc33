"""Owner calls through the protocol's Timelock (contracts/Timelock.vy), with web3.

Off anvil the Timelock owns the Oracle, Clearinghouse and Exchange: every owner call is queued
(announced on-chain with its full calldata), waits the delay, then is executed. This module
builds those calls from the manifest's ABIs, sends queue / execute / cancel as the Timelock
admin, and lists what is queued, decoded, for anyone watching ("what will change, and when").

Times are unix seconds, value is wei. Reverts become :mod:`sdk.errors` types
(``TimelockRejected`` for "not ready", "stale", "not queued" ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from chain.tx import FeePolicy, TxFailed, TxSender, revert_of
from core.manifest import Manifest
from sdk.errors import ManifestError, decode_revert

# contracts the Timelock may own, by manifest name
OWNED = ("Oracle", "Clearinghouse", "Exchange", "Timelock")
# seconds added to the earliest eta: the queue transaction lands in a later block than the
# one whose timestamp we read, and the Timelock measures the delay from that later block
DEFAULT_SLACK = 120


def operation_id(target: str, value: int, data: bytes, eta: int) -> str:
    """keccak256(abi.encode(target, value, data, eta)) as 0x-hex: the Timelock's key."""
    return (
        "0x"
        + keccak(
            encode(
                ["address", "uint256", "bytes", "uint256"],
                [Web3.to_checksum_address(target), int(value), bytes(data), int(eta)],
            )
        ).hex()
    )


@dataclass(frozen=True)
class QueuedCall:
    """One queued owner call, decoded with the target's ABI when the target is in the manifest."""

    id: str
    target: str
    value: int
    data: bytes
    eta: int
    contract: str | None = None  # manifest name of the target
    function: str | None = None
    args: dict[str, Any] | None = None

    @property
    def call(self) -> tuple[str, int, bytes, int]:
        return self.target, self.value, self.data, self.eta

    def describe(self) -> str:
        """'Exchange.set_fees(maker_fee_bps_=100, taker_fee_bps_=100)', or the raw call."""
        if self.function is None:
            return f"{self.target} value={self.value} data=0x{self.data.hex()}"
        args = ", ".join(f"{k}={_show(v)}" for k, v in (self.args or {}).items())
        value = f" value={self.value}" if self.value else ""
        return f"{self.contract}.{self.function}({args}){value}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "value": self.value,
            "data": "0x" + self.data.hex(),
            "eta": self.eta,
            "contract": self.contract,
            "function": self.function,
            "args": None if self.args is None else {k: _show(v) for k, v in self.args.items()},
            "call": self.describe(),
        }


def _show(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (list, tuple)):
        return [_show(x) for x in v]
    return v


class TimelockAdmin:
    """Queue, execute, cancel and list owner calls. `account` (an eth_account LocalAccount,
    the Timelock admin) is needed only to send; listing works without it."""

    def __init__(self, w3: Web3, manifest: Manifest, account: Any = None):
        if "Timelock" not in manifest.data["contracts"]:
            owner = manifest.data.get("roles", {}).get("owner")
            raise ManifestError(
                f"{manifest.path} has no Timelock: this deployment's owner is {owner}"
                " (on anvil with delay 0 the deployer owns the contracts directly)"
            )
        self.w3, self.manifest, self.account = w3, manifest, account
        self._sender: TxSender | None = None  # chain.tx, made at the first send
        self.timelock = manifest.contract(w3, "Timelock")
        self._by_address = {manifest.address(n).lower(): n for n in OWNED if n in manifest.data["contracts"]}

    # ------------------------------------------------------------ reads
    def delay(self) -> int:
        return int(self.timelock.functions.delay().call())

    def admin(self) -> str:
        return self.timelock.functions.owner().call()

    def encode(self, contract: str, function: str, args: list) -> tuple[str, bytes]:
        """(target, calldata) of `contract.function(*args)` from the manifest ABI."""
        if contract not in self._by_address.values():
            owned = ", ".join(self._by_address.values())
            raise ManifestError(f"{contract!r} is not a contract the Timelock owns ({owned})")
        c = self.manifest.contract(self.w3, contract)
        try:
            data = c.encode_abi(function, args=list(args))
        except Exception as e:  # web3 raises several types for a wrong name or arguments
            raise ValueError(f"cannot encode {contract}.{function}{tuple(args)}: {e}") from e
        return c.address, bytes.fromhex(data[2:])

    def decode(self, target: str, value: int, data: bytes, eta: int) -> QueuedCall:
        op = operation_id(target, value, data, eta)
        name = self._by_address.get(target.lower())
        if name is None or len(data) < 4:
            return QueuedCall(op, target, value, data, eta)
        try:
            fn, args = self.manifest.contract(self.w3, name).decode_function_input(data)
        except ValueError:
            return QueuedCall(op, target, value, data, eta, name)
        return QueuedCall(op, target, value, data, eta, name, fn.fn_name, dict(args))

    def queued(self, from_block: int | None = None) -> list[QueuedCall]:
        """Calls announced (CallQueued) and neither executed nor cancelled, oldest first."""
        start = self.manifest.data.get("block", 0) if from_block is None else from_block
        out = []
        for log in self.timelock.events.CallQueued.get_logs(from_block=start):
            a = log["args"]
            if self.timelock.functions.queued(a["id"]).call():
                out.append(self.decode(a["target"], a["value"], bytes(a["data"]), a["eta"]))
        return out

    def find(self, op_id: str) -> QueuedCall:
        for q in self.queued():
            if q.id.lower() == op_id.lower():
                return q
        raise LookupError(f"no queued call {op_id} (already executed or cancelled?)")

    # ------------------------------------------------------------ writes
    def queue(
        self,
        contract: str,
        function: str,
        args: list,
        eta: int | None = None,
        value: int = 0,
        slack: int = DEFAULT_SLACK,
    ) -> QueuedCall:
        """Queue `contract.function(*args)`; `eta` defaults to now + delay + `slack` seconds."""
        target, data = self.encode(contract, function, args)
        if eta is None:
            eta = int(self.w3.eth.get_block("latest")["timestamp"]) + self.delay() + slack
        self._send(self.timelock.functions.queue(target, value, data, eta), f"queue {contract}.{function}")
        return self.decode(target, value, data, eta)

    def execute(self, op: QueuedCall) -> dict:
        return self._send(self.timelock.functions.execute(*op.call), f"execute {op.describe()}", value=0)

    def cancel(self, op: QueuedCall) -> dict:
        return self._send(self.timelock.functions.cancel(*op.call), f"cancel {op.describe()}")

    def accept_ownership_of(self, contract: str) -> dict:
        return self._send(
            self.timelock.functions.accept_ownership_of(self.manifest.address(contract)),
            f"accept ownership of {contract}",
        )

    def _send(self, fn, action: str, value: int = 0) -> dict:
        if self.account is None:
            raise PermissionError(f"{action}: needs the Timelock admin's key")
        if self._sender is None:
            self._sender = TxSender(self.w3, self.account, FeePolicy(max_fee_gwei=100_000), receipt_timeout=120.0)
        try:  # simulated first: a revert comes back with its reason, before any gas is spent
            return dict(self._sender.transact(fn, value).raw)
        except TxFailed as e:
            raise decode_revert(revert_of(e), action=action) from e


def parse_arg(text: str) -> Any:
    """A command-line argument: JSON when it parses (numbers, true/false, [..] for arrays and
    structs), else the string itself (addresses, 0x.. bytes32)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
