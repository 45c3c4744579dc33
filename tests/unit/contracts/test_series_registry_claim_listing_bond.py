"""SeriesRegistry.claim_listing_bond: the lister gets its bond back once the market is settled."""

from __future__ import annotations

import boa

from tests.utils.deployers import USDC, next_day


def _listed(protocol):
    tid = protocol.approve_template("C")
    lister = boa.env.generate_address("lister_c")
    mid = protocol.list_from_template(tid, *next_day(boa.env.evm.patch.timestamp), lister=lister)
    return mid, lister


def test_claim_listing_bond__settled__paid_to_lister_once(protocol):
    mid, lister = _listed(protocol)
    protocol.finalize(mid, 45 * USDC)
    before = boa.env.get_balance(lister)
    with boa.env.prank(lister):
        protocol.registry.claim_listing_bond(mid)

    assert boa.env.get_balance(lister) == before + 10**16
    assert protocol.registry.listing_bond_owner(mid) == "0x" + "00" * 20
    assert (
        protocol.registry.market_of(
            protocol.clearinghouse.market_template(mid), protocol.clearinghouse.market(mid).delivery_start
        )
        == mid
    )


def test_claim_listing_bond__to_other_receiver__paid_there(protocol):
    mid, lister = _listed(protocol)
    protocol.finalize(mid, 45 * USDC)
    to = boa.env.generate_address("treasury")
    with boa.env.prank(lister):
        protocol.registry.claim_listing_bond(mid, to)
    assert boa.env.get_balance(to) == 10**16


def test_claim_listing_bond__not_settled__reverts(protocol):
    mid, lister = _listed(protocol)
    with boa.env.prank(lister), boa.reverts("SeriesRegistry: not settled"):
        protocol.registry.claim_listing_bond(mid)
    assert boa.env.get_balance(protocol.registry.address) == 10**16


def test_claim_listing_bond__one_off_market__no_bond(protocol):
    mid = protocol.list_market("ONEOFF")
    with boa.reverts("SeriesRegistry: no bond"):
        protocol.registry.claim_listing_bond(mid)
