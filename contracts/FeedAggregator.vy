# pragma version ~=0.4.3
"""
@title Chainlink-compatible read adapter for one Compute Spread Oracle feed
@notice Exposes `AggregatorV3Interface` views (`latestRoundData`, `getRoundData`,
        `decimals`, `description`, `version`) over `Oracle.feed(feed_id)`, so integrators read
        our prices with the tooling they already have. One adapter per feed; it holds no
        state but its immutables and cannot be changed or paused.

        Mapping: answer = price in collateral base units per unit (6 decimals for USDC, may be
        negative); roundId = answeredInRound = the observation time (unix s), which strictly
        increases per feed; startedAt = observation time; updatedAt = block time of the write.
        Only the latest round is stored on-chain: `getRoundData` answers for that round id
        and reverts "No data present" for any other, as Chainlink does for unknown rounds.
"""

from interfaces import IOracle

# the Oracle whose feed this reads
oracle: public(immutable(IOracle))
# bytes32 feed id, e.g. keccak("ERCOT.HB_WEST.DA.PEAK.2026-12/MARK")
feed_id: public(immutable(bytes32))
# answer decimals (the collateral's decimals: 6 for USDC)
decimals: public(immutable(uint8))
_description: immutable(String[96])


@deploy
def __init__(oracle_: IOracle, feed_id_: bytes32, decimals_: uint8, description_: String[96]):
    """
    @param oracle_ Compute Spread Oracle.
    @param feed_id_ Feed to expose.
    @param decimals_ Decimals of the answer (collateral decimals, 6 for USDC).
    @param description_ Human name, e.g. "ERCOT.HB_WEST.DA.PEAK.2026-12 mark, USD/MWh".
    """
    oracle = oracle_
    feed_id = feed_id_
    decimals = decimals_
    _description = description_


@view
@external
def description() -> String[96]:
    """
    @return Human name of the feed and its unit.
    """
    return _description


@view
@external
def version() -> uint256:
    """
    @return Adapter version (1).
    """
    return 1


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @return roundId (observation time), answer (base units per unit, may be negative),
            startedAt (observation time), updatedAt (write time), answeredInRound (= roundId).
    """
    return self._round()


@view
@external
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Only the latest round is kept on-chain.
    @param round_id The latest round id (its observation time).
    """
    r: uint80 = 0
    answer: int256 = 0
    started: uint256 = 0
    updated: uint256 = 0
    answered: uint80 = 0
    r, answer, started, updated, answered = self._round()
    assert round_id == r, "No data present"
    return r, answer, started, updated, answered


@view
@internal
def _round() -> (uint80, int256, uint256, uint256, uint80):
    p: int256 = 0
    observed_at: uint256 = 0
    updated_at: uint256 = 0
    disputed: bool = False
    final: bool = False
    p, observed_at, updated_at, disputed, final = staticcall oracle.feed(feed_id)
    assert observed_at != 0, "No data present"
    rid: uint80 = convert(observed_at, uint80)
    return rid, p, observed_at, updated_at, rid
