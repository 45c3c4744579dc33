"""Exchange.fill: the caller (taker) takes a signed resting order at the maker's price."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, now, sign_order
from tests.utils.deployers import EXCHANGE

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def bid(market, funded, signed_order, maker):
    """maker's signed bid: buy 1 MWh at $50."""
    return signed_order(maker, market, True, UNIT, MARK)


def _fill(exchange, taker, order, sig, quantity):
    with boa.env.prank(getattr(taker, "address", taker)):
        exchange.fill(order, sig, quantity)


# ---------------------------------------------------------------- fills


def test_fill__maker_bid__taker_sells_at_maker_price(exchange, clearinghouse, market, bid, maker, taker):
    order, sig = bid
    _fill(exchange, taker, order, sig, UNIT)

    (log,) = events(exchange, "OrderFilled")
    h = exchange.order_hash(order)
    assert (log.order_hash, log.maker, log.taker, log.market_id, log.maker_is_buy) == (
        h,
        maker.address,
        taker.address,
        market,
        True,
    )
    assert (log.quantity, log.price, log.maker_fee, log.taker_fee) == (UNIT, MARK, 0, 0)
    assert exchange.filled(h) == UNIT
    assert clearinghouse.position(maker.address, market) == (UNIT, MARK)
    assert clearinghouse.position(taker.address, market) == (-UNIT, -MARK)


def test_fill__maker_ask__taker_buys(exchange, clearinghouse, market, funded, signed_order, maker, taker):
    order, sig = signed_order(maker, market, False, 2 * UNIT, 51 * USDC)
    _fill(exchange, taker, order, sig, 2 * UNIT)

    assert clearinghouse.position(taker.address, market) == (2 * UNIT, 102 * USDC)
    assert clearinghouse.position(maker.address, market) == (-2 * UNIT, -102 * USDC)


def test_fill__negative_price__booked(exchange, clearinghouse, market, funded, signed_order, maker, taker):
    order, sig = signed_order(maker, market, False, 1, -12_340_000)
    _fill(exchange, taker, order, sig, 1)

    assert clearinghouse.position(taker.address, market) == (1, -12_340)


def test_fill__partial_fills__tracked_by_order_hash(exchange, bid, taker, liquidator):
    order, sig = bid
    _fill(exchange, taker, order, sig, 300)
    _fill(exchange, liquidator, order, sig, 600)

    assert exchange.filled(exchange.order_hash(order)) == 900
    assert exchange.remaining(order) == 100


def test_fill__later_fill__signature_not_rechecked(exchange, bid, taker):
    # the hash binds every field, so the first fill's check covers the rest
    order, sig = bid
    _fill(exchange, taker, order, sig, 300)
    _fill(exchange, taker, order, b"", 700)

    assert exchange.filled(exchange.order_hash(order)) == UNIT


def test_fill__at_expiry__accepted(exchange, market, funded, signed_order, maker, taker):
    order, sig = signed_order(maker, market, True, UNIT, MARK, expiry=now() + 60)
    boa.env.time_travel(seconds=60)
    _fill(exchange, taker, order, sig, UNIT)

    assert exchange.filled(exchange.order_hash(order)) == UNIT


def test_fill__nonce_at_minimum__accepted(exchange, market, funded, signed_order, maker, taker):
    with boa.env.prank(maker.address):
        exchange.cancel_all(7)
    order, sig = signed_order(maker, market, True, UNIT, MARK, nonce=7)
    _fill(exchange, taker, order, sig, UNIT)

    assert exchange.filled(exchange.order_hash(order)) == UNIT


def test_fill__fees__rounded_up_and_charged(exchange, clearinghouse, market, funded, signed_order, owner, maker, taker):
    with boa.env.prank(owner):
        exchange.set_fees(2, 5)
    order, sig = signed_order(maker, market, True, 333, 45_230_000)
    _fill(exchange, taker, order, sig, 333)

    # notional $15.06159: maker 2 bps = 3012.318 -> 3013, taker 5 bps = 7530.795 -> 7531
    (log,) = events(exchange, "OrderFilled")
    assert (log.maker_fee, log.taker_fee) == (3_013, 7_531)
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC - 3_013
    assert clearinghouse.collateral(taker.address) == 10_000 * USDC - 7_531
    assert clearinghouse.fees() == 3_013 + 7_531


