"""A local devnet: anvil from the pinned npm package on a free port, plus the deploy script.

Processes are started and stopped by PID; nothing else on the machine is touched.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# anvil's standard accounts 0..9 (public test keys; never use them on a real network)
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30e34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]


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
               "--chain-id", "31337"]
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
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
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


def deploy(rpc_url: str, out: Path, markets: Path | None = None, timeout: float = 180.0) -> dict:
    """Run the real deploy script (`ape run deploy`) against `rpc_url`; return the manifest."""
    ape = Path(sys.executable).with_name("ape")
    cmd = [str(ape if ape.exists() else "ape"), "run", "deploy", "--network", rpc_url, "--out", str(out)]
    if markets:
        cmd += ["--markets", str(markets)]
    # ape-vyper finds the pinned vyper on PATH (the venv's bin); vvm downloads are not reachable
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{ROOT / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0 or not Path(out).exists():
        raise DevnetError(f"deploy failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(Path(out).read_text())
