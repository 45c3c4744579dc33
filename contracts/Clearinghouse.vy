# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Clearinghouse
@notice Holds the collateral (one ERC-20 stablecoin), every account's positions and the
        market registry; marks positions to Oracle feeds, enforces cross margin, runs
        liquidations and cash settlement. Trades arrive only from the Exchange (set once).

        Glossary (units):
            quantity       signed thousandths of a unit (long > 0); QUANTITY_SCALE = 1000
            price / mark   signed collateral base units per 1 unit (may be negative)
            open_notional  collateral base units paid (> 0) or received (< 0) for the open position
            equity         collateral + sum(quantity * mark / 1000 - open_notional), base units
            IM / MM        sum |quantity| * (fixed + rate_bps * |mark| / 10_000) / 1000, base units
            health ratio   equity / MM (infinite without positions)

        Trade notionals are exact: a market's price tick times its quantity step is a whole
        multiple of QUANTITY_SCALE, and liquidation and settlement prices are rounded to the
        tick. Mark-to-market valuation rounds down (against the account).

        Roles: the owner (two-step) lists markets and sets parameters within hard bounds; the
        guardian (or owner) can halt a market (only risk-reducing trades pass). Nobody but the
        account moves its collateral, except trades it signed, liquidation and settlement.
        There is no global pause and no upgrade path.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.auth import ownable_2step

import constants as c
import packing
from interfaces import IClearinghouse
from interfaces import IOracle

implements: IClearinghouse

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


struct Market:
    spec_hash: bytes32  # keccak of the canonical JSON market spec
    mark_feed: bytes32  # oracle feed: fair value of the future (margin, liquidation)
    settlement_feed: bytes32  # oracle feed: final value after delivery
    delivery_start: uint256  # unix s
    delivery_end: uint256  # unix s, exclusive; settlement must be observed at or after it
    last_trade_time: uint256  # unix s; no trades at or after it
    quantity_step: uint256  # thousandths of a unit; every order size is a multiple
    min_quantity: uint256  # thousandths of a unit
    price_tick: uint256  # base units per unit; every order price is a multiple
    im_fixed: uint256  # initial margin, base units per unit
    im_rate_bps: uint256  # initial margin, bps of |mark|
    mm_fixed: uint256  # maintenance margin, base units per unit
    mm_rate_bps: uint256  # maintenance margin, bps of |mark|
    max_price_age: uint256  # seconds; an older mark halts risk-increasing actions
    dispute_window: uint256  # seconds a settlement value must stand undisputed
    oi_cap: uint256  # long open interest cap, thousandths of a unit


struct MarketParams:
    im_fixed: uint256
    im_rate_bps: uint256
    mm_fixed: uint256
    mm_rate_bps: uint256
    max_price_age: uint256
    dispute_window: uint256
    oi_cap: uint256


struct MarketState:
    halted: bool
    settled: bool
    settlement_price: int256  # base units per unit, tick-rounded, once settled
    long_oi: uint256  # thousandths of a unit


struct Position:
    quantity: int256
    open_notional: int256


struct AccountSummary:
    collateral: int256
    equity: int256
    initial: uint256
    maintenance: uint256
    fresh: bool  # every mark the account depends on is fresh
    open_markets: uint256


event Deposit:
    account: indexed(address)
    payer: indexed(address)
    amount: uint256

event Withdraw:
    account: indexed(address)
    amount: uint256

event Trade:
    market_id: indexed(uint256)
    buyer: indexed(address)
    seller: indexed(address)
    quantity: uint256
    price: int256
    buyer_fee: uint256
    seller_fee: uint256

event PositionUpdated:
    account: indexed(address)
    market_id: indexed(uint256)
    quantity: int256
    open_notional: int256
    realised_pnl: int256

event CollateralUpdated:
    account: indexed(address)
    collateral: int256

event Liquidation:
    account: indexed(address)
    liquidator: indexed(address)
    market_id: indexed(uint256)
    quantity: int256  # signed quantity moved from account to liquidator
    price: int256
    penalty: uint256
    insurance_share: uint256

event BadDebt:
    account: indexed(address)
    covered_by_insurance: uint256
    uncovered: uint256

event MarketListed:
    market_id: indexed(uint256)
    spec_hash: bytes32
    mark_feed: bytes32
    settlement_feed: bytes32
    delivery_start: uint256
    delivery_end: uint256
    last_trade_time: uint256

event MarketParamsSet:
    market_id: indexed(uint256)
    params: MarketParams

event MarketHalted:
    market_id: indexed(uint256)
    halted: bool

event SettlementFinalized:
    market_id: indexed(uint256)
    price: int256

event Settled:
    account: indexed(address)
    market_id: indexed(uint256)
    quantity: int256
    pnl: int256

event InsuranceFunded:
    payer: indexed(address)
    amount: uint256

event FeesWithdrawn:
    to: indexed(address)
    amount: uint256

event RolesSet:
    exchange: address
    guardian: address

event LiquidationParamsSet:
    penalty_bps: uint256
    insurance_share_bps: uint256


