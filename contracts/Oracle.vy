# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Oracle
@notice Stores one price per feed id (bytes32), the per-feed median of signed reports from
        at least `quorum` distinct registered reporters. Each reporter signs the EIP-712
        struct `Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)` under the
        domain {name: "ComputeSpread Oracle", version: "1", chainId, verifyingContract: this}.
        Anyone may relay (`submit`) a bundle of signed rows; the signatures carry the trust.

        Settlement feeds can be disputed (by the guardian for free, by anyone for a bond in
        wei); a disputed feed takes no more reports until the owner `resolve`s it, which makes
        its value final; the owner can `reopen` a final feed to reports (a mark feed must not
        stay frozen). The owner (two-step transfer) manages reporters, quorum, feed bounds
        and timing; the guardian can only dispute. There is no pause: a halted feed is one
        that stops being updated, which the Clearinghouse treats as stale.

        Units: price in collateral base units per 1 unit of the underlying, may be negative;
        observed_at / updated_at in unix seconds.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.utils import ecdsa
from snekmate.utils import eip712_domain_separator as eip712

import constants as c
from interfaces import IOracle

implements: IOracle

# two-step ownership: a typo'd owner address must not brick reporter management
initializes: ownable
initializes: ownable_2step[ownable := ownable]
# EIP-712 domain with chain-id re-derivation on forks
initializes: eip712

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    eip712.eip712Domain,
)

# keccak256("Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)")
REPORT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)"
)
# packed feed word: bits 0..127 price (int128, two's complement), 128..191 observed_at,
# 192..247 updated_at, bit 248 disputed, bit 249 final. One slot per feed keeps `submit`
# at one SLOAD + one SSTORE per feed.
_MASK128: constant(uint256) = 2**128 - 1
_MASK64: constant(uint256) = 2**64 - 1
_MASK56: constant(uint256) = 2**56 - 1
_DISPUTED: constant(uint256) = 1 << 248
_FINAL: constant(uint256) = 1 << 249
# hard bounds on timing parameters, seconds
_MAX_REPORT_AGE_CAP: constant(uint256) = 86_400
_MAX_FUTURE_DRIFT_CAP: constant(uint256) = 300
# prices must fit in int128 (packed word)
_PRICE_LIMIT: constant(int256) = 2**127 - 1

# who can dispute without a bond
guardian: public(address)
# registered reporters (enumerable) and membership
reporters: public(DynArray[address, c.MAX_REPORTERS])
is_reporter: public(HashMap[address, bool])
# distinct reporter signatures needed per submit; always a majority of `reporters`
quorum: public(uint256)
# seconds an observation may lag block.timestamp when submitted
max_report_age: public(uint256)
# seconds an observation may lead block.timestamp (reporter clock skew)
max_future_drift: public(uint256)
# bond in wei for a non-guardian dispute
dispute_bond: public(uint256)
# feed id -> packed word (see above)
_feeds: HashMap[bytes32, uint256]
# feed id -> packed bounds: low 128 bits max, high 128 bits min (both int128)
_bounds: HashMap[bytes32, uint256]
# feed id -> who disputed and the bond they posted (wei)
disputer: public(HashMap[bytes32, address])
dispute_deposit: public(HashMap[bytes32, uint256])
# wei owed to past disputers / owner, withdrawn with `claim_bond`
bond_claims: public(HashMap[address, uint256])


event ReportersSet:
    reporters: DynArray[address, c.MAX_REPORTERS]
    quorum: uint256

event GuardianSet:
    guardian: indexed(address)

event FeedConfigured:
    feed_id: indexed(bytes32)
    min_price: int256
    max_price: int256

event TimingSet:
    max_report_age: uint256
    max_future_drift: uint256
    dispute_bond: uint256

event PriceUpdated:
    feed_id: indexed(bytes32)
    price: int256
    observed_at: uint256

event Disputed:
    feed_id: indexed(bytes32)
    disputer: indexed(address)
    price: int256
    bond: uint256

event Resolved:
    feed_id: indexed(bytes32)
    price: int256
    previous_price: int256

event Reopened:
    feed_id: indexed(bytes32)


@deploy
def __init__(
    reporters_: DynArray[address, c.MAX_REPORTERS], quorum_: uint256, guardian_: address
):
    """
    @param reporters_ Initial reporter set (distinct, non-zero).
    @param quorum_ Signatures needed per submit; a majority of `reporters_`.
    @param guardian_ Address that may dispute without a bond.
    """
    ownable.__init__()
    ownable_2step.__init__()
    eip712.__init__("ComputeSpread Oracle", "1")
    self._set_reporters(reporters_, quorum_)
    self.guardian = guardian_
    log GuardianSet(guardian=guardian_)
    # an hour of lag covers a pusher's heartbeat with margin; 60 s covers clock skew
    self.max_report_age = 3_600
    self.max_future_drift = 60
    self.dispute_bond = 10**17
    log TimingSet(max_report_age=3_600, max_future_drift=60, dispute_bond=10**17)


