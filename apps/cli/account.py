"""`cspread account | positions | fills | settlements [ADDRESS]`: an account's state and history."""

from __future__ import annotations

import typer
from rich.panel import Panel
from rich.table import Table

from apps.cli.common import (
    block_times,
    num,
    out,
    plain,
    pnl,
    price,
    print_json,
    short,
    state,
    tick_of,
    usage_bar,
    usd,
    warn,
    when,
)

app = typer.Typer()

JSON = typer.Option(False, "--json", help="machine-readable output (Decimals as strings)")
ADDRESS = typer.Argument(None, help="any account (default: your key's)")


def position_json(p) -> dict:
    return {
        "market_id": p.market_id,
        "symbol": p.symbol,
        "side": p.side,
        "quantity": p.quantity,
        "entry_price": p.entry_price,
        "mark": p.mark,
        "notional": p.notional,
        "unrealised_pnl": p.unrealised_pnl,
        "initial_margin": p.initial_margin,
        "maintenance_margin": p.maintenance_margin,
        "liquidation_price": p.liquidation_price,
        "settled_market": p.settled_market,
    }


def account_json(a, realised=None) -> dict:
    return {
        "address": a.address,
        "wallet_balance": a.wallet_balance,
        "collateral": a.collateral,
        "equity": a.equity,
        "unrealised_pnl": a.unrealised_pnl,
        "initial_margin": a.initial_margin,
        "maintenance_margin": a.maintenance_margin,
        "free_collateral": a.free_collateral,
        "margin_usage": a.margin_usage if a.margin_usage is None or a.margin_usage.is_finite() else "Infinity",
        "health_ratio": a.health_ratio,
        "marks_fresh": a.fresh,
        "liquidatable": bool(a.maintenance_margin_units and a.equity_units < a.maintenance_margin_units),
        **({"pnl": realised} if realised is not None else {}),
        "positions": [position_json(p) for p in a.positions],
    }


def positions_table(a, r=None) -> Table:
    """Prices to each market's tick (USD per unit), money to the cent (USD)."""
    t = Table(title="Positions", title_justify="left")
    for col in ("market", "side", "qty", "entry", "mark", "uPnL (USD)", "IM (USD)", "MM (USD)", "liq. price"):
        t.add_column(col, justify="left" if col in ("market", "side") else "right", no_wrap=col == "market")
    for p in a.positions:
        tick = tick_of(r, p.market_id) if r is not None else None
        unit = _unit(r, p.market_id)
        side = f"[{'green' if p.side == 'long' else 'red'}]{p.side}[/]" + (" (settled)" if p.settled_market else "")
        t.add_row(
            p.symbol,
            side,
            f"{num(abs(p.quantity))} {unit}".strip(),
            price(p.entry_price, tick),
            price(p.mark, tick),
            pnl(p.unrealised_pnl),
            usd(p.initial_margin),
            usd(p.maintenance_margin),
            price(p.liquidation_price, tick) if p.liquidation_price is not None else "[dim]none[/]",
        )
    t.caption = "entry, mark and liquidation price in USD per unit"
    return t


def _unit(r, market_id: int) -> str:
    try:
        return r.market_params(market_id).unit if r is not None else ""
    except Exception:  # noqa: BLE001 - a label only
        try:
            return r.market(market_id).unit
        except Exception:  # noqa: BLE001
            return ""


