"""Shared keeper plumbing: settings, structured JSON logs, Prometheus metrics and the plain
polling loop. The RPC with reconnect, the nonce-managed tx sender with fee bumping and log
paging are :mod:`chain`.

Nothing here decides anything; the keepers (``keepers.pusher``, ``keepers.liquidator``,
``keepers.settler``) do, from chain state handed to them.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from web3 import Web3

from chain.rpc import Chain, Head, is_connection_error
from chain.tx import FeePolicy, TxSender
from core.manifest import Manifest, ManifestError

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


# RPC (head polling with reconnect), transactions and log paging live in the `chain` package:
# one copy for keepers, relay and SDK.


def raw_call_batch(rpc, calls: list[tuple[str, bytes]], block: str = "latest", size: int = 1_000) -> list[bytes]:
    """``eth_call`` of each ``(to, calldata)`` through a raw :class:`chain.rpc.Rpc`, sent as
    JSON-RPC batches of ``size`` (one round trip each, no web3 formatting: a liquidator reading a
    thousand markets a block pays the node's execution, not ~1 ms of web3 per call). Returns the
    raw return data in order; any error in the batch raises :class:`chain.rpc.ChainError`. A
    plain callable ``rpc(method, params)`` (another provider) is called once per call."""
    from chain.rpc import ChainDown, Rpc, error_of

    if not isinstance(rpc, Rpc):
        return [bytes.fromhex(rpc("eth_call", [{"to": to, "data": "0x" + d.hex()}, block])[2:]) for to, d in calls]
    out: list[bytes] = []
    for k in range(0, len(calls), size):
        chunk = calls[k : k + size]
        payload = [
            {"jsonrpc": "2.0", "id": n, "method": "eth_call", "params": [{"to": to, "data": "0x" + d.hex()}, block]}
            for n, (to, d) in enumerate(chunk)
        ]
        try:
            body = json.loads(rpc._post(json.dumps(payload).encode()))  # Rpc has no public batch call yet
        except OSError as e:  # the loop's outage handling (backoff, reconnect check) takes it from here
            raise ChainDown(f"eth_call batch: RPC {rpc.url} unreachable: {e}") from e
        if not isinstance(body, list):
            raise error_of("eth_call", (body or {}).get("error") or {"message": f"not a batch answer: {body!r}"[:200]})
        by_id = {r.get("id"): r for r in body}
        for n in range(len(chunk)):
            r = by_id.get(n)
            if r is None or "error" in r:
                raise error_of("eth_call", (r or {}).get("error") or {"message": "missing from the batch answer"})
            out.append(bytes.fromhex(r["result"][2:]))
    return out


# --------------------------------------------------------------------------- loop


class Keeper(Protocol):
    name: str

    def start(self, head: Head) -> dict: ...

    def on_block(self, head: Head) -> dict: ...

    def on_reconnect(self, head: Head) -> None: ...


def run_loop(
    keeper: Keeper, chain: Chain, poll_interval: float, stop: threading.Event | None = None, max_backoff: float = 5.0
) -> None:
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
    return TxSender(
        w3,
        settings.account(),
        FeePolicy(settings.priority_fee_gwei, settings.max_fee_gwei, settings.fee_bump_pct),
        settings.bump_after_blocks,
        settings.gas_multiplier,
        settings.dry_run,
        metrics,
        logger,
    )


def main_loop(
    name: str,
    settings: KeeperSettings,
    build: Callable[[KeeperSettings, Chain, Metrics], Keeper],
    once: bool = False,
    run_once: Callable[[Keeper], int] | None = None,
) -> int:
    """Shared ``cspread-<bot>`` body; `once`: act on the current head, then exit (cron, smoke
    tests), or, given `run_once`, run that on the built keeper and exit with what it returns
    (the lister's ``--once`` lists everything due and waits for the receipts)."""
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
    kv(
        lg,
        logging.INFO,
        "starting",
        rpc=settings.rpc_url,
        manifest=str(settings.manifest),
        signer=getattr(keeper.sender, "address", None),
        dry_run=keeper.sender.dry,
        metrics_port=settings.metrics_port,
    )
    if once and run_once is not None:
        rc = run_once(keeper)
        kv(lg, logging.INFO, "stopped")
        return rc
    if once:
        head = chain.head()
        kv(lg, logging.INFO, "startup", **keeper.start(head))
        kv(lg, logging.INFO, "block", block=head.number, **(keeper.on_block(head) or {}))
    else:
        run_loop(keeper, chain, settings.poll_interval, stop)
    kv(lg, logging.INFO, "stopped")
    return 0
