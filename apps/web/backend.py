"""What the web app knows: markets, curves, accounts, hedge plans and unsigned transactions.

Plain Python over the public SDK only (``Client``, its ``watch(address)`` for the connected
wallet, ``RelayClient``; no private methods, no web3), with no FastAPI here, so it is
unit-testable against a fake of that interface (tests/unit/web) and the HTTP layer in
:mod:`apps.web.app` stays thin. The server never holds a user key: orders are returned as
EIP-712 typed data for the browser wallet to sign (``eth_signTypedData_v4``) and transactions
as unsigned ``{from, to, data, value, gas}`` objects (``UnsignedTx``) for ``eth_sendTransaction``.

JSON conventions: money and sizes are decimal strings in human units (USD, MWh, GPU-hours);
chain integers keep their ``*_units`` names and are strings too (nonces exceed 2**53);
floats only appear in chart series (``*_f``), which are for drawing, never for arithmetic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import statistics
import threading
import time
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from eth_utils import is_address, to_checksum_address

from core import curve, statement
from core import units as u
from sdk import hedge as _hedge
from sdk.client import Client
from sdk.errors import ComputeSpreadError, InvalidAmount, InvalidOrder, RelayError, UnknownMarket, decode_revert
from sdk.models import Fill, HedgePlan, Market, MarketStatus, Order, SignedOrder, UnsignedTx
from sdk.models import usd_text as money
from sdk.relay_client import RelayOrder
from sdk.signing import order_typed_data, recover_signer
from sdk.statement import ledger_events

log = logging.getLogger("cspread.web")

HISTORY_MAX = 2_000  # mark points kept per feed
ORDER_TTL = 24 * 3600
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")

PROFILE_WORDS = {
    "ATC": "around the clock (all hours)",
    "PEAK": "peak hours (HE07-HE22 local, Mon-Fri, excl. NERC holidays)",
    "OFFPEAK": "off-peak hours",
    "HOURLY": "one delivery hour",
}
MARKET_WORDS = {"DA": "day-ahead", "RT": "real-time"}


# ---------------------------------------------------------------- formatting helpers


def d(x: Decimal | int | None) -> str | None:
    """A Decimal as a plain string (no exponent), None stays None."""
    if x is None:
        return None
    x = Decimal(x)
    if x == x.to_integral_value():
        return str(x.quantize(Decimal(1)))
    return format(x.normalize(), "f")


def when(ts: int | None, tz: str = "UTC") -> str | None:
    """A time in ``tz`` and, unless that is UTC, in UTC too (the page adds the viewer's local time
    from the ``*_ts`` unix field next to it)."""
    if not ts:
        return None
    t = dt.datetime.fromtimestamp(int(ts), ZoneInfo(tz))
    text = t.strftime("%Y-%m-%d %H:%M %Z")
    if tz != "UTC":
        text += dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime(" (%H:%M UTC)")
    return text


def places(tick_units: int) -> int:
    """Decimals a price of a market with this tick (base units) is shown with: at least cents."""
    return max(2, -u.base_to_usd(int(tick_units)).normalize().as_tuple().exponent) if tick_units else 2


def px(x: Decimal | None, tick_units: int) -> str | None:
    """A price as a decimal string quantized to the market's tick (never the 6-decimal chain value)."""
    if x is None:
        return None
    return str(Decimal(x).quantize(Decimal(1).scaleb(-places(tick_units))))


def cents(x: Decimal | None) -> str | None:
    return None if x is None else str(Decimal(x).quantize(Decimal("0.01")))


def window_text(start: int, end: int, tz: str) -> str:
    z = ZoneInfo(tz)
    a, b = dt.datetime.fromtimestamp(start, z), dt.datetime.fromtimestamp(end, z)
    hours = (end - start) / 3600
    if hours <= 1:
        return f"{a:%a %Y-%m-%d} {a:%H:%M}-{b:%H:%M} {tz}"
    if hours <= 25 and a.hour == 0:
        return f"{a:%a %Y-%m-%d} ({hours:.0f} h, {tz})"
    if a.day == 1 and b.day == 1 and a.hour == 0:
        return f"{a:%B %Y} ({tz})"
    return f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} {tz}"


def spec_tz(spec: dict) -> str:
    if spec.get("kind") == "SPREAD":
        return spec.get("power", {}).get("tz") or "UTC"
    return spec.get("tz") or "UTC"


def describe_spec(kind: str, spec: dict) -> str:
    """A market spec in words."""
    if kind == "POWER":
        return (
            f"{spec['iso']} {spec['node']} {MARKET_WORDS.get(spec['market'], spec['market'])} power, "
            f"{PROFILE_WORDS.get(spec['profile'], spec['profile'])}; 1 MWh per contract unit, "
            f"delivery {window_text(spec['delivery_start'], spec['delivery_end'], spec['tz'])}"
        )
    if kind == "COMPUTE":
        return (
            f"{spec['gpu']} GPU-hour rental index ({spec.get('region', 'GLOBAL').lower()}), mean of the daily "
            f"index over {window_text(spec['delivery_start'], spec['delivery_end'], 'UTC')}; 1 GPU-hour per unit"
        )
    if kind == "SPREAD":
        c, p = spec["compute"], spec["power"]
        return (
            f"Compute spread: {c['gpu']} GPU-hour index minus {spec['mwh_per_gpu_hour']} MWh x "
            f"{p['iso']} {p['node']} {MARKET_WORDS.get(p['market'], p['market'])} {p['profile']} power, "
            f"delivery {window_text(p['delivery_start'], p['delivery_end'], p['tz'])}; 1 GPU-hour per unit"
        )
    return str(spec)


def error_json(e: BaseException) -> dict[str, Any]:
    """A clear, typed error for the browser: never a raw revert blob."""
    if not isinstance(e, ComputeSpreadError):
        e = decode_revert(e)
    details = {
        k: (d(v) if isinstance(v, Decimal) else v)
        for k, v in getattr(e, "details", {}).items()
        if isinstance(v, (str, int, float, bool, Decimal)) or v is None
    }
    return {"error": type(e).__name__, "message": str(e), "reason": getattr(e, "reason", None), "details": details}


CURVE_TITLES = {
    "power": "Power forward curves (USD/MWh)",
    "compute": "GPU-hour forward curves (USD/GPU-hour)",
    "spread": "Compute spread forward curves (USD/GPU-hour)",
}
UNIT_OF = {"POWER": "MWh", "COMPUTE": "GPU-hour", "SPREAD": "GPU-hour"}


def _usd(units: int | None) -> Decimal | None:
    return None if units is None else u.base_to_usd(units)


def _curve_filters(q: dict[str, str]) -> dict[str, Any]:
    """core.curve.select arguments from query parameters (node, series, kind, words, from, to, status)."""
    return {
        "node": q.get("node") or None,
        "series": q.get("series") or None,
        "kind": q.get("kind") or None,
        "words": (q.get("words") or "").split(),
        "start": curve.parse_day(q["from"], what="from") if q.get("from") else None,
        "end": curve.parse_day(q["to"], end=True, what="to") if q.get("to") else None,
        "statuses": [x for x in (q.get("status") or "").split(",") if x] or None,
    }


