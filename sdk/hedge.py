"""Hedge helpers for the people the venue is for: plans first, execution on request.

    plan = client.hedge_compute_spread("H100-SXM", "HB_WEST", Decimal("720"), "2026-12")
    print(plan.summary())          # orders, limit prices, margin needed, fees, shortfall
    client.execute(plan)           # only now is anything signed or sent

An operator who rents out GPU-hours and buys the power they burn is long the compute spread
(GPU-hour revenue - MWh/GPU-hour x power price). Hedging it means SELLING the spread: one leg
on a SPREAD market when one is listed for that gpu/node/window, otherwise two legs: sell the
COMPUTE future and buy the POWER future at the node for gpu_hours x mwh_per_gpu_hour MWh.

Windows are given as the symbol's period label (``"2026-12"``, ``"2026-11-27"``,
``"2026-11-27T16"``) or as ``(delivery_start, delivery_end)`` unix seconds.
Limit prices default to the mark -/+ ``slippage`` x |mark| (a sell's limit below the mark, a
buy's above), rounded to the tick against the user. Quantities round down to the step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from core import units as u
from core.calendar import profile_hours
from sdk.errors import InvalidOrder, UnknownMarket
from sdk.margin import Holding, apply_fill, liquidation_price, summarise
from sdk.models import HedgePlan, LegDepth, Market, PlannedOrder, qty_text

if TYPE_CHECKING:
    from sdk.reader import Reader

#: rough wall-plug MWh per GPU-hour incl. host share and PUE; pass your own measured figure
DEFAULT_MWH_PER_GPU_HOUR = {
    "H100-SXM": Decimal("0.0012"),  # 700 W TDP + host + PUE ~1.2 (the DESIGN example)
    "B200": Decimal("0.0017"),  # 1,000 W TDP + host + PUE
}
DEFAULT_SLIPPAGE = Decimal("0.02")

Window = str | tuple[int, int]


def _matches(m: Market, window: Window) -> bool:
    if isinstance(window, str):
        return m.period == window
    start, end = window
    return (m.delivery_start, m.delivery_end) == (int(start), int(end))


def _pick(reader: Reader, kind: str, window: Window, **fields) -> Market | None:
    found = [m for m in reader.find_markets(kind, **fields) if _matches(m, window)]
    return found[0] if found else None


def _available(reader: Reader, kind: str, **fields) -> str:
    syms = [m.symbol for m in reader.find_markets(kind, **fields)]
    return ", ".join(syms) if syms else "none"


def _limit(reader: Reader, m: Market, side: str, slippage: Decimal, limits: Mapping) -> int:
    given = limits.get(m.id, limits.get(m.symbol))
    if given is not None:
        return u.price_to_units(m, given, side)
    mark = reader.mark(m.id)
    if mark.observed_at == 0:
        raise reader.stale_error(m, f"price a {side} of {m.symbol}")
    shift = abs(mark.price) * u.to_decimal(slippage, "slippage")
    return u.price_to_units(m, mark.price + shift if side == "buy" else mark.price - shift, side)


def _holdings(reader: Reader, account: str | None) -> tuple[int, dict[int, Holding]]:
    """An account's collateral (base units) and positions as the margin model holds them; an
    empty account for None (a plan held alone)."""
    if account is None:
        return 0, {}
    acct = reader.account(account)
    holdings = {
        p.market_id: Holding(
            reader._static_market(p.market_id), p.quantity_units, p.open_notional_units, p.mark_units, p.settled_market
        )
        for p in acct.positions
    }
    return acct.collateral_units, holdings


def _plan(
    reader: Reader,
    description: str,
    legs: list[tuple[Market, str, int, str]],
    account: str | None,
    slippage: Decimal,
    limits: Mapping,
    notes: list[str],
) -> HedgePlan:
    _, taker_bps = reader.fees_bps()
    collateral, holdings = _holdings(reader, account)
    before = summarise(collateral, holdings)
    orders, fees = [], 0
    for m, side, q, purpose in legs:
        price = _limit(reader, m, side, slippage, limits)
        fee = u.fee_units(q, price, taker_bps)
        mark = reader.mark(m.id).price_units
        h = holdings.get(m.id) or Holding(m, 0, 0, mark)
        collateral, holdings[m.id] = apply_fill(collateral, h, q if side == "buy" else -q, price, fee)
        orders.append(PlannedOrder(m, side, q, price, fee, purpose))
        fees += fee
    after = summarise(collateral, holdings)
    # initial margin added, plus any immediate mark-to-market loss of trading at the limits
    needed = (after.initial - before.initial) + max(0, before.equity - after.equity - fees)
    free = max(0, before.equity - before.initial) if account is not None else 0
    depth = book_depth(reader, orders, account)
    return HedgePlan(description, tuple(orders), max(0, needed), fees, free, tuple(notes), depth)


def plan_liquidation_prices(
    reader: Reader, plan: HedgePlan, *, account: str | None = None, collateral: u.Number | None = None
) -> dict[int, Decimal | None]:
    """Pre-trade liquidation price (USD per unit) of each planned leg's market once every leg has
    filled at its limit, other marks unchanged.

    With ``account`` the account as it is (its collateral and positions) takes the plan: the
    exact price at which it would become liquidatable. With ``collateral`` (USD) the plan is held
    alone in an account funded with exactly that: what a leverage choice means. None = no price
    liquidates it."""
    coll, holdings = _holdings(reader, account)
    if collateral is not None:
        coll = u.usd_to_base(collateral)
    for o in plan.orders:
        h = holdings.get(o.market.id) or Holding(o.market, 0, 0, reader.mark(o.market.id).price_units)
        coll, holdings[o.market.id] = apply_fill(
            coll, h, o.quantity_units if o.side == "buy" else -o.quantity_units, o.price_units, o.fee_units
        )
    summary = summarise(coll, holdings)
    return {o.market.id: liquidation_price(summary, holdings[o.market.id]) for o in plan.orders}


#: leverage choices offered before a hedge (notional / collateral); "max" = initial margin + fees
LEVERAGES = (Decimal(1), Decimal("1.5"), Decimal(2), Decimal(3), Decimal(5))


def leverage_choices(reader: Reader, plan: HedgePlan) -> list[dict]:
    """For each leverage (plan notional / collateral) the venue accepts, the collateral it takes
    and each leg's pre-trade liquidation price in an account holding only this hedge."""
    notional = sum((o.notional for o in plan.orders), Decimal(0))
    floor = u.base_to_usd(plan.margin_needed_units + plan.fees_units)  # the least collateral accepted
    out = []
    for lev in LEVERAGES:
        need = (notional / lev).quantize(Decimal("0.01"))
        if need < floor:
            continue
        out.append(
            {
                "label": f"{lev.normalize()}x",
                "leverage": lev,
                "collateral": need,
                "liquidation": plan_liquidation_prices(reader, plan, collateral=need),
            }
        )
    if floor > 0:
        lev = (notional / floor).quantize(Decimal("0.01")) if floor else None
        out.append(
            {
                "label": f"max ({lev}x: initial margin + fees)",
                "leverage": lev,
                "collateral": floor,
                "liquidation": plan_liquidation_prices(reader, plan, collateral=floor),
            }
        )
    return out