def test_fill__fees_on_negative_price__charged_on_absolute_notional(
    exchange, clearinghouse, market, funded, signed_order, owner, maker, taker
):
    with boa.env.prank(owner):
        exchange.set_fees(100, 100)
    order, sig = signed_order(maker, market, False, UNIT, -12_340_000)
    _fill(exchange, taker, order, sig, UNIT)

    assert clearinghouse.fees() == 2 * 123_400


def test_fill__tiny_notional__fee_at_least_one_base_unit(
    exchange, clearinghouse, market, funded, signed_order, owner, maker, taker
):
    with boa.env.prank(owner):
        exchange.set_fees(1, 1)
    order, sig = signed_order(maker, market, True, 1, 10_000)  # notional 10 base units
    _fill(exchange, taker, order, sig, 1)

    assert clearinghouse.fees() == 2


def test_fill__reduce_only_reducing__accepted(
    exchange, clearinghouse, market, funded, book, signed_order, maker, taker
):
    book(maker, taker, market, UNIT, MARK)  # maker long 1 MWh
    order, sig = signed_order(maker, market, False, UNIT, MARK, reduce_only=True)
    _fill(exchange, taker, order, sig, 400)
    _fill(exchange, taker, order, sig, 600)

    assert clearinghouse.position(maker.address, market) == (0, 0)


# ---------------------------------------------------------------- rejections


def test_fill__zero_quantity__reverts(exchange, bid, taker, snapshot):
    order, sig = bid
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: zero quantity"):
        _fill(exchange, taker, order, sig, 0)

    assert snapshot(orders=[order]) == before


def test_fill__expired_order__reverts(exchange, market, funded, signed_order, maker, taker, snapshot):
    order, sig = signed_order(maker, market, True, UNIT, MARK, expiry=now() + 60)
    boa.env.time_travel(seconds=61)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: order expired"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__nonce_below_minimum__reverts(exchange, bid, maker, taker, snapshot):
    order, sig = bid
    with boa.env.prank(maker.address):
        exchange.cancel_all(order[5] + 1)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: nonce below minimum"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__cancelled_order__reverts(exchange, bid, maker, taker, snapshot):
    order, sig = bid
    with boa.env.prank(maker.address):
        exchange.cancel(order)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: order cancelled"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__more_than_order__reverts(exchange, bid, taker, snapshot):
    order, sig = bid
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: overfill"):
        _fill(exchange, taker, order, sig, UNIT + 1)

    assert snapshot(orders=[order]) == before


def test_fill__beyond_remaining__reverts(exchange, bid, taker, snapshot):
    order, sig = bid
    _fill(exchange, taker, order, sig, 700)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: overfill"):
        _fill(exchange, taker, order, sig, 301)

    assert snapshot(orders=[order]) == before
    assert exchange.filled(exchange.order_hash(order)) == 700


def test_fill__fully_filled__reverts(exchange, bid, taker, snapshot):
    order, sig = bid
    _fill(exchange, taker, order, sig, UNIT)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: overfill"):
        _fill(exchange, taker, order, sig, 1)

    assert snapshot(orders=[order]) == before


def test_fill__signed_by_someone_else__reverts(exchange, bid, protocol, taker, snapshot):
    order, _ = bid
    sig = protocol.sign_order(taker, order)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


@pytest.mark.parametrize("field, value", [(4, MARK + 10_000), (3, 2 * UNIT), (2, False), (6, 2**40), (7, True)])
def test_fill__tampered_order__reverts(exchange, bid, taker, snapshot, field, value):
    order, sig = bid
    tampered = list(order)
    tampered[field] = value
    tampered = tuple(tampered)
    before = snapshot(orders=[order, tampered])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, tampered, sig, 1)

    assert snapshot(orders=[order, tampered]) == before


