"""Winter Storm Uri through the pusher / Oracle path, with the agreement band and the jump
limit of a deployed POWER feed (scripts/_markets.py defaults).

Real data: hourly ERCOT HB_WEST day-ahead prices, 10-20 Feb 2021 (264 hours), from the vendored data set
($21 to $9,000 within days, x100 within a day; back to -$0.27 on the 20th). Each hour three
reporter keys sign the hour's price (`oracle.signing.ReportSigner`), the pusher's own logic
picks the bundle (`keepers.pusher.bundle`, every row it has) and decides to push
(`PushPolicy`: deviation / heartbeat), and the bundle goes to `Oracle.submit`.
"""

import datetime as dt

import boa
import numpy as np
import pytest

from keepers.pusher import FeedState, PushPolicy, Row, bundle
from oracle.data import load_power
from oracle.signing import ReportSigner
from scripts._markets import feed_limits
from tests.utils.contract_helpers import USDC
from tests.utils.deployers import feed_id

FEED = feed_id("URI/ERCOT.HB_WEST.DA.HOURLY/MARK")
FEED_HEX = "0x" + FEED.hex()
START = int(dt.datetime(2021, 2, 10, tzinfo=dt.UTC).timestamp())
END = int(dt.datetime(2021, 2, 21, tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def uri():
    s = load_power("ERCOT", "HB_WEST", "DA")
    m = (s.timestamps >= START) & (s.timestamps < END)
    ts, usd = s.timestamps[m], s.prices[m]
    assert len(ts) == 264 and usd.max() > 100 * usd[:24].min()  # the storm is in the data
    return [(int(t), int(round(p * 1e6))) for t, p in zip(ts, usd, strict=False)]


@pytest.fixture(scope="module")
def keys(protocol, owner):
    """Three reporter keys the tests sign with, registered (quorum 2), feed configured."""
    signers = [ReportSigner(bytes([i + 1]) * 32) for i in range(3)]
    with boa.env.prank(owner):
        protocol.oracle.set_reporters([s.address for s in signers], 2)
        protocol.oracle.set_feed(FEED, -1_000 * USDC, 10_000 * USDC)
        protocol.oracle.set_feed_limits(FEED, *feed_limits("POWER"))
    return signers


def _replay(protocol, uri, signers):
    """Push every hour the pusher decides to; return [(hour, price, stored)]."""
    oracle, policy = protocol.oracle, PushPolicy()
    reporters = {s.address for s in signers}
    out = []
    for t, price in uri:
        boa.env.evm.patch.timestamp = t + 60  # the block a minute into the hour
        rows = [
            Row(f"r{i}", (FEED_HEX,), (price,), t, s.address, r.signature)
            for i, s in enumerate(signers)
            for r in [s.sign([FEED], [price], t, protocol.chain_id, oracle.address)]
        ]
        b, _ = bundle(rows, oracle.quorum(), reporters)
        p, obs, upd, disputed, final = oracle.feed(FEED)
        d = policy.decide(b, {FEED_HEX: FeedState(p, obs, upd, disputed, final)}, t + 60)
        if d.submit:
            oracle.submit(
                [FEED],
                b.observed_at,
                [list(r.prices) for r in b.rows],
                [bytes.fromhex(r.signature[2:]) for r in b.rows],
            )
        out.append((t, price, oracle.price(FEED)[0], d.submit))
    return out


def test_uri__all_reporters_up__marks_keep_up_every_hour(protocol, uri, keys):
    out = _replay(protocol, uri, keys)

    # every hour's price was pushed (deviation or heartbeat) and stored as reported:
    # a move of any size is stored when every registered reporter signs it
    assert all(pushed for *_, pushed in out)
    assert [stored for _, _, stored, _ in out] == [price for _, price, _, _ in out]
    assert max(p for _, p, _, _ in out) == 9_000_010_000


def test_uri__one_reporter_down__marks_stay_live_and_catch_up(protocol, uri, keys):
    out = _replay(protocol, uri, keys[:2])
    prices = np.array([p for _, p, _, _ in out], dtype=float)
    stored = np.array([s for _, _, s, _ in out], dtype=float)

    # liveness: still pushed every hour (the mark's observed_at stays fresh)
    assert all(pushed for *_, pushed in out)
    # the breaker: no hourly step larger than max($20, 50 % of the mark)
    steps = np.abs(np.diff(stored))
    assert (steps <= np.maximum(20e6, 0.5 * np.abs(stored[:-1])) + 1).all()
    # it lags the x100 spike but keeps up: within 6 hours of every hour it is back within
    # the band of the price, and 90 % of hours are within 25 %
    close = np.abs(stored - prices) <= np.maximum(0.05e6, 0.005 * np.abs(prices))
    assert all(close[i : i + 7].any() for i in range(len(close) - 6))
    assert (np.abs(stored - prices) <= 0.25 * np.abs(prices) + 20e6).mean() >= 0.9
