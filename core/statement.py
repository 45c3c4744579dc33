"""The hedge statement a lender reads (issue 15): pure rules, no chain.

An operator who rents out GPU-hours and buys the power they burn earns the compute spread
``H x G - M x P`` (H GPU-hours at index G, M MWh at power price P). Its hedge is a short
COMPUTE future and a long POWER future, or a short SPREAD future (price ``G - r x P``, r MWh
per GPU-hour). A position of q at average entry e pays ``q x (final - e)`` at settlement, so a
site of the hedged size earns, whatever G and P turn out to be,

    locked = sum over the month's legs of -q x e  - fees paid on those legs' fills
           = -(sum of the legs' open notional) - fees

per GPU-hour ``locked / H`` and per MWh burnt ``locked / M``. That is the revenue floor a
lender finances; :func:`revenue_grid` shows it (and the unhedged site beside it) under index
and power moves.

Everything here works on chain integers (quantities in thousandths, prices and money in
collateral base units) and keeps a :class:`Source` (block, transaction) for every figure, so a
reader can check each number against the chain. The SDK (``sdk.statement``) reads the events
and states; the rendering (``apps.statement_pdf``) only draws what this module computed.

The ledger replay (:func:`replay`) is also what the dashboard's accounting CSV uses: one rule for
realised PnL, the Clearinghouse's own (``core.margin.apply_fill``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from core import margin
from core import units as u
from core.errors import InvalidMonthRange, LedgerMismatch, NoPositions

#: the index and power moves of the default grid, fractions of the reference price
DEFAULT_MOVES = tuple(Fraction(k, 10) for k in range(-5, 6))  # -50% .. +50% by 10%
MAX_MONTHS = 120  # a statement spans at most ten years of delivery months
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SETTLEMENT_ORDER = 1 << 30  # a settlement sorts after every trade of its block (it closes the position)


# ---------------------------------------------------------------- sources (footnotes)


@dataclass(frozen=True)
class Source:
    """Where a figure comes from on chain: an event in transaction ``tx_hash`` mined in ``block``,
    or (``tx_hash`` None) a state read at ``block``."""

    block: int
    tx_hash: str | None
    what: str

    def text(self) -> str:
        where = f"tx {self.tx_hash}" if self.tx_hash else "state read"
        return f"block {self.block}, {where}: {self.what}"


class Footnotes:
    """Numbers sources in the order figures first cite them; citing a source twice gives one number."""

    def __init__(self) -> None:
        self._index: dict[Source, int] = {}

    def cite(self, *sources: Source) -> str:
        """``[3]`` or ``[3,4]`` for the sources, numbering new ones."""
        nums = []
        for s in sources:
            if s not in self._index:
                self._index[s] = len(self._index) + 1
            nums.append(self._index[s])
        return "[" + ",".join(str(n) for n in sorted(set(nums))) + "]" if nums else ""

    def items(self) -> list[tuple[int, Source]]:
        return [(n, s) for s, n in self._index.items()]


# ---------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class LedgerEvent:
    """One event that moved the account's position in a market.

    ``delta``: signed thousandths the account's position moved (a settlement: minus the settled
    quantity); ``price``: base units per unit (a fill's price, a liquidation's price, the
    settlement price); ``fee``: base units the account paid (fee or liquidation penalty);
    ``pnl``: a settlement's realised PnL as its event says (None otherwise)."""

    kind: str  # fill | liquidation | settlement
    market_id: int
    delta: int
    price: int | None
    fee: int
    block: int
    log_index: int
    tx_hash: str
    pnl: int | None = None

    @property
    def source(self) -> Source:
        return Source(self.block, self.tx_hash, f"{self.kind} of market {self.market_id}")


@dataclass(frozen=True)
class LedgerRow:
    """A ledger event with the position before and after it and what it realised (base units)."""

    event: LedgerEvent
    quantity_before: int
    open_notional_before: int
    quantity_after: int
    open_notional_after: int
    realised: int
    cash: int  # realised - fee: the event's effect on collateral


