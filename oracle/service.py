"""The reporter HTTP service: ``create_app(settings)`` and ``cspread-reporter`` (``python -m oracle.service``).

One router per resource (feeds, reports, markets, health, metrics); the reporter state,
clock, price source and signer are injected, so tests pass a fixed clock and several
reporters can run side by side (different ports, keys, data).

    cspread-reporter --manifest deployments/31337.json --port 8601 --key-env REPORTER1_KEY
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from core.calendar import profile_words
from core.manifest import Manifest
from core.options import DATA_DIR_ENV, add_shared
from core.specs import canonical_json, feed_hex, parse_feed_id
from oracle import __version__
from oracle.models import (
    FeedHistoryPublic,
    FeedPublic,
    FeedsPublic,
    HealthPublic,
    HistoryQuery,
    MarketSpecPublic,
    MarkRequestCreate,
    MarkRequestsPublic,
    ObservationPublic,
    ReportPublic,
    ReportQuery,
)
from oracle.reporter import FeedState, Reporter, ReportUnavailable
from oracle.settings import OracleSettings
from oracle.signing import KeyConfigError, ReportSigner
from oracle.sources import (
    ErcotDamSource,
    PjmDataMinerSource,
    PriceSource,
    PrimeIntellectGpuSource,
    ReplaySource,
    RoutingSource,
    httpx_fetch,
)
from oracle.templates import TemplateResolver, Web3TemplateChain, core_series_rules
from oracle.valuation import Valuer

log = logging.getLogger("oracle.service")


# --------------------------------------------------------------------------- wiring


def chain_clock(rpc_url: str) -> Callable[[], int]:
    """Now = timestamp of the chain's latest block (devnet time, possibly warped)."""
    from web3 import Web3

    from chain.rpc import provider_for

    w3 = Web3(provider_for(rpc_url, timeout=5))
    return lambda: int(w3.eth.get_block("latest")["timestamp"])


def system_clock() -> int:
    return int(time.time())


def build_source(settings: OracleSettings) -> PriceSource:
    if settings.source == "replay":
        return ReplaySource(settings.data_dir, settings.time_maps(), settings.default_time_map())
    env = os.environ.get
    ercot = ErcotDamSource(httpx_fetch, env(settings.ercot_key_env), env(settings.ercot_token_env))
    pjm = PjmDataMinerSource(httpx_fetch, env(settings.pjm_key_env))
    gpu = PrimeIntellectGpuSource(httpx_fetch, env(settings.prime_key_env))
    return RoutingSource({"ERCOT": ercot, "PJM": pjm}, gpu)


def build_signer(settings: OracleSettings) -> ReportSigner | None:
    """Keystore file if configured, else the hex key in env var ``key_env``; None if neither is set."""
    if settings.keyfile is not None:
        return ReportSigner.from_keyfile(settings.keyfile, settings.keyfile_password_env)
    if settings.key_env and os.environ.get(settings.key_env):
        return ReportSigner.from_env(settings.key_env)
    return None


def build_resolver(settings: OracleSettings, manifest: Manifest) -> TemplateResolver | None:
    """Markets listed on chain from the series of ``settings.series_file`` (its specs are what
    the reporter signs for, checked against each template's spec_hash on chain)."""
    from web3 import Web3

    from chain.rpc import provider_for

    try:
        rules = core_series_rules()
        from core.series import load_series
    except ImportError as e:
        raise SystemExit(f"oracle: series templates need core/series.py ({e})") from None
    w3 = Web3(provider_for(settings.rpc_url, timeout=10))
    ch = manifest.contract(w3, "Clearinghouse")
    registry = manifest.contract(w3, "SeriesRegistry") if "SeriesRegistry" in manifest.data["contracts"] else ch
    chain = Web3TemplateChain(registry, ch)
    return TemplateResolver(load_series(settings.series_file), chain, rules, clock=time.monotonic)


