"""MockUSDC.permit (EIP-2612, snekmate erc20): gasless approvals signed by the holder."""

import boa
import pytest
from eth_account.messages import encode_typed_data

from tests.utils.contract_helpers import DOMAIN_TYPE, now, role_trader

PERMIT_TYPE = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


@pytest.fixture(scope="module")
def holder():
    return role_trader("holder")


@pytest.fixture(scope="module")
def spender():
    return boa.env.generate_address("spender")


def _sign_permit(usdc, signer, owner, spender, value, nonce, deadline, chain_id=31337):
    td = {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Permit": PERMIT_TYPE},
        "primaryType": "Permit",
        "domain": {"name": "Mock USD Coin", "version": "1", "chainId": chain_id, "verifyingContract": usdc.address},
        "message": {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
    }
    sig = signer.account.sign_message(encode_typed_data(full_message=td))
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


def test_permit__holder_signature__allowance_set_and_nonce_used(usdc, holder, spender):
    deadline = now() + 600
    v, r, s = _sign_permit(usdc, holder, holder.address, spender, 77, 0, deadline)
    usdc.permit(holder.address, spender, 77, deadline, v, r, s)

    assert usdc.allowance(holder.address, spender) == 77
    assert usdc.nonces(holder.address) == 1


def test_permit__replayed__reverts(usdc, holder, spender, snapshot):
    deadline = now() + 600
    v, r, s = _sign_permit(usdc, holder, holder.address, spender, 77, 0, deadline)
    usdc.permit(holder.address, spender, 77, deadline, v, r, s)
    before = snapshot(holder, spender)

    with boa.reverts("erc20: invalid signature"):
        usdc.permit(holder.address, spender, 77, deadline, v, r, s)

    assert snapshot(holder, spender) == before


def test_permit__expired_deadline__reverts(usdc, holder, spender, snapshot):
    deadline = now() - 1
    v, r, s = _sign_permit(usdc, holder, holder.address, spender, 77, 0, deadline)
    before = snapshot(holder, spender)

    with boa.reverts("erc20: expired deadline"):
        usdc.permit(holder.address, spender, 77, deadline, v, r, s)

    assert snapshot(holder, spender) == before


def test_permit__signed_by_someone_else__reverts(usdc, holder, spender, snapshot):
    deadline = now() + 600
    v, r, s = _sign_permit(usdc, role_trader("stranger"), holder.address, spender, 77, 0, deadline)
    before = snapshot(holder, spender)

    with boa.reverts("erc20: invalid signature"):
        usdc.permit(holder.address, spender, 77, deadline, v, r, s)

    assert snapshot(holder, spender) == before


def test_permit__unrecoverable_signature__reverts(usdc, holder, spender, snapshot):
    before = snapshot(holder, spender)

    with boa.reverts("ecdsa: invalid signature"):
        usdc.permit(holder.address, spender, 77, now() + 600, 27, b"\x00" * 32, b"\x00" * 32)

    assert snapshot(holder, spender) == before


def test_permit__high_s_signature__reverts(usdc, holder, spender, snapshot):
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    deadline = now() + 600
    v, r, s = _sign_permit(usdc, holder, holder.address, spender, 77, 0, deadline)
    high_s = (n - int.from_bytes(s, "big")).to_bytes(32, "big")
    before = snapshot(holder, spender)

    with boa.reverts("ecdsa: invalid signature `s` value"):
        usdc.permit(holder.address, spender, 77, deadline, 55 - v, r, high_s)

    assert snapshot(holder, spender) == before


def test_permit__zero_spender__reverts(usdc, holder, snapshot):
    zero = "0x0000000000000000000000000000000000000000"
    deadline = now() + 600
    v, r, s = _sign_permit(usdc, holder, holder.address, zero, 77, 0, deadline)
    before = snapshot(holder)

    with boa.reverts("erc20: approve to the zero address"):
        usdc.permit(holder.address, zero, 77, deadline, v, r, s)

    assert snapshot(holder) == before
