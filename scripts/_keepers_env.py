"""The keeper environment shared by the keeper integration tests and `scripts.bench_keepers`:
real processes (anvil, oracle reporter services, keeper bots) started by PID on free ports,
plain-web3 trading helpers, and the Winter Storm Uri liquidation scenario. It lives outside
tests/ so that a bench never imports a test module.

Scenario clock: anvil starts at 2021-02-13T18:00Z, the eve of Winter Storm Uri; the default
markets then resolve to ERCOT HB_WEST DA HOURLY 2021-02-14T16 (id 1), ATC 2021-02-14 (id 2)
and PEAK 2021-03 (id 3), valued by the reporters from the vendored real ERCOT data.
"""

from __future__ import annotations

import contextlib
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

from chain.tx import TxFailed, TxSender
from core import eip712
from core import units as u
from devnet.anvil import ANVIL_KEYS, ROOT, Anvil, deploy, free_port, rpc

T0 = 1613239200  # 2021-02-13T18:00:00Z
USDC = u.USD_SCALE
HOURLY, ATC, PEAK = 1, 2, 3


def wait_until(cond, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll `cond` until it returns something truthy (and return that), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_blocks(w3: Web3, n: int, timeout: float = 30.0) -> int:
    """Wait until `n` blocks past the current head are mined; returns the block number reached."""
    target = w3.eth.block_number + n
    wait_until(lambda: w3.eth.block_number >= target, timeout, 0.1, f"block {target}")
    return target


class Proc:
    """A child process in its own session, stopped by PID (never by name)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path):
        self.name, self.cmd, self.env, self.log = name, cmd, env, log
        self.p: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:  # the child holds its own descriptor
            self.p = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
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

    def logged(self, msg: str) -> list[dict]:
        return [ln for ln in self.lines() if ln.get("msg") == msg]

    def wait_logged(self, msg: str, timeout: float = 30.0) -> list[dict]:
        """Wait until the process has logged a line with this `msg`; returns every such line."""
        return wait_until(lambda: self.logged(msg), timeout, 0.2, f"{self.name} to log {msg!r}")

    def wait_processed(self, block: int, after: str | None = None, timeout: float = 30.0) -> dict:
        """Wait until the keeper's loop has handled `block` or a later one (its DEBUG "block"
        line; with `after`, a line logged after the last `after` line); returns that line.
        A "nothing happened" assertion comes after this: the keeper had its chance."""

        def seen():
            lines = self.lines()
            if after is not None:
                marks = [i for i, ln in enumerate(lines) if ln.get("msg") == after]
                lines = lines[marks[-1] + 1 :] if marks else []
            return next((ln for ln in lines if ln.get("msg") == "block" and int(ln["block"]) >= block), None)

        return wait_until(seen, timeout, 0.1, f"{self.name} to handle block {block}")

    def lines(self) -> list[dict]:
        out = []
        for ln in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):  # not every line is JSON (a traceback, a warning)
                out.append(json.loads(ln))
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
        self.senders: dict[str, TxSender] = {}  # by key: each holds its account's local nonce

    # ------------------------------------------------------------ processes
    def _env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
        env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", **extra)
        return env

    def start_reporter(self, i: int, wait: bool = True) -> Proc:
        port = self.reporter_ports[i]
        p = Proc(
            f"reporter{i}",
            [
                sys.executable,
                "-m",
                "oracle.service",
                "--manifest",
                str(self.manifest_path),
                "--port",
                str(port),
                "--key-env",
                "REPORTER_KEY",
                "--rpc-url",
                self.anvil.url,
                "--clock",
                "chain",
            ],
            self._env(REPORTER_KEY=ANVIL_KEYS[i], CSPREAD_ORACLE_LOG_LEVEL="warning"),
            self.tmp / f"reporter{i}.log",
        ).start()
        self.procs.append(p)
        self.reporters[i] = p
        if wait:
            wait_until(lambda port=port: self._up(f"http://127.0.0.1:{port}/health"), 60, 0.2, f"reporter {i}")
        return p

    @staticmethod
    def _up(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def start_reporters(self) -> None:
        """All three reporters, started together and then waited for."""
        for i in self.reporter_ports:
            self.start_reporter(i, wait=False)
        for i, port in self.reporter_ports.items():
            wait_until(lambda port=port: self._up(f"http://127.0.0.1:{port}/health"), 60, 0.2, f"reporter {i}")

    def reporter_urls(self) -> str:
        return ",".join(f"http://127.0.0.1:{p}" for p in self.reporter_ports.values())

    def start_pusher(self, key_index: int | None = 0, name: str | None = None, select: str = "all") -> Proc:
        """The pusher polling every reporter (no key: a dry run that only logs). ``select="all"``:
        every live market marked each heartbeat, as these scenarios assume (their trades and
        liquidations need marks nobody requested); the deployment lists from templates, where the
        pusher's default is "needed" (test_pusher_selective runs that mode)."""
        return self.start_bot(
            "pusher",
            key_index,
            "--reporters",
            self.reporter_urls(),
            "--poll-interval",
            "0.2",
            "--select",
            select,
            name=name,
        )

    def start_bot(self, bot: str, key_index: int | None, *args: str, name: str | None = None) -> Proc:
        extra = {"CSPREAD_PRIVATE_KEY": ANVIL_KEYS[key_index]} if key_index is not None else {}
        # DEBUG: the loop logs a "block" line for each head it handles (Proc.wait_processed)
        cmd = [
            sys.executable,
            "-m",
            f"keepers.{bot}",
            "--rpc-url",
            self.anvil.url,
            "--manifest",
            str(self.manifest_path),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "DEBUG",
            *args,
        ]
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
        self.anvil = Anvil(
            port=port, timestamp=last_ts + 1, state=self.tmp / "anvil-state.json", log=self.tmp / "anvil.log"
        ).start()

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
        """Send ``fn`` from ``key``'s account through its chain.tx.TxSender and wait: the web3
        receipt, or AssertionError with the revert reason (the simulation's or the replay's)."""
        sender = self.senders.get(key)
        if sender is None:
            # never fee-bumped: under interval mining a tx waits for the next block, not for a fee
            sender = self.senders[key] = TxSender(self.w3, key, bump_after_blocks=10**9, receipt_timeout=30)
        try:
            return sender.transact(fn).raw
        except TxFailed as e:
            raise AssertionError(f"{fn.fn_name} reverted: {e.reason}") from e

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
        order = {
            "trader": maker.address,
            "market_id": market_id,
            "is_buy": maker_is_buy,
            "quantity": qty,
            "price": price,
            "nonce": nonce,
            "expiry": self.now() + 30 * 86400,
            "reduce_only": False,
        }
        sig = eip712.sign_digest(
            maker, eip712.order_digest(eip712.Order(**order), self.manifest["chain_id"], self.ex.address)
        )
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


