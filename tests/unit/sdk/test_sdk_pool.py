"""sdk/pool.py against a real Pool, Clearinghouse and Exchange deployed in titanoboa: the SDK's
web3 calls (`contract.functions.NAME(*args).call()` and `Client._transact`) are routed to the
boa contracts by a small adapter, so every figure below is read from the contracts."""

from __future__ import annotations

from decimal import Decimal

import boa
import pytest

from sdk.pool import PoolClient, PoolReader
from tests.utils.contract_helpers import role_trader
from tests.utils.deployers import USDC, Protocol, allow_pool_market, deploy_pool


class _Call:
    def __init__(self, contract, name, args):
        self.contract, self.name, self.args = contract, name, args

    def call(self):
        out = getattr(self.contract, self.name)(*self.args)
        return tuple(out) if isinstance(out, tuple) else out


class _Functions:
    def __init__(self, contract):
        self._c = contract

    def __getattr__(self, name):
        return lambda *args: _Call(self._c, name, args)


class _Web3Contract:
    def __init__(self, contract):
        self.address = contract.address
        self.functions = _Functions(contract)


class _Client:
    """The slice of sdk.Client that PoolClient uses; `_transact` sends as this account."""

    def __init__(self, address, clearinghouse, usdc):
        self.address = address
        self.clearinghouse = _Web3Contract(clearinghouse)
        self.collateral = _Web3Contract(usdc)
        self.sent = []

    def _transact(self, fn, action):
        self.sent.append(action)
        with boa.env.prank(self.address):
            return getattr(fn.contract, fn.name)(*fn.args)


@pytest.fixture(scope="module")
def world():
    p = Protocol.deploy()
    gpu = p.list_market(
        "SDK-H100", price_tick=1_000, im_fixed=200_000, im_rate_bps=2_500, mm_fixed=100_000, mm_rate_bps=1_500
    )
    owner, manager = boa.env.generate_address("sdk-pool-owner"), boa.env.generate_address("sdk-pool-manager")
    pool = deploy_pool(p, owner, manager)
    key = pool.capacity_key(b"H100-SXM".ljust(32, b"\0"), b"HB_WEST".ljust(32, b"\0"))
    allow_pool_market(pool, owner, gpu, key, 720_000)
    p.set_mark(gpu, 2 * USDC)
    member = role_trader("sdk-member")
    p.usdc.mint(member.address, 100_000 * USDC)
    taker = role_trader("sdk-taker")
    p.fund(taker.address, 1_000_000 * USDC)
    return dict(p=p, gpu=gpu, pool=pool, manager=manager, member=member, taker=taker)


@pytest.fixture(autouse=True)
def _anchor():
    with boa.env.anchor():
        yield


def _client(world):
    return _Client(world["member"].address, world["p"].clearinghouse, world["p"].usdc)


def _hedge(world, quantity):
    p, pool = world["p"], world["pool"]
    o = (pool.address, world["gpu"], False, quantity, 2 * USDC, 1, boa.env.evm.patch.timestamp + 600, False)
    with boa.env.prank(world["manager"]):
        pool.approve_order(o)
    with boa.env.prank(world["taker"].address):
        p.exchange.fill(o, b"", quantity)


def test_join_declare_share(world):
    c = _client(world)
    sp = PoolClient(c, contract=_Web3Contract(world["pool"]))

    sp.join(Decimal("20000"))
    sp.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))

    assert c.sent == ["approve the pool for 20000 USD", "join 20000 USD", "declare 100 H100-SXM at HB_WEST"]
    s = sp.my_share()
    assert s.value_usd == Decimal("20000")
    assert s.fraction == 1
    assert sp.nav() == Decimal("20000")
    assert world["pool"].capacity(c.address)[2:] == (100, 5_000)


def test_positions_coverage_and_margin_per_gpu_hour(world):
    c = _client(world)
    sp = PoolClient(c, contract=_Web3Contract(world["pool"]))
    sp.join(Decimal("20000"))
    sp.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))
    _hedge(world, 9_000_000)  # 9,000 GPU-h of the 36,000 committed

    (pos,) = sp.positions()
    assert pos.quantity == Decimal("-9000")
    assert pos.coverage == Decimal("0.25")
    assert pos.hedge_cap == Decimal("28800")  # 80% of 36,000
    # IM: $0.20 + 25% x $2 = $0.70 per GPU-hour
    assert sp.hedged_margin_per_gpu_hour() == Decimal("0.7")
    assert PoolReader(_Web3Contract(world["pool"]), c.clearinghouse).free_usd() == Decimal("20000") - 2 * Decimal(
        "6300"
    )


def test_leave_within_free_is_paid_beyond_is_queued(world):
    c = _client(world)
    sp = PoolClient(c, contract=_Web3Contract(world["pool"]))
    sp.join(Decimal("20000"))
    sp.declare("H100-SXM", "HB_WEST", 20, Decimal("1"))
    _hedge(world, 9_000_000)

    assert sp.leave(Decimal("1000"))[0] == "paid"
    assert sp.leave(Decimal("10000"))[0] == "queued"
    assert world["pool"].exit_tail() == 1


def test_join_zero__refused_before_sending(world):
    c = _client(world)
    sp = PoolClient(c, contract=_Web3Contract(world["pool"]))
    with pytest.raises(Exception, match="join amount"):
        sp.join(Decimal("0"))
    assert c.sent == []
