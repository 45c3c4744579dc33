"""Hypothesis profiles for the stateful fuzz tests, and the one-line fuzz summary.

Profiles (select with HYPOTHESIS_PROFILE; default "short"):
- short: `make test` — 30 examples x 40 steps; the whole protocol machine stays well under 90 s
  on one core.
- deep:  `make fuzz` — 3,000 examples x up to 50 steps (~120,000 steps; the protocol machine
  runs 13-17 steps/s here, so about two hours alone on a core). Prints
  "fuzz: N steps, K failures (E examples, ...)" at the end of the session.
The pool machine (tests/fuzz/test_pool_stateful.py) runs 10 examples x 30 steps in short and the
deep profile in full (~25 steps/s alone here).

The profiles are registered here but not loaded globally (that would change the defaults of every
other hypothesis test in the same process); the state-machine test applies the selected one
explicitly through the `fuzz_settings` fixture.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,  # contract calls are slow and vary; shrinking, not timing, is what we want
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,  # a failure prints @reproduce_failure(...) to replay it exactly
)

settings.register_profile("short", max_examples=30, stateful_step_count=40, **_COMMON)
# examples average ~41 of the 50 steps (hypothesis ends some early), so 3,000 x 50 gives > 100k steps
settings.register_profile("deep", max_examples=3_000, stateful_step_count=50, **_COMMON)

FUZZ_PROFILES = ("short", "deep")
_STATS_KEY = pytest.StashKey[dict]()


def fuzz_profile_name() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", "short")
    return name if name in FUZZ_PROFILES else "short"


@pytest.fixture(scope="session")
def fuzz_settings() -> settings:
    """The hypothesis settings of the selected fuzz profile."""
    return settings.get_profile(fuzz_profile_name())


@pytest.fixture(scope="session")
def fuzz_stats(pytestconfig) -> dict:
    """Counters the state machines add to (steps, examples); printed in the terminal summary."""
    stats = pytestconfig.stash.get(_STATS_KEY, None)
    if stats is None:
        stats = {"steps": 0, "examples": 0, "started": time.monotonic()}
        pytestconfig.stash[_STATS_KEY] = stats
    return stats


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = config.stash.get(_STATS_KEY, None)
    if not stats or not stats["steps"]:
        return  # not run here (e.g. under xdist the workers hold the counters)
    here = os.path.dirname(__file__)
    failed = [
        r
        for r in terminalreporter.stats.get("failed", [])
        if os.path.abspath(str(getattr(r, "fspath", ""))).startswith(here) or "tests/fuzz" in getattr(r, "nodeid", "")
    ]
    elapsed = time.monotonic() - stats["started"]
    if os.environ.get("FUZZ_COVERAGE") or fuzz_profile_name() == "deep":
        for what, n in sorted(stats.get("coverage", {}).items()):
            terminalreporter.write_line(f"  {n:>8,}  {what}")
    terminalreporter.write_line(
        f"fuzz: {stats['steps']:,} steps, {len(failed)} failures "
        f"({stats['examples']:,} examples, profile {fuzz_profile_name()}, {elapsed:,.0f} s)"
    )
