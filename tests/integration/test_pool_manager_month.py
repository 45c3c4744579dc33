"""The pool manager keeper (keepers.pool_manager) over a replayed month on a real devnet: the
demo's clock (anvil from 2021-01-31T23:00Z: ERCOT February 2021 unshifted, the GPU quotes mapped
onto it, devnet.replay), the real deploy, 3 reporters + pusher + settler + lister (the curve of
monthly windows), a Pool from devnet.pool allowing every listed H100-SXM x HB_WEST spread window,
and home hosts joining with declared capacity. Every few days of chain time the keeper (the
plain class, in process) rebalances and a taker fills what it approved; at every step:

- each market's |position| stays within the pool's hedge cap, and initial margin within the
  members' max_margin_bps of equity (the contract enforces it; this shows the keeper never
  needs it to refuse);
- after the fills the pool's positions are the keeper's plan;
- a fresh keeper (a restart) with orders still open sends no second approval.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from eth_account import Account

from chain.rpc import Chain
from core import abi as core_abi
from devnet.anvil import ROOT, rpc
from devnet.pool import PoolLimits, create_pool, fill_open_approvals
from devnet.stack import Stack
from keepers.chain import Metrics
from keepers.pool_manager import PoolManager, PoolManagerSettings
from sdk.client import Client
from sdk.pool import PoolClient

pytestmark = pytest.mark.integration

T0 = 1612134000  # 2021-01-31T23:00:00Z, as scripts/demo.py
GPU_OFFSET = 148_780_800  # chain 2021-02-01T00:00Z -> GPU data 2025-10-20T00:00Z (scripts/demo.py)
DAY = 86_400
HOSTS = 24
STEP_DAYS = 4


def new_key(url: str) -> str:
    a = Account.create()
    rpc(url, "anvil_setBalance", [a.address, hex(10**20)])
    return "0x" + bytes(a.key).hex().removeprefix("0x")


def wait_marks(st: Stack, markets: list[int], t: int, timeout: float = 90.0) -> None:
    """Until the pusher has pushed every market's mark observed at or after `t` - 1 h. Past the
    vendored GPU quotes (chain ~2021-02-27) the spread cannot be valued: its marks go stale, the
    keeper stops trading it, and the wait gives up quietly (the invariants still hold)."""
    try:
        st.wait_fresh(markets, after=t - 3_600, timeout=timeout)
    except Exception:  # noqa: BLE001 - see above; the assertions run on whatever the chain holds
        if t < T0 + 26 * DAY:
            raise


def two_windows(path) -> object:
    """The demo's markets plus the same H100-SXM x HB_WEST spread one window later (March 2021):
    two listed windows for the keeper to spread the hedge over."""
    data = json.loads((ROOT / "markets" / "demo.json").read_text())
    spread = next(m for m in data["markets"] if m["spec"]["kind"] == "SPREAD")
    data["markets"].append({**spread, "delivery": {**spread["delivery"], "offset": 2}})
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("poolmonth")
    st = Stack(
        tmp / "stack",
        anvil_timestamp=T0,
        markets=two_windows(tmp / "markets.json"),
        oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps({"GPU": GPU_OFFSET})},
        relay=False,
        market_maker=False,
    )
    with st:
        st.wait_fresh(timeout=120)
        yield st


def test_manager_keeps_the_hedge_within_limits_over_the_month(stack):
    st = stack
    manager_key, taker_key = st.keys["user5"], st.keys["user6"]
    entry = create_pool(
        st.rpc_url,
        st.manifest_path,
        st.keys["owner"],
        Account.from_key(manager_key).address,
        gpu_classes=["H100-SXM"],
        nodes=["HB_WEST"],
        limits=PoolLimits(),
        warp=True,
        windows=2,  # the deploy's February and March (the lister lists the ten months after them)
    )
    allowed = [int(k) for k in entry["markets"]]
    assert len(allowed) == 2, entry["markets"]  # February and March 2021
    st.fund("user6", 5_000_000)
    manifest = json.loads(st.manifest_path.read_text())
    w3 = st.w3
    pool = w3.eth.contract(address=entry["address"], abi=core_abi.abi("Pool"))
    ch = st.contract("Clearinghouse")
    st.wait_fresh(allowed[:1], after=st.now() - 60, timeout=120)

    # home hosts: a handful of H100s each at HB_WEST, half their hours committed
    rnd = random.Random(15)
    for _ in range(HOSTS):
        c = Client(st.manifest_path, st.rpc_url, private_key=new_key(st.rpc_url))
        c.faucet(Decimal(10_000))
        p = PoolClient(c, entry["address"])
        p.join(Decimal(6_000))
        p.declare("H100-SXM", "HB_WEST", rnd.randint(2, 8), Decimal("0.5"))

    def manager(name):
        s = PoolManagerSettings(
            rpc_url=st.rpc_url, manifest=st.manifest_path, private_key=manager_key, pool="default", target_bps=10_000
        )
        return PoolManager(s, Chain(st.rpc_url), Metrics(name))

    keeper = manager("pm")
    keeper.start(keeper.chain.head())
    max_margin_bps = pool.functions.limits().call()[1]
    steps, hedged_any, restarted = [], False, False
    t_end = T0 + 31 * DAY
    t = st.now()
    while t < t_end:
        head = keeper.chain.head()
        r = keeper.on_block(head)
        assert r["approvals_sent"] + r["revocations_sent"] >= 0
        if not restarted and r["approvals_sent"]:
            # a restart with the approvals still unfilled: the chain is its memory, nothing is resent
            st.mine()
            again = manager("pm2")
            again.start(again.chain.head())
            r2 = again.on_block(again.chain.head())
            assert r2["approvals_sent"] == 0, r2
            assert r2["open_approvals"] >= 1
            restarted = True
        st.mine()
        keeper.on_block(keeper.chain.head())  # the approval receipts
        fill_open_approvals(w3, manifest, entry["address"], taker_key, entry["block"])
        # -- invariants at this step, read from the chain
        equity = ch.functions.equity(pool.address).call()
        initial, _ = ch.functions.margin_requirements(pool.address).call()
        assert initial * 10_000 <= max(0, equity) * max_margin_bps, (t, initial, equity)
        for mid in allowed:
            q, _ = ch.functions.position(pool.address, mid).call()
            assert abs(q) <= pool.functions.hedge_cap(mid).call(), (t, mid, q)
            target = keeper.last_targets.get(mid)
            if target is not None:
                step = keeper.reader._static_market(mid).quantity_step
                assert abs(q - target) <= step, (t, mid, q, target)
            hedged_any |= q != 0
        steps.append((t, equity, initial, {m: ch.functions.position(pool.address, m).call()[0] for m in allowed}))
        t = min(t_end, t + STEP_DAYS * DAY)
        st.warp_to(t)
        st.wait_until(lambda t=t: keeper.chain.head().timestamp >= t, 30, 0.2, "the warp")
        wait_marks(st, allowed, t)
    assert hedged_any and restarted
    assert len(steps) >= 7
    # the plan spread the hedge over both windows (February full to its cap, March with the rest)
    assert {mid for *_, pos in steps for mid, q in pos.items() if q < 0} == set(allowed)
    for t_, equity, initial, pos in steps:
        print(f"{t_}: equity {equity / 1e6:,.0f} USD, IM {initial / 1e6:,.0f} USD, positions {pos}")
