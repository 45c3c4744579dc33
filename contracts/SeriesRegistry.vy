# pragma version ~=0.4.3
# pragma optimize gas
"""
@title Compute Spread SeriesRegistry
@notice Series templates and permissionless listing (issue 10). A template is a market spec
        without its delivery window (committed to by `spec_hash`), its feed classes, the rule
        of its windows (cadence, zone offset, last trade, horizon) and its lot and risk
        parameters, approved by the owner (the timelock). Anyone may then list one window of
        it with `list_from_template`, posting the template's bond (wei), returned once the
        market is settled (`claim_listing_bond`). The Clearinghouse stores the market (three
        fresh words) and emits MarketListed; the Oracle serves its feeds from the class
        configuration (feed = class | delivery_start << 40 | delivery_end), with no storage
        per market. Lives outside the Clearinghouse for the 24,576-byte limit; the
        Clearinghouse trusts only this contract (fixed at its deployment) to list for anyone.

        Units: times unix seconds; offsets seconds east of UTC; bond wei; lot and risk fields
        as `Clearinghouse.list_market`.
"""

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

import constants as c
import packing

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


interface IClearinghouseListing:
    def list_series_market(template_id: uint256, mark_feed: bytes32, settlement_feed: bytes32, lot: uint256, risk: uint256, spec_hash: bytes32) -> uint256: nonpayable
    def market_state(market_id: uint256) -> (bool, bool, int256, uint256): view
    def market_template(market_id: uint256) -> uint256: view
    def market(market_id: uint256) -> Market: view


# the Clearinghouse's Market struct (its `market` view)
struct Market:
    spec_hash: bytes32
    mark_feed: bytes32
    settlement_feed: bytes32
    delivery_start: uint256
    delivery_end: uint256
    last_trade_time: uint256
    quantity_step: uint256
    min_quantity: uint256
    price_tick: uint256
    im_fixed: uint256
    im_rate_bps: uint256
    mm_fixed: uint256
    mm_rate_bps: uint256
    max_price_age: uint256
    dispute_window: uint256
    oi_cap: uint256


struct Template:
    spec_hash: bytes32  # keccak of the canonical JSON of the windowless series spec
    mark_class: bytes32  # mark feed class (low 80 bits zero): feed = class | start << 40 | end
    settlement_class: bytes32  # settlement feed class (low 80 bits zero)
    cadence: uint256  # 1 hourly, 2 daily, 3 monthly
    utc_offset: int256  # standard offset of the series' zone, s (not 0: windows follow US DST, 3600 s earlier)
    last_trade_offset: uint256  # s before delivery_start trading stops; max_value(uint256): at delivery_end
    max_horizon: uint256  # s: delivery_start <= block.timestamp + max_horizon
    quantity_step: uint256  # thousandths of a unit
    min_quantity: uint256  # thousandths of a unit
    price_tick: uint256  # collateral base units per unit
    im_fixed: uint256  # base units per unit
    im_rate_bps: uint256
    mm_fixed: uint256  # base units per unit
    mm_rate_bps: uint256
    max_price_age: uint256  # s
    dispute_window: uint256  # s
    oi_cap: uint256  # long open interest cap, thousandths of a unit
    bond: uint256  # wei a lister posts, returned once the market is settled
    active: bool


event TemplateApproved:
    template_id: indexed(uint256)
    spec_hash: bytes32
    mark_class: bytes32
    settlement_class: bytes32

event TemplateRetired:
    template_id: indexed(uint256)

event MarketListedFromTemplate:
    market_id: indexed(uint256)
    template_id: indexed(uint256)
    lister: indexed(address)
    delivery_start: uint256
    delivery_end: uint256

event ListingBondClaimed:
    market_id: indexed(uint256)
    lister: indexed(address)
    to: address
    amount: uint256