class _ReporterCollector:
    """Prometheus collector reading the reporter's state at scrape time."""

    def __init__(self, reporter: Reporter):
        self.r = reporter

    def collect(self):
        price = GaugeMetricFamily(
            "cspread_oracle_feed_price_usd", "Latest feed price in USD", labels=["feed", "symbol", "kind"]
        )
        age = GaugeMetricFamily(
            "cspread_oracle_feed_observed_at_seconds",
            "Chain time of the latest observation",
            labels=["feed", "symbol", "kind"],
        )
        up = GaugeMetricFamily(
            "cspread_oracle_feed_ok", "1 if the feed has a value at the current time", labels=["feed", "symbol", "kind"]
        )
        for fs in self.r.feeds.values():
            labels = [fs.feed_hex, fs.market.symbol, fs.role]
            up.add_metric(labels, 1.0 if fs.status == "ok" else 0.0)
            if fs.latest:
                price.add_metric(labels, fs.latest.price_usd)
                age.add_metric(labels, fs.latest.observed_at)
        yield price
        yield age
        yield up
        yield GaugeMetricFamily("cspread_oracle_clock_seconds", "Current clock (chain time)", value=self.r.now or 0)
        yield CounterMetricFamily("cspread_oracle_rounds", "Observation rounds", value=self.r.rounds)
        yield CounterMetricFamily("cspread_oracle_feed_errors", "Feed valuations that failed", value=self.r.errors)


# --------------------------------------------------------------------------- dependencies


def get_reporter(request: Request) -> Reporter:
    reporter: Reporter = request.app.state.reporter
    reporter.refresh()
    return reporter


ReporterDep = Annotated[Reporter, Depends(get_reporter)]


FEED_ID = Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x + 64 hex: a feed id (GET /feeds)")
UINT256_MAX = 2**256 - 1
# the status codes each route can answer besides 200 and 422 (FastAPI documents those itself)
_WHY = {
    404: {"description": "unknown feed or market"},
    409: {"description": "no report can be signed for that time (too old, in the future, no value)"},
    503: {"description": "no signing key, or no feed has a value yet / the chain clock is unreadable"},
}


def _responses(*codes: int) -> dict:
    return {c: _WHY[c] for c in codes}


def invalid(where: str, field: str, value, msg: str) -> RequestValidationError:
    """A 422 in FastAPI's standard shape ({"detail": [{"loc", "msg", "type", "input"}]}), for a
    check the schema cannot express."""
    return RequestValidationError([{"loc": (where, field), "msg": msg, "type": "value_error", "input": value}])


def _feed_or_404(reporter: Reporter, feed_id: str) -> FeedState:
    try:
        key = parse_feed_id(feed_id)
    except ValueError as e:
        raise invalid("path", "feed_id", feed_id, str(e)) from None
    try:
        fs = reporter.lookup(key)
    except ReportUnavailable as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    if fs is None:
        raise HTTPException(status_code=404, detail=f"unknown feed {feed_id}; GET /feeds lists the feeds served")
    return reporter.current(fs)


def _feed_public(fs: FeedState) -> FeedPublic:
    obs = fs.latest
    return FeedPublic(
        feed_id=fs.feed_hex,
        symbol=fs.market.symbol,
        kind=fs.role,
        market_id=fs.market.id,
        market_kind=fs.market.kind,
        status=fs.status,
        price=str(obs.price_units) if obs else None,
        price_usd=obs.price_usd if obs else None,
        observed_at=obs.observed_at if obs else None,
        detail=fs.detail,
    )


# --------------------------------------------------------------------------- routers

feeds = APIRouter(prefix="/feeds", tags=["feeds"])


@feeds.get("", response_model=FeedsPublic)
def list_feeds(reporter: ReporterDep) -> FeedsPublic:
    """Every feed this reporter serves (mark and settlement feed of each market)."""
    return FeedsPublic(
        chain_id=reporter.manifest.chain_id,
        now=reporter.now,
        feeds=[_feed_public(fs) for fs in reporter.feeds.values()],
    )


