"""The relay and the dashboard start from one command-line rule (devnet.processes.service_cmd):
the options every service shares (docs/cli.md), then their own. Built, not started."""

from __future__ import annotations

import sys

from apps.web.server import WebProcess
from devnet.processes import RelayProcess, service_cmd


def _opts(cmd: list[str]) -> dict[str, str]:
    return dict(zip(cmd[3::2], cmd[4::2], strict=False))


def test_service_cmd__shared_options_then_extra():
    cmd = service_cmd("relay.service", "/m.json", "http://rpc", 8123, "--db", "x.db")
    assert cmd[:3] == [sys.executable, "-m", "relay.service"]
    assert _opts(cmd) == {
        "--manifest": "/m.json",
        "--rpc-url": "http://rpc",
        "--port": "8123",
        "--db": "x.db",
        "--log-level": "warning",
    }


def test_relay_and_dashboard__same_shared_options():
    relay = RelayProcess("/m.json", "http://rpc", "r.db", port=8001, match_key="0x" + "11" * 32)
    web = WebProcess("/m.json", "http://rpc", relay="http://relay", port=8002)
    assert relay.cmd[2] == "relay.service" and web.cmd[2] == "apps.web"
    assert relay.cmd[-1] == "--match" and relay.env["CSPREAD_MATCHER_KEY"] == "0x" + "11" * 32
    assert _opts(relay.cmd[:-1])["--db"] == "r.db" and _opts(web.cmd)["--relay-url"] == "http://relay"
    for p, port in ((relay, "8001"), (web, "8002")):
        o = _opts(p.cmd[:-1] if p is relay else p.cmd)
        assert (o["--manifest"], o["--rpc-url"], o["--port"], o["--log-level"]) == (
            "/m.json",
            "http://rpc",
            port,
            "warning",
        )
