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

import time

import pytest
from eth_account import Account

from keepers_env import ATC, T0, USDC, Env, wait_until
from sdk.devnet import ANVIL_KEYS

pytestmark = pytest.mark.integration

# 1 MWh short each at $778.38; the shock costs ~$3,168 and MM is then ~$1,147: the first two end
# insolvent (deficits ~$1,168 and ~$118), the next four solvent but below MM, the last two healthy
ENTRY = 778_380_000
SHORT_COLLATERAL_USD = [2_000, 3_050, 3_250, 3_350, 3_450, 3_500, 5_000, 9_000]
SHOCK_AT = T0 + 18 * 3600
# ANVIL_KEYS[4] in sdk/devnet.py is not anvil account 4 (its address has no ETH); use 7-9
LIQ_A, LIQ_B, WHALE = 7, 8, 9


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def open_book(env: Env, liquidators=(LIQ_A,)) -> list[str]:
    """Reporters + pusher up, marks on chain, shorts opened against a whale. Returns short addresses."""
    for i in (1, 2, 3):
        env.start_reporter(i, wait=False)
    for i in (1, 2, 3):
        wait_until(lambda: env._up(f"http://127.0.0.1:{env.reporter_ports[i]}/health"), 60, 0.2, f"reporter {i}")
    env.start_bot("pusher", 0, "--reporters", env.reporter_urls(), "--poll-interval", "0.2")
    wait_until(lambda: env.mark(ATC)[2], 30, 0.2, "first mark pushed")
    for li in liquidators:
        env.fund(ANVIL_KEYS[li], 200_000)
    env.fund(ANVIL_KEYS[WHALE], 200_000)
    shorts = []
    for usd in SHORT_COLLATERAL_USD:
        k = env.new_account()
        env.fund(k, usd)
        env.trade(k, ANVIL_KEYS[WHALE], ATC, False, 1_000, ENTRY)
        shorts.append(Account.from_key(k).address)
    return shorts


def liquidatable_at(env: Env, accounts: list[str], block: int) -> set[str]:
    return {a for a in accounts if env.ch.functions.is_liquidatable(a).call(block_identifier=block)}


def test_shock__uri_replay__stale_price_blocks_then_all_closed_within_2_blocks(env):
    shorts = open_book(env)
    liq = env.start_bot("liquidator", LIQ_A, "--poll-interval", "0.1")
    wait_until(lambda: any(l.get("msg") == "startup" for l in liq.lines()), 30, 0.2, "liquidator startup")
    assert not env.events("Liquidation")

    # two of three reporters down: no quorum, the old mark goes stale across the storm
    env.reporters[2].stop()
    env.reporters[3].stop()
    env.interval_mining(1)
    env.warp_to(SHOCK_AT)
    start = env.w3.eth.block_number
    wait_until(lambda: env.w3.eth.block_number >= start + 4, 20, 0.2, "4 blocks on stale marks")
    mark, observed, fresh = env.mark(ATC)
    assert not fresh and observed < SHOCK_AT - 3600
    assert not env.events("Liquidation"), "liquidated on a stale price"
    assert not any(env.ch.functions.is_liquidatable(a).call() for a in shorts)
    assert any(l.get("msg") == "no quorum bundle: not submitting" for l in env.procs[3].lines())

    # reporters back: the storm price lands, every unhealthy short goes within 2 blocks
    env.start_reporter(2, wait=False)
    env.start_reporter(3, wait=False)
    ev = wait_until(lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push")
    push_block = ev[0].blockNumber
    new_mark = env.mark(ATC)[0]
    assert new_mark > 3_000 * USDC, new_mark  # real HB_WEST day-ahead mean for 2021-02-14: ~$3,947/MWh
    expected = liquidatable_at(env, shorts, push_block)
    assert len(expected) == 6, expected  # all but the $5,000 and $9,000 accounts
    wait_until(lambda: handled(env) >= expected and
               not any(env.ch.functions.is_liquidatable(a).call() for a in shorts), 30, 0.2, "all liquidated")
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
    mined = [l for l in log_lines if l.get("msg") == "liquidation mined"]
    assert sum(int(l["reward"]) for l in mined) == earned and mined[-1]["earned_total"] >= earned
    dl = [l for l in log_lines if l.get("msg") == "deleveraged"]
    assert {l["counterparty"] for l in dl} == {whale}
    print(f"\nSHOCK_BLOCKS={last - push_block} push_block={push_block} last_liquidation={last} "
          f"rewards={earned / 1e6:.2f} USD deleveraged={[e.args.account for e in adls]}")


def handled(env: Env) -> set[str]:
    """Accounts liquidated or deleveraged so far."""
    return {e.args.account for e in env.events("Liquidation")} | {e.args.account for e in env.events("Deleveraged")}


def test_race__two_liquidators__every_target_once_losers_logged_not_retried(env):
    shorts = open_book(env, liquidators=(LIQ_A, LIQ_B))
    a = env.start_bot("liquidator", LIQ_A, "--poll-interval", "0.1", name="liqA")
    b = env.start_bot("liquidator", LIQ_B, "--poll-interval", "0.1", name="liqB")
    for p in (a, b):
        wait_until(lambda: any(l.get("msg") == "startup" for l in p.lines()), 30, 0.2, f"{p.name} startup")
    env.interval_mining(1)
    env.warp_to(SHOCK_AT)
    ev = wait_until(lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push")
    expected = liquidatable_at(env, shorts, ev[0].blockNumber)
    wait_until(lambda: not any(env.ch.functions.is_liquidatable(x).call() for x in shorts), 30, 0.2, "all healthy")
    time.sleep(3)  # a few more blocks: nobody keeps retrying
    liqs = env.events("Liquidation")
    assert handled(env) == expected
    per_account = {}
    for e in liqs:
        per_account.setdefault(e.args.account, set()).add(e.transactionHash)
    assert all(len(v) == 1 for v in per_account.values()), per_account
    sent = {p.name: [l for l in p.lines() if l.get("msg") == "sent"] for p in (a, b)}
    # each bot sends each (target, action) at most once; together they cover every target
    for name, s in sent.items():
        acts = [(l["account"], l["kind"]) for l in s]
        assert len(acts) == len(set(acts)), (name, acts)
    assert sum(len(s) for s in sent.values()) <= 2 * (len(expected) + 1)
    # losers are logged (reverted on chain or rejected in simulation), and both bots are still alive
    lost = [l for p in (a, b) for l in p.lines()
            if " not applied" in l.get("msg", "") or
            (l.get("msg") == "not sent: simulation reverted" and l.get("kind") in ("liquidation", "deleverage"))]
    both = sum(len(s) for s in sent.values())
    assert both == len(expected) or lost, "duplicates sent but never logged as lost"
    assert env.ch.functions.adl_pending_count().call() == 0
    assert a.alive() and b.alive()
