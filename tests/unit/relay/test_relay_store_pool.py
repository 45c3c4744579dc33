"""Issue 12, point 8: no pool starvation. `_read()` used to check a connection out of the pool
*before* waiting for the SQLite store lock: with more concurrent readers than pool slots, the
readers held every connection while the lock holder (a writer) waited for one, and everything
stalled until the pool timeout (30 s at 16 connections). Here 64 concurrent clients (threads,
as anyio's request pool runs them) mix reads and writes against a store with a deliberately
tiny pool and a short pool timeout: all of them finish, promptly, with every write stored.
Also the batched insert (`add_many`, the batch post's write) on both backends."""

from __future__ import annotations

import threading
import time

from matcher_helpers import SEP, make_order

from relay.store import OPEN, SqlOrderStore, StoredOrder

CLIENTS = 64
OPS = 6


def _stored(o, sig=b"\x01" * 65):
    return StoredOrder("0x" + o.digest(SEP).hex(), o, sig, remaining=o.quantity)


def test_pool__64_concurrent_clients_small_pool__no_starvation(backend_url, traders):
    s = SqlOrderStore(backend_url, pool_size=2, max_overflow=2, pool_timeout=30)
    errors: list[BaseException] = []
    added: list[str] = []
    barrier = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        try:
            barrier.wait()
            t = traders[i % len(traders)]
            for k in range(OPS):
                if k % 3 == 0:  # one write in three: each needs the write lock *and* a connection
                    so = s.add(_stored(make_order(t, price=2_000_000 + (i * OPS + k) * 100)))
                    added.append(so.hash)
                else:
                    s.book_levels(1)
                    s.exists("0x" + "ab" * 32)
                    s.open_exposure(t.address)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.monotonic()
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    took = time.monotonic() - t0
    try:
        assert not errors, f"{len(errors)} clients failed, first: {errors[0]!r}"
        assert len(added) == CLIENTS * ((OPS + 2) // 3)
        assert len(s.query(status=OPEN, limit=10_000)) == len(added)
        assert took < 29, f"{CLIENTS} clients took {took:.1f} s"  # a stall lasts the 30 s pool timeout
    finally:
        s.close()


def test_add_many__one_transaction__duplicates_none_and_seq_in_order(store, traders):
    first = store.add(_stored(make_order(traders[0], price=1_000_000)))
    batch = [_stored(make_order(traders[1], price=2_000_000 + i * 1_000)) for i in range(5)]
    out = store.add_many([batch[0], first, batch[1], batch[1], *batch[2:]])
    assert [o is None for o in out] == [False, True, False, True, False, False, False]
    seqs = [o.seq for o in out if o is not None]
    assert seqs == sorted(seqs) and seqs[0] > first.seq
    assert [o.hash for o in out if o is not None] == [b.hash for b in batch]
    assert store.get(batch[3].hash).status == OPEN and store.get(batch[3].hash).seq == out[5].seq
    assert store.add_many([]) == []


def test_pool__64_concurrent_api_clients_small_pool__all_answered(backend_url, chain, traders):
    """The same through the API: 64 clients post and read the book at once (FastAPI runs the
    routes on its 40-thread pool) against a 4-connection pool; every request is answered."""
    from fastapi.testclient import TestClient
    from matcher_helpers import wire

    from relay.app import create_app
    from relay.config import RelaySettings

    s = SqlOrderStore(backend_url, pool_size=2, max_overflow=2, pool_timeout=30)
    app = create_app(RelaySettings(background=False), chain=chain, store=s, fee_bps=5, start_block=0)
    ws = [wire(make_order(traders[i % 4], price=2_000_000 + i * 1_000), traders[i % 4]) for i in range(CLIENTS)]
    codes: list[int] = []
    barrier = threading.Barrier(CLIENTS)
    try:
        with TestClient(app) as client:

            def go(w):
                barrier.wait()
                codes.append(client.post("/orders", json=w).status_code)
                codes.append(client.get("/markets/1/book").status_code)

            threads = [threading.Thread(target=go, args=(w,)) for w in ws]
            t0 = time.monotonic()
            [t.start() for t in threads]
            [t.join(60) for t in threads]
            took = time.monotonic() - t0
            assert sorted(codes) == [200] * CLIENTS + [201] * CLIENTS
            assert client.get("/markets/1/book").json()["bid_orders"] == CLIENTS
            assert took < 29, took
    finally:
        s.close()
