"""Typed SDK exceptions and the revert decoder.

One base, :class:`ComputeSpreadError`; each subclass also inherits the builtin it behaves
like (``ValueError`` for bad input, ``RuntimeError`` for state that forbids the action,
``PermissionError``, ``LookupError``), so ``except ValueError`` keeps working. Every message
says what to do about it.

:func:`decode_revert` turns whatever web3 raised for a reverted call or transaction (a
``ContractLogicError``, a JSON-RPC error dict, raw ``Error(string)`` bytes, a reason string)
into one of these (the reason is extracted by :mod:`chain.reverts`; the mapping is SDK policy): every ``assert ..., "Contract: reason"`` (or ``self._req(..., "reason")``) in
contracts/*.vy has an entry in
:data:`REVERT_REASONS` (a unit test parses the .vy files to keep it complete). Unknown
reasons become :class:`TransactionFailed` carrying the decoded reason text, never a hex blob.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chain.reverts import revert_reason as _chain_revert_reason

# the errors the core raises are part of the SDK's hierarchy under the same names
from core.errors import (  # noqa: F401
    BelowMinimum,
    ComputeSpreadError,
    InvalidAccount,
    InvalidAmount,
    InvalidMonthRange,
    InvalidOrder,
    LedgerMismatch,
    ManifestError,
    NoPositions,
    StatementError,
)

# ---------------------------------------------------------------- input


class InvalidParameter(ComputeSpreadError, ValueError):
    """An admin/market parameter is outside the contract's hard bounds."""


class ViewContractMissing(ComputeSpreadError, LookupError):
    """The manifest predates the ClearinghouseView (issue 13) and a view that moved there was
    asked for (``account_summary`` and the other composites)."""


class UnknownMarket(ComputeSpreadError, LookupError):
    """No market with that id or symbol (in the manifest or on chain)."""


# ---------------------------------------------------------------- account state


class InsufficientMargin(ComputeSpreadError, RuntimeError):
    """Equity after the action would be below initial margin. ``missing`` is the USD to add
    (deposit) or the exposure to cut; ``required`` and ``equity`` are USD after the action."""


class InsufficientCollateral(ComputeSpreadError, RuntimeError):
    """Withdrawing more than the account's collateral (``available`` USD)."""


class InsufficientBalance(ComputeSpreadError, RuntimeError):
    """The wallet holds less of the collateral token than needed (``missing`` USD)."""


class InsufficientGasFunds(InsufficientBalance):
    """The wallet cannot pay gas (native coin)."""


class InsufficientAllowance(ComputeSpreadError, RuntimeError):
    """The Clearinghouse may not pull that much collateral: approve first."""


class NotLiquidatable(ComputeSpreadError, RuntimeError):
    """The account is healthy (equity >= maintenance margin) or has no position there."""


class DeleverageRequired(ComputeSpreadError, RuntimeError):
    """The account's loss exceeds what the insurance fund can carry: it must first be assigned to
    profitable opposite positions (``Clearinghouse.deleverage``, run by the liquidator keeper)."""


class DeleverageNotNeeded(ComputeSpreadError, RuntimeError):
    """``deleverage`` was called for an account the insurance fund can carry: liquidate it instead."""


class BadCounterparties(ComputeSpreadError, ValueError):
    """The counterparty list given to ``deleverage`` is invalid: each must hold the opposite side
    in profit, not be the account, and the list must be ranked by non-increasing profit x leverage."""


class LossUnassigned(ComputeSpreadError, RuntimeError):
    """Fees cannot leave while an account waits for ``deleverage`` (``adl_pending_count`` > 0)."""


class HealthWouldFall(ComputeSpreadError, RuntimeError):
    """A risk-reducing fill far off the mark would lower an under-margined account's health."""


# ---------------------------------------------------------------- markets


class MarketError(ComputeSpreadError, RuntimeError):
    """The market's state forbids the action."""


class StaleMarket(MarketError):
    """A mark the action depends on is older than the market's ``max_price_age`` (or disputed):
    ``market_id``, ``symbol``, ``feed_id``, ``observed_at`` (unix s), ``age`` and ``max_age`` (s)."""


