"""Order and trade storage behind one small interface (`OrderStore`).

`SqlOrderStore` implements it with SQLAlchemy Core: SQLite by default (one file, WAL, fine for
one relay process), or any SQLAlchemy URL — a PostgreSQL URL (`postgresql+psycopg://...`) lets
several relay instances share one book, because every state change is a single conditional
UPDATE/INSERT (no read-modify-write in Python):

  * `add` relies on the primary key (order hash): of N concurrent posts of one order, exactly
    one inserts; the others see a duplicate;
  * `claim` (matcher) flips `in_flight` only where it is 0, so two matchers never send the same
    order twice; `release` flips it back;
  * trades are keyed by (tx_hash, log_index), so the event follower and the matcher may both
    record a fill and a reorg replay overwrites nothing twice.

Integers: quantity and price are stored as 64-bit integers (the book sorts on price); the relay
refuses orders outside that range (a real price never is). Nonce and expiry are uint256 and
stored as decimal text (the SDK's time-based nonces exceed 64 bits). `seq` (insertion order) is the time priority.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

from core.margin import Resting
from relay.exposure import ExposureBook
from relay.orders import Order

OPEN = "open"
FILLED = "filled"
CANCELLED = "cancelled"  # on-chain cancel, cancel_all (min nonce) or a signed relay cancel
EXPIRED = "expired"
REJECTED = "rejected"  # dropped on re-validation: margin gone, market closed, failed match
DEAD_STATUSES = (FILLED, CANCELLED, EXPIRED, REJECTED)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class StoredOrder:
    hash: str  # 0x-prefixed EIP-712 digest (= Exchange.order_hash)
    order: Order
    signature: bytes
    seq: int = 0  # arrival order (time priority); assigned by the store
    status: str = OPEN
    remaining: int = 0  # thousandths still fillable, as last seen
    created_at: float = 0.0
    updated_at: float = 0.0
    in_flight: bool = False
    reason: str = ""
    claim_until: float | None = None  # unix s: an in-flight claim is a lease that ends here
    chain_block: int | None = None  # block of the chain state a dead status was read from

    @property
    def filled(self) -> int:
        return self.order.quantity - self.remaining if self.status != CANCELLED else 0


@dataclass(frozen=True)
class Trade:
    tx_hash: str
    log_index: int
    block_number: int
    order_hash: str  # the maker's order
    market_id: int
    maker: str
    taker: str
    maker_is_buy: bool
    quantity: int
    price: int
    timestamp: float = 0.0
    block_hash: str = ""  # a reorg that drops this block drops the trade


class OrderStore(Protocol):
    """What the relay, the event follower and the matcher need of storage."""

    def add(self, o: StoredOrder) -> StoredOrder | None:
        """Insert an open order; None when the hash is already known (any status)."""

    def add_many(self, orders: Sequence[StoredOrder]) -> list[StoredOrder | None]:
        """`add` of each, in one transaction (None per order whose hash was already known)."""

    def get(self, order_hash: str) -> StoredOrder | None: ...

    def exists(self, order_hash: str) -> bool:
        """True when the hash is known (any status); cheaper than `get`."""

    def book_levels(self, market_id: int) -> tuple[list[dict], list[dict]]:
        """Open orders of a market aggregated per price: (bids best first, asks best first),
        each {price, quantity (sum of remaining), orders (count)}."""

    def book_orders(self, market_id: int, is_buy: bool, limit: int, offset: int = 0) -> list[StoredOrder]:
        """One side's open orders in priority order (price, then seq), `limit` from `offset`."""

    def count_open(self, market_id: int, is_buy: bool) -> int: ...

    def query(
        self, *, trader: str | None = None, market_id: int | None = None, status: str | None = OPEN, limit: int = 1000
    ) -> list[StoredOrder]:
        """Orders, oldest first; status None means every status."""

    def open_markets(self) -> list[int]: ...

    def open_exposure(self, trader: str) -> list[tuple[int, bool, int, int]]:
        """(market_id, is_buy, remaining, price) of the trader's open, not reduce-only orders."""

    def set_remaining(self, order_hash: str, remaining: int, block: int | None = None) -> None:
        """Record the on-chain remaining quantity; 0 marks the order filled."""

    def kill(self, order_hash: str, status: str, reason: str = "", block: int | None = None) -> bool:
        """Move an open order to a dead status; False if it was not open."""

    def kill_below_nonce(self, trader: str, min_nonce: int, block: int | None = None) -> list[str]: ...

    def claim(self, hashes: Iterable[str], lease: float = 120.0, owner: str = "") -> bool:
        """Atomically mark open, not-in-flight orders as in flight until now + `lease` s (a
        lease); False (and no change) otherwise."""

    def release(self, hashes: Iterable[str], owner: str | None = None) -> None: ...

    def expired_claims(self, now: float | None = None) -> list[StoredOrder]:
        """Open orders whose in-flight lease has run out."""

    def release_expired(self, order_hash: str, now: float | None = None) -> bool: ...

    def revivable(self, from_block: int) -> list[StoredOrder]:
        """Orders killed by chain state read at `from_block` or later."""

    def revive(self, order_hash: str, remaining: int, from_block: int) -> bool: ...

    def recent_blocks(self) -> dict[int, tuple[str, str]]: ...

    def record_blocks(self, blocks: list[tuple[int, str, str]], keep: int) -> None: ...

    def trades_in(self, lo: int, hi: int) -> list[Trade]: ...

    def drop_trades(self, keys: Iterable[tuple[str, int]]) -> None: ...

    def rollback(self, from_block: int, cursor_key: str) -> list[Trade]:
        """Forget trades and blocks from `from_block` on; cursor back below it."""

    def add_trade(self, t: Trade) -> bool:
        """Record a fill; False when (tx_hash, log_index) is already known."""

    def trades(self, market_id: int, limit: int = 100) -> list[Trade]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


