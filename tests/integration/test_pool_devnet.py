"""Pools on a real devnet (issue 15): anvil, the real deploy, a Pool deployed by devnet.pool (the
module `cspread pool create` runs) and recorded in the manifest, then sdk/pool.py and
`cspread pool ...` against it over JSON-RPC. Each test runs from an anvil snapshot of the same
world: the pool allowing the deploy's H100-SXM / HB_WEST compute-spread month, its mark pushed
by signed reports as the pusher does (a fixture value, not a price claim), a funded taker."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account
from typer.testing import CliRunner

from apps.cli.main import app
from core import abi as core_abi
from devnet.anvil import ANVIL_KEYS, rpc
from devnet.pool import capacity_key, create_pool
from sdk.client import Client
from sdk.errors import InsufficientCollateral
from sdk.pool import PoolClient, PoolReader, pool_address
from sdk.reader import Reader
from tests.utils.plain_web3 import contract, fund, push_mark, send

pytestmark = pytest.mark.integration

OWNER, MANAGER, MEMBER, TAKER = ANVIL_KEYS[0], ANVIL_KEYS[12], ANVIL_KEYS[13], ANVIL_KEYS[14]
MARK = 1_500_000  # base units per GPU-hour (fixture)
USDC = 10**6


@pytest.fixture(scope="module")
def world(devnet):
    anvil, manifest, path = devnet
    entry = create_pool(
        anvil.url,
        path,
        OWNER,
        Account.from_key(MANAGER).address,
        gpu_classes=["H100-SXM"],
        nodes=["HB_WEST"],
        warp=True,
    )
    manifest = json.loads(path.read_text())
    r = Reader(path, anvil.url)
    (mid,) = (int(k) for k in entry["markets"])
    push_mark(r.w3, manifest, next(x for x in manifest["markets"] if x["id"] == mid), MARK)
    fund(r.w3, manifest, TAKER, 1_000_000 * USDC)
    return dict(anvil=anvil, path=path, manifest=manifest, entry=entry, mid=mid, w3=r.w3)


@pytest.fixture(autouse=True)
def snapshot(world):
    snap = rpc(world["anvil"].url, "evm_snapshot")
    yield
    rpc(world["anvil"].url, "evm_revert", [snap])


def member(world) -> PoolClient:
    c = Client(world["path"], world["anvil"].url, private_key=MEMBER)
    c.faucet(Decimal(100_000))
    return PoolClient(c, world["entry"]["address"])


def hedge(world, quantity: int, price: int = MARK) -> bytes:
    """The manager approves a pool short of `quantity` thousandths, the taker fills it all."""
    w3 = world["w3"]
    pool = w3.eth.contract(address=world["entry"]["address"], abi=core_abi.abi("Pool"))
    now = w3.eth.get_block("latest")["timestamp"]
    order = (pool.address, world["mid"], False, quantity, price, now, now + 600, False)
    send(w3, pool.functions.approve_order(order), MANAGER)
    send(w3, contract(w3, world["manifest"], "Exchange").functions.fill(order, b"", quantity), TAKER)
    return order


def test_create_pool__recorded_in_manifest_and_markets_allowed(world):
    e, m = world["entry"], world["manifest"]
    assert m["pools"]["default"]["address"] == e["address"]
    assert pool_address(m, "default") == e["address"]
    assert e["applied"] and e["manager"] == Account.from_key(MANAGER).address
    pool = world["w3"].eth.contract(address=e["address"], abi=core_abi.abi("Pool"))
    key, per_gpu = pool.functions.market_config(world["mid"]).call()
    assert key == capacity_key("H100-SXM", "HB_WEST")
    assert per_gpu == e["markets"][str(world["mid"])]["units_per_gpu"] and per_gpu % 1_000 == 0
    assert 672_000 <= per_gpu <= 745_000  # one month of hours (28..31 days, DST)
    assert pool.functions.owner().call() == Account.from_key(OWNER).address


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
    hedge(world, 5_000_000)
    per_gpu = world["entry"]["markets"][str(world["mid"])]["units_per_gpu"]
    committed = Decimal(100 * per_gpu // 2) / 1000  # GPU-hours at 100 % hedged
    (pos,) = p.positions()
    assert pos.quantity == Decimal(-5_000)
    assert pos.coverage == Decimal(5_000_000) / Decimal(100 * per_gpu // 2)
    assert pos.hedge_cap == committed * Decimal("0.8")
    # the spread market's IM: 0.90 USD + 15 % of the 1.50 USD mark per GPU-hour
    assert p.hedged_margin_per_gpu_hour() == Decimal("1.125")
    reader = PoolReader.at(Reader(world["path"], world["anvil"].url), p.address)
    assert reader.positions() == p.positions()


def test_leave_within_free_is_paid_beyond_is_queued(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 50, Decimal(1))
    hedge(world, 5_000_000)
    assert p.leave(Decimal(1_000))[0] == "paid"
    assert p.leave(Decimal(10_000))[0] == "queued"
    assert p.contract.functions.exit_tail().call() == 1


def test_manager_beyond_hedge_cap__refused_by_the_pool(world):
    p = member(world)
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 1, Decimal(1))  # cap: 80 % of ~720 GPU-hours
    with pytest.raises(Exception, match="hedge cap exceeded"):
        hedge(world, 5_000_000)
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
        "CSPREAD_MANIFEST": str(world["path"]),
        "CSPREAD_RPC_URL": world["anvil"].url,
        "CSPREAD_PRIVATE_KEY": key or "",
        "CSPREAD_RELAY_URL": "",
        "CSPREAD_KEY_ENV": "",
        "CSPREAD_KEYFILE": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_cli_pool_join_declare_show_leave_by_name(world):
    Client(world["path"], world["anvil"].url, private_key=MEMBER).faucet(Decimal(100_000))
    assert invoke(world, "pool", "join", "default", "20000").exit_code == 0
    assert invoke(world, "pool", "declare", "default", "H100-SXM", "HB_WEST", "100", "0.5").exit_code == 0
    hedge(world, 5_000_000)

    r = invoke(world, "pool", "show", "default", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["pool"] == world["entry"]["address"]
    assert Decimal(data["positions"][0]["quantity"]) == -5000
    assert Decimal(data["hedged_margin_per_gpu_hour_usd"]) == Decimal("1.125")
    # NAV paid the pool's maker fee: 2 bps of 5,000 GPU-h x 1.50 USD
    assert Decimal(data["my_share"]["value_usd"]) == Decimal("19998.5")

    r = invoke(world, "pool", "leave", world["entry"]["address"], "9000", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["result"] == "queued"


def test_cli_pool_unknown_name__usage_error(world):
    r = CliRunner().invoke(
        app,
        ["pool", "show", "nosuchpool"],
        env={"CSPREAD_MANIFEST": str(world["path"]), "CSPREAD_RPC_URL": world["anvil"].url, "CSPREAD_PRIVATE_KEY": ""},
    )
    assert r.exit_code == 2
    assert "nosuchpool" in r.output


def test_cli_pool_declare__commit_above_one__usage_error(world):
    r = invoke(world, "pool", "declare", "default", "H100-SXM", "HB_WEST", "4", "1.5")
    assert r.exit_code == 2


def test_cli_pool_create__second_pool_recorded_beside_the_first(world):
    r = invoke(
        world,
        "pool",
        "create",
        "--gpu",
        "H100-SXM",
        "--node",
        "HB_WEST",
        "--manager",
        Account.from_key(MANAGER).address,
        "--name",
        "west2",
        "--max-hedge",
        "0.5",
        "--json",
        key=OWNER,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    m = json.loads(world["path"].read_text())
    assert set(m["pools"]) >= {"default", "west2"}
    assert m["pools"]["west2"]["address"] == out["address"] != world["entry"]["address"]
    assert out["limits"]["max_hedge_bps"] == 5_000 and not out["applied"]  # no --warp: queued only
    # the manifest stays readable by everything else
    Reader(world["path"], world["anvil"].url).markets()
    # restore the module's manifest (the snapshot reverts the chain, not the file)
    del m["pools"]["west2"]
    world["path"].write_text(json.dumps(m, indent=2) + "\n")


def test_cli_pool_create__bad_limit__usage_error_nothing_deployed(world):
    before = world["path"].read_text()
    r = invoke(
        world,
        "pool",
        "create",
        "--gpu",
        "H100-SXM",
        "--node",
        "HB_WEST",
        "--manager",
        "0x" + "11" * 20,
        "--max-margin",
        "1.5",
        key=OWNER,
    )
    assert r.exit_code == 2
    assert world["path"].read_text() == before
