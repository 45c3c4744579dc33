"""Typed, immutable results and requests of the SDK.

Money is ``Decimal`` USD (or int base units in fields ending ``_units``), sizes ``Decimal``
units (MWh, GPU-hours) or int thousandths in ``_units`` fields. Conversions live in
:mod:`core.units`. Every model is a frozen dataclass: safe to share across threads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from core import eip712
from core import units as u

Side = Literal["buy", "sell"]


class MarketStatus(str, Enum):
    LIVE = "live"  # trading, fresh mark
    STALE = "stale"  # mark older than max_price_age (or disputed): no risk-increasing trades
    HALTED = "halted"  # guardian halt: only risk-reducing trades
    SETTLING = "settling"  # trading over (last trade time passed), awaiting settlement
    SETTLED = "settled"  # settlement price final; positions can be settled


UNIT_NAMES = {"POWER": "MWh", "COMPUTE": "GPU-hour", "SPREAD": "GPU-hour"}


def price_text(price: Decimal | None, tick_units: int = 0) -> str:
    """A price to the market's tick (``tick_units`` base units; 10_000 = 0.01 USD -> 2 decimals),
    at least cents: what a trader reads, never the 6-decimal chain value."""
    if price is None:
        return "none"
    places = 2
    if tick_units > 0:
        places = max(2, -u.base_to_usd(tick_units).normalize().as_tuple().exponent)
    return f"{Decimal(price).quantize(Decimal(1).scaleb(-places)):,}"


def usd_text(amount: Decimal | None, signed: bool = False, up: bool = False) -> str:
    """Money to the cent with the unit: ``1,234.57 USD`` (``+1,234.57 USD`` when ``signed``);
    ``up`` rounds a requirement up, so depositing the amount shown is enough."""
    from decimal import ROUND_CEILING, ROUND_HALF_EVEN

    if amount is None:
        return "none"
    q = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_CEILING if up else ROUND_HALF_EVEN)
    return f"{q:+,} USD" if signed else f"{q:,} USD"


def qty_text(quantity: Decimal) -> str:
    n = Decimal(quantity).normalize()
    return f"{n.quantize(Decimal(1)) if n == n.to_integral_value() else n:,}"


def time_text(ts: int | None) -> str:
    """A chain time in UTC and in this machine's zone: ``2026-11-11 18:00 UTC (12:00 CST local)``."""
    import datetime as dt

    if not ts:
        return "never"
    t = dt.datetime.fromtimestamp(int(ts), dt.UTC)
    text = t.strftime("%Y-%m-%d %H:%M UTC")
    local = t.astimezone()
    if local.utcoffset() != dt.timedelta(0):
        text += f" ({local.strftime('%H:%M %Z' if local.date() == t.date() else '%Y-%m-%d %H:%M %Z')} local)"
    return text


@dataclass(frozen=True)
class Mark:
    """A market's mark price as the Clearinghouse sees it."""

    market_id: int
    feed_id: str
    price_units: int  # base units per unit
    observed_at: int  # unix s; 0 = never reported
    fresh: bool

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)

    def age(self, now: int) -> int:
        return max(0, now - self.observed_at)


