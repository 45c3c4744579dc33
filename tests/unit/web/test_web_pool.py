"""The dashboard's pool pages (issue 15) over the real Backend, the real sdk.pool.PoolReader and a
fake of the Pool contract's web3 surface (``functions.<view>(*args).call()``) holding the state a
pool would: the fake answers only the views the contract has (core/abis/Pool.json), so a call to a
view the pool lacks fails here as on chain. The pool sits at the fake client's TRADER account, which
holds a 720 GPU-hour short in the SPREAD market (conftest), so the pool's mark and PnL are the
Clearinghouse account's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_utils import to_checksum_address
from web3 import Web3

from core import abi as core_abi
from core import units as u
from sdk.errors import ComputeSpreadError, InvalidAmount
from sdk.models import UnsignedTx
from sdk.pool import PoolClient, PoolReader
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


# ---------------------------------------------------------------- join / declare / leave from the wallet
# The Backend builds the unsigned transactions through sdk.pool.PoolClient over a watched client;
# here the client's `_unsigned` encodes with the real Pool / MockUSDC ABIs (offline web3 contracts),
# so each test decodes the calldata the wallet would sign and checks the function and its units.

USDC_ADDR = checksum("0x" + "0c" * 20)
_W3 = Web3()


def _offline(address, name):
    return _W3.eth.contract(address=to_checksum_address(address), abi=core_abi.abi(name))


class FakeToken:
    def __init__(self, balance: int, allowance: int):
        self.address = USDC_ADDR
        self._c = _offline(USDC_ADDR, "MockUSDC")
        self.functions = SimpleNamespace(
            balanceOf=lambda a: _Fn(lambda: balance, ()), allowance=lambda a, s: _Fn(lambda: allowance, ())
        )

    def encode_abi(self, fn, args):
        return self._c.encode_abi(fn, args=args)


class WritablePool(FakePool):
    """FakePool plus the views leave needs; `free` is what maxWithdraw pays MEMBER now."""

    def __init__(self, address, clearinghouse, free_usd: int):
        super().__init__(address, clearinghouse)
        nav, supply = u.usd_to_base(10_250), 10_000 * 10**DECIMALS
        self.functions.maxWithdraw = lambda a: _Fn(lambda: u.usd_to_base(free_usd), ())
        self.functions.previewWithdraw = lambda units: _Fn(lambda: -(-units * supply // nav), ())
        assert {"maxWithdraw", "previewWithdraw"} <= VIEWS
        self._c = _offline(address, "Pool")

    def encode_abi(self, fn, args):
        return self._c.encode_abi(fn, args=args)


def _decode(tx):
    if tx["to"] == USDC_ADDR:
        fn, args = _offline(USDC_ADDR, "MockUSDC").decode_function_input(tx["data"])
    else:
        fn, args = _offline(tx["to"], "Pool").decode_function_input(tx["data"])
    return fn.fn_name, dict(args)


@pytest.fixture
def wallet_pool(pool_backend, fake_client, monkeypatch):
    """pool_backend whose pool_client is a PoolClient over a watched member (balance 5,000 USD,
    allowance 0, 1,000 USD free for exits by default); returns (backend, state)."""
    ch = checksum(fake_client.manifest.address("Clearinghouse"))
    st = SimpleNamespace(balance=u.usd_to_base(5_000), allowance=0, free=1_000, made=[])

    def pool_client(address, account):
        def unsigned(contract, fn, args, action, estimate=True):
            st.made.append((fn, estimate))
            return UnsignedTx(
                account, contract.address, contract.encode_abi(fn, args), action, 90_000 if estimate else None
            )

        watched = SimpleNamespace(
            address=account,
            clearinghouse=FakeClearinghouse(fake_client),
            collateral=FakeToken(st.balance, st.allowance),
            _unsigned=unsigned,
        )
        return PoolClient(watched, contract=WritablePool(address, ch, st.free))

    monkeypatch.setattr(pool_backend, "pool_client", pool_client)
    return pool_backend, st


def test_tx_pool_join__approve_then_deposit_in_base_units(wallet_pool):
    b, st = wallet_pool
    r = b.tx_pool_join("default", MEMBER.lower(), "1234.56")
    (a, dep) = [t["tx"] for t in r["txs"]]
    assert a["to"] == USDC_ADDR and _decode(a) == ("approve", {"spender": POOL, "amount": 1_234_560_000})
    assert _decode(dep) == ("deposit", {"assets": 1_234_560_000, "receiver": MEMBER})
    assert dep["to"] == POOL and "gas" not in dep  # the deposit only passes once the approve landed
    assert [d["description"] for d in r["txs"]] == ["approve the pool for 1234.56 USD", "join 1234.56 USD"]
    # an allowance that covers it: the deposit alone, gas estimated
    st.allowance = u.usd_to_base(10_000)
    (only,) = b.tx_pool_join("default", MEMBER, "100")["txs"]
    assert _decode(only["tx"])[0] == "deposit" and "gas" in only["tx"]


@pytest.mark.parametrize(
    "account, amount, needle",
    [
        ("", "100", "connect a wallet"),
        (MEMBER, "abc", "not a number"),
        (MEMBER, "-5", "positive"),
        (MEMBER, "0", "positive"),
        (MEMBER, "0.0000001", "finer than 1e-6 USD"),  # finer than the micro-dollar
        (MEMBER, "5000.01", "the wallet holds 5000"),
    ],
)
def test_tx_pool_join__bad_input_builds_nothing(wallet_pool, account, amount, needle):
    b, st = wallet_pool
    with pytest.raises(ComputeSpreadError, match=needle):
        b.tx_pool_join("default", account, amount)
    assert st.made == []


def test_tx_pool_join__foreign_pool_and_closed_pool_refused(wallet_pool, monkeypatch):
    b, st = wallet_pool
    with pytest.raises(InvalidAmount, match="is not a pool of this deployment"):
        b.tx_pool_join("foreign", MEMBER, "100")
    real = b.pool_client

    def closed(address, account):
        p = real(address, account)
        p.contract.functions.closed_reason = lambda: _Fn(lambda: "settling", ())
        return p

    monkeypatch.setattr(b, "pool_client", closed)
    with pytest.raises(InvalidAmount, match="settling"):
        b.tx_pool_join("default", MEMBER, "100")
    assert st.made == []


def test_tx_pool_leave__paid_when_free_else_queued_shares(wallet_pool):
    b, st = wallet_pool
    r = b.tx_pool_leave("default", MEMBER, "200")
    assert r["mode"] == "paid"
    assert _decode(r["txs"][0]["tx"]) == ("withdraw", {"assets": 200 * 10**6, "receiver": MEMBER, "owner": MEMBER})
    st.free = 100  # margin in use: 200 USD is beyond what the pool pays now -> the exit queue
    r = b.tx_pool_leave("default", MEMBER, "200")
    assert r["mode"] == "queued"
    fn, args = _decode(r["txs"][0]["tx"])
    # 200 USD at 1.025 USD/share = 195.12... shares, rounded up (previewWithdraw)
    assert (fn, args["receiver"]) == ("request_exit", MEMBER)
    assert args["shares"] == -(-200 * 10**6 * 10_000 * 10**DECIMALS // u.usd_to_base(10_250))
    # more than the member's 250 shares (256.25 USD) are worth: refused, nothing built
    st.made.clear()
    with pytest.raises(InvalidAmount, match="your shares are worth 256.25"):
        b.tx_pool_leave("default", MEMBER, "300")
    assert st.made == []


def test_tx_pool_declare__bytes32_count_bps_and_bad_input(wallet_pool):
    b, st = wallet_pool
    (t,) = b.tx_pool_declare("default", MEMBER, "H100-SXM", "HB_WEST", "4", "0.5")["txs"]
    fn, args = _decode(t["tx"])
    assert fn == "declare_capacity"
    assert args == {
        "gpu_class": b"H100-SXM".ljust(32, b"\0"),
        "node": b"HB_WEST".ljust(32, b"\0"),
        "count": 4,
        "commit_bps": 5_000,
    }
    for count, commit, cls_, needle in [
        ("4.5", "0.5", "H100-SXM", "whole number"),
        ("-1", "0.5", "H100-SXM", "whole number"),
        ("4", "1.5", "H100-SXM", "0..1"),
        ("4", "0.00001", "H100-SXM", "finer than 1 bp"),  # finer than 1 bp
        ("4", "0.5", "X" * 33, "longer than 32 bytes"),
        ("4", "0.5", "", "GPU class"),
    ]:
        with pytest.raises(ComputeSpreadError, match=needle):
            b.tx_pool_declare("default", MEMBER, cls_, "HB_WEST", count, commit)
    assert len(st.made) == 1


def test_pool_tx_routes__json_and_4xx(wallet_pool):
    from fastapi.testclient import TestClient

    from apps.web.app import create_app

    b, _ = wallet_pool
    with TestClient(create_app("unused.json", "http://unused", backend=b)) as c:
        r = c.post("/api/tx/pool/default/join", json={"account": MEMBER, "amount": "10"})
        assert r.status_code == 200 and [t["description"] for t in r.json()["txs"]][-1] == "join 10 USD"
        r = c.post("/api/tx/pool/default/leave", json={"account": MEMBER, "amount": "10"})
        assert r.status_code == 200 and r.json()["mode"] == "paid"
        r = c.post(
            "/api/tx/pool/default/declare",
            json={"account": MEMBER, "gpu_class": "H100-SXM", "node": "HB_WEST", "count": 2, "commit": "0.25"},
        )
        assert r.status_code == 200
        r = c.post("/api/tx/pool/default/join", json={"account": MEMBER, "amount": "-1"})
        assert 400 <= r.status_code < 500 and "positive" in r.json()["message"]
        r = c.post("/api/tx/pool/nosuchpool/join", json={"account": MEMBER, "amount": "1"})
        assert r.status_code == 422
