"""Node fixtures: the JSON log lines a test's code writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clearinghouse.node.logs import JsonFormatter

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Every record logged (INFO and up) during the test, as parsed JSON lines. Each is
    formatted when it is emitted, as a real handler does, so that the context variables
    are read where the line is written."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("testnode"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().split("\n") if line]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
