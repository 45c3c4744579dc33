"""Every deployable contract (CamelCase .vy under contracts/) has runtime bytecode under the
EIP-170 limit of 24,576 bytes, as compiled and as deployed."""

import boa
import pytest

from tests.utils.deployers import CONTRACTS

EIP170_LIMIT = 24_576
DEPLOYABLE = sorted(p for p in CONTRACTS.rglob("*.vy") if p.stem[0].isupper())


@pytest.mark.parametrize("path", DEPLOYABLE, ids=[p.stem for p in DEPLOYABLE])
def test_runtime_bytecode__compiled__below_eip170_limit(path):
    data = boa.load_partial(str(path)).compiler_data
    # deployed code = runtime bytecode + the immutables appended at deploy time
    size = len(data.bytecode_runtime) + data.compilation_target._metadata["type"].immutable_section_bytes

    assert 0 < size < EIP170_LIMIT, f"{path.stem}: {size} bytes"


@pytest.mark.parametrize("name", ["oracle", "clearinghouse", "view", "exchange", "usdc"])
def test_runtime_bytecode__deployed_protocol__below_eip170_limit(protocol, name):
    size = len(boa.env.get_code(getattr(protocol, name).address))

    assert 0 < size < EIP170_LIMIT, f"{name}: {size} bytes"


def test_deployable_contracts__core_set__discovered():
    assert {"Oracle", "Clearinghouse", "ClearinghouseView", "Exchange", "MockUSDC", "Mock1271Wallet"} <= {
        p.stem for p in DEPLOYABLE
    }
