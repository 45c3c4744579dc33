"""`cspread faucet | deposit | withdraw AMOUNT` (USD): collateral in and out of the margin account."""

from __future__ import annotations

import typer

from apps.cli.common import decimal_arg, ok, print_json, spinner, state, usd

app = typer.Typer()

JSON = typer.Option(False, "--json", help="print the result as JSON")


def _tx(receipt) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def _done(c, what: str, amount, receipt, as_json: bool) -> None:
    acct = c.me()
    if as_json:
        print_json(
            {
                "action": what,
                "amount": amount,
                "tx_hash": _tx(receipt),
                "collateral": acct.collateral,
                "wallet_balance": acct.wallet_balance,
                "free_collateral": acct.free_collateral,
            }
        )
        return
    ok(f"{what} {usd(amount)} USD  [dim]tx {_tx(receipt)}[/]")
    print_balance(acct)


def print_balance(acct) -> None:
    from apps.cli.common import out

    out.print(
        f"  wallet {usd(acct.wallet_balance)} USD · collateral {usd(acct.collateral)} USD · "
        f"free {usd(acct.free_collateral)} USD"
    )


@app.command("faucet")
def faucet_cmd(
    ctx: typer.Context,
    amount: str = typer.Argument("10000", help="USD of devnet MockUSDC to mint"),
    as_json: bool = JSON,
) -> None:
    """Mint devnet collateral (MockUSDC) to your wallet (at most 1,000,000 USD a call)."""
    a = decimal_arg(amount, "AMOUNT")
    c = state(ctx).client()
    with spinner(f"minting {usd(a)} USD…"):
        receipt = c.faucet(a)
    _done(c, "minted", a, receipt, as_json)


@app.command("deposit")
def deposit_cmd(
    ctx: typer.Context, amount: str = typer.Argument(..., help="USD to deposit"), as_json: bool = JSON
) -> None:
    """Move AMOUNT USD from your wallet into your margin account (approves first if needed)."""
    a = decimal_arg(amount, "AMOUNT")
    c = state(ctx).client()
    with spinner(f"depositing {usd(a)} USD (approve + deposit)…"):
        receipt = c.deposit(a)
    _done(c, "deposited", a, receipt, as_json)


@app.command("withdraw")
def withdraw_cmd(
    ctx: typer.Context, amount: str = typer.Argument(..., help="USD to withdraw, or 'max'"), as_json: bool = JSON
) -> None:
    """Withdraw AMOUNT USD of free collateral to your wallet ('max' = all that is free)."""
    c = state(ctx).client()
    a = c.me().free_collateral if amount.strip().lower() == "max" else decimal_arg(amount, "AMOUNT")
    with spinner(f"withdrawing {usd(a)} USD…"):
        receipt = c.withdraw(a)
    _done(c, "withdrew", a, receipt, as_json)
