"""core.manifest: the one Manifest SDK, keepers and oracle read; structure checked at load,
specs and feed ids checked by ``entries``; every refusal is a ManifestError naming the field."""

from __future__ import annotations

import copy
import json

import pytest
from eth_utils import to_checksum_address

from core.errors import ManifestError
from core.manifest import REQUIRED_CONTRACTS, Manifest, market_entry
from core.specs import compute_spec, mark_feed, power_spec, spread_spec

X = 1_796_392_800  # 2026-12-03T14:00Z
POWER = power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", X, X + 3600)
COMPUTE = compute_spec("H100-SXM", X, X + 3600)
ADDR = "0x" + "ab" * 20


def manifest_obj() -> dict:
    return {
        "chain_id": 31337,
        "block": 7,
        "contracts": {n: {"address": ADDR, "abi": [{"type": "function", "name": n}]} for n in REQUIRED_CONTRACTS},
        "markets": [
            market_entry(1, POWER),
            market_entry(2, COMPUTE),
            market_entry(3, spread_spec(COMPUTE, POWER, "0.0012")),
        ],
    }


def write(tmp_path, obj) -> str:
    p = tmp_path / "31337.json"
    p.write_text(json.dumps(obj))
    return p


def test_load__valid__fields_and_verified_entries(tmp_path):
    m = Manifest.load(write(tmp_path, manifest_obj()))
    assert (m.chain_id, m.block, len(m.markets)) == (31337, 7, 3)
    assert m.address("Exchange") == m.oracle == to_checksum_address(ADDR) != ADDR
    assert m.market(2)["symbol"] == m.entries[1].symbol
    assert m.entries[0].mark_feed == mark_feed(m.entries[0].symbol)
    assert m.entries[2].kind == "SPREAD" and m.entries[2].delivery_end == X + 3600
    assert m.verified() is m
    assert m.abi("Oracle") == [{"type": "function", "name": "Oracle"}]


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda o: o.pop("markets"), "no 'markets'"),
        (lambda o: o.__setitem__("chain_id", "31337"), "chain_id must be a positive int"),
        (lambda o: o.__setitem__("chain_id", True), "chain_id must be a positive int"),
        (lambda o: o.__setitem__("chain_id", 0), "chain_id must be a positive int"),
        (lambda o: o["contracts"].pop("Exchange"), "no contract 'Exchange'"),
        (lambda o: o.__setitem__("markets", {}), "markets a list"),
    ],
)
def test_load__malformed__manifest_error(tmp_path, mutate, match):
    obj = manifest_obj()
    mutate(obj)
    with pytest.raises(ManifestError, match=match):
        Manifest.load(write(tmp_path, obj))


def test_load__missing_file_or_not_json__manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="cannot read"):
        Manifest.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ManifestError, match="not JSON"):
        Manifest.load(tmp_path / "bad.json")


def test_load__required_names_what_this_reader_needs(tmp_path):
    obj = manifest_obj()
    obj["contracts"] = {"Oracle": obj["contracts"]["Oracle"]}
    with pytest.raises(ManifestError, match="Clearinghouse"):
        Manifest.load(write(tmp_path, obj))
    m = Manifest.load(write(tmp_path, obj), required=("Oracle",))
    with pytest.raises(ManifestError, match="no contract 'Exchange'"):
        m.address("Exchange")


def test_address__not_an_address__manifest_error(tmp_path):
    obj = manifest_obj()
    obj["contracts"]["Oracle"]["address"] = "0x1234"
    m = Manifest.load(write(tmp_path, obj))
    with pytest.raises(ManifestError, match="contracts.Oracle.address"):
        m.verified()


@pytest.mark.parametrize(
    "key, value",
    [("spec_hash", "0x" + "00" * 32), ("mark_feed", "0x" + "11" * 32), ("symbol", "ERCOT-FAKE"), ("kind", "COMPUTE")],
)
def test_entries__tampered_entry__refused_naming_the_field(tmp_path, key, value):
    """An attacker who edits a manifest cannot make a reporter sign a feed whose meaning differs."""
    obj = manifest_obj()
    obj["markets"][0][key] = value
    m = Manifest.load(write(tmp_path, obj))  # structure is fine...
    with pytest.raises(ManifestError, match=key):
        m.entries  # noqa: B018 ... the spec check is not
    with pytest.raises(ManifestError, match=key):
        m.verified()


def test_entries__duplicate_id_or_invalid_spec__refused(tmp_path):
    obj = manifest_obj()
    dup = copy.deepcopy(obj)
    dup["markets"][1]["id"] = 1
    with pytest.raises(ManifestError, match="duplicate"):
        Manifest.load(write(tmp_path, dup)).verified()
    bad = copy.deepcopy(obj)
    bad["markets"][0]["spec"]["market"] = "XX"
    with pytest.raises(ManifestError, match=r"markets\[0\]"):
        Manifest.load(write(tmp_path, bad)).verified()


def test_manifest_error__is_the_sdk_error_and_a_value_error():
    from sdk import errors

    assert errors.ManifestError is ManifestError
    assert issubclass(ManifestError, errors.ComputeSpreadError) and issubclass(ManifestError, ValueError)