# ---------------------------------------------------------------- Winter Storm Uri liquidation scenario
# ERCOT HB_WEST DA ATC for 2021-02-14 is marked at ~$778/MWh at T0; 18 hours later the storm's
# day-ahead prices are out and the mark is their mean, ~$3,947/MWh.
# 1 MWh short each at $778.38; the shock costs ~$3,168 and MM is then ~$1,147: the first two end
# insolvent (deficits ~$1,168 and ~$118), the next four solvent but below MM, the last two healthy
ENTRY = 778_380_000
SHORT_COLLATERAL_USD = [2_000, 3_050, 3_250, 3_350, 3_450, 3_500, 5_000, 9_000]
SHOCK_AT = T0 + 18 * 3600
# ANVIL_KEYS[4] in devnet/anvil.py is not anvil account 4 (its address has no ETH); use 7-9
LIQ_A, LIQ_B, WHALE = 7, 8, 9


def open_book(env: Env, liquidators=(LIQ_A,)) -> list[str]:
    """Reporters + pusher up, marks on chain, shorts opened against a whale. Returns short addresses."""
    env.start_reporters()
    env.start_pusher()
    wait_until(lambda: env.mark(ATC)[2], 30, 0.2, "first mark pushed")
    for li in liquidators:
        env.fund(ANVIL_KEYS[li], 200_000)
    env.fund(ANVIL_KEYS[WHALE], 200_000)
    shorts = []
    for usd in SHORT_COLLATERAL_USD:
        k = env.new_account()
        env.fund(k, usd)
        env.trade(k, ANVIL_KEYS[WHALE], ATC, False, 1_000, ENTRY)
        shorts.append(Account.from_key(k).address)
    return shorts


def liquidatable_at(env: Env, accounts: list[str], block: int) -> set[str]:
    return {a for a in accounts if env.ch.functions.is_liquidatable(a).call(block_identifier=block)}


def handled(env: Env) -> set[str]:
    """Accounts liquidated or deleveraged so far."""
    return {e.args.account for e in env.events("Liquidation")} | {e.args.account for e in env.events("Deleveraged")}


def start_liquidator(env: Env, key_index: int = LIQ_A, name: str | None = None) -> Proc:
    """A liquidator polling every 0.1 s, once it has logged its startup."""
    p = env.start_bot("liquidator", key_index, "--poll-interval", "0.1", name=name)
    p.wait_logged("startup")
    return p


def shock_push(env: Env):
    """Wait for the pusher to land the storm's price (observed at or after SHOCK_AT); its first event."""
    return wait_until(
        lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push"
    )[0]


def land_shock(env: Env, shorts: list[str]) -> tuple:
    """1 s blocks, the clock to SHOCK_AT, the storm price pushed: (its PriceUpdated event, the
    shorts liquidatable in its block)."""
    env.interval_mining(1)
    env.warp_to(SHOCK_AT)
    push = shock_push(env)
    return push, liquidatable_at(env, shorts, push.blockNumber)
