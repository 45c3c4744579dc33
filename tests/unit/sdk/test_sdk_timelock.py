"""sdk.timelock without a chain: the operation id matches the contract's, calls encode from
and decode to the manifest ABIs (what `scripts/timelock.py status` shows), arguments parse."""

from __future__ import annotations

import json

import boa
import pytest
from vyper.compiler.output import build_abi_output
from web3 import Web3

from core.manifest import Manifest
from sdk.errors import ManifestError
from sdk.timelock import TimelockAdmin, operation_id, parse_arg
from tests.utils.deployers import EXCHANGE
from tests.utils.timelock import DAY, TIMELOCK

EXCHANGE_AT = "0x" + "11" * 20
TIMELOCK_AT = "0x" + "22" * 20


def _manifest(tmp_path, with_timelock=True) -> Manifest:
    contracts = {
        name: {"address": "0x" + f"{i:02x}" * 20, "abi": []}
        for i, name in enumerate(("Oracle", "Clearinghouse", "Collateral"), start=3)
    }
    contracts["Exchange"] = {"address": EXCHANGE_AT, "abi": build_abi_output(EXCHANGE.compiler_data)}
    if with_timelock:
        contracts["Timelock"] = {"address": TIMELOCK_AT, "abi": build_abi_output(TIMELOCK.compiler_data)}
    path = tmp_path / "m.json"
    path.write_text(
        json.dumps(
            {"chain_id": 31337, "block": 0, "contracts": contracts, "markets": [], "roles": {"owner": "0x" + "33" * 20}}
        )
    )
    return Manifest.load(path)


@pytest.fixture
def admin(tmp_path):
    return TimelockAdmin(Web3(Web3.HTTPProvider("http://127.0.0.1:1")), _manifest(tmp_path))


@pytest.mark.parametrize("value, data, eta", [(0, b"", 0), (5, b"\x01\x02\x03\x04", 1_800_000_000)])
def test_operation_id__matches_contract(value, data, eta):
    tl = TIMELOCK.deploy(boa.env.generate_address("admin"), DAY)

    assert bytes.fromhex(operation_id(EXCHANGE_AT, value, data, eta)[2:]) == tl.operation_id(
        EXCHANGE_AT, value, data, eta
    )


def test_encode_decode__set_fees__round_trip_and_describe(admin):
    target, data = admin.encode("Exchange", "set_fees", [3, 6])

    q = admin.decode(target, 0, data, 1_800_000_000)
    assert target == Web3.to_checksum_address(EXCHANGE_AT)
    assert data.hex().startswith(Web3.keccak(text="set_fees(uint256,uint256)")[:4].hex())
    assert (q.contract, q.function, q.args) == ("Exchange", "set_fees", {"maker_fee_bps_": 3, "taker_fee_bps_": 6})
    assert q.describe() == "Exchange.set_fees(maker_fee_bps_=3, taker_fee_bps_=6)"
    assert q.id == operation_id(target, 0, data, 1_800_000_000)


def test_decode__unknown_target__raw_call_shown(admin):
    q = admin.decode("0x" + "44" * 20, 10**17, b"", 1)

    assert q.function is None and q.describe() == f"{'0x' + '44' * 20} value={10**17} data=0x"


def test_encode__contract_not_owned__raises(admin):
    with pytest.raises(ManifestError, match="not a contract the Timelock owns"):
        admin.encode("Collateral2", "transfer", [])


def test_encode__bad_arguments__value_error(admin):
    with pytest.raises(ValueError, match="cannot encode Exchange.set_fees"):
        admin.encode("Exchange", "set_fees", [3])


def test_send__without_key__permission_error(admin):
    with pytest.raises(PermissionError, match="needs the Timelock admin's key"):
        admin.queue("Exchange", "set_fees", [3, 6], eta=1)


def test_admin__manifest_without_timelock__explains_owner(tmp_path):
    with pytest.raises(ManifestError, match="has no Timelock: this deployment's owner is 0x3333"):
        TimelockAdmin(Web3(), _manifest(tmp_path, with_timelock=False))


@pytest.mark.parametrize(
    "text, value",
    [("3", 3), ("true", True), ("[1, [2, 3]]", [1, [2, 3]]), ("0x" + "ab" * 20, "0x" + "ab" * 20), ("-5", -5)],
)
def test_parse_arg__json_else_string(text, value):
    assert parse_arg(text) == value
