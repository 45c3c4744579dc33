"""The README's "From zero to a hedged position", run exactly as written there (issue 14).

The CLI block is read from README.md, not copied: every numbered line runs as it stands, from the
repository root, in the shells the README describes (terminal 1: `.venv/bin/cspread devnet up`
in the background; terminal 2: `source .venv/bin/activate; source .cspread/devnet/env.sh`, then
each command). Two substitutions only, both a reader makes too: `<next month, e.g. 2026-12>` becomes
the devnet's next month, and the Python snippet's "2026-12" becomes that month if it differs. Step 6
("plan, confirm, execute") runs in a pseudo-terminal (`script`) and answers "y" to the prompt.
The devnet is stopped with SIGINT (Ctrl-C) and every process it started must be gone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from tests.utils.devnet_up import alive, left_running, read_until_ready, ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = ROOT / ".cspread" / "devnet"


def _readme_cli_steps() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("With the CLI (two terminals):", 1)[1].split("In Python", 1)[0]
    steps = []
    for line in block.splitlines():
        m = re.match(r"^    (\S.*?)\s+#\s+(\d)\s", line)
        if m:
            steps.append((int(m.group(2)), m.group(1).strip()))
    assert [n for n, _ in steps] == list(range(1, 8)), steps
    return [cmd for _, cmd in steps]


def _readme_python() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")} | {"COLUMNS": "200"}


def _terminal2(cmd: str, setup: str, tty_input: str | None = None, timeout: float = 180) -> str:
    script = f"{setup}\n{cmd}"
    if tty_input is None:
        r = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout
        )
    else:  # a real terminal for the confirmation prompt
        r = subprocess.run(
            ["script", "-qec", f"bash -c {shlex.quote(script)}", "/dev/null"],
            cwd=ROOT,
            env=_env(),
            input=tty_input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    assert r.returncode == 0, f"`{cmd}` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def test_readme_cli_path_then_python_snippet_as_written():
    info = WORKDIR / "devnet.json"
    if info.exists() and alive(int(json.loads(info.read_text()).get("cli_pid", 0) or 0)):
        pytest.skip(f"a devnet of yours runs in {WORKDIR}: the README's path would collide with it")
    steps = _readme_cli_steps()
    assert steps[0] == "make setup" and steps[1] == ".venv/bin/cspread devnet up"

    # 1: bootstrap (a no-op when already done)
    r = subprocess.run(["bash", "-c", steps[0]], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    # 2: terminal 1, the whole stack; wait for "devnet ready"
    up = subprocess.Popen(
        ["bash", "-c", f"exec {steps[1]}"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = read_until_ready(up, 240)
        assert ready(lines), "".join(lines) + up.stderr.read()
        d = json.loads(info.read_text())
        pids = set(d["pids"].values())
        manifest = json.loads(Path(d["manifest"]).read_text())
        month = next(m["symbol"] for m in manifest["markets"] if m["kind"] == "SPREAD").rsplit(".", 1)[1]

        setup = steps[2]  # 3: terminal 2
        assert setup == "source .venv/bin/activate; source .cspread/devnet/env.sh"
        out4 = _terminal2(steps[3], setup)  # 4: markets
        assert "SPREAD.H100-SXM.HB_WEST" in out4 and "live" in out4
        out5 = _terminal2(steps[4], setup)  # 5: faucet + deposit
        assert "deposited 100,000.00 USD" in out5
        hedge = re.sub(r"<next month[^>]*>", month, steps[5])  # 6: plan, confirm, execute
        assert hedge != steps[5] and "--yes" not in hedge
        out6 = _terminal2(hedge, setup, tty_input="y\n")
        assert "execute this plan?" in out6 and "the book covers all 720 GPU-hour" in out6, out6
        assert "filled 720 of 720 GPU-hour" in out6, out6
        out7 = _terminal2(steps[6], setup)  # 7: account
        assert "SPREAD.H100-SXM.HB_WEST" in out7 and "short" in out7 and "liq. price" in out7
        assert not re.search(r"\d\.\d{5,}", out7), out7  # prices to the tick, money to the cent

        # In Python (after steps 1-3): the snippet as written
        code = _readme_python().replace('"2026-12"', json.dumps(month))
        py = _terminal2(f"python - <<'README_PY'\n{code}README_PY", setup)
        assert "filled 720 of 720 GPU-hour" in py, py
        pos = [x for x in py.splitlines() if x.startswith("short ")]
        assert pos and re.match(
            r"short 1,440 GPU-hour SPREAD\.H100-SXM\.HB_WEST\.\d{4}-\d{2}: entry \d\.\d{4}, "
            r"mark \d\.\d{4} USD/GPU-hour, unrealised PnL [+-][\d,]+\.\d{2} USD",
            pos[0],
        ), py
        assert "Position(" not in py  # readable, not a dataclass repr
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C in terminal 1
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
    assert not left_running(pids, 15), "processes left running"
