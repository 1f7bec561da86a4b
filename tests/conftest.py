"""Shared fixtures: a deterministic federation (fixed key seeds, frozen time)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

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


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLEARINGHOUSE_* setting leaks into a test from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("CLEARINGHOUSE_") and name != "CLEARINGHOUSE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield
