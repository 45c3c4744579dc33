"""Exchange.match_orders: anyone crosses two signed orders at the maker's price."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, now


@pytest.fixture
def crossing(market, funded, signed_order, maker, taker):
    """maker asks 1 MWh at $50; taker bids up to 2 MWh at $51."""
    ask = signed_order(maker, market, False, UNIT, MARK)
    bid = signed_order(taker, market, True, 2 * UNIT, 51 * USDC)
    return ask, bid


def _match(exchange, maker_pair, taker_pair, quantity, caller):
    with boa.env.prank(getattr(caller, "address", caller)):
        exchange.match_orders(maker_pair[0], maker_pair[1], taker_pair[0], taker_pair[1], quantity)


def test_match_orders__crossing__executes_at_maker_price(
    exchange, clearinghouse, market, crossing, maker, taker, keeper
):
    ask, bid = crossing
    _match(exchange, ask, bid, UNIT, keeper)

    (log,) = events(exchange, "OrderFilled")
    assert (log.order_hash, log.maker, log.taker, log.maker_is_buy, log.quantity, log.price) == (
        exchange.order_hash(ask[0]),
        maker.address,
        taker.address,
        False,
        UNIT,
        MARK,
    )
    assert clearinghouse.position(taker.address, market) == (UNIT, MARK)
    assert clearinghouse.position(maker.address, market) == (-UNIT, -MARK)
    assert exchange.filled(exchange.order_hash(ask[0])) == UNIT
    assert exchange.filled(exchange.order_hash(bid[0])) == UNIT
    assert exchange.remaining(bid[0]) == UNIT


def test_match_orders__maker_bid_taker_ask__executes_at_maker_price(
    exchange, clearinghouse, market, funded, signed_order, maker, taker, keeper
):
    bid = signed_order(maker, market, True, UNIT, MARK)
    ask = signed_order(taker, market, False, UNIT, 49 * USDC)
    _match(exchange, bid, ask, UNIT, keeper)

    assert clearinghouse.position(maker.address, market) == (UNIT, MARK)
    assert clearinghouse.position(taker.address, market) == (-UNIT, -MARK)


def test_match_orders__equal_prices__cross(exchange, clearinghouse, market, funded, signed_order, maker, taker, keeper):
    ask = signed_order(maker, market, False, UNIT, -5 * USDC)
    bid = signed_order(taker, market, True, UNIT, -5 * USDC)
    _match(exchange, ask, bid, UNIT, keeper)

    assert clearinghouse.position(taker.address, market) == (UNIT, -5 * USDC)


def test_match_orders__fees__maker_fee_to_maker_taker_fee_to_taker(
    exchange, clearinghouse, crossing, owner, maker, taker, keeper
):
    with boa.env.prank(owner):
        exchange.set_fees(3, 7)
    ask, bid = crossing
    _match(exchange, ask, bid, 333, keeper)

    # notional 333 * $50 = $16.65: maker 3 bps = 4995, taker 7 bps = 11655
    assert clearinghouse.collateral(maker.address) == 10_000 * USDC - 4_995
    assert clearinghouse.collateral(taker.address) == 10_000 * USDC - 11_655
    assert clearinghouse.collateral(keeper.address) == 0
    assert clearinghouse.fees() == 4_995 + 11_655


def test_match_orders__partial__both_orders_tracked(exchange, crossing, keeper):
    ask, bid = crossing
    _match(exchange, ask, bid, 400, keeper)
    _match(exchange, ask, bid, 600, keeper)

    assert exchange.filled(exchange.order_hash(ask[0])) == UNIT
    assert exchange.filled(exchange.order_hash(bid[0])) == UNIT


def test_match_orders__one_taker_many_makers__taker_filled_across(
    exchange, market, funded, signed_order, maker, liquidator, taker, keeper
):
    ask1 = signed_order(maker, market, False, UNIT, MARK)
    ask2 = signed_order(liquidator, market, False, UNIT, 50_500_000)
    bid = signed_order(taker, market, True, 2 * UNIT, 51 * USDC)
    _match(exchange, ask1, bid, UNIT, keeper)
    _match(exchange, ask2, bid, UNIT, keeper)

    assert exchange.remaining(bid[0]) == 0


def test_match_orders__maker_overfill__reverts(exchange, crossing, keeper, snapshot):
    ask, bid = crossing
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: overfill"):
        _match(exchange, ask, bid, UNIT + 1, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


def test_match_orders__taker_overfill__reverts(exchange, market, crossing, signed_order, liquidator, keeper, snapshot):
    _, bid = crossing
    big_ask = signed_order(liquidator, market, False, 5 * UNIT, MARK)
    before = snapshot(orders=[big_ask[0], bid[0]])

    with boa.reverts("Exchange: overfill"):
        _match(exchange, big_ask, bid, 2 * UNIT + 1, keeper)

    assert snapshot(orders=[big_ask[0], bid[0]]) == before


def test_match_orders__zero_quantity__reverts(exchange, crossing, keeper, snapshot):
    ask, bid = crossing
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: zero quantity"):
        _match(exchange, ask, bid, 0, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


@pytest.mark.parametrize("expired", ["maker", "taker"])
def test_match_orders__expired_order__reverts(
    exchange, market, funded, signed_order, maker, taker, keeper, snapshot, expired
):
    soon = now() + 10
    ask = signed_order(maker, market, False, UNIT, MARK, expiry=soon if expired == "maker" else None)
    bid = signed_order(taker, market, True, UNIT, MARK, expiry=soon if expired == "taker" else None)
    boa.env.time_travel(seconds=11)
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: order expired"):
        _match(exchange, ask, bid, UNIT, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


@pytest.mark.parametrize("side", ["maker", "taker"])
def test_match_orders__cancelled_order__reverts(exchange, crossing, maker, taker, keeper, snapshot, side):
    ask, bid = crossing
    order, who = (ask[0], maker) if side == "maker" else (bid[0], taker)
    with boa.env.prank(who.address):
        exchange.cancel(order)
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: order cancelled"):
        _match(exchange, ask, bid, UNIT, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


@pytest.mark.parametrize("side", ["maker", "taker"])
def test_match_orders__nonce_below_minimum__reverts(exchange, crossing, maker, taker, keeper, snapshot, side):
    ask, bid = crossing
    order, who = (ask[0], maker) if side == "maker" else (bid[0], taker)
    with boa.env.prank(who.address):
        exchange.cancel_all(order[5] + 1)
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: nonce below minimum"):
        _match(exchange, ask, bid, UNIT, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


@pytest.mark.parametrize("side", ["maker", "taker"])
def test_match_orders__bad_signature__reverts(exchange, protocol, crossing, keeper, snapshot, side):
    ask, bid = crossing
    if side == "maker":
        ask = (ask[0], bid[1])
    else:
        bid = (bid[0], ask[1])
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: bad signature"):
        _match(exchange, ask, bid, UNIT, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


def test_match_orders__taker_reduce_only_not_reducing__reverts(
    exchange, market, funded, signed_order, maker, taker, keeper, snapshot
):
    ask = signed_order(maker, market, False, UNIT, MARK)
    bid = signed_order(taker, market, True, UNIT, MARK, reduce_only=True)
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Exchange: not reducing"):
        _match(exchange, ask, bid, UNIT, keeper)

    assert snapshot(orders=[ask[0], bid[0]]) == before


def test_match_orders__taker_reduce_only_reducing__accepted(
    exchange, clearinghouse, market, funded, book, signed_order, maker, taker, keeper
):
    book(maker, taker, market, UNIT, MARK)  # taker short 1 MWh
    ask = signed_order(maker, market, False, UNIT, MARK)
    bid = signed_order(taker, market, True, UNIT, MARK, reduce_only=True)
    _match(exchange, ask, bid, UNIT, keeper)

    assert clearinghouse.position(taker.address, market) == (0, 0)


@pytest.mark.parametrize(
    "maker_is_buy, maker_price, taker_price",
    [
        (False, 51 * USDC, 50_990_000),  # ask above bid
        (True, 49_990_000, 50 * USDC),  # bid below ask
    ],
)
def test_match_orders__prices_do_not_cross__reverts(
    exchange, market, funded, signed_order, maker, taker, keeper, snapshot, maker_is_buy, maker_price, taker_price
):
    mk = signed_order(maker, market, maker_is_buy, UNIT, maker_price)
    tk = signed_order(taker, market, not maker_is_buy, UNIT, taker_price)
    before = snapshot(orders=[mk[0], tk[0]])

    with boa.reverts("Exchange: prices do not cross"):
        _match(exchange, mk, tk, UNIT, keeper)

    assert snapshot(orders=[mk[0], tk[0]]) == before


def test_match_orders__same_side__reverts(exchange, market, funded, signed_order, maker, taker, keeper, snapshot):
    mk = signed_order(maker, market, True, UNIT, MARK)
    tk = signed_order(taker, market, True, UNIT, MARK)
    before = snapshot(orders=[mk[0], tk[0]])

    with boa.reverts("Exchange: same side"):
        _match(exchange, mk, tk, UNIT, keeper)

    assert snapshot(orders=[mk[0], tk[0]]) == before


def test_match_orders__market_mismatch__reverts(
    exchange, protocol, market, funded, signed_order, maker, taker, keeper, snapshot
):
    other = protocol.list_market("OTHER")
    protocol.set_mark(other, MARK)
    mk = signed_order(maker, market, False, UNIT, MARK)
    tk = signed_order(taker, other, True, UNIT, MARK)
    before = snapshot(orders=[mk[0], tk[0]])

    with boa.reverts("Exchange: market mismatch"):
        _match(exchange, mk, tk, UNIT, keeper)

    assert snapshot(orders=[mk[0], tk[0]]) == before


def test_match_orders__same_trader__reverts(exchange, market, funded, signed_order, maker, keeper, snapshot):
    mk = signed_order(maker, market, False, UNIT, MARK)
    tk = signed_order(maker, market, True, UNIT, MARK)
    before = snapshot(orders=[mk[0], tk[0]])

    with boa.reverts("Exchange: self fill"):
        _match(exchange, mk, tk, UNIT, keeper)

    assert snapshot(orders=[mk[0], tk[0]]) == before


def test_match_orders__taker_without_margin__reverts(exchange, market, funded, signed_order, maker, keeper, snapshot):
    ask = signed_order(maker, market, False, UNIT, MARK)
    bid = signed_order(keeper, market, True, UNIT, MARK)
    before = snapshot(orders=[ask[0], bid[0]])

    with boa.reverts("Clearinghouse: insufficient margin"):
        _match(exchange, ask, bid, UNIT, maker)

    assert snapshot(orders=[ask[0], bid[0]]) == before


@pytest.mark.parametrize("named_maker", ["ask", "bid"])
def test_match_orders__matcher_names_either_maker__price_within_both_limits(
    exchange, clearinghouse, market, crossing, maker, taker, keeper, named_maker
):
    # docs/relay.md: whichever order the caller names the maker, the fill is at that order's own
    # price, so the buyer never pays above its $51 limit and the seller never gets below $50
    ask, bid = crossing
    if named_maker == "ask":
        _match(exchange, ask, bid, UNIT, keeper)
    else:
        _match(exchange, bid, ask, UNIT, keeper)

    (log,) = events(exchange, "OrderFilled")
    price = MARK if named_maker == "ask" else 51 * USDC
    assert log.price == price and MARK <= log.price <= 51 * USDC
    assert clearinghouse.position(taker.address, market) == (UNIT, price)
    assert clearinghouse.position(maker.address, market) == (-UNIT, -price)


def test_match_orders__no_naming_beats_a_limit__non_crossing_pair_reverts_both_ways(
    exchange, market, funded, signed_order, maker, taker, keeper, snapshot
):
    # a matcher cannot push a trade beyond either limit by choosing the roles: $49 bid vs $50 ask
    bid = signed_order(taker, market, True, UNIT, 49 * USDC)
    ask = signed_order(maker, market, False, UNIT, MARK)
    before = snapshot(orders=[bid[0], ask[0]])

    for m, t in ((ask, bid), (bid, ask)):
        with boa.reverts("Exchange: prices do not cross"):
            _match(exchange, m, t, UNIT, keeper)

    assert snapshot(orders=[bid[0], ask[0]]) == before
