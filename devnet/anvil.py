"""A local devnet: anvil from the pinned npm package on a free port, plus the deploy script.

Processes are started and stopped by PID; nothing else on the machine is touched.

The deploy is the one ape script (scripts/deploy.py). Installed from a wheel there is no
checkout to run it in, so the package carries the ape project it needs (``devnet/project``:
ape-config.yaml, contracts/, markets/, the deploy script) and :func:`project_dir` copies it
to a writable directory ($CSPREAD_HOME) once per content hash, where ape compiles and runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
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
#: the deploy's ape project as package data (in a checkout: symlinks to the files at the root)
PROJECT_DATA = Path(__file__).resolve().parent / "project"
#: the source checkout this code runs from, or None when it runs from an installed package
CHECKOUT: Path | None = (
    ROOT if (ROOT / "ape-config.yaml").is_file() and (ROOT / "scripts" / "deploy.py").is_file() else None
)
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _derive_keys(n: int = 21) -> list[str]:
    # derived, not pasted: a mistyped test key silently points at an empty account
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [
        "0x" + Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex() for i in range(n)
    ]


# anvil's standard accounts 0..20 (public test keys; never use them on a real network).
# Roles on a devnet stack: 0 owner/guardian, 1-3 reporters, 4 pusher, 5 liquidator, 6 settler,
# 7 matcher, 8 market maker, 9-19 users, 20 lister
ANVIL_KEYS = _derive_keys()


class DevnetError(RuntimeError):
    """Starting anvil or deploying failed; the message carries the tool's output."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "anvil"
    if CHECKOUT is not None and local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise DevnetError(
            "anvil not found: run `make setup` in a checkout (installs @foundry-rs/anvil into "
            "node_modules), or put anvil on PATH (npm install @foundry-rs/anvil, or foundryup)"
        )
    return found


def rpc(url: str, method: str, params: list | None = None, timeout: float = 10.0):
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout)
    body = r.json()
    if "error" in body:
        raise DevnetError(f"{method}: {body['error']}")
    return body["result"]


class Anvil:
    """anvil on a free port (or `port`), optionally starting at `timestamp` (unix s)."""

    def __init__(
        self,
        port: int | None = None,
        timestamp: int | None = None,
        block_time: float | None = None,
        state: Path | None = None,
        log: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        """``extra_args``: more anvil flags, e.g. ``("--steps-tracing",)`` for struct-log traces."""
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.timestamp = timestamp
        self.block_time = block_time
        self.state = state
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Anvil:
        cmd = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--mnemonic",
            ANVIL_MNEMONIC,
            "--chain-id",
            "31337",
            "--accounts",
            str(len(ANVIL_KEYS)),
        ]
        if self.timestamp is not None:
            cmd += ["--timestamp", str(int(self.timestamp))]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        cmd += list(self.extra_args)
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
        from devnet.processes import stop_group

        stop_group(self.proc)
        self.proc = None

    def __enter__(self) -> Anvil:
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


#: the directory an installed devnet keeps its deploy project in (default $XDG_DATA_HOME/compute-spread)
HOME_ENV = "CSPREAD_HOME"
# ape leaves out every source below a directory of these names (ape.utils.misc.SOURCE_EXCLUDE_PATTERNS):
# a project under ~/.cache would compile nothing and fail at the first deploy with "no attribute MockUSDC"
_APE_SKIPPED_DIRS = {".cache", ".build", ".git"}


