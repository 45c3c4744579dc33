"""Oracle.submit: signed rows from >= quorum distinct reporters, per-feed median stored."""

import boa
import pytest

from tests.utils.contract_helpers import (
    USDC,
    now,
    report_bundle,
    role_reporter,
    sign_report,
    submit_rows,
)
from tests.utils.deployers import feed_id

LOW, HIGH = -10_000 * USDC, 100_000 * USDC
FEEDS = [feed_id(f"SUBMIT/{i}") for i in range(32)]


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    # these tests are about the median: every in-bounds row agrees, no jump limit
    # (the band and the breaker have their own modules: test_attack_*)
    with boa.env.prank(owner):
        for f in FEEDS:
            protocol.oracle.set_feed(f, LOW, HIGH)
            protocol.oracle.set_feed_limits(f, 2**48 - 1, 10_000, 0, 0)


def _rows(n_reporters, prices):
    return [list(prices) for _ in range(n_reporters)]


def _set_reporters(protocol, owner, n, quorum):
    new = [role_reporter(f"reporter-{i}") for i in range(n)]
    with boa.env.prank(owner):
        protocol.oracle.set_reporters([r.address for r in new], quorum)
    return new


# ---------------------------------------------------------------- happy paths


def test_submit__one_feed__stores_price_and_times(protocol, oracle, reporters):
    t = now()
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [45_230_000]), t - 30)

    (log,) = oracle.get_logs()
    assert oracle.feed(FEEDS[0]) == (45_230_000, t - 30, t, False, False)
    assert oracle.price(FEEDS[0]) == (45_230_000, t - 30)
    assert (log.feed_id, log.price, log.observed_at) == (FEEDS[0], 45_230_000, t - 30)


@pytest.mark.parametrize("n_feeds", [1, 8, 32])
def test_submit__many_feeds__stores_every_median(protocol, oracle, reporters, n_feeds):
    prices = [(i + 1) * 1_000_000 - 5 * USDC for i in range(n_feeds)]  # includes negatives
    submit_rows(protocol, reporters[:2], FEEDS[:n_feeds], _rows(2, prices))

    assert len(oracle.get_logs()) == n_feeds
    assert [oracle.price(f)[0] for f in FEEDS[:n_feeds]] == prices
    assert oracle.price(FEEDS[n_feeds - 1])[1] == now()


def test_submit__odd_reporter_count__stores_middle_value(protocol, oracle, reporters):
    rows = [[30 * USDC, -1 * USDC], [10 * USDC, -3 * USDC], [20 * USDC, -2 * USDC]]
    submit_rows(protocol, reporters, FEEDS[:2], rows)

    assert oracle.price(FEEDS[0])[0] == 20 * USDC
    assert oracle.price(FEEDS[1])[0] == -2 * USDC


def test_submit__even_reporter_count__stores_mean_of_middle_two(protocol, oracle, owner):
    four = _set_reporters(protocol, owner, 4, 3)
    rows = [[40 * USDC], [10 * USDC], [30 * USDC], [20 * USDC]]
    submit_rows(protocol, four, FEEDS[:1], rows)

    assert oracle.price(FEEDS[0])[0] == 25 * USDC


@pytest.mark.parametrize("pair, median", [((3, 4), 3), ((-3, -4), -3), ((-1, 2), 0), ((-5, 2), -1)])
def test_submit__even_count_odd_sum__truncates_toward_zero(protocol, oracle, owner, pair, median):
    two = _set_reporters(protocol, owner, 2, 2)
    submit_rows(protocol, two, FEEDS[:1], [[pair[0]], [pair[1]]])

    assert oracle.price(FEEDS[0])[0] == median


def test_submit__sixteen_reporters__stores_median(protocol, oracle, owner):
    sixteen = _set_reporters(protocol, owner, 16, 9)
    rows = [[(i * 7 % 16) * USDC - 8 * USDC] for i in range(16)]  # -8 .. 7, shuffled
    submit_rows(protocol, sixteen, FEEDS[:1], rows)

    assert oracle.price(FEEDS[0])[0] == -USDC // 2  # mean of -1 and 0, truncated toward zero