@dataclass(frozen=True)
class Market:
    """A listed market: manifest spec + on-chain parameters (+ state when read live)."""

    id: int
    symbol: str
    kind: str  # POWER | COMPUTE | SPREAD
    spec: dict[str, Any] = field(compare=False, hash=False)
    spec_hash: str
    mark_feed: str
    settlement_feed: str
    delivery_start: int
    delivery_end: int
    last_trade_time: int
    quantity_step: int  # thousandths
    min_quantity: int  # thousandths
    price_tick: int  # base units per unit
    im_fixed: int  # base units per unit
    im_rate_bps: int
    mm_fixed: int
    mm_rate_bps: int
    max_price_age: int  # s
    dispute_window: int  # s
    oi_cap: int  # thousandths
    status: MarketStatus | None = None  # None when read without chain state
    mark: Mark | None = None
    long_open_interest: int = 0  # thousandths
    settlement_price_units: int | None = None

    @property
    def unit(self) -> str:
        return UNIT_NAMES.get(self.kind, "unit")

    @property
    def tick(self) -> Decimal:
        """Price tick, USD per unit."""
        return u.base_to_usd(self.price_tick)

    @property
    def step(self) -> Decimal:
        """Quantity step, units."""
        return u.units_to_quantity(self.quantity_step)

    @property
    def min_size(self) -> Decimal:
        return u.units_to_quantity(self.min_quantity)

    @property
    def initial_margin(self) -> tuple[Decimal, Decimal]:
        """(fixed USD per unit, fraction of |mark|)."""
        return u.base_to_usd(self.im_fixed), u.bps_to_fraction(self.im_rate_bps)

    @property
    def maintenance_margin(self) -> tuple[Decimal, Decimal]:
        return u.base_to_usd(self.mm_fixed), u.bps_to_fraction(self.mm_rate_bps)

    @property
    def settlement_price(self) -> Decimal | None:
        return None if self.settlement_price_units is None else u.base_to_usd(self.settlement_price_units)

    @property
    def period(self) -> str:
        """The delivery-period label of the symbol (``2026-12``, ``2026-11-27T16``)."""
        return self.symbol.rsplit(".", 1)[-1]

    def margin_per_unit(self, mark_units: int, maintenance: bool = False) -> Decimal:
        fixed, rate = (self.mm_fixed, self.mm_rate_bps) if maintenance else (self.im_fixed, self.im_rate_bps)
        return u.base_to_usd(u.margin_units(u.QUANTITY_SCALE, fixed, rate, mark_units))


@dataclass(frozen=True)
class Position:
    market_id: int
    symbol: str
    quantity_units: int  # signed thousandths (long > 0)
    open_notional_units: int  # base units paid (>0) / received (<0)
    mark_units: int
    initial_margin_units: int
    maintenance_margin_units: int
    liquidation_price: Decimal | None  # USD per unit; None when no price liquidates it
    settled_market: bool = False
    price_tick: int = 0  # the market's tick, base units (for display; 0 = unknown, cents)
    unit: str = ""  # "MWh" / "GPU-hour" (for display)

    def __str__(self) -> str:
        """``short 720 GPU-hour SPREAD.…: entry 1.8613, mark 1.8650 USD/GPU-hour, unrealised PnL -2.66 USD,
        liquidation price 9.1234 USD/GPU-hour``: prices to the tick, money to the cent."""
        per = f"USD/{self.unit}" if self.unit else "USD per unit"
        liq = (
            f"liquidation price {price_text(self.liquidation_price, self.price_tick)} {per}"
            if self.liquidation_price is not None
            else "no liquidation price"
        )
        if self.settled_market:
            return f"{self.side} {qty_text(abs(self.quantity))} {self.unit} {self.symbol}: market settled, settle it"
        return (
            f"{self.side} {qty_text(abs(self.quantity))} {self.unit} {self.symbol}: entry "
            f"{price_text(self.entry_price, self.price_tick)}, mark {price_text(self.mark, self.price_tick)} {per}, "
            f"unrealised PnL {usd_text(self.unrealised_pnl, signed=True)}, margin {usd_text(self.initial_margin)} "
            f"initial / {usd_text(self.maintenance_margin)} maintenance, {liq}"
        ).replace("  ", " ")

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)

    @property
    def side(self) -> str:
        return "long" if self.quantity_units > 0 else "short" if self.quantity_units < 0 else "flat"

    @property
    def entry_price(self) -> Decimal | None:
        """Average entry, USD per unit (open notional / quantity)."""
        if self.quantity_units == 0:
            return None
        return (u.base_to_usd(self.open_notional_units) / self.quantity).quantize(Decimal("0.000001"))

    @property
    def mark(self) -> Decimal:
        return u.base_to_usd(self.mark_units)

    @property
    def notional(self) -> Decimal:
        """Value at the mark, USD (rounded down as the Clearinghouse values it)."""
        return u.base_to_usd(u.value_units(self.quantity_units, self.mark_units))

    @property
    def unrealised_pnl(self) -> Decimal:
        return u.base_to_usd(u.value_units(self.quantity_units, self.mark_units) - self.open_notional_units)

    @property
    def initial_margin(self) -> Decimal:
        return u.base_to_usd(self.initial_margin_units)

    @property
    def maintenance_margin(self) -> Decimal:
        return u.base_to_usd(self.maintenance_margin_units)


