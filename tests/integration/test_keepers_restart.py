"""anvil killed and restarted on the same port (state dumped and reloaded): the pusher and the
liquidator notice the outage, reconnect, resync from events and carry on without acting twice."""
from __future__ import annotations

import pytest

from scripts._keepers_env import LIQ_A, SHOCK_AT, liquidatable_at, open_book, wait_blocks, wait_until

pytestmark = pytest.mark.integration


def test_restart__anvil_killed_mid_run__bots_reconnect_resync_no_duplicates(env):
    shorts = open_book(env)
    pusher = env.procs[3]
    liq = env.start_bot("liquidator", LIQ_A, "--poll-interval", "0.1")
    liq.wait_logged("startup")
    block_before = env.w3.eth.block_number
    pushes_before = len(env.oracle_events())

    last_ts, port = env.now(), env.anvil.port
    env.anvil.stop()
    for p in (pusher, liq):
        p.wait_logged("rpc down")  # bots see the outage
    env.start_anvil_again(port, last_ts)
    assert env.w3.eth.block_number >= block_before  # same chain, reloaded
    for p in (pusher, liq):
        p.wait_logged("rpc reconnected")
        p.wait_processed(block_before, after="rpc reconnected")  # its first block after the outage
    assert len(env.oracle_events()) == pushes_before  # nothing re-sent on reconnect

    env.interval_mining(1)
    env.warp_to(SHOCK_AT)
    ev = wait_until(lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push")
    expected = liquidatable_at(env, shorts, ev[0].blockNumber)
    assert len(expected) == 6
    wait_until(lambda: not any(env.ch.functions.is_liquidatable(a).call() for a in shorts), 30, 0.2, "all healthy")
    quiet_until = wait_blocks(env.w3, 2)  # two more blocks handled by the liquidator: nothing sent twice
    liq.wait_processed(quiet_until)
    liqs = env.events("Liquidation")
    # the insolvent short the (empty) insurance fund cannot carry is deleveraged instead
    adl = sorted({e.args.account for e in env.events("Deleveraged")})
    assert sorted([e.args.account for e in liqs] + adl) == sorted(expected)  # each exactly once
    sent = [l for l in liq.lines() if l.get("msg") == "sent"]
    assert len(sent) == len(expected), [l["account"] for l in sent]
    assert not [l for l in liq.lines() if " not applied" in l.get("msg", "")]
    obs = [e.args.observed_at for e in env.oracle_events() if e.args.feed_id == ev[0].args.feed_id]
    assert len(obs) == len(set(obs))
    assert pusher.alive() and liq.alive()
    assert any(l.get("msg") == "reconnected: full resync" for l in liq.lines())