def test_submit__negative_prices__stores_negative_median(protocol, oracle, reporters):
    submit_rows(protocol, reporters, FEEDS[:1], [[-12_340_000], [-9_000_000], [-50_000_000]])

    assert oracle.price(FEEDS[0]) == (-12_340_000, now())


def test_submit__prices_at_bounds__accepted(protocol, oracle, reporters):
    submit_rows(protocol, reporters[:2], FEEDS[:2], _rows(2, [LOW, HIGH]))

    assert oracle.price(FEEDS[0])[0] == LOW
    assert oracle.price(FEEDS[1])[0] == HIGH


def test_submit__outlier_row_out_of_bounds__only_disagrees(protocol, oracle, reporters):
    # one reporter's wild row cannot block the others, nor overflow the band arithmetic:
    # it is outside the band of the median, the two others agree
    submit_rows(protocol, reporters, FEEDS[:1], [[50 * USDC], [10**30], [51 * USDC]])

    assert oracle.price(FEEDS[0])[0] == 50_500_000


def test_submit__newer_observation__overwrites(protocol, oracle, reporters):
    t = now()
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1 * USDC]), t - 10)
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [2 * USDC]), t - 9)

    assert oracle.price(FEEDS[0]) == (2 * USDC, t - 9)


def test_submit__edge_of_freshness_windows__accepted(protocol, oracle, reporters):
    t = now()
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t - oracle.max_report_age())
    submit_rows(protocol, reporters[:2], FEEDS[1:2], _rows(2, [1]), t + oracle.max_future_drift())

    assert oracle.price(FEEDS[0])[1] == t - 3_600
    assert oracle.price(FEEDS[1])[1] == t + 60


def test_submit__any_relayer__accepted(protocol, oracle, reporters, non_owner):
    submit_rows(protocol, reporters[1:], FEEDS[:1], _rows(2, [7]), sender=non_owner)

    assert oracle.price(FEEDS[0])[0] == 7


def test_submit__reporter_order_irrelevant__stores_median(protocol, oracle, reporters):
    rows = [[3], [1], [2]]
    submit_rows(protocol, list(reversed(reporters)), FEEDS[:1], rows)

    assert oracle.price(FEEDS[0])[0] == 2


# ---------------------------------------------------------------- rejections


def _submit_raw(protocol, feed_ids, observed_at, rows, sigs):
    protocol.oracle.submit(list(feed_ids), observed_at, rows, sigs)


def test_submit__rows_not_matching_signatures__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: rows != signatures"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(3, [1]), sigs)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__no_feeds__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:2], [], [[], []], t)
    before = snapshot()

    with boa.reverts("Oracle: no feeds"):
        _submit_raw(protocol, [], t, [[], []], sigs)

    assert snapshot() == before


def test_submit__below_quorum__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:1], FEEDS[:1], _rows(1, [1]), t)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: below quorum"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(1, [1]), sigs)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__future_observation__reverts(protocol, oracle, reporters, snapshot):
    t = now() + oracle.max_future_drift() + 1
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: future report"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__stale_observation__reverts(protocol, oracle, reporters, snapshot):
    t = now() - oracle.max_report_age() - 1
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: stale report"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__short_row__reverts(protocol, reporters, snapshot):
    t = now()
    rows = [[1, 2], [1]]
    sigs = [
        sign_report(reporters[0], FEEDS[:2], [1, 2], t, 31337, protocol.oracle),
        sign_report(reporters[1], FEEDS[:2], [1, 2], t, 31337, protocol.oracle),
    ]
    before = snapshot(feeds=FEEDS[:2])

    with boa.reverts("Oracle: row length"):
        _submit_raw(protocol, FEEDS[:2], t, rows, sigs)

    assert snapshot(feeds=FEEDS[:2]) == before


def test_submit__unregistered_signer__reverts(protocol, reporters, snapshot):
    outsider = role_reporter("outsider")
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: unknown reporter"):
        submit_rows(protocol, [reporters[0], outsider], FEEDS[:1], _rows(2, [1]))

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__row_differs_from_signed_row__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)
    before = snapshot(feeds=FEEDS[:1])

    # the relayer swaps a price: the signature recovers to some other address
    with boa.reverts("Oracle: unknown reporter"):
        _submit_raw(protocol, FEEDS[:1], t, [[1], [2]], sigs)

    assert snapshot(feeds=FEEDS[:1]) == before