@dataclass(frozen=True)
class AccountState:
    address: str
    collateral_units: int
    equity_units: int
    initial_margin_units: int
    maintenance_margin_units: int
    fresh: bool  # every mark the account depends on is fresh
    positions: tuple[Position, ...]
    wallet_balance_units: int = 0  # collateral token in the wallet
    allowance_units: int = 0  # what the Clearinghouse may pull

    @property
    def collateral(self) -> Decimal:
        return u.base_to_usd(self.collateral_units)

    @property
    def equity(self) -> Decimal:
        return u.base_to_usd(self.equity_units)

    @property
    def initial_margin(self) -> Decimal:
        return u.base_to_usd(self.initial_margin_units)

    @property
    def maintenance_margin(self) -> Decimal:
        return u.base_to_usd(self.maintenance_margin_units)

    @property
    def unrealised_pnl(self) -> Decimal:
        return u.base_to_usd(self.equity_units - self.collateral_units)

    @property
    def free_collateral_units(self) -> int:
        """What can be withdrawn now: min(collateral, equity - IM), >= 0."""
        if not self.positions:
            return max(0, self.collateral_units)
        return max(0, min(self.collateral_units, self.equity_units - self.initial_margin_units))

    @property
    def free_collateral(self) -> Decimal:
        return u.base_to_usd(self.free_collateral_units)

    @property
    def margin_usage(self) -> Decimal | None:
        """Initial margin / equity (1 = fully used); None with equity <= 0 and no margin."""
        if self.equity_units <= 0:
            return None if self.initial_margin_units == 0 else Decimal("Infinity")
        return (Decimal(self.initial_margin_units) / Decimal(self.equity_units)).quantize(Decimal("0.0001"))

    @property
    def health_ratio(self) -> Decimal | None:
        """Equity / maintenance margin; < 1 means liquidatable; None without positions."""
        if self.maintenance_margin_units == 0:
            return None
        return (Decimal(self.equity_units) / Decimal(self.maintenance_margin_units)).quantize(Decimal("0.0001"))

    @property
    def wallet_balance(self) -> Decimal:
        return u.base_to_usd(self.wallet_balance_units)

    def position(self, market_id: int) -> Position | None:
        return next((p for p in self.positions if p.market_id == market_id), None)


@dataclass(frozen=True)
class Order(eip712.Order):
    """The wire order exactly as the Exchange and EIP-712 see it (chain integers: quantity in
    thousandths, price in base units per unit, expiry unix s); ``core.eip712.Order`` with the
    SDK's JSON form and human views."""

    def as_json(self) -> dict[str, Any]:
        """JSON-safe form (big ints as decimal strings, like the golden vectors)."""
        return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Order:
        return cls(
            trader=d["trader"],
            market_id=int(d["market_id"]),
            is_buy=bool(d["is_buy"]),
            quantity=int(d["quantity"]),
            price=int(d["price"]),
            nonce=int(d["nonce"]),
            expiry=int(d["expiry"]),
            reduce_only=bool(d["reduce_only"]),
        )

    @property
    def side(self) -> str:
        return "buy" if self.is_buy else "sell"

    @property
    def size(self) -> Decimal:
        return u.units_to_quantity(self.quantity)

    @property
    def limit(self) -> Decimal:
        return u.base_to_usd(self.price)


