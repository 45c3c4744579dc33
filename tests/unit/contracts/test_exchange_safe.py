"""Real Safe 1.4.1 accounts trade through the Exchange (EIP-1271 via CompatibilityFallbackHandler).

The Safe contracts are the audited build artifacts of `@safe-global/safe-contracts@1.4.1`
(tests/utils/safe.py), deployed here: a 1-of-1 Safe, a 2-of-3 Safe whose owners sign the
order's SafeMessage off-chain, and a Safe that approves an order on-chain by delegatecalling
SignMessageLib (the signature is then empty). Each trades through `fill` and `match_orders`;
a wrong owner, too few owners and a revoked approval are refused and change nothing.
"""

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.utils.contract_helpers import FUNDING, MARK, UNIT, USDC, next_nonce
from tests.utils.safe import (
    MAGIC,
    ZERO,
    SafeBoa,
    domain_separator,
    new_owners,
    prev_owner,
    safe_message_hash,
    safe_tx_hash,
)


@pytest.fixture(scope="module")
def safes():
    return SafeBoa()


@pytest.fixture(scope="module")
def owners():
    return new_owners(3)


@pytest.fixture
def fund_safe(protocol, safes, usdc, clearinghouse):
    """Mint collateral to the Safe, then the owners approve and deposit it by Safe transactions."""

    def _fund(safe, signers, amount=FUNDING):
        usdc.mint(safe.address, amount)
        safes.execute(safe, usdc.address, usdc.approve.prepare_calldata(clearinghouse.address, amount), signers)
        safes.execute(safe, clearinghouse.address, clearinghouse.deposit.prepare_calldata(amount), signers)
        assert clearinghouse.collateral(safe.address) == amount
        return safe

    return _fund


@pytest.fixture
def safe_1of1(safes, owners, fund_safe, market, funded):
    return fund_safe(safes.create(owners[:1], 1), owners[:1])


@pytest.fixture
def safe_2of3(safes, owners, fund_safe, market, funded):
    return fund_safe(safes.create(owners, 2), owners[:2])


def _order(safe, market, is_buy, quantity=UNIT, price=MARK):
    return (safe.address, market, is_buy, quantity, price, next_nonce(), 2**40, False)


def _fill(exchange, taker, order, sig, quantity=UNIT):
    with boa.env.prank(taker.address):
        exchange.fill(order, sig, quantity)


# ---------------------------------------------------------------- the off-chain half is the Safe's own


def test_safe_message_hash__matches_fallback_handler(safes, safe_2of3, exchange, market):
    # our hashing of the SafeMessage equals the handler's: owners sign what the Safe checks
    digest = exchange.order_hash(_order(safe_2of3, market, True))

    assert safe_2of3.domainSeparator() == domain_separator(31337, safe_2of3.address)
    assert safes.handler.getMessageHashForSafe(safe_2of3.address, encode(["bytes32"], [digest])) == safe_message_hash(
        31337, safe_2of3.address, digest
    )


def test_safe_tx_hash__matches_safe(safes, safe_2of3, usdc):
    data = usdc.approve.prepare_calldata(ZERO, 1)
    nonce = safe_2of3.nonce()

    assert safe_2of3.getTransactionHash(usdc.address, 0, data, 0, 0, 0, 0, ZERO, ZERO, nonce) == safe_tx_hash(
        31337, safe_2of3.address, usdc.address, data, nonce
    )


def test_safe__version_and_setup(safes, safe_2of3, owners):
    assert safe_2of3.VERSION() == "1.4.1"
    assert safe_2of3.getThreshold() == 2
    assert sorted(safe_2of3.getOwners()) == sorted(o.address for o in owners)


# ---------------------------------------------------------------- 1-of-1: 65-byte owner signature


