"""Tests share their scaffolding: each piece of set-up is written once, under ``tests/``.

A test module that needs a throwaway PostgreSQL place, the backend list, a node served
on loopback, a request signed as a peer or a SoftHSM2 token takes it from the shared
module named below
rather than writing its own (STYLE.md, "Shared scaffolding in tests"). This test finds
the tell-tale calls anywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

#: (what, pattern, the only modules that may contain it)
SHARED: list[tuple[str, str, set[str]]] = [
    ("a throwaway schema or database", r"CREATE (SCHEMA|DATABASE)", {"databases.py"}),
    (
        "the backends",
        r"environ(\.get\(|\[)\"CLEARINGHOUSE_TEST_POSTGRES|BACKENDS\b.* = ",
        {"databases.py"},
    ),
    ("a node served in a thread", r"uvicorn\.(Server|Config)\(", {"nodes.py"}),
    # test_httpsig tests the signing function itself
    ("a peer's request signature", r"\bsign_request\(", {"signer.py", "test_httpsig.py"}),
    ("a SoftHSM2 token", r"softhsm2-util\W|SOFTHSM2_CONF\W", {"softhsm.py"}),
]


@pytest.mark.parametrize(("what", "pattern", "allowed"), SHARED, ids=[s[0] for s in SHARED])
def test_set_up_is_taken_from_the_shared_module(what: str, pattern: str, allowed: set[str]) -> None:
    here = Path(__file__).name
    found = [
        str(path.relative_to(TESTS))
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in allowed | {here} and re.search(pattern, path.read_text())
    ]
    assert found == [], f"{what} is set up again in {found}; use the shared module"
