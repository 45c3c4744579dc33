"""`cspread buy | sell MARKET QTY PRICE`, `cspread cancel`, `cspread orders`.

A plain buy/sell signs an EIP-712 limit order and posts it to the relay (pre-checked: market
open, mark fresh, margin for the order fully filled). ``--take HASH`` / ``--take-best`` instead
fill resting orders of the relay's book on-chain at their (maker) price, no worse than PRICE.
"""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from apps.cli.common import (
    CliError,
    decimal_arg,
    expiry_arg,
    num,
    ok,
    out,
    price,
    print_json,
    spinner,
    state,
    tick_of,
    usd,
    warn,
    when,
)
from core import units as u

app = typer.Typer()

JSON = typer.Option(False, "--json", help="machine-readable output (Decimals as strings)")


def _fill_json(f, me: str) -> dict:
    return {
        "order_hash": f.order_hash,
        "market_id": f.market_id,
        "side": f.side_of(me),
        "quantity": f.quantity,
        "price": f.price,
        "fee": f.fee_of(me),
        "tx_hash": f.tx_hash,
        "block": f.block_number,
    }


def _order_json(s, remaining: int | None = None) -> dict:
    o = s.order
    d = {
        "hash": s.hash,
        "market_id": o.market_id,
        "side": o.side,
        "quantity": o.size,
        "price": o.limit,
        "expiry": o.expiry,
        "reduce_only": o.reduce_only,
        "nonce": str(o.nonce),
        "trader": o.trader,
        "signature": s.signature,
    }
    if remaining is not None:
        d["remaining"] = u.units_to_quantity(remaining)
    return d


def _take(c, st, m, side: str, q_units: int, limit: Decimal, take: str | None) -> tuple[list, int]:
    """Fill resting orders of the relay's book on-chain; returns (fills, thousandths left)."""

    is_buy = side == "buy"
    limit_units = u.price_to_units(m, limit, side)
    book = st.relay_client().book(m.id)
    if take:
        found = [s for s in book.orders if s.hash.lower() == take.lower()]
        if not found:
            raise CliError(
                f"order {take} is not open in {m.symbol}'s book at the relay "
                f"(filled, cancelled, expired or in another market); see `cspread book {m.id}`"
            )
        s = found[0]
        if s.order.is_buy == is_buy:
            other = "sell" if is_buy else "buy"
            raise CliError(f"order {take} is a {s.order.side} order: take it with `cspread {other} ... --take`")
        if (s.order.price > limit_units) if is_buy else (s.order.price < limit_units):
            raise CliError(
                f"order {take} is priced at {price(s.order.limit, m.tick)} USD, worse than your limit "
                f"{price(limit, m.tick)} USD"
            )
        pool = [s]
    else:
        me = c.address.lower()
        pool = [
            s
            for s in book.orders
            if s.order.is_buy != is_buy
            and s.order.trader.lower() != me
            and (s.order.price <= limit_units if is_buy else s.order.price >= limit_units)
        ]
        pool.sort(key=lambda s: s.order.price if is_buy else -s.order.price)  # stable: time priority kept
        if not pool:
            raise CliError(
                f"no {'ask at or below' if is_buy else 'bid at or above'} {price(limit, m.tick)} USD in "
                f"{m.symbol}'s book (other than your own); place a limit order instead"
            )
    fills, left = [], q_units
    for s in pool:
        if left < m.min_quantity:
            break
        q = min(left, c.remaining(s.order)) // m.quantity_step * m.quantity_step
        if q < m.min_quantity:
            continue
        with spinner(
            f"{side} {u.units_to_quantity(q)} {m.unit} @ {price(s.order.limit, m.tick)}: waiting for the fill…"
        ):
            fills.append(c.fill(s, u.units_to_quantity(q)))
        left -= q
    if not fills:
        raise CliError(
            f"nothing could be taken: the crossing orders have less than {m.symbol}'s minimum {num(m.min_size)} left"
        )
    return fills, left