# the Clearinghouse that stores the markets this registry lists (set once)
clearinghouse: public(address)
template_count: public(uint256)
_templates: HashMap[uint256, Template]
# what a listing reads, one slot each (the struct spans 19): terms = cadence | active << 8
# | (utc_offset + 86_400) << 16 | max_horizon << 40 | last_trade_offset << 80 (40 bits; all ones:
# at delivery_end) | bond << 128; lot = the market's lot word without its last trade time;
# risk = its risk word; settlement = settlement class | dispute_window
_terms: HashMap[uint256, uint256]
_lot: HashMap[uint256, uint256]
_risk: HashMap[uint256, uint256]
_settlement: HashMap[uint256, uint256]
_ACTIVE_BIT: constant(uint256) = 1 << 8
_MASK40: constant(uint256) = 2**40 - 1
_MASK80: constant(uint256) = 2**80 - 1
_MASK96: constant(uint256) = 2**96 - 1
# template ids fit the Clearinghouse's lot word (24 bits)
_MAX_TEMPLATES: constant(uint256) = 2**24 - 1
# the Clearinghouse's bounds (Clearinghouse.vy), checked here once per template
_MAX_PRICE_AGE_MIN: constant(uint256) = 60
_MAX_PRICE_AGE_MAX: constant(uint256) = 7 * 86_400
_MIN_DISPUTE_WINDOW: constant(uint256) = 600
_MAX_DISPUTE_WINDOW: constant(uint256) = 7 * 86_400
_MAX_OI_CAP: constant(uint256) = 2**62 - 1
# mark feed id (mark class | delivery_start << 40 | delivery_end) -> market id | lister << 96
# (lister cleared once the bond is paid). Keyed by the feed, not the template: two templates
# sharing a mark class (a re-approval) would otherwise list the same window on the same feeds
_market_of: HashMap[uint256, uint256]


@deploy
def __init__():
    ownable.__init__()
    ownable_2step.__init__()


# ---------------------------------------------------------------- admin


@external
def set_clearinghouse(clearinghouse_: address):
    """
    @notice Connect the Clearinghouse (owner, once); it was deployed with this registry's address.
    """
    ownable._check_owner()
    assert self.clearinghouse == empty(address) and clearinghouse_ != empty(address), "SeriesRegistry: clearinghouse already set"
    self.clearinghouse = clearinghouse_


@external
def approve_template(t: Template) -> uint256:
    """
    @notice Approve a series template (owner, through the timelock). Ids start at 1. A
            template never changes; `retire_template` stops new listings of it.
    @param t spec_hash (non-zero); mark and settlement classes (distinct, non-zero, low 80
           bits zero); cadence 1 hourly | 2 daily | 3 monthly; utc_offset, s, whole hours,
           |.| <= 14 h; last_trade_offset, s before delivery_start (< 2**40 - 1), or
           max_value(uint256) to trade until delivery_end; max_horizon, s (0 < . < 2**40);
           lot and risk fields with `Clearinghouse.list_market`'s bounds; bond, wei (< 2**128).
           `active` is ignored (a new template is active).
    @return The new template id.
    """
    ownable._check_owner()
    mc: uint256 = convert(t.mark_class, uint256)
    sc: uint256 = convert(t.settlement_class, uint256)
    assert t.spec_hash != empty(bytes32), "SeriesRegistry: zero spec hash"
    assert mc != 0 and sc != 0 and mc != sc and (mc | sc) & _MASK80 == 0, "SeriesRegistry: bad feed class"
    assert t.cadence >= 1 and t.cadence <= 3, "SeriesRegistry: bad cadence"
    assert abs(t.utc_offset) <= 50_400 and t.utc_offset % 3_600 == 0, "SeriesRegistry: bad utc offset"
    assert t.last_trade_offset < _MASK40 or t.last_trade_offset == max_value(uint256), "SeriesRegistry: bad last trade offset"
    assert t.max_horizon > 0 and t.max_horizon <= _MASK40, "SeriesRegistry: bad horizon"
    assert t.bond < 2**128, "SeriesRegistry: bad bond"
    assert t.quantity_step > 0 and t.min_quantity >= t.quantity_step, "SeriesRegistry: bad quantity step"
    assert t.price_tick > 0, "SeriesRegistry: bad tick"
    # exact notionals: tick * step is a whole number of base units
    assert (t.price_tick * t.quantity_step) % c.UQUANTITY_SCALE == 0, "SeriesRegistry: tick x step not whole"
    assert t.price_tick <= packing.MASK64 and t.quantity_step <= packing.MASK64 and t.min_quantity <= packing.MASK64, "SeriesRegistry: lot beyond 64 bits"
    assert t.mm_fixed + t.mm_rate_bps > 0, "SeriesRegistry: zero margin"
    assert t.mm_fixed <= t.im_fixed and t.mm_rate_bps <= t.im_rate_bps, "SeriesRegistry: MM above IM"
    assert t.im_rate_bps <= c.BPS, "SeriesRegistry: rate above 100%"
    assert t.im_fixed <= packing.MASK64, "SeriesRegistry: margin beyond 64 bits"
    assert t.max_price_age >= _MAX_PRICE_AGE_MIN and t.max_price_age <= _MAX_PRICE_AGE_MAX, "SeriesRegistry: bad max price age"
    assert t.dispute_window >= _MIN_DISPUTE_WINDOW and t.dispute_window <= _MAX_DISPUTE_WINDOW, "SeriesRegistry: bad dispute window"
    assert t.oi_cap > 0 and t.oi_cap <= _MAX_OI_CAP, "SeriesRegistry: bad OI cap"
    tid: uint256 = self.template_count + 1
    assert tid <= _MAX_TEMPLATES, "SeriesRegistry: too many templates"
    self.template_count = tid
    self._templates[tid] = t
    self._templates[tid].active = True
    self._terms[tid] = (
        t.cadence
        | _ACTIVE_BIT
        | (convert(t.utc_offset + 86_400, uint256) << 16)
        | (t.max_horizon << 40)
        | (min(t.last_trade_offset, _MASK40) << 80)
        | (t.bond << 128)
    )
    self._lot[tid] = t.price_tick | (t.quantity_step << 64) | (t.min_quantity << 128)
    self._settlement[tid] = sc | t.dispute_window
    # the Clearinghouse's risk word (Clearinghouse._pack_risk)
    self._risk[tid] = (
        t.im_fixed
        | (t.im_rate_bps << 64)
        | (t.mm_fixed << 80)
        | (t.mm_rate_bps << 144)
        | (t.max_price_age << 160)
        | (t.oi_cap << 194)
    )
    log TemplateApproved(template_id=tid, spec_hash=t.spec_hash, mark_class=t.mark_class, settlement_class=t.settlement_class)
    return tid