#: what a resting remainder lives unless told otherwise (sdk.client.DEFAULT_EXPIRY)
RESTING_TTL = 24 * 3600


def fillable_units(levels, own, limit_units: int, side: str) -> int:
    """Thousandths of other traders' crossing size at no worse than ``limit_units``.

    ``levels``: the opposite side's ``(price_units, quantity_units)``; ``own``: the account's own
    orders on that side ``(price_units, quantity_units)``, taken out (one never fills oneself)."""

    def crosses(price: int) -> bool:
        return price >= limit_units if side == "sell" else price <= limit_units

    total = sum(q for p, q in levels if crosses(p))
    mine = sum(q for p, q in own if crosses(p))
    return max(0, total - mine)


def book_depth(
    reader: Reader, orders, account: str | None, books: Mapping[int, tuple[list, list]] | None = None
) -> tuple[LegDepth, ...]:
    """Per planned leg, how much the relay's book fills now and what would rest (empty without a
    relay). ``books`` (market id -> (bid levels, ask levels) as (price_units, quantity_units)) is for
    callers that read the book themselves, such as the web dashboard."""
    relay = getattr(reader, "relay", None)
    if relay is None and books is None:
        return ()
    expiry = reader.now() + int(getattr(reader, "default_expiry", RESTING_TTL))
    out = []
    for o in orders:
        m = o.market
        opposite, own = [], []
        if books is not None:
            bids, asks = books.get(m.id, ([], []))
            opposite = list(bids if o.side == "sell" else asks)
        else:
            try:
                book = relay.book(m.id)
            except Exception:  # noqa: BLE001 - an unreachable relay must not block planning; said in the note
                return ()
            levels = book.bids if o.side == "sell" else book.asks
            opposite = [(lv.price_units, lv.quantity_units) for lv in levels]
            if account:
                own = [
                    (s.order.price, s.order.quantity)
                    for s in book.orders
                    if s.order.trader.lower() == account.lower() and s.order.is_buy == (o.side == "sell")
                ]
        out.append(
            LegDepth(
                m.id,
                m.symbol,
                m.unit,
                o.side,
                o.quantity_units,
                o.price_units,
                fillable_units(opposite, own, o.price_units, o.side),
                expiry,
                m.price_tick,
            )
        )
    return tuple(out)


