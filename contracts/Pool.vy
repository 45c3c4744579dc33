# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Pool (a virtual compute plant)
@notice An ERC-4626 vault (snekmate's erc4626 module) over the venue's collateral (USDC) that
        hedges many small GPU hosts as one. The pool holds ONE Clearinghouse account: itself.
        Members deposit collateral (shares at NAV) and declare capacity (GPU class, node, GPU
        count, share of hours committed); a manager sizes and rolls the hedge by approving
        orders for the pool's account, and the pool's EIP-1271 `isValidSignature` answers the
        magic value only for an order it approved on chain and that still passes the members'
        limits at the moment of the fill (the Exchange asks a contract signer on every fill).

        The manager cannot move funds: it has no transfer, withdraw or deposit path; its only
        power is approving orders of the pool, and each must (a) be in an allowed market or
        reduce the position, (b) execute within a slippage band around the fresh mark, (c) leave
        |position| within max_hedge_bps of the declared capacity for that market (or reduce it),
        (d) leave initial margin <= max_margin_bps of equity (or reduce the position).

        Margin bound (d), checked at approval and again on every fill with the order's
        remaining quantity r: IM_after <= IM_now - IM_market(|q0|) + IM_market(|q0 +- r|) at the
        current mark (exact per market, rounded up), and equity_after >= equity_now - r x
        max(0, adverse price - mark) / 1000 - fee(r x |price| / 1000, max(maker, taker) bps) - 1.
        IM and the loss are monotone (|q| convex) in the filled part, so any partial fill of
        the remaining quantity is bounded by the check on the whole of it.

        NAV (totalAssets) = the pool's Clearinghouse equity (unrealised PnL at the marks) + idle
        collateral held by the pool; joins price at NAV rounded up and exits at NAV rounded
        down (the Clearinghouse floors each leg's PnL: the true value lies within the number of
        open markets of it), and shares round in the pool's favour, with 10**6 virtual shares
        against the first-depositor inflation attack. Joins and exits need fresh marks and are
        closed while a held market is past its last trade time and not yet settled into the
        pool (its settlement value would be known before it is booked). Exits beyond free
        collateral (what keeps IM within max_margin_bps) wait in a FIFO queue served, by
        anyone, as margin frees, at the NAV of the moment they are served.

        Governance: the owner (a Safe or Timelock) changes limits and allowed markets only
        through a delay (immutable) during which members can leave; disallowing a market and
        replacing the manager take effect at once (they only remove power).
        Units: amounts in collateral base units (USDC 6 dp), quantities in thousandths of a
        market unit, bps of 10_000.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626
from snekmate.extensions import erc4626
from snekmate.utils import math

import constants as c
from interfaces import IPoolVenue

initializes: erc4626

exports: (
    erc4626.erc20.totalSupply,
    erc4626.erc20.balanceOf,
    erc4626.erc20.transfer,
    erc4626.erc20.transferFrom,
    erc4626.erc20.approve,
    erc4626.erc20.allowance,
    erc4626.erc20.name,
    erc4626.erc20.symbol,
    erc4626.erc20.decimals,
    erc4626.asset,
)


struct Limits:
    max_hedge_bps: uint256  # |position| <= this share of declared capacity (<= 10_000)
    max_margin_bps: uint256  # initial margin <= this share of equity (<= 10_000)
    max_slippage_bps: uint256  # fills within mark +- (fixed + bps x |mark|)
    max_slippage_fixed: uint256  # base units per unit
    min_collateral_per_gpu: uint256  # base units a member must hold per declared GPU


struct MarketConfig:
    capacity_key: bytes32  # keccak256(gpu_class ++ node) the market hedges
    units_per_gpu: uint256  # thousandths of a market unit per committed GPU over the window; 0 = not allowed


struct Capacity:
    gpu_class: bytes32
    node: bytes32
    count: uint256  # GPUs
    commit_bps: uint256  # share of their hours committed to the pool


# the pool's account, read through the Clearinghouse's pinned views only
struct Summary:
    collateral: int256
    equity: int256
    initial: uint256
    fresh: bool  # every mark the account depends on is fresh
    open_markets: uint256


struct Exit:
    owner: address
    receiver: address
    shares: uint256


event ManagerSet:
    manager: indexed(address)

event OwnerTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OwnerTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event LimitsQueued:
    limits: Limits
    eta: uint256

event LimitsSet:
    limits: Limits

event MarketQueued:
    market_id: indexed(uint256)
    config: MarketConfig
    eta: uint256

event MarketSet:
    market_id: indexed(uint256)
    config: MarketConfig

event CapacityDeclared:
    member: indexed(address)
    gpu_class: bytes32
    node: bytes32
    count: uint256
    commit_bps: uint256

event OrderApproved:
    order_hash: indexed(bytes32)
    market_id: indexed(uint256)
    is_buy: bool
    quantity: uint256
    price: int256
    expiry: uint256

event OrderRevoked:
    order_hash: indexed(bytes32)

event ExitQueued:
    index: indexed(uint256)
    owner: indexed(address)
    receiver: address
    shares: uint256

event ExitServed:
    index: indexed(uint256)
    owner: indexed(address)
    shares: uint256
    assets: uint256


IERC1271_MAGIC: constant(bytes4) = 0x1626ba7e
_INVALID: constant(bytes4) = 0xffffffff
# shares carry 6 more decimals than the asset: 10**6 virtual shares and 1 virtual asset
DECIMALS_OFFSET: constant(uint8) = 6
VIRTUAL_SHARES: constant(uint256) = 10**6
# an approval lives at most this long (unix s past approval)
MAX_APPROVAL_LIFE: public(constant(uint256)) = 7 * 86400
# bounds on the governance delay (unix s)
MIN_DELAY: public(constant(uint256)) = 3600
MAX_DELAY: public(constant(uint256)) = 30 * 86400
# exits served per serve_exits call
MAX_SERVE: constant(uint256) = 64

# check results (0 = passes)
_OK: constant(uint256) = 0
_NOT_POOL: constant(uint256) = 1
_NOT_ALLOWED: constant(uint256) = 2
_STALE: constant(uint256) = 3
_SLIPPAGE: constant(uint256) = 4
_HEDGE_CAP: constant(uint256) = 5
_MARGIN_CAP: constant(uint256) = 6

clearinghouse: public(immutable(IPoolVenue))
exchange: public(immutable(IPoolVenue))
_TOKEN: immutable(IERC20)
delay: public(immutable(uint256))

owner: public(address)
pending_owner: public(address)
manager: public(address)

limits: public(Limits)
pending_limits: public(Limits)
pending_limits_eta: public(uint256)

market_config: public(HashMap[uint256, MarketConfig])
pending_market: public(HashMap[uint256, MarketConfig])
pending_market_eta: public(HashMap[uint256, uint256])

capacity: public(HashMap[address, Capacity])
# sum over members of count x commit_bps, per capacity key (GPU-bps)
committed: public(HashMap[bytes32, uint256])

# order hash -> the approved order (trader == empty: none)
_approved: HashMap[bytes32, IPoolVenue.Order]

exits: public(HashMap[uint256, Exit])
exit_head: public(uint256)
exit_tail: public(uint256)


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    clearinghouse_: IPoolVenue,
    exchange_: IPoolVenue,
    asset_: IERC20,
    owner_: address,
    manager_: address,
    delay_: uint256,
    limits_: Limits,
):
    """
    @param name_ Share token name.
    @param symbol_ Share token symbol (<= 5 characters).
    @param clearinghouse_ The venue's Clearinghouse (the pool's account lives there).
    @param exchange_ The Exchange whose orders the pool approves; must book into clearinghouse_.
    @param asset_ The Clearinghouse's collateral token (USDC).
    @param owner_ Governance (a Safe or Timelock): limits and markets, through `delay_`.
    @param manager_ Who approves hedge orders within the limits.
    @param delay_ Seconds between queuing and applying a limits or market change
           (MIN_DELAY..MAX_DELAY).
    @param limits_ The initial limits (see `queue_limits`).
    """
    assert staticcall exchange_.clearinghouse() == clearinghouse_.address, "Pool: exchange of another clearinghouse"
    assert owner_ != empty(address), "Pool: zero owner"
    assert delay_ >= MIN_DELAY and delay_ <= MAX_DELAY, "Pool: delay out of bounds"
    self._check_limits(limits_)
    erc4626.__init__(name_, symbol_, asset_, DECIMALS_OFFSET, name_, "1")
    clearinghouse = clearinghouse_
    exchange = exchange_
    _TOKEN = asset_
    delay = delay_
    self.owner = owner_
    self.manager = manager_
    self.limits = limits_
    # the pool only ever deposits its own idle balance into its own account
    assert extcall asset_.approve(clearinghouse_.address, max_value(uint256), default_return_value=True), "Pool: approve failed"
    log OwnerTransferred(previous_owner=empty(address), new_owner=owner_)
    log ManagerSet(manager=manager_)
    log LimitsSet(limits=limits_)


