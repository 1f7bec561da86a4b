"""Shared fixtures: a deterministic federation (fixed key seeds, frozen time); which
database backends a test runs on; and how the suite is shared out among pytest-xdist
workers.

Backends: a test or fixture taking a ``backend`` argument runs on each of
:data:`tests.databases.BACKENDS` (SQLite, and PostgreSQL when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set); one marked ``postgres`` runs on PostgreSQL
only, and is deselected, never skipped, without a server. The parameter is module-scoped
so that a module-scoped fixture (a node served for the whole module) can take it too.

Workers (``-n auto --dist loadfile``): each module runs whole on one worker, in order;
:mod:`tests.workers` says why, and which modules are the exceptions.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.databases import BACKENDS, sqlite_template
from tests.softhsm import SoftHsm, softhsm_token
from tests.support import EXAMPLES, ROOT, Federation, make_federation


def _import_bench() -> None:
    """Make ``bench`` (the checkout's benchmarks, not part of the distribution) importable.

    pytest adds no folder to ``sys.path`` (the product is imported only as
    installed, ``clearinghouse.*``), so the benchmarks the evaluation tests reuse
    are imported by path, under their one name.
    """
    if "bench" in sys.modules:
        return
    folder = ROOT / "bench"
    spec = importlib.util.spec_from_file_location(
        "bench", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module
    spec.loader.exec_module(module)


_import_bench()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test needing ``backend`` once per backend (see the module docstring)."""
    if "backend" not in metafunc.fixturenames:
        return
    wanted = BACKENDS
    if metafunc.definition.get_closest_marker("postgres"):
        wanted = tuple(b for b in BACKENDS if b == "postgres")
    if wanted:  # else deselected below: never an empty (skipped) parameter set
        metafunc.parametrize("backend", wanted, scope="module")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server, deselect the tests marked ``postgres``."""
    if "postgres" in BACKENDS:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: also without pytest-xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` refined by :mod:`tests.workers`; any other mode as asked."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.workers import ModuleScheduling  # imports pytest-xdist, present here

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head, made once per worker: copy it, never open it
    (:func:`tests.databases.copy_template`)."""
    return sqlite_template(tmp_path_factory)


@pytest.fixture(scope="session")
def federation_config() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "federation.yaml").read_text())


@pytest.fixture(scope="session")
def federation(federation_config: dict[str, Any]) -> Federation:
    return make_federation(federation_config)


@pytest.fixture(scope="session")
def example_records() -> dict[str, dict[str, Any]]:
    """One example record per schema id, from deploy/examples/records/."""
    out = {}
    for path in sorted((EXAMPLES / "records").glob("*.json")):
        out[f"{path.stem}/1"] = json.loads(path.read_text())
    return out


@pytest.fixture
def softhsm(tmp_path: Path) -> Iterator[SoftHsm]:
    """A fresh SoftHSM2 token of this test's own (:mod:`tests.softhsm`)."""
    with softhsm_token(tmp_path / "softhsm") as made:
        yield made


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLEARINGHOUSE_* setting leaks into a test from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("CLEARINGHOUSE_") and name != "CLEARINGHOUSE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield
