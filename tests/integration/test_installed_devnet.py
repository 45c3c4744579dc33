"""The devnet from an installed wheel, far from any checkout.

Builds the wheel (`pip wheel --no-deps --no-build-isolation`) from a copy of the sources, installs
it (`pip install --no-deps --no-index`) into a throwaway venv made from this interpreter with
`--system-site-packages`, and from a temporary directory outside the checkout runs the installed
`cspread devnet up` (anvil from node_modules/.bin on PATH), reads a market with the installed
`cspread`, and starts a service by its console script configured by the shared env vars only.

`--system-site-packages` of a venv made from a venv's python exposes the *base* interpreter's
packages, not this venv's; so the throwaway venv gets this venv's site-packages as a plain path
line (`.pth`): the locked dependencies without network, and without this venv's editable hook
(a path line's own .pth files are not processed), so `sdk`, `oracle`, `keepers` come from the wheel.
The one console script of a dependency the deploy needs on PATH (`vyper`, run by ape-vyper) is
written into the throwaway venv as pip would have written it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from devnet.anvil import free_port
from tests.utils.devnet_up import read_until_ready, ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# what a wheel is built from; everything else (venvs, caches, data, tests) stays behind
_SKIP = shutil.ignore_patterns(
    ".venv",
    "node_modules",
    ".git",
    ".build",
    "out",
    "data",
    "tests",
    "docs",
    "deployments",
    ".cspread",
    "build",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    "*.pyc",
)


# the installed devnet's home (devnet.anvil.project_dir: one project copy per content hash, with ape's
# compile cache), kept between runs like `make setup`'s .build: the first run after a contract change
# compiles from scratch through the installed code path (~60 s here), later runs reuse it. Not below
# a ".cache" directory: ape would compile nothing there (devnet.anvil._APE_SKIPPED_DIRS).
CSPREAD_HOME = ROOT / "out" / "installed-devnet-home"


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    assert p.returncode == 0, f"{cmd[:4]} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=_SKIP)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src],
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("compute_spread-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv])  # our pip installs
    vpy = venv / "bin" / "python"
    site = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "_cspread_locked_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", vpy, "install", "-q", "--no-deps", "--no-index", wheel], cwd=tmp)
    # ape-vyper runs the `vyper` executable found on PATH; pip would have put the dependency's script
    # here, so write the same launcher (this venv's interpreter, the locked vyper package)
    launcher = (Path(sys.executable).parent / "vyper").read_text().split("\n", 1)[1]
    (venv / "bin" / "vyper").write_text(f"#!{vpy}\n{launcher}")
    (venv / "bin" / "vyper").chmod(0o755)
    work = tmp / "elsewhere"  # no checkout here or above it
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSPREAD_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), str(ROOT / "node_modules" / ".bin"), "/usr/bin", "/bin"]),
        CSPREAD_HOME=str(CSPREAD_HOME),
        HOME=str(tmp / "home"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    (tmp / "home").mkdir()
    return {"venv": venv, "python": vpy, "site": site, "cwd": work, "env": env}


def test_installed_package__imports_from_the_wheel_with_its_data(installed):
    probe = (
        "import sdk, oracle, keepers, devnet.anvil as d, apps.web as w, pathlib;"
        "print(sdk.__file__); print(oracle.__file__); print(keepers.__file__); print(d.CHECKOUT);"
        "print((d.PROJECT_DATA / 'contracts' / 'Clearinghouse.vy').is_file());"
        "print((pathlib.Path(w.__file__).parent / 'templates' / 'base.html').is_file())"
    )
    out = _run([installed["python"], "-c", probe], cwd=installed["cwd"], env=installed["env"]).stdout.split()
    assert all(p.startswith(str(installed["site"])) for p in out[:3]), out
    assert out[3:] == ["None", "True", "True"]


def test_installed_console_scripts__declared_by_the_wheel_and_runnable(installed):
    """The wheel's entry points are pyproject's, each script is in the venv's bin; one runs --help
    (every --help's content: tests/unit/cli/test_console_scripts.py, in-process, cheaper)."""
    import configparser

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (dist,) = installed["site"].glob("compute_spread-*.dist-info")
    ep = configparser.ConfigParser()
    ep.read(dist / "entry_points.txt")
    assert dict(ep["console_scripts"]) == scripts
    for name in scripts:
        assert os.access(installed["venv"] / "bin" / name, os.X_OK), name
    out = _run(
        [installed["venv"] / "bin" / "cspread-settler", "--help"], cwd=installed["cwd"], env=installed["env"]
    ).stdout
    assert out.startswith("usage: cspread-settler ") and "--rpc-url" in out and "--once" in out


def test_installed_devnet__without_data_dir_fails_fast_naming_the_fix(installed):
    p = subprocess.run(
        [
            installed["venv"] / "bin" / "cspread",
            "devnet",
            "up",
            "--workdir",
            installed["cwd"] / "nodata",
            "--no-market-maker",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=installed["cwd"],
        env=installed["env"],
    )
    assert p.returncode == 1
    assert "no price data directory at" in p.stderr and "CSPREAD_DATA_DIR" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_installed_devnet__deploys_and_serves_markets_and_a_console_script_service(installed):
    env, cwd, bin_ = installed["env"], installed["cwd"], installed["venv"] / "bin"
    work = cwd / "devnet"
    proc = subprocess.Popen(
        [bin_ / "cspread", "devnet", "up", "--workdir", work, "--no-market-maker", "--data-dir", ROOT / "data"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    relay = None
    try:
        lines = read_until_ready(proc, 600)  # a cold compile on a busy 2-core machine took ~4 min
        assert ready(lines), "".join(lines)
        info = json.loads((work / "devnet.json").read_text())
        # every service runs the wheel's code under the throwaway venv's interpreter
        for name in ("reporter1", "pusher", "relay"):
            argv = (Path("/proc") / str(info["pids"][name]) / "cmdline").read_bytes().split(b"\0")
            assert argv[0].decode() == str(installed["python"]), (name, argv)
        # the deploy ran in the packaged ape project copied to the cache, not in a checkout
        assert list(CSPREAD_HOME.glob("project-*/.build/__local__.json"))

        # the installed CLI reads the markets; a fresh mark proves the reporters replayed the real data
        chain_env = dict(env, CSPREAD_RPC_URL=info["rpc_url"], CSPREAD_MANIFEST=info["manifest"])
        # the pusher keeps only needed marks on this templated devnet (no market maker here): ask the
        # reporters for the deploy's marks as a client does (POST /marks/requests), and mine blocks
        # for the pusher to act on
        manifest = json.loads(Path(info["manifest"]).read_text())
        for url in info["reporter_urls"]:
            httpx.post(url + "/marks/requests", json={"feed_ids": [m["mark_feed"] for m in manifest["markets"]]})
        deadline = time.monotonic() + 90
        while True:
            httpx.post(info["rpc_url"], json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []})
            markets = json.loads(_run([bin_ / "cspread", "markets", "--json"], cwd=cwd, env=chain_env).stdout)
            # the deploy's markets and the windows the lister keeps listed (still listing meanwhile)
            deployed = {m["id"] for m in json.loads(Path(info["manifest"]).read_text())["markets"]}
            assert deployed and deployed <= {m["id"] for m in markets}
            fresh = [m for m in markets if m["mark_fresh"] and m["mark"] is not None]
            if fresh:
                break
            assert time.monotonic() < deadline, f"no fresh mark within 90 s: {markets[0]}"
            time.sleep(2)

        # a service started by its console script, configured only by the shared variables
        port = free_port()
        relay = subprocess.Popen(
            [bin_ / "cspread-relay"],
            cwd=cwd,
            start_new_session=True,
            env=dict(chain_env, CSPREAD_PORT=str(port), CSPREAD_DB=str(cwd / "own-relay.db")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert relay.poll() is None, relay.stderr.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("cspread-relay did not answer /health within 60 s")
        assert (cwd / "own-relay.db").is_file()
    finally:
        if relay is not None:
            os.killpg(relay.pid, signal.SIGTERM)
            relay.wait(20)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert rc == 0, proc.stderr.read()