# ---------------------------------------------------------------- ERC-4626


@view
@external
def totalAssets() -> uint256:
    """
    @return NAV in asset base units: Clearinghouse equity at the marks (rounded down; 0 if
            negative) plus idle collateral held by the pool.
    """
    return self._nav(False)


@view
@external
def convertToShares(assets: uint256) -> uint256:
    """
    @return Shares (asset decimals + 6) worth `assets` base units at NAV, rounded down.
    """
    return self._to_shares(assets, self._nav(False), False)


@view
@external
def convertToAssets(shares: uint256) -> uint256:
    """
    @return Asset base units `shares` are worth at NAV, rounded down.
    """
    return self._to_assets(shares, self._nav(False), False)


@view
@external
def maxDeposit(receiver: address) -> uint256:
    """
    @return Base units `receiver` may deposit now: unlimited while joins are open, else 0
            (closed as for exits, and while the account's equity at the marks is negative).
    """
    if self._closed_reason(True) != "":
        return 0
    return max_value(uint256)


@view
@external
def maxMint(receiver: address) -> uint256:
    """
    @return Shares `receiver` may mint now: unlimited while joins are open, else 0 (as maxDeposit).
    """
    if self._closed_reason(True) != "":
        return 0
    return max_value(uint256)


@view
@external
def maxWithdraw(owner: address) -> uint256:
    """
    @return Base units `owner` may withdraw now: its shares' value capped by free collateral
            (0 while exits are closed). More waits in the exit queue (`request_exit`).
    """
    if self._closed_reason(False) != "":
        return 0
    nav: uint256 = self._nav(False)
    return min(self._to_assets(erc4626.erc20.balanceOf[owner], nav, False), self._free())


