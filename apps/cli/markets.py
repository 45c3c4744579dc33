"""`cspread markets`, `cspread curve`, `cspread calendar` and `cspread book MARKET`: what is
listed (filtered and paged), each series' forward strip, when each market fixes, and what is
quoted at the relay. Filtering, paging and grouping are core.curve's (the dashboard uses the same)."""

from __future__ import annotations

import shlex
from typing import Any

import typer
from rich.table import Table

from apps.cli.common import (
    CliError,
    ago,
    num,
    out,
    plain,
    price,
    print_json,
    spec_words,
    state,
    status_text,
    warn,
    when,
)
from core import curve
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


NODE = typer.Option(None, "--node", help="a POWER node, or a SPREAD's power-leg node (HB_WEST)")
SERIES = typer.Option(None, "--series", help="a series: the symbol without its period (ERCOT.HB_WEST.DA.PEAK)")
KIND = typer.Option(None, "--kind", help="only POWER, COMPUTE or SPREAD")
FROM = typer.Option(None, "--from", help="windows starting on or after this month or day (2026-12, 2026-12-05)")
TO = typer.Option(None, "--to", help="windows starting on or before this month (its last day) or day")
ORACLE = typer.Option(
    None,
    "--oracle-url",
    envvar="CSPREAD_ORACLE_URL",
    help="oracle reporter URL(s), comma-separated, for the index column (`cspread devnet up` exports it)",
)


def _filters(kind, node, series, words, start, end, statuses=None, order="curve"):
    try:
        return {
            "kind": kind,
            "node": node,
            "series": series,
            "words": words,
            "start": curve.parse_day(start, what="--from") if start else None,
            "end": curve.parse_day(end, end=True, what="--to") if end else None,
            "statuses": statuses,
            "order": order,
        }
    except curve.CurveError as e:
        raise typer.BadParameter(str(e)) from None


def _select(r, oracle: str | None = None, **filters) -> tuple[list[curve.Record], dict[int, Any]]:
    """The reader's markets as core.curve records (with the reporters' index when --oracle-url
    is given), filtered, and the markets by id; a bad filter is a usage error."""
    index = _index(oracle) if oracle else {}
    ms = {m.id: m for m in r.markets()}
    recs = [curve.record(m, index.get(m.mark_feed.lower())) for m in ms.values()]
    try:
        return curve.select(recs, **filters), ms
    except curve.CurveError as e:
        raise typer.BadParameter(str(e)) from None


def _index(oracle: str) -> dict[str, int]:
    import httpx

    from apps.web.backend import reporter_index_prices

    urls = [x.strip() for x in oracle.split(",") if x.strip()]
    with httpx.Client(timeout=3.0) as http:
        got = reporter_index_prices(http, urls)
    if not got:
        warn(f"no index from {', '.join(urls)} (reporter down?): the index column stays empty")
    return got


def _page(recs, limit, offset, cursor, order) -> curve.Page:
    try:
        return curve.page(recs, limit=limit, offset=offset, cursor=cursor, order=order)
    except curve.CurveError as e:
        raise typer.BadParameter(str(e)) from None


def _page_footer(pg: curve.Page, what: str, again: str) -> None:
    if pg.total == 0:
        return
    first, last = pg.offset + 1, pg.offset + len(pg.items)
    tail = f" · next page: [bold]{again} --cursor {pg.next_cursor}[/]" if pg.next_cursor else ""
    out.print(f"[dim]{what} {first}-{last} of {pg.total}[/]{tail}")


@app.command("markets")
def markets_cmd(
    ctx: typer.Context,
    as_json: bool = JSON,
    kind: str = KIND,
    node: str = NODE,
    series: str = SERIES,
    start: str = FROM,
    end: str = TO,
    status: list[str] = typer.Option(None, "--status", help="only these statuses (repeatable): live, stale, ..."),
    limit: int = typer.Option(None, "--limit", help="markets per page (default: 50 in the table, all in --json)"),
    offset: int = typer.Option(0, "--offset", help="skip this many markets"),
    cursor: str = typer.Option(None, "--cursor", help="resume after the previous page (the cursor it printed)"),
) -> None:
    """List markets in listing order: id, symbol, what it means, mark, status, tick and lot.
    Filters combine; with hundreds listed the table pages (--limit/--offset or --cursor)."""
    r = state(ctx).reader()
    f = _filters(kind, node, series, (), start, end, [s.lower() for s in status] if status else None, order="id")
    recs, ms = _select(r, **f)
    now = r.now()
    paging = limit is not None or bool(offset) or bool(cursor)
    if as_json and not paging:  # the whole list, as before paging existed (scripts index it by position)
        print_json([market_json(ms[x.id], now) for x in recs])
        return
    pg = _page(recs, 50 if limit is None else limit, offset, cursor, "id")
    if as_json:
        print_json(
            {
                "markets": [market_json(ms[x.id], now) for x in pg.items],
                "total": pg.total,
                "offset": pg.offset,
                "next_cursor": pg.next_cursor,
            }
        )
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
    for x in pg.items:
        m = ms[x.id]
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
    if not pg.total:
        out.print("[dim]no market matches these filters[/]")
    given = [("--kind", kind), ("--node", node), ("--series", series), ("--from", start), ("--to", end)]
    given += [("--status", x) for x in status or ()] + [("--limit", limit)]
    again = " ".join(["cspread markets"] + [f"{k} {shlex.quote(str(v))}" for k, v in given if v is not None])
    _page_footer(pg, "markets", again)


def _usd(units: int | None, tick: int, signed: bool = False) -> str:
    return "—" if units is None else price(u.base_to_usd(units), u.base_to_usd(tick), signed=signed)