def test_fill__signed_for_other_chain__reverts(exchange, market, funded, protocol, maker, taker, snapshot):
    order = protocol.order(maker, market, True, UNIT, MARK, 1)
    sig = sign_order(maker, order, 1, exchange)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__chain_id_changed_after_signing__reverts(exchange, bid, taker, snapshot):
    # a fork: the domain separator is re-derived from the new chain id, old signatures die
    order, sig = bid
    boa.env.evm.patch.chain_id = 1
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__signed_for_other_exchange__reverts(
    exchange, clearinghouse, market, funded, protocol, owner, maker, taker, snapshot
):
    with boa.env.prank(owner):
        other = EXCHANGE.deploy(clearinghouse.address, 0, 0)
    order = protocol.order(maker, market, True, UNIT, MARK, 1)
    sig = sign_order(maker, order, 31337, other)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__order_for_this_exchange_on_other_exchange__reverts(clearinghouse, bid, owner, taker, snapshot):
    with boa.env.prank(owner):
        other = EXCHANGE.deploy(clearinghouse.address, 0, 0)
    order, sig = bid
    before = snapshot(orders=[order], contracts=[other])

    with boa.reverts("Exchange: bad signature"):
        _fill(other, taker, order, sig, UNIT)

    assert snapshot(orders=[order], contracts=[other]) == before
    assert other.filled(other.order_hash(order)) == 0


def test_fill__empty_signature__reverts(exchange, bid, taker, snapshot):
    order, _ = bid
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, b"", UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__unrecoverable_signature__reverts(exchange, bid, taker, snapshot):
    order, _ = bid
    before = snapshot(orders=[order])

    with boa.reverts("ecdsa: invalid signature"):
        _fill(exchange, taker, order, b"\x00" * 64 + b"\x1b", UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__high_s_signature__reverts(exchange, bid, taker, snapshot):
    # the malleable twin (r, n - s, v ^ 1) of a valid signature
    order, sig = bid
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    before = snapshot(orders=[order])

    with boa.reverts("ecdsa: invalid signature `s` value"):
        _fill(exchange, taker, order, twin, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__compact_signature__accepted(exchange, bid, taker):
    # EIP-2098 (r, vs) form of the same signature
    order, sig = bid
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    vs = s | ((v - 27) << 255)
    _fill(exchange, taker, order, r + vs.to_bytes(32, "big"), UNIT)

    assert exchange.filled(exchange.order_hash(order)) == UNIT


def test_fill__own_order__reverts(exchange, bid, maker, snapshot):
    order, sig = bid
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: self fill"):
        _fill(exchange, maker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__reduce_only_without_position__reverts(exchange, market, funded, signed_order, maker, taker, snapshot):
    order, sig = signed_order(maker, market, False, UNIT, MARK, reduce_only=True)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: not reducing"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


@pytest.mark.parametrize(
    "maker_position, is_buy, quantity",
    [
        (UNIT, True, 1),  # long maker buying more
        (-UNIT, False, 1),  # short maker selling more
        (UNIT, False, UNIT + 1),  # sell would flip a long
        (-UNIT, True, UNIT + 1),  # buy would flip a short
    ],
)
def test_fill__reduce_only_not_reducing__reverts(
    exchange, market, funded, book, signed_order, maker, taker, snapshot, maker_position, is_buy, quantity
):
    if maker_position > 0:
        book(maker, taker, market, UNIT, MARK)
    else:
        book(taker, maker, market, UNIT, MARK)
    order, sig = signed_order(maker, market, is_buy, 2 * UNIT, MARK, reduce_only=True)
    before = snapshot(orders=[order])

    with boa.reverts("Exchange: not reducing"):
        _fill(exchange, taker, order, sig, quantity)

    assert snapshot(orders=[order]) == before


def test_fill__taker_without_margin__reverts(exchange, bid, keeper, snapshot):
    order, sig = bid
    before = snapshot(orders=[order])

    with boa.reverts("Clearinghouse: insufficient margin"):
        _fill(exchange, keeper, order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_fill__off_tick_order__reverts(exchange, market, funded, signed_order, maker, taker, snapshot):
    order, sig = signed_order(maker, market, True, UNIT, MARK + 1)
    before = snapshot(orders=[order])

    with boa.reverts("Clearinghouse: off tick"):
        _fill(exchange, taker, order, sig, UNIT)

    assert snapshot(orders=[order]) == before