@feeds.get("/{feed_id}", response_model=FeedPublic, responses=_responses(404, 409))
def read_feed(reporter: ReporterDep, feed_id: str = FEED_ID) -> FeedPublic:
    return _feed_public(_feed_or_404(reporter, feed_id))


@feeds.get("/{feed_id}/history", response_model=FeedHistoryPublic, responses=_responses(404, 409))
def read_feed_history(
    reporter: ReporterDep, q: Annotated[HistoryQuery, Query()], feed_id: str = FEED_ID
) -> FeedHistoryPublic:
    """Observations this reporter made (one per distinct chain time), oldest first."""
    fs = _feed_or_404(reporter, feed_id)
    obs = list(fs.history)[-q.limit :]
    return FeedHistoryPublic(
        feed_id=fs.feed_hex,
        symbol=fs.market.symbol,
        kind=fs.role,
        observations=[
            ObservationPublic(
                observed_at=o.observed_at,
                price=str(o.price_units),
                price_usd=o.price_usd,
                n_hours=o.valuation.n_hours,
                n_realised=o.valuation.n_realised,
                n_expected=o.valuation.n_expected,
                expected_usd=o.valuation.expected_usd,
                missing_hours=list(o.valuation.missing),
            )
            for o in obs
        ],
    )


reports = APIRouter(prefix="/reports", tags=["reports"])


@reports.get("/latest", response_model=ReportPublic, responses=_responses(404, 409, 503))
def latest_report(reporter: ReporterDep, q: Annotated[ReportQuery, Query()]) -> ReportPublic:
    """The latest signed EIP-712 Report for ``Oracle.submit`` (prices are int strings).

    A pusher combining several reporters passes the same ``feed_ids`` and ``observed_at``
    (or the same ``exclude``) to each, because ``submit`` takes one feed list and one time
    for all signatures.
    """

    def feed_list(value: str | None) -> list[bytes] | None:
        return None if value is None else [parse_feed_id(f.strip()) for f in value.split(",") if f.strip()]

    try:
        ids = feed_list(q.feed_ids)
    except ValueError as e:
        raise invalid("query", "feed_ids", q.feed_ids, str(e)) from None
    try:
        exclude = set(feed_list(q.exclude) or ())
    except ValueError as e:
        raise invalid("query", "exclude", q.exclude, str(e)) from None
    if ids is not None and exclude:
        raise invalid("query", "exclude", q.exclude, "pass either feed_ids or exclude, not both")
    if ids is not None and not q.partial:
        try:
            unknown = [feed_hex(f) for f in ids if reporter.lookup(f) is None]
        except ReportUnavailable as e:
            raise HTTPException(status_code=409, detail=str(e)) from None
        if unknown:
            raise HTTPException(status_code=404, detail=f"unknown feed(s) {', '.join(unknown)}")
    if reporter.signer is None:
        raise HTTPException(status_code=503, detail="this reporter has no signing key configured")
    if ids is None and q.observed_at is None and not (exclude & set(reporter.feeds)):
        r = reporter.report
        if r is None:
            raise HTTPException(status_code=503, detail="no feed has a value at the current chain time; see GET /feeds")
    else:
        try:
            r = reporter.report_for(ids, q.observed_at, exclude, partial=q.partial)
        except ReportUnavailable as e:
            raise HTTPException(status_code=409, detail=str(e)) from None
    return ReportPublic(
        chain_id=reporter.manifest.chain_id,
        oracle=reporter.manifest.oracle,
        feed_ids=[feed_hex(f) for f in r.feed_ids],
        prices=[str(p) for p in r.prices],
        observed_at=r.observed_at,
        signer=r.signer,
        signature=r.signature,
        digest=r.digest,
    )


marks = APIRouter(prefix="/marks", tags=["marks"])


