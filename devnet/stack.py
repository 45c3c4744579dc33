"""The whole local stack as one object: anvil, deploy, reporters, keepers, relay + matcher, market maker.

    from devnet.stack import Stack
    with Stack(Path("/tmp/cs"), anvil_timestamp=1612159200) as st:
        print(st.rpc_url, st.relay_url, st.manifest_path)
        st.warp(3600)

Every process is a child in its own session, on a free port, started and stopped by PID
(SIGTERM, then SIGKILL after 10 s; reverse start order; anvil last). Logs go to
``<workdir>/logs/<name>.log``. ``start()`` waits until each process is healthy and raises
`StackError` with the failing process's log tail otherwise; on failure everything already
started is stopped again. Not thread-safe: one thread drives a Stack.

Keys are anvil's public test keys (never use them on a real network); roles follow
`devnet.anvil`: 0 owner/guardian, 1-3 reporters, 4 pusher, 5 liquidator, 6 settler, 7 matcher,
8 market maker, 9-19 users ("user1" = account 9), 20 lister.

Child processes get the parent's environment minus every ``CSPREAD_*`` variable (so a shell's
settings cannot leak into a devnet); pass reporter settings explicitly with ``oracle_env``.
Without replay settings there, the reporters replay the real data period matching the
chain's start time (`devnet.replay.replay_env`), so a devnet started today has live marks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core import units as u
from core.options import DATA_DIR_ENV
from devnet.anvil import ANVIL_KEYS, CHECKOUT, Anvil, DevnetError, deploy, free_port, rpc
from devnet.processes import http_ok, stop_group
from devnet.replay import replay_env

ROLE_INDEX = {
    "owner": 0,
    "reporter1": 1,
    "reporter2": 2,
    "reporter3": 3,
    "pusher": 4,
    "liquidator": 5,
    "settler": 6,
    "matcher": 7,
    "market_maker": 8,
    "lister": 20,  # past the users (9-19): pays the listing bonds
}
FIRST_USER = 9
LAST_USER = 19
LIQUIDATOR_DEPOSIT_USD = 5_000_000
MM_DEPOSIT_USD = 1_000_000
#: the devnet market maker's depth (apps.marketmaker, "depth by margin"): per market and side,
#: 3 levels 0.5 %, 1 % and 1.5 % from the mark, each ~20,000 USD of initial margin deep, position
#: limit ~150,000 USD of margin. On the default markets that is ~50,000 GPU-hours of compute spread
#: and ~80,000 GPU-hours of compute per side (the README's 720 and the planner's defaults fill at
#: once), ~60 MWh per level in an hourly power market (its margin is 300 USD/MWh + 50 %).
#: Reserved margin at the relay: <= 3 x 20,000 USD per market, within MM_DEPOSIT_USD.
DEVNET_MM_ARGS = ("--levels", "3", "--level-margin-usd", "20000", "--max-position-margin-usd", "150000")


class StackError(RuntimeError):
    """A stack process failed to start or become healthy; the message carries its log tail."""


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def resolve_data_dir(explicit: Path | None = None, oracle_env: dict[str, str] | None = None) -> Path:
    """The real price data the reporters replay: `explicit` > $CSPREAD_DATA_DIR > the reporter
    setting CSPREAD_ORACLE_DATA_DIR in `oracle_env` > the checkout's data/. Raises StackError
    naming what is missing, before anything starts (an installed package has no data/)."""
    from oracle.data import DEFAULT_DATA_DIR, GPU_FILE, POWER_FILES

    given = explicit or os.environ.get(DATA_DIR_ENV) or (oracle_env or {}).get("CSPREAD_ORACLE_DATA_DIR")
    path = Path(given).expanduser().resolve() if given else DEFAULT_DATA_DIR
    how = (
        f"pass --data-dir DIR or set {DATA_DIR_ENV} to the directory holding the vendored data "
        f"(data/ of a compute-spread checkout)"
    )
    if not path.is_dir():
        raise StackError(f"no price data directory at {path}: {how}")
    missing = [f for f in (GPU_FILE, *(f for files in POWER_FILES.values() for f in files)) if not (path / f).is_file()]
    if missing:
        raise StackError(f"price data missing in {path}: {', '.join(missing)}; {how}")
    return path


class Stack:
    def __init__(
        self,
        workdir: Path,
        *,
        anvil_timestamp: int | None = None,
        markets: Path | None = None,
        reporters: int = 3,
        oracle_env: dict[str, str] | None = None,
        keepers: bool = True,
        relay: bool = True,
        market_maker: bool = True,
        mm_markets: list[int] | None = None,
        block_time: float | None = None,
        poll_interval: float = 0.2,
        mm_args: list[str] | None = None,
        mm_deposit_usd: int = MM_DEPOSIT_USD,
        liquidator_deposit_usd: int = LIQUIDATOR_DEPOSIT_USD,
        data_dir: Path | None = None,
        lister: bool = True,
        lister_args: list[str] | None = None,
    ):
        if not 1 <= reporters <= 3:
            raise ValueError("reporters must be 1..3 (the deploy registers anvil accounts 1-3, quorum 2)")
        if market_maker and not relay:
            raise ValueError("the market maker posts to the relay: market_maker=True needs relay=True")
        self.workdir = Path(workdir).resolve()
        self.log_dir = self.workdir / "logs"
        self.manifest_path = self.workdir / "manifest.json"
        self.anvil_timestamp = anvil_timestamp
        self.markets = Path(markets) if markets else None
        self.n_reporters = reporters
        self.oracle_env = dict(oracle_env or {})
        self.data_dir = data_dir
        self.with_keepers, self.with_relay, self.with_mm = keepers, relay, market_maker
        self.with_lister, self.lister_args = lister, list(lister_args or [])
        self.mm_markets = mm_markets
        self.mm_args = list(DEVNET_MM_ARGS if mm_args is None else mm_args)
        self.mm_deposit_usd, self.liquidator_deposit_usd = mm_deposit_usd, liquidator_deposit_usd
        self.block_time = block_time
        self.poll_interval = poll_interval
        self.keys: dict[str, str] = {role: ANVIL_KEYS[i] for role, i in ROLE_INDEX.items()}
        self.keys.update({f"user{i - FIRST_USER + 1}": ANVIL_KEYS[i] for i in range(FIRST_USER, LAST_USER + 1)})
        self.anvil: Anvil | None = None
        self.manifest: dict = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.reporter_urls: list[str] = []
        self.relay_url: str | None = None
        self._w3 = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def rpc_url(self) -> str:
        if self.anvil is None:
            raise StackError("stack not started")
        return self.anvil.url

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.oracle_env["CSPREAD_ORACLE_DATA_DIR"] = str(resolve_data_dir(self.data_dir, self.oracle_env))
        try:
            self._start_chain()
            for i in range(1, self.n_reporters + 1):
                self._start_reporter(i)
            # the relay needs only the chain: it boots while the reporters load their data (each
            # Python service takes seconds to start on a loaded machine; one after another added up)
            if self.with_relay:
                self._spawn_relay()
            self._wait_reporters()
            if self.with_lister and self.templated:
                self._start_lister()
            if self.with_relay:  # healthy before the pusher starts: its resting orders make marks needed
                self._wait_relay()
            if self.with_keepers:
                self._start_keepers()
            if self.with_mm:
                self._start_market_maker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process (reverse start order), then anvil. Idempotent."""
        for name in reversed(list(self.processes)):
            try:
                stop_group(self.processes[name])
            except Exception:  # noqa: BLE001 - keep stopping the rest
                pass
        if self.anvil is not None:
            self.anvil.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def alive(self) -> dict[str, bool]:
        out = {name: p.poll() is None for name, p in self.processes.items()}
        out["anvil"] = bool(self.anvil and self.anvil.proc and self.anvil.proc.poll() is None)
        return out

    # ------------------------------------------------------------------ chain clock
    def now(self) -> int:
        return self.anvil.timestamp_now()

    def warp(self, seconds: int) -> None:
        """Advance the chain clock by `seconds` and mine a block; reporters and keepers follow the head."""
        self.anvil.warp(int(seconds))

    def warp_to(self, ts: int) -> None:
        """Mine a block at chain time `ts` (must be later than the head)."""
        self.anvil.set_next_timestamp(int(ts))

    def mine(self) -> None:
        rpc(self.rpc_url, "evm_mine")

    # ------------------------------------------------------------------ helpers for callers
    @property
    def w3(self):
        if self._w3 is None:
            from web3 import Web3

            from chain.rpc import provider_for

            self._w3 = Web3(provider_for(self.rpc_url, timeout=10))
        return self._w3

    def contract(self, name: str):
        c = self.manifest["contracts"][name]
        return self.w3.eth.contract(address=c["address"], abi=c["abi"])

    def address(self, role: str) -> str:
        from eth_account import Account

        return Account.from_key(self.keys[role]).address

    def mark(self, market_id: int) -> tuple[int, int, bool]:
        """(mark base units, observed_at, fresh) from the Clearinghouse."""
        return tuple(self.contract("Clearinghouse").functions.mark(market_id).call())

    def wait_until(
        self, cond: Callable[[], object], timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
    ):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() >= deadline:
                raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")
            self._check_alive()
            time.sleep(interval)

    def wait_fresh(self, market_ids: list[int] | None = None, after: int | None = None, timeout: float = 60.0) -> None:
        """Wait until every market's mark is fresh (and observed at or after chain time `after`).
        A pusher selecting the needed marks (the default on a templated deployment) pushes only
        what someone needs: this asks the reporters for these marks first, as a trader's client
        does (`sdk.Client.request_marks`)."""
        ids = market_ids if market_ids is not None else [m["id"] for m in self.manifest["markets"]]
        self.request_marks(ids)
        last_mine = [time.monotonic()]

        def ok() -> bool:
            for mid in ids:
                _, obs, fresh = self.mark(mid)
                if not fresh or (after is not None and obs < after):
                    # the pusher acts once per block and anvil mines on demand: with nobody else
                    # sending (the lister done, no trades) no block would come, as one would on a chain
                    if time.monotonic() - last_mine[0] > 3:
                        self.mine()
                        last_mine[0] = time.monotonic()
                    return False
            return True

        self.wait_until(ok, timeout, 0.25, f"fresh marks in markets {ids}")

    def request_marks(self, market_ids: list[int]) -> None:
        """POST /marks/requests for these markets' mark feeds at every reporter (first-mark
        requests; the pusher honours those whose mark is missing or due)."""
        import httpx

        if not market_ids:
            return
        feeds = [
            "0x" + bytes(self.contract("Clearinghouse").functions.market(mid).call()[1]).hex() for mid in market_ids
        ]
        for url in self.reporter_urls:
            for i in range(0, len(feeds), 32):
                try:
                    httpx.post(url + "/marks/requests", json={"feed_ids": feeds[i : i + 32]}, timeout=5)
                except httpx.HTTPError:
                    pass  # a reporter down: the others take the request; wait_fresh says if none did
        self.mine()  # a block for the pusher to see the requests in (anvil mines on demand)

    def _check_alive(self) -> None:
        for name, p in self.processes.items():
            if p.poll() is not None:
                raise StackError(f"{name} exited with {p.returncode}; log tail:\n{log_tail(self.log_path(name))}")

    # ------------------------------------------------------------------ internals
    def _child_env(self, **extra: str) -> dict[str, str]:
        # children run `python -m <package>` of this interpreter: the installed package, or the
        # checkout's when this code runs from one (then its node_modules/.bin too)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
        bins = [str(Path(sys.executable).parent)] + ([str(CHECKOUT / "node_modules" / ".bin")] if CHECKOUT else [])
        env.update(
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONUNBUFFERED="1",
            PATH=os.pathsep.join([*bins, env.get("PATH", "")]),
            **extra,
        )
        if CHECKOUT is not None:
            env["PYTHONPATH"] = str(CHECKOUT)
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.log_path(name), "ab")
        try:
            p = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            out.close()
        self.processes[name] = p
        return p

    def _wait_healthy(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        p = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError(
                    f"{name} exited with {p.returncode} during start; log tail:\n{log_tail(self.log_path(name))}"
                )
            if check():
                return
            time.sleep(0.2)
        raise StackError(f"{name} not healthy within {timeout:.0f} s; log tail:\n{log_tail(self.log_path(name))}")

    def _start_chain(self) -> None:
        self.anvil = Anvil(timestamp=self.anvil_timestamp, block_time=self.block_time, log=self.log_path("anvil"))
        try:
            self.anvil.start()
        except DevnetError as e:
            raise StackError(f"anvil: {e}; log tail:\n{log_tail(self.log_path('anvil'))}") from None
        if not any(k.startswith("CSPREAD_ORACLE_REPLAY") for k in self.oracle_env):
            # default: replay the real data period that matches the chain's start (devnet.replay)
            self.oracle_env.update(replay_env(self.anvil.timestamp_now()))
        try:
            self.manifest = deploy(self.anvil.url, self.manifest_path, self.markets)
        except (DevnetError, subprocess.TimeoutExpired) as e:
            self.log_path("deploy").write_text(str(e))
            raise StackError(f"deploy: {e}") from None

    def _start_reporter(self, i: int) -> None:
        port = free_port()
        name = f"reporter{i}"
        self.ports[name] = port
        env = self._child_env(REPORTER_KEY=self.keys[name], CSPREAD_ORACLE_LOG_LEVEL="warning", **self.oracle_env)
        self._spawn(
            name,
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
                self.rpc_url,
                "--clock",
                "chain",
                # markets the lister lists from templates are valued from the series they belong to
                *(["--series-file", str(self.markets_file)] if self.templated else []),
            ],
            env,
        )
        self.reporter_urls.append(f"http://127.0.0.1:{port}")

    def _wait_reporters(self) -> None:
        for i, url in enumerate(self.reporter_urls, 1):
            self._wait_healthy(f"reporter{i}", lambda u=url: http_ok(u + "/health", (200, 503)), 90)

    def _start_bot(self, bot: str, *args: str) -> None:
        port = free_port()
        self.ports[bot] = port
        env = self._child_env(CSPREAD_PRIVATE_KEY=self.keys[bot])
        self._spawn(
            bot,
            [
                sys.executable,
                "-m",
                f"keepers.{bot}",
                "--rpc-url",
                self.rpc_url,
                "--manifest",
                str(self.manifest_path),
                "--metrics-port",
                str(port),
                "--poll-interval",
                str(self.poll_interval),
                *args,
            ],
            env,
        )

    def _start_keepers(self) -> None:
        self.fund("liquidator", self.liquidator_deposit_usd)  # it takes positions over: needs margin (docs/keepers.md)
        relay = ["--relay-url", self.relay_url] if self.relay_url else []
        self._start_bot("pusher", "--reporters", ",".join(self.reporter_urls), *relay)
        self._start_bot("liquidator")
        self._start_bot("settler")
        for bot in ("pusher", "liquidator", "settler", "lister"):
            if bot in self.processes:
                self._wait_healthy(bot, lambda b=bot: http_ok(f"http://127.0.0.1:{self.ports[b]}/metrics"), 60)

    @property
    def registry(self) -> str | None:
        """The deployed contract that lists from series templates (issue 10): SeriesRegistry, or
        a Clearinghouse that does it itself; None for a deployment without templates."""
        for name in ("SeriesRegistry", "Clearinghouse"):
            abi = (self.manifest.get("contracts", {}).get(name) or {}).get("abi") or []
            if any(e.get("name") == "list_from_template" for e in abi):
                return name
        return None

    @property
    def templated(self) -> bool:
        """Whether the deployment lists markets from series templates (issue 10)."""
        return self.registry is not None

    @property
    def markets_file(self) -> Path:
        """The markets file the deploy approved templates from (the series specs the lister needs)."""
        from devnet.anvil import PROJECT_DATA

        return self.markets or PROJECT_DATA / "markets" / "default.json"

    def _start_lister(self) -> None:
        """The lister keeps every approved series listed to its depth (keepers.lister), paying
        the bonds from its own key."""
        self._start_bot("lister", "--markets", str(self.markets_file), *self.lister_args)
        if not self.with_keepers:  # else checked with the keepers, so the process starts overlap
            self._wait_healthy("lister", lambda: http_ok(f"http://127.0.0.1:{self.ports['lister']}/metrics"), 60)

    def listed(self) -> dict[str, float]:
        """The lister's unlabelled gauges and counters (due, missing, listed_total, ...) from /metrics."""
        import httpx

        out = {}
        for line in httpx.get(f"http://127.0.0.1:{self.ports['lister']}/metrics", timeout=5).text.splitlines():
            if line.startswith("cspread_lister_") and "{" not in line:
                name, value = line.split()
                out[name.removeprefix("cspread_lister_")] = float(value)
        return out

    def _spawn_relay(self) -> None:
        port = free_port()
        self.ports["relay"] = port
        env = self._child_env(CSPREAD_MATCHER_KEY=self.keys["matcher"])
        self._spawn(
            "relay",
            [
                sys.executable,
                "-m",
                "relay.service",
                "--manifest",
                str(self.manifest_path),
                "--rpc-url",
                self.rpc_url,
                "--port",
                str(port),
                "--db",
                str(self.workdir / "relay.db"),
                "--log-level",
                "warning",
                "--match",
            ],
            env,
        )

    def _wait_relay(self) -> None:
        url = f"http://127.0.0.1:{self.ports['relay']}"
        self._wait_healthy("relay", lambda: http_ok(url + "/health"), 60)
        self.relay_url = url

    def _start_market_maker(self) -> None:
        self.start_market_maker("market_maker", "market_maker", self.mm_markets, self.mm_args, self.mm_deposit_usd)

    def start_market_maker(
        self,
        name: str,
        key: str,
        markets: list[int] | None = None,
        args: list[str] | None = None,
        deposit_usd: int = MM_DEPOSIT_USD,
    ) -> subprocess.Popen:
        """Start (another) market-maker process quoting `markets` into the relay, with its own account
        (`key`: a role name such as "user11", or a hex key), funded with `deposit_usd` first. Extra
        args are `apps.marketmaker` flags (--size, --levels, --spread-bps, --max-position, ...).
        Stopped with the stack."""
        if self.relay_url is None:
            raise StackError("a market maker needs the relay: start the stack with relay=True")
        if name in self.processes:
            raise StackError(f"a process named {name!r} already runs")
        if deposit_usd:
            self.fund(key, deposit_usd)
        env = self._child_env(CSPREAD_MM_KEY=self.keys.get(key, key))
        cmd = [
            sys.executable,
            "-m",
            "apps.marketmaker",
            "--manifest",
            str(self.manifest_path),
            "--rpc-url",
            self.rpc_url,
            "--relay-url",
            self.relay_url,
            "--key-env",
            "CSPREAD_MM_KEY",
            "--oracle-url",
            ",".join(self.reporter_urls),
            "--interval",
            "1",
        ]
        if markets:
            cmd += ["--markets", ",".join(str(m) for m in markets)]
        p = self._spawn(name, cmd + list(args or []), env)
        # healthy = still running after 2 s (bad flags or keys fail fast); it quotes once marks are fresh
        deadline = time.monotonic() + 2.0
        self._wait_healthy(name, lambda: time.monotonic() > deadline, 30)
        return p

    def fund(self, who: str, usd: int) -> None:
        """Devnet: mint MockUSDC (faucet cap 1M per call, so in chunks), approve and deposit `usd` for a
        role name ("user1", "liquidator", ...) or a hex private key."""
        from eth_account import Account

        acct = Account.from_key(self.keys.get(who, who))
        usdc, ch = self.contract("MockUSDC"), self.contract("Clearinghouse")
        amount = u.positive_usd(usd, "deposit")
        calls = []
        left = amount
        while left > 0:
            chunk = min(left, u.usd_to_base(1_000_000))
            calls.append(usdc.functions.mint(acct.address, chunk))
            left -= chunk
        calls += [usdc.functions.approve(ch.address, amount), ch.functions.deposit(amount)]
        from chain.tx import TxFailed, TxSender

        sender = TxSender(self.w3, acct, receipt_timeout=30)
        for fn in calls:
            try:
                sender.transact(fn)
            except TxFailed as e:
                raise StackError(
                    f"funding {who if who in self.keys else acct.address}: {fn.fn_name} reverted: {e.reason}"
                ) from None
