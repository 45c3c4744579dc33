"""`cspread hedge spread | power`: show the plan (orders, limits, margin, fees), confirm, execute.

Execution (sdk ``Client.execute``) takes crossing orders from the relay's book up to each leg's
size at no worse than its limit, then rests the remainder as a limit order at the relay.
"""

from __future__ import annotations

import sys
from decimal import ROUND_CEILING, Decimal

import typer
from rich.markup import escape
from rich.table import Table

from apps.cli.common import CliError, decimal_arg, num, ok, out, plain, price, print_json, spinner, state, usd, warn
from core import units as u

app = typer.Typer(help="Hedge a GPU operator's compute spread or a site's power cost.", no_args_is_help=True)

_MONTH = typer.Option(
    None,
    "--month",
    help="delivery period label as in the symbols: 2026-12 (or 2026-11-27); with --months, the first month",
)
_MONTHS = typer.Option(
    None, "--months", help="hedge a strip: this many listed monthly windows in one plan (from --month, else the next)"
)


def _window_args(month: str | None, months: int | None) -> None:
    if months is None and not month:
        raise typer.BadParameter("give --month 2026-12 (one window) or --months N (a strip of N months)")
    if months is not None and not 1 <= months <= 36:
        raise typer.BadParameter(f"--months {months}: from 1 to 36")


_YES = typer.Option(False, "--yes", "-y", help="execute without asking")
_DRY = typer.Option(False, "--dry-run", help="show the plan only")
_JSON = typer.Option(False, "--json", help="plan (and results) as JSON")
_SLIP = typer.Option("0.02", "--slippage", help="limit = mark ± this fraction of |mark|")


def plan_json(plan) -> dict:
    return {
        "description": plan.description,
        "orders": [
            {
                "market_id": o.market.id,
                "symbol": o.market.symbol,
                "side": o.side,
                "quantity": o.quantity,
                "unit": o.market.unit,
                "limit_price": o.price,
                "notional": o.notional,
                "max_fee": u.base_to_usd(o.fee_units),
                "purpose": o.purpose,
            }
            for o in plan.orders
        ],
        "margin_needed": plan.margin_needed,
        "fees": plan.fees,
        "free_collateral": u.base_to_usd(plan.free_collateral_units),
        "shortfall": plan.shortfall,
        "notes": list(plan.notes),
        "book": [
            {
                "market_id": d.market_id,
                "symbol": d.symbol,
                "side": d.side,
                "fillable_now": d.fillable,
                "would_rest": d.resting,
                "rest_price": u.base_to_usd(d.limit_units),
                "rest_until": d.expiry,
                "text": d.text(),
            }
            for d in plan.depth
        ],
        "warnings": plan.warnings(),
    }


def show_plan(plan) -> None:
    out.print(f"[bold]{plan.description}[/]")
    t = Table(title_justify="left")
    for col in ("side", "qty", "market", "limit (USD/unit)", "notional (USD)", "fee ≤ (USD)", "why"):
        t.add_column(
            col,
            justify="right" if col in ("qty", "limit (USD/unit)", "notional (USD)", "fee ≤ (USD)") else "left",
            no_wrap=col == "market",
        )
    for o in plan.orders:
        t.add_row(
            f"[{'green' if o.side == 'buy' else 'red'}]{o.side}[/]",
            f"{num(o.quantity)} {o.market.unit}",
            o.market.symbol,
            price(o.price, o.market.tick),
            usd(o.notional),
            usd(u.base_to_usd(o.fee_units)),
            o.purpose,
        )
    out.print(t)
    for d in plan.depth:  # before anyone signs: what fills now and what would rest, where, until when
        if d.thin:  # part of the plan (stdout), so stderr keeps its one-line error contract
            out.print(f"[bold yellow]warning: thin book:[/] {escape(d.text())}")
        else:
            out.print(f"[green]book:[/] {escape(d.text())}")
    out.print(
        f"margin needed [bold]{usd(plan.margin_needed)}[/] USD · fees ≤ {usd(plan.fees)} USD · "
        f"free collateral {usd(u.base_to_usd(plan.free_collateral_units))} USD"
    )
    if plan.shortfall > 0:
        need = plan.shortfall.quantize(Decimal("0.01"), rounding=ROUND_CEILING)
        out.print(f"[yellow]shortfall {usd(need)} USD: deposit at least that much before executing[/]")
    for n in plan.notes:
        out.print(f"[dim]note: {n}[/]")


