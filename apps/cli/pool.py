"""`cspread pool show | join | leave | declare POOL ...`: a pool vault (issue 15) from a member's side.

cspread pool show 0xPool            NAV, my share, free collateral, positions and coverage
cspread pool join 0xPool 5000       deposit 5,000 USD at NAV
cspread pool leave 0xPool 1000      paid now, or queued beyond the pool's free collateral
cspread pool declare 0xPool H100-SXM HB_WEST 4 0.5
cspread pool create --gpu H100-SXM --node HB_WEST --manager 0xKeeper --warp   (devnet: deploy one)

POOL is the pool's address or its name in the manifest's "pools" (`cspread pool create` records it).
"""

from __future__ import annotations

import typer

from apps.cli.common import decimal_arg, num, ok, out, print_json, spinner, state, usd

app = typer.Typer(help="Pools: join, leave, declare capacity, see your share and the pool's hedge.")

JSON = typer.Option(False, "--json", help="print the result as JSON")
POOL = typer.Argument(..., help="the pool's address")


def _pool(ctx: typer.Context, address: str, write: bool):
    """The PoolClient (write) or PoolReader (read) for `address` (an address or a manifest pool name)."""
    from sdk.pool import PoolClient, PoolReader, pool_address

    s = state(ctx)
    try:
        address = pool_address(s.reader().manifest.data, address)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
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
    closed = p.closed_reason()
    data = {
        "pool": p.address,
        "nav_usd": p.nav(),
        "free_usd": p.free_usd(),
        "closed_reason": closed,
        "joins_closed_reason": p.joins_closed_reason(closed),
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
    elif data["joins_closed_reason"]:
        out.print(f"  joins closed (exits open): {data['joins_closed_reason']}")
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


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    gpu: list[str] = typer.Option(..., "--gpu", help="GPU class the pool hedges (repeatable), e.g. H100-SXM"),
    node: list[str] = typer.Option(..., "--node", help="grid node (repeatable), e.g. HB_WEST"),
    manager: str = typer.Option(..., "--manager", help="address that approves the pool's hedge orders"),
    name: str = typer.Option("default", "--name", help="the pool's name under the manifest's pools"),
    delay: int = typer.Option(3600, "--delay", help="owner's delay for limits and markets, s (3600..2592000)"),
    max_hedge: str = typer.Option("0.8", "--max-hedge", help="largest hedged share of committed hours, 0..1"),
    max_margin: str = typer.Option("0.5", "--max-margin", help="largest initial margin / equity, 0..1"),
    warp: bool = typer.Option(
        False, "--warp", help="devnet only: move anvil's clock past the delay and apply the markets"
    ),
    windows: int = typer.Option(
        None,
        "--windows",
        min=1,
        help="allow only the next N windows not yet in delivery per GPU class and node (default: every listed one)",
    ),
    as_json: bool = JSON,
) -> None:
    """Deploy a pool owned by your key (devnet tooling) and record it in the manifest."""
    from dataclasses import replace

    from core import units as u
    from devnet.pool import PoolLimits, create_pool

    s = state(ctx)
    kw = s.key_kwargs()
    if "private_key" not in kw:
        raise typer.BadParameter("pool create signs with a hex key (CSPREAD_PRIVATE_KEY or --key-env), not a keyfile")
    hedge, margin = decimal_arg(max_hedge, "--max-hedge"), decimal_arg(max_margin, "--max-margin")
    for v, flag in ((hedge, "--max-hedge"), (margin, "--max-margin")):
        if not 0 < v <= 1:
            raise typer.BadParameter(f"{flag} is a fraction in (0, 1]")
    if not 3600 <= delay <= 30 * 86400:
        raise typer.BadParameter("--delay must be 3600..2592000 s (the pool's bounds)")
    limits = replace(PoolLimits(), max_hedge_bps=u.fraction_to_bps(hedge), max_margin_bps=u.fraction_to_bps(margin))
    with spinner("deploying the pool…"):
        entry = create_pool(
            s.rpc,
            s.manifest,
            kw["private_key"],
            manager,
            gpu_classes=gpu,
            nodes=node,
            name=name,
            limits=limits,
            delay=delay,
            warp=warp,
            windows=windows,
        )
    if as_json:
        print_json({"name": name, **entry})
        return
    how = "allowed" if entry["applied"] else f"queued (apply after {delay} s)"
    ok(f"pool {name} at {entry['address']}: {len(entry['markets'])} markets {how}")
