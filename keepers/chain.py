"""Shared keeper plumbing: settings, RPC with reconnect, a nonce-managed tx sender with fee
bumping, structured JSON logs, Prometheus metrics and the plain polling loop.

Nothing here decides anything; the keepers (``keepers.pusher``, ``keepers.liquidator``,
``keepers.settler``) do, from chain state handed to them.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import requests
from eth_account import Account
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError

from sdk.manifest import Manifest, ManifestError

ANVIL_CHAIN_ID = 31337
log = logging.getLogger("keepers.chain")


# --------------------------------------------------------------------------- config


class ConfigError(ValueError):
    """Bad keeper configuration; the message names the env var / flag."""


class KeeperSettings(BaseSettings):
    """Settings every bot shares. Env vars are ``CSPREAD_<FIELD>`` (e.g. ``CSPREAD_RPC_URL``)."""

    model_config = SettingsConfigDict(env_prefix="CSPREAD_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    manifest: Path = Path("deployments/31337.json")
    # the signer: a hex key in CSPREAD_PRIVATE_KEY, or the name of another env var holding it
    private_key: SecretStr | None = None
    key_env: str | None = None
    dry_run: bool = False  # log what would be sent, send nothing (also implied by no key)
    metrics_port: int = 0  # 0 = no Prometheus endpoint
    log_level: str = "INFO"
    poll_interval: float = 1.0  # seconds between head polls
    rpc_timeout: float = 10.0
    # fees: EIP-1559 where the chain has a base fee, else legacy gas price
    priority_fee_gwei: float = 1.0
    max_fee_gwei: float = 500.0  # hard cap, bumping stops there
    bump_after_blocks: int = 3  # a tx unmined after this many blocks is replaced (same nonce)
    fee_bump_pct: float = 12.5  # replacement fee increase; nodes need >= 10
    gas_multiplier: float = 1.25  # gas limit = estimate x this
    log_chunk: int = 5_000  # blocks per eth_getLogs request during resync

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s):// JSON-RPC URL, got {v!r}")
        return v

    @field_validator("poll_interval", "rpc_timeout")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be > 0")
        return v

    @field_validator("fee_bump_pct")
    @classmethod
    def _bump(cls, v: float) -> float:
        if v < 10:
            raise ValueError("must be >= 10 (nodes reject replacements with a smaller fee increase)")
        return v

    @field_validator("metrics_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError("must be 0 (off) or a TCP port")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @field_validator("bump_after_blocks", "log_chunk")
    @classmethod
    def _pos_int(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    def account(self):
        """The signing account, or None (dry run). Never logs the key."""
        import os

        raw = self.private_key.get_secret_value() if self.private_key else None
        if raw is None and self.key_env:
            raw = os.environ.get(self.key_env)
            if not raw:
                raise ConfigError(f"CSPREAD_KEY_ENV names {self.key_env}, which is not set")
        if not raw:
            return None
        try:
            return Account.from_key(raw.strip())
        except Exception:
            raise ConfigError("the configured private key is not a valid hex key") from None

    def load_manifest(self) -> Manifest:
        try:
            return Manifest.load(self.manifest)
        except ManifestError as e:
            raise ConfigError(f"CSPREAD_MANIFEST: {e}") from None


def load_settings(cls: type[KeeperSettings], overrides: dict[str, Any] | None = None) -> KeeperSettings:
    """Build settings from env + overrides; on error print which variable is wrong and exit 2."""
    try:
        s = cls(**{k: v for k, v in (overrides or {}).items() if v is not None})
        s.account()
        s.load_manifest()
        return s
    except ValidationError as e:
        lines = [f"  CSPREAD_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()]
        _config_exit("invalid keeper configuration:\n" + "\n".join(lines))
    except ConfigError as e:
        _config_exit(f"invalid keeper configuration: {e}")


def _config_exit(msg: str):
    print(json.dumps({"level": "CRITICAL", "msg": msg}), file=sys.stderr)
    raise SystemExit(2)


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc-url")
    p.add_argument("--manifest")
    p.add_argument("--metrics-port", type=int)
    p.add_argument("--poll-interval", type=float)
    p.add_argument("--key-env", help="env var holding the keeper's hex private key")
    p.add_argument("--dry-run", action="store_true", default=None)
    p.add_argument("--log-level")


# --------------------------------------------------------------------------- logs


class JsonFormatter(logging.Formatter):
    def format(self, r: logging.LogRecord) -> str:
        d = {"ts": round(r.created, 3), "level": r.levelname, "logger": r.name, "msg": r.getMessage()}
        d.update(getattr(r, "fields", None) or {})
        if r.exc_info:
            d["exc"] = self.formatException(r.exc_info)
        return json.dumps(d, default=str)


def setup_logging(level: str = "INFO") -> None:
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "web3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def kv(logger: logging.Logger, level: int, msg: str, **fields) -> None:
    """Log `msg` with structured fields (one JSON object per line)."""
    logger.log(level, msg, extra={"fields": fields})


# --------------------------------------------------------------------------- metrics


class Metrics:
    """A per-bot Prometheus registry (several bots can share a process in tests)."""

    def __init__(self, bot: str):
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.bot = bot
        self.registry = CollectorRegistry()
        self._c, self._g = Counter, Gauge
        self.counters: dict[str, Any] = {}
        self.gauges: dict[str, Any] = {}

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()):
        if name not in self.counters:
            self.counters[name] = self._c(f"cspread_{self.bot}_{name}", doc, labels, registry=self.registry)
        return self.counters[name]

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()):
        if name not in self.gauges:
            self.gauges[name] = self._g(f"cspread_{self.bot}_{name}", doc, labels, registry=self.registry)
        return self.gauges[name]

    def serve(self, port: int) -> None:
        if port:
            from prometheus_client import start_http_server

            start_http_server(port, addr="127.0.0.1", registry=self.registry)


# --------------------------------------------------------------------------- RPC


class ChainDown(ConnectionError):
    """The RPC does not answer."""


def is_connection_error(e: BaseException) -> bool:
    return isinstance(e, (ChainDown, requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                          ConnectionError, TimeoutError))


@dataclass(frozen=True)
class Head:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Chain:
    """Web3 over HTTP with reconnect: every call opens or reuses a connection, so "reconnect"
    is noticing the outage, backing off and telling the keeper to resync when it ends
    (``epoch`` counts outages). A different chain id after reconnect is fatal."""

    def __init__(self, rpc_url: str, timeout: float = 10.0, w3: Web3 | None = None):
        self.rpc_url = rpc_url
        self.w3 = w3 or Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.chain_id: int | None = None
        self.down = False
        self.epoch = 0

    def head(self) -> Head:
        try:
            b = self.w3.eth.get_block("latest")
            cid = self.chain_id if self.chain_id is not None and not self.down else self.w3.eth.chain_id
        except Exception as e:
            if is_connection_error(e):
                self.mark_down(e)
                raise ChainDown(str(e)) from e
            raise
        if self.chain_id is None:
            self.chain_id = cid
        elif cid != self.chain_id:
            raise RuntimeError(f"RPC {self.rpc_url} now serves chain {cid}, expected {self.chain_id}: refusing to act")
        if self.down:
            self.down = False
            self.epoch += 1
            kv(log, logging.WARNING, "rpc reconnected", rpc=self.rpc_url, block=b["number"], epoch=self.epoch)
        return Head(int(b["number"]), b["hash"].hex(), b["parentHash"].hex(), int(b["timestamp"]))

    def mark_down(self, e: BaseException) -> None:
        if not self.down:
            kv(log, logging.ERROR, "rpc down", rpc=self.rpc_url, error=str(e)[:200])
        self.down = True


def batch_call(w3: Web3, calls: list, fallback: bool = True) -> list:
    """Run contract view calls in one JSON-RPC batch (one HTTP round trip)."""
    if not calls:
        return []
    try:
        with w3.batch_requests() as batch:
            for c in calls:
                batch.add(c)
            return list(batch.execute())
    except Exception as e:
        if is_connection_error(e) or not fallback:
            raise
        return [c.call() for c in calls]


# --------------------------------------------------------------------------- transactions


def revert_reason(e: BaseException) -> str:
    msg = str(e.args[0] if getattr(e, "args", None) else e)
    if isinstance(e, (ContractLogicError, ContractCustomError)) and getattr(e, "message", None):
        msg = e.message
    return msg.replace("execution reverted: ", "").strip()


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


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | dry | rejected | in_flight | error
    tx_hash: str | None = None
    reason: str | None = None


class FeePolicy:
    def __init__(self, priority_gwei: float, max_fee_gwei: float, bump_pct: float):
        self.priority = int(priority_gwei * 1e9)
        self.cap = int(max_fee_gwei * 1e9)
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


class TxSender:
    """Sends keeper transactions with a local nonce counter.

    - ``send(key, fn)`` estimates gas first (a revert is returned as ``rejected`` with the
      reason, nothing is sent), signs with the next local nonce and broadcasts; one tx per
      ``key`` in flight at a time.
    - ``poll(head)`` collects receipts, and replaces a tx still unmined after
      ``bump_after_blocks`` blocks with the same nonce at fees + ``bump_pct``.
    - ``reset()`` (after an RPC outage or a reorg) forgets in-flight txs and re-reads the
      nonce from the chain; keepers re-decide from fresh state, so nothing is sent twice.
    - Without an account (or with dry_run) it logs what it would send and sends nothing.
    """

    def __init__(self, w3: Web3, account, fees: FeePolicy, bump_after_blocks: int = 3,
                 gas_multiplier: float = 1.25, dry_run: bool = False, metrics: Metrics | None = None,
                 logger: logging.Logger | None = None):
        self.w3, self.account, self.fees = w3, account, fees
        self.bump_after = bump_after_blocks
        self.gas_multiplier = gas_multiplier
        self.dry = dry_run or account is None
        self.log = logger or log
        self.pending: dict[int, PendingTx] = {}
        self.by_key: dict[str, int] = {}
        self.nonce: int | None = None
        self.chain_id: int | None = None
        m = metrics or Metrics("keeper")
        self.m_sent = m.counter("tx_sent_total", "Transactions broadcast", ("kind",))
        self.m_rejected = m.counter("tx_rejected_total", "Transactions not sent: simulation reverted", ("kind",))
        self.m_reverted = m.counter("tx_reverted_total", "Transactions mined but reverted", ("kind",))
        self.m_bumped = m.counter("tx_bumped_total", "Stuck transactions replaced with higher fees", ("kind",))
        self.m_dry = m.counter("tx_dry_total", "Transactions logged, not sent (dry run)", ("kind",))
        self.m_pending = m.gauge("tx_pending", "Transactions in flight")

    @property
    def address(self) -> str | None:
        return self.account.address if self.account is not None else None

    def sync_nonce(self) -> None:
        if self.account is not None:
            self.nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
            self.chain_id = self.w3.eth.chain_id

    def reset(self) -> None:
        if self.pending:
            kv(self.log, logging.WARNING, "forgetting in-flight txs after reconnect/reorg",
               keys=[p.key for p in self.pending.values()])
        self.pending.clear()
        self.by_key.clear()
        self.m_pending.set(0)
        self.sync_nonce()

    def in_flight(self, key: str) -> bool:
        return key in self.by_key

    def _fee_fields(self) -> dict:
        blk = self.w3.eth.get_block("pending")
        base = blk.get("baseFeePerGas")
        return self.fees.initial(base, self.w3.eth.gas_price if base is None else 0)

    def send(self, key: str, fn, head_number: int, kind: str = "tx", meta: dict | None = None,
             describe: dict | None = None, min_gas: int = 0) -> SendResult:
        if key in self.by_key:
            return SendResult("in_flight", reason="already in flight")
        desc = {"key": key, "kind": kind, "fn": fn.fn_name, **(describe or {})}
        sender = self.account.address if self.account is not None else None
        try:
            gas = fn.estimate_gas({"from": sender} if sender else {})
        except (ContractLogicError, ContractCustomError, Web3RPCError, ValueError) as e:
            if is_connection_error(e):
                raise
            reason = revert_reason(e)
            self.m_rejected.labels(kind).inc()
            kv(self.log, logging.INFO, "not sent: simulation reverted", reason=reason, **desc)
            return SendResult("rejected", reason=reason)
        if self.dry:
            self.m_dry.labels(kind).inc()
            kv(self.log, logging.INFO, "dry run: would send", gas=gas, **desc)
            return SendResult("dry")
        if self.nonce is None:
            self.sync_nonce()
        # min_gas: a tx whose path depends on txs ahead of it in the block (estimated on a cheaper path)
        tx = fn.build_transaction({"from": sender, "nonce": self.nonce, "gas": max(int(gas * self.gas_multiplier), min_gas),
                                   "chainId": self.chain_id, **self._fee_fields()})
        for attempt in (0, 1):
            try:
                h = self._broadcast(tx)
                break
            except Web3RPCError as e:
                msg = str(e).lower()
                if attempt == 0 and ("nonce too low" in msg or "nonce" in msg and "low" in msg or "already known" in msg):
                    self.sync_nonce()
                    tx["nonce"] = self.nonce
                    continue
                kv(self.log, logging.ERROR, "broadcast failed", error=str(e)[:300], **desc)
                return SendResult("error", reason=str(e))
        self.pending[tx["nonce"]] = PendingTx(key, tx["nonce"], tx, [h], head_number, meta=meta or {})
        self.by_key[key] = tx["nonce"]
        self.nonce = tx["nonce"] + 1
        self.m_sent.labels(kind).inc()
        self.m_pending.set(len(self.pending))
        kv(self.log, logging.INFO, "sent", tx=h, nonce=tx["nonce"], gas=tx["gas"], block=head_number, **desc)
        return SendResult("sent", tx_hash=h)

    def _broadcast(self, tx: dict) -> str:
        signed = self.account.sign_transaction(tx)
        return "0x" + self.w3.eth.send_raw_transaction(signed.raw_transaction).hex().removeprefix("0x")

    def poll(self, head_number: int) -> list[Outcome]:
        """Receipts of in-flight txs; replace stuck ones. Returns finished txs."""
        done: list[Outcome] = []
        if not self.pending:
            return done
        chain_nonce = None
        for nonce in sorted(self.pending):
            p = self.pending[nonce]
            receipt = None
            for h in reversed(p.hashes):
                try:
                    receipt = self.w3.eth.get_transaction_receipt(h)
                    break
                except TransactionNotFound:
                    continue
            if receipt is not None:
                status = "mined" if receipt["status"] == 1 else "reverted"
                if status == "reverted":
                    self.m_reverted.labels(p.meta.get("kind", "tx")).inc()
                done.append(Outcome(p.key, status, receipt["transactionHash"].hex(), receipt["blockNumber"], p.meta))
                continue
            if chain_nonce is None:
                chain_nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
            if chain_nonce > nonce:  # the nonce was used by a tx we do not know (replaced elsewhere)
                done.append(Outcome(p.key, "dropped", None, None, p.meta))
                continue
            if head_number - p.sent_block >= self.bump_after:
                self._bump(p, head_number)
        for o in done:
            nonce = self.by_key.pop(o.key, None)
            self.pending.pop(nonce, None)
        self.m_pending.set(len(self.pending))
        return done

    def _bump(self, p: PendingTx, head_number: int) -> None:
        fee_keys = [k for k in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice") if k in p.tx]
        new = self.fees.bumped({k: p.tx[k] for k in fee_keys})
        if new is None:
            kv(self.log, logging.WARNING, "stuck tx at fee cap; not bumping", key=p.key, nonce=p.nonce)
            p.sent_block = head_number
            return
        tx = dict(p.tx, **new)
        try:
            h = self._broadcast(tx)
        except Web3RPCError as e:
            kv(self.log, logging.WARNING, "replacement rejected", key=p.key, nonce=p.nonce, error=str(e)[:200])
            p.sent_block = head_number
            return
        p.tx, p.sent_block, p.bumps = tx, head_number, p.bumps + 1
        p.hashes.append(h)
        self.m_bumped.labels(p.meta.get("kind", "tx")).inc()
        kv(self.log, logging.WARNING, "replaced stuck tx", key=p.key, nonce=p.nonce, tx=h, bumps=p.bumps,
           **{k: v for k, v in new.items()})


# --------------------------------------------------------------------------- event logs


def get_logs_chunked(w3: Web3, address: str, topics: list, start: int, end: int, chunk: int) -> list:
    out = []
    a = start
    while a <= end:
        b = min(end, a + chunk - 1)
        out.extend(w3.eth.get_logs({"address": address, "fromBlock": a, "toBlock": b, "topics": topics}))
        a = b + 1
    return out


# --------------------------------------------------------------------------- loop


class Keeper(Protocol):
    name: str

    def start(self, head: Head) -> dict: ...

    def on_block(self, head: Head) -> dict: ...

    def on_reconnect(self, head: Head) -> None: ...


def run_loop(keeper: Keeper, chain: Chain, poll_interval: float, stop: threading.Event | None = None,
             max_backoff: float = 5.0) -> None:
    """Poll the head; call ``keeper.on_block`` once per new head; survive RPC outages."""
    stop = stop or threading.Event()
    lg = logging.getLogger(f"keepers.{keeper.name}")
    started, last, epoch, backoff = False, None, chain.epoch, poll_interval
    while not stop.is_set():
        try:
            head = chain.head()
            if not started:
                kv(lg, logging.INFO, "startup", **keeper.start(head))
                started, epoch = True, chain.epoch
            elif chain.epoch != epoch:
                epoch = chain.epoch
                keeper.on_reconnect(head)
                last = None
            if last is None or head.hash != last.hash:
                m = keeper.on_block(head)
                last = head
                if m:
                    kv(lg, logging.DEBUG, "block", block=head.number, **m)
            backoff = poll_interval
            stop.wait(poll_interval)
        except Exception as e:
            if not is_connection_error(e):
                kv(lg, logging.ERROR, "handler error", error=f"{type(e).__name__}: {e}"[:500])
                if isinstance(e, RuntimeError) and "refusing to act" in str(e):
                    raise
            else:
                chain.mark_down(e)
            stop.wait(backoff)
            backoff = min(max_backoff, backoff * 2)


def install_signal_handlers(stop: threading.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def build_sender(settings: KeeperSettings, w3: Web3, metrics: Metrics, logger: logging.Logger) -> TxSender:
    return TxSender(w3, settings.account(), FeePolicy(settings.priority_fee_gwei, settings.max_fee_gwei,
                                                      settings.fee_bump_pct),
                    settings.bump_after_blocks, settings.gas_multiplier, settings.dry_run, metrics, logger)


def main_loop(name: str, settings: KeeperSettings, build: Callable[[KeeperSettings, Chain, Metrics], Keeper],
              once: bool = False) -> int:
    """Shared ``cspread-<bot>`` body; `once`: act on the current head, then exit (cron, smoke tests)."""
    setup_logging(settings.log_level)
    lg = logging.getLogger(f"keepers.{name}")
    chain = Chain(settings.rpc_url, settings.rpc_timeout)
    metrics = Metrics(name)
    keeper = build(settings, chain, metrics)
    try:
        metrics.serve(settings.metrics_port)
    except OSError as e:
        _config_exit(f"CSPREAD_METRICS_PORT {settings.metrics_port}: {e}")
    stop = threading.Event()
    install_signal_handlers(stop)
    kv(lg, logging.INFO, "starting", rpc=settings.rpc_url, manifest=str(settings.manifest),
       signer=getattr(keeper.sender, "address", None), dry_run=keeper.sender.dry, metrics_port=settings.metrics_port)
    if once:
        head = chain.head()
        kv(lg, logging.INFO, "startup", **keeper.start(head))
        kv(lg, logging.INFO, "block", block=head.number, **(keeper.on_block(head) or {}))
    else:
        run_loop(keeper, chain, settings.poll_interval, stop)
    kv(lg, logging.INFO, "stopped")
    return 0
