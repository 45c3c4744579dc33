"""A reporter's state: what it observed for each feed, when, and its latest signed report.

Plain Python (no FastAPI): the service calls :meth:`Reporter.refresh` and reads the state.
One observation round happens per distinct clock value (the chain's latest block
timestamp on a devnet), so many HTTP requests in one block cost one valuation pass.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from oracle.errors import OracleError, WindowOpen
from oracle.manifest import Manifest, Market
from oracle.signing import ReportSigner, SignedReport
from oracle.specs import feed_hex
from oracle.valuation import Valuation, Valuer

log = logging.getLogger("oracle.reporter")

MARK, SETTLEMENT = "MARK", "SETTLEMENT"


@dataclass(frozen=True)
class Observation:
    observed_at: int  # chain time
    price_usd: float
    price_units: int
    valuation: Valuation


@dataclass
class FeedState:
    feed_id: bytes
    role: str  # MARK | SETTLEMENT
    market: Market
    latest: Observation | None = None
    status: str = "pending"  # ok | pending (settlement before delivery_end) | error
    detail: str | None = None
    history: deque = field(default_factory=deque)

    @property
    def feed_hex(self) -> str:
        return feed_hex(self.feed_id)


class Reporter:
    def __init__(self, manifest: Manifest, valuer: Valuer, clock: Callable[[], int],
                 signer: ReportSigner | None = None, history_len: int = 1000):
        self.manifest, self.valuer, self.clock, self.signer = manifest, valuer, clock, signer
        self.feeds: dict[bytes, FeedState] = {}
        for m in manifest.markets:
            self.feeds[m.mark_feed] = FeedState(m.mark_feed, MARK, m, history=deque(maxlen=history_len))
            self.feeds[m.settlement_feed] = FeedState(m.settlement_feed, SETTLEMENT, m, history=deque(maxlen=history_len))
        self.markets = {m.id: m for m in manifest.markets}
        self.now: int | None = None
        self.report: SignedReport | None = None
        self.rounds = 0
        self.errors = 0
        self.clock_error: str | None = None
        self._lock = threading.Lock()

    def refresh(self) -> int | None:
        """Observe every feed at the clock's current time (once per distinct time)."""
        with self._lock:
            try:
                now = int(self.clock())
                self.clock_error = None
            except Exception as e:  # RPC down: keep serving the last state, say so in /health
                self.clock_error = f"{type(e).__name__}: {e}"
                log.warning("clock unavailable: %s", self.clock_error)
                return self.now
            if now == self.now:
                return now
            if self.now is not None and now < self.now:
                log.warning("clock went backwards (%s -> %s); ignoring", self.now, now)
                return self.now
            for fs in self.feeds.values():
                self._observe(fs, now)
            self.now = now
            self.rounds += 1
            self.report = self._sign(now)
            return now

    def _observe(self, fs: FeedState, now: int) -> None:
        spec = fs.market.spec
        try:
            v = self.valuer.mark(spec, now) if fs.role == MARK else self.valuer.settlement(spec, now)
        except WindowOpen as e:
            fs.status, fs.detail = "pending", str(e)
            return
        except (OracleError, LookupError, ValueError) as e:
            fs.status, fs.detail = "error", f"{type(e).__name__}: {e}"
            self.errors += 1
            log.info("feed %s (%s %s) has no value: %s", fs.feed_hex, fs.market.symbol, fs.role, fs.detail)
            return
        obs = Observation(now, v.price_usd, v.price_units, v)
        fs.latest, fs.status, fs.detail = obs, "ok", None
        fs.history.append(obs)

    def _sign(self, now: int) -> SignedReport | None:
        fresh = [fs for fs in self.feeds.values() if fs.status == "ok" and fs.latest and fs.latest.observed_at == now]
        if self.signer is None or not fresh:
            return None
        return self.signer.sign([fs.feed_id for fs in fresh], [fs.latest.price_units for fs in fresh], now,
                                self.manifest.chain_id, self.manifest.oracle)