def hedge_compute_spread(
    reader: Reader,
    gpu: str,
    node: str,
    gpu_hours: u.Number,
    window: Window,
    *,
    mwh_per_gpu_hour: u.Number | None = None,
    account: str | None = None,
    prefer_spread: bool = True,
    power_profile: str = "ATC",
    slippage: u.Number = DEFAULT_SLIPPAGE,
    limits: Mapping | None = None,
) -> HedgePlan:
    """Plan the hedge of an operator selling ``gpu_hours`` of ``gpu`` compute and buying the
    power they burn at ``node`` over ``window``.

    ``mwh_per_gpu_hour`` defaults to the SPREAD market's own ratio when one is used, else to
    :data:`DEFAULT_MWH_PER_GPU_HOUR` for the GPU. When your ratio differs from the SPREAD
    market's, the difference is hedged with a POWER leg when one is listed (else noted).
    """
    limits = dict(limits or {})
    slippage = u.to_decimal(slippage, "slippage")
    hours = u.to_decimal(gpu_hours, "gpu_hours")
    if hours <= 0:
        raise InvalidOrder(f"gpu_hours must be positive, got {hours}")
    ratio = None if mwh_per_gpu_hour is None else u.to_decimal(mwh_per_gpu_hour, "mwh_per_gpu_hour")
    legs, notes, desc = _spread_legs(reader, gpu, node, hours, window, ratio, prefer_spread, power_profile)
    return _plan(reader, desc, legs, account, slippage, limits, notes)


