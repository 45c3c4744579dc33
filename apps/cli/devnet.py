"""`cspread devnet up`: the whole local stack (devnet.stack.Stack) in the foreground.

anvil + deploy + 3 oracle reporters + pusher + liquidator + settler + relay/matcher + market
maker, each a child process started and stopped by PID. Prints the endpoints, the manifest, the
funded test accounts and the environment to paste, then waits; Ctrl-C (or SIGTERM) stops all.

It also writes ``<workdir>/env.sh`` (``source`` it in another shell) and ``<workdir>/devnet.json``
(endpoints, PIDs, user keys) for scripts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

import typer
from rich.table import Table

from apps.cli.common import CliError, err, out, spinner, warn
from core.options import DATA_DIR_ENV
from devnet.replay import replay_offsets

app = typer.Typer(
    help="Run a local devnet (anvil + contracts + oracle + keepers + relay + market maker).", no_args_is_help=True
)

READY = "devnet ready"
N_USERS = 5


def timestamp_arg(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return int(v)
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"--timestamp {v!r}: a unix time or an ISO date/time (2021-02-13T18:00Z: Winter Storm Uri)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


def _clean(workdir: Path) -> None:
    """Forget the previous run's chain-bound files (a new anvil is a new chain)."""
    for name in ("relay.db", "relay.db-wal", "relay.db-shm", "manifest.json", "devnet.json", "env.sh"):
        p = workdir / name
        if p.exists():
            p.unlink()


def _describe(stack, workdir: Path) -> dict:
    from eth_account import Account

    users = {}
    for i in range(1, N_USERS + 1):
        key = stack.keys[f"user{i}"]
        users[f"user{i}"] = {"address": Account.from_key(key).address, "private_key": key}
    pids = {name: p.pid for name, p in stack.processes.items()}
    if stack.anvil and stack.anvil.proc:
        pids = {"anvil": stack.anvil.proc.pid, **pids}
    return {
        "rpc_url": stack.rpc_url,
        "relay_url": stack.relay_url,
        "reporter_urls": list(stack.reporter_urls),
        "manifest": str(stack.manifest_path),
        "log_dir": str(stack.log_dir),
        "pids": pids,
        "ports": dict(stack.ports),
        "users": users,
        "cli_pid": os.getpid(),
    }


def _env_lines(d: dict) -> list[str]:
    lines = [f"export CSPREAD_MANIFEST={d['manifest']}", f"export CSPREAD_RPC_URL={d['rpc_url']}"]
    if d["relay_url"]:
        lines.append(f"export CSPREAD_RELAY_URL={d['relay_url']}")
    if d.get("reporter_urls"):
        lines.append(f"export CSPREAD_ORACLE_URL={d['reporter_urls'][0]}")
    if d.get("web_url"):
        lines.append(f"export CSPREAD_WEB_URL={d['web_url']}")
    lines.append(f"export CSPREAD_PRIVATE_KEY={d['users']['user1']['private_key']}   # user1 (anvil test key)")
    return lines


def _print(d: dict, workdir: Path, stack) -> None:
    t = Table(title="Compute Spread devnet", title_justify="left")
    # labels and pids never wrap; a long path folds instead of squeezing the labels to "web da…"
    t.add_column("what", no_wrap=True)
    t.add_column("where", overflow="fold")
    t.add_column("pid", justify="right", no_wrap=True)
    pids = d["pids"]
    t.add_row("chain (anvil, id 31337)", d["rpc_url"], str(pids.get("anvil", "")))
    if d.get("web_url"):
        t.add_row("web dashboard", d["web_url"], str(pids.get("web", "")))
    if d["relay_url"]:
        t.add_row("order relay + matcher", d["relay_url"], str(pids.get("relay", "")))
        t.add_row("  API docs", d["relay_url"] + "/docs", "")
    for i, url in enumerate(d["reporter_urls"], 1):
        t.add_row(f"oracle reporter {i}", url, str(pids.get(f"reporter{i}", "")))
    for bot in ("pusher", "liquidator", "settler", "lister", "market_maker"):
        if bot in pids:
            port = d["ports"].get(bot)
            t.add_row(
                bot.replace("_", " "),
                f"metrics http://127.0.0.1:{port}/metrics" if port and bot != "market_maker" else "(no port)",
                str(pids[bot]),
            )
    t.add_row("manifest", d["manifest"], "")
    t.add_row("logs", d["log_dir"], "")
    if d.get("replay_offsets"):
        t.add_row("oracle replay offsets (s)", json.dumps(d["replay_offsets"]), "")
    out.print(t)
    u = Table(
        title="Test accounts: anvil's PUBLIC test keys (known to everyone; never use them on a real network)",
        title_justify="left",
    )
    u.add_column("user")
    u.add_column("address", no_wrap=True)
    u.add_column("private key", no_wrap=True)
    for name, x in d["users"].items():
        u.add_row(name, x["address"], x["private_key"])
    out.print(u)
    out.print("Each holds 10,000 ETH for gas; mint devnet USDC with `cspread faucet 10000`.")
    out.print(f"In another shell: [bold]source {workdir / 'env.sh'}[/] (or paste):")
    for line in _env_lines(d):
        out.print(f"  {line}", soft_wrap=True)
    _ = stack