@view
@external
def maxRedeem(owner: address) -> uint256:
    """
    @return Shares `owner` may redeem now (capped by free collateral; 0 while closed).
    """
    if self._closed_reason(False) != "":
        return 0
    nav: uint256 = self._nav(False)
    bal: uint256 = erc4626.erc20.balanceOf[owner]
    free: uint256 = self._free()
    if self._to_assets(bal, nav, False) <= free:
        return bal
    return self._to_shares(free, nav, False)


@view
@external
def previewDeposit(assets: uint256) -> uint256:
    """
    @return Shares a deposit of `assets` base units mints now (NAV rounded up, shares down).
    """
    return self._to_shares(assets, self._nav(True), False)


@view
@external
def previewMint(shares: uint256) -> uint256:
    """
    @return Base units a mint of `shares` costs now (NAV rounded up, assets up).
    """
    return self._to_assets(shares, self._nav(True), True)


@view
@external
def previewWithdraw(assets: uint256) -> uint256:
    """
    @return Shares a withdrawal of `assets` base units burns now (NAV down, shares up).
    """
    return self._to_shares(assets, self._nav(False), True)


@view
@external
def previewRedeem(shares: uint256) -> uint256:
    """
    @return Base units a redemption of `shares` pays now (NAV down, assets down).
    """
    return self._to_assets(shares, self._nav(False), False)


@external
@nonreentrant
def deposit(assets: uint256, receiver: address) -> uint256:
    """
    @notice Join: move `assets` base units from the caller into the pool's Clearinghouse
            account and mint shares to `receiver` at NAV (rounded in the pool's favour).
            Reverts "Pool: insolvent" while the account's equity at the marks is negative
            (the assets would pay a deficit that NAV, floored at zero, does not show).
    @param assets Base units; the caller must have approved the pool.
    @param receiver Who gets the shares.
    @return Shares minted.
    """
    self._require_open(True)
    shares: uint256 = self._to_shares(assets, self._nav(True), False)
    assert shares > 0, "Pool: zero shares"
    self._join(receiver, assets, shares)
    return shares


