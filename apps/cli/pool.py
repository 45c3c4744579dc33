"""`cspread pool show | join | leave | declare POOL ...`: a pool vault (issue 15) from a member's side.

cspread pool show 0xPool            NAV, my share, free collateral, positions and coverage
cspread pool join 0xPool 5000       deposit 5,000 USD at NAV
cspread pool leave 0xPool 1000      paid now, or queued beyond the pool's free collateral
cspread pool declare 0xPool H100-SXM HB_WEST 4 0.5
"""

from __future__ import annotations

import typer

from apps.cli.common import decimal_arg, num, ok, out, print_json, spinner, state, usd

app = typer.Typer(help="Pools: join, leave, declare capacity, see your share and the pool's hedge.")

JSON = typer.Option(False, "--json", help="print the result as JSON")
POOL = typer.Argument(..., help="the pool's address")


def _pool(ctx: typer.Context, address: str, write: bool):
    """The PoolClient (write) or PoolReader (read) for `address` (tests replace this)."""
    from sdk.pool import PoolClient, PoolReader

    s = state(ctx)
    if write or s.has_key():
        return PoolClient(s.client(), address)
    return PoolReader.at(s.reader(), address)


def _tx(receipt) -> str:
    h = receipt["transactionHash"] if isinstance(receipt, dict) else getattr(receipt, "transactionHash", b"")
    return "0x" + bytes(h).hex() if h else ""


@app.command("show")
def show_cmd(ctx: typer.Context, pool: str = POOL, as_json: bool = JSON) -> None:
    """NAV, your share, free collateral, the pool's positions, their coverage of declared capacity."""
    p = _pool(ctx, pool, write=False)
    mine = p.my_share() if hasattr(p, "my_share") else None
    positions = p.positions()
    per_hour = p.hedged_margin_per_gpu_hour()
    data = {
        "pool": p.address,
        "nav_usd": p.nav(),
        "free_usd": p.free_usd(),
        "closed_reason": p.closed_reason(),
        "my_share": None
        if mine is None
        else {"shares": mine.shares, "value_usd": mine.value_usd, "fraction": mine.fraction},
        "hedged_margin_per_gpu_hour_usd": per_hour,
        "positions": [
            {
                "market_id": x.market_id,
                "quantity": x.quantity,
                "open_notional_usd": x.open_notional_usd,
                "hedge_cap": x.hedge_cap,
                "coverage": x.coverage,
            }
            for x in positions
        ],
    }
    if as_json:
        print_json(data)
        return
    out.print(f"pool {p.address}: NAV {usd(data['nav_usd'])} USD · free {usd(data['free_usd'])} USD")
    if data["closed_reason"]:
        out.print(f"  joins and exits closed: {data['closed_reason']}")
    if mine is not None:
        out.print(f"  your share {usd(mine.value_usd)} USD ({num(mine.fraction * 100)}%)")
    if per_hour is not None:
        out.print(f"  margin posted per hedged GPU-hour {usd(per_hour)} USD")
    for x in positions:
        cov = "-" if x.coverage is None else f"{num(x.coverage * 100)}%"
        out.print(f"  market {x.market_id}: {num(x.quantity)} (cap {num(x.hedge_cap)}), coverage {cov}")


@app.command("join")
def join_cmd(
    ctx: typer.Context, pool: str = POOL, amount: str = typer.Argument(..., help="USD"), as_json: bool = JSON
) -> None:
    """Deposit AMOUNT USD into the pool at NAV."""
    a = decimal_arg(amount, "AMOUNT")
    p = _pool(ctx, pool, write=True)
    with spinner(f"joining with {usd(a)} USD…"):
        receipt = p.join(a)
    if as_json:
        print_json({"action": "join", "amount": a, "tx_hash": _tx(receipt), "share_usd": p.my_share().value_usd})
        return
    ok(f"joined {usd(a)} USD; your share {usd(p.my_share().value_usd)} USD")


@app.command("leave")
def leave_cmd(
    ctx: typer.Context, pool: str = POOL, amount: str = typer.Argument(..., help="USD"), as_json: bool = JSON
) -> None:
    """Take AMOUNT USD out: paid now within free collateral, else queued (paid at NAV when served)."""
    a = decimal_arg(amount, "AMOUNT")
    p = _pool(ctx, pool, write=True)
    with spinner(f"leaving with {usd(a)} USD…"):
        how, receipt = p.leave(a)
    if as_json:
        print_json({"action": "leave", "amount": a, "result": how, "tx_hash": _tx(receipt)})
        return
    ok(f"{usd(a)} USD {'paid' if how == 'paid' else 'queued in the exit queue'}")


@app.command("declare")
def declare_cmd(
    ctx: typer.Context,
    pool: str = POOL,
    gpu_class: str = typer.Argument(..., help="e.g. H100-SXM"),
    node: str = typer.Argument(..., help="grid node, e.g. HB_WEST"),
    count: int = typer.Argument(..., help="GPUs (0 withdraws the declaration)"),
    commit: str = typer.Argument("1", help="fraction of their hours committed, 0..1"),
) -> None:
    """Declare your capacity: COUNT GPUs of GPU_CLASS at NODE, COMMIT of their hours."""
    f = decimal_arg(commit, "COMMIT")
    if not 0 <= f <= 1:
        raise typer.BadParameter("COMMIT is a fraction between 0 and 1")
    p = _pool(ctx, pool, write=True)
    with spinner("declaring…"):
        p.declare(gpu_class, node, count, f)
    ok(f"declared {count} {gpu_class} at {node}, {num(f * 100)}% of their hours")
