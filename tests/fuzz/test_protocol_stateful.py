"""Stateful fuzz test of the whole protocol (Oracle + Clearinghouse + Exchange) against a Python
model of the ledger, asserting the DESIGN.md §6 invariants after every step.

The contracts are deployed once per module (three markets, five traders, a liquidator, a
treasury, a matcher, and an opening book of leveraged cross-margin positions); every hypothesis
example runs inside `boa.env.anchor()`, so examples are independent and start from the same state.

The model (`Ledger`) is written from the documented semantics (DESIGN §3/§4 and the
Clearinghouse header: exact trade notionals, mark-to-market rounded down, margins rounded up,
realised PnL on reductions rounded against the account, liquidation size/penalty rules from the
`liquidate` NatSpec). Every rule predicts, from the model, whether the call must revert and with
which reason(s), calls the contract, and fails on any disagreement; reverted calls must change
nothing (the model is compared with the chain after every step).

Invariants (one `@invariant` per DESIGN §6 item; `model_matches_chain` is an extra):

1. `inv1_collateral_backed` — exact accounting identity derived from the contract (no rounding
   anywhere in cash movements, because tick x step is a whole number of base units):
       balance(CH) == deposits - withdrawals + insurance funding - fee withdrawals
       balance(CH) + bad_debt == Σ collateral + insurance_fund + fees
                                 - Σ open_notional + Σ_{settled markets, unsettled positions} q*P/1000
   and, valued at the marks, the "dust" form of §6.1:
       0 <= balance(CH) + bad_debt - (Σ equity + insurance_fund + fees) < #open positions
   (equity floors each position's value, so the only difference is rounding in the protocol's
   favour; collateral is signed; bad_debt is the recorded shortfall).
2. `inv2_open_interest_balanced` — per market Σ quantity (plus quantities already settled) == 0,
   long_oi == Σ positive quantities, and before settlement long_oi == Σ |negative quantities|.
3. `inv3_no_hidden_negative_collateral` — an account with no open position never has negative
   collateral (its shortfall must have gone to the insurance fund, then bad_debt); negative
   collateral is only allowed transiently while positions are open (cross margin). bad_debt
   equals Σ BadDebt.uncovered and never decreases.
4. `inv4_liquidations_safe` — the liquidation rules compare the account's health ratio
   (equity/MM, +inf without MM, exact cross-multiplied ints) before/after, the liquidator's
   equity vs IM after, the transfer price, the penalty cap and that a partial liquidation which
   stops short restores health; violations are recorded and this invariant fails on them.
5. `inv5_settled_market_pnl_zero` — once a settled market has no position left, Σ realised PnL
   over its PositionUpdated events == 0 (equivalently Σ trader PnL net of fees + fees == 0), and
   the cash flows (fills, liquidation transfers, settlement) sum to 0; liquidation penalties
   observed on-chain (account debit == liquidator credit + insurance share) sum to 0.
6. `inv6_orders_never_overfill` — filled(order) <= quantity, equals the model, never moves after
   the order died (expired, cancelled, below min nonce), and orders signed for another chain,
   another verifying contract or by the wrong key never fill.

Run: `PYTHONPATH=. .venv/bin/python -m pytest tests/fuzz -q` (profile "short");
`HYPOTHESIS_PROFILE=deep ... -s tests/fuzz` for the long run (`make fuzz`).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import json
import time

import boa
import eth_abi
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth_account import Account
from eth_utils import keccak
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core import eip712
from tests.utils.deployers import FEED_LIMITS, USDC, Protocol, Trader, template_feed

BPS = 10_000
QS = 1_000  # QUANTITY_SCALE
MAKER_FEE_BPS = 2
TAKER_FEE_BPS = 5
# Clearinghouse liquidation defaults: penalty 50% of MM, at most 10% of notional; the liquidator's
# reward $1 + 10 bps of the notional taken, at most $1,000 (overridden by `owner_params` moves)
PENALTY_BPS, PENALTY_CAP_BPS, REWARD_BPS, MIN_REWARD, MAX_REWARD = 5_000, 1_000, 10, USDC, 1_000 * USDC
MAX_UINT = 2**256 - 1
DAY = 86_400

# module-level step counter (all examples, shrinking included); the test adds it to the session stats
STEPS = 0
EXAMPLES = 0
STARTED = time.monotonic()
PROGRESS_EVERY = 25  # examples between progress lines (visible with -s, as `make fuzz` runs)
# outcome counts ("what: ok" / "what: <revert reason>"), printed with FUZZ_COVERAGE=1 or the deep profile
COVERAGE: collections.Counter = collections.Counter()


# ===================================================================== market configuration


@dataclasses.dataclass(frozen=True)
class MarketCfg:
    name: str
    spec: dict
    quantity_step: int  # thousandths
    min_quantity: int  # thousandths
    price_tick: int  # base units per unit
    im_fixed: int
    im_rate_bps: int
    mm_fixed: int
    mm_rate_bps: int
    max_price_age: int  # s
    dispute_window: int  # s
    oi_cap: int  # thousandths
    delivery_start: int  # s after deployment
    delivery_end: int
    last_trade: int
    base: int  # initial mark, base units
    floor: int  # lowest mark we generate (negative for power / spread)
    cap: int  # highest mark we generate (the $9,000/MWh ERCOT cap for power)


MARKETS = (
    # power: $/MWh, 1 kWh step, 1 cent tick, $9,000 spikes and negative prices
    MarketCfg(
        name="ERCOT-WEST/RT/ATC",
        spec={"type": "POWER", "iso": "ERCOT", "node": "HB_WEST", "market": "RT", "profile": "ATC"},
        quantity_step=1,
        min_quantity=1,
        price_tick=10_000,
        im_fixed=15 * USDC,
        im_rate_bps=2_500,
        mm_fixed=10 * USDC,
        mm_rate_bps=1_500,
        max_price_age=3_600,
        dispute_window=3_600,
        oi_cap=10**9,
        delivery_start=1 * DAY,
        delivery_end=2 * DAY,
        last_trade=2 * DAY,
        base=40 * USDC,
        floor=-150 * USDC,
        cap=9_000 * USDC,
    ),
    # GPU-hour: ~$2, 0.01 GPU-hour step (min 0.1), $0.0001 tick
    MarketCfg(
        name="H100-SXM/US",
        spec={"type": "COMPUTE", "gpu": "H100-SXM", "region": "US"},
        quantity_step=10,
        min_quantity=100,
        price_tick=100,
        im_fixed=100_000,
        im_rate_bps=2_000,
        mm_fixed=50_000,
        mm_rate_bps=1_000,
        max_price_age=7_200,
        dispute_window=1_800,
        oi_cap=10**9,
        delivery_start=2 * DAY,
        delivery_end=5 * DAY,
        last_trade=4 * DAY,
        base=2 * USDC,
        floor=10_000,
        cap=100 * USDC,
    ),
    # compute spread: GPU index - 0.0012 MWh x LMP, negative when power spikes; small OI cap
    MarketCfg(
        name="SPREAD/H100-vs-HB_WEST",
        spec={"type": "SPREAD", "mwh_per_gpu_hour": "0.0012"},
        quantity_step=1,
        min_quantity=100,
        price_tick=1_000,
        im_fixed=500_000,
        im_rate_bps=3_000,
        mm_fixed=300_000,
        mm_rate_bps=1_500,
        max_price_age=1_800,
        dispute_window=600,
        oi_cap=2_000_000,
        delivery_start=3 * DAY,
        delivery_end=6 * DAY,
        last_trade=6 * DAY,
        base=1_950_000,
        floor=-12 * USDC,
        cap=100 * USDC,
    ),
)

N_TRADERS = 5
TRADER_DEPOSITS = (3_000, 5_000, 10_000, 20_000, 50_000)  # USDC each, at setup
LIQUIDATOR_DEPOSIT = 3_000_000
INSURANCE_SEED = 2_000
WALLET_MINTS = 10  # x 1,000,000 USDC minted to every actor's wallet (faucet cap per call)
# opening book at setup: (maker, taker, market index, maker buys, quantity in thousandths), at the marks
SETUP_BOOK = (
    (0, 2, 0, True, 90_000),  # trader0 long 90 MWh power ($3k account: IM $2,250)
    (1, 3, 1, True, 6_000_000),  # trader1 long 6,000 GPU-h (IM $3,000) ...
    (1, 4, 0, False, 40_000),  # ... and short 40 MWh power (cross margin: IM $4,000 of $5k)
    (3, 4, 2, False, 1_500_000),  # trader3 short 1,500 GPU-h of spread; long OI 1,500 of a 2,000 cap
)


def order_digest(order: tuple, chain_id: int, verifying: str) -> bytes:
    return eip712.order_digest(eip712.Order(*order), chain_id, verifying)


def sign_order(account, order: tuple, chain_id: int, verifying: str) -> bytes:
    return eip712.sign_digest(account, order_digest(order, chain_id, verifying))


# ===================================================================== helpers


def ceil_div(a: int, b: int) -> int:
    """b > 0, rounds toward +inf (the contract's _ceil_div / _ceil_udiv)."""
    return -((-a) // b)


def revert_reason(err: BoaError) -> str:
    for frame in reversed(err.stack_trace):
        vm_error = getattr(frame, "vm_error", None)
        if vm_error is None:
            continue
        data = vm_error.args[0] if vm_error.args else b""
        if isinstance(data, bytes) and data[:4] == bytes.fromhex("08c379a0"):
            return eth_abi.decode(["string"], data[4:])[0]
        return repr(vm_error)
    return str(err).splitlines()[0]


def _note(msg: str):
    """hypothesis.note, but usable when a regression test replays rules outside hypothesis."""
    try:
        note(msg)
    except InvalidArgument:
        pass


def usd(x: int) -> str:
    return f"${x / USDC:,.6f}".rstrip("0").rstrip(".")


@dataclasses.dataclass
class Summary:
    equity: int
    initial: int
    maintenance: int
    fresh: bool
    open_markets: int
    stale_margin: int = 0  # MM of stale legs (halted legs excluded): valued one MM against the account


class NeedsAdl(Exception):
    """A flat account's loss exceeds the insurance fund: the contract reverts "deleverage needed"."""


# ===================================================================== the model


class Ledger:
    """Python model of the Clearinghouse ledger, the oracle feeds it reads and the Exchange's order
    book state. Pure data + the documented formulas; `copy()` for trial executions."""

    def __init__(self, accounts: list[str], mids: list[int], cfg: dict[int, MarketCfg]):
        self.cfg = cfg
        self.mids = list(mids)
        self.accounts = list(accounts)
        self.coll = {a: 0 for a in accounts}
        self.pos = {(a, m): [0, 0] for a in accounts for m in mids}  # [quantity, open_notional]
        self.insurance = 0
        self.fees = 0
        self.bad_debt = 0  # never written: a loss the fund cannot carry is deleveraged instead
        self.adl_pending: set[str] = set()
        self.liq_params = [PENALTY_BPS, PENALTY_CAP_BPS, REWARD_BPS, MIN_REWARD, MAX_REWARD]
        # risk words the owner may change (set_market_params): im_fixed, im_rate, mm_fixed, mm_rate
        self.risk = {m: [cfg[m].im_fixed, cfg[m].im_rate_bps, cfg[m].mm_fixed, cfg[m].mm_rate_bps] for m in mids}
        self.long_oi = {m: 0 for m in mids}
        self.halted = {m: False for m in mids}
        self.settled = {m: False for m in mids}
        self.settlement_price = {m: 0 for m in mids}
        self.mark = {m: [0, 0] for m in mids}  # [price, observed_at]
        self.mark_disputed = {m: False for m in mids}
        # settlement feed: price, observed_at, updated_at, disputed, final
        self.sfeed = {m: dict(price=0, observed_at=0, updated_at=0, disputed=False, final=False) for m in mids}
        self.wallet: dict[str, int] = {}
        # external cash flows into / out of the Clearinghouse (invariant 1)
        self.flows = dict(deposits=0, withdrawals=0, insurance_funded=0, fees_withdrawn=0)
        # per-market bookkeeping from the model (cross-checked with events)
        self.realised = {m: 0 for m in mids}
        self.fees_by_market = {m: 0 for m in mids}  # fees charged on fills in m
        self.cashflow = {m: 0 for m in mids}  # Σ over accounts of cash paid/received in m
        self.settled_qty = {m: 0 for m in mids}
        # Exchange
        self.min_nonce: dict[str, int] = {a: 0 for a in accounts}

    def copy(self) -> Ledger:
        new = copy.copy(self)
        for k, v in self.__dict__.items():
            if k in ("cfg", "mids", "accounts"):
                continue
            setattr(new, k, copy.deepcopy(v))
        return new

    # ------------------------------------------------------------ marks and margin
    def mark_of(self, m: int, now: int) -> tuple[int, bool]:
        if self.settled[m]:
            return self.settlement_price[m], True
        price, observed_at = self.mark[m]
        fresh = observed_at != 0 and not self.mark_disputed[m] and observed_at + self.cfg[m].max_price_age >= now
        return price, fresh

    def open_markets(self, a: str) -> list[int]:
        return [m for m in self.mids if self.pos[(a, m)][0] != 0]

    def summary(self, a: str, now: int) -> Summary:
        eq = self.coll[a]
        im = mm = stale = 0
        fresh = True
        n = 0
        for m in self.open_markets(a):
            q, on = self.pos[(a, m)]
            mark, f = self.mark_of(m, now)
            fresh = fresh and f
            eq += (q * mark) // QS - on  # mark-to-market rounded down (against the account)
            n += 1
            if self.settled[m]:
                continue
            imf, imr, mmf, mmr = self.risk[m]
            im += ceil_div(abs(q) * (imf * BPS + imr * abs(mark)), QS * BPS)
            leg = ceil_div(abs(q) * (mmf * BPS + mmr * abs(mark)), QS * BPS)
            mm += leg
            if not f and not self.halted[m]:
                stale += leg
        return Summary(eq, im, mm, fresh, n, stale)

    def liquidatable(self, a: str, now: int) -> bool:
        """What `is_liquidatable` and `liquidate` check: stale legs valued one MM against it."""
        s = self.summary(a, now)
        return s.maintenance > 0 and s.equity - s.stale_margin < s.maintenance

    def actionable(self, a: str, m: int, now: int) -> bool:
        """`liquidate(a, m)` can act on m: a position there, and a fresh or halted mark (or settled)."""
        return self.pos[(a, m)][0] != 0 and (self.settled[m] or self.halted[m] or self.mark_of(m, now)[1])

    def reward(self, size: int, price: int) -> int:
        _pen, _cap, rbps, minr, maxr = self.liq_params
        return min(minr + size * abs(price) // QS * rbps // BPS, maxr)

    # ------------------------------------------------------------ ledger moves
    def apply_fill(self, a: str, m: int, delta: int, price: int, fee: int) -> bool:
        """Move a's position by delta at price (exact notional), realise PnL on the reduced part
        (rounded against the account), charge fee. Returns True when the risk grew."""
        p = self.pos[(a, m)]
        q0, on0 = p
        q1 = q0 + delta
        assert (delta * price) % QS == 0, f"inexact notional {delta} x {price}"
        notional = delta * price // QS
        realised = 0
        if q0 == 0 or (q0 > 0) == (delta > 0):
            on1 = on0 + notional
        elif abs(delta) <= abs(q0):
            closed = ceil_div(on0 * abs(delta), abs(q0))
            realised = -notional - closed
            on1 = on0 - closed
        else:
            assert (q0 * price) % QS == 0 and (q1 * price) % QS == 0
            realised = q0 * price // QS - on0
            on1 = q1 * price // QS
        if q1 == 0:
            on1 = 0
        p[0], p[1] = q1, on1
        self.coll[a] += realised - fee
        self.long_oi[m] += max(q1, 0) - max(q0, 0)
        self.realised[m] += realised
        self.cashflow[m] -= notional
        return abs(q1) > abs(q0) or (q1 != 0 and q0 != 0 and (q1 > 0) != (q0 > 0))

    def settle_position(self, a: str, m: int) -> int:
        q, on = self.pos[(a, m)]
        price = self.settlement_price[m]
        assert (q * price) % QS == 0
        pnl = q * price // QS - on
        self.coll[a] += pnl
        self.pos[(a, m)] = [0, 0]
        if q > 0:
            self.long_oi[m] -= q
        self.realised[m] += pnl
        self.cashflow[m] += q * price // QS
        self.settled_qty[m] += q
        self.absorb_if_flat(a)
        return pnl

    def absorb_if_flat(self, a: str) -> tuple[int, int] | None:
        if self.open_markets(a):
            return None
        self.adl_pending.discard(a)
        coll = self.coll[a]
        if coll >= 0:
            return None
        loss = -coll
        if loss > self.insurance:
            raise NeedsAdl(a)
        self.insurance -= loss
        self.coll[a] = 0
        return loss, 0


def _tdiv(a: int, b: int) -> int:
    """Vyper's signed `//`: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


FEED_LO, FEED_HI = -10_000 * USDC, 100_000 * USDC  # bounds tests/utils/deployers gives every feed
JUMP_PERIOD = 3_600


def oracle_fold(rows: list[int], old: int, old_obs: int, observed_at: int, roster: int, quorum: int) -> int | None:
    """Oracle.submit for one feed (FEED_LIMITS): the median of the rows that agree within the
    band, if at least a quorum agree (else None: skipped), clamped by the per-hour jump limit
    unless every registered reporter's row agrees."""
    band_floor, band_bps, jump_floor, jump_bps = FEED_LIMITS
    a = sorted(rows)
    n = len(a)

    def mid(first, count):
        if count % 2:
            return a[first + count // 2]
        return _tdiv(a[first + count // 2 - 1] + a[first + count // 2], 2)

    if n == 3:
        med = a[1]
        agreeing, value = 0, med
        if FEED_LO <= med <= FEED_HI:
            band = max(band_floor, band_bps * abs(med) // BPS)
            inside = [x for x in rows if med - band <= x <= med + band]
            agreeing = len(inside)
            if agreeing == 2:
                value = _tdiv(sum(inside), 2)
                if not FEED_LO <= value <= FEED_HI:
                    agreeing = 0
    else:
        agreeing, value = 0, 0
        if a[(n - 1) // 2] >= FEED_LO and a[n // 2] <= FEED_HI:
            med = mid(0, n)
            band = max(band_floor, band_bps * abs(med) // BPS)
            idx = [i for i in range(n) if med - band <= a[i] <= med + band]
            if idx:
                value = mid(idx[0], len(idx))
                agreeing = len(idx) if FEED_LO <= value <= FEED_HI else 0
    if agreeing < quorum:
        return None
    if old_obs:
        allowed = max(jump_floor, jump_bps * abs(old) // BPS) * min(observed_at - old_obs, JUMP_PERIOD) // JUMP_PERIOD
        if not old - allowed <= value <= old + allowed and agreeing < roster:
            value = old + allowed if value > old else old - allowed
    return value


def fee_of(quantity: int, price: int, bps: int) -> int:
    notional = abs(quantity * price) // QS
    return (notional * bps + BPS - 1) // BPS


# ===================================================================== the deployed world


@dataclasses.dataclass
class World:
    p: Protocol
    mids: list
    cfg: dict  # mid -> MarketCfg
    traders: list  # Trader (eth_account key + address)
    liquidator: Trader
    treasury: str
    matcher: str
    other_contract: str  # a verifyingContract that is not the Exchange
    base: Ledger  # model of the state right after setup
    raw: RawState
    whale: str  # a well-funded stranger for trial liquidations (invariant 8), outside the model
    series_tid: int = 0  # an approved hourly template anyone lists windows of (issue 10)


_WORLD: World | None = None


def _actor(tag: str) -> Trader:
    return Trader(Account.from_key(keccak(text=f"compute-spread-fuzz/{tag}")))


def build_world() -> World:
    p = Protocol.deploy(maker_fee_bps=MAKER_FEE_BPS, taker_fee_bps=TAKER_FEE_BPS)
    now = boa.env.evm.patch.timestamp
    mids, cfg = [], {}
    for c in MARKETS:
        mid = p.list_market(
            c.name,
            spec_hash=keccak(text=json.dumps(c.spec, sort_keys=True, separators=(",", ":"))),
            delivery_start=now + c.delivery_start,
            delivery_end=now + c.delivery_end,
            last_trade_time=now + c.last_trade,
            quantity_step=c.quantity_step,
            min_quantity=c.min_quantity,
            price_tick=c.price_tick,
            im_fixed=c.im_fixed,
            im_rate_bps=c.im_rate_bps,
            mm_fixed=c.mm_fixed,
            mm_rate_bps=c.mm_rate_bps,
            max_price_age=c.max_price_age,
            dispute_window=c.dispute_window,
            oi_cap=c.oi_cap,
        )
        mids.append(mid)
        cfg[mid] = dataclasses.replace(
            c,
            delivery_start=now + c.delivery_start,
            delivery_end=now + c.delivery_end,
            last_trade=now + c.last_trade,
        )
    traders = [_actor(f"trader-{i}") for i in range(N_TRADERS)]
    liquidator = _actor("liquidator")
    treasury = boa.env.generate_address("treasury")
    matcher = boa.env.generate_address("matcher")
    actors = [t.address for t in traders] + [liquidator.address]

    base = Ledger(actors, mids, cfg)
    ch = p.clearinghouse
    for who in actors + [treasury]:
        for _ in range(WALLET_MINTS):
            p.usdc.mint(who, 1_000_000 * USDC)
        with boa.env.prank(who):
            p.usdc.approve(ch.address, MAX_UINT)
        base.wallet[who] = WALLET_MINTS * 1_000_000 * USDC
    for who, amount in zip(actors, [d * USDC for d in TRADER_DEPOSITS] + [LIQUIDATOR_DEPOSIT * USDC], strict=False):
        with boa.env.prank(who):
            ch.deposit(amount)
        base.wallet[who] -= amount
        base.coll[who] += amount
        base.flows["deposits"] += amount
    with boa.env.prank(treasury):
        ch.fund_insurance(INSURANCE_SEED * USDC)
    base.wallet[treasury] -= INSURANCE_SEED * USDC
    base.insurance += INSURANCE_SEED * USDC
    base.flows["insurance_funded"] += INSURANCE_SEED * USDC
    p.push([p.feeds[m][0] for m in mids], [cfg[m].base for m in mids])
    for m in mids:
        base.mark[m] = [cfg[m].base, now]
    # an opening book, so that every example starts with leveraged cross-margin positions
    # (maker index, taker index, market index, maker buys, quantity in thousandths)
    for mk, tk, mi, is_buy, qty in SETUP_BOOK:
        maker, taker, m = traders[mk], traders[tk], mids[mi]
        price = cfg[m].base
        order = (maker.address, m, is_buy, qty, price, 0, now + DAY, False)
        with boa.env.prank(taker.address):
            p.exchange.fill(order, sign_order(maker.account, order, p.chain_id, p.exchange.address), qty)
        buyer, seller = (maker.address, taker.address) if is_buy else (taker.address, maker.address)
        mfee, tfee = fee_of(qty, price, MAKER_FEE_BPS), fee_of(qty, price, TAKER_FEE_BPS)
        base.apply_fill(buyer, m, qty, price, mfee if is_buy else tfee)
        base.apply_fill(seller, m, -qty, price, tfee if is_buy else mfee)
        base.fees += mfee + tfee
        base.fees_by_market[m] += mfee + tfee
    other = p.clearinghouse.address  # signing for this "verifyingContract" must never work
    series_tid = p.approve_template("FUZZ.HOURLY", cadence=1, max_horizon=3 * DAY)
    return World(
        p,
        mids,
        cfg,
        traders,
        liquidator,
        treasury,
        matcher,
        other,
        base,
        RawState(p),
        boa.env.generate_address("whale"),
        series_tid,
    )


def world() -> World:
    global _WORLD
    if _WORLD is None:
        _WORLD = build_world()
    return _WORLD


@pytest.fixture(scope="module")
def deployed():
    """Deploy once per module. titanoboa's pytest plugin anchors every fixture for its scope and
    every test (and every hypothesis example) on top, so state built inside a test would vanish
    after it: the world lives exactly as long as this fixture."""
    global _WORLD
    _WORLD = build_world()
    yield _WORLD
    _WORLD = None


# ===================================================================== raw storage reads


def _signed(v: int) -> int:
    return v - 2**256 if v >= 2**255 else v


class RawState:
    """Reads contract storage directly (no EVM execution: a view like account_summary costs
    ~20 ms in py-evm, a storage read ~10 us). Slots come from the compiler's storage layout; the
    known encodings of each variable are decoded here (positions as a two-slot struct or as one
    word packing int128 quantity | int128 open_notional << 128), and anything else falls back to
    the contract's own views, so a contract refactor slows the fuzzer down but never fools it.
    Raw reads are cross-checked against the views every step for the accounts that changed
    (see `model_matches_chain`)."""

    def __init__(self, p: Protocol):
        self.p = p
        self._memo: dict = {}
        self.ch = self._slots(p.clearinghouse)
        self.ex = self._slots(p.exchange)
        self.usdc = self._slots(p.usdc)
        self.oracle = self._slots(p.oracle)

    @staticmethod
    def _slots(contract) -> dict:
        flat: dict = {"_address": contract.address}

        def walk(d):
            for k, v in d.items():
                if isinstance(v, dict) and "slot" in v:
                    flat[k] = (v["slot"], v["type"])
                elif isinstance(v, dict):
                    walk(v)

        walk(contract.compiler_data.storage_layout["storage_layout"])
        return flat

    def _slot(self, layout: dict, name: str, typ: str) -> int | None:
        got = layout.get(name)
        return got[0] if got and got[1] == typ else None

    def _h(self, slot: int, key) -> int:
        k = (slot, key)
        got = self._memo.get(k)
        if got is None:
            if isinstance(key, str):
                kb = bytes.fromhex(key[2:]).rjust(32, b"\0")
            elif isinstance(key, int):
                kb = key.to_bytes(32, "big")
            else:
                kb = bytes(key)
            got = self._memo[k] = int.from_bytes(keccak(slot.to_bytes(32, "big") + kb), "big")
        return got

    @staticmethod
    def _get(layout: dict, slot: int) -> int:
        return boa.env.get_storage(layout["_address"], slot)

    @staticmethod
    def _i128(v: int) -> int:
        v &= 2**128 - 1
        return v - 2**128 if v >= 2**127 else v

    def collateral(self, a: str) -> int:
        slot = self._slot(self.ch, "_collateral", "HashMap[address, int256]")
        if slot is None:
            return self.p.clearinghouse.collateral(a)
        return _signed(self._get(self.ch, self._h(slot, a)))

    def position(self, a: str, m: int) -> tuple[int, int]:
        slot = self._slot(self.ch, "_positions", "HashMap[address, HashMap[uint256, Position]]")
        if slot is not None:
            base = self._h(self._h(slot, a), m)
            return _signed(self._get(self.ch, base)), _signed(self._get(self.ch, base + 1))
        slot = self._slot(self.ch, "_positions", "HashMap[address, HashMap[uint256, uint256]]")
        if slot is not None:
            word = self._get(self.ch, self._h(self._h(slot, a), m))
            return self._i128(word), self._i128(word >> 128)
        return tuple(self.p.clearinghouse.position(a, m))

    def open_markets(self, a: str) -> list[int]:
        slot = self._slot(self.ch, "_open_markets", "HashMap[address, DynArray[uint256, 32]]")
        if slot is None:
            return list(self.p.clearinghouse.open_markets(a))
        base = self._h(slot, a)
        return [self._get(self.ch, base + 1 + i) for i in range(self._get(self.ch, base))]

    def market_state(self, m: int) -> tuple[bool, bool, int, int]:
        """halted, settled, settlement price, long OI."""
        st_ = self.p.clearinghouse.market_state(m) if ("_market_states", m) not in self._memo else None
        slot = self._slot(self.ch, "_market_states", "HashMap[uint256, MarketState]")
        if slot is not None:
            base = self._h(slot, m)
            g = [self._get(self.ch, base + i) for i in range(4)]
            raw = (g[0] != 0, g[1] != 0, _signed(g[2]), g[3])
            if st_ is None or raw == (st_.halted, st_.settled, st_.settlement_price, st_.long_oi):
                self._memo[("_market_states", m)] = True  # the struct layout was checked once
                return raw
        st_ = st_ or self.p.clearinghouse.market_state(m)
        return st_.halted, st_.settled, st_.settlement_price, st_.long_oi

    def scalar(self, name: str) -> int:
        slot = self._slot(self.ch, name, "uint256")
        return getattr(self.p.clearinghouse, name)() if slot is None else self._get(self.ch, slot)

    def filled(self, digest: bytes) -> int:
        slot = self._slot(self.ex, "filled", "HashMap[bytes32, uint256]")
        return self.p.exchange.filled(digest) if slot is None else self._get(self.ex, self._h(slot, digest))

    def cancelled(self, digest: bytes) -> bool:
        slot = self._slot(self.ex, "cancelled", "HashMap[bytes32, bool]")
        return self.p.exchange.cancelled(digest) if slot is None else self._get(self.ex, self._h(slot, digest)) != 0

    def min_nonce(self, a: str) -> int:
        slot = self._slot(self.ex, "min_nonce", "HashMap[address, uint256]")
        return self.p.exchange.min_nonce(a) if slot is None else self._get(self.ex, self._h(slot, a))

    def balance(self, a: str) -> int:
        slot = self._slot(self.usdc, "balanceOf", "HashMap[address, uint256]")
        return self.p.usdc.balanceOf(a) if slot is None else self._get(self.usdc, self._h(slot, a))

    def feed_price(self, fid: bytes) -> int:
        slot = self._slot(self.oracle, "_feeds", "HashMap[bytes32, uint256]")
        if slot is None:
            return self.p.oracle.price(fid)[0]
        return self._i128(self._get(self.oracle, self._h(slot, fid)))  # price: low int128 of the word


# ===================================================================== orders


@dataclasses.dataclass
class OrderRec:
    idx: int
    order: tuple
    sig: bytes
    digest: bytes  # EIP-712 digest under the real domain (what the Exchange keys fills by)
    kind: str  # "ok" | "wrong-chain" | "wrong-contract" | "wrong-signer"
    filled: int = 0
    cancelled: bool = False
    dead_filled: int | None = None  # filled amount when the order died; must never move again

    @property
    def trader(self) -> str:
        return self.order[0]

    @property
    def market(self) -> int:
        return self.order[1]

    @property
    def is_buy(self) -> bool:
        return self.order[2]

    @property
    def quantity(self) -> int:
        return self.order[3]

    @property
    def price(self) -> int:
        return self.order[4]

    @property
    def nonce(self) -> int:
        return self.order[5]

    @property
    def expiry(self) -> int:
        return self.order[6]

    @property
    def reduce_only(self) -> bool:
        return self.order[7]

    @property
    def sig_valid(self) -> bool:
        return self.kind == "ok"

    def remaining(self) -> int:
        return self.quantity - self.filled


# ===================================================================== strategies

actor_idx = st.integers(0, N_TRADERS - 1)
market_idx = st.integers(0, len(MARKETS) - 1)
permille = st.integers(-1_000, 1_000)
mark_moves = st.sampled_from(["walk", "walk", "jump", "spike", "crash", "negative", "base", "tick"])
mark_shocks = st.sampled_from(["spike", "spike", "crash", "negative", "jump", "base"])


class ProtocolMachine(RuleBasedStateMachine):
    """Random sequences of user, keeper, oracle and admin actions against the deployed protocol."""

    orders = Bundle("orders")

    def __init__(self):
        global EXAMPLES
        super().__init__()
        EXAMPLES += 1
        self.w = world()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(boa.env.anchor())
        self.p = self.w.p
        self.ch = self.p.clearinghouse
        self.view = self.p.view  # ClearinghouseView: account_summary
        self.ex = self.p.exchange
        self.led = self.w.base.copy()
        self.order_book: list[OrderRec] = []
        self.next_nonce = {a: 1 for a in self.led.accounts}  # setup orders used nonce 0
        # event-derived bookkeeping
        self.ev_realised = {m: 0 for m in self.w.mids}
        # fees paid per (account, market) from Trade events (the opening book's included)
        self.ev_fees_paid = {(a, m): 0 for a in self.led.accounts for m in self.w.mids}
        for mk, tk, mi, _is_buy, qty in SETUP_BOOK:
            m, price = self.w.mids[mi], self.w.cfg[self.w.mids[mi]].base
            self.ev_fees_paid[(self.w.traders[mk].address, m)] += fee_of(qty, price, MAKER_FEE_BPS)
            self.ev_fees_paid[(self.w.traders[tk].address, m)] += fee_of(qty, price, TAKER_FEE_BPS)
        self.ev_bad_debt = 0
        self.ev_covered = 0
        self.ev_settled_qty = {m: 0 for m in self.w.mids}
        self.penalty_imbalance = 0  # Σ (account debit - liquidator credit - insurance share)
        self.liq_violations: list[str] = []
        self.last_bad_debt = 0
        self._snap = None
        self._last_ledger: dict = {}
        self.n_steps = 0
        self.stats = dict(calls=0, reverts=0, fills=0, liquidations=0, closeouts=0, settles=0)
        self._ret = None  # return value of the last successful _call
        self._inv5_seen: set = set()

    def teardown(self):
        self._stack.close()
        # a long run says how far it got as it goes (a failure stops hypothesis, then it shrinks)
        if EXAMPLES % PROGRESS_EVERY == 0:
            print(
                f"fuzz progress: {STEPS:,} steps, {EXAMPLES:,} examples, 0 failures so far, "
                f"{time.monotonic() - STARTED:,.0f} s",
                flush=True,
            )

    # ------------------------------------------------------------ plumbing
    @property
    def now(self) -> int:
        return boa.env.evm.patch.timestamp

    @property
    def accounts(self) -> list[str]:
        return self.led.accounts

    @property
    def liq(self) -> str:
        return self.w.liquidator.address

    def _step(self):
        global STEPS
        STEPS += 1
        self.n_steps += 1
        self._snap = None

    def _mid(self, i: int) -> int:
        return self.w.mids[i % len(self.w.mids)]

    def _cfg(self, m: int) -> MarketCfg:
        return self.w.cfg[m]

    def _key(self, a: str):
        for t in self.w.traders + [self.w.liquidator]:
            if t.address == a:
                return t.account
        raise KeyError(a)

    def _name(self, a: str) -> str:
        if a == self.liq:
            return "liquidator"
        for i, t in enumerate(self.w.traders):
            if t.address == a:
                return f"trader{i}"
        return a[:8]

    def _call(self, sender: str, fn, *args, expect: set[str], what: str):
        """Call fn as sender. `expect` = the reasons the model says it must revert with (empty:
        must succeed). Returns the logs on success, None on (expected) revert."""
        self.stats["calls"] += 1
        try:
            with boa.env.prank(sender):
                self._ret = fn(*args)
        except BoaError as err:
            reason = revert_reason(err)
            self.stats["reverts"] += 1
            COVERAGE[f"{what.split('(')[0]}: {reason}"] += 1
            assert expect, f"{what}: model says it succeeds, contract reverted with {reason!r}"
            assert reason in expect or ("erc20:" in reason and "erc20" in expect), (
                f"{what}: reverted with {reason!r}, model expected one of {sorted(expect)}"
            )
            _note(f"  -> reverts: {reason}")
            return None
        assert not expect, f"{what}: contract succeeded, model expected a revert: {sorted(expect)}"
        COVERAGE[f"{what}: ok"] += 1
        return fn.contract.get_logs()

    def _record_events(self, logs) -> dict:
        """Fold Clearinghouse events into the event-derived bookkeeping; return per-tx aggregates."""
        tx = dict(realised={}, bad_debt=[], liquidations=[], settled=[])
        ch_addr = self.ch.address
        for lg in logs:
            name = type(lg).__name__
            if str(getattr(lg, "address", "")) != str(ch_addr):
                continue
            if name == "PositionUpdated":
                m = lg.market_id
                self.ev_realised[m] += lg.realised_pnl
                tx["realised"][(str(lg.account), m)] = tx["realised"].get((str(lg.account), m), 0) + lg.realised_pnl
            elif name == "Trade":
                self.ev_fees_paid[(str(lg.buyer), lg.market_id)] += lg.buyer_fee
                self.ev_fees_paid[(str(lg.seller), lg.market_id)] += lg.seller_fee
            elif name == "BadDebt":
                self.ev_bad_debt += lg.uncovered
                self.ev_covered += lg.covered_by_insurance
                tx["bad_debt"].append(lg)
            elif name == "Liquidation":
                tx["liquidations"].append(lg)
            elif name == "Settled":
                self.ev_settled_qty[lg.market_id] += lg.quantity
                tx["settled"].append(lg)
        return tx

    def _fresh_push_time(self, feeds: list[bytes], last_observed: list[int]):
        """Reports must be strictly newer per feed: step the clock one second if needed."""
        if any(o >= self.now for o in last_observed):
            boa.env.time_travel(seconds=1)

    def _next_mark(self, m: int, kind: str, r: int) -> int:
        c = self._cfg(m)
        cur = self.led.mark[m][0]
        ref = max(abs(cur), c.base // 4)
        if kind == "walk":
            p = cur + ref * r // 20_000  # +-5%
        elif kind == "jump":
            p = cur + ref * r * 4 // 10_000  # +-40%
        elif kind == "spike":
            p = min(max(abs(cur), c.base) * 50, c.cap)  # 50x, capped ($9,000/MWh for power)
            if r < -600:
                p = c.cap
        elif kind == "crash":
            p = max(cur // 50, c.floor) if cur > 0 else c.floor * abs(r) // 1_000
        elif kind == "negative":
            p = c.floor * (abs(r) + 1) // 1_001 if c.floor < 0 else c.floor
        elif kind == "base":
            p = c.base + c.base * r // 10_000
        else:  # "tick": a tick-aligned small move
            p = (cur // c.price_tick + r // 100) * c.price_tick
        p = min(max(p, c.floor), c.cap)
        if r % 3 == 0:
            p = p // c.price_tick * c.price_tick
        return p

    # ------------------------------------------------------------ chain snapshot (per step)
    def chain(self) -> dict:
        """Everything the invariants read, once per step, straight from storage."""
        if self._snap is not None:
            return self._snap
        raw = self.w.raw
        s = dict(
            balance=raw.balance(self.ch.address),
            insurance=raw.scalar("insurance_fund"),
            fees=raw.scalar("fees"),
            bad_debt=raw.scalar("bad_debt"),
            adl_count=raw.scalar("adl_pending_count"),
            coll={a: raw.collateral(a) for a in self.accounts},
            open={a: sorted(raw.open_markets(a)) for a in self.accounts},
            pos={(a, m): raw.position(a, m) for a in self.accounts for m in self.w.mids},
            state={m: raw.market_state(m) for m in self.w.mids},  # halted, settled, price, long_oi
        )
        # the value every position is marked at: settlement price once settled, else the feed
        s["mark"] = {
            m: s["state"][m][2] if s["state"][m][1] else raw.feed_price(self.p.feeds[m][0]) for m in self.w.mids
        }
        s["equity"] = {
            a: s["coll"][a] + sum(s["pos"][(a, m)][0] * s["mark"][m] // QS - s["pos"][(a, m)][1] for m in self.w.mids)
            for a in self.accounts
        }
        self._snap = s
        return s

    # ================================================================ rules: collateral

    @rule(
        who=st.integers(0, N_TRADERS),
        via=st.sampled_from(["self", "self", "treasury"]),
        size=st.sampled_from(["cents", "small", "large"]),
        x=st.integers(1, 1_000_000),
        bad=st.integers(0, 24),
    )
    def deposit(self, who, via, size, x, bad):
        """deposit (own wallet) or deposit_for (a treasury funds the account); rarely zero, a zero
        account, or more than the payer's wallet (must revert and change nothing)."""
        self._step()
        a = self.liq if who == N_TRADERS else self.w.traders[who].address
        payer = a if via == "self" else self.w.treasury
        amount = {"cents": x, "small": x * 1_000, "large": x * 100_000}[size]
        target = a
        expect = set()
        if bad == 0:
            amount = 0
            expect.add("Clearinghouse: zero amount")
        elif bad == 1 and via == "treasury":
            target = "0x0000000000000000000000000000000000000000"
            expect.add("Clearinghouse: zero account")
        elif bad == 1:
            amount = self.led.wallet[payer] + x
        if amount > self.led.wallet[payer]:
            expect.add("erc20")
        _note(f"deposit{'_for' if via != 'self' else ''} {self._name(payer)} -> {self._name(target)} {usd(amount)}")
        if via == "self":
            logs = self._call(payer, self.ch.deposit, amount, expect=expect, what="deposit")
        else:
            logs = self._call(payer, self.ch.deposit_for, target, amount, expect=expect, what="deposit_for")
        if logs is not None:
            self.led.wallet[payer] -= amount
            self.led.coll[a] += amount
            self.led.flows["deposits"] += amount
            self._record_events(logs)

    @rule(
        who=st.integers(0, N_TRADERS),
        mode=st.sampled_from(["valid", "valid", "valid", "all_free", "too_large", "over_margin", "zero"]),
        frac=st.integers(1, 1_000),
    )
    def withdraw(self, who, mode, frac):
        self._step()
        a = self.liq if who == N_TRADERS else self.w.traders[who].address
        led, now = self.led, self.now
        coll = led.coll[a]
        s = led.summary(a, now)
        has_pos = s.open_markets > 0
        free = min(coll, s.equity - s.initial) if has_pos else coll
        if mode == "valid":
            amount = max(free, 0) * frac // 1_000
        elif mode == "all_free":
            amount = max(free, 0)
        elif mode == "too_large":
            amount = max(coll, 0) + 1 + frac * USDC
        elif mode == "over_margin":
            amount = max(free, 0) + frac
        else:
            amount = 0
        expect = set()
        if amount == 0:
            expect.add("Clearinghouse: zero amount")
        elif coll - amount < 0:
            expect.add("Clearinghouse: exceeds collateral")
        elif has_pos:
            if not s.fresh:
                expect.add("Clearinghouse: stale mark")
            elif s.equity - amount < s.initial:
                expect.add("Clearinghouse: insufficient margin")
        _note(f"withdraw {self._name(a)} {usd(amount)} ({mode}; coll {usd(coll)}, free {usd(free)}, fresh {s.fresh})")
        logs = self._call(a, self.ch.withdraw, amount, expect=expect, what=f"withdraw({mode})")
        if logs is not None:
            led.coll[a] -= amount
            led.wallet[a] += amount
            led.flows["withdrawals"] += amount
            self._record_events(logs)

    @rule(op=st.sampled_from(["fund_insurance", "withdraw_fees"]), x=st.integers(0, 1_100))
    def treasury(self, op, x):
        """The treasury tops up the insurance fund; the owner withdraws (part of) the fees."""
        self._step()
        if op == "fund_insurance":
            amount = x * 5 * USDC
            expect = {"Clearinghouse: zero amount"} if amount == 0 else set()
            _note(f"fund_insurance {usd(amount)}")
            if (
                self._call(self.w.treasury, self.ch.fund_insurance, amount, expect=expect, what="fund_insurance")
                is not None
            ):
                self.led.wallet[self.w.treasury] -= amount
                self.led.insurance += amount
                self.led.flows["insurance_funded"] += amount
        else:
            amount = self.led.fees * x // 1_000
            expect = {"Clearinghouse: exceeds fees"} if amount > self.led.fees else set()
            if self.led.adl_pending:
                expect = {"Clearinghouse: loss unassigned"}
            _note(f"withdraw_fees {usd(amount)} of {usd(self.led.fees)}")
            if (
                self._call(
                    self.p.owner, self.ch.withdraw_fees, self.p.owner, amount, expect=expect, what="withdraw_fees"
                )
                is not None
            ):
                self.led.fees -= amount
                self.led.flows["fees_withdrawn"] += amount

    # ================================================================ rules: orders

    def _size_for(self, a: str, m: int, price: int, frac: int) -> int:
        """A quantity (thousandths) of roughly frac% of what `a` can afford at IM."""
        c = self._cfg(m)
        s = self.led.summary(a, self.now)
        mark, _ = self.led.mark_of(m, self.now)
        free = s.equity - s.initial
        imf, imr, _mmf, _mmr = self.led.risk[m]
        per_unit = imf + imr * abs(mark) // BPS + abs(price - mark) + abs(price) * TAKER_FEE_BPS // BPS + 1
        q = max(free, 0) * QS // per_unit * frac // 100
        if frac % 10:  # mostly within the open-interest room left (else: the OI cap must bite)
            q = min(q, max(c.oi_cap - self.led.long_oi[m], 0))
        q = min(q, 2 * c.oi_cap)
        q = q // c.quantity_step * c.quantity_step
        return max(q, c.min_quantity)

    def _price_for(self, m: int, is_buy: bool, offset: int, far: bool, off_tick: bool) -> int:
        c = self._cfg(m)
        mark = self.led.mark[m][0]
        price = (mark // c.price_tick + offset) * c.price_tick
        if far:  # a price far from the mark: one side books an immediate loss
            price += (1 if is_buy else -1) * max(abs(mark) // 5, c.price_tick) // c.price_tick * c.price_tick
        if off_tick:
            price += 1
        return price

    def _new_order(
        self,
        a: str,
        m: int,
        is_buy: bool,
        quantity: int,
        price: int,
        *,
        expiry: int,
        reduce_only: bool = False,
        nonce: int | None = None,
        kind: str = "ok",
    ) -> OrderRec:
        if nonce is None:  # a trader signs above its own minimum nonce
            nonce = max(self.next_nonce[a], self.led.min_nonce[a])
            self.next_nonce[a] = nonce + 1
        order = (a, m, is_buy, quantity, price, nonce, expiry, reduce_only)
        real = (self.p.chain_id, self.ex.address)
        if kind == "ok":
            sig = sign_order(self._key(a), order, *real)
        elif kind == "wrong-chain":
            sig = sign_order(self._key(a), order, 1, self.ex.address)
        elif kind == "wrong-contract":
            sig = sign_order(self._key(a), order, self.p.chain_id, self.w.other_contract)
        else:  # wrong-signer: somebody else's key over the right digest
            other = self.w.liquidator if a != self.liq else self.w.traders[0]
            sig = sign_order(other.account, order, *real)
        rec = OrderRec(len(self.order_book), order, sig, order_digest(order, *real), kind)
        self.order_book.append(rec)
        return rec

    def _is_dead(self, o: OrderRec) -> bool:
        return o.cancelled or self.now > o.expiry or o.nonce < self.led.min_nonce[o.trader]

    def _use_reasons(self, o: OrderRec, quantity: int) -> set[str]:
        """Exchange._use: why booking `quantity` against order `o` must revert."""
        r = set()
        if quantity == 0:
            r.add("Exchange: zero quantity")
        if self.now > o.expiry:
            r.add("Exchange: order expired")
        if o.nonce < self.led.min_nonce[o.trader]:
            r.add("Exchange: nonce below minimum")
        if o.cancelled:
            r.add("Exchange: order cancelled")
        if o.filled + quantity > o.quantity:
            r.add("Exchange: overfill")
        if o.filled == 0 and not o.sig_valid:
            r.add("Exchange: bad signature")
        if o.reduce_only:
            q = self.led.pos[(o.trader, o.market)][0]
            ok = (q < 0 and quantity <= -q) if o.is_buy else (q > 0 and quantity <= q)
            if not ok:
                r.add("Exchange: not reducing")
        return r

    def _trade_reasons(
        self, new: Ledger, m: int, buyer: str, seller: str, quantity: int, price: int, bfee: int, sfee: int
    ) -> set[str]:
        """Clearinghouse.trade on the trial ledger `new` (mutated on success)."""
        c = self._cfg(m)
        now = self.now
        r = set()
        if now >= c.last_trade:
            r.add("Clearinghouse: trading closed")
        if buyer == seller:
            r.add("Clearinghouse: self trade")
        if quantity < c.min_quantity or quantity % c.quantity_step:
            r.add("Clearinghouse: bad quantity")
        if price % c.price_tick:
            r.add("Clearinghouse: off tick")
        if r:
            return r
        before = {buyer: new.summary(buyer, now), seller: new.summary(seller, now)}
        b_risk = new.apply_fill(buyer, m, quantity, price, bfee)
        s_risk = new.apply_fill(seller, m, -quantity, price, sfee)
        new.fees += bfee + sfee
        new.fees_by_market[m] += bfee + sfee
        if b_risk or s_risk:
            if new.halted[m]:
                r.add("Clearinghouse: market halted")
            if new.long_oi[m] > c.oi_cap:
                r.add("Clearinghouse: open interest cap")
        for side, risky in ((buyer, b_risk), (seller, s_risk)):
            s = new.summary(side, now)
            if risky:
                # a risk-increasing side must end >= IM on fresh marks
                if not s.fresh:
                    r.add("Clearinghouse: stale mark")
                elif s.equity < s.initial:
                    r.add("Clearinghouse: insufficient margin")
            elif s.equity < s.initial:
                # a risk-reducing side below IM must stay solvent and keep its health ratio
                # (equity / MM): de-risking is always possible near the mark, but a fill far off
                # the mark cannot hand the counterparty value the account does not have
                b = before[side]
                if not (s.equity >= 0 and s.equity * b.maintenance >= b.equity * s.maintenance):
                    r.add("Clearinghouse: health would fall")
        return r

    def _fill(self, o: OrderRec, taker: str, quantity: int, label: str):
        """Taker takes `quantity` of order `o` via Exchange.fill, predicted by the model."""
        expect = set()
        if taker == o.trader:
            expect.add("Exchange: self fill")
        expect |= self._use_reasons(o, quantity)
        new = self.led.copy()
        maker_fee = fee_of(quantity, o.price, MAKER_FEE_BPS)
        taker_fee = fee_of(quantity, o.price, TAKER_FEE_BPS)
        if not expect:
            buyer, seller = (o.trader, taker) if o.is_buy else (taker, o.trader)
            bfee, sfee = (maker_fee, taker_fee) if o.is_buy else (taker_fee, maker_fee)
            expect |= self._trade_reasons(new, o.market, buyer, seller, quantity, o.price, bfee, sfee)
        _note(
            f"{label}: {self._name(taker)} takes {quantity} of #{o.idx} [{o.kind}] "
            f"{'buy' if o.is_buy else 'sell'} {self._name(o.trader)} m{o.market} @ {usd(o.price)} "
            f"(filled {o.filled}/{o.quantity}{', reduce-only' if o.reduce_only else ''})"
        )
        logs = self._call(taker, self.ex.fill, o.order, o.sig, quantity, expect=expect, what=label)
        if logs is None:
            return False
        self.led = new
        o.filled += quantity
        self.stats["fills"] += 1
        self._record_events(logs)
        return True

    def _mark_dead_orders(self):
        for o in self.order_book:
            if o.dead_filled is None and self._is_dead(o):
                o.dead_filled = o.filled

    @rule(
        target=orders,
        maker=actor_idx,
        mi=market_idx,
        is_buy=st.booleans(),
        frac=st.integers(1, 120),
        offset=st.integers(-25, 25),
        far=st.integers(0, 9),
        off_tick=st.integers(0, 29),
        expiry=st.sampled_from([600, 3_600, 3_600, DAY, DAY, 7 * DAY, 60, -1]),
        reduce_only=st.integers(0, 5),
        stale_nonce=st.integers(0, 9),
        kind=st.sampled_from(["ok", "ok", "ok", "ok", "ok", "wrong-chain", "wrong-contract", "wrong-signer"]),
    )
    def place_order(self, maker, mi, is_buy, frac, offset, far, off_tick, expiry, reduce_only, stale_nonce, kind):
        """A maker signs a resting order (no transaction). Some are dead on arrival (expired,
        below the trader's min nonce) and some are signed for another chain, another verifying
        contract or with the wrong key: those must never fill."""
        self._step()
        a = self.w.traders[maker].address
        m = self._mid(mi)
        c = self._cfg(m)
        price = self._price_for(m, is_buy, offset, far == 0, off_tick == 0)
        qty = self._size_for(a, m, price, frac)
        ro = reduce_only == 0
        if ro:
            q = self.led.pos[(a, m)][0]
            if q != 0:
                is_buy = q < 0
                qty = max(abs(q) * frac // 100 // c.quantity_step * c.quantity_step, c.min_quantity)
        nonce = None
        if stale_nonce == 0 and self.led.min_nonce[a] > 0:
            nonce = self.led.min_nonce[a] - 1
        rec = self._new_order(
            a, m, is_buy, qty, price, expiry=self.now + expiry, reduce_only=ro, nonce=nonce, kind=kind
        )
        _note(
            f"place #{rec.idx} [{kind}]: {self._name(a)} {'buy' if is_buy else 'sell'} {qty} m{m} @ {usd(price)} "
            f"exp +{expiry}s nonce {rec.nonce}{' reduce-only' if ro else ''}"
        )
        return rec.idx

    @rule(
        oi=orders,
        taker=st.integers(0, N_TRADERS),
        qty=st.sampled_from(["all", "part", "part", "over", "zero", "min"]),
        frac=st.integers(1, 999),
    )
    def fill(self, oi, taker, qty, frac):
        self._step()
        o = self.order_book[oi]
        t = self.liq if taker == N_TRADERS else self.w.traders[taker].address
        step = self._cfg(o.market).quantity_step
        rem = o.remaining()
        if qty == "all":
            q = rem
        elif qty == "part":
            q = max(rem * frac // 1_000 // step * step, step)
        elif qty == "over":
            q = rem + step
        elif qty == "min":
            q = self._cfg(o.market).min_quantity
        else:
            q = 0
        self._fill(o, t, q, f"fill({qty})")
        self._mark_dead_orders()

    @precondition(lambda self: any(self._is_dead(o) or not o.sig_valid for o in self.order_book))
    @rule(data=st.data())
    def fill_dead_order(self, data):
        """Any attempt to fill an order that is cancelled, expired or below min nonce must revert."""
        self._step()
        dead = [o for o in self.order_book if self._is_dead(o) or not o.sig_valid]
        if not dead:
            _note("fill_dead_order: none")
            return
        o = data.draw(st.sampled_from(dead), label="dead order")
        taker = next(t.address for t in self.w.traders if t.address != o.trader)
        q = max(min(o.remaining(), self._cfg(o.market).min_quantity), self._cfg(o.market).quantity_step)
        before = self.ex.filled(o.digest)
        ok = self._fill(o, taker, q, "fill_dead_order")
        assert not ok, f"dead order #{o.idx} filled"
        assert self.ex.filled(o.digest) == before

    def _trade_now(self, maker, taker, mi, is_buy, frac, offset, part, far, label):
        a = self.w.traders[maker].address
        t = self.liq if taker == N_TRADERS else self.w.traders[taker].address
        if t == a:
            t = self.w.traders[(maker + 1) % N_TRADERS].address
        m = self._mid(mi)
        c = self._cfg(m)
        price = self._price_for(m, is_buy, offset, far == 0, False)
        qty = min(self._size_for(a, m, price, frac), self._size_for(t, m, price, frac))
        rec = self._new_order(a, m, is_buy, qty, price, expiry=self.now + 3_600)
        q = qty if part > 500 else max(qty * part // 500 // c.quantity_step * c.quantity_step, c.min_quantity)
        self._fill(rec, t, q, label)
        self._mark_dead_orders()

    @rule(
        maker=actor_idx,
        taker=st.integers(0, N_TRADERS),
        mi=market_idx,
        is_buy=st.booleans(),
        frac=st.integers(1, 120),
        offset=st.integers(-10, 10),
        part=st.integers(1, 1_000),
        far=st.integers(0, 9),
    )
    def trade(self, maker, taker, mi, is_buy, frac, offset, part, far):
        """Maker signs, taker fills (fully or partly) on-chain in the same step."""
        self._step()
        self._trade_now(maker, taker, mi, is_buy, frac, offset, part, far, "trade")

    @rule(
        maker=actor_idx,
        taker=actor_idx,
        mi=market_idx,
        is_buy=st.booleans(),
        frac=st.integers(80, 125),
        offset=st.integers(-3, 3),
    )
    def trade_leveraged(self, maker, taker, mi, is_buy, frac, offset):
        """Both sides open positions close to their initial margin (liquidation candidates)."""
        self._step()
        self._trade_now(maker, taker, mi, is_buy, frac, offset, 1_000, 1, "trade_leveraged")

    def _match(self, mk: OrderRec, tk: OrderRec, q: int, label: str):
        """Exchange.match_orders(maker, taker, q) as the matcher, predicted by the model."""
        m = tk.market
        expect = set()
        if mk.market != tk.market:
            expect.add("Exchange: market mismatch")
        if mk.is_buy == tk.is_buy:
            expect.add("Exchange: same side")
        if mk.trader == tk.trader:
            expect.add("Exchange: self fill")
        if (mk.is_buy and mk.price < tk.price) or (not mk.is_buy and tk.price < mk.price):
            expect.add("Exchange: prices do not cross")
        new = self.led.copy()
        if not expect:
            expect |= self._use_reasons(mk, q)
            # the taker's _use runs after the maker's: a zero quantity fails on the maker already
            expect |= self._use_reasons(tk, q)
        if not expect:
            maker_fee = fee_of(q, mk.price, MAKER_FEE_BPS)
            taker_fee = fee_of(q, mk.price, TAKER_FEE_BPS)
            buyer, seller = (mk.trader, tk.trader) if mk.is_buy else (tk.trader, mk.trader)
            bfee, sfee = (maker_fee, taker_fee) if mk.is_buy else (taker_fee, maker_fee)
            expect |= self._trade_reasons(new, m, buyer, seller, q, mk.price, bfee, sfee)
        _note(
            f"{label}: #{mk.idx} {self._name(mk.trader)} {'buy' if mk.is_buy else 'sell'} @ {usd(mk.price)} "
            f"x #{tk.idx} {self._name(tk.trader)} @ {usd(tk.price)} q {q} (maker filled {mk.filled}/{mk.quantity})"
        )
        logs = self._call(
            self.w.matcher, self.ex.match_orders, mk.order, mk.sig, tk.order, tk.sig, q, expect=expect, what=label
        )
        if logs is not None:
            self.led = new
            mk.filled += q
            tk.filled += q
            self.stats["fills"] += 1
            self._record_events(logs)
        self._mark_dead_orders()

    @rule(
        oi=orders,
        taker=st.integers(0, N_TRADERS),
        cross=st.sampled_from(["at", "through", "at", "no-cross", "same-side", "other-market"]),
        part=st.integers(1, 1_000),
        extra=st.integers(0, 3),
    )
    def match(self, oi, taker, cross, part, extra):
        """A matcher crosses a resting order with a freshly signed opposite order."""
        self._step()
        mk = self.order_book[oi]
        pool = [x.address for x in self.w.traders] + [self.liq]
        t = pool[taker]
        if t == mk.trader:
            t = pool[(taker + 1) % len(pool)]
        c = self._cfg(mk.market)
        m = mk.market
        is_buy = not mk.is_buy
        price = mk.price
        if cross == "through":
            price += (1 if is_buy else -1) * c.price_tick * (1 + extra)
        elif cross == "no-cross":
            price -= (1 if is_buy else -1) * c.price_tick * (1 + extra)
        elif cross == "same-side":
            is_buy = mk.is_buy
        elif cross == "other-market":
            m = self._mid(self.w.mids.index(m) + 1)
        rem = max(mk.remaining(), 0)
        q = rem if part > 600 else max(rem * part // 600 // c.quantity_step * c.quantity_step, c.min_quantity)
        tk = self._new_order(t, m, is_buy, q + extra * c.quantity_step * (q > 0), price, expiry=self.now + 3_600)
        self._match(mk, tk, q, f"match_orders({cross})")

    @rule(
        maker=actor_idx,
        taker=st.integers(0, N_TRADERS),
        mi=market_idx,
        is_buy=st.booleans(),
        frac=st.integers(1, 110),
        offset=st.integers(-5, 5),
        through=st.integers(0, 3),
        part=st.integers(1, 1_000),
    )
    def match_fresh(self, maker, taker, mi, is_buy, frac, offset, through, part):
        """A matcher crosses two freshly signed orders (partial fill of the maker's order)."""
        self._step()
        pool = [x.address for x in self.w.traders] + [self.liq]
        a, t = pool[maker], pool[taker]
        if t == a:
            t = pool[(taker + 1) % len(pool)]
        m = self._mid(mi)
        c = self._cfg(m)
        price = self._price_for(m, is_buy, offset, False, False)
        qty = min(self._size_for(a, m, price, frac), self._size_for(t, m, price, frac))
        mk = self._new_order(a, m, is_buy, qty, price, expiry=self.now + 3_600)
        tprice = price + (-1 if is_buy else 1) * through * c.price_tick  # the taker's limit crosses
        tk = self._new_order(t, m, not is_buy, qty, tprice, expiry=self.now + 3_600)
        q = qty if part > 600 else max(qty * part // 600 // c.quantity_step * c.quantity_step, c.min_quantity)
        self._match(mk, tk, q, "match_fresh")

    @precondition(lambda self: any(q for (a, _), (q, _on) in self.led.pos.items() if a != self.liq))
    @rule(
        data=st.data(),
        counterparty=actor_idx,
        offset=st.integers(-3, 3),
        partial=st.integers(0, 3),
        giveaway=st.integers(0, 5),
    )
    def close_position(self, data, counterparty, offset, partial, giveaway):
        """A trader closes (all or part of) a position with a reduce-only order near the mark, or
        (giveaway) far off the mark in the counterparty's favour: a colluding pair moving value
        out of an account that cannot afford it must not succeed (it would be hidden bad debt)."""
        self._step()
        holders = [(a, m) for a in self.accounts for m in self.w.mids if a != self.liq and self.led.pos[(a, m)][0] != 0]
        if not holders:
            _note("close_position: nobody holds a position")
            return
        a, m = data.draw(st.sampled_from(holders), label="position")
        c = self._cfg(m)
        q = self.led.pos[(a, m)][0]
        size = abs(q) if partial else max(abs(q) // 2 // c.quantity_step * c.quantity_step, c.quantity_step)
        size = max(size, min(abs(q), c.min_quantity))
        is_buy = q < 0
        mark, _ = self.led.mark_of(m, self.now)
        price = (mark // c.price_tick + offset) * c.price_tick
        if giveaway == 0:  # sell far below / buy far above the mark
            price += (1 if is_buy else -1) * (abs(mark) // 2 + 5 * c.price_tick) // c.price_tick * c.price_tick
        rec = self._new_order(a, m, is_buy, size, price, expiry=self.now + 600, reduce_only=True)
        t = self.w.traders[counterparty].address
        if t == a:
            t = self.liq
        self._fill(rec, t, size, "close_position")
        self._mark_dead_orders()

    @rule(oi=orders, by_other=st.integers(0, 9))
    def cancel(self, oi, by_other):
        self._step()
        o = self.order_book[oi]
        sender = o.trader
        expect = set()
        if by_other == 0:
            sender = next(t.address for t in self.w.traders if t.address != o.trader)
            expect.add("Exchange: not your order")
        if o.cancelled:
            expect.add("Exchange: already cancelled")
        _note(f"cancel #{o.idx} by {self._name(sender)}")
        logs = self._call(sender, self.ex.cancel, o.order, expect=expect, what="cancel")
        if logs is not None:
            o.cancelled = True
        self._mark_dead_orders()

    @rule(who=actor_idx, bump=st.sampled_from([1, 2, 3, 4, 1, 2, 0]))
    def cancel_all(self, who, bump):
        """Kill every order below a new minimum nonce (bump 0: not increasing, must revert)."""
        self._step()
        a = self.w.traders[who].address
        base = max(self.led.min_nonce[a], self.next_nonce[a] - 3)
        target = self.led.min_nonce[a] if bump == 0 else base + bump
        expect = set() if target > self.led.min_nonce[a] else {"Exchange: nonce not increasing"}
        _note(
            f"cancel_all {self._name(a)} min_nonce {self.led.min_nonce[a]} -> {target} (next nonce {self.next_nonce[a]})"
        )
        logs = self._call(a, self.ex.cancel_all, target, expect=expect, what="cancel_all")
        if logs is not None:
            self.led.min_nonce[a] = target
        self._mark_dead_orders()

    # ================================================================ rules: oracle and time

    def _push_marks(self, ms: list[int], prices: list[int]):
        # a disputed mark takes no reports until the owner resolves it: the pusher leaves it out
        keep = [(m, p) for m, p in zip(ms, prices, strict=False) if not self.led.mark_disputed[m]]
        if not keep:
            return
        ms, prices = [m for m, _ in keep], [p for _, p in keep]
        feeds = [self.p.feeds[m][0] for m in ms]
        self._fresh_push_time(feeds, [self.led.mark[m][1] for m in ms])
        self.p.push(feeds, prices)
        for m, price in zip(ms, prices, strict=False):
            self.led.mark[m] = [price, self.now]

    @rule(
        mi=market_idx,
        layout=st.sampled_from(["2+bad", "2+bad", "1+bad", "3 honest"]),
        skew=st.sampled_from(["wild", "huge", "band_edge", "just_outside", "inside"]),
        sign=st.booleans(),
        kind=st.sampled_from(["walk", "tick", "jump", "spike"]),
        r=permille,
        pos=st.integers(0, 2),
    )
    def skewed_report(self, mi, layout, skew, sign, kind, r, pos):
        """Adversary: one reporter key signs a skewed row (wild, at the band's edge, just outside
        it), relayed with the honest rows or with only one of them (a reporter down, or a relayer
        choosing rows). DESIGN invariant 7: the stored value is never further than the agreement
        band from what the honest rows alone would store, and a lone honest row plus a bad one
        stores nothing."""
        self._step()
        m = self._mid(mi)
        if self.led.settled[m] or self.led.mark_disputed[m]:
            COVERAGE["skewed report: market settled or mark disputed, skipped"] += 1
            return
        fid = self.p.feeds[m][0]
        old, old_obs = self.led.mark[m]
        honest = self._next_mark(m, kind, r)
        band = max(FEED_LIMITS[0], FEED_LIMITS[1] * abs(honest) // BPS)
        off = {
            "wild": 10**30,
            "huge": 1_000 * USDC,
            "band_edge": band,
            "just_outside": 2 * band + 1,
            "inside": band // 2,
        }[skew]
        bad = honest + (off if sign else -off)
        reps = list(self.p.reporters)
        if layout == "3 honest":
            rows = [honest, honest, honest]
        elif layout == "2+bad":
            rows = [honest, honest]
            rows.insert(pos % 3, bad)
        else:
            rows = [honest, bad] if sign else [bad, honest]
            reps = reps[:2]
        self._fresh_push_time([fid], [old_obs])
        now = self.now
        quorum = self.p.oracle.quorum()
        want = oracle_fold(rows, old, old_obs, now, len(self.p.reporters), quorum)
        honest_only = (
            oracle_fold([x for x in rows if x == honest], old, old_obs, now, len(self.p.reporters), quorum)
            if rows.count(honest) >= quorum
            else None
        )
        sigs = [self.p.sign_report(rep, [fid], [row], now) for rep, row in zip(reps, rows, strict=False)]
        _note(
            f"skewed report m{m} ({layout}, {skew}): rows {[usd(x) for x in rows]} -> model "
            f"{usd(want) if want is not None else 'nothing stored'}"
        )
        expect = {"Oracle: no agreement"} if want is None else set()
        if (
            self._call(
                self.w.matcher,
                self.p.oracle.submit,
                [fid],
                now,
                [[x] for x in rows],
                sigs,
                expect=expect,
                what=f"submit({layout})",
            )
            is None
        ):
            assert self.w.raw.feed_price(fid) == old
            return
        got = self.w.raw.feed_price(fid)
        assert got == want, f"oracle stored {got}, model {want}"
        if honest_only is not None:
            # what the honest rows alone store (possibly clamped toward the honest price by the
            # circuit breaker) and the honest price itself bound what one more key can achieve;
            # an agreeing bad row may lift the clamp (every reporter then agrees), never more
            lo, hi = min(honest_only, honest) - band, max(honest_only, honest) + band
            assert lo <= got <= hi, (
                f"invariant 7: one key moved the value to {got}, beyond the band {band} around the honest "
                f"{honest} / {honest_only}"
            )
        COVERAGE[
            f"skewed report: {layout}/{skew} stored{' (clamped)' if want != honest and layout != '3 honest' else ''}"
        ] += 1
        self.led.mark[m] = [got, now]

    @rule(mi=market_idx, which=st.sampled_from(["mark", "settlement"]))
    def stranger_dispute(self, mi, which):
        """Adversary: anyone disputes for the bond. A mark: refused (only the guardian can make a
        mark stale; that froze liquidations). A settlement value: only with the bond, within its
        dispute window after it was written."""
        self._step()
        m = self._mid(mi)
        stranger = boa.env.generate_address("stranger")
        bond = self.p.oracle.dispute_bond()
        boa.env.set_balance(stranger, 10 * bond)
        if which == "mark":
            expect = {"Oracle: only the guardian disputes marks", "Oracle: feed disputed or final"}
            if self.led.mark[m][1] == 0:
                expect.add("Oracle: no price")
            try:
                with boa.env.prank(stranger):
                    self.p.oracle.dispute(self.p.feeds[m][0], value=bond)
            except BoaError as err:
                reason = revert_reason(err)
                assert reason in expect, f"stranger's mark dispute reverted {reason!r}, expected {sorted(expect)}"
                COVERAGE[f"stranger disputes a mark: {reason}"] += 1
                return
            raise AssertionError("a stranger made a mark stale for the bond")
        f = self.led.sfeed[m]
        expect = set()
        if f["observed_at"] == 0:
            expect.add("Oracle: no price")
        elif f["disputed"] or f["final"]:
            expect.add("Oracle: feed disputed or final")
        elif self.now >= f["updated_at"] + max(self._cfg(m).dispute_window, 600):
            expect.add("Oracle: dispute window closed")
        _note(f"stranger disputes the settlement value of m{m}")
        self.stats["calls"] += 1
        try:
            with boa.env.prank(stranger):
                self.p.oracle.dispute(self.p.feeds[m][1], value=bond)
        except BoaError as err:
            reason = revert_reason(err)
            assert expect and reason in expect, f"stranger dispute reverted {reason!r}, model {sorted(expect)}"
            COVERAGE[f"stranger disputes a settlement: {reason}"] += 1
            return
        assert not expect, f"stranger dispute succeeded, model expected {sorted(expect)}"
        COVERAGE["stranger disputes a settlement: ok"] += 1
        f["disputed"] = True

    @rule(mi=market_idx, op=st.sampled_from(["dispute", "dispute", "resolve"]), kind=mark_moves, r=permille)
    def guardian_mark_dispute(self, mi, op, kind, r):
        """Adversary / emergency: the guardian disputes a MARK (it counts as stale: no trades that
        grow risk, no withdrawals on it, but liquidation goes on with the leg valued against the
        account); the owner resolves it at a price and reopens it to reporters."""
        self._step()
        m = self._mid(mi)
        fid = self.p.feeds[m][0]
        if self.led.settled[m]:
            return
        if op == "dispute":
            expect = {"Oracle: feed disputed or final"} if self.led.mark_disputed[m] else set()
            _note(f"guardian disputes the mark of m{m}")
            if self._call(self.p.guardian, self.p.oracle.dispute, fid, expect=expect, what="dispute(mark)") is not None:
                self.led.mark_disputed[m] = True
            return
        if not self.led.mark_disputed[m]:
            self._call(
                self.p.owner, self.p.oracle.resolve, fid, 0, expect={"Oracle: not disputed"}, what="resolve(mark)"
            )
            return
        price = self._next_mark(m, kind, r)
        _note(f"owner resolves the mark of m{m} at {usd(price)} and reopens it")
        self._call(self.p.owner, self.p.oracle.resolve, fid, price, expect=set(), what="resolve(mark)")
        self._call(self.p.owner, self.p.oracle.reopen, fid, expect=set(), what="reopen(mark)")
        self.led.mark_disputed[m] = False
        self.led.mark[m][0] = price  # observed_at unchanged: resolve keeps the observation time

    @rule(mi=market_idx, up=st.booleans(), pct=st.integers(0, 300), bad=st.integers(0, 9))
    def owner_market_params(self, mi, up, pct, bad):
        """Adversary / admin: the owner raises or lowers a market's margins (within the hard bounds;
        on testnets this goes through the timelock, here the owner is direct)."""
        self._step()
        m = self._mid(mi)
        c = self._cfg(m)
        imf, imr, mmf, mmr = self.led.risk[m]
        f = (100 + pct) if up else max(100 - pct // 3, 10)
        new = [imf * f // 100, min(imr * f // 100, BPS), mmf * f // 100, min(mmr * f // 100, BPS)]
        new[2], new[3] = min(new[2], new[0]), min(new[3], new[1])
        expect = set()
        if bad == 0:
            new[2] = new[0] + 1  # MM above IM
            expect = {"Clearinghouse: MM above IM"}
        if self.led.settled[m]:
            expect = {"Clearinghouse: market settled"}
        elif new[2] + new[3] == 0:
            expect = {"Clearinghouse: zero margin"}
        params = (new[0], new[1], new[2], new[3], c.max_price_age, c.dispute_window, c.oi_cap)
        _note(f"owner sets m{m} margins {self.led.risk[m]} -> {new}")
        if (
            self._call(self.p.owner, self.ch.set_market_params, m, params, expect=expect, what="set_market_params")
            is not None
        ):
            self.led.risk[m] = new

    @rule(
        pen=st.integers(0, 9_500),
        cap=st.integers(0, 2_600),
        rbps=st.integers(0, 110),
        minr=st.integers(0, 5 * USDC),
        maxr=st.integers(0, 2_000 * USDC),
    )
    def owner_liquidation_params(self, pen, cap, rbps, minr, maxr):
        self._step()
        expect = set()
        if pen > 9_000:
            expect.add("Clearinghouse: penalty too high")
        elif cap > 2_500:
            expect.add("Clearinghouse: penalty cap too high")
        elif rbps > 100:
            expect.add("Clearinghouse: reward too high")
        elif minr > maxr:
            expect.add("Clearinghouse: bad reward bounds")
        _note(f"owner sets liquidation params {(pen, cap, rbps, minr, maxr)}")
        if (
            self._call(
                self.p.owner,
                self.ch.set_liquidation_params,
                pen,
                cap,
                rbps,
                minr,
                maxr,
                expect=expect,
                what="set_liquidation_params",
            )
            is not None
        ):
            self.led.liq_params = [pen, cap, rbps, minr, maxr]

    @rule(mi=market_idx, kind=mark_moves, r=permille)
    def move_mark(self, mi, kind, r):
        self._step()
        m = self._mid(mi)
        price = self._next_mark(m, kind, r)
        _note(f"mark m{m} {kind}: {usd(self.led.mark[m][0])} -> {usd(price)}")
        self._push_marks([m], [price])

    @rule(mi=market_idx, kind=mark_shocks, r=permille)
    def shock_mark(self, mi, kind, r):
        """50x spikes (power to the $9,000 cap), crashes, negative prices, big jumps."""
        self._step()
        m = self._mid(mi)
        price = self._next_mark(m, kind, r)
        _note(f"SHOCK m{m} {kind}: {usd(self.led.mark[m][0])} -> {usd(price)}")
        self._push_marks([m], [price])

    @precondition(
        lambda self: any(q and not self.led.settled[m] for (a, m), (q, _on) in self.led.pos.items() if a != self.liq)
    )
    @rule(data=st.data(), ratio=st.integers(0, 1_200))
    def margin_call(self, data, ratio):
        """Move one mark against one account until its health ratio (equity / MM) is about
        ratio/1000: below 1 it is liquidatable, and usually still solvent (partial liquidation)."""
        self._step()
        holders = [
            (a, m) for (a, m), (q, _on) in self.led.pos.items() if q and a != self.liq and not self.led.settled[m]
        ]
        a, m = data.draw(st.sampled_from(sorted(holders)), label="position")
        c, now = self._cfg(m), self.now
        q = self.led.pos[(a, m)][0]
        trial = self.led.copy()
        trial.mark = {k: [v[0], now] for k, v in self.led.mark.items()}

        def health(price: int) -> float:
            trial.mark[m] = [price, now]
            sm = trial.summary(a, now)
            return sm.equity / sm.maintenance if sm.maintenance else float("inf")

        # bisect between the current mark and the adverse end of the range (health falls that way)
        good, bad = self.led.mark[m][0], (c.floor if q > 0 else c.cap)
        target = ratio / 1_000
        if health(bad) > target:
            price = bad
        else:
            for _ in range(60):
                mid = (good + bad) // 2
                if mid in (good, bad):
                    break
                if health(mid) > target:
                    good = mid
                else:
                    bad = mid
            price = bad
        _note(
            f"margin call {self._name(a)} m{m}: mark {usd(self.led.mark[m][0])} -> {usd(price)} "
            f"(health -> {health(price):.3f}, target {target:.3f})"
        )
        others = [k for k in self.w.mids if k != m and not self.led.settled[k]]
        self._push_marks([m] + others, [price] + [self.led.mark[k][0] for k in others])

    @rule(kinds=st.lists(mark_moves, min_size=3, max_size=3), rs=st.lists(permille, min_size=3, max_size=3))
    def refresh_marks(self, kinds, rs):
        """Oracle heartbeat: every unsettled market gets a fresh mark (small moves, or shocks)."""
        self._step()
        ms = [m for m in self.w.mids if not self.led.settled[m]]
        if not ms:
            return
        prices = [
            self._next_mark(m, k if k in ("walk", "tick") else "walk", r)
            for m, k, r in zip(ms, kinds, rs, strict=False)
        ]
        _note("refresh marks " + ", ".join(f"m{m}={usd(p)}" for m, p in zip(ms, prices, strict=False)))
        self._push_marks(ms, prices)

    @rule(
        kind=st.sampled_from(["seconds", "minutes", "minutes", "hours", "stale", "day"]),
        x=st.integers(1, 100),
        heartbeat=st.integers(0, 3),
    )
    def advance_time(self, kind, x, heartbeat):
        """Time passes. Usually the oracle pusher's heartbeat re-posts the marks (unchanged);
        without it (or with "stale") marks age past max_price_age and risk-increasing trades,
        withdrawals and liquidations that depend on them must revert."""
        self._step()
        secs = {
            "seconds": x,
            "minutes": 60 * x,
            "stale": 1_800 + 60 * x,
            "hours": 3_600 * (1 + x // 10),
            "day": DAY // 2 * (1 + x // 50),
        }[kind]
        boa.env.time_travel(seconds=secs)
        beat = heartbeat > 0 and kind != "stale"
        _note(f"time +{secs}s{' + heartbeat' if beat else ''}")
        if beat:
            ms = [m for m in self.w.mids if not self.led.settled[m]]
            if ms:
                self._push_marks(ms, [self.led.mark[m][0] for m in ms])
        self._mark_dead_orders()

    @precondition(lambda self: self.n_steps >= 15)
    @rule(
        k=st.integers(-2, 80),
        off=st.sampled_from([0, 0, 0, 0, 1_800]),
        hours=st.sampled_from([1, 1, 1, 2]),
        pay=st.sampled_from(["bond", "bond", "bond", "short", "over"]),
    )
    def list_from_template(self, k, off, hours, pay):
        """Anyone lists an hourly window of the approved template (issue 10); the model predicts
        the refusal. New markets stay out of the model (nobody trades them), so every invariant
        over the modelled markets must hold as before."""
        self._step()
        reg, tid = self.p.registry, self.w.series_tid
        t = reg.template(tid)
        start = self.now - self.now % 3_600 + k * 3_600 + off
        end = start + hours * 3_600
        value = t.bond + {"bond": 0, "short": -1, "over": 1}[pay]
        if value != t.bond:
            expect = "SeriesRegistry: bad bond"
        elif off or hours != 1 or start <= 0:
            expect = "SeriesRegistry: bad delivery window"
        elif start > self.now + t.max_horizon:
            expect = "SeriesRegistry: beyond horizon"
        elif start <= self.now:
            expect = "SeriesRegistry: last trade passed"
        elif reg.market_of(tid, start) != 0:
            expect = "SeriesRegistry: already listed"
        else:
            expect = ""
        _note(f"list_from_template [{start}, {end}) pay={pay} -> {expect or 'ok'}")
        count = self.ch.market_count()
        lister = self.w.whale
        boa.env.set_balance(lister, 10**20)
        try:
            with boa.env.prank(lister):
                mid = reg.list_from_template(tid, start, end, value=value)
        except BoaError as err:
            reason = revert_reason(err)
            COVERAGE[f"list_from_template: {reason}"] += 1
            assert reason == expect, f"list_from_template reverted {reason!r}, model expected {expect or 'success'!r}"
            assert self.ch.market_count() == count
            return
        COVERAGE["list_from_template: ok"] += 1
        assert not expect, f"list_from_template succeeded, model expected {expect!r}"
        m = self.ch.market(mid)
        assert mid == count + 1 == self.ch.market_count() and reg.market_of(tid, start) == mid
        assert (m.delivery_start, m.delivery_end, m.last_trade_time) == (start, end, start)
        assert m.mark_feed == template_feed(t.mark_class, start, end)

    @rule(mi=market_idx, which=st.sampled_from(["last_trade", "delivery_end"]), extra=st.integers(0, 600))
    def warp_to(self, mi, which, extra):
        self._step()
        m = self._mid(mi)
        c = self._cfg(m)
        t = (c.last_trade if which == "last_trade" else c.delivery_end) + extra - 1
        if t <= self.now:
            _note(f"warp_to m{m} {which}: already past")
            return
        _note(f"warp to m{m} {which} {'+' if extra else ''}{extra - 1}s")
        boa.env.time_travel(seconds=t - self.now)
        self._mark_dead_orders()

    # ================================================================ rules: halts

    @rule(mi=market_idx, x=st.integers(0, 7))
    def halt_or_resume(self, mi, x):
        """The guardian halts a market (risk-reducing trades only); the owner lifts the halt
        (mostly, when there is one; sometimes a resume of a running market, which must revert)."""
        self._step()
        halted = [m for m in self.w.mids if self.led.halted[m]]
        m = self._mid(mi)
        resume = x == 0 or (halted and x > 1)
        if halted and x > 1:
            m = halted[x % len(halted)]
        if resume:
            expect = set() if self.led.halted[m] else {"Clearinghouse: not halted"}
            _note(f"resume m{m}")
            if self._call(self.p.owner, self.ch.resume_market, m, expect=expect, what="resume_market") is not None:
                self.led.halted[m] = False
        else:
            _note(f"halt m{m}")
            if self._call(self.p.guardian, self.ch.halt_market, m, expect=set(), what="halt_market") is not None:
                self.led.halted[m] = True

    # ================================================================ rules: liquidation

    def _liq_price(self, m: int, mark: int, q: int) -> int:
        """The mark rounded to the tick in the favour of the account holding q."""
        tick = self._cfg(m).price_tick
        price = mark // tick * tick
        if q > 0 and price < mark:
            price += tick
        return price

    def _predict_liquidation(
        self, acct: str, m: int, quantity: int, liq: str | None = None
    ) -> tuple[set[str], Ledger | None, dict]:
        """The documented liquidate() semantics (NatSpec) on a trial ledger."""
        led, now = self.led, self.now
        liq = liq or self.liq
        info: dict = {}
        if acct == liq:
            return {"Clearinghouse: self liquidation"}, None, info
        s = led.summary(acct, now)
        if not (s.maintenance > 0 and s.equity - s.stale_margin < s.maintenance):
            return {"Clearinghouse: account healthy"}, None, info
        q0 = led.pos[(acct, m)][0]
        if q0 == 0:
            return {"Clearinghouse: no position"}, None, info
        new = led.copy()
        if led.settled[m]:
            info["settled_leg"] = True
            info["size"] = 0
            try:
                new.settle_position(acct, m)
            except NeedsAdl:
                return {"Clearinghouse: deleverage needed"}, None, info
            return set(), new, info
        mark, fresh = led.mark_of(m, now)
        if not fresh and not led.halted[m]:
            return {"Clearinghouse: stale mark"}, None, info
        c = self._cfg(m)
        price = self._liq_price(m, mark, q0)
        pen_bps, cap_bps, _rbps, minr, _maxr = led.liq_params
        penalty = 0
        reward_cap = None
        if s.equity > 0:
            info["closeout"] = False
            e = s.equity - s.stale_margin
            _imf, _imr, mmf, mmr = led.risk[m]
            u = mmf + mmr * abs(mark) // BPS
            pu = min(u * pen_bps // BPS, abs(price) * cap_bps // BPS)
            held = abs(q0)
            ee = max(e, 0)
            size = held
            if ee > 0 and u > pu and pu * s.maintenance <= ee * u:
                needed = ceil_div((s.maintenance - ee) * QS, u - pu)
                size = min(size, ceil_div(needed, c.quantity_step) * c.quantity_step)
            info["limited_by"] = "needed" if size < held else "position"
            cap = quantity // c.quantity_step * c.quantity_step
            if cap < size:
                info["limited_by"] = "request"
            size = min(size, cap)
            if size < held and held - size < c.min_quantity:
                info["limited_by"] = "min_quantity"
                size = held if held <= cap else (held - c.min_quantity) // c.quantity_step * c.quantity_step
            if size == 0:
                return {"Clearinghouse: zero quantity"}, None, info
            x = -size if q0 > 0 else size
            new.apply_fill(acct, m, x, price, 0)
            new.apply_fill(liq, m, -x, price, 0)
            after = new.summary(acct, now)
            hcap = after.equity
            if after.maintenance > 0:
                hcap = after.equity - ceil_div(s.equity * after.maintenance, s.maintenance)
            nominal = size * pu // QS
            penalty = max(min(nominal, hcap), 0)
            new.coll[acct] -= penalty
            info.update(size=size, nominal=nominal, u=u)
        else:
            info["closeout"] = True
            size = abs(q0)
            deficit = max(-s.equity, 0)
            if deficit + s.open_markets * minr > led.insurance:
                info.update(flagged=True, size=0, shortfall=deficit + s.open_markets * minr - led.insurance)
                new.adl_pending.add(acct)
                return set(), new, info
            new.adl_pending.discard(acct)
            new.apply_fill(acct, m, -q0, price, 0)
            new.apply_fill(liq, m, q0, price, 0)
            reward_cap = led.insurance - deficit - (s.open_markets - 1) * minr
            info["size"] = size
        fund = new.insurance + penalty
        reward = min(led.reward(size, price), fund)
        if reward_cap is not None:
            reward = min(reward, reward_cap)
        new.insurance = fund - reward
        new.coll[liq] += reward
        info.update(price=price, penalty=penalty, reward=reward)
        try:
            new.absorb_if_flat(acct)
        except NeedsAdl:
            return {"Clearinghouse: deleverage needed"}, None, info
        sl = new.summary(liq, now)
        if sl.equity - sl.stale_margin < sl.initial:
            return {"Clearinghouse: insufficient margin"}, None, info
        return set(), new, info

    def _liquidate(self, acct: str, m: int, quantity: int, label: str):
        expect, new, info = self._predict_liquidation(acct, m, quantity)
        ch = self.ch
        before_acct = self.view.account_summary(acct)
        before_liq = self.view.account_summary(self.liq)
        coll_liq0, ins0 = before_liq.collateral, ch.insurance_fund()
        marks = {mid: self.led.mark_of(mid, self.now)[0] for mid in self.w.mids}
        q_before = {mid: self.led.pos[(acct, mid)][0] for mid in self.w.mids}
        _note(
            f"{label}: liquidate {self._name(acct)} m{m} q {quantity} (equity {usd(before_acct.equity)}, "
            f"MM {usd(before_acct.maintenance)}, fresh {before_acct.fresh})"
        )
        logs = self._call(self.liq, ch.liquidate, acct, m, quantity, expect=expect, what=label)
        if logs is None:
            return
        tx = self._record_events(logs)
        assert self._ret == info["size"], f"liquidate returned {self._ret}, model took {info['size']}"
        self.led = new
        if info.get("flagged"):
            COVERAGE["liquidation: insolvent beyond the fund -> flagged for deleverage"] += 1
            flags = [lg for lg in logs if type(lg).__name__ == "DeleverageNeeded"]
            assert flags and flags[0].shortfall == info["shortfall"], f"DeleverageNeeded {flags} != {info['shortfall']}"
            assert not tx["liquidations"]
            return
        if info.get("settled_leg"):
            COVERAGE["liquidation: settled leg settled"] += 1
            return
        self.stats["liquidations"] += 1
        COVERAGE[
            "liquidation: insolvent close-out (one market)"
            if info.get("closeout")
            else f"liquidation: partial ({info.get('limited_by')})"
        ] += 1
        if tx["bad_debt"]:
            COVERAGE["liquidation: loss absorbed by the insurance fund"] += 1
        if info.get("closeout"):
            self.stats["closeouts"] += 1
        after_acct = self.view.account_summary(acct)
        after_liq = self.view.account_summary(self.liq)

        # ---- invariant 4: a solvent account's health ratio never falls (equity / MM, +inf
        # without MM); an insolvent account is closed out one market at a time at the mark, so
        # its (negative) ratio is meaningless: its equity must not fall instead
        e0, m0, e1, m1 = before_acct.equity, before_acct.maintenance, after_acct.equity, after_acct.maintenance
        if info.get("closeout"):
            if e1 < e0:
                self.liq_violations.append(f"close-out lowered equity: {e0} -> {e1} ({label})")
        elif m1 > 0 and not e1 * m0 >= e0 * m1:
            self.liq_violations.append(f"health ratio fell: {e0}/{m0} -> {e1}/{m1} ({label})")
        # ---- invariant 4: the liquidator stays at or above IM (stale legs valued one MM against it)
        sl = self.led.summary(self.liq, self.now)
        if not after_liq.equity - sl.stale_margin >= after_liq.initial:
            self.liq_violations.append(f"liquidator below IM: equity {after_liq.equity} < IM {after_liq.initial}")
        # ---- transfer price, size, penalty and reward rules
        (lg,) = tx["liquidations"]
        c, mark = self._cfg(m), marks[m]
        if lg.price % c.price_tick or abs(lg.price - mark) >= c.price_tick:
            self.liq_violations.append(f"transfer price {lg.price} not the tick-rounded mark {mark}")
        if (lg.quantity > 0 and lg.price < mark) or (lg.quantity < 0 and lg.price > mark):
            self.liq_violations.append(f"transfer price {lg.price} against the account (mark {mark}, q {lg.quantity})")
        size = abs(lg.quantity)
        if size > abs(q_before[m]) or lg.quantity * q_before[m] < 0:
            self.liq_violations.append(f"took {lg.quantity} of a {q_before[m]} position")
        left = abs(q_before[m]) - size
        if 0 < left < c.min_quantity:
            self.liq_violations.append(f"left {left} below the minimum {c.min_quantity}")
        notional = size * abs(lg.price) // QS
        pen_bps, cap_bps, rbps, minr, maxr = self.led.liq_params
        if lg.reward > min(minr + notional * rbps // BPS, maxr):
            self.liq_violations.append(f"reward {lg.reward} above the formula")
        if not info.get("closeout"):
            req = quantity // c.quantity_step * c.quantity_step
            if size > req:
                self.liq_violations.append(f"took {size} > requested {req}")
            mmf, mmr = self.led.risk[m][2], self.led.risk[m][3]
            mm_of_size = ceil_div(size * (mmf * BPS + mmr * abs(mark)), QS * BPS)
            if lg.penalty * BPS > pen_bps * mm_of_size:
                self.liq_violations.append(f"penalty {lg.penalty} above {pen_bps} bps of MM {mm_of_size}")
            if lg.penalty * BPS > cap_bps * notional:
                self.liq_violations.append(f"penalty {lg.penalty} above {cap_bps} bps of notional {notional}")
            # partial liquidation is the norm: when it stops short of both the request and the
            # position it must have restored equity >= MM (exact: the size formula rounds up)
            if (
                info.get("limited_by") == "needed"
                and size < min(req, abs(q_before[m]))
                and e1 < m1
                and not self.led.summary(acct, self.now).stale_margin
            ):
                self.liq_violations.append(
                    f"partial liquidation stopped short without restoring health: {e1} < MM {m1}"
                )
        elif lg.penalty != 0:
            self.liq_violations.append("penalty charged on an insolvent close-out")
        # ---- penalty and reward are transfers: the account pays the penalty into the fund, the
        # fund pays the reward to the liquidator (observed on-chain)
        realised_acct = sum(v for (a, _), v in tx["realised"].items() if a == str(acct))
        realised_liq = sum(v for (a, _), v in tx["realised"].items() if a == str(self.liq))
        absorbed = sum(x.covered_by_insurance for x in tx["bad_debt"] if str(x.account) == str(acct))
        paid = realised_acct + absorbed - (after_acct.collateral - before_acct.collateral)
        to_liq = (after_liq.collateral - coll_liq0) - realised_liq
        to_ins = (ch.insurance_fund() - ins0) + absorbed
        self.penalty_imbalance += paid - to_liq - to_ins
        if paid != lg.penalty or to_liq != lg.reward or to_ins != lg.penalty - lg.reward:
            self.liq_violations.append(
                f"penalty/reward flows: paid {paid}, to liquidator {to_liq}, to fund {to_ins}, "
                f"events {lg.penalty}/{lg.reward}"
            )
        _note(
            f"  -> took {info.get('size')} penalty {info.get('penalty', 0)} reward {info.get('reward')}; "
            f"health {e0}/{m0} -> {e1}/{m1}"
        )

    @precondition(lambda self: any(self.led.liquidatable(a, self.now) for a in self.led.accounts if a != self.liq))
    @rule(data=st.data(), qty=st.sampled_from(["all", "all", "half", "step", "random"]), frac=st.integers(1, 1_000))
    def liquidate(self, data, qty, frac):
        """The liquidator liquidates an unhealthy account (partially, or closes out an insolvent one)."""
        self._step()
        now = self.now
        targets = [a for a in self.accounts if a != self.liq and self.led.liquidatable(a, now)]
        acct = data.draw(st.sampled_from(targets), label="account")
        open_ = self.led.open_markets(acct)
        m = data.draw(st.sampled_from(open_), label="market") if open_ else self.w.mids[0]
        q0 = abs(self.led.pos[(acct, m)][0])
        quantity = {"all": 2**128, "half": q0 // 2, "step": self._cfg(m).quantity_step, "random": q0 * frac // 1_000}[
            qty
        ]
        self._liquidate(acct, m, quantity, f"liquidate({qty})")

    @precondition(lambda self: any(self.led.liquidatable(a, self.now) for a in self.led.accounts if a != self.liq))
    @rule(data=st.data())
    def liquidate_max(self, data):
        """The liquidator asks for everything: the contract takes only what restores health."""
        self._step()
        targets = [a for a in self.accounts if a != self.liq and self.led.liquidatable(a, self.now)]
        acct = data.draw(st.sampled_from(targets), label="account")
        open_ = self.led.open_markets(acct)
        m = data.draw(st.sampled_from(open_), label="market") if open_ else self.w.mids[0]
        self._liquidate(acct, m, MAX_UINT, "liquidate(max)")

    @rule(who=st.integers(0, N_TRADERS), mi=market_idx, quantity=st.sampled_from([0, 1, 10**6, 2**128]))
    def liquidate_attempt(self, who, mi, quantity):
        """Liquidation attempts on arbitrary accounts (healthy, stale, halted, self): model decides."""
        self._step()
        acct = self.liq if who == N_TRADERS else self.w.traders[who].address
        self._liquidate(acct, self._mid(mi), quantity, "liquidate_attempt")

    # ================================================================ rules: auto-deleveraging

    def _score(self, led: Ledger, cp: str, m: int, mark: int) -> tuple[int, int, int]:
        """(profit at the mark, profit x notional / equity, equity), as `deleverage` ranks."""
        qc, onc = led.pos[(cp, m)]
        profit = (qc * mark) // QS - onc
        eq = led.summary(cp, self.now).equity
        return profit, (profit * (abs(qc) * abs(mark) // QS) // eq if profit > 0 and eq > 0 else -1), eq

    def _predict_deleverage(self, acct: str, m: int, cps: list[str], caller: str):
        led, now = self.led, self.now
        s = led.summary(acct, now)
        q0 = led.pos[(acct, m)][0]
        if q0 == 0:
            return {"Clearinghouse: no position"}, None, {}
        mark, fresh = led.mark_of(m, now)
        if not fresh and not led.halted[m]:
            return {"Clearinghouse: stale mark"}, None, {}
        base = self._liq_price(m, mark, q0)
        held = abs(q0)
        reward = led.reward(held, base)
        minr = led.liq_params[3]
        shortfall = reward + (s.open_markets - 1) * minr - s.equity - led.insurance
        if shortfall <= 0:
            if acct in led.adl_pending:  # recovered since it was flagged: unflagged, nothing moves
                new = led.copy()
                new.adl_pending.discard(acct)
                return set(), new, dict(closed=0, moves=[], reward=0)
            return {"Clearinghouse: insurance covers"}, None, {}
        new = led.copy()
        new.coll[acct] -= reward
        new.coll[caller] += reward
        tick = self._cfg(m).price_tick
        side = 1 if q0 > 0 else -1
        remaining, last = held, None
        moves = []
        for cp in cps:
            if remaining == 0 or shortfall <= 0:
                break
            if cp == acct:
                return {"Clearinghouse: counterparty is the account"}, None, {}
            qc = new.pos[(cp, m)][0]
            if qc == 0 or (qc > 0) == (q0 > 0):
                return {"Clearinghouse: not an opposite position"}, None, {}
            profit, score, eq = self._score(new, cp, m, mark)
            if profit <= 0:
                return {"Clearinghouse: counterparty not in profit"}, None, {}
            if eq <= 0:
                return {"Clearinghouse: counterparty insolvent"}, None, {}
            if last is not None and score > last:
                return {"Clearinghouse: counterparties not ranked"}, None, {}
            last = score
            x = min(remaining, abs(qc))
            share = min(profit * x // abs(qc), max(eq - ceil_div(x * tick, QS), 0))
            give = min(share, shortfall)
            ticks = ceil_div(give * QS, x * tick)
            if ticks * tick * x // QS > share:
                ticks -= 1
            moved = ticks * tick * x // QS
            price = base + side * ticks * tick
            new.apply_fill(acct, m, -side * x, price, 0)
            new.apply_fill(cp, m, side * x, price, 0)
            moves.append((cp, side * x, price, moved))
            try:
                new.absorb_if_flat(cp)
            except NeedsAdl:
                return {"Clearinghouse: deleverage needed"}, None, {}
            shortfall -= moved
            remaining -= x
        if remaining == held:
            return {"Clearinghouse: zero quantity"}, None, {}
        if shortfall <= 0:
            new.adl_pending.discard(acct)
        else:
            new.adl_pending.add(acct)
        try:
            new.absorb_if_flat(acct)
        except NeedsAdl:
            return {"Clearinghouse: deleverage needed"}, None, {}
        return set(), new, dict(closed=held - remaining, moves=moves, reward=reward)

    @precondition(
        lambda self: any(
            self.led.summary(a, self.now).equity < 0
            for a in self.led.accounts
            if a != self.liq and self.led.open_markets(a)
        )
    )
    @rule(
        data=st.data(),
        order=st.sampled_from(["ranked", "ranked", "ranked", "reversed", "with_same_side"]),
        n=st.integers(1, 4),
    )
    def deleverage(self, data, order, n):
        """Auto-deleveraging: an insolvent account's loss beyond the insurance fund goes to the most
        profitable opposite positions (ranked by profit x leverage), never written off."""
        self._step()
        now = self.now
        insolvent = sorted(
            a
            for a in self.accounts
            if a != self.liq and self.led.open_markets(a) and self.led.summary(a, now).equity < 0
        )
        acct = data.draw(st.sampled_from(insolvent), label="account")
        m = data.draw(st.sampled_from(self.led.open_markets(acct)), label="market")
        q0 = self.led.pos[(acct, m)][0]
        mark, _ = self.led.mark_of(m, now)
        opposite = [a for a in self.accounts if a != acct and self.led.pos[(a, m)][0] * q0 < 0]
        ranked = sorted(
            (a for a in opposite if self._score(self.led, a, m, mark)[1] >= 0),
            key=lambda a: -self._score(self.led, a, m, mark)[1],
        )[:n]
        if order == "reversed":
            ranked = ranked[::-1]
        elif order == "with_same_side":
            same = [a for a in self.accounts if a != acct and self.led.pos[(a, m)][0] * q0 > 0]
            ranked = ranked + same[:1]
        expect, new, info = self._predict_deleverage(acct, m, ranked, self.liq)
        _note(
            f"deleverage {self._name(acct)} m{m} against {[self._name(a) for a in ranked]} "
            f"(equity {usd(self.led.summary(acct, now).equity)}, fund {usd(self.led.insurance)})"
        )
        logs = self._call(self.liq, self.ch.deleverage, acct, m, ranked, expect=expect, what="deleverage")
        if logs is None:
            return
        tx = self._record_events(logs)
        assert self._ret == info["closed"], f"deleverage closed {self._ret}, model {info['closed']}"
        got = [
            (str(lg.counterparty), lg.quantity, lg.price, lg.loss) for lg in logs if type(lg).__name__ == "Deleveraged"
        ]
        assert got == [(str(a), q, p, lo) for a, q, p, lo in info["moves"]], (
            f"Deleveraged {got} != model {info['moves']}"
        )
        for _cp, _q, _p, loss in info["moves"]:
            if loss < 0:
                self.liq_violations.append(f"negative deleverage loss {loss}")
        self.led = new
        COVERAGE[
            f"deleverage: {len(info['moves'])} counterparties, "
            f"{'assigned' if acct not in new.adl_pending else 'partly assigned'}"
        ] += 1
        del tx

    # ================================================================ rules: settlement

    def _push_settlement(self, m: int, price: int):
        """Reporters write a settlement value: once, and never before delivery end (the Oracle
        refuses both, so a rewrite cannot restart the dispute window)."""
        fid = self.p.feeds[m][1]
        f = self.led.sfeed[m]
        reason = None
        if f["disputed"] or f["final"]:
            reason = "Oracle: feed disputed or final"
        elif f["observed_at"] != 0:
            reason = "Oracle: settlement already written"
        elif self.now < self._cfg(m).delivery_end:
            reason = "Oracle: settlement too early"
        if reason:
            with boa.reverts(reason):
                self.p.push([fid], [price])
            COVERAGE[f"settlement push: {reason}"] += 1
            return False
        self._fresh_push_time([fid], [f["observed_at"]])
        self.p.push([fid], [price])
        f.update(price=price, observed_at=self.now, updated_at=self.now)
        return True

    @rule(mi=market_idx, op=st.sampled_from(["push", "push", "dispute", "resolve"]), kind=mark_moves, r=permille)
    def settlement_feed(self, mi, op, kind, r):
        """Reporters post a settlement value (possibly before delivery end: unusable); the guardian
        disputes it; the owner resolves a dispute with a final value."""
        self._step()
        m = self._mid(mi)
        f = self.led.sfeed[m]
        fid = self.p.feeds[m][1]
        price = self._next_mark(m, kind, r)
        if op == "push":
            _note(
                f"settlement feed m{m} <- {usd(price)} "
                f"({'after' if self.now >= self._cfg(m).delivery_end else 'BEFORE'} delivery end)"
            )
            self._push_settlement(m, price)
        elif op == "dispute":
            expect = set()
            if f["observed_at"] == 0:
                expect.add("Oracle: no price")
            elif f["disputed"] or f["final"]:
                expect.add("Oracle: feed disputed or final")
            _note(f"guardian disputes settlement feed of m{m}")
            if self._call(self.p.guardian, self.p.oracle.dispute, fid, expect=expect, what="dispute") is not None:
                f["disputed"] = True
        else:
            expect = set() if f["disputed"] else {"Oracle: not disputed"}
            _note(f"owner resolves settlement feed of m{m} at {usd(price)}")
            if self._call(self.p.owner, self.p.oracle.resolve, fid, price, expect=expect, what="resolve") is not None:
                f.update(price=price, updated_at=self.now, disputed=False, final=True)

    def _finalize(self, m: int):
        c, f, now = self._cfg(m), self.led.sfeed[m], self.now
        expect = set()
        if self.led.settled[m]:
            expect.add("Clearinghouse: already settled")
        if now < c.delivery_end:
            expect.add("Clearinghouse: delivery not over")
        if f["observed_at"] < c.delivery_end:
            expect.add("Clearinghouse: no settlement price")
        if f["disputed"]:
            expect.add("Clearinghouse: settlement disputed")
        if not f["final"] and f["updated_at"] + c.dispute_window > now:
            expect.add("Clearinghouse: dispute window open")
        _note(
            f"finalize m{m} (feed {usd(f['price'])} observed {f['observed_at'] - c.delivery_end:+d}s vs delivery end)"
        )
        logs = self._call(self.w.matcher, self.ch.finalize_settlement, m, expect=expect, what="finalize_settlement")
        if logs is not None:
            # the settlement value rounded to the nearest tick, halves up (finalize_settlement NatSpec)
            price = (f["price"] + c.price_tick // 2) // c.price_tick * c.price_tick
            self.led.settled[m] = True
            self.led.settlement_price[m] = price
            lg = [x for x in logs if type(x).__name__ == "SettlementFinalized"]
            assert lg and lg[0].price == price, f"settlement price {lg} != nearest tick {price}"

    @precondition(
        lambda self: any(self.now >= self._cfg(m).delivery_end - 600 and not self.led.settled[m] for m in self.w.mids)
    )
    @rule(mi=market_idx)
    def finalize_settlement(self, mi):
        self._step()
        self._finalize(self._mid(mi))

    @precondition(lambda self: self.n_steps >= 15 and not all(self.led.settled.values()))
    @rule(mi=market_idx, kind=mark_moves, r=permille, wait=st.integers(0, 3))
    def expire_and_finalize(self, mi, kind, r, wait):
        """Run a market to expiry: delivery ends, the settlement value is reported, stands for the
        dispute window, and is finalised (a settler keeper's job)."""
        self._step()
        m = self._mid(mi)
        c = self._cfg(m)
        if self.led.settled[m]:
            self._finalize(m)
            return
        if self.now < c.delivery_end:
            boa.env.time_travel(seconds=c.delivery_end - self.now + r % 7 + 7)
        f = self.led.sfeed[m]
        if f["observed_at"] < c.delivery_end and not f["final"]:
            self._push_settlement(m, self._next_mark(m, kind, r))
        if wait:
            boa.env.time_travel(seconds=c.dispute_window + wait)
        _note(f"expire m{m}: now delivery_end{self.now - c.delivery_end:+d}s")
        self._finalize(m)
        self._mark_dead_orders()

    def _settle_one(self, a: str, m: int):
        expect = set()
        if not self.led.settled[m]:
            expect.add("Clearinghouse: not finalized")
        if self.led.pos[(a, m)][0] == 0:
            expect.add("Clearinghouse: no position")
        new = self.led.copy()
        if not expect:
            try:
                new.settle_position(a, m)
            except NeedsAdl:
                expect.add("Clearinghouse: deleverage needed")
        _note(f"settle {self._name(a)} m{m}")
        logs = self._call(self.w.matcher, self.ch.settle, a, m, expect=expect, what="settle")
        if logs is not None:
            self.led = new
            self.stats["settles"] += 1
            self._record_events(logs)

    @precondition(lambda self: any(self.led.settled.values()))
    @rule(who=st.integers(0, N_TRADERS), mi=market_idx)
    def settle(self, who, mi):
        """settle one account (also: a market not finalised yet, or an account without a position)."""
        self._step()
        a = self.liq if who == N_TRADERS else self.w.traders[who].address
        self._settle_one(a, self._mid(mi))

    @precondition(lambda self: any(self.led.settled.values()))
    @rule(mi=market_idx, subset=st.lists(st.integers(0, N_TRADERS), max_size=N_TRADERS + 3), everyone=st.booleans())
    def settle_many(self, mi, subset, everyone):
        """A settler batch-settles a finalised market (accounts without a position are skipped)."""
        self._step()
        m = self._mid(mi)
        if not self.led.settled[m]:
            accts = [t.address for t in self.w.traders]
            _note(f"settle_many m{m} before finalisation")
            self._call(
                self.w.matcher,
                self.ch.settle_many,
                accts,
                m,
                expect={"Clearinghouse: not finalized"},
                what="settle_many",
            )
            return
        idx = list(range(N_TRADERS + 1)) if everyone else subset
        accts = [self.liq if i == N_TRADERS else self.w.traders[i].address for i in idx]
        _note(f"settle_many m{m} {[self._name(a) for a in accts]}")
        new = self.led.copy()
        n = 0
        for a in accts:
            if new.pos[(a, m)][0] != 0:
                trial = new.copy()
                try:
                    trial.settle_position(a, m)
                except NeedsAdl:  # skipped: the account waits for deleverage
                    COVERAGE["settle_many: skipped an account needing deleverage"] += 1
                    continue
                new = trial
                n += 1
        self.stats["calls"] += 1
        with boa.env.prank(self.w.matcher):
            got = self.ch.settle_many(accts, m)
        assert got == n, f"settle_many settled {got}, model {n}"
        COVERAGE["settle_many: ok" if n else "settle_many: ok (nothing to settle)"] += 1
        self.led = new
        self.stats["settles"] += n
        self._record_events(self.ch.get_logs())

    # ================================================================ invariants

    @invariant()
    def model_matches_chain(self):
        """Extra: the chain's ledger is exactly the model's (so every revert changed nothing), and
        the contract's own account_summary view agrees with the model for every account whose
        ledger changed this step plus one more in rotation (views cost ~20 ms each)."""
        s, led, now = self.chain(), self.led, self.now
        assert s["insurance"] == led.insurance, f"insurance {s['insurance']} != model {led.insurance}"
        assert s["adl_count"] == len(led.adl_pending), f"adl_pending_count {s['adl_count']} != model {led.adl_pending}"
        assert s["fees"] == led.fees, f"fees {s['fees']} != model {led.fees}"
        assert s["bad_debt"] == led.bad_debt, f"bad_debt {s['bad_debt']} != model {led.bad_debt}"
        for a in self.accounts:
            assert s["coll"][a] == led.coll[a], f"{self._name(a)} collateral {s['coll'][a]} != model {led.coll[a]}"
            for m in self.w.mids:
                assert s["pos"][(a, m)] == tuple(led.pos[(a, m)]), (
                    f"{self._name(a)} m{m} position {s['pos'][(a, m)]} != model {led.pos[(a, m)]}"
                )
            assert s["open"][a] == sorted(led.open_markets(a)), f"{self._name(a)} open markets {s['open'][a]}"
        for m in self.w.mids:
            halted, settled, price, long_oi = s["state"][m]
            assert (halted, settled, long_oi) == (led.halted[m], led.settled[m], led.long_oi[m]), (
                f"m{m} state {(halted, settled, long_oi)} != model {(led.halted[m], led.settled[m], led.long_oi[m])}"
            )
            if settled:
                assert price == led.settlement_price[m]
            else:
                assert s["mark"][m] == led.mark[m][0]
        # views vs model (and so vs the raw reads)
        ledger_key = {a: (s["coll"][a], tuple(s["pos"][(a, m)] for m in self.w.mids)) for a in self.accounts}
        check = {a for a in self.accounts if ledger_key[a] != self._last_ledger.get(a)}
        check.add(self.accounts[self.n_steps % len(self.accounts)])
        self._last_ledger = ledger_key
        for a in sorted(check):
            sm = self.view.account_summary(a)
            ms = led.summary(a, now)
            got = (sm.collateral, sm.equity, sm.initial, sm.maintenance, sm.fresh, sm.open_markets)
            want = (led.coll[a], ms.equity, ms.initial, ms.maintenance, ms.fresh, ms.open_markets)
            assert self.ch.adl_pending(a) == (a in led.adl_pending)
            assert got == want, f"{self._name(a)} account_summary {got} != model {want}"
            assert sm.equity == s["equity"][a]
            assert self.ch.is_liquidatable(a) == led.liquidatable(a, now)
        # realised PnL and settled quantities seen in events agree with the model
        assert self.ev_realised == led.realised, f"realised events {self.ev_realised} != model {led.realised}"
        assert self.ev_settled_qty == led.settled_qty

    @invariant()
    def inv1_collateral_backed(self):
        """§6.1 in its original form: the token balance covers Σ collateral + insurance + fees
        (valued at the marks: Σ equity), the difference only rounding dust in the protocol's
        favour. Nothing is ever written off: bad_debt stays 0 (ADL assigns every loss)."""
        assert self.chain()["bad_debt"] == 0, "a loss was written off as bad debt"
        s, led = self.chain(), self.led
        bal = s["balance"]
        f = led.flows
        assert bal == f["deposits"] - f["withdrawals"] + f["insurance_funded"] - f["fees_withdrawn"], (
            f"balance {bal} != external flows {f}"
        )
        sum_coll = sum(s["coll"].values())
        sum_on = sum(on for (_q, on) in s["pos"].values())
        pending = sum(
            s["pos"][(a, m)][0] * s["state"][m][2] // QS for a in self.accounts for m in self.w.mids if s["state"][m][1]
        )
        rhs = sum_coll + s["insurance"] + s["fees"] - sum_on + pending
        assert bal == rhs, (
            f"balance {bal} != Σcoll {sum_coll} + ins {s['insurance']} + fees {s['fees']} "
            f"- Σon {sum_on} + pending settlement {pending} = {rhs}"
        )
        sum_eq = sum(s["equity"].values())
        n_pos = sum(1 for (q, _on) in s["pos"].values() if q != 0)
        dust = bal - (sum_eq + s["insurance"] + s["fees"])
        assert dust >= 0 and (dust < n_pos or dust == 0), (
            f"balance - (Σ equity + insurance + fees) = {dust} is not rounding dust "
            f"in the protocol's favour ({n_pos} open positions)"
        )
        # and with nothing left open, every claim is exactly the balance: the last withdrawer is paid
        if n_pos == 0:
            assert bal == sum_coll + s["insurance"] + s["fees"]

    @invariant()
    def inv2_open_interest_balanced(self):
        """§6.2 per market Σ quantity = 0 and long OI = short OI."""
        s = self.chain()
        for m in self.w.mids:
            qs = [s["pos"][(a, m)][0] for a in self.accounts]
            longs = sum(q for q in qs if q > 0)
            shorts = -sum(q for q in qs if q < 0)
            _halted, settled, _price, long_oi = s["state"][m]
            assert long_oi == longs, f"m{m} long_oi {long_oi} != Σ long quantities {longs}"
            assert sum(qs) + self.ev_settled_qty[m] == 0, (
                f"m{m} Σ quantity {sum(qs)} (+ settled {self.ev_settled_qty[m]}) != 0"
            )
            if not settled:
                assert longs == shorts, f"m{m} long OI {longs} != short OI {shorts}"

    @invariant()
    def inv3_no_hidden_negative_collateral(self):
        """§6.3 no account without positions ends a transaction with negative collateral: its loss
        went to the insurance fund, or was assigned by deleveraging first; nothing is written off."""
        s = self.chain()
        for a in self.accounts:
            coll = s["coll"][a]
            if not s["open"][a]:
                assert coll >= 0, (
                    f"{self._name(a)} has no position and collateral {coll} < 0: a loss neither moved to "
                    f"the insurance fund nor recorded as bad debt"
                )
        assert s["bad_debt"] == self.ev_bad_debt == 0, (
            f"bad_debt {s['bad_debt']}, Σ BadDebt.uncovered {self.ev_bad_debt}"
        )

    @invariant()
    def inv4_liquidations_safe(self):
        """§6.4 a liquidation never lowers the account's health ratio nor leaves the liquidator below IM."""
        assert not self.liq_violations, "; ".join(self.liq_violations)

    @invariant()
    def inv8_unhealthy_account_liquidatable(self):
        """§6.8 an account below MM (stale legs valued one MM against it) can always be liquidated
        by some size, by a liquidator with the capital to carry it, in a market with a fresh or
        halted mark: tried on a throwaway copy of the chain (every few steps, it costs a call)."""
        if self.n_steps % 3:
            return
        now = self.now
        for a in self.accounts:
            if a == self.liq or not self.led.liquidatable(a, now):
                continue
            ms = [m for m in self.led.open_markets(a) if self.led.actionable(a, m, now) and not self.led.settled[m]]
            if not ms:
                continue  # every leg stale and not halted (a halt makes it actionable) or settled
            m = ms[self.n_steps % len(ms)]
            with boa.env.anchor():
                whale = self.w.whale
                self.p.usdc.mint(whale, 1_000_000 * USDC)
                with boa.env.prank(whale):
                    self.p.usdc.approve(self.ch.address, MAX_UINT)
                    self.ch.deposit(1_000_000 * USDC)
                    try:
                        self.ch.liquidate(a, m, MAX_UINT)
                    except BoaError as err:
                        raise AssertionError(
                            f"{self._name(a)} is below MM but liquidate(m{m}) reverted: {revert_reason(err)}"
                        ) from None
            COVERAGE["inv8: unhealthy account liquidated (trial)"] += 1
            self._snap = None
            return

    @invariant()
    def inv5_settled_market_pnl_zero(self):
        """§6.5 after a market is settled and every position in it closed: Σ realised PnL + fees = 0.

        Σ over accounts of realised PnL (PositionUpdated events: fills, liquidation transfers,
        settlement) is 0; net of the fees each account paid (Trade events) plus the fees the
        pool collected in that market it is 0 too; and the cash paid and received for the
        market's contracts (fills at their prices, settlement at the settlement price) nets to 0.
        Liquidation penalties are transfers: what accounts paid (observed on-chain) equals what the
        liquidator and the insurance fund received."""
        s = self.chain()
        assert self.penalty_imbalance == 0, f"liquidation penalties do not net to zero: {self.penalty_imbalance}"
        for m in self.w.mids:
            if not s["state"][m][1]:
                continue
            if any(s["pos"][(a, m)][0] != 0 for a in self.accounts):
                continue
            realised = self.ev_realised[m]
            if m not in self._inv5_seen:
                self._inv5_seen.add(m)
                COVERAGE["inv5: market settled and closed, PnL checked"] += 1
            assert realised == 0, f"m{m} fully settled but Σ realised PnL = {realised}"
            pnl_net_of_fees = realised - sum(self.ev_fees_paid[(a, m)] for a in self.accounts)
            assert pnl_net_of_fees + self.led.fees_by_market[m] == 0, (
                f"m{m}: Σ PnL net of fees {pnl_net_of_fees} + fees collected {self.led.fees_by_market[m]} != 0"
            )
            assert self.led.cashflow[m] == 0, f"m{m} cash flows sum to {self.led.cashflow[m]}"

    @invariant()
    def inv6_orders_never_overfill(self):
        """§6.6 a signed order never fills beyond its quantity, after expiry/cancel/min nonce, or
        when signed for another chain/contract/key."""
        raw = self.w.raw
        for o in self.order_book:
            got = raw.filled(o.digest)
            assert got <= o.quantity, f"order #{o.idx} filled {got} > quantity {o.quantity}"
            assert got == o.filled, f"order #{o.idx} filled {got} != model {o.filled}"
            if not o.sig_valid:
                assert got == 0, f"order #{o.idx} signed [{o.kind}] filled {got}"
            if o.dead_filled is not None:
                assert got == o.dead_filled, f"order #{o.idx} filled after it died ({o.dead_filled} -> {got})"
            assert raw.cancelled(o.digest) == o.cancelled, f"order #{o.idx} cancelled flag"
        for a in self.accounts:
            assert raw.min_nonce(a) == self.led.min_nonce[a]
        # the Exchange's own views, for the newest order and one in rotation
        if self.order_book:
            for o in {self.order_book[-1].idx, self.n_steps % len(self.order_book)}:
                o = self.order_book[o]
                assert self.ex.filled(o.digest) == o.filled
                want = 0 if self._is_dead(o) else o.quantity - o.filled
                assert self.ex.remaining(o.order) == want, f"order #{o.idx} remaining"
                assert self.ex.order_hash(o.order) == o.digest, "EIP-712 digest differs from eth_account's"


def test_protocol_stateful(deployed, fuzz_settings, fuzz_stats):
    steps0, examples0 = STEPS, EXAMPLES
    try:
        run_state_machine_as_test(ProtocolMachine, settings=fuzz_settings)
    finally:
        fuzz_stats["steps"] += STEPS - steps0
        fuzz_stats["examples"] += EXAMPLES - examples0
        fuzz_stats.setdefault("coverage", collections.Counter()).update(COVERAGE)


# ===================================================================== regressions found by the fuzzer


INVARIANTS = (
    "model_matches_chain",
    "inv1_collateral_backed",
    "inv2_open_interest_balanced",
    "inv3_no_hidden_negative_collateral",
    "inv4_liquidations_safe",
    "inv5_settled_market_pnl_zero",
    "inv6_orders_never_overfill",
    "inv8_unhealthy_account_liquidatable",
)


class _Draws:
    """Stands in for st.data() when a regression replays rules: returns preset values in order."""

    def __init__(self, *values):
        self.values = list(values)

    def draw(self, strategy, label=None):
        return self.values.pop(0)


@contextlib.contextmanager
def _replay():
    """A machine outside hypothesis; `check()` runs every invariant, as hypothesis does per step."""
    world()
    machine = ProtocolMachine()

    def check():
        for name in INVARIANTS:
            getattr(machine, name)()
        machine._snap = None

    machine.check = check
    try:
        check()
        yield machine
        check()
    finally:
        machine.teardown()


def test_close_position__insolvent_after_spike__reverts_instead_of_hiding_bad_debt(deployed):
    """Fuzz finding (invariant 3, HEAD dbad2fc): power spikes 50x to $2,000/MWh; trader2 (short 90
    MWh, $10k collateral, equity now about -$166k) buys its position back at the mark. The fill was
    'risk-reducing' so no margin check ran: trader2 ended flat with collateral -$166k that was
    neither charged to the insurance fund nor recorded as bad debt, while the counterparty's
    gain was withdrawable. The trade must revert (the account is for the liquidator)."""
    with _replay() as m:
        m.shock_mark(mi=0, kind="spike", r=0)
        m.check()
        trader2, trader4 = m.w.traders[2].address, m.w.traders[4].address
        assert m.led.summary(trader2, m.now).equity < 0
        m.close_position(data=_Draws((trader2, m.w.mids[0])), counterparty=4, offset=0, partial=1, giveaway=1)
        assert m.w.raw.position(trader2, m.w.mids[0])[0] == -90_000, "an insolvent account closed its position"
        assert m.w.raw.collateral(trader4) == m.led.coll[trader4]


def test_close_position__giveaway_price__reverts_instead_of_hiding_bad_debt(deployed):
    """Same hole with a solvent account and a colluding counterparty: trader0 (long 90 MWh at
    $40, $3k) sells it all at -$100/MWh to trader4, moving $12,600 of value out of a $3k account;
    trader0 would end flat at about -$9,600 collateral with no bad debt recorded."""
    with _replay() as m:
        trader0, trader4 = m.w.traders[0].address, m.w.traders[4].address
        mid = m.w.mids[0]
        rec = m._new_order(trader0, mid, False, 90_000, -100 * USDC, expiry=m.now + 600, reduce_only=True)
        m._fill(rec, trader4, 90_000, "giveaway")
        m.check()
        assert m.w.raw.position(trader0, mid)[0] == 90_000