class MarkTimeout(StaleMarket):
    """A first (or fresh) mark was asked of the reporters (``POST /marks/requests``) and did not
    reach the chain within ``waited`` s (``market_id``, ``symbol``, ``feed_id``; ``asked``: the
    reporters that took the request, empty when none answered)."""


class MarketClosed(MarketError):
    """Trading has ended (last trade time passed) or the market is settled."""


class MarketHalted(MarketClosed):
    """The guardian halted the market: only risk-reducing trades pass."""


class OpenInterestCap(MarketError):
    """The trade would take the market's long open interest above its cap."""


class SettlementNotReady(MarketError):
    """Settlement cannot happen yet (delivery not over, no price, dispute window open, disputed)."""


class AlreadySettled(MarketError):
    """The market is already settled."""


class NoPosition(ComputeSpreadError, RuntimeError):
    """The account has no position in that market."""


class TooManyMarkets(ComputeSpreadError, RuntimeError):
    """The account already holds positions in the maximum number of markets (32)."""


# ---------------------------------------------------------------- orders


class OrderRejected(ComputeSpreadError, RuntimeError):
    """The Exchange refused the order (dead, bad signature, not crossing, ...)."""


class OrderExpired(OrderRejected):
    pass


class OrderCancelled(OrderRejected):
    pass


class Overfill(OrderRejected):
    """More than the order's remaining quantity was asked for."""


class BadSignature(OrderRejected):
    pass


class NotReducing(OrderRejected):
    """A reduce-only order would not reduce the trader's position."""


class SelfTrade(OrderRejected):
    pass


# ---------------------------------------------------------------- other


class Unauthorized(ComputeSpreadError, PermissionError):
    """Only the owner / guardian / order's trader may do this."""


class OracleRejected(ComputeSpreadError, RuntimeError):
    """The Oracle refused a report or dispute."""


class SignerRequired(ComputeSpreadError, RuntimeError):
    """A write needs a key: pass private_key=, keyfile= + password=, or ape_account=."""


class ChainMismatch(ComputeSpreadError, RuntimeError):
    """The RPC serves another chain than the manifest was deployed to."""


class RelayError(ComputeSpreadError, RuntimeError):
    """The order relay answered with an error (``status``, ``detail``) or is unreachable."""


class TransactionFailed(ComputeSpreadError, RuntimeError):
    """A transaction reverted for a reason the SDK has no specific type for (reason decoded)."""


class TimelockRejected(ComputeSpreadError, RuntimeError):
    """The Timelock refused to queue, run or cancel an owner call (too early, too late, unknown).
    See scripts/timelock.py ``pending`` for what is queued and when it is ready."""


# ---------------------------------------------------------------- revert decoder

_OWNER = (Unauthorized, "only the contract owner may do this")
_PARAM = InvalidParameter
_ORACLE = OracleRejected

