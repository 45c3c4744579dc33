"""Timelock cost on a real anvil: deployed runtime size and the gas of queue / execute /
cancel for three typical owner calls, with the same call sent straight from the owner
(eth_estimateGas from the Timelock's address) for the overhead. Deploys with the real
`ape run deploy --timelock-delay 60`, then drives the Timelock through sdk.timelock.

    python -m scripts.bench_timelock
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from eth_account import Account
from web3 import Web3

from chain.tx import tx_outcome
from core import abi
from core.manifest import Manifest
from devnet.anvil import ANVIL_KEYS, Anvil, deploy
from sdk.timelock import TimelockAdmin


def run() -> list[dict]:
    rows = []
    with Anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "manifest.json"
        manifest = deploy(anvil.url, out, extra_args=["--timelock-delay", "60"])
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        admin = TimelockAdmin(w3, Manifest.load(out), Account.from_key(ANVIL_KEYS[0]))
        rows.append(
            {
                "name": "Timelock runtime bytecode (deployed)",
                "value": len(w3.eth.get_code(admin.timelock.address)),
                "unit": "bytes",
                "target": "< 24,576",
            }
        )
        mid = manifest["markets"][0]["id"]
        market = abi.Market.decode(admin.manifest.contract(w3, "Clearinghouse").functions.market(mid).call())
        params = abi.MarketParams.decode(market.asdict())
        calls = [
            ("Exchange", "set_fees", [3, 6]),
            ("Clearinghouse", "set_market_params", [mid, list(params.encode())]),
            ("Oracle", "set_reporters", [[Account.from_key(k).address for k in ANVIL_KEYS[1:4]], 2]),
        ]
        for contract, fn, args in calls:
            q = admin.queue(contract, fn, args, slack=5)
            queued, _ = tx_outcome(w3, w3.eth.get_block("latest")["transactions"][0])  # the queue tx just mined
            anvil.warp(q.eta - anvil.timestamp_now() + 1)
            direct = getattr(admin.manifest.contract(w3, contract).functions, fn)(*args).estimate_gas(
                {"from": admin.timelock.address}
            )
            executed = admin.execute(q)
            label = f"{contract}.{fn} ({len(q.data)} B calldata)"
            rows.append({"name": f"queue {label}", "value": queued.gas_used, "unit": "gas", "target": "-"})
            rows.append(
                {
                    "name": f"execute {label}",
                    "value": executed["gasUsed"],
                    "unit": "gas",
                    "target": f"direct call ~{direct:,}",
                }
            )
        q = admin.queue("Exchange", "set_fees", [1, 1], slack=5)
        rows.append(
            {"name": "cancel Exchange.set_fees", "value": admin.cancel(q)["gasUsed"], "unit": "gas", "target": "-"}
        )
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']:<58} {r['value']:>8,} {r['unit']:<6} {r['target']}")
