"""The audit page in a real browser (Debian's Chromium driven by Playwright): an auditor
opens an entry of a real node's log and the page's script verifies its inclusion proof;
the same check fails when the entry's bytes or the proof were changed.

Three real node processes exchange packets; the mission node's log is checkpointed and
cosigned by its two peers as witnesses, as in production.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.notes import parse_checkpoint, parse_note
from tests.nodes import running_federation
from tests.support import EXAMPLES

CHROMIUM = "/usr/bin/chromium"
FAST = """
[delivery]
base_delay_s = 0.2
max_delay_s = 2.0
poll_interval_s = 0.2
catchup_interval_s = 1.0

[audit]
checkpoint_interval_s = 0.2
checkpoint_max_interval_s = 1.0
witness_interval_s = 0.5
"""
RECORD = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
#: Two-, three- and four-byte UTF-8 and markup: the browser must hash the stored bytes.
AWKWARD = "Ḩalab \u2013 ✓ 𝄞 </script><script>alert(1)</script> & 'x'"


def _db_path(node: NodeHandle) -> Path:
    assert node.database_url.startswith("sqlite:///")
    return Path(node.database_url.removeprefix("sqlite:///"))


def _witnessed_head(fed: LocalFederation, node: NodeHandle, timeout: float = 120) -> int:
    """Wait until the federation is idle and ``node``'s whole log is checkpointed and
    cosigned by every peer; return the log's size."""
    deadline = time.monotonic() + timeout
    while True:
        with node.client("auditor") as client:
            size = client.get("/v1/audit/entries", params={"start": 0, "end": 0}).json()["size"]
            note = client.get("/v1/audit/checkpoint")
        if note.status_code == 200 and fed.settled():
            parsed = parse_note(note.text)
            peers = len(fed.nodes) - 1
            if parse_checkpoint(parsed.text).size == size and len(parsed.signatures) == 1 + peers:
                return int(size)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{node.participant}'s log was not checkpointed and cosigned")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    root = tmp_path_factory.mktemp("ui-audit")
    with running_federation(root, ("mission", "dpa", "unodc"), config_extra=FAST) as fed:
        mission = fed.nodes["mission"]
        with mission.client("submitter") as client:
            response = client.post(
                "/v1/local/records",
                json={
                    "schema": "conflict-event/1",
                    # three events (one UCDP id each: the same id again would be a duplicate)
                    "records": [
                        {**RECORD, "event_id": f"{RECORD['event_id']}{i}"} for i in range(3)
                    ],
                },
            )
            assert response.status_code == 200, response.text
        # One entry with awkward text, appended as another replica on the database would.
        engine = make_engine(mission.database_url)
        try:
            with transaction(engine) as session:
                act = Act("authorisation.used", "node:mission", peer="dpa", fields={"id": AWKWARD})
                auditlog.append(session, [act], now=datetime.now(UTC))
        finally:
            engine.dispose()
        _witnessed_head(fed, mission)
        yield fed


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def signed_in(browser: Browser, node: NodeHandle, role: str = "auditor") -> Iterator[Page]:
    """A fresh browser context signed in to ``node``; fails on any CSP violation."""
    context = browser.new_context()
    violations: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(node.url + "/ui/audit")
        assert page.url.endswith("/ui/login")  # not signed in yet
        page.fill("input[name=token]", node.tokens[role])
        page.click("button[type=submit]")
        page.wait_for_url("**/ui/situation")  # where signing in lands, as before
        yield page
        assert not violations, violations
    finally:
        context.close()


def browser_check(page: Page, url: str) -> tuple[str, str]:
    """Open an entry page and wait for the in-browser check: (result, message)."""
    page.goto(url)
    found = page.wait_for_selector("#browser-check[data-result]", timeout=15_000)
    assert found is not None
    return str(found.get_attribute("data-result")), found.inner_text()


def awkward_seq(node: NodeHandle) -> int:
    with node.client("auditor") as client:
        entries = client.get("/v1/audit/search", params={"act": "authorisation.used"}).json()
    return int(entries["entries"][0]["seq"])


