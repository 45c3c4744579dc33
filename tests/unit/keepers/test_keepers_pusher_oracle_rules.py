"""Pusher follows the Oracle's issue-16 rules: a settlement feed is pushed only after
delivery_end and only once; every reporter row is sent (so a real move passes the jump
limit when all reporters are up)."""

from __future__ import annotations

from keepers.pusher import Bundle, FeedState, PushPolicy, Row, bundle

MARK, SETTLE = "0x" + "11" * 32, "0x" + "22" * 32
REPS = {"0xr1", "0xr2", "0xr3"}


def _row(src, signer, prices, obs=1000):
    return Row(src, (MARK, SETTLE), tuple(prices), obs, signer, "0xsig")


def _bundle(obs=1000):
    return Bundle((MARK, SETTLE), obs, tuple(_row(s, f"0xr{i}", [100, 200], obs) for i, s in enumerate("ab", 1)))


def _settle(obs=0, delivery_end=950, price=0):
    return FeedState(price, obs, obs, False, False, "settlement", delivery_end)


def test_bundle__sends_every_reporter_row_not_just_quorum():
    rows = [_row(s, f"0xr{i}", [100, 200]) for i, s in enumerate("abc", 1)]
    b, _ = bundle(rows, 2, REPS)
    assert len(b.rows) == 3


def test_settlement__before_delivery_end__not_pushed():
    p = PushPolicy()
    d = p.decide(
        _bundle(obs=1000), {MARK: FeedState(100, 900, 900, False, False), SETTLE: _settle(delivery_end=1001)}, 1000
    )
    assert not d.submit and "before delivery end" in d.reason


def test_settlement__observed_before_delivery_end_but_block_after__not_pushed():
    p = PushPolicy()
    d = p.decide(
        _bundle(obs=940), {MARK: FeedState(100, 900, 900, False, False), SETTLE: _settle(delivery_end=950)}, 1000
    )
    assert not d.submit and "before delivery end" in d.reason


def test_settlement__after_delivery_end__pushed_once():
    p = PushPolicy()
    marks = FeedState(100, 900, 900, False, False)
    d = p.decide(_bundle(obs=1000), {MARK: marks, SETTLE: _settle(delivery_end=950)}, 1000)
    assert d.submit and f"{SETTLE}:first" in d.triggers
    # written: never again, even with a different value (corrections: dispute / resolve)
    d = p.decide(_bundle(obs=1100), {MARK: marks, SETTLE: _settle(obs=1000, price=150)}, 1100)
    assert not d.submit and "already written" in d.reason
