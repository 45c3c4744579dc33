"""Compile each contract once and deploy the whole protocol from one place (titanoboa).

Actors are named by role. Prices are USDC base units per unit (6 dp), quantities thousandths.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import boa
from eth_account import Account
from eth_utils import keccak

from core import abi, eip712

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"

USDC = 10**6
QUANTITY_SCALE = 1000
# a Clearinghouse deployed without a SeriesRegistry (nobody can list from templates)
ZERO_ADDRESS = "0x" + "00" * 20


def _partial(name: str):
    return boa.load_partial(str(CONTRACTS / name))


# compiled once per process
ORACLE = _partial("Oracle.vy")
CLEARINGHOUSE = _partial("Clearinghouse.vy")
CLEARINGHOUSE_VIEW = _partial("ClearinghouseView.vy")
SERIES_REGISTRY = _partial("SeriesRegistry.vy")
EXCHANGE = _partial("Exchange.vy")
MOCK_USDC = _partial("testing/MockUSDC.vy")


def feed_id(name: str) -> bytes:
    return keccak(text=name)


@dataclass
class Reporter:
    account: object  # eth_account LocalAccount

    @property
    def address(self) -> str:
        return self.account.address


@dataclass
class Trader:
    """An EOA known to both boa (as sender) and eth_account (as signer)."""

    account: object

    @property
    def address(self) -> str:
        return self.account.address


def new_key_account():
    return Account.create()


def default_market(mark_feed: bytes, settlement_feed: bytes, now: int, **overrides) -> tuple:
    """A power-like market: $/MWh, 1 kWh step, 1 cent tick, IM $15+25%, MM $10+15%."""
    m = dict(
        spec_hash=keccak(text="spec"),
        mark_feed=mark_feed,
        settlement_feed=settlement_feed,
        delivery_start=now + 10 * 86400,
        delivery_end=now + 40 * 86400,
        last_trade_time=now + 40 * 86400,
        quantity_step=1,
        min_quantity=1,
        price_tick=10_000,
        im_fixed=15 * USDC,
        im_rate_bps=2_500,
        mm_fixed=10 * USDC,
        mm_rate_bps=1_500,
        max_price_age=3_600,
        dispute_window=3_600,
        oi_cap=10**12,
    )
    m.update(overrides)
    return tuple(m.values())


# agreement band and jump limit of the test feeds: rows within max($0.05, 0.5%) of their
# median agree; without every reporter a value moves at most max($20, 50%) per hour
FEED_LIMITS = (50_000, 50, 20 * USDC, 5_000)
# the Oracle's floor on a settlement feed's dispute window (issue 16: >= 10 minutes)
MIN_DISPUTE_WINDOW = 600


# the Market struct's fields in contract order, read from the shipped ABI (core.abi)
MARKET_FIELDS = [f.name for f in fields(abi.Market)]

HOUR, DAY = 3_600, 86_400
# a template's classes: keccak(f"{name}/MARK") with the low 80 bits cleared (core.series)
_CLASS_MASK = (2**256 - 1) ^ (2**80 - 1)
LAST_TRADE_AT_END = 2**256 - 1


def feed_class(name: str, which: str) -> bytes:
    return (int.from_bytes(keccak(text=f"{name}/{which}"), "big") & _CLASS_MASK).to_bytes(32, "big")


def template_feed(cls: bytes, start: int, end: int) -> bytes:
    return (int.from_bytes(bytes(cls), "big") | (start << 40) | end).to_bytes(32, "big")


def default_template(name: str = "S", **overrides) -> dict:
    """A daily UTC power-like series with the default market's lot and margins; bond 0.01 ETH."""
    t = dict(
        spec_hash=keccak(text=f"{name}/spec"),
        mark_class=feed_class(name, "MARK"),
        settlement_class=feed_class(name, "SETTLE"),
        cadence=2,
        utc_offset=0,
        last_trade_offset=0,
        max_horizon=30 * DAY,
        quantity_step=1,
        min_quantity=1,
        price_tick=10_000,
        im_fixed=15 * USDC,
        im_rate_bps=2_500,
        mm_fixed=10 * USDC,
        mm_rate_bps=1_500,
        max_price_age=3_600,
        dispute_window=3_600,
        oi_cap=10**12,
        bond=10**16,
        active=True,
    )
    t.update(overrides)
    return t


def next_day(now: int, days: int = 1) -> tuple[int, int]:
    """The UTC day `days` after today's: (start, end)."""
    start = now - now % DAY + days * DAY
    return start, start + DAY


