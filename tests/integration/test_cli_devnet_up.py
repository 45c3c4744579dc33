"""`cspread devnet up` as a real subprocess: wait for the ready line, query it with `cspread markets
--json`, send SIGINT, and check that every process it started (found by PID) is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.devnet_up import alive, left_running, read_until_ready, ready

pytestmark = pytest.mark.integration

CSPREAD = str(Path(sys.executable).with_name("cspread"))


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _market_count(rpc_url: str, manifest: dict) -> int:
    from web3 import Web3

    c = manifest["contracts"]["Clearinghouse"]
    return (
        Web3(Web3.HTTPProvider(rpc_url))
        .eth.contract(address=c["address"], abi=c["abi"])
        .functions.market_count()
        .call()
    )


def test_devnet_up__ready_markets_then_sigint_stops_every_child(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
    work = tmp_path / "devnet"
    proc = subprocess.Popen(
        [CSPREAD, "devnet", "up", "--workdir", str(work), "--no-market-maker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until_ready(proc, 120)
        # (stderr is read after the stop below: read now, it would block while the devnet runs)
        assert ready(lines), "".join(lines)
        out = "".join(lines)
        assert "PUBLIC test keys" in out and "CSPREAD_RPC_URL" in out
        info = json.loads((work / "devnet.json").read_text())
        pids = set(info["pids"].values()) | _descendants(proc.pid)
        assert {"anvil", "relay", "pusher", "liquidator", "settler", "reporter1"} <= set(info["pids"])
        assert all(alive(p) for p in info["pids"].values())

        q = subprocess.run(
            [CSPREAD, "markets", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(env, CSPREAD_RPC_URL=info["rpc_url"], CSPREAD_MANIFEST=info["manifest"]),
        )
        assert q.returncode == 0, q.stderr
        # every market on chain: the deploy's own, and the windows the lister keeps listed
        # (it is still listing the curve meanwhile: at most what the chain holds afterwards)
        listed = {m["id"] for m in json.loads(q.stdout)}
        manifest = json.loads(Path(info["manifest"]).read_text())
        assert {m["id"] for m in manifest["markets"]} <= listed
        count = _market_count(info["rpc_url"], manifest)
        assert listed == set(range(1, len(listed) + 1)) and len(listed) <= count
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, proc.stderr.read()
    assert "stopped" in proc.stdout.read()
    assert not left_running(pids, 10), "processes left running"
