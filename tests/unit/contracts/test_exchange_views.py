"""Exchange views: order_hash (EIP-712 digest), remaining, filled, cancelled, min_nonce, fees,
constants, clearinghouse, eip712Domain."""

import boa
import pytest
from eth_utils import keccak

from tests.utils.contract_helpers import MARK, UNIT, now, order_digest_of


@pytest.fixture
def bid(market, funded, signed_order, maker):
    return signed_order(maker, market, True, UNIT, MARK)


@pytest.mark.parametrize(
    "order",
    [
        ("0x0000000000000000000000000000000000000001", 0, False, 0, 0, 0, 0, False),
        ("0xB94c4046FF368A869d3150d411440267472a1043", 3, False, 1, -12_340_000, 7, 1_767_225_600, True),
        (
            "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
            2**256 - 1,
            True,
            2**256 - 1,
            -(2**255),
            2**256 - 1,
            2**256 - 1,
            True,
        ),
    ],
)
def test_order_hash__any_order__matches_eip712(exchange, order):
    assert exchange.order_hash(order) == order_digest_of(order, 31337, exchange)


@pytest.mark.parametrize(
    "field, value",
    [(0, "0x0000000000000000000000000000000000000002"), (1, 2), (2, True), (3, 2), (4, -1), (5, 1), (6, 1), (7, True)],
)
def test_order_hash__each_field__changes_digest(exchange, field, value):
    base = ("0x0000000000000000000000000000000000000001", 1, False, 1, 1, 0, 0, False)
    changed = list(base)
    changed[field] = value

    assert exchange.order_hash(tuple(changed)) != exchange.order_hash(base)


def test_order_hash__other_chain__re_derived(exchange):
    order = ("0x0000000000000000000000000000000000000001", 1, True, 1, 1, 0, 0, False)
    boa.env.evm.patch.chain_id = 5

    assert exchange.order_hash(order) == order_digest_of(order, 5, exchange)


def test_remaining__fresh_order__full_quantity(exchange, bid):
    assert exchange.remaining(bid[0]) == UNIT


def test_remaining__partially_filled__rest(exchange, bid, taker):
    with boa.env.prank(taker.address):
        exchange.fill(bid[0], bid[1], 250)

    assert exchange.remaining(bid[0]) == 750
    assert exchange.filled(exchange.order_hash(bid[0])) == 250


def test_remaining__expired__zero(exchange, market, funded, signed_order, maker):
    order, _ = signed_order(maker, market, True, UNIT, MARK, expiry=now() + 5)
    assert exchange.remaining(order) == UNIT
    boa.env.time_travel(seconds=6)

    assert exchange.remaining(order) == 0


def test_remaining__cancelled__zero(exchange, bid, maker):
    with boa.env.prank(maker.address):
        exchange.cancel(bid[0])

    assert exchange.remaining(bid[0]) == 0
    assert exchange.cancelled(exchange.order_hash(bid[0])) is True


def test_remaining__below_min_nonce__zero(exchange, bid, maker):
    with boa.env.prank(maker.address):
        exchange.cancel_all(bid[0][5] + 1)

    assert exchange.remaining(bid[0]) == 0
    assert exchange.min_nonce(maker.address) == bid[0][5] + 1


def test_remaining__unsigned_order__not_checked(exchange, protocol, market, maker):
    # remaining is about fill state only; the signature is checked when filling
    order = protocol.order(maker, market, True, 7, MARK, 1)

    assert exchange.remaining(order) == 7


def test_getters__deployed__constants_and_defaults(exchange, clearinghouse, maker):
    assert exchange.ORDER_TYPEHASH() == keccak(
        text="Order(address trader,uint256 market_id,bool is_buy,uint256 quantity,int256 price,uint256 nonce,"
        "uint256 expiry,bool reduce_only)"
    )
    assert exchange.MAX_FEE_BPS() == 100
    assert exchange.clearinghouse() == clearinghouse.address
    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == (0, 0)
    assert exchange.min_nonce(maker.address) == 0
    assert exchange.filled(b"\x00" * 32) == 0
    assert exchange.cancelled(b"\x00" * 32) is False


def test_eip712_domain__deployed__name_version_chain_contract(exchange):
    fields, name, version, chain_id, verifying, salt, extensions = exchange.eip712Domain()

    assert fields == b"\x0f"
    assert (name, version, chain_id, verifying) == ("ComputeSpread", "1", 31337, exchange.address)
