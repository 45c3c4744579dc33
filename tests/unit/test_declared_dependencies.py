"""Every third-party module the installed packages import comes from a distribution that
pyproject.toml declares (issue 13: SQLAlchemy, Jinja2 and websockets used to arrive only through
other packages' requirements, so an upgrade of those could break an install). The runtime
packages may import only `[project] dependencies`; the [dev] extra serves tests, the devnet's
ape deploy and the silverback bots."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"core", "chain", "sdk", "oracle", "relay", "keepers", "apps", "devnet", "scripts", "tests"}
# the packages a wheel installs; devnet's ape deploy and keepers.bots (silverback) run only with [dev]
RUNTIME = ("core", "chain", "sdk", "oracle", "relay", "keepers", "apps", "devnet")
DEV_ONLY_PLACES = ("keepers/bots/", "devnet/project/")


def _name(req: str) -> str:
    return re.split(r"[=<>!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    dev = {_name(r) for r in extras["dev"]}
    optional = {_name(r) for reqs in extras.values() for r in reqs}
    return main, dev, optional


def _imports(path: Path, nested: bool = False) -> set[str]:
    """Top-level imports of a module (nested=False), or those inside a function body, which a
    feature imports only when used (nested=True)."""
    tree = ast.parse(path.read_text(), str(path))
    inner = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    mods = set()
    for node in ast.walk(tree):
        if (id(node) in inner) != nested:
            continue
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return mods


def _third_party(mods: set[str]) -> set[str]:
    return {m for m in mods if m not in FIRST_PARTY and m not in sys.stdlib_module_names and m != "__future__"}


def test_every_runtime_import_is_a_declared_dependency():
    main, dev, optional = _declared()
    dists = packages_distributions()
    missing = []
    for pkg in RUNTIME:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            allowed = main | dev if rel.startswith(DEV_ONLY_PLACES) else main
            # an import inside a function is an optional feature: any extra may provide it
            for mods, ok in ((_imports(path), allowed), (_imports(path, nested=True), allowed | optional)):
                for mod in sorted(_third_party(mods)):
                    names = {_name(d) for d in dists.get(mod, [mod])}
                    if not names & ok:
                        missing.append(f"{rel}: imports {mod} (distribution {sorted(names)}) not declared")
    assert not missing, "\n".join(missing)


def test_the_check_catches_an_undeclared_import(tmp_path):
    # the scan itself: a module importing a package nobody declared is reported
    planted = tmp_path / "x.py"
    planted.write_text(
        "import sqlalchemy\nfrom jinja2 import Template\nimport json\nfrom core import units\n"
        "def f():\n    import ape\n"
    )
    assert _third_party(_imports(planted)) == {"sqlalchemy", "jinja2"}
    assert _third_party(_imports(planted, nested=True)) == {"ape"}
