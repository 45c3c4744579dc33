"""Timelock state machine: random queue / execute / cancel / time travel against a Python
model. Whatever the sequence, a call runs only if it is queued, never before its eta, never
after eta + GRACE_PERIOD, at most once, and only the admin moves anything; the target
(Exchange fees) always holds the arguments of the last call executed.
"""

from __future__ import annotations

import collections
import contextlib

import boa
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.utils.timelock import DAY, GRACE_PERIOD, govern

WORLD: dict = {}
# outcomes seen ("execute: ok", "execute: Timelock: not ready", ...): the run must reach each
COVERAGE: collections.Counter = collections.Counter()
# the admin sends most calls; a stranger one in four
ADMIN_MOSTLY = st.sampled_from([True, True, True, False])


class TimelockMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(boa.env.anchor())
        self.g = WORLD["governed"]
        self.tl, self.ex = self.g.timelock, self.g.protocol.exchange
        self.known: dict[bytes, tuple] = {}  # every op ever queued, by id
        self.queued: set[bytes] = set()
        self.fees = (self.ex.maker_fee_bps(), self.ex.taker_fee_bps())

    def teardown(self):
        self._stack.close()

    def _now(self) -> int:
        return boa.env.evm.patch.timestamp

    @initialize(maker=st.integers(0, 3), taker=st.integers(0, 3))
    def first_queue(self, maker, taker):
        self.queue(maker, taker, 0)

    @rule(maker=st.integers(0, 3), taker=st.integers(0, 3), later=st.sampled_from([0, 1, DAY, GRACE_PERIOD]))
    def queue(self, maker, taker, later):
        op = (*self.g.call(self.ex, "set_fees", maker, taker), self._now() + self.g.delay + later)
        op_id = self.tl.operation_id(*op)
        with boa.env.prank(self.g.admin):
            if op_id in self.queued:
                with boa.reverts("Timelock: already queued"):
                    self.tl.queue(*op)
                return
            assert self.tl.queue(*op) == op_id
        self.known[op_id] = op
        self.queued.add(op_id)

    @rule(data=st.data(), as_admin=ADMIN_MOSTLY)
    def execute(self, data, as_admin):
        if self.known:
            self._execute(data.draw(st.sampled_from(sorted(self.known))), as_admin)

    def _execute(self, op_id, as_admin):
        op = self.known[op_id]
        now, eta = self._now(), op[3]
        sender = self.g.admin if as_admin else WORLD["non_owner"]
        if not as_admin:
            expected = "ownable: caller is not the owner"
        elif op_id not in self.queued:
            expected = "Timelock: not queued"
        elif now < eta:
            expected = "Timelock: not ready"
        elif now > eta + GRACE_PERIOD:
            expected = "Timelock: stale"
        else:
            expected = None
        COVERAGE[f"execute: {expected or 'ok'}"] += 1
        with boa.env.prank(sender):
            if expected:
                with boa.reverts(expected):
                    self.tl.execute(*op)
                return
            self.tl.execute(*op)
        self.queued.discard(op_id)
        self.fees = tuple(int.from_bytes(op[2][4 + 32 * i : 36 + 32 * i], "big") for i in range(2))

    @rule(data=st.data(), as_admin=ADMIN_MOSTLY)
    def cancel(self, data, as_admin):
        if not self.known:
            return
        op_id = data.draw(st.sampled_from(sorted(self.known)))
        sender = self.g.admin if as_admin else WORLD["non_owner"]
        expected = (
            "ownable: caller is not the owner"
            if not as_admin
            else None
            if op_id in self.queued
            else "Timelock: not queued"
        )
        with boa.env.prank(sender):
            if expected:
                with boa.reverts(expected):
                    self.tl.cancel(*self.known[op_id])
                return
            self.tl.cancel(*self.known[op_id])
        self.queued.discard(op_id)

    @rule(seconds=st.sampled_from([1, 3_600, DAY - 1, DAY, 7 * DAY, GRACE_PERIOD]))
    def wait(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @rule(data=st.data(), edge=st.sampled_from([-1, 0, GRACE_PERIOD, GRACE_PERIOD + 1]))
    def execute_at_edge(self, data, edge):
        """Travel to one second before / at an op's eta, or to the last / first second of its
        grace, and try to execute it there: the boundaries are where an off-by-one would hide."""
        if not self.known:
            return
        op_id = data.draw(st.sampled_from(sorted(self.known)))
        target = self.known[op_id][3] + edge
        if target > self._now():
            boa.env.time_travel(seconds=target - self._now())
        self._execute(op_id, True)

    @invariant()
    def queued_matches_model(self):
        for op_id in self.known:
            assert self.tl.queued(op_id) == (op_id in self.queued)

    @invariant()
    def target_holds_last_executed(self):
        assert (self.ex.maker_fee_bps(), self.ex.taker_fee_bps()) == self.fees


@pytest.fixture(scope="module")
def world(protocol, non_owner):
    WORLD.update(governed=govern(protocol, DAY), non_owner=non_owner)
    return WORLD


def test_timelock_stateful(world):
    COVERAGE.clear()
    run_state_machine_as_test(
        TimelockMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            # the coverage assertions below are about the exploration, not the contract: a fixed
            # seed makes them hold on every run (a random one missed "stale" once in CI)
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(dict(COVERAGE))
    for outcome in (
        "ok",
        "Timelock: not ready",
        "Timelock: stale",
        "Timelock: not queued",
        "ownable: caller is not the owner",
    ):
        assert COVERAGE[f"execute: {outcome}"] > 0, f"the run never reached execute -> {outcome}"
