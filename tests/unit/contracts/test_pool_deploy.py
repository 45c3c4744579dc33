"""Pool constructor: bound to one Clearinghouse and its Exchange, limits and delay in bounds."""

import boa
import pytest

from tests.utils.deployers import POOL, POOL_DELAY, POOL_LIMITS


def _deploy(protocol, exchange=None, owner=None, delay=POOL_DELAY, limits=POOL_LIMITS):
    owner = protocol.owner if owner is None else owner
    return POOL.deploy(
        "Compute Pool",
        "CPOOL",
        protocol.clearinghouse.address,
        (exchange or protocol.exchange).address,
        protocol.usdc.address,
        owner,
        owner,
        delay,
        limits,
    )


def test_deploy__wired(protocol):
    p = _deploy(protocol)
    assert p.clearinghouse() == protocol.clearinghouse.address
    assert p.exchange() == protocol.exchange.address
    assert p.asset() == protocol.usdc.address
    assert p.decimals() == 12  # USDC's 6 + the 6-decimal virtual-share offset
    assert p.limits() == POOL_LIMITS
    assert protocol.usdc.allowance(p.address, protocol.clearinghouse.address) == 2**256 - 1


def test_deploy__exchange_of_other_clearinghouse__reverts(protocol):
    from tests.utils.deployers import EXCHANGE

    other = EXCHANGE.deploy(protocol.usdc.address, 0, 0)
    with boa.reverts("Pool: exchange of another clearinghouse"):
        _deploy(protocol, exchange=other)


def test_deploy__zero_owner__reverts(protocol):
    with boa.reverts("Pool: zero owner"):
        _deploy(protocol, owner="0x0000000000000000000000000000000000000000")


@pytest.mark.parametrize("delay", [3_599, 30 * 86_400 + 1])
def test_deploy__delay_out_of_bounds__reverts(protocol, delay):
    with boa.reverts("Pool: delay out of bounds"):
        _deploy(protocol, delay=delay)


def test_deploy__limits_out_of_bounds__reverts(protocol):
    with boa.reverts("Pool: margin share out of bounds"):
        _deploy(protocol, limits=(5_000, 0, 0, 0, 0))
