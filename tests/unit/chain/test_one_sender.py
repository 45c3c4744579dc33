"""Sending, revert decoding and log paging live once, in chain/: no other package signs and
broadcasts transactions, decodes Error(string) payloads or pages eth_getLogs by itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ["sdk", "keepers", "oracle", "core", "relay", "apps", "devnet", "scripts"]
# what only chain/ may write: broadcasting, nonce reads, receipt waits, revert selectors,
# raw getLogs requests and hand-rolled block-range loops over get_logs
FORBIDDEN = {
    # node-signed sends too (eth_sendTransaction from an unlocked devnet account): chain.tx.send_unlocked
    "broadcast": re.compile(
        r"send_raw_transaction|eth_sendRawTransaction|[\"']eth_sendTransaction[\"']|\.send_transaction\("
    ),
    "nonce read": re.compile(r"get_transaction_count|eth_getTransactionCount"),
    "receipt wait": re.compile(r"wait_for_transaction_receipt|eth_getTransactionReceipt|get_transaction_receipt\("),
    "revert selector": re.compile(r"08c379a0|4e487b71"),
    "raw getLogs": re.compile(r"[\"']eth_getLogs[\"']|\.eth\.get_logs\("),
}


def _sources():
    for pkg in PACKAGES:
        d = ROOT / pkg
        if d.is_dir():
            yield from sorted(p for p in d.rglob("*.py") if ".venv" not in p.parts)


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_only_chain_package__talks_transactions_reverts_and_logs(what):
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in _sources()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if FORBIDDEN[what].search(line)
    ]
    assert not offenders, f"{what} outside chain/ (use chain.tx / chain.reverts / chain.logs): {offenders}"


def test_guard_sees_the_tree():
    seen = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert "sdk/client.py" in seen  # a guard that reads nothing proves nothing
    assert "scripts/demo_pool.py" in seen  # the benches and demos send through chain/ too
