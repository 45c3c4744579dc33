"""ERC-4626 first-depositor inflation attack: the attacker joins with 1 base unit and donates a
large amount (to the pool's idle balance, or to its Clearinghouse account through deposit_for)
to round the next member's shares down. 10**6 virtual shares make the donation cost the attacker
half of it while the victim loses at most cents."""

import boa
import pytest

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.utils.contract_helpers import role_trader
from tests.utils.deployers import USDC

DONATION = 100_000 * USDC
VICTIM = 10_000 * USDC


@pytest.mark.parametrize("route", ["token_transfer", "deposit_for"])
def test_attack__first_depositor_donation__unprofitable(protocol, pool, bob, route):
    attacker = role_trader("inflater")
    protocol.usdc.mint(attacker.address, DONATION + 1)
    with boa.env.prank(attacker.address):
        protocol.usdc.approve(pool.address, 1)
        pool.deposit(1, attacker.address)
        if route == "token_transfer":
            protocol.usdc.transfer(pool.address, DONATION)
        else:
            protocol.usdc.approve(protocol.clearinghouse.address, DONATION)
            protocol.clearinghouse.deposit_for(pool.address, DONATION)

    with boa.env.prank(bob.address):
        victim_shares = pool.deposit(VICTIM, bob.address)

    assert victim_shares > 0
    victim_value = pool.previewRedeem(victim_shares)
    attacker_value = pool.previewRedeem(pool.balanceOf(attacker.address))
    assert VICTIM - victim_value <= 100_000  # at most $0.10 lost to rounding
    # the virtual shares take half of the donation: the attacker loses ~$50,000 to cost the
    # victim cents
    assert DONATION + 1 - attacker_value > 40_000 * USDC

    # and both can really leave with those amounts
    with boa.env.prank(bob.address):
        assert pool.redeem(victim_shares, bob.address, bob.address) == victim_value
