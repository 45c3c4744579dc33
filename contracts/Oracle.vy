# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread Oracle
@notice Stores one price per feed id (bytes32). Each reporter signs the EIP-712 struct
        `Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)` under the domain
        {name: "ComputeSpread Oracle", version: "1", chainId, verifyingContract: this}.
        Anyone may relay (`submit`) a bundle of signed rows; the signatures carry the trust.

        Agreement: per feed, a row agrees when it lies within the feed's band,
        max(band_floor, band_bps * |median| / 10_000), of the median of all rows. A value is
        stored only when at least `quorum` rows agree and the median and the stored value lie
        within the feed's bounds; it is the median of the agreeing rows, so one key (or a relayer choosing which rows to
        send) moves a stored value at most within the band. A feed without agreement is
        skipped (event `Disagreement`) so one bad key cannot block a 32-feed bundle; a submit
        that stores nothing reverts.

        Circuit breaker (mark feeds): a value moves at most
        max(jump_floor, jump_bps * |stored| / 10_000) per hour of observation time (pro rata
        for a shorter gap) unless every registered reporter's row agrees; a larger move is
        clamped toward the new value, so marks stay live through a real spike with one
        reporter down and a captured quorum walks a mark only at that rate.

        Settlement feeds (`set_settlement_feed`) take one value, observed and written at or
        after `not_before` (the market's delivery_end); a written value changes only through
        dispute / resolve. Anyone may dispute it with a bond within the feed's dispute
        window. If no value arrives within `fallback_timeout` of `not_before`, anyone may
        propose one with the same bond (UMA-style); it stands unless disputed in the window.
        Mark feeds can be disputed (made stale) only by the guardian. The owner `resolve`s
        disputes (the loser's bond goes to the winner); bonds are pulled with `claim_bond`.

        Units: price in collateral base units per 1 unit of the underlying, may be negative;
        times in unix seconds; bonds in wei; bps of 10_000.
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
_MASK48: constant(uint256) = 2**48 - 1
_MASK16: constant(uint256) = 2**16 - 1
_MASK14: constant(uint256) = 2**14 - 1
_DISPUTED: constant(uint256) = 1 << 248
_FINAL: constant(uint256) = 1 << 249
# packed config word, read once per feed in `submit`: bits 0..63 max_price (int64),
# 64..127 min_price (int64), 128..175 band_floor, 176..189 band_bps, 190..237 jump_floor,
# 238..253 jump_bps, bit 254 settlement feed. 64-bit prices and floors match the
# Clearinghouse's 64-bit per-unit margins (USDC: 6 decimals, up to $9.2e12 per unit).
_BOUNDS_MASK: constant(uint256) = 2**128 - 1
# feed classes (issue 10): a templated market's feed = class | delivery_start << 40 | delivery_end
_CLASS_MASK: constant(uint256) = ~(2**80 - 1)
_MASK40: constant(uint256) = 2**40 - 1
_SETTLEMENT: constant(uint256) = 1 << 254
# hard bounds on timing parameters, seconds
_MAX_REPORT_AGE_CAP: constant(uint256) = 86_400
_MAX_FUTURE_DRIFT_CAP: constant(uint256) = 300
# a settlement value stands this long at least before it can be relied on (issue 16: 10 min)
_MIN_DISPUTE_WINDOW: constant(uint256) = 600
_MAX_DISPUTE_WINDOW: constant(uint256) = 7 * 86_400
_MIN_FALLBACK_TIMEOUT: constant(uint256) = 3_600
_MAX_FALLBACK_TIMEOUT: constant(uint256) = 30 * 86_400
# the jump limit is per hour of observation time
_JUMP_PERIOD: constant(uint256) = 3_600
_BPS: constant(int256) = 10_000
# bounds must fit int64 (config word)
_PRICE_LIMIT: constant(int256) = 2**63 - 1

# who can dispute without a bond, and the only one who can dispute a mark
guardian: public(address)
# registered reporters (enumerable) and membership
reporters: public(DynArray[address, c.MAX_REPORTERS])
is_reporter: public(HashMap[address, bool])
# agreeing rows needed per feed (low 128 bits; always a majority of `reporters`) and the
# number of reporters (high 128 bits): one slot, since `submit` needs both
_roster: uint256
# seconds an observation may lag block.timestamp when submitted
max_report_age: public(uint256)
# seconds an observation may lead block.timestamp (reporter clock skew)
max_future_drift: public(uint256)
# bond in wei for a public dispute or a fallback proposal
dispute_bond: public(uint256)
# seconds after a settlement feed's not_before with no value before anyone may propose one
fallback_timeout: public(uint256)
# feed id -> packed word (see above)
_feeds: HashMap[bytes32, uint256]
# feed id -> packed config (see above)
_config: HashMap[bytes32, uint256]
# settlement feed id -> not_before (bits 0..63) | dispute_window << 64
_settlement: HashMap[bytes32, uint256]
# feed id -> who disputed and the bond they posted (wei)
disputer: public(HashMap[bytes32, address])
dispute_deposit: public(HashMap[bytes32, uint256])
# settlement feed id -> who proposed the fallback value and the bond they posted (wei)
proposer: public(HashMap[bytes32, address])
proposal_bond: public(HashMap[bytes32, uint256])
# wei owed to past disputers / proposers / owner, withdrawn with `claim_bond`
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

event SettlementFeedConfigured:
    feed_id: indexed(bytes32)
    not_before: uint256
    dispute_window: uint256

event FeedLimitsSet:
    feed_id: indexed(bytes32)
    band_floor: uint256
    band_bps: uint256
    jump_floor: uint256
    jump_bps: uint256

event TimingSet:
    max_report_age: uint256
    max_future_drift: uint256
    dispute_bond: uint256

event FallbackTimeoutSet:
    fallback_timeout: uint256

event PriceUpdated:
    feed_id: indexed(bytes32)
    price: int256
    observed_at: uint256

event Disagreement:
    feed_id: indexed(bytes32)
    agreeing: uint256
    quorum: uint256

event Clamped:
    feed_id: indexed(bytes32)
    reported: int256
    stored: int256

event Proposed:
    feed_id: indexed(bytes32)
    proposer: indexed(address)
    price: int256
    bond: uint256

event Disputed:
    feed_id: indexed(bytes32)
    disputer: indexed(address)
    price: int256
    bond: uint256

event Resolved:
    feed_id: indexed(bytes32)
    price: int256
    previous_price: int256

event BondReleased:
    feed_id: indexed(bytes32)
    proposer: indexed(address)
    bond: uint256

event Reopened:
    feed_id: indexed(bytes32)


@deploy
def __init__(
    reporters_: DynArray[address, c.MAX_REPORTERS], quorum_: uint256, guardian_: address
):
    """
    @param reporters_ Initial reporter set (distinct, non-zero).
    @param quorum_ Agreeing rows needed per feed; a majority of `reporters_`.
    @param guardian_ Address that may dispute without a bond (and the only one for marks).
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
    # a day for the reporters to publish a settlement value before the bonded fallback opens
    self.fallback_timeout = 86_400
    log FallbackTimeoutSet(fallback_timeout=86_400)


# ---------------------------------------------------------------- reports


@external
def submit(
    feed_ids: DynArray[bytes32, c.MAX_FEEDS],
    observed_at: uint256,
    prices: DynArray[DynArray[int256, c.MAX_FEEDS], c.MAX_REPORTERS],
    signatures: DynArray[Bytes[65], c.MAX_REPORTERS],
):
    """
    @notice Store, per feed, the median of the signed rows that agree within the feed's band,
            when at least `quorum` rows agree (else skip the feed, event `Disagreement`).
    @param feed_ids Feeds in this report, each configured with bounds.
    @param observed_at Unix seconds the reporters observed the prices; must be newer than
           each feed's stored observation, not older than `max_report_age`, not ahead of
           block time by more than `max_future_drift`; for a settlement feed at or after
           its `not_before`, with block time at or after it too.
    @param prices One row per reporter, one price per feed (collateral base units per unit,
           may be negative), in `feed_ids` order. A row far from the others (even near
           int256's limits) is only a disagreeing row.
    @param signatures One 65-byte EIP-712 `Report` signature per row, by distinct reporters.
    """
    n: uint256 = len(signatures)
    nf: uint256 = len(feed_ids)
    roster: uint256 = self._roster
    q: uint256 = roster & _MASK128
    assert n == len(prices), "Oracle: rows != signatures"
    assert nf > 0, "Oracle: no feeds"
    assert n >= q, "Oracle: below quorum"
    assert observed_at <= block.timestamp + self.max_future_drift, "Oracle: future report"
    assert observed_at + self.max_report_age >= block.timestamp, "Oracle: stale report"
    assert observed_at <= _MASK64, "Oracle: bad timestamp"

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

    stored: uint256 = 0
    for j: uint256 in range(nf, bound=c.MAX_FEEDS):
        fid: bytes32 = feed_ids[j]
        word: uint256 = self._feeds[fid]
        cfg: uint256 = self._config[fid]
        if cfg == 0:
            # a templated market's feed (class | start << 40 | end): its class's config
            cfg = self._config[convert(convert(fid, uint256) & _CLASS_MASK, bytes32)]
        old_obs: uint256 = (word >> 128) & _MASK64
        assert word & (_DISPUTED | _FINAL) == 0, "Oracle: feed disputed or final"
        # int64 fields sign-extended by an arithmetic shift
        hi: int256 = convert(convert(cfg << 192, bytes32), int256) >> 192
        lo: int256 = convert(convert(cfg << 128, bytes32), int256) >> 192
        assert lo < hi, "Oracle: unknown feed"
        if cfg & _SETTLEMENT != 0:
            # one value per settlement feed: a rewrite would restart its dispute window
            assert old_obs == 0, "Oracle: settlement already written"
            not_before: uint256 = self._settlement_word(fid) & _MASK64
            assert block.timestamp >= not_before and observed_at >= not_before, "Oracle: settlement too early"
        assert observed_at > old_obs, "Oracle: not newer"

        # every value below is within int64 bounds or the 48/14-bit band fields, so the
        # arithmetic cannot overflow and runs unchecked
        band_floor: int256 = convert((cfg >> 128) & _MASK48, int256)
        band_bps: int256 = convert((cfg >> 176) & _MASK14, int256)
        value: int256 = 0
        agreeing: uint256 = 0
        if n == 3:
            # the common round (three reporters), inline: no copy, no sort
            a: int256 = prices[0][j]
            b: int256 = prices[1][j]
            x: int256 = prices[2][j]
            med: int256 = max(min(a, b), min(max(a, b), x))
            if med >= lo and med <= hi:
                band: int256 = max(band_floor, unsafe_div(unsafe_mul(band_bps, max(med, unsafe_sub(0, med))), _BPS))
                down: int256 = unsafe_sub(med, band)
                up: int256 = unsafe_add(med, band)
                # only rows within the band are added: no overflow from a wild row
                total: int256 = 0
                if a >= down and a <= up:
                    agreeing = 1
                    total = a
                if b >= down and b <= up:
                    agreeing = unsafe_add(agreeing, 1)
                    total = unsafe_add(total, b)
                if x >= down and x <= up:
                    agreeing = unsafe_add(agreeing, 1)
                    total = unsafe_add(total, x)
                # the median row always agrees with itself: 3 -> the median, 2 -> their
                # mean (truncated toward zero, as `_mid`)
                value = med
                if agreeing == 2:
                    value = unsafe_div(total, 2)
                    if value < lo or value > hi:
                        agreeing = 0
        else:
            column: DynArray[int256, c.MAX_REPORTERS] = []
            for i: uint256 in range(n, bound=c.MAX_REPORTERS):
                column.append(prices[i][j])
            value, agreeing = self._agreeing_median(self._sorted(column), lo, hi, band_floor, band_bps)

        if agreeing < q:
            log Disagreement(feed_id=fid, agreeing=agreeing, quorum=q)
            continue

        # circuit breaker (never reached by settlement feeds: their first value has old_obs 0)
        jump: uint256 = cfg >> 190
        if old_obs != 0 and jump != 0:
            old: int256 = convert(convert(word << 128, bytes32), int256) >> 128
            jump_bps: int256 = convert(jump >> 48, int256)
            allowed: int256 = unsafe_div(
                unsafe_mul(
                    max(convert(jump & _MASK48, int256), unsafe_div(unsafe_mul(jump_bps, max(old, unsafe_sub(0, old))), _BPS)),
                    convert(min(unsafe_sub(observed_at, old_obs), _JUMP_PERIOD), int256),
                ),
                convert(_JUMP_PERIOD, int256),
            )
            if value > unsafe_add(old, allowed) or value < unsafe_sub(old, allowed):
                # every registered reporter's row agrees: a real move, stored as reported
                if agreeing < roster >> 128:
                    clamped: int256 = unsafe_add(old, allowed) if value > old else unsafe_sub(old, allowed)
                    log Clamped(feed_id=fid, reported=value, stored=clamped)
                    value = clamped

        self._feeds[fid] = (
            (convert(convert(value, bytes32), uint256) & _MASK128) | (observed_at << 128) | (block.timestamp << 192)
        )
        log PriceUpdated(feed_id=fid, price=value, observed_at=observed_at)
        stored = unsafe_add(stored, 1)
    assert stored > 0, "Oracle: no agreement"


# ---------------------------------------------------------------- fallback settlement


@external
@payable
def propose(feed_id: bytes32, price_: int256):
    """
    @notice Propose a settlement feed's value when the reporters published none within
            `fallback_timeout` of its `not_before` (a GPU class with too few quotes, a
            missing ISO hour). Post exactly `dispute_bond` wei. The value is written at once
            (observed_at = updated_at = now) and stands unless disputed within the feed's
            dispute window; `release_bond` returns the bond after it.
    @param feed_id A settlement feed with no value yet.
    @param price_ Settlement value, collateral base units per unit, within the feed's bounds.
    """
    cfg: uint256 = self._cfg(feed_id)
    assert cfg & _SETTLEMENT != 0, "Oracle: not a settlement feed"
    word: uint256 = self._feeds[feed_id]
    assert (word >> 128) & _MASK64 == 0, "Oracle: settlement already written"
    not_before: uint256 = self._settlement_word(feed_id) & _MASK64
    assert block.timestamp >= not_before + self.fallback_timeout, "Oracle: fallback not open"
    assert price_ >= self._from_u64((cfg >> 64) & _MASK64) and price_ <= self._from_u64(cfg & _MASK64), "Oracle: price out of bounds"
    assert self.dispute_bond > 0 and msg.value == self.dispute_bond, "Oracle: wrong bond"
    self.proposer[feed_id] = msg.sender
    self.proposal_bond[feed_id] = msg.value
    self._feeds[feed_id] = self._pack(price_, block.timestamp, block.timestamp, 0)
    log Proposed(feed_id=feed_id, proposer=msg.sender, price=price_, bond=msg.value)


@external
def release_bond(feed_id: bytes32):
    """
    @notice Return a fallback proposer's bond (to `bond_claims`) once the proposal has stood
            undisputed for the feed's dispute window. Anyone may call.
    @param feed_id A settlement feed holding an undisputed proposal.
    """
    bond: uint256 = self.proposal_bond[feed_id]
    assert bond > 0, "Oracle: no proposal bond"
    word: uint256 = self._feeds[feed_id]
    assert word & _DISPUTED == 0, "Oracle: feed disputed or final"
    window: uint256 = self._settlement_word(feed_id) >> 64
    assert block.timestamp >= ((word >> 192) & _MASK56) + window, "Oracle: dispute window open"
    who: address = self.proposer[feed_id]
    self.proposal_bond[feed_id] = 0
    self.bond_claims[who] += bond
    log BondReleased(feed_id=feed_id, proposer=who, bond=bond)


# ---------------------------------------------------------------- disputes


@external
@payable
def dispute(feed_id: bytes32):
    """
    @notice Freeze a feed's value until the owner resolves it. A mark feed only by the
            guardian (a public dispute must never make a mark stale: that froze liquidations).
            A settlement value by anyone posting `dispute_bond` wei within the feed's dispute
            window after the value was written, or by the guardian for free at any time
            before it is final (the emergency role, as for halts).
    @param feed_id A feed that has a price and is neither disputed nor final.
    """
    word: uint256 = self._feeds[feed_id]
    assert (word >> 128) & _MASK64 != 0, "Oracle: no price"
    assert word & (_DISPUTED | _FINAL) == 0, "Oracle: feed disputed or final"
    if msg.sender != self.guardian:
        assert self._cfg(feed_id) & _SETTLEMENT != 0, "Oracle: only the guardian disputes marks"
        assert self.dispute_bond > 0 and msg.value == self.dispute_bond, "Oracle: wrong bond"
        # a value that stood its window is not held hostage by a late public dispute
        window: uint256 = self._settlement_word(feed_id) >> 64
        assert block.timestamp < ((word >> 192) & _MASK56) + window, "Oracle: dispute window closed"
    self.disputer[feed_id] = msg.sender
    self.dispute_deposit[feed_id] = msg.value
    self._feeds[feed_id] = word | _DISPUTED
    log Disputed(feed_id=feed_id, disputer=msg.sender, price=self._price_of(word), bond=msg.value)


@external
def resolve(feed_id: bytes32, price_: int256):
    """
    @notice Owner's final word on a disputed feed: stores `price_` as final (no more reports).
            Bonds: against a fallback proposal, the proposer takes both bonds if `price_`
            equals the proposal, else the disputer does; against a reported value, the
            disputer's bond returns if the price changed, else goes to the owner.
    @param feed_id A disputed feed.
    @param price_ Final price, collateral base units per unit, within the feed's bounds.
    """
    ownable._check_owner()
    word: uint256 = self._feeds[feed_id]
    assert word & _DISPUTED != 0, "Oracle: not disputed"
    cfg: uint256 = self._cfg(feed_id)
    assert price_ >= self._from_u64((cfg >> 64) & _MASK64) and price_ <= self._from_u64(cfg & _MASK64), "Oracle: price out of bounds"
    previous: int256 = self._price_of(word)
    bond: uint256 = self.dispute_deposit[feed_id]
    proposed_by: address = self.proposer[feed_id]
    pbond: uint256 = self.proposal_bond[feed_id]
    if pbond > 0:
        # the loser's bond to the winner
        winner: address = proposed_by if previous == price_ else self.disputer[feed_id]
        self.bond_claims[winner] += bond + pbond
        self.proposal_bond[feed_id] = 0
        self.dispute_deposit[feed_id] = 0
    elif bond > 0:
        to: address = self.disputer[feed_id] if previous != price_ else ownable.owner
        self.bond_claims[to] += bond
        self.dispute_deposit[feed_id] = 0
    self._feeds[feed_id] = self._pack(price_, (word >> 128) & _MASK64, block.timestamp, _FINAL)
    log Resolved(feed_id=feed_id, price=price_, previous_price=previous)


@external
def reopen(feed_id: bytes32):
    """
    @notice Let reporters update a resolved (final) mark feed again (owner). Without it a
            guardian dispute of a mark would freeze that market's mark for good. Settlement
            feeds stay final.
    @param feed_id A final mark feed; it keeps its value until a newer observation is reported.
    """
    ownable._check_owner()
    word: uint256 = self._feeds[feed_id]
    assert word & _FINAL != 0, "Oracle: not final"
    assert self._cfg(feed_id) & _SETTLEMENT == 0, "Oracle: settlement feed"
    self._feeds[feed_id] = word & ~_FINAL
    log Reopened(feed_id=feed_id)


@external
@nonreentrant
def claim_bond(to: address = msg.sender):
    """
    @notice Withdraw the wei owed to the caller from resolved disputes and released
            proposals (pull, so a reverting receiver cannot block `resolve`). Paid with a
            plain call forwarding all gas, so a Safe or any contract wallet can receive it.
    @param to Receiver of the wei (default the caller): a contract owner that cannot take
           ETH (e.g. a timelock) sends its claim elsewhere.
    """
    amount: uint256 = self.bond_claims[msg.sender]
    assert amount > 0, "Oracle: nothing to claim"
    self.bond_claims[msg.sender] = 0
    raw_call(to, b"", value=amount)


# ---------------------------------------------------------------- admin


@external
def set_reporters(reporters_: DynArray[address, c.MAX_REPORTERS], quorum_: uint256):
    """
    @notice Replace the reporter set and quorum (owner).
    @param reporters_ Distinct non-zero addresses.
    @param quorum_ Agreeing rows per feed; must be a strict majority of the set.
    """
    ownable._check_owner()
    self._set_reporters(reporters_, quorum_)


@external
def set_guardian(guardian_: address):
    """
    @notice Set the address that may dispute without a bond and dispute marks (owner).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log GuardianSet(guardian=guardian_)


@external
def set_feed(feed_id: bytes32, min_price: int256, max_price: int256):
    """
    @notice Configure a mark feed's accepted price range (owner). A feed must be configured
            before reports for it are accepted. Its agreement band and jump limit
            (`set_feed_limits`) are kept; a new feed starts with band 0 (rows must be equal)
            and no jump limit.
    @param min_price Lowest accepted price, collateral base units per unit (may be negative).
    @param max_price Highest accepted price; min_price < max_price, both within int64.
    """
    ownable._check_owner()
    cfg: uint256 = self._config[feed_id]
    assert cfg & _SETTLEMENT == 0, "Oracle: settlement feed"
    self._config[feed_id] = (cfg & ~_BOUNDS_MASK) | self._pack_bounds(min_price, max_price)
    log FeedConfigured(feed_id=feed_id, min_price=min_price, max_price=max_price)


@external
def set_settlement_feed(
    feed_id: bytes32, min_price: int256, max_price: int256, not_before: uint256, dispute_window: uint256
):
    """
    @notice Configure a settlement feed (owner): it takes one value, observed and written at
            or after `not_before`, disputable by anyone with a bond for `dispute_window`
            seconds after it is written. Only before it has a value.
    @param min_price Lowest accepted value, collateral base units per unit (may be negative).
    @param max_price Highest accepted value; min_price < max_price, both within int64.
    @param not_before Unix seconds: the market's delivery_end.
    @param dispute_window Seconds, 600 .. 604,800; set it to the market's dispute window.
    """
    ownable._check_owner()
    assert (self._feeds[feed_id] >> 128) & _MASK64 == 0, "Oracle: feed has a price"
    assert not_before > 0 and not_before <= _MASK64, "Oracle: bad not_before"
    assert dispute_window >= _MIN_DISPUTE_WINDOW and dispute_window <= _MAX_DISPUTE_WINDOW, "Oracle: bad dispute window"
    cfg: uint256 = self._config[feed_id]
    self._config[feed_id] = (cfg & ~_BOUNDS_MASK) | self._pack_bounds(min_price, max_price) | _SETTLEMENT
    self._settlement[feed_id] = not_before | (dispute_window << 64)
    log FeedConfigured(feed_id=feed_id, min_price=min_price, max_price=max_price)
    log SettlementFeedConfigured(feed_id=feed_id, not_before=not_before, dispute_window=dispute_window)


@external
def set_feed_limits(feed_id: bytes32, band_floor: uint256, band_bps: uint256, jump_floor: uint256, jump_bps: uint256):
    """
    @notice Set a configured feed's agreement band and jump limit (owner).
    @param band_floor Base units per unit, < 2**48: rows within max(band_floor,
           band_bps * |median| / 10_000) of the median agree. An absolute floor keeps the
           band usable where power prices cross zero.
    @param band_bps 0 .. 10,000.
    @param jump_floor Base units per unit per hour, < 2**48.
    @param jump_bps Bps of |stored value| per hour, < 65,536. Both 0: no jump limit.
    """
    ownable._check_owner()
    cfg: uint256 = self._config[feed_id]
    assert self._from_u64((cfg >> 64) & _MASK64) < self._from_u64(cfg & _MASK64), "Oracle: unknown feed"
    assert band_floor <= _MASK48 and band_bps <= 10_000, "Oracle: bad band"
    assert jump_floor <= _MASK48 and jump_bps <= _MASK16, "Oracle: bad jump limit"
    self._config[feed_id] = (
        (cfg & (_BOUNDS_MASK | _SETTLEMENT))
        | (band_floor << 128)
        | (band_bps << 176)
        | (jump_floor << 190)
        | (jump_bps << 238)
    )
    log FeedLimitsSet(
        feed_id=feed_id, band_floor=band_floor, band_bps=band_bps, jump_floor=jump_floor, jump_bps=jump_bps
    )


@external
def set_timing(max_report_age_: uint256, max_future_drift_: uint256, dispute_bond_: uint256):
    """
    @notice Set report freshness windows (seconds) and the dispute / proposal bond (wei) (owner).
    @param max_report_age_ 1 .. 86,400 seconds.
    @param max_future_drift_ 0 .. 300 seconds.
    @param dispute_bond_ Wei a non-guardian posts to dispute or to propose; 0 disables both.
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


@external
def set_fallback_timeout(fallback_timeout_: uint256):
    """
    @notice Seconds after a settlement feed's not_before with no value before anyone may
            `propose` one (owner).
    @param fallback_timeout_ 3,600 .. 2,592,000 seconds (1 h .. 30 days).
    """
    ownable._check_owner()
    assert fallback_timeout_ >= _MIN_FALLBACK_TIMEOUT and fallback_timeout_ <= _MAX_FALLBACK_TIMEOUT, "Oracle: bad fallback timeout"
    self.fallback_timeout = fallback_timeout_
    log FallbackTimeoutSet(fallback_timeout=fallback_timeout_)


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
    @return min_price, max_price in base units per unit; (0, 0) for an unconfigured feed. A
            feed without its own configuration reports its class's (feed & ~(2**80 - 1)).
    """
    cfg: uint256 = self._cfg(feed_id)
    return self._from_u64((cfg >> 64) & _MASK64), self._from_u64(cfg & _MASK64)


@view
@external
def limits(feed_id: bytes32) -> (uint256, uint256, uint256, uint256):
    """
    @return band_floor (base units per unit), band_bps, jump_floor (base units per unit per
            hour), jump_bps (per hour); see `set_feed_limits`. Class fallback as `bounds`.
    """
    cfg: uint256 = self._cfg(feed_id)
    return (cfg >> 128) & _MASK48, (cfg >> 176) & _MASK14, (cfg >> 190) & _MASK48, (cfg >> 238) & _MASK16


@view
@external
def settlement_terms(feed_id: bytes32) -> (bool, uint256, uint256):
    """
    @return is_settlement (configured with `set_settlement_feed`), not_before (unix s),
            dispute_window (s); (False, 0, 0) for a mark feed.
    """
    if self._cfg(feed_id) & _SETTLEMENT == 0:
        return False, 0, 0
    s: uint256 = self._settlement_word(feed_id)
    return True, s & _MASK64, s >> 64


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
def quorum() -> uint256:
    """
    @return Agreeing rows needed per feed in `submit` (a majority of the reporters).
    """
    return self._roster & _MASK128


@view
@external
def reporter_count() -> uint256:
    """
    @return Number of registered reporters.
    """
    return len(self.reporters)


# ---------------------------------------------------------------- internals


@view
@internal
def _cfg(feed_id: bytes32) -> uint256:
    # a feed's own config word, else its class's (feed & ~(2**80 - 1)): the feeds of a
    # templated market (class | delivery_start << 40 | delivery_end) have no storage of their own
    cfg: uint256 = self._config[feed_id]
    if cfg == 0:
        cfg = self._config[convert(convert(feed_id, uint256) & _CLASS_MASK, bytes32)]
    return cfg


@view
@internal
def _settlement_word(feed_id: bytes32) -> uint256:
    # not_before | dispute_window << 64: a feed's own, else its class's window with
    # not_before = the delivery_end in the feed id's low 40 bits
    s: uint256 = self._settlement[feed_id]
    if s == 0:
        s = (self._settlement[convert(convert(feed_id, uint256) & _CLASS_MASK, bytes32)] & ~_MASK64) | (convert(feed_id, uint256) & _MASK40)
    return s


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
    self._roster = quorum_ | (len(reporters_) << 128)
    log ReportersSet(reporters=reporters_, quorum=quorum_)


@pure
@internal
def _sorted(xs: DynArray[int256, c.MAX_REPORTERS]) -> DynArray[int256, c.MAX_REPORTERS]:
    # insertion sort: at most MAX_REPORTERS items
    a: DynArray[int256, c.MAX_REPORTERS] = xs
    n: uint256 = len(a)
    for i: uint256 in range(1, c.MAX_REPORTERS):
        if i >= n:
            break
        v: int256 = a[i]
        k: uint256 = i
        for _s: uint256 in range(c.MAX_REPORTERS):
            if k == 0 or a[k - 1] <= v:
                break
            a[k] = a[k - 1]
            k -= 1
        a[k] = v
    return a


@pure
@internal
def _mid(a: DynArray[int256, c.MAX_REPORTERS], first: uint256, count: uint256) -> int256:
    # median of the sorted run a[first : first + count]; even count: mean of the middle
    # two, truncated toward zero
    if count % 2 == 1:
        return a[first + count // 2]
    return (a[first + count // 2 - 1] + a[first + count // 2]) // 2


@pure
@internal
def _agreeing_median(
    a: DynArray[int256, c.MAX_REPORTERS], lo: int256, hi: int256, band_floor: int256, band_bps: int256
) -> (int256, uint256):
    # a is sorted. The median of all rows must lie within the bounds; the rows within the
    # band of it form one run; return the run's median (if within the bounds) and length.
    n: uint256 = len(a)
    if n == 0:
        return 0, 0
    # middle rows checked before adding them: a wild row cannot overflow the mean
    if a[(n - 1) // 2] < lo or a[n // 2] > hi:
        return 0, 0
    med: int256 = self._mid(a, 0, n)
    band: int256 = max(band_floor, band_bps * abs(med) // _BPS)
    first: uint256 = n
    count: uint256 = 0
    for i: uint256 in range(c.MAX_REPORTERS):
        if i >= n:
            break
        if a[i] >= med - band and a[i] <= med + band:
            if count == 0:
                first = i
            count += 1
    if count == 0:
        return 0, 0
    value: int256 = self._mid(a, first, count)
    if value < lo or value > hi:
        return 0, 0
    return value, count


@pure
@internal
def _pack_bounds(min_price: int256, max_price: int256) -> uint256:
    assert min_price < max_price, "Oracle: bad bounds"
    assert min_price >= -_PRICE_LIMIT and max_price <= _PRICE_LIMIT, "Oracle: bounds beyond int64"
    return (self._to_u64(min_price) << 64) | self._to_u64(max_price)


@pure
@internal
def _to_u64(x: int256) -> uint256:
    return convert(convert(x, bytes32), uint256) & _MASK64


@pure
@internal
def _from_u64(x: uint256) -> int256:
    if x >= 2**63:
        return convert(x, int256) - 2**64
    return convert(x, int256)


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
def _pack(price_: int256, observed_at: uint256, updated_at: uint256, flags: uint256) -> uint256:
    assert price_ >= -(2**127 - 1) and price_ <= 2**127 - 1, "Oracle: price beyond int128"
    assert observed_at <= _MASK64, "Oracle: bad timestamp"
    return self._to_u128(price_) | (observed_at << 128) | (updated_at << 192) | flags