@dataclass(frozen=True)
class SignedOrder:
    order: Order
    signature: str  # 0x + 65 bytes
    hash: str  # 0x + EIP-712 digest (what Exchange.order_hash returns)

    def as_json(self) -> dict[str, Any]:
        return {"order": self.order.as_json(), "signature": self.signature, "hash": self.hash}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SignedOrder:
        return cls(Order.from_json(d["order"]), d["signature"], d["hash"])


@dataclass(frozen=True)
class OrderRequest:
    """What a user asks for, in human units (the SDK rounds it to tick and step)."""

    market_id: int
    side: Side
    quantity: Decimal  # units
    price: Decimal  # USD per unit
    expiry: int | None = None  # unix s; None = the SDK's default
    reduce_only: bool = False


@dataclass(frozen=True)
class Fill:
    order_hash: str
    market_id: int
    maker: str
    taker: str
    maker_is_buy: bool
    quantity_units: int
    price_units: int
    maker_fee_units: int
    taker_fee_units: int
    block_number: int
    tx_hash: str
    log_index: int

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)

    def side_of(self, account: str) -> str | None:
        """'buy'/'sell' for ``account`` in this fill, None if it is not a party."""
        a = account.lower()
        if a == self.maker.lower():
            return "buy" if self.maker_is_buy else "sell"
        if a == self.taker.lower():
            return "sell" if self.maker_is_buy else "buy"
        return None

    def fee_of(self, account: str) -> Decimal:
        a = account.lower()
        fee = (self.maker_fee_units if a == self.maker.lower() else 0) + (
            self.taker_fee_units if a == self.taker.lower() else 0
        )
        return u.base_to_usd(fee)


@dataclass(frozen=True)
class Settlement:
    account: str
    market_id: int
    quantity_units: int
    pnl_units: int
    block_number: int
    tx_hash: str
    settlement_price_units: int | None = None

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)

    @property
    def pnl(self) -> Decimal:
        return u.base_to_usd(self.pnl_units)

    @property
    def settlement_price(self) -> Decimal | None:
        return None if self.settlement_price_units is None else u.base_to_usd(self.settlement_price_units)


@dataclass(frozen=True)
class PnL:
    """Realised (closed trades + settlements, fees excluded), fees paid, and unrealised, USD."""

    realised: Decimal
    fees: Decimal
    unrealised: Decimal

    @property
    def total(self) -> Decimal:
        return self.realised - self.fees + self.unrealised


@dataclass(frozen=True)
class TxEstimate:
    """Gas and fee estimate before sending."""

    action: str
    gas: int
    gas_price_wei: int
    fee_units: int = 0  # protocol fee in collateral base units (trading fee)

    @property
    def gas_cost_eth(self) -> Decimal:
        return u.wei_to_eth(self.gas * self.gas_price_wei)

    @property
    def fee(self) -> Decimal:
        return u.base_to_usd(self.fee_units)


@dataclass(frozen=True)
class PlannedOrder:
    """One leg of a hedge: a limit order plus what it costs."""

    market: Market
    side: Side
    quantity_units: int
    price_units: int  # limit, on tick
    fee_units: int  # if filled as taker
    purpose: str

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)

    @property
    def notional(self) -> Decimal:
        return u.base_to_usd(abs(u.notional_units(self.quantity_units, self.price_units)))


