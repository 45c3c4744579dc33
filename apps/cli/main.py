"""`cspread`: the Compute Spread command line, thin over the SDK (sdk.reader / sdk.client).

One typer sub-app per group, one module each (typer's "One File Per Command"):

    markets.py   markets, curve, calendar, book
    funds.py     faucet, deposit, withdraw
    trade.py     buy, sell, cancel, orders
    account.py   account, positions, fills, settlements
    hedge.py     hedge spread, hedge power
    statement.py statement (the hedge statement PDF a lender reads)
    devnet.py    devnet up

Global options come before the command (``cspread --rpc URL markets``) and from the environment:
CSPREAD_MANIFEST, CSPREAD_RPC_URL, CSPREAD_RELAY_URL, CSPREAD_PRIVATE_KEY (or --key-env NAME /
--keyfile PATH). Every read takes ``--json``. Errors: one red line on stderr, exit code 1
(usage errors: 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from typer._click.exceptions import ClickException, NoSuchOption, UsageError  # typer vendors click
from typer.core import TyperGroup

from apps.cli import account, devnet, funds, hedge, markets, trade
from apps.cli.common import DEFAULT_MANIFEST, DEFAULT_RPC, CliError, State, fail, fit_width


class _Root(TyperGroup):
    """Turns every failure below the root into ``error: <message>`` + exit 1 (never a traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NoSuchOption as e:
            raise _negative_number_hint(e) from None
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as e:  # noqa: BLE001 - the one place errors become a line
            if os.environ.get("CSPREAD_DEBUG"):
                raise
            fail(_message(e))


def _negative_number_hint(e: NoSuchOption) -> ClickException:
    """``cspread sell 5 1 -10`` reads ``-10`` as options ``-1 -0``: say how to pass a negative number."""
    import re
    import sys

    name = e.option_name or ""
    if not re.fullmatch(r"-\d[\d.]*", name):
        return e
    negs = [a for a in sys.argv[1:] if re.fullmatch(r"-\d[\d.,_]*", a)]
    shown = negs[0] if negs else name + "…"
    return UsageError(
        f"{shown} looks like an option: to pass a negative number, put `--` before the arguments, "
        f"e.g. `cspread sell MARKET QTY -- {shown}` (power prices can be negative)",
        e.ctx,
    )


def _message(e: BaseException) -> str:
    from sdk.errors import ComputeSpreadError

    if isinstance(e, (ComputeSpreadError, CliError)):
        return _cli_words(str(e), e)
    try:
        from devnet.anvil import DevnetError

        if isinstance(e, DevnetError):
            return str(e).splitlines()[0] if str(e) else "devnet failed"
    except ImportError:  # pragma: no cover
        pass
    # anything else (transport failures, web3 internals): still one readable line, no revert blob
    from sdk.errors import decode_revert, revert_reason

    if revert_reason(e):
        return str(decode_revert(e))
    text = str(e) or type(e).__name__
    if isinstance(e, (ConnectionError, OSError)) or "Connection" in type(e).__name__:
        return f"{text} (is the node / relay running?)"
    return f"{type(e).__name__}: {text} (set CSPREAD_DEBUG=1 for a traceback)"


# the SDK's advice names Python calls; on the command line name the command instead
_SDK_TO_CLI = (
    ("(devnet: client.faucet())", "(devnet: `cspread faucet`)"),
    ("list them with markets()", "list them with `cspread markets`"),
    ("see account().collateral", "see `cspread account`"),
    ("approve the Clearinghouse first (client.approve)", "deposit again (it approves first)"),
    ("(devnet: client.faucet)", "(devnet: `cspread faucet`)"),
)


def _cli_words(text: str, e: BaseException) -> str:
    if text.startswith("cannot reach the RPC"):  # drop the transport's retry noise
        url = text.split(" ")[5].rstrip(":") if len(text.split(" ")) > 5 else "?"
        return (
            f"cannot reach the RPC at {url}: is the node running? (`cspread devnet up` starts one; "
            f"--rpc / CSPREAD_RPC_URL point elsewhere)"
        )
    for a, b in _SDK_TO_CLI:
        text = text.replace(a, b)
    return text


app = typer.Typer(
    cls=_Root,
    name="cspread",
    help="Compute Spread: futures on GPU-hours, nodal power and the compute spread between them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    manifest: str = typer.Option(
        DEFAULT_MANIFEST,
        "--manifest",
        envvar="CSPREAD_MANIFEST",
        help="deployment manifest (deployments/<chain_id>.json)",
    ),
    # --rpc-url/--relay-url: the services' names (core/options.py); --rpc/--relay: this CLI's own, kept
    rpc: str = typer.Option(
        DEFAULT_RPC, "--rpc-url", "--rpc", envvar="CSPREAD_RPC_URL", help="JSON-RPC URL of the chain"
    ),
    relay: str | None = typer.Option(
        None, "--relay-url", "--relay", envvar="CSPREAD_RELAY_URL", help="order relay URL"
    ),
    key_env: str | None = typer.Option(
        None,
        "--key-env",
        envvar="CSPREAD_KEY_ENV",
        help="name of an environment variable holding the private key (default: CSPREAD_PRIVATE_KEY)",
    ),
    keyfile: Path | None = typer.Option(
        None,
        "--keyfile",
        envvar="CSPREAD_KEYFILE",
        help="eth keystore JSON (password from --password-env, CSPREAD_KEYFILE_PASSWORD or a prompt)",
    ),
    password_env: str | None = typer.Option(
        None, "--password-env", help="environment variable holding the keyfile password"
    ),
) -> None:
    if key_env and keyfile:
        raise typer.BadParameter("give either --key-env or --keyfile, not both")
    fit_width()
    ctx.obj = State(
        manifest=manifest, rpc=rpc, relay=relay or None, key_env=key_env, keyfile=keyfile, password_env=password_env
    )


for _module in (markets, funds, trade, account):
    app.add_typer(_module.app)
app.add_typer(hedge.app, name="hedge")
app.add_typer(devnet.app, name="devnet")
app.add_typer(__import__("apps.cli.pool", fromlist=["app"]).app, name="pool")  # cspread pool (issue 15)
app.add_typer(__import__("apps.cli.index", fromlist=["app"]).app, name="index")  # cspread index value (oracle maths)
app.add_typer(__import__("apps.cli.statement", fromlist=["app"]).app)  # cspread statement (issue 15)


def main() -> None:  # pragma: no cover - `python -m apps.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
