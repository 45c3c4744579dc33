# pragma version ~=0.4.3
"""
@title Storage packing helpers
@notice Signed values stored in 128-bit halves of a storage word (two's complement) and
        unsigned fields in fixed bit ranges. Packing keeps the hot paths (oracle submit,
        trade, margin scan) at one storage slot per record instead of one per field.
"""

MASK64: constant(uint256) = 2**64 - 1
MASK128: constant(uint256) = 2**128 - 1
# largest magnitude an int128 half holds
INT128_LIMIT: constant(int256) = 2**127 - 1


@pure
@internal
def to_u128(x: int256) -> uint256:
    # caller guarantees |x| <= INT128_LIMIT
    return convert(convert(x, bytes32), uint256) & MASK128


@pure
@internal
def from_u128(x: uint256) -> int256:
    if x >= 2**127:
        return convert(x, int256) - 2**128
    return convert(x, int256)


@pure
@internal
def fits_int128(x: int256) -> bool:
    return x >= -INT128_LIMIT and x <= INT128_LIMIT