@dataclass
class Protocol:
    """The deployed protocol plus helpers to sign reports and orders."""

    owner: str
    guardian: str
    reporters: list
    usdc: object
    oracle: object
    clearinghouse: object
    exchange: object
    chain_id: int = 31337
    feeds: dict = field(default_factory=dict)
    # ClearinghouseView over `clearinghouse` (account_summary and the other composites)
    view: object = None
    # SeriesRegistry: series templates, permissionless listing (issue 10)
    registry: object = None

    def __post_init__(self):
        if self.view is None:
            self.view = CLEARINGHOUSE_VIEW.deploy(self.clearinghouse.address)

    @classmethod
    def deploy(
        cls, n_reporters: int = 3, quorum: int = 2, maker_fee_bps: int = 0, taker_fee_bps: int = 0, clearinghouse=None
    ):
        """`clearinghouse`: another compiled Clearinghouse (boa partial), e.g. a previous version to
        compare against, deployed with its three-argument constructor (no SeriesRegistry)."""
        boa.env.evm.patch.chain_id = 31337
        owner = boa.env.generate_address("owner")
        guardian = boa.env.generate_address("guardian")
        reporters = [Reporter(Account.create()) for _ in range(n_reporters)]
        with boa.env.prank(owner):
            usdc = MOCK_USDC.deploy()
            oracle = ORACLE.deploy([r.address for r in reporters], quorum, guardian)
            registry = None
            if clearinghouse is None:
                registry = SERIES_REGISTRY.deploy()
                ch = CLEARINGHOUSE.deploy(usdc.address, oracle.address, guardian, registry.address)
                registry.set_clearinghouse(ch.address)
            else:
                ch = clearinghouse.deploy(usdc.address, oracle.address, guardian)
            ex = EXCHANGE.deploy(ch.address, maker_fee_bps, taker_fee_bps)
            ch.set_exchange(ex.address)
        return cls(owner, guardian, reporters, usdc, oracle, ch, ex, registry=registry)

    # ------------------------------------------------------------ markets and prices
    def list_market(self, name: str = "M", plain_settlement_feed: bool = False, **overrides) -> int:
        """`plain_settlement_feed`: configure the settlement feed like a mark feed (an Oracle that
        does not enforce settlement timing), to test the Clearinghouse's own checks behind it."""
        mark, settle = feed_id(f"{name}/MARK"), feed_id(f"{name}/SETTLE")
        m = dict(
            zip(MARKET_FIELDS, default_market(mark, settle, boa.env.evm.patch.timestamp, **overrides), strict=False)
        )
        with boa.env.prank(self.owner):
            self.oracle.set_feed(mark, -10_000 * USDC, 100_000 * USDC)
            self.oracle.set_feed_limits(mark, *FEED_LIMITS)
            if plain_settlement_feed:
                self.oracle.set_feed(settle, -10_000 * USDC, 100_000 * USDC)
            else:
                # the settlement feed takes one value, written after delivery_end
                self.oracle.set_settlement_feed(
                    settle,
                    -10_000 * USDC,
                    100_000 * USDC,
                    m["delivery_end"],
                    max(m["dispute_window"], MIN_DISPUTE_WINDOW),
                )
            self.oracle.set_feed_limits(settle, *FEED_LIMITS)
            mid = self.clearinghouse.list_market(tuple(m.values()))
        self.feeds[mid] = (mark, settle)
        return mid

    # ------------------------------------------------------------ series templates (issue 10)
    def approve_template(self, name: str = "S", configure_oracle: bool = True, **overrides) -> int:
        """Approve a template (as the owner) and, unless told not to, configure its two feed
        classes in the Oracle as `list_market` configures a market's feeds."""
        t = default_template(name, **overrides)
        with boa.env.prank(self.owner):
            if configure_oracle:
                self.configure_classes(t["mark_class"], t["settlement_class"], t["dispute_window"])
            return self.registry.approve_template(tuple(t.values()))

    def configure_classes(self, mark_class: bytes, settlement_class: bytes, dispute_window: int = 3_600):
        with boa.env.prank(self.owner):
            self.oracle.set_feed(mark_class, -10_000 * USDC, 100_000 * USDC)
            self.oracle.set_feed_limits(mark_class, *FEED_LIMITS)
            # a class's not_before is ignored (each feed's is its delivery_end): pass 1
            self.oracle.set_settlement_feed(
                settlement_class, -10_000 * USDC, 100_000 * USDC, 1, max(dispute_window, MIN_DISPUTE_WINDOW)
            )
            self.oracle.set_feed_limits(settlement_class, *FEED_LIMITS)

    def list_from_template(self, template_id: int, start: int, end: int, lister=None, value: int | None = None) -> int:
        """List a window (as `lister`, default a fresh address funded with the bond); records the
        market's derived feed ids for set_mark / finalize."""
        t = self.registry.template(template_id)
        lister = lister or boa.env.generate_address("lister")
        value = t.bond if value is None else value
        boa.env.set_balance(lister, boa.env.get_balance(lister) + value)
        with boa.env.prank(lister):
            mid = self.registry.list_from_template(template_id, start, end, value=value)
        self.feeds[mid] = (template_feed(t.mark_class, start, end), template_feed(t.settlement_class, start, end))
        return mid

    def sign_report(self, reporter: Reporter, feed_ids: list, prices: list, observed_at: int) -> bytes:
        # unchecked: tests sign rows the Oracle must refuse
        struct = eip712.report_struct_hash(feed_ids, prices, observed_at, check=False)
        return eip712.sign_digest(
            reporter.account, eip712.digest(eip712.report_domain_separator(self.chain_id, self.oracle.address), struct)
        )

    def push(self, feed_ids: list, prices: list, observed_at: int | None = None, reporters=None):
        """Every reporter signs (as the pusher sends every row it has), so a move beyond a
        feed's jump limit is stored, not clamped; pass `reporters` to sign with fewer."""
        observed_at = boa.env.evm.patch.timestamp if observed_at is None else observed_at
        reporters = self.reporters if reporters is None else reporters
        rows = [list(prices) for _ in reporters]
        sigs = [self.sign_report(r, feed_ids, prices, observed_at) for r in reporters]
        self.oracle.submit(list(feed_ids), observed_at, rows, sigs)

    def set_mark(self, market_id: int, price: int):
        self.push([self.feeds[market_id][0]], [price])

    def set_settlement(self, market_id: int, price: int, observed_at: int | None = None):
        self.push([self.feeds[market_id][1]], [price], observed_at)

    def finalize(self, market_id: int, price: int):
        """Settle the market at `price`: at delivery_end the value is reported, stands for the
        dispute window, and finalize_settlement runs."""
        ch = self.clearinghouse
        boa.env.evm.patch.timestamp = ch.market(market_id).delivery_end
        self.set_settlement(market_id, price)
        boa.env.time_travel(seconds=ch.market(market_id).dispute_window)
        ch.finalize_settlement(market_id)

    # ------------------------------------------------------------ accounts and orders
    def fund(self, who: str, amount: int):
        self.usdc.mint(who, amount)
        with boa.env.prank(who):
            self.usdc.approve(self.clearinghouse.address, amount)
            self.clearinghouse.deposit(amount)

    def order(
        self,
        trader,
        market_id: int,
        is_buy: bool,
        quantity: int,
        price: int,
        nonce: int = 0,
        expiry: int | None = None,
        reduce_only: bool = False,
    ) -> tuple:
        expiry = boa.env.evm.patch.timestamp + 86400 if expiry is None else expiry
        return (trader.address, market_id, is_buy, quantity, price, nonce, expiry, reduce_only)

    def sign_order(self, trader, order: tuple) -> bytes:
        d = eip712.order_digest(eip712.Order(*order), self.chain_id, self.exchange.address)
        return eip712.sign_digest(trader.account, d)

    def trade(self, maker, taker, market_id: int, maker_is_buy: bool, quantity: int, price: int, nonce: int = 0):
        """Maker signs, taker fills on-chain."""
        o = self.order(maker, market_id, maker_is_buy, quantity, price, nonce)
        sig = self.sign_order(maker, o)
        with boa.env.prank(taker.address):
            self.exchange.fill(o, sig, quantity)
        return o


