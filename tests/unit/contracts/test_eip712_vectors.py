"""Golden EIP-712 vectors (tests/fixtures/eip712.json, signed with foundry's cast, an
independent signer): deployed at the vectors' verifyingContract addresses on chain 31337,
Exchange.order_hash and Oracle.report_digest reproduce the digests, and the cast signatures
are accepted by fill and submit."""

import boa
import pytest
from eth_utils import keccak, to_checksum_address

from tests.utils.contract_helpers import USDC, role_trader
from tests.utils.deployers import CLEARINGHOUSE, EXCHANGE, MOCK_USDC, ORACLE, ZERO_ADDRESS, Protocol
from tests.utils.vectors import EIP712_VECTORS

VECTORS = EIP712_VECTORS
ORDERS = [v for v in VECTORS["vectors"] if v["typed_data"]["primaryType"] == "Order"]
REPORTS = [v for v in VECTORS["vectors"] if v["typed_data"]["primaryType"] == "Report"]
EXCHANGE_AT = ORDERS[0]["typed_data"]["domain"]["verifyingContract"]
ORACLE_AT = REPORTS[0]["typed_data"]["domain"]["verifyingContract"]
# before every order's expiry (2026-01-01)
ORDER_TIME = 1_767_225_600 - 7 * 86_400


def _order(v):
    m = v["typed_data"]["message"]
    return (
        to_checksum_address(m["trader"]),
        int(m["market_id"]),
        m["is_buy"],
        int(m["quantity"]),
        int(m["price"]),
        int(m["nonce"]),
        int(m["expiry"]),
        m["reduce_only"],
    )


def _report(v):
    m = v["typed_data"]["message"]
    return [bytes.fromhex(f[2:]) for f in m["feed_ids"]], [int(p) for p in m["prices"]], int(m["observed_at"])


def test_typehashes__contracts__match_vectors(exchange, oracle):
    assert "0x" + exchange.ORDER_TYPEHASH().hex() == VECTORS["order_typehash"]
    assert "0x" + oracle.REPORT_TYPEHASH().hex() == VECTORS["report_typehash"]


@pytest.fixture(scope="module")
def vector_protocol():
    """The protocol with its Exchange at the vectors' address; markets 1-3 listed, marks set."""
    boa.env.evm.patch.chain_id = 31337
    saved_time = boa.env.evm.patch.timestamp
    boa.env.evm.patch.timestamp = ORDER_TIME
    owner = boa.env.generate_address("owner")
    guardian = boa.env.generate_address("guardian")
    reporter = role_trader("vector-reporter")
    with boa.env.prank(owner):
        usdc = MOCK_USDC.deploy()
        oracle = ORACLE.deploy([reporter.address], 1, guardian)
        ch = CLEARINGHOUSE.deploy(usdc.address, oracle.address, guardian, ZERO_ADDRESS)
        ex = EXCHANGE.deploy(ch.address, 0, 0, override_address=EXCHANGE_AT)
        ch.set_exchange(ex.address)
    p = Protocol(owner, guardian, [reporter], usdc, oracle, ch, ex)
    marks = {1: 2_500_000, 2: 9_000 * USDC, 3: -12_340_000}
    for mid, mark in marks.items():
        assert p.list_market(f"VECTOR/{mid}") == mid
        p.set_mark(mid, mark)
    yield p
    boa.env.evm.patch.timestamp = saved_time


@pytest.mark.parametrize("vector", ORDERS, ids=[v["note"] for v in ORDERS])
def test_order_hash__vector_order__reproduces_digest(vector_protocol, vector):
    assert vector_protocol.exchange.address == EXCHANGE_AT
    assert "0x" + vector_protocol.exchange.order_hash(_order(vector)).hex() == vector["digest"]


@pytest.mark.parametrize("vector", ORDERS, ids=[v["note"] for v in ORDERS])
def test_fill__cast_signed_vector_order__accepted(vector_protocol, vector):
    p, order = vector_protocol, _order(vector)
    signer, taker = order[0], role_trader("vector-taker")
    p.fund(signer, 1_000_000 * USDC)
    p.fund(taker.address, 1_000_000 * USDC)
    if order[7]:  # reduce-only sell: the signer first buys what it will reduce
        o = p.order(taker, order[1], False, order[3], order[4], 1)
        with boa.env.prank(signer):
            p.exchange.fill(o, p.sign_order(taker, o), order[3])
    quantity = min(order[3], 1_000)  # the 5,000 MWh vector is filled in part

    with boa.env.prank(taker.address):
        p.exchange.fill(order, bytes.fromhex(vector["signature"][2:]), quantity)

    assert p.exchange.filled(bytes.fromhex(vector["digest"][2:])) == quantity
    position = p.clearinghouse.position(signer, order[1])[0]
    assert position == (quantity if order[2] else -quantity) + (order[3] if order[7] else 0)


@pytest.fixture(scope="module")
def vector_oracle():
    """An Oracle at the vectors' address with the vectors' reporter (anvil account 1), quorum 1."""
    boa.env.evm.patch.chain_id = 31337
    owner = boa.env.generate_address("owner")
    reporter = REPORTS[0]["signer"]
    with boa.env.prank(owner):
        oracle = ORACLE.deploy([reporter], 1, owner, override_address=ORACLE_AT)
        for f in _report(REPORTS[0])[0]:
            oracle.set_feed(f, -10_000 * USDC, 100_000 * USDC)
    return oracle


@pytest.mark.parametrize("vector", REPORTS, ids=[v["note"] for v in REPORTS])
def test_report_digest__vector_report__reproduces_digest(vector_oracle, vector):
    feed_ids, prices, observed_at = _report(vector)

    assert vector_oracle.address == ORACLE_AT
    assert "0x" + vector_oracle.report_digest(feed_ids, prices, observed_at).hex() == vector["digest"]


@pytest.mark.parametrize("vector", REPORTS, ids=[v["note"] for v in REPORTS])
def test_submit__cast_signed_vector_report__accepted(vector_oracle, vector):
    feed_ids, prices, observed_at = _report(vector)
    boa.env.evm.patch.timestamp = observed_at + 60

    vector_oracle.submit(feed_ids, observed_at, [prices], [bytes.fromhex(vector["signature"][2:])])

    assert [vector_oracle.price(f) for f in feed_ids] == [(p, observed_at) for p in prices]
    assert feed_ids[0] == keccak(text="ERCOT/HB_WEST/DAM/PEAK/2021-02")