def _point_json(p: curve.Record) -> dict:
    tick = u.base_to_usd(p.price_tick)
    return {
        "id": p.id,
        "symbol": p.symbol,
        "period": p.period,
        "delivery_start": p.delivery_start,
        "delivery_end": p.delivery_end,
        "last_trade_time": p.last_trade_time,
        "mark": price(u.base_to_usd(p.mark_units), tick) if p.mark_units is not None else None,
        "index": price(u.base_to_usd(p.index_units), tick) if p.index_units is not None else None,
        "basis": price(u.base_to_usd(p.basis_units), tick) if p.basis_units is not None else None,
        "settlement_price": price(u.base_to_usd(p.settlement_units), tick) if p.settlement_units is not None else None,
        "open_interest": plain(u.units_to_quantity(p.open_interest_units)),
        "status": p.status,
    }


UNIT = {"POWER": "MWh", "COMPUTE": "GPU-hour", "SPREAD": "GPU-hour"}


@app.command("curve")
def curve_cmd(
    ctx: typer.Context,
    words: list[str] = typer.Argument(
        ...,
        help="what names the series: node and profile (HB_WEST PEAK), a GPU "
        "(H100-SXM), GPU and node for a spread (H100-SXM HB_WEST)",
    ),
    kind: str = KIND,
    start: str = FROM,
    end: str = TO,
    settled: bool = typer.Option(False, "--settled", help="also show settled windows (with their settlement)"),
    oracle: str = ORACLE,
    as_json: bool = JSON,
) -> None:
    """The forward strip of each matching series: one row per delivery window, in delivery order,
    with mark, index, basis (mark - index), open interest and status."""
    r = state(ctx).reader()
    recs, _ = _select(r, oracle, **_filters(kind, None, None, words, start, end))
    found = curve.strips(recs, include_settled=settled)
    if as_json:
        print_json(
            [
                {"series": s.series, "kind": s.kind, "tz": s.tz, "unit": UNIT.get(s.kind, "unit"),
                 "points": [_point_json(p) for p in s.points]}
                for s in found
            ]
        )  # fmt: skip
        return
    if not found:
        raise CliError(
            f"no listed series matches {' '.join(words)}"
            + (" in that window range" if start or end else "")
            + ": see `cspread markets` for what is listed (e.g. `cspread curve HB_WEST PEAK`)"
        )
    for s in found:
        unit = UNIT.get(s.kind, "unit")
        t = Table(title=f"{s.series} forward curve · USD/{unit} · windows in {s.tz}", title_justify="left")
        for col, kw in (
            ("window", {"no_wrap": True}),
            ("starts", {}),
            ("mark", {"justify": "right", "no_wrap": True}),
            ("index", {"justify": "right", "no_wrap": True}),
            ("basis", {"justify": "right", "no_wrap": True}),
            (f"open interest ({unit})", {"justify": "right"}),
            ("status", {}),
            ("trading ends", {}),
        ):
            t.add_column(col, **kw)
        for p in s.points:
            value = (
                f"{_usd(p.settlement_units, p.price_tick)} [dim](settled)[/]"
                if p.status == "settled" and p.settlement_units is not None
                else _usd(p.mark_units, p.price_tick)
            )
            t.add_row(
                p.period,
                when(p.delivery_start),
                value,
                _usd(p.index_units, p.price_tick),
                _usd(p.basis_units, p.price_tick, signed=True),
                num(u.units_to_quantity(p.open_interest_units)),
                status_text(p.status),
                when(p.last_trade_time),
            )
        out.print(t)
    if not oracle:
        out.print("[dim]index: pass --oracle-url (or CSPREAD_ORACLE_URL) to read the reporters' index[/]")


@app.command("calendar")
def calendar_cmd(
    ctx: typer.Context,
    kind: str = KIND,
    node: str = NODE,
    series: str = SERIES,
    start: str = FROM,
    end: str = TO,
    settled: bool = typer.Option(False, "--settled", help="also list markets already settled"),
    as_json: bool = JSON,
) -> None:
    """The settlement calendar: per market, when trading stops, when the settlement value fixes
    (delivery end), when it can be final (plus the dispute window) and at what value (the
    settlement once final, else the mark as today's expectation). --from/--to select by the day
    the window starts."""
    r = state(ctx).reader()
    recs, _ = _select(r, **_filters(kind, node, series, (), start, end))
    if not settled:
        recs = [x for x in recs if x.status != "settled"]
    cal = curve.settlement_calendar(recs)
    if as_json:
        print_json(
            [
                {**_point_json(e.market), "trading_ends": e.trading_ends, "fixes_at": e.fixes_at,
                 "final_from": e.final_from, "value": _usd(e.value_units, e.market.price_tick)
                 if e.value_units is not None else None, "value_is_final": e.value_is_final}
                for e in cal
            ]
        )  # fmt: skip
        return
    t = Table(title="Settlement calendar (times in UTC and local)", title_justify="left")
    for col, kw in (
        ("fixes at", {}),
        ("market", {"no_wrap": True}),
        ("trading ends", {}),
        ("final from", {}),
        ("value (USD/unit)", {"justify": "right", "no_wrap": True}),
        ("status", {}),
    ):
        t.add_column(col, **kw)
    for e in cal:
        v = _usd(e.value_units, e.market.price_tick)
        t.add_row(
            when(e.fixes_at),
            e.market.symbol,
            when(e.trading_ends),
            when(e.final_from),
            f"{v} [dim]({'final' if e.value_is_final else 'mark: expected'})[/]" if e.value_units is not None else v,
            status_text(e.market.status),
        )
    out.print(t)
    if not cal:
        out.print("[dim]nothing fixes in that range[/]")


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
