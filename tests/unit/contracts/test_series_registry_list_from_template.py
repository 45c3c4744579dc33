"""SeriesRegistry.list_from_template (issue 10): anyone lists one aligned window of an approved
template for its bond; every refusal leaves the registry and the Clearinghouse unchanged; the
listing costs the same (<= 150,000 gas, receipt incl. 21k) at market #1, #100 and #1,000."""

from __future__ import annotations

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak

from core import series as S
from tests.utils.deployers import DAY, HOUR, USDC, next_day, template_feed


def _now() -> int:
    return boa.env.evm.patch.timestamp


def _state(protocol, tid, start):
    return (
        protocol.clearinghouse.market_count(),
        protocol.registry.market_of(tid, start),
        boa.env.get_balance(protocol.registry.address),
    )


@pytest.fixture
def tid(protocol):
    return protocol.approve_template("ERCOT.HB_WEST.DA.ATC")


def test_list_from_template__next_day__market_with_template_terms(protocol, tid):
    s, e = next_day(_now())
    mid = protocol.list_from_template(tid, s, e)
    m = protocol.clearinghouse.market(mid)
    t = protocol.registry.template(tid)

    assert protocol.registry.market_of(tid, s) == mid and protocol.clearinghouse.market_template(mid) == tid
    assert (m.delivery_start, m.delivery_end, m.last_trade_time) == (s, e, s)
    assert m.mark_feed == template_feed(t.mark_class, s, e) and m.settlement_feed == template_feed(
        t.settlement_class, s, e
    )
    assert m.spec_hash == keccak(encode(["bytes32", "uint256", "uint256"], [t.spec_hash, s, e]))
    assert (m.price_tick, m.quantity_step, m.min_quantity, m.im_fixed, m.mm_rate_bps, m.oi_cap, m.dispute_window) == (
        t.price_tick,
        t.quantity_step,
        t.min_quantity,
        t.im_fixed,
        t.mm_rate_bps,
        t.oi_cap,
        t.dispute_window,
    )
    assert boa.env.get_balance(protocol.registry.address) == t.bond


def test_list_from_template__events__market_listed_from_clearinghouse_and_from_template(protocol, tid):
    s, e = next_day(_now())
    mid = protocol.list_from_template(tid, s, e)
    logs = protocol.registry.get_logs(include_child_logs=True)
    listed = [x for x in logs if type(x).__name__ == "MarketListed"]
    ours = [x for x in logs if type(x).__name__ == "MarketListedFromTemplate"]

    assert listed and listed[-1].market_id == mid and listed[-1].delivery_start == s
    assert ours and (ours[-1].market_id, ours[-1].template_id, ours[-1].delivery_end) == (mid, tid, e)


def test_list_from_template__python_feed_ids__equal_the_contracts(protocol):
    # golden: core.series derives the same class, feed ids and spec hash as the chain
    series = S.Series.from_entry(
        {
            "spec": {"kind": "COMPUTE", "gpu": "H100-SXM", "region": "GLOBAL"},
            "cadence": "monthly",
            "tz": "UTC",
            "quantity_step": "0.1",
            "min_quantity": "1",
            "price_tick": "0.001",
            "im_fixed": "0.40",
            "im_rate": "0.15",
            "mm_fixed": "0.25",
            "mm_rate": "0.10",
            "max_price_age": 3600,
            "dispute_window": 3600,
            "oi_cap": "10000000",
            "bond": "0.01",
        }
    )
    t = series.template()
    tid = protocol.approve_template("H100-SXM", **t)
    s, e = series.windows(_now(), depth=2)[1]
    mid = protocol.list_from_template(tid, s, e)
    m = protocol.clearinghouse.market(mid)

    assert m.mark_feed == series.mark_feed(s, e) and m.settlement_feed == series.settlement_feed(s, e)
    assert m.spec_hash == S.market_spec_hash(series.spec_hash, s, e)
    assert protocol.registry.aligned(tid, s, e)
    protocol.set_mark(mid, 2_500_000)  # the Oracle serves the derived id from the class config
    assert protocol.clearinghouse.mark(mid)[0] == 2_500_000


