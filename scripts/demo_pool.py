"""Demo act three (issue 15): 1,000 home hosts hedge as one pool over the replayed month.

    python -m scripts.demo_pool [--hosts 1000]

A devnet on the demo's clock (anvil from 2021-01-31T23:00Z: ERCOT February 2021 unshifted, the
GPU quotes mapped onto it), the demo's markets plus the same H100-SXM compute spread at a second
ERCOT node (HB_NORTH), a Pool allowing both February windows. Each host has a handful of
H100-SXM GPUs (the vendored quotes' H100_80GB_SXM5 class; 2-8 each) at HB_WEST or HB_NORTH and
commits half their hours; it joins with 400 USD per GPU (its share of the pool's PnL then
follows its capacity). Joins are batched: a funder deposits for each
host (`deposit(assets, receiver)`, sent back to back) and the hosts' declarations go to anvil as
one JSON-RPC batch of impersonated transactions. The manager keeper (keepers.pool_manager, in
process) hedges every 4 days of chain time and a devnet taker fills its approvals.

Outcome per host for its committed February GPU-hours, at the month's last marks (each window's
mark at the end of delivery is its realised part): without the pool, the spread it earns
(GPU-hour revenue minus power) = committed hours x the realised spread; with the pool, that
plus its share of the pool's hedge PnL (its shares' value now minus what it paid in). Printed
as a table and charted to out/demo_pool.png. No price is invented: every mark is the reporters'.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.table import Table

from chain.rpc import Chain, Rpc
from chain.tx import TxSender, call_of, send_unlocked, wait_mined
from core import abi as core_abi
from core import units as u
from devnet.anvil import ROOT
from devnet.pool import PoolLimits, create_pool, fill_open_approvals, text32
from devnet.stack import Stack
from keepers.chain import Metrics
from keepers.pool_manager import PoolManager, PoolManagerSettings

T0 = 1612134000  # 2021-01-31T23:00:00Z, as scripts/demo.py
GPU_OFFSET = 148_780_800  # as scripts/demo.py
DAY = 86_400
NODES = ("HB_WEST", "HB_NORTH")
GPU = "H100-SXM"
DEPOSIT_PER_GPU_USD = 400  # a host stakes in proportion to its GPUs (the pool asks >= 100 per declared GPU)
COMMIT_BPS = 5_000
OUT = ROOT / "out"
con = Console(highlight=False, width=None if sys.stdout.isatty() else 118)


def markets_file(path: Path) -> Path:
    """The demo's markets plus the H100-SXM spread at HB_NORTH (February 2021 too)."""
    data = json.loads((ROOT / "markets" / "demo.json").read_text())
    spread = next(m for m in data["markets"] if m["spec"]["kind"] == "SPREAD")
    north = json.loads(json.dumps(spread))
    north["spec"]["power"]["node"] = "HB_NORTH"
    data["markets"].append(north)
    path.write_text(json.dumps(data))
    return path


def join_hosts(st: Stack, pool, hosts: list[dict]) -> float:
    """Every host joins with DEPOSIT_PER_GPU_USD per GPU (paid by a funder for it) and declares its
    GPUs; returns the seconds taken."""
    t = time.monotonic()
    rpc = Rpc(st.rpc_url, timeout=600)  # a batch of 50 sends waits for 50 blocks
    funder = Account.from_key(st.keys["user7"])
    usdc = st.contract("MockUSDC")
    total = sum(u.usd_to_base(DEPOSIT_PER_GPU_USD * h["gpus"]) for h in hosts)
    calls = []
    left = total
    while left > 0:
        calls.append(usdc.functions.mint(funder.address, min(left, u.usd_to_base(1_000_000))))
        left -= min(left, u.usd_to_base(1_000_000))
    calls.append(usdc.functions.approve(pool.address, total))
    calls += [pool.functions.deposit(u.usd_to_base(DEPOSIT_PER_GPU_USD * h["gpus"]), h["address"]) for h in hosts]
    # signed at consecutive nonces, sent as JSON-RPC batches (chain.tx: one sender everywhere)
    funds = TxSender(rpc, funder).broadcast_batch([call_of(fn) for fn in calls], gas=400_000)
    wait_mined(rpc, funds)  # the deposits first: a declaration needs its host's shares
    # declarations: each host is msg.sender (impersonated; a host has no key in a demo)
    prep = []
    for h in hosts:
        prep += [
            ("anvil_setBalance", [h["address"], hex(u.eth_to_wei(1))]),
            ("anvil_impersonateAccount", [h["address"]]),
        ]
    rpc.batch(prep)
    declare = pool.functions.declare_capacity
    sends = [(h["address"], call_of(declare(text32(GPU), text32(h["node"]), h["gpus"], COMMIT_BPS))) for h in hosts]
    wait_mined(rpc, send_unlocked(rpc, sends, gas=200_000))
    rpc.batch([("anvil_stopImpersonatingAccount", [h["address"]]) for h in hosts])
    return time.monotonic() - t


