"""Keeper decision logic without a chain: health scan, planner, send guard, event book,
report bundling, push policy, settlement checks, fee bumping, config errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from eth_abi import encode
from hexbytes import HexBytes

from keepers.book import COLLATERAL_UPDATED, POSITION_UPDATED, CollateralEvent, PositionBook, PositionEvent, decode_log
from keepers.chain import FeePolicy, PendingTx, TxSender
from keepers.liquidator import MarketVector, Planner, SendGuard, scan
from keepers.pusher import Bundle, FeedState, PushPolicy, Row, bundle
from keepers.settler import MarketInfo, SettlementFeed, batches, finalizable
from sdk.devnet import ROOT


# ------------------------------------------------------------------ health scan
def _floor_div(a, b):
    return a // b  # python floors, like the contract's _floor_div


def contract_summary(coll, qs, ons, marks, fixed, rate, settled):
    eq, mm = coll, 0
    for q, on, mk, f, r, s in zip(qs, ons, marks, fixed, rate, settled):
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
    on = rng.integers(-10**10, 10**10, (n, m)) * (q != 0)
    coll = rng.integers(0, 10**10, n)
    mv = MarketVector([1, 2, 3, 4, 5], np.array([45_230_000, -12_340_000, 2_500_000, 0, 9_000_000_000]),
                      np.ones(m, bool), np.array([200, 160, 40, 15, 300]) * 10**6, np.array([2500, 2500, 2000, 1500, 5000]),
                      np.zeros(m, bool), np.array([False, False, False, False, True]))
    r = scan(q.astype(float), on.astype(float), coll.astype(float), mv, tolerance=0)
    for i in range(n):
        eq, mm = contract_summary(int(coll[i]), q[i].tolist(), on[i].tolist(), mv.mark.astype(int).tolist(),
                                  mv.mm_fixed.astype(int).tolist(), mv.mm_rate_bps.astype(int).tolist(), mv.settled)
        assert abs(r.equity[i] - eq) <= 1 and abs(r.maintenance[i] - mm) <= 1
        if abs(eq - mm) > 10:
            assert bool(r.liquidatable[i]) == (mm > 0 and eq < mm)


def test_scan__stale_market__accounts_holding_it_never_candidates():
    mv = MarketVector([1, 2], np.array([100e6, 100e6]), np.array([True, False]), np.array([10e6, 10e6]),
                      np.array([1000, 1000]), np.zeros(2, bool), np.zeros(2, bool))
    q = np.array([[-1000.0, 0], [0, -1000.0]])
    on = np.array([[-1e6, 0], [0, -1e6]])  # sold at $1, now $100: deeply underwater
    r = scan(q, on, np.zeros(2), mv)
    assert r.liquidatable.tolist() == [True, False]
    assert r.fresh.tolist() == [True, False]


# ------------------------------------------------------------------ planner, guard
MV = MarketVector([1, 2], np.array([100e6, 50e6]), np.ones(2, bool), np.array([10e6, 5e6]), np.array([2000, 1000]),
                  np.array([False, True]), np.zeros(2, bool))


def test_planner__largest_shortfall_first__skips_healthy_stale_and_halted_only():
    p = Planner()
    confirmed = [
        ("0xA", {"equity": 50, "maintenance": 100, "fresh": True}, {1: -1000}),
        ("0xB", {"equity": -500, "maintenance": 100, "fresh": True}, {1: 2000}),
        ("0xC", {"equity": 200, "maintenance": 100, "fresh": True}, {1: 1000}),
        ("0xD", {"equity": 10, "maintenance": 100, "fresh": False}, {1: 1000}),
        ("0xE", {"equity": 10, "maintenance": 100, "fresh": True}, {2: 1000}),  # only a halted market
    ]
    targets, skipped = p.plan(confirmed, MV)
    assert [t.account for t in targets] == ["0xB", "0xA"]
    assert targets[0].insolvent and targets[0].quantity == 2000 and targets[0].market_id == 1
    assert {s["account"]: s["reason"] for s in skipped} == {
        "0xC": "healthy on chain", "0xD": "stale mark", "0xE": "only halted/settled markets"}


def test_planner__profit_check__skips_when_penalty_below_gas_but_closes_out_insolvent():
    p = Planner(check_profit=True, gas_cost_units=10**9)
    confirmed = [("0xA", {"equity": 50, "maintenance": 100, "fresh": True}, {1: -1000}),
                 ("0xB", {"equity": -5, "maintenance": 100, "fresh": True}, {1: -1000})]
    targets, skipped = p.plan(confirmed, MV)
    assert [t.account for t in targets] == ["0xB"] and skipped[0]["reason"] == "unprofitable"
    assert Planner(check_profit=True, gas_cost_units=0).plan(confirmed[:1], MV)[0]


def test_planner__expected_penalty__matches_contract_formula():
    p = Planner(penalty_bps=5000, insurance_share_bps=2000)
    # u = 10 + 20% * 100 = $30/unit; MM 300, equity 200 -> needed = ceil(100*1e3*1e4/(30e6*5e3)) ...
    pen = p.expected_penalty(200 * 10**6, 300 * 10**6, 10_000, 100 * 10**6, 10 * 10**6, 2000)
    needed = -(-(100 * 10**6) * 1000 * 10_000 // (30 * 10**6 * 5000))
    nominal = needed * 30 * 10**6 // 1000 * 5000 // 10_000
    assert pen == nominal - nominal * 2000 // 10_000


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
    return {"topics": [HexBytes(topic)] + [HexBytes(t) for t in topics], "data": HexBytes(data),
            "blockNumber": block, "logIndex": index}


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
    tx = {"to": acct.address, "value": 0, "gas": 21000, "nonce": 7, "chainId": 1,
          "maxFeePerGas": 8 * 10**9, "maxPriorityFeePerGas": 10**9}
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
@pytest.mark.parametrize("env,needle", [
    ({}, "CSPREAD_REPORTERS"),
    ({"CSPREAD_REPORTERS": "ftp://x", "CSPREAD_MANIFEST": "/nonexistent.json"}, "CSPREAD_REPORTERS"),
    ({"CSPREAD_REPORTERS": "http://x", "CSPREAD_MANIFEST": "/nonexistent.json"}, "CSPREAD_MANIFEST"),
    ({"CSPREAD_REPORTERS": "http://x", "CSPREAD_FEE_BUMP_PCT": "5"}, "CSPREAD_FEE_BUMP_PCT"),
])
def test_bad_config__clear_error_and_exit_2(env, needle):
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "keepers.pusher"], env={**base, **env}, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_bad_config__invalid_key__exit_2_without_echoing_it():
    r = subprocess.run([sys.executable, "-m", "keepers.settler"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CSPREAD_PRIVATE_KEY": "0xnotakey123"})
    assert r.returncode == 2 and "not a valid hex key" in r.stderr and "notakey123" not in r.stderr
