"""ClearinghouseView.clearinghouse and the constructor: one view contract per Clearinghouse."""

from tests.utils.deployers import CLEARINGHOUSE_VIEW


def test_clearinghouse__deployed__the_clearinghouse_read(clearinghouse, clearinghouse_view):
    assert clearinghouse_view.clearinghouse() == clearinghouse.address


def test_constructor__another_clearinghouse__reads_that_one(protocol):
    other = CLEARINGHOUSE_VIEW.deploy(protocol.exchange.address)

    assert other.clearinghouse() == protocol.exchange.address
