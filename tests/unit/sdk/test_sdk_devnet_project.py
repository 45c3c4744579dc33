"""What an installed devnet needs without a checkout: the packaged ape project (devnet/project) and
the real price data directory, each with a clear error when missing. No chain, no processes."""

from __future__ import annotations

from pathlib import Path

import pytest

import devnet.anvil as devnet
from devnet.stack import StackError, resolve_data_dir
from oracle.data import DEFAULT_DATA_DIR, GPU_FILE

ROOT = Path(__file__).resolve().parents[3]


def test_packaged_project__is_the_checkouts_deploy_project():
    # devnet/project points at the files the checkout deploys from, so the wheel ships the same ones
    for rel in (
        "ape-config.yaml",
        "scripts/deploy.py",
        "scripts/_markets.py",
        "markets/default.json",
        "contracts/Clearinghouse.vy",
        "contracts/testing/MockUSDC.vy",
        "contracts/interfaces/IOracle.vyi",
    ):
        assert (devnet.PROJECT_DATA / rel).read_bytes() == (ROOT / rel).read_bytes(), rel


def test_in_a_checkout__the_deploy_runs_in_the_checkout():
    assert devnet.CHECKOUT == ROOT
    assert devnet.project_dir() == ROOT


def test_installed__project_is_copied_once_into_the_cache_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setattr(devnet, "CHECKOUT", None)
    monkeypatch.delenv("CSPREAD_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    first = devnet.project_dir()
    assert first.parent == tmp_path / "compute-spread" and first.name.startswith("project-")
    assert (first / "scripts" / "deploy.py").read_bytes() == (ROOT / "scripts" / "deploy.py").read_bytes()
    assert not (first / "contracts").is_symlink()  # a real copy: ape writes .build next to it
    (first / ".build").mkdir()
    assert devnet.project_dir() == first and (first / ".build").is_dir()  # reused, build cache kept
    assert [p.name for p in (tmp_path / "compute-spread").iterdir()] == [first.name]  # no temp copies left


def test_installed__a_changed_project_gets_its_own_copy(tmp_path, monkeypatch):
    fake = tmp_path / "pkg"
    (fake / "scripts").mkdir(parents=True)
    (fake / "ape-config.yaml").write_text("name: x\n")
    (fake / "scripts" / "deploy.py").write_text("v1\n")
    monkeypatch.setattr(devnet, "CHECKOUT", None)
    monkeypatch.setattr(devnet, "PROJECT_DATA", fake)
    monkeypatch.setenv("CSPREAD_HOME", str(tmp_path / "home"))
    a = devnet.project_dir()
    (fake / "scripts" / "deploy.py").write_text("v2\n")
    b = devnet.project_dir()
    assert a != b and (b / "scripts" / "deploy.py").read_text() == "v2\n"


def test_installed__a_home_below_dot_cache_is_refused_before_ape_silently_compiles_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(devnet, "CHECKOUT", None)
    monkeypatch.setenv("CSPREAD_HOME", str(tmp_path / ".cache" / "cs"))
    with pytest.raises(
        devnet.DevnetError,
        match=r"ape compiles nothing below a directory named \.cache; set "
        r"CSPREAD_HOME elsewhere",
    ):
        devnet.project_dir()
    assert not (tmp_path / ".cache").exists()


def test_installed__package_without_the_project_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(devnet, "CHECKOUT", None)
    monkeypatch.setattr(devnet, "PROJECT_DATA", tmp_path / "nothing")
    with pytest.raises(devnet.DevnetError, match="no deploy project in the installed package"):
        devnet.project_dir()


def test_data_dir__explicit_env_oracle_env_then_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("CSPREAD_DATA_DIR", raising=False)
    assert resolve_data_dir() == DEFAULT_DATA_DIR
    assert resolve_data_dir(None, {"CSPREAD_ORACLE_DATA_DIR": str(DEFAULT_DATA_DIR)}) == DEFAULT_DATA_DIR
    monkeypatch.setenv("CSPREAD_DATA_DIR", str(tmp_path / "env-wins"))
    with pytest.raises(StackError, match="env-wins"):
        resolve_data_dir(None, {"CSPREAD_ORACLE_DATA_DIR": str(DEFAULT_DATA_DIR)})
    assert resolve_data_dir(DEFAULT_DATA_DIR) == DEFAULT_DATA_DIR  # explicit beats the env


def test_data_dir__missing_or_incomplete_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("CSPREAD_DATA_DIR", raising=False)
    with pytest.raises(
        StackError,
        match=r"no price data directory at .*nope: pass --data-dir DIR or set "
        r"CSPREAD_DATA_DIR",
    ):
        resolve_data_dir(tmp_path / "nope")
    (tmp_path / GPU_FILE).write_bytes(b"")
    with pytest.raises(StackError, match=r"price data missing in .*: ercot_dam_hubs_2021_2022\.csv\.gz"):
        resolve_data_dir(tmp_path)
