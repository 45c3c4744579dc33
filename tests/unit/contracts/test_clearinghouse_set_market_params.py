"""Clearinghouse.set_market_params: the owner changes margin, freshness, dispute window and OI
cap of a listed market within the same hard bounds as listing."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, MARKET_PARAM_REJECTIONS, UNIT, USDC, events, margin

DAY = 86_400
# im_fixed, im_rate_bps, mm_fixed, mm_rate_bps, max_price_age, dispute_window, oi_cap
DEFAULT = dict(
    im_fixed=15 * USDC,
    im_rate_bps=2_500,
    mm_fixed=10 * USDC,
    mm_rate_bps=1_500,
    max_price_age=3_600,
    dispute_window=3_600,
    oi_cap=10**12,
)


def _params(**overrides):
    p = dict(DEFAULT)
    p.update(overrides)
    return tuple(p.values())


def test_set_market_params__owner__stored(clearinghouse, market, owner):
    new = _params(
        im_fixed=20 * USDC,
        im_rate_bps=3_000,
        mm_fixed=12 * USDC,
        mm_rate_bps=2_000,
        max_price_age=600,
        dispute_window=7_200,
        oi_cap=5_000,
    )
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, new)

    (log,) = events(clearinghouse, "MarketParamsSet")
    assert log.market_id == market
    assert tuple(log.params) == new
    assert tuple(clearinghouse.market(market))[9:] == new


def test_set_market_params__higher_margin__applies_to_open_positions(
    clearinghouse, market, funded, book, owner, maker, taker
):
    book(taker, maker, market, UNIT, MARK)
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(im_fixed=30 * USDC, mm_fixed=20 * USDC))

    assert clearinghouse.margin_requirements(taker.address) == (
        margin(UNIT, 30 * USDC, 2_500, MARK),
        margin(UNIT, 20 * USDC, 1_500, MARK),
    )


def test_set_market_params__shorter_price_age__mark_stale_sooner(clearinghouse, market, owner):
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(max_price_age=60))
    boa.env.time_travel(seconds=61)

    assert clearinghouse.mark(market)[2] is False


@pytest.mark.parametrize(
    "overrides",
    [
        dict(mm_fixed=0, mm_rate_bps=1, im_fixed=0, im_rate_bps=1),
        dict(im_rate_bps=10_000),
        dict(mm_fixed=15 * USDC, mm_rate_bps=2_500),
        dict(max_price_age=60, dispute_window=600, oi_cap=1),
        dict(max_price_age=7 * DAY, dispute_window=7 * DAY, oi_cap=2**62 - 1),  # the risk word holds 62 bits
    ],
)
def test_set_market_params__at_bounds__accepted(clearinghouse, market, owner, overrides):
    with boa.env.prank(owner):
        clearinghouse.set_market_params(market, _params(**overrides))

    assert tuple(clearinghouse.market(market))[9:] == _params(**overrides)


REJECTIONS = MARKET_PARAM_REJECTIONS


@pytest.mark.parametrize(
    "overrides, reason", REJECTIONS, ids=[f"{r[1].split(': ')[1]}-{i}" for i, r in enumerate(REJECTIONS)]
)
def test_set_market_params__out_of_bounds__reverts(clearinghouse, market, owner, snapshot, overrides, reason):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts(reason):
        clearinghouse.set_market_params(market, _params(**overrides))

    assert snapshot() == before


def test_set_market_params__unknown_market__reverts(clearinghouse, market, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Clearinghouse: unknown market"):
        clearinghouse.set_market_params(market + 1, _params())

    assert snapshot() == before


def test_set_market_params__non_owner__reverts(clearinghouse, market, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_market_params(market, _params(oi_cap=1))

    assert snapshot() == before
