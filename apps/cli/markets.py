"""`cspread markets` and `cspread book MARKET`: what is listed, and what is quoted at the relay."""

from __future__ import annotations

import typer
from rich.table import Table

from apps.cli.common import (
    ago,
    num,
    out,
    price,
    print_json,
    spec_words,
    state,
    status_text,
)
from core import units as u

app = typer.Typer()

JSON = typer.Option(False, "--json", help="machine-readable output (Decimals as strings)")


def market_json(m, now: int) -> dict:
    mark = m.mark
    im_fixed, im_rate = m.initial_margin
    mm_fixed, mm_rate = m.maintenance_margin
    return {
        "id": m.id,
        "symbol": m.symbol,
        "kind": m.kind,
        "unit": m.unit,
        "description": spec_words(m),
        "status": m.status.value if m.status else None,
        "mark": mark.price if mark and mark.observed_at else None,
        "mark_observed_at": mark.observed_at if mark else 0,
        "mark_age_s": mark.age(now) if mark and mark.observed_at else None,
        "mark_fresh": mark.fresh if mark else False,
        "tick": m.tick,
        "step": m.step,
        "min_size": m.min_size,
        "initial_margin": {"fixed_usd_per_unit": im_fixed, "rate": im_rate},
        "maintenance_margin": {"fixed_usd_per_unit": mm_fixed, "rate": mm_rate},
        "delivery_start": m.delivery_start,
        "delivery_end": m.delivery_end,
        "last_trade_time": m.last_trade_time,
        "max_price_age_s": m.max_price_age,
        "long_open_interest": u.units_to_quantity(m.long_open_interest),
        "settlement_price": m.settlement_price,
        "mark_feed": m.mark_feed,
        "settlement_feed": m.settlement_feed,
        "spec": m.spec,
    }


@app.command("markets")
def markets_cmd(
    ctx: typer.Context,
    as_json: bool = JSON,
    kind: str = typer.Option(None, "--kind", help="only POWER, COMPUTE or SPREAD"),
) -> None:
    """List every market: id, symbol, what it means, mark, status, tick and lot."""
    r = state(ctx).reader()
    ms = r.markets()
    if kind:
        ms = [m for m in ms if m.kind == kind.upper()]
    now = r.now()
    if as_json:
        print_json([market_json(m, now) for m in ms])
        return
    t = Table(title=f"Markets on chain {r.chain_id}", title_justify="left", expand=False)
    for col, kw in (
        ("id", {"justify": "right"}),
        ("symbol", {"no_wrap": True}),
        ("kind", {}),
        ("spec", {"ratio": 1}),
        ("mark (USD/unit)", {"justify": "right", "no_wrap": True}),
        ("status", {}),
        ("tick / lot (min)", {"justify": "right", "no_wrap": True}),
    ):
        t.add_column(col, **kw)
    for m in ms:
        mk = m.mark
        mark = (
            "never reported"
            if not mk or not mk.observed_at
            else f"{price(mk.price, m.tick)} [dim]({ago(mk.age(now))} ago)[/]"
        )
        t.add_row(
            str(m.id),
            m.symbol,
            m.kind,
            spec_words(m),
            mark,
            status_text(m.status),
            f"{num(m.tick)} USD / {num(m.step)} ({num(m.min_size)}) {m.unit}",
        )
    out.print(t)


@app.command("book")
def book_cmd(
    ctx: typer.Context,
    market: str = typer.Argument(..., help="market id or symbol"),
    depth: int = typer.Option(10, "--depth", min=1, help="price levels per side"),
    as_json: bool = JSON,
) -> None:
    """The order book of MARKET at the relay (aggregated levels and open orders)."""
    st = state(ctx)
    r = st.reader()
    m = r.market(market)
    book = st.relay_client().book(m.id)
    if as_json:
        print_json(
            {
                "market_id": m.id,
                "symbol": m.symbol,
                "mark": m.mark.price if m.mark and m.mark.observed_at else None,
                "bids": [{"price": lv.price, "quantity": lv.quantity} for lv in book.bids[:depth]],
                "asks": [{"price": lv.price, "quantity": lv.quantity} for lv in book.asks[:depth]],
                "orders": [
                    {
                        "hash": s.hash,
                        "side": s.order.side,
                        "price": s.order.limit,
                        "quantity": s.order.size,
                        "trader": s.order.trader,
                        "expiry": s.order.expiry,
                        "reduce_only": s.order.reduce_only,
                    }
                    for s in book.orders
                ],
            }
        )
        return
    mark = f"mark {price(m.mark.price, m.tick)} USD" if m.mark and m.mark.observed_at else "no mark yet"
    out.print(f"[bold]{m.symbol}[/] (id {m.id}) · {mark} · USD per {m.unit}")
    t = Table()
    t.add_column(f"bid size ({m.unit})", justify="right")
    t.add_column("bid (USD)", justify="right", style="green")
    t.add_column("ask (USD)", justify="right", style="red")
    t.add_column(f"ask size ({m.unit})", justify="right")
    bids, asks = book.bids[:depth], book.asks[:depth]
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        t.add_row(
            num(b.quantity) if b else "",
            price(b.price, m.tick) if b else "",
            price(a.price, m.tick) if a else "",
            num(a.quantity) if a else "",
        )
    out.print(t)
    if not bids and not asks:
        out.print("[dim]the book is empty[/]")
    else:
        bb, ba = book.best_bid, book.best_ask
        if bb and ba:
            out.print(f"spread {price(ba.price - bb.price, m.tick)} USD · {len(book.orders)} open orders")
        if book.orders:
            best = list(book.orders[:4])
            out.print("[dim]best orders (take one with --take HASH):[/]")
            for s in best:
                out.print(
                    f"  [dim]{s.order.side:<4} {num(s.order.size):>10} {m.unit} @ {price(s.order.limit, m.tick):>10} USD  "
                    f"{s.hash}[/]"
                )
