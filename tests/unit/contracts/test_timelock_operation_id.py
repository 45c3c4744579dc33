"""Timelock.operation_id: keccak256(abi.encode(target, value, data, eta)), the key of a
queued call, reproduced here with eth_abi (what an SDK or a watcher computes)."""

import boa
import pytest

from tests.utils.timelock import DAY, TIMELOCK, operation_id


@pytest.fixture(scope="module")
def timelock(owner):
    return TIMELOCK.deploy(owner, DAY)


@pytest.mark.parametrize(
    "value, data, eta", [(0, b"", 0), (1, b"\x12\x34\x56\x78", 1_700_000_000), (10**18, b"\xff" * 4_096, 2**64)]
)
def test_operation_id__any_call__matches_abi_encoding(timelock, exchange, value, data, eta):
    assert timelock.operation_id(exchange.address, value, data, eta) == operation_id(exchange.address, value, data, eta)


def test_operation_id__queue__returns_same_id(timelock, owner, exchange):
    eta = boa.env.evm.patch.timestamp + DAY
    with boa.env.prank(owner):
        op = timelock.queue(exchange.address, 0, b"\x01\x02", eta)

    assert op == operation_id(exchange.address, 0, b"\x01\x02", eta)
