# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Exchange
@notice Executes EIP-712 signed limit orders against the Clearinghouse. An order is
        `Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,
        uint256 nonce,uint256 expiry,bool reduce_only)` under the domain
        {name: "ComputeSpread", version: "1", chainId, verifyingContract: this}; any EIP-712
        signer works, and contract accounts (a Safe, any threshold) sign through EIP-1271 with
        signatures of up to MAX_SIGNATURE_LENGTH bytes.

        `fill`: the caller takes a resting order (caller = taker). `match_orders`: anyone (a
        matcher) crosses two signed orders. Fills execute at the maker's price; partial fills
        are tracked by order hash. An order is dead once expired (block time > expiry), fully
        filled, cancelled, or its nonce is below its trader's minimum nonce.

        Fees: maker and taker fees in bps of |notional|, rounded up, owner-set under a hard
        cap, paid into the Clearinghouse fee pool. No pause: the guardian halts markets in the
        Clearinghouse instead.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.utils import ecdsa
from snekmate.utils import eip712_domain_separator as eip712

import constants as c
from interfaces import IClearinghouse

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: eip712

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    eip712.eip712Domain,
)


struct Order:
    trader: address
    market_id: uint256
    is_buy: bool
    quantity: uint256  # thousandths of a unit
    price: int256  # base units per unit, may be negative
    nonce: uint256
    expiry: uint256  # unix s; dead after it
    reduce_only: bool


event OrderFilled:
    order_hash: indexed(bytes32)
    maker: indexed(address)
    taker: indexed(address)
    market_id: uint256
    maker_is_buy: bool
    quantity: uint256
    price: int256
    maker_fee: uint256
    taker_fee: uint256

event OrderCancelled:
    order_hash: indexed(bytes32)
    trader: indexed(address)

event MinNonceSet:
    trader: indexed(address)
    min_nonce: uint256

event FeesSet:
    maker_fee_bps: uint256
    taker_fee_bps: uint256


ORDER_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,uint256 nonce,uint256 expiry,bool reduce_only)"
)
# hard cap on either fee: 1%
MAX_FEE_BPS: public(constant(uint256)) = 100
# longest signature passed to a contract trader's EIP-1271 `isValidSignature`: a Safe's is 65
# bytes per signing owner plus, for an owner that is itself a contract, that owner's own
# signature (32-byte length + data); 15 plain owners take 975. An EOA's is 65 (or 64) bytes.
MAX_SIGNATURE_LENGTH: public(constant(uint256)) = 1024
# bytes4(keccak256("isValidSignature(bytes32,bytes)")): the selector, and the EIP-1271 magic value
IERC1271_MAGIC: constant(bytes4) = 0x1626ba7e

clearinghouse: public(immutable(IClearinghouse))
# thousandths of a unit filled per order hash
filled: public(HashMap[bytes32, uint256])
cancelled: public(HashMap[bytes32, bool])
# orders with a lower nonce are dead
min_nonce: public(HashMap[address, uint256])
# maker fee bps | taker fee bps << 128: one slot read per fill
_fee_bps: uint256


