"""Write side of the SDK: ``Client`` = :class:`sdk.reader.Reader` + a key.

    from sdk import Client
    c = Client("deployments/31337.json", "http://127.0.0.1:8545", private_key="0x...")
    c.faucet(Decimal("10000")); c.deposit(Decimal("5000"))
    o = c.buy("H100-SXM.2026-12", Decimal("100"), Decimal("2.45"))     # sign (+ post to relay)
    fill = other_client.fill(o)                                           # take it on-chain

Keys: ``private_key=``, ``keyfile=`` + ``password=`` (an eth keystore JSON), or
``ape_account=`` (an ape account alias; needs ape installed, imported only then). Plain web3
otherwise.

Every write runs pre-flight checks first (market open and fresh, margin after the trade,
wallet balance, allowance, gas funds), as ApePay's StreamManager.create does, and raises a
typed :mod:`sdk.errors` exception that says how to fix it; a revert that still happens is
decoded into the same types, never shown raw.

Thread-safety: reads are safe from any thread (see Reader). Writes are serialised by one
lock around transaction-nonce assignment and sending, so several threads may share a Client;
order nonces come from a thread-safe :class:`sdk.signing.TimeNonce` (unique across processes).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import Web3
from web3.logs import DISCARD

from chain.rpc import ChainError
from chain.tx import FeePolicy, TxFailed, TxSender, call_of, revert_of
from core import units as u
from core.manifest import Manifest
from sdk import hedge as _hedge
from sdk.errors import (
    ComputeSpreadError,
    HealthWouldFall,
    InsufficientAllowance,
    InsufficientBalance,
    InsufficientCollateral,
    InsufficientGasFunds,
    InsufficientMargin,
    InvalidAmount,
    InvalidOrder,
    MarketClosed,
    MarketHalted,
    MarkTimeout,
    NotLiquidatable,
    NotReducing,
    OrderRejected,
    SelfTrade,
    SignerRequired,
    TransactionFailed,
    decode_revert,
    usd_text,
)
from sdk.margin import Holding, Resting, grows, order_reservation, project_trade, summarise
from sdk.models import (
    AccountState,
    Execution,
    Fill,
    HedgePlan,
    LegResult,
    Mark,
    Market,
    MarketStatus,
    Order,
    SignedOrder,
    TxEstimate,
    UnsignedTx,
    price_text,
    qty_text,
)
from sdk.reader import Reader
from sdk.relay_client import RelayClient
from sdk.signing import NonceSource, TimeNonce, order_typed_data

DEFAULT_EXPIRY = 24 * 3600  # s an order lives unless told otherwise
GAS_HEADROOM_PCT = 20  # added to gas estimates
# fee cap for the SDK's transactions, gwei: high, because a trader's wallet pays what the chain
# asks (the gas-funds check bounds it); keepers and the relay set their own, lower caps
SDK_MAX_FEE_GWEI = 100_000


# ---------------------------------------------------------------- signers


class _LocalSigner:
    """An eth_account key held in memory; ``repr`` shows only the address."""

    def __init__(self, key):
        self._acct = Account.from_key(key)
        self.address = self._acct.address

    def __repr__(self) -> str:
        return f"LocalSigner({self.address})"

    def sign_typed(self, typed_data: dict) -> tuple[str, str]:
        s = self._acct.sign_message(encode_typed_data(full_message=typed_data))
        return "0x" + bytes(s.signature).hex(), "0x" + bytes(s.message_hash).hex()

    def sign_text(self, text: str) -> str:
        return "0x" + bytes(self._acct.sign_message(encode_defunct(text=text)).signature).hex()

    def sign_tx(self, tx: dict) -> bytes:
        return bytes(self._acct.sign_transaction(tx).raw_transaction)


class _ApeSigner:
    """An ape account (``ape accounts import``): ape prompts for / unlocks its own passphrase."""

    def __init__(self, alias: str):
        from ape import accounts  # noqa: PLC0415 - ape is optional

        self._acct = accounts.load(alias)
        self.address = self._acct.address

    def __repr__(self) -> str:
        return f"ApeSigner({self.address})"

    def sign_typed(self, typed_data: dict) -> tuple[str, str]:
        from eth_utils import keccak  # noqa: PLC0415

        sm = encode_typed_data(full_message=typed_data)
        sig = self._acct.sign_message(sm)
        return "0x" + sig.encode_rsv().hex(), "0x" + keccak(b"\x19" + sm.version + sm.header + sm.body).hex()

    def sign_text(self, text: str) -> str:
        return "0x" + self._acct.sign_message(encode_defunct(text=text)).encode_rsv().hex()

    def sign_tx(self, tx: dict) -> bytes:
        from ape import networks  # noqa: PLC0415

        txn = networks.provider.network.ecosystem.create_transaction(**tx)
        return bytes(self._acct.sign_transaction(txn).serialize_transaction())


class _WatchOnlySigner:
    """An address without a key (``Client.watch``): reads, pre-flight checks and unsigned
    transactions act as this account; anything that needs a signature raises SignerRequired."""

    def __init__(self, address: str):
        self.address = address

    def __repr__(self) -> str:
        return f"WatchOnly({self.address})"

    def _refuse(self, *_a, **_kw):
        raise SignerRequired(
            f"{self.address} is watched without its key: sign in the wallet that holds it "
            f"(the SDK returns typed data and unsigned transactions for that)"
        )

    sign_typed = sign_text = sign_tx = _refuse


class _SignerAccount:
    """A signer (local key or ape account) as the account chain.tx.TxSender signs with."""

    def __init__(self, signer, address: str):
        self._signer, self.address = signer, address

    def sign_tx(self, tx: dict) -> bytes:
        return self._signer.sign_tx(tx)


def _make_signer(private_key, keyfile, password, ape_account):
    given = sum(x is not None for x in (private_key, keyfile, ape_account))
    if given > 1:
        raise SignerRequired("pass only one of private_key=, keyfile= (+ password=), ape_account=")
    if private_key is not None:
        try:
            return _LocalSigner(private_key)
        except (ValueError, TypeError) as e:
            raise SignerRequired(f"private_key is not a valid 32-byte hex key ({type(e).__name__})") from None
    if keyfile is not None:
        if password is None:
            raise SignerRequired(f"keyfile {keyfile} needs password=")
        try:
            key = Account.decrypt(json.loads(Path(keyfile).read_text()), password)
        except OSError as e:
            raise SignerRequired(f"cannot read keyfile {keyfile}: {e.strerror}") from None
        except ValueError:
            raise SignerRequired(f"cannot decrypt keyfile {keyfile}: wrong password or not a keystore") from None
        return _LocalSigner(key)
    if ape_account is not None:
        try:
            return _ApeSigner(ape_account)
        except ImportError:
            raise SignerRequired("ape_account= needs eth-ape installed; use private_key= or keyfile=") from None
    return None


# ---------------------------------------------------------------- client


class Client(Reader):
    """Trade on one deployment. Without a key it is a :class:`Reader` (writes raise SignerRequired)."""

    def __init__(
        self,
        manifest: Manifest | str | Path,
        rpc_url: str | None = None,
        *,
        private_key=None,
        keyfile: str | Path | None = None,
        password: str | None = None,
        ape_account: str | None = None,
        relay_url: str | None = None,
        relay: RelayClient | None = None,
        nonce_source: NonceSource | None = None,
        w3: Web3 | None = None,
        receipt_timeout: float = 120.0,
        default_expiry: int = DEFAULT_EXPIRY,
        oracle_urls: Sequence[str] | str | None = None,
        mark_wait: float = 60.0,
    ):
        """``oracle_urls``: reporter services (comma-separated or a list). With them, a trade in
        a market without a fresh mark (a window the lister just listed: marks are pushed only
        where needed) first asks the reporters for one (``POST /marks/requests``) and waits up
        to ``mark_wait`` s for the pusher to put it on chain (:class:`MarkTimeout` otherwise);
        without them it raises :class:`StaleMarket` at once."""
        super().__init__(manifest, rpc_url, w3=w3)
        if isinstance(oracle_urls, str):
            oracle_urls = oracle_urls.split(",")
        self.oracle_urls = [x.strip().rstrip("/") for x in (oracle_urls or ()) if x and x.strip()]
        self.mark_wait = float(mark_wait)
        self._signer = _make_signer(private_key, keyfile, password, ape_account)
        self.relay = relay or (RelayClient(relay_url) if relay_url else None)
        self.nonces = nonce_source or TimeNonce()
        self.receipt_timeout = receipt_timeout
        self.default_expiry = default_expiry
        self._tx_lock = threading.RLock()
        self._tx_sender: TxSender | None = None

    def __repr__(self) -> str:
        return f"Client(chain={self.chain_id}, account={self.address if self._signer else None})"

    @property
    def address(self) -> str:
        if self._signer is None:
            raise SignerRequired("this Client has no key: pass private_key=, keyfile= + password=, or ape_account=")
        return self._signer.address

    def me(self) -> AccountState:
        """This client's account state."""
        return self.account(self.address)

    def watch(self, address: str) -> Client:
        """A keyless Client acting as ``address``: its reads, pre-flight checks (``check_order``,
        ``check_deposit``, ``check_withdraw``), order building and ``unsigned_*`` transactions
        are that account's; signing or sending raises SignerRequired. For apps whose users
        sign in their own wallet (the dashboard). Shares this client's connection, relay and
        order-nonce source; cheap (no RPC call)."""
        if not isinstance(address, str) or not Web3.is_address(address):
            raise InvalidOrder(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
        c = copy.copy(self)  # same w3, contracts, caches and nonce source; a signer of its own
        c._signer = _WatchOnlySigner(Web3.to_checksum_address(address))
        c._tx_lock = threading.RLock()
        c._tx_sender = None  # its own sender: signing through it raises SignerRequired, never the parent key
        return c

    # ------------------------------------------------------------ transactions
    # Sending is chain.tx.TxSender (the keepers' and the relay's sender): local nonce, simulate
    # first, fee bump of a stuck tx while waiting, reason of an on-chain revert by replay. The
    # Client adds its policy: typed errors (sdk.errors) and the gas-funds check before signing.
    @property
    def _sender(self) -> TxSender:
        if self._tx_sender is None:
            self._tx_sender = TxSender(
                self.w3,
                _SignerAccount(self._signer, self.address),
                FeePolicy(max_fee_gwei=SDK_MAX_FEE_GWEI),
                gas_multiplier=(100 + GAS_HEADROOM_PCT) / 100,
                chain_id=self.chain_id,
                receipt_timeout=self.receipt_timeout,
            )
        return self._tx_sender

    def _estimate(self, fn, action: str, value: int = 0) -> int:
        self.address  # noqa: B018 - SignerRequired before anything else
        try:
            return int(self._sender.simulate(call_of(fn, value)))
        except ChainError as e:
            raise decode_revert(e.__cause__ or e, action) from None

    def estimate(self, fn, action: str = "transaction", fee_units: int = 0) -> TxEstimate:
        """Gas, gas price and protocol fee of a contract call before sending it."""
        return TxEstimate(action, self._estimate(fn, action), int(self.w3.eth.gas_price), fee_units)

    def _send(self, fn, action: str, value: int = 0) -> str:
        """Simulate (a revert raises its typed error), check gas funds, sign, broadcast; the tx hash."""
        self.address  # noqa: B018 - SignerRequired before anything else
        try:
            tx = self._sender.prepare(call_of(fn, value))
        except TxFailed as e:
            raise decode_revert(revert_of(e), action) from None
        price = int(tx.get("maxFeePerGas", tx.get("gasPrice", 0)))
        need = tx["gas"] * price + value
        have = self.w3.eth.get_balance(self.address)
        if have < need:
            raise InsufficientGasFunds(
                f"{action}: the wallet {self.address} holds {u.wei_to_eth(have)} ETH but the transaction "
                f"may cost {u.wei_to_eth(need)} ETH in gas; fund it with the chain's native coin"
            )
        try:
            return self._sender.broadcast(tx)
        except TxFailed as e:  # nonce too low twice, underpriced, ...: explained; the nonce is re-read next time
            raise decode_revert(revert_of(e), action) from None

    def _wait(self, tx_hash: str, action: str):
        try:
            return self._sender.wait(tx_hash, self.receipt_timeout).raw
        except TxFailed as e:
            if not e.mined:
                raise TransactionFailed(
                    f"{action}: transaction {tx_hash} not mined within "
                    f"{self.receipt_timeout:.0f} s; it may still be pending"
                ) from None
            if e.error is not None:
                raise decode_revert(e.error, action) from None
            raise TransactionFailed(
                f"{action}: transaction {tx_hash} reverted (out of gas, or state changed before it was mined)"
            ) from None

    def _transact(self, fn, action: str, value: int = 0):
        """Estimate (decoding any revert), sign, send, wait; returns the receipt."""
        with self._tx_lock:
            h = self._send(fn, action, value)
        return self._wait(h, action)

    def _transact_many(self, calls: Sequence[tuple[Any, str]]) -> list:
        """Send several transactions back to back (consecutive nonces), then wait for all."""
        with self._tx_lock:
            sent = [(self._send(fn, action), action) for fn, action in calls]
        return [self._wait(h, action) for h, action in sent]

    # ------------------------------------------------------------ collateral
    def faucet(self, amount: u.Number = Decimal("10000")):
        """Mint devnet MockUSDC to this wallet (at most 1,000,000 USD per call)."""
        if self.faucet_token is None:
            raise InsufficientBalance(
                f"chain {self.chain_id} has no faucet token (the collateral is real): "
                f"acquire the collateral token elsewhere"
            )
        units = u.positive_usd(amount, "faucet amount")
        if units > 1_000_000 * u.USD_SCALE:
            raise InvalidAmount(f"the faucet mints at most 1,000,000 USD per call, asked {amount}")
        return self._transact(self.faucet_token.functions.mint(self.address, units), f"faucet {amount} USD")

    def check_deposit(self, amount: u.Number) -> tuple[int, int]:
        """Pre-flight of ``deposit(amount)`` (USD): InvalidAmount, or InsufficientBalance when the
        wallet holds less. Returns (amount, current allowance to the Clearinghouse) in base units."""
        units = u.positive_usd(amount, "deposit")
        bal = self.collateral.functions.balanceOf(self.address).call()
        if bal < units:
            how = "client.faucet()" if not isinstance(self._signer, _WatchOnlySigner) else "use the faucet"
            hint = f" (devnet: {how})" if self.faucet_token is not None else ""
            raise InsufficientBalance(
                f"deposit {amount} USD: the wallet holds {usd_text(u.base_to_usd(bal))}, "
                f"{usd_text(u.base_to_usd(units - bal))} short{hint}",
                missing=u.base_to_usd(units - bal),
            )
        return units, int(self.collateral.functions.allowance(self.address, self.clearinghouse.address).call())

    def check_withdraw(self, amount: u.Number) -> int:
        """Pre-flight of ``withdraw(amount)`` (USD): InsufficientCollateral beyond the collateral,
        StaleMarket when a position's mark is stale, InsufficientMargin when equity would fall
        below initial margin. Returns the amount in base units."""
        units = u.positive_usd(amount, "withdrawal")
        action = f"withdraw {amount} USD"
        acct = self.me()
        if units > acct.collateral_units:
            raise InsufficientCollateral(
                f"{action}: the account holds {usd_text(acct.collateral)} of collateral; "
                f"at most {usd_text(acct.free_collateral)} is free to withdraw",
                available=acct.collateral,
                free=acct.free_collateral,
            )
        if acct.positions:
            self._require_fresh(acct, action)
            if acct.equity_units - units < acct.initial_margin_units:
                missing = acct.initial_margin_units - (acct.equity_units - units)
                raise InsufficientMargin(
                    f"{action}: equity would be {usd_text(u.base_to_usd(acct.equity_units - units))} against "
                    f"{usd_text(acct.initial_margin)} initial margin, {usd_text(u.base_to_usd(missing))} short; "
                    f"withdraw at most {usd_text(acct.free_collateral)} or reduce positions",
                    missing=u.base_to_usd(missing),
                    required=acct.initial_margin,
                    equity=u.base_to_usd(acct.equity_units - units),
                )
        return units

    def approve(self, amount: u.Number | None = None):
        """Let the Clearinghouse pull ``amount`` USD of collateral (None = unlimited)."""
        units = u.UINT256_MAX if amount is None else u.usd_to_base(amount)
        return self._transact(
            self.collateral.functions.approve(self.clearinghouse.address, units),
            f"approve {'unlimited' if amount is None else amount} USD",
        )

    def deposit(self, amount: u.Number, approve: bool = True):
        """Move ``amount`` USD from the wallet into the margin account (approving first if needed)."""
        units, allowance = self.check_deposit(amount)
        action = f"deposit {amount} USD"
        if allowance < units:
            if not approve:
                raise InsufficientAllowance(
                    f"{action}: the Clearinghouse may pull only "
                    f"{usd_text(u.base_to_usd(allowance))}; call approve({amount}) first",
                    missing=u.base_to_usd(units - allowance),
                )
            self.approve(amount)
        return self._transact(self.clearinghouse.functions.deposit(units), action)

    def withdraw(self, amount: u.Number):
        """Withdraw ``amount`` USD of free collateral to the wallet."""
        units = self.check_withdraw(amount)
        return self._transact(self.clearinghouse.functions.withdraw(units), f"withdraw {amount} USD")

    # ------------------------------------------------------------ orders
    def build_order(
        self,
        market: int | str | Market,
        side: str,
        quantity: u.Number,
        price: u.Number,
        *,
        expiry: int | None = None,
        reduce_only: bool = False,
    ) -> Order:
        """An unsigned order in chain units: price rounded to the tick against you (buy down,
        sell up), quantity down to the step (BelowMinimum if that is under the minimum)."""
        m = market if isinstance(market, Market) else self._static_market(self._resolve_id(market))
        side = str(side).lower()
        if side not in ("buy", "sell"):
            raise InvalidOrder(f"side must be 'buy' or 'sell', got {side!r}")
        q = u.quantity_to_step(m, quantity)
        p = u.price_to_units(m, price, side)
        exp = int(expiry) if expiry is not None else self.now() + self.default_expiry
        return Order(self.address, m.id, side == "buy", q, p, self.nonces.next(), exp, bool(reduce_only))

    def sign(self, order: Order) -> SignedOrder:
        if order.trader.lower() != self.address.lower():
            raise InvalidOrder(f"order.trader {order.trader} is not this client's account {self.address}")
        sig, digest = self._signer.sign_typed(order_typed_data(order, self.chain_id, self.exchange.address))
        return SignedOrder(order, sig, digest)

    def place_order(
        self,
        market: int | str | Market,
        side: str,
        quantity: u.Number,
        price: u.Number,
        *,
        expiry: int | None = None,
        reduce_only: bool = False,
        post: bool = True,
        check: bool = True,
    ) -> SignedOrder:
        """Sign a limit order (and post it to the relay when one is configured and ``post``).

        With ``check`` the market must be open with a fresh mark and the account must carry
        the order fully filled at its limit (InsufficientMargin says how much is missing)."""
        order = self.build_order(market, side, quantity, price, expiry=expiry, reduce_only=reduce_only)
        if check:
            self.check_order(order, post=post)
        signed = self.sign(order)
        if post and self.relay is not None:
            self.relay.post_order(signed)
        return signed

    def check_order(self, order: Order, *, maker_fee_bps: int | None = None, post: bool = False) -> None:
        """Pre-flight of a resting order of this account, as if it filled whole at its limit
        paying the maker fee (``maker_fee_bps``; default: read from the Exchange): the market
        must be open (MarketClosed, MarketHalted, StaleMarket for risk-increasing orders), a
        reduce-only order must shrink the position (NotReducing), and equity after the fill
        must cover initial margin (InsufficientMargin says how much is missing). With ``post``
        and a relay configured, the margin rule is the relay's (core.margin reservation over
        this account's open orders there), so what passes here is not refused there.
        Nothing is sent."""
        if order.trader.lower() != self.address.lower():
            raise InvalidOrder(f"order.trader {order.trader} is not this client's account {self.address}")
        maker_bps, taker_bps = self.fees_bps()
        fee_bps = maker_bps if maker_fee_bps is None else int(maker_fee_bps)
        m = self.market(order.market_id)
        # the relay will hold the order against the margin its other open orders reserve:
        # ask its rule (core.margin.reservation) now, so what passes here passes there
        resting = (
            self.relay.open_exposure(self.address)
            if post and self.relay is not None and not order.reduce_only
            else None
        )
        self._preflight_trade(
            m,
            order.is_buy,
            order.quantity,
            order.price,
            fee_bps,
            f"{order.side} {qty_text(order.size)} {m.unit} of {m.symbol} @ "
            f"{price_text(order.limit, m.price_tick)} USD/{m.unit}",
            reduce_only=order.reduce_only,
            resting=resting,
            reserve_bps=max(fee_bps, taker_bps),
        )

    def buy(self, market, quantity, price, **kw) -> SignedOrder:
        return self.place_order(market, "buy", quantity, price, **kw)

    def sell(self, market, quantity, price, **kw) -> SignedOrder:
        return self.place_order(market, "sell", quantity, price, **kw)

    def _order_of(self, o: Order | SignedOrder) -> Order:
        return o.order if isinstance(o, SignedOrder) else o

    def cancel(self, order: Order | SignedOrder):
        """Cancel one of this account's orders on-chain (and at the relay, if configured)."""
        o = self._order_of(order)
        if o.trader.lower() != self.address.lower():
            raise InvalidOrder(f"order belongs to {o.trader}, not {self.address}")
        receipt = self._transact(self.exchange.functions.cancel(o.as_tuple()), f"cancel order nonce {o.nonce}")
        self._relay_cancel([order])
        return receipt

    def cancel_many(self, orders: Iterable[Order | SignedOrder]) -> list:
        """Batch cancel: one transaction per order, sent back to back, then awaited together."""
        orders = list(orders)
        calls = [
            (
                self.exchange.functions.cancel(self._order_of(o).as_tuple()),
                f"cancel order nonce {self._order_of(o).nonce}",
            )
            for o in orders
        ]
        receipts = self._transact_many(calls)
        self._relay_cancel(orders)
        return receipts

    def cancel_all(self) -> int:
        """Kill every order issued so far (nonce below a fresh time-based nonce); returns the new minimum."""
        n = self.nonces.next()
        self._transact(self.exchange.functions.cancel_all(n), "cancel all orders")
        return n

    def _relay_cancel(self, orders) -> None:
        if self.relay is None:
            return
        for o in orders:
            if isinstance(o, SignedOrder):
                try:
                    self.relay.cancel(o.hash, self._signer.sign_text(f"cancel:{o.hash}"))
                except ComputeSpreadError:
                    pass  # cancelled on-chain: the relay drops it when it next checks

    def fill(self, signed: SignedOrder, quantity: u.Number | None = None, *, check: bool = True) -> Fill:
        """Take ``quantity`` units (default: all that remains) of a resting order on-chain at its price."""
        o = signed.order
        m = self.market(o.market_id)
        if o.trader.lower() == self.address.lower():
            raise SelfTrade("you cannot fill your own order: cancel it instead")
        remaining = self.remaining(o)
        if quantity is None:
            q = remaining
        else:
            q = u.quantity_to_step(m, quantity)
        action = (
            f"{'sell' if o.is_buy else 'buy'} {qty_text(u.units_to_quantity(q))} {m.unit} of {m.symbol} @ "
            f"{price_text(o.limit, m.price_tick)} USD/{m.unit}"
        )
        if remaining == 0:
            raise OrderRejected(
                f"{action}: the order is dead (filled, cancelled, expired or below its trader's minimum nonce)"
            )
        if q > remaining:
            raise OrderRejected(f"{action}: only {u.units_to_quantity(remaining)} remains on the order")
        if check:
            _, taker_bps = self.fees_bps()
            self._preflight_trade(m, not o.is_buy, q, o.price, taker_bps, action)
        receipt = self._transact(
            self.exchange.functions.fill(o.as_tuple(), bytes.fromhex(signed.signature[2:]), q), action
        )
        for ev in self.exchange.events.OrderFilled().process_receipt(receipt, errors=DISCARD):
            return self._fill(ev)
        raise TransactionFailed(f"{action}: mined but no OrderFilled event was emitted")

    def estimate_fill(self, signed: SignedOrder, quantity: u.Number | None = None) -> TxEstimate:
        """Gas and taker fee of ``fill`` before sending (raises the typed error it would revert with)."""
        o = signed.order
        m = self._static_market(o.market_id)
        q = self.remaining(o) if quantity is None else u.quantity_to_step(m, quantity)
        _, taker_bps = self.fees_bps()
        fn = self.exchange.functions.fill(o.as_tuple(), bytes.fromhex(signed.signature[2:]), q)
        return self.estimate(fn, f"fill {u.units_to_quantity(q)} of {m.symbol}", u.fee_units(q, o.price, taker_bps))

    def estimate_fee(
        self, market: int | str | Market, quantity: u.Number, price: u.Number, taker: bool = True
    ) -> Decimal:
        """Trading fee in USD of ``quantity`` at ``price`` as taker (or maker)."""
        m = market if isinstance(market, Market) else self._static_market(self._resolve_id(market))
        maker_bps, taker_bps = self.fees_bps()
        return u.base_to_usd(
            u.fee_units(
                u.quantity_to_step(m, quantity), u.price_to_units(m, price, "sell"), taker_bps if taker else maker_bps
            )
        )

    # ------------------------------------------------------------ unsigned transactions (external wallets)
    def _unsigned(self, contract, fn_name: str, args: list, action: str, estimate: bool = True) -> UnsignedTx:
        """``contract.fn_name(*args)`` from this account as an UnsignedTx; with ``estimate`` the
        gas (plus headroom) is estimated now, and a revert is raised as its typed error."""
        gas = None
        if estimate:
            gas = self._estimate(getattr(contract.functions, fn_name)(*args), action)
            gas = gas * (100 + GAS_HEADROOM_PCT) // 100
        return UnsignedTx(self.address, contract.address, contract.encode_abi(fn_name, args=args), action, gas)

    def unsigned_faucet(self, amount: u.Number) -> list[UnsignedTx]:
        """Devnet: mint ``amount`` USD of MockUSDC to this wallet (at most 1,000,000 per call)."""
        if self.faucet_token is None:
            raise InsufficientBalance(f"chain {self.chain_id} has no faucet token: acquire the collateral elsewhere")
        units = u.positive_usd(amount, "faucet amount")
        if units > 1_000_000 * u.USD_SCALE:
            raise InvalidAmount(f"the faucet mints at most 1,000,000 USD per call, asked {amount}")
        return [self._unsigned(self.faucet_token, "mint", [self.address, units], f"faucet {amount} USD")]

    def unsigned_approve(self, amount: u.Number | None = None) -> list[UnsignedTx]:
        """Let the Clearinghouse pull ``amount`` USD (None = unlimited)."""
        units = u.UINT256_MAX if amount is None else u.usd_to_base(amount)
        return [
            self._unsigned(
                self.collateral,
                "approve",
                [self.clearinghouse.address, units],
                f"approve {'unlimited' if amount is None else f'{amount} USD'}",
            )
        ]

    def unsigned_deposit(self, amount: u.Number) -> list[UnsignedTx]:
        """``check_deposit``, then an approve (when the allowance is short) and the deposit. The
        deposit after an approve carries no gas estimate: it only passes once the approve landed."""
        units, allowance = self.check_deposit(amount)
        txs = []
        if allowance < units:
            txs.append(
                self._unsigned(
                    self.collateral,
                    "approve",
                    [self.clearinghouse.address, units],
                    f"approve {amount} USD for the Clearinghouse",
                )
            )
        txs.append(self._unsigned(self.clearinghouse, "deposit", [units], f"deposit {amount} USD", estimate=not txs))
        return txs

    def unsigned_withdraw(self, amount: u.Number) -> list[UnsignedTx]:
        """``check_withdraw``, then the withdrawal."""
        units = self.check_withdraw(amount)
        return [self._unsigned(self.clearinghouse, "withdraw", [units], f"withdraw {amount} USD")]

    def unsigned_cancel(self, order: Order | SignedOrder) -> list[UnsignedTx]:
        """Cancel one of this account's orders on-chain."""
        o = self._order_of(order)
        if o.trader.lower() != self.address.lower():
            raise InvalidOrder(f"the order belongs to {o.trader}, not the connected {self.address}")
        return [self._unsigned(self.exchange, "cancel", [o.as_tuple()], f"cancel order nonce {o.nonce}")]

    def unsigned_cancel_all(self, min_nonce: int | None = None) -> list[UnsignedTx]:
        """Kill every order with a nonce below ``min_nonce`` (default: a fresh time-based nonce)."""
        n = self.nonces.next() if min_nonce is None else int(min_nonce)
        return [self._unsigned(self.exchange, "cancel_all", [n], "cancel all orders")]

    # ------------------------------------------------------------ liquidation and settlement
    def liquidate(self, account: str, market: int | str | Market, quantity: u.Number | None = None) -> int:
        """Take over (part of) an unhealthy account's position in one market at the mark (the
        contract takes only what restores health; ``quantity`` caps it, default: all; an insolvent
        account's position in that market is taken whole). The caller is paid a reward from the
        insurance fund (event Liquidation.reward). Returns thousandths taken: 0 when the
        account was only flagged for deleverage (the insurance fund cannot carry it) or its leg
        in a settled market was settled instead."""
        mid = self._resolve_id(market)
        target = self.account(account)
        action = f"liquidate {target.address} in market {mid}"
        # the contract's rule: equity with each stale leg valued one MM against it < MM
        if not self.clearinghouse.functions.is_liquidatable(target.address).call():
            raise NotLiquidatable(
                f"{action}: equity {usd_text(target.equity)} (stale legs counted against it) is "
                f"not below maintenance margin {usd_text(target.maintenance_margin)}",
                health=target.health_ratio,
            )
        m = self.market(mid)
        halted = bool(self.clearinghouse.functions.market_state(mid).call()[0])
        if m.mark is not None and not m.mark.fresh and not halted and m.status != MarketStatus.SETTLED:
            raise self.stale_error(m, action)
        q = u.UINT256_MAX if quantity is None else u.quantity_to_step(m, quantity)
        receipt = self._transact(self.clearinghouse.functions.liquidate(target.address, mid, q), action)
        taken = 0
        for ev in self.clearinghouse.events.Liquidation().process_receipt(receipt, errors=DISCARD):
            if int(ev["args"]["market_id"]) == mid:
                taken += abs(int(ev["args"]["quantity"]))
        return taken

    def finalize_settlement(self, market: int | str | Market):
        """Fix a market's settlement price once its settlement value has stood undisputed (anyone)."""
        mid = self._resolve_id(market)
        return self._transact(self.clearinghouse.functions.finalize_settlement(mid), f"finalize market {mid}")

    def settle(self, market: int | str | Market, account: str | None = None):
        """Realise ``account``'s (default: own) position in a finalised market into collateral."""
        mid = self._resolve_id(market)
        who = account or self.address
        return self._transact(self.clearinghouse.functions.settle(who, mid), f"settle {who} in market {mid}")

    # ------------------------------------------------------------ first marks
    def request_marks(self, markets: Iterable[int | str | Market]) -> list[str]:
        """Ask every reporter (``oracle_urls``) for a mark of these markets (``POST
        /marks/requests``; the pusher, selecting the marks the venue needs, pushes a requested
        one that is missing or stale). Returns the reporters that took the request; a reporter
        that is down or refuses is skipped (its answer is in the log of the caller's choice)."""
        import httpx

        feeds = list(dict.fromkeys(self._static_market(self._resolve_id(m)).mark_feed for m in markets))
        if not feeds or not self.oracle_urls:
            return []
        asked = []
        with httpx.Client(timeout=5.0) as http:
            for url in self.oracle_urls:
                ok = True
                for i in range(0, len(feeds), 32):  # the endpoint takes <= 32 feeds a call
                    try:
                        r = http.post(url + "/marks/requests", json={"feed_ids": feeds[i : i + 32]})
                        ok = ok and r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                if ok:
                    asked.append(url)
        return asked

    def ensure_marks(
        self, markets: Iterable[int | str | Market], timeout: float | None = None, action: str = "mark"
    ) -> list[Mark]:
        """Fresh marks of ``markets`` on chain: a market whose mark is missing or stale (and that
        still trades) is requested from the reporters (:meth:`request_marks`), then waited for,
        at most ``timeout`` s (default ``mark_wait``). Raises :class:`StaleMarket` when no
        reporter is configured, :class:`MarkTimeout` when the mark does not arrive in time."""
        import time

        ids = [self._resolve_id(m) for m in markets]
        marks = {i: self.mark(i) for i in ids}
        stale = [i for i, mk in marks.items() if not mk.fresh]
        if not stale:
            return [marks[i] for i in ids]
        if not self.oracle_urls:
            raise self.stale_error(self.market(stale[0]), action)
        asked = self.request_marks(stale)
        limit = self.mark_wait if timeout is None else float(timeout)
        deadline = time.monotonic() + limit
        while True:
            for i in list(stale):
                marks[i] = self.mark(i)
                if marks[i].fresh:
                    stale.remove(i)
            if not stale:
                return [marks[i] for i in ids]
            if time.monotonic() >= deadline:
                m = self._static_market(stale[0])
                raise MarkTimeout(
                    f"{action}: market {m.id} ({m.symbol}) has no fresh mark {limit:.0f} s after asking "
                    f"{len(asked)} of {len(self.oracle_urls)} reporters for one "
                    f"({'none answered: check the oracle URLs' if not asked else 'is the oracle pusher running?'})",
                    market_id=m.id,
                    symbol=m.symbol,
                    feed_id=m.mark_feed,
                    waited=limit,
                    asked=asked,
                )
            time.sleep(0.5)

    # ------------------------------------------------------------ pre-flight
    def _require_fresh(self, acct: AccountState, action: str) -> None:
        if acct.fresh:
            return
        for p in acct.positions:
            m = self.market(p.market_id)
            if m.mark is not None and not m.mark.fresh:
                raise self.stale_error(m, action)

    def _preflight_trade(
        self,
        m: Market,
        is_buy: bool,
        q: int,
        price: int,
        fee_bps: int,
        action: str,
        reduce_only: bool = False,
        resting: list[Resting] | None = None,
        reserve_bps: int = 0,
    ) -> None:
        """Refuse what the chain (or, with ``resting``, the relay) would refuse, with the reason.

        ``resting``: the account's open orders at the relay (core.margin.Resting); the order
        will rest there, so the margin rule is the relay's reservation (every open order fully
        filled at its limit, fees at ``reserve_bps``), which is stricter than the chain's check
        of this fill alone at the current marks."""
        if m.status in (MarketStatus.SETTLED, MarketStatus.SETTLING):
            raise MarketClosed(
                f"{action}: {m.symbol} stopped trading at its last trade time; "
                f"{'it is settled' if m.status == MarketStatus.SETTLED else 'it awaits settlement'}",
                market_id=m.id,
            )
        acct = self.me()
        delta = q if is_buy else -q
        pos = acct.position(m.id)
        q0 = pos.quantity_units if pos else 0
        risk_up = grows(q0, delta)
        if reduce_only and (q0 == 0 or risk_up or (q0 > 0) == is_buy):
            raise NotReducing(
                f"{action}: reduce-only but your position in {m.symbol} is "
                f"{u.units_to_quantity(q0)}; it would not shrink"
            )
        if risk_up:
            if m.status == MarketStatus.HALTED:
                raise MarketHalted(f"{action}: {m.symbol} is halted: only risk-reducing trades pass", market_id=m.id)
            if m.status == MarketStatus.STALE:
                # a freshly listed window has no mark until someone needs one: ask, then wait
                self.ensure_marks([m.id], action=action)
                m = self.market(m.id)
            self._require_fresh(acct, action)
        if resting is not None and not reduce_only:
            self._check_reservation(acct, m, is_buy, q, price, resting, reserve_bps, action)
            return
        holdings = {}
        for p in acct.positions:
            mm = m if p.market_id == m.id else self._static_market(p.market_id)
            holdings[p.market_id] = Holding(mm, p.quantity_units, p.open_notional_units, p.mark_units, p.settled_market)
        mark = m.mark.price_units if m.mark else price
        fee = u.fee_units(q, price, fee_bps)
        before = summarise(acct.collateral_units, holdings)
        after = project_trade(acct.collateral_units, holdings, m, mark, delta, price, fee)
        if after.equity >= after.initial:
            return
        if risk_up:
            missing = after.initial - after.equity
            raise InsufficientMargin(
                f"{action}: equity after the trade would be {usd_text(u.base_to_usd(after.equity))} against "
                f"{usd_text(u.base_to_usd(after.initial))} initial margin: {usd_text(u.base_to_usd(missing))} "
                f"missing. Deposit at least that much or trade smaller",
                missing=u.base_to_usd(missing),
                required=u.base_to_usd(after.initial),
                equity=u.base_to_usd(after.equity),
            )
        if after.equity < 0 or after.equity * before.maintenance < before.equity * after.maintenance:
            raise HealthWouldFall(
                f"{action}: this risk-reducing fill is too far from the mark "
                f"({m.mark.price if m.mark else '?'} USD) for an under-margined account; "
                f"trade closer to the mark or deposit first"
            )

    def _check_reservation(
        self,
        acct: AccountState,
        m: Market,
        is_buy: bool,
        q: int,
        price: int,
        resting: list[Resting],
        fee_bps: int,
        action: str,
    ) -> None:
        self._require_fresh(acct, action)  # the relay takes no order (but reduce-only) on a stale account
        markets: dict[int, Market] = {m.id: m}
        for mid in {r.market_id for r in resting} - {m.id}:
            markets[mid] = self.market(mid)
        marks = {mid: mk.mark.price_units for mid, mk in markets.items() if mk.mark is not None}
        r = order_reservation(
            acct.equity_units - acct.initial_margin_units,
            resting,
            Resting(m.id, is_buy, q, price),
            markets,
            marks,
            fee_bps,
        )
        if not r.ok:
            raise InsufficientMargin(
                f"{action}: this order reserves {usd_text(u.base_to_usd(r.need - r.before))} of initial margin and "
                f"fees (your open orders at the relay already reserve {usd_text(u.base_to_usd(r.before))}); free "
                f"margin is {usd_text(u.base_to_usd(r.free))}: {usd_text(u.base_to_usd(r.missing))} missing. "
                "Deposit at least that much, cancel orders or trade smaller",
                missing=u.base_to_usd(r.missing),
                required=u.base_to_usd(r.need),
                equity=acct.equity,
            )

    # ------------------------------------------------------------ hedging
    def hedge_compute_spread(self, gpu: str, node: str, gpu_hours: u.Number, window, **kw) -> HedgePlan:
        """See :func:`sdk.hedge.hedge_compute_spread`; planned for this account."""
        return _hedge.hedge_compute_spread(self, gpu, node, gpu_hours, window, account=self.address, **kw)

    def hedge_power(self, node: str, mw: u.Number, profile: str, window, **kw) -> HedgePlan:
        """See :func:`sdk.hedge.hedge_power`; planned for this account."""
        return _hedge.hedge_power(self, node, mw, profile, window, account=self.address, **kw)

    def execute(self, plan: HedgePlan, take: Sequence[SignedOrder] | None = None) -> Execution:
        """Carry out a plan: per leg, take crossing resting orders (``take``, or the relay's book
        when a relay is configured) up to the leg's size at no worse than its limit, then place
        the rest as a limit order. Returns the fills and the orders placed (a list), whose
        ``.legs`` / ``.summary()`` say per leg "filled X of Y, Z resting at P until T".

        A resting order that dies between the book read and the fill (a market maker re-quoting,
        a competitor taking it first) is skipped, not fatal: the leg moves on to the next one and
        rests whatever is left, so a moving book never loses the fills already made."""
        results: list[Fill | SignedOrder] = []
        legs: list[LegResult] = []
        for leg in plan.orders:
            left = leg.quantity_units
            is_buy = leg.side == "buy"
            pool = (
                list(take)
                if take is not None
                else (list(self.relay.book(leg.market.id).orders) if self.relay is not None else [])
            )
            pool = [
                s
                for s in pool
                if s.order.market_id == leg.market.id
                and s.order.is_buy != is_buy
                and s.order.trader.lower() != self.address.lower()
                and (s.order.price <= leg.price_units if is_buy else s.order.price >= leg.price_units)
            ]
            pool.sort(key=lambda s: s.order.price if is_buy else -s.order.price)
            for s in pool:
                if left < leg.market.min_quantity:
                    break
                q = min(left, self.remaining(s.order)) // leg.market.quantity_step * leg.market.quantity_step
                if q < leg.market.min_quantity:
                    continue
                try:
                    results.append(self.fill(s, u.units_to_quantity(q)))
                except OrderRejected:
                    continue  # died under us (filled, cancelled, expired, bad): take the next one
                left -= q
            rest = None
            if left >= leg.market.min_quantity:
                rest = self.place_order(leg.market.id, leg.side, u.units_to_quantity(left), leg.price)
                results.append(rest)
            m = leg.market
            legs.append(
                LegResult(
                    m.id,
                    m.symbol,
                    m.unit,
                    leg.side,
                    leg.quantity_units,
                    leg.quantity_units - left,
                    left if rest is not None else 0,
                    rest.order.price if rest is not None else None,
                    rest.order.expiry if rest is not None else None,
                    m.price_tick,
                    rest.hash if rest is not None else None,
                )
            )
        return Execution(results, legs)