def _spread_legs(
    reader: Reader,
    gpu: str,
    node: str,
    hours: Decimal,
    window: Window,
    ratio: Decimal | None,
    prefer_spread: bool,
    power_profile: str,
) -> tuple[list[tuple[Market, str, int, str]], list[str], str]:
    """The legs (market, side, quantity units, purpose), notes and description of one window's
    compute-spread hedge (see :func:`hedge_compute_spread`)."""
    notes: list[str] = []
    spread = _pick(reader, "SPREAD", window, gpu=gpu, node=node) if prefer_spread else None
    if spread is not None:
        spec_ratio = Decimal(spread.spec["mwh_per_gpu_hour"])
        q = u.quantity_to_step(spread, hours)  # the words say what is sold: the size rounded to the step
        legs = [
            (
                spread,
                "sell",
                q,
                f"sell {qty_text(u.units_to_quantity(q))} GPU-hours of spread (GPU index - {spec_ratio} MWh x power)",
            )
        ]
        if ratio is not None and ratio != spec_ratio:
            extra = (ratio - spec_ratio) * hours  # MWh not covered by the spread's ratio
            power = _pick(reader, "POWER", window, node=node, profile=spread.spec["power"]["profile"])
            if power is not None and abs(extra) * u.QUANTITY_SCALE >= power.min_quantity:
                legs.append(
                    (
                        power,
                        "buy" if extra > 0 else "sell",
                        u.quantity_to_step(power, abs(extra)),
                        f"{'buy' if extra > 0 else 'sell'} the {abs(extra)} MWh your ratio {ratio} differs from "
                        f"the spread's {spec_ratio}",
                    )
                )
            else:
                notes.append(
                    f"your {ratio} MWh/GPU-hour differs from the spread's {spec_ratio}: "
                    f"{extra} MWh of power stays unhedged (no matching POWER market or below its minimum)"
                )
        desc = f"Hedge {qty_text(hours)} {gpu} GPU-hours at {node}, {window}: sell the compute spread {spread.symbol}"
        return legs, notes, desc

    compute = _pick(reader, "COMPUTE", window, gpu=gpu)
    power = _pick(reader, "POWER", window, node=node, profile=power_profile)
    if compute is None or power is None:
        raise UnknownMarket(
            f"no SPREAD market for {gpu}/{node}/{window}, and no {'COMPUTE ' + gpu if compute is None else ''}"
            f"{' and no ' if compute is None and power is None else ''}"
            f"{'POWER ' + node + ' ' + power_profile if power is None else ''} market for {window}. Listed: "
            f"SPREAD: {_available(reader, 'SPREAD', gpu=gpu)}; COMPUTE: {_available(reader, 'COMPUTE', gpu=gpu)}; "
            f"POWER: {_available(reader, 'POWER', node=node)}"
        )
    if ratio is None:
        if gpu not in DEFAULT_MWH_PER_GPU_HOUR:
            raise InvalidOrder(f"pass mwh_per_gpu_hour= for {gpu} (MWh drawn per GPU-hour incl. host and PUE)")
        ratio = DEFAULT_MWH_PER_GPU_HOUR[gpu]
        notes.append(f"assumed {ratio} MWh per {gpu} GPU-hour; pass your measured mwh_per_gpu_hour")
    mwh = ratio * hours
    if (compute.delivery_start, compute.delivery_end) != (power.delivery_start, power.delivery_end):
        notes.append(
            f"the legs' windows differ ({compute.symbol} vs {power.symbol}: time zones); "
            f"the edges of the window are not perfectly hedged"
        )
    legs = [
        (
            compute,
            "sell",
            u.quantity_to_step(compute, hours),
            f"sell {qty_text(u.units_to_quantity(u.quantity_to_step(compute, hours)))} GPU-hours (revenue)",
        ),
        (power, "buy", u.quantity_to_step(power, mwh), f"buy {qty_text(mwh)} MWh = {qty_text(hours)} x {ratio} (cost)"),
    ]
    desc = f"Hedge {qty_text(hours)} {gpu} GPU-hours at {node}, {window}: sell compute, buy power"
    return legs, notes, desc


def order_plan(
    reader: Reader, market: Market, side: str, quantity: u.Number, price: u.Number, *, account: str | None = None
) -> HedgePlan:
    """A single limit order as a plan (margin it adds, taker fee if it fills at ``price``), so an
    order ticket gets the same pre-trade liquidation prices per leverage as a hedge
    (:func:`plan_liquidation_prices`, :func:`leverage_choices`: core.margin's rule, never a copy).
    Quantity rounds down to the step and the price to the tick against the trader, as the order would."""
    if side not in ("buy", "sell"):
        raise InvalidOrder(f"side is buy or sell, got {side!r}")
    q = u.quantity_to_step(market, u.to_decimal(quantity, "quantity"))
    if q < market.min_quantity:
        raise InvalidOrder(
            f"{qty_text(u.units_to_quantity(q))} {market.unit} is below {market.symbol}'s minimum "
            f"{qty_text(market.min_size)} {market.unit}"
        )
    legs = [(market, side, q, f"{side} {qty_text(u.units_to_quantity(q))} {market.unit} at your limit")]
    return _plan(reader, f"{side} {market.symbol}", legs, account, Decimal(0), {market.id: price}, [])


