"""Integration fixtures: one demo federation run, shared by the tests that read its output."""

from __future__ import annotations

import pytest

from tests.integration._demo import DemoRun, start_demo


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``clearinghouse demo`` run once (about 90 s): test_demo checks its counts,
    test_logs_hygiene its nodes' logs."""
    return start_demo(tmp_path_factory.mktemp("demo"))
