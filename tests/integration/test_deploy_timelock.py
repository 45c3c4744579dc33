"""`ape run deploy --timelock-delay 3600` on a real anvil ends with the Timelock owning the
Oracle, Clearinghouse and Exchange; owner calls then go through scripts/timelock.py (queue,
status, execute refused before eta, execute after), while the guardian still halts at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eth_account import Account
from web3 import Web3

from devnet.anvil import ANVIL_KEYS, ROOT, Anvil, DevnetError, deploy

pytestmark = pytest.mark.integration

DELAY = 3_600
OWNED = ("Oracle", "Clearinghouse", "Exchange")


@pytest.fixture(scope="module")
def governed_devnet(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "manifest.json"
    with Anvil() as anvil:
        manifest = deploy(anvil.url, out, extra_args=["--timelock-delay", str(DELAY)])
        yield anvil, manifest, out


def _contract(w3, manifest, name):
    c = manifest["contracts"][name]
    return w3.eth.contract(address=c["address"], abi=c["abi"])


def _timelock_cli(anvil, manifest_path, *args, check=True):
    env = dict(os.environ, TL_ADMIN_KEY=ANVIL_KEYS[0])
    cmd = [
        sys.executable,
        "-m",
        "scripts.timelock",
        "--manifest",
        str(manifest_path),
        "--rpc",
        anvil.url,
        "--key-env",
        "TL_ADMIN_KEY",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_deploy__timelock_delay__timelock_owns_all_three(governed_devnet):
    anvil, manifest, _ = governed_devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployer = Account.from_key(ANVIL_KEYS[0]).address
    timelock = _contract(w3, manifest, "Timelock")

    for name in OWNED:
        c = _contract(w3, manifest, name)
        assert c.functions.owner().call() == timelock.address, name
        assert int(c.functions.pending_owner().call(), 16) == 0, name
    assert timelock.functions.delay().call() == DELAY
    assert timelock.functions.owner().call() == deployer
    roles = manifest["roles"]
    assert roles["owner"] == timelock.address and roles["deployer"] == deployer
    assert roles["timelock"] == {
        "address": timelock.address,
        "delay": DELAY,
        "admin": deployer,
        "pending_admin": "0x0000000000000000000000000000000000000000",
    }
    # the deployer (still the guardian) has no direct owner power left
    ex = _contract(w3, manifest, "Exchange")
    with pytest.raises(Exception, match="ownable: caller is not the owner"):
        ex.functions.set_fees(100, 100).call({"from": deployer})


def test_timelock_script__queue_status_execute__applies_only_after_delay(governed_devnet):
    anvil, manifest, path = governed_devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    ex = _contract(w3, manifest, "Exchange")
    before = (ex.functions.maker_fee_bps().call(), ex.functions.taker_fee_bps().call())

    queued = json.loads(_timelock_cli(anvil, path, "--json", "queue", "Exchange", "set_fees", "3", "6").stdout)
    assert queued["call"] == "Exchange.set_fees(maker_fee_bps_=3, taker_fee_bps_=6)"
    status = json.loads(_timelock_cli(anvil, path, "--json", "status").stdout)
    assert [q["id"] for q in status["queued"]] == [queued["id"]]
    assert status["delay"] == DELAY

    early = _timelock_cli(anvil, path, "execute", queued["id"], check=False)
    assert early.returncode == 1 and "Timelock: not ready" in early.stderr
    assert (ex.functions.maker_fee_bps().call(), ex.functions.taker_fee_bps().call()) == before

    anvil.warp(queued["eta"] - anvil.timestamp_now() + 1)
    _timelock_cli(anvil, path, "execute", queued["id"])

    assert (ex.functions.maker_fee_bps().call(), ex.functions.taker_fee_bps().call()) == (3, 6)
    assert json.loads(_timelock_cli(anvil, path, "--json", "status").stdout)["queued"] == []


def test_guardian__halt_market__immediate_under_timelock(governed_devnet):
    anvil, manifest, _ = governed_devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    ch = _contract(w3, manifest, "Clearinghouse")
    guardian = Account.from_key(ANVIL_KEYS[0])  # the default guardian is the deployer
    market_id = manifest["markets"][0]["id"]

    tx = ch.functions.halt_market(market_id).build_transaction(
        {"from": guardian.address, "nonce": w3.eth.get_transaction_count(guardian.address)}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(guardian.sign_transaction(tx).raw_transaction)
    )

    assert receipt["status"] == 1
    assert ch.functions.market_state(market_id).call()[0] is True  # halted, no queue


def test_deploy__timelock_admin__proposed_until_it_accepts(governed_devnet, tmp_path):
    anvil, _, _ = governed_devnet
    safe = Account.from_key(ANVIL_KEYS[9])  # stands in for a multisig admin
    manifest = deploy(
        anvil.url,
        tmp_path / "m.json",
        extra_args=["--timelock-delay", str(2 * DELAY), "--timelock-admin", safe.address],
    )
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    timelock = _contract(w3, manifest, "Timelock")
    deployer = Account.from_key(ANVIL_KEYS[0]).address

    assert manifest["roles"]["timelock"]["admin"] == deployer
    assert manifest["roles"]["timelock"]["pending_admin"] == safe.address
    assert timelock.functions.delay().call() == 2 * DELAY
    tx = timelock.functions.accept_ownership().build_transaction(
        {"from": safe.address, "nonce": w3.eth.get_transaction_count(safe.address)}
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(safe.sign_transaction(tx).raw_transaction))
    assert timelock.functions.owner().call() == safe.address
    for name in OWNED:
        assert _contract(w3, manifest, name).functions.owner().call() == timelock.address


def test_deploy__timelock_admin_without_delay__refused(governed_devnet, tmp_path):
    anvil, _, _ = governed_devnet
    with pytest.raises(DevnetError, match="--timelock-admin needs a Timelock"):
        deploy(anvil.url, tmp_path / "m.json", extra_args=["--timelock-admin", Account.from_key(ANVIL_KEYS[9]).address])