@external
def retire_template(template_id: uint256):
    """
    @notice Stop new listings of a template (owner). Markets already listed are unaffected.
    """
    ownable._check_owner()
    terms: uint256 = self._terms[template_id]
    assert terms != 0, "SeriesRegistry: unknown template"
    assert terms & _ACTIVE_BIT != 0, "SeriesRegistry: template retired"
    self._terms[template_id] = terms ^ _ACTIVE_BIT
    self._templates[template_id].active = False
    log TemplateRetired(template_id=template_id)


# ---------------------------------------------------------------- listing


@external
@payable
@nonreentrant
def list_from_template(template_id: uint256, delivery_start: uint256, delivery_end: uint256) -> uint256:
    """
    @notice List one delivery window of an approved template (anyone). Post exactly the
            template's bond (wei); `claim_listing_bond` returns it once the market is settled.
            The window must be aligned to the template's cadence (hourly: one hour on the
            hour; daily: a local midnight-to-midnight day, 23, 24 or 25 h; monthly: local 1st
            00:00 to the next 1st), local meaning the standard offset, one hour more while US
            DST is in force for a non-zero offset (the end is the one the start allows);
            trading must still be open (delivery_start - last_trade_offset, or delivery_end,
            > now); delivery_start at most max_horizon ahead; the window not listed before
            on these feeds (by any template sharing the mark class). The Clearinghouse emits
            MarketListed (feeds class | delivery_start << 40 | delivery_end, spec_hash
            keccak(abi_encode(template
            spec_hash, delivery_start, delivery_end))); this emits MarketListedFromTemplate.
    @param delivery_start Unix s, < 2**40.
    @param delivery_end Unix s, exclusive, < 2**40.
    @return The new market id.
    """
    terms: uint256 = self._terms[template_id]
    assert terms != 0, "SeriesRegistry: unknown template"
    assert terms & _ACTIVE_BIT != 0, "SeriesRegistry: template retired"
    assert msg.value == terms >> 128, "SeriesRegistry: bad bond"
    assert self._aligned(terms, delivery_start, delivery_end), "SeriesRegistry: bad delivery window"
    assert delivery_start <= block.timestamp + ((terms >> 40) & _MASK40), "SeriesRegistry: beyond horizon"
    lto: uint256 = (terms >> 80) & _MASK40
    last: uint256 = delivery_end
    if lto != _MASK40:
        last = delivery_start - min(lto, delivery_start)
    assert last > block.timestamp, "SeriesRegistry: last trade passed"
    window: uint256 = (delivery_start << 40) | delivery_end
    mark_feed: uint256 = convert(self._templates[template_id].mark_class, uint256) | window
    assert self._market_of[mark_feed] == 0, "SeriesRegistry: already listed"
    market_id: uint256 = extcall IClearinghouseListing(self.clearinghouse).list_series_market(
        template_id,
        convert(mark_feed, bytes32),
        convert((self._settlement[template_id] >> 80 << 80) | window, bytes32),
        self._lot[template_id] | (last << 192),
        self._risk[template_id],
        keccak256(abi_encode(self._templates[template_id].spec_hash, delivery_start, delivery_end)),
    )
    self._market_of[mark_feed] = market_id | (convert(msg.sender, uint256) << 96)
    log MarketListedFromTemplate(
        market_id=market_id, template_id=template_id, lister=msg.sender, delivery_start=delivery_start, delivery_end=delivery_end
    )
    return market_id


