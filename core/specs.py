"""Market specs (DESIGN §3): validation, canonical JSON, ``spec_hash``, symbols, feed ids.

A market on chain is just "a quantity whose price feed X reports"; what the feed *means*
is the spec. The deploy script stores ``spec_hash = keccak256(canonical JSON)`` on chain
and the oracle refuses to serve a market whose manifest spec does not hash to it, so the
canonical form must be byte-exact: ``json.dumps(spec, sort_keys=True,
separators=(",", ":"))`` encoded as UTF-8.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eth_utils import keccak

from core.calendar import ISO_TZ, PEAK_BLOCKS, PROFILES, hour_ending_label, profile_hours

KINDS = ("POWER", "COMPUTE", "SPREAD")
POWER_MARKETS = ("DA", "RT")
# ISO_TZ (from core.calendar.PEAK_BLOCKS): each ISO's prevailing time zone; a POWER spec
# must use its ISO's zone, since the profile (PEAK hours, holidays) is defined in it.
GLOBAL_REGION = "GLOBAL"

POWER_KEYS = {"kind", "iso", "node", "market", "profile", "delivery_start", "delivery_end", "tz"}
COMPUTE_KEYS = {"kind", "gpu", "region", "delivery_start", "delivery_end"}
SPREAD_KEYS = {"kind", "compute", "power", "mwh_per_gpu_hour"}

_TOKEN = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
_NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _\-]*$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")


class SpecError(ValueError):
    """A market spec is malformed; the message names the field and what is expected."""


# --------------------------------------------------------------------------- construction


def power_spec(
    iso: str, node: str, market: str, profile: str, delivery_start: int, delivery_end: int, tz: str | None = None
) -> dict[str, Any]:
    """A validated POWER spec; ``tz`` defaults to the ISO's prevailing zone."""
    spec = {
        "kind": "POWER",
        "iso": iso,
        "node": node,
        "market": market,
        "profile": profile,
        "delivery_start": int(delivery_start),
        "delivery_end": int(delivery_end),
        "tz": tz or ISO_TZ.get(iso, ""),
    }
    validate_spec(spec)
    return spec


def compute_spec(gpu: str, delivery_start: int, delivery_end: int, region: str = GLOBAL_REGION) -> dict[str, Any]:
    spec = {
        "kind": "COMPUTE",
        "gpu": gpu,
        "region": region,
        "delivery_start": int(delivery_start),
        "delivery_end": int(delivery_end),
    }
    validate_spec(spec)
    return spec


def spread_spec(compute: dict[str, Any], power: dict[str, Any], mwh_per_gpu_hour: str | Decimal) -> dict[str, Any]:
    spec = {"kind": "SPREAD", "compute": compute, "power": power, "mwh_per_gpu_hour": str(mwh_per_gpu_hour)}
    validate_spec(spec)
    return spec


def month_window(year: int, month: int, tz: str) -> tuple[int, int]:
    """[start, end) unix seconds of a calendar month in ``tz`` (handy for listing markets)."""
    z = ZoneInfo(tz)
    start = dt.datetime(year, month, 1, tzinfo=z)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=z)
    return int(start.timestamp()), int(end.timestamp())


def day_window(day: dt.date, tz: str) -> tuple[int, int]:
    """[start, end) of a local calendar day (23 or 25 hours on DST days)."""
    z = ZoneInfo(tz)
    nxt = day + dt.timedelta(days=1)
    return (
        int(dt.datetime(day.year, day.month, day.day, tzinfo=z).timestamp()),
        int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=z).timestamp()),
    )


# --------------------------------------------------------------------------- validation


def _fail(path: str, msg: str) -> None:
    raise SpecError(f"spec{path}: {msg}")


def _check_keys(spec: dict, keys: set[str], path: str) -> None:
    missing, extra = keys - spec.keys(), spec.keys() - keys
    if missing:
        _fail(path, f"missing field(s) {sorted(missing)}")
    if extra:
        _fail(path, f"unknown field(s) {sorted(extra)}")


def _check_window(spec: dict, path: str) -> None:
    s, e = spec["delivery_start"], spec["delivery_end"]
    for name, v in (("delivery_start", s), ("delivery_end", e)):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(path, f"{name} must be an integer unix timestamp (seconds, UTC), got {v!r}")
        if v < 0 or v % 3600:
            _fail(path, f"{name} must be a non-negative whole hour (multiple of 3600), got {v}")
    if e <= s:
        _fail(path, f"delivery_end ({e}) must be after delivery_start ({s}); the window is [start, end)")


def _check_str(spec: dict, key: str, path: str, pattern: re.Pattern, hint: str) -> None:
    v = spec[key]
    if not isinstance(v, str) or not pattern.match(v):
        _fail(path, f"{key} must be {hint}, got {v!r}")


