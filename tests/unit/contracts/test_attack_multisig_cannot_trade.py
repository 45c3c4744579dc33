"""Attack/defect reproduction (issue 16, point 9): a multisig Safe could not trade.

`fill` and `match_orders` took the signature as `Bytes[65]` (and so did snekmate's checker),
so a 2-of-2 Safe's 130-byte owner signature, which the Safe's own `isValidSignature` accepts,
was refused by ABI decoding before any check ran. The Exchange now passes up to
MAX_SIGNATURE_LENGTH (1,024) bytes to the trader contract.

The old behaviour is reproduced by compiling today's Exchange with the bound put back at 65
(`exchange_65`): the old external interface, whose ABI decoder refuses any longer `bytes`
before the function body runs, as the old contract's did. The Safe is the real Safe 1.4.1
(tests/utils/safe.py).
"""

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth_utils import keccak

from tests.utils.contract_helpers import MARK, UNIT, next_nonce
from tests.utils.deployers import CONTRACTS
from tests.utils.safe import MAGIC, ZERO, SafeBoa, new_owners

_BOUND = "MAX_SIGNATURE_LENGTH: public(constant(uint256)) = 1024"


@pytest.fixture(scope="module")
def exchange_65():
    """The Exchange as it was: signatures bounded at 65 bytes."""
    path = CONTRACTS / "Exchange.vy"
    source = path.read_text()
    assert _BOUND in source
    return boa.loads_partial(source.replace(_BOUND, _BOUND[:-4] + "65"), name="Exchange65", filename=str(path))


@pytest.fixture(scope="module")
def safes():
    return SafeBoa()


@pytest.fixture(scope="module")
def owners():
    return new_owners(2)


@pytest.fixture
def safe_2of2(safes, owners, protocol, usdc, clearinghouse, market, funded):
    safe = safes.create(owners, 2)
    usdc.mint(safe.address, 10_000 * 10**6)
    safes.execute(safe, usdc.address, usdc.approve.prepare_calldata(clearinghouse.address, 10_000 * 10**6), owners)
    safes.execute(safe, clearinghouse.address, clearinghouse.deposit.prepare_calldata(10_000 * 10**6), owners)
    return safe


def _order(trader, market):
    return (trader, market, True, UNIT, MARK, next_nonce(), 2**40, False)


def test_old_bound__2of2_safe_signature__refused_before_any_check(
    safes, exchange_65, clearinghouse, market, safe_2of2, owners, taker
):
    old = exchange_65.deploy(clearinghouse.address, 0, 0)
    order = _order(safe_2of2.address, market)
    digest = old.order_hash(order)
    sig = safes.message_signatures(safe_2of2, digest, owners)
    # the Safe itself accepts its owners' 130-byte signature...
    assert len(sig) == 130
    assert safes.is_valid_signature(safe_2of2, digest, sig) == MAGIC
    assert safes.is_valid_signature(safe_2of2, digest, sig[:65]) == b""

    # ...but the old Exchange's ABI decoder refuses it: a bare revert, no check ran
    with boa.env.prank(taker.address), pytest.raises(BoaError) as e:
        old.fill(order, sig, UNIT)
    assert "Exchange:" not in str(e.value)
    # a 65-byte signature does reach the checks (and is refused by the Safe)
    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        old.fill(order, sig[:65], UNIT)


def test_fix__2of2_safe_signature__fills(safes, exchange, clearinghouse, market, safe_2of2, owners, taker):
    order = _order(safe_2of2.address, market)
    sig = safes.message_signatures(safe_2of2, exchange.order_hash(order), owners)

    with boa.env.prank(taker.address):
        exchange.fill(order, sig, UNIT)

    assert clearinghouse.position(safe_2of2.address, market) == (UNIT, MARK)
    assert clearinghouse.position(taker.address, market) == (-UNIT, -MARK)


def test_fix__2of2_safe_signature_via_match_orders__fills(
    safes, exchange, clearinghouse, market, safe_2of2, owners, signed_order, maker, keeper
):
    bid = _order(safe_2of2.address, market)
    ask, ask_sig = signed_order(maker, market, False, UNIT, MARK)
    sig = safes.message_signatures(safe_2of2, exchange.order_hash(bid), owners)

    with boa.env.prank(keeper.address):
        exchange.match_orders(bid, sig, ask, ask_sig, UNIT)

    assert clearinghouse.position(safe_2of2.address, market) == (UNIT, MARK)


def test_fix__one_of_two_owners__still_refused(safes, exchange, market, safe_2of2, owners, taker, snapshot):
    # raising the bound lets the Safe decide; it still demands both owners
    order = _order(safe_2of2.address, market)
    sig = safes.message_signatures(safe_2of2, exchange.order_hash(order), owners[:1])
    before = snapshot(safe_2of2.address, orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, sig, UNIT)

    assert snapshot(safe_2of2.address, orders=[order]) == before


def test_fix__zero_address_trader_with_empty_signature__bad_signature(exchange, market, taker, snapshot):
    # snekmate's ECDSA "recovers" the zero address from a signature of neither 64 nor 65 bytes,
    # so the old checker let an empty signature pass for an order by address(0) (only the
    # Clearinghouse's margin check stopped it); the Exchange now refuses other lengths itself
    order = _order("0x" + "00" * 20, market)
    before = snapshot(orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, b"", UNIT)

    assert snapshot(orders=[order]) == before


def test_fix__external_interface_unchanged(exchange):
    # only the bound changed: the ABI types, hence the selectors wallets and matchers use, stay
    order = "(address,uint256,bool,uint256,int256,uint256,uint256,bool)"
    abi = {f["name"]: [i["type"] for i in f["inputs"]] for f in exchange.abi if f.get("type") == "function"}
    assert abi["fill"] == ["tuple", "bytes", "uint256"]
    assert abi["match_orders"] == ["tuple", "bytes", "tuple", "bytes", "uint256"]
    o = (ZERO, 0, False, 0, 0, 0, 0, False)
    assert exchange.fill.prepare_calldata(o, b"", 0)[:4] == keccak(text=f"fill({order},bytes,uint256)")[:4]
    assert (
        exchange.match_orders.prepare_calldata(o, b"", o, b"", 0)[:4]
        == keccak(text=f"match_orders({order},bytes,{order},bytes,uint256)")[:4]
    )