def reporter_index_prices(http: httpx.Client, urls: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Mark feed id (lower-case hex) -> the median of the reporters' current off-chain values
    (base units), read from each reporter's ``/feeds``; an unreachable reporter is skipped. The
    dashboard's index column and ``cspread curve --oracle-url`` both read it here."""
    seen: dict[str, list[int]] = {}
    for url in urls:
        try:
            for f in http.get(url.rstrip("/") + "/feeds", timeout=2.0).json().get("feeds", []):
                if f.get("price") is not None and f.get("kind") == "MARK":
                    seen.setdefault(f["feed_id"].lower(), []).append(int(f["price"]))
        except (httpx.HTTPError, ValueError):
            continue
    return {k: int(statistics.median(v)) for k, v in seen.items()}


# ---------------------------------------------------------------- the backend


class Backend:
    """One deployment seen through the SDK, plus the relay and (optionally) oracle reporters."""

    def __init__(
        self,
        manifest_path: str | Path,
        rpc_url: str,
        relay_url: str | None = None,
        oracle_urls: list[str] | tuple[str, ...] = (),
        *,
        client: Client | None = None,
    ):
        """``client``: a keyless :class:`sdk.Client` to use instead of connecting one to
        ``manifest_path`` / ``rpc_url`` / ``relay_url`` (the unit tests pass a fake of the same
        public interface)."""
        self.manifest_path = Path(manifest_path)
        self.rpc_url = rpc_url
        self.relay_url = relay_url.rstrip("/") if relay_url else None
        self.oracle_urls = [x.rstrip("/") for x in oracle_urls if x]
        # keyless: a Reader with the write-side helpers; with the relay so hedge plans carry book depth
        self.client = client if client is not None else Client(self.manifest_path, rpc_url, relay_url=self.relay_url)
        self.relay = self.client.relay
        self.chain_id = self.client.chain_id
        self.http = httpx.Client(timeout=10.0)  # the oracle reporters' HTTP APIs (index column)
        self.nonces = self.client.nonces
        self._lock = threading.Lock()
        self._hist: dict[str, list[tuple[int, int]]] = {}  # feed id -> [(observed_at, price units)]
        self._hist_block = self.client.deploy_block - 1
        self._index_cache: tuple[float, dict[str, int]] = (0.0, {})
        fees = self.client.manifest.data.get("fees", {})
        self.fees = (int(fees.get("maker_bps", 0)), int(fees.get("taker_bps", 0)))

    def block_time(self, block: int) -> int:
        """Unix time of a block, 0 when the node cannot say (a missing time never fails a page)."""
        try:
            return self.client.block_time(block)
        except Exception:  # noqa: BLE001 - any transport error: show the row without its time
            return 0

    # ------------------------------------------------------------ info
    def info(self) -> dict[str, Any]:
        m = self.client.manifest
        return {
            "chain_id": self.chain_id,
            "chain_id_hex": hex(self.chain_id),
            "exchange": m.address("Exchange"),
            "clearinghouse": m.address("Clearinghouse"),
            "collateral": m.address("Collateral"),
            "faucet": self.client.faucet_token is not None,
            "relay": self.relay_url is not None,
            "oracle": bool(self.oracle_urls),
            "maker_fee_bps": self.fees[0],
            "taker_fee_bps": self.fees[1],
        }

    # ------------------------------------------------------------ mark history (Oracle PriceUpdated)
    def _sync_history(self) -> None:
        with self._lock:
            head = self.client.block_number()
            if head <= self._hist_block:
                return
            for e in self.client.price_updates(self._hist_block + 1, head):
                pts = self._hist.setdefault(e.feed_id, [])
                pts.append((e.observed_at, e.price_units))
                if len(pts) > HISTORY_MAX:
                    del pts[: len(pts) - HISTORY_MAX]
            self._hist_block = head

    def mark_history(self, feed_id: str) -> list[tuple[int, int]]:
        self._sync_history()
        return list(self._hist.get(feed_id.lower(), []))

    def change_24h(self, m: Market, now: int) -> Decimal | None:
        pts = self.mark_history(m.mark_feed)
        if not pts or m.mark is None or m.mark.observed_at == 0:
            return None
        before = [p for t, p in pts if t <= now - 86_400]
        ref = before[-1] if before else pts[0][1]
        return u.base_to_usd(m.mark.price_units - ref)

    # ------------------------------------------------------------ index (oracle reporters' off-chain values)
    def index_prices(self) -> dict[str, int]:
        if not self.oracle_urls:
            return {}
        t, cached = self._index_cache
        if time.monotonic() - t < 2.0:
            return cached
        out = reporter_index_prices(self.http, self.oracle_urls)
        self._index_cache = (time.monotonic(), out)
        return out

    def index_history(self, feed_id: str) -> list[tuple[int, int]]:
        for url in self.oracle_urls:
            try:
                r = self.http.get(f"{url}/feeds/{feed_id}/history", timeout=3.0)
                if r.status_code == 200:
                    return [
                        (int(o["observed_at"]), int(o["price"]))
                        for o in r.json().get("observations", [])
                        if o.get("price") is not None
                    ]
            except (httpx.HTTPError, ValueError):
                continue
        return []

    # ------------------------------------------------------------ relay
    def book(self, market_id: int) -> dict[str, Any]:
        m = self.client.market_params(market_id)
        if self.relay is None:
            return {
                "market_id": market_id,
                "unit": m.unit,
                "places": places(m.price_tick),
                "bids": [],
                "asks": [],
                "block": None,
            }
        b = self.relay.book(market_id, depth=20)

        def lv(levels):
            return [{"price": px(x.price, m.price_tick), "quantity": d(x.quantity), "orders": x.orders} for x in levels]

        return {
            "market_id": market_id,
            "unit": m.unit,
            "places": places(m.price_tick),
            "bids": lv(b.bids),
            "asks": lv(b.asks),
            "block": b.block,
        }

    def trades(self, market_id: int, limit: int = 50) -> list[dict[str, Any]]:
        tick = self.client.market_params(market_id).price_tick
        rows = self.relay.trades(market_id, limit=limit) if self.relay is not None else []
        return [trade_view(t, tick) for t in rows]

    # ------------------------------------------------------------ markets
    def market_json(self, m: Market, now: int, index: dict[str, int] | None = None) -> dict[str, Any]:
        tz = spec_tz(m.spec)
        status = m.status.value if m.status else "unknown"
        if m.status == MarketStatus.STALE:
            status_text = (
                f"stale since {when(m.mark.observed_at + m.max_price_age)}"
                if m.mark and m.mark.observed_at
                else "stale: no mark reported yet"
            )
        elif m.status == MarketStatus.SETTLING:
            status_text = f"settling: trading ended {when(m.last_trade_time)}"
        elif m.status == MarketStatus.SETTLED:
            status_text = f"settled at {px(m.settlement_price, m.price_tick)} USD/{m.unit}"
        elif m.status == MarketStatus.HALTED:
            status_text = "halted by the guardian: only risk-reducing trades"
        else:
            status_text = "live"
        idx = (index or {}).get(m.mark_feed.lower())
        chg = self.change_24h(m, now)
        im_f, im_r = m.initial_margin
        mm_f, mm_r = m.maintenance_margin
        return {
            "id": m.id,
            "symbol": m.symbol,
            "kind": m.kind,
            "unit": m.unit,
            "period": m.period,
            "spec": m.spec,
            "spec_text": describe_spec(m.kind, m.spec) if m.spec else m.symbol,
            "node": (m.spec.get("node") or m.spec.get("power", {}).get("node")),
            "profile": (m.spec.get("profile") or m.spec.get("power", {}).get("profile")),
            "gpu": (m.spec.get("gpu") or m.spec.get("compute", {}).get("gpu")),
            "delivery_start": m.delivery_start,
            "delivery_end": m.delivery_end,
            "delivery_text": window_text(m.delivery_start, m.delivery_end, tz),
            "last_trade_time": m.last_trade_time,
            "last_trade_text": when(m.last_trade_time, tz),
            "tick": d(m.tick),
            "step": d(m.step),
            "min_size": d(m.min_size),
            "im_text": f"{d(im_f)} USD + {d(im_r * 100)}% of |mark| per {m.unit}",
            "mm_text": f"{d(mm_f)} USD + {d(mm_r * 100)}% of |mark| per {m.unit}",
            "places": places(m.price_tick),
            "mark": px(m.mark.price, m.price_tick) if m.mark and m.mark.observed_at else None,
            "mark_observed_at": m.mark.observed_at if m.mark else 0,
            "mark_time_text": when(m.mark.observed_at) if m.mark else None,
            "index": px(u.base_to_usd(idx), m.price_tick) if idx is not None else None,
            "change_24h": px(chg, m.price_tick) if chg is not None else None,
            "change_24h_text": (
                f"{Decimal(px(chg, m.price_tick)):+,} USD"
                if chg
                else "0.00 USD (no change)"
                if chg is not None
                else "—"
            ),
            "open_interest": d(u.units_to_quantity(m.long_open_interest)),
            "status": status,
            "status_text": status_text,
            "settlement_price": px(m.settlement_price, m.price_tick),
        }

    def markets(self) -> list[dict[str, Any]]:
        now = self.client.now()
        index = self.index_prices()
        return [self.market_json(m, now, index) for m in self.client.markets()]

    def market(self, market_id: int) -> dict[str, Any]:
        m = self.client.market(market_id)
        out = self.market_json(m, self.client.now(), self.index_prices())
        out["mark_history"] = [[t, float(u.base_to_usd(p))] for t, p in self.mark_history(m.mark_feed)]
        out["index_history"] = [[t, float(u.base_to_usd(p))] for t, p in self.index_history(m.mark_feed)]
        return out

    def records(self) -> list[curve.Record]:
        """Every listed market as a core.curve record, with the reporters' index where known."""
        index = self.index_prices()
        return [curve.record(m, index.get(m.mark_feed.lower())) for m in self.client.markets()]

    def market_page(self, query: dict[str, str]) -> dict[str, Any]:
        """Markets filtered (node, series, kind, from, to, status) and paged (limit, offset, cursor),
        in listing order, as the CLI's ``cspread markets`` pages them (core.curve)."""
        try:
            limit = int(query.get("limit") or 50)
            offset = int(query.get("offset") or 0)
        except ValueError:
            raise InvalidAmount("limit and offset are whole numbers") from None
        try:
            recs = curve.select(self.records(), order="id", **_curve_filters(query))
            pg = curve.page(recs, limit=limit, offset=offset, cursor=query.get("cursor") or None, order="id")
        except curve.CurveError as e:
            raise InvalidAmount(str(e)) from None
        now = self.client.now()
        ms = {m.id: m for m in self.client.markets()}
        index = self.index_prices()
        return {
            "markets": [self.market_json(ms[r.id], now, index) for r in pg.items],
            "total": pg.total,
            "offset": pg.offset,
            "next_cursor": pg.next_cursor,
        }

    def curves(self, query: dict[str, str] | None = None) -> dict[str, Any]:
        """Forward curves: one line per series (core.curve strips), a point per listed delivery
        window at its mark (settlement once settled), with each chart's axes sized to what is
        listed; ``query`` filters as :meth:`market_page` does (node, series, from, to)."""
        try:
            recs = curve.select(self.records(), **_curve_filters(query or {}))
        except curve.CurveError as e:
            raise InvalidAmount(str(e)) from None
        out = {}
        for g, kind in (("power", "POWER"), ("compute", "COMPUTE"), ("spread", "SPREAD")):
            sts = curve.strips([r for r in recs if r.kind == kind])
            ax = curve.axes(sts)
            out[g] = {
                "title": CURVE_TITLES[g],
                "unit": UNIT_OF[kind],
                "axes": None
                if ax is None
                else {
                    "x_min": ax.x_min,
                    "x_max": ax.x_max,
                    "y_min_f": float(u.base_to_usd(ax.y_min)),
                    "y_max_f": float(u.base_to_usd(ax.y_max)),
                },
                "series": [self._strip_json(st) for st in sts],
            }
        return out

    def _strip_json(self, st: curve.Strip) -> dict[str, Any]:
        first = st.points[0]
        s = first.spec
        if st.kind == "POWER":
            label = f"{s['iso']} {s['node']} {s['market']} {s['profile']}"
        elif st.kind == "COMPUTE":
            label = f"{s['gpu']} ({s.get('region', 'GLOBAL')})"
        else:
            label = f"{s['compute']['gpu']} / {s['power']['node']} x {s['mwh_per_gpu_hour']} MWh"
        pts = []
        for p in st.points:
            value = curve.curve_value(p)
            pts.append(
                {
                    "id": p.id,
                    "symbol": p.symbol,
                    "period": p.period,
                    "t": p.delivery_start,
                    "t_end": p.delivery_end,
                    "window_text": window_text(p.delivery_start, p.delivery_end, st.tz),
                    "places": places(p.price_tick),
                    "mark": px(_usd(value), p.price_tick),
                    "mark_f": None if value is None else float(u.base_to_usd(value)),
                    "index": px(_usd(p.index_units), p.price_tick),
                    "basis": px(_usd(p.basis_units), p.price_tick),
                    "open_interest": d(u.units_to_quantity(p.open_interest_units)),
                    "status": p.status,
                    "last_trade_time": p.last_trade_time,
                }
            )
        return {"label": label, "series": st.series, "kind": st.kind, "unit": UNIT_OF[st.kind], "tz": st.tz,
                "points": pts}  # fmt: skip

    def calendar(self, query: dict[str, str] | None = None) -> dict[str, Any]:
        """The settlement calendar: per market, when trading stops, when the settlement value fixes
        (delivery end), when it can be final (+ dispute window) and at what value; grouped by the
        UTC day it fixes on (the page shows each time in the viewer's zone and in UTC)."""
        q = dict(query or {})
        settled = q.pop("settled", "") in ("1", "true", "yes")
        try:
            recs = curve.select(self.records(), **_curve_filters(q))
        except curve.CurveError as e:
            raise InvalidAmount(str(e)) from None
        if not settled:
            recs = [r for r in recs if r.status != "settled"]
        entries = curve.settlement_calendar(recs)
        days = []
        for day, es in curve.calendar_days(entries, "UTC"):
            rows = []
            for e in es:
                m = e.market
                rows.append(
                    {
                        "id": m.id,
                        "symbol": m.symbol,
                        "series": m.series,
                        "kind": m.kind,
                        "unit": UNIT_OF.get(m.kind, "unit"),
                        "window_text": window_text(m.delivery_start, m.delivery_end, m.tz),
                        "trading_ends": e.trading_ends,
                        "trading_ends_text": when(e.trading_ends, m.tz),
                        "fixes_at": e.fixes_at,
                        "fixes_at_text": when(e.fixes_at, m.tz),
                        "final_from": e.final_from,
                        "final_from_text": when(e.final_from, m.tz),
                        "value": px(_usd(e.value_units), m.price_tick),
                        "value_is_final": e.value_is_final,
                        "value_text": "—"
                        if e.value_units is None
                        else f"{px(_usd(e.value_units), m.price_tick)} USD/{UNIT_OF.get(m.kind, 'unit')} "
                        + ("(final)" if e.value_is_final else "(mark: expected)"),
                        "status": m.status,
                        "places": places(m.price_tick),
                    }
                )
            days.append({"day": day.isoformat(), "day_text": f"{day:%a %d %b %Y} (UTC)", "entries": rows})
        return {"days": days, "count": len(entries)}

    # ------------------------------------------------------------ basis (the operator's own prices vs an index)
    def basis_series(self) -> list[dict[str, str]]:
        """The listed series an operator can compare daily or monthly prices with (not HOURLY)."""
        seen: dict[str, dict[str, str]] = {}
        for m in self.client.markets():
            r = curve.record(m)
            if r.series in seen or (r.spec.get("profile") or (r.spec.get("power") or {}).get("profile")) == "HOURLY":
                continue
            if r.kind == "SPREAD":
                continue  # a spread's index mixes two datasets of different years: compare each leg instead
            seen[r.series] = {"series": r.series, "kind": r.kind, "unit": UNIT_OF[r.kind], "label": r.series}
        return sorted(seen.values(), key=lambda x: x["series"])

    def basis(self, body: dict[str, Any]) -> dict[str, Any]:
        """``{series, text}``: the operator's ``period,price`` lines against the series' index
        (the oracle reporter's Valuer over its data, as ``cspread index basis``): rows, basis and
        hedge effectiveness. Bad input is a 422 naming the line."""
        from apps.cli.common import CliError
        from apps.cli.index import basis_report, unshifted
        from core.basis import BasisError
        from oracle.settings import OracleSettings

        series = str(body.get("series") or "")
        text = body.get("text")
        if not isinstance(text, str):
            raise InvalidAmount("send your prices as text: one period,price per line (2021-02-17,45.20)")
        if len(text) > 400_000:
            raise InvalidAmount("that is more than 400 kB of prices: upload at most 4,000 periods at a time")
        known = {x["series"]: x for x in self.basis_series()}
        if series not in known:
            raise InvalidAmount(
                f"series {series[:80]!r} is not listed here; choose one of {', '.join(known) or 'none'}"
            )
        spec = next(r.spec for r in (curve.record(m) for m in self.client.markets()) if r.series == series)
        args = (
            [spec["iso"], spec["node"], spec["market"], spec["profile"]]
            if spec["kind"] == "POWER"
            else ["GPU", spec["gpu"]]
        )
        try:
            rep = basis_report(text, args, unshifted(OracleSettings()))  # calendar dates, never a devnet's shift
        except (BasisError, CliError) as e:
            raise InvalidAmount(str(e)) from None
        rep["series"] = series
        rep["unit"] = known[series]["unit"]
        return rep

    # ------------------------------------------------------------ accounts
    def account(self, address: str) -> dict[str, Any]:
        if not is_address(address):
            raise InvalidAmount(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
        addr = to_checksum_address(address)
        a = self.client.account(addr)
        usage_im = a.margin_usage
        positions = []
        for p in a.positions:
            m = self.client.market_params(p.market_id)
            positions.append(
                {
                    "market_id": p.market_id,
                    "symbol": p.symbol,
                    "unit": m.unit,
                    "period": m.period,
                    "side": p.side,
                    "places": places(m.price_tick),
                    "quantity": d(p.quantity),
                    "entry": px(p.entry_price, m.price_tick),
                    "mark": px(p.mark, m.price_tick),
                    "notional": cents(p.notional),
                    "unrealised_pnl": cents(p.unrealised_pnl),
                    "initial_margin": cents(p.initial_margin),
                    "maintenance_margin": cents(p.maintenance_margin),
                    "liquidation_price": px(p.liquidation_price, m.price_tick),
                    "settled_market": p.settled_market,
                }
            )
        orders = []
        if self.relay is not None:
            for o in self.relay.order_statuses(addr, status="open"):
                orders.append(order_view(o, self.client.market_params(o.order.market_id)))
        all_fills = self.client.fills(addr)
        fills = [
            fill_view(f, addr, self.client.market_params(f.market_id), self.block_time(f.block_number))
            for f in all_fills
        ][::-1][:100]
        settlements = []
        for s_ in self.client.settlements(addr):
            m = self.client.market_params(s_.market_id)
            ts = self.block_time(s_.block_number)
            settlements.append(
                {
                    "market_id": s_.market_id,
                    "symbol": m.symbol,
                    "unit": m.unit,
                    "quantity": d(s_.quantity),
                    "pnl": cents(s_.pnl),
                    "settlement_price": px(s_.settlement_price, m.price_tick),
                    "block": s_.block_number,
                    "ts": ts,
                    "time_text": when(ts),
                    "tx_hash": s_.tx_hash,
                    "key": f"{s_.tx_hash}:{s_.market_id}",
                }
            )
        try:  # as Reader.pnl, without reading the account and the fills a second time (pages poll this)
            realised_pnl = cents(self.client.realised_pnl(addr))
            fees_paid = cents(sum((f.fee_of(addr) for f in all_fills), Decimal(0)))
        except Exception:  # noqa: BLE001 - a history read must not blank the account
            realised_pnl = fees_paid = None

        def ratio(num: int, den: int) -> float | None:
            return None if den <= 0 else round(num / den, 4)

        # liquidation warning: equity within 20 % of the maintenance margin (or below it)
        warn_liq = bool(a.maintenance_margin_units and a.equity_units < a.maintenance_margin_units * 12 // 10)
        return {
            "address": addr,
            "collateral": cents(a.collateral),
            "equity": cents(a.equity),
            "initial_margin": cents(a.initial_margin),
            "maintenance_margin": cents(a.maintenance_margin),
            "free_collateral": cents(a.free_collateral),
            "unrealised_pnl": cents(a.unrealised_pnl),
            "realised_pnl": realised_pnl,
            "fees_paid": fees_paid,
            "margin_usage": (None if usage_im is None or not usage_im.is_finite() else float(usage_im)),
            "im_usage": ratio(a.initial_margin_units, a.equity_units),
            "mm_usage": ratio(a.maintenance_margin_units, a.equity_units),
            "health_ratio": d(a.health_ratio),
            "fresh": a.fresh,
            "liquidation_warning": warn_liq,
            "liquidatable": bool(a.maintenance_margin_units and a.equity_units < a.maintenance_margin_units),
            "wallet_balance": cents(a.wallet_balance),
            "allowance": d(u.base_to_usd(min(a.allowance_units, 10**30))),
            "allowance_unlimited": a.allowance_units >= 2**255,
            "eth_balance": d(self.client.eth_balance(addr).quantize(Decimal("0.0001"))),
            "positions": positions,
            "open_orders": orders,
            "fills": fills,
            "settlements": settlements,
            "now": self.client.now(),
        }

    def history(self, address: str) -> dict[str, Any]:
        """Everything that moved the account, newest first, each with its time: deposits,
        withdrawals, fills, liquidations and settlements (from the Clearinghouse's and Exchange's logs)."""
        if not is_address(address):
            raise InvalidAmount(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
        addr = to_checksum_address(address)
        rows: list[dict[str, Any]] = []
        for e in self.client.deposits(addr) + self.client.withdrawals(addr):
            verb = "deposit" if e.kind == "deposit" else "withdraw"
            rows.append(
                {
                    "kind": e.kind,
                    "block": e.block_number,
                    "text": f"{verb} {money(abs(e.amount))}",
                    "amount": cents(e.amount),
                    "tx_hash": e.tx_hash,
                }
            )
        for e in self.client.liquidations(addr):
            m = self.client.market_params(e.market_id)
            rows.append(
                {
                    "kind": "liquidation",
                    "block": e.block_number,
                    "text": f"liquidated {d(abs(e.quantity))} {m.unit} of {m.symbol} at "
                    f"{px(e.price, m.price_tick)} USD/{m.unit}, penalty {money(e.penalty)}",
                    "amount": None,
                    "tx_hash": e.tx_hash,
                }
            )
        for f in self.client.fills(addr):
            m = self.client.market_params(f.market_id)
            rows.append(
                {
                    "kind": "fill",
                    "block": f.block_number,
                    "text": f"{f.side_of(addr)} {d(f.quantity)} {m.unit} {m.symbol} at "
                    f"{px(f.price, m.price_tick)} USD/{m.unit}, fee {money(f.fee_of(addr))}",
                    "amount": cents(-f.fee_of(addr)),
                    "tx_hash": f.tx_hash,
                }
            )
        for s_ in self.client.settlements(addr):
            m = self.client.market_params(s_.market_id)
            rows.append(
                {
                    "kind": "settlement",
                    "block": s_.block_number,
                    "text": f"settled {d(abs(s_.quantity))} {m.unit} {m.symbol} at "
                    f"{px(s_.settlement_price, m.price_tick)} USD/{m.unit}: PnL {money(s_.pnl)}",
                    "amount": cents(s_.pnl),
                    "tx_hash": s_.tx_hash,
                }
            )
        for r in rows:
            r["ts"] = self.block_time(r["block"])
            r["time_text"] = when(r["ts"])
        # orders as the relay saw them (placed, filled, cancelled, expired); their time is the relay's
        # clock when it accepted them, which on a devnet with a moved chain clock differs from block times
        if self.relay is not None:
            try:
                placed = self.relay.order_statuses(addr, status="all", limit=200)
            except RelayError:
                placed = []
            for o in placed:
                od = o.order
                m = self.client.market_params(od.market_id)
                rows.append(
                    {
                        "kind": "order",
                        "block": None,
                        "ts": int(o.created_at),
                        "text": f"placed {od.side} {d(od.size)} {m.unit} {m.symbol} at "
                        f"{px(od.limit, m.price_tick)} USD/{m.unit}, expires {when(od.expiry)}: {o.status}"
                        + (f", {d(o.remaining)} {m.unit} left" if o.status == "open" else ""),
                        "amount": None,
                        "tx_hash": o.hash,
                    }
                )
                rows[-1]["time_text"] = when(rows[-1]["ts"])
        rows.sort(key=lambda r: (r["ts"] or 0, r["kind"]), reverse=True)
        return {"address": addr, "rows": rows}

    def accounting(self, address: str) -> list[dict[str, Any]]:
        """The trading ledger for accounting, oldest first: every fill, liquidation and settlement
        of the account with market, side, quantity, price, fee, the PnL it realised and its cash
        effect, block and tx hash. Realised PnL replays the account's own events (sdk.statement.ledger_events,
        the hedge statement's too) through core.statement.replay, i.e.
        core.margin.apply_fill (the Clearinghouse's rule: average cost, the closed share of the open
        notional rounded against the account); a settlement realises what its event says."""
        if not is_address(address):
            raise InvalidAmount(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
        addr = to_checksum_address(address)
        rows = []
        for r in statement.replay(ledger_events(self.client, addr)):
            e = r.event
            m = self.client.market_params(e.market_id)
            side = "buy" if e.delta > 0 else "sell"  # a liquidation's or settlement's side is the closing one
            ts = self.block_time(e.block)
            rows.append(
                {
                    "time_utc": dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "",
                    "kind": e.kind,
                    "market_id": m.id,
                    "symbol": m.symbol,
                    "side": side,
                    "quantity": d(u.units_to_quantity(abs(e.delta))),
                    "unit": m.unit,
                    "price": px(_usd(e.price), m.price_tick),
                    "fee_usd": cents(u.base_to_usd(e.fee)),
                    "realised_pnl_usd": cents(u.base_to_usd(r.realised)),
                    "cash_usd": cents(u.base_to_usd(r.cash)),
                    "position_after": d(u.units_to_quantity(r.quantity_after)),
                    "block": e.block,
                    "tx_hash": e.tx_hash,
                }
            )
        return rows

    def statement(self, address: str, months: str) -> Any:
        """The hedge statement (core.statement.Statement) of ``address`` for ``months``
        (``2027-01..2027-12``), read at the head block; rendered by apps.statement."""
        from sdk.statement import statement as build

        return build(self.client, address, months)

    def orders_status(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per signed order (as posted): how much filled on-chain and what still rests, at what price,
        until when, in the words of issue 14: "filled X of Y, Z resting at P until T"."""
        if not isinstance(orders, list):
            raise InvalidOrder(f"orders must be a list of orders, got {type(orders).__name__}")
        out = []
        now = self.client.now()
        for od in orders[:20]:
            try:
                o = Order.from_json(od)
            except (KeyError, TypeError, ValueError) as e:
                raise InvalidOrder(f"not an order: {e}") from None
            m = self.client.market_params(o.market_id)
            h = self.client.order_hash(o)
            filled = self.client.filled(o)
            remaining = self.client.remaining(o)
            alive = remaining > 0 and o.expiry > now
            resting = remaining if alive else 0
            total = int(o.quantity)
            price_s = px(o.limit, m.price_tick)
            text = f"{m.symbol} {o.side}: filled {d(u.units_to_quantity(filled))} of {d(o.size)} {m.unit}"
            if resting:
                text += f", {d(u.units_to_quantity(resting))} resting at {price_s} USD/{m.unit} until {when(o.expiry)}"
            elif filled < total:
                text += f", the rest {'expired' if o.expiry <= now else 'cancelled'}"
            out.append(
                {
                    "hash": h,
                    "market_id": m.id,
                    "symbol": m.symbol,
                    "unit": m.unit,
                    "side": o.side,
                    "quantity": d(o.size),
                    "filled": d(u.units_to_quantity(filled)),
                    "resting": d(u.units_to_quantity(resting)),
                    "price": price_s,
                    "expiry": o.expiry,
                    "expiry_text": when(o.expiry),
                    "text": text,
                }
            )
        return out

    # ------------------------------------------------------------ orders (typed data out, signatures in)
    def _as(self, address: str) -> Client:
        """A keyless Client acting as ``address``: pre-flight checks and order building for that
        account (signing stays in the browser)."""
        if not address or not is_address(address):
            raise InvalidOrder("connect a wallet first: orders need the trader's address")
        return self.client.watch(to_checksum_address(address))

    def typed(self, order: Order) -> dict[str, Any]:
        td = order_typed_data(order, self.chain_id, self.client.exchange.address)
        td["message"] = {
            k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in td["message"].items()
        }
        return td

    def _leg(self, order: Order, m: Market, extra: dict | None = None) -> dict[str, Any]:
        return {
            "order": order.as_json(),
            "typed_data": self.typed(order),
            "hash": self.client.order_hash(order),
            "symbol": m.symbol,
            "unit": m.unit,
            "side": order.side,
            "quantity": d(order.size),
            "price": px(order.limit, m.price_tick),
            **(extra or {}),
        }

    def build_order(
        self,
        account: str,
        market_id: int | str,
        side: str,
        quantity: str,
        price: str,
        reduce_only: bool = False,
        check: bool = True,
    ) -> dict[str, Any]:
        c = self._as(account)
        if isinstance(market_id, bool) or not (isinstance(market_id, int) or str(market_id).isdigit()):
            raise InvalidOrder(f"market_id must be a market's number, got {market_id!r}")
        m = c.market(int(market_id))
        order = c.build_order(
            m,
            side,
            u.to_decimal(quantity, "quantity"),
            u.to_decimal(price, "price"),
            expiry=c.now() + ORDER_TTL,
            reduce_only=reduce_only,
        )
        if check:
            c.check_order(order, maker_fee_bps=self.fees[0])
        return self._leg(order, m)

    def order_preview(self, body: dict[str, Any]) -> dict[str, Any]:
        """Before signing an order: the margin it adds, its fee, and the liquidation price of its
        market once it fills, for the connected account as it is and per leverage choice (the
        hedge planner's rule: sdk.hedge.plan_liquidation_prices / leverage_choices over core.margin)."""
        mid = body.get("market_id")
        if isinstance(mid, bool) or not (isinstance(mid, int) or str(mid).isdigit()):
            raise InvalidOrder(f"market_id must be a market's number, got {mid!r}")
        m = self.client.market_params(int(mid))
        account = body.get("account") or None
        if account is not None:
            if not is_address(str(account)):
                raise InvalidAmount(f"{account!r} is not an Ethereum address (0x followed by 40 hex digits)")
            account = to_checksum_address(str(account))
        plan = _hedge.order_plan(
            self.client,
            m,
            str(body.get("side", "")),
            u.to_decimal(str(body.get("quantity", "")), "quantity"),
            u.to_decimal(str(body.get("price", "")), "price"),
            account=account,
        )
        o = plan.orders[0]
        return {
            "market_id": m.id,
            "symbol": m.symbol,
            "side": o.side,
            "quantity": d(o.quantity),
            "price": px(o.price, m.price_tick),
            "notional": cents(o.notional),
            "margin_needed": cents(plan.margin_needed),
            "fee": cents(plan.fees),
            "leverage": self._leverage(plan, account),
        }

    def submit_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check a browser-signed order locally (clear messages), then post it to the relay."""
        try:
            order = Order.from_json(body["order"])
            sig = str(body["signature"])
            signed = SignedOrder(order, sig, self.client.order_hash(order))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidOrder(f"the order must be {{order: {{...}}, signature}}: {e}") from None
        try:
            signer = recover_signer(signed, self.chain_id, self.client.exchange.address)
        except Exception:  # noqa: BLE001 - a malformed signature is a user error, said plainly
            signer = None
        if signer is None or signer.lower() != order.trader.lower():
            raise InvalidOrder(
                f"the signature does not belong to {order.trader} for chain {self.chain_id} and "
                f"Exchange {self.client.exchange.address} (signed by {signer or 'nobody'}); "
                f"sign with the connected account on this chain"
            )
        if self.relay is None:
            raise RelayError(
                "no order relay is configured for this dashboard (start it with --relay URL); "
                "the signed order can still be taken on-chain with Exchange.fill",
                status=None,
            )
        return {"hash": signed.hash, "relay": self.relay.post_order(signed)}

    # ------------------------------------------------------------ hedge planner
    def hedge(self, body: dict[str, Any]) -> dict[str, Any]:
        gpu = str(body.get("gpu") or "H100-SXM")
        node = str(body.get("node") or "HB_WEST")
        month = str(body.get("month") or "")
        count = u.to_decimal(str(body.get("count", "1")), "GPU count")
        util = u.to_decimal(str(body.get("utilisation", "100")), "utilisation") / 100
        if count <= 0 or not 0 < util <= 1:
            raise InvalidAmount("GPU count must be positive and utilisation in (0, 100] %")
        ratio = None
        if body.get("mwh_per_gpu_hour") not in (None, ""):
            ratio = u.to_decimal(str(body["mwh_per_gpu_hour"]), "MWh per GPU-hour")
        elif body.get("kw_per_gpu") not in (None, ""):
            ratio = u.to_decimal(str(body["kw_per_gpu"]), "kW per GPU") / 1000
        if ratio is not None and ratio <= 0:
            raise InvalidAmount("power per GPU-hour must be positive")
        account = body.get("account") or None
        if account and not is_address(account):
            raise InvalidAmount(f"{account!r} is not an address")
        # the window: the SPREAD (else COMPUTE) market of that gpu and month
        cands = [m for m in self.client.find_markets("SPREAD", gpu=gpu, node=node) if m.period == month] or [
            m for m in self.client.find_markets("COMPUTE", gpu=gpu) if m.period == month
        ]
        if not cands:
            raise UnknownMarket(
                f"no SPREAD or COMPUTE market for {gpu} in {month or '(no month given)'}; "
                f"months listed: {', '.join(sorted(self.months(gpu))) or 'none'}"
            )
        win = cands[0]
        try:
            months = int(body.get("months") or 1)
        except (TypeError, ValueError):
            raise InvalidAmount(f"months must be a whole number, got {body.get('months')!r}") from None
        if not 1 <= months <= 36:
            raise InvalidAmount(f"months: from 1 to 36, got {months}")
        window_hours = Decimal(win.delivery_end - win.delivery_start) / 3600
        gpu_hours = (count * util * window_hours).quantize(Decimal("0.001"))
        profiles = [m.spec["profile"] for m in self.client.find_markets("POWER", node=node) if m.period == month]
        profile = "ATC" if "ATC" in profiles or not profiles else sorted(profiles)[0]
        if months > 1:  # a strip: each month hedges its own hours of the same fleet, one plan
            plan = _hedge.hedge_compute_spread_strip(
                self.client, gpu, node, None, months, gpus=count * util, start=month, mwh_per_gpu_hour=ratio,
                account=account, power_profile=profile,
            )  # fmt: skip
            hedged = [o.market for o in plan.orders if o.market.kind in ("SPREAD", "COMPUTE")]
            last = max(hedged, key=lambda m: m.delivery_start)
            window_hours = Decimal(sum(m.delivery_end - m.delivery_start for m in hedged)) / 3600
            gpu_hours = sum((o.quantity for o in plan.orders if o.market.kind in ("SPREAD", "COMPUTE")), Decimal(0))
            strip_text = f"{window_text(win.delivery_start, win.delivery_end, spec_tz(win.spec))} to " + window_text(
                last.delivery_start, last.delivery_end, spec_tz(last.spec)
            )
        else:
            plan = _hedge.hedge_compute_spread(
                self.client, gpu, node, gpu_hours, month, mwh_per_gpu_hour=ratio, account=account, power_profile=profile
            )
            strip_text = None
        if profile != "ATC" and not any(o.market.kind == "SPREAD" for o in plan.orders):
            plan = dataclasses.replace(
                plan,
                notes=plan.notes
                + (
                    f"no ATC power market at {node} for {month}: the power leg uses {profile}, "
                    f"so hours outside {profile} stay unhedged",
                ),
            )
        legs = []
        now = self.client.now()
        for leg in plan.orders:
            extra = {
                "purpose": leg.purpose,
                "notional": d(leg.notional),
                "fee": d(u.base_to_usd(leg.fee_units)),
                "market_id": leg.market.id,
            }
            if account:
                order = Order(
                    to_checksum_address(account),
                    leg.market.id,
                    leg.side == "buy",
                    leg.quantity_units,
                    leg.price_units,
                    self.nonces.next(),
                    now + ORDER_TTL,
                    False,
                )
                legs.append(self._leg(order, leg.market, extra))
            else:
                legs.append(
                    {
                        "symbol": leg.market.symbol,
                        "unit": leg.market.unit,
                        "side": leg.side,
                        "quantity": d(leg.quantity),
                        "price": px(leg.price, leg.market.price_tick),
                        **extra,
                    }
                )
        eff_ratio = ratio
        if eff_ratio is None:
            spreads = [o.market for o in plan.orders if o.market.kind == "SPREAD"]
            eff_ratio = (
                Decimal(spreads[0].spec["mwh_per_gpu_hour"])
                if spreads
                else _hedge.DEFAULT_MWH_PER_GPU_HOUR.get(gpu, Decimal("0.0012"))
            )
        return {
            "description": plan.description,
            "summary": plan.summary(),
            "gpu_hours": d(gpu_hours),
            "window_hours": d(window_hours),
            "window_text": strip_text or window_text(win.delivery_start, win.delivery_end, spec_tz(win.spec)),
            "months": months,
            "mwh_per_gpu_hour": d(eff_ratio),
            "mwh_total": d((eff_ratio * gpu_hours).quantize(Decimal("0.001"))),
            "legs": legs,
            "margin_needed": d(plan.margin_needed),
            "fees": d(plan.fees),
            "free_collateral": d(u.base_to_usd(plan.free_collateral_units)) if account else None,
            # what to deposit, rounded up to the cent: depositing the amount shown is enough
            "shortfall": str(plan.shortfall.quantize(Decimal("0.01"), rounding=ROUND_CEILING)) if account else None,
            "notes": list(plan.notes),
            "depth": [
                {
                    "symbol": x.symbol,
                    "side": x.side,
                    "unit": x.unit,
                    "thin": x.thin,
                    "fillable": d(x.fillable),
                    "resting": d(x.resting),
                    "price": px(u.base_to_usd(x.limit_units), x.price_tick),
                    "expiry": x.expiry,
                    "expiry_text": when(x.expiry),
                    "text": x.text(),
                }
                for x in plan.depth
            ],
            "warnings": plan.warnings(),
            "leverage": self._leverage(plan, account),
            "curve": self.spread_curve(gpu, node, eff_ratio),
            "scenarios": self.scenarios(plan, gpu, node, month, gpu_hours, eff_ratio)
            if months == 1
            else {
                "available": False,
                "reason": "PnL scenarios are drawn for one month: plan a single month to see them",
            },
        }

    def _leverage(self, plan: HedgePlan, account: str | None) -> list[dict[str, Any]]:
        """Pre-trade liquidation prices: with the connected account as it is, and per leverage choice."""
        markets = {o.market.id: o.market for o in plan.orders}

        def prices(liq: dict) -> list[dict[str, Any]]:
            return [
                {"symbol": markets[mid].symbol, "unit": markets[mid].unit, "price": px(v, markets[mid].price_tick)}
                for mid, v in liq.items()
            ]

        rows = []
        if account:
            acct = self.client.account(account)
            rows.append(
                {
                    "label": "your account as it is",
                    "collateral": cents(acct.collateral),
                    "leverage": None,
                    "liquidation": prices(_hedge.plan_liquidation_prices(self.client, plan, account=account)),
                }
            )
        for c in _hedge.leverage_choices(self.client, plan):
            rows.append(
                {
                    "label": c["label"],
                    "collateral": cents(c["collateral"]),
                    "leverage": d(c["leverage"]),
                    "liquidation": prices(c["liquidation"]),
                }
            )
        return rows

    def months(self, gpu: str | None = None) -> set[str]:
        return {
            m.period
            for m in self.client.find_markets("SPREAD") + self.client.find_markets("COMPUTE")
            if gpu is None or m.spec.get("gpu", m.spec.get("compute", {}).get("gpu")) == gpu
        }

    def hedge_options(self) -> dict[str, Any]:
        sp = self.client.find_markets("SPREAD")
        co = self.client.find_markets("COMPUTE")
        po = self.client.find_markets("POWER")
        gpus = sorted({m.spec["gpu"] for m in co} | {m.spec["compute"]["gpu"] for m in sp})
        nodes = sorted({m.spec["node"] for m in po} | {m.spec["power"]["node"] for m in sp})
        months = sorted({m.period for m in sp + co if len(m.period) == 7})
        first = sp[0].spec if sp else None
        # the first month not yet in delivery: the lister keeps the current month listed (it trades
        # to its end) but a hedge is planned forward, and the current month has no mark until asked
        now = self.client.now()
        ahead = sorted({m.period for m in sp + co if len(m.period) == 7 and m.delivery_start > now})
        return {
            "gpus": gpus,
            "nodes": nodes,
            "months": months,
            "default_month": ahead[0] if ahead else (months[0] if months else None),
            "default_gpu": first["compute"]["gpu"] if first else (gpus[0] if gpus else None),
            "default_node": first["power"]["node"] if first else (nodes[0] if nodes else None),
            "default_mwh_per_gpu_hour": {k: d(v) for k, v in _hedge.DEFAULT_MWH_PER_GPU_HOUR.items()},
        }

    def _marks_for(self, gpu: str, node: str, period: str) -> tuple[Decimal | None, Decimal | None, Market | None]:
        """(GPU-hour price, power price, SPREAD market) for one period from the listed marks."""
        g = p = None
        spread = next((m for m in self.client.find_markets("SPREAD", gpu=gpu, node=node) if m.period == period), None)
        comp = next((m for m in self.client.find_markets("COMPUTE", gpu=gpu) if m.period == period), None)
        if comp is not None:
            mk = self.client.mark(comp.id)
            g = mk.price if mk.observed_at else None
        profile = spread.spec["power"]["profile"] if spread else "ATC"
        pw = [m for m in self.client.find_markets("POWER", node=node) if m.period == period]
        pw.sort(key=lambda m: m.spec["profile"] != profile)
        if pw:
            mk = self.client.mark(pw[0].id)
            p = mk.price if mk.observed_at else None
        if spread is not None:
            sm = self.client.mark(spread.id)
            r = Decimal(spread.spec["mwh_per_gpu_hour"])
            if sm.observed_at:
                if g is None and p is not None:
                    g = sm.price + r * p
                if p is None and g is not None and r:
                    p = (g - sm.price) / r
        return g, p, spread

    def spread_curve(self, gpu: str, node: str, ratio: Decimal) -> dict[str, Any]:
        periods = sorted(self.months(gpu))
        points = []
        for per in periods:
            g, p, spread = self._marks_for(gpu, node, per)
            sm = self.client.mark(spread.id) if spread is not None else None
            points.append(
                {
                    "period": per,
                    "gpu": d(g),
                    "power": d(p),
                    "spread_mark": d(sm.price) if sm is not None and sm.observed_at else None,
                    "your_spread": d((g - ratio * p).quantize(Decimal("0.000001")))
                    if g is not None and p is not None
                    else None,
                }
            )
        return {"points": points}

    def scenarios(
        self, plan: HedgePlan, gpu: str, node: str, month: str, hours: Decimal, ratio: Decimal
    ) -> dict[str, Any]:
        """Operator PnL over the window vs power and GPU prices, unhedged and with the plan's legs
        filled at their limits (settled at the scenario's prices). Floats: for drawing only."""
        g0, p0, _ = self._marks_for(gpu, node, month)
        if g0 is None or p0 is None:
            return {"available": False, "reason": "no GPU or power mark for that month"}
        G0, P0, H, R = float(g0), float(p0), float(hours), float(ratio)
        legs = [
            (o.market.kind, o.side, float(o.quantity), float(o.price), float(o.market.spec.get("mwh_per_gpu_hour", 0)))
            for o in plan.orders
        ]

        def pnl(G: float, P: float) -> tuple[float, float]:
            unhedged = H * (G - R * P)
            hedge = 0.0
            for kind, side, q, limit, r_s in legs:
                s = 1 if side == "buy" else -1
                final = G - r_s * P if kind == "SPREAD" else (G if kind == "COMPUTE" else P)
                hedge += s * q * (final - limit)
            return unhedged, unhedged + hedge

        span = max(abs(P0), 20.0)
        powers = [round(P0 - 1.5 * span + i * (4 * span) / 40, 4) for i in range(41)]
        gpus = [round(G0 * (0.4 + i * 1.2 / 40), 6) for i in range(41)]
        by_p = [pnl(G0, p) for p in powers]
        by_g = [pnl(g, P0) for g in gpus]
        return {
            "available": True,
            "gpu_now": G0,
            "power_now": P0,
            "power": {"x": powers, "unhedged": [a for a, _ in by_p], "hedged": [b for _, b in by_p]},
            "gpu": {"x": gpus, "unhedged": [a for a, _ in by_g], "hedged": [b for _, b in by_g]},
        }

    # ------------------------------------------------------------ pools (issue 15)
    def pool_reader(self, address: str):
        """The pool's read side over the Client's chain (tests replace it with a fake contract's)."""
        from sdk.pool import PoolReader

        return PoolReader.at(self.client, address)

    def _pool_ref(self, ref: str) -> tuple[str, str]:
        """(name or '', checksummed address) of a manifest pool name or an address; InvalidAmount otherwise."""
        from sdk.pool import pool_address

        pools = self.client.manifest.data.get("pools") or {}
        try:
            addr = pool_address(self.client.manifest.data, ref)
        except ValueError as e:
            raise InvalidAmount(str(e)) from None
        name = next((k for k, v in pools.items() if to_checksum_address(v["address"]) == addr), "")
        return name, addr

    def pools(self) -> list[dict[str, Any]]:
        """The pools the manifest records (``cspread pool create``), each with its NAV."""
        out = []
        for name, e in (self.client.manifest.data.get("pools") or {}).items():
            addr = to_checksum_address(e["address"])
            try:
                nav = cents(self.pool_reader(addr).nav())
            except Exception:  # noqa: BLE001 - one unreadable pool must not blank the list
                nav = None
            out.append(
                {"name": name, "address": addr, "nav": nav, "markets": sorted(int(k) for k in e.get("markets", {}))}
            )
        return out

    def _our_pool(self, addr: str):
        """The PoolReader at ``addr`` if it is a pool of this venue: anything else (an EOA, a token,
        another venue's pool) is refused with InvalidAmount."""
        pr = self.pool_reader(addr)
        ch = self.client.manifest.address("Clearinghouse")
        try:
            ours = to_checksum_address(pr.contract.functions.clearinghouse().call()) == to_checksum_address(ch)
        except Exception:  # noqa: BLE001 - an address without the pool's views
            ours = False
        if not ours:
            raise InvalidAmount(f"{addr} is not a pool of this deployment's Clearinghouse {ch} (chain {self.chain_id})")
        return pr

    def pool(self, ref: str, account: str = "") -> dict[str, Any]:
        """One pool: NAV, share price, limits, positions (mark, PnL, coverage), hedged margin per
        GPU-hour; with ``account`` that member's shares, value and declared capacity."""
        name, addr = self._pool_ref(ref)
        if account and not is_address(account):
            raise InvalidAmount(f"{account!r} is not an Ethereum address (0x followed by 40 hex digits)")
        pr = self._our_pool(addr)
        entry = (self.client.manifest.data.get("pools") or {}).get(name, {})
        supply = pr.contract.functions.totalSupply().call()
        decimals = pr.contract.functions.decimals().call()
        nav = pr.nav()
        one_share = 10**decimals
        share_price = u.base_to_usd(pr.contract.functions.convertToAssets(one_share).call())
        acct = self.client.account(addr)
        held = {p.market_id: p for p in acct.positions}
        mids = sorted(set(held) | {int(k) for k in entry.get("markets", {})})
        positions = []
        for mid in mids:
            m = self.client.market_params(mid)
            pp = pr.market(mid)
            p = held.get(mid)
            positions.append(
                {
                    "market_id": mid,
                    "symbol": m.symbol,
                    "unit": m.unit,
                    "period": m.period,
                    "quantity": d(pp.quantity),
                    "side": p.side if p is not None else "flat",
                    "mark": px(p.mark, m.price_tick) if p is not None else None,
                    "unrealised_pnl": cents(p.unrealised_pnl) if p is not None else None,
                    "hedged": d(abs(pp.quantity)),
                    "declared": d(pp.declared),
                    "hedge_cap": d(pp.hedge_cap),
                    "coverage": None if pp.coverage is None else d(round(pp.coverage * 100, 1)),
                }
            )
        lim = pr.limits()
        per_hour = pr.hedged_margin_per_gpu_hour()
        me = None
        if account:
            a = to_checksum_address(account)
            sh = pr.share(a)
            dec = pr.declared(a)
            me = {
                "address": a,
                "shares": d(Decimal(sh.shares).scaleb(-decimals)),
                "value": cents(sh.value_usd),
                "fraction": d(round(sh.fraction * 100, 4)),
                "declared": None
                if dec.count == 0
                else {"gpu_class": dec.gpu_class, "node": dec.node, "count": dec.count, "commit": d(dec.commit * 100)},
            }
        label = name or addr
        closed = pr.closed_reason()
        return {
            "name": name,
            "address": addr,
            "nav": cents(nav),
            "shares_total": d(Decimal(supply).scaleb(-decimals)),
            "share_price": d(share_price.quantize(Decimal("0.000001"))),
            "free": cents(pr.free_usd()),
            "closed_reason": closed,
            "joins_closed_reason": pr.joins_closed_reason(closed),
            "equity": cents(acct.equity),
            "initial_margin": cents(acct.initial_margin),
            "limits": {
                "max_hedge": d(lim.max_hedge * 100),
                "max_margin": d(lim.max_margin * 100),
                "max_slippage": d(lim.max_slippage * 100),
                "max_slippage_fixed": d(lim.max_slippage_fixed_usd),
                "min_collateral_per_gpu": cents(lim.min_collateral_per_gpu_usd),
            },
            "positions": positions,
            "hedged_margin_per_gpu_hour": None if per_hour is None else str(per_hour.quantize(Decimal("0.0001"))),
            "me": me,
            # the page's Join/Declare/Leave forms do the same through the wallet; these are the CLI's
            "commands": {
                "join": f"cspread pool join {label} 1000",
                "declare": f"cspread pool declare {label} H100-SXM HB_WEST 4 0.5",
                "leave": f"cspread pool leave {label} 1000",
            },
        }

    # ------------------------------------------------------------ unsigned transactions
    @staticmethod
    def _txs(txs: list[UnsignedTx]) -> dict[str, Any]:
        return {"txs": [{"tx": t.as_rpc(), "description": t.description} for t in txs]}

    def _addr(self, account: str | None) -> str:
        if not account or not is_address(account):
            raise InvalidAmount("connect a wallet first (no account address given)")
        return to_checksum_address(account)

    def tx_faucet(self, account: str, amount: str) -> dict[str, Any]:
        return self._txs(self.client.watch(self._addr(account)).unsigned_faucet(amount))

    def tx_approve(self, account: str, amount: str | None) -> dict[str, Any]:
        return self._txs(self.client.watch(self._addr(account)).unsigned_approve(amount or None))

    def tx_deposit(self, account: str, amount: str) -> dict[str, Any]:
        return self._txs(self.client.watch(self._addr(account)).unsigned_deposit(amount))

    def tx_withdraw(self, account: str, amount: str) -> dict[str, Any]:
        return self._txs(self.client.watch(self._addr(account)).unsigned_withdraw(amount))

    def tx_cancel(self, account: str, order: dict[str, Any]) -> dict[str, Any]:
        c = self.client.watch(self._addr(account))
        try:
            o = Order.from_json(order)
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidOrder(f"not an order: {e}") from None
        return self._txs(c.unsigned_cancel(o))

    def tx_cancel_all(self, account: str) -> dict[str, Any]:
        return self._txs(self.client.watch(self._addr(account)).unsigned_cancel_all())

    def pool_client(self, address: str, account: str):
        """The pool's write side over a watched client of ``account`` (no key: unsigned txs only)."""
        from sdk.pool import PoolClient

        return PoolClient(self.client.watch(account), address)

    def _pool_txs(self, ref: str, account: str, build) -> dict[str, Any]:
        """Unsigned pool transactions for ``account``'s wallet: a pool of this venue only, and a
        refused amount (ValueError from sdk.pool) as a 4xx InvalidAmount, nothing built."""
        a = self._addr(account)
        _, addr = self._pool_ref(ref)
        self._our_pool(addr)
        try:
            return build(self.pool_client(addr, a))
        except ValueError as e:
            raise InvalidAmount(str(e)) from None

    def tx_pool_join(self, ref: str, account: str, amount: str) -> dict[str, Any]:
        """[approve if short, Pool.deposit(amount, account)]; ``amount`` in USD."""
        return self._pool_txs(ref, account, lambda p: self._txs(p.unsigned_join(amount)))

    def tx_pool_leave(self, ref: str, account: str, amount: str) -> dict[str, Any]:
        """Pool.withdraw when free collateral pays ``amount`` USD now, else request_exit of its
        shares; ``mode`` says which ('paid' or 'queued'), as PoolClient.leave."""

        def build(p):
            mode, txs = p.unsigned_leave(amount)
            return {**self._txs(txs), "mode": mode}

        return self._pool_txs(ref, account, build)

    def tx_pool_declare(
        self, ref: str, account: str, gpu_class: str, node: str, count: str, commit: str
    ) -> dict[str, Any]:
        """Pool.declare_capacity: ``count`` whole GPUs, ``commit`` the fraction (0..1) of their hours."""
        if not (count or "").isdigit():
            raise InvalidAmount(f"GPU count must be a whole number, got {count[:40]!r}")
        if not gpu_class or not node:
            raise InvalidAmount("give the GPU class and the node (e.g. H100-SXM at HB_WEST)")
        return self._pool_txs(
            ref, account, lambda p: self._txs(p.unsigned_declare(gpu_class, node, int(count), commit))
        )

    def tx_status(self, tx_hash: str) -> dict[str, Any]:
        if not TX_HASH.fullmatch(tx_hash or ""):
            raise ComputeSpreadError(f"{tx_hash[:80]!r} is not a transaction hash (0x followed by 64 hex digits)")
        st = self.client.tx_status(tx_hash)
        if st.status == "pending":
            return {"status": "pending"}
        if st.status == "success":
            return {"status": "success", "block": st.block_number}
        return {"status": "failed", "block": st.block_number, **error_json(st.error)}


# ---------------------------------------------------------------- views of relay / chain rows


def trade_view(t: dict[str, Any], tick: int = 0) -> dict[str, Any]:
    return {
        "price": px(u.base_to_usd(int(t["price"])), tick),
        "quantity": d(u.units_to_quantity(int(t["quantity"]))),
        "side": "sell" if t["maker_is_buy"] else "buy",
        "maker": t["maker"],
        "taker": t["taker"],
        "timestamp": t.get("timestamp"),
        "time_text": when(int(t["timestamp"])) if t.get("timestamp") else None,
        "block": t.get("block_number"),
        "tx_hash": t.get("tx_hash"),
    }


def order_view(o: RelayOrder, m: Market) -> dict[str, Any]:
    od = o.order
    return {
        "hash": o.hash,
        "order": od.as_json(),
        "market_id": od.market_id,
        "symbol": m.symbol,
        "unit": m.unit,
        "period": m.period,
        "side": od.side,
        "quantity": d(od.size),
        "remaining": d(o.remaining),
        "price": px(od.limit, m.price_tick),
        "expiry": od.expiry,
        "expiry_text": when(od.expiry),
        "status": o.status,
    }


def fill_view(f: Fill, account: str, m: Market, ts: int = 0) -> dict[str, Any]:
    return {
        "market_id": f.market_id,
        "symbol": m.symbol,
        "unit": m.unit,
        "side": f.side_of(account),
        "quantity": d(f.quantity),
        "price": px(f.price, m.price_tick),
        "fee": cents(f.fee_of(account)),
        "role": "maker" if f.maker.lower() == account.lower() else "taker",
        "block": f.block_number,
        "ts": ts,
        "time_text": when(ts),
        "tx_hash": f.tx_hash,
        "key": f"{f.tx_hash}:{f.log_index}",
    }