# hard bounds on owner-set parameters
_MAX_PRICE_AGE_MIN: constant(uint256) = 60
_MAX_PRICE_AGE_MAX: constant(uint256) = 7 * 86_400
_MAX_DISPUTE_WINDOW: constant(uint256) = 7 * 86_400
_MAX_PENALTY_BPS: constant(uint256) = 9_000  # of the maintenance margin of the liquidated size

# the collateral stablecoin
collateral_token: public(immutable(IERC20))
# price source for marks and settlement values
oracle: public(immutable(IOracle))
# the only caller of `trade`; set once
exchange: public(address)
# may halt markets
guardian: public(address)

market_count: public(uint256)
_markets: HashMap[uint256, Market]
_market_states: HashMap[uint256, MarketState]
# copies of the fields the hot paths read, one slot each (the Market struct spans 16 slots):
# lot word: price_tick | quantity_step << 64 | min_quantity << 128 | last_trade_time << 192
_lot: HashMap[uint256, uint256]
# risk word: im_fixed | im_rate_bps << 64 | mm_fixed << 80 | mm_rate_bps << 144 | max_price_age << 160
#            | settled << 192 (the margin scan reads one slot per market)
_risk: HashMap[uint256, uint256]
_SETTLED_BIT: constant(uint256) = 1 << 192

_collateral: HashMap[address, int256]
# account -> market -> packed position: quantity (int128, low half) | open_notional (int128, high)
_positions: HashMap[address, HashMap[uint256, uint256]]
_open_markets: HashMap[address, DynArray[uint256, c.MAX_OPEN_MARKETS]]

# base units held against losses beyond an account's collateral
insurance_fund: public(uint256)
# losses neither the account nor the insurance fund could pay, base units (never hidden)
bad_debt: public(uint256)
# trading fees accrued, base units
fees: public(uint256)
# liquidation penalty as bps of the maintenance margin of the liquidated size
liquidation_penalty_bps: public(uint256)
# share of the penalty that goes to the insurance fund, bps
insurance_share_bps: public(uint256)


@deploy
def __init__(collateral_token_: IERC20, oracle_: IOracle, guardian_: address):
    """
    @param collateral_token_ ERC-20 collateral (USDC: 6 decimals; all amounts in its base units).
    @param oracle_ Oracle providing mark and settlement feeds.
    @param guardian_ Address allowed to halt markets.
    """
    ownable.__init__()
    ownable_2step.__init__()
    collateral_token = collateral_token_
    oracle = oracle_
    self.guardian = guardian_
    # half the maintenance margin of the liquidated size; a fifth of it to insurance
    self.liquidation_penalty_bps = 5_000
    self.insurance_share_bps = 2_000
    log RolesSet(exchange=empty(address), guardian=guardian_)
    log LiquidationParamsSet(penalty_bps=5_000, insurance_share_bps=2_000)


# ---------------------------------------------------------------- collateral


