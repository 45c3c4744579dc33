"""Shared fixtures of the oracle unit tests (real vendored data only; nothing synthetic)."""

from __future__ import annotations

import json

import pytest
from oracle_test_helpers import FIXTURES

from tests.utils.vectors import EIP712_VECTORS


@pytest.fixture(scope="session")
def eip712_vectors() -> dict:
    return EIP712_VECTORS


@pytest.fixture
def load_fixture():
    return lambda name: json.loads((FIXTURES / name).read_text())