# ---------------------------------------------------------------- reports


@external
def submit(
    feed_ids: DynArray[bytes32, c.MAX_FEEDS],
    observed_at: uint256,
    prices: DynArray[DynArray[int256, c.MAX_FEEDS], c.MAX_REPORTERS],
    signatures: DynArray[Bytes[65], c.MAX_REPORTERS],
):
    """
    @notice Store the per-feed median of signed reporter rows.
    @param feed_ids Feeds in this report, each configured with bounds.
    @param observed_at Unix seconds the reporters observed the prices; must be newer than
           each feed's stored observation, not older than `max_report_age`, not ahead of
           block time by more than `max_future_drift`.
    @param prices One row per reporter, one price per feed (collateral base units per unit,
           may be negative), in `feed_ids` order.
    @param signatures One 65-byte EIP-712 `Report` signature per row, by distinct reporters.
    """
    n: uint256 = len(signatures)
    nf: uint256 = len(feed_ids)
    assert n == len(prices), "Oracle: rows != signatures"
    assert nf > 0, "Oracle: no feeds"
    assert n >= self.quorum, "Oracle: below quorum"
    assert observed_at <= block.timestamp + self.max_future_drift, "Oracle: future report"
    assert observed_at + self.max_report_age >= block.timestamp, "Oracle: stale report"

    ids_hash: bytes32 = keccak256(slice(abi_encode(feed_ids), 64, 32 * nf))
    signers: DynArray[address, c.MAX_REPORTERS] = []
    for i: uint256 in range(n, bound=c.MAX_REPORTERS):
        assert len(prices[i]) == nf, "Oracle: row length"
        struct_hash: bytes32 = keccak256(
            abi_encode(
                REPORT_TYPEHASH,
                ids_hash,
                keccak256(slice(abi_encode(prices[i]), 64, 32 * nf)),
                observed_at,
            )
        )
        signer: address = ecdsa._recover_sig(eip712._hash_typed_data_v4(struct_hash), signatures[i])
        assert self.is_reporter[signer], "Oracle: unknown reporter"
        assert signer not in signers, "Oracle: duplicate reporter"
        signers.append(signer)

    column: DynArray[int256, c.MAX_REPORTERS] = []
    for j: uint256 in range(nf, bound=c.MAX_FEEDS):
        fid: bytes32 = feed_ids[j]
        word: uint256 = self._feeds[fid]
        assert word & (_DISPUTED | _FINAL) == 0, "Oracle: feed disputed or final"
        assert observed_at > (word >> 128) & _MASK64, "Oracle: not newer"
        med: int256 = 0
        if n == 3:
            # the common round (three reporters), inline: no array copy, no sort
            a: int256 = prices[0][j]
            b: int256 = prices[1][j]
            med = max(min(a, b), min(max(a, b), prices[2][j]))
        else:
            column = []
            for i: uint256 in range(n, bound=c.MAX_REPORTERS):
                column.append(prices[i][j])
            med = self._median(column)
        lo: int256 = 0
        hi: int256 = 0
        lo, hi = self._unpack_bounds(self._bounds[fid])
        assert lo < hi, "Oracle: unknown feed"
        assert med >= lo and med <= hi, "Oracle: price out of bounds"
        self._feeds[fid] = self._pack(med, observed_at, block.timestamp, 0)
        log PriceUpdated(feed_id=fid, price=med, observed_at=observed_at)


# ---------------------------------------------------------------- disputes


@external
@payable
def dispute(feed_id: bytes32):
    """
    @notice Freeze a feed's value until the owner resolves it. The guardian disputes for
            free; anyone else posts `dispute_bond` wei, returned if the owner changes the value.
    @param feed_id A feed that has a price and is not final.
    """
    word: uint256 = self._feeds[feed_id]
    assert (word >> 128) & _MASK64 != 0, "Oracle: no price"
    assert word & (_DISPUTED | _FINAL) == 0, "Oracle: feed disputed or final"
    if msg.sender != self.guardian:
        assert self.dispute_bond > 0 and msg.value == self.dispute_bond, "Oracle: wrong bond"
    self.disputer[feed_id] = msg.sender
    self.dispute_deposit[feed_id] = msg.value
    self._feeds[feed_id] = word | _DISPUTED
    log Disputed(feed_id=feed_id, disputer=msg.sender, price=self._price_of(word), bond=msg.value)


