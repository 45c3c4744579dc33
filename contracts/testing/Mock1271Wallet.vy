# pragma version ~=0.4.3
"""
@title Mock1271Wallet
@notice Test-only contract account (a minimal stand-in for a Safe): `isValidSignature`
        (EIP-1271) accepts 65-byte ECDSA signatures of its EOA `owner`, and the owner moves
        collateral through passthroughs (`approve`, `deposit`). Never deploy on a network
        with value; it exists to test that the Exchange accepts contract-signed orders.
"""

from ethereum.ercs import IERC20
from snekmate.utils import ecdsa


interface IClearinghouse:
    def deposit(amount: uint256): nonpayable


# EIP-1271 magic value: bytes4(keccak256("isValidSignature(bytes32,bytes)"))
IERC1271_MAGIC: public(constant(bytes4)) = 0x1626ba7e
# returned for a signature the owner did not make
_INVALID: constant(bytes4) = 0xffffffff

# the EOA whose ECDSA signatures this wallet accepts, and the only caller of passthroughs
owner: public(address)


@deploy
def __init__(owner_: address):
    """
    @param owner_ EOA that signs for the wallet and calls its passthroughs.
    """
    self.owner = owner_


@view
@external
def isValidSignature(hash: bytes32, signature: Bytes[65]) -> bytes4:
    """
    @notice EIP-1271: the magic value when `signature` is the owner's ECDSA signature of `hash`.
    """
    if ecdsa._recover_sig(hash, signature) == self.owner:
        return IERC1271_MAGIC
    return _INVALID


@external
def approve(token: IERC20, spender: address, amount: uint256):
    """
    @notice Approve `spender` for `amount` of `token` held by the wallet (owner).
    """
    assert msg.sender == self.owner, "Mock1271Wallet: not owner"
    extcall token.approve(spender, amount, default_return_value=True)


@external
def deposit(clearinghouse: IClearinghouse, amount: uint256):
    """
    @notice Deposit `amount` base units of the wallet's collateral into its Clearinghouse
            account (owner); the wallet must have approved the Clearinghouse.
    """
    assert msg.sender == self.owner, "Mock1271Wallet: not owner"
    extcall clearinghouse.deposit(amount)


@external
def set_owner(new_owner: address):
    """
    @notice Hand the wallet to another signer (owner): every signature of the old owner stops
            being valid, as when a Safe rotates its owners.
    """
    assert msg.sender == self.owner, "Mock1271Wallet: not owner"
    self.owner = new_owner
