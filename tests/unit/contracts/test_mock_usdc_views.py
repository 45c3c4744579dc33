"""MockUSDC views: name, symbol, decimals, totalSupply, balanceOf, allowance, nonces,
DOMAIN_SEPARATOR, eip712Domain, MAX_MINT."""

import boa
from eth_utils import keccak

from tests.utils.contract_helpers import USDC


def test_metadata__deployed__six_decimal_usdc(usdc):
    assert (usdc.name(), usdc.symbol(), usdc.decimals()) == ("Mock USD Coin", "USDC", 6)
    assert usdc.MAX_MINT() == 1_000_000 * USDC


def test_supply_views__fresh_accounts__zero(usdc, non_owner, maker):
    assert usdc.balanceOf(non_owner) == 0
    assert usdc.allowance(non_owner, maker.address) == 0
    assert usdc.nonces(non_owner) == 0


def test_domain_separator__chain_31337__eip712_domain_hash(usdc):
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    expected = keccak(
        domain_type
        + keccak(text="Mock USD Coin")
        + keccak(text="1")
        + (31337).to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(usdc.address[2:])
    )

    assert usdc.DOMAIN_SEPARATOR() == expected


def test_domain_separator__other_chain__re_derived(usdc):
    before = usdc.DOMAIN_SEPARATOR()
    boa.env.evm.patch.chain_id = 1

    assert usdc.DOMAIN_SEPARATOR() != before


def test_eip712_domain__deployed__fields(usdc):
    fields, name, version, chain_id, verifying, _, _ = usdc.eip712Domain()

    assert (fields, name, version, chain_id, verifying) == (b"\x0f", "Mock USD Coin", "1", 31337, usdc.address)