@external
@nonreentrant
def mint(shares: uint256, receiver: address) -> uint256:
    """
    @notice Join for exactly `shares` shares, paying their NAV (rounded up) in base units
            (closed as `deposit`).
    @param shares Shares to mint to `receiver`.
    @param receiver Who gets the shares.
    @return Base units taken from the caller.
    """
    self._require_open(True)
    assets: uint256 = self._to_assets(shares, self._nav(True), True)
    assert shares > 0 and assets > 0, "Pool: zero shares"
    self._join(receiver, assets, shares)
    return assets


@external
@nonreentrant
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Leave: pay `assets` base units to `receiver`, burning `owner`'s shares at NAV
            (rounded in the pool's favour). Reverts beyond free collateral: queue instead.
    @param assets Base units to pay.
    @param receiver Who gets the collateral.
    @param owner Whose shares burn (the caller, or an allowance from it).
    @return Shares burned.
    """
    self._require_open(False)
    nav: uint256 = self._nav(False)
    shares: uint256 = self._to_shares(assets, nav, True)
    assert assets > 0, "Pool: zero assets"
    self._leave(msg.sender, receiver, owner, assets, shares, nav)
    return shares


@external
@nonreentrant
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Leave: burn `shares` of `owner` and pay their NAV (rounded down) to `receiver`.
            Reverts beyond free collateral: queue with `request_exit` instead.
    @param shares Shares to burn.
    @param receiver Who gets the collateral.
    @param owner Whose shares burn (the caller, or an allowance from it).
    @return Base units paid.
    """
    self._require_open(False)
    nav: uint256 = self._nav(False)
    assets: uint256 = self._to_assets(shares, nav, False)
    assert assets > 0, "Pool: zero assets"
    self._leave(msg.sender, receiver, owner, assets, shares, nav)
    return assets


# ---------------------------------------------------------------- exit queue


@external
@nonreentrant
def request_exit(shares: uint256, receiver: address) -> uint256:
    """
    @notice Queue an exit of `shares` of the caller's shares: they move into the pool's escrow
            now (they keep sharing PnL) and are paid at the NAV of the moment `serve_exits`
            reaches them, as free collateral allows (FIFO, partial service possible).
    @param shares Shares to escrow.
    @param receiver Who gets the collateral.
    @return The exit's queue index.
    """
    assert shares > 0, "Pool: zero shares"
    assert receiver != empty(address), "Pool: zero receiver"
    self._check_coverage(msg.sender, shares, self._nav(False))
    erc4626.erc20._transfer(msg.sender, self, shares)
    i: uint256 = self.exit_tail
    self.exits[i] = Exit(owner=msg.sender, receiver=receiver, shares=shares)
    self.exit_tail = i + 1
    log ExitQueued(index=i, owner=msg.sender, receiver=receiver, shares=shares)
    return i


@external
@nonreentrant
def serve_exits(max_count: uint256) -> uint256:
    """
    @notice Pay queued exits in order, as far as free collateral goes (anyone may call).
    @param max_count At most this many queue entries (capped at 64).
    @return Asset base units paid.
    """
    self._require_open(False)
    paid: uint256 = 0
    head: uint256 = self.exit_head
    for _: uint256 in range(MAX_SERVE):
        if head >= self.exit_tail or _ >= max_count:
            break
        e: Exit = self.exits[head]
        nav: uint256 = self._nav(False)
        free: uint256 = self._free()
        assets: uint256 = self._to_assets(e.shares, nav, False)
        shares: uint256 = e.shares
        if assets > free:
            # partial: the shares the free collateral buys, rounded down
            shares = self._to_shares(free, nav, False)
            assets = self._to_assets(shares, nav, False)
        if assets == 0:
            break
        self._pay_out(assets)
        erc4626._withdraw(self, e.receiver, self, assets, shares)
        paid += assets
        log ExitServed(index=head, owner=e.owner, shares=shares, assets=assets)
        if shares == e.shares:
            self.exits[head] = empty(Exit)
            head += 1
        else:
            self.exits[head].shares = e.shares - shares
            break
    self.exit_head = head
    return paid


# ---------------------------------------------------------------- members' capacity


@external
def declare_capacity(gpu_class: bytes32, node: bytes32, count: uint256, commit_bps: uint256):
    """
    @notice Declare (replace) the caller's capacity: `count` GPUs of `gpu_class` at grid
            `node`, committing `commit_bps` of their hours to the pool's hedge. The caller
            must hold shares worth >= count x limits.min_collateral_per_gpu base units.
            count = 0 withdraws the declaration.
    @param gpu_class e.g. keccak or bytes32 of "H100-SXM".
    @param node e.g. bytes32 of "HB_WEST".
    @param count GPUs.
    @param commit_bps Share of their hours hedged through the pool (<= 10_000).
    """
    assert commit_bps <= c.BPS, "Pool: commit above 100%"
    assert count == 0 or commit_bps > 0, "Pool: zero commitment"
    old: Capacity = self.capacity[msg.sender]
    if old.count > 0:
        k: bytes32 = self._key(old.gpu_class, old.node)
        self.committed[k] -= old.count * old.commit_bps
    new: Capacity = Capacity(gpu_class=gpu_class, node=node, count=count, commit_bps=commit_bps)
    if count == 0:
        new = empty(Capacity)
    self.capacity[msg.sender] = new
    if count > 0:
        self.committed[self._key(gpu_class, node)] += count * commit_bps
        self._check_coverage(msg.sender, 0, self._nav(False))
    log CapacityDeclared(member=msg.sender, gpu_class=new.gpu_class, node=new.node, count=new.count, commit_bps=new.commit_bps)


@pure
@external
def capacity_key(gpu_class: bytes32, node: bytes32) -> bytes32:
    """
    @return The key a market's config names: keccak256(gpu_class ++ node).
    """
    return self._key(gpu_class, node)


# ---------------------------------------------------------------- the manager's orders


@external
def approve_order(order: IPoolVenue.Order) -> bytes32:
    """
    @notice Approve an order of the pool's account (manager): the Exchange will accept it
            (EIP-1271) while it still passes every limit at the moment of each fill.
    @param order trader = this pool; expiry in (now, now + MAX_APPROVAL_LIFE]; quantity in
           thousandths, price in base units per unit.
    @return The order's EIP-712 hash (the Exchange's).
    """
    assert msg.sender == self.manager, "Pool: not manager"
    assert order.expiry > block.timestamp and order.expiry <= block.timestamp + MAX_APPROVAL_LIFE, "Pool: bad expiry"
    assert order.quantity > 0, "Pool: zero quantity"
    h: bytes32 = staticcall exchange.order_hash(order)
    assert self._approved[h].trader == empty(address), "Pool: already approved"
    assert staticcall exchange.filled(h) == 0 and not staticcall exchange.cancelled(h), "Pool: order used"
    self._require(self._check(order, order.quantity))
    self._approved[h] = order
    log OrderApproved(
        order_hash=h,
        market_id=order.market_id,
        is_buy=order.is_buy,
        quantity=order.quantity,
        price=order.price,
        expiry=order.expiry,
    )
    return h


@external
def revoke_order(order_hash: bytes32):
    """
    @notice Withdraw an approval (manager or owner): no further fill of it passes.
    """
    assert msg.sender == self.manager or msg.sender == self.owner, "Pool: not manager"
    assert self._approved[order_hash].trader != empty(address), "Pool: not approved"
    self._approved[order_hash] = empty(IPoolVenue.Order)
    log OrderRevoked(order_hash=order_hash)


@view
@external
def approved(order_hash: bytes32) -> IPoolVenue.Order:
    """
    @return The approved order behind `order_hash` (all zero when none).
    """
    return self._approved[order_hash]


@view
@external
def isValidSignature(hash: bytes32, signature: Bytes[1024]) -> bytes4:
    """
    @notice EIP-1271, asked by the Exchange before every fill of a pool order: the magic
            value only for an approved, unrevoked order whose remaining quantity still passes
            every limit now. `signature` is ignored: approval is on chain.
    """
    o: IPoolVenue.Order = self._approved[hash]
    if o.trader != self:
        return _INVALID
    done: uint256 = staticcall exchange.filled(hash)
    if done >= o.quantity:
        return _INVALID
    if self._check(o, o.quantity - done) != _OK:
        return _INVALID
    return IERC1271_MAGIC


@view
@external
def check_order(order: IPoolVenue.Order, quantity: uint256) -> uint256:
    """
    @notice Dry run of the limits for `quantity` thousandths of `order`.
    @return 0 when it passes; else 1 not the pool's, 2 market not allowed, 3 stale mark,
            4 beyond slippage, 5 hedge cap, 6 margin cap.
    """
    return self._check(order, quantity)


@view
@external
def hedge_cap(market_id: uint256) -> uint256:
    """
    @return Largest |position| (thousandths of a unit) the limits allow in `market_id`.
    """
    return self._hedge_cap(market_id)


@view
@external
def free_collateral() -> uint256:
    """
    @return Base units the pool can pay out now keeping IM <= max_margin_bps of equity.
    """
    return self._free()


@view
@external
def closed_reason() -> String[40]:
    """
    @return "" while joins and exits are open, else why not. Joins are also closed while
            the account's equity at the marks is negative (maxDeposit = 0, "Pool: insolvent").
    """
    return self._closed_reason(False)


# ---------------------------------------------------------------- governance


@external
def queue_limits(limits_: Limits):
    """
    @notice Queue new limits (owner); `apply_limits` after `delay` seconds.
    @param limits_ max_hedge_bps and max_margin_bps <= 10_000 and > 0; slippage bps <= 10_000.
    """
    self._only_owner()
    self._check_limits(limits_)
    self.pending_limits = limits_
    eta: uint256 = block.timestamp + delay
    self.pending_limits_eta = eta
    log LimitsQueued(limits=limits_, eta=eta)


@external
def apply_limits():
    """
    @notice Apply the queued limits once their delay has passed (anyone).
    """
    eta: uint256 = self.pending_limits_eta
    assert eta != 0, "Pool: nothing queued"
    assert block.timestamp >= eta, "Pool: delay not passed"
    self.limits = self.pending_limits
    self.pending_limits_eta = 0
    log LimitsSet(limits=self.limits)


@external
def queue_market(market_id: uint256, config: MarketConfig):
    """
    @notice Queue allowing `market_id` (owner): the capacity it hedges and how many
            thousandths of its unit one committed GPU covers over its window.
    @param market_id A listed Clearinghouse market.
    @param config capacity_key (see `capacity_key`), units_per_gpu > 0.
    """
    self._only_owner()
    assert config.units_per_gpu > 0, "Pool: zero units per gpu"
    assert (staticcall clearinghouse.market(market_id)).last_trade_time != 0, "Pool: unknown market"
    self.pending_market[market_id] = config
    eta: uint256 = block.timestamp + delay
    self.pending_market_eta[market_id] = eta
    log MarketQueued(market_id=market_id, config=config, eta=eta)


@external
def apply_market(market_id: uint256):
    """
    @notice Allow a queued market once its delay has passed (anyone).
    """
    eta: uint256 = self.pending_market_eta[market_id]
    assert eta != 0, "Pool: nothing queued"
    assert block.timestamp >= eta, "Pool: delay not passed"
    self.market_config[market_id] = self.pending_market[market_id]
    self.pending_market_eta[market_id] = 0
    log MarketSet(market_id=market_id, config=self.market_config[market_id])


@external
def disallow_market(market_id: uint256):
    """
    @notice Stop new risk in `market_id` at once (owner); orders reducing the position pass.
    """
    self._only_owner()
    self.market_config[market_id] = empty(MarketConfig)
    self.pending_market_eta[market_id] = 0
    log MarketSet(market_id=market_id, config=empty(MarketConfig))


@external
def set_manager(manager_: address):
    """
    @notice Replace the manager at once (owner); empty stops all new approvals.
    """
    self._only_owner()
    self.manager = manager_
    log ManagerSet(manager=manager_)


@external
def transfer_ownership(new_owner: address):
    """
    @notice Start a two-step ownership transfer (owner).
    """
    self._only_owner()
    self.pending_owner = new_owner
    log OwnerTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def accept_ownership():
    """
    @notice Complete the transfer (the pending owner).
    """
    assert msg.sender == self.pending_owner and msg.sender != empty(address), "Pool: not pending owner"
    log OwnerTransferred(previous_owner=self.owner, new_owner=msg.sender)
    self.owner = msg.sender
    self.pending_owner = empty(address)


# ---------------------------------------------------------------- internals


@view
@internal
def _nav(round_up: bool) -> uint256:
    s: Summary = self._summary()
    eq: int256 = s.equity
    if round_up:
        # each leg's PnL is floored: the true value is below equity + open markets
        eq += convert(s.open_markets, int256)
    idle: uint256 = staticcall _TOKEN.balanceOf(self)
    if eq <= 0:
        return idle
    return convert(eq, uint256) + idle


@view
@internal
def _summary() -> Summary:
    s: Summary = empty(Summary)
    s.collateral = staticcall clearinghouse.collateral(self)
    s.equity = staticcall clearinghouse.equity(self)
    mm: uint256 = 0
    s.initial, mm = staticcall clearinghouse.margin_requirements(self)
    s.fresh = True
    for mid: uint256 in staticcall clearinghouse.open_markets(self):
        s.open_markets += 1
        p: int256 = 0
        t: uint256 = 0
        ok: bool = False
        p, t, ok = staticcall clearinghouse.mark(mid)
        s.fresh = s.fresh and ok
    return s


@view
@internal
def _to_shares(assets: uint256, nav: uint256, round_up: bool) -> uint256:
    return math._mul_div(assets, erc4626.erc20.totalSupply + VIRTUAL_SHARES, nav + 1, round_up)


@view
@internal
def _to_assets(shares: uint256, nav: uint256, round_up: bool) -> uint256:
    return math._mul_div(shares, nav + 1, erc4626.erc20.totalSupply + VIRTUAL_SHARES, round_up)


@view
@internal
def _free() -> uint256:
    """
    @dev Base units payable now: idle plus what leaves IM <= max_margin_bps of equity, within
         the account's collateral; 0 from the account while a mark is stale.
    """
    idle: uint256 = staticcall _TOKEN.balanceOf(self)
    s: Summary = self._summary()
    if s.collateral <= 0:
        return idle
    if s.open_markets == 0:
        return idle + convert(s.collateral, uint256)
    if not s.fresh or s.equity <= 0:
        return idle
    need: uint256 = math._mul_div(s.initial, c.BPS, self.limits.max_margin_bps, True)
    eq: uint256 = convert(s.equity, uint256)
    if eq <= need:
        return idle
    return idle + min(eq - need, convert(s.collateral, uint256))


@view
@internal
def _closed_reason(joining: bool) -> String[40]:
    for mid: uint256 in staticcall clearinghouse.open_markets(self):
        if block.timestamp >= (staticcall clearinghouse.market(mid)).last_trade_time:
            return "Pool: settlement pending"
    s: Summary = self._summary()
    if not s.fresh:
        return "Pool: stale mark"
    if joining and s.equity < 0:
        # NAV floors the account at zero, but a join's assets go into the account: they would
        # pay a deficit that is the insurance fund's and then the counterparties' (deleverage),
        # for shares priced as if the account were worth nothing. Exits stay open (at NAV = idle).
        return "Pool: insolvent"
    return ""


@view
@internal
def _require_open(joining: bool):
    reason: String[40] = self._closed_reason(joining)
    assert reason == "", reason


@internal
def _join(receiver: address, assets: uint256, shares: uint256):
    assert receiver != empty(address), "Pool: zero receiver"
    erc4626._deposit(msg.sender, receiver, assets, shares)
    extcall clearinghouse.deposit(assets)


@internal
def _leave(sender: address, receiver: address, owner: address, assets: uint256, shares: uint256, nav: uint256):
    assert assets <= self._free(), "Pool: beyond free collateral"
    self._check_coverage(owner, shares, nav)
    self._pay_out(assets)
    erc4626._withdraw(sender, receiver, owner, assets, shares)


@internal
def _pay_out(assets: uint256):
    # idle collateral first, the rest out of the pool's Clearinghouse account
    idle: uint256 = staticcall _TOKEN.balanceOf(self)
    if assets > idle:
        extcall clearinghouse.withdraw(assets - idle)


@view
@internal
def _check_coverage(member: address, leaving_shares: uint256, nav: uint256):
    # what stays must still back the member's declared GPUs
    cap: Capacity = self.capacity[member]
    if cap.count == 0:
        return
    bal: uint256 = erc4626.erc20.balanceOf[member]
    assert leaving_shares <= bal, "Pool: exceeds balance"
    left: uint256 = self._to_assets(bal - leaving_shares, nav, False)
    assert left >= cap.count * self.limits.min_collateral_per_gpu, "Pool: capacity needs collateral"


@view
@internal
def _hedge_cap(market_id: uint256) -> uint256:
    cfg: MarketConfig = self.market_config[market_id]
    return self.committed[cfg.capacity_key] * cfg.units_per_gpu * self.limits.max_hedge_bps // (c.BPS * c.BPS)


@view
@internal
def _check(o: IPoolVenue.Order, quantity: uint256) -> uint256:
    if o.trader != self:
        return _NOT_POOL
    q0: int256 = 0
    on0: int256 = 0
    q0, on0 = staticcall clearinghouse.position(self, o.market_id)
    delta: int256 = convert(quantity, int256)
    if not o.is_buy:
        delta = -delta
    q1: int256 = q0 + delta
    reducing: bool = abs(q1) <= abs(q0) and (q1 == 0 or (q1 > 0) == (q0 > 0))
    mark_: int256 = 0
    observed_at: uint256 = 0
    fresh: bool = False
    mark_, observed_at, fresh = staticcall clearinghouse.mark(o.market_id)
    if not fresh:
        return _STALE
    lim: Limits = self.limits
    band: int256 = convert(lim.max_slippage_fixed + lim.max_slippage_bps * convert(abs(mark_), uint256) // c.BPS, int256)
    # what executing at o.price instead of the mark costs the pool, per unit
    adverse: int256 = o.price - mark_
    if not o.is_buy:
        adverse = mark_ - o.price
    if adverse > band:
        return _SLIPPAGE
    if reducing:
        return _OK
    cfg: MarketConfig = self.market_config[o.market_id]
    if cfg.units_per_gpu == 0:
        return _NOT_ALLOWED
    if convert(abs(q1), uint256) > self._hedge_cap(o.market_id):
        return _HEDGE_CAP
    s: Summary = self._summary()
    if not s.fresh:
        return _STALE
    m: IPoolVenue.Market = staticcall clearinghouse.market(o.market_id)
    per_unit: uint256 = m.im_fixed + m.im_rate_bps * convert(abs(mark_), uint256) // c.BPS
    im_after: uint256 = s.initial + math._mul_div(convert(abs(q1), uint256), per_unit, c.UQUANTITY_SCALE, True)
    im_after -= min(im_after, convert(abs(q0), uint256) * per_unit // c.UQUANTITY_SCALE)
    loss: int256 = 1
    if adverse > 0:
        loss += self._ceil_div(convert(quantity, int256) * adverse, c.QUANTITY_SCALE)
    fee_bps: uint256 = max(staticcall exchange.maker_fee_bps(), staticcall exchange.taker_fee_bps())
    notional: uint256 = math._mul_div(quantity, convert(abs(o.price), uint256), c.UQUANTITY_SCALE, True)
    loss += convert(math._mul_div(notional, fee_bps, c.BPS, True), int256)
    eq_after: int256 = s.equity - loss
    if eq_after <= 0 or im_after * c.BPS > convert(eq_after, uint256) * lim.max_margin_bps:
        return _MARGIN_CAP
    return _OK


@pure
@internal
def _require(code: uint256):
    assert code != _NOT_POOL, "Pool: not the pool's order"
    assert code != _NOT_ALLOWED, "Pool: market not allowed"
    assert code != _STALE, "Pool: stale mark"
    assert code != _SLIPPAGE, "Pool: price beyond slippage band"
    assert code != _HEDGE_CAP, "Pool: hedge cap exceeded"
    assert code != _MARGIN_CAP, "Pool: margin cap exceeded"


@pure
@internal
def _ceil_div(a: int256, b: int256) -> int256:
    # b > 0
    q: int256 = a // b
    if a % b > 0:
        q += 1
    return q


@pure
@internal
def _key(gpu_class: bytes32, node: bytes32) -> bytes32:
    return keccak256(concat(gpu_class, node))


@view
@internal
def _only_owner():
    assert msg.sender == self.owner, "Pool: not owner"


@pure
@internal
def _check_limits(l: Limits):
    assert l.max_hedge_bps > 0 and l.max_hedge_bps <= c.BPS, "Pool: hedge share out of bounds"
    assert l.max_margin_bps > 0 and l.max_margin_bps <= c.BPS, "Pool: margin share out of bounds"
    assert l.max_slippage_bps <= c.BPS, "Pool: slippage out of bounds"