def test_fill__safe_1of1_maker__filled(safes, exchange, clearinghouse, market, safe_1of1, owners, taker):
    order = _order(safe_1of1, market, True)
    sig = safes.message_signatures(safe_1of1, exchange.order_hash(order), owners[:1])
    assert len(sig) == 65

    _fill(exchange, taker, order, sig)

    assert clearinghouse.position(safe_1of1.address, market) == (UNIT, MARK)
    assert clearinghouse.position(taker.address, market) == (-UNIT, -MARK)


def test_match_orders__safe_1of1_taker__filled(
    safes, exchange, clearinghouse, market, safe_1of1, owners, signed_order, maker, keeper
):
    ask, ask_sig = signed_order(maker, market, False, UNIT, MARK)
    bid = _order(safe_1of1, market, True)
    with boa.env.prank(keeper.address):
        exchange.match_orders(
            ask, ask_sig, bid, safes.message_signatures(safe_1of1, exchange.order_hash(bid), owners[:1]), UNIT
        )

    assert clearinghouse.position(safe_1of1.address, market) == (UNIT, MARK)


# ---------------------------------------------------------------- 2-of-3: 130 bytes collected off-chain


@pytest.mark.parametrize("signers", [(0, 1), (0, 2), (1, 2)])
def test_fill__safe_2of3_any_two_owners__filled(
    safes, exchange, clearinghouse, market, safe_2of3, owners, taker, signers
):
    order = _order(safe_2of3, market, False)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), [owners[i] for i in signers])
    assert len(sig) == 130

    _fill(exchange, taker, order, sig)

    assert clearinghouse.position(safe_2of3.address, market) == (-UNIT, -MARK)
    assert clearinghouse.position(taker.address, market) == (UNIT, MARK)


def test_fill__safe_l2_2of3__filled(safes, exchange, clearinghouse, market, owners, fund_safe, funded, taker):
    # SafeL2 (the singleton Safe{Wallet} deploys on L2s) validates the same way
    safe = fund_safe(safes.create(owners, 2, l2=True), owners[:2])
    order = _order(safe, market, True)

    _fill(exchange, taker, order, safes.message_signatures(safe, exchange.order_hash(order), owners[1:]))

    assert clearinghouse.position(safe.address, market) == (UNIT, MARK)


def test_match_orders__safe_2of3_maker_and_taker__filled(
    safes, exchange, clearinghouse, market, safe_2of3, safe_1of1, owners, keeper
):
    # both sides contract-signed: a 130-byte maker signature and a 65-byte taker signature
    ask = _order(safe_2of3, market, False)
    bid = _order(safe_1of1, market, True, price=MARK + USDC)
    ask_sig = safes.message_signatures(safe_2of3, exchange.order_hash(ask), owners[1:])
    bid_sig = safes.message_signatures(safe_1of1, exchange.order_hash(bid), owners[:1])
    with boa.env.prank(keeper.address):
        exchange.match_orders(ask, ask_sig, bid, bid_sig, UNIT)

    assert clearinghouse.position(safe_2of3.address, market) == (-UNIT, -MARK)
    assert clearinghouse.position(safe_1of1.address, market) == (UNIT, MARK)


def test_fill__safe_2of3_partial_fills__asked_every_time(
    safes, exchange, clearinghouse, market, safe_2of3, owners, taker, liquidator
):
    order = _order(safe_2of3, market, True, 2 * UNIT)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[:2])

    _fill(exchange, taker, order, sig)
    _fill(exchange, liquidator, order, sig)

    assert exchange.filled(exchange.order_hash(order)) == 2 * UNIT
    assert clearinghouse.position(safe_2of3.address, market) == (2 * UNIT, 2 * MARK)


# ---------------------------------------------------------------- approved on-chain (SignMessageLib)


def test_fill__order_approved_on_chain__filled_with_empty_signature(
    safes, exchange, clearinghouse, market, safe_2of3, owners, taker
):
    order = _order(safe_2of3, market, True)
    digest = exchange.order_hash(order)
    safes.approve_on_chain(safe_2of3, digest, owners[:2])
    assert safe_2of3.signedMessages(safe_message_hash(31337, safe_2of3.address, digest)) == 1

    _fill(exchange, taker, order, b"")

    assert clearinghouse.position(safe_2of3.address, market) == (UNIT, MARK)