# ---------------------------------------------------------------- strips: several months in one plan

_MONTH_LABEL = re.compile(r"\d{4}-\d{2}")


def strip_months(reader: Reader, months: int, candidates, *, start: str | None = None) -> tuple[list[str], list[str]]:
    """The first ``months`` monthly period labels (``2026-12``) at or after ``start`` that any of
    ``candidates`` (``(kind, spec fields)`` pairs) lists and that still trade at the chain's
    clock, in delivery order; and a note when fewer are listed than asked for."""
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 36:
        raise InvalidOrder(f"months must be a whole number from 1 to 36, got {months!r}")
    if start is not None and not _MONTH_LABEL.fullmatch(start):
        raise InvalidOrder(f"start {start!r}: a month as in the symbols, e.g. 2026-12")
    now = reader.now()
    found: set[str] = set()
    for kind, fields in candidates:
        for m in reader.find_markets(kind, **fields):
            if _MONTH_LABEL.fullmatch(m.period) and m.last_trade_time > now and (start is None or m.period >= start):
                found.add(m.period)
    got = sorted(found)[:months]
    if not got:
        raise UnknownMarket(
            "no monthly window of that series still trades"
            + (f" from {start}" if start else "")
            + "; list them with markets()"
        )
    notes = []
    if len(got) < months:
        notes.append(
            f"only {len(got)} of the {months} months asked for are listed ({got[0]} to {got[-1]}): this plan "
            f"hedges those; hedge the rest once they are listed"
        )
    return got, notes


def hedge_compute_spread_strip(
    reader: Reader,
    gpu: str,
    node: str,
    gpu_hours_per_month: u.Number | None,
    months: int,
    *,
    gpus: u.Number | None = None,
    start: str | None = None,
    mwh_per_gpu_hour: u.Number | None = None,
    account: str | None = None,
    prefer_spread: bool = True,
    power_profile: str = "ATC",
    slippage: u.Number = DEFAULT_SLIPPAGE,
    limits: Mapping | None = None,
) -> HedgePlan:
    """One plan hedging ``gpu_hours_per_month`` of ``gpu`` at ``node`` in each of the next
    ``months`` listed monthly windows (from ``start``, a ``2026-12`` label, else the first still
    trading): each month's legs as :func:`hedge_compute_spread` would plan them, with the margin
    and fees of the whole strip held together (offsetting months net in the margin rule).

    ``gpus`` instead of ``gpu_hours_per_month`` (pass None): a fleet of that many GPUs (times
    utilisation, fractional allowed) busy every hour, so each month hedges its own hours
    (744 in December, 672 in February)."""
    if (gpu_hours_per_month is None) == (gpus is None):
        raise InvalidOrder("give either gpu_hours_per_month or gpus=, not both")
    fleet = None if gpus is None else u.to_decimal(gpus, "gpus")
    hours = fleet if fleet is not None else u.to_decimal(gpu_hours_per_month, "gpu_hours_per_month")
    if hours <= 0:
        raise InvalidOrder(f"{'gpus' if fleet is not None else 'gpu_hours_per_month'} must be positive, got {hours}")
    ratio = None if mwh_per_gpu_hour is None else u.to_decimal(mwh_per_gpu_hour, "mwh_per_gpu_hour")
    candidates = [("COMPUTE", {"gpu": gpu})] + ([("SPREAD", {"gpu": gpu, "node": node})] if prefer_spread else [])
    windows, notes = strip_months(reader, months, candidates, start=start)
    legs: list = []
    said: dict[str, list[str]] = {}  # note -> the months it applies to (a note common to all is said once)
    for w in windows:
        if fleet is not None:
            win = (_pick(reader, "SPREAD", w, gpu=gpu, node=node) if prefer_spread else None) or _pick(
                reader, "COMPUTE", w, gpu=gpu
            )
            hours = fleet * (win.delivery_end - win.delivery_start) / 3600
        more, n, _ = _spread_legs(reader, gpu, node, hours, w, ratio, prefer_spread, power_profile)
        legs += more
        for x in n:
            said.setdefault(x, []).append(w)
    notes += [x if len(ws) == len(windows) else f"{', '.join(ws)}: {x}" for x, ws in said.items()]
    per = f"{qty_text(fleet)} {gpu} GPUs' hours" if fleet is not None else f"{qty_text(hours)} {gpu} GPU-hours a month"
    desc = f"Hedge {per} at {node} for {len(windows)} months ({windows[0]} to {windows[-1]})"
    return _plan(reader, desc, legs, account, u.to_decimal(slippage, "slippage"), dict(limits or {}), notes)