#: every revert reason of contracts/*.vy (and the snekmate modules they use) -> (type, advice)
REVERT_REASONS: dict[str, tuple[type[ComputeSpreadError], str]] = {
    # Clearinghouse: collateral
    "Clearinghouse: zero amount": (InvalidAmount, "the amount must be positive"),
    "Clearinghouse: zero account": (InvalidAmount, "deposit_for needs a non-zero account address"),
    "Clearinghouse: exceeds collateral": (
        InsufficientCollateral,
        "you asked to withdraw more than your collateral; see account().collateral",
    ),
    "Clearinghouse: transfer failed": (
        InsufficientBalance,
        "the collateral token transfer failed: check wallet balance and allowance",
    ),
    "Clearinghouse: insufficient margin": (
        InsufficientMargin,
        "equity would fall below initial margin: deposit more or trade smaller",
    ),
    "Clearinghouse: health would fall": (
        HealthWouldFall,
        "this fill is too far from the mark for an under-margined account: trade closer to the mark or deposit first",
    ),
    "Clearinghouse: stale mark": (
        StaleMarket,
        "a mark price your account depends on is stale: wait for the oracle pusher to update it",
    ),
    # Clearinghouse: trading
    "Clearinghouse: not exchange": (
        Unauthorized,
        "only the Exchange books trades: trade through Exchange.fill/match_orders",
    ),
    "Clearinghouse: unknown market": (UnknownMarket, "no such market id: list markets with client.markets()"),
    "Clearinghouse: trading closed": (MarketClosed, "trading in this market has ended; wait for settlement"),
    "Clearinghouse: self trade": (SelfTrade, "buyer and seller are the same account"),
    "Clearinghouse: bad quantity": (
        InvalidOrder,
        "quantity must be >= the market minimum and a multiple of its step; use round_quantity()",
    ),
    "Clearinghouse: off tick": (InvalidOrder, "price is not a multiple of the market's tick; use round_price()"),
    "Clearinghouse: market halted": (MarketHalted, "the market is halted: only risk-reducing trades pass"),
    "Clearinghouse: open interest cap": (OpenInterestCap, "the market's open interest cap is reached: trade smaller"),
    "Clearinghouse: too many markets": (TooManyMarkets, "close a position first: at most 32 open markets per account"),
    "Clearinghouse: position too large": (
        InvalidOrder,
        "the position or its open notional would exceed 2**127 base units: trade less",
    ),
    # Clearinghouse: liquidation
    "Clearinghouse: self liquidation": (InvalidOrder, "an account cannot liquidate itself"),
    "Clearinghouse: account healthy": (NotLiquidatable, "the account's equity is at or above maintenance margin"),
    "Clearinghouse: no position": (NoPosition, "the account has no position in that market"),
    "Clearinghouse: zero quantity": (InvalidOrder, "quantity rounds down to zero steps: ask for at least one step"),
    "Clearinghouse: market settled": (AlreadySettled, "the market is settled: its parameters can no longer change"),
    # Clearinghouse: auto-deleveraging (loss beyond the insurance fund)
    "Clearinghouse: deleverage needed": (
        DeleverageRequired,
        "the account's loss exceeds the insurance fund: it must be deleveraged "
        "(Clearinghouse.deleverage, done by the liquidator keeper) before it can settle",
    ),
    "Clearinghouse: insurance covers": (
        DeleverageNotNeeded,
        "the insurance fund covers this account's deficit: liquidate it instead",
    ),
    "Clearinghouse: counterparty is the account": (
        BadCounterparties,
        "the deleveraged account cannot be its own counterparty",
    ),
    "Clearinghouse: not an opposite position": (
        BadCounterparties,
        "every counterparty must hold the side opposite the account in that market",
    ),
    "Clearinghouse: counterparty not in profit": (
        BadCounterparties,
        "every counterparty must be in profit at the mark",
    ),
    "Clearinghouse: counterparty insolvent": (
        BadCounterparties,
        "a listed counterparty's equity is not positive: it is liquidated, not deleveraged; list solvent positions",
    ),
    "Clearinghouse: counterparties not ranked": (
        BadCounterparties,
        "list counterparties by non-increasing profit x notional / equity (keepers.liquidator.rank_counterparties)",
    ),
    "Clearinghouse: loss unassigned": (
        LossUnassigned,
        "an account waits for deleverage (adl_pending_count > 0): fees cannot be withdrawn until its loss is assigned",
    ),
    # Clearinghouse: settlement
    "Clearinghouse: already settled": (AlreadySettled, "the market is already settled"),
    "Clearinghouse: delivery not over": (SettlementNotReady, "the delivery window has not ended yet"),
    "Clearinghouse: no settlement price": (
        SettlementNotReady,
        "no settlement price observed after delivery end has been reported yet",
    ),
    "Clearinghouse: settlement disputed": (
        SettlementNotReady,
        "the settlement price is disputed; the owner must resolve it",
    ),
    "Clearinghouse: dispute window open": (SettlementNotReady, "the settlement price's dispute window is still open"),
    "Clearinghouse: not finalized": (SettlementNotReady, "the market's settlement is not finalised yet"),
    "Clearinghouse: written before delivery end": (
        SettlementNotReady,
        "the settlement value was written before delivery ended; it must "
        "be disputed and resolved with a value written after",
    ),
    # Clearinghouse: admin
    "Clearinghouse: zero feed": (_PARAM, "mark and settlement feeds must be non-zero"),
    "Clearinghouse: same feed": (_PARAM, "mark and settlement feeds must differ"),
    "Clearinghouse: bad delivery window": (_PARAM, "delivery_start must be before delivery_end"),
    "Clearinghouse: bad last trade time": (_PARAM, "last trade time must be in the future and <= delivery end"),
    "Clearinghouse: bad quantity step": (_PARAM, "quantity step must be > 0 and <= min quantity"),
    "Clearinghouse: bad tick": (_PARAM, "price tick must be > 0"),
    "Clearinghouse: lot beyond 64 bits": (_PARAM, "price tick, quantity step and minimum must each be below 2**64"),
    "Clearinghouse: margin beyond 64 bits": (_PARAM, "fixed margins must be below 2**64 base units"),
    "Clearinghouse: tick x step not whole": (_PARAM, "tick x step must be a whole number of base units"),
    "Clearinghouse: zero margin": (_PARAM, "maintenance margin must be non-zero"),
    "Clearinghouse: MM above IM": (_PARAM, "maintenance margin must not exceed initial margin"),
    "Clearinghouse: rate above 100%": (_PARAM, "margin rate must be <= 100%"),
    "Clearinghouse: bad max price age": (_PARAM, "max price age must be 60 s .. 7 days"),
    "Clearinghouse: bad dispute window": (_PARAM, "dispute window must be 600 s .. 7 days"),
    "Clearinghouse: bad OI cap": (_PARAM, "open interest cap must be > 0 and < 2**62 thousandths of a unit"),
    "Clearinghouse: not guardian": (Unauthorized, "only the guardian or owner may halt a market"),
    "Clearinghouse: not halted": (_PARAM, "the market is not halted"),
    "Clearinghouse: exchange already set": (_PARAM, "the Exchange is set once and cannot change"),
    "Clearinghouse: zero exchange": (_PARAM, "the Exchange address must be non-zero"),
    "Clearinghouse: penalty too high": (_PARAM, "liquidation penalty must be <= 90% of maintenance margin"),
    "Clearinghouse: penalty cap too high": (_PARAM, "liquidation penalty cap must be <= 25% of notional"),
    "Clearinghouse: reward too high": (_PARAM, "liquidator reward must be <= 1% of notional"),
    "Clearinghouse: bad reward bounds": (_PARAM, "min reward must be <= max reward, and max reward < 2**64 base units"),
    "Clearinghouse: exceeds fees": (_PARAM, "more than the accrued fees was requested"),
    "Clearinghouse: not series registry": (
        Unauthorized,
        "only the SeriesRegistry lists templated markets: call SeriesRegistry.list_from_template",
    ),
    # SeriesRegistry (issue 10): templates and permissionless listing
    "SeriesRegistry: unknown template": (_PARAM, "no template with that id (SeriesRegistry.template_count)"),
    "SeriesRegistry: template retired": (_PARAM, "the template is retired: no new windows can be listed from it"),
    "SeriesRegistry: bad bond": (_PARAM, "send exactly the template's bond in wei (SeriesRegistry.template(id).bond)"),
    "SeriesRegistry: bad delivery window": (
        _PARAM,
        "the window is not aligned to the template's cadence (core.series.aligned / windows give valid ones)",
    ),
    "SeriesRegistry: beyond horizon": (_PARAM, "delivery_start is further ahead than the template's max_horizon"),
    "SeriesRegistry: last trade passed": (_PARAM, "trading in that window has already closed"),
    "SeriesRegistry: already listed": (
        _PARAM,
        "that window of this template is listed already (SeriesRegistry.market_of gives its market id)",
    ),
    "SeriesRegistry: no bond": (_PARAM, "no listing bond is held for that market (not templated, or already paid)"),
    "SeriesRegistry: not bond owner": (Unauthorized, "only the market's lister may claim its listing bond"),
    "SeriesRegistry: not settled": (
        SettlementNotReady,
        "the bond returns once the market is settled (finalize_settlement)",
    ),
    "SeriesRegistry: clearinghouse already set": (_PARAM, "the Clearinghouse is connected once and cannot change"),
    "SeriesRegistry: zero spec hash": (_PARAM, "a template needs its series spec hash (core.series.series_spec_hash)"),
    "SeriesRegistry: bad feed class": (
        _PARAM,
        "feed classes must be non-zero, distinct, with their low 80 bits zero (core.series.feed_class)",
    ),
    "SeriesRegistry: bad cadence": (_PARAM, "cadence must be 1 (hourly), 2 (daily) or 3 (monthly)"),
    "SeriesRegistry: bad utc offset": (_PARAM, "utc_offset must be whole hours within +-14 h"),
    "SeriesRegistry: bad last trade offset": (
        _PARAM,
        "last_trade_offset must be below 2**40 - 1 s, or max uint256 (trade until delivery_end)",
    ),
    "SeriesRegistry: bad horizon": (_PARAM, "max_horizon must be > 0 and < 2**40 s"),
    "SeriesRegistry: bad quantity step": (_PARAM, "quantity step must be > 0 and <= min quantity"),
    "SeriesRegistry: bad tick": (_PARAM, "price tick must be > 0"),
    "SeriesRegistry: tick x step not whole": (_PARAM, "tick x step must be a whole number of base units"),
    "SeriesRegistry: lot beyond 64 bits": (_PARAM, "price tick, quantity step and minimum must each be below 2**64"),
    "SeriesRegistry: zero margin": (_PARAM, "maintenance margin must be non-zero"),
    "SeriesRegistry: MM above IM": (_PARAM, "maintenance margin must not exceed initial margin"),
    "SeriesRegistry: rate above 100%": (_PARAM, "margin rate must be <= 100%"),
    "SeriesRegistry: margin beyond 64 bits": (_PARAM, "fixed margins must be below 2**64 base units"),
    "SeriesRegistry: bad max price age": (_PARAM, "max price age must be 60 s .. 7 days"),
    "SeriesRegistry: bad dispute window": (_PARAM, "dispute window must be 600 s .. 7 days"),
    "SeriesRegistry: bad OI cap": (_PARAM, "open interest cap must be > 0 and < 2**62 thousandths of a unit"),
    "SeriesRegistry: too many templates": (_PARAM, "template ids must fit 24 bits"),
    # Exchange
    "Exchange: self fill": (SelfTrade, "you cannot fill your own order"),
    "Exchange: market mismatch": (InvalidOrder, "maker and taker orders are for different markets"),
    "Exchange: same side": (InvalidOrder, "maker and taker orders are on the same side"),
    "Exchange: prices do not cross": (OrderRejected, "the orders' prices do not cross"),
    "Exchange: not your order": (Unauthorized, "only the order's trader can cancel it"),
    "Exchange: already cancelled": (OrderCancelled, "the order is already cancelled"),
    "Exchange: nonce not increasing": (InvalidOrder, "cancel_all needs a nonce above your current minimum nonce"),
    "Exchange: zero quantity": (InvalidOrder, "fill quantity must be positive"),
    "Exchange: order expired": (OrderExpired, "the order has expired: ask the maker for a fresh one"),
    "Exchange: nonce below minimum": (OrderCancelled, "the order was cancelled by its trader's cancel_all"),
    "Exchange: order cancelled": (OrderCancelled, "the order was cancelled by its trader"),
    "Exchange: overfill": (Overfill, "more than the order's remaining quantity: check remaining() first"),
    "Exchange: bad signature": (BadSignature, "the signature does not match the order and its trader"),
    "Exchange: not reducing": (NotReducing, "a reduce-only order can only shrink the trader's position"),
    "Exchange: fee above cap": (_PARAM, "fees are capped at 1%"),
    # Oracle
    "Oracle: rows != signatures": (_ORACLE, "one price row per signature"),
    "Oracle: no feeds": (_ORACLE, "a report needs at least one feed"),
    "Oracle: below quorum": (_ORACLE, "not enough reporter signatures for the quorum"),
    "Oracle: future report": (_ORACLE, "observed_at is ahead of the chain clock"),
    "Oracle: stale report": (_ORACLE, "observed_at is older than the oracle's max report age"),
    "Oracle: row length": (_ORACLE, "each price row needs one price per feed"),
    "Oracle: unknown reporter": (_ORACLE, "a signature is not from a registered reporter"),
    "Oracle: duplicate reporter": (_ORACLE, "the same reporter signed twice"),
    "Oracle: feed disputed or final": (_ORACLE, "the feed is disputed or final and takes no more reports"),
    "Oracle: not newer": (_ORACLE, "observed_at must be newer than the feed's last observation"),
    "Oracle: unknown feed": (_ORACLE, "the feed has no configured bounds"),
    "Oracle: price out of bounds": (_ORACLE, "the price is outside the feed's configured bounds"),
    "Oracle: no price": (_ORACLE, "the feed has never been reported"),
    "Oracle: wrong bond": (_ORACLE, "a dispute or proposal needs exactly the dispute bond in wei"),
    "Oracle: not disputed": (_ORACLE, "the feed is not disputed"),
    "Oracle: not final": (_ORACLE, "only a resolved (final) feed can be reopened"),
    "Oracle: nothing to claim": (_ORACLE, "no dispute bond to claim"),
    "Oracle: zero reporter": (_PARAM, "reporter addresses must be non-zero"),
    "Oracle: bad quorum": (_PARAM, "quorum must be 1..number of reporters"),
    "Oracle: quorum not a majority": (_PARAM, "quorum must be a strict majority of reporters"),
    "Oracle: bad bounds": (_PARAM, "min price must be below max price"),
    "Oracle: bounds beyond int64": (_PARAM, "bounds must fit in int64"),
    "Oracle: no agreement": (_ORACLE, "no feed in the report had a quorum of rows agreeing within its band"),
    "Oracle: settlement too early": (
        _ORACLE,
        "a settlement value must be observed and written at or after delivery end",
    ),
    "Oracle: settlement already written": (_ORACLE, "the settlement value is written; only dispute/resolve changes it"),
    "Oracle: only the guardian disputes marks": (
        Unauthorized,
        "only the guardian can dispute a mark feed; public disputes apply to settlement values",
    ),
    "Oracle: dispute window closed": (_ORACLE, "the settlement value has stood its dispute window"),
    "Oracle: not a settlement feed": (_ORACLE, "only a settlement feed takes a fallback proposal"),
    "Oracle: fallback not open": (_ORACLE, "a fallback proposal opens fallback_timeout after delivery end"),
    "Oracle: no proposal bond": (_ORACLE, "the feed holds no proposal bond to release"),
    "Oracle: dispute window open": (_ORACLE, "the proposal's dispute window is still open"),
    "Oracle: settlement feed": (_ORACLE, "use set_settlement_feed for a settlement feed; it cannot be reopened"),
    "Oracle: feed has a price": (_PARAM, "a settlement feed is configured before it has a value"),
    "Oracle: bad not_before": (_PARAM, "not_before must be a non-zero unix time within 64 bits"),
    "Oracle: bad dispute window": (_PARAM, "a settlement dispute window must be 600 .. 604,800 s"),
    "Oracle: bad band": (_PARAM, "band floor must be < 2**48 and band bps <= 10,000"),
    "Oracle: bad jump limit": (_PARAM, "jump floor must be < 2**48 and jump bps < 65,536"),
    "Oracle: bad fallback timeout": (_PARAM, "fallback timeout must be 3,600 .. 2,592,000 s"),
    "Oracle: bad report age": (_PARAM, "max report age must be 1 .. 86,400 s"),
    "Oracle: bad future drift": (_PARAM, "max future drift must be <= 300 s"),
    "Oracle: price beyond int128": (_ORACLE, "the price must fit in int128"),
    "Oracle: bad timestamp": (_ORACLE, "observed_at must fit in 64 bits"),
    # Timelock (owner of Oracle, Clearinghouse, Exchange off anvil)
    "Timelock: zero admin": (_PARAM, "the Timelock admin must be non-zero"),
    "Timelock: zero target": (_PARAM, "a queued call needs a non-zero target"),
    "Timelock: delay above maximum": (_PARAM, "the Timelock delay is at most 30 days"),
    "Timelock: delay below minimum": (_PARAM, "the Timelock delay is at least 86,400 s off chain 31337"),
    "Timelock: eta before delay": (TimelockRejected, "eta must be at least the Timelock delay after this block"),
    "Timelock: eta too far": (TimelockRejected, "eta must be within 14 days after the earliest eta (now + delay)"),
    "Timelock: already queued": (TimelockRejected, "this exact call and eta is already queued"),
    "Timelock: not queued": (TimelockRejected, "no such queued call: check target, value, calldata and eta"),
    "Timelock: not ready": (TimelockRejected, "the call's eta has not passed yet: wait for the notice period"),
    "Timelock: stale": (TimelockRejected, "the grace period (14 days after eta) is over: queue the call again"),
    "Timelock: insufficient balance": (TimelockRejected, "the Timelock holds less ETH than the call's value"),
    "Timelock: unknown function": (_PARAM, "the Timelock has no such function; plain ETH transfers only"),
    "Timelock: only through the timelock": (Unauthorized, "set_delay must itself be queued through the Timelock"),
    # Pool (issue 15): a vault of small GPU hosts hedged as one account
    "Pool: already approved": (OrderRejected, "the pool already approved this order"),
    "Pool: approve failed": (_PARAM, "the collateral token refused the pool's approval of the Clearinghouse (deploy)"),
    "Pool: bad expiry": (InvalidOrder, "the order's expiry must be in the future"),
    "Pool: beyond free collateral": (
        InsufficientCollateral,
        "the pool's free collateral cannot pay this exit now: queue it (request_exit)",
    ),
    "Pool: capacity needs collateral": (
        InsufficientCollateral,
        "declared capacity needs min_collateral_per_gpu per GPU held in the pool",
    ),
    "Pool: commit above 100%": (_PARAM, "the committed share of hours is at most 100%"),
    "Pool: delay not passed": (TimelockRejected, "the pool's governance delay has not passed yet"),
    "Pool: delay out of bounds": (_PARAM, "the pool's delay must be 1 hour .. 30 days"),
    "Pool: exceeds balance": (InsufficientBalance, "more shares than the member holds"),
    "Pool: exchange of another clearinghouse": (_PARAM, "the Exchange must belong to the pool's Clearinghouse"),
    "Pool: hedge cap exceeded": (OrderRejected, "the order would hedge more than the members' cap allows"),
    "Pool: hedge share out of bounds": (_PARAM, "max_hedge_bps must be within 0 .. 10,000"),
    "Pool: margin cap exceeded": (InsufficientMargin, "the order would use more margin than the members' cap allows"),
    "Pool: margin share out of bounds": (_PARAM, "max_margin_bps must be within 0 .. 10,000"),
    "Pool: insolvent": (
        InsufficientCollateral,
        "the pool's account is in deficit at the marks: joins are closed until it recovers or is deleveraged",
    ),
    "Pool: market not allowed": (OrderRejected, "the members have not allowed this market"),
    "Pool: not approved": (BadSignature, "the pool has not approved this order"),
    "Pool: not manager": (Unauthorized, "only the pool's manager may approve or revoke orders"),
    "Pool: not owner": _OWNER,
    "Pool: not pending owner": (Unauthorized, "only the pending owner may accept ownership"),
    "Pool: not the pool's order": (InvalidOrder, "the order's trader must be the pool itself"),
    "Pool: nothing queued": (TimelockRejected, "no such change is queued"),
    "Pool: order used": (OrderRejected, "this order was already filled or revoked"),
    "Pool: price beyond slippage band": (OrderRejected, "the order's price is too far from the mark for the pool"),
    "Pool: settlement pending": (
        MarketClosed,
        "a market the pool holds has stopped trading and is not settled yet: settle it, then retry",
    ),
    "Pool: slippage out of bounds": (_PARAM, "the slippage band is out of its bounds"),
    "Pool: stale mark": (StaleMarket, "a mark the pool's NAV needs is stale: wait for the oracle"),
    "Pool: unknown market": (UnknownMarket, "the pool has no configuration for that market"),
    "Pool: zero assets": (InvalidAmount, "the amount must be positive"),
    "Pool: zero commitment": (_PARAM, "declare a positive GPU count and commitment"),
    "Pool: zero owner": (_PARAM, "the owner must be non-zero"),
    "Pool: zero quantity": (InvalidOrder, "the order quantity must be positive"),
    "Pool: zero receiver": (InvalidAmount, "the receiver must be non-zero"),
    "Pool: zero shares": (InvalidAmount, "the amount is worth zero shares"),
    "Pool: zero units per gpu": (_PARAM, "units per GPU must be positive"),
    # MockUSDC faucet
    "MockUSDC: above faucet cap": (InvalidAmount, "the faucet mints at most 1,000,000 USDC per call"),
    # snekmate modules
    "erc20: insufficient allowance": (InsufficientAllowance, "approve the Clearinghouse first (client.approve)"),
    "erc20: transfer amount exceeds balance": (
        InsufficientBalance,
        "the wallet holds too little collateral token (devnet: client.faucet)",
    ),
    "erc20: transfer to the zero address": (InvalidAmount, "transfer to the zero address"),
    "erc20: transfer from the zero address": (InvalidAmount, "transfer from the zero address"),
    "erc20: approve to the zero address": (InvalidAmount, "approve to the zero address"),
    "erc20: approve from the zero address": (InvalidAmount, "approve from the zero address"),
    "erc20: mint to the zero address": (InvalidAmount, "mint to the zero address"),
    "erc20: burn from the zero address": (InvalidAmount, "burn from the zero address"),
    "erc20: burn amount exceeds balance": (InsufficientBalance, "burn amount exceeds the balance"),
    "erc20: minter is the zero address": (_PARAM, "the minter must be non-zero"),
    "erc20: minter is owner address": (_PARAM, "the owner cannot be a minter"),
    "erc20: new owner is the zero address": (_PARAM, "the new owner must be non-zero"),
    "erc20: expired deadline": (InvalidOrder, "the permit deadline has passed"),
    "erc20: invalid signature": (BadSignature, "the permit signature is invalid"),
    "erc20: access is denied": _OWNER,
    "ownable: caller is not the owner": _OWNER,
    "ownable: new owner is the zero address": (_PARAM, "the new owner must be non-zero"),
    "ownable_2step: caller is not the new owner": (Unauthorized, "only the pending owner may accept ownership"),
    "ecdsa: invalid signature": (BadSignature, "the signature is malformed"),
    "ecdsa: invalid signature `s` value": (BadSignature, "the signature is malleable (high s)"),
}