def show_liquidation(r, plan, account: str | None) -> None:
    """Pre-trade liquidation prices: the account as it is once the plan fills, and per leverage."""
    from sdk.hedge import leverage_choices, plan_liquidation_prices

    markets = {o.market.id: o.market for o in plan.orders}

    def words(liq: dict) -> str:
        return "; ".join(
            f"{markets[mid].symbol} {price(v, markets[mid].tick) + ' USD/' + markets[mid].unit if v is not None else 'none'}"
            for mid, v in liq.items()
        )

    if account:
        out.print(
            f"liquidation price once filled (your account): {words(plan_liquidation_prices(r, plan, account=account))}"
        )
    for ch in leverage_choices(r, plan):
        out.print(f"[dim]  held alone with {usd(ch['collateral'])} USD ({ch['label']}): {words(ch['liquidation'])}[/]")


def _run(ctx: typer.Context, make_plan, yes: bool, dry_run: bool, as_json: bool) -> None:
    st = state(ctx)
    c = st.client() if st.has_key() else None
    if c is None and not dry_run:
        raise CliError(
            "hedging needs a key (CSPREAD_PRIVATE_KEY, --key-env or --keyfile); --dry-run shows the plan without one"
        )
    plan = make_plan(c if c is not None else st.reader(), c is not None)
    if as_json and (dry_run or not yes):
        print_json(plan_json(plan))
        if not dry_run and not yes:
            raise CliError("with --json, pass --yes to execute (or --dry-run for the plan only)")
        return
    if not as_json:
        show_plan(plan)
        show_liquidation(c if c is not None else st.reader(), plan, c.address if c is not None else None)
    if dry_run:
        return
    if plan.shortfall > 0:
        need = plan.shortfall.quantize(Decimal("0.01"), rounding=ROUND_CEILING)  # depositing it must suffice
        raise CliError(
            f"the plan needs {usd(need)} USD more free collateral: deposit at least that "
            f"much first (`cspread deposit {plain(need)}`), or hedge less"
        )
    if c.relay is None:
        warn("no relay configured: nothing can be taken from a book; each leg is signed but not posted")
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("not a terminal: pass --yes to execute the plan")
        if not typer.confirm("execute this plan?", default=False, err=True):
            out.print("[yellow]aborted: nothing was sent[/]")
            raise typer.Exit(1)
    from sdk.errors import OrderRejected

    try:
        with spinner("executing: taking crossing orders, then resting the rest…"):
            results = c.execute(plan)
    except OrderRejected as e:  # a book order died between reading the book and filling it
        raise CliError(
            f"the book moved during execution ({e}); part of the plan may already be filled: check "
            f"`cspread positions` and `cspread orders` before hedging the remainder"
        ) from None
    from sdk.models import Fill

    fills = [r for r in results if isinstance(r, Fill)]
    rest = [r for r in results if not isinstance(r, Fill)]
    if as_json:
        print_json(
            {
                "plan": plan_json(plan),
                "fills": [
                    {
                        "market_id": f.market_id,
                        "side": f.side_of(c.address),
                        "quantity": f.quantity,
                        "price": f.price,
                        "fee": f.fee_of(c.address),
                        "tx_hash": f.tx_hash,
                    }
                    for f in fills
                ],
                "orders": [
                    {
                        "hash": s.hash,
                        "market_id": s.order.market_id,
                        "side": s.order.side,
                        "quantity": s.order.size,
                        "price": s.order.limit,
                        "expiry": s.order.expiry,
                    }
                    for s in rest
                ],
                "legs": [
                    {
                        "market_id": leg.market_id,
                        "symbol": leg.symbol,
                        "side": leg.side,
                        "planned": leg.planned,
                        "filled": leg.filled,
                        "resting": leg.resting,
                        "resting_price": None
                        if leg.resting_price_units is None
                        else u.base_to_usd(leg.resting_price_units),
                        "resting_until": leg.expiry,
                        "text": leg.text(),
                    }
                    for leg in getattr(results, "legs", ())
                ],
            }
        )
        return
    legs = getattr(results, "legs", ())
    for leg in legs:  # "filled X of Y, Z resting at P until T", one line per leg (the result: stdout)
        if leg.filled_units >= leg.planned_units:
            ok(leg.text())
        else:
            out.print(f"[yellow]![/] {leg.text()}")
    markets = {o.market.id: o.market for o in plan.orders}
    for f in fills:
        m = markets.get(f.market_id)
        out.print(
            f"  [dim]fill {f.side_of(c.address)} {num(f.quantity)} {m.unit if m else ''} "
            f"{m.symbol if m else f.market_id} @ {price(f.price, m.tick if m else None)} USD, "
            f"tx {f.tx_hash}[/]"
        )
    for s in rest:
        out.print(f"  [dim]resting order {s.hash}: cancel with `cspread cancel {s.hash}`[/]")
    out.print(
        "see `cspread account` for the hedged position and its margin"
        + (", `cspread orders` for what rests" if rest else "")
    )