def ordered(events: Iterable[LedgerEvent]) -> list[LedgerEvent]:
    """Events in chain order; a settlement after the trades of its block."""
    return sorted(
        events, key=lambda e: (e.block, _SETTLEMENT_ORDER if e.kind == "settlement" else e.log_index, e.log_index)
    )


def replay(events: Iterable[LedgerEvent]) -> list[LedgerRow]:
    """Replay the account's events through the Clearinghouse's fill rule (average cost, the closed
    share of the open notional rounded against the account). A settlement closes the position and
    realises what its event says."""
    book: dict[int, tuple[int, int]] = {}
    rows = []
    for e in ordered(events):
        q0, on0 = book.get(e.market_id, (0, 0))
        if e.kind == "settlement":
            realised = int(e.pnl or 0)
            q1, on1, cash = 0, 0, realised
        else:
            r = margin.apply_fill(0, q0, on0, e.delta, int(e.price or 0), e.fee)
            q1, on1, realised, cash = r.quantity, r.open_notional, r.realised, r.collateral
        book[e.market_id] = (q1, on1)
        rows.append(LedgerRow(e, q0, on0, q1, on1, realised, cash))
    return rows


# ---------------------------------------------------------------- months


def parse_months(text: str) -> tuple[str, str]:
    """``2027-01..2027-12`` (or one month ``2027-03``) -> (first, last) as ``YYYY-MM``."""
    parts = str(text).strip().split("..")
    if len(parts) not in (1, 2) or not all(parts):
        raise InvalidMonthRange(f"months must be YYYY-MM or YYYY-MM..YYYY-MM (e.g. 2027-01..2027-12), got {text!r}")
    months = []
    for p in parts:
        m = _MONTH.match(p.strip())
        if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1970:
            raise InvalidMonthRange(f"{p.strip()!r} is not a month: write YYYY-MM with a month 01..12 (e.g. 2027-01)")
        months.append(p.strip())
    first, last = months[0], months[-1]
    if first > last:
        raise InvalidMonthRange(f"the range {first}..{last} ends before it starts: put the earlier month first")
    if len(month_list(first, last)) > MAX_MONTHS:
        raise InvalidMonthRange(f"{first}..{last} spans more than {MAX_MONTHS} months; ask for a shorter range")
    return first, last