# longest first, so "ecdsa: invalid signature `s` value" wins over its prefix
_BY_LENGTH = sorted(REVERT_REASONS, key=len, reverse=True)


def revert_reason(error: Any) -> str | None:
    """The human revert reason inside whatever a node/web3 raised, or None. Decoding is
    :func:`chain.reverts.revert_reason`; the SDK only adds its own contracts' reasons, matched
    exactly inside a node's decorated message (longest first)."""
    return _chain_revert_reason(error, _BY_LENGTH)


def decode_revert(error: Any, action: str | None = None) -> ComputeSpreadError:
    """Map a revert (exception, RPC error dict, Error(string) bytes or reason) to a typed error.

    ``action`` ("withdraw 100 USD") is prefixed to the message. Always returns an exception
    whose message is readable; never one that shows the raw revert data.
    """
    if isinstance(error, ComputeSpreadError):
        return error
    reason = revert_reason(error)
    prefix = f"{action}: " if action else ""
    if reason is None:
        return TransactionFailed(
            f"{prefix}the transaction reverted without a reason "
            f"(out of gas, or a call into a contract that is not ours)",
            reason=None,
        )
    if reason in REVERT_REASONS:
        cls, advice = REVERT_REASONS[reason]
        return cls(f"{prefix}{advice} [{reason}]", reason=reason)
    return TransactionFailed(f"{prefix}the transaction reverted: {reason}", reason=reason)


def usd_text(x: Decimal) -> str:
    """Decimal USD for messages: to the cent, thousands separators. Rounded up (ceiling): a message
    mostly names what is needed or missing, and depositing the amount it names must be enough."""
    from decimal import ROUND_CEILING

    return f"{Decimal(x).quantize(Decimal('0.01'), rounding=ROUND_CEILING):,} USD"
