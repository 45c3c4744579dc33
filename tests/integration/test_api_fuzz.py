"""Schema-driven API fuzzing (schemathesis) of the relay, the oracle service and the dashboard
backend, each built in this process on a real devnet (anvil + the real deploy; the relay over
a real RpcChain and SQLite, the reporter with the vendored replay data and a reporter key, the
dashboard's backend over the same RPC). Every operation in each OpenAPI schema gets a bounded
number of generated requests, valid and invalid (CSPREAD_FUZZ_EXAMPLES, default 25); a 5xx,
a status code the schema does not document, or a body or header that does not match the
schema fails the test. The same checks as issue 12's 60,000-request run, bounded to minutes."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devnet.anvil import ANVIL_KEYS

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("CSPREAD_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,  # data outside a declared range is refused with a 4xx
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def relay_api(devnet, tmp_path_factory):
    from relay.app import create_app
    from relay.config import RelaySettings

    anvil, _, path = devnet
    db = tmp_path_factory.mktemp("fuzz-relay") / "relay.db"
    app = create_app(
        RelaySettings(manifest=str(path), rpc_url=anvil.url, database_url=f"sqlite:///{db}", background=False)
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def oracle_api(devnet):
    from devnet.replay import replay_offsets
    from oracle.service import create_app
    from oracle.settings import OracleSettings
    from oracle.signing import ReportSigner

    anvil, _, path = devnet
    # the devnet's clock mapped onto the vendored data, as the devnet's reporters run (devnet.replay)
    offsets = replay_offsets(anvil.timestamp_now())
    app = create_app(
        OracleSettings(manifest=str(path), rpc_url=anvil.url, replay_offsets=offsets),
        signer=ReportSigner(ANVIL_KEYS[1]),
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def web_api(devnet):
    from apps.web import create_app

    anvil, _, path = devnet
    app = create_app(str(path), anvil.url, None)
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


relay_schema = schemathesis.pytest.from_fixture("relay_api")
oracle_schema = schemathesis.pytest.from_fixture("oracle_api")
# the JSON API; the HTML pages are for browsers (their errors are pages: test_web_ux.py)
web_schema = schemathesis.pytest.from_fixture("web_api").include(path_regex="^/api/")


@relay_schema.parametrize()
@FUZZ
def test_api_fuzz__relay(case):
    # every check on every route, POST /orders/batch included: its order fields are declared as
    # what they accept (an integer or its decimal string, relay.schemas.chain_int), so data
    # outside the schema is a whole-batch 422, never a per-order verdict inside a 200
    case.call_and_validate(checks=CHECKS)


@oracle_schema.parametrize()
@FUZZ
def test_api_fuzz__oracle(case):
    case.call_and_validate(checks=CHECKS)


@web_schema.parametrize()
@FUZZ
def test_api_fuzz__dashboard(case):
    case.call_and_validate(checks=CHECKS)