def outcomes(st: Stack, pool, entry: dict, hosts: list[dict]) -> list[dict]:
    ch = st.contract("Clearinghouse")
    by_node = {m["node"]: int(k) for k, m in entry["markets"].items()}
    realised = {n: ch.functions.mark(mid).call()[0] for n, mid in by_node.items()}
    hours = {n: entry["markets"][str(mid)]["units_per_gpu"] // 1_000 for n, mid in by_node.items()}

    def calls(fns):
        return [("eth_call", [{"to": pool.address, "data": f._encode_transaction_data()}, "latest"]) for f in fns]

    rpc = Rpc(st.rpc_url, timeout=600)
    shares = [int(x, 16) for x in rpc.batch(calls(pool.functions.balanceOf(h["address"]) for h in hosts))]
    values = rpc.batch(calls(pool.functions.convertToAssets(n) for n in shares))
    out = []
    for h, v in zip(hosts, values, strict=True):
        node = h["node"]
        committed_h = Decimal(h["gpus"] * hours[node] * COMMIT_BPS) / u.BPS
        without = committed_h * u.base_to_usd(realised[node])
        value = u.base_to_usd(int(v, 16))
        pnl = value - DEPOSIT_PER_GPU_USD * h["gpus"]
        out.append({**h, "committed_h": committed_h, "without": without, "with": without + pnl, "hedge_pnl": pnl})
    return out


def chart(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for node, colour in zip(NODES, ("#1f77b4", "#ff7f0e"), strict=True):
        sel = sorted((r for r in rows if r["node"] == node), key=lambda r: r["without"])
        x = [float(r["without"]) for r in sel]
        ax.scatter(x, [float(r["with"]) for r in sel], s=8, color=colour, label=f"{node}: with the pool")
    lo = min(float(min(r["without"], r["with"])) for r in rows)
    hi = max(float(max(r["without"], r["with"])) for r in rows)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="without the pool (y = x)")
    ax.set_xlabel("February spread earned on committed GPU-hours, unhedged (USD)")
    ax.set_ylabel("with the pool's hedge (USD)")
    ax.set_title(f"{len(rows):,} home hosts, H100-SXM at two ERCOT nodes, February 2021 (devnet replay)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(hosts_n: int = 1_000, stack: Stack | None = None, workdir: Path | None = None) -> dict:
    """Act three on `stack` (else its own devnet in `workdir`); returns the summary it printed."""
    own = stack is None
    t_start = time.monotonic()
    if own:
        workdir = workdir or OUT / "demo-pool-stack"
        if workdir.exists():  # a fresh devnet each run
            import shutil

            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        stack = Stack(
            workdir / "stack",
            anvil_timestamp=T0,
            markets=markets_file(workdir / "markets.json"),
            oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps({"GPU": GPU_OFFSET})},
            relay=False,
            market_maker=False,
        ).start()
    st = stack
    try:
        st.wait_fresh(timeout=180)
        manager_key, taker_key = st.keys["user5"], st.keys["user6"]
        entry = create_pool(
            st.rpc_url,
            st.manifest_path,
            st.keys["owner"],
            Account.from_key(manager_key).address,
            gpu_classes=[GPU],
            nodes=list(NODES),
            limits=PoolLimits(),
            warp=True,
            name="homes",
            windows=1,  # February at each node (the lister lists the months after it too)
        )
        feb = {m["node"]: int(k) for k, m in entry["markets"].items()}
        st.fund("user6", 20_000_000)
        pool = st.w3.eth.contract(address=entry["address"], abi=core_abi.abi("Pool"))
        rnd = random.Random(2021)
        hosts = [
            {"address": Account.create().address, "node": NODES[i % 2], "gpus": rnd.randint(2, 8)}
            for i in range(hosts_n)
        ]
        st.wait_fresh(list(feb.values()), after=st.now() - 600, timeout=180)
        join_s = join_hosts(st, pool, hosts)
        con.print(f"{hosts_n:,} hosts joined and declared their GPUs in {join_s:.1f} s (batched)")
        settings = PoolManagerSettings(
            rpc_url=st.rpc_url, manifest=st.manifest_path, private_key=manager_key, pool="homes"
        )
        keeper = PoolManager(settings, Chain(st.rpc_url), Metrics("pool_manager_demo"))
        keeper.start(keeper.chain.head())
        manifest = json.loads(st.manifest_path.read_text())
        ch = st.contract("Clearinghouse")
        end = max(keeper.reader._static_market(m).delivery_end for m in feb.values()) - 3_600
        t = st.now()
        steps = []
        while True:
            keeper.on_block(keeper.chain.head())
            st.mine()
            keeper.on_block(keeper.chain.head())
            fill_open_approvals(st.w3, manifest, entry["address"], taker_key, entry["block"])
            pos = {n: ch.functions.position(pool.address, mid).call()[0] for n, mid in feb.items()}
            steps.append((t, pos))
            con.print(
                f"  {time.strftime('%Y-%m-%d %H:%M', time.gmtime(t))}Z: pool short "
                + ", ".join(f"{n} {-q / 1000:,.0f} GPU-h" for n, q in pos.items())
                + f"; NAV {u.base_to_usd(pool.functions.totalAssets().call()):,.0f} USD"
            )
            if t >= end:
                break
            t = min(end, t + 4 * DAY)
            st.warp_to(t)
            try:
                st.wait_fresh(list(feb.values()), after=t - 3_600, timeout=90)
            except Exception:  # noqa: BLE001 - past the vendored GPU quotes the marks go stale; keep the last
                if t < T0 + 26 * DAY:
                    raise
        rows = outcomes(st, pool, entry, hosts)
        summary = summarize(rows)
        png = chart(rows, OUT / "demo_pool.png")
        con.print(f"Chart: [bold]{png}[/]  (act three took {time.monotonic() - t_start:.0f} s)")
        summary.update(png=str(png), join_seconds=join_s, steps=len(steps))
        return summary
    finally:
        if own:
            st.stop()


def summarize(rows: list[dict]) -> dict:
    t = Table(title="Act three: each host's February, without and with the pool (USD)", title_justify="left")
    for col in (
        "node",
        "hosts",
        "GPUs",
        "committed GPU-h",
        "without: mean",
        "with: mean",
        "hedge PnL: mean",
        "with > without",
    ):
        t.add_column(col, justify="right")
    out = {}
    for node in NODES:
        sel = [r for r in rows if r["node"] == node]
        n = len(sel)
        mean = lambda k, sel=sel, n=n: sum(r[k] for r in sel) / n  # noqa: E731
        better = sum(r["with"] > r["without"] for r in sel)
        out[node] = {"hosts": n, "without": mean("without"), "with": mean("with"), "hedge_pnl": mean("hedge_pnl")}
        t.add_row(
            node,
            f"{n:,}",
            f"{sum(r['gpus'] for r in sel):,}",
            f"{sum(r['committed_h'] for r in sel):,.0f}",
            f"{mean('without'):,.2f}",
            f"{mean('with'):,.2f}",
            f"{mean('hedge_pnl'):+,.2f}",
            f"{better:,}/{n:,}",
        )
    con.print(t)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.demo_pool", description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=1_000)
    a = p.parse_args(argv)
    if a.hosts < 2:
        p.error("--hosts must be >= 2 (one per node at least)")
    OUT.mkdir(exist_ok=True)
    run(a.hosts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
