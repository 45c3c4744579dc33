"""Queue, list, execute and cancel owner calls through the protocol's Timelock.

    python -m scripts.timelock --manifest deployments/11155111.json --rpc $SEPOLIA_RPC_URL status
    python -m scripts.timelock ... --key-env ADMIN_KEY queue Exchange set_fees 3 6
    python -m scripts.timelock ... --key-env ADMIN_KEY queue Clearinghouse set_market_params 4 \\
        '[15000000, 2500, 12000000, 1500, 3600, 3600, 1000000000000]'
    python -m scripts.timelock ... --key-env ADMIN_KEY execute 0x<id>     # after its eta
    python -m scripts.timelock ... --key-env ADMIN_KEY cancel 0x<id>

Arguments are JSON when they parse (numbers, true/false, [..] for arrays and structs), else
strings (addresses, 0x.. bytes32). The admin's private key is read from the environment
variable named by --key-env, never from the command line. `status` needs no key: anyone can
see what is queued, decoded, and when it can run. See docs/protocol.md, "Timelock and roles".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

import click
from eth_account import Account
from web3 import Web3

from core.manifest import Manifest
from sdk.errors import ComputeSpreadError
from sdk.timelock import DEFAULT_SLACK, TimelockAdmin, parse_arg


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
@click.option("--manifest", default="deployments/31337.json", show_default=True, help="Deployment manifest.")
@click.option("--rpc", default="http://127.0.0.1:8545", show_default=True, help="JSON-RPC URL.")
@click.option("--key-env", default=None, help="Environment variable holding the Timelock admin's private key.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def cli(ctx, manifest, rpc, key_env, as_json):
    """Owner calls through the Timelock."""
    account = None
    if key_env:
        key = os.environ.get(key_env)
        if not key:
            raise click.UsageError(f"--key-env {key_env}: the environment variable is not set")
        account = Account.from_key(key.strip())
    w3 = Web3(Web3.HTTPProvider(rpc))
    ctx.obj = {"admin": TimelockAdmin(w3, Manifest.load(manifest), account), "json": as_json, "w3": w3}


def _print(ctx, payload: dict, text: str) -> None:
    click.echo(json.dumps(payload, indent=1) if ctx.obj["json"] else text)


@cli.command()
@click.pass_context
def status(ctx):
    """Delay, admin and every queued call with its eta (no key needed)."""
    admin: TimelockAdmin = ctx.obj["admin"]
    now = int(ctx.obj["w3"].eth.get_block("latest")["timestamp"])
    queued = admin.queued()
    lines = [
        f"Timelock {admin.timelock.address}  delay {admin.delay()} s  admin {admin.admin()}",
        f"{len(queued)} queued call(s)",
    ]
    for q in queued:
        ready = "ready" if now >= q.eta else f"in {q.eta - now} s"
        lines.append(f"  {q.id}  eta {_when(q.eta)} ({ready})  {q.describe()}")
    _print(
        ctx,
        {
            "timelock": admin.timelock.address,
            "delay": admin.delay(),
            "admin": admin.admin(),
            "now": now,
            "queued": [q.as_json() for q in queued],
        },
        "\n".join(lines),
    )


@cli.command()
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--eta", type=int, default=None, help="Unix seconds (default: now + delay + slack).")
@click.option("--slack", type=int, default=DEFAULT_SLACK, show_default=True, help="Seconds added to the earliest eta.")
@click.option("--value", type=int, default=0, help="Wei sent with the call.")
@click.pass_context
def queue(ctx, contract, function, args, eta, slack, value):
    """Announce CONTRACT.FUNCTION(ARGS...) (admin)."""
    q = ctx.obj["admin"].queue(contract, function, [parse_arg(a) for a in args], eta=eta, value=value, slack=slack)
    _print(ctx, q.as_json(), f"queued {q.id}\n  {q.describe()}\n  eta {_when(q.eta)} ({q.eta})")


@cli.command()
@click.argument("op_id")
@click.pass_context
def execute(ctx, op_id):
    """Run a queued call whose eta has passed (admin)."""
    admin: TimelockAdmin = ctx.obj["admin"]
    q = admin.find(op_id)
    receipt = admin.execute(q)
    _print(ctx, {"executed": q.as_json(), "tx": receipt["transactionHash"].hex()}, f"executed {q.describe()}")


@cli.command()
@click.argument("op_id")
@click.pass_context
def cancel(ctx, op_id):
    """Drop a queued call (admin)."""
    admin: TimelockAdmin = ctx.obj["admin"]
    q = admin.find(op_id)
    admin.cancel(q)
    _print(ctx, {"cancelled": q.as_json()}, f"cancelled {q.describe()}")


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (ComputeSpreadError, LookupError, PermissionError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
