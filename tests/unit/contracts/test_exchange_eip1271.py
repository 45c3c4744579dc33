"""Contract accounts (a Safe via EIP-1271) trade through the Exchange: Mock1271Wallet accepts
ECDSA signatures of its EOA owner and moves collateral through owner-only passthroughs; the
real Safe 1.4.1 is in test_exchange_safe.py."""

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError

from tests.utils.contract_helpers import MARK, MOCK_1271_WALLET, UNIT, USDC, next_nonce, role_trader
from tests.utils.deployers import CONTRACTS

MAGIC = bytes.fromhex("1626ba7e")


@pytest.fixture(scope="module")
def wallet_owner():
    return role_trader("wallet-owner")


@pytest.fixture(scope="module")
def wallet(wallet_owner):
    return MOCK_1271_WALLET.deploy(wallet_owner.address)


@pytest.fixture
def funded_wallet(wallet, wallet_owner, usdc, clearinghouse, market, funded):
    usdc.mint(wallet.address, 1_000 * USDC)
    with boa.env.prank(wallet_owner.address):
        wallet.approve(usdc.address, clearinghouse.address, 1_000 * USDC)
        wallet.deposit(clearinghouse.address, 1_000 * USDC)
    return wallet


def _wallet_order(wallet, market, is_buy, quantity, price):
    return (wallet.address, market, is_buy, quantity, price, next_nonce(), 2**40, False)


def test_deposit__owner_passthrough__credits_wallet_account(clearinghouse, usdc, funded_wallet):
    assert clearinghouse.collateral(funded_wallet.address) == 1_000 * USDC
    assert usdc.balanceOf(funded_wallet.address) == 0


def test_fill__wallet_signed_order__filled(
    protocol, exchange, clearinghouse, market, funded_wallet, wallet_owner, taker
):
    order = _wallet_order(funded_wallet, market, True, UNIT, MARK)
    sig = protocol.sign_order(wallet_owner, order)  # the owner's key signs for the wallet
    with boa.env.prank(taker.address):
        exchange.fill(order, sig, UNIT)

    assert exchange.filled(exchange.order_hash(order)) == UNIT
    assert clearinghouse.position(funded_wallet.address, market) == (UNIT, MARK)
    assert clearinghouse.position(taker.address, market) == (-UNIT, -MARK)


def test_match_orders__wallet_as_taker__filled(
    protocol, exchange, clearinghouse, market, funded_wallet, wallet_owner, signed_order, maker, keeper
):
    ask = signed_order(maker, market, False, UNIT, MARK)
    bid = _wallet_order(funded_wallet, market, True, UNIT, MARK)
    with boa.env.prank(keeper.address):
        exchange.match_orders(ask[0], ask[1], bid, protocol.sign_order(wallet_owner, bid), UNIT)

    assert clearinghouse.position(funded_wallet.address, market) == (UNIT, MARK)


def test_fill__wallet_order_signed_by_stranger__reverts(protocol, exchange, market, funded_wallet, taker, snapshot):
    order = _wallet_order(funded_wallet, market, True, UNIT, MARK)
    sig = protocol.sign_order(taker, order)
    before = snapshot(funded_wallet.address, orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, sig, UNIT)

    assert snapshot(funded_wallet.address, orders=[order]) == before


def test_fill__wallet_order_with_garbage_signature__reverts(protocol, exchange, market, funded_wallet, taker, snapshot):
    # the wallet's own check reverts; the Exchange treats that as a bad signature
    order = _wallet_order(funded_wallet, market, True, UNIT, MARK)
    before = snapshot(funded_wallet.address, orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, b"\x00" * 65, UNIT)

    assert snapshot(funded_wallet.address, orders=[order]) == before