@marks.post(
    "/requests",
    response_model=MarkRequestsPublic,
    status_code=202,
    responses={404: {"description": "a feed this reporter does not serve"}, 409: {"description": "not a mark feed"}},
)
def request_marks(body: MarkRequestCreate, reporter: ReporterDep) -> MarkRequestsPublic:
    """Ask for a first mark: a listed market gets marks on chain only while it has open interest
    or resting orders, so before its first order someone must ask (the relay refuses orders on a
    market without a fresh mark with ``stale_mark``). The pusher reads ``GET /marks/requests``
    and pushes each requested mark that is missing or stale, once; a request expires after
    ``mark_request_ttl_s``. Idempotent; the pusher bounds how many it honours per block."""
    try:
        ids = [parse_feed_id(f) for f in body.feed_ids]
    except ValueError as e:
        raise invalid("body", "feed_ids", body.feed_ids, str(e)) from None
    try:
        until = reporter.request_marks(ids)
    except KeyError as e:
        raise HTTPException(
            status_code=404, detail=f"unknown feed {e.args[0]}; GET /feeds lists the feeds served"
        ) from None
    except ReportUnavailable as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    return MarkRequestsPublic(now=reporter.now, feed_ids=[feed_hex(f) for f in reporter.requested()], expires_at=until)


@marks.get("/requests", response_model=MarkRequestsPublic)
def list_mark_requests(reporter: ReporterDep) -> MarkRequestsPublic:
    """Mark feeds someone asked a first mark for, unexpired, oldest first (the pusher's input)."""
    return MarkRequestsPublic(now=reporter.now, feed_ids=[feed_hex(f) for f in reporter.requested()])


markets = APIRouter(prefix="/markets", tags=["markets"])


@markets.get("/{market_id}/spec", response_model=MarketSpecPublic, responses=_responses(404))
def read_market_spec(request: Request, market_id: int = Path(ge=0, le=UINT256_MAX)) -> MarketSpecPublic:
    m = request.app.state.reporter.markets.get(market_id)
    if m is None:
        raise HTTPException(status_code=404, detail=f"unknown market {market_id}")
    return MarketSpecPublic(
        id=m.id,
        symbol=m.symbol,
        kind=m.kind,
        spec=m.spec,
        spec_hash=m.spec_hash,
        canonical_json=canonical_json(m.spec),
        mark_feed=feed_hex(m.mark_feed),
        settlement_feed=feed_hex(m.settlement_feed),
        block=profile_words(m.spec),
    )


health = APIRouter(tags=["health"])


@health.get("/health", response_model=HealthPublic, responses={503: {"model": HealthPublic, "description": "degraded"}})
def read_health(reporter: ReporterDep, response: Response) -> HealthPublic:
    states = [fs.status for fs in reporter.feeds.values()]
    degraded = reporter.clock_error is not None or reporter.now is None
    if degraded:
        response.status_code = 503
    return HealthPublic(
        status="degraded" if degraded else "ok",
        chain_id=reporter.manifest.chain_id,
        oracle=reporter.manifest.oracle,
        signer=reporter.signer.address if reporter.signer else None,
        now=reporter.now,
        feeds=len(states),
        feeds_ok=states.count("ok"),
        feeds_error=states.count("error"),
        clock_error=reporter.clock_error,
    )


metrics = APIRouter(tags=["metrics"])


