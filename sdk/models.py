"""Typed, immutable results and requests of the SDK.

Money is ``Decimal`` USD (or int base units in fields ending ``_units``), sizes ``Decimal``
units (MWh, GPU-hours) or int thousandths in ``_units`` fields. Conversions live in
:mod:`sdk.units`. Every model is a frozen dataclass: safe to share across threads.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sdk import units as u

Side = Literal["buy", "sell"]


class MarketStatus(str, Enum):
    LIVE = "live"  # trading, fresh mark
    STALE = "stale"  # mark older than max_price_age (or disputed): no risk-increasing trades
    HALTED = "halted"  # guardian halt: only risk-reducing trades
    SETTLING = "settling"  # trading over (last trade time passed), awaiting settlement
    SETTLED = "settled"  # settlement price final; positions can be settled


UNIT_NAMES = {"POWER": "MWh", "COMPUTE": "GPU-hour", "SPREAD": "GPU-hour"}


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
class Order:
    """The wire order exactly as the Exchange and EIP-712 see it (chain integers)."""

    trader: str
    market_id: int
    is_buy: bool
    quantity: int  # thousandths
    price: int  # base units per unit
    nonce: int
    expiry: int  # unix s
    reduce_only: bool = False

    def as_tuple(self) -> tuple:
        return (self.trader, self.market_id, self.is_buy, self.quantity, self.price, self.nonce, self.expiry,
                self.reduce_only)

    def as_message(self) -> dict[str, Any]:
        return asdict(self)

    def as_json(self) -> dict[str, Any]:
        """JSON-safe form (big ints as decimal strings, like the golden vectors)."""
        return {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Order":
        return cls(trader=d["trader"], market_id=int(d["market_id"]), is_buy=bool(d["is_buy"]),
                   quantity=int(d["quantity"]), price=int(d["price"]), nonce=int(d["nonce"]),
                   expiry=int(d["expiry"]), reduce_only=bool(d["reduce_only"]))

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
    def from_json(cls, d: dict[str, Any]) -> "SignedOrder":
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
            self.taker_fee_units if a == self.taker.lower() else 0)
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
        return Decimal(self.gas * self.gas_price_wei).scaleb(-18)

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
class HedgePlan:
    """What a hedge helper will do, computed before anything is sent."""

    description: str
    orders: tuple[PlannedOrder, ...]
    margin_needed_units: int  # initial margin added by the orders at current marks
    fees_units: int  # taker fees if all legs fill as taker
    free_collateral_units: int  # of the account the plan was made for (0 without one)
    notes: tuple[str, ...] = ()

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
            lines.append(f"  {o.side:<4} {o.quantity} {o.market.unit} {o.market.symbol} @ {o.price} USD "
                         f"(notional {o.notional} USD, fee <= {u.base_to_usd(o.fee_units)} USD) - {o.purpose}")
        lines.append(f"  margin needed {self.margin_needed} USD, fees {self.fees} USD, "
                     f"shortfall {self.shortfall} USD")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
