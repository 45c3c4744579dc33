"""Attack (issue 16.5, the Clearinghouse's half): a settlement could be finalised too early.

The old sequence: a market listed with `dispute_window` 0; a settlement value observed at
`delivery_end` is written 60 s BEFORE it (the Oracle accepts observations up to its future drift
ahead of block time); at `delivery_end` `finalize_settlement` accepted it at once, before anyone
could see the delivery window close.

Now: the dispute window has a floor of 10 minutes on any network, and `finalize_settlement` needs
the value to have been written (not only observed) at or after `delivery_end`. The Oracle side
(settlement values written once, never before the window ends) has its own attack test.
"""

import boa

from tests.utils.contract_helpers import USDC
from tests.utils.deployers import default_market, feed_id


def test_attack__zero_dispute_window__cannot_be_listed(protocol, clearinghouse, owner):
    mark, settle = feed_id("NOWINDOW/MARK"), feed_id("NOWINDOW/SETTLE")

    with boa.env.prank(owner), boa.reverts("Clearinghouse: bad dispute window"):
        clearinghouse.list_market(default_market(mark, settle, boa.env.evm.patch.timestamp, dispute_window=0))


def test_attack__value_written_before_delivery_end__oracle_refuses(protocol, clearinghouse):
    mid = protocol.list_market("EARLY", dispute_window=600)
    end = clearinghouse.market(mid).delivery_end
    boa.env.evm.patch.timestamp = end - 60

    # the old move: observed_at = delivery_end, written 60 s early through the future drift
    with boa.reverts("Oracle: settlement too early"):
        protocol.set_settlement(mid, 45 * USDC, observed_at=end)


def test_attack__value_written_before_delivery_end__clearinghouse_refuses_too(protocol, clearinghouse):
    # behind an Oracle that did not enforce it (a plain feed), the Clearinghouse still refuses
    mid = protocol.list_market("EARLY", dispute_window=600, plain_settlement_feed=True)
    end = clearinghouse.market(mid).delivery_end
    boa.env.evm.patch.timestamp = end - 60
    protocol.set_settlement(mid, 45 * USDC, observed_at=end)
    boa.env.evm.patch.timestamp = end + 600

    with boa.reverts("Clearinghouse: written before delivery end"):
        clearinghouse.finalize_settlement(mid)
    assert not clearinghouse.market_state(mid).settled
