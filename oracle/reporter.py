"""A reporter's state: what it observed for each feed, when, and its latest signed report.

Plain Python (no FastAPI): the service calls :meth:`Reporter.refresh` and reads the state.
One observation round happens per distinct clock value (the chain's latest block
timestamp on a devnet), so many HTTP requests in one block cost one valuation pass.

That round values the deployment's own markets (the manifest's). A market listed from a
template (hundreds of them on a standing curve) is valued only when someone asks for its feed
(a pusher's report, ``GET /feeds/{id}``, a first-mark request), once per clock value: a
reporter's work per block follows the marks the venue needs, not the size of the curve.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.manifest import Manifest, MarketEntry
from core.specs import feed_hex
from oracle.errors import OracleError, WindowOpen
from oracle.signing import ReportSigner, SignedReport
from oracle.templates import TemplateMismatch, TemplateResolver
from oracle.valuation import Valuation, Valuer

log = logging.getLogger("oracle.reporter")

MARK, SETTLEMENT = "MARK", "SETTLEMENT"
UNRESOLVED_RETRY_S = 30.0  # a feed id that was not a listed templated market is re-checked after this


class ReportUnavailable(OracleError, ValueError):
    """No signed report can be produced for the request (the message says why)."""


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
    market: MarketEntry
    latest: Observation | None = None
    status: str = "pending"  # ok | pending (settlement before delivery_end) | error
    detail: str | None = None
    history: deque = field(default_factory=deque)
    # valued every round (a manifest market), or only when asked for (a templated market)
    eager: bool = True
    checked_at: int | None = None  # clock value of the last valuation attempt

    @property
    def feed_hex(self) -> str:
        return feed_hex(self.feed_id)


class Reporter:
    def __init__(
        self,
        manifest: Manifest,
        valuer: Valuer,
        clock: Callable[[], int],
        signer: ReportSigner | None = None,
        history_len: int = 1000,
        max_report_lag_s: int = 600,
        resolver: TemplateResolver | None = None,
        mark_request_ttl_s: int = 900,
        max_mark_requests: int = 1024,
    ):
        self.manifest, self.valuer, self.clock, self.signer = manifest, valuer, clock, signer
        self.history_len = history_len
        self.feeds: dict[bytes, FeedState] = {}
        self.markets: dict[int, MarketEntry] = {}
        for m in manifest.entries:
            self._add_market(m)
        self.resolver = resolver
        self.unresolved: dict[bytes, float] = {}  # ids that resolved to no listed market, when (bounded)
        self.max_report_lag_s = max_report_lag_s
        self.mark_request_ttl_s, self.max_mark_requests = mark_request_ttl_s, max_mark_requests
        self.mark_requests: dict[bytes, int] = {}  # mark feed -> chain time the request expires
        self.now: int | None = None
        self.report: SignedReport | None = None
        self.rounds = 0
        self.errors = 0
        self.clock_error: str | None = None
        self._lock = threading.Lock()

    def _add_market(self, m: MarketEntry, eager: bool = True) -> None:
        self.feeds[m.mark_feed] = FeedState(m.mark_feed, MARK, m, history=deque(maxlen=self.history_len), eager=eager)
        self.feeds[m.settlement_feed] = FeedState(
            m.settlement_feed, SETTLEMENT, m, history=deque(maxlen=self.history_len), eager=eager
        )
        self.markets[m.id] = m

    def lookup(self, feed_id: bytes) -> FeedState | None:
        """The feed's state; a feed of a market listed on chain from a template is added on first
        use, after the chain checks of :class:`~oracle.templates.TemplateResolver` (a mismatching
        template raises :class:`ReportUnavailable`). None: not a feed this reporter serves."""
        fs = self.feeds.get(feed_id)
        if fs is not None or self.resolver is None:
            return fs
        seen = self.unresolved.get(feed_id)
        if seen is not None and time.monotonic() - seen < UNRESOLVED_RETRY_S:
            return None  # asked again soon after a miss: not worth a chain read
        try:
            hit = self.resolver.resolve(feed_id)
        except TemplateMismatch as e:
            raise ReportUnavailable(str(e)) from None
        except Exception as e:  # chain unreachable: not cached, asked again next time
            log.warning("cannot resolve templated feed %s: %s", feed_hex(feed_id), e)
            return None
        if hit is None:
            # remembered for a while only: the window may be listed later (the lister runs ahead)
            if len(self.unresolved) >= 10_000:  # a flood of made-up ids must not grow memory forever
                self.unresolved.pop(next(iter(self.unresolved)))
            self.unresolved[feed_id] = time.monotonic()
            return None
        entry, _ = hit
        with self._lock:
            if entry.mark_feed not in self.feeds:
                self._add_market(entry, eager=False)  # valued when asked for (current)
                log.info("serving templated market %s (%s)", entry.id, entry.symbol)
        return self.feeds[feed_id]

    def current(self, fs: FeedState) -> FeedState:
        """``fs`` valued at the current clock value (a templated feed is valued on demand, once
        per clock value; a manifest feed was valued by :meth:`refresh`)."""
        with self._lock:
            self._ensure(fs)
        return fs

    def _ensure(self, fs: FeedState) -> None:
        if self.now is not None and fs.checked_at != self.now:
            self._observe(fs, self.now)

    # ------------------------------------------------------------ first-mark requests
    def request_marks(self, feed_ids: list[bytes]) -> int:
        """Record that someone wants a first mark for these MARK feeds (a trader whose order the
        relay refused as ``stale_mark``; the pusher reads :meth:`requested`). Returns the chain
        time the requests expire. Raises ``KeyError`` naming an unknown feed and
        :class:`ReportUnavailable` for a settlement feed (settlement is pushed on its own rule)."""
        for f in feed_ids:
            fs = self.lookup(f)
            if fs is None:
                raise KeyError(feed_hex(f))
            if fs.role != MARK:
                raise ReportUnavailable(f"feed {feed_hex(f)} is a settlement feed: only marks can be requested")
        now = self.now if self.now is not None else int(self.clock())
        until = now + self.mark_request_ttl_s
        with self._lock:
            for f in feed_ids:
                self.mark_requests.pop(f, None)
                self.mark_requests[f] = until
            while len(self.mark_requests) > self.max_mark_requests:  # oldest first out
                self.mark_requests.pop(next(iter(self.mark_requests)))
        return until

    def requested(self) -> list[bytes]:
        """Mark feeds with an unexpired first-mark request, oldest request first."""
        now = self.now or 0
        with self._lock:
            for f in [f for f, t in self.mark_requests.items() if t < now]:
                del self.mark_requests[f]
            return list(self.mark_requests)

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
                if fs.eager:
                    self._observe(fs, now)
            self.now = now
            self.rounds += 1
            self.report = self._sign(now)
            return now

    def _observe(self, fs: FeedState, now: int) -> None:
        fs.checked_at = now
        spec = fs.market.spec
        try:
            v = self.valuer.mark(spec, now) if fs.role == MARK else self.valuer.settlement(spec, now)
        except WindowOpen as e:
            fs.status, fs.detail = "pending", str(e)
            return
        except (OracleError, LookupError, ValueError) as e:  # expected: no data, no estimate, ...
            fs.status, fs.detail = "error", f"{type(e).__name__}: {e}"
            self.errors += 1
            log.info("feed %s (%s %s) has no value: %s", fs.feed_hex, fs.market.symbol, fs.role, fs.detail)
            return
        except Exception as e:  # a live source failing (HTTP, parsing) must not stop the other feeds
            fs.status, fs.detail = "error", f"{type(e).__name__}: {e}"
            self.errors += 1
            log.exception("feed %s (%s %s) valuation failed", fs.feed_hex, fs.market.symbol, fs.role)
            return
        obs = Observation(now, v.price_usd, v.price_units, v)
        fs.latest, fs.status, fs.detail = obs, "ok", None
        fs.history.append(obs)

    def report_for(
        self,
        feed_ids: list[bytes] | None = None,
        observed_at: int | None = None,
        exclude: set[bytes] = frozenset(),
        partial: bool = False,
    ) -> SignedReport:
        """A signed report for chosen feeds and/or an earlier chain time.

        The on-chain ``submit`` takes ONE feed list and ONE ``observed_at`` for all reporters,
        so a pusher collecting from several reporters asks each for the same feeds at the same
        block time (e.g. the latest block it saw). Values at an earlier time are recomputed
        (the methodology is deterministic in data time) and not stored in the history.
        ``exclude`` drops feeds from the default selection (the pusher leaves out feeds that
        are disputed or final on chain, since ``submit`` would revert for the whole bundle).
        Feed order is as requested, else manifest order (per market: mark, settlement).
        With ``partial``, requested feeds that are unknown or have no value are left out (a
        pusher asks for many feeds and submits what a quorum can sign).
        Raises ``KeyError`` for an unknown feed, :class:`ReportUnavailable` otherwise.
        """
        if self.signer is None:
            raise ReportUnavailable("this reporter has no signing key configured")
        if feed_ids is not None:
            known = []
            for f in feed_ids:
                try:
                    fs = self.lookup(f)
                except ReportUnavailable:
                    if not partial:
                        raise
                    fs = None
                if fs is None and not partial:
                    raise KeyError(feed_hex(f))
                if fs is not None:
                    known.append(f)
            feed_ids = known
        with self._lock:
            now = self.now
            if now is None:
                raise ReportUnavailable("no observation yet (clock unavailable?)")
            at = now if observed_at is None else int(observed_at)
            if at > now:
                raise ReportUnavailable(f"observed_at {at} is in the future of this reporter's chain time {now}")
            if now - at > self.max_report_lag_s:
                raise ReportUnavailable(
                    f"observed_at {at} is more than {self.max_report_lag_s}s before chain time {now}"
                )
            states = (
                [self.feeds[f] for f in feed_ids]
                if feed_ids is not None
                else [fs for f, fs in self.feeds.items() if f not in exclude]
            )
            prices, ids = [], []
            for fs in states:
                if at == now:
                    self._ensure(fs)
                    if fs.status != "ok" or fs.latest is None or fs.latest.observed_at != now:
                        if feed_ids is None or partial:
                            continue
                        raise ReportUnavailable(f"feed {fs.feed_hex} has no value at {at}: {fs.detail}")
                    units = fs.latest.price_units
                else:
                    try:
                        spec = fs.market.spec
                        v = self.valuer.mark(spec, at) if fs.role == MARK else self.valuer.settlement(spec, at)
                    except Exception as e:  # same policy as _observe: a failing feed is left out or refused
                        if feed_ids is None or partial:
                            continue
                        raise ReportUnavailable(f"feed {fs.feed_hex} has no value at {at}: {e}") from None
                    units = v.price_units
                ids.append(fs.feed_id)
                prices.append(units)
            if not ids:
                raise ReportUnavailable(f"no feed has a value at chain time {at}; see GET /feeds")
            return self.signer.sign(ids, prices, at, self.manifest.chain_id, self.manifest.oracle)

    def _sign(self, now: int) -> SignedReport | None:
        fresh = [fs for fs in self.feeds.values() if fs.status == "ok" and fs.latest and fs.latest.observed_at == now]
        if self.signer is None or not fresh:
            return None
        return self.signer.sign(
            [fs.feed_id for fs in fresh],
            [fs.latest.price_units for fs in fresh],
            now,
            self.manifest.chain_id,
            self.manifest.oracle,
        )
