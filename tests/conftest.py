"""Shared fixtures: a deterministic federation (fixed key seeds, frozen time)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support import EXAMPLES, Federation, make_federation


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