@dataclass(frozen=True)
class LegDepth:
    """How much of one planned leg the relay's book can fill now, and what would rest.

    ``fillable_units``: other traders' crossing orders at no worse than the leg's limit (your own
    orders excluded); the rest rests as a limit order at the limit until ``expiry`` (the SDK's
    default order lifetime, 24 h), filled only if someone takes it."""

    market_id: int
    symbol: str
    unit: str
    side: Side
    quantity_units: int
    limit_units: int
    fillable_units: int
    expiry: int  # unix s a resting remainder would expire
    price_tick: int = 0

    @property
    def fillable(self) -> Decimal:
        return u.units_to_quantity(min(self.fillable_units, self.quantity_units))

    @property
    def resting(self) -> Decimal:
        return u.units_to_quantity(max(0, self.quantity_units - self.fillable_units))

    @property
    def thin(self) -> bool:
        return self.fillable_units < self.quantity_units

    def text(self) -> str:
        lim = f"{price_text(u.base_to_usd(self.limit_units), self.price_tick)} USD/{self.unit}"
        q = qty_text(u.units_to_quantity(self.quantity_units))
        if not self.thin:
            return f"{self.symbol}: the book covers all {q} {self.unit} at {lim} or better"
        where = "bids at or above" if self.side == "sell" else "asks at or below"
        return (
            f"{self.symbol}: the book holds only {qty_text(self.fillable)} {self.unit} of {where} {lim}: "
            f"{qty_text(self.fillable)} of {q} fill now, {qty_text(self.resting)} {self.unit} would rest as a "
            f"{self.side} order at {lim} until {time_text(self.expiry)}, filled only if someone takes it"
        )


@dataclass(frozen=True)
class LegResult:
    """What executing one planned leg did: filled now, resting (at what price, until when)."""

    market_id: int
    symbol: str
    unit: str
    side: Side
    planned_units: int
    filled_units: int
    resting_units: int
    resting_price_units: int | None
    expiry: int | None
    price_tick: int = 0
    order_hash: str | None = None

    @property
    def filled(self) -> Decimal:
        return u.units_to_quantity(self.filled_units)

    @property
    def resting(self) -> Decimal:
        return u.units_to_quantity(self.resting_units)

    @property
    def planned(self) -> Decimal:
        return u.units_to_quantity(self.planned_units)

    def text(self) -> str:
        """``filled 100 of 720 GPU-hour, 620 resting at 1.8612 USD/GPU-hour until …`` (the issue's wording)."""
        head = f"{self.symbol} {self.side}: filled {qty_text(self.filled)} of {qty_text(self.planned)} {self.unit}"
        if self.resting_units and self.resting_price_units is not None:
            return (
                f"{head}, {qty_text(self.resting)} resting at "
                f"{price_text(u.base_to_usd(self.resting_price_units), self.price_tick)} USD/{self.unit} "
                f"until {time_text(self.expiry)}"
            )
        left = self.planned_units - self.filled_units
        return head + (
            f", {qty_text(u.units_to_quantity(left))} not placed (below the minimum size)" if left > 0 else ""
        )


class Execution(list):
    """What :meth:`sdk.client.Client.execute` returns: the fills and resting orders (a list, as
    before) plus ``legs``, one :class:`LegResult` per planned leg, and :meth:`summary`."""

    def __init__(self, items=(), legs: tuple[LegResult, ...] = ()):
        super().__init__(items)
        self.legs = tuple(legs)

    @property
    def complete(self) -> bool:
        return all(leg.filled_units >= leg.planned_units for leg in self.legs)

    def summary(self) -> str:
        return "\n".join(leg.text() for leg in self.legs)