@external
def resolve(feed_id: bytes32, price_: int256):
    """
    @notice Owner's final word on a disputed feed: stores `price_` as final (no more reports).
    @param feed_id A disputed feed.
    @param price_ Final price, collateral base units per unit, within the feed's bounds.
    """
    ownable._check_owner()
    word: uint256 = self._feeds[feed_id]
    assert word & _DISPUTED != 0, "Oracle: not disputed"
    lo: int256 = 0
    hi: int256 = 0
    lo, hi = self._unpack_bounds(self._bounds[feed_id])
    assert price_ >= lo and price_ <= hi, "Oracle: price out of bounds"
    previous: int256 = self._price_of(word)
    # the bond goes back to a disputer who was right, else to the owner
    bond: uint256 = self.dispute_deposit[feed_id]
    if bond > 0:
        to: address = self.disputer[feed_id] if previous != price_ else ownable.owner
        self.bond_claims[to] += bond
        self.dispute_deposit[feed_id] = 0
    self._feeds[feed_id] = self._pack(price_, (word >> 128) & _MASK64, block.timestamp, _FINAL)
    log Resolved(feed_id=feed_id, price=price_, previous_price=previous)


@external
def reopen(feed_id: bytes32):
    """
    @notice Let reporters update a resolved (final) feed again (owner). Without it a dispute
            of a mark feed would freeze that market's mark for good (stale: no withdrawals
            or liquidations against it); settlement feeds are normally left final.
    @param feed_id A final feed; it keeps its value until a newer observation is reported.
    """
    ownable._check_owner()
    word: uint256 = self._feeds[feed_id]
    assert word & _FINAL != 0, "Oracle: not final"
    self._feeds[feed_id] = word & ~_FINAL
    log Reopened(feed_id=feed_id)


@external
@nonreentrant
def claim_bond():
    """
    @notice Withdraw wei owed from resolved disputes (pull, so a reverting receiver cannot
            block `resolve`).
    """
    amount: uint256 = self.bond_claims[msg.sender]
    assert amount > 0, "Oracle: nothing to claim"
    self.bond_claims[msg.sender] = 0
    send(msg.sender, amount)


# ---------------------------------------------------------------- admin


@external
def set_reporters(reporters_: DynArray[address, c.MAX_REPORTERS], quorum_: uint256):
    """
    @notice Replace the reporter set and quorum (owner).
    @param reporters_ Distinct non-zero addresses.
    @param quorum_ Signatures per submit; must be a strict majority of the set.
    """
    ownable._check_owner()
    self._set_reporters(reporters_, quorum_)