def test_fill__contract_without_1271__reverts(protocol, exchange, clearinghouse, market, funded, taker, snapshot):
    # a contract that cannot validate signatures (here: the Clearinghouse) can never be a maker
    order = (clearinghouse.address, market, True, UNIT, MARK, 1, 2**40, False)
    sig = protocol.sign_order(taker, order)
    before = snapshot(orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, sig, UNIT)

    assert snapshot(orders=[order]) == before


def test_is_valid_signature__owner_signature__magic_value(protocol, wallet, wallet_owner, exchange, market):
    order = _wallet_order(wallet, market, True, UNIT, MARK)
    digest = exchange.order_hash(order)

    assert wallet.isValidSignature(digest, protocol.sign_order(wallet_owner, order)) == MAGIC
    assert wallet.IERC1271_MAGIC() == MAGIC


def test_is_valid_signature__other_signer__invalid_value(protocol, wallet, exchange, market, taker):
    order = _wallet_order(wallet, market, True, UNIT, MARK)

    assert wallet.isValidSignature(exchange.order_hash(order), protocol.sign_order(taker, order)) == b"\xff" * 4


@pytest.mark.parametrize("call", ["approve", "deposit"])
def test_passthrough__non_owner__reverts(wallet, usdc, clearinghouse, non_owner, snapshot, call):
    before = snapshot(wallet.address, contracts=[wallet])

    with boa.env.prank(non_owner), boa.reverts("Mock1271Wallet: not owner"):
        if call == "approve":
            wallet.approve(usdc.address, clearinghouse.address, 1)
        else:
            wallet.deposit(clearinghouse.address, 1)

    assert snapshot(wallet.address, contracts=[wallet]) == before


def test_fill__wallet_revokes_after_partial_fill__rest_reverts(
    protocol, exchange, clearinghouse, market, funded_wallet, wallet_owner, taker, non_owner, snapshot
):
    # a contract signer is asked again on every fill: rotating its owner revokes open orders
    order = _wallet_order(funded_wallet, market, True, 2 * UNIT, MARK)
    sig = protocol.sign_order(wallet_owner, order)
    with boa.env.prank(taker.address):
        exchange.fill(order, sig, UNIT)
    with boa.env.prank(wallet_owner.address):
        funded_wallet.set_owner(non_owner)
    before = snapshot(funded_wallet.address, orders=[order])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, sig, UNIT)

    assert snapshot(funded_wallet.address, orders=[order]) == before
    assert exchange.filled(exchange.order_hash(order)) == UNIT


MOCK_STATEFUL_WALLET = boa.load_partial(str(CONTRACTS / "testing" / "MockStatefulWallet.vy"))


def test_fill__wallet_writes_state_while_answering__bad_signature(exchange, market, taker, snapshot):
    # the Exchange asks with STATICCALL: a wallet that tries to change state (re-enter, count,
    # move funds) while answering fails its own check, whatever it returns
    wallet = MOCK_STATEFUL_WALLET.deploy(True)
    order = (wallet.address, market, True, UNIT, MARK, next_nonce(), 2**40, False)
    before = snapshot(wallet.address, orders=[order], contracts=[wallet])

    with boa.env.prank(taker.address), boa.reverts("Exchange: bad signature"):
        exchange.fill(order, b"\x01" * 200, UNIT)

    assert snapshot(wallet.address, orders=[order], contracts=[wallet]) == before
    assert wallet.answered() == 0


def test_fill__same_wallet_answering_as_a_view__passes_signature_check(exchange, market, taker):
    # control: the same answer without the write gets past the signature (and stops at margin:
    # this wallet holds no collateral)
    wallet = MOCK_STATEFUL_WALLET.deploy(False)
    order = (wallet.address, market, True, UNIT, MARK, next_nonce(), 2**40, False)

    with boa.env.prank(taker.address), pytest.raises(BoaError) as e:
        exchange.fill(order, b"\x01" * 200, UNIT)

    assert "Exchange: bad signature" not in str(e.value) and "Clearinghouse:" in str(e.value)
