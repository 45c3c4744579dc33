"""Keeper decision logic without a chain: health scan, planner, send guard, event book,
report bundling, push policy, settlement checks, fee bumping, config errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from eth_abi import encode
from hexbytes import HexBytes

from chain.tx import FeePolicy, PendingTx, TxSender
from devnet.anvil import ROOT
from keepers.liquidator import (
    LiquidationParams,
    MarketVector,
    Planner,
    SendGuard,
    adl_score,
    liquidation_price,
    rank_counterparties,
    scan,
)
from keepers.positions import (
    COLLATERAL_UPDATED,
    POSITION_UPDATED,
    CollateralEvent,
    PositionBook,
    PositionEvent,
    decode_log,
)
from keepers.pusher import Bundle, FeedState, PushPolicy, Row, bundle
from keepers.settler import MarketInfo, SettlementFeed, batches, finalizable, needs_adl, plan_settlement


# ------------------------------------------------------------------ health scan
def _floor_div(a, b):
    return a // b  # python floors, like the contract's _floor_div


def contract_summary(coll, qs, ons, marks, fixed, rate, settled):
    eq, mm = coll, 0
    for q, on, mk, f, r, s in zip(qs, ons, marks, fixed, rate, settled, strict=False):
        if q == 0:
            continue
        eq += _floor_div(q * mk, 1000) - on
        if not s:
            mm += -(-(abs(q) * (f * 10_000 + r * abs(mk))) // 10_000_000)
    return eq, mm


def test_scan__random_books__matches_contract_integer_maths():
    rng = np.random.default_rng(7)
    n, m = 500, 5
    q = rng.integers(-50_000, 50_000, (n, m)) * (rng.random((n, m)) < 0.6)
    on = rng.integers(-(10**10), 10**10, (n, m)) * (q != 0)
    coll = rng.integers(0, 10**10, n)
    mv = MarketVector(
        [1, 2, 3, 4, 5],
        np.array([45_230_000, -12_340_000, 2_500_000, 0, 9_000_000_000]),
        np.ones(m, bool),
        np.array([200, 160, 40, 15, 300]) * 10**6,
        np.array([2500, 2500, 2000, 1500, 5000]),
        np.zeros(m, bool),
        np.array([False, False, False, False, True]),
    )
    r = scan(q.astype(float), on.astype(float), coll.astype(float), mv, tolerance=0)
    for i in range(n):
        eq, mm = contract_summary(
            int(coll[i]),
            q[i].tolist(),
            on[i].tolist(),
            mv.mark.astype(int).tolist(),
            mv.mm_fixed.astype(int).tolist(),
            mv.mm_rate_bps.astype(int).tolist(),
            mv.settled,
        )
        assert abs(r.equity[i] - eq) <= 1 and abs(r.maintenance[i] - mm) <= 1
        if abs(eq - mm) > 10:
            assert bool(r.liquidatable[i]) == (mm > 0 and eq < mm)


def test_scan__stale_leg_counts_one_mm_against__cannot_shield_a_sinking_account():
    # the issue-16 attack: a tiny position in a market whose mark is stale (disputed) must not
    # make an underwater account unliquidatable; a stale leg is valued one MM against it
    mv = MarketVector(
        [1, 2],
        np.array([100e6, 100e6]),
        np.array([True, False]),
        np.array([10e6, 10e6]),
        np.array([1000, 1000]),
        np.zeros(2, bool),
        np.zeros(2, bool),
    )
    q = np.array([[-1000.0, 0], [-1000.0, 100.0], [0, -1000.0], [1000.0, 1000.0]])
    on = np.array([[-1e6, 0], [-1e6, 10e6], [0, -1e6], [100e6, 100e6]])
    coll = np.array([0.0, 0.0, 0.0, 30e6 + 1])  # the last: equity $30 + 1e-6, MM $40 incl. stale $20
    r = scan(q, on, coll, mv)
    assert r.liquidatable.tolist() == [True, True, True, True]
    assert r.fresh.tolist() == [True, False, False, False]
    assert r.stale_margin.tolist() == [0, 2e6, 20e6, 20e6]
    coll[3] = 40e6  # equity 40 - stale 20 = 20 >= MM 40? no: still below
    assert scan(q, on, coll, mv, tolerance=0).liquidatable[3]
    coll[3] = 60e6  # 60 - 20 >= 40: healthy
    assert not scan(q, on, coll, mv, tolerance=0).liquidatable[3]


def test_scan__halted_leg_at_last_mark_is_not_stale():
    mv = MarketVector(
        [1],
        np.array([100e6]),
        np.array([False]),
        np.array([10e6]),
        np.array([1000]),
        np.array([True]),
        np.zeros(1, bool),
    )
    r = scan(np.array([[1000.0]]), np.array([[100e6]]), np.array([25e6]), mv, tolerance=0)
    assert r.stale_margin[0] == 0 and r.maintenance[0] == 20e6 and not r.liquidatable[0]
    assert scan(np.array([[1000.0]]), np.array([[100e6]]), np.array([19e6]), mv, tolerance=0).liquidatable[0]


def test_scan__insolvent_screen_includes_settled_only_accounts():
    mv = MarketVector(
        [1],
        np.array([100e6]),
        np.ones(1, bool),
        np.array([10e6]),
        np.array([1000]),
        np.zeros(1, bool),
        np.array([True]),
    )
    r = scan(np.array([[-1000.0], [1000.0]]), np.array([[-50e6], [50e6]]), np.array([10e6, 0.0]), mv, tolerance=0)
    assert r.maintenance.tolist() == [0, 0] and not r.liquidatable.any()
    assert r.insolvent.tolist() == [True, False]  # -50 + 10 < 0: only ADL (or settle) can resolve it


# ------------------------------------------------------------------ planner, guard
MV = MarketVector(
    [1, 2],
    np.array([100e6, 50e6]),
    np.ones(2, bool),
    np.array([10e6, 5e6]),
    np.array([2000, 1000]),
    np.array([False, True]),
    np.zeros(2, bool),
)


LP = LiquidationParams()  # the contract's defaults: 50% of MM capped at 10% of notional; $1 + 0.1%, <= $1,000
FUND = 10**12


def test_planner__largest_shortfall_first__halted_market_liquidated_at_last_mark():
    p = Planner(LP)
    confirmed = [
        ("0xA", {"equity": 50, "maintenance": 100, "open_markets": 1, "liquidatable": True}, {1: -1000}),
        ("0xB", {"equity": -500, "maintenance": 100, "open_markets": 1, "liquidatable": True}, {1: 2000}),
        ("0xC", {"equity": 200, "maintenance": 100, "open_markets": 1, "liquidatable": False}, {1: 1000}),
        ("0xE", {"equity": 10, "maintenance": 100, "open_markets": 1, "liquidatable": True}, {2: 1000}),  # halted
    ]
    targets, adl, skipped = p.plan(confirmed, MV, FUND)
    # solvent first (their penalties reach the fund first), each group largest shortfall first
    assert [t.account for t in targets] == ["0xE", "0xA", "0xB"] and not adl
    assert targets[2].insolvent and targets[2].quantity == 2000 and targets[2].market_id == 1
    assert targets[0].market_id == 2  # MV halts market 2: taken at its last mark, not skipped
    assert {s["account"]: s["reason"] for s in skipped} == {"0xC": "healthy on chain"}


def test_planner__stale_not_halted_market__not_acted_on():
    mv = MarketVector(
        [1, 2],
        np.array([100e6, 50e6]),
        np.array([True, False]),
        np.array([10e6, 5e6]),
        np.array([2000, 1000]),
        np.zeros(2, bool),
        np.zeros(2, bool),
    )
    confirmed = [
        ("0xA", {"equity": 10, "maintenance": 10**9, "open_markets": 2, "liquidatable": True}, {1: 100, 2: 100_000})
    ]
    targets, _, _ = Planner(LP).plan(confirmed, mv, FUND)
    assert [t.market_id for t in targets] == [1]  # the big leg is stale: act on the fresh one
    targets, _, skipped = Planner(LP).plan([("0xB", confirmed[0][1], {2: 1000})], mv, FUND)
    assert not targets and skipped[0]["reason"] == "no fresh or halted market"


def test_planner__insolvent__one_close_out_per_market_each_with_its_reward():
    mv = MarketVector(
        [1, 2, 3],
        np.array([100e6, 50e6, 10e6]),
        np.ones(3, bool),
        np.full(3, 10e6),
        np.full(3, 1000),
        np.zeros(3, bool),
        np.array([False, False, True]),
        np.full(3, 10_000),
    )
    s = {"equity": -20 * 10**6, "maintenance": 10**9, "open_markets": 3, "liquidatable": True}
    targets, adl, _ = Planner(LP).plan([("0xA", s, {1: 5000, 2: -3000, 3: 1000})], mv, FUND)
    assert not adl and [(t.market_id, t.quantity, t.insolvent) for t in targets] == [(1, 5000, True), (2, 3000, True)]
    # $1 + 0.1% of the notional taken: 5 units at $100 -> $1.50; 3 at $50 -> $1.15
    assert [t.expected_reward for t in targets] == [1_500_000, 1_150_000]
    # a thin fund: it keeps the deficit plus one minimum reward per leg still open
    fund = 20 * 10**6 + 3 * 10**6 + 200_000
    targets, adl, _ = Planner(LP).plan([("0xA", s, {1: 5000, 2: -3000, 3: 1000})], mv, fund)
    assert not adl and [t.expected_reward for t in targets] == [1_200_000, 1_000_000]


def test_planner__fund_cannot_carry_insolvent__adl_target_largest_loss_market_first():
    mv = MarketVector(
        [1, 2],
        np.array([100e6, 50e6]),
        np.ones(2, bool),
        np.full(2, 10e6),
        np.full(2, 1000),
        np.zeros(2, bool),
        np.zeros(2, bool),
    )
    s = {"equity": -30 * 10**6, "maintenance": 10**9, "open_markets": 2, "liquidatable": True, "adl_pending": True}
    pos = {1: -1000, 2: 1000}
    ons = {"0xA": {1: -60 * 10**6, 2: 40 * 10**6}}  # market 1: -$40, market 2: +$10
    fund = 30 * 10**6 + 2 * 10**6 - 1  # one base unit short of deficit + 2 minimum rewards
    targets, adl, _ = Planner(LP).plan([("0xA", s, pos)], mv, fund, ons)
    assert not targets and len(adl) == 1
    assert adl[0].deficit == 30 * 10**6 and adl[0].markets == (1, 2) and adl[0].flagged
    targets, adl, _ = Planner(LP).plan([("0xA", s, pos)], mv, fund + 1, ons)  # now the fund carries it
    assert not adl and len(targets) == 2


def test_planner__penalties_of_this_block_fund_the_close_outs_after_them():
    # Uri-like: $746 mark, MM $346.50/unit; a solvent short pays ~$74.60 into the fund, so an
    # insolvent short $50 under water is closed out in the same block, not deleveraged
    mv = MarketVector(
        [1],
        np.array([746e6]),
        np.ones(1, bool),
        np.array([160e6]),
        np.array([2500]),
        np.zeros(1, bool),
        np.zeros(1, bool),
        np.array([10_000]),
        np.array([1]),
        np.array([100]),
    )
    solvent = (
        "0xS",
        {"equity": 76 * 10**6, "maintenance": 346_500_000, "open_markets": 1, "liquidatable": True},
        {1: -1000},
    )
    debtor = (
        "0xD",
        {"equity": -50 * 10**6, "maintenance": 346_500_000, "open_markets": 1, "liquidatable": True},
        {1: -1000},
    )
    targets, adl, _ = Planner(LP).plan([debtor, solvent], mv, 0)
    assert [(t.account, t.insolvent) for t in targets] == [("0xS", False), ("0xD", True)] and not adl
    assert targets[0].expected_penalty == 74_600_000 and targets[0].expected_reward == 1_746_000
    assert targets[1].expected_reward == 1_746_000  # the fund keeps $50 of the $72.85 for the deficit
    debtor[1]["equity"] = -80 * 10**6  # beyond what the penalty brings: ADL
    targets, adl, _ = Planner(LP).plan([debtor, solvent], mv, 0)
    assert [t.account for t in targets] == ["0xS"] and [a.account for a in adl] == ["0xD"]


def test_planner__insolvent_in_settled_markets_only__left_to_settler_unless_fund_short():
    s = {"equity": -5 * 10**6, "maintenance": 0, "open_markets": 1, "liquidatable": False}
    mv = MarketVector(
        [1],
        np.array([100e6]),
        np.ones(1, bool),
        np.array([10e6]),
        np.array([1000]),
        np.zeros(1, bool),
        np.array([True]),
    )
    targets, adl, skipped = Planner(LP).plan([("0xA", s, {1: 1000})], mv, FUND)
    assert not targets and not adl and "settler" in skipped[0]["reason"]
    targets, adl, _ = Planner(LP).plan([("0xA", s, {1: 1000})], mv, 0)
    assert adl and adl[0].markets == (1,)  # deleverage works in settled markets


def test_planner__profit_is_the_reward__unprofitable_partial_skipped_close_out_sent():
    p = Planner(LP, check_profit=True, gas_cost_units=2 * 10**6)  # gas $2 > reward ~$1
    confirmed = [
        ("0xA", {"equity": 50, "maintenance": 100, "open_markets": 1, "liquidatable": True}, {1: -1000}),
        ("0xB", {"equity": -5, "maintenance": 100, "open_markets": 1, "liquidatable": True}, {1: -1000}),
    ]
    targets, _, skipped = p.plan(confirmed, MV, FUND)
    assert [t.account for t in targets] == ["0xB"] and skipped[0]["reason"] == "unprofitable"
    assert skipped[0]["reward"] == 1_000_100  # it takes only 0.001 unit to restore health: $1 + 0.1% of $0.10
    assert Planner(LP, check_profit=True, gas_cost_units=10**6).plan(confirmed[:1], MV, FUND)[0]


def test_liquidation_params__reward_and_penalty_match_contract_formula():
    assert LP.reward(1000, 746_000_000) == 10**6 + 746_000_000 * 10 // 10_000
    assert LP.reward(10**9, 10**9) == 1_000 * 10**6  # capped at max_reward
    assert LP.reward(1000, -5_000_000) == 10**6 + 5_000  # |price|
    # per unit: 50% of MM, at most 10% of |price|
    assert LP.penalty_per_unit(300 * 10**6, 746 * 10**6) == 74_600_000
    assert LP.penalty_per_unit(30 * 10**6, 746 * 10**6) == 15 * 10**6
    assert LP.fund_carries(-10, 2, 10 + 2 * 10**6) and not LP.fund_carries(-10, 2, 9 + 2 * 10**6)
    assert LP.adl_shortfall(-224 * 10**6, 1, 0, 1000, 746_000_000) == 224 * 10**6 + 1_746_000


def test_liquidation_price__rounds_in_the_accounts_favour():
    assert liquidation_price(746_123_456, -1000, 10_000) == 746_120_000  # a short buys back lower
    assert liquidation_price(746_123_456, 1000, 10_000) == 746_130_000  # a long sells higher
    assert liquidation_price(-5_005, 1000, 10) == -5_000 and liquidation_price(-5_005, -1000, 10) == -5_010


def test_expected_partial__smallest_size_restoring_health_min_quantity_rule():
    p = Planner(LP)
    # u = $10 + 20% of $100 = $30/unit, penalty 50% -> $15/unit (cap 10% of $100 = $10): pu = $10
    # MM 300, equity 200: x >= (300 - 200) / (30 - 10) = 5 units
    take, pen = p.expected_partial(200 * 10**6, 0, 300 * 10**6, 10_000, 100 * 10**6, 100 * 10**6, 10 * 10**6, 2000)
    assert take == 5000 and pen == 50 * 10**6
    # leaving 0.05 below a 0.1 minimum: take it all
    take, _ = p.expected_partial(
        200 * 10**6, 0, 300 * 10**6, 5050, 100 * 10**6, 100 * 10**6, 10 * 10**6, 2000, min_quantity=100
    )
    assert take == 5050


# ------------------------------------------------------------------ ADL ranking
def test_adl_score__profit_times_leverage_exact_integer():
    # long 2 units entered at $100, mark $150: profit $100, notional $300, equity $50
    assert adl_score(2000, 200 * 10**6, 50 * 10**6, 150 * 10**6) == 100 * 10**6 * 300 * 10**6 // (50 * 10**6)
    assert adl_score(2000, 400 * 10**6, 50 * 10**6, 150 * 10**6) == 0  # in loss
    # an insolvent counterparty is refused by the contract ("counterparty insolvent"): never ranked
    assert adl_score(2000, 200 * 10**6, -5, 150 * 10**6) == 0


def test_rank_counterparties__only_opposite_in_profit__ranked_by_profit_x_leverage__cut_at_shortfall():
    mark = 150 * 10**6
    holders = [
        ("0xacct", -3000, -300 * 10**6, -(10**8)),  # the account itself (short): skipped
        ("0xsame", -1000, -160 * 10**6, 10**9),  # same side as the account: never
        ("0xloss", 1000, 200 * 10**6, 10**9),  # opposite but in loss: never
        ("0xlow", 1000, 100 * 10**6, 10**10),  # profit 50, notional 150, equity 10k: low leverage
        ("0xhigh", 1000, 100 * 10**6, 100 * 10**6),  # same profit, equity 100: ranked first
        ("0xmid", 2000, 200 * 10**6, 10**9),  # profit 100, notional 300, equity 1000
    ]
    cps = rank_counterparties(-3000, holders, mark, shortfall=10**12)
    assert [c.account for c in cps] == ["0xhigh", "0xmid"]  # 1 + 2 units cover the account's 3
    scores = [c.score for c in cps]
    assert scores == sorted(scores, reverse=True)
    # a small shortfall is covered by the first one's profit: stop there
    assert [c.account for c in rank_counterparties(-3000, holders, mark, shortfall=10 * 10**6)] == ["0xhigh"]
    assert [c.account for c in rank_counterparties(-3000, holders, mark, 10**12, limit=1)] == ["0xhigh"]
    assert rank_counterparties(3000, holders, mark, 10**12)[0].account == "0xsame"  # a long account: shorts in profit


def test_rank_counterparties__matches_contract_ordering_check_on_random_books():
    rng = np.random.default_rng(3)
    mark = 123_450_000
    for _ in range(50):
        holders = [
            (
                f"0x{i:040x}",
                int(rng.integers(1, 5000)) * (1 if rng.random() < 0.7 else -1),
                int(rng.integers(-(10**9), 10**9)),
                int(rng.integers(-(10**8), 10**10)),
            )
            for i in range(40)
        ]
        cps = rank_counterparties(-(10**9), holders, mark, 10**15)
        assert len(cps) <= 16
        last = None
        for c in cps:  # the contract's loop: opposite, in profit, score non-increasing
            q, on, eq = next((h[1], h[2], h[3]) for h in holders if h[0] == c.account)
            assert q > 0 and q * mark // 1000 - on > 0
            sc = (q * mark // 1000 - on) * (abs(q) * mark // 1000) // max(eq, 1)
            assert last is None or sc <= last
            last = sc


def test_send_guard__once_per_block__rest_after_lost_race():
    g = SendGuard(cooldown_blocks=2)
    assert g.allowed("a", 10)
    g.sent("a", 10)
    assert not g.allowed("a", 10) and g.allowed("a", 11)
    g.lost("a", 11)
    assert not g.allowed("a", 12) and not g.allowed("a", 13) and g.allowed("a", 14)


# ------------------------------------------------------------------ event book
ACCT = "0x" + "ab" * 20


def _log(topic, topics, data, block, index):
    return {
        "topics": [HexBytes(topic)] + [HexBytes(t) for t in topics],
        "data": HexBytes(data),
        "blockNumber": block,
        "logIndex": index,
    }


def test_book__decode_and_apply__replays_and_older_logs_ignored():
    acct_topic = bytes(12) + bytes.fromhex(ACCT[2:])
    pos = _log(POSITION_UPDATED, [acct_topic, (3).to_bytes(32, "big")], encode(["int256"] * 3, [-1500, -7, 0]), 5, 1)
    col = _log(COLLATERAL_UPDATED, [acct_topic], encode(["int256"], [123]), 5, 2)
    ev = decode_log(pos)
    assert isinstance(ev, PositionEvent) and (ev.market_id, ev.quantity, ev.open_notional) == (3, -1500, -7)
    assert isinstance(decode_log(col), CollateralEvent)
    b = PositionBook()
    assert b.apply_logs([pos, col]) == 2
    assert b.apply_logs([pos, col]) == 0  # replay: idempotent
    a = ev.account
    assert b.position(a, 3) == (-1500, -7) and b.collateral[0] == 123
    b.apply(PositionEvent(a, 3, 0, 0, 4, 0))  # older log: ignored
    assert b.position(a, 3) == (-1500, -7)
    b.apply(PositionEvent(a, 3, 0, 0, 6, 0))
    assert b.position(a, 3) == (0, 0) and b.holders(3) == []
    for k in range(3000):  # growth past the initial capacity
        b.apply(PositionEvent(f"0x{k:040x}", 1 + k % 4, 1000, 5, 7, k))
    assert len(b) == 3001 and len(b.holders(2)) == 750 and b.net_quantity(1) == 750_000


# ------------------------------------------------------------------ pusher
F1, F2 = "0x" + "11" * 32, "0x" + "22" * 32
REPS = {"0xr1", "0xr2", "0xr3"}


def row(src, signer, prices, obs=1000, feeds=(F1, F2)):
    return Row(src, feeds, tuple(prices), obs, signer, "0xsig")


def test_bundle__identical_feeds_and_time_only__newest_quorum_group():
    rows = [row("a", "0xr1", [10, 20], 1000), row("b", "0xr2", [12, 22], 1000), row("c", "0xr3", [11, 21], 1001)]
    b, notes = bundle(rows, 2, REPS)
    assert b.observed_at == 1000 and len(b.rows) == 2
    assert bundle(rows, 3, REPS)[0] is None  # partial quorum never submitted
    rows.append(row("d", "0xr1", [10, 20], 1001))
    b, _ = bundle(rows, 2, REPS)
    assert b.observed_at == 1001
    # different feed lists do not mix, even at the same time
    b, notes = bundle([row("a", "0xr1", [1, 2]), row("b", "0xr2", [1], feeds=(F1,))], 2, REPS)
    assert b is None and "quorum" in notes[-1]


def test_bundle__unknown_signer_duplicate_signer_bad_signature_dropped():
    rows = [row("a", "0xr1", [1, 2]), row("a2", "0xr1", [1, 2]), row("x", "0xevil", [1, 2])]
    b, notes = bundle(rows, 2, REPS)
    assert b is None and any("not a registered reporter" in n for n in notes)
    b, notes = bundle([row("a", "0xr1", [1, 2]), row("b", "0xr2", [1, 2])], 2, REPS, verify=lambda r: r.source == "a")
    assert b is None and any("signature" in n for n in notes)


def test_bundle__medians_match_contract_even_count_truncation():
    b = Bundle((F1,), 1, (row("a", "0xr1", [-3], feeds=(F1,)), row("b", "0xr2", [-6], feeds=(F1,))))
    assert b.medians() == {F1: -4}  # (-9) // 2 truncated toward zero
    b = Bundle((F1,), 1, tuple(row(s, s, [p], feeds=(F1,)) for s, p in (("a", 5), ("b", 1), ("c", 9))))
    assert b.medians() == {F1: 5}


def _st(price=100, obs=900, upd=900, **kw):
    return FeedState(price, obs, upd, kw.pop("disputed", False), kw.pop("final", False), **kw)


def _b(prices, obs=1000):
    return Bundle((F1, F2), obs, (row("a", "0xr1", prices, obs), row("b", "0xr2", prices, obs)))


def test_push_policy__deviation_heartbeat_and_quiet():
    p = PushPolicy()
    feeds = {F1: _st(100), F2: _st(200)}
    assert not p.decide(_b([100, 200]), feeds, 1000).submit
    d = p.decide(_b([101, 200]), feeds, 1000)  # +1% > 50 bps
    assert d.submit and d.triggers == (f"{F1}:deviation",)
    assert not p.decide(_b([100, 200]), {F1: _st(100, deviation_bps=200), F2: _st(200)}, 1000).submit
    d = p.decide(_b([100, 200]), {F1: _st(100, upd=900 - 1800), F2: _st(200)}, 1000)
    assert d.submit and d.triggers == (f"{F1}:heartbeat",)
    d = p.decide(_b([100, 200]), {F1: _st(0, obs=0, upd=0), F2: _st(200)}, 1000)
    assert d.triggers == (f"{F1}:first",)


def test_push_policy__never_stale_old_disputed_or_final():
    p = PushPolicy(max_report_age=3600, max_report_lag=600)
    feeds = {F1: _st(100), F2: _st(200)}
    assert "stale" in p.decide(_b([150, 200], obs=300), {F1: _st(100, obs=0), F2: _st(200, obs=0)}, 1000).reason
    assert "already has" in p.decide(_b([150, 200], obs=900), feeds, 1000).reason
    assert "disputed" in p.decide(_b([150, 200]), {F1: _st(100, disputed=True), F2: _st(200)}, 1000).reason
    assert "final" in p.decide(_b([150, 200]), {F1: _st(100, final=True), F2: _st(200)}, 1000).reason


def test_push_policy__settlement_feed__first_value_yes_heartbeat_no():
    p = PushPolicy()
    s_old = _st(0, obs=0, upd=0, role="settlement", delivery_end=950)
    d = p.decide(_b([100, 200]), {F1: _st(100), F2: s_old}, 1000)
    assert d.submit and d.triggers == (f"{F2}:first",)
    s_done = _st(200, obs=960, upd=0, role="settlement", delivery_end=950)  # heartbeat long expired
    assert not p.decide(_b([100, 200]), {F1: _st(100), F2: s_done}, 1000).submit


# ------------------------------------------------------------------ settler
def test_finalizable__mirrors_contract_checks():
    m = MarketInfo(1, b"", delivery_end=1000, dispute_window=3600, settled=False)
    f = SettlementFeed(5, observed_at=1000, updated_at=1010, disputed=False, final=False)
    assert finalizable(m, f, 999) == (False, "delivery not over")
    assert not finalizable(m, SettlementFeed(5, 999, 1010, False, False), 9999)[0]
    assert "dispute window open" in finalizable(m, f, 4609)[1]
    assert finalizable(m, f, 4610) == (True, "ok")
    assert not finalizable(m, SettlementFeed(5, 1000, 1010, True, False), 9999)[0]
    assert finalizable(m, SettlementFeed(5, 1000, 1010, False, True), 1001)[0]  # resolved final
    assert finalizable(MarketInfo(1, b"", 1000, 0, True), f, 9999) == (False, "already settled")
    # observed after delivery_end but written before it (oracle drift): never finalised
    assert "written before delivery_end" in finalizable(m, SettlementFeed(5, 1000, 990, False, False), 9999)[1]


def test_needs_adl__mirrors_settle_many_skip():
    # short 1 unit at $100, settles at $150: loses $50; collateral $30 -> $20 beyond
    assert needs_adl(30 * 10**6, -1000, -100 * 10**6, 150 * 10**6, 1, 19_999_999)
    assert not needs_adl(30 * 10**6, -1000, -100 * 10**6, 150 * 10**6, 1, 20 * 10**6)  # the fund carries it
    assert not needs_adl(30 * 10**6, -1000, -100 * 10**6, 150 * 10**6, 2, 0)  # not its last market
    assert not needs_adl(60 * 10**6, -1000, -100 * 10**6, 150 * 10**6, 1, 0)
    assert needs_adl(0, -1, 0, 1_500, 1, 0)  # -1.5 truncates toward zero to -1, like Vyper


def test_plan_settlement__waiting_left_out_and_reported__opposite_side_held_for_adl():
    price = 150 * 10**6
    holders = [
        ("0xdebtor", -1000, -100 * 10**6, 30 * 10**6, 1),
        ("0xwinner", 1000, 100 * 10**6, 0, 1),
        ("0xloser2", -500, -60 * 10**6, 10**9, 1),
    ]
    plan = plan_settlement(holders, price, fund=0, hold=True)
    assert plan.waiting == ["0xdebtor"] and plan.held == ["0xwinner"] and plan.settle == ["0xloser2"]
    plan = plan_settlement(holders, price, fund=0, hold=False)  # hold expired: settle the winner anyway
    assert plan.settle == ["0xwinner", "0xloser2"] and plan.waiting == ["0xdebtor"]
    plan = plan_settlement(holders, price, fund=10**9, hold=True)
    assert not plan.waiting and not plan.held and len(plan.settle) == 3


def test_batches__at_most_100():
    accts = [f"a{i}" for i in range(250)]
    out = batches(accts)
    assert [len(b) for b in out] == [100, 100, 50] and sum(out, []) == accts
    with pytest.raises(ValueError):
        batches(accts, 101)


# ------------------------------------------------------------------ tx sender
def test_fee_policy__bump_12_5_pct_rounded_up_and_capped():
    fp = FeePolicy(priority_gwei=1, max_fee_gwei=10, bump_pct=12.5)
    f = fp.initial(base_fee=2 * 10**9, gas_price=0)
    assert f == {"maxPriorityFeePerGas": 10**9, "maxFeePerGas": 5 * 10**9}
    assert fp.bumped(f) == {"maxPriorityFeePerGas": 1_125_000_000, "maxFeePerGas": 5_625_000_000}
    assert fp.bumped({"gasPrice": 9 * 10**9}) is None  # above the cap
    assert fp.initial(None, 3)["gasPrice"] == 3


class _FakeEth:
    def __init__(self):
        self.sent = []

    def get_transaction_receipt(self, h):
        from web3.exceptions import TransactionNotFound

        raise TransactionNotFound(h)

    def get_transaction_count(self, addr, tag):
        return 7

    def send_raw_transaction(self, raw):
        self.sent.append(raw)
        return HexBytes(len(self.sent).to_bytes(32, "big"))


class _FakeW3:
    def __init__(self):
        self.eth = _FakeEth()


def test_tx_sender__stuck_tx_replaced_same_nonce_after_n_blocks():
    from eth_account import Account

    acct = Account.create()
    s = TxSender(_FakeW3(), acct, FeePolicy(1, 500, 12.5), bump_after_blocks=3)
    tx = {
        "to": acct.address,
        "value": 0,
        "gas": 21000,
        "nonce": 7,
        "chainId": 1,
        "maxFeePerGas": 8 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    s.pending[7] = PendingTx("k", 7, tx, ["0x01"], sent_block=100)
    s.by_key["k"] = 7
    assert s.poll(102) == [] and not s.w3.eth.sent  # not yet
    assert s.poll(103) == []
    p = s.pending[7]
    assert p.bumps == 1 and p.tx["nonce"] == 7 and p.tx["maxFeePerGas"] == 9 * 10**9 and len(p.hashes) == 2
    assert s.in_flight("k")


def test_tx_sender__no_account__dry_run():
    assert TxSender(_FakeW3(), None, FeePolicy(1, 500, 12.5)).dry


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "env,needle",
    [
        ({}, "CSPREAD_REPORTERS"),
        ({"CSPREAD_REPORTERS": "ftp://x", "CSPREAD_MANIFEST": "/nonexistent.json"}, "CSPREAD_REPORTERS"),
        ({"CSPREAD_REPORTERS": "http://x", "CSPREAD_MANIFEST": "/nonexistent.json"}, "CSPREAD_MANIFEST"),
        ({"CSPREAD_REPORTERS": "http://x", "CSPREAD_FEE_BUMP_PCT": "5"}, "CSPREAD_FEE_BUMP_PCT"),
    ],
)
def test_bad_config__clear_error_and_exit_2(env, needle):
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "keepers.pusher"],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_bad_config__invalid_key__exit_2_without_echoing_it():
    r = subprocess.run(
        [sys.executable, "-m", "keepers.settler"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CSPREAD_PRIVATE_KEY": "0xnotakey123"},
    )
    assert r.returncode == 2 and "not a valid hex key" in r.stderr and "notakey123" not in r.stderr