@pytest.mark.parametrize("domain", ["chain", "contract"])
def test_submit__signed_for_other_domain__reverts(protocol, reporters, snapshot, domain):
    t = now()
    chain_id, verifying = (1, protocol.oracle) if domain == "chain" else (31337, protocol.clearinghouse)
    sigs = [sign_report(r, FEEDS[:1], [1], t, chain_id, verifying) for r in reporters[:2]]
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: unknown reporter"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(2, [1]), sigs)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__duplicate_reporter__reverts(protocol, reporters, snapshot):
    t = now()
    sig = sign_report(reporters[0], FEEDS[:1], [1], t, 31337, protocol.oracle)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: duplicate reporter"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(2, [1]), [sig, sig])

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__removed_reporter__reverts(protocol, reporters, owner, snapshot):
    with boa.env.prank(owner):
        protocol.oracle.set_reporters([r.address for r in reporters[1:]], 2)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: unknown reporter"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]))

    assert snapshot(feeds=FEEDS[:1]) == before


@pytest.mark.parametrize("delta", [0, -1])
def test_submit__observation_not_newer__reverts(protocol, reporters, snapshot, delta):
    t = now()
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t - 5)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: not newer"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [2]), t - 5 + delta)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__same_feed_twice_in_report__reverts(protocol, reporters, snapshot):
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: not newer"):
        submit_rows(protocol, reporters[:2], [FEEDS[0], FEEDS[0]], _rows(2, [1, 2]))

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__unconfigured_feed__reverts(protocol, reporters, snapshot):
    unknown = feed_id("SUBMIT/unknown")
    before = snapshot(feeds=[FEEDS[0], unknown])

    # the configured feed first: the whole report is atomic
    with boa.reverts("Oracle: unknown feed"):
        submit_rows(protocol, reporters[:2], [FEEDS[0], unknown], _rows(2, [1, 1]))

    assert snapshot(feeds=[FEEDS[0], unknown]) == before


@pytest.mark.parametrize("price", [LOW - 1, HIGH + 1])
def test_submit__every_row_out_of_bounds__reverts(protocol, reporters, snapshot, price):
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: no agreement"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [price]))

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__disputed_feed__reverts(protocol, oracle, reporters, guardian, snapshot):
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), now() - 5)
    with boa.env.prank(guardian):
        oracle.dispute(FEEDS[0])
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: feed disputed or final"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [2]))

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__final_feed__reverts(protocol, oracle, reporters, guardian, owner, snapshot):
    submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), now() - 5)
    with boa.env.prank(guardian):
        oracle.dispute(FEEDS[0])
    with boa.env.prank(owner):
        oracle.resolve(FEEDS[0], 3)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: feed disputed or final"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [2]))

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__observation_beyond_64_bits__reverts(protocol, reporters, snapshot):
    # defensive: only reachable with a block time past 2**64 s; the packed word keeps 64 bits
    boa.env.evm.patch.timestamp = 2**64 + 100
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: bad timestamp"):
        submit_rows(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), 2**64)

    assert snapshot(feeds=FEEDS[:1]) == before


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_submit__unrecoverable_signature__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:1], FEEDS[:1], [[1]], t) + [b"\x00" * 64 + b"\x1b"]
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("ecdsa: invalid signature"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(2, [1]), sigs)

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__high_s_signature__reverts(protocol, reporters, snapshot):
    t = now()
    good, other = report_bundle(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)
    high_s = (SECP256K1_N - int.from_bytes(other[32:64], "big")).to_bytes(32, "big")
    twin = other[:32] + high_s + bytes([55 - other[64]])
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("ecdsa: invalid signature `s` value"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(2, [1]), [good, twin])

    assert snapshot(feeds=FEEDS[:1]) == before


def test_submit__wrong_length_signature__reverts(protocol, reporters, snapshot):
    t = now()
    sigs = report_bundle(protocol, reporters[:2], FEEDS[:1], _rows(2, [1]), t)
    before = snapshot(feeds=FEEDS[:1])

    with boa.reverts("Oracle: unknown reporter"):
        _submit_raw(protocol, FEEDS[:1], t, _rows(2, [1]), [sigs[0], sigs[1][:63]])

    assert snapshot(feeds=FEEDS[:1]) == before
