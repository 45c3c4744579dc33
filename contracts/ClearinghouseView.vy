# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread ClearinghouseView
@notice Read-only composites over one Clearinghouse, for keepers, the SDK and UIs, deployed
        next to it (as curve-stablecoin's ControllerView serves its Controller): the
        Clearinghouse keeps its state, the rules and the pinned views (collateral, position,
        equity, margin_requirements, is_liquidatable, mark, market, market_state,
        open_markets), and this contract combines them so that the Clearinghouse's bytecode
        stays free for the rules (EIP-170 limit, 24,576 bytes).

        Every value is read from the Clearinghouse's external views in the same call, so it is
        exactly what the Clearinghouse computes at that block: nothing is re-derived here, and
        no rule can drift. Holds no state, has no owner and nothing to pause.

        Units as in the Clearinghouse: quantity in signed thousandths of a unit; price and mark
        in collateral base units per 1 unit (may be negative); amounts in collateral base units.
"""

# cross-margin breadth, as the Clearinghouse's constants.vy
import constants as c


struct Market:
    spec_hash: bytes32
    mark_feed: bytes32
    settlement_feed: bytes32
    delivery_start: uint256
    delivery_end: uint256
    last_trade_time: uint256
    quantity_step: uint256
    min_quantity: uint256
    price_tick: uint256
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
    settlement_price: int256
    long_oi: uint256


struct AccountSummary:
    collateral: int256  # base units
    equity: int256  # base units, rounded down
    initial: uint256  # initial margin, base units, rounded up
    maintenance: uint256  # maintenance margin, base units, rounded up
    fresh: bool  # every mark the account depends on is fresh
    open_markets: uint256  # number of markets with a position


struct PositionView:
    market_id: uint256
    quantity: int256  # signed thousandths of a unit
    open_notional: int256  # base units
    mark: int256  # base units per unit (the settlement price once settled)
    fresh: bool


struct MarketView:
    market: Market
    state: MarketState
    mark: int256  # base units per unit
    observed_at: uint256  # unix s
    fresh: bool


struct AccountHealth:
    summary: AccountSummary
    liquidatable: bool  # what Clearinghouse.is_liquidatable returns
    adl_pending: bool  # flagged for deleverage


interface IClearinghouseViews:
    def collateral(account: address) -> int256: view
    def position(account: address, market_id: uint256) -> (int256, int256): view
    def equity(account: address) -> int256: view
    def margin_requirements(account: address) -> (uint256, uint256): view
    def is_liquidatable(account: address) -> bool: view
    def open_markets(account: address) -> DynArray[uint256, c.MAX_OPEN_MARKETS]: view
    def market(market_id: uint256) -> Market: view
    def market_state(market_id: uint256) -> MarketState: view
    def mark(market_id: uint256) -> (int256, uint256, bool): view
    def adl_pending(account: address) -> bool: view


# the Clearinghouse this contract reads
clearinghouse: public(immutable(IClearinghouseViews))


@deploy
def __init__(clearinghouse_: IClearinghouseViews):
    """
    @param clearinghouse_ The Clearinghouse to read (not checked: a wrong address only makes
           every view revert or read garbage, and the deploy script writes both to one manifest).
    """
    clearinghouse = clearinghouse_


@view
@external
def account_summary(account: address) -> AccountSummary:
    """
    @notice Everything a keeper or UI needs about an account in one call (the view the
            Clearinghouse served before issue 13, same ABI).
    @return collateral and equity (base units), initial and maintenance margin (base units),
            fresh (every open market's mark fresh), number of open markets.
    """
    return self._summary(account)


@view
@external
def account_health(account: address) -> AccountHealth:
    """
    @notice `account_summary` plus the liquidation status a keeper acts on, in one call.
    @return summary, liquidatable (Clearinghouse.is_liquidatable), adl_pending (flagged for
            deleverage).
    """
    return AccountHealth(
        summary=self._summary(account),
        liquidatable=staticcall clearinghouse.is_liquidatable(account),
        adl_pending=staticcall clearinghouse.adl_pending(account),
    )


@view
@external
def positions(account: address) -> DynArray[PositionView, c.MAX_OPEN_MARKETS]:
    """
    @notice Every open position of `account` with its market's mark, in the Clearinghouse's
            `open_markets` order.
    @return market id, quantity (signed thousandths), open notional (base units), mark (base
            units per unit) and whether it is fresh, per open market.
    """
    out: DynArray[PositionView, c.MAX_OPEN_MARKETS] = []
    for mid: uint256 in staticcall clearinghouse.open_markets(account):
        q: int256 = 0
        on: int256 = 0
        q, on = staticcall clearinghouse.position(account, mid)
        p: int256 = 0
        observed_at: uint256 = 0
        fresh: bool = False
        p, observed_at, fresh = staticcall clearinghouse.mark(mid)
        out.append(PositionView(market_id=mid, quantity=q, open_notional=on, mark=p, fresh=fresh))
    return out


@view
@external
def market_view(market_id: uint256) -> MarketView:
    """
    @notice A market's parameters, state and mark in one call.
    @return market (all zero for an unknown id), state (halted, settled, settlement price,
            long OI), mark (base units per unit), observed_at (unix s), fresh.
    """
    p: int256 = 0
    observed_at: uint256 = 0
    fresh: bool = False
    p, observed_at, fresh = staticcall clearinghouse.mark(market_id)
    return MarketView(
        market=staticcall clearinghouse.market(market_id),
        state=staticcall clearinghouse.market_state(market_id),
        mark=p,
        observed_at=observed_at,
        fresh=fresh,
    )


@view
@internal
def _summary(account: address) -> AccountSummary:
    open_: DynArray[uint256, c.MAX_OPEN_MARKETS] = staticcall clearinghouse.open_markets(account)
    fresh: bool = True
    for mid: uint256 in open_:
        p: int256 = 0
        observed_at: uint256 = 0
        f: bool = False
        p, observed_at, f = staticcall clearinghouse.mark(mid)
        fresh = fresh and f
    im: uint256 = 0
    mm: uint256 = 0
    im, mm = staticcall clearinghouse.margin_requirements(account)
    return AccountSummary(
        collateral=staticcall clearinghouse.collateral(account),
        equity=staticcall clearinghouse.equity(account),
        initial=im,
        maintenance=mm,
        fresh=fresh,
        open_markets=len(open_),
    )