def _is_zone(tz: Any) -> bool:
    if not isinstance(tz, str) or not tz:
        return False
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _validate_power(spec: dict, path: str) -> None:
    _check_keys(spec, POWER_KEYS, path)
    _check_str(spec, "iso", path, _TOKEN, "an upper-case ISO code such as ERCOT or PJM")
    _check_str(spec, "node", path, _NODE, "a node name (letters, digits, space, _ or -)")
    if spec["market"] not in POWER_MARKETS:
        _fail(path, f"market must be one of {POWER_MARKETS}, got {spec['market']!r}")
    if spec["profile"] not in PROFILES:
        _fail(path, f"profile must be one of {PROFILES}, got {spec['profile']!r}")
    tz = spec["tz"]
    if not _is_zone(tz):
        _fail(path, f"tz must be an IANA time zone name such as America/Chicago, got {tz!r}")
    if spec["iso"] in ISO_TZ and tz != ISO_TZ[spec["iso"]]:
        _fail(path, f"tz for {spec['iso']} must be {ISO_TZ[spec['iso']]!r} (its prevailing time), got {tz!r}")
    if spec["profile"] in ("PEAK", "OFFPEAK") and spec["iso"] not in PEAK_BLOCKS:
        # PEAK means the ISO's own block: an ISO without a row in the table has no PEAK
        _fail(
            path,
            f"{spec['profile']} needs an ISO with a defined peak block ({', '.join(PEAK_BLOCKS)}), got {spec['iso']!r}",
        )
    _check_window(spec, path)
    if spec["profile"] == "HOURLY" and spec["delivery_end"] - spec["delivery_start"] != 3600:
        _fail(path, "an HOURLY profile needs a one-hour window (delivery_end - delivery_start == 3600)")
    if profile_hours(spec["delivery_start"], spec["delivery_end"], spec["profile"], tz, spec["iso"]).size == 0:
        _fail(path, f"the window contains no {spec['profile']} hours")


def _validate_compute(spec: dict, path: str) -> None:
    _check_keys(spec, COMPUTE_KEYS, path)
    _check_str(spec, "gpu", path, _TOKEN, "an upper-case GPU class such as H100-SXM or B200")
    _check_str(spec, "region", path, _TOKEN, f"an upper-case region code such as {GLOBAL_REGION} or US")
    _check_window(spec, path)


