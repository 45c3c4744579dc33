"""Everything the relay checks before it accepts (and while it keeps) a signed order.

Pure logic over a `ChainView` and an `OrderStore`; no FastAPI. A rejection is a `RelayError`
carrying the HTTP status, a stable machine `code` and a message a trader can act on.

Margin pre-check: ``core.margin.reservation`` (the rule the SDK applies before it posts, so the
two agree): every open order fully filled at its limit, per market the larger side's sum of
IM at the order price + adverse mark-to-market + fee at max(maker, taker) bps, summed over the
trader's markets, must fit the free margin (equity - IM from `ClearinghouseView.account_summary`).
Reduce-only orders reserve nothing.

Signatures, as the Exchange checks them: a 65-byte ECDSA signature (low s) recovering to the
trader is accepted without a chain read. Otherwise, if the trader has code (a Safe or another
EIP-1271 wallet), the relay `eth_call`s its `isValidSignature(digest, signature)` from the
Exchange's address, at post time and again just before the order is matched and on every
re-validation (a Safe can revoke: new owners, a higher threshold); a refusal is a 400
`bad_signature` naming the wallet's reason, and a resting order whose wallet stops accepting
is dropped (`rejected`, "signature no longer accepted"). Signatures are at most
MAX_SIGNATURE_LENGTH bytes (the Exchange's bound); empty is allowed for a contract wallet (a
Safe that approved the order on-chain through SignMessageLib).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from functools import lru_cache

from eth_utils import is_address

from core import units as u
from core.margin import Resting, order_need, reservation, reserved
from relay.chainview import AccountInfo, ChainError, ChainView, MarketInfo
from relay.orders import (
    MAX_SIGNATURE_LENGTH,
    UINT256_MAX,
    Order,
    SignatureVerifier,
    address_bytes,
    checksum,
    explain_wallet_reason,
)
from relay.store import REJECTED, OrderStore, StoredOrder

INT64_MAX = 2**63 - 1
_UNKNOWN = object()  # `signer` not computed by the caller: recover it here


def _utc(ts: int) -> str:
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "never"


_is_address = lru_cache(maxsize=65_536)(is_address)  # a keccak for checksummed input; traders repeat


@lru_cache(maxsize=65_536)
def _ecdsa_signed(order_hash: str, signature: bytes, trader: str, verifier: SignatureVerifier) -> bool:
    """The order's signature is the trader's own ECDSA: valid for good (memoised: re-validation
    walks every resting order)."""
    return len(signature) == 65 and verifier.verify(bytes.fromhex(order_hash[2:]), signature, trader)


class RelayError(Exception):
    def __init__(self, status: int, code: str, detail: str, extra: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra or {}


CHAIN_RETRY_AFTER = 5  # s a client is told to wait when the node does not answer


def chain_unavailable(e: Exception, what: str = "the chain") -> RelayError:
    """503 for a request that needs a chain read the node did not answer (not the client's fault)."""
    return RelayError(
        503, "chain_unavailable", f"cannot read {what} now ({e}); retry later", {"retry_after": CHAIN_RETRY_AFTER}
    )


def usd(units: int, rounding: str = ROUND_HALF_EVEN) -> str:
    """Money for a message: USD to the cent (a trader reads dollars, never base units). What is
    missing rounds up (ROUND_UP), what is free rounds down (ROUND_DOWN): depositing the amount a
    message names is always enough."""
    return f"{u.base_to_usd(int(units)).quantize(Decimal('0.01'), rounding=rounding):,} USD"


def price_text(units: int, tick: int | None = None) -> str:
    """A price for a message: USD per unit with the tick's decimals (0.01 -> 2 decimals)."""
    places = min(6, _tick_places(tick)) if tick else 6
    return f"{u.base_to_usd(int(units)):,.{places}f} USD"


def _tick_places(tick: int) -> int:
    """Decimals of a tick in base units (6-decimal collateral): 10_000 -> 2, 100 -> 4, 1 -> 6."""
    t, places = int(tick), 6
    while places > 0 and t % 10 == 0:
        t //= 10
        places -= 1
    return places


def qty_text(thousandths: int) -> str:
    """A quantity in units (thousandths on the wire), without trailing zeros."""
    q = u.units_to_quantity(int(thousandths)).normalize()
    return f"{q:,f}"


def order_margin(o: Order, quantity: int, m: MarketInfo, fee_bps: int) -> int:
    """Free margin a fill of ``quantity`` of ``o`` may consume (core.margin.order_need; 0 for reduce-only)."""
    return 0 if o.reduce_only else order_need(o.is_buy, quantity, o.price, m, fee_bps)


def reserved_margin(orders: list[StoredOrder], markets: dict[int, MarketInfo], fee_bps: int) -> int:
    """Margin the trader's open orders reserve (core.margin.reserved; reduce-only orders reserve nothing)."""
    return reserved(
        [
            Resting(so.order.market_id, so.order.is_buy, so.remaining, so.order.price)
            for so in orders
            if not so.order.reduce_only
        ],
        markets,
        fee_bps,
    )


@dataclass
class ValidationSettings:
    fee_bps: int = 5  # max(maker, taker) fee, bps (from the manifest)
    min_ttl: int = 2  # seconds an order must still live, past the head block's timestamp
    check_margin: bool = True
    max_open_per_trader: int = 1_000


class OrderValidator:
    def __init__(
        self,
        chain: ChainView,
        store: OrderStore,
        separator: bytes,
        settings: ValidationSettings | None = None,
        verifier: SignatureVerifier | None = None,
    ):
        self.chain, self.store, self.separator = chain, store, separator
        self.settings = settings or ValidationSettings()
        self.verifier = verifier or SignatureVerifier()

    # ------------------------------------------------------------ parsing
    @staticmethod
    def parse(data: dict) -> tuple[Order, bytes]:
        """Wire dict -> (Order, signature); RelayError 400 on malformed fields."""
        trader = data.get("trader", "")
        if not isinstance(trader, str) or not _is_address(trader):
            raise RelayError(400, "bad_order", f"trader {trader!r} is not an address")
        for k in ("quantity", "price", "market_id"):
            v = data[k]
            if not -INT64_MAX <= v <= INT64_MAX:
                raise RelayError(400, "out_of_range", f"{k} {v} is outside the relay's 64-bit range")
        if data["quantity"] <= 0:
            raise RelayError(400, "bad_order", "quantity must be positive")
        if (
            min(data["nonce"], data["expiry"], data["market_id"]) < 0
            or max(data["nonce"], data["expiry"]) > UINT256_MAX
        ):
            raise RelayError(400, "bad_order", "nonce, expiry and market_id are uint256")
        sig = data.get("signature", "")
        try:
            raw = bytes.fromhex(sig[2:] if sig.startswith("0x") else sig)
        except (ValueError, TypeError, AttributeError):
            raise RelayError(
                400,
                "bad_signature",
                "signature must be hex: 65 bytes (r, s, v) from an EOA, or what "
                "a contract wallet's EIP-1271 isValidSignature accepts",
            ) from None
        if len(raw) > MAX_SIGNATURE_LENGTH:
            raise RelayError(
                400,
                "bad_signature",
                f"signature is {len(raw)} bytes; the Exchange passes at most "
                f"{MAX_SIGNATURE_LENGTH} (MAX_SIGNATURE_LENGTH)",
            )
        o = Order(
            checksum(trader),
            data["market_id"],
            bool(data["is_buy"]),
            data["quantity"],
            data["price"],
            data["nonce"],
            data["expiry"],
            bool(data.get("reduce_only", False)),
        )
        return o, raw

    # ------------------------------------------------------------ checks
    def check(
        self,
        o: Order,
        signature: bytes,
        digest: bytes | None = None,
        *,
        pending_time: Callable[[], int] | None = None,
        signer: bytes | None | object = _UNKNOWN,
    ) -> tuple[str, int]:
        """Validate a new order; returns (order hash, on-chain remaining) or raises RelayError.

        A batch passes what it computed for all its orders at once: `digest` (the order's EIP-712
        digest), `signer` (`recover_canonical(digest, signature)`, None when refused) and
        `pending_time` (the next block's time, read once per batch when first needed)."""
        if digest is None:
            digest = o.digest(self.separator)
        h = "0x" + digest.hex()
        if self.store.exists(h):
            raise RelayError(409, "duplicate", f"order {h} is already known to the relay")
        self.check_signature(o, digest, signature, signer)
        m = self.market_checks(o)
        # the pending block's time, read now: the head is cached for HEAD_TTL and one block
        # can move chain time by many seconds (anvil's time offset, a slow L1 block)
        now = self.chain.pending_time() if pending_time is None else pending_time()
        if o.expiry <= now + self.settings.min_ttl:
            raise RelayError(
                400,
                "expired",
                f"order expires {_utc(o.expiry)}, the next block's time is {_utc(now)}: "
                f"give it at least {self.settings.min_ttl} s to live",
            )
        min_nonce = self.chain.min_nonce(o.trader)
        if o.nonce < min_nonce:
            raise RelayError(
                400,
                "nonce_below_min",
                "the order's nonce is below the trader's on-chain minimum: cancel_all cancelled it; sign it again "
                "with a fresh nonce",
            )
        remaining = self.chain.remaining(o, h)
        if remaining == 0:
            if self.chain.cancelled(h):
                raise RelayError(400, "cancelled", f"order {h} was cancelled on-chain")
            raise RelayError(400, "filled", f"order {h} is already fully filled on-chain")
        if o.reduce_only:
            pos = self.chain.position(o.trader, o.market_id)
            if (o.is_buy and pos >= 0) or (not o.is_buy and pos <= 0):
                raise RelayError(
                    400,
                    "not_reducing",
                    f"reduce-only {'buy' if o.is_buy else 'sell'} but the position "
                    f"is {'flat' if pos == 0 else ('long ' if pos > 0 else 'short ') + qty_text(abs(pos))}"
                    f": it would not reduce it",
                )
        elif self.settings.check_margin:
            self.margin_check(o, remaining, m)
        return h, remaining

    def signature_refusal(
        self, o: Order, digest: bytes, signature: bytes, signer: bytes | None | object = _UNKNOWN
    ) -> tuple[str, str] | None:
        """None when the Exchange would accept `signature` for `o` now, else (code, reason).
        ECDSA by the trader's key needs no chain read; anything else is asked of the trader's
        contract (EIP-1271) when it has code. ChainError when the node cannot answer. `signer`:
        the signature's recovered address bytes when already known (a batch recovers together)."""
        if len(signature) == 65:
            if signer is _UNKNOWN:
                if self.verifier.verify(digest, signature, o.trader):
                    return None
            elif signer is not None and signer == address_bytes(o.trader):
                return None
        if self.chain.has_code(o.trader):
            why = self.chain.wallet_refusal(o.trader, digest, signature)
            if why is None:
                return None
            return "bad_signature", (
                f"contract wallet {o.trader} does not accept this signature for order digest "
                f"0x{digest.hex()}: {explain_wallet_reason(why)}. A Safe signs the SafeMessage of "
                "the digest (threshold owner signatures in ascending owner order) or approves "
                "it on-chain (SignMessageLib) and sends an empty signature"
            )
        if len(signature) != 65:
            return "bad_signature", (
                f"signature is {len(signature)} bytes; {o.trader} has no code, so the Exchange "
                "wants a 65-byte ECDSA signature (r, s, v)"
            )
        return "bad_signature", (
            f"signature does not recover to {o.trader} for this order under the domain "
            f"ComputeSpread v1, chainId {self.chain.chain_id}, Exchange {self.chain.exchange} "
            "(signed for another chain, contract or order?)"
        )

    def check_signature(
        self, o: Order, digest: bytes, signature: bytes, signer: bytes | None | object = _UNKNOWN
    ) -> None:
        """RelayError 400 naming the reason when the Exchange would refuse the signature now; 503
        when the chain cannot tell (not the trader's fault)."""
        try:
            refused = self.signature_refusal(o, digest, signature, signer)
        except ChainError as e:
            raise chain_unavailable(e, f"{o.trader}'s signature on-chain") from e
        if refused:
            raise RelayError(400, *refused)

    def market_checks(self, o: Order) -> MarketInfo:
        m = self.chain.market(o.market_id)
        if m is None:
            raise RelayError(404, "unknown_market", f"market {o.market_id} is not listed")
        _, now = self.chain.head()
        if m.settled or now >= m.last_trade_time:
            raise RelayError(400, "market_closed", f"market {o.market_id} is closed for trading")
        if not o.reduce_only and m.halted:
            raise RelayError(400, "market_halted", f"market {o.market_id} is halted: only reduce-only orders")
        if not o.reduce_only and not m.mark_fresh:
            raise RelayError(
                400,
                "stale_mark",
                f"market {o.market_id}'s mark (observed {_utc(m.mark_observed_at)}) "
                "is stale: risk-increasing orders cannot fill until it is pushed",
            )
        if o.price % m.price_tick:
            raise RelayError(
                400,
                "off_tick",
                f"price {price_text(o.price)} is not on the market's tick of {price_text(m.price_tick, m.price_tick)}",
            )
        if o.quantity % m.quantity_step or o.quantity < m.min_quantity:
            raise RelayError(
                400,
                "bad_quantity",
                f"quantity {qty_text(o.quantity)} must be at least "
                f"{qty_text(m.min_quantity)} and a multiple of "
                f"{qty_text(m.quantity_step)} units",
            )
        return m

    def margin_check(self, o: Order, remaining: int, m: MarketInfo) -> None:
        acct = self.chain.account(o.trader)
        if not acct.fresh:
            raise RelayError(400, "stale_mark", f"a mark {o.trader}'s account depends on is stale")
        new = Resting(o.market_id, o.is_buy, remaining, o.price)
        book = getattr(self.store, "exposure", None)  # kept incrementally (relay/exposure.py)
        if book is not None:
            count = book.count(o.trader)
        else:
            others = self.store.open_exposure(o.trader)
            count = len(others)
        if count >= self.settings.max_open_per_trader:
            raise RelayError(
                429, "too_many_orders", f"{o.trader} has {count} open orders in the relay; cancel some first"
            )
        if book is not None:
            r = book.reservation(
                o.trader,
                acct.free,
                new,
                lambda mid: m if mid == m.market_id else self.chain.market(mid),
                self.settings.fee_bps,
            )
        else:
            markets = {m.market_id: m}
            for mid in {r[0] for r in others} - {m.market_id}:
                mi = self.chain.market(mid)
                if mi is not None:
                    markets[mid] = mi
            r = reservation(acct.free, others, new, markets, self.settings.fee_bps)
        if not r.ok:
            need, before = r.need, r.before
            raise RelayError(
                400,
                "insufficient_margin",
                f"insufficient margin: this order needs {usd(need - before, ROUND_UP)} of initial margin "
                f"and fees at {price_text(o.price, m.price_tick)} (open orders already reserve "
                f"{usd(before, ROUND_UP)}); free margin is {usd(acct.free, ROUND_DOWN)}: missing "
                f"{usd(need - acct.free, ROUND_UP)}; deposit at least that",
                {"missing": need - acct.free, "free": acct.free, "required": need},
            )

    # ------------------------------------------------------------ re-validation of resting orders
    def still_alive(self, so: StoredOrder) -> tuple[str | None, str, int]:
        """(dead status or None, reason, remaining) for a resting order, reading the chain."""
        o = so.order
        _, now = self.chain.head()
        if o.expiry <= now:
            return "expired", f"expired at {o.expiry}", 0
        m = self.chain.market(o.market_id)
        if m is None or m.settled or now >= m.last_trade_time:
            return "expired", "market closed", 0
        if o.nonce < self.chain.min_nonce(o.trader):
            return "cancelled", "nonce below min nonce", 0
        rem = self.chain.remaining(o, so.hash)
        if rem == 0:
            if self.chain.cancelled(so.hash):
                return "cancelled", "cancelled on-chain", 0
            return "filled", "fully filled", 0
        revoked = self.revoked(so)
        if revoked:
            return REJECTED, revoked, 0
        return None, "", rem

    def revoked(self, so: StoredOrder) -> str | None:
        """Why the Exchange would now refuse a resting order's signature (a contract wallet
        revoked it), else None. An ECDSA signature never changes its answer: no chain read."""
        if _ecdsa_signed(so.hash, so.signature, so.order.trader, self.verifier):
            return None
        if not self.chain.has_code(so.order.trader):
            return "signature no longer accepted: the trader has no code (no EIP-1271 wallet) any more"
        why = self.chain.wallet_refusal(so.order.trader, bytes.fromhex(so.hash[2:]), so.signature)
        # short: the store keeps 200 characters of reason
        return None if why is None else f"signature no longer accepted: {explain_wallet_reason(why)}"

    def margin_excess(self, trader: str, orders: list[StoredOrder]) -> list[StoredOrder]:
        """Youngest of `orders` to drop so the trader's open orders fit its free margin ("margin
        gone"). From the kept reservation (relay/exposure.py: O(markets), where the full
        recomputation below costs O(orders) per dropped order); it counts every open order the
        relay keeps for the trader, those being matched (in flight) included."""
        book = getattr(self.store, "exposure", None)
        if book is None:
            return self.margin_excess_full(trader, orders)
        acct: AccountInfo = self.chain.account(trader)
        keep = sorted((so for so in orders if not so.order.reduce_only), key=lambda so: so.seq, reverse=True)
        drop = set(book.excess(trader, acct.free, [so.hash for so in keep], self.chain.market, self.settings.fee_bps))
        return [so for so in keep if so.hash in drop]

    def margin_excess_full(self, trader: str, orders: list[StoredOrder]) -> list[StoredOrder]:
        """`margin_excess` recomputed from `orders` alone with `core.margin.reserved` (a store
        without a kept reservation; the tests' reference)."""
        acct: AccountInfo = self.chain.account(trader)
        keep = sorted((so for so in orders if not so.order.reduce_only), key=lambda so: so.seq)
        markets = {}
        for so in keep:
            if so.order.market_id not in markets:
                mi = self.chain.market(so.order.market_id)
                if mi is not None:
                    markets[so.order.market_id] = mi
        drop: list[StoredOrder] = []
        while keep and reserved_margin(keep, markets, self.settings.fee_bps) > acct.free:
            drop.append(keep.pop())
        return drop
