"""Write (or check) the contracts' ABIs that ship inside the `core` package.

    python -m scripts.abis --write   # after changing a contract's interface
    python -m scripts.abis --check   # exit 1 when core/abis/*.json differ from the compiled contracts

`core.abi` reads structs and events from these files, so an installed package (no checkout, no
compiler) decodes what the contracts return and log. The unit test
tests/unit/core/test_core_abi.py::test_shipped_abis__match_compiled_contracts runs the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.abi import CONTRACTS as ABI_CONTRACTS

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "contracts"
OUT = ROOT / "core" / "abis"
#: the deployable contracts whose calls and logs off-chain code reads (a new one: add it to core.abi.CONTRACTS)
SHIPPED = ABI_CONTRACTS


def source(name: str) -> Path:
    found = sorted(CONTRACTS.rglob(f"{name}.vy"))
    if len(found) != 1:
        raise SystemExit(f"expected one contracts/**/{name}.vy, found {found}")
    return found[0]


def compiled_abi(name: str) -> list[dict]:
    import boa  # the compiler is a dev dependency: only this script and its test need it
    from vyper.compiler.output import build_abi_output

    return build_abi_output(boa.load_partial(str(source(name))).compiler_data)


def render(abi: list[dict]) -> str:
    return json.dumps(abi, indent=1, sort_keys=True) + "\n"


def stale() -> list[str]:
    """Names whose shipped ABI differs from (or lacks) the compiled one."""
    out = []
    for name in SHIPPED:
        path = OUT / f"{name}.json"
        if not path.exists() or path.read_text() != render(compiled_abi(name)):
            out.append(name)
    extra = {p.stem for p in OUT.glob("*.json")} - set(SHIPPED)
    return out + sorted(extra)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.abis", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="regenerate core/abis/*.json")
    g.add_argument("--check", action="store_true", help="exit 1 when a shipped ABI is stale")
    args = p.parse_args(argv)
    if args.write:
        OUT.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            (OUT / f"{name}.json").write_text(render(compiled_abi(name)))
        return 0
    bad = stale()
    if bad:
        print(f"stale ABIs in core/abis: {', '.join(bad)}; run python -m scripts.abis --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
