"""Pools on a real devnet (issue 15): anvil, the real deploy, a Pool deployed by devnet.pool (the
module `cspread pool create` runs) and recorded in the manifest, then sdk/pool.py and
`cspread pool ...` against it over JSON-RPC. Each test runs from an anvil snapshot of the same
world (devnet.pool.setup_pool_world): the pool allowing the deploy's H100-SXM / HB_WEST
compute-spread month, its mark pushed by signed reports as the pusher does (a fixture value,
not a price claim), a funded taker."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account
from typer.testing import CliRunner

from apps.cli.main import app
from devnet.anvil import ANVIL_KEYS, rpc
from devnet.pool import POOL_MANAGER, POOL_OWNER, PoolWorld, capacity_key, setup_pool_world
from sdk.client import Client
from sdk.errors import InsufficientCollateral
from sdk.pool import PoolClient, PoolReader, pool_address
from sdk.reader import Reader

pytestmark = pytest.mark.integration

OWNER, MANAGER, MEMBER = POOL_OWNER, POOL_MANAGER, ANVIL_KEYS[13]  # the world's owner and manager
MARK = 1_500_000  # base units per GPU-hour (fixture)


@pytest.fixture(scope="module")
def world(devnet) -> PoolWorld:
    anvil, _, path = devnet
    return setup_pool_world(anvil.url, path, mark=MARK)


@pytest.fixture(autouse=True)
def snapshot(world):
    snap = rpc(world.rpc_url, "evm_snapshot")
    yield
    rpc(world.rpc_url, "evm_revert", [snap])


def member(world) -> PoolClient:
    c = Client(world.manifest_path, world.rpc_url, private_key=MEMBER)
    c.faucet(Decimal(100_000))
    return PoolClient(c, world.address)


def test_create_pool__recorded_in_manifest_and_markets_allowed(world):
    e, m = world.entry, world.manifest
    assert m["pools"]["default"]["address"] == e["address"]
    assert pool_address(m, "default") == e["address"]
    assert e["applied"] and e["manager"] == Account.from_key(MANAGER).address
    key, per_gpu = world.pool.functions.market_config(world.market_id).call()
    assert key == capacity_key("H100-SXM", "HB_WEST")
    assert per_gpu == e["markets"][str(world.market_id)]["units_per_gpu"] and per_gpu % 1_000 == 0
    assert 672_000 <= per_gpu <= 745_000  # one month of hours (28..31 days, DST)
    assert world.pool.functions.owner().call() == Account.from_key(OWNER).address


def test_join_declare_share(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))
    s = p.my_share()
    assert s.value_usd == Decimal(20_000) and s.fraction == 1
    assert p.nav() == Decimal(20_000)
    assert p.contract.functions.capacity(p.client.address).call()[2:] == (100, 5_000)


def test_positions_coverage_and_margin_per_gpu_hour(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))
    world.hedge(5_000_000, MARK)
    per_gpu = world.entry["markets"][str(world.market_id)]["units_per_gpu"]
    committed = Decimal(100 * per_gpu // 2) / 1000  # GPU-hours at 100 % hedged
    (pos,) = p.positions()
    assert pos.quantity == Decimal(-5_000)
    assert pos.coverage == Decimal(5_000_000) / Decimal(100 * per_gpu // 2)
    assert pos.hedge_cap == committed * Decimal("0.8")
    # the spread market's IM: 0.90 USD + 15 % of the 1.50 USD mark per GPU-hour
    assert p.hedged_margin_per_gpu_hour() == Decimal("1.125")
    reader = PoolReader.at(Reader(world.manifest_path, world.rpc_url), p.address)
    assert reader.positions() == p.positions()


def test_leave_within_free_is_paid_beyond_is_queued(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 50, Decimal(1))
    world.hedge(5_000_000, MARK)
    assert p.leave(Decimal(1_000))[0] == "paid"
    assert p.leave(Decimal(10_000))[0] == "queued"
    assert p.contract.functions.exit_tail().call() == 1


def test_manager_beyond_hedge_cap__refused_by_the_pool(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 1, Decimal(1))  # cap: 80 % of ~720 GPU-hours
    with pytest.raises(Exception, match="hedge cap exceeded"):
        world.hedge(5_000_000, MARK)
    assert p.positions() == []


def test_join_zero__refused_before_sending(world):
    p = member(world)
    with pytest.raises(Exception, match="join amount"):
        p.join(Decimal(0))
    assert p.nav() == 0


def test_declare_without_collateral__typed_revert(world):
    p = member(world)
    with pytest.raises(InsufficientCollateral, match="min_collateral_per_gpu"):
        p.declare("H100-SXM", "HB_WEST", 4, Decimal(1))


# ---------------------------------------------------------------- cspread pool


def invoke(world, *args, key=MEMBER):
    env = {
        "CSPREAD_MANIFEST": str(world.manifest_path),
        "CSPREAD_RPC_URL": world.rpc_url,
        "CSPREAD_PRIVATE_KEY": key or "",
        "CSPREAD_RELAY_URL": "",
        "CSPREAD_KEY_ENV": "",
        "CSPREAD_KEYFILE": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_cli_pool_join_declare_show_leave_by_name(world):
    Client(world.manifest_path, world.rpc_url, private_key=MEMBER).faucet(Decimal(100_000))
    assert invoke(world, "pool", "join", "default", "20000").exit_code == 0
    assert invoke(world, "pool", "declare", "default", "H100-SXM", "HB_WEST", "100", "0.5").exit_code == 0
    world.hedge(5_000_000, MARK)

    r = invoke(world, "pool", "show", "default", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["pool"] == world.address
    assert Decimal(data["positions"][0]["quantity"]) == -5000
    assert Decimal(data["hedged_margin_per_gpu_hour_usd"]) == Decimal("1.125")
    # NAV paid the pool's maker fee: 2 bps of 5,000 GPU-h x 1.50 USD
    assert Decimal(data["my_share"]["value_usd"]) == Decimal("19998.5")

    r = invoke(world, "pool", "leave", world.address, "9000", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["result"] == "queued"


def test_cli_pool_unknown_name__usage_error(world):
    r = CliRunner().invoke(
        app,
        ["pool", "show", "nosuchpool"],
        env={"CSPREAD_MANIFEST": str(world.manifest_path), "CSPREAD_RPC_URL": world.rpc_url, "CSPREAD_PRIVATE_KEY": ""},
    )
    assert r.exit_code == 2
    assert "nosuchpool" in r.output


def test_cli_pool_declare__commit_above_one__usage_error(world):
    r = invoke(world, "pool", "declare", "default", "H100-SXM", "HB_WEST", "4", "1.5")
    assert r.exit_code == 2


CREATE = ("pool", "create", "--gpu", "H100-SXM", "--node", "HB_WEST")


def test_cli_pool_create__second_pool_recorded_beside_the_first(world):
    manager = Account.from_key(MANAGER).address
    r = invoke(world, *CREATE, "--manager", manager, "--name", "west2", "--max-hedge", "0.5", "--json", key=OWNER)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    m = json.loads(world.manifest_path.read_text())
    assert set(m["pools"]) >= {"default", "west2"}
    assert m["pools"]["west2"]["address"] == out["address"] != world.address
    assert out["limits"]["max_hedge_bps"] == 5_000 and not out["applied"]  # no --warp: queued only
    # the manifest stays readable by everything else
    Reader(world.manifest_path, world.rpc_url).markets()
    # restore the module's manifest (the snapshot reverts the chain, not the file)
    del m["pools"]["west2"]
    world.manifest_path.write_text(json.dumps(m, indent=2) + "\n")


def test_cli_pool_create__bad_limit__usage_error_nothing_deployed(world):
    before = world.manifest_path.read_text()
    r = invoke(world, *CREATE, "--manager", "0x" + "11" * 20, "--max-margin", "1.5", key=OWNER)
    assert r.exit_code == 2
    assert world.manifest_path.read_text() == before
