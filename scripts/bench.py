"""`make bench`: run every benchmark section and write BENCHMARKS.md.

Sections are plain modules with `run() -> list[dict(name, value, unit, target)]`; a section
that fails is reported as such in the table (and the command exits non-zero), never skipped
silently.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    ("Gas (anvil, real deploy; gasUsed per transaction incl. 21,000 base)", "scripts.bench_gas"),
    ("Margin-engine gas baseline, issue 11 (anvil, real deploy, receipts)", "scripts.bench_margin_gas"),
    ("Keepers", "scripts.bench_keepers"),
    ("Oracle index methodology", "scripts.bench_index"),
    ("SDK", "scripts.bench_sdk"),
    ("Order relay (real process on loopback) and end-to-end latency on anvil", "scripts.bench_relay"),
    ("Timelock (anvil, real deploy)", "scripts.bench_timelock"),
    (
        "Oracle marks at scale: push every mark vs only what is needed (gas/day, real data)",
        "scripts.bench_oracle_scale",
    ),
    ("Pool gas with 1,000 members, issue 15 (anvil receipts)", "scripts.bench_pool_gas"),
]
# deep fuzz runs take hours: `make fuzz` is not part of `make bench`; its last result lines are
# kept in this file and copied in verbatim
FUZZ_RUNS = ROOT / "tests" / "fuzz" / "deep_runs.md"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def main() -> int:
    only = set(sys.argv[1:])
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start. "
        "Re-run `make bench` to refresh; every figure below comes from that run.",
        "",
    ]
    failed = 0
    for title, module in SECTIONS:
        if only and module.rsplit(".", 1)[-1] not in only:
            continue
        out += [f"## {title}", ""]
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(module)
            rows = mod.run()
        except ModuleNotFoundError as e:
            if e.name == module:
                out += [f"_not built yet ({module})_", ""]
                continue
            raise
        except Exception:  # noqa: BLE001 - report, keep going, fail at the end
            failed += 1
            out += ["```", traceback.format_exc()[-2000:], "```", ""]
            print(f"{module}: FAILED", file=sys.stderr)
            continue
        out += ["| measurement | value | unit | target |", "|---|---:|---|---|"]
        out += [f"| {r['name']} | {_fmt(r['value'])} | {r.get('unit') or ''} | {r.get('target') or ''} |" for r in rows]
        out += ["", f"_section took {time.perf_counter() - t0:.1f} s_", ""]
        print(f"{module}: {len(rows)} rows")
    if not only and FUZZ_RUNS.exists():
        out += ["## Deep stateful fuzz (`make fuzz`, recorded by hand)", "", FUZZ_RUNS.read_text().strip(), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out) + "\n")
    print("wrote BENCHMARKS.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
