"""One transaction sender for every off-chain process (keepers, relay matcher, market maker, SDK).

``TxSender(node, account, fees)`` holds a local nonce for one account and:

- **simulates first**: ``eth_estimateGas`` from the account; a revert comes back with its decoded
  reason (``SendResult("rejected")`` / ``TxFailed``) and nothing is broadcast, so a doomed
  transaction costs no gas;
- signs with the next local nonce and broadcasts; a nonce error ("nonce too low", "already
  known": another process used the account) re-reads the nonce from the chain once;
- **replaces a stuck transaction**: one still unmined ``bump_after_blocks`` blocks after it was
  sent is re-signed with the *same nonce* and fees raised by ``bump_pct`` (nodes require >= 10%
  on both EIP-1559 fields), up to ``max_fee``; whichever version is mined, its receipt is found;
- captures the reason of a transaction that was mined but reverted by replaying it with
  ``eth_call`` at the block before.

Two ways to use it:

- non-blocking (keepers, one tx per ``key`` in flight): ``send(key, fn, head)`` then
  ``poll(head)`` once per block, which returns the finished ``Outcome``s and bumps stuck ones;
- blocking (relay matcher, market maker, SDK, devnet tooling): ``transact(call)`` returns the
  ``Receipt`` or raises ``TxFailed``; the wait bumps the fee the same way. A ``Call`` with
  ``to=None`` creates a contract (``data`` = init code + constructor arguments): its receipt's
  ``contract_address`` is the deployed address.

Devnet tooling (demos, benches) queues thousands at once: ``broadcast_batch(calls, gas)`` signs
them at consecutive local nonces and sends them as JSON-RPC batches; :func:`send_unlocked` sends
from accounts the node signs for (its unlocked or impersonated accounts); :func:`wait_mined`
waits for either.

``node`` is a ``Web3`` (or anything with web3's ``.eth`` methods) or a raw
:class:`chain.rpc.Rpc`; the sender talks to either through the small ``_Node`` adapters below.
Without an account (or with ``dry_run``) it simulates, logs what it would send and sends nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chain.reverts import reason_text, revert_reason
from chain.rpc import CallReverted, ChainError, is_connection_error
from core import abi as core_abi

log = logging.getLogger("chain.tx")

GWEI = 10**9


def _kv(logger: logging.Logger, level: int, msg: str, **fields) -> None:
    # the keepers' JSON formatter prints `fields` as top-level keys; plain loggers ignore them
    logger.log(level, msg, extra={"fields": fields})


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Call:
    """A transaction to send: ``to``, calldata, wei ``value``. ``to=None``: a contract creation,
    ``data`` being the init code with the constructor arguments appended."""

    to: str | None
    data: bytes
    value: int = 0


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    gas_used: int
    logs: list
    status: int = 1
    raw: Any = None  # the node's receipt as returned (web3 AttributeDict or raw JSON dict)
    contract_address: str | None = None  # checksummed; set when the transaction created a contract


@dataclass
class PendingTx:
    key: str
    nonce: int
    tx: dict
    hashes: list[str]
    sent_block: int
    bumps: int = 0
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # mined | reverted | dropped
    tx_hash: str | None
    block: int | None
    meta: dict
    receipt: Any = None  # the node's receipt (web3 AttributeDict or raw JSON) when mined or reverted


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | dry | rejected | in_flight | error
    tx_hash: str | None = None
    reason: str | None = None


class TxFailed(RuntimeError):
    """A transaction was not sent (simulation reverted, broadcast refused), reverted on-chain
    (``mined``), or its fate is unknown (no receipt in time). ``reason`` is the decoded revert
    reason when there was one; ``error`` the exception the node raised."""

    def __init__(
        self, reason: str, tx_hash: str | None = None, mined: bool = False, error: BaseException | None = None
    ):
        super().__init__(reason)
        self.reason, self.tx_hash, self.mined, self.error = reason, tx_hash, mined, error


class FeePolicy:
    """EIP-1559 fees where the chain has a base fee (``maxFee = 2 x base + priority``, so the tx
    stays includable through several full blocks), else the node's gas price; all capped at
    ``max_fee_gwei``. ``bumped`` raises every fee field by ``bump_pct`` (rounded up)."""

    def __init__(self, priority_gwei: float = 1.0, max_fee_gwei: float = 500.0, bump_pct: float = 12.5):
        if bump_pct < 10:
            raise ValueError("bump_pct must be >= 10 (nodes reject replacements with a smaller fee increase)")
        self.priority = int(priority_gwei * GWEI)
        self.cap = int(max_fee_gwei * GWEI)
        self.bump_pct = bump_pct

    def initial(self, base_fee: int | None, gas_price: int) -> dict:
        if base_fee is None:
            return {"gasPrice": min(gas_price, self.cap)}
        prio = min(self.priority, self.cap)
        return {"maxPriorityFeePerGas": prio, "maxFeePerGas": min(2 * base_fee + prio, self.cap)}

    def bumped(self, fees: dict) -> dict | None:
        """Fees raised by bump_pct (rounded up); None once the cap would be exceeded."""
        out = {k: math.ceil(v * (100 + self.bump_pct) / 100) for k, v in fees.items()}
        if max(out.values()) > self.cap:
            return None
        return out


# --------------------------------------------------------------------------- node adapters


def _hex(h) -> str:
    if isinstance(h, str):
        return h if h.startswith("0x") else "0x" + h
    return "0x" + bytes(h).hex()


def _int(v) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


def _created(address) -> str | None:
    # nodes put null (or omit the field) in the receipt of a call that created nothing
    return to_checksum_address(address) if address else None


def _replayable(sender: str, to: str | None, data: bytes, value: int) -> dict:
    # a mined transaction as an eth_call: a creation replays its init code (no `to`)
    return {"from": sender, **_tx_fields(Call(to, data, value))}


def _tx_fields(call: Call) -> dict:
    # a creation has no `to` at all: JSON-RPC and eth_account read a missing `to` as "create"
    tx = {"data": call.data, "value": call.value}
    if call.to is not None:
        tx["to"] = to_checksum_address(call.to)
    return tx


class _Web3Node:
    """The sender's view of a ``Web3`` (web3 raises its own exceptions; a revert of a
    simulation is turned into ``CallReverted`` so both adapters look alike)."""

    def __init__(self, w3):
        self.w3 = w3

    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def nonce(self, address: str, tag: str) -> int:
        return int(self.w3.eth.get_transaction_count(address, tag))

    def fee_fields(self, fees: FeePolicy) -> dict:
        base = self.w3.eth.get_block("pending").get("baseFeePerGas")
        return fees.initial(base, int(self.w3.eth.gas_price) if base is None else 0)

    def _simulated(self, fn, *args):
        from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError  # noqa: PLC0415

        try:
            return fn(*args)
        except (ContractLogicError, ContractCustomError, Web3RPCError, ValueError) as e:
            if is_connection_error(e):
                raise
            raise CallReverted(str(e), reason_text(e), getattr(e, "data", None)) from e

    @staticmethod
    def _wire(tx: dict) -> dict:
        return {k: "0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v for k, v in tx.items()}

    def estimate_gas(self, tx: dict) -> int:
        return int(self._simulated(self.w3.eth.estimate_gas, self._wire(tx)))

    def call(self, tx: dict, block: int | str) -> bytes:
        return bytes(self._simulated(self.w3.eth.call, self._wire(tx), block))

    def send_raw(self, raw: bytes) -> str:
        from web3.exceptions import Web3RPCError  # noqa: PLC0415

        try:
            return _hex(self.w3.eth.send_raw_transaction(raw))
        except (Web3RPCError, ValueError) as e:
            if is_connection_error(e):
                raise
            raise ChainError(str(e)) from e

    def transaction(self, tx_hash: str) -> dict:
        t = self.w3.eth.get_transaction(tx_hash)
        return _replayable(t["from"], t["to"], bytes(t["input"]), int(t["value"]))

    def receipt(self, tx_hash: str) -> Receipt | None:
        from web3.exceptions import TransactionNotFound  # noqa: PLC0415

        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
        if r is None:
            return None
        return Receipt(
            _hex(r["transactionHash"]),
            int(r["blockNumber"]),
            int(r["gasUsed"]),
            list(r["logs"]),
            int(r["status"]),
            r,
            _created(r.get("contractAddress")),
        )


def wait_receipt(w3, tx_hash, timeout: float = 120.0, poll: float = 0.1) -> Receipt:
    """The receipt of a transaction sent outside the TxSender (a deploy script's burst from an
    unlocked dev account), once mined; TimeoutError after ``timeout`` seconds."""
    node, h = _Web3Node(w3), _hex(tx_hash)
    deadline = time.monotonic() + timeout
    while (r := node.receipt(h)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"transaction {h} not mined within {timeout:.0f} s")
        time.sleep(poll)
    return r


class _RpcNode:
    """The sender's view of a raw :class:`chain.rpc.Rpc` (hex quantities in, hex out)."""

    def __init__(self, rpc):
        self.rpc = rpc

    def chain_id(self) -> int:
        return int(self.rpc("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def nonce(self, address: str, tag: str) -> int:
        return int(self.rpc("eth_getTransactionCount", [address, tag]), 16)

    def fee_fields(self, fees: FeePolicy) -> dict:
        base = (self.rpc("eth_getBlockByNumber", ["pending", False]) or {}).get("baseFeePerGas")
        if base is None:
            return fees.initial(None, int(self.rpc("eth_gasPrice"), 16))
        return fees.initial(int(base, 16), 0)

    @staticmethod
    def _wire(tx: dict) -> dict:
        out = {}
        for k, v in tx.items():
            if isinstance(v, (bytes, bytearray)):
                out[k] = "0x" + bytes(v).hex()
            elif isinstance(v, int) and not isinstance(v, bool):
                out[k] = hex(v)
            else:
                out[k] = v
        return out

    def estimate_gas(self, tx: dict) -> int:
        return int(self.rpc("eth_estimateGas", [self._wire(tx)]), 16)

    def call(self, tx: dict, block: int | str) -> bytes:
        out = self.rpc("eth_call", [self._wire(tx), hex(block) if isinstance(block, int) else block])
        return bytes.fromhex(out[2:])

    def send_raw(self, raw: bytes) -> str:
        return self.rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])

    def transaction(self, tx_hash: str) -> dict:
        t = self.rpc("eth_getTransactionByHash", [tx_hash])
        return _replayable(t["from"], t.get("to"), bytes.fromhex(t["input"][2:]), int(t["value"], 16))

    def receipt(self, tx_hash: str) -> Receipt | None:
        r = self.rpc("eth_getTransactionReceipt", [tx_hash])
        if r is None:
            return None
        return Receipt(
            r["transactionHash"],
            int(r["blockNumber"], 16),
            int(r["gasUsed"], 16),
            r["logs"],
            int(r["status"], 16),
            r,
            _created(r.get("contractAddress")),
        )