@deploy
def __init__(clearinghouse_: IClearinghouse, maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    """
    @param clearinghouse_ The Clearinghouse that books trades (it must `set_exchange` to this).
    @param maker_fee_bps_ Maker fee, bps of |notional| (<= MAX_FEE_BPS).
    @param taker_fee_bps_ Taker fee, bps of |notional| (<= MAX_FEE_BPS).
    """
    ownable.__init__()
    ownable_2step.__init__()
    eip712.__init__("ComputeSpread", "1")
    clearinghouse = clearinghouse_
    self._set_fees(maker_fee_bps_, taker_fee_bps_)


@external
def fill(order: Order, signature: Bytes[MAX_SIGNATURE_LENGTH], quantity: uint256):
    """
    @notice Take `quantity` of a signed resting order; the caller is the taker and pays the
            taker fee. Executes at the order's price.
    @param order The maker's order as signed.
    @param signature For an EOA trader: the 65-byte ECDSA signature (r, s, v; low s) of
           `order_hash(order)`, or its 64-byte EIP-2098 form. For a contract trader (a
           Safe): up to MAX_SIGNATURE_LENGTH (1,024) bytes, passed as is to its EIP-1271
           `isValidSignature(order_hash(order), signature)` on every fill (a Safe: its
           owners' signatures of the SafeMessage, or empty when the Safe approved the
           message on-chain through SignMessageLib).
    @param quantity Thousandths of a unit, at most the order's remaining quantity.
    """
    assert msg.sender != order.trader, "Exchange: self fill"
    h: bytes32 = self._use(order, signature, quantity)
    self._execute(h, order, msg.sender, quantity)


@external
def match_orders(
    maker: Order,
    maker_signature: Bytes[MAX_SIGNATURE_LENGTH],
    taker: Order,
    taker_signature: Bytes[MAX_SIGNATURE_LENGTH],
    quantity: uint256,
):
    """
    @notice Cross two signed orders at the maker's price (anyone may call: a matcher).
    @param maker The resting order; its price is the execution price.
    @param maker_signature The maker's signature, as for `fill`.
    @param taker The incoming order; its limit must cross the maker's price.
    @param taker_signature The taker's signature, as for `fill`.
    @param quantity Thousandths of a unit, within both orders' remaining quantities.
    """
    assert maker.market_id == taker.market_id, "Exchange: market mismatch"
    assert maker.is_buy != taker.is_buy, "Exchange: same side"
    assert maker.trader != taker.trader, "Exchange: self fill"
    if maker.is_buy:
        assert maker.price >= taker.price, "Exchange: prices do not cross"
    else:
        assert taker.price >= maker.price, "Exchange: prices do not cross"
    h: bytes32 = self._use(maker, maker_signature, quantity)
    self._use(taker, taker_signature, quantity)
    self._execute(h, maker, taker.trader, quantity)


@external
def cancel(order: Order):
    """
    @notice Cancel one of the caller's orders for good.
    """
    assert msg.sender == order.trader, "Exchange: not your order"
    h: bytes32 = self._order_hash(order)
    assert not self.cancelled[h], "Exchange: already cancelled"
    self.cancelled[h] = True
    log OrderCancelled(order_hash=h, trader=msg.sender)


@external
def cancel_all(min_nonce_: uint256):
    """
    @notice Kill every order of the caller with nonce < `min_nonce_`.
    @param min_nonce_ Must be above the current minimum.
    """
    assert min_nonce_ > self.min_nonce[msg.sender], "Exchange: nonce not increasing"
    self.min_nonce[msg.sender] = min_nonce_
    log MinNonceSet(trader=msg.sender, min_nonce=min_nonce_)


@external
def set_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    """
    @notice Set maker and taker fees in bps of |notional| (owner), each <= MAX_FEE_BPS (1%).
    """
    ownable._check_owner()
    self._set_fees(maker_fee_bps_, taker_fee_bps_)


@view
@external
def maker_fee_bps() -> uint256:
    """
    @return Maker fee in bps of |notional|.
    """
    return self._fee_bps & (2**128 - 1)


@view
@external
def taker_fee_bps() -> uint256:
    """
    @return Taker fee in bps of |notional|.
    """
    return self._fee_bps >> 128


@view
@external
def order_hash(order: Order) -> bytes32:
    """
    @return The EIP-712 digest the trader signs (domain separator included).
    """
    return self._order_hash(order)


@view
@external
def remaining(order: Order) -> uint256:
    """
    @return Thousandths of a unit still fillable; 0 when the order is dead.
    """
    h: bytes32 = self._order_hash(order)
    if self.cancelled[h] or block.timestamp > order.expiry or order.nonce < self.min_nonce[order.trader]:
        return 0
    return order.quantity - min(order.quantity, self.filled[h])


@view
@internal
def _order_hash(o: Order) -> bytes32:
    return eip712._hash_typed_data_v4(
        keccak256(
            abi_encode(
                ORDER_TYPEHASH,
                o.trader,
                o.market_id,
                o.is_buy,
                o.quantity,
                o.price,
                o.nonce,
                o.expiry,
                o.reduce_only,
            )
        )
    )


@internal
def _use(order: Order, signature: Bytes[MAX_SIGNATURE_LENGTH], quantity: uint256) -> bytes32:
    """
    @dev Check the order is alive and signed, book `quantity` against it.
    """
    assert quantity > 0, "Exchange: zero quantity"
    assert block.timestamp <= order.expiry, "Exchange: order expired"
    assert order.nonce >= self.min_nonce[order.trader], "Exchange: nonce below minimum"
    h: bytes32 = self._order_hash(order)
    assert not self.cancelled[h], "Exchange: order cancelled"
    done: uint256 = self.filled[h]
    assert done + quantity <= order.quantity, "Exchange: overfill"
    # the hash binds every field, so an ECDSA signature checked on the first fill holds for the
    # rest; a contract signer (EIP-1271) may revoke, so it is asked again on every fill
    if done == 0 or order.trader.is_contract:
        assert self._is_valid_signature(order.trader, h, signature), "Exchange: bad signature"
    self.filled[h] = done + quantity
    if order.reduce_only:
        q: int256 = 0
        on: int256 = 0
        q, on = staticcall clearinghouse.position(order.trader, order.market_id)
        if order.is_buy:
            assert q < 0 and convert(quantity, int256) <= -q, "Exchange: not reducing"
        else:
            assert q > 0 and convert(quantity, int256) <= q, "Exchange: not reducing"
    return h


@view
@internal
def _is_valid_signature(signer: address, h: bytes32, signature: Bytes[MAX_SIGNATURE_LENGTH]) -> bool:
    """
    @dev snekmate's `signature_checker._is_valid_signature_now` with the bound raised for
         contracts only: an account without code is checked by ECDSA (65 or 64 bytes, low s),
         one with code by its EIP-1271 `isValidSignature` alone, exactly as snekmate decides.
    """
    if not signer.is_contract:
        # snekmate's ECDSA takes the 65-byte (r, s, v) and the 64-byte EIP-2098 form; any other
        # length is refused here (snekmate would recover the zero address from it)
        n: uint256 = len(signature)
        if n == 65:
            return ecdsa._recover_sig(h, slice(signature, 0, 65)) == signer
        if n == 64:
            return ecdsa._recover_sig(h, slice(signature, 0, 64)) == signer
        return False
    ok: bool = False
    magic: Bytes[32] = b""
    # a wallet without `isValidSignature`, one that reverts on a bad signature (a Safe does) and
    # one that answers anything but the magic value all read as "not signed"
    ok, magic = raw_call(
        signer,
        abi_encode(h, signature, method_id=IERC1271_MAGIC),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    return ok and len(magic) == 32 and convert(magic, bytes32) == convert(IERC1271_MAGIC, bytes32)


@internal
def _execute(h: bytes32, maker: Order, taker: address, quantity: uint256):
    notional: uint256 = convert(abs(convert(quantity, int256) * maker.price), uint256) // c.UQUANTITY_SCALE
    fee_bps: uint256 = self._fee_bps
    maker_fee: uint256 = self._fee(notional, fee_bps & (2**128 - 1))
    taker_fee: uint256 = self._fee(notional, fee_bps >> 128)
    if maker.is_buy:
        extcall clearinghouse.trade(maker.market_id, maker.trader, taker, quantity, maker.price, maker_fee, taker_fee)
    else:
        extcall clearinghouse.trade(maker.market_id, taker, maker.trader, quantity, maker.price, taker_fee, maker_fee)
    log OrderFilled(
        order_hash=h,
        maker=maker.trader,
        taker=taker,
        market_id=maker.market_id,
        maker_is_buy=maker.is_buy,
        quantity=quantity,
        price=maker.price,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
    )


@pure
@internal
def _fee(notional: uint256, bps: uint256) -> uint256:
    # rounded up: fees never round in the account's favour against the protocol
    return (notional * bps + c.BPS - 1) // c.BPS


@internal
def _set_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    assert maker_fee_bps_ <= MAX_FEE_BPS and taker_fee_bps_ <= MAX_FEE_BPS, "Exchange: fee above cap"
    self._fee_bps = maker_fee_bps_ | (taker_fee_bps_ << 128)
    log FeesSet(maker_fee_bps=maker_fee_bps_, taker_fee_bps=taker_fee_bps_)