def test_match_orders__order_approved_on_chain__filled(
    safes, exchange, clearinghouse, market, safe_2of3, owners, signed_order, maker, keeper
):
    bid = _order(safe_2of3, market, True)
    safes.approve_on_chain(safe_2of3, exchange.order_hash(bid), owners[:2])
    ask, ask_sig = signed_order(maker, market, False, UNIT, MARK)
    with boa.env.prank(keeper.address):
        exchange.match_orders(bid, b"", ask, ask_sig, UNIT)

    assert clearinghouse.position(safe_2of3.address, market) == (UNIT, MARK)
    assert clearinghouse.position(maker.address, market) == (-UNIT, -MARK)


def test_fill__other_order_approved_on_chain__reverts(safes, exchange, market, safe_2of3, owners, taker, snapshot):
    # the approval binds the exact order digest: a sibling order (other nonce) is not approved
    approved = _order(safe_2of3, market, True)
    safes.approve_on_chain(safe_2of3, exchange.order_hash(approved), owners[:2])
    other = (*approved[:5], approved[5] + 1, *approved[6:])
    before = snapshot(safe_2of3.address, orders=[approved, other])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, other, b"")

    assert snapshot(safe_2of3.address, orders=[approved, other]) == before


# ---------------------------------------------------------------- refusals change nothing


def test_fill__safe_signed_by_non_owner__reverts(safes, exchange, market, safe_1of1, taker, snapshot):
    order = _order(safe_1of1, market, True)
    sig = safes.message_signatures(safe_1of1, exchange.order_hash(order), new_owners(1))
    before = snapshot(safe_1of1.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig)

    assert snapshot(safe_1of1.address, orders=[order]) == before


def test_fill__safe_2of3_owner_and_stranger__reverts(safes, exchange, market, safe_2of3, owners, taker, snapshot):
    order = _order(safe_2of3, market, True)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), [owners[0], *new_owners(1)])
    before = snapshot(safe_2of3.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig)

    assert snapshot(safe_2of3.address, orders=[order]) == before


def test_fill__safe_2of3_one_signature__reverts(
    safes, exchange, market, safe_2of3, owners, keeper, signed_order, maker, taker, snapshot
):
    order = _order(safe_2of3, market, True)
    one = safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[:1])
    ask, ask_sig = signed_order(maker, market, False, UNIT, MARK)
    before = snapshot(safe_2of3.address, orders=[order, ask])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, one)
    with boa.env.prank(keeper.address), boa.reverts("Exchange: bad signature"):
        exchange.match_orders(ask, ask_sig, order, one, UNIT)
    # the same owner's signature twice is still one owner (Safe requires ascending owners)
    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, one + one)

    assert snapshot(safe_2of3.address, orders=[order, ask]) == before


def test_fill__safe_signature_for_other_safe__reverts(safes, exchange, market, safe_1of1, owners, taker, snapshot):
    # same owner, other Safe: the SafeMessage domain binds the Safe's address
    other = safes.create(owners[:1], 1)
    order = _order(safe_1of1, market, True)
    sig = safes.message_signatures(other, exchange.order_hash(order), owners[:1])
    before = snapshot(safe_1of1.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig)

    assert snapshot(safe_1of1.address, orders=[order]) == before


def test_fill__raw_owner_signature_of_digest__reverts(exchange, market, safe_1of1, owners, taker, snapshot):
    # an owner's plain ECDSA signature of the order digest is not a SafeMessage signature
    order = _order(safe_1of1, market, True)
    sig = bytes(owners[0].unsafe_sign_hash(exchange.order_hash(order)).signature)
    before = snapshot(safe_1of1.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, taker, order, sig)

    assert snapshot(safe_1of1.address, orders=[order]) == before


