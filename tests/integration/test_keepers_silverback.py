"""The silverback wiring runs for real: `silverback run keepers.bots.<bot>:bot` against a devnet.

anvil mines a block a second once the deploy is done (silverback follows new blocks); the bot connects through ape's
`ethereum:local:node` network, whose URI ape-config.yaml reads from $CSPREAD_RPC_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devnet.anvil import ROOT, Anvil, deploy, rpc

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("bot", ["liquidator_bot", "settler_bot"])
def test_silverback_bot__devnet__starts_resyncs_and_handles_blocks(bot, tmp_path):
    with Anvil() as anvil:
        # deployed while anvil automines (the deploy's setup burst needs it; at one transaction a
        # block the default series' ~200 setup transactions outlast the deploy's timeout), then a
        # block a second for the bot to follow
        manifest = deploy(anvil.url, tmp_path / "manifest.json")
        rpc(anvil.url, "evm_setIntervalMining", [1])
        venv_bin = Path(sys.executable).parent
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
        env.update(
            CSPREAD_MANIFEST=str(tmp_path / "manifest.json"),
            CSPREAD_RPC_URL=anvil.url,
            PATH=f"{venv_bin}:{ROOT / 'node_modules' / '.bin'}:{env.get('PATH', '')}",
        )
        log = tmp_path / f"{bot}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(venv_bin / "silverback"), "run", f"keepers.bots.{bot}:bot", "--network", "ethereum:local:node"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and log.read_text().count("on_new_block[") < 4:
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        text = log.read_text()
        assert "Startup complete" in text, text[-3000:]
        assert text.count("on_new_block[") >= 4, text[-3000:]
        assert f"markets: {len(manifest['markets'])}" in text
        assert "Timed out waiting for next block" not in text
        assert "Cannot convert datapoint" not in text
