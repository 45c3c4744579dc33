"""The dashboard's pool pages (issue 15) over the real Backend, the real sdk.pool.PoolReader and a
fake of the Pool contract's web3 surface (``functions.<view>(*args).call()``) holding the state a
pool would: the fake answers only the views the contract has (core/abis/Pool.json), so a call to a
view the pool lacks fails here as on chain. The pool sits at the fake client's TRADER account, which
holds a 720 GPU-hour short in the SPREAD market (conftest), so the pool's mark and PnL are the
Clearinghouse account's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core import abi as core_abi
from core import units as u
from sdk.errors import InvalidAmount
from sdk.pool import PoolReader
from tests.unit.web.conftest import SPREAD_ID, TRADER, checksum

POOL = checksum(TRADER)
MEMBER = checksum("0x" + "5e" * 20)
OTHER_VENUE = checksum("0x" + "99" * 20)
KEY = b"H100-SXM/HB_WEST".ljust(32, b"\0")
UNITS_PER_GPU = 720_000  # thousandths of a GPU-hour per committed GPU over a 30-day window
DECIMALS = 12  # share decimals (6 + 10**6 virtual shares)
VIEWS = {x["name"] for x in core_abi.abi("Pool") if x["type"] == "function"}


class _Fn:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def call(self):
        return self.fn(*self.args)


class FakePool:
    """The Pool's views over plain state: 1,000 GPUs committed at 50 % (500 GPUs' hours)."""

    def __init__(self, address: str, clearinghouse: str):
        self.address = address
        supply = 10_000 * 10**DECIMALS
        nav = u.usd_to_base(10_250)
        st = {
            "clearinghouse": lambda: clearinghouse,
            "totalSupply": lambda: supply,
            "decimals": lambda: DECIMALS,
            "totalAssets": lambda: nav,
            "convertToAssets": lambda sh: sh * nav // supply,
            "balanceOf": lambda a: 250 * 10**DECIMALS if a == MEMBER else 0,
            "free_collateral": lambda: u.usd_to_base(4_000),
            "closed_reason": lambda: "",
            "market_config": lambda mid: (KEY, UNITS_PER_GPU) if mid == SPREAD_ID else (b"\0" * 32, 0),
            "committed": lambda k: 1_000 * 5_000 if k == KEY else 0,
            "hedge_cap": lambda mid: 1_000 * 5_000 * UNITS_PER_GPU // u.BPS * 8_000 // u.BPS,
            "limits": lambda: (8_000, 5_000, 200, u.usd_to_base("0.05"), u.usd_to_base(100)),
            "capacity": lambda a: (
                (b"H100-SXM".ljust(32, b"\0"), b"HB_WEST".ljust(32, b"\0"), 4, 5_000)
                if a == MEMBER
                else (b"\0" * 32, b"\0" * 32, 0, 0)
            ),
        }
        assert set(st) <= VIEWS, set(st) - VIEWS
        self.functions = SimpleNamespace(**{k: (lambda f: lambda *a: _Fn(f, a))(v) for k, v in st.items()})


class FakeClearinghouse:
    def __init__(self, client):
        self.client = client
        self.functions = SimpleNamespace(
            open_markets=lambda a: _Fn(lambda: [p.market_id for p in client.account(a).positions], ()),
            position=lambda a, mid: _Fn(
                lambda: next(
                    (
                        (p.quantity_units, p.open_notional_units)
                        for p in client.account(a).positions
                        if p.market_id == mid
                    ),
                    (0, 0),
                ),
                (),
            ),
            margin_requirements=lambda a: _Fn(
                lambda: (client.account(a).initial_margin_units, client.account(a).maintenance_margin_units), ()
            ),
        )


@pytest.fixture
def pool_backend(backend, fake_client, monkeypatch):
    ch = fake_client.manifest.address("Clearinghouse")
    pools = {
        "default": {"address": POOL, "markets": {str(SPREAD_ID): {}}},
        "foreign": {"address": OTHER_VENUE, "markets": {}},
    }
    monkeypatch.setattr(fake_client.manifest, "data", {**fake_client.manifest.data, "pools": pools})
    fakes = {POOL: FakePool(POOL, checksum(ch)), OTHER_VENUE: FakePool(OTHER_VENUE, checksum("0x" + "77" * 20))}
    monkeypatch.setattr(
        backend, "pool_reader", lambda a: PoolReader(fakes[checksum(a)], FakeClearinghouse(fake_client))
    )
    return backend


def test_pool__nav_share_price_positions_coverage_margin_per_hour(pool_backend):
    p = pool_backend.pool("default")
    assert (p["name"], p["address"]) == ("default", POOL)
    assert p["nav"] == "10250.00"
    assert p["share_price"] == "1.025"  # 10,250 USD over 10,000 shares
    assert p["free"] == "4000.00"
    assert p["limits"] == {
        "max_hedge": "80",
        "max_margin": "50",
        "max_slippage": "2",
        "max_slippage_fixed": "0.05",
        "min_collateral_per_gpu": "100.00",
    }
    (x,) = p["positions"]
    assert x["market_id"] == SPREAD_ID and x["side"] == "short"
    # 1,000 GPUs x 50 % x 720 h = 360,000 declared GPU-hours; 720 hedged = 0.2 %
    assert (x["hedged"], x["declared"], x["coverage"]) == ("720", "360000", "0.2")
    assert x["hedge_cap"] == "288000"
    assert x["mark"] == "2.4000"  # the Clearinghouse account's mark, to the market's tick
    assert x["unrealised_pnl"] == "0.00"  # shorted at 2.40, marked at 2.40
    per_hour = pool_backend.client.account(POOL).initial_margin / 720
    assert p["hedged_margin_per_gpu_hour"] == str(per_hour.quantize(u.Decimal("0.0001")))
    assert p["me"] is None
    assert p["commands"]["join"] == "cspread pool join default 1000"


def test_pool__by_address_and_my_share(pool_backend):
    p = pool_backend.pool(POOL.lower(), MEMBER.lower())
    assert p["name"] == "default"
    me = p["me"]
    assert (me["address"], me["shares"], me["value"], me["fraction"]) == (MEMBER, "250", "256.25", "2.5")
    assert me["declared"] == {"gpu_class": "H100-SXM", "node": "HB_WEST", "count": 4, "commit": "50"}
    assert pool_backend.pool("default", checksum("0x" + "01" * 20))["me"]["declared"] is None


@pytest.mark.parametrize(
    "ref, account, needle",
    [
        ("nosuchpool", "", "neither an address nor a pool"),
        ("0x1234", "", "neither an address nor a pool"),
        ("default", "0xnothex", "not an Ethereum address"),
        ("foreign", "", "is not a pool of this deployment"),  # another venue's pool: refused, not shown
    ],
)
def test_pool__bad_ref_refused(pool_backend, ref, account, needle):
    with pytest.raises(InvalidAmount, match=needle):
        pool_backend.pool(ref, account)


def test_pool__an_address_without_pool_views_is_refused(pool_backend, monkeypatch):
    eoa = checksum("0x" + "42" * 20)
    broken = SimpleNamespace(address=eoa, functions=SimpleNamespace())  # any view: AttributeError, as an EOA
    monkeypatch.setattr(pool_backend, "pool_reader", lambda a: PoolReader(broken, None))
    with pytest.raises(InvalidAmount, match="is not a pool"):
        pool_backend.pool(eoa)


def test_pools_list(pool_backend):
    got = {p["name"]: p for p in pool_backend.pools()}
    assert got["default"]["nav"] == "10250.00" and got["default"]["markets"] == [SPREAD_ID]


def test_pool_routes__page_api_and_4xx(pool_backend):
    from fastapi.testclient import TestClient

    from apps.web.app import create_app

    with TestClient(create_app("unused.json", "http://unused", backend=pool_backend)) as c:
        r = c.get("/api/pools/default", params={"account": MEMBER})
        assert r.status_code == 200 and r.json()["me"]["value"] == "256.25"
        r = c.get("/api/pools/nosuchpool")
        assert r.status_code == 422 and "nosuchpool" in r.json()["message"]
        html = c.get("/pool/default", headers={"accept": "text/html"}).text
        assert "10250.00 USD" in html and "cspread pool join default 1000" in html and "0.2 %" in html
        r = c.get("/pool/0xdeadbeef", headers={"accept": "text/html"})
        assert r.status_code == 422 and "neither an address nor a pool" in r.text
        assert "/pool/default" in c.get("/pools", headers={"accept": "text/html"}).text
        assert [p["name"] for p in c.get("/api/pools").json()] == ["default", "foreign"]
