import copy
import datetime as dt
import json

import pytest
from eth_utils import keccak

from core.specs import (
    SpecError,
    canonical_json,
    compute_spec,
    day_window,
    mark_feed,
    month_window,
    power_spec,
    settlement_feed,
    spec_hash,
    spread_spec,
    symbol,
    validate_spec,
)

CT = "America/Chicago"


@pytest.fixture
def dec_2026():
    return month_window(2026, 12, CT)


def test_canonical_json__sorted_keys_no_spaces__hash_is_keccak_of_utf8(dec_2026):
    spec = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", *dec_2026)
    text = canonical_json(spec)
    assert text == json.dumps(spec, sort_keys=True, separators=(",", ":"))
    assert text.startswith('{"delivery_end":') and " " not in text
    assert spec_hash(spec) == "0x" + keccak(text.encode()).hex()


def test_month_window__ercot_dec_2026__local_midnights():
    s, e = month_window(2026, 12, CT)
    assert s == int(dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC).timestamp())
    assert e == int(dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC).timestamp())


def test_symbol__examples(dec_2026):
    s, e = dec_2026
    power = power_spec("ERCOT", "HB_WEST", "DA", "PEAK", s, e)
    assert symbol(power) == "ERCOT.HB_WEST.DA.PEAK.2026-12"
    cs, ce = month_window(2026, 12, "UTC")
    assert symbol(compute_spec("H100-SXM", cs, ce)) == "H100-SXM.2026-12"
    assert symbol(compute_spec("H100-SXM", cs, ce, region="US")) == "H100-SXM.US.2026-12"
    atc = power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e)
    assert symbol(spread_spec(compute_spec("H100-SXM", s, e), atc, "0.0012")) == "SPREAD.H100-SXM.HB_WEST.2026-12"
    assert (
        symbol(spread_spec(compute_spec("H100-SXM", s, e), power, "0.0012"))
        == "SPREAD.H100-SXM.HB_WEST.DA.PEAK.2026-12"
    )


def test_symbol__day_and_hour_and_fall_back_hours():
    d0, d1 = day_window(dt.date(2026, 12, 3), CT)
    assert symbol(power_spec("ERCOT", "HB_WEST", "DA", "ATC", d0, d1)) == "ERCOT.HB_WEST.DA.ATC.2026-12-03"
    h = d0 + 14 * 3600
    # 14:00-15:00 local is hour ending 15, as ERCOT publishes it
    assert (
        symbol(power_spec("ERCOT", "HB_WEST", "RT", "HOURLY", h, h + 3600)) == "ERCOT.HB_WEST.RT.HOURLY.2026-12-03HE15"
    )
    assert (
        symbol(power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", d0, d0 + 3600))
        == "ERCOT.HB_WEST.DA.HOURLY.2026-12-03HE01"
    )
    last = d1 - 3600
    assert symbol(power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", last, d1)) == "ERCOT.HB_WEST.DA.HOURLY.2026-12-03HE24"
    f0, _ = day_window(dt.date(2026, 11, 1), CT)  # fall-back day: 01:00-02:00 happens twice, HE02 twice
    first, second = (
        symbol(power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", t, t + 3600)) for t in (f0 + 3600, f0 + 7200)
    )
    assert (
        first == "ERCOT.HB_WEST.DA.HOURLY.2026-11-01HE02CDT" and second == "ERCOT.HB_WEST.DA.HOURLY.2026-11-01HE02CST"
    )
    s0, _ = day_window(dt.date(2026, 3, 8), CT)  # spring-forward day: HE03 does not exist
    labels = [
        symbol(power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", t, t + 3600))[-4:] for t in range(s0, s0 + 3 * 3600, 3600)
    ]
    assert labels == ["HE01", "HE02", "HE04"]


def test_feed_ids__keccak_of_symbol_suffix():
    assert mark_feed("H100-SXM.2026-12") == keccak(b"H100-SXM.2026-12/MARK")
    assert settlement_feed("H100-SXM.2026-12") == keccak(b"H100-SXM.2026-12/SETTLE")
    assert len(mark_feed("x")) == 32


def _base(dec_2026):
    return power_spec("ERCOT", "HB_WEST", "DA", "PEAK", *dec_2026)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.update(tz="America/New_York"), "tz for ERCOT"),
        (lambda s: s.update(tz="Mars/Olympus"), "IANA"),
        (lambda s: s.update(market="DAM"), "market"),
        (lambda s: s.update(profile="WEEKEND"), "profile"),
        (lambda s: s.update(delivery_start=s["delivery_start"] + 1), "whole hour"),
        (lambda s: s.update(delivery_end=s["delivery_start"]), "after delivery_start"),
        (lambda s: s.update(delivery_end=str(s["delivery_end"])), "integer"),
        (lambda s: s.update(extra=1), "unknown field"),
        (lambda s: s.pop("node"), "missing field"),
        (lambda s: s.update(node="HB.WEST"), "node"),
    ],
)
def test_validate_spec__bad_power_spec__raises_naming_field(dec_2026, mutate, message):
    spec = _base(dec_2026)
    mutate(spec)
    with pytest.raises(SpecError, match=message):
        validate_spec(spec)


def test_validate_spec__peak_profile_on_a_weekend__raises():
    s, e = day_window(dt.date(2026, 12, 5), CT)  # a Saturday
    with pytest.raises(SpecError, match="no PEAK hours"):
        power_spec("ERCOT", "HB_WEST", "DA", "PEAK", s, e)


def test_validate_spec__hourly_needs_one_hour(dec_2026):
    with pytest.raises(SpecError, match="HOURLY"):
        power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", dec_2026[0], dec_2026[0] + 7200)


def test_validate_spec__spread_checks(dec_2026):
    s, e = dec_2026
    c, p = compute_spec("H100-SXM", s, e), power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e)
    good = spread_spec(c, p, "0.0012")
    for bad_m in (0.0012, "1e-3", "-0.1", "0", "2"):
        bad = copy.deepcopy(good)
        bad["mwh_per_gpu_hour"] = bad_m
        with pytest.raises(SpecError, match="mwh_per_gpu_hour"):
            validate_spec(bad)
    other = compute_spec("H100-SXM", s, e + 3600)
    with pytest.raises(SpecError, match="same delivery window"):
        spread_spec(other, p, "0.0012")
    with pytest.raises(SpecError, match=r"spec\.power"):
        validate_spec({**good, "power": {**p, "tz": "UTC"}})


