"""Helpers for the keeper integration tests: real processes (anvil, oracle reporter
services, keeper bots) started by PID on free ports, plus plain-web3 trading helpers.

Scenario clock: anvil starts at 2021-02-13T18:00Z, the eve of Winter Storm Uri; the default
markets then resolve to ERCOT HB_WEST DA HOURLY 2021-02-14T16 (id 1), ATC 2021-02-14 (id 2)
and PEAK 2021-03 (id 3), valued by the reporters from the vendored real ERCOT data.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from eth_account import Account
from web3 import Web3

from core import eip712
from sdk.devnet import ANVIL_KEYS, ROOT, Anvil, deploy, free_port, rpc

T0 = 1613239200  # 2021-02-13T18:00:00Z
USDC = 10**6
HOURLY, ATC, PEAK = 1, 2, 3

def wait_until(cond, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    """A child process in its own session, stopped by PID (never by name)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path):
        self.name, self.cmd, self.env, self.log = name, cmd, env, log
        self.p: subprocess.Popen | None = None

    def start(self) -> "Proc":
        out = open(self.log, "ab")
        self.p = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)

    def lines(self) -> list[dict]:
        out = []
        for ln in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
        return out


class Env:
    """One devnet with the protocol deployed and helpers to trade, warp and run bots."""

    def __init__(self, tmp: Path, timestamp: int = T0):
        self.tmp = tmp
        self.anvil = Anvil(timestamp=timestamp, state=tmp / "anvil-state.json", log=tmp / "anvil.log").start()
        self.manifest_path = tmp / "manifest.json"
        self.manifest = deploy(self.anvil.url, self.manifest_path)
        self.w3 = Web3(Web3.HTTPProvider(self.anvil.url))
        c = self.manifest["contracts"]
        self.ch = self.w3.eth.contract(address=c["Clearinghouse"]["address"], abi=c["Clearinghouse"]["abi"])
        self.ex = self.w3.eth.contract(address=c["Exchange"]["address"], abi=c["Exchange"]["abi"])
        self.oracle = self.w3.eth.contract(address=c["Oracle"]["address"], abi=c["Oracle"]["abi"])
        self.usdc = self.w3.eth.contract(address=c["MockUSDC"]["address"], abi=c["MockUSDC"]["abi"])
        self.procs: list[Proc] = []
        self.reporters: dict[int, Proc] = {}
        self.reporter_ports = {i: free_port() for i in (1, 2, 3)}
        self.nonces: dict[str, int] = {}

    # ------------------------------------------------------------ processes
    def _env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
        env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", **extra)
        return env

    def start_reporter(self, i: int, wait: bool = True) -> Proc:
        port = self.reporter_ports[i]
        p = Proc(f"reporter{i}", [sys.executable, "-m", "oracle.service", "--manifest", str(self.manifest_path),
                                  "--port", str(port), "--key-env", "REPORTER_KEY", "--rpc-url", self.anvil.url,
                                  "--clock", "chain"],
                 self._env(REPORTER_KEY=ANVIL_KEYS[i], CSPREAD_ORACLE_LOG_LEVEL="warning"),
                 self.tmp / f"reporter{i}.log").start()
        self.procs.append(p)
        self.reporters[i] = p
        if wait:
            wait_until(lambda: self._up(f"http://127.0.0.1:{port}/health"), 60, 0.2, f"reporter {i}")
        return p

    @staticmethod
    def _up(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def reporter_urls(self) -> str:
        return ",".join(f"http://127.0.0.1:{p}" for p in self.reporter_ports.values())

    def start_bot(self, bot: str, key_index: int | None, *args: str, name: str | None = None) -> Proc:
        extra = {"CSPREAD_PRIVATE_KEY": ANVIL_KEYS[key_index]} if key_index is not None else {}
        cmd = [sys.executable, "-m", f"keepers.{bot}", "--rpc-url", self.anvil.url, "--manifest",
               str(self.manifest_path), "--metrics-port", str(free_port()), *args]
        p = Proc(name or bot, cmd, self._env(**extra), self.tmp / f"{name or bot}.log").start()
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.anvil.stop()

    def restart_anvil(self) -> None:
        """Kill anvil and start it again on the same port from its dumped state."""
        port = self.anvil.port
        last_ts = self.now()
        self.anvil.stop()
        self.start_anvil_again(port, last_ts)

    def start_anvil_again(self, port: int, last_ts: int) -> None:
        # the dumped state keeps blocks and accounts, not the devnet clock offset: pass it again
        self.anvil = Anvil(port=port, timestamp=last_ts + 1, state=self.tmp / "anvil-state.json",
                           log=self.tmp / "anvil.log").start()

    # ------------------------------------------------------------ chain helpers
    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp_to(self, ts: int) -> None:
        rpc(self.anvil.url, "evm_setNextBlockTimestamp", [int(ts)])
        rpc(self.anvil.url, "evm_mine")

    def interval_mining(self, seconds: int) -> None:
        rpc(self.anvil.url, "evm_setAutomine", [False])
        rpc(self.anvil.url, "evm_setIntervalMining", [seconds])

    def send(self, fn, key: str):
        acct = Account.from_key(key)
        nonce = self.nonces.get(acct.address)
        if nonce is None:
            nonce = self.w3.eth.get_transaction_count(acct.address, "pending")
        tx = fn.build_transaction({"from": acct.address, "nonce": nonce, "gas": 3_000_000})
        h = self.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        self.nonces[acct.address] = nonce + 1
        r = self.w3.eth.wait_for_transaction_receipt(h, timeout=30)
        if r.status != 1:
            # replay it as a call on the parent block for the revert reason
            try:
                fn.call({"from": acct.address}, block_identifier=r.blockNumber - 1)
                why = "(no reason on replay)"
            except Exception as e:  # noqa: BLE001 - whatever the node says is the diagnosis
                why = str(e)
            raise AssertionError(f"{fn.fn_name} reverted: {why}")
        return r

    def new_account(self) -> str:
        a = Account.create()
        rpc(self.anvil.url, "anvil_setBalance", [a.address, hex(10**20)])
        return a.key.hex() if a.key.hex().startswith("0x") else "0x" + a.key.hex()

    def fund(self, key: str, amount_usd: int) -> None:
        addr = Account.from_key(key).address
        amt = amount_usd * USDC
        self.send(self.usdc.functions.mint(addr, amt), key)
        self.send(self.usdc.functions.approve(self.ch.address, amt), key)
        self.send(self.ch.functions.deposit(amt), key)

    def trade(self, maker_key: str, taker_key: str, market_id: int, maker_is_buy: bool, qty: int, price: int) -> None:
        maker = Account.from_key(maker_key)
        nonce = int(time.time_ns() % 10**12)
        order = {"trader": maker.address, "market_id": market_id, "is_buy": maker_is_buy, "quantity": qty,
                 "price": price, "nonce": nonce, "expiry": self.now() + 30 * 86400, "reduce_only": False}
        sig = eip712.sign_digest(maker, eip712.order_digest(eip712.Order(**order), self.manifest["chain_id"],
                                                            self.ex.address))
        self.send(self.ex.functions.fill(tuple(order.values()), sig, qty), taker_key)

    def mark(self, market_id: int) -> tuple[int, int, bool]:
        return tuple(self.ch.functions.mark(market_id).call())

    def events(self, name: str, from_block: int = 0) -> list:
        return list(getattr(self.ch.events, name).get_logs(from_block=from_block))

    def oracle_events(self, from_block: int = 0) -> list:
        return list(self.oracle.events.PriceUpdated.get_logs(from_block=from_block))

    def signers_of(self, event) -> int:
        """How many reporter signatures the submit that emitted `event` carried (from its calldata)."""
        tx = self.w3.eth.get_transaction(event.transactionHash)
        _, args = self.oracle.decode_function_input(tx["input"])
        return len(args["signatures"])