@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Move `amount` collateral base units from the caller into its account.
    @param amount Base units (USDC: 6 decimals); caller must have approved this contract.
    """
    self._deposit(msg.sender, amount)


@external
@nonreentrant
def deposit_for(account: address, amount: uint256):
    """
    @notice Move `amount` base units from the caller into `account` (e.g. a treasury funding
            an operator's account).
    """
    assert account != empty(address), "Clearinghouse: zero account"
    self._deposit(account, amount)


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` base units of collateral to the caller. With open positions
            every mark must be fresh and equity after must stay >= initial margin.
    @param amount Base units, at most the account's collateral.
    """
    assert amount > 0, "Clearinghouse: zero amount"
    coll: int256 = self._collateral[msg.sender] - convert(amount, int256)
    assert coll >= 0, "Clearinghouse: exceeds collateral"
    self._collateral[msg.sender] = coll
    if len(self._open_markets[msg.sender]) > 0:
        self._check_initial_margin(msg.sender)
    assert extcall collateral_token.transfer(msg.sender, amount, default_return_value=True), "Clearinghouse: transfer failed"
    log Withdraw(account=msg.sender, amount=amount)
    log CollateralUpdated(account=msg.sender, collateral=coll)


@external
@nonreentrant
def fund_insurance(amount: uint256):
    """
    @notice Add `amount` base units from the caller to the insurance fund.
    """
    assert amount > 0, "Clearinghouse: zero amount"
    assert extcall collateral_token.transferFrom(msg.sender, self, amount, default_return_value=True), "Clearinghouse: transfer failed"
    self.insurance_fund += amount
    log InsuranceFunded(payer=msg.sender, amount=amount)


# ---------------------------------------------------------------- trading


@external
@nonreentrant
def trade(
    market_id: uint256,
    buyer: address,
    seller: address,
    quantity: uint256,
    price: int256,
    buyer_fee: uint256,
    seller_fee: uint256,
):
    """
    @notice Book a matched trade (Exchange only; it verified both sides' consent).
    @param quantity Thousandths of a unit, a multiple of the market's quantity step.
    @param price Base units per unit (may be negative), a multiple of the price tick.
    @param buyer_fee Base units charged to the buyer's collateral.
    @param seller_fee Base units charged to the seller's collateral.
    @dev A side whose risk grows must end >= IM on fresh marks; a side whose risk does not
         grow must end >= IM or keep equity >= 0 and its health ratio (see _check_health_kept).
    """
    assert msg.sender == self.exchange, "Clearinghouse: not exchange"
    lot: uint256 = self._lot[market_id]
    tick: uint256 = lot & packing.MASK64
    assert tick != 0, "Clearinghouse: unknown market"
    assert block.timestamp < lot >> 192, "Clearinghouse: trading closed"
    assert buyer != seller, "Clearinghouse: self trade"
    assert quantity >= (lot >> 128) & packing.MASK64 and quantity % ((lot >> 64) & packing.MASK64) == 0, "Clearinghouse: bad quantity"
    assert price % convert(tick, int256) == 0, "Clearinghouse: off tick"

    q: int256 = convert(quantity, int256)
    # a side whose risk does not grow skips the IM check, so snapshot it to check that its
    # health does not fall instead (see _check_health_kept)
    buyer_before: AccountSummary = empty(AccountSummary)
    seller_before: AccountSummary = empty(AccountSummary)
    if not self._grows(self._pos(buyer, market_id).quantity, q):
        buyer_before = self._summary(buyer)
    if not self._grows(self._pos(seller, market_id).quantity, -q):
        seller_before = self._summary(seller)
    buyer_risk: bool = self._apply_fill(buyer, market_id, q, price, buyer_fee)
    seller_risk: bool = self._apply_fill(seller, market_id, -q, price, seller_fee)
    self.fees += buyer_fee + seller_fee
    if buyer_risk or seller_risk:
        assert not self._market_states[market_id].halted, "Clearinghouse: market halted"
        assert self._market_states[market_id].long_oi <= self._markets[market_id].oi_cap, "Clearinghouse: open interest cap"
    if buyer_risk:
        self._check_initial_margin(buyer)
    else:
        self._check_health_kept(buyer, buyer_before)
    if seller_risk:
        self._check_initial_margin(seller)
    else:
        self._check_health_kept(seller, seller_before)
    log Trade(
        market_id=market_id,
        buyer=buyer,
        seller=seller,
        quantity=quantity,
        price=price,
        buyer_fee=buyer_fee,
        seller_fee=seller_fee,
    )


# ---------------------------------------------------------------- liquidation


@external
@nonreentrant
def liquidate(account: address, market_id: uint256, quantity: uint256) -> uint256:
    """
    @notice Take over (part of) an unhealthy account's position in `market_id` at the mark
            (rounded to the tick in the account's favour) and charge it a penalty: up to
            `liquidation_penalty_bps` of the maintenance margin of the size taken, capped so
            the account's health ratio never falls; `insurance_share_bps` of it goes to the
            insurance fund, the rest to the caller. Only the size that restores equity >=
            maintenance margin is taken. An insolvent account (equity <= 0) is closed out in
            every market at once at the marks, without penalty, and its remaining loss is
            paid by the insurance fund, then recorded as bad debt.
    @param account Account with equity < maintenance margin and fresh marks.
    @param market_id Market to liquidate in (ignored for an insolvent account).
    @param quantity Most thousandths of a unit the caller will take (rounded down to the step).
    @return Thousandths of a unit taken in `market_id` (whole position for a close-out).
    """
    assert account != msg.sender, "Clearinghouse: self liquidation"
    s: AccountSummary = self._summary(account)
    assert s.fresh, "Clearinghouse: stale mark"
    assert s.maintenance > 0 and s.equity < convert(s.maintenance, int256), "Clearinghouse: account healthy"

    taken: uint256 = 0
    if s.equity <= 0:
        taken = self._close_out(account, market_id)
    else:
        taken = self._liquidate_partial(account, market_id, quantity, s)
    self._absorb_if_flat(account)
    log CollateralUpdated(account=account, collateral=self._collateral[account])
    log CollateralUpdated(account=msg.sender, collateral=self._collateral[msg.sender])
    self._check_initial_margin(msg.sender)
    return taken


# ---------------------------------------------------------------- settlement


@external
def finalize_settlement(market_id: uint256):
    """
    @notice Fix the settlement price of a market whose delivery window has ended, once its
            settlement feed holds a value observed at or after delivery_end that has stood
            undisputed for the market's dispute window (or was resolved final by the owner).
            The price is rounded to the nearest tick (halves up) so every settlement is an exact
            transfer and neither side gains from the rounding.
    """
    m: Market = self._markets[market_id]
    assert m.price_tick != 0, "Clearinghouse: unknown market"
    assert not self._market_states[market_id].settled, "Clearinghouse: already settled"
    assert block.timestamp >= m.delivery_end, "Clearinghouse: delivery not over"
    p: int256 = 0
    observed_at: uint256 = 0
    updated_at: uint256 = 0
    disputed: bool = False
    final: bool = False
    p, observed_at, updated_at, disputed, final = staticcall oracle.feed(m.settlement_feed)
    assert observed_at >= m.delivery_end, "Clearinghouse: no settlement price"
    assert not disputed, "Clearinghouse: settlement disputed"
    assert final or updated_at + m.dispute_window <= block.timestamp, "Clearinghouse: dispute window open"
    # nearest tick (halves up): exact transfers without favouring either side
    tick: int256 = convert(m.price_tick, int256)
    price: int256 = self._floor_div(p + tick // 2, tick) * tick
    self._market_states[market_id].settled = True
    self._risk[market_id] = self._risk[market_id] | _SETTLED_BIT
    self._market_states[market_id].settlement_price = price
    log SettlementFinalized(market_id=market_id, price=price)


@external
@nonreentrant
def settle(account: address, market_id: uint256):
    """
    @notice Realise `account`'s position in a finalised market at the settlement price
            (quantity * price / 1000 - open_notional into collateral) and close it. Anyone may call.
    """
    assert self._market_states[market_id].settled, "Clearinghouse: not finalized"
    assert self._pos(account, market_id).quantity != 0, "Clearinghouse: no position"
    self._settle(account, market_id)


@external
@nonreentrant
def settle_many(accounts: DynArray[address, c.MAX_SETTLE_BATCH], market_id: uint256) -> uint256:
    """
    @notice `settle` for up to 100 accounts; accounts without a position are skipped.
    @return Number of positions settled.
    """
    assert self._market_states[market_id].settled, "Clearinghouse: not finalized"
    n: uint256 = 0
    for a: address in accounts:
        if self._pos(a, market_id).quantity != 0:
            self._settle(a, market_id)
            n += 1
    return n


# ---------------------------------------------------------------- admin


@external
def list_market(m: Market) -> uint256:
    """
    @notice List a market (owner). Ids start at 1.
    @param m Spec hash, feeds, delivery window (unix s), trading end, quantity step and minimum
           (thousandths), price tick (base units), IM/MM fixed (base units per unit) and rate
           (bps of |mark|), max price age and dispute window (s), long OI cap (thousandths).
    @return The new market id.
    """
    ownable._check_owner()
    assert m.mark_feed != empty(bytes32) and m.settlement_feed != empty(bytes32), "Clearinghouse: zero feed"
    assert m.mark_feed != m.settlement_feed, "Clearinghouse: same feed"
    assert m.delivery_start < m.delivery_end, "Clearinghouse: bad delivery window"
    assert m.last_trade_time > block.timestamp and m.last_trade_time <= m.delivery_end, "Clearinghouse: bad last trade time"
    assert m.quantity_step > 0 and m.min_quantity >= m.quantity_step, "Clearinghouse: bad quantity step"
    assert m.price_tick > 0, "Clearinghouse: bad tick"
    # exact notionals: tick * step is a whole number of base units
    assert (m.price_tick * m.quantity_step) % c.UQUANTITY_SCALE == 0, "Clearinghouse: tick x step not whole"
    self._check_params(
        MarketParams(
            im_fixed=m.im_fixed,
            im_rate_bps=m.im_rate_bps,
            mm_fixed=m.mm_fixed,
            mm_rate_bps=m.mm_rate_bps,
            max_price_age=m.max_price_age,
            dispute_window=m.dispute_window,
            oi_cap=m.oi_cap,
        )
    )
    market_id: uint256 = self.market_count + 1
    self.market_count = market_id
    self._markets[market_id] = m
    assert m.price_tick <= packing.MASK64 and m.quantity_step <= packing.MASK64 and m.min_quantity <= packing.MASK64, "Clearinghouse: lot beyond 64 bits"
    self._lot[market_id] = m.price_tick | (m.quantity_step << 64) | (m.min_quantity << 128) | (m.last_trade_time << 192)
    self._risk[market_id] = self._pack_risk(
        MarketParams(
            im_fixed=m.im_fixed,
            im_rate_bps=m.im_rate_bps,
            mm_fixed=m.mm_fixed,
            mm_rate_bps=m.mm_rate_bps,
            max_price_age=m.max_price_age,
            dispute_window=m.dispute_window,
            oi_cap=m.oi_cap,
        )
    )
    log MarketListed(
        market_id=market_id,
        spec_hash=m.spec_hash,
        mark_feed=m.mark_feed,
        settlement_feed=m.settlement_feed,
        delivery_start=m.delivery_start,
        delivery_end=m.delivery_end,
        last_trade_time=m.last_trade_time,
    )
    return market_id


@external
def set_market_params(market_id: uint256, p: MarketParams):
    """
    @notice Change a market's margin, freshness, dispute and OI parameters (owner), within
            hard bounds: 0 < MM <= IM per component, rates <= 100%, max price age
            60 s .. 7 days, dispute window <= 7 days, OI cap > 0.
    """
    ownable._check_owner()
    assert self._markets[market_id].price_tick != 0, "Clearinghouse: unknown market"
    assert not self._market_states[market_id].settled, "Clearinghouse: market settled"
    self._check_params(p)
    self._markets[market_id].im_fixed = p.im_fixed
    self._markets[market_id].im_rate_bps = p.im_rate_bps
    self._markets[market_id].mm_fixed = p.mm_fixed
    self._markets[market_id].mm_rate_bps = p.mm_rate_bps
    self._markets[market_id].max_price_age = p.max_price_age
    self._risk[market_id] = self._pack_risk(p)
    self._markets[market_id].dispute_window = p.dispute_window
    self._markets[market_id].oi_cap = p.oi_cap
    log MarketParamsSet(market_id=market_id, params=p)


@external
def halt_market(market_id: uint256):
    """
    @notice Stop risk-increasing trades and liquidations in a market (guardian or owner).
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "Clearinghouse: not guardian"
    assert self._markets[market_id].price_tick != 0, "Clearinghouse: unknown market"
    self._market_states[market_id].halted = True
    log MarketHalted(market_id=market_id, halted=True)


@external
def resume_market(market_id: uint256):
    """
    @notice Lift a halt (owner).
    """
    ownable._check_owner()
    assert self._market_states[market_id].halted, "Clearinghouse: not halted"
    self._market_states[market_id].halted = False
    log MarketHalted(market_id=market_id, halted=False)


@external
def set_exchange(exchange_: address):
    """
    @notice Connect the Exchange (owner, once: the Exchange can book trades for any account
            that signed an order, so it cannot be swapped afterwards).
    """
    ownable._check_owner()
    assert self.exchange == empty(address), "Clearinghouse: exchange already set"
    assert exchange_ != empty(address), "Clearinghouse: zero exchange"
    self.exchange = exchange_
    log RolesSet(exchange=exchange_, guardian=self.guardian)


@external
def set_guardian(guardian_: address):
    """
    @notice Set the address allowed to halt markets (owner).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log RolesSet(exchange=self.exchange, guardian=guardian_)


@external
def set_liquidation_params(penalty_bps: uint256, insurance_share_bps_: uint256):
    """
    @notice Set the penalty (bps of the maintenance margin of the liquidated size, <= 90%)
            and the insurance fund's share of it (bps, <= 100%) (owner).
    """
    ownable._check_owner()
    assert penalty_bps <= _MAX_PENALTY_BPS, "Clearinghouse: penalty too high"
    assert insurance_share_bps_ <= c.BPS, "Clearinghouse: share too high"
    self.liquidation_penalty_bps = penalty_bps
    self.insurance_share_bps = insurance_share_bps_
    log LiquidationParamsSet(penalty_bps=penalty_bps, insurance_share_bps=insurance_share_bps_)


@external
@nonreentrant
def withdraw_fees(to: address, amount: uint256):
    """
    @notice Send accrued trading fees (base units) to `to` (owner).
    """
    ownable._check_owner()
    assert amount <= self.fees, "Clearinghouse: exceeds fees"
    self.fees -= amount
    assert extcall collateral_token.transfer(to, amount, default_return_value=True), "Clearinghouse: transfer failed"
    log FeesWithdrawn(to=to, amount=amount)


# ---------------------------------------------------------------- views


@view
@external
def collateral(account: address) -> int256:
    """
    @return Collateral in base units (realised PnL included; negative only transiently under
            cross margin, see docs/protocol.md).
    """
    return self._collateral[account]


@view
@external
def position(account: address, market_id: uint256) -> (int256, int256):
    """
    @return quantity (signed thousandths), open_notional (base units).
    """
    pos: Position = self._pos(account, market_id)
    return pos.quantity, pos.open_notional


@view
@external
def equity(account: address) -> int256:
    """
    @return Collateral plus unrealised PnL at the current marks, base units (rounded down).
    """
    return self._summary(account).equity


@view
@external
def margin_requirements(account: address) -> (uint256, uint256):
    """
    @return initial, maintenance margin at the current marks, base units (rounded up).
    """
    s: AccountSummary = self._summary(account)
    return s.initial, s.maintenance


@view
@external
def is_liquidatable(account: address) -> bool:
    """
    @return True when equity < maintenance margin and every mark it depends on is fresh.
    """
    s: AccountSummary = self._summary(account)
    return s.fresh and s.maintenance > 0 and s.equity < convert(s.maintenance, int256)


@view
@external
def account_summary(account: address) -> AccountSummary:
    """
    @notice Everything a keeper or UI needs about an account in one call.
    """
    return self._summary(account)


@view
@external
def open_markets(account: address) -> DynArray[uint256, c.MAX_OPEN_MARKETS]:
    """
    @return Ids of markets where the account has a position.
    """
    return self._open_markets[account]


@view
@external
def market(market_id: uint256) -> Market:
    """
    @return The listed market's parameters (all zero for an unknown id).
    """
    return self._markets[market_id]


@view
@external
def market_state(market_id: uint256) -> MarketState:
    """
    @return halted, settled, settlement price (base units per unit), long OI (thousandths).
    """
    return self._market_states[market_id]


@view
@external
def mark(market_id: uint256) -> (int256, uint256, bool):
    """
    @return mark (base units per unit), observed_at (unix s), fresh (age <= max_price_age,
            not disputed). A settled market reports its settlement price as fresh.
    """
    return self._mark(market_id)


# ---------------------------------------------------------------- internals


@internal
def _deposit(account: address, amount: uint256):
    assert amount > 0, "Clearinghouse: zero amount"
    assert extcall collateral_token.transferFrom(msg.sender, self, amount, default_return_value=True), "Clearinghouse: transfer failed"
    coll: int256 = self._collateral[account] + convert(amount, int256)
    self._collateral[account] = coll
    log Deposit(account=account, payer=msg.sender, amount=amount)
    log CollateralUpdated(account=account, collateral=coll)


@internal
def _apply_fill(account: address, market_id: uint256, delta: int256, price: int256, fee: uint256) -> bool:
    """
    @dev Move `account`'s position by `delta` at `price` (exact notional), realise PnL on the
         reduced part, charge `fee`. Returns True when the account's risk in this market grew
         (|quantity| up, or a flip).
    """
    pos: Position = self._pos(account, market_id)
    q0: int256 = pos.quantity
    q1: int256 = q0 + delta
    notional: int256 = delta * price // c.QUANTITY_SCALE
    realised: int256 = 0
    on1: int256 = 0
    if q0 == 0 or (q0 > 0) == (delta > 0):
        on1 = pos.open_notional + notional
    elif abs(delta) <= abs(q0):
        # the closed share of the open notional, rounded toward +inf: the realised part is
        # rounded against the account, the remainder carries the difference (equity unchanged)
        closed_on: int256 = self._ceil_div(pos.open_notional * abs(delta), abs(q0))
        # value received for the closed part is -notional
        realised = -notional - closed_on
        on1 = pos.open_notional - closed_on
    else:
        # flip: close all of q0, open the rest at `price`
        realised = q0 * price // c.QUANTITY_SCALE - pos.open_notional
        on1 = q1 * price // c.QUANTITY_SCALE
    if q1 == 0:
        on1 = 0
    self._store_pos(account, market_id, q1, on1)

    coll: int256 = self._collateral[account] + realised - convert(fee, int256)
    self._collateral[account] = coll

    long0: uint256 = convert(max(q0, 0), uint256)
    long1: uint256 = convert(max(q1, 0), uint256)
    if long1 != long0:
        self._market_states[market_id].long_oi = self._market_states[market_id].long_oi + long1 - long0

    if q0 == 0:
        assert len(self._open_markets[account]) < c.MAX_OPEN_MARKETS, "Clearinghouse: too many markets"
        self._open_markets[account].append(market_id)
    elif q1 == 0:
        self._remove_open(account, market_id)

    log PositionUpdated(account=account, market_id=market_id, quantity=q1, open_notional=on1, realised_pnl=realised)
    log CollateralUpdated(account=account, collateral=coll)
    return self._grows(q0, delta)


@internal
def _liquidate_partial(account: address, market_id: uint256, quantity: uint256, s: AccountSummary) -> uint256:
    step: uint256 = self._markets[market_id].quantity_step
    assert not self._market_states[market_id].halted, "Clearinghouse: market halted"
    assert not self._market_states[market_id].settled, "Clearinghouse: market settled"
    q0: int256 = self._pos(account, market_id).quantity
    assert q0 != 0, "Clearinghouse: no position"
    mark_: int256 = 0
    observed_at: uint256 = 0
    fresh: bool = False
    mark_, observed_at, fresh = self._mark(market_id)

    # size that restores equity >= MM: with u = MM per unit and k the penalty as a share of
    # it, taking x units moves equity by -k*u*x and MM by -u*x, so x >= (MM - e) / (u (1 - k)).
    # When the account cannot afford the full penalty (k capped at e / MM) nothing short of
    # the whole position restores health.
    risk: uint256 = self._risk[market_id]
    u: uint256 = ((risk >> 80) & packing.MASK64) + ((risk >> 144) & 65535) * convert(abs(mark_), uint256) // c.BPS
    e: uint256 = convert(s.equity, uint256)
    size: uint256 = convert(abs(q0), uint256)
    pen_bps: uint256 = self.liquidation_penalty_bps
    if u > 0 and pen_bps * s.maintenance <= e * c.BPS:
        needed: uint256 = self._ceil_udiv((s.maintenance - e) * c.UQUANTITY_SCALE * c.BPS, u * (c.BPS - pen_bps))
        needed = self._ceil_udiv(needed, step) * step
        size = min(size, needed)
    size = min(size, quantity // step * step)
    assert size > 0, "Clearinghouse: zero quantity"

    # transfer price: the mark rounded to the tick in the liquidated account's favour
    tick: int256 = convert(self._markets[market_id].price_tick, int256)
    price: int256 = self._floor_div(mark_, tick) * tick
    x: int256 = convert(size, int256)
    if q0 > 0:
        if price < mark_:
            price += tick
        x = -x
    self._apply_fill(account, market_id, x, price, 0)
    self._apply_fill(msg.sender, market_id, -x, price, 0)

    # penalty capped so that (e1 - p) / m1 >= e0 / m0: the health ratio never falls
    after: AccountSummary = self._summary(account)
    cap: int256 = after.equity
    if after.maintenance > 0:
        cap = after.equity - self._ceil_div(s.equity * convert(after.maintenance, int256), convert(s.maintenance, int256))
    nominal: int256 = convert(size * u // c.UQUANTITY_SCALE * pen_bps // c.BPS, int256)
    penalty: uint256 = convert(max(min(nominal, cap), 0), uint256)
    insurance: uint256 = penalty * self.insurance_share_bps // c.BPS
    if penalty > 0:
        self._collateral[account] -= convert(penalty, int256)
        self._collateral[msg.sender] += convert(penalty - insurance, int256)
        self.insurance_fund += insurance
    log Liquidation(
        account=account,
        liquidator=msg.sender,
        market_id=market_id,
        quantity=-x,
        price=price,
        penalty=penalty,
        insurance_share=insurance,
    )
    return size


@internal
def _close_out(account: address, market_id: uint256) -> uint256:
    """
    @dev Insolvent account: every position goes to the caller at the tick-rounded mark (in
         the account's favour), no penalty; positions in settled markets are settled.
    """
    taken: uint256 = 0
    markets: DynArray[uint256, c.MAX_OPEN_MARKETS] = self._open_markets[account]
    for mid: uint256 in markets:
        if self._market_states[mid].settled:
            self._settle(account, mid)
            continue
        assert not self._market_states[mid].halted, "Clearinghouse: market halted"
        q: int256 = self._pos(account, mid).quantity
        mark_: int256 = 0
        observed_at: uint256 = 0
        fresh: bool = False
        mark_, observed_at, fresh = self._mark(mid)
        tick: int256 = convert(self._markets[mid].price_tick, int256)
        price: int256 = self._floor_div(mark_, tick) * tick
        if q > 0 and price < mark_:
            price += tick
        self._apply_fill(account, mid, -q, price, 0)
        self._apply_fill(msg.sender, mid, q, price, 0)
        if mid == market_id:
            taken = convert(abs(q), uint256)
        log Liquidation(
            account=account,
            liquidator=msg.sender,
            market_id=mid,
            quantity=q,
            price=price,
            penalty=0,
            insurance_share=0,
        )
    return taken


@internal
def _settle(account: address, market_id: uint256):
    pos: Position = self._pos(account, market_id)
    price: int256 = self._market_states[market_id].settlement_price
    pnl: int256 = pos.quantity * price // c.QUANTITY_SCALE - pos.open_notional
    coll: int256 = self._collateral[account] + pnl
    self._collateral[account] = coll
    self._positions[account][market_id] = 0
    if pos.quantity > 0:
        self._market_states[market_id].long_oi -= convert(pos.quantity, uint256)
    self._remove_open(account, market_id)
    log Settled(account=account, market_id=market_id, quantity=pos.quantity, pnl=pnl)
    log PositionUpdated(account=account, market_id=market_id, quantity=0, open_notional=0, realised_pnl=pnl)
    log CollateralUpdated(account=account, collateral=coll)
    self._absorb_if_flat(account)


@internal
def _absorb_if_flat(account: address):
    """
    @dev An account with no positions and negative collateral is insolvent for good: the
         insurance fund pays what it can, the rest is recorded as bad debt, collateral -> 0.
    """
    coll: int256 = self._collateral[account]
    if coll >= 0 or len(self._open_markets[account]) > 0:
        return
    loss: uint256 = convert(-coll, uint256)
    covered: uint256 = min(loss, self.insurance_fund)
    self.insurance_fund -= covered
    self.bad_debt += loss - covered
    self._collateral[account] = 0
    log BadDebt(account=account, covered_by_insurance=covered, uncovered=loss - covered)
    log CollateralUpdated(account=account, collateral=0)


@internal
def _remove_open(account: address, market_id: uint256):
    markets: DynArray[uint256, c.MAX_OPEN_MARKETS] = self._open_markets[account]
    n: uint256 = len(markets)
    for i: uint256 in range(n, bound=c.MAX_OPEN_MARKETS):
        if markets[i] == market_id:
            markets[i] = markets[n - 1]
            markets.pop()
            self._open_markets[account] = markets
            return


@internal
def _check_initial_margin(account: address):
    s: AccountSummary = self._summary(account)
    assert s.fresh, "Clearinghouse: stale mark"
    assert s.equity >= convert(s.initial, int256), "Clearinghouse: insufficient margin"


@internal
def _check_health_kept(account: address, before: AccountSummary):
    """
    @dev For a trade side whose risk did not grow: it passes if it still meets initial margin;
         else it must stay solvent (equity >= 0) and its health ratio (equity / MM) must not
         fall. An account can always de-risk near the mark, but a fill far off the mark cannot
         hand a counterparty value the account does not have (which would be hidden bad debt).
         Marks may be stale here: the last mark is still the best reference.
    """
    s: AccountSummary = self._summary(account)
    if s.equity >= convert(s.initial, int256):
        return
    assert s.equity >= 0 and s.equity * convert(before.maintenance, int256) >= before.equity * convert(s.maintenance, int256), "Clearinghouse: health would fall"


@view
@internal
def _mark(market_id: uint256) -> (int256, uint256, bool):
    # field reads, not a struct copy (4 slots): this runs for every open market of an account
    risk: uint256 = self._risk[market_id]
    if risk & _SETTLED_BIT != 0:
        return self._market_states[market_id].settlement_price, block.timestamp, True
    p: int256 = 0
    observed_at: uint256 = 0
    updated_at: uint256 = 0
    disputed: bool = False
    final: bool = False
    p, observed_at, updated_at, disputed, final = staticcall oracle.feed(self._markets[market_id].mark_feed)
    fresh: bool = observed_at != 0 and not disputed and observed_at + ((risk >> 160) & 2**32 - 1) >= block.timestamp
    return p, observed_at, fresh


@view
@internal
def _summary(account: address) -> AccountSummary:
    s: AccountSummary = empty(AccountSummary)
    s.collateral = self._collateral[account]
    s.equity = s.collateral
    s.fresh = True
    for mid: uint256 in self._open_markets[account]:
        pos: Position = self._pos(account, mid)
        mark_: int256 = 0
        observed_at: uint256 = 0
        fresh: bool = False
        mark_, observed_at, fresh = self._mark(mid)
        s.fresh = s.fresh and fresh
        s.equity += self._floor_div(pos.quantity * mark_, c.QUANTITY_SCALE) - pos.open_notional
        s.open_markets += 1
        risk: uint256 = self._risk[mid]
        if risk & _SETTLED_BIT != 0:
            # value is final: nothing left to margin
            continue
        size: uint256 = convert(abs(pos.quantity), uint256)
        absmark: uint256 = convert(abs(mark_), uint256)
        s.initial += self._margin(size, risk & packing.MASK64, (risk >> 64) & 65535, absmark)
        s.maintenance += self._margin(size, (risk >> 80) & packing.MASK64, (risk >> 144) & 65535, absmark)
    return s


@pure
@internal
def _grows(q0: int256, delta: int256) -> bool:
    # True when moving a position from q0 by delta grows its risk: |q| up, or a flip
    q1: int256 = q0 + delta
    return abs(q1) > abs(q0) or (q1 != 0 and q0 != 0 and (q1 > 0) != (q0 > 0))


@view
@internal
def _pos(account: address, market_id: uint256) -> Position:
    word: uint256 = self._positions[account][market_id]
    return Position(quantity=packing.from_u128(word & packing.MASK128), open_notional=packing.from_u128(word >> 128))


@internal
def _store_pos(account: address, market_id: uint256, q: int256, on: int256):
    assert packing.fits_int128(q) and packing.fits_int128(on), "Clearinghouse: position too large"
    self._positions[account][market_id] = packing.to_u128(q) | (packing.to_u128(on) << 128)


@pure
@internal
def _pack_risk(p: MarketParams) -> uint256:
    # bounds checked by _check_params: fixed <= mask64 (mm <= im), rates <= 10_000, age <= 7 days
    return p.im_fixed | (p.im_rate_bps << 64) | (p.mm_fixed << 80) | (p.mm_rate_bps << 144) | (p.max_price_age << 160)


@pure
@internal
def _margin(size: uint256, fixed: uint256, rate_bps: uint256, absmark: uint256) -> uint256:
    # |q| * (fixed + rate * |mark|) / 1000, rounded up against the account
    return self._ceil_udiv(size * (fixed * c.BPS + rate_bps * absmark), c.UQUANTITY_SCALE * c.BPS)


@view
@internal
def _check_params(p: MarketParams):
    assert p.mm_fixed + p.mm_rate_bps > 0, "Clearinghouse: zero margin"
    assert p.mm_fixed <= p.im_fixed and p.mm_rate_bps <= p.im_rate_bps, "Clearinghouse: MM above IM"
    assert p.im_rate_bps <= c.BPS, "Clearinghouse: rate above 100%"
    assert p.max_price_age >= _MAX_PRICE_AGE_MIN and p.max_price_age <= _MAX_PRICE_AGE_MAX, "Clearinghouse: bad max price age"
    assert p.dispute_window <= _MAX_DISPUTE_WINDOW, "Clearinghouse: bad dispute window"
    assert p.oi_cap > 0, "Clearinghouse: zero OI cap"
    assert p.im_fixed <= packing.MASK64, "Clearinghouse: margin beyond 64 bits"


@pure
@internal
def _floor_div(a: int256, b: int256) -> int256:
    # b > 0; rounds toward -infinity (Vyper's // truncates toward zero)
    q: int256 = a // b
    if a % b != 0 and a < 0:
        q -= 1
    return q


@pure
@internal
def _ceil_div(a: int256, b: int256) -> int256:
    # b > 0; rounds toward +infinity
    return -self._floor_div(-a, b)


@pure
@internal
def _ceil_udiv(a: uint256, b: uint256) -> uint256:
    return (a + b - 1) // b