def hedge_power_strip(
    reader: Reader,
    node: str,
    mw: u.Number,
    profile: str,
    months: int,
    *,
    start: str | None = None,
    side: str = "buy",
    account: str | None = None,
    slippage: u.Number = DEFAULT_SLIPPAGE,
    limits: Mapping | None = None,
) -> HedgePlan:
    """One plan buying (or ``side="sell"``) ``mw`` MW flat over the ``profile`` hours of each of
    the next ``months`` listed monthly windows at ``node`` (MWh per month from its own hours)."""
    mw_d = u.to_decimal(mw, "mw")
    if mw_d <= 0:
        raise InvalidOrder(f"mw must be positive, got {mw_d}")
    windows, notes = strip_months(reader, months, [("POWER", {"node": node, "profile": profile})], start=start)
    legs = []
    for w in windows:
        m = _pick(reader, "POWER", w, node=node, profile=profile)
        mwh = power_mwh(m, mw_d)
        legs.append(
            (m, side, u.quantity_to_step(m, mwh), f"{side} {mw_d} MW x {mwh / mw_d} {profile} hours = {mwh} MWh")
        )
    desc = f"Hedge {mw_d} MW {profile} at {node} for {len(windows)} months ({windows[0]} to {windows[-1]}): {side}"
    return _plan(reader, desc, legs, account, u.to_decimal(slippage, "slippage"), dict(limits or {}), notes)


def power_mwh(market: Market, mw: u.Number) -> Decimal:
    """MWh of a flat ``mw`` load over the market's delivery hours of its profile (DST-exact)."""
    spec = market.spec
    hours = profile_hours(market.delivery_start, market.delivery_end, spec["profile"], spec["tz"]).size
    return u.to_decimal(mw, "mw") * hours


def hedge_power(
    reader: Reader,
    node: str,
    mw: u.Number,
    profile: str,
    window: Window,
    *,
    side: str = "buy",
    account: str | None = None,
    slippage: u.Number = DEFAULT_SLIPPAGE,
    limits: Mapping | None = None,
) -> HedgePlan:
    """Plan buying (a consumer) or selling (a generator: ``side="sell"``) ``mw`` MW flat over
    the ``profile`` hours of ``window`` at ``node``: MW x profile hours = MWh."""
    mw_d = u.to_decimal(mw, "mw")
    if mw_d <= 0:
        raise InvalidOrder(f"mw must be positive, got {mw_d}")
    m = _pick(reader, "POWER", window, node=node, profile=profile)
    if m is None:
        raise UnknownMarket(
            f"no POWER market at {node} with profile {profile} for {window}; listed: "
            f"{_available(reader, 'POWER', node=node)}"
        )
    mwh = power_mwh(m, mw_d)
    hours = mwh / mw_d
    legs = [(m, side, u.quantity_to_step(m, mwh), f"{side} {mw_d} MW x {hours} {profile} hours = {mwh} MWh")]
    desc = f"Hedge {mw_d} MW {profile} at {node}, {window}: {side} {mwh} MWh of {m.symbol}"
    return _plan(reader, desc, legs, account, u.to_decimal(slippage, "slippage"), dict(limits or {}), [])
