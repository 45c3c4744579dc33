"""Integration fixtures: a real anvil on a free port and the real deploy script, the keeper
environment, and the relay process; every process started and stopped by PID."""

from __future__ import annotations

import pytest

from devnet.anvil import Anvil, deploy
from devnet.processes import RelayProcess
from scripts._keepers_env import Env


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    """(anvil, manifest) for one module: anvil started by PID, `ape run deploy` against it."""
    out = tmp_path_factory.mktemp("deploy") / "manifest.json"
    with Anvil() as anvil:
        manifest = deploy(anvil.url, out)
        yield anvil, manifest, out


@pytest.fixture
def env(tmp_path):
    """A fresh devnet per test at the Winter Storm Uri clock, with helpers to run reporters and keepers."""
    e = Env(tmp_path)
    yield e
    e.close()


@pytest.fixture(scope="module")
def start_relay(devnet, tmp_path_factory):
    """start_relay(match_key=None, extra_env=None) -> a running RelayProcess on the module's devnet
    (its log at `.log_path`); every relay started is stopped at the end of the module."""
    anvil, _, path = devnet
    started: list[RelayProcess] = []

    def start(**kw) -> RelayProcess:
        tmp = tmp_path_factory.mktemp("relay")
        relay = RelayProcess(str(path), anvil.url, str(tmp / "relay.db"), log_path=str(tmp / "relay.log"), **kw)
        started.append(relay)
        relay.start()
        return relay

    yield start
    for relay in reversed(started):
        relay.stop()
