"""`cspread statement ACCOUNT --month 2027-01..2027-12 [--out DIR]`: the hedge statement a lender reads.

Thin: sdk.statement reads the chain at one block, core.statement computes, apps.statement draws
the PDF and PNG. Prints where the files went and the headline figures (``--json``: all of them).
"""

from __future__ import annotations

from pathlib import Path

import typer

from apps.cli.common import out, print_json, state

app = typer.Typer()


@app.command("statement")
def statement_cmd(
    ctx: typer.Context,
    address: str | None = typer.Argument(None, help="the account (default: your key's)"),
    month: str = typer.Option(
        ..., "--month", "--months", help="delivery months: YYYY-MM..YYYY-MM (e.g. 2027-01..2027-12) or one YYYY-MM"
    ),
    out_dir: Path = typer.Option(Path("."), "--out", help="directory for the PDF and PNG (created)"),
    block: int | None = typer.Option(None, "--block", help="read the chain at this block (default: the head)"),
    site_scale: str = typer.Option(
        "1",
        "--site-scale",
        help="the site's size as a multiple of the hedged size, for the revenue grid (2 = half hedged)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print every figure and its source as JSON"),
) -> None:
    """A PDF + PNG: positions by delivery month, locked-in spread per GPU-hour and per MWh, margin
    posted, the revenue floor under index and power moves, each figure with its block and tx."""
    from apps.statement import write
    from core import statement as cs
    from sdk.statement import statement

    st_ = state(ctx)
    who = address if address is not None else st_.address(None)
    st = statement(st_.reader(), who, month, block=block, site_scale=site_scale)
    pdf, png = write(st, out_dir)
    if as_json:
        print_json({**cs.as_json(st), "pdf": str(pdf), "png": str(png)})
        return
    out.print(f"hedge statement of {st.account}, chain {st.chain_id} block {st.block}")
    for m in st.months:
        per_h = cs.usd(m.spread_per_gpu_hour, 4) if m.spread_per_gpu_hour is not None else "—"
        out.print(
            f"  {m.month}: {cs.units_qty(m.gpu_hours)} GPU-hours, {cs.units_qty(m.mwh)} MWh hedged; "
            f"locked {cs.usd(m.locked)} USD ({per_h} USD/GPU-hour)"
        )
    out.print(
        f"  revenue floor with the hedge: {cs.usd(st.grid.floor)} USD; collateral {cs.usd(st.margin.collateral)} USD"
    )
    out.print(f"wrote {pdf}\nwrote {png}")
