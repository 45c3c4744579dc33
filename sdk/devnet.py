"""A local devnet: anvil from the pinned npm package on a free port, plus the deploy script.

Processes are started and stopped by PID; nothing else on the machine is touched.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _derive_keys(n: int = 20) -> list[str]:
    # derived, not pasted: a mistyped test key silently points at an empty account
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return ["0x" + Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex()
            for i in range(n)]


# anvil's standard accounts 0..19 (public test keys; never use them on a real network).
# Roles on a devnet stack: 0 owner/guardian, 1-3 reporters, 4 pusher, 5 liquidator, 6 settler,
# 7 matcher, 8 market maker, 9.. users
ANVIL_KEYS = _derive_keys()


class DevnetError(RuntimeError):
    """Starting anvil or deploying failed; the message carries the tool's output."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise DevnetError("anvil not found: run `make setup` (installs @foundry-rs/anvil into node_modules)")
    return found


def rpc(url: str, method: str, params: list | None = None, timeout: float = 10.0):
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout)
    body = r.json()
    if "error" in body:
        raise DevnetError(f"{method}: {body['error']}")
    return body["result"]


class Anvil:
    """anvil on a free port (or `port`), optionally starting at `timestamp` (unix s)."""

    def __init__(self, port: int | None = None, timestamp: int | None = None, block_time: float | None = None,
                 state: Path | None = None, log: Path | None = None):
        self.port = port or free_port()
        self.timestamp = timestamp
        self.block_time = block_time
        self.state = state
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Anvil":
        cmd = [anvil_binary(), "--port", str(self.port), "--host", "127.0.0.1", "--mnemonic", ANVIL_MNEMONIC,
               "--chain-id", "31337", "--accounts", str(len(ANVIL_KEYS))]
        if self.timestamp is not None:
            cmd += ["--timestamp", str(int(self.timestamp))]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DevnetError(f"anvil exited with {self.proc.returncode} (port {self.port} busy?)")
            try:
                rpc(self.url, "eth_chainId", timeout=1.0)
                return self
            except (httpx.HTTPError, DevnetError):
                time.sleep(0.1)
        self.stop()
        raise DevnetError(f"anvil did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        from sdk.processes import stop_group

        stop_group(self.proc)
        self.proc = None

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # chain clock helpers (anvil cheatcodes)
    def timestamp_now(self) -> int:
        return int(rpc(self.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def warp(self, seconds: int) -> None:
        """Advance the chain clock by `seconds` and mine a block."""
        rpc(self.url, "evm_increaseTime", [int(seconds)])
        rpc(self.url, "evm_mine")

    def set_next_timestamp(self, ts: int) -> None:
        rpc(self.url, "evm_setNextBlockTimestamp", [int(ts)])
        rpc(self.url, "evm_mine")


def deploy(rpc_url: str, out: Path, markets: Path | None = None, timeout: float = 180.0,
           extra_args: list[str] | tuple[str, ...] = ()) -> dict:
    """Run the real deploy script (`ape run deploy`) against `rpc_url`; return the manifest.
    `extra_args` go to the script as given (e.g. ["--timelock-delay", "3600"])."""
    ape = Path(sys.executable).with_name("ape")
    cmd = [str(ape if ape.exists() else "ape"), "run", "deploy", "--network", rpc_url, "--out", str(out)]
    if markets:
        cmd += ["--markets", str(markets)]
    cmd += list(extra_args)
    # ape-vyper finds the pinned vyper on PATH (the venv's bin); vvm downloads are not reachable
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{ROOT / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0 or not Path(out).exists():
        raise DevnetError(f"deploy failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(Path(out).read_text())