def validate_spec(spec: Any, _path: str = "") -> None:
    """Raise :class:`SpecError` (a ``ValueError``) unless ``spec`` is a well-formed market spec."""
    if not isinstance(spec, dict):
        _fail(_path, f"must be a JSON object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind == "POWER":
        _validate_power(spec, _path)
    elif kind == "COMPUTE":
        _validate_compute(spec, _path)
    elif kind == "SPREAD":
        _check_keys(spec, SPREAD_KEYS, _path)
        if not isinstance(spec["compute"], dict) or spec["compute"].get("kind") != "COMPUTE":
            _fail(_path + ".compute", "must be a COMPUTE spec")
        if not isinstance(spec["power"], dict) or spec["power"].get("kind") != "POWER":
            _fail(_path + ".power", "must be a POWER spec")
        validate_spec(spec["compute"], _path + ".compute")
        validate_spec(spec["power"], _path + ".power")
        m = spec["mwh_per_gpu_hour"]
        if not isinstance(m, str) or not _DECIMAL.match(m):
            _fail(_path, f'mwh_per_gpu_hour must be a plain decimal string such as "0.0012", got {m!r}')
        try:
            val = Decimal(m)
        except InvalidOperation:  # pragma: no cover - regex already guards
            _fail(_path, f"mwh_per_gpu_hour is not a decimal: {m!r}")
        if not Decimal(0) < val <= Decimal(1):
            _fail(_path, f"mwh_per_gpu_hour must be in (0, 1] MWh per GPU-hour, got {m}")
        c, p = spec["compute"], spec["power"]
        if (c["delivery_start"], c["delivery_end"]) != (p["delivery_start"], p["delivery_end"]):
            _fail(_path, "compute and power legs must share the same delivery window")
    else:
        _fail(_path, f"kind must be one of {KINDS}, got {kind!r}")


# --------------------------------------------------------------------------- hashing, ids


def canonical_json(spec: dict[str, Any]) -> str:
    """The exact string whose keccak is ``spec_hash`` (sorted keys, no whitespace)."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict[str, Any]) -> str:
    """``0x`` + hex keccak256 of the canonical JSON (UTF-8). Validates first."""
    validate_spec(spec)
    return "0x" + keccak(canonical_json(spec).encode("utf-8")).hex()


def mark_feed(symbol: str) -> bytes:
    """bytes32 feed id of a market's mark: keccak(f"{symbol}/MARK")."""
    return keccak(text=f"{symbol}/MARK")


def settlement_feed(symbol: str) -> bytes:
    """bytes32 feed id of a market's settlement value: keccak(f"{symbol}/SETTLE")."""
    return keccak(text=f"{symbol}/SETTLE")


def feed_hex(feed_id: bytes) -> str:
    return "0x" + bytes(feed_id).hex()


def parse_feed_id(value: str) -> bytes:
    """``0x`` + 64 hex chars -> 32 bytes (ValueError otherwise)."""
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raise ValueError(f"feed id must be 0x followed by 64 hex digits, got {value!r}")
    return bytes.fromhex(value[2:])


def spec_matches(spec: dict[str, Any], **fields: Any) -> bool:
    """Whether every ``field=value`` equals the spec's; a SPREAD's fields are matched against either
    leg too (``gpu=``, ``node=``), its legs' ``kind`` aside. The one rule behind every
    ``find_markets(kind, **fields)``."""
    flat = dict(spec)
    for leg in ("compute", "power"):
        if isinstance(spec.get(leg), dict):
            flat.update({k: v for k, v in spec[leg].items() if k != "kind"})
    return all(flat.get(k) == v for k, v in fields.items())


# --------------------------------------------------------------------------- symbols


def period_label(start: int, end: int, tz: str) -> str:
    """Short label of a window in local time.

    ``2026-12`` for exactly one calendar month, ``2026-12-03`` for one local day,
    ``2026-12-03HE15`` for one hour, labelled **hour ending** as the ISOs publish it (HE15 =
    14:00-15:00 local; the repeated fall-back hour gets its zone abbreviation,
    ``2026-11-01HE02CDT`` then ``2026-11-01HE02CST``), otherwise ``<start>_<end>`` in local
    ``YYYY-MM-DDTHH`` (hour-beginning clock times, as any other timestamp).
    """
    z = ZoneInfo(tz)
    s = dt.datetime.fromtimestamp(start, z)
    e = dt.datetime.fromtimestamp(end, z)
    midnight = s.hour == s.minute == s.second == 0 and e.hour == e.minute == e.second == 0
    if midnight and s.day == 1 and e.day == 1 and (e.year * 12 + e.month) - (s.year * 12 + s.month) == 1:
        return f"{s:%Y-%m}"
    if midnight and (e.date() - s.date()).days == 1:
        return f"{s:%Y-%m-%d}"
    if end - start == 3600:
        label = f"{s:%Y-%m-%d}{hour_ending_label(start, tz)}"
        ambiguous = s.replace(fold=1 - s.fold).utcoffset() != s.utcoffset()
        return label + (s.tzname() or "") if ambiguous else label
    return f"{s:%Y-%m-%dT%H}_{e:%Y-%m-%dT%H}"


def symbol(spec: dict[str, Any]) -> str:
    """Short human symbol, unique per (kind, underlying, window) within sensible listings.

    - POWER: ``ERCOT.HB_WEST.DA.PEAK.2026-12`` (period in the spec's tz)
    - COMPUTE: ``H100-SXM.2026-12`` (period in UTC; a non-GLOBAL region is inserted:
      ``H100-SXM.US.2026-12``)
    - SPREAD: ``SPREAD.H100-SXM.HB_WEST.2026-12`` for a DA/ATC power leg, otherwise
      ``SPREAD.H100-SXM.HB_WEST.RT.PEAK.2026-12`` (period in the power leg's tz).

    The symbol names the feeds (:func:`mark_feed`), so a manifest must not list two
    markets with the same symbol; :mod:`core.manifest` rejects that.
    """
    validate_spec(spec)
    kind = spec["kind"]
    if kind == "POWER":
        period = period_label(spec["delivery_start"], spec["delivery_end"], spec["tz"])
        return f"{spec['iso']}.{spec['node']}.{spec['market']}.{spec['profile']}.{period}"
    if kind == "COMPUTE":
        region = "" if spec["region"] == GLOBAL_REGION else f".{spec['region']}"
        return f"{spec['gpu']}{region}.{period_label(spec['delivery_start'], spec['delivery_end'], 'UTC')}"
    c, p = spec["compute"], spec["power"]
    region = "" if c["region"] == GLOBAL_REGION else f".{c['region']}"
    leg = "" if (p["market"], p["profile"]) == ("DA", "ATC") else f".{p['market']}.{p['profile']}"
    period = period_label(p["delivery_start"], p["delivery_end"], p["tz"])
    return f"SPREAD.{c['gpu']}{region}.{p['node']}{leg}.{period}"
