"""`cspread account | positions | fills | settlements [ADDRESS]`: an account's state and history."""
from __future__ import annotations

from typing import Optional

import typer
from rich.panel import Panel
from rich.table import Table

from sdk.cli.common import num, out, pnl, print_json, state, usage_bar, usd, warn

app = typer.Typer()

JSON = typer.Option(False, "--json", help="machine-readable output (Decimals as strings)")
ADDRESS = typer.Argument(None, help="any account (default: your key's)")


def position_json(p) -> dict:
    return {"market_id": p.market_id, "symbol": p.symbol, "side": p.side, "quantity": p.quantity,
            "entry_price": p.entry_price, "mark": p.mark, "notional": p.notional, "unrealised_pnl": p.unrealised_pnl,
            "initial_margin": p.initial_margin, "maintenance_margin": p.maintenance_margin,
            "liquidation_price": p.liquidation_price, "settled_market": p.settled_market}


def account_json(a, realised=None) -> dict:
    return {"address": a.address, "wallet_balance": a.wallet_balance, "collateral": a.collateral, "equity": a.equity,
            "unrealised_pnl": a.unrealised_pnl, "initial_margin": a.initial_margin,
            "maintenance_margin": a.maintenance_margin, "free_collateral": a.free_collateral,
            "margin_usage": a.margin_usage if a.margin_usage is None or a.margin_usage.is_finite() else "Infinity",
            "health_ratio": a.health_ratio, "marks_fresh": a.fresh, "liquidatable": bool(
                a.maintenance_margin_units and a.equity_units < a.maintenance_margin_units),
            **({"pnl": realised} if realised is not None else {}),
            "positions": [position_json(p) for p in a.positions]}


def positions_table(a) -> Table:
    t = Table(title="Positions", title_justify="left")
    for col in ("market", "side", "qty", "entry", "mark", "uPnL", "IM", "MM", "liq. price"):
        t.add_column(col, justify="left" if col in ("market", "side") else "right", no_wrap=col == "market")
    for p in a.positions:
        side = f"[{'green' if p.side == 'long' else 'red'}]{p.side}[/]" + (" (settled)" if p.settled_market else "")
        t.add_row(p.symbol, side, num(p.quantity), usd(p.entry_price), usd(p.mark), pnl(p.unrealised_pnl),
                  usd(p.initial_margin), usd(p.maintenance_margin),
                  usd(p.liquidation_price) if p.liquidation_price is not None else "[dim]none[/]")
    return t


@app.command("account")
def account_cmd(ctx: typer.Context, address: Optional[str] = ADDRESS, as_json: bool = JSON) -> None:
    """Equity, margins, margin usage, free collateral, PnL, positions with liquidation prices."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    a = r.account(who)
    p = r.pnl(who)
    if as_json:
        print_json(account_json(a, {"realised": p.realised, "fees": p.fees, "unrealised": p.unrealised,
                                    "total": p.total}))
        return
    health = a.health_ratio
    hs = "—" if health is None else (f"[red]{health} (liquidatable)[/]" if health < 1 else
                                     f"[yellow]{health}[/]" if health < 2 else f"[green]{health}[/]")
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
        out.print(positions_table(a))
    else:
        out.print("[dim]no open positions[/]")


@app.command("positions")
def positions_cmd(ctx: typer.Context, address: Optional[str] = ADDRESS, as_json: bool = JSON) -> None:
    """Open positions: size, entry, mark, unrealised PnL, margins, liquidation price."""
    st = state(ctx)
    a = st.reader().account(st.address(address))
    if as_json:
        print_json([position_json(p) for p in a.positions])
        return
    if not a.positions:
        out.print(f"[dim]no open positions for {a.address}[/]")
        return
    out.print(positions_table(a))


@app.command("fills")
def fills_cmd(ctx: typer.Context, address: Optional[str] = ADDRESS,
              market: Optional[str] = typer.Option(None, "--market", help="only this market (id or symbol)"),
              from_block: Optional[int] = typer.Option(None, "--from-block", help="default: the deploy block"),
              as_json: bool = JSON) -> None:
    """Your fills (as maker or taker), oldest first."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    fills = r.fills(who, from_block)
    if market is not None:
        mid = r.market(market).id
        fills = [f for f in fills if f.market_id == mid]
    symbols = {m["id"]: m["symbol"] for m in r.manifest.markets}
    if as_json:
        print_json([{"block": f.block_number, "market_id": f.market_id, "symbol": symbols.get(f.market_id),
                     "side": f.side_of(who), "role": "maker" if f.maker.lower() == who.lower() else "taker",
                     "quantity": f.quantity, "price": f.price, "fee": f.fee_of(who), "order_hash": f.order_hash,
                     "tx_hash": f.tx_hash} for f in fills])
        return
    if not fills:
        out.print(f"[dim]no fills for {who}[/]")
        return
    t = Table(title=f"Fills of {who}", title_justify="left")
    for col in ("block", "market", "side", "role", "qty", "price (USD)", "fee (USD)", "tx"):
        t.add_column(col, justify="right" if col in ("block", "qty", "price (USD)", "fee (USD)") else "left",
                     no_wrap=col in ("market", "tx"))
    for f in fills:
        side = f.side_of(who)
        t.add_row(str(f.block_number), symbols.get(f.market_id, str(f.market_id)),
                  f"[{'green' if side == 'buy' else 'red'}]{side}[/]",
                  "maker" if f.maker.lower() == who.lower() else "taker", num(f.quantity), usd(f.price),
                  usd(f.fee_of(who)), f.tx_hash)
    out.print(t)


@app.command("settlements")
def settlements_cmd(ctx: typer.Context, address: Optional[str] = ADDRESS, as_json: bool = JSON) -> None:
    """Positions settled at expiry: size, settlement price, realised PnL."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    rows = r.settlements(who)
    symbols = {m["id"]: m["symbol"] for m in r.manifest.markets}
    if as_json:
        print_json([{"market_id": s.market_id, "symbol": symbols.get(s.market_id), "quantity": s.quantity,
                     "settlement_price": s.settlement_price, "pnl": s.pnl, "block": s.block_number,
                     "tx_hash": s.tx_hash} for s in rows])
        return
    if not rows:
        out.print(f"[dim]no settled positions for {who}[/]")
        return
    t = Table(title=f"Settlements of {who}", title_justify="left")
    for col in ("block", "market", "qty", "settlement price", "PnL (USD)", "tx"):
        t.add_column(col, justify="left" if col in ("market", "tx") else "right", no_wrap=col in ("market", "tx"))
    for s in rows:
        t.add_row(str(s.block_number), symbols.get(s.market_id, str(s.market_id)), num(s.quantity),
                  usd(s.settlement_price), pnl(s.pnl), s.tx_hash)
    out.print(t)
    total = sum((s.pnl for s in rows), start=rows[0].pnl * 0)
    out.print(f"total settled PnL {pnl(total)} USD")