def test_fill__owner_removed_after_partial_fill__rest_reverts(
    safes, exchange, clearinghouse, market, safe_2of3, owners, taker, liquidator, snapshot
):
    # revoking: the Safe swaps out a signing owner; its signatures stop counting at once
    order = _order(safe_2of3, market, True, 2 * UNIT)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[:2])
    _fill(exchange, taker, order, sig)
    prev = prev_owner(list(safe_2of3.getOwners()), owners[0].address)
    replacement = new_owners(1)[0]
    safes.execute(
        safe_2of3,
        safe_2of3.address,
        safe_2of3.swapOwner.prepare_calldata(prev, owners[0].address, replacement.address),
        owners[1:],
    )
    assert not safe_2of3.isOwner(owners[0].address)
    before = snapshot(safe_2of3.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, liquidator, order, sig)

    assert snapshot(safe_2of3.address, orders=[order]) == before
    assert exchange.filled(exchange.order_hash(order)) == UNIT
    # the remaining owners can sign it again
    _fill(exchange, liquidator, order, safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[1:]))
    assert clearinghouse.position(safe_2of3.address, market) == (2 * UNIT, 2 * MARK)


def test_fill__threshold_raised_after_partial_fill__rest_reverts(
    safes, exchange, market, safe_2of3, owners, taker, liquidator, snapshot
):
    order = _order(safe_2of3, market, True, 2 * UNIT)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[:2])
    _fill(exchange, taker, order, sig)
    safes.execute(safe_2of3, safe_2of3.address, safe_2of3.changeThreshold.prepare_calldata(3), owners[:2])
    before = snapshot(safe_2of3.address, orders=[order])

    with boa.reverts("Exchange: bad signature"):
        _fill(exchange, liquidator, order, sig)

    assert snapshot(safe_2of3.address, orders=[order]) == before


def test_fill__on_chain_approval_then_cancelled_by_safe__reverts(
    safes, exchange, market, safe_2of3, owners, taker, snapshot
):
    # SignMessageLib approvals cannot be unset; a Safe withdraws one by cancelling the order
    # (or `cancel_all`) in a Safe transaction
    order = _order(safe_2of3, market, True)
    safes.approve_on_chain(safe_2of3, exchange.order_hash(order), owners[:2])
    safes.execute(safe_2of3, exchange.address, exchange.cancel.prepare_calldata(order), owners[:2])
    assert exchange.cancelled(exchange.order_hash(order))
    before = snapshot(safe_2of3.address, orders=[order])

    with boa.reverts("Exchange: order cancelled"):
        _fill(exchange, taker, order, b"")

    assert snapshot(safe_2of3.address, orders=[order]) == before


def test_fill__safe_without_collateral__reverts_in_clearinghouse(
    safes, exchange, market, owners, taker, funded, snapshot
):
    # the signature is good; margin is still the Clearinghouse's to enforce
    safe = safes.create(owners[:1], 1)
    order = _order(safe, market, True)
    sig = safes.message_signatures(safe, exchange.order_hash(order), owners[:1])
    before = snapshot(safe.address, orders=[order])

    with boa.reverts():
        _fill(exchange, taker, order, sig)

    assert snapshot(safe.address, orders=[order]) == before


# ---------------------------------------------------------------- the length bound


def test_fill__safe_15of15_signature_975_bytes__filled(
    safes, exchange, clearinghouse, market, fund_safe, funded, taker
):
    # 15 owners x 65 bytes: the largest plain-owner Safe signature under MAX_SIGNATURE_LENGTH
    many = new_owners(15)
    safe = fund_safe(safes.create(many, 15), many)
    order = _order(safe, market, True)
    sig = safes.message_signatures(safe, exchange.order_hash(order), many)
    assert len(sig) == 975 <= exchange.MAX_SIGNATURE_LENGTH() == 1024

    _fill(exchange, taker, order, sig)

    assert clearinghouse.position(safe.address, market) == (UNIT, MARK)


