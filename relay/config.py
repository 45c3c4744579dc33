"""Relay settings (env prefix CSPREAD_RELAY_, e.g. CSPREAD_RELAY_DATABASE_URL)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSPREAD_RELAY_")

    manifest: str = "deployments/31337.json"
    rpc_url: str = "http://127.0.0.1:8545"
    # SQLite file by default; any SQLAlchemy URL (postgresql+psycopg://...) for shared books
    database_url: str = "sqlite:///relay.db"
    # connections per process (the request thread pool has 40 threads); PostgreSQL's default
    # max_connections of 100 holds two relays at the default 8 + 24
    db_pool_size: int = 8
    db_max_overflow: int = 24
    # s a trader's kept reserved margin may go without a reload from the store: bounds what
    # another relay process on the same database can post unseen (relay/exposure.py)
    exposure_ttl: float = 2.0
    head_ttl: float = 0.25  # s between head polls; chain reads are cached per head block
    min_ttl: int = 2  # s an order must still live past the head block's timestamp
    check_margin: bool = True
    # answer Exchange.remaining of never-touched orders from the Exchange's logs instead of one
    # eth_call per post (exact: chainview.FillIndex); off = always the eth_call
    fill_index: bool = True
    max_open_per_trader: int = 1_000
    follow_interval: float = 0.5  # s between event-log polls
    revalidate_interval: float = 5.0  # s between full re-validations
    # blocks left unread at the head; None: per chain id (relay.follower.DEFAULT_CONFIRMATIONS)
    confirmations: int | None = None
    lease: float = 300.0  # s a matcher's claim on two orders lasts (crash: reconciled after it)
    start_block: int | None = None  # default: the manifest's deploy block
    # matching loop (optional): the key is read from the env var named here
    match: bool = False
    matcher_key_env: str = "CSPREAD_MATCHER_KEY"
    match_interval: float = 0.2
    skip_ttl: float = 30.0
    background: bool = True  # run follower / revalidator / matcher threads (off in unit tests)