def test_an_auditor_verifies_entries_in_the_browser(
    federation: LocalFederation, browser: Browser, tmp_path: Path
) -> None:
    node = federation.nodes["mission"]
    with signed_in(browser, node) as page:
        # Signing in and the pages read are audited acts: wait until they are cosigned too.
        _witnessed_head(federation, node)
        page.goto(node.url + "/ui/audit")
        size = int(page.inner_text("#checkpoint-size"))
        root = page.inner_text("#checkpoint-root")
        witnesses = page.eval_on_selector_all(
            "table#witnesses tr[data-witness]", "rows => rows.map(r => r.dataset.witness)"
        )
        assert sorted(witnesses) == ["dpa", "unodc"]
        assert "verified now" in page.inner_text("#checkpoint-verification")
        # Filter by act with the form; every row is of that act.
        page.select_option("select[name=act]", "packet.issued")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"/ui/audit\?.*act=packet\.issued"))
        acts = page.eval_on_selector_all(
            "table#entries tr[data-seq]", "rows => rows.map(r => r.cells[2].textContent)"
        )
        assert acts == ["packet.issued"] * 3
        page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
        # Open the newest one from the table.
        page.click("table#entries tr[data-seq] a")
        page.wait_for_selector("#browser-check[data-result]", timeout=15_000)
        seq = int(page.url.rsplit("/", 1)[1])
        result = page.get_attribute("#browser-check", "data-result")
        message = page.inner_text("#browser-check")
        assert result == "ok", message
        # The overview's reading was itself recorded (data.read) and checkpointed since:
        # the entry is proved in the tree of that checkpoint, or of a later one.
        shown_size, shown_root = int(page.inner_text("#tree-size")), page.inner_text("#root")
        assert shown_size >= size and (shown_size > size or shown_root == root)
        assert message == (
            f"verified in this browser: entry {seq} is in the tree of size {shown_size} "
            f"with root {shown_root}"
        )
        assert page.inner_text("#computed-leaf") == page.inner_text("#stored-leaf")
        assert page.inner_text("#computed-root") == shown_root
        page.screenshot(path=str(tmp_path / "entry.png"), full_page=True)
        # The entry with multi-byte UTF-8 and markup in it verifies too.
        awkward = awkward_seq(node)
        result, message = browser_check(page, f"{node.url}/ui/audit/entries/{awkward}")
        assert result == "ok", message
        assert "Ḩalab \u2013 ✓ 𝄞 </script>" in page.inner_text("#entry-body")
        assert page.eval_on_selector_all("script:not([type])", "s => s.length") == 1
        # An analyst is told the page is not for them.
    with signed_in(browser, node, "analyst") as page:
        page.goto(node.url + "/ui/audit")
        assert "for auditors" in page.inner_text("#forbidden")


def test_a_changed_entry_fails_in_the_browser(
    federation: LocalFederation, browser: Browser
) -> None:
    """The entry's body edited in the database, its stored leaf hash and proof untouched."""
    node = federation.nodes["mission"]
    seq = awkward_seq(node)
    with sqlite3.connect(_db_path(node), timeout=30) as db:
        (original,) = db.execute("SELECT body FROM audit_entry WHERE seq = ?", (seq,)).fetchone()
    changed = original.replace('"actor":"node:mission"', '"actor":"node:someone-else"')
    assert changed != original
    try:
        with sqlite3.connect(_db_path(node), timeout=30) as db:
            db.execute("UPDATE audit_entry SET body = ? WHERE seq = ?", (changed, seq))
        with signed_in(browser, node) as page:
            result, message = browser_check(page, f"{node.url}/ui/audit/entries/{seq}")
            assert result == "fail", message
            assert message.startswith(f"FAILED in this browser: entry {seq} as shown is not in")
            assert "the node's stored leaf hash is" in message
            assert page.inner_text("#computed-leaf") != page.inner_text("#stored-leaf")
    finally:
        with sqlite3.connect(_db_path(node), timeout=30) as db:
            db.execute("UPDATE audit_entry SET body = ? WHERE seq = ?", (original, seq))


def test_a_changed_proof_fails_in_the_browser(
    federation: LocalFederation, browser: Browser
) -> None:
    """The page as served, with one proof hash swapped on its way to the browser."""
    node = federation.nodes["mission"]
    seq = awkward_seq(node)
    forged = base64.b64encode(bytes(32)).decode()

    def swap_first_proof_hash(route: Route) -> None:
        response = route.fetch()
        page_html = response.text()
        data = re.search(r'id="inclusion-data">(.*?)</script>', page_html)
        assert data is not None
        first = json.loads(data.group(1))["proof"][0]
        route.fulfill(response=response, body=page_html.replace(first, forged))

    with signed_in(browser, node) as page:
        page.route(f"**/ui/audit/entries/{seq}", swap_first_proof_hash)
        result, message = browser_check(page, f"{node.url}/ui/audit/entries/{seq}")
        assert result == "fail", message
        assert message.startswith(f"FAILED in this browser: entry {seq} as shown is not in")
        assert "stored leaf hash" not in message  # the bytes are fine; the proof is not
        assert page.inner_text("#computed-leaf") == page.inner_text("#stored-leaf")
