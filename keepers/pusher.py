"""Oracle pusher: collect signed reports from the reporters, submit a quorum bundle when a
feed moved more than its deviation threshold or its heartbeat expired (Chainlink's rule).

Plain classes: :func:`bundle` (which rows can be submitted together: identical feed ids and
observed_at, distinct registered signers, valid signatures), :class:`PushPolicy` (should
this bundle go on chain now, given the on-chain feeds). :class:`Pusher` wires them to HTTP
(``GET <reporter>/reports/latest``) and to ``Oracle.submit``.

Every valid row of the chosen group is sent, not just a quorum: the Oracle stores a move
beyond a feed's jump limit only when every registered reporter's row agrees, so with all
reporters up marks follow a real spike at once (with one down they are clamped to the
limit per hour).

Never submitted: fewer than quorum valid rows, an observed_at older than the Oracle's
``max_report_age`` (or the pusher's own ``max_report_lag``), one not newer than a feed's
stored observation, a bundle containing a disputed or final feed, or a settlement feed
before its delivery_end or already written (``submit`` would revert for the whole bundle;
the pusher asks reporters to leave such feeds out with ``?exclude=``, see docs/keepers.md).

    cspread-pusher --manifest deployments/31337.json --reporters http://127.0.0.1:8601,http://127.0.0.1:8602
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from pydantic import field_validator
from pydantic_settings import NoDecode

from chain.rpc import Chain, Head, batch_call
from core import abi, eip712
from keepers.chain import KeeperSettings, Metrics, build_sender, kv, load_settings, main_loop
from keepers.cli import add_keeper_args, keeper_overrides

log = logging.getLogger("keepers.pusher")


# --------------------------------------------------------------------------- pure logic


@dataclass(frozen=True)
class Row:
    """One reporter's signed report (GET /reports/latest)."""

    source: str
    feed_ids: tuple[str, ...]  # 0x-hex, lower case
    prices: tuple[int, ...]
    observed_at: int
    signer: str
    signature: str

    @classmethod
    def from_json(cls, source: str, d: dict) -> Row:
        return cls(
            source,
            tuple(f.lower() for f in d["feed_ids"]),
            tuple(int(p) for p in d["prices"]),
            int(d["observed_at"]),
            d["signer"],
            d["signature"],
        )