def node_of(node) -> _Web3Node | _RpcNode:
    """Adapter for a ``Web3`` (has ``.eth``) or a raw JSON-RPC callable (``Rpc``)."""
    if isinstance(node, (_Web3Node, _RpcNode)):
        return node
    if hasattr(node, "eth"):
        return _Web3Node(node)
    if callable(node):
        return _RpcNode(node)
    raise TypeError(f"TxSender needs a Web3 or a chain.rpc.Rpc, got {type(node).__name__}")


def call_of(fn, value: int = 0) -> Call:
    """A web3 ``ContractFunction`` (``contract.functions.f(args)``) as a :class:`Call`: its
    contract's address and the calldata web3 encodes from the function's ABI (no node asked,
    no placeholder gas, nonce or chain id). ValueError for a function of an address-less contract."""
    if not getattr(fn, "address", None):
        raise ValueError(f"{fn!r} is not bound to a contract address: nothing to send it to")
    if fn.kwargs:
        raise ValueError(f"{fn.abi_element_identifier}: pass arguments by position to send it")
    return Call(fn.address, core_abi.entry_calldata(fn.abi, fn.args), value)


class _NullMetric:
    def labels(self, *a, **k):
        return self

    def inc(self, *a, **k):
        pass

    def set(self, *a, **k):
        pass


