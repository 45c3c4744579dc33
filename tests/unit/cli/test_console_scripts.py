"""Every service and keeper console script declared in pyproject.toml: `--help` works and shows the
shared option names with their one set of CSPREAD_* variables; old spellings still parse, hidden.

The entry points are read from pyproject.toml itself (not a copy of the list), imported and run
as the console script would run them."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from core.options import ONCE_ENV, SHARED

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

# what each tool takes from the shared set ("where it makes sense": a keeper has no HTTP port but
# a metrics port, only the relay has a database, the dashboard signs nothing)
EXPECTED = {
    "cspread-relay": {"--manifest", "--rpc-url", "--port", "--db", "--key-env"},
    "cspread-reporter": {"--manifest", "--rpc-url", "--port", "--key-env"},
    "cspread-pusher": {"--manifest", "--rpc-url", "--relay-url", "--key-env", "--once"},
    "cspread-liquidator": {"--manifest", "--rpc-url", "--key-env", "--once"},
    "cspread-settler": {"--manifest", "--rpc-url", "--key-env", "--once"},
    "cspread-lister": {"--manifest", "--rpc-url", "--key-env", "--once"},
    "cspread-pool-manager": {"--manifest", "--rpc-url", "--key-env", "--once", "--relay-url"},
    "cspread-marketmaker": {"--manifest", "--rpc-url", "--relay-url", "--oracle-url", "--key-env", "--once"},
    "cspread-web": {"--manifest", "--rpc-url", "--relay-url", "--oracle-url", "--port"},
}
ALL_SHARED = set(SHARED) | {"--once"}


def _entry(script: str):
    module, func = SCRIPTS[script].split(":")
    return getattr(importlib.import_module(module), func)


def _run(script: str, argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        _entry(script)(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_every_service_and_keeper_has_a_console_script():
    assert set(EXPECTED) | {"cspread"} == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_help__shows_the_shared_options_and_their_env_vars(script, capsys, monkeypatch):
    for o in SHARED.values():
        monkeypatch.delenv(o.env, raising=False)
    code, out, _ = _run(script, ["--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: {script} ")  # named as the user typed it, not `python -m ...`
    shown = {flag for flag in ALL_SHARED if f"  {flag} " in out or f"  {flag}\n" in out or f" {flag}," in out}
    assert shown == EXPECTED[script]
    flat = " ".join(out.split())  # argparse wraps lines
    for flag in EXPECTED[script] - {"--once"}:
        assert f"[env {SHARED[flag].env}" in flat
    if "--once" in EXPECTED[script]:
        assert f"[env {ONCE_ENV}]" in flat
    for old in ("--rpc ", "--rpc\n", "--relay ", "--relay\n"):
        assert old not in out  # deprecated spellings parse but are not advertised


@pytest.mark.parametrize("script", sorted(s for s in EXPECTED if "--rpc-url" in EXPECTED[s]))
def test_old_rpc_flag__still_parses_with_a_deprecation_notice(script, capsys):
    code, _, err = _run(script, ["--rpc", "http://127.0.0.1:1", "--help"], capsys)
    assert code == 0
    assert f"{script}: --rpc is deprecated, use --rpc-url" in err


def test_env_var__becomes_the_default_shown_in_help(capsys, monkeypatch):
    monkeypatch.setenv("CSPREAD_RPC_URL", "http://10.0.0.7:8545")
    monkeypatch.setenv("CSPREAD_DB", "/var/lib/cspread/relay.db")
    _, out, _ = _run("cspread-relay", ["--help"], capsys)
    flat = " ".join(out.split())
    assert "[env CSPREAD_RPC_URL; default http://10.0.0.7:8545]" in flat
    assert "[env CSPREAD_DB; default /var/lib/cspread/relay.db]" in flat


def test_marketmaker__missing_relay_url_is_a_usage_error_naming_flag_and_env(capsys, monkeypatch):
    for o in SHARED.values():
        monkeypatch.delenv(o.env, raising=False)
    code, _, err = _run("cspread-marketmaker", ["--manifest", "m.json", "--rpc-url", "http://127.0.0.1:1"], capsys)
    assert code == 2
    assert "--relay-url is required (or set $CSPREAD_RELAY_URL)" in err


def test_reporter__missing_data_dir__one_line_exit_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("CSPREAD_DATA_DIR", raising=False)
    with pytest.raises(SystemExit) as e:
        _entry("cspread-reporter")(["--data-dir", str(tmp_path / "nope"), "--manifest", str(tmp_path / "m.json")])
    msg = str(e.value.code)
    assert msg == (
        f"oracle: no price data at {tmp_path / 'nope'}: pass --data-dir or set CSPREAD_DATA_DIR to the "
        f"vendored data directory (data/*.csv.gz of a checkout)"
    )