@dataclass(frozen=True)
class Bundle:
    feed_ids: tuple[str, ...]
    observed_at: int
    rows: tuple[Row, ...]

    def medians(self) -> dict[str, int]:
        """The on-chain median per feed (even count: mean of the middle two, truncated to zero)."""
        out = {}
        for j, f in enumerate(self.feed_ids):
            col = sorted(r.prices[j] for r in self.rows)
            n = len(col)
            if n % 2:
                out[f] = col[n // 2]
            else:
                s = col[n // 2 - 1] + col[n // 2]
                out[f] = abs(s) // 2 * (1 if s >= 0 else -1)
        return out


def bundle(rows: list[Row], quorum: int, reporters: set[str], verify=None) -> tuple[Bundle | None, list[str]]:
    """Pick the submittable bundle: rows with identical (feed_ids, observed_at) from distinct
    registered reporters whose signature verifies; the newest such group with >= quorum rows.
    Returns (bundle or None, reasons rows were dropped)."""
    notes: list[str] = []
    reporters = {r.lower() for r in reporters}
    groups: dict[tuple, dict[str, Row]] = {}
    for r in rows:
        if r.signer.lower() not in reporters:
            notes.append(f"{r.source}: signer {r.signer} is not a registered reporter")
            continue
        if verify is not None and not verify(r):
            notes.append(f"{r.source}: signature does not verify")
            continue
        g = groups.setdefault((r.feed_ids, r.observed_at), {})
        g.setdefault(r.signer.lower(), r)  # one row per reporter
    ok = [(k, g) for k, g in groups.items() if len(g) >= quorum]
    if not ok:
        if groups:
            notes.append(
                f"no group of identical feed ids + observed_at reaches quorum {quorum} "
                f"(group sizes {sorted(len(g) for g in groups.values())})"
            )
        return None, notes
    (feeds, obs), g = max(ok, key=lambda kg: (kg[0][1], len(kg[1])))
    chosen = sorted(g.values(), key=lambda r: r.signer.lower())
    return Bundle(feeds, obs, tuple(chosen)), notes


@dataclass(frozen=True)
class FeedState:
    """On-chain feed (Oracle.feed) plus what the pusher knows about its role."""

    price: int
    observed_at: int
    updated_at: int
    disputed: bool
    final: bool
    role: str = "mark"  # mark | settlement
    delivery_end: int = 0  # settlement feeds: a value observed at/after this is the final one
    deviation_bps: int = 50
    heartbeat: int = 1800


@dataclass(frozen=True)
class Decision:
    submit: bool
    reason: str
    triggers: tuple[str, ...] = ()


@dataclass
class PushPolicy:
    max_report_age: int = 3600  # Oracle.max_report_age
    max_report_lag: int = 600  # the pusher's own staleness limit (<= max_report_age is what counts)
    max_future_drift: int = 60

    def decide(self, b: Bundle, feeds: dict[str, FeedState], now: int) -> Decision:
        lag = now - b.observed_at
        if lag > min(self.max_report_age, self.max_report_lag):
            return Decision(False, f"stale report: observed {lag} s ago")
        if b.observed_at > now + self.max_future_drift:
            return Decision(False, "report from the future")
        med = b.medians()
        triggers = []
        for f in b.feed_ids:
            st = feeds.get(f)
            if st is None:
                return Decision(False, f"feed {f} unknown to this deployment")
            if st.disputed or st.final:
                return Decision(False, f"feed {f} is {'disputed' if st.disputed else 'final'}: submit would revert")
            if b.observed_at <= st.observed_at:
                return Decision(False, f"feed {f} already has observation {st.observed_at} >= {b.observed_at}")
            if st.role == "settlement":
                # the Oracle takes one settlement value, observed and written at or after
                # delivery_end; a written value changes only through dispute / resolve
                if st.observed_at != 0:
                    return Decision(False, f"settlement feed {f} already written: submit would revert")
                if b.observed_at < st.delivery_end or now < st.delivery_end:
                    return Decision(False, f"settlement feed {f} before delivery end: submit would revert")
                triggers.append(f"{f}:first")  # its one value
                continue
            if st.observed_at == 0:
                triggers.append(f"{f}:first")
                continue
            new, old = med[f], st.price
            moved = abs(new - old) * 10_000 > st.deviation_bps * abs(old) if old != 0 else new != 0
            if moved:
                triggers.append(f"{f}:deviation")
            elif now - st.updated_at >= st.heartbeat:
                triggers.append(f"{f}:heartbeat")
        if not triggers:
            return Decision(False, "no feed moved beyond its threshold and no heartbeat expired")
        return Decision(True, "submit", tuple(triggers))


# --------------------------------------------------------------------------- chain wiring


class PusherSettings(KeeperSettings):
    reporters: Annotated[list[str], NoDecode] = []  # reporter service base URLs (comma-separated in env)
    poll_interval: float = 0.5
    deviation_bps: int = 50  # default per feed; 0.5 %
    heartbeat: int = 1800  # seconds; capped at half the market's max_price_age
    max_report_lag: int = 600
    http_timeout: float = 3.0
    verify_signatures: bool = True

    @field_validator("reporters", mode="before")
    @classmethod
    def _split(cls, v):
        if isinstance(v, str):
            v = [u.strip() for u in v.split(",") if u.strip()]
        for u in v:
            if not str(u).startswith(("http://", "https://")):
                raise ValueError(f"reporter URL must be http(s)://, got {u!r}")
        if not v:
            raise ValueError("set at least one reporter URL (CSPREAD_REPORTERS=http://host:port,...)")
        return v

    @field_validator("deviation_bps", "heartbeat")
    @classmethod
    def _pos(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be > 0")
        return v


@dataclass
class Pusher:
    s: PusherSettings
    chain: Chain
    metrics: Metrics
    sender: object = None
    http: httpx.Client = None
    name: str = "pusher"
    feeds_meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.manifest = self.s.load_manifest()
        self.oracle = self.manifest.contract(self.chain.w3, "Oracle")
        self.sender = self.sender or build_sender(self.s, self.chain.w3, self.metrics, log)
        self.http = self.http or httpx.Client(timeout=self.s.http_timeout)
        self.pool = cf.ThreadPoolExecutor(max(1, len(self.s.reporters)))
        self.m_submits = self.metrics.counter("submits_total", "Oracle.submit txs sent")
        self.m_rows = self.metrics.gauge("reporters_answering", "Reporters that returned a report last poll")
        self.m_skip = self.metrics.counter("skipped_total", "Polls that did not submit", ("reason",))
        self.m_age = self.metrics.gauge("oracle_age_seconds", "Chain time minus the oldest on-chain mark observation")
        self.last_obs_sent = 0

    # ------------------------------------------------------------ lifecycle
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        self._load_chain_config()
        return {
            "reporters": self.s.reporters,
            "quorum": self.quorum,
            "feeds": len(self.feeds_meta),
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
        }

    def on_reconnect(self, head: Head) -> None:
        self.sender.reset()
        self.last_obs_sent = 0
        self._load_chain_config()

    def _load_chain_config(self) -> None:
        o = self.oracle.functions
        self.quorum = int(o.quorum().call())
        self.reporter_set = {o.reporters(i).call().lower() for i in range(int(o.reporter_count().call()))}
        self.policy = PushPolicy(
            int(o.max_report_age().call()), self.s.max_report_lag, int(o.max_future_drift().call())
        )
        ch = self.manifest.contract(self.chain.w3, "Clearinghouse")
        meta = {}
        for m in self.manifest.markets:
            mk = abi.Market.decode(ch.functions.market(m["id"]).call())
            hb = min(self.s.heartbeat, mk.max_price_age // 2)
            meta[m["mark_feed"].lower()] = ("mark", 0, hb)
            meta[m["settlement_feed"].lower()] = ("settlement", mk.delivery_end, hb)
        self.feeds_meta = meta

    # ------------------------------------------------------------ per block
    def _fetch(self, url: str, exclude: list[str]) -> Row | None:
        try:
            params = {"exclude": ",".join(exclude)} if exclude else None
            r = self.http.get(url.rstrip("/") + "/reports/latest", params=params)
            if r.status_code != 200:
                kv(log, logging.INFO, "reporter has no report", reporter=url, status=r.status_code, body=r.text[:200])
                return None
            return Row.from_json(url, r.json())
        except (httpx.HTTPError, ValueError, KeyError) as e:
            kv(log, logging.WARNING, "reporter unreachable", reporter=url, error=f"{type(e).__name__}: {e}"[:200])
            return None

    def _verify(self, row: Row) -> bool:
        try:
            return (
                eip712.recover_report_signer(
                    list(row.feed_ids),
                    list(row.prices),
                    row.observed_at,
                    self.manifest.chain_id,
                    self.oracle.address,
                    row.signature,
                ).lower()
                == row.signer.lower()
            )
        except Exception:
            return False

    def onchain_feeds(self, feed_ids) -> dict[str, FeedState]:
        res = batch_call(self.chain.w3, [self.oracle.functions.feed(bytes.fromhex(f[2:])) for f in feed_ids])
        out = {}
        for f, (p, obs, upd, disp, fin) in zip(feed_ids, res, strict=False):
            role, dend, hb = self.feeds_meta.get(f, ("mark", 0, self.s.heartbeat))
            out[f] = FeedState(int(p), int(obs), int(upd), bool(disp), bool(fin), role, dend, self.s.deviation_bps, hb)
        return out

    def on_block(self, head: Head) -> dict:
        for o in self.sender.poll(head.number):
            kv(
                log,
                logging.INFO if o.status == "mined" else logging.WARNING,
                f"submit {o.status}",
                tx=o.tx_hash,
                block=o.block,
                observed_at=o.meta.get("observed_at"),
            )
        all_feeds = list(self.feeds_meta)
        state = self.onchain_feeds(all_feeds)
        marks = [s for s in state.values() if s.role == "mark" and s.observed_at]
        if marks:
            self.m_age.set(head.timestamp - min(s.observed_at for s in marks))
        if self.sender.in_flight("submit"):
            return {"in_flight": True}
        # a settlement feed is pushed once, after delivery_end: before it, or once written,
        # it is left out (the Oracle would revert the whole bundle; corrections go through
        # dispute / resolve)
        exclude = [
            f
            for f, s in state.items()
            if s.disputed
            or s.final
            or (s.role == "settlement" and (s.observed_at != 0 or head.timestamp < s.delivery_end))
        ]
        rows = [r for r in self.pool.map(lambda u: self._fetch(u, exclude), self.s.reporters) if r is not None]
        self.m_rows.set(len(rows))
        b, notes = bundle(rows, self.quorum, self.reporter_set, self._verify if self.s.verify_signatures else None)
        for n in notes:
            kv(log, logging.WARNING, "row dropped", note=n, block=head.number)
        if b is None:
            self.m_skip.labels("no_quorum").inc()
            kv(
                log,
                logging.WARNING,
                "no quorum bundle: not submitting",
                rows=len(rows),
                quorum=self.quorum,
                block=head.number,
            )
            return {"rows": len(rows), "submitted": False, "reason": "no quorum"}
        if b.observed_at <= self.last_obs_sent:
            return {"rows": len(rows), "submitted": False, "reason": "already sent"}
        d = self.policy.decide(b, self.onchain_feeds(list(b.feed_ids)), head.timestamp)
        if not d.submit:
            self.m_skip.labels(d.reason.split(":")[0][:40]).inc()
            kv(log, logging.DEBUG, "not submitting", reason=d.reason, observed_at=b.observed_at, block=head.number)
            return {"rows": len(rows), "submitted": False, "reason": d.reason}
        fn = self.oracle.functions.submit(
            [bytes.fromhex(f[2:]) for f in b.feed_ids],
            b.observed_at,
            [list(r.prices) for r in b.rows],
            [bytes.fromhex(r.signature[2:]) for r in b.rows],
        )
        r = self.sender.send(
            "submit",
            fn,
            head.number,
            kind="submit",
            meta={"observed_at": b.observed_at},
            describe={
                "observed_at": b.observed_at,
                "feeds": len(b.feed_ids),
                "rows": len(b.rows),
                "signers": [x.signer for x in b.rows],
                "triggers": list(d.triggers)[:10],
            },
        )
        if r.status in ("sent", "dry"):
            self.m_submits.inc()
            self.last_obs_sent = b.observed_at
        return {"rows": len(rows), "submitted": r.status, "triggers": len(d.triggers)}


def build(settings: PusherSettings, chain: Chain, metrics: Metrics) -> Pusher:
    return Pusher(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cspread-pusher", description="Compute Spread oracle pusher")
    add_keeper_args(p)
    p.add_argument("--reporters", help="comma-separated reporter service URLs")
    p.add_argument("--deviation-bps", type=int)
    p.add_argument("--heartbeat", type=int)
    a = p.parse_args(argv)
    s = load_settings(
        PusherSettings, keeper_overrides(a, reporters=a.reporters, deviation_bps=a.deviation_bps, heartbeat=a.heartbeat)
    )
    return main_loop("pusher", s, build, once=a.once)


if __name__ == "__main__":
    raise SystemExit(main())
