"""Reader and the ClearinghouseView (issue 13): a manifest written before the view contract
still loads, and asking it for a view that moved raises a typed error saying what to do."""

from __future__ import annotations

import json

import pytest
from web3 import Web3
from web3.providers.base import BaseProvider

from core.manifest import Manifest
from sdk import errors
from sdk.reader import Reader

CHAIN_ID = 31337


class ChainIdOnly(BaseProvider):
    """Answers eth_chainId and nothing else: any other request would be a bug in the test."""

    def make_request(self, method, params):
        if method == "eth_chainId":
            return {"jsonrpc": "2.0", "id": 1, "result": hex(CHAIN_ID)}
        raise AssertionError(f"unexpected RPC {method}")

    def is_connected(self, show_traceback: bool = False) -> bool:
        return True


def _manifest(tmp_path, with_view: bool) -> Manifest:
    contracts = {
        name: {"address": "0x" + f"{i + 1:040x}", "abi": []}
        for i, name in enumerate(("Oracle", "Clearinghouse", "Exchange", "Collateral"))
    }
    if with_view:
        contracts["ClearinghouseView"] = {"address": "0x" + "ab" * 20, "abi": []}
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"chain_id": CHAIN_ID, "block": 0, "contracts": contracts, "markets": []}))
    return Manifest.load(p)


def test_manifest__without_view__loads_and_reports_none(tmp_path):
    assert _manifest(tmp_path, with_view=False).clearinghouse_view is None
    assert _manifest(tmp_path, with_view=True).clearinghouse_view == Web3.to_checksum_address("0x" + "ab" * 20)


def test_reader_account__manifest_without_view__typed_error_before_any_call(tmp_path):
    r = Reader(_manifest(tmp_path, with_view=False), w3=Web3(ChainIdOnly()))

    with pytest.raises(errors.ViewContractMissing, match="has no ClearinghouseView.*Redeploy"):
        r.account("0x" + "cd" * 20)
    assert issubclass(errors.ViewContractMissing, errors.ComputeSpreadError)


def test_reader_view__manifest_with_view__the_view_contract(tmp_path):
    r = Reader(_manifest(tmp_path, with_view=True), w3=Web3(ChainIdOnly()))

    assert r.view.address == Web3.to_checksum_address("0x" + "ab" * 20)