class _NullMetrics:
    def counter(self, *a, **k):
        return _NullMetric()

    def gauge(self, *a, **k):
        return _NullMetric()


def _nonce_error(msg: str) -> bool:
    m = msg.lower()
    return "nonce too low" in m or ("nonce" in m and "low" in m) or ("nonce" in m and "invalid" in m)


# --------------------------------------------------------------------------- sender


class TxSender:
    """Sends transactions from one account with a local nonce (see the module doc).

    ``account``: an eth_account ``LocalAccount``, a hex private key, an object with ``address``
    and ``sign_tx(tx) -> raw bytes`` (an external signer), or None (dry run).
    ``metrics``: anything with ``counter(name, doc, labels)`` / ``gauge(name, doc)`` returning
    Prometheus-like metrics (the keepers' registry); None counts nothing."""

    def __init__(
        self,
        node,
        account=None,
        fees: FeePolicy | None = None,
        bump_after_blocks: int = 3,
        gas_multiplier: float = 1.25,
        dry_run: bool = False,
        metrics=None,
        logger: logging.Logger | None = None,
        *,
        chain_id: int | None = None,
        receipt_timeout: float = 60.0,
        poll_interval: float = 0.005,
    ):
        if bump_after_blocks < 1:
            raise ValueError("bump_after_blocks must be >= 1")
        self.w3 = node  # what was passed (a Web3 for keepers: `sender.w3.eth...` in their tests)
        self.node = node_of(node)
        if isinstance(account, (str, bytes)):
            account = Account.from_key(account)
        self.account = account
        self.fees = fees or FeePolicy()
        self.bump_after = bump_after_blocks
        self.gas_multiplier = gas_multiplier
        self.dry = dry_run or account is None
        self.log = logger or log
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.pending: dict[int, PendingTx] = {}
        self.by_key: dict[str, int] = {}
        self.nonce: int | None = None
        self.chain_id: int | None = chain_id
        self._lock = threading.RLock()
        m = metrics or _NullMetrics()
        self.m_sent = m.counter("tx_sent_total", "Transactions broadcast", ("kind",))
        self.m_rejected = m.counter("tx_rejected_total", "Transactions not sent: simulation reverted", ("kind",))
        self.m_reverted = m.counter("tx_reverted_total", "Transactions mined but reverted", ("kind",))
        self.m_bumped = m.counter("tx_bumped_total", "Stuck transactions replaced with higher fees", ("kind",))
        self.m_dry = m.counter("tx_dry_total", "Transactions logged, not sent (dry run)", ("kind",))
        self.m_pending = m.gauge("tx_pending", "Transactions in flight")

    @property
    def address(self) -> str | None:
        return self.account.address if self.account is not None else None

    # ------------------------------------------------------------ nonce
    def sync_nonce(self) -> None:
        """Re-read the next nonce (pending pool included) and the chain id from the node."""
        if self.account is not None:
            self.nonce = self.node.nonce(self.account.address, "pending")
            self.chain_id = self.node.chain_id()

    def reset(self) -> None:
        """Forget in-flight transactions (after an RPC outage or a reorg) and re-read the nonce;
        keepers re-decide from fresh state, so nothing is sent twice."""
        with self._lock:
            if self.pending:
                _kv(
                    self.log,
                    logging.WARNING,
                    "forgetting in-flight txs after reconnect/reorg",
                    keys=[p.key for p in self.pending.values()],
                )
            self.pending.clear()
            self.by_key.clear()
            self.m_pending.set(0)
            self.sync_nonce()

    def in_flight(self, key: str) -> bool:
        return key in self.by_key

    # ------------------------------------------------------------ building blocks
    def simulate(self, call: Call) -> int:
        """Gas the call needs from this account; raises ``CallReverted`` (with ``reason``) when it
        would revert, ``ChainError`` when the node refuses it otherwise."""
        tx = _tx_fields(call)
        if self.account is not None:
            tx["from"] = self.account.address
        return self.node.estimate_gas(tx)

    def prepare(self, call: Call, gas: int | None = None, min_gas: int = 0) -> dict:
        """The unsigned transaction for ``call`` at the next local nonce with current fees.
        Simulates first unless ``gas`` is given; raises ``TxFailed`` (with the decoded reason
        and the node's error) when the simulation reverts."""
        if gas is None:
            try:
                gas = self.simulate(call)
            except ChainError as e:
                raise TxFailed(getattr(e, "reason", None) or reason_text(e), error=e.__cause__ or e) from e
        with self._lock:
            if self.nonce is None or self.chain_id is None:
                self.sync_nonce()
            # min_gas: a tx whose path depends on txs ahead of it in the block (estimated on a cheaper path)
            return {
                **_tx_fields(call),
                "nonce": self.nonce,
                "gas": max(int(gas * self.gas_multiplier), min_gas),
                "chainId": self.chain_id,
                **self.node.fee_fields(self.fees),
            }

    def _sign(self, tx: dict) -> bytes:
        sign_tx = getattr(self.account, "sign_tx", None)
        if sign_tx is not None:
            return bytes(sign_tx(dict(tx, **{"from": self.account.address})))
        return bytes(self.account.sign_transaction(tx).raw_transaction)

    def broadcast(
        self, tx: dict, key: str | None = None, head_number: int | None = None, meta: dict | None = None
    ) -> str:
        """Sign and send ``tx``; on a nonce error re-read the nonce once and re-sign. The tx is
        then in flight (``pending``), and the local nonce moves past it. Raises ``TxFailed``."""
        with self._lock:
            for attempt in (0, 1):
                raw = self._sign(tx)
                try:
                    h = self.node.send_raw(raw)
                    break
                except ChainError as e:
                    if "already known" in str(e).lower():
                        # this very tx is in the pool already (a retried request): it is sent; a
                        # re-sign at a fresh nonce would send the call twice
                        h = "0x" + keccak(raw).hex()
                        break
                    if attempt == 0 and _nonce_error(str(e)):
                        self.sync_nonce()
                        tx["nonce"] = self.nonce
                        continue
                    self.nonce = None  # unknown state: re-read before the next send
                    raise TxFailed(f"broadcast failed: {e}", error=e) from e
            if head_number is None:
                head_number = self.node.block_number()
            key = key or h
            self.pending[tx["nonce"]] = PendingTx(key, tx["nonce"], tx, [h], head_number, meta=meta or {})
            self.by_key[key] = tx["nonce"]
            self.nonce = tx["nonce"] + 1
            self.m_pending.set(len(self.pending))
            return h

    def broadcast_batch(self, calls: list[Call], gas: int) -> list[str]:
        """Sign ``calls`` at consecutive local nonces with one fee quote and ``gas`` each (not
        simulated: a later call may depend on an earlier one, an approve before its deposit) and
        send them as JSON-RPC batches (devnet tooling queues thousands at once; ``node`` must be a
        :class:`chain.rpc.Rpc`). They are not tracked as in flight: wait with :func:`wait_mined`.
        Returns the hashes in order; ``TxFailed`` when the node refused one (the nonce is then
        re-read before the next send: how many of the batch went in is unknown)."""
        if self.dry:
            raise TxFailed("no signing account: cannot send")
        if not isinstance(self.node, _RpcNode) or not hasattr(self.node.rpc, "batch"):
            raise TypeError("broadcast_batch needs a TxSender over a chain.rpc.Rpc (JSON-RPC batches)")
        if gas <= 0:
            raise ValueError("gas must be > 0")
        with self._lock:
            if self.nonce is None or self.chain_id is None:
                self.sync_nonce()
            fees = self.node.fee_fields(self.fees)
            raws = [
                self._sign({**_tx_fields(c), "nonce": self.nonce + i, "gas": gas, "chainId": self.chain_id, **fees})
                for i, c in enumerate(calls)
            ]
            try:
                hashes = self.node.rpc.batch([("eth_sendRawTransaction", ["0x" + r.hex()]) for r in raws])
            except ChainError as e:
                self.nonce = None
                raise TxFailed(f"batch broadcast failed: {e}", error=e) from e
            self.nonce += len(raws)
            self.m_sent.labels("batch").inc(len(raws))
            return hashes

    # ------------------------------------------------------------ non-blocking (keepers)
    def send(
        self,
        key: str,
        fn,
        head_number: int,
        kind: str = "tx",
        meta: dict | None = None,
        describe: dict | None = None,
        min_gas: int = 0,
    ) -> SendResult:
        """Simulate, then (unless dry) send ``fn`` (a web3 ContractFunction or a :class:`Call`) as
        the one in-flight tx for ``key``. Finished txs come back from :meth:`poll`."""
        if key in self.by_key:
            return SendResult("in_flight", reason="already in flight")
        call = fn if isinstance(fn, Call) else call_of(fn)
        desc = {"key": key, "kind": kind, "fn": getattr(fn, "fn_name", None) or call.data[:4].hex(), **(describe or {})}
        try:
            gas = self.simulate(call)
        except ChainError as e:
            reason = getattr(e, "reason", None) or reason_text(e)
            self.m_rejected.labels(kind).inc()
            _kv(self.log, logging.INFO, "not sent: simulation reverted", reason=reason, **desc)
            return SendResult("rejected", reason=reason)
        if self.dry:
            self.m_dry.labels(kind).inc()
            _kv(self.log, logging.INFO, "dry run: would send", gas=gas, **desc)
            return SendResult("dry")
        with self._lock:
            tx = self.prepare(call, gas=gas, min_gas=min_gas)
            try:
                h = self.broadcast(tx, key, head_number, meta)
            except TxFailed as e:
                _kv(self.log, logging.ERROR, "broadcast failed", error=str(e.error or e)[:300], **desc)
                return SendResult("error", reason=str(e.error or e))
        self.m_sent.labels(kind).inc()
        _kv(self.log, logging.INFO, "sent", tx=h, nonce=tx["nonce"], gas=tx["gas"], block=head_number, **desc)
        return SendResult("sent", tx_hash=h)

    def _receipt_of(self, p: PendingTx) -> Receipt | None:
        for h in reversed(p.hashes):  # the newest replacement is the likeliest to be mined
            r = self.node.receipt(h)
            if r is not None:
                return r
        return None

    def _finish(self, p: PendingTx) -> None:
        self.by_key.pop(p.key, None)
        self.pending.pop(p.nonce, None)
        self.m_pending.set(len(self.pending))

    def poll(self, head_number: int) -> list[Outcome]:
        """Receipts of in-flight txs; replace stuck ones. Returns finished txs."""
        done: list[tuple[PendingTx, Outcome]] = []
        with self._lock:
            if not self.pending:
                return []
            chain_nonce = None
            for nonce in sorted(self.pending):
                p = self.pending[nonce]
                r = self._receipt_of(p)
                if r is not None:
                    status = "mined" if r.status == 1 else "reverted"
                    if status == "reverted":
                        self.m_reverted.labels(p.meta.get("kind", "tx")).inc()
                    done.append((p, Outcome(p.key, status, r.tx_hash, r.block_number, p.meta, r.raw)))
                    continue
                if chain_nonce is None:
                    chain_nonce = self.node.nonce(self.account.address, "latest")
                if chain_nonce > nonce:  # the nonce was used by a tx we do not know (replaced elsewhere)
                    done.append((p, Outcome(p.key, "dropped", None, None, p.meta)))
                    continue
                if head_number - p.sent_block >= self.bump_after:
                    self._bump(p, head_number)
            for p, _ in done:
                self._finish(p)
        return [o for _, o in done]

    def _bump(self, p: PendingTx, head_number: int) -> None:
        fee_keys = [k for k in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice") if k in p.tx]
        new = self.fees.bumped({k: p.tx[k] for k in fee_keys})
        if new is None:
            _kv(self.log, logging.WARNING, "stuck tx at fee cap; not bumping", key=p.key, nonce=p.nonce)
            p.sent_block = head_number
            return
        tx = dict(p.tx, **new)
        try:
            h = self.node.send_raw(self._sign(tx))
        except ChainError as e:
            _kv(self.log, logging.WARNING, "replacement rejected", key=p.key, nonce=p.nonce, error=str(e)[:200])
            p.sent_block = head_number
            return
        p.tx, p.sent_block, p.bumps = tx, head_number, p.bumps + 1
        p.hashes.append(h)
        self.m_bumped.labels(p.meta.get("kind", "tx")).inc()
        _kv(self.log, logging.WARNING, "replaced stuck tx", key=p.key, nonce=p.nonce, tx=h, bumps=p.bumps, **new)

    # ------------------------------------------------------------ blocking (relay, market maker, SDK)
    def transact(self, call: Call | Any, value: int = 0, timeout: float | None = None) -> Receipt:
        """Simulate, send and wait for ``call`` (a :class:`Call` or a web3 ContractFunction);
        the receipt of a successful transaction (``contract_address`` set when ``call.to`` is
        None: a creation), else ``TxFailed`` (with the reason)."""
        if self.account is None:
            raise TxFailed("no signing account: cannot send")
        call = call if isinstance(call, Call) else call_of(call, value)
        with self._lock:
            h = self.broadcast(self.prepare(call))
        return self.wait(h, timeout)

    def wait(self, tx_hash: str, timeout: float | None = None) -> Receipt:
        """Wait for the receipt of ``tx_hash`` (or of a fee-bumped replacement of it); replace it
        while it is stuck. Raises ``TxFailed(mined=True)`` with the replayed reason when it
        reverted, ``TxFailed`` when no receipt came within ``timeout`` seconds (its fate is
        unknown: the nonce is re-read before the next send)."""
        limit = self.receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        delay = self.poll_interval
        while True:
            with self._lock:
                p = next((q for q in self.pending.values() if tx_hash in q.hashes), None)
                r = self.node.receipt(tx_hash) if p is None else self._receipt_of(p)
                if r is not None:
                    if p is not None:
                        self._finish(p)
                    break
                if p is not None:
                    head = self.node.block_number()
                    if head - p.sent_block >= self.bump_after:
                        self._bump(p, head)
            if time.monotonic() >= deadline:
                with self._lock:
                    if p is not None:
                        self._finish(p)
                    self.nonce = None
                raise TxFailed(f"no receipt for {tx_hash} within {limit:.0f} s; it may still be pending", tx_hash)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if r.status != 1:
            self.m_reverted.labels("tx").inc()
            reason, err = self.replay_reason(p.tx if p is not None else None, r)
            raise TxFailed(reason or "reverted on-chain", r.tx_hash, mined=True, error=err)
        return r

    def replay_reason(self, tx: dict | None, receipt: Receipt) -> tuple[str | None, BaseException | None]:
        """Why a mined transaction reverted: the same call replayed at the block before (the
        state it ran against, give or take the txs ahead of it in its block)."""
        if tx is None or self.account is None:
            return None, None
        try:
            replay = _replayable(self.account.address, tx.get("to"), tx["data"], tx.get("value", 0))
            self.node.call(replay, receipt.block_number - 1)
        except CallReverted as e:
            return e.reason, e.__cause__ or e
        except ChainError:
            return None, None
        return None, None


def tx_outcome(node, tx_hash: str) -> tuple[Receipt | None, BaseException | None]:
    """The fate of a transaction anyone sent (a browser wallet's, say): ``(None, None)`` while
    it is pending; ``(receipt, None)`` once mined, or reverted without a reason the replay can
    show; ``(receipt, error)`` when it reverted, ``error`` being the node's answer to the same
    call replayed at the block before (hand it to a revert decoder)."""
    n = node_of(node)
    r = n.receipt(tx_hash)
    if r is None or r.status == 1:
        return r, None
    try:
        n.call(n.transaction(tx_hash), r.block_number - 1)
    except CallReverted as e:
        return r, e.__cause__ or e
    return r, None


def wait_mined(rpc, hashes: list[str], timeout: float = 600.0) -> list[dict]:
    """Wait until every one of ``hashes`` is mined, whoever sent them (a JSON-RPC batch of
    impersonated or pre-signed transactions queued in a devnet's pool), reading the receipts in
    batches through ``rpc`` (a :class:`chain.rpc.Rpc`). Returns the raw receipts in order;
    ``TxFailed`` naming how many are still pending or reverted after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        pending = sum(r is None for r in receipts)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    reverted = [hashes[i] for i, r in enumerate(receipts) if r is not None and int(r["status"], 16) != 1]
    if pending or reverted:
        first = f"; first reverted: {reverted[0]}" if reverted else ""
        raise TxFailed(f"{pending} of {len(hashes)} transactions not mined, {len(reverted)} reverted{first}")
    return receipts


def send_unlocked(rpc, txs: list[tuple[str, Call]], gas: int, fees: FeePolicy | None = None) -> list[str]:
    """Send ``(sender, call)`` pairs with ``eth_sendTransaction``: the node signs, so each sender
    must be an account it holds unlocked (a devnet's default accounts, or one impersonated with
    ``anvil_impersonateAccount``: a demo's hosts have no key). ``gas`` each, fees from ``fees``
    as :class:`TxSender` quotes them, consecutive nonces per sender from its pending count; sent
    in JSON-RPC batches through ``rpc``
    (a :class:`chain.rpc.Rpc`). Returns the hashes in order: wait with :func:`wait_mined`.
    ``TxFailed`` when the node refused one (e.g. a sender it does not hold)."""
    if gas <= 0:
        raise ValueError("gas must be > 0")
    node = _RpcNode(rpc)
    quote = {k: hex(v) for k, v in node.fee_fields(fees or FeePolicy()).items()}
    # A node may serve a batch's requests concurrently (anvil does): two sends of one account in
    # one batch then took the same pending nonce ("replacement transaction underpriced"), or,
    # given explicit nonces, arrived out of order and the later one sat queued with nothing to
    # mine it. So each sender gets consecutive explicit nonces, and a batch holds at most one
    # transaction per sender: one account's burst goes out request by request, in order.
    nonces: dict[str, int] = {}
    groups: list[list] = [[]]
    in_group: set[str] = set()
    for sender, call in txs:
        key = sender.lower()
        if key not in nonces:
            nonces[key] = node.nonce(sender, "pending")
        tx = {"from": sender, **node._wire(_tx_fields(call)), "gas": hex(gas), "nonce": hex(nonces[key]), **quote}
        nonces[key] += 1
        if key in in_group:  # consecutive slices, so the hashes come back in the given order
            groups.append([])
            in_group = set()
        groups[-1].append(("eth_sendTransaction", [tx]))
        in_group.add(key)
    hashes: list[str] = []
    try:
        for group in groups:
            if group:
                hashes.extend(rpc.batch(group))
    except ChainError as e:
        raise TxFailed(f"unlocked send failed: {e}", error=e) from e
    return hashes


def revert_of(e: TxFailed) -> Any:
    """What to hand a revert decoder for ``e``: the node's error when there is one, else the reason."""
    return e.error if e.error is not None and revert_reason(e.error) else e.reason