@app.command("spread")
def spread_cmd(
    ctx: typer.Context,
    gpu: str = typer.Option(..., "--gpu", help="H100-SXM, B200, ..."),
    node: str = typer.Option(..., "--node", help="grid node, e.g. HB_WEST"),
    gpu_hours: str = typer.Option(..., "--gpu-hours", help="GPU-hours you will rent out in the window"),
    month: str = _MONTH,
    months: int = _MONTHS,
    mwh_per_gpu_hour: str | None = typer.Option(
        None, "--mwh-per-gpu-hour", help="your measured MWh per GPU-hour (incl. PUE)"
    ),
    two_legs: bool = typer.Option(
        False, "--two-legs", help="sell COMPUTE + buy POWER even when a SPREAD market is listed"
    ),
    power_profile: str = typer.Option("ATC", "--power-profile", help="POWER profile of the power leg with --two-legs"),
    slippage: str = _SLIP,
    yes: bool = _YES,
    dry_run: bool = _DRY,
    as_json: bool = _JSON,
) -> None:
    """Lock in GPU-hour revenue minus the power it burns: sell the spread (or compute + buy power).
    With --months N, --gpu-hours is per month and one plan covers the next N listed months."""
    _window_args(month, months)
    hours = decimal_arg(gpu_hours, "--gpu-hours")
    ratio = None if mwh_per_gpu_hour is None else decimal_arg(mwh_per_gpu_hour, "--mwh-per-gpu-hour")
    slip = decimal_arg(slippage, "--slippage")

    def make(r, with_account: bool):
        from sdk.hedge import hedge_compute_spread, hedge_compute_spread_strip

        acct = r.address if with_account else None
        if months is not None:
            with spinner("planning the strip…"):
                return hedge_compute_spread_strip(
                    r,
                    gpu,
                    node,
                    hours,
                    months,
                    start=month,
                    mwh_per_gpu_hour=ratio,
                    account=acct,
                    prefer_spread=not two_legs,
                    power_profile=power_profile.upper(),
                    slippage=slip,
                )
        with spinner("planning…"):
            return hedge_compute_spread(
                r,
                gpu,
                node,
                hours,
                month,
                mwh_per_gpu_hour=ratio,
                account=acct,
                prefer_spread=not two_legs,
                power_profile=power_profile.upper(),
                slippage=slip,
            )

    _run(ctx, make, yes, dry_run, as_json)


@app.command("power")
def power_cmd(
    ctx: typer.Context,
    node: str = typer.Option(..., "--node", help="grid node, e.g. HB_WEST"),
    mw: str = typer.Option(..., "--mw", help="flat load in MW"),
    profile: str = typer.Option(..., "--profile", help="ATC, PEAK, OFFPEAK or HOURLY"),
    month: str = _MONTH,
    months: int = _MONTHS,
    side: str = typer.Option("buy", "--side", help="buy (a consumer) or sell (a generator)"),
    slippage: str = _SLIP,
    yes: bool = _YES,
    dry_run: bool = _DRY,
    as_json: bool = _JSON,
) -> None:
    """Fix the price of MW flat over a profile's hours at a node: buy (or --side sell) the POWER future.
    With --months N, one plan covers the next N listed monthly windows (MWh from each month's hours)."""
    _window_args(month, months)
    load = decimal_arg(mw, "--mw")
    slip = decimal_arg(slippage, "--slippage")
    if side not in ("buy", "sell"):
        raise typer.BadParameter("--side is buy or sell")

    def make(r, with_account: bool):
        from sdk.hedge import hedge_power, hedge_power_strip

        acct = r.address if with_account else None
        if months is not None:
            with spinner("planning the strip…"):
                return hedge_power_strip(
                    r, node, load, profile.upper(), months, start=month, side=side, account=acct, slippage=slip
                )
        with spinner("planning…"):
            return hedge_power(r, node, load, profile.upper(), month, side=side, account=acct, slippage=slip)

    _run(ctx, make, yes, dry_run, as_json)
