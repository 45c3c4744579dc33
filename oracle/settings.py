"""Reporter configuration, from ``CSPREAD_ORACLE_*`` env vars (CLI flags override).

Replay time mapping (see ``oracle.timemap``), most specific wins:
``REPLAY_OFFSETS`` (JSON ``{"ERCOT": s, "PJM": s, "GPU": s}``, data = chain + s per dataset) >
``REPLAY_CHAIN_ANCHOR`` + ``REPLAY_DATA_ANCHOR`` (+ ``REPLAY_SPEED``) > ``REPLAY_OFFSET`` > identity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oracle.index import GpuIndexParams
from oracle.timemap import TimeMap


class OracleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSPREAD_ORACLE_", extra="ignore")

    manifest: Path = Path("deployments/31337.json")
    host: str = "127.0.0.1"
    port: int = 8600
    log_level: str = "info"

    # signing: the key never lives in these settings, only where to find it
    key_env: str | None = "CSPREAD_ORACLE_KEY"  # env var holding the hex private key
    keyfile: Path | None = None  # eth keystore JSON (takes precedence over key_env)
    keyfile_password_env: str = "CSPREAD_ORACLE_KEYFILE_PASSWORD"

    # clock: "chain" = latest block timestamp over JSON-RPC; "system" = wall clock
    clock: Literal["chain", "system"] = "chain"
    rpc_url: str = "http://127.0.0.1:8545"

    # data
    source: Literal["replay", "live"] = "replay"
    data_dir: Path | None = None  # default: the repo's data/
    replay_offset: int | None = None
    replay_chain_anchor: int | None = None
    replay_data_anchor: int | None = None
    replay_speed: float = 1.0
    replay_offsets: dict[str, int] = Field(default_factory=dict)

    # live adapters: names of env vars holding API keys (never the keys themselves)
    ercot_key_env: str = "ERCOT_API_KEY"
    ercot_token_env: str = "ERCOT_API_TOKEN"
    pjm_key_env: str = "PJM_API_KEY"
    prime_key_env: str = "PRIME_API_KEY"

    # methodology
    gpu_staleness_s: int = 86_400
    gpu_mad_k: float = 3.0
    gpu_min_quotes: int = 3
    gpu_method: Literal["median", "weighted_median"] = "median"  # weighted_median: the old method, comparison only
    gpu_weight_cap: int = 10
    trailing_days: int = 7
    mark_method: Literal["blend", "trailing"] = "blend"  # trailing: the old mark, comparison only
    seasonal_days: int = 28
    decay_days: float = 1.0
    recent_days: int = 1
    gpu_carry_s: int = 86_400  # a GPU fixing without a valid index reuses the last one up to this age
    history_len: int = 1000
    max_report_lag_s: int = 600  # how far back GET /reports/latest?observed_at= may value feeds
    # markets listed on chain from series templates: the markets file whose series specs this
    # reporter signs for (None: only the manifest's markets); see oracle/templates.py
    series_file: Path | None = None
    mark_request_ttl_s: int = 900  # a POST /marks/requests entry lasts this long (chain seconds)

    @field_validator("replay_offset")
    @classmethod
    def _whole_hours(cls, v: int | None) -> int | None:
        if v is not None and v % 3600:
            raise ValueError("replay_offset must be a whole number of hours (multiple of 3600) to keep hours aligned")
        return v

    @field_validator("replay_offsets")
    @classmethod
    def _whole_hours_each(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: s for k, s in v.items() if s % 3600}
        if bad:
            raise ValueError(f"replay_offsets must be whole hours (multiples of 3600): {bad}")
        return v

    @model_validator(mode="after")
    def _anchor_pair(self) -> OracleSettings:
        if (self.replay_chain_anchor is None) != (self.replay_data_anchor is None):
            raise ValueError("set both replay_chain_anchor and replay_data_anchor, or neither")
        return self

    def gpu_params(self) -> GpuIndexParams:
        return GpuIndexParams(
            staleness_s=self.gpu_staleness_s,
            mad_k=self.gpu_mad_k,
            min_quotes=self.gpu_min_quotes,
            method=self.gpu_method,
            weight_cap=self.gpu_weight_cap,
        )

    def valuer_kwargs(self) -> dict:
        """Everything a :class:`~oracle.valuation.Valuer` takes besides its source (one place, so
        the service and ``cspread index value`` value feeds with the same parameters)."""
        return {
            "gpu_params": self.gpu_params(),
            "trailing_days": self.trailing_days,
            "carry_s": self.gpu_carry_s,
            "mark_method": self.mark_method,
            "seasonal_days": self.seasonal_days,
            "decay_days": self.decay_days,
            "recent_days": self.recent_days,
        }

    def default_time_map(self) -> TimeMap:
        if self.replay_chain_anchor is not None:
            return TimeMap(self.replay_chain_anchor, self.replay_data_anchor, self.replay_speed)
        if self.replay_offset is not None:
            return TimeMap.from_offset(self.replay_offset)
        return TimeMap.identity()

    def time_maps(self) -> dict[str, TimeMap]:
        return {k: TimeMap.from_offset(v) for k, v in self.replay_offsets.items()}