def _trade(
    ctx: typer.Context,
    side: str,
    market: str,
    qty: str,
    price_: str,
    take: str | None,
    take_best: bool,
    reduce_only: bool,
    expiry: str | None,
    no_post: bool,
    as_json: bool,
) -> None:

    if take and take_best:
        raise typer.BadParameter("give --take ORDER_HASH or --take-best, not both")
    if (take or take_best) and (expiry or reduce_only or no_post):
        raise typer.BadParameter("--expiry, --reduce-only and --no-post apply to limit orders, not to --take")
    q = decimal_arg(qty, "QTY")
    p = decimal_arg(price_, "PRICE")
    st = state(ctx)
    c = st.client()
    m = c.market(market)
    q_units = u.quantity_to_step(m, q)
    if take or take_best:
        fills, left = _take(c, st, m, side, q_units, p, take)
        if as_json:
            print_json({"fills": [_fill_json(f, c.address) for f in fills], "unfilled": u.units_to_quantity(left)})
            return
        for f in fills:
            ok(
                f"{f.side_of(c.address)} {num(f.quantity)} {m.unit} {m.symbol} @ {price(f.price, m.tick)} USD, fee "
                f"{usd(f.fee_of(c.address))} USD  [dim]tx {f.tx_hash}[/]"
            )
        if left:
            warn(f"{num(u.units_to_quantity(left))} {m.unit} not filled (no more crossing orders)")
        return
    exp = expiry_arg(expiry, c.now())
    post = not no_post and st.relay is not None
    with spinner("checking margin and signing…"):
        signed = c.place_order(m.id, side, q, p, expiry=exp, reduce_only=reduce_only, post=post)
    o = signed.order
    if as_json:
        print_json({**_order_json(signed), "posted": post})
        return
    rounded = "" if o.limit == p and o.size == q else f" [dim](rounded from {num(q)} @ {p} to tick and lot)[/]"
    verb = "posted" if post else "signed"
    ok(
        f"{verb} {o.side} {num(o.size)} {m.unit} {m.symbol} @ {price(o.limit, m.tick)} USD"
        f"{' reduce-only' if o.reduce_only else ''}, expires {when(o.expiry)}{rounded}"
    )
    out.print(f"  order hash {signed.hash}")
    if not post:
        warn(
            "not posted to a relay (no --relay / CSPREAD_RELAY_URL, or --no-post): share the signed order "
            "below (`--json`) for someone to fill on-chain"
        )
        print_json(_order_json(signed))


_QTY = typer.Argument(..., help="size in the market's unit (MWh or GPU-hours)")
_PRICE = typer.Argument(..., help="limit price, USD per unit (negative: put `--` before it)")
_TAKE = typer.Option(None, "--take", metavar="ORDER_HASH", help="fill this resting order on-chain instead")
_BEST = typer.Option(False, "--take-best", help="fill the best crossing orders on-chain, up to QTY")
_RO = typer.Option(False, "--reduce-only", help="only ever reduce your position")
_EXP = typer.Option(None, "--expiry", help="30m, 12h, 7d, a unix time or an ISO time (default 24h)")
_NOPOST = typer.Option(False, "--no-post", help="sign only; print the signed order instead of posting it")


@app.command("buy")
def buy_cmd(
    ctx: typer.Context,
    market: str = typer.Argument(..., help="market id or symbol"),
    qty: str = _QTY,
    price: str = _PRICE,
    take: str | None = _TAKE,
    take_best: bool = _BEST,
    reduce_only: bool = _RO,
    expiry: str | None = _EXP,
    no_post: bool = _NOPOST,
    as_json: bool = JSON,
) -> None:
    """Buy QTY of MARKET at PRICE or better: a limit order posted to the relay, or --take on-chain."""
    _trade(ctx, "buy", market, qty, price, take, take_best, reduce_only, expiry, no_post, as_json)