def new_trader() -> Trader:
    return Trader(Account.create())


def configure_settlement_feed(
    oracle, owner, fid: bytes, lo: int, hi: int, not_before: int | None = None, dispute_window: int = 3_600
) -> int:
    """Make `fid` a settlement feed whose value may be written from `not_before` (default: now)."""
    not_before = boa.env.evm.patch.timestamp if not_before is None else not_before
    with boa.env.prank(getattr(owner, "address", owner)):
        oracle.set_settlement_feed(fid, lo, hi, not_before, dispute_window)
    return not_before


# ---------------------------------------------------------------- pools (issue 15)
POOL = _partial("Pool.vy")
# max_hedge_bps, max_margin_bps, max_slippage_bps, max_slippage_fixed, min_collateral_per_gpu
POOL_LIMITS = (8_000, 5_000, 200, 1 * USDC, 100 * USDC)
POOL_DELAY = 86_400


def deploy_pool(protocol: Protocol, owner: str, manager: str, limits: tuple = POOL_LIMITS, delay: int = POOL_DELAY):
    """A Pool on `protocol`'s Clearinghouse and Exchange, collateral = its USDC."""
    with boa.env.prank(owner):
        return POOL.deploy(
            "Compute Pool",
            "CPOOL",
            protocol.clearinghouse.address,
            protocol.exchange.address,
            protocol.usdc.address,
            owner,
            manager,
            delay,
            limits,
        )


def allow_pool_market(pool, owner: str, market_id: int, capacity_key: bytes, units_per_gpu: int):
    """Queue and apply an allowed market through the pool's delay (time travels)."""
    with boa.env.prank(owner):
        pool.queue_market(market_id, (capacity_key, units_per_gpu))
    boa.env.time_travel(seconds=pool.delay())
    pool.apply_market(market_id)
