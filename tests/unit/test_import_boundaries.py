"""The architecture's import rules, as import-linter contracts in pyproject.toml, hold for the
tree; and a module that breaks one is caught (so the contracts cannot pass vacuously).

lint-imports needs every root package to be importable. While a layer named in the layout is
still absent from the tree (core/ and chain/ are being written), it is stood in for by an empty
package on PYTHONPATH; once the real one exists it is the one analysed, never the stand-in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
ROOTS = CONFIG["root_packages"]


def _present(pkg: str, tree: Path = ROOT) -> bool:
    return (tree / pkg / "__init__.py").is_file()


def _lint(tree: Path, tmp: Path) -> subprocess.CompletedProcess:
    """lint-imports in `tree` (its pyproject.toml); empty stand-ins only for absent root packages."""
    stand_ins = tmp / "stand-ins"
    for pkg in ROOTS:
        if not _present(pkg, tree):
            (stand_ins / pkg).mkdir(parents=True, exist_ok=True)
            (stand_ins / pkg / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(stand_ins), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def _copy_tree(tmp: Path) -> Path:
    """The root packages (those present) and pyproject.toml, copied to tmp/tree."""
    tree = tmp / "tree"
    tree.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for pkg in ROOTS:
        if _present(pkg):
            shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tree


def test_contracts__name_every_layer_of_the_layout():
    # the rules cover the layers that issue 13 names; none of them may fall out of the config silently
    assert {"core", "chain", "sdk", "oracle", "relay", "keepers", "apps", "devnet"} <= set(ROOTS)
    sources = {s for c in CONFIG["contracts"] for s in c.get("source_modules", c.get("modules", []))}
    assert {"core", "chain", "sdk", "oracle", "relay", "keepers"} <= sources
    assert CONFIG["include_external_packages"] is True  # else web3/fastapi/... could not be forbidden


def test_lint_imports__tree__every_contract_kept(tmp_path):
    r = _lint(ROOT, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in r.stdout, r.stdout


# (package, module added to it, what it imports, the contract it breaks)
VIOLATIONS = [
    ("core", "bad_rpc", "import web3", "core is pure rules"),
    ("core", "bad_sql", "from sqlalchemy import create_engine", "core is pure rules"),
    ("core", "bad_layer", "import sdk.margin", "core is pure rules"),
    ("chain", "bad_layer", "from keepers import liquidator", "chain imports only core"),
    ("sdk", "bad_relay", "from relay import service", "sdk is a library"),
    ("sdk", "bad_oracle", "import oracle.service", "sdk is a library"),
    ("sdk", "bad_app", "from apps.cli import main", "sdk is a library"),
    ("keepers", "bad_relay", "from relay import store", "services (oracle, relay, keepers)"),
    ("relay", "bad_devnet", "from devnet import processes", "no service, library or core module imports an app"),
    ("oracle", "bad_app", "import apps.web.backend", "no service, library or core module imports an app"),
]


@pytest.mark.parametrize(
    ("pkg", "module", "statement", "contract"), VIOLATIONS, ids=[f"{p}.{m}" for p, m, _, _ in VIOLATIONS]
)
def test_lint_imports__violating_module_added__contract_broken(tmp_path, pkg, module, statement, contract):
    tree = _copy_tree(tmp_path)
    if not _present(pkg, tree):  # a layer still absent: the violation goes into a fresh package of that name
        (tree / pkg).mkdir()
        (tree / pkg / "__init__.py").write_text("")
    (tree / pkg / f"{module}.py").write_text(f"{statement}\n")
    r = _lint(tree, tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    broken = r.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and f"{pkg}.{module}" in broken, r.stdout
    assert "0 broken" not in r.stdout