@app.command("sell")
def sell_cmd(
    ctx: typer.Context,
    market: str = typer.Argument(..., help="market id or symbol"),
    qty: str = _QTY,
    price: str = _PRICE,
    take: str | None = _TAKE,
    take_best: bool = _BEST,
    reduce_only: bool = _RO,
    expiry: str | None = _EXP,
    no_post: bool = _NOPOST,
    as_json: bool = JSON,
) -> None:
    """Sell QTY of MARKET at PRICE or better: a limit order posted to the relay, or --take on-chain."""
    _trade(ctx, "sell", market, qty, price, take, take_best, reduce_only, expiry, no_post, as_json)


@app.command("cancel")
def cancel_cmd(
    ctx: typer.Context,
    order_hash: str | None = typer.Argument(None, metavar="[ORDER_HASH]", help="one of your orders"),
    all_: bool = typer.Option(False, "--all", help="kill every order you signed so far (one tx)"),
    soft: bool = typer.Option(
        False, "--soft", help="only withdraw from the relay (no gas; the signed order stays valid on-chain)"
    ),
    as_json: bool = JSON,
) -> None:
    """Cancel one order (on-chain and at the relay) or --all of them."""
    if bool(order_hash) == all_:
        raise typer.BadParameter("give an ORDER_HASH or --all (one of them)")
    st = state(ctx)
    c = st.client()
    if all_ and not soft:
        with spinner("cancelling every order on-chain (raising your minimum nonce)…"):
            n = c.cancel_all()
        if as_json:
            print_json({"cancelled": "all", "min_nonce": str(n)})
        else:
            ok(f"every order you signed before now is dead on-chain (min nonce {n}); the relay drops them shortly")
        return
    mine = st.relay_client().orders(c.address)
    targets = mine if all_ else [s for s in mine if s.hash.lower() == order_hash.lower()]
    if not targets:
        if all_:
            raise CliError("you have no open orders at the relay")
        raise CliError(
            f"order {order_hash} is not among your open orders at the relay (see `cspread orders`); "
            f"to kill everything on-chain use `cspread cancel --all`"
        )
    done = []
    for s in targets:
        if soft:
            c.relay.cancel(s.hash, c._signer.sign_text(f"cancel:{s.hash}"))
        else:
            with spinner(f"cancelling {s.hash[:12]}… on-chain"):
                c.cancel(s)
        done.append(s.hash)
    if as_json:
        print_json({"cancelled": done, "on_chain": not soft})
        return
    for h in done:
        ok(f"cancelled {h}{' at the relay (still valid on-chain)' if soft else ' (on-chain and at the relay)'}")


@app.command("orders")
def orders_cmd(
    ctx: typer.Context,
    address: str | None = typer.Argument(None, help="default: your account"),
    market: str | None = typer.Option(None, "--market", help="only this market (id or symbol)"),
    as_json: bool = JSON,
) -> None:
    """Your open orders at the relay, with what remains of each on-chain."""
    st = state(ctx)
    who = st.address(address)
    r = st.reader()
    orders = st.relay_client().orders(who)
    if market is not None:
        mid = r.market(market).id
        orders = [s for s in orders if s.order.market_id == mid]
    rows = [(s, r.remaining(s.order)) for s in orders]
    if as_json:
        print_json([_order_json(s, rem) for s, rem in rows])
        return
    if not rows:
        out.print(f"[dim]no open orders for {who} at the relay[/]")
        return
    symbols = {m["id"]: m["symbol"] for m in r.manifest.markets}
    t = Table(title=f"Open orders of {who}", title_justify="left")
    for col in ("hash", "market", "side", "qty", "remaining", "price (USD)", "expires"):
        t.add_column(
            col, justify="right" if col in ("qty", "remaining", "price (USD)") else "left", no_wrap=col == "hash"
        )
    for s, rem in rows:
        o = s.order
        t.add_row(
            s.hash,
            symbols.get(o.market_id, str(o.market_id)),
            f"[{'green' if o.is_buy else 'red'}]{o.side}[/]" + (" RO" if o.reduce_only else ""),
            num(o.size),
            num(u.units_to_quantity(rem)),
            price(o.limit, tick_of(r, o.market_id)),
            when(o.expiry),
        )
    out.print(t)
