"""anvil killed and restarted on the same port (state dumped and reloaded): the pusher and the
liquidator notice the outage, reconnect, resync from events and carry on without acting twice."""

from __future__ import annotations

import pytest

from scripts._keepers_env import land_shock, open_book, start_liquidator, wait_blocks, wait_until

pytestmark = pytest.mark.integration


def test_restart__anvil_killed_mid_run__bots_reconnect_resync_no_duplicates(env):
    shorts = open_book(env)
    pusher = env.procs[3]
    liq = start_liquidator(env)
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

    push, expected = land_shock(env, shorts)
    assert len(expected) == 6
    wait_until(lambda: not any(env.ch.functions.is_liquidatable(a).call() for a in shorts), 30, 0.2, "all healthy")
    quiet_until = wait_blocks(env.w3, 2)  # two more blocks handled by the liquidator: nothing sent twice
    liq.wait_processed(quiet_until)
    liqs = env.events("Liquidation")
    # the insolvent short the (empty) insurance fund cannot carry is deleveraged instead
    adl = sorted({e.args.account for e in env.events("Deleveraged")})
    assert sorted([e.args.account for e in liqs] + adl) == sorted(expected)  # each exactly once
    sent = [ln for ln in liq.lines() if ln.get("msg") == "sent"]
    assert len(sent) == len(expected), [ln["account"] for ln in sent]
    assert not [ln for ln in liq.lines() if " not applied" in ln.get("msg", "")]
    obs = [e.args.observed_at for e in env.oracle_events() if e.args.feed_id == push.args.feed_id]
    assert len(obs) == len(set(obs))
    assert pusher.alive() and liq.alive()
    assert any(ln.get("msg") == "reconnected: checking recorded block hashes" for ln in liq.lines())
