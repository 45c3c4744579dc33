# pragma version ~=0.4.3
"""
@title MockStatefulWallet
@notice Test-only EIP-1271 wallet that answers every `isValidSignature` with the magic value
        and, when `writes` is set, also writes its storage while answering: what a wallet
        trying to act (re-enter, count, move funds) during the Exchange's signature check
        would do. The Exchange's check is a static call, so such a wallet's answer never
        counts. Never deploy on a network with value.
"""

# the EIP-1271 magic value, bytes4(keccak256("isValidSignature(bytes32,bytes)"))
_MAGIC: constant(bytes4) = 0x1626ba7e

writes: public(bool)
# how many checks it answered (only ever written when `writes`)
answered: public(uint256)


@deploy
def __init__(writes_: bool):
    """
    @param writes_ Write storage while answering (True) or answer as a view would (False).
    """
    self.writes = writes_


@external
def isValidSignature(hash: bytes32, signature: Bytes[1024]) -> bytes4:
    """
    @notice EIP-1271: the magic value for any hash and signature (a state change first when
            `writes`).
    """
    if self.writes:
        self.answered += 1
    return _MAGIC
