# pragma version ~=0.4.3
"""
@title MockUSDC
@notice Devnet collateral: a 6-decimal ERC-20 (snekmate) with an open faucet `mint`
        capped at 1,000,000 USDC per call. Never deploy on a network with real value:
        anyone can mint. The deploy script only deploys it when no collateral token is given.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

# snekmate's erc20 requires an owner module; ownership of a faucet token carries no power here
initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)

# 1,000,000 USDC in base units (6 decimals)
MAX_MINT: public(constant(uint256)) = 1_000_000 * 10**6


@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("Mock USD Coin", "USDC", 6, "Mock USD Coin", "1")


@external
def mint(to: address, amount: uint256):
    """
    @notice Faucet: mint `amount` base units (6 decimals) to `to`.
    @param to Recipient.
    @param amount Base units, at most MAX_MINT (1,000,000 USDC) per call.
    """
    assert amount <= MAX_MINT, "MockUSDC: above faucet cap"
    erc20._mint(to, amount)