@pytest.fixture
def treasury(safes, usdc, clearinghouse, market, funded):
    """(outer, {owner Safe: its signing EOAs}): a funded 2-of-2 Safe whose owners are 2-of-3
    Safes (a company treasury owned by two departments' Safes)."""
    inner = {safes.create(o, 2): o[:2] for o in (new_owners(3), new_owners(3))}
    outer = safes.create([s.address for s in inner], 2)
    funder = boa.env.generate_address("treasury-funder")
    usdc.mint(funder, 1_000 * USDC)
    with boa.env.prank(funder):
        usdc.approve(clearinghouse.address, 1_000 * USDC)
        clearinghouse.deposit_for(outer.address, 1_000 * USDC)
    return outer, inner


def test_fill__safe_owned_by_two_safes__454_byte_signature__filled(
    safes, exchange, clearinghouse, market, treasury, taker, keeper, signed_order, maker
):
    # each owner Safe signs through its own owners, nested in the outer Safe's signature
    outer, inner = treasury
    bid = _order(outer, market, True, 2 * UNIT)
    sig = safes.nested_message_signatures(outer, exchange.order_hash(bid), inner)
    assert len(sig) == 2 * 65 + 2 * (32 + 130) == 454

    _fill(exchange, taker, bid, sig)
    ask, ask_sig = signed_order(maker, market, False, UNIT, MARK)
    with boa.env.prank(keeper.address):
        exchange.match_orders(ask, ask_sig, bid, sig, UNIT)

    assert clearinghouse.position(outer.address, market) == (2 * UNIT, 2 * MARK)
    # one department alone is not enough
    one = safes.nested_message_signatures(outer, exchange.order_hash(bid), dict(list(inner.items())[:1]))
    assert safes.is_valid_signature(outer, exchange.order_hash(bid), one) == b""


def test_fill__signature_of_max_length__reaches_wallet_whole(safes, exchange, clearinghouse, market, treasury, taker):
    # the same nested Safe signature, its owner Safes' parts moved to the very end of 1,024
    # bytes: the Safe reads them there (a cut anywhere would fail GS022/GS023 or GS024)
    outer, inner = treasury
    order = _order(outer, market, True)
    digest = exchange.order_hash(order)
    sig = safes.nested_message_signatures(outer, digest, inner, gap=1024 - 454)
    assert len(sig) == 1024
    cut = sig[:-1]
    assert safes.is_valid_signature(outer, digest, cut) == b""

    _fill(exchange, taker, order, sig)

    assert clearinghouse.position(outer.address, market) == (UNIT, MARK)


def test_fill__signature_over_max_length__reverts(safes, exchange, market, safe_2of3, owners, taker, snapshot):
    order = _order(safe_2of3, market, True)
    sig = safes.message_signatures(safe_2of3, exchange.order_hash(order), owners[:2])
    before = snapshot(safe_2of3.address, orders=[order])

    with boa.reverts():  # ABI decoding refuses a `bytes` longer than the bound (no reason string)
        _fill(exchange, taker, order, sig + b"\x00" * (1025 - len(sig)))

    assert snapshot(safe_2of3.address, orders=[order]) == before


def test_is_valid_signature__safe_answers_magic_or_reverts(safes, exchange, market, safe_2of3, owners):
    # the exact call the Exchange makes, answered by the Safe's fallback handler
    order = _order(safe_2of3, market, True)
    digest = exchange.order_hash(order)
    assert keccak(text="isValidSignature(bytes32,bytes)")[:4] == MAGIC

    assert safes.is_valid_signature(safe_2of3, digest, safes.message_signatures(safe_2of3, digest, owners[:2])) == MAGIC
    assert safes.is_valid_signature(safe_2of3, digest, safes.message_signatures(safe_2of3, digest, owners[:1])) == b""
    assert safes.is_valid_signature(safe_2of3, digest, b"") == b""  # not approved on-chain