def _start_web(stack):
    """The dashboard on a free port, its log next to the others; a failed start is one line naming the log."""
    from apps.web.server import WebProcess

    log_path = stack.log_dir / "web.log"
    dashboard = WebProcess(
        stack.manifest_path, stack.rpc_url, stack.relay_url, oracle_urls=stack.reporter_urls[:1], log_path=log_path
    )
    try:
        with spinner("starting the web dashboard…"):
            dashboard.start(timeout=60)
    except RuntimeError as e:
        why = _last_error_line(log_path) or str(e)
        raise CliError(f"the web dashboard failed to start: {why} (log: {log_path})") from None
    return dashboard


def _last_error_line(log_path: Path) -> str:
    """The dashboard's own one-line ``error: ...`` if it printed one, else the log's last line."""
    try:
        lines = [x.strip() for x in log_path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    errs = [x for x in lines if x.startswith("error:")]
    return errs[-1][len("error:") :].strip() if errs else lines[-1] if lines else ""


@app.command("up")
def up_cmd(
    workdir: Path = typer.Option(Path(".cspread/devnet"), "--workdir", help="logs, manifest, relay database"),
    timestamp: str | None = typer.Option(
        None, "--timestamp", help="start the chain clock here (unix or ISO; 2021-02-13T18:00Z replays Winter Storm Uri)"
    ),
    markets: Path | None = typer.Option(
        None, "--markets", exists=True, dir_okay=False, help="markets file to list (default markets/default.json)"
    ),
    market_maker: bool = typer.Option(True, "--market-maker/--no-market-maker", help="run the quoting bot"),
    mm_markets: str | None = typer.Option(None, "--mm-markets", help="market ids the market maker quotes: 5,6,7"),
    block_time: float | None = typer.Option(None, "--block-time", help="mine every N s (default: on demand)"),
    offsets: str | None = typer.Option(
        None,
        "--replay-offsets",
        help="oracle replay offsets, JSON "
        '{"ERCOT": s, "PJM": s, "GPU": s} (default: computed so that the '
        "vendored data cover the chain clock)",
    ),
    web: bool = typer.Option(
        False,
        "--web",
        help="also serve the web dashboard (apps.web) on a free port; its URL is in the table and in $CSPREAD_WEB_URL",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar=DATA_DIR_ENV,
        file_okay=False,
        help="the real price data the reporters replay (data/*.csv.gz of a checkout; default: the checkout's data/)",
    ),
) -> None:
    """Start the local stack in the foreground; Ctrl-C stops every process it started."""
    from devnet.stack import Stack

    ts = timestamp_arg(timestamp)
    mm_ids = None
    if mm_markets:
        try:
            mm_ids = [int(x) for x in mm_markets.split(",") if x.strip()]
        except ValueError:
            raise typer.BadParameter("--mm-markets: comma-separated market ids, e.g. 5,6,7") from None
    if offsets is None:
        offs = replay_offsets(ts if ts is not None else int(time.time()))
    else:
        try:
            offs = {str(k): int(v) for k, v in json.loads(offsets).items()}
        except (ValueError, AttributeError, TypeError):
            raise typer.BadParameter('--replay-offsets: JSON like {"ERCOT": -157766400, "GPU": -31536000}') from None
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _clean(workdir)
    stack = Stack(
        workdir,
        anvil_timestamp=ts,
        markets=markets,
        market_maker=market_maker,
        mm_markets=mm_ids,
        block_time=block_time,
        oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps(offs)},
        data_dir=data_dir,
    )
    dashboard = None

    def _term(signum, frame):  # SIGTERM behaves as Ctrl-C
        raise KeyboardInterrupt

    # SIGINT explicitly too: a shell that starts us in the background may have set it to "ignore"
    old = {sig: signal.signal(sig, _term) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            with spinner("starting anvil, deploying, reporters, keepers, relay, market maker (~30 s)…"):
                stack.start()
        except KeyboardInterrupt:
            err.print("[yellow]interrupted during start: everything started so far is stopped[/]")
            raise typer.Exit(130) from None
        except Exception as e:  # StackError carries a log tail: keep the one-line contract, point at the log
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise CliError(f"devnet failed to start: {first} (logs in {stack.log_dir})") from None
        if web:
            dashboard = _start_web(stack)
        d = _describe(stack, workdir)
        if dashboard is not None:
            d["web_url"] = dashboard.url
            d["pids"]["web"] = dashboard.proc.pid
        d["replay_offsets"] = offs
        (workdir / "devnet.json").write_text(json.dumps(d, indent=2) + "\n")
        (workdir / "env.sh").write_text("\n".join(_env_lines(d)) + "\n")
        _print(d, workdir, stack)
        print(f"{READY}: {d['rpc_url']} (Ctrl-C to stop)", flush=True)
        reported: set[str] = set()
        try:
            while True:
                time.sleep(1.0)
                for name, alive in stack.alive().items():
                    if not alive and name not in reported:
                        reported.add(name)
                        warn(f"{name} exited; see {stack.log_dir / (name + '.log')}")
        except KeyboardInterrupt:
            pass
    finally:
        n = len(stack.processes) + (1 if stack.anvil else 0) + (1 if dashboard is not None else 0)
        with spinner("stopping…"):
            if dashboard is not None:
                dashboard.stop()
            stack.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    out.print(f"stopped {n} processes")
