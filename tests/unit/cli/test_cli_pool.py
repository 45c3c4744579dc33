"""`cspread pool ...` over a boa-deployed pool (the sdk/pool.py adapter of tests/unit/sdk/test_sdk_pool.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import boa
import pytest
from typer.testing import CliRunner

from apps.cli import pool as cli_pool
from apps.cli.main import app
from sdk.pool import PoolClient
from tests.unit.sdk.test_sdk_pool import _Client, _hedge, _Web3Contract, world  # noqa: F401  (fixture)

ENV = {
    "CSPREAD_PRIVATE_KEY": "",
    "CSPREAD_RELAY_URL": "",
    "CSPREAD_KEY_ENV": "",
    "CSPREAD_KEYFILE": "",
    "COLUMNS": "200",
}


@pytest.fixture(autouse=True)
def _anchor():
    with boa.env.anchor():
        yield


@pytest.fixture
def wired(world, monkeypatch):  # noqa: F811
    c = _Client(world["member"].address, world["p"].clearinghouse, world["p"].usdc)
    monkeypatch.setattr(
        cli_pool, "_pool", lambda ctx, address, write: PoolClient(c, contract=_Web3Contract(world["pool"]))
    )
    return c


def invoke(*args):
    return CliRunner().invoke(app, list(args), env=ENV, catch_exceptions=False)


def test_pool_join_declare_show_leave(world, wired):  # noqa: F811
    addr = world["pool"].address
    assert invoke("pool", "join", addr, "20000").exit_code == 0
    assert invoke("pool", "declare", addr, "H100-SXM", "HB_WEST", "100", "0.5").exit_code == 0
    _hedge(world, 9_000_000)

    r = invoke("pool", "show", addr, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert Decimal(data["positions"][0]["quantity"]) == -9000
    assert Decimal(data["positions"][0]["coverage"]) == Decimal("0.25")
    assert Decimal(data["hedged_margin_per_gpu_hour_usd"]) == Decimal("0.7")
    assert Decimal(data["my_share"]["value_usd"]) == 20000

    r = invoke("pool", "leave", addr, "9000", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["result"] == "queued"


def test_pool_declare__commit_above_one__usage_error(world, wired):  # noqa: F811
    r = CliRunner().invoke(app, ["pool", "declare", world["pool"].address, "H100-SXM", "HB_WEST", "4", "1.5"], env=ENV)
    assert r.exit_code == 2
    assert wired.sent == []