_md = MetaData()
orders_t = Table(
    "orders",
    _md,
    # BIGSERIAL on PostgreSQL; SQLite's rowid alias must be spelled INTEGER PRIMARY KEY
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("hash", String(66), nullable=False, unique=True),
    Column("trader", String(42), nullable=False),
    Column("market_id", BigInteger, nullable=False),
    Column("is_buy", Boolean, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("nonce", String(78), nullable=False),  # uint256 as decimal text (SDK nonces exceed 64 bits)
    Column("expiry", String(78), nullable=False),
    Column("reduce_only", Boolean, nullable=False),
    Column("signature", LargeBinary(1024), nullable=False),  # up to Exchange.MAX_SIGNATURE_LENGTH (a Safe's)
    Column("status", String(12), nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("in_flight", Boolean, nullable=False, default=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # reorg and lease bookkeeping (docs/relay.md, "Failure model")
    Column("claim_until", Float, nullable=True),  # in_flight lease deadline, unix s
    Column("claim_owner", String(64), nullable=True),
    Column("chain_block", BigInteger, nullable=True),  # a chain-derived death: block it was read at
)
Index("ix_orders_book", orders_t.c.status, orders_t.c.market_id, orders_t.c.is_buy, orders_t.c.price)
Index("ix_orders_trader", orders_t.c.trader, orders_t.c.status)

trades_t = Table(
    "trades",
    _md,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tx_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("order_hash", String(66), nullable=False),
    Column("market_id", BigInteger, nullable=False),
    Column("maker", String(42), nullable=False),
    Column("taker", String(42), nullable=False),
    Column("maker_is_buy", Boolean, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("block_hash", String(66), nullable=True),
)
Index("ix_trades_key", trades_t.c.tx_hash, trades_t.c.log_index, unique=True)
Index("ix_trades_market", trades_t.c.market_id, trades_t.c.block_number)

meta_t = Table("meta", _md, Column("key", String(64), primary_key=True), Column("value", String(200)))

# the event follower's view of the chain's last blocks (number -> hash, parent hash): a block
# whose hash the chain no longer has marks a reorg (relay/follower.py)
blocks_t = Table(
    "blocks",
    _md,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(66), nullable=False),
    Column("parent_hash", String(66), nullable=False),
)
# columns added after a database was first created: (table, column, SQL type)
_LATE_COLUMNS = (
    ("orders", "claim_until", "FLOAT"),
    ("orders", "claim_owner", "VARCHAR(64)"),
    ("orders", "chain_block", "BIGINT"),
    ("trades", "block_hash", "VARCHAR(66)"),
)
REVIVABLE = (FILLED, CANCELLED, EXPIRED)  # chain-derived deaths a reorg can undo


# Hot-path statements, built once: SQLAlchemy caches the compiled form per statement object, so
# executing these with a params dict skips the per-call statement building and cache-key
# generation that `insert(...).values(**v)` / `select(...).where(... == value)` pay (~3x the
# SQLite work itself on the post path).
_INSERT_ORDER = insert(orders_t)
_GET_ORDER = select(orders_t).where(orders_t.c.hash == bindparam("h"))
_EXISTS_ORDER = select(orders_t.c.seq).where(orders_t.c.hash == bindparam("h"))
_OPEN_EXPOSURE = select(orders_t.c.market_id, orders_t.c.is_buy, orders_t.c.remaining, orders_t.c.price).where(
    and_(orders_t.c.trader == bindparam("trader"), orders_t.c.status == OPEN, orders_t.c.reduce_only.is_(False))
)
_EXPOSURE_ROWS = select(
    orders_t.c.hash, orders_t.c.market_id, orders_t.c.is_buy, orders_t.c.remaining, orders_t.c.price
).where(and_(orders_t.c.trader == bindparam("trader"), orders_t.c.status == OPEN, orders_t.c.reduce_only.is_(False)))
_SET_REMAINING = update(orders_t).where(and_(orders_t.c.hash == bindparam("h"), orders_t.c.status == OPEN))
_KILL = update(orders_t).where(and_(orders_t.c.hash == bindparam("h"), orders_t.c.status == OPEN))
_BOOK_LEVELS = (
    select(orders_t.c.is_buy, orders_t.c.price, func.sum(orders_t.c.remaining), func.count())
    .where(and_(orders_t.c.status == OPEN, orders_t.c.market_id == bindparam("mid")))
    .group_by(orders_t.c.is_buy, orders_t.c.price)
)
_BOOK_BIDS = (
    select(orders_t)
    .where(and_(orders_t.c.status == OPEN, orders_t.c.market_id == bindparam("mid"), orders_t.c.is_buy.is_(True)))
    .order_by(orders_t.c.price.desc(), orders_t.c.seq)
    .limit(bindparam("lim"))
    .offset(bindparam("off"))
)
_BOOK_ASKS = (
    select(orders_t)
    .where(and_(orders_t.c.status == OPEN, orders_t.c.market_id == bindparam("mid"), orders_t.c.is_buy.is_(False)))
    .order_by(orders_t.c.price, orders_t.c.seq)
    .limit(bindparam("lim"))
    .offset(bindparam("off"))
)
_COUNT_SIDE = select(func.count()).where(
    and_(orders_t.c.status == OPEN, orders_t.c.market_id == bindparam("mid"), orders_t.c.is_buy == bindparam("buy"))
)


def _row_to_order(r) -> StoredOrder:
    o = Order(
        r.trader, r.market_id, bool(r.is_buy), r.quantity, r.price, int(r.nonce), int(r.expiry), bool(r.reduce_only)
    )
    return StoredOrder(
        r.hash,
        o,
        bytes(r.signature),
        r.seq,
        r.status,
        r.remaining,
        r.created_at,
        r.updated_at,
        bool(r.in_flight),
        r.reason or "",
        r.claim_until,
        r.chain_block,
    )


def _row_to_trade(r) -> Trade:
    return Trade(
        r.tx_hash,
        r.log_index,
        r.block_number,
        r.order_hash,
        r.market_id,
        r.maker,
        r.taker,
        bool(r.maker_is_buy),
        r.quantity,
        r.price,
        r.timestamp,
        r.block_hash or "",
    )


class SqlOrderStore:
    """`OrderStore` on SQLAlchemy Core. Thread-safe (one pooled connection per operation).

    Locks and the pool: a thread never waits for the store lock while it holds a pooled
    connection (it takes the lock first, then the connection). The other order let waiting
    readers each hold a connection while the lock holder waited for one: with more concurrent
    requests than pool slots every operation stalled until the pool timeout (30 s).

      * SQLite file: writes are serialised by a process lock (SQLite has one writer anyway; the
        lock turns busy-retries into a queue); reads take no lock (WAL gives each a snapshot).
      * SQLite in memory: one shared connection (StaticPool), so every operation takes the lock.
      * PostgreSQL: no process lock; row locks and the conditional UPDATE/INSERTs of the module
        doc make concurrent writers (threads or relay processes) safe.
    """

    def __init__(
        self,
        url: str = "sqlite:///relay.db",
        *,
        pool_size: int = 8,
        max_overflow: int = 24,
        pool_timeout: float = 30,
        exposure_ttl: float = 2.0,
    ):
        self.url = url
        kwargs: dict = {}
        self._sqlite = url.startswith("sqlite")
        memory = url in ("sqlite://", "sqlite:///:memory:")
        if self._sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if memory:
                kwargs["poolclass"] = StaticPool
        if not memory:
            # every thread (anyio's request pool, follower, matcher) may hold one at a time
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
        self.engine = create_engine(url, **kwargs)
        # INSERT ... ON CONFLICT (hash) DO NOTHING RETURNING hash, seq: both dialects have it
        dialect_insert = sqlite_insert if self._sqlite else pg_insert
        self._insert_new = (
            dialect_insert(orders_t)
            .on_conflict_do_nothing(index_elements=[orders_t.c.hash])
            .returning(orders_t.c.hash, orders_t.c.seq, sort_by_parameter_order=True)
        )
        self._write_lock = threading.RLock() if self._sqlite else None
        self._read_lock = self._write_lock if memory else None
        if self._sqlite:

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _rec):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        _md.create_all(self.engine)
        self._add_late_columns()
        # per-trader reserved margin, kept in step by the write methods below (relay/exposure.py)
        self.exposure = ExposureBook(self._exposure_rows, ttl=exposure_ttl)
        self._local = threading.local()  # `prefetched` answers, per thread

    def _add_late_columns(self) -> None:
        """A database created by an older relay lacks the reorg/lease columns: add them."""
        from sqlalchemy import inspect, text

        have = {t: {c["name"] for c in inspect(self.engine).get_columns(t)} for t in ("orders", "trades")}
        with self._tx() as c:
            for table, col, typ in _LATE_COLUMNS:
                if col not in have[table]:
                    c.execute(text(f"ALTER TABLE {table} ADD COLUMN {col} {typ}"))

    # ------------------------------------------------------------ plumbing
    def _tx(self):
        return _Locked(self.engine.begin, self._write_lock)

    def _read(self):
        return _Locked(self.engine.connect, self._read_lock)

    # ------------------------------------------------------------ orders
    @staticmethod
    def _row(o: StoredOrder, now: float) -> dict:
        od = o.order
        return dict(
            hash=o.hash,
            trader=od.trader,
            market_id=od.market_id,
            is_buy=od.is_buy,
            quantity=od.quantity,
            price=od.price,
            nonce=str(od.nonce),
            expiry=str(od.expiry),
            reduce_only=od.reduce_only,
            signature=o.signature,
            status=OPEN,
            remaining=o.remaining,
            in_flight=False,
            reason="",
            created_at=now,
            updated_at=now,
        )

    def add(self, o: StoredOrder) -> StoredOrder | None:
        now = time.time()
        try:
            with self._tx() as c:
                seq = c.execute(_INSERT_ORDER, self._row(o, now)).inserted_primary_key[0]
        except IntegrityError:
            return None
        self._exposure_added(o)
        return replace(o, seq=seq, status=OPEN, created_at=now, updated_at=now)

    def _exposure_added(self, o: StoredOrder) -> None:
        od = o.order
        if not od.reduce_only:
            self.exposure.added(od.trader, o.hash, Resting(od.market_id, od.is_buy, o.remaining, od.price))

    def _exposure_rows(self, trader: str) -> list[tuple[str, int, bool, int, int]]:
        with self._read() as c:
            return [tuple(r) for r in c.execute(_EXPOSURE_ROWS, {"trader": trader})]

    def add_many(self, orders: Sequence[StoredOrder]) -> list[StoredOrder | None]:
        """`add` for many orders in one transaction and one multi-row INSERT (the batch post's
        write): per order the stored order, or None when its hash was already known (or came
        earlier in the same batch). Seqs follow the list's order."""
        if not orders:
            return []
        now = time.time()
        with self._tx() as c:
            got = {r[0]: r[1] for r in c.execute(self._insert_new, [self._row(o, now) for o in orders])}
        out: list[StoredOrder | None] = []
        for o in orders:
            seq = got.pop(o.hash, None)
            if seq is None:
                out.append(None)
                continue
            self._exposure_added(o)
            out.append(replace(o, seq=seq, status=OPEN, created_at=now, updated_at=now))
        return out

    def get(self, order_hash: str) -> StoredOrder | None:
        with self._read() as c:
            r = c.execute(_GET_ORDER, {"h": order_hash.lower()}).first()
        return _row_to_order(r) if r else None

    @contextmanager
    def prefetched(self, hashes: Iterable[str]):
        """Within the block, `exists` answers for `hashes` from one `IN (...)` query made up
        front, in this thread only (the batch post: one query instead of one per order). A hash
        inserted by someone else after the query still meets the insert's conflict check."""
        want = {h.lower() for h in hashes}
        with self._read() as c:
            known = {r[0] for r in c.execute(select(orders_t.c.hash).where(orders_t.c.hash.in_(want)))}
        self._local.prefetch = (want, known)
        try:
            yield known
        finally:
            self._local.prefetch = None

    def exists(self, order_hash: str) -> bool:
        pre = getattr(self._local, "prefetch", None)
        if pre is not None and order_hash.lower() in pre[0]:
            return order_hash.lower() in pre[1]
        with self._read() as c:
            return c.execute(_EXISTS_ORDER, {"h": order_hash.lower()}).first() is not None

    def book_levels(self, market_id: int) -> tuple[list[dict], list[dict]]:
        with self._read() as c:
            rows = list(c.execute(_BOOK_LEVELS, {"mid": market_id}))
        lv = lambda buy: [
            {"price": r[1], "quantity": int(r[2]), "orders": int(r[3])}  # noqa: E731
            for r in rows
            if bool(r[0]) is buy
        ]
        bids, asks = lv(True), lv(False)
        bids.sort(key=lambda x: -x["price"])
        asks.sort(key=lambda x: x["price"])
        return bids, asks

    def book_orders(self, market_id: int, is_buy: bool, limit: int, offset: int = 0) -> list[StoredOrder]:
        with self._read() as c:
            return [
                _row_to_order(r)
                for r in c.execute(
                    _BOOK_BIDS if is_buy else _BOOK_ASKS, {"mid": market_id, "lim": limit, "off": offset}
                )
            ]

    def count_open(self, market_id: int, is_buy: bool) -> int:
        with self._read() as c:
            return int(c.execute(_COUNT_SIDE, {"mid": market_id, "buy": is_buy}).scalar_one())

    def query(
        self, *, trader: str | None = None, market_id: int | None = None, status: str | None = OPEN, limit: int = 1000
    ) -> list[StoredOrder]:
        q = select(orders_t)
        if trader is not None:
            q = q.where(orders_t.c.trader == trader)
        if market_id is not None:
            q = q.where(orders_t.c.market_id == market_id)
        if status is not None:
            q = q.where(orders_t.c.status == status)
        q = q.order_by(orders_t.c.seq).limit(limit)
        with self._read() as c:
            return [_row_to_order(r) for r in c.execute(q)]

    def open_exposure(self, trader: str) -> list[tuple[int, bool, int, int]]:
        """(market_id, is_buy, remaining, price) of the trader's open, not reduce-only orders
        (the margin pre-check's input; plain tuples: this runs on every post)."""
        with self._read() as c:
            return [tuple(r) for r in c.execute(_OPEN_EXPOSURE, {"trader": trader})]

    def open_markets(self) -> list[int]:
        with self._read() as c:
            return [
                r[0]
                for r in c.execute(
                    select(orders_t.c.market_id)
                    .where(orders_t.c.status == OPEN)
                    .distinct()
                    .order_by(orders_t.c.market_id)
                )
            ]

    def set_remaining(self, order_hash: str, remaining: int, block: int | None = None) -> None:
        values = dict(remaining=remaining, updated_at=time.time())
        if remaining <= 0:
            values.update(status=FILLED, reason="fully filled", chain_block=block)
        with self._tx() as c:
            c.execute(_SET_REMAINING, {"h": order_hash, **values})
        self.exposure.remaining(order_hash, remaining)

    def kill(self, order_hash: str, status: str, reason: str = "", block: int | None = None) -> bool:
        """`block`: the chain state the verdict was read at (a reorg below it re-checks the
        order, `revivable`); None for the relay's own verdicts (a signed cancel, margin)."""
        assert status in DEAD_STATUSES, status
        with self._tx() as c:
            n = c.execute(
                _KILL,
                {
                    "h": order_hash,
                    "status": status,
                    "reason": reason[:200],
                    "in_flight": False,
                    "claim_until": None,
                    "claim_owner": None,
                    "chain_block": block if status in REVIVABLE else None,
                    "updated_at": time.time(),
                },
            ).rowcount
        if n:
            self.exposure.removed(order_hash)
        return n > 0

    def kill_below_nonce(self, trader: str, min_nonce: int, block: int | None = None) -> list[str]:
        cond = and_(orders_t.c.trader == trader, orders_t.c.status == OPEN)
        with self._tx() as c:
            hashes = [
                r[0] for r in c.execute(select(orders_t.c.hash, orders_t.c.nonce).where(cond)) if int(r[1]) < min_nonce
            ]
            if hashes:
                c.execute(
                    update(orders_t)
                    .where(orders_t.c.hash.in_(hashes))
                    .values(
                        status=CANCELLED,
                        reason=f"nonce below min nonce {min_nonce}",
                        in_flight=False,
                        chain_block=block,
                        updated_at=time.time(),
                    )
                )
        for h in hashes:
            self.exposure.removed(h)
        return hashes

    def claim(self, hashes: Iterable[str], lease: float = 120.0, owner: str = "") -> bool:
        """All or nothing: mark open, not-in-flight orders in flight until now + `lease` s.
        An expired lease is not taken over here: `expired_claims` + `release_expired` first
        (the chain says whether the dead claimant's transaction landed)."""
        hashes = list(hashes)
        try:
            with self._tx() as c:
                n = c.execute(
                    update(orders_t)
                    .where(
                        and_(orders_t.c.hash.in_(hashes), orders_t.c.status == OPEN, orders_t.c.in_flight.is_(False))
                    )
                    .values(in_flight=True, claim_until=time.time() + lease, claim_owner=owner[:64] or None)
                ).rowcount
                if n != len(hashes):
                    raise _Rollback()  # all or nothing
        except _Rollback:
            return False
        except OperationalError as e:
            # PostgreSQL: two matchers claiming overlapping pairs can deadlock on the row locks;
            # the server aborts one of them, which simply did not get the claim
            if isinstance(e.orig, _TX_ROLLBACK):
                return False
            raise
        return True

    def release(self, hashes: Iterable[str], owner: str | None = None) -> None:
        """End claims; with `owner`, only those still held by it (a lease that expired and was
        reconciled and re-claimed by another process is not ours to release)."""
        cond = orders_t.c.hash.in_(list(hashes))
        if owner is not None:
            cond = and_(cond, orders_t.c.claim_owner == (owner[:64] or None))
        with self._tx() as c:
            c.execute(update(orders_t).where(cond).values(in_flight=False, claim_until=None, claim_owner=None))

    def expired_claims(self, now: float | None = None) -> list[StoredOrder]:
        """Open orders whose in-flight lease has run out (its claimant crashed or hung)."""
        now = time.time() if now is None else now
        q = select(orders_t).where(
            and_(
                orders_t.c.status == OPEN,
                orders_t.c.in_flight.is_(True),
                # a claim from before leases existed has no deadline: expired
                (orders_t.c.claim_until.is_(None)) | (orders_t.c.claim_until < now),
            )
        )
        with self._read() as c:
            return [_row_to_order(r) for r in c.execute(q)]

    def release_expired(self, order_hash: str, now: float | None = None) -> bool:
        """Release one claim only if its lease is still the expired one (not re-claimed since)."""
        now = time.time() if now is None else now
        with self._tx() as c:
            n = c.execute(
                update(orders_t)
                .where(
                    and_(
                        orders_t.c.hash == order_hash,
                        orders_t.c.in_flight.is_(True),
                        (orders_t.c.claim_until.is_(None)) | (orders_t.c.claim_until < now),
                    )
                )
                .values(in_flight=False, claim_until=None, claim_owner=None)
            ).rowcount
        return n > 0

    # ------------------------------------------------------------ reorgs
    def revivable(self, from_block: int) -> list[StoredOrder]:
        """Orders that died of chain state read at `from_block` or later (filled, cancelled,
        expired): after a reorg from that block, candidates to come back to life."""
        q = select(orders_t).where(and_(orders_t.c.status.in_(REVIVABLE), orders_t.c.chain_block >= from_block))
        with self._read() as c:
            return [_row_to_order(r) for r in c.execute(q)]

    def revive(self, order_hash: str, remaining: int, from_block: int) -> bool:
        """Reopen an order `revivable(from_block)` returned (the chain says it is alive again)."""
        with self._tx() as c:
            n = c.execute(
                update(orders_t)
                .where(
                    and_(
                        orders_t.c.hash == order_hash,
                        orders_t.c.status.in_(REVIVABLE),
                        orders_t.c.chain_block >= from_block,
                    )
                )
                .values(
                    status=OPEN,
                    remaining=remaining,
                    reason="",
                    chain_block=None,
                    in_flight=False,
                    updated_at=time.time(),
                )
            ).rowcount
        if n:
            # reserve its margin again at once (not only at the trader's next exposure reload)
            so = self.get(order_hash)
            if so is not None:
                self._exposure_added(so)
        return n > 0

    def recent_blocks(self) -> dict[int, tuple[str, str]]:
        """The follower's processed blocks still kept: number -> (hash, parent hash)."""
        with self._read() as c:
            return {r[0]: (r[1], r[2]) for r in c.execute(select(blocks_t))}

    def record_blocks(self, blocks: list[tuple[int, str, str]], keep: int) -> None:
        """Remember (number, hash, parent hash) of processed blocks; forget those `keep` below the newest."""
        if not blocks:
            return
        top = max(b[0] for b in blocks)
        nums = [b[0] for b in blocks]
        with self._tx() as c:
            c.execute(blocks_t.delete().where(blocks_t.c.number.in_(nums)))
            c.execute(insert(blocks_t), [{"number": n, "hash": h, "parent_hash": p} for n, h, p in blocks])
            c.execute(blocks_t.delete().where(blocks_t.c.number <= top - keep))

    def trades_in(self, lo: int, hi: int) -> list[Trade]:
        q = select(trades_t).where(and_(trades_t.c.block_number >= lo, trades_t.c.block_number <= hi))
        with self._read() as c:
            return [_row_to_trade(r) for r in c.execute(q)]

    def drop_trades(self, keys: Iterable[tuple[str, int]]) -> None:
        with self._tx() as c:
            for tx, li in keys:
                c.execute(trades_t.delete().where(and_(trades_t.c.tx_hash == tx, trades_t.c.log_index == li)))

    def rollback(self, from_block: int, cursor_key: str) -> list[Trade]:
        """One transaction: forget trades and processed blocks from `from_block` on and move the
        follower's cursor back below it. Returns the trades removed."""
        with self._tx() as c:
            gone = [_row_to_trade(r) for r in c.execute(select(trades_t).where(trades_t.c.block_number >= from_block))]
            c.execute(trades_t.delete().where(trades_t.c.block_number >= from_block))
            c.execute(blocks_t.delete().where(blocks_t.c.number >= from_block))
            cur = c.execute(select(meta_t.c.value).where(meta_t.c.key == cursor_key)).first()
            if cur is not None and int(cur[0]) >= from_block:
                c.execute(update(meta_t).where(meta_t.c.key == cursor_key).values(value=str(from_block - 1)))
        return gone

    # ------------------------------------------------------------ trades and meta
    def add_trade(self, t: Trade) -> bool:
        try:
            with self._tx() as c:
                c.execute(
                    insert(trades_t).values(
                        tx_hash=t.tx_hash,
                        log_index=t.log_index,
                        block_number=t.block_number,
                        order_hash=t.order_hash,
                        market_id=t.market_id,
                        maker=t.maker,
                        taker=t.taker,
                        maker_is_buy=t.maker_is_buy,
                        quantity=t.quantity,
                        price=t.price,
                        timestamp=t.timestamp or time.time(),
                        block_hash=t.block_hash or None,
                    )
                )
        except IntegrityError:
            if t.block_hash:  # the same transaction re-mined in another block after a reorg
                with self._tx() as c:
                    c.execute(
                        update(trades_t)
                        .where(
                            and_(
                                trades_t.c.tx_hash == t.tx_hash,
                                trades_t.c.log_index == t.log_index,
                                trades_t.c.block_hash.is_distinct_from(t.block_hash),
                            )
                        )
                        .values(block_number=t.block_number, block_hash=t.block_hash)
                    )
            return False
        return True

    def trades(self, market_id: int, limit: int = 100) -> list[Trade]:
        q = (
            select(trades_t)
            .where(trades_t.c.market_id == market_id)
            .order_by(trades_t.c.block_number.desc(), trades_t.c.log_index.desc())
            .limit(limit)
        )
        with self._read() as c:
            return [_row_to_trade(r) for r in c.execute(q)]

    def get_meta(self, key: str) -> str | None:
        with self._read() as c:
            r = c.execute(select(meta_t.c.value).where(meta_t.c.key == key)).first()
        return r[0] if r else None

    def set_meta(self, key: str, value: str) -> None:
        for _ in range(2):  # two relays on one database may both insert a new key: the loser updates
            try:
                with self._tx() as c:
                    if c.execute(update(meta_t).where(meta_t.c.key == key).values(value=value)).rowcount == 0:
                        c.execute(insert(meta_t).values(key=key, value=value))
                return
            except IntegrityError:
                continue

    def close(self) -> None:
        self.engine.dispose()


class _Rollback(Exception):
    pass


try:  # deadlock / serialization failure (SQLSTATE 40xxx); the driver is optional for SQLite users
    from psycopg.errors import TransactionRollback as _TX_ROLLBACK
except ImportError:  # pragma: no cover
    _TX_ROLLBACK = ()


class _Locked:
    """Context manager: take the optional process lock, *then* open the connection/transaction
    (`opener` is called only once the lock is held; see `SqlOrderStore`)."""

    def __init__(self, opener, lock):
        self._opener, self._lock = opener, lock
        self._cm = None

    def __enter__(self):
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._cm = self._opener()
            return self._cm.__enter__()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def __exit__(self, et, ev, tb):
        try:
            self._cm.__exit__(et, ev, tb)
        finally:
            if self._lock is not None:
                self._lock.release()
        return False