def month_list(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def delivery_month(delivery_start: int, tz: str) -> str:
    """The local month a delivery window starts in (the month a lender books it under)."""
    return dt.datetime.fromtimestamp(int(delivery_start), ZoneInfo(tz or "UTC")).strftime("%Y-%m")


# ---------------------------------------------------------------- legs and months


@dataclass(frozen=True)
class MarketInfo:
    """What the statement needs of a market (``sdk.models.Market`` gives it)."""

    id: int
    symbol: str
    kind: str  # POWER | COMPUTE | SPREAD
    delivery_start: int
    delivery_end: int
    tz: str
    unit: str
    price_tick: int
    mwh_per_gpu_hour: Fraction | None = None  # SPREAD only: the power leg's MWh per GPU-hour
    gpu: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class Holding:
    """The account's position in one market as the Clearinghouse holds it at the statement's block."""

    quantity: int
    open_notional: int
    mark: int | None
    source: Source


@dataclass(frozen=True)
class Leg:
    """One market of the account delivering in the statement's months.

    ``quantity`` is what the account holds (or held when the market settled), signed thousandths;
    ``entry`` the average entry price of the fills that built it (base units per unit, exact);
    ``locked`` = -quantity x entry - fees, base units (what the leg contributes to the floor)."""

    market: MarketInfo
    month: str
    quantity: int
    open_notional: int
    entry: Fraction | None
    fees: int
    fills: tuple[Source, ...]
    holding: Holding | None  # None once settled (the chain holds no position any more)
    settled: Source | None = None
    settlement_price: int | None = None
    settlement_pnl: int | None = None
    realised_by_trades: int = 0  # realised by reducing trades and liquidations (base units)

    @property
    def side(self) -> str:
        return "long" if self.quantity > 0 else "short"

    @property
    def locked(self) -> Fraction:
        return Fraction(-self.open_notional) - self.fees

    @property
    def gpu_hours(self) -> Fraction:
        """GPU-hours of revenue this leg sells forward (units; a long compute leg counts negative)."""
        if self.market.kind in ("COMPUTE", "SPREAD"):
            return Fraction(-self.quantity, u.QUANTITY_SCALE)
        return Fraction(0)

    @property
    def mwh(self) -> Fraction:
        """MWh of power this leg buys forward (a short SPREAD buys r MWh per GPU-hour sold)."""
        if self.market.kind == "POWER":
            return Fraction(self.quantity, u.QUANTITY_SCALE)
        if self.market.kind == "SPREAD":
            return Fraction(-self.quantity, u.QUANTITY_SCALE) * (self.market.mwh_per_gpu_hour or 0)
        return Fraction(0)

    def final(self, g: Fraction, p: Fraction) -> Fraction:
        """The leg's settlement price (base units per unit) at index ``g`` and power ``p``."""
        if self.market.kind == "COMPUTE":
            return g
        if self.market.kind == "POWER":
            return p
        return g - (self.market.mwh_per_gpu_hour or 0) * p

    def hedge_pnl(self, g: Fraction, p: Fraction) -> Fraction:
        """What the leg pays at settlement prices from ``g``, ``p``, net of its fees (base units)."""
        return Fraction(self.quantity, u.QUANTITY_SCALE) * self.final(g, p) - self.open_notional - self.fees


@dataclass(frozen=True)
class Month:
    """One delivery month's hedge: the legs, the hedged size and the locked-in spread."""

    month: str
    legs: tuple[Leg, ...]
    reference_index: int | None = None  # base units per GPU-hour the grid moves from
    reference_power: int | None = None  # base units per MWh
    reference_sources: tuple[Source, ...] = ()

    @property
    def gpu_hours(self) -> Fraction:
        return sum((leg.gpu_hours for leg in self.legs), Fraction(0))

    @property
    def mwh(self) -> Fraction:
        return sum((leg.mwh for leg in self.legs), Fraction(0))

    @property
    def locked(self) -> Fraction:
        """Base units the hedged site earns in the month whatever the prices (see the module doc)."""
        return sum((leg.locked for leg in self.legs), Fraction(0))

    @property
    def spread_per_gpu_hour(self) -> Fraction | None:
        """Locked-in spread, base units per GPU-hour; None unless both the revenue and the cost
        side are hedged (otherwise it is not a spread)."""
        return self.locked / self.gpu_hours if self.gpu_hours > 0 and self.mwh > 0 else None

    @property
    def spread_per_mwh(self) -> Fraction | None:
        """Locked-in spread per MWh burnt, base units per MWh (same condition)."""
        return self.locked / self.mwh if self.gpu_hours > 0 and self.mwh > 0 else None

    def site(self, g: Fraction, p: Fraction, scale: Fraction = Fraction(1)) -> Fraction:
        """The unhedged site's spread revenue at index ``g`` and power ``p`` (base units)."""
        return scale * (self.gpu_hours * g - self.mwh * p)

    def hedged(self, g: Fraction, p: Fraction, scale: Fraction = Fraction(1)) -> Fraction:
        return self.site(g, p, scale) + sum((leg.hedge_pnl(g, p) for leg in self.legs), Fraction(0))


def build_legs(
    markets: Mapping[int, MarketInfo],
    events: Iterable[LedgerEvent],
    holdings: Mapping[int, Holding],
    months: tuple[str, str],
) -> list[Leg]:
    """The legs delivering in ``months`` from the account's events and the chain's holdings.

    An open leg's size and open notional are the chain's (``holdings``); the fills must reproduce
    them (:class:`LedgerMismatch` otherwise). A settled leg's are the replayed position just before
    its settlement event. A market traded flat before delivery holds nothing and is left out."""
    first, last = months
    rows = replay(events)
    by_market: dict[int, list[LedgerRow]] = {}
    for r in rows:
        by_market.setdefault(r.event.market_id, []).append(r)
    legs = []
    for mid in sorted(set(by_market) | set(holdings)):
        m = markets[mid]
        month = delivery_month(m.delivery_start, m.tz)
        if not first <= month <= last:
            continue
        mrows = by_market.get(mid, [])
        h = holdings.get(mid)
        settle = next((r for r in reversed(mrows) if r.event.kind == "settlement"), None)
        if h is not None and h.quantity != 0:
            q, on = (mrows[-1].quantity_after, mrows[-1].open_notional_after) if mrows else (0, 0)
            if (q, on) != (h.quantity, h.open_notional):
                raise LedgerMismatch(
                    f"market {mid} ({m.symbol}): the account's fills give a position of {q} thousandths at open "
                    f"notional {on}, the Clearinghouse holds {h.quantity} at {h.open_notional} (block "
                    f"{h.source.block}); read the events from the deploy block"
                )
            q_leg, on_leg, upto = h.quantity, h.open_notional, len(mrows)
        elif settle is not None:
            q_leg, on_leg = settle.quantity_before, settle.open_notional_before
            upto = mrows.index(settle)
            if q_leg != -settle.event.delta:
                raise LedgerMismatch(
                    f"market {mid} ({m.symbol}): settled {-settle.event.delta} thousandths but the fills "
                    f"give {q_leg}; read the events from the deploy block"
                )
        else:
            continue
        if q_leg == 0:
            continue
        is_settled = settle is not None and (h is None or h.quantity == 0)
        # the fills that built the current position: from the last time it was flat
        start = 0
        for i in range(upto):
            if mrows[i].quantity_after == 0:
                start = i + 1
        built = [r for r in mrows[start:upto] if r.event.kind != "settlement"]
        fees = sum(r.event.fee for r in built if r.event.kind == "fill")
        realised = sum(r.realised for r in built)
        legs.append(
            Leg(
                market=m,
                month=month,
                quantity=q_leg,
                open_notional=on_leg,
                entry=Fraction(on_leg * u.QUANTITY_SCALE, q_leg),
                fees=fees,
                fills=tuple(r.event.source for r in built),
                holding=h if h is not None and h.quantity != 0 else None,
                settled=settle.event.source if is_settled else None,
                settlement_price=settle.event.price if is_settled else None,
                settlement_pnl=settle.event.pnl if is_settled else None,
                realised_by_trades=realised,
            )
        )
    return legs


def group_months(
    legs: Sequence[Leg],
    months: tuple[str, str],
    references: Mapping[str, tuple[int | None, int | None, tuple[Source, ...]]] | None = None,
) -> list[Month]:
    """Legs grouped by delivery month (only months with a leg), each with the reference index and
    power prices the grid moves from (``references[month] = (index, power, sources)``)."""
    if not legs:
        raise NoPositions(
            f"the account held no position delivering in {months[0]}..{months[1]}: nothing to state "
            f"(positions traded flat before delivery are not hedges)"
        )
    references = references or {}
    out = []
    for month in month_list(*months):
        ml = tuple(sorted((leg for leg in legs if leg.month == month), key=lambda leg: leg.market.id))
        if ml:
            g, p, src = references.get(month, (None, None, ()))
            out.append(Month(month, ml, g, p, tuple(src)))
    return out


def reference_from_legs(legs: Sequence[Leg]) -> tuple[int | None, int | None, tuple[Source, ...]]:
    """Reference prices from a month's own COMPUTE and POWER legs: the settlement price once
    settled, else the mark at the statement's block."""
    g = p = None
    src: list[Source] = []
    for leg in legs:
        price = leg.settlement_price if leg.settled is not None else (leg.holding.mark if leg.holding else None)
        where = leg.settled if leg.settled is not None else (leg.holding.source if leg.holding else None)
        if price is None or where is None:
            continue
        if leg.market.kind == "COMPUTE" and g is None:
            g = price
            src.append(where)
        elif leg.market.kind == "POWER" and p is None:
            p = price
            src.append(where)
    return g, p, tuple(src)


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Grid:
    """Revenue of a site of the hedged size (x ``scale``) over the months that have reference
    prices, in base units: ``hedged[i][j]`` / ``unhedged[i][j]`` at index move ``index_moves[i]`` and
    power move ``power_moves[j]`` (fractions: -0.5 = -50%). ``months`` lists the months included;
    ``left_out`` those without a reference index or power price."""

    index_moves: tuple[Fraction, ...]
    power_moves: tuple[Fraction, ...]
    hedged: tuple[tuple[int, ...], ...]
    unhedged: tuple[tuple[int, ...], ...]
    months: tuple[str, ...]
    left_out: tuple[str, ...]
    scale: Fraction = Fraction(1)

    @property
    def floor(self) -> int | None:
        """The lowest hedged revenue on the grid."""
        return min(min(r) for r in self.hedged) if self.hedged and self.months else None


def _round(x: Fraction) -> int:
    return u.div_half_even(x.numerator, x.denominator)


def revenue_grid(
    months: Sequence[Month],
    index_moves: Sequence[Fraction] = DEFAULT_MOVES,
    power_moves: Sequence[Fraction] = DEFAULT_MOVES,
    scale: Fraction = Fraction(1),
) -> Grid:
    """Hedged and unhedged revenue of the site under moves of every month's reference prices.

    A move scales the reference by (1 + move); a negative power price moves away from zero the
    same way (-50% of -20 USD/MWh is -10 USD/MWh)."""
    # a month needs the reference of each side it hedges (a power-only hedge needs no index)
    used = [
        m
        for m in months
        if (m.gpu_hours == 0 or m.reference_index is not None) and (m.mwh == 0 or m.reference_power is not None)
    ]
    left = tuple(m.month for m in months if m not in used)
    hedged, unhedged = [], []
    for gi in index_moves:
        hrow, urow = [], []
        for pj in power_moves:
            h = s = Fraction(0)
            for m in used:
                g = Fraction(m.reference_index or 0) * (1 + Fraction(gi))
                p = Fraction(m.reference_power or 0) * (1 + Fraction(pj))
                h += m.hedged(g, p, scale)
                s += m.site(g, p, scale)
            hrow.append(_round(h))
            urow.append(_round(s))
        hedged.append(tuple(hrow))
        unhedged.append(tuple(urow))
    return Grid(
        tuple(Fraction(x) for x in index_moves),
        tuple(Fraction(x) for x in power_moves),
        tuple(hedged),
        tuple(unhedged),
        tuple(m.month for m in used),
        left,
        scale,
    )


# ---------------------------------------------------------------- the statement


@dataclass(frozen=True)
class Margin:
    """The account's margin at the statement's block, base units."""

    collateral: int
    equity: int
    initial: int
    maintenance: int
    source: Source
    deposits: tuple[tuple[int, Source], ...] = ()  # (signed amount, event): deposits > 0, withdrawals < 0


@dataclass(frozen=True)
class Statement:
    """Everything the statement prints, with its sources."""

    account: str
    chain_id: int
    block: int
    block_hash: str
    block_time: int
    months_asked: tuple[str, str]
    months: tuple[Month, ...]
    margin: Margin
    grid: Grid
    contracts: dict[str, str] = field(default_factory=dict)

    @property
    def locked(self) -> Fraction:
        return sum((m.locked for m in self.months), Fraction(0))

    @property
    def gpu_hours(self) -> Fraction:
        return sum((m.gpu_hours for m in self.months), Fraction(0))

    @property
    def mwh(self) -> Fraction:
        return sum((m.mwh for m in self.months), Fraction(0))


# ---------------------------------------------------------------- figures as text (exact, then rounded once)


def usd(units: Fraction | int | None, places: int = 2) -> str:
    """Base units (exact) -> USD text rounded half-even to ``places``, thousands separated."""
    if units is None:
        return "—"
    f = Fraction(units)
    with localcontext(prec=60):
        d = (Decimal(f.numerator) / Decimal(f.denominator)).scaleb(-u.USDC_DECIMALS)
        return f"{d.quantize(Decimal(1).scaleb(-places)):,}"


def qty(units: Fraction | int) -> str:
    """Thousandths (exact) -> units text, trailing zeros dropped."""
    f = Fraction(units) / u.QUANTITY_SCALE
    with localcontext(prec=60):
        d = (Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal("0.000001")).normalize()
        return f"{d:,f}"


def units_qty(x: Fraction) -> str:
    """A size already in units (GPU-hours, MWh) as text."""
    return qty(x * u.QUANTITY_SCALE)


def percent(move: Fraction) -> str:
    return f"{'+' if move > 0 else ''}{float(move) * 100:.0f}%"


def as_json(st: Statement) -> dict[str, Any]:
    """The statement's figures as strings (USD to the cent, prices to 4 dp) with their sources."""
    months = []
    for m in st.months:
        legs = []
        for leg in m.legs:
            legs.append(
                {
                    "market_id": leg.market.id,
                    "symbol": leg.market.symbol,
                    "kind": leg.market.kind,
                    "side": leg.side,
                    "quantity": qty(abs(leg.quantity)),
                    "unit": leg.market.unit,
                    "entry_usd": usd(leg.entry, 4),
                    "fees_usd": usd(leg.fees),
                    "status": "settled" if leg.settled else "open",
                    "settlement_price_usd": usd(leg.settlement_price, 4) if leg.settled else None,
                    "settlement_pnl_usd": usd(leg.settlement_pnl) if leg.settled else None,
                    "fills": [{"block": s.block, "tx_hash": s.tx_hash} for s in leg.fills],
                    "settlement": {"block": leg.settled.block, "tx_hash": leg.settled.tx_hash} if leg.settled else None,
                    "position_read_at_block": leg.holding.source.block if leg.holding else None,
                }
            )
        months.append(
            {
                "month": m.month,
                "gpu_hours": units_qty(m.gpu_hours),
                "mwh": units_qty(m.mwh),
                "locked_usd": usd(m.locked),
                "spread_per_gpu_hour_usd": usd(m.spread_per_gpu_hour, 4) if m.spread_per_gpu_hour is not None else None,
                "spread_per_mwh_usd": usd(m.spread_per_mwh, 2) if m.spread_per_mwh is not None else None,
                "legs": legs,
            }
        )
    g = st.grid
    return {
        "account": st.account,
        "chain_id": st.chain_id,
        "block": st.block,
        "block_hash": st.block_hash,
        "block_time": st.block_time,
        "months": months,
        "margin": {
            "collateral_usd": usd(st.margin.collateral),
            "equity_usd": usd(st.margin.equity),
            "initial_margin_usd": usd(st.margin.initial),
            "maintenance_margin_usd": usd(st.margin.maintenance),
            "block": st.margin.source.block,
        },
        "locked_usd": usd(st.locked),
        "grid": {
            "index_moves": [percent(x) for x in g.index_moves],
            "power_moves": [percent(x) for x in g.power_moves],
            "hedged_usd": [[usd(c) for c in row] for row in g.hedged],
            "unhedged_usd": [[usd(c) for c in row] for row in g.unhedged],
            "floor_usd": usd(g.floor),
            "months": list(g.months),
            "left_out": list(g.left_out),
        },
    }
