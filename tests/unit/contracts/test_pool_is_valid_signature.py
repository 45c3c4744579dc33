"""Pool.isValidSignature (EIP-1271): magic value only for an approved order still within limits."""

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, INVALID, MAGIC


def test_is_valid_signature__approved__magic(protocol, pool, gpu, hedged, pool_order, approve):
    h = approve(pool_order(gpu, False, 1_000_000, GPU_MARK))
    assert pool.isValidSignature(h, b"anything") == MAGIC


def test_is_valid_signature__unknown_hash__invalid(pool, hedged):
    assert pool.isValidSignature(b"\x07" * 32, b"") == INVALID


def test_is_valid_signature__fully_filled__invalid(protocol, pool, gpu, hedged):
    assert pool.isValidSignature(protocol.exchange.order_hash(hedged), b"") == INVALID


def test_is_valid_signature__limits_moved_against__invalid(pool, gpu, alice, hedged, pool_order, approve, declare):
    h = approve(pool_order(gpu, False, 20_000_000, GPU_MARK))
    # alice cuts her declared capacity: a 30,000 GPU-h short would now exceed the cap
    declare(alice, 40)
    assert pool.hedge_cap(gpu) == 40 * 720_000 * 8 // 10
    assert pool.isValidSignature(h, b"") == INVALID


def test_is_valid_signature__stale_mark__invalid(pool, gpu, hedged, pool_order, approve):
    import boa

    h = approve(pool_order(gpu, False, 1_000_000, GPU_MARK))
    boa.env.time_travel(seconds=3_601)
    assert pool.isValidSignature(h, b"") == INVALID


def test_check_order__codes(pool, gpu, hedged, pool_order):
    assert pool.check_order(pool_order(gpu, False, 1_000, GPU_MARK), 1_000) == 0
    assert pool.check_order(pool_order(gpu + 99, False, 1_000, GPU_MARK), 1_000) == 3  # no mark
    assert pool.check_order(pool_order(gpu, False, 1_000, 0), 1_000) == 4
    assert pool.check_order(pool_order(gpu, False, 10**9, GPU_MARK), 10**9) == 5
    assert pool.check_order(pool_order(gpu, False, 40_000_000, GPU_MARK), 40_000_000) == 6