@app.command("account")
def account_cmd(ctx: typer.Context, address: str | None = ADDRESS, as_json: bool = JSON) -> None:
    """Equity, margins, margin usage, free collateral, PnL, positions with liquidation prices."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    a = r.account(who)
    p = r.pnl(who)
    if as_json:
        print_json(
            account_json(a, {"realised": p.realised, "fees": p.fees, "unrealised": p.unrealised, "total": p.total})
        )
        return
    health = a.health_ratio
    hs = (
        "—"
        if health is None
        else (
            f"[red]{health} (liquidatable)[/]"
            if health < 1
            else f"[yellow]{health}[/]"
            if health < 2
            else f"[green]{health}[/]"
        )
    )
    g = Table.grid(padding=(0, 2))
    g.add_column(style="dim")
    g.add_column(justify="right")
    g.add_row("wallet (USDC)", f"{usd(a.wallet_balance)} USD")
    g.add_row("collateral", f"{usd(a.collateral)} USD")
    g.add_row("unrealised PnL", pnl(a.unrealised_pnl) + " USD")
    g.add_row("equity", f"[bold]{usd(a.equity)}[/] USD")
    g.add_row("initial margin", f"{usd(a.initial_margin)} USD")
    g.add_row("maintenance margin", f"{usd(a.maintenance_margin)} USD")
    g.add_row("free collateral", f"[bold]{usd(a.free_collateral)}[/] USD")
    g.add_row("margin usage (IM/equity)", usage_bar(a.margin_usage))
    g.add_row("health (equity/MM)", hs)
    g.add_row("realised PnL / fees paid", f"{pnl(p.realised)} / {usd(p.fees)} USD")
    out.print(Panel(g, title=f"account {a.address}", title_align="left", expand=False))
    if not a.fresh:
        warn("a mark this account depends on is stale: no risk-increasing trades or withdrawals until it updates")
    if a.positions:
        out.print(positions_table(a, r))
    else:
        out.print("[dim]no open positions[/]")


@app.command("positions")
def positions_cmd(ctx: typer.Context, address: str | None = ADDRESS, as_json: bool = JSON) -> None:
    """Open positions: size, entry, mark, unrealised PnL, margins, liquidation price."""
    st = state(ctx)
    r = st.reader()
    a = r.account(st.address(address))
    if as_json:
        print_json([position_json(p) for p in a.positions])
        return
    if not a.positions:
        out.print(f"[dim]no open positions for {a.address}[/]")
        return
    out.print(positions_table(a, r))


CSV = typer.Option(False, "--csv", help="CSV for accounting (UTC ISO times, USD to the cent) on stdout")


def _csv(header: list[str], rows: list[list]) -> None:
    import csv
    import sys

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    sys.stdout.flush()


def _iso(ts: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else ""


@app.command("fills")
def fills_cmd(
    ctx: typer.Context,
    address: str | None = ADDRESS,
    market: str | None = typer.Option(None, "--market", help="only this market (id or symbol)"),
    from_block: int | None = typer.Option(None, "--from-block", help="default: the deploy block"),
    as_json: bool = JSON,
    as_csv: bool = CSV,
) -> None:
    """Your fills (as maker or taker), oldest first."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    fills = r.fills(who, from_block)
    if market is not None:
        mid = r.market(market).id
        fills = [f for f in fills if f.market_id == mid]
    symbols = {m["id"]: m["symbol"] for m in r.manifest.markets}
    times = block_times(r, [f.block_number for f in fills])
    if as_csv:
        units = {m["id"]: m.get("unit") or "" for m in r.manifest.markets}
        _csv(
            [
                "time_utc",
                "market",
                "side",
                "role",
                "quantity",
                "unit",
                "price_usd",
                "fee_usd",
                "notional_usd",
                "tx_hash",
                "block",
            ],
            [
                [
                    _iso(times.get(f.block_number)),
                    symbols.get(f.market_id, f.market_id),
                    f.side_of(who),
                    "maker" if f.maker.lower() == who.lower() else "taker",
                    plain(f.quantity),
                    _unit(r, f.market_id) or units.get(f.market_id, ""),
                    plain(f.price),
                    usd(f.fee_of(who)).replace(",", ""),
                    usd(abs(f.quantity * f.price)).replace(",", ""),
                    f.tx_hash,
                    f.block_number,
                ]
                for f in fills
            ],
        )
        return
    if as_json:
        print_json(
            [
                {
                    "time": times.get(f.block_number),
                    "block": f.block_number,
                    "market_id": f.market_id,
                    "symbol": symbols.get(f.market_id),
                    "side": f.side_of(who),
                    "role": "maker" if f.maker.lower() == who.lower() else "taker",
                    "quantity": f.quantity,
                    "price": f.price,
                    "fee": f.fee_of(who),
                    "order_hash": f.order_hash,
                    "tx_hash": f.tx_hash,
                }
                for f in fills
            ]
        )
        return
    if not fills:
        out.print(f"[dim]no fills for {who}[/]")
        return
    t = Table(title=f"Fills of {who}", title_justify="left")
    for col in ("time", "market", "side", "role", "qty", "price (USD)", "fee (USD)", "tx"):
        t.add_column(
            col,
            justify="right" if col in ("qty", "price (USD)", "fee (USD)") else "left",
            no_wrap=col in ("time", "market", "tx"),
        )
    for f in fills:
        side = f.side_of(who)
        t.add_row(
            when(times.get(f.block_number)),
            symbols.get(f.market_id, str(f.market_id)),
            f"[{'green' if side == 'buy' else 'red'}]{side}[/]",
            "maker" if f.maker.lower() == who.lower() else "taker",
            num(f.quantity),
            price(f.price, tick_of(r, f.market_id)),
            usd(f.fee_of(who)),
            short(f.tx_hash),
        )
    out.print(t)


@app.command("settlements")
def settlements_cmd(
    ctx: typer.Context, address: str | None = ADDRESS, as_json: bool = JSON, as_csv: bool = CSV
) -> None:
    """Positions settled at expiry: size, settlement price, realised PnL."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    rows = r.settlements(who)
    symbols = {m["id"]: m["symbol"] for m in r.manifest.markets}
    times = block_times(r, [s.block_number for s in rows])
    if as_csv:
        _csv(
            ["time_utc", "market", "quantity", "unit", "settlement_price_usd", "pnl_usd", "tx_hash", "block"],
            [
                [
                    _iso(times.get(s.block_number)),
                    symbols.get(s.market_id, s.market_id),
                    plain(s.quantity),
                    _unit(r, s.market_id),
                    "" if s.settlement_price is None else plain(s.settlement_price),
                    usd(s.pnl).replace(",", ""),
                    s.tx_hash,
                    s.block_number,
                ]
                for s in rows
            ],
        )
        return
    if as_json:
        print_json(
            [
                {
                    "time": times.get(s.block_number),
                    "market_id": s.market_id,
                    "symbol": symbols.get(s.market_id),
                    "quantity": s.quantity,
                    "settlement_price": s.settlement_price,
                    "pnl": s.pnl,
                    "block": s.block_number,
                    "tx_hash": s.tx_hash,
                }
                for s in rows
            ]
        )
        return
    if not rows:
        out.print(f"[dim]no settled positions for {who}[/]")
        return
    t = Table(title=f"Settlements of {who}", title_justify="left")
    for col in ("time", "market", "qty", "settlement price (USD)", "PnL (USD)", "tx"):
        t.add_column(
            col, justify="left" if col in ("time", "market", "tx") else "right", no_wrap=col in ("time", "market", "tx")
        )
    for s in rows:
        t.add_row(
            when(times.get(s.block_number)),
            symbols.get(s.market_id, str(s.market_id)),
            num(s.quantity),
            price(s.settlement_price, tick_of(r, s.market_id)),
            pnl(s.pnl),
            short(s.tx_hash),
        )
    out.print(t)
    total = sum((s.pnl for s in rows), start=rows[0].pnl * 0)
    out.print(f"total settled PnL {pnl(total)} USD")
