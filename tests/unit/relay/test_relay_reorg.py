"""Issue 12 point 1, the store's part: what a reorg rollback undoes and what it keeps. (The
follower on a real chain: tests/integration/test_relay_reorg.py.)"""

from __future__ import annotations

import sqlite3

from matcher_helpers import SEP, make_order

from relay.follower import DEFAULT_CONFIRMATIONS, UNKNOWN_CHAIN_CONFIRMATIONS, default_confirmations
from relay.orders import sign_order
from relay.store import CANCELLED, FILLED, OPEN, REJECTED, SqlOrderStore, StoredOrder, Trade


def _add(store, acct, **kw):
    o = make_order(acct, **kw)
    return store.add(StoredOrder("0x" + o.digest(SEP).hex(), o, sign_order(o, acct, SEP), remaining=o.quantity))


def _trade(tx, block, block_hash, order_hash="0x" + "00" * 32, li=0):
    return Trade(
        tx, li, block, order_hash, 1, "0x" + "11" * 20, "0x" + "22" * 20, False, 1_000, 2_500_000, 1.0, block_hash
    )


def test_relay_reorg__rollback_removes_trades_blocks_and_moves_cursor(store):
    store.add_trade(_trade("0xaa", 10, "0xh10"))
    store.add_trade(_trade("0xbb", 12, "0xh12"))
    store.record_blocks([(10, "0xh10", "0xh9"), (11, "0xh11", "0xh10"), (12, "0xh12", "0xh11")], keep=128)
    store.set_meta("follower_block", "12")
    gone = store.rollback(11, "follower_block")
    assert [t.tx_hash for t in gone] == ["0xbb"]
    assert [t.tx_hash for t in store.trades(1)] == ["0xaa"]
    assert sorted(store.recent_blocks()) == [10]
    assert store.get_meta("follower_block") == "10"


def test_relay_reorg__only_chain_derived_deaths_from_the_fork_are_revivable(store, traders):
    filled_old = _add(store, traders[0])
    filled_new = _add(store, traders[0])
    cancelled_new = _add(store, traders[1])
    soft = _add(store, traders[1])
    margin = _add(store, traders[2])
    store.set_remaining(filled_old.hash, 0, block=5)
    store.set_remaining(filled_new.hash, 0, block=11)
    store.kill(cancelled_new.hash, CANCELLED, "cancelled on-chain", block=12)
    store.kill(soft.hash, CANCELLED, "cancelled in the relay by the trader")  # no block: the relay's own
    store.kill(margin.hash, REJECTED, "margin gone", block=12)  # a relay decision, not chain state
    assert {so.hash for so in store.revivable(11)} == {filled_new.hash, cancelled_new.hash}
    assert store.revive(filled_new.hash, 700, 11)
    got = store.get(filled_new.hash)
    assert got.status == OPEN and got.remaining == 700 and got.chain_block is None and got.reason == ""
    assert not store.revive(filled_old.hash, 1_000, 11)  # died before the fork: stays
    assert store.get(filled_old.hash).status == FILLED


def test_relay_reorg__same_tx_remined_in_other_block__trade_moves(store):
    assert store.add_trade(_trade("0xaa", 10, "0xold"))
    assert not store.add_trade(_trade("0xaa", 11, "0xnew"))  # not a second row...
    (t,) = store.trades(1)
    assert (t.block_number, t.block_hash) == (11, "0xnew")  # ...but where the chain has it now


def test_relay_reorg__kept_blocks_are_bounded(store):
    store.record_blocks([(n, f"0x{n}", f"0x{n - 1}") for n in range(1, 301)], keep=128)
    kept = store.recent_blocks()
    assert len(kept) == 128 and min(kept) == 173 and max(kept) == 300


def test_relay_reorg__database_of_an_older_relay_gains_the_columns(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)  # the orders/trades tables as an older relay created them
    con.execute(
        "CREATE TABLE orders (seq INTEGER PRIMARY KEY, hash VARCHAR(66) UNIQUE NOT NULL, trader VARCHAR(42) NOT NULL,"
        " market_id BIGINT NOT NULL, is_buy BOOLEAN NOT NULL, quantity BIGINT NOT NULL, price BIGINT NOT NULL,"
        " nonce VARCHAR(78) NOT NULL, expiry VARCHAR(78) NOT NULL, reduce_only BOOLEAN NOT NULL,"
        " signature BLOB NOT NULL, status VARCHAR(12) NOT NULL, remaining BIGINT NOT NULL,"
        " in_flight BOOLEAN NOT NULL, reason VARCHAR(200) NOT NULL, created_at FLOAT NOT NULL,"
        " updated_at FLOAT NOT NULL)"
    )
    con.execute(
        "CREATE TABLE trades (id INTEGER PRIMARY KEY, tx_hash VARCHAR(66) NOT NULL, log_index INTEGER NOT NULL,"
        " block_number BIGINT NOT NULL, order_hash VARCHAR(66) NOT NULL, market_id BIGINT NOT NULL,"
        " maker VARCHAR(42) NOT NULL, taker VARCHAR(42) NOT NULL, maker_is_buy BOOLEAN NOT NULL,"
        " quantity BIGINT NOT NULL, price BIGINT NOT NULL, timestamp FLOAT NOT NULL)"
    )
    con.commit()
    con.close()
    s = SqlOrderStore(f"sqlite:///{db}")
    try:
        assert s.add_trade(_trade("0xaa", 10, "0xh"))
        assert s.trades(1)[0].block_hash == "0xh"
    finally:
        s.close()


def test_relay_reorg__default_confirmations_per_network():
    assert default_confirmations(31337) == 0 and default_confirmations(1) == DEFAULT_CONFIRMATIONS[1] > 0
    assert default_confirmations(999_999) == UNKNOWN_CHAIN_CONFIRMATIONS
