"""The distribution claims one top-level import name, ``clearinghouse``.

The folders ``node/``, ``protocol/`` and ``analyzers/`` stay where the project's
layout puts them, but setuptools' ``package-dir`` installs them as
``clearinghouse.node``, ``clearinghouse.protocol`` and ``clearinghouse.analyzers``.
These tests keep the explicit package list complete and check that a wheel built
from the checkout works in a clean virtualenv, away from the checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from tests.support import ROOT

PACKAGE_DIRS = {"clearinghouse.node": "node", "clearinghouse.protocol": "protocol"} | {
    "clearinghouse.analyzers": "analyzers"
}


def _setuptools_table() -> dict[str, object]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table: dict[str, object] = project["tool"]["setuptools"]
    return table


def _packages_on_disk() -> set[str]:
    found = set()
    for namespace, folder in PACKAGE_DIRS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((namespace, *relative)))
    return found


def test_every_package_folder_is_declared_under_the_namespace() -> None:
    table = _setuptools_table()
    assert table["package-dir"] == PACKAGE_DIRS
    assert sorted(table["packages"]) == sorted(_packages_on_disk())  # type: ignore[call-overload]


def test_a_built_wheel_imports_from_a_clean_virtualenv(tmp_path: Path) -> None:
    # Build from a copy, so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in PACKAGE_DIRS.values():
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("clearinghouse-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    # The dependencies come from the test environment, appended after the new
    # environment's own site-packages; a path in a .pth file is not itself a site
    # folder, so the editable install's own .pth there is not read.
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    probe = """
import importlib.metadata, importlib.util, json, sys
import clearinghouse.node.cli.main, clearinghouse.protocol, clearinghouse.analyzers.registry
from importlib.resources import files
top = [n for n in ("node", "protocol", "analyzers") if importlib.util.find_spec(n)]
group = importlib.metadata.entry_points(group="clearinghouse.analyzers")
loaded = {e.name: e.load().__module__ for e in group}
versions = files("clearinghouse.node.storage").joinpath("migrations", "versions")
print(json.dumps({
    "main": clearinghouse.node.cli.main.__file__,
    "top": top,
    "analyzers": loaded,
    "migrations": len(list(versions.iterdir())),
    "templates": len(list(files("clearinghouse.node.ui").joinpath("templates").iterdir())),
}))
"""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [str(python), "-c", probe], cwd=elsewhere, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["main"].startswith(str(site)), seen["main"]
    assert seen["top"] == []
    assert set(seen["analyzers"]) == {
        "mission.security-risk",
        "unodc.trafficking-network",
        "dpa.spoiler-risk",
        "undp.illicit-economy",
        "sanctions.screening",
    }
    assert all(m.startswith("clearinghouse.analyzers.") for m in seen["analyzers"].values())
    # Package data travels too: the migrations and the UI's templates.
    assert seen["migrations"] >= len(list((ROOT / "node/storage/migrations/versions").glob("*.py")))
    assert seen["templates"] == len(list((ROOT / "node/ui/templates").glob("*.html")))
    usage = subprocess.run(
        [str(venv / "bin" / "clearinghouse"), "--help"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage" in usage.stdout
