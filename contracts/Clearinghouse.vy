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
from interfaces import ISeriesRegistry

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


# an account at the current marks (ClearinghouseView.account_summary serves the first six fields)
struct Summary:
    collateral: int256
    equity: int256  # base units, rounded down
    initial: uint256  # base units, rounded up
    maintenance: uint256  # base units, rounded up
    fresh: bool  # every mark the account depends on is fresh
    open_markets: uint256
    stale_margin: uint256  # sum of the maintenance margin of stale legs, base units


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
    penalty: uint256  # paid by the account into the insurance fund, base units
    reward: uint256  # paid to the liquidator from the insurance fund, base units

event DeleverageNeeded:
    account: indexed(address)
    shortfall: uint256  # base units the insurance fund cannot carry

event Deleveraged:
    account: indexed(address)
    counterparty: indexed(address)
    market_id: indexed(uint256)
    quantity: int256  # signed quantity moved from account to counterparty
    price: int256
    loss: uint256  # base units of the account's loss the counterparty took

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
    penalty_cap_bps: uint256
    reward_bps: uint256
    min_reward: uint256
    max_reward: uint256


# hard bounds on owner-set parameters
_MAX_PRICE_AGE_MIN: constant(uint256) = 60
_MAX_PRICE_AGE_MAX: constant(uint256) = 7 * 86_400
_MAX_DISPUTE_WINDOW: constant(uint256) = 7 * 86_400
# a settlement value stands at least this long before it can be final, on any network
_MIN_DISPUTE_WINDOW: constant(uint256) = 600
_MAX_PENALTY_CAP_BPS: constant(uint256) = 2_500  # of the notional of the liquidated size
_MAX_REWARD_BPS: constant(uint256) = 100  # of the notional taken
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
# lot word: price_tick | quantity_step << 64 | min_quantity << 128 | last_trade_time << 192 (40
#           bits) | template_id << 232 (0: a one-off market listed by the owner)
_lot: HashMap[uint256, uint256]
# risk word: im_fixed | im_rate_bps << 64 | mm_fixed << 80 | mm_rate_bps << 144 | max_price_age << 160
#            | settled << 192 | oi_cap << 194 (the margin scan and a trade read one slot per market)
_risk: HashMap[uint256, uint256]
_SETTLED_BIT: constant(uint256) = 1 << 192
_MASK40: constant(uint256) = 2**40 - 1
# oi_cap in the risk word's top 62 bits (thousandths of a unit: 4.6e15 units)
_MAX_OI_CAP: constant(uint256) = 2**62 - 1

# lists markets of owner-approved series templates for anyone (issue 10). A templated market
# stores only its lot and risk words and its mark feed (class | start << 40 | end)
series_registry: public(immutable(address))

_collateral: HashMap[address, int256]
# account -> market -> packed position: quantity (int128, low half) | open_notional (int128, high)
_positions: HashMap[address, HashMap[uint256, uint256]]
_open_markets: HashMap[address, DynArray[uint256, c.MAX_OPEN_MARKETS]]

# base units held against losses beyond an account's collateral
insurance_fund: public(uint256)
# losses neither the account nor the insurance fund could pay, base units. Always 0: such a
# loss is assigned by auto-deleveraging (`deleverage`) instead; kept for integrators.
bad_debt: public(uint256)
# accounts whose loss the insurance fund cannot carry, waiting for `deleverage`
adl_pending: public(HashMap[address, bool])
adl_pending_count: public(uint256)
# trading fees accrued, base units
fees: public(uint256)
# liquidation parameters in one word (one SLOAD per liquidation):
# penalty_bps (of MM) | penalty_cap_bps (of notional) << 16 | reward_bps << 32 | min_reward << 48 | max_reward << 112
_liq_params: uint256


