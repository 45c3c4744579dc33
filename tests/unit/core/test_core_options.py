"""core.options: the shared service options (flag > CSPREAD_* variable > the tool's default)."""

from __future__ import annotations

import argparse

import pytest

from core.options import add_shared, require


def _parser(env: dict[str, str], *flags: str, **kw) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cspread-test")
    add_shared(p, *flags, env=env, **kw)
    return p


def test_flag_beats_env_beats_default():
    env = {"CSPREAD_PORT": "9001"}
    p = _parser(env, "--port", "--manifest", defaults={"--port": 8600, "--manifest": "deployments/31337.json"})
    assert p.parse_args([]).port == 9001
    assert p.parse_args(["--port", "9002"]).port == 9002
    assert p.parse_args([]).manifest == "deployments/31337.json"
    assert _parser({}, "--port", defaults={"--port": 8600}).parse_args([]).port == 8600


def test_empty_env_var_counts_as_unset():
    assert _parser({"CSPREAD_RPC_URL": ""}, "--rpc-url").parse_args([]).rpc_url is None


def test_bad_env_value__one_line_error_naming_the_variable():
    with pytest.raises(SystemExit) as e:
        _parser({"CSPREAD_PORT": "eighty"}, "--port")
    assert str(e.value.code) == "error: $CSPREAD_PORT='eighty' is not a valid int"


def test_deprecated_alias__fills_the_new_dest_and_warns(capsys):
    a = _parser({}, "--rpc-url", "--relay-url").parse_args(["--rpc", "http://a:1", "--relay", "http://b:2"])
    assert (a.rpc_url, a.relay_url) == ("http://a:1", "http://b:2")
    err = capsys.readouterr().err
    assert "cspread-test: --rpc is deprecated, use --rpc-url" in err
    assert "cspread-test: --relay is deprecated, use --relay-url" in err


def test_once__flag_or_truthy_env():
    assert _parser({}, once=True).parse_args([]).once is False
    assert _parser({}, once=True).parse_args(["--once"]).once is True
    assert _parser({"CSPREAD_ONCE": "true"}, once=True).parse_args([]).once is True
    assert _parser({"CSPREAD_ONCE": "0"}, once=True).parse_args([]).once is False


def test_require__accepts_the_alias_and_rejects_absence(capsys):
    p = _parser({}, "--rpc-url")
    require(p, p.parse_args(["--rpc", "http://a:1"]), "--rpc-url")  # no exit
    with pytest.raises(SystemExit) as e:
        require(p, p.parse_args([]), "--rpc-url")
    assert e.value.code == 2
    assert "--rpc-url is required (or set $CSPREAD_RPC_URL)" in capsys.readouterr().err


def test_unknown_shared_flag_is_a_programming_error():
    with pytest.raises(KeyError):
        _parser({}, "--rpc")