@metrics.get("/metrics", response_class=Response)
def read_metrics(reporter: ReporterDep, request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


# --------------------------------------------------------------------------- app factory


def create_app(
    settings: OracleSettings,
    *,
    manifest: Manifest | None = None,
    clock: Callable[[], int] | None = None,
    source: PriceSource | None = None,
    signer: ReportSigner | None = None,
    resolver: TemplateResolver | None = None,
) -> FastAPI:
    """Build a reporter app. Anything not injected is built from ``settings``."""
    # the reporter needs only the Oracle; a spec that disagrees with its listed hash fails here, at start
    manifest = (manifest or Manifest.load(settings.manifest, required=("Oracle",))).verified()
    if clock is None:
        clock = chain_clock(settings.rpc_url) if settings.clock == "chain" else system_clock
    valuer = Valuer(source or build_source(settings), **settings.valuer_kwargs())
    signer = signer if signer is not None else build_signer(settings)
    if signer is None:
        log.warning("no signing key configured: /reports/latest will answer 503")
    if resolver is None and settings.series_file is not None:
        resolver = build_resolver(settings, manifest)
    reporter = Reporter(
        manifest,
        valuer,
        clock,
        signer,
        settings.history_len,
        settings.max_report_lag_s,
        resolver=resolver,
        mark_request_ttl_s=settings.mark_request_ttl_s,
    )

    app = FastAPI(title="Compute Spread oracle reporter", version=__version__)
    app.state.reporter = reporter
    app.state.registry = CollectorRegistry()  # per app, so several reporters can share a process
    app.state.registry.register(_ReporterCollector(reporter))
    for router in (feeds, reports, marks, markets, health, metrics):
        app.include_router(router)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="cspread-reporter",
        description=__doc__.split("\n")[0],
        epilog="Every other setting has a CSPREAD_ORACLE_* variable (oracle/settings.py).",
    )
    add_shared(
        p,
        "--manifest",
        "--rpc-url",
        "--port",
        "--key-env",
        helps={
            "--key-env": "name of the env var holding this reporter's hex key (default CSPREAD_ORACLE_KEY)",
            "--rpc-url": "JSON-RPC URL the chain clock is read from",
        },
    )
    p.add_argument("--host")
    p.add_argument("--keyfile", help="eth keystore JSON (password from --password-env)")
    p.add_argument("--password-env", help="env var holding the keystore password")
    p.add_argument("--clock", choices=["chain", "system"])
    p.add_argument("--source", choices=["replay", "live"])
    p.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV) or None,
        help=f"directory of the vendored price data (data/*.csv.gz) [env {DATA_DIR_ENV} or CSPREAD_ORACLE_DATA_DIR]",
    )
    p.add_argument("--replay-offset", type=int, help="data time = chain time + this many seconds")
    p.add_argument(
        "--series-file",
        help="markets file of the series templates whose on-chain listings this reporter serves "
        "(each checked against the template's spec_hash on chain)",
    )
    args = p.parse_args(argv)
    overrides = {
        k: v
        for k, v in {
            "manifest": args.manifest,
            "host": args.host,
            "port": args.port,
            "key_env": args.key_env,
            "keyfile": args.keyfile,
            "keyfile_password_env": args.password_env,
            "rpc_url": args.rpc_url,
            "clock": args.clock,
            "source": args.source,
            "data_dir": args.data_dir,
            "replay_offset": args.replay_offset,
            "series_file": args.series_file,
        }.items()
        if v is not None
    }
    settings = OracleSettings(**overrides)
    if settings.source == "replay":
        from oracle.data import DEFAULT_DATA_DIR

        data_dir = settings.data_dir or DEFAULT_DATA_DIR
        if not data_dir.is_dir():  # an installed package has no data/ next to it
            raise SystemExit(
                f"oracle: no price data at {data_dir}: pass --data-dir or set {DATA_DIR_ENV} to the "
                f"vendored data directory (data/*.csv.gz of a checkout)"
            )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        signer = build_signer(settings)
    except KeyConfigError as e:
        raise SystemExit(f"oracle: {e}") from None
    if signer is None:
        raise SystemExit(f"oracle: no signing key; set {settings.key_env} (or --key-env VAR / --keyfile)")
    app = create_app(settings, signer=signer)
    log.info(
        "reporter %s serving %d markets of chain %d on %s:%d",
        signer.address,
        len(app.state.reporter.manifest.markets),
        app.state.reporter.manifest.chain_id,
        settings.host,
        settings.port,
    )
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