def test_validate_spec__unknown_kind_and_non_dict():
    with pytest.raises(SpecError, match="kind"):
        validate_spec({"kind": "GAS"})
    with pytest.raises(ValueError):
        validate_spec([1, 2])


def test_power_spec__peak_names_its_iso_block__unknown_iso_and_wrong_zone_refused():
    s, e = 1751342400, 1754020800  # July 2025 EDT
    pjm = power_spec("PJM", "WESTERN HUB", "DA", "PEAK", s, e)
    assert pjm["tz"] == "America/New_York"
    for iso, tz in (("CAISO", "America/Los_Angeles"), ("SPP", "America/Chicago"), ("ISO-NE", "America/New_York")):
        assert power_spec(iso, "HUB", "DA", "PEAK", s, e)["tz"] == tz
    with pytest.raises(SpecError, match="peak block"):
        power_spec("AESO", "HUB", "DA", "PEAK", s, e, tz="America/Edmonton")
    assert power_spec("AESO", "HUB", "DA", "ATC", s, e, tz="America/Edmonton")["profile"] == "ATC"  # no block needed
    with pytest.raises(SpecError, match="prevailing time"):
        power_spec("PJM", "WESTERN HUB", "DA", "PEAK", s, e, tz="America/Chicago")


def test_spec_matches__fields_of_either_spread_leg_but_not_the_legs_kind():
    from core.specs import spec_matches

    c = compute_spec("H100-SXM", 1_699_999_200, 1_700_085_600)
    p = power_spec("ERCOT", "HB_WEST", "DA", "ATC", 1_699_999_200, 1_700_085_600)
    s = spread_spec(c, p, "0.0012")
    assert spec_matches(s, gpu="H100-SXM", node="HB_WEST") and spec_matches(s) and spec_matches(s, kind="SPREAD")
    assert not spec_matches(s, kind="POWER") and not spec_matches(s, node="HB_NORTH")
    assert spec_matches(p, node="HB_WEST", profile="ATC") and not spec_matches(p, gpu="H100-SXM")
