"""Liquidator on anvil with real reporters and the pusher, replaying Winter Storm Uri.

ERCOT HB_WEST DA ATC for 2021-02-14 is marked at ~$778/MWh on 2021-02-13 18:00Z (02-13's level
decaying to the 28-day median, docs/methodology.md); 18 hours later ERCOT has published the
storm's day-ahead prices for the 14th and the mark is their mean, ~$3,947/MWh. Shorts with
thin collateral fall below maintenance (some insolvent). The liquidator must close every one
of them within 2 blocks of the price landing, and must do nothing while the mark is stale.
It is paid a reward from the insurance fund for each liquidation; the fund starts empty, so
the penalties of the solvent shorts are all it has: the insolvent short it can carry is closed
out, the one it cannot is auto-deleveraged against the only profitable opposite position (the
whale's long), and no loss is left unassigned (bad_debt 0, no adl_pending).
"""

from __future__ import annotations

import pytest
from eth_account import Account

from devnet.anvil import ANVIL_KEYS
from scripts._keepers_env import (
    ATC,
    LIQ_A,
    LIQ_B,
    SHOCK_AT,
    USDC,
    WHALE,
    handled,
    land_shock,
    liquidatable_at,
    open_book,
    shock_push,
    start_liquidator,
    wait_blocks,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_shock__uri_replay__stale_price_blocks_then_all_closed_within_2_blocks(env):
    shorts = open_book(env)
    pusher = env.procs[3]
    liq = start_liquidator(env)
    liq.wait_processed(env.w3.eth.block_number)
    assert not env.events("Liquidation")

    # two of three reporters down: no quorum, the old mark goes stale across the storm
    env.reporters[2].stop()
    env.reporters[3].stop()
    env.interval_mining(1)
    env.warp_to(SHOCK_AT)
    stale_until = wait_blocks(env.w3, 4, 20)
    # both keepers handled those blocks: the pusher found no quorum, the liquidator scanned
    pusher.wait_processed(stale_until)
    liq.wait_processed(stale_until)
    mark, observed, fresh = env.mark(ATC)
    assert not fresh and observed < SHOCK_AT - 3600
    assert not env.events("Liquidation"), "liquidated on a stale price"
    assert not any(env.ch.functions.is_liquidatable(a).call() for a in shorts)
    assert pusher.logged("no quorum bundle: not submitting")

    # reporters back: the storm price lands, every unhealthy short goes within 2 blocks
    env.start_reporter(2, wait=False)
    env.start_reporter(3, wait=False)
    push_block = shock_push(env).blockNumber
    new_mark = env.mark(ATC)[0]
    assert new_mark > 3_000 * USDC, new_mark  # real HB_WEST day-ahead mean for 2021-02-14: ~$3,947/MWh
    expected = liquidatable_at(env, shorts, push_block)
    assert len(expected) == 6, expected  # all but the $5,000 and $9,000 accounts
    wait_until(
        lambda: handled(env) >= expected and not any(env.ch.functions.is_liquidatable(a).call() for a in shorts),
        30,
        0.2,
        "all liquidated",
    )
    liqs, adls = env.events("Liquidation"), env.events("Deleveraged")
    last = max(e.blockNumber for e in liqs + adls)
    assert last - push_block <= 2, f"price at block {push_block}, last liquidation at {last}"
    assert handled(env) == expected
    # one liquidation tx per target (the contract restores health in one go)
    txs = {(e.args.account, e.transactionHash) for e in liqs}
    assert len({a for a, _ in txs}) == len(txs)
    me = Account.from_key(ANVIL_KEYS[LIQ_A]).address
    assert all(e.args.liquidator == me for e in liqs)
    # the liquidator is paid: at least the $1 minimum reward for every liquidation, close-outs included
    assert all(e.args.reward >= 10**6 for e in liqs), [e.args for e in liqs]
    earned = sum(e.args.reward for e in liqs)
    # the fund started empty: the $2,000 short's ~$1,168 deficit is more than the penalties bring, so
    # its loss went to the whale (the only opposite position, in profit); the $3,050 one was closed out
    whale = Account.from_key(ANVIL_KEYS[WHALE]).address
    assert adls and {e.args.counterparty for e in adls} == {whale}
    assert {e.args.account for e in adls} == {shorts[0]}  # only the $2,000 one: the $3,050 one fits in the fund
    closeouts = [e for e in liqs if e.args.account == shorts[1]]
    assert len(closeouts) == 1 and abs(closeouts[0].args.quantity) == 1_000 and closeouts[0].args.penalty == 0
    assert all(e.args.loss > 0 for e in adls)
    assert env.ch.functions.bad_debt().call() == 0 and env.ch.functions.adl_pending_count().call() == 0
    for a in expected:
        assert env.ch.functions.collateral(a).call() >= 0 or len(env.ch.functions.open_markets(a).call()) > 0
    log_lines = liq.lines()
    mined = [ln for ln in log_lines if ln.get("msg") == "liquidation mined"]
    assert sum(int(ln["reward"]) for ln in mined) == earned and mined[-1]["earned_total"] >= earned
    dl = [ln for ln in log_lines if ln.get("msg") == "deleveraged"]
    assert {ln["counterparty"] for ln in dl} == {whale}
    print(
        f"\nSHOCK_BLOCKS={last - push_block} push_block={push_block} last_liquidation={last} "
        f"rewards={earned / 1e6:.2f} USD deleveraged={[e.args.account for e in adls]}"
    )


def test_race__two_liquidators__every_target_once_losers_logged_not_retried(env):
    shorts = open_book(env, liquidators=(LIQ_A, LIQ_B))
    a, b = start_liquidator(env, LIQ_A, "liqA"), start_liquidator(env, LIQ_B, "liqB")
    _, expected = land_shock(env, shorts)
    wait_until(lambda: not any(env.ch.functions.is_liquidatable(x).call() for x in shorts), 30, 0.2, "all healthy")
    # three more blocks, each handled by both bots: nobody keeps retrying
    quiet_until = wait_blocks(env.w3, 3)
    for p in (a, b):
        p.wait_processed(quiet_until)
    liqs = env.events("Liquidation")
    assert handled(env) == expected
    per_account = {}
    for e in liqs:
        per_account.setdefault(e.args.account, set()).add(e.transactionHash)
    assert all(len(v) == 1 for v in per_account.values()), per_account
    sent = {p.name: [ln for ln in p.lines() if ln.get("msg") == "sent"] for p in (a, b)}
    # each bot sends each (target, action) at most once; together they cover every target
    for name, s in sent.items():
        acts = [(ln["account"], ln["kind"]) for ln in s]
        assert len(acts) == len(set(acts)), (name, acts)
    assert sum(len(s) for s in sent.values()) <= 2 * (len(expected) + 1)
    # losers are logged (reverted on chain or rejected in simulation), and both bots are still alive
    lost = [
        ln
        for p in (a, b)
        for ln in p.lines()
        if " not applied" in ln.get("msg", "")
        or (ln.get("msg") == "not sent: simulation reverted" and ln.get("kind") in ("liquidation", "deleverage"))
    ]
    both = sum(len(s) for s in sent.values())
    assert both == len(expected) or lost, "duplicates sent but never logged as lost"
    assert env.ch.functions.adl_pending_count().call() == 0
    assert a.alive() and b.alive()