@pytest.mark.parametrize("n", [1, 100, 1000])
def test_list_from_template__gas__same_at_market_1_100_1000(protocol, n):
    # a venue with markets already (the very first market of a deployment also pays the
    # Clearinghouse's market_count 0 -> 1, once)
    protocol.list_market("OTHER")
    tid = protocol.approve_template(f"GAS{n}", cadence=1, max_horizon=60 * DAY)
    first = _now() - _now() % HOUR + 2 * HOUR
    for k in range(n - 1):
        protocol.list_from_template(tid, first + k * HOUR, first + (k + 1) * HOUR)
    lister = boa.env.generate_address("gas_lister")
    boa.env.set_balance(lister, 10**18)
    s = first + (n - 1) * HOUR
    with boa.env.prank(lister):
        protocol.registry.list_from_template(tid, s, s + HOUR, value=10**16)
    gas = protocol.registry._computation.get_gas_used()
    calldata = bytes.fromhex("4" * 8) + encode(["uint256"] * 3, [tid, s, s + HOUR])
    receipt_gas = gas + 21_000 + sum(16 if b else 4 for b in calldata)

    assert receipt_gas <= 150_000, receipt_gas


@pytest.mark.parametrize(
    "window,reason",
    [
        (lambda s, e: (s + HOUR, e + HOUR), "bad delivery window"),  # 01:00 UTC: no local midnight
        (lambda s, e: (s, e + DAY), "bad delivery window"),  # two days
        (lambda s, e: (e, s), "bad delivery window"),  # reversed
        (lambda s, e: (0, DAY), "bad delivery window"),
        (lambda s, e: (s, 2**40), "bad delivery window"),  # beyond the feed id's 40 bits
        (lambda s, e: (s + 40 * DAY, e + 40 * DAY), "beyond horizon"),
        (lambda s, e: (s - DAY, e - DAY), "last trade passed"),  # today: trading closed at its start
    ],
)
def test_list_from_template__bad_window__reverts_nothing_changes(protocol, tid, window, reason):
    s, e = window(*next_day(_now()))
    before = _state(protocol, tid, s)
    lister = boa.env.generate_address("lister")
    boa.env.set_balance(lister, 10**18)

    with boa.env.prank(lister), boa.reverts(f"SeriesRegistry: {reason}"):
        protocol.registry.list_from_template(tid, s, e, value=10**16)
    assert _state(protocol, tid, s) == before


@pytest.mark.parametrize("value", [0, 10**16 - 1, 10**16 + 1])
def test_list_from_template__wrong_bond__reverts(protocol, tid, value):
    s, e = next_day(_now())
    before = _state(protocol, tid, s)
    lister = boa.env.generate_address("lister")
    boa.env.set_balance(lister, 10**18)

    with boa.env.prank(lister), boa.reverts("SeriesRegistry: bad bond"):
        protocol.registry.list_from_template(tid, s, e, value=value)
    assert _state(protocol, tid, s) == before


def test_list_from_template__unknown_template__reverts(protocol):
    s, e = next_day(_now())
    with boa.reverts("SeriesRegistry: unknown template"):
        protocol.registry.list_from_template(999, s, e)


def test_list_from_template__trade_until_delivery_end__current_window_listable(protocol):
    tid = protocol.approve_template("THROUGH", cadence=2, last_trade_offset=S.LAST_TRADE_AT_END)
    s, e = next_day(_now(), 0)  # today: delivery started, still trading
    mid = protocol.list_from_template(tid, s, e)

    assert protocol.clearinghouse.market(mid).last_trade_time == e


def test_list_from_template__last_trade_offset__closes_before_start(protocol):
    tid = protocol.approve_template("OFFSET", last_trade_offset=14 * HOUR)
    s, e = next_day(_now(), 2)
    mid = protocol.list_from_template(tid, s, e)

    assert protocol.clearinghouse.market(mid).last_trade_time == s - 14 * HOUR


def test_list_from_template__chicago_dst_days_and_months__accepted(protocol):
    o = -21_600
    day = protocol.approve_template("CHI.D", utc_offset=o, max_horizon=400 * DAY)
    month = protocol.approve_template("CHI.M", cadence=3, utc_offset=o, max_horizon=400 * DAY)
    boa.env.evm.patch.timestamp = 1_767_225_600  # 2026-01-01T00:00Z
    for s, e in [(1_772_949_600, 1_773_032_400), (1_793_509_200, 1_793_599_200)]:  # 23 h and 25 h
        protocol.list_from_template(day, s, e)
    for s, e in [(1_772_344_800, 1_775_019_600), (1_793_509_200, 1_796_104_800)]:  # March, November 2026
        protocol.list_from_template(month, s, e)
    assert protocol.clearinghouse.market_count() >= 4
    assert USDC  # units import kept for readers of the numbers above
