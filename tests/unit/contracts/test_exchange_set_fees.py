"""Exchange.set_fees (and the constructor): maker and taker fees in bps of |notional|, each
at most MAX_FEE_BPS = 100 (1%)."""

import boa
import pytest

from tests.utils.contract_helpers import events
from tests.utils.deployers import EXCHANGE


def test_set_fees__owner__stored(exchange, owner):
    with boa.env.prank(owner):
        exchange.set_fees(2, 5)

    (log,) = events(exchange, "FeesSet")
    assert (log.maker_fee_bps, log.taker_fee_bps) == (2, 5)
    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == (2, 5)


@pytest.mark.parametrize("maker_bps, taker_bps", [(0, 0), (100, 100), (0, 100)])
def test_set_fees__within_cap__accepted(exchange, owner, maker_bps, taker_bps):
    with boa.env.prank(owner):
        exchange.set_fees(maker_bps, taker_bps)

    assert (exchange.maker_fee_bps(), exchange.taker_fee_bps()) == (maker_bps, taker_bps)


@pytest.mark.parametrize("maker_bps, taker_bps", [(101, 0), (0, 101), (2**256 - 1, 5)])
def test_set_fees__above_cap__reverts(exchange, owner, snapshot, maker_bps, taker_bps):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Exchange: fee above cap"):
        exchange.set_fees(maker_bps, taker_bps)

    assert snapshot() == before


def test_set_fees__non_owner__reverts(exchange, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        exchange.set_fees(1, 1)

    assert snapshot() == before


def test_constructor__fees_within_cap__stored(clearinghouse):
    ex = EXCHANGE.deploy(clearinghouse.address, 100, 3)

    assert (ex.maker_fee_bps(), ex.taker_fee_bps()) == (100, 3)


def test_constructor__fee_above_cap__reverts(clearinghouse, snapshot):
    before = snapshot()

    with boa.reverts("Exchange: fee above cap"):
        EXCHANGE.deploy(clearinghouse.address, 0, 101)

    assert snapshot() == before