@dataclass(frozen=True)
class HedgePlan:
    """What a hedge helper will do, computed before anything is sent."""

    description: str
    orders: tuple[PlannedOrder, ...]
    margin_needed_units: int  # initial margin added by the orders at current marks
    fees_units: int  # taker fees if all legs fill as taker
    free_collateral_units: int  # of the account the plan was made for (0 without one)
    notes: tuple[str, ...] = ()
    depth: tuple[LegDepth, ...] = ()  # per leg, the relay's book at planning time (empty without a relay)

    @property
    def thin(self) -> bool:
        """True when the book cannot fill every leg now: part of the plan would rest."""
        return any(d.thin for d in self.depth)

    def warnings(self) -> list[str]:
        return [f"thin book: {d.text()}" for d in self.depth if d.thin]

    @property
    def margin_needed(self) -> Decimal:
        return u.base_to_usd(self.margin_needed_units)

    @property
    def fees(self) -> Decimal:
        return u.base_to_usd(self.fees_units)

    @property
    def shortfall(self) -> Decimal:
        """USD to deposit before executing (0 when the account can carry the plan)."""
        return u.base_to_usd(max(0, self.margin_needed_units + self.fees_units - self.free_collateral_units))

    def summary(self) -> str:
        lines = [self.description]
        for o in self.orders:
            lines.append(
                f"  {o.side:<4} {qty_text(o.quantity)} {o.market.unit} {o.market.symbol} @ "
                f"{price_text(o.price, o.market.price_tick)} USD/{o.market.unit} (notional "
                f"{usd_text(o.notional)}, fee <= {usd_text(u.base_to_usd(o.fee_units))}) - {o.purpose}"
            )
        lines.append(
            f"  margin needed {usd_text(self.margin_needed, up=True)}, fees {usd_text(self.fees, up=True)}, "
            f"shortfall {usd_text(self.shortfall, up=True)}"
        )
        lines += [f"  WARNING {w}" for w in self.warnings()]
        lines += [f"  book: {d.text()}" for d in self.depth if not d.thin]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------- account history and transactions


@dataclass(frozen=True)
class CollateralMove:
    """A deposit into (``amount_units`` > 0) or withdrawal from (< 0) a margin account
    (Clearinghouse ``Deposit`` / ``Withdraw``); ``timestamp`` is the block's, unix s."""

    kind: Literal["deposit", "withdrawal"]
    account: str
    amount_units: int  # signed, collateral base units
    block_number: int
    tx_hash: str
    log_index: int
    timestamp: int

    @property
    def amount(self) -> Decimal:
        return u.base_to_usd(self.amount_units)


@dataclass(frozen=True)
class LiquidationEvent:
    """Part of ``account``'s position taken over by ``liquidator`` (Clearinghouse ``Liquidation``)."""

    account: str
    liquidator: str
    market_id: int
    quantity_units: int  # signed thousandths moved from the account to the liquidator
    price_units: int  # base units per unit, may be negative
    penalty_units: int  # paid by the account, base units
    reward_units: int  # paid to the liquidator, base units
    block_number: int
    tx_hash: str
    log_index: int
    timestamp: int

    @property
    def quantity(self) -> Decimal:
        return u.units_to_quantity(self.quantity_units)

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)

    @property
    def penalty(self) -> Decimal:
        return u.base_to_usd(self.penalty_units)


@dataclass(frozen=True)
class PriceUpdate:
    """One value the Oracle stored (``PriceUpdated``): feed id, price and when it was observed."""

    feed_id: str  # 0x + 32 bytes, lower case
    price_units: int  # base units per unit, may be negative
    observed_at: int  # unix s
    block_number: int

    @property
    def price(self) -> Decimal:
        return u.base_to_usd(self.price_units)


@dataclass(frozen=True)
class UnsignedTx:
    """A transaction for an external wallet to sign and send (``eth_sendTransaction``)."""

    sender: str
    to: str
    data: str  # 0x + calldata
    description: str
    gas: int | None = None  # estimate incl. headroom; None: the wallet estimates (an earlier tx must land first)
    value: int = 0  # wei

    def as_rpc(self) -> dict[str, str]:
        """The ``eth_sendTransaction`` params: hex quantities."""
        tx = {"from": self.sender, "to": self.to, "data": self.data, "value": hex(self.value)}
        if self.gas is not None:
            tx["gas"] = hex(self.gas)
        return tx


@dataclass(frozen=True)
class TxStatus:
    """What became of a sent transaction: ``pending``, ``success`` or ``failed`` (with the
    decoded reason as a typed SDK error)."""

    status: Literal["pending", "success", "failed"]
    block_number: int | None = None
    error: Any = None  # a sdk.errors.ComputeSpreadError when failed
