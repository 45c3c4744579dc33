"""SqlOrderStore: add/duplicate, status moves, claim/release atomicity, trades dedupe."""

from __future__ import annotations

import threading

from matcher_helpers import SEP, make_order

from relay.store import CANCELLED, FILLED, OPEN, SqlOrderStore, StoredOrder, Trade


def _stored(o, sig=b"\x01" * 65):
    return StoredOrder("0x" + o.digest(SEP).hex(), o, sig, remaining=o.quantity)


def test_add__same_hash_twice__second_is_none(store, traders):
    so = _stored(make_order(traders[0]))
    first = store.add(so)
    assert first is not None and first.seq > 0 and first.status == OPEN
    assert store.add(so) is None
    assert store.get(so.hash).order == so.order


def test_add__big_uint256_nonce_and_negative_price__round_trip(store, traders):
    o = make_order(traders[0], nonce=2**200 + 7, price=-12_340_000, expiry=2**256 - 1)
    so = store.add(_stored(o))
    assert store.get(so.hash).order == o


def test_kill_below_nonce__only_lower_nonces_of_that_trader(store, traders):
    low, high = make_order(traders[0], nonce=5), make_order(traders[0], nonce=2**70)
    other = make_order(traders[1], nonce=1)
    for o in (low, high, other):
        store.add(_stored(o))
    killed = store.kill_below_nonce(traders[0].address, 6)
    assert killed == [_stored(low).hash]
    assert store.get(_stored(low).hash).status == CANCELLED
    assert store.get(_stored(high).hash).status == OPEN and store.get(_stored(other).hash).status == OPEN


def test_set_remaining__zero__marks_filled(store, traders):
    so = store.add(_stored(make_order(traders[0])))
    store.set_remaining(so.hash, 4_000)
    assert store.get(so.hash).remaining == 4_000
    store.set_remaining(so.hash, 0)
    assert store.get(so.hash).status == FILLED
    assert store.query(trader=traders[0].address) == []


def test_claim__all_or_nothing_and_exclusive(store, traders):
    a, b = (store.add(_stored(make_order(t))) for t in traders[:2])
    assert store.claim([a.hash, b.hash])
    assert not store.claim([a.hash])
    store.release([a.hash])
    c = store.add(_stored(make_order(traders[2])))
    assert not store.claim([a.hash, b.hash, c.hash])  # b still in flight: nothing changes
    assert not store.get(a.hash).in_flight and not store.get(c.hash).in_flight


def test_claim__racing_threads__exactly_one_wins(store, traders):
    a, b = (store.add(_stored(make_order(t))) for t in traders[:2])
    wins = []
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        wins.append(store.claim([a.hash, b.hash]))

    ts = [threading.Thread(target=go) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert wins.count(True) == 1


def test_add_trade__same_log_twice__recorded_once(store, traders):
    t = Trade("0xab", 0, 10, "0x01", 1, traders[0].address, traders[1].address, True, 1_000, -5, 1.0)
    assert store.add_trade(t) and not store.add_trade(t)
    assert store.trades(1) == [t]


def test_memory_url__works_across_threads():
    s = SqlOrderStore("sqlite://")
    s.set_meta("k", "1")
    out = []
    th = threading.Thread(target=lambda: out.append(s.get_meta("k")))
    th.start()
    th.join()
    assert out == ["1"]
