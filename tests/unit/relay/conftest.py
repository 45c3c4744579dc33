"""Relay unit fixtures. `store` is parametrized over both backends: every store, API and matcher
test that takes it runs on SQLite (a WAL file) and on PostgreSQL (a fresh database in a
throwaway server that this test session starts and stops by PID: devnet/postgres.py)."""

import pytest
from matcher_helpers import chain, traders  # noqa: F401  (fixtures)

from devnet.postgres import PostgresServer
from relay.store import SqlOrderStore


@pytest.fixture(scope="session")
def pg_server():
    with PostgresServer() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'relay.db'}"
        return
    pg = request.getfixturevalue("pg_server")
    url = pg.create_database()
    yield url
    pg.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def store(backend_url):
    s = SqlOrderStore(backend_url)
    yield s
    s.close()