@external
@nonreentrant
def claim_listing_bond(market_id: uint256, to: address = msg.sender):
    """
    @notice Pay a templated market's listing bond (wei) to `to` once the market is settled
            (finalize_settlement done). Only its lister, once. Settlement never waits on it,
            so a lister that cannot take ETH freezes nothing (it may name another `to`).
    @param to Receiver of the wei (default the caller).
    """
    tid: uint256 = staticcall IClearinghouseListing(self.clearinghouse).market_template(market_id)
    key: uint256 = convert((staticcall IClearinghouseListing(self.clearinghouse).market(market_id)).mark_feed, uint256)
    slot: uint256 = self._market_of[key]
    assert tid != 0 and slot >> 96 != 0, "SeriesRegistry: no bond"
    assert convert(slot >> 96, address) == msg.sender, "SeriesRegistry: not bond owner"
    halted: bool = False
    settled: bool = False
    price: int256 = 0
    oi: uint256 = 0
    halted, settled, price, oi = staticcall IClearinghouseListing(self.clearinghouse).market_state(market_id)
    assert settled, "SeriesRegistry: not settled"
    self._market_of[key] = slot & _MASK96
    amount: uint256 = self._terms[tid] >> 128
    log ListingBondClaimed(market_id=market_id, lister=msg.sender, to=to, amount=amount)
    raw_call(to, b"", value=amount)


# ---------------------------------------------------------------- views


@view
@external
def template(template_id: uint256) -> Template:
    """
    @return The approved template (all zero for an unknown id); `active` False once retired.
    """
    return self._templates[template_id]


@view
@external
def series_spec_hash(template_id: uint256) -> bytes32:
    """
    @return The template's series spec hash (the Clearinghouse's `market` view reads it).
    """
    return self._templates[template_id].spec_hash


@view
@external
def settlement_word(template_id: uint256) -> uint256:
    """
    @return The template's settlement class | dispute_window (s) in the low 80 bits; the
            Clearinghouse settles a templated market from it (0 for an unknown id).
    """
    return self._settlement[template_id]


@view
@external
def market_of(template_id: uint256, delivery_start: uint256) -> uint256:
    """
    @return The market listed on `template_id`'s feeds for the window starting at
            `delivery_start` (unix s; the window's end follows from the cadence), 0 if none
            (also for a start the cadence does not allow). A market listed from another
            template with the same mark class counts: the feeds are the same.
    """
    end: uint256 = self._window_end(self._terms[template_id], delivery_start)
    if end == 0:
        return 0
    key: uint256 = convert(self._templates[template_id].mark_class, uint256) | (delivery_start << 40) | end
    return self._market_of[key] & _MASK96


@view
@external
def listing_bond_owner(market_id: uint256) -> address:
    """
    @return Who may claim a templated market's listing bond (empty once claimed, and for a
            market not listed from a template).
    """
    tid: uint256 = staticcall IClearinghouseListing(self.clearinghouse).market_template(market_id)
    if tid == 0:
        return empty(address)
    key: uint256 = convert((staticcall IClearinghouseListing(self.clearinghouse).market(market_id)).mark_feed, uint256)
    return convert(self._market_of[key] >> 96, address)


