"""Timelock constructor: admin and delay; the delay floor (MIN_DELAY = 24 h) holds on every
chain but 31337, where 0 is allowed; MAX_DELAY = 30 days everywhere."""

import boa
import pytest

from tests.utils.contract_helpers import events
from tests.utils.timelock import DAY, LOCAL, MAX_DELAY, MIN_DELAY, SEPOLIA, TIMELOCK

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def admin():
    return boa.env.generate_address("timelock_admin")


@pytest.fixture
def on_chain():
    """`on_chain(chain_id)`: run the rest of the test on that chain id (restored after)."""
    saved = boa.env.evm.patch.chain_id

    def _set(chain_id):
        boa.env.evm.patch.chain_id = chain_id

    yield _set
    boa.env.evm.patch.chain_id = saved


def test_constructor__admin_and_delay__stored(admin, owner):
    with boa.env.prank(owner):
        tl = TIMELOCK.deploy(admin, DAY)

    (log,) = events(tl, "DelaySet")
    assert log.delay == DAY
    assert tl.owner() == admin  # the admin, not the deployer
    assert tl.pending_owner() == ZERO
    assert tl.delay() == DAY


def test_constructor__constants__as_documented(admin):
    tl = TIMELOCK.deploy(admin, DAY)

    assert (tl.MIN_DELAY(), tl.MAX_DELAY(), tl.GRACE_PERIOD()) == (86_400, 30 * 86_400, 14 * 86_400)
    assert (tl.LOCAL_CHAIN_ID(), tl.MAX_CALLDATA()) == (31_337, 4_096)


@pytest.mark.parametrize("delay", [0, 1, MIN_DELAY - 1, MIN_DELAY, MAX_DELAY])
def test_constructor__local_chain__any_delay_up_to_max(admin, on_chain, delay):
    on_chain(LOCAL)

    assert TIMELOCK.deploy(admin, delay).delay() == delay


@pytest.mark.parametrize("chain_id", [1, SEPOLIA, 421_614, 84_532])
@pytest.mark.parametrize("delay", [0, 3_600, MIN_DELAY - 1])
def test_constructor__below_minimum_off_local_chain__reverts(admin, on_chain, chain_id, delay):
    on_chain(chain_id)

    with boa.reverts("Timelock: delay below minimum"):
        TIMELOCK.deploy(admin, delay)


@pytest.mark.parametrize("delay", [MIN_DELAY, 2 * DAY, MAX_DELAY])
def test_constructor__at_least_minimum_on_testnet__stored(admin, on_chain, delay):
    on_chain(SEPOLIA)

    assert TIMELOCK.deploy(admin, delay).delay() == delay


@pytest.mark.parametrize("chain_id", [LOCAL, SEPOLIA])
def test_constructor__above_maximum__reverts(admin, on_chain, chain_id):
    on_chain(chain_id)

    with boa.reverts("Timelock: delay above maximum"):
        TIMELOCK.deploy(admin, MAX_DELAY + 1)


def test_constructor__zero_admin__reverts():
    with boa.reverts("Timelock: zero admin"):
        TIMELOCK.deploy(ZERO, DAY)