@deploy
def __init__(collateral_token_: IERC20, oracle_: IOracle, guardian_: address, series_registry_: address):
    """
    @param collateral_token_ ERC-20 collateral (USDC: 6 decimals; all amounts in its base units).
    @param oracle_ Oracle providing mark and settlement feeds.
    @param guardian_ Address allowed to halt markets.
    @param series_registry_ SeriesRegistry that lists markets of owner-approved templates
           for anyone (fixed; it lists only with parameters the owner approved there).
    """
    ownable.__init__()
    ownable_2step.__init__()
    collateral_token = collateral_token_
    oracle = oracle_
    series_registry = series_registry_
    self.guardian = guardian_
    log RolesSet(exchange=empty(address), guardian=guardian_)
    # half the MM of the liquidated size, at most 10% of its notional; keepers get $1 + 0.1% of
    # the notional taken, at most $1,000 (6-decimal collateral)
    self._set_liq_params(5_000, 1_000, 10, 10**6, 1_000 * 10**6)


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
    self._req(account != empty(address), "zero account")
    self._deposit(account, amount)


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` base units of collateral to the caller. With open positions
            every mark must be fresh and equity after must stay >= initial margin.
    @param amount Base units, at most the account's collateral.
    """
    self._req(amount > 0, "zero amount")
    coll: int256 = self._collateral[msg.sender] - convert(amount, int256)
    self._req(coll >= 0, "exceeds collateral")
    self._collateral[msg.sender] = coll
    if len(self._open_markets[msg.sender]) > 0:
        self._check_initial_margin(msg.sender, False)
    self._transfer(msg.sender, amount)
    log Withdraw(account=msg.sender, amount=amount)
    log CollateralUpdated(account=msg.sender, collateral=coll)


@external
@nonreentrant
def fund_insurance(amount: uint256):
    """
    @notice Add `amount` base units from the caller to the insurance fund.
    """
    self._req(amount > 0, "zero amount")
    self._pull(amount)
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
    self._req(msg.sender == self.exchange, "not exchange")
    lot: uint256 = self._lot[market_id]
    tick: uint256 = lot & packing.MASK64
    self._req(tick != 0, "unknown market")
    self._req(block.timestamp < (lot >> 192) & _MASK40, "trading closed")
    self._req(buyer != seller, "self trade")
    self._req(quantity >= (lot >> 128) & packing.MASK64 and quantity % ((lot >> 64) & packing.MASK64) == 0, "bad quantity")
    self._req(price % convert(tick, int256) == 0, "off tick")

    q: int256 = convert(quantity, int256)
    # a side whose risk does not grow skips the IM check, so snapshot it to check that its
    # health does not fall instead (see _check_health_kept)
    buyer_before: Summary = empty(Summary)
    seller_before: Summary = empty(Summary)
    if not self._grows(self._pos(buyer, market_id).quantity, q):
        buyer_before = self._summary(buyer)
    if not self._grows(self._pos(seller, market_id).quantity, -q):
        seller_before = self._summary(seller)
    buyer_risk: bool = self._apply_fill(buyer, market_id, q, price, buyer_fee)
    seller_risk: bool = self._apply_fill(seller, market_id, -q, price, seller_fee)
    self.fees += buyer_fee + seller_fee
    if buyer_risk or seller_risk:
        self._req(not self._market_states[market_id].halted, "market halted")
        self._req(self._market_states[market_id].long_oi <= self._risk[market_id] >> 194, "open interest cap")
    if buyer_risk:
        self._check_initial_margin(buyer, False)
    else:
        self._check_health_kept(buyer, buyer_before)
    if seller_risk:
        self._check_initial_margin(seller, False)
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
    @notice Take over (part of) an unhealthy account's position in `market_id`, one market
            per call. An account is unhealthy when its equity, with every stale leg valued one
            maintenance margin against it, is below its maintenance margin: a stale or
            disputed mark elsewhere cannot shield it. The market must have a fresh mark or be
            halted (a halted market is liquidated at its last mark).
            Solvent account (equity > 0 at the last marks): the caller takes the smallest size
            that restores health, never leaving a position below the market's minimum, at the
            mark rounded to the tick in the account's favour; the account pays a penalty
            (`liquidation_penalty_bps` of the maintenance margin of that size, at most
            `penalty_cap_bps` of its notional, capped so its health ratio never falls) into
            the insurance fund.
            Insolvent account: the caller takes the whole position in `market_id` at the
            rounded mark without penalty. If the insurance fund cannot carry the account's
            deficit plus `min_reward`, nothing moves: the account is flagged for `deleverage`
            (event DeleverageNeeded) and 0 is returned. A leg in a settled market is settled.
            The caller is paid a reward from the insurance fund (after the penalty is added):
            `min_reward` + `reward_bps` of the notional taken, at most `max_reward` (base
            units); for an insolvent account, at most what the fund holds beyond its deficit.
    @param account Account to liquidate.
    @param market_id Market to act on; the account must hold a position in it.
    @param quantity Most thousandths of a unit the caller will take (rounded down to the step;
           ignored for an insolvent account).
    @return Thousandths of a unit taken (0 when the account was only flagged or settled).
    """
    self._req(account != msg.sender, "self liquidation")
    s: Summary = self._summary(account)
    e: int256 = s.equity - convert(s.stale_margin, int256)
    self._req(self._unhealthy(s), "account healthy")
    q0: int256 = self._pos(account, market_id).quantity
    self._req(q0 != 0, "no position")
    if self._risk[market_id] & _SETTLED_BIT != 0:
        self._settle(account, market_id)
        return 0
    mark_: int256 = 0
    observed_at: uint256 = 0
    fresh: bool = False
    mark_, observed_at, fresh = self._mark(market_id)
    self._req(fresh or self._market_states[market_id].halted, "stale mark")
    price: int256 = self._liquidation_price(market_id, mark_, q0)

    taken: uint256 = convert(abs(q0), uint256)
    penalty: uint256 = 0
    reward_cap: uint256 = max_value(uint256)
    if s.equity > 0:
        taken, penalty = self._liquidate_partial(account, market_id, q0, quantity, mark_, price, s, e)
    else:
        # the fund must carry the deficit and still pay the minimum reward for every leg left
        deficit: uint256 = convert(max(-s.equity, 0), uint256)
        min_reward: uint256 = self._min_reward()
        if deficit + s.open_markets * min_reward > self.insurance_fund:
            # the fund cannot carry this account: its loss must be assigned (deleverage) first
            self._flag_adl(account)
            log DeleverageNeeded(account=account, shortfall=deficit + s.open_markets * min_reward - self.insurance_fund)
            return 0
        self._clear_adl(account)
        self._apply_fill(account, market_id, -q0, price, 0)
        self._apply_fill(msg.sender, market_id, q0, price, 0)
        # the fund keeps the deficit and the other legs' minimum rewards; this reward gets the rest
        reward_cap = self.insurance_fund - deficit - (s.open_markets - 1) * min_reward
    reward: uint256 = self._pay_reward(taken, price, penalty, reward_cap)
    log Liquidation(
        account=account,
        liquidator=msg.sender,
        market_id=market_id,
        quantity=q0 // abs(q0) * convert(taken, int256),
        price=price,
        penalty=penalty,
        reward=reward,
    )
    self._absorb_if_flat(account)
    log CollateralUpdated(account=account, collateral=self._collateral[account])
    log CollateralUpdated(account=msg.sender, collateral=self._collateral[msg.sender])
    # the liquidator may take a halted market's leg at its last mark: stale legs are valued
    # conservatively here instead of refusing
    self._check_initial_margin(msg.sender, True)
    return taken


@external
@nonreentrant
def deleverage(account: address, market_id: uint256, counterparties: DynArray[address, c.MAX_ADL_BATCH]) -> uint256:
    """
    @notice Auto-deleveraging: assign the loss of an account that the insurance fund cannot
            carry to profitable opposite positions in `market_id`, instead of leaving it on
            the book. The account's position is closed against each listed counterparty in
            turn at the (rounded) mark shifted against the counterparty by whole ticks, so
            each gives up at most its unrealised profit on the closed part, until the
            account's deficit fits in the insurance fund. Counterparties must hold the
            opposite side, be in profit at the mark and solvent (equity > 0; each keeps equity
            >= 0), and be listed by non-increasing
            profit x leverage (profit * notional / equity), the order a keeper computes over
            the whole book, as dYdX v4 and Hyperliquid rank it. Works in halted and settled
            markets (the settlement price is the mark). The caller's reward (as for
            `liquidate`) joins the loss being assigned.
    @param account Account whose deficit (minus equity) exceeds the insurance fund.
    @param market_id Market in which to close the account's position.
    @param counterparties Up to 16 accounts holding the opposite side, ranked as above.
    @return Thousandths of a unit of the account's position closed (0 when a flagged account no
            longer needs it: the flag is cleared).
    """
    s: Summary = self._summary(account)
    q0: int256 = self._pos(account, market_id).quantity
    self._req(q0 != 0, "no position")
    mark_: int256 = 0
    observed_at: uint256 = 0
    fresh: bool = False
    mark_, observed_at, fresh = self._mark(market_id)
    self._req(fresh or self._market_states[market_id].halted, "stale mark")
    base: int256 = self._liquidation_price(market_id, mark_, q0)
    held: uint256 = convert(abs(q0), uint256)
    reward: uint256 = self._reward(held, base)
    # enough that the account's other legs can still be closed out, each paying at least the
    # minimum reward, and the fund then covers what is left; never more (the surplus would
    # go to the bankrupt account)
    min_reward: uint256 = self._min_reward()
    shortfall: int256 = convert(reward + (s.open_markets - 1) * min_reward, int256) - s.equity - convert(self.insurance_fund, int256)
    if shortfall <= 0 and self.adl_pending[account]:
        # prices or the fund recovered since the account was flagged: unflag it (fees unblock)
        self._clear_adl(account)
        return 0
    self._req(shortfall > 0, "insurance covers")
    self._collateral[account] -= convert(reward, int256)
    self._collateral[msg.sender] += convert(reward, int256)
    # event-built books (keepers, indexers) see the caller's reward
    log CollateralUpdated(account=msg.sender, collateral=self._collateral[msg.sender])

    tick: uint256 = self._lot[market_id] & packing.MASK64
    side: int256 = q0 // abs(q0)
    remaining: uint256 = held
    last_score: uint256 = max_value(uint256)
    for cp: address in counterparties:
        if remaining == 0 or shortfall <= 0:
            break
        self._req(cp != account, "counterparty is the account")
        pc: Position = self._pos(cp, market_id)
        self._req(pc.quantity != 0 and (pc.quantity > 0) != (q0 > 0), "not an opposite position")
        profit: int256 = self._floor_div(pc.quantity * mark_, c.QUANTITY_SCALE) - pc.open_notional
        self._req(profit > 0, "counterparty not in profit")
        held_c: uint256 = convert(abs(pc.quantity), uint256)
        # an account insolvent overall is the liquidator's, not a source of profit to assign
        eq_c: int256 = self._summary(cp).equity
        self._req(eq_c > 0, "counterparty insolvent")
        score: uint256 = convert(profit, uint256) * (held_c * convert(abs(mark_), uint256) // c.UQUANTITY_SCALE) // convert(eq_c, uint256)
        self._req(score <= last_score, "counterparties not ranked")
        last_score = score
        x: uint256 = min(remaining, held_c)
        # the counterparty gives up at most its profit on the closed part, and never so much
        # that its own equity goes below zero (the transfer price's rounding costs it up to a
        # tick per unit): in whole ticks
        room: int256 = eq_c - convert(self._ceil_udiv(x * tick, c.UQUANTITY_SCALE), int256)
        share: uint256 = min(convert(profit, uint256) * x // held_c, convert(max(room, 0), uint256))
        give: uint256 = min(share, convert(shortfall, uint256))
        ticks: uint256 = self._ceil_udiv(give * c.UQUANTITY_SCALE, x * tick)
        if ticks * tick * x // c.UQUANTITY_SCALE > share:
            ticks -= 1
        moved: uint256 = ticks * tick * x // c.UQUANTITY_SCALE
        price: int256 = base + side * convert(ticks * tick, int256)
        xs: int256 = side * convert(x, int256)
        self._apply_fill(account, market_id, -xs, price, 0)
        self._apply_fill(cp, market_id, xs, price, 0)
        shortfall -= convert(moved, int256)
        remaining -= x
        log Deleveraged(account=account, counterparty=cp, market_id=market_id, quantity=xs, price=price, loss=moved)
        self._absorb_if_flat(cp)
        log CollateralUpdated(account=cp, collateral=self._collateral[cp])
    # the caller's reward pays for closing something: an empty or useless call would only
    # charge the bankrupt account (so its counterparties) again and again
    self._req(remaining < held, "zero quantity")
    if shortfall <= 0:
        self._clear_adl(account)
    else:
        self._flag_adl(account)
    self._absorb_if_flat(account)
    log CollateralUpdated(account=account, collateral=self._collateral[account])
    return held - remaining


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
    # field reads, not a copy of the 16-slot struct
    lot: uint256 = self._lot[market_id]
    tick: int256 = convert(lot & packing.MASK64, int256)
    self._req(tick != 0, "unknown market")
    self._req(not self._market_states[market_id].settled, "already settled")
    end: uint256 = 0
    feed: bytes32 = empty(bytes32)
    window: uint256 = 0
    end, feed, window = self._settlement_terms(market_id, lot)
    self._req(block.timestamp >= end, "delivery not over")
    p: int256 = 0
    observed_at: uint256 = 0
    updated_at: uint256 = 0
    disputed: bool = False
    final: bool = False
    p, observed_at, updated_at, disputed, final = staticcall oracle.feed(feed)
    self._req(observed_at >= end, "no settlement price")
    # observed_at may lead block time by the oracle's drift: the value must also be written after
    self._req(updated_at >= end, "written before delivery end")
    self._req(not disputed, "settlement disputed")
    self._req(final or updated_at + window <= block.timestamp, "dispute window open")
    # nearest tick (halves up): exact transfers without favouring either side
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
    self._req(self._market_states[market_id].settled, "not finalized")
    self._req(self._pos(account, market_id).quantity != 0, "no position")
    self._settle(account, market_id)


@external
@nonreentrant
def settle_many(accounts: DynArray[address, c.MAX_SETTLE_BATCH], market_id: uint256) -> uint256:
    """
    @notice `settle` for up to 100 accounts; accounts without a position, and accounts whose
            loss the insurance fund cannot carry (they need `deleverage`), are skipped.
    @return Number of positions settled.
    """
    self._req(self._market_states[market_id].settled, "not finalized")
    n: uint256 = 0
    price: int256 = self._market_states[market_id].settlement_price
    for a: address in accounts:
        pos: Position = self._pos(a, market_id)
        if pos.quantity == 0:
            continue
        # an account whose loss the fund cannot carry waits for `deleverage`, not the batch
        left: int256 = self._collateral[a] + pos.quantity * price // c.QUANTITY_SCALE - pos.open_notional
        if left < 0 and len(self._open_markets[a]) == 1 and convert(-left, uint256) > self.insurance_fund:
            continue
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
    self._req(m.mark_feed != empty(bytes32) and m.settlement_feed != empty(bytes32), "zero feed")
    self._req(m.mark_feed != m.settlement_feed, "same feed")
    self._req(m.delivery_start < m.delivery_end, "bad delivery window")
    self._req(m.last_trade_time > block.timestamp and m.last_trade_time <= m.delivery_end and m.last_trade_time <= _MASK40, "bad last trade time")
    self._req(m.quantity_step > 0 and m.min_quantity >= m.quantity_step, "bad quantity step")
    self._req(m.price_tick > 0, "bad tick")
    # exact notionals: tick * step is a whole number of base units
    self._req((m.price_tick * m.quantity_step) % c.UQUANTITY_SCALE == 0, "tick x step not whole")
    params: MarketParams = MarketParams(
        im_fixed=m.im_fixed,
        im_rate_bps=m.im_rate_bps,
        mm_fixed=m.mm_fixed,
        mm_rate_bps=m.mm_rate_bps,
        max_price_age=m.max_price_age,
        dispute_window=m.dispute_window,
        oi_cap=m.oi_cap,
    )
    self._check_params(params)
    self._req(m.price_tick <= packing.MASK64 and m.quantity_step <= packing.MASK64 and m.min_quantity <= packing.MASK64, "lot beyond 64 bits")
    market_id: uint256 = self.market_count + 1
    self.market_count = market_id
    self._markets[market_id] = m
    self._lot[market_id] = m.price_tick | (m.quantity_step << 64) | (m.min_quantity << 128) | (m.last_trade_time << 192)
    self._risk[market_id] = self._pack_risk(params)
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
def list_series_market(template_id: uint256, mark_feed: bytes32, settlement_feed: bytes32, lot: uint256, risk: uint256, spec_hash: bytes32) -> uint256:
    """
    @notice List one window of an approved series template (the SeriesRegistry only: it checked
            the template, the window and the bond). Stores three fresh words per market.
    @param template_id The registry's template id (< 2**24).
    @param mark_feed class | delivery_start << 40 | delivery_end.
    @param settlement_feed settlement class | delivery_start << 40 | delivery_end, for the event.
    @param lot price_tick | quantity_step << 64 | min_quantity << 128 | last_trade_time << 192.
    @param risk The template's risk word (see `_risk`; bounds checked at approval).
    @param spec_hash keccak(abi_encode(template spec_hash, delivery_start, delivery_end)), for the event.
    @return The new market id.
    """
    self._req(msg.sender == series_registry, "not series registry")
    market_id: uint256 = self.market_count + 1
    self.market_count = market_id
    self._markets[market_id].mark_feed = mark_feed
    self._lot[market_id] = lot | (template_id << 232)
    self._risk[market_id] = risk
    w: uint256 = convert(mark_feed, uint256)
    log MarketListed(
        market_id=market_id,
        spec_hash=spec_hash,
        mark_feed=mark_feed,
        settlement_feed=settlement_feed,
        delivery_start=(w >> 40) & _MASK40,
        delivery_end=w & _MASK40,
        last_trade_time=lot >> 192,
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
    self._req(self._lot[market_id] & packing.MASK64 != 0, "unknown market")
    self._req(not self._market_states[market_id].settled, "market settled")
    self._check_params(p)
    # margins, age and OI cap live in the risk word (`market` reads them from there)
    self._risk[market_id] = self._pack_risk(p)
    self._markets[market_id].dispute_window = p.dispute_window
    log MarketParamsSet(market_id=market_id, params=p)


@external
def halt_market(market_id: uint256):
    """
    @notice Stop risk-increasing trades and liquidations in a market (guardian or owner).
    """
    self._req(msg.sender == self.guardian or msg.sender == ownable.owner, "not guardian")
    self._req(self._lot[market_id] & packing.MASK64 != 0, "unknown market")
    self._market_states[market_id].halted = True
    log MarketHalted(market_id=market_id, halted=True)


@external
def resume_market(market_id: uint256):
    """
    @notice Lift a halt (owner).
    """
    ownable._check_owner()
    self._req(self._market_states[market_id].halted, "not halted")
    self._market_states[market_id].halted = False
    log MarketHalted(market_id=market_id, halted=False)


@external
def set_exchange(exchange_: address):
    """
    @notice Connect the Exchange (owner, once: the Exchange can book trades for any account
            that signed an order, so it cannot be swapped afterwards).
    """
    ownable._check_owner()
    self._req(self.exchange == empty(address), "exchange already set")
    self._req(exchange_ != empty(address), "zero exchange")
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
def set_liquidation_params(penalty_bps: uint256, penalty_cap_bps: uint256, reward_bps: uint256, min_reward: uint256, max_reward: uint256):
    """
    @notice Set the liquidation penalty and the liquidator's reward (owner).
    @param penalty_bps Penalty as bps of the maintenance margin of the liquidated size (<= 90%).
    @param penalty_cap_bps Penalty cap as bps of the liquidated notional (<= 25%).
    @param reward_bps Reward as bps of the notional taken (<= 1%), on top of `min_reward`.
    @param min_reward Base units paid for every liquidation, close-outs included.
    @param max_reward Base units; cap on the reward, >= min_reward, < 2**64.
    """
    ownable._check_owner()
    self._set_liq_params(penalty_bps, penalty_cap_bps, reward_bps, min_reward, max_reward)


@view
@external
def liquidation_params() -> (uint256, uint256, uint256, uint256, uint256):
    """
    @return penalty_bps (of MM), penalty_cap_bps (of notional), reward_bps (of notional),
            min_reward and max_reward (base units).
    """
    p: uint256 = self._liq_params
    return p & 65535, (p >> 16) & 65535, (p >> 32) & 65535, self._min_reward(), (p >> 112) & packing.MASK64


@external
@nonreentrant
def withdraw_fees(to: address, amount: uint256):
    """
    @notice Send accrued trading fees (base units) to `to` (owner); refused while any
            account waits for `deleverage` (its loss must be assigned before fees leave).
    """
    ownable._check_owner()
    self._req(self.adl_pending_count == 0, "loss unassigned")
    self._req(amount <= self.fees, "exceeds fees")
    self.fees -= amount
    self._transfer(to, amount)
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
    s: Summary = self._summary(account)
    return s.initial, s.maintenance


@view
@external
def is_liquidatable(account: address) -> bool:
    """
    @return True when equity, with each stale leg valued one maintenance margin against it,
            is below the maintenance margin (what `liquidate` checks; the market acted on
            must then be fresh or halted).
    """
    return self._unhealthy(self._summary(account))


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
    @return The listed market's parameters (all zero for an unknown id). A templated market's
            are rebuilt from its words and template, with spec_hash =
            keccak(abi_encode(template spec_hash, delivery_start, delivery_end)).
    """
    m: Market = self._markets[market_id]
    lot: uint256 = self._lot[market_id]
    risk: uint256 = self._risk[market_id]
    if lot >> 232 != 0:
        w: uint256 = convert(m.mark_feed, uint256)
        m.delivery_start = (w >> 40) & _MASK40
        m.delivery_end, m.settlement_feed, m.dispute_window = self._settlement_terms(market_id, lot)
        m.spec_hash = keccak256(abi_encode(staticcall ISeriesRegistry(series_registry).series_spec_hash(lot >> 232), m.delivery_start, m.delivery_end))
        m.last_trade_time = (lot >> 192) & _MASK40
        m.quantity_step = (lot >> 64) & packing.MASK64
        m.min_quantity = (lot >> 128) & packing.MASK64
        m.price_tick = lot & packing.MASK64
    # risk fields from the risk word for every market (set_market_params writes only it)
    m.im_fixed = risk & packing.MASK64
    m.im_rate_bps = (risk >> 64) & 65535
    m.mm_fixed = (risk >> 80) & packing.MASK64
    m.mm_rate_bps = (risk >> 144) & 65535
    m.max_price_age = (risk >> 160) & (2**32 - 1)
    m.oi_cap = risk >> 194
    return m


@view
@external
def market_template(market_id: uint256) -> uint256:
    """
    @return The series template a market was listed from (0: a one-off market).
    """
    return self._lot[market_id] >> 232


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
    self._req(amount > 0, "zero amount")
    self._pull(amount)
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
        self._req(len(self._open_markets[account]) < c.MAX_OPEN_MARKETS, "too many markets")
        self._open_markets[account].append(market_id)
    elif q1 == 0:
        self._remove_open(account, market_id)

    log PositionUpdated(account=account, market_id=market_id, quantity=q1, open_notional=on1, realised_pnl=realised)
    log CollateralUpdated(account=account, collateral=coll)
    return self._grows(q0, delta)


@internal
def _liquidate_partial(
    account: address, market_id: uint256, q0: int256, quantity: uint256, mark_: int256, price: int256, s: Summary, e: int256
) -> (uint256, uint256):
    lot: uint256 = self._lot[market_id]
    step: uint256 = (lot >> 64) & packing.MASK64
    min_q: uint256 = (lot >> 128) & packing.MASK64
    params: uint256 = self._liq_params
    # per unit: u = MM, pu = penalty (a share of MM, at most a share of the price)
    risk: uint256 = self._risk[market_id]
    u: uint256 = ((risk >> 80) & packing.MASK64) + ((risk >> 144) & 65535) * convert(abs(mark_), uint256) // c.BPS
    pu: uint256 = min(u * (params & 65535) // c.BPS, convert(abs(price), uint256) * ((params >> 16) & 65535) // c.BPS)
    # size that restores equity >= MM: taking x units moves equity by -pu*x and MM by -u*x,
    # so x >= (MM - e) / (u - pu). When the account cannot afford the penalty on that size
    # (pu * MM > e * u) nothing short of the whole position restores health.
    held: uint256 = convert(abs(q0), uint256)
    ee: uint256 = convert(max(e, 0), uint256)
    size: uint256 = held
    if ee > 0 and u > pu and pu * s.maintenance <= ee * u:
        needed: uint256 = self._ceil_udiv((s.maintenance - ee) * c.UQUANTITY_SCALE, u - pu)
        size = min(size, self._ceil_udiv(needed, step) * step)
    cap: uint256 = quantity // step * step
    size = min(size, cap)
    # never leave a remainder below the market minimum: take it all, or leave at least the minimum
    if size < held and held - size < min_q:
        size = held
        if held > cap:
            size = (held - min_q) // step * step
    self._req(size > 0, "zero quantity")

    x: int256 = convert(size, int256)
    if q0 > 0:
        x = -x
    self._apply_fill(account, market_id, x, price, 0)
    self._apply_fill(msg.sender, market_id, -x, price, 0)

    # penalty capped so that (e1 - p) / m1 >= e0 / m0: the health ratio never falls
    after: Summary = self._summary(account)
    hcap: int256 = after.equity
    if after.maintenance > 0:
        hcap = after.equity - self._ceil_div(s.equity * convert(after.maintenance, int256), convert(s.maintenance, int256))
    penalty: uint256 = convert(max(min(convert(size * pu // c.UQUANTITY_SCALE, int256), hcap), 0), uint256)
    self._collateral[account] -= convert(penalty, int256)
    return size, penalty


@view
@internal
def _liquidation_price(market_id: uint256, mark_: int256, q: int256) -> int256:
    # the mark rounded to the tick in the favour of the account that holds `q`
    tick: int256 = convert(self._lot[market_id] & packing.MASK64, int256)
    price: int256 = self._floor_div(mark_, tick) * tick
    if q > 0 and price < mark_:
        price += tick
    return price


@view
@internal
def _reward(size: uint256, price: int256) -> uint256:
    # min_reward + reward_bps of the notional, at most max_reward (base units)
    params: uint256 = self._liq_params
    notional: uint256 = size * convert(abs(price), uint256) // c.UQUANTITY_SCALE
    return min(self._min_reward() + notional * ((params >> 32) & 65535) // c.BPS, (params >> 112) & packing.MASK64)


@view
@internal
def _min_reward() -> uint256:
    # base units paid for every liquidation (word layout: see _liq_params)
    return (self._liq_params >> 48) & packing.MASK64


@internal
def _pay_reward(size: uint256, price: int256, penalty: uint256, cap: uint256) -> uint256:
    # the penalty goes into the insurance fund, the reward comes out of it (never below zero)
    fund: uint256 = self.insurance_fund + penalty
    reward: uint256 = min(min(self._reward(size, price), fund), cap)
    self.insurance_fund = fund - reward
    self._collateral[msg.sender] += convert(reward, int256)
    return reward


@internal
def _flag_adl(account: address):
    if not self.adl_pending[account]:
        self.adl_pending[account] = True
        self.adl_pending_count += 1


@internal
def _clear_adl(account: address):
    if self.adl_pending[account]:
        self.adl_pending[account] = False
        self.adl_pending_count -= 1


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
         insurance fund pays its loss, collateral -> 0.
    """
    if len(self._open_markets[account]) > 0:
        return
    # a flat account owes nothing more to deleverage (its loss is paid here or the call reverts)
    self._clear_adl(account)
    coll: int256 = self._collateral[account]
    if coll >= 0:
        return
    loss: uint256 = convert(-coll, uint256)
    # a loss the fund cannot carry must have been assigned by `deleverage` first: the token
    # balance always covers every claim (DESIGN invariant 1), so it is never written off
    self._req(loss <= self.insurance_fund, "deleverage needed")
    self.insurance_fund -= loss
    self._collateral[account] = 0
    log BadDebt(account=account, covered_by_insurance=loss, uncovered=0)
    log CollateralUpdated(account=account, collateral=0)


@internal
def _set_liq_params(penalty_bps: uint256, penalty_cap_bps: uint256, reward_bps: uint256, min_reward: uint256, max_reward: uint256):
    self._req(penalty_bps <= _MAX_PENALTY_BPS, "penalty too high")
    self._req(penalty_cap_bps <= _MAX_PENALTY_CAP_BPS, "penalty cap too high")
    self._req(reward_bps <= _MAX_REWARD_BPS, "reward too high")
    self._req(min_reward <= max_reward and max_reward <= packing.MASK64, "bad reward bounds")
    self._liq_params = penalty_bps | (penalty_cap_bps << 16) | (reward_bps << 32) | (min_reward << 48) | (max_reward << 112)
    log LiquidationParamsSet(
        penalty_bps=penalty_bps,
        penalty_cap_bps=penalty_cap_bps,
        reward_bps=reward_bps,
        min_reward=min_reward,
        max_reward=max_reward,
    )


@internal
def _transfer(to: address, amount: uint256):
    # one call site per token call: each costs ~100 bytes of the 24,576
    self._req(extcall collateral_token.transfer(to, amount, default_return_value=True), "transfer failed")


@internal
def _pull(amount: uint256):
    self._req(extcall collateral_token.transferFrom(msg.sender, self, amount, default_return_value=True), "transfer failed")


@pure
@internal
def _req(ok: bool, reason: String[49]):
    # one shared revert path: an inline `assert ..., "reason"` repeats the ABI encoding of
    # its reason at every call site (~55 bytes each), which the 24,576-byte limit cannot afford.
    # Call sites pass the reason without its "Clearinghouse: " prefix, added here once: a
    # reason of 18+ characters then fits one 32-byte word at its call site (~670 bytes saved).
    # The revert data is unchanged: "Clearinghouse: <reason>".
    if not ok:
        raw_revert(abi_encode(concat("Clearinghouse: ", reason), method_id=method_id("Error(string)")))


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
def _check_initial_margin(account: address, stale_ok: bool):
    """
    @dev Equity >= IM, every stale leg valued one maintenance margin against the account.
         Without `stale_ok` every mark must be fresh (so nothing is discounted): trades and
         withdrawals. A liquidator may take a halted leg at its last mark (`stale_ok`).
    """
    s: Summary = self._summary(account)
    self._req(stale_ok or s.fresh, "stale mark")
    self._req(s.equity - convert(s.stale_margin, int256) >= convert(s.initial, int256), "insufficient margin")


@internal
def _check_health_kept(account: address, before: Summary):
    """
    @dev For a trade side whose risk did not grow: it passes if it still meets initial margin;
         else it must stay solvent (equity >= 0) and its health ratio (equity / MM) must not
         fall. An account can always de-risk near the mark, but a fill far off the mark cannot
         hand a counterparty value the account does not have (which would be hidden bad debt).
         Marks may be stale here: the last mark is still the best reference.
    """
    s: Summary = self._summary(account)
    if s.equity >= convert(s.initial, int256):
        return
    self._req(s.equity >= 0 and s.equity * convert(before.maintenance, int256) >= before.equity * convert(s.maintenance, int256), "health would fall")


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
def _settlement_terms(market_id: uint256, lot: uint256) -> (uint256, bytes32, uint256):
    # delivery_end, settlement feed, dispute window. A templated market's come from its mark
    # feed (class | start << 40 | end) and template: the settlement class with the same low
    # 80 bits, the template's window unless the owner set one (set_market_params)
    window: uint256 = self._markets[market_id].dispute_window
    if lot >> 232 == 0:
        return self._markets[market_id].delivery_end, self._markets[market_id].settlement_feed, window
    w: uint256 = convert(self._markets[market_id].mark_feed, uint256)
    # the registry's settlement class | dispute_window of the template (templates never change)
    s: uint256 = staticcall ISeriesRegistry(series_registry).settlement_word(lot >> 232)
    if window == 0:
        window = s & (2**80 - 1)
    return w & _MASK40, convert((s >> 80 << 80) | (w & (2**80 - 1)), bytes32), window


@pure
@internal
def _unhealthy(s: Summary) -> bool:
    # below maintenance margin with every stale leg valued one MM against the account
    return s.maintenance > 0 and s.equity - convert(s.stale_margin, int256) < convert(s.maintenance, int256)


@view
@internal
def _summary(account: address) -> Summary:
    s: Summary = empty(Summary)
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
        mm: uint256 = self._margin(size, (risk >> 80) & packing.MASK64, (risk >> 144) & 65535, absmark)
        s.maintenance += mm
        # a halted market is valued at its last mark on purpose (the guardian's call)
        if not fresh and not self._market_states[mid].halted:
            s.stale_margin += mm
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
    self._req(packing.fits_int128(q) and packing.fits_int128(on), "position too large")
    self._positions[account][market_id] = packing.to_u128(q) | (packing.to_u128(on) << 128)


@pure
@internal
def _pack_risk(p: MarketParams) -> uint256:
    # bounds checked by _check_params: fixed <= mask64 (mm <= im), rates <= 10_000, age <= 7 days
    return p.im_fixed | (p.im_rate_bps << 64) | (p.mm_fixed << 80) | (p.mm_rate_bps << 144) | (p.max_price_age << 160) | (p.oi_cap << 194)


@pure
@internal
def _margin(size: uint256, fixed: uint256, rate_bps: uint256, absmark: uint256) -> uint256:
    # |q| * (fixed + rate * |mark|) / 1000, rounded up against the account
    return self._ceil_udiv(size * (fixed * c.BPS + rate_bps * absmark), c.UQUANTITY_SCALE * c.BPS)


@view
@internal
def _check_params(p: MarketParams):
    self._req(p.mm_fixed + p.mm_rate_bps > 0, "zero margin")
    self._req(p.mm_fixed <= p.im_fixed and p.mm_rate_bps <= p.im_rate_bps, "MM above IM")
    self._req(p.im_rate_bps <= c.BPS, "rate above 100%")
    self._req(p.max_price_age >= _MAX_PRICE_AGE_MIN and p.max_price_age <= _MAX_PRICE_AGE_MAX, "bad max price age")
    self._req(p.dispute_window >= _MIN_DISPUTE_WINDOW and p.dispute_window <= _MAX_DISPUTE_WINDOW, "bad dispute window")
    self._req(p.oi_cap > 0 and p.oi_cap <= _MAX_OI_CAP, "bad OI cap")
    self._req(p.im_fixed <= packing.MASK64, "margin beyond 64 bits")


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