@view
@external
def aligned(template_id: uint256, delivery_start: uint256, delivery_end: uint256) -> bool:
    """
    @return Whether the window fits the template's cadence (what `list_from_template` checks
            as "bad delivery window"), for listers and tests.
    """
    return self._aligned(self._terms[template_id], delivery_start, delivery_end)


# ---------------------------------------------------------------- internals


@pure
@internal
def _aligned(terms: uint256, start: uint256, end: uint256) -> bool:
    # a window is aligned iff its end is the one its start allows (one end per start, so the
    # DST tolerance cannot admit a shifted or stretched window)
    return end != 0 and end <= _MASK40 and end == self._window_end(terms, start)


@pure
@internal
def _window_end(terms: uint256, start: uint256) -> uint256:
    # the end of the template's window starting at `start`, 0 if `start` cannot begin one.
    # Hourly: on the hour. Daily/monthly: `start` is a local midnight (of the 1st, monthly)
    # and the end the next day's (month's) local midnight. "Local" is the standard offset, plus
    # one hour while US daylight saving time is in force when the offset is not 0 (every
    # non-UTC series is a US ISO's: ERCOT, PJM, ...; UTC series have no DST)
    if start == 0 or start > _MASK40:
        return 0
    cadence: uint256 = terms & 255
    if cadence == 1:
        if start % 3_600 != 0:
            return 0
        return start + 3_600
    off: uint256 = (terms >> 16) & (2**24 - 1)  # utc_offset + 86_400
    # local date of `start` (days since 1970): a DST midnight is 23:00 standard the day before
    day: uint256 = start + off
    if off != 86_400:
        day += 3_600
    day = day // 86_400 - 1
    y: uint256 = 0
    m: uint256 = 0
    d: uint256 = 0
    y, m, d = self._civil(day)
    # US DST is in force at local midnight of a date in (first, last]: after the second Sunday
    # of March (the switch is at 02:00) through the first Sunday of November. The end's date is
    # in this year or in a January, never in DST: one pair of bounds serves both ends
    first: uint256 = 0
    last: uint256 = 0
    if off != 86_400:
        mar1: uint256 = self._days_from_civil(y, 3)
        nov1: uint256 = self._days_from_civil(y, 11)
        # 1970-01-01 was a Thursday: (days + 4) % 7 is the weekday, 0 = Sunday
        first = mar1 + (7 - (mar1 + 4) % 7) % 7 + 7
        last = nov1 + (7 - (nov1 + 4) % 7) % 7
    if start != self._midnight(day, off, first, last):
        return 0
    if cadence == 2:
        return self._midnight(day + 1, off, first, last)
    if d != 1:
        return 0
    if m == 12:
        return self._midnight(self._days_from_civil(y + 1, 1), off, first, last)
    return self._midnight(self._days_from_civil(y, m + 1), off, first, last)


@pure
@internal
def _midnight(day: uint256, off: uint256, first: uint256, last: uint256) -> uint256:
    # unix s of local midnight starting date `day` (days since 1970); off = utc_offset + 86_400;
    # (first, last]: the dates whose midnight is in US DST (empty for a UTC series)
    t: uint256 = (day + 1) * 86_400 - off
    if day > first and day <= last:
        t -= 3_600
    return t


@pure
@internal
def _days_from_civil(y: uint256, m: uint256) -> uint256:
    # days since 1970-01-01 of the 1st of month `m` of year `y` (Howard Hinnant's days_from_civil)
    yy: uint256 = y
    if m <= 2:
        yy -= 1
    era: uint256 = yy // 400
    yoe: uint256 = yy - era * 400
    doy: uint256 = (153 * ((m + 9) % 12) + 2) // 5
    doe: uint256 = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


@pure
@internal
def _civil(day: uint256) -> (uint256, uint256, uint256):
    # (year, month, day of month) of `day` (days since 1970): Howard Hinnant's civil_from_days
    z: uint256 = day + 719_468
    era: uint256 = z // 146_097
    doe: uint256 = z - era * 146_097
    yoe: uint256 = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy: uint256 = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp: uint256 = (5 * doy + 2) // 153
    y: uint256 = yoe + era * 400
    m: uint256 = mp + 3
    if mp >= 10:
        y += 1
        m = mp - 9
    return y, m, doy - (153 * mp + 2) // 5 + 1
