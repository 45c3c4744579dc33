"""Integration fixtures: a real anvil on a free port and the real deploy script."""
from __future__ import annotations

import pytest

from sdk.devnet import Anvil, deploy


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    """(anvil, manifest) for one module: anvil started by PID, `ape run deploy` against it."""
    out = tmp_path_factory.mktemp("deploy") / "manifest.json"
    with Anvil() as anvil:
        manifest = deploy(anvil.url, out)
        yield anvil, manifest, out
