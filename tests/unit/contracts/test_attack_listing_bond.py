"""Attacks on listing bonds (issue 10): another account cannot take a lister's bond; a lister
contract that refuses ETH cannot freeze settlement (the bond is pulled, never pushed); a bond
is paid once."""

from __future__ import annotations

import boa

from tests.utils.deployers import USDC, next_day

REFUSER = """
# pragma version ~=0.4.3
interface IRegistry:
    def list_from_template(template_id: uint256, delivery_start: uint256, delivery_end: uint256) -> uint256: payable

@external
@payable
def list_window(registry: address, tid: uint256, s: uint256, e: uint256) -> uint256:
    return extcall IRegistry(registry).list_from_template(tid, s, e, value=msg.value)

# no __default__: any ETH sent here reverts
"""


def _settled_market(protocol, lister=None):
    tid = protocol.approve_template("BONDS")
    s, e = next_day(boa.env.evm.patch.timestamp)
    mid = protocol.list_from_template(tid, s, e, lister=lister)
    protocol.finalize(mid, 45 * USDC)
    return tid, mid


def test_attack_steal_bond__other_caller_refused(protocol):
    lister = boa.env.generate_address("honest_lister")
    _, mid = _settled_market(protocol, lister)
    thief = boa.env.generate_address("thief")

    with boa.env.prank(thief), boa.reverts("SeriesRegistry: not bond owner"):
        protocol.registry.claim_listing_bond(mid, thief)
    assert protocol.registry.listing_bond_owner(mid) == lister


def test_attack_claim_twice__second_refused(protocol):
    lister = boa.env.generate_address("honest_lister")
    _, mid = _settled_market(protocol, lister)
    with boa.env.prank(lister):
        protocol.registry.claim_listing_bond(mid)
    bal = boa.env.get_balance(lister)

    with boa.env.prank(lister), boa.reverts("SeriesRegistry: no bond"):
        protocol.registry.claim_listing_bond(mid)
    assert boa.env.get_balance(lister) == bal


def test_attack_refusing_lister__settlement_not_frozen(protocol):
    refuser = boa.loads(REFUSER)
    tid = protocol.approve_template("REFUSE")
    s, e = next_day(boa.env.evm.patch.timestamp)
    boa.env.set_balance(refuser.address, 0)
    caller = boa.env.generate_address("caller")
    boa.env.set_balance(caller, 10**18)
    with boa.env.prank(caller):
        mid = refuser.list_window(protocol.registry.address, tid, s, e, value=10**16)
    t = protocol.registry.template(tid)
    protocol.feeds[mid] = (
        protocol.clearinghouse.market(mid).mark_feed,
        protocol.clearinghouse.market(mid).settlement_feed,
    )
    assert t.bond == 10**16

    protocol.finalize(mid, 45 * USDC)  # settles although the lister cannot take ETH

    assert protocol.clearinghouse.market_state(mid).settled is True
    assert protocol.registry.listing_bond_owner(mid) == refuser.address
