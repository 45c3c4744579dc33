"""Read side of the SDK: markets, marks, accounts, positions, PnL, fills, settlements, streams.

No key needed. Plain web3 over HTTP (no ape import). Results are :mod:`sdk.models` in human
units; chain integers stay available in ``*_units`` fields.

Thread-safety: a ``Reader`` holds no mutable state besides a lock-guarded cache of static
market data, and web3's HTTPProvider is safe for concurrent requests, so one instance may
serve reads from many threads. Streams are generators: give each consumer its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import Web3Exception

from chain.logs import event_logs
from chain.rpc import ChainError, batch_call, connect
from chain.tx import tx_outcome
from core import abi
from core import units as u
from core.manifest import Manifest
from core.specs import spec_matches
from sdk.errors import (
    ChainMismatch,
    ComputeSpreadError,
    StaleMarket,
    TransactionFailed,
    UnknownMarket,
    ViewContractMissing,
    decode_revert,
)
from sdk.margin import Holding, Summary, liquidation_price
from sdk.models import (
    AccountState,
    CollateralMove,
    Fill,
    LiquidationEvent,
    Mark,
    Market,
    MarketStatus,
    Order,
    PnL,
    Position,
    PriceUpdate,
    Settlement,
    TxStatus,
)
from sdk.signing import order_digest

log = logging.getLogger("sdk")

LOG_CHUNK = 5_000  # blocks per eth_getLogs request
BLOCK_TIME_CACHE = 100_000  # block timestamps kept (a block's time never changes once mined deep enough)


def load_manifest(manifest: Manifest | str | Path) -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    return Manifest.load(manifest)


@dataclass(frozen=True)
class ListedMarket:
    """One market as listed on chain, without live state (``Reader.market(id)`` adds mark and
    status). ``template_id`` is None for a one-off market the owner listed (the manifest's)."""

    id: int
    symbol: str
    series: str  # the symbol without its period label, e.g. ERCOT.HB_WEST.DA.PEAK
    kind: str  # POWER | COMPUTE | SPREAD
    node: str | None  # the power node (a SPREAD's power leg), None for COMPUTE
    delivery_start: int  # unix s
    delivery_end: int  # unix s, exclusive
    spec: dict[str, Any]
    template_id: int | None = None
    lister: str | None = None
    block_number: int | None = None
    tx_hash: str | None = None


def _node_of(spec: dict[str, Any]) -> str | None:
    leg = spec.get("power") if spec.get("kind") == "SPREAD" else spec
    return leg.get("node") if isinstance(leg, dict) else None


def _window_of(spec: dict[str, Any]) -> tuple[int, int]:
    leg = spec["power"] if spec.get("kind") == "SPREAD" else spec
    return int(leg.get("delivery_start", 0)), int(leg.get("delivery_end", 0))


def registry_name(manifest: Manifest) -> str:
    """The manifest contract holding the series templates (``list_from_template``, its events):
    a ``SeriesRegistry`` when the deployment has one, else the Clearinghouse."""
    reg = manifest.data.get("contracts", {}).get("SeriesRegistry") or {}
    if any(e.get("name") == "list_from_template" for e in reg.get("abi") or []):
        return "SeriesRegistry"
    return "Clearinghouse"


def known_series(manifest: Manifest, markets: str | Path | None = None) -> dict[tuple[bytes, int], Any]:
    """(spec_hash, cadence) -> :class:`core.series.Series` of every series the deployment
    describes: the manifest's ``templates`` (markets-file entries the deploy approved) and, when
    given, a markets file's entries. A chain template commits to its spec by hash, so a series
    is used for a template only when both hash and cadence match (ATC daily and ATC monthly
    share a spec)."""
    from core import series as cs

    found = []
    for i, e in enumerate(manifest.data.get("templates") or []):
        try:
            found.append(cs.Series.from_entry(e.get("entry", e) if isinstance(e, dict) else e))
        except (ValueError, KeyError, TypeError, AttributeError) as err:  # pass the markets file instead
            log.warning("manifest templates[%d] is not a series entry (%s); pass the markets file", i, err)
    if markets is not None:
        found += cs.load_series(str(markets))
    return {(bytes(s.spec_hash), int(s.cadence)): s for s in found}


def _hex(b: bytes | str) -> str:
    return b if isinstance(b, str) else "0x" + bytes(b).hex()


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(s: int) -> str:
    h, rem = divmod(int(s), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {sec:02d}s"


class Reader:
    """Read-only view of one deployment. ``Reader(manifest_path_or_Manifest, rpc_url)``."""

    def __init__(
        self,
        manifest: Manifest | str | Path,
        rpc_url: str | None = None,
        *,
        w3: Web3 | None = None,
        timeout: float = 30.0,
    ):
        self.manifest = load_manifest(manifest)
        if w3 is None:
            if not rpc_url:
                raise ComputeSpreadError("pass rpc_url= (e.g. http://127.0.0.1:8545) or w3=")
            try:
                w3 = connect(rpc_url, timeout=timeout)
            except (ChainError, ValueError) as e:
                raise ComputeSpreadError(
                    f"cannot reach the RPC at {rpc_url}: {e.__cause__ or e}; is the node running?"
                ) from e
        self.w3 = w3
        try:
            chain_id = self.w3.eth.chain_id
        except Exception as e:  # noqa: BLE001 - any transport failure means the same to a user
            raise ComputeSpreadError(f"cannot reach the RPC at {rpc_url or w3}: {e}; is the node running?") from e
        if chain_id != self.manifest.chain_id:
            raise ChainMismatch(
                f"the RPC serves chain {chain_id} but {self.manifest.path} was deployed to chain "
                f"{self.manifest.chain_id}: use the matching RPC or manifest"
            )
        self.chain_id = chain_id
        m = self.manifest
        self.clearinghouse = m.contract(self.w3, "Clearinghouse")
        # templates, market_of and MarketListedFromTemplate (issue 10)
        self.registry = m.contract(self.w3, registry_name(m))
        # composites (account_summary ...) live in the ClearinghouseView; older manifests have none
        self._view = m.contract(self.w3, "ClearinghouseView") if m.clearinghouse_view else None
        self.exchange = m.contract(self.w3, "Exchange")
        self.oracle = m.contract(self.w3, "Oracle")
        self.collateral = m.contract(self.w3, "Collateral")
        self.faucet_token = m.contract(self.w3, "MockUSDC") if "MockUSDC" in m.data["contracts"] else None
        self.deploy_block = int(m.data.get("block", 0))
        self._cache_lock = threading.Lock()
        self._entries = {int(e["id"]): e for e in m.markets}
        self._block_ts: dict[int, int] = {}
        # markets listed from templates, learnt from MarketListedFromTemplate logs (cursor: the
        # next block to read); their specs come from the series the deployment describes
        self._listed: dict[int, ListedMarket] = {}
        self._listed_cursor = self.deploy_block
        self._series: dict[bytes, Any] | None = None
        self._templates: dict[int, tuple[bytes, int]] = {}  # template id -> (spec_hash, cadence)

    @property
    def view(self):
        """The ClearinghouseView contract (web3), or :class:`ViewContractMissing`."""
        if self._view is None:
            raise ViewContractMissing(
                f"{self.manifest.path} has no ClearinghouseView: it was written before the Clearinghouse's "
                f"composite views (account_summary ...) moved there. Redeploy (`ape run deploy`), or deploy "
                f"contracts/ClearinghouseView.vy with the Clearinghouse address and add it to the manifest's "
                f'contracts as "ClearinghouseView"'
            )
        return self._view

    # ------------------------------------------------------------ chain
    def block_number(self) -> int:
        return self.w3.eth.block_number

    def now(self) -> int:
        """Timestamp of the latest block (the chain's clock, not the machine's)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # ------------------------------------------------------------ markets
    def market_ids(self) -> list[int]:
        n = self.clearinghouse.functions.market_count().call()
        return list(range(1, n + 1))

    def market_params(self, ref: int | str | Market) -> Market:
        """A market's listing and on-chain parameters (spec, feeds, delivery window, tick, step,
        minimum, margin numbers) without its live state: one call. ``market()`` adds mark and status."""
        return self._static_market(self._resolve_id(ref))

    def _static_market(self, market_id: int, block: Any = "latest", raw: Any = None, refresh: bool = True) -> Market:
        """``raw``: ``Clearinghouse.market(id)`` already read (a batch); ``refresh=False``: the
        caller has just read the listings (one log read for all markets, not one per market)."""
        if raw is None:
            raw = self.clearinghouse.functions.market(market_id).call(block_identifier=block)
        p = abi.Market.decode(raw).asdict()
        if p["price_tick"] == 0:
            raise UnknownMarket(f"market {market_id} is not listed on chain {self.chain_id}; list them with markets()")
        e = self._entries.get(market_id)
        if e is None:
            if refresh:
                self.refresh_listings()
            e = self._entries.get(market_id, {})
        return Market(
            id=market_id,
            symbol=e.get("symbol", f"MARKET-{market_id}"),
            kind=e.get("kind", "UNKNOWN"),
            spec=e.get("spec", {}),
            spec_hash=_hex(p.pop("spec_hash")),
            mark_feed=_hex(p.pop("mark_feed")),
            settlement_feed=_hex(p.pop("settlement_feed")),
            **p,
        )

    def _resolve_id(self, ref: int | str | Market) -> int:
        if isinstance(ref, Market):
            return ref.id
        if isinstance(ref, int) and not isinstance(ref, bool):
            if not 0 < ref < 2**256:  # not a uint256: no such market, rather than an ABI encoding error
                raise UnknownMarket(f"market {ref} is not listed on chain {self.chain_id}; list them with markets()")
            return ref
        if isinstance(ref, str):
            if ref.isdigit():
                return self._resolve_id(int(ref))
            if not any(e.get("symbol") == ref for e in self._entries.values()):
                self.refresh_listings()
            for mid, e in list(self._entries.items()):
                if e.get("symbol") == ref:
                    return mid
            near = [e["symbol"] for e in self._entries.values() if ref.lower() in e["symbol"].lower()]
            hint = f"; did you mean {', '.join(near[:5])}?" if near else "; list them with markets()"
            raise UnknownMarket(f"no market with symbol {ref!r} in {self.manifest.path}{hint}")
        raise UnknownMarket(f"a market is an id, a symbol or a Market, got {ref!r}")

    def market(self, ref: int | str | Market, block: Any = "latest") -> Market:
        """A market with its on-chain parameters, state, mark and status."""
        mid = self._resolve_id(ref)
        m = self._static_market(mid, block)
        state = self.clearinghouse.functions.market_state(mid).call(block_identifier=block)
        mark_row = self.clearinghouse.functions.mark(mid).call(block_identifier=block)
        return self._with_state(m, state, mark_row, int(self.w3.eth.get_block(block)["timestamp"]))

    def _with_state(self, m: Market, state, mark_row, now: int) -> Market:
        """``m`` (static) with its ``market_state`` and ``mark`` rows read at chain time ``now``."""
        mid = m.id
        halted, settled, settlement_price, long_oi = state
        price, observed_at, fresh = mark_row
        if settled:
            status = MarketStatus.SETTLED
        elif now >= m.last_trade_time:
            status = MarketStatus.SETTLING
        elif halted:
            status = MarketStatus.HALTED
        elif not fresh:
            status = MarketStatus.STALE
        else:
            status = MarketStatus.LIVE
        mark = Mark(mid, m.mark_feed, int(price), int(observed_at), bool(fresh))
        return Market(
            **{
                **m.__dict__,
                "status": status,
                "mark": mark,
                "long_open_interest": int(long_oi),
                "settlement_price_units": int(settlement_price) if settled else None,
            }
        )

    def markets(self) -> list[Market]:
        """Every listed market, with spec, parameters, mark and status."""
        block = self.block_number()
        self.refresh_listings(block)
        ids = self.market_ids()
        # hundreds of live markets on a standing curve: parameters, state and mark in JSON-RPC
        # batches (at the head), not three round trips per market (617 markets: 39 s -> ~1 s)
        ch = self.clearinghouse.functions
        rows = []
        for i in range(0, len(ids), 200):
            part = ids[i : i + 200]
            rows += batch_call(
                self.w3, [f for mid in part for f in (ch.market(mid), ch.market_state(mid), ch.mark(mid))]
            )
        now = int(self.w3.eth.get_block(block)["timestamp"])
        return [
            self._with_state(
                self._static_market(mid, block, raw=rows[3 * k], refresh=False), rows[3 * k + 1], rows[3 * k + 2], now
            )
            for k, mid in enumerate(ids)
        ]

    def find_markets(self, kind: str | None = None, **spec_fields: Any) -> list[Market]:
        """Manifest markets whose spec matches (``kind="POWER", node="HB_WEST", profile="PEAK"``).
        For SPREAD markets fields are matched against either leg (``gpu=``, ``node=``)."""
        self.refresh_listings()
        out = []
        for mid, e in sorted(self._entries.items()):
            spec = e.get("spec", {})
            if kind and e.get("kind") != kind:
                continue
            if spec_matches(spec, **spec_fields):
                out.append(mid)
        # a node's curve is ~80 markets on a standing devnet (48 hours, 14 days, the months): their
        # parameters in JSON-RPC batches, not a web3 call each (the hedge planner asks several times)
        fn = self.clearinghouse.functions
        raws = []
        for i in range(0, len(out), 200):
            raws += batch_call(self.w3, [fn.market(mid) for mid in out[i : i + 200]])
        return [self._static_market(mid, raw=raw, refresh=False) for mid, raw in zip(out, raws, strict=True)]

    # ------------------------------------------------------------ markets listed from templates
    def use_series(self, series: dict[tuple[bytes, int], Any]) -> None:
        """Tell the reader the series specs ((spec_hash, cadence) -> Series) of templates the manifest
        does not describe, e.g. ``known_series(manifest, "markets/mine.json")``."""
        with self._cache_lock:
            self._series = {**(self._series or {}), **series}
            self._listed_cursor, self._listed = self.deploy_block, {}  # re-read with the new specs

    def _series_map(self) -> dict[tuple[bytes, int], Any]:
        if self._series is None:
            try:
                self._series = known_series(self.manifest)
            except ImportError:  # a deployment without templates (core.series absent)
                self._series = {}
        return self._series

    def template(self, template_id: int) -> dict[str, Any]:
        """``Clearinghouse.template(id)`` by field name (spec_hash, cadence, utc_offset, bond, ...)."""
        raw = self.registry.functions.template(int(template_id)).call()
        if isinstance(raw, dict):
            return dict(raw)
        (out,) = [e for e in self.registry.abi if e.get("type") == "function" and e.get("name") == "template"]
        return dict(zip([c["name"] for c in out["outputs"][0]["components"]], raw, strict=True))

    def _template_key(self, template_id: int) -> tuple[bytes, int]:
        k = self._templates.get(template_id)
        if k is None:
            t = self.template(template_id)
            k = self._templates[template_id] = (bytes(t["spec_hash"]), int(t["cadence"]))
        return k

    def refresh_listings(self, to_block: int | None = None) -> int:
        """Read ``MarketListedFromTemplate`` logs since the last call (paged: chain.logs) and
        learn each market's spec; returns how many markets were learnt. Called by every
        market lookup, so ``market()``, ``markets()`` and ``find_markets()`` see the curve."""
        if not any(e.get("name") == "MarketListedFromTemplate" for e in self.registry.abi):
            return 0  # a deployment from before templates
        end = self.block_number() if to_block is None else int(to_block)
        with self._cache_lock:
            start = self._listed_cursor
            if start > end:
                return 0
            logs = event_logs(self.registry.events.MarketListedFromTemplate, start, end, {}, LOG_CHUNK)
            learnt = 0
            for ev in logs:
                a = ev["args"]
                m = self._listed_market(
                    int(a["market_id"]),
                    int(a["template_id"]),
                    a["lister"],
                    int(a["delivery_start"]),
                    int(a["delivery_end"]),
                    int(ev["blockNumber"]),
                    _hex(ev["transactionHash"]),
                )
                self._listed[m.id] = m
                if m.spec:
                    self._entries[m.id] = {"id": m.id, "symbol": m.symbol, "kind": m.kind, "spec": m.spec}
                learnt += 1
            self._listed_cursor = end + 1
        return learnt

    def _listed_market(self, mid, tid, lister, start, end, block, tx) -> ListedMarket:
        from core.specs import symbol as spec_symbol

        s = self._series_map().get(self._template_key(tid))
        if s is None:  # the template's spec is not described anywhere we know: id and window only
            sym = f"TEMPLATE-{tid}.{start}"
            return ListedMarket(mid, sym, f"TEMPLATE-{tid}", "UNKNOWN", None, start, end, {}, tid, lister, block, tx)
        from core.series import market_spec

        spec = market_spec(s, start, end)
        return ListedMarket(
            mid, spec_symbol(spec), s.symbol, spec["kind"], _node_of(spec), start, end, spec, tid, lister, block, tx
        )

    def listed_markets(
        self,
        *,
        node: str | None = None,
        series: str | None = None,
        kind: str | None = None,
        start: int | None = None,
        end: int | None = None,
        template_id: int | None = None,
        offset: int = 0,
        limit: int | None = 100,
    ) -> list[ListedMarket]:
        """Every listed market (the manifest's and those listed from templates), filtered and paged,
        ordered by (delivery_start, symbol).

        ``node``: the power node (``HB_WEST``; a SPREAD matches on its power leg); ``series``: the
        series symbol (``ERCOT.HB_WEST.DA.PEAK``) or a prefix of it ending before a dot
        (``ERCOT.HB_WEST``); ``kind``: POWER, COMPUTE or SPREAD; ``start``/``end`` (unix s): windows
        overlapping [start, end); ``template_id``: markets of one template. ``offset``/``limit``
        page the result (``limit=None``: all). Static data only: ``market(id)`` adds mark and status."""
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        self.refresh_listings()
        with self._cache_lock:
            rows = list(self._listed.values())
            templated = set(self._listed)
        for mid, e in self._entries.items():
            if mid in templated:
                continue
            spec = e.get("spec", {})
            a, b = _window_of(spec) if spec else (0, 0)
            sym = e.get("symbol", f"MARKET-{mid}")
            rows.append(
                ListedMarket(mid, sym, sym.rsplit(".", 1)[0], e.get("kind", "UNKNOWN"), _node_of(spec), a, b, spec)
            )

        def keep(m: ListedMarket) -> bool:
            if node is not None and m.node != node:
                return False
            if series is not None and not (m.series == series or m.series.startswith(series + ".")):
                return False
            if kind is not None and m.kind != kind.upper():
                return False
            if template_id is not None and m.template_id != template_id:
                return False
            if start is not None and m.delivery_end <= start:
                return False
            return not (end is not None and m.delivery_start >= end)

        out = sorted((m for m in rows if keep(m)), key=lambda m: (m.delivery_start, m.symbol, m.id))
        return out[offset:] if limit is None else out[offset : offset + limit]

    def mark(self, ref: int | str | Market) -> Mark:
        mid = self._resolve_id(ref)
        m = self._static_market(mid)
        price, observed_at, fresh = self.clearinghouse.functions.mark(mid).call()
        return Mark(mid, m.mark_feed, int(price), int(observed_at), bool(fresh))

    def feed(self, feed_id: str | bytes) -> dict[str, Any]:
        """Raw Oracle feed state: price (base units), observed_at, updated_at, disputed, final."""
        fid = bytes.fromhex(feed_id[2:]) if isinstance(feed_id, str) else bytes(feed_id)
        p, obs, upd, disputed, final = self.oracle.functions.feed(fid).call()
        return {"price": int(p), "observed_at": int(obs), "updated_at": int(upd), "disputed": disputed, "final": final}

    def stale_error(self, market: Market, action: str | None = None) -> StaleMarket:
        """A :class:`StaleMarket` naming the market, its mark feed and since when it is stale."""
        f = self.feed(market.mark_feed)
        now = self.now()
        prefix = f"{action}: " if action else ""
        if f["observed_at"] == 0:
            why = f"its mark feed {market.mark_feed} has never been reported"
        elif f["disputed"]:
            why = f"its mark feed {market.mark_feed} is disputed (since {_when(f['updated_at'])})"
        else:
            why = (
                f"its mark feed {market.mark_feed} was last observed {_when(f['observed_at'])} "
                f"({_duration(now - f['observed_at'])} ago; max age {_duration(market.max_price_age)}), "
                f"stale since {_when(f['observed_at'] + market.max_price_age)}"
            )
        return StaleMarket(
            f"{prefix}market {market.id} ({market.symbol}) is stale: {why}. Wait for the oracle "
            f"pusher to publish a fresh mark (only risk-reducing trades pass meanwhile)",
            market_id=market.id,
            symbol=market.symbol,
            feed_id=market.mark_feed,
            observed_at=f["observed_at"],
            age=now - f["observed_at"],
            max_age=market.max_price_age,
        )

    def fees_bps(self) -> tuple[int, int]:
        """(maker, taker) fee in bps of |notional|, read from the Exchange."""
        return (
            int(self.exchange.functions.maker_fee_bps().call()),
            int(self.exchange.functions.taker_fee_bps().call()),
        )

    # ------------------------------------------------------------ accounts
    def _holdings(self, address: str, block: Any) -> tuple[dict[int, Holding], dict[int, Market]]:
        ids = self.clearinghouse.functions.open_markets(address).call(block_identifier=block)
        holdings, markets = {}, {}
        for mid in ids:
            m = self.market(int(mid), block)
            q, on = self.clearinghouse.functions.position(address, mid).call(block_identifier=block)
            holdings[m.id] = Holding(m, int(q), int(on), m.mark.price_units, m.status == MarketStatus.SETTLED)
            markets[m.id] = m
        return holdings, markets

    def account(self, address: str) -> AccountState:
        """Collateral, equity, margins, positions (with liquidation prices) and wallet balances,
        all read at one block so they are consistent."""
        address = to_checksum_address(address)
        view = self.view  # before any RPC: an old manifest fails with a clear message
        block = self.block_number()
        coll, equity, im, mm, fresh, _n = view.functions.account_summary(address).call(block_identifier=block)
        holdings, markets = self._holdings(address, block)
        summary = Summary(int(coll), int(equity), int(im), int(mm))
        positions = []
        for mid, h in holdings.items():
            positions.append(
                Position(
                    market_id=mid,
                    symbol=markets[mid].symbol,
                    quantity_units=h.quantity,
                    open_notional_units=h.open_notional,
                    mark_units=h.mark,
                    initial_margin_units=0
                    if h.settled
                    else u.margin_units(h.quantity, h.market.im_fixed, h.market.im_rate_bps, h.mark),
                    maintenance_margin_units=0
                    if h.settled
                    else u.margin_units(h.quantity, h.market.mm_fixed, h.market.mm_rate_bps, h.mark),
                    liquidation_price=liquidation_price(summary, h),
                    settled_market=h.settled,
                    price_tick=markets[mid].price_tick,
                    unit=markets[mid].unit,
                )
            )
        bal = self.collateral.functions.balanceOf(address).call(block_identifier=block)
        allowance = self.collateral.functions.allowance(address, self.clearinghouse.address).call(
            block_identifier=block
        )
        return AccountState(
            address, int(coll), int(equity), int(im), int(mm), bool(fresh), tuple(positions), int(bal), int(allowance)
        )

    def positions(self, address: str) -> tuple[Position, ...]:
        return self.account(address).positions

    def position(self, address: str, market: int | str | Market) -> Position | None:
        return self.account(address).position(self._resolve_id(market))

    def liquidation_price(self, address: str, market: int | str | Market):
        p = self.position(address, market)
        return None if p is None else p.liquidation_price

    def wallet_balance(self, address: str):
        return u.base_to_usd(self.collateral.functions.balanceOf(to_checksum_address(address)).call())

    def is_liquidatable(self, address: str) -> bool:
        return bool(self.clearinghouse.functions.is_liquidatable(to_checksum_address(address)).call())

    # ------------------------------------------------------------ orders
    def remaining(self, order: Order) -> int:
        """Thousandths still fillable (0 when dead: filled, cancelled, expired, below min nonce)."""
        return int(self.exchange.functions.remaining(order.as_tuple()).call())

    def min_nonce(self, address: str) -> int:
        return int(self.exchange.functions.min_nonce(to_checksum_address(address)).call())

    # ------------------------------------------------------------ history
    def _logs(self, event, filters: dict, from_block: int | None, to_block: int | str) -> list:
        start = self.deploy_block if from_block is None else int(from_block)
        end = self.block_number() if to_block == "latest" else int(to_block)
        return event_logs(event, start, end, filters, LOG_CHUNK)

    @staticmethod
    def _fill(ev) -> Fill:
        a = ev["args"]
        return Fill(
            _hex(a["order_hash"]),
            int(a["market_id"]),
            a["maker"],
            a["taker"],
            bool(a["maker_is_buy"]),
            int(a["quantity"]),
            int(a["price"]),
            int(a["maker_fee"]),
            int(a["taker_fee"]),
            int(ev["blockNumber"]),
            _hex(ev["transactionHash"]),
            int(ev["logIndex"]),
        )

    def fills(self, address: str, from_block: int | None = None, to_block: int | str = "latest") -> list[Fill]:
        """Own fills (as maker or taker) from OrderFilled events, oldest first."""
        address = to_checksum_address(address)
        ev = self.exchange.events.OrderFilled
        logs = self._logs(ev, {"maker": address}, from_block, to_block) + self._logs(
            ev, {"taker": address}, from_block, to_block
        )
        uniq = {(_hex(e["transactionHash"]), e["logIndex"]): e for e in logs}
        return sorted((self._fill(e) for e in uniq.values()), key=lambda f: (f.block_number, f.log_index))

    def settlements(
        self, address: str, from_block: int | None = None, to_block: int | str = "latest"
    ) -> list[Settlement]:
        """Settled positions of ``address`` (Settled events) with each market's settlement price."""
        address = to_checksum_address(address)
        out, prices = [], {}
        for e in self._logs(self.clearinghouse.events.Settled, {"account": address}, from_block, to_block):
            a = e["args"]
            mid = int(a["market_id"])
            if mid not in prices:
                st = self.clearinghouse.functions.market_state(mid).call()
                prices[mid] = int(st[2]) if st[1] else None
            out.append(
                Settlement(
                    a["account"],
                    mid,
                    int(a["quantity"]),
                    int(a["pnl"]),
                    int(e["blockNumber"]),
                    _hex(e["transactionHash"]),
                    prices[mid],
                )
            )
        return out

    def pnl(self, address: str, from_block: int | None = None) -> PnL:
        """Realised PnL (closed trades, liquidations and settlements: PositionUpdated.realised_pnl),
        trading fees paid (OrderFilled), and unrealised PnL at the current marks."""
        address = to_checksum_address(address)
        realised = self.realised_pnl(address, from_block)
        fees = sum(f.fee_of(address) for f in self.fills(address, from_block))
        acct = self.account(address)
        return PnL(realised, u.base_to_usd(0) + fees, acct.unrealised_pnl)

    def realised_pnl(self, address: str, from_block: int | None = None, to_block: int | str = "latest") -> Decimal:
        """USD realised by closed trades, liquidations and settlements (``PositionUpdated.realised_pnl``),
        fees excluded."""
        address = to_checksum_address(address)
        return u.base_to_usd(
            sum(
                int(e["args"]["realised_pnl"])
                for e in self._logs(
                    self.clearinghouse.events.PositionUpdated, {"account": address}, from_block, to_block
                )
            )
        )

    def block_time(self, block: int) -> int:
        """Unix time of block ``block`` (cached: history rows are listed by time)."""
        b = int(block)
        ts = self._block_ts.get(b)
        if ts is None:
            ts = int(self.w3.eth.get_block(b)["timestamp"])
            with self._cache_lock:
                if len(self._block_ts) >= BLOCK_TIME_CACHE:
                    self._block_ts.clear()
                self._block_ts[b] = ts
        return ts

    def _collateral_moves(self, kind: str, address: str, from_block, to_block) -> list[CollateralMove]:
        event, sign = (
            (self.clearinghouse.events.Deposit, 1) if kind == "deposit" else (self.clearinghouse.events.Withdraw, -1)
        )
        address = to_checksum_address(address)
        return [
            CollateralMove(
                kind,
                address,
                sign * int(e["args"]["amount"]),
                int(e["blockNumber"]),
                _hex(e["transactionHash"]),
                int(e["logIndex"]),
                self.block_time(e["blockNumber"]),
            )
            for e in self._logs(event, {"account": address}, from_block, to_block)
        ]

    def deposits(
        self, address: str, from_block: int | None = None, to_block: int | str = "latest"
    ) -> list[CollateralMove]:
        """Deposits into ``address``'s margin account (``Deposit``; also those paid by another
        wallet through ``deposit_for``), oldest first, each with its block time."""
        return self._collateral_moves("deposit", address, from_block, to_block)

    def withdrawals(
        self, address: str, from_block: int | None = None, to_block: int | str = "latest"
    ) -> list[CollateralMove]:
        """Withdrawals from ``address``'s margin account (``Withdraw``; ``amount_units`` < 0), oldest first."""
        return self._collateral_moves("withdrawal", address, from_block, to_block)

    def liquidations(
        self, address: str, from_block: int | None = None, to_block: int | str = "latest"
    ) -> list[LiquidationEvent]:
        """Liquidations of ``address`` (as the liquidated account), oldest first, with block times."""
        address = to_checksum_address(address)
        out = []
        for e in self._logs(self.clearinghouse.events.Liquidation, {"account": address}, from_block, to_block):
            a = e["args"]
            out.append(
                LiquidationEvent(
                    a["account"],
                    a["liquidator"],
                    int(a["market_id"]),
                    int(a["quantity"]),
                    int(a["price"]),
                    int(a["penalty"]),
                    int(a["reward"]),
                    int(e["blockNumber"]),
                    _hex(e["transactionHash"]),
                    int(e["logIndex"]),
                    self.block_time(e["blockNumber"]),
                )
            )
        return out

    def price_updates(self, from_block: int | None = None, to_block: int | str = "latest") -> list[PriceUpdate]:
        """Every value the Oracle stored (``PriceUpdated``) in the block range, oldest first."""
        return [
            PriceUpdate(
                _hex(e["args"]["feed_id"]).lower(),
                int(e["args"]["price"]),
                int(e["args"]["observed_at"]),
                int(e["blockNumber"]),
            )
            for e in self._logs(self.oracle.events.PriceUpdated, {}, from_block, to_block)
        ]

    def eth_balance(self, address: str) -> Decimal:
        """The wallet's native coin balance (ETH), which pays for gas."""
        return u.wei_to_eth(self.w3.eth.get_balance(to_checksum_address(address)))

    def order_hash(self, order: Order) -> str:
        """The order's EIP-712 digest on this deployment (what ``Exchange.order_hash`` returns)."""
        return order_digest(order, self.chain_id, self.exchange.address)

    def filled(self, order: Order) -> int:
        """Thousandths of ``order`` filled on-chain so far."""
        return int(self.exchange.functions.filled(self.order_hash(order)).call())

    def tx_status(self, tx_hash: str) -> TxStatus:
        """Whether a sent transaction is pending, succeeded or failed; a failure carries the
        revert decoded into a typed error (replayed at the block before it was mined)."""
        try:
            r, revert = tx_outcome(self.w3, tx_hash)
        except Exception:  # noqa: BLE001 - not a hash the node knows: not mined (yet)
            return TxStatus("pending")
        if r is None:
            return TxStatus("pending")
        if r.status == 1:
            return TxStatus("success", r.block_number)
        err: ComputeSpreadError = (
            decode_revert(revert) if revert is not None else TransactionFailed("the transaction reverted (out of gas?)")
        )
        return TxStatus("failed", r.block_number, err)

    # ------------------------------------------------------------ streams
    def stream_fills(
        self,
        address: str,
        from_block: int | None = None,
        poll_interval: float = 1.0,
        confirmations: int = 0,
        stop: threading.Event | None = None,
        max_backoff: float = 30.0,
    ) -> Iterator[Fill]:
        """Yield own fills forever (until ``stop`` is set), from ``from_block`` (default: the
        next block). Polls ``eth_getLogs`` from a block cursor; on any RPC failure it backs off
        (doubling to ``max_backoff``) and resumes from the cursor, so nothing is skipped or
        repeated. ``confirmations`` > 0 only reads blocks that deep (reorg safety)."""
        stop = stop or threading.Event()
        cursor = None if from_block is None else int(from_block)
        seen: set[tuple[str, int]] = set()
        backoff = poll_interval
        while not stop.is_set():
            try:
                head = self.block_number() - confirmations
                if cursor is None:
                    cursor = head + 1
                if head >= cursor:
                    for f in self.fills(address, cursor, head):
                        key = (f.tx_hash, f.log_index)
                        if key not in seen:
                            seen.add(key)
                            yield f
                    cursor = head + 1
                    if len(seen) > 10_000:
                        seen.clear()
                backoff = poll_interval
                stop.wait(poll_interval)
            except (Web3Exception, OSError, ValueError, ConnectionError) as e:
                log.warning("fill stream: %s; retrying from block %s in %.1fs", e, cursor, backoff)
                stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)
            except Exception as e:  # requests/httpx transport errors are not OSError subclasses everywhere
                if type(e).__module__.split(".")[0] not in ("requests", "urllib3", "httpx", "aiohttp"):
                    raise
                log.warning("fill stream: %s; retrying from block %s in %.1fs", e, cursor, backoff)
                stop.wait(backoff)
                backoff = min(max_backoff, backoff * 2)

    def wait_for_block(self, number: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.block_number() < number:
            if time.monotonic() > deadline:
                raise TimeoutError(f"block {number} not reached in {timeout} s")
            time.sleep(0.2)