def home_dir() -> Path:
    """Where an installed devnet keeps its deploy project and ape's compile cache: $CSPREAD_HOME,
    else $XDG_DATA_HOME/compute-spread (~/.local/share/compute-spread). Not ~/.cache: see above."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser().resolve() / "compute-spread"


def project_dir() -> Path:
    """The ape project the deploy runs in: the checkout itself (edits to contracts/ take effect at
    once), else a copy of the packaged project in :func:`home_dir` (ape writes its compile cache
    into the project, and site-packages may be read-only). The copy is keyed by the files' content,
    so an upgraded package never reuses another version's build."""
    if CHECKOUT is not None:
        return CHECKOUT
    files = sorted(p for p in PROJECT_DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if not (PROJECT_DATA / "ape-config.yaml").is_file() or not (PROJECT_DATA / "scripts" / "deploy.py").is_file():
        raise DevnetError(f"no deploy project in the installed package ({PROJECT_DATA}): reinstall compute-spread")
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(PROJECT_DATA)).encode() + b"\0" + p.read_bytes() + b"\0")
    dest = home_dir() / f"project-{h.hexdigest()[:16]}"
    if _APE_SKIPPED_DIRS & set(dest.parts):
        raise DevnetError(
            f"{dest}: ape compiles nothing below a directory named "
            f"{' or '.join(sorted(_APE_SKIPPED_DIRS & set(dest.parts)))}; set {HOME_ENV} elsewhere"
        )
    if not (dest / "ape-config.yaml").is_file():
        # copy beside, then rename: a concurrent devnet sees either nothing or the whole project
        tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(PROJECT_DATA, tmp, ignore=shutil.ignore_patterns("__pycache__", ".build"))
        try:
            tmp.rename(dest)
        except OSError:  # another process won the race: its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


#: `ape` by its console-script entry point, in this interpreter: works in a venv, from a wheel
#: installed anywhere, and without the venv's bin on PATH
_APE = (
    "import sys; from importlib.metadata import entry_points; sys.argv[0] = 'ape'; "
    "sys.exit(entry_points(group='console_scripts', name='ape')[0].load()())"
)


def deploy(
    rpc_url: str,
    out: Path,
    markets: Path | None = None,
    timeout: float = 180.0,
    extra_args: list[str] | tuple[str, ...] = (),
    compile_timeout: float = 900.0,
) -> dict:
    """Run the real deploy script (`ape run deploy`) against `rpc_url`; return the manifest.
    `extra_args` go to the script as given (e.g. ["--timelock-delay", "3600"])."""
    if importlib.util.find_spec("ape") is None:
        raise DevnetError(
            "deploying needs eth-ape with its vyper and foundry plugins: pip install 'compute-spread[dev]'"
        )
    project = project_dir()
    env = _ape_env()
    if CHECKOUT is None and not (project / COMPILED_MARK).exists():
        # the first deploy of an installed package compiles every contract (minutes on a busy
        # machine): its own step and deadline, so the deploy's timeout stays about deploying
        _ape(["compile"], project, env, compile_timeout, "compiling the contracts")
        (project / COMPILED_MARK).touch()
    _ape(
        [
            "run",
            "deploy",
            "--network",
            rpc_url,
            "--out",
            str(Path(out).resolve()),
            *(["--markets", str(Path(markets).resolve())] if markets else []),
            *extra_args,
        ],
        project,
        env,
        timeout,
        "deploy",
    )
    if not Path(out).exists():
        raise DevnetError(f"deploy wrote no manifest at {out}")
    return json.loads(Path(out).read_text())


#: in an installed project copy: every contract compiled once (the copy's sources never change)
COMPILED_MARK = ".build/.compiled"


def _ape_env() -> dict[str, str]:
    # ape-vyper runs the `vyper` found on PATH: this interpreter's bin first, where pip puts it
    bins = [str(Path(sys.executable).parent)] + ([str(CHECKOUT / "node_modules" / ".bin")] if CHECKOUT else [])
    return dict(os.environ, PATH=os.pathsep.join([*bins, os.environ.get("PATH", "")]))


def _ape(args: list[str], project: Path, env: dict[str, str], timeout: float, what: str) -> None:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _APE, *args], cwd=project, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        raise DevnetError(f"{what} did not finish within {timeout:.0f} s (in {project})") from None
    if proc.returncode != 0:
        raise DevnetError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