@external
def set_guardian(guardian_: address):
    """
    @notice Set the address that may dispute without a bond (owner).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log GuardianSet(guardian=guardian_)


@external
def set_feed(feed_id: bytes32, min_price: int256, max_price: int256):
    """
    @notice Configure a feed's accepted price range (owner). A feed must be configured
            before reports for it are accepted.
    @param min_price Lowest accepted median, collateral base units per unit (may be negative).
    @param max_price Highest accepted median; min_price < max_price, both within int128.
    """
    ownable._check_owner()
    assert min_price < max_price, "Oracle: bad bounds"
    assert min_price >= -_PRICE_LIMIT and max_price <= _PRICE_LIMIT, "Oracle: bounds beyond int128"
    self._bounds[feed_id] = (self._to_u128(min_price) << 128) | self._to_u128(max_price)
    log FeedConfigured(feed_id=feed_id, min_price=min_price, max_price=max_price)


@external
def set_timing(max_report_age_: uint256, max_future_drift_: uint256, dispute_bond_: uint256):
    """
    @notice Set report freshness windows (seconds) and the dispute bond (wei) (owner).
    @param max_report_age_ 1 .. 86,400 seconds.
    @param max_future_drift_ 0 .. 300 seconds.
    @param dispute_bond_ Wei a non-guardian posts to dispute; 0 disables public disputes.
    """
    ownable._check_owner()
    assert max_report_age_ > 0 and max_report_age_ <= _MAX_REPORT_AGE_CAP, "Oracle: bad report age"
    assert max_future_drift_ <= _MAX_FUTURE_DRIFT_CAP, "Oracle: bad future drift"
    self.max_report_age = max_report_age_
    self.max_future_drift = max_future_drift_
    self.dispute_bond = dispute_bond_
    log TimingSet(
        max_report_age=max_report_age_,
        max_future_drift=max_future_drift_,
        dispute_bond=dispute_bond_,
    )


# ---------------------------------------------------------------- views


@view
@external
def price(feed_id: bytes32) -> (int256, uint256):
    """
    @notice Latest median for a feed.
    @return price collateral base units per unit (may be negative); observed_at unix
            seconds, 0 when the feed has never been reported.
    """
    word: uint256 = self._feeds[feed_id]
    return self._price_of(word), (word >> 128) & _MASK64


@view
@external
def feed(feed_id: bytes32) -> (int256, uint256, uint256, bool, bool):
    """
    @notice Full feed state.
    @return price (base units per unit), observed_at (unix s), updated_at (block time of the
            last write, unix s), disputed, final.
    """
    word: uint256 = self._feeds[feed_id]
    return (
        self._price_of(word),
        (word >> 128) & _MASK64,
        (word >> 192) & _MASK56,
        word & _DISPUTED != 0,
        word & _FINAL != 0,
    )


@view
@external
def bounds(feed_id: bytes32) -> (int256, int256):
    """
    @return min_price, max_price in base units per unit; (0, 0) for an unconfigured feed.
    """
    return self._unpack_bounds(self._bounds[feed_id])


@view
@external
def report_digest(
    feed_ids: DynArray[bytes32, c.MAX_FEEDS],
    prices: DynArray[int256, c.MAX_FEEDS],
    observed_at: uint256,
) -> bytes32:
    """
    @notice The EIP-712 digest a reporter signs for this row (for off-chain checks).
    """
    nf: uint256 = len(feed_ids)
    assert len(prices) == nf, "Oracle: row length"
    return eip712._hash_typed_data_v4(
        keccak256(
            abi_encode(
                REPORT_TYPEHASH,
                keccak256(slice(abi_encode(feed_ids), 64, 32 * nf)),
                keccak256(slice(abi_encode(prices), 64, 32 * nf)),
                observed_at,
            )
        )
    )


@view
@external
def reporter_count() -> uint256:
    """
    @return Number of registered reporters.
    """
    return len(self.reporters)


# ---------------------------------------------------------------- internals


@internal
def _set_reporters(reporters_: DynArray[address, c.MAX_REPORTERS], quorum_: uint256):
    for r: address in self.reporters:
        self.is_reporter[r] = False
    for r: address in reporters_:
        assert r != empty(address), "Oracle: zero reporter"
        assert not self.is_reporter[r], "Oracle: duplicate reporter"
        self.is_reporter[r] = True
    assert quorum_ > 0 and quorum_ <= len(reporters_), "Oracle: bad quorum"
    # a majority, so two disjoint quorums cannot both exist
    assert quorum_ * 2 > len(reporters_), "Oracle: quorum not a majority"
    self.reporters = reporters_
    self.quorum = quorum_
    log ReportersSet(reporters=reporters_, quorum=quorum_)


@pure
@internal
def _median(xs: DynArray[int256, c.MAX_REPORTERS]) -> int256:
    # insertion sort: at most MAX_REPORTERS items
    a: DynArray[int256, c.MAX_REPORTERS] = xs
    n: uint256 = len(a)
    for i: uint256 in range(1, c.MAX_REPORTERS):
        if i >= n:
            break
        v: int256 = a[i]
        j: uint256 = i
        for _k: uint256 in range(c.MAX_REPORTERS):
            if j == 0 or a[j - 1] <= v:
                break
            a[j] = a[j - 1]
            j -= 1
        a[j] = v
    if n % 2 == 1:
        return a[n // 2]
    # even count: mean of the middle two, truncated toward zero
    return (a[n // 2 - 1] + a[n // 2]) // 2


@pure
@internal
def _to_u128(x: int256) -> uint256:
    return convert(convert(x, bytes32), uint256) & _MASK128


@pure
@internal
def _from_u128(x: uint256) -> int256:
    if x >= 2**127:
        return convert(x, int256) - 2**128
    return convert(x, int256)


@pure
@internal
def _price_of(word: uint256) -> int256:
    return self._from_u128(word & _MASK128)


@pure
@internal
def _unpack_bounds(word: uint256) -> (int256, int256):
    return self._from_u128(word >> 128), self._from_u128(word & _MASK128)


@pure
@internal
def _pack(price_: int256, observed_at: uint256, updated_at: uint256, flags: uint256) -> uint256:
    assert price_ >= -_PRICE_LIMIT and price_ <= _PRICE_LIMIT, "Oracle: price beyond int128"
    assert observed_at <= _MASK64, "Oracle: bad timestamp"
    return self._to_u128(price_) | (observed_at << 128) | (updated_at << 192) | flags
