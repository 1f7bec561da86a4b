"""The analyst pages meet WCAG 2.1 AA, checked in a real browser (Debian's Chromium driven
by Playwright) on a real node: axe-core (:mod:`tests.axe`) finds no serious or critical
violation on any page of :data:`SCREENS`, and the keyboard alone gets around them — the
first Tab offers a skip to the content, Tab reaches each page's controls, and whatever
holds the focus shows it.

One mission node served on loopback in this process (no workers) holds a situation that
mixes restricted and unrestricted findings (``tests/node/_situation_support.py``), and an
audit log that was checkpointed, cosigned by a witness, raised an alert and grew since,
so that every part of every page is drawn.

A page added to the UI is checked by adding it to :data:`SCREENS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.services.situation import fused_findings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act, witness_name
from clearinghouse.protocol.notes import cosign, parse_note
from tests.axe import axe_violations, describe
from tests.browser import launched_chromium, ui_session
from tests.node._situation_support import H3_AREA, QUIET_AREA, load_mixed_situation
from tests.nodes import ServedNode, built_federation, served_node
from tests.signer import participant_key

pytestmark = pytest.mark.slow  # as the other browser tests: a real node and a browser

#: Where the situation page's filters and its findings are (Tab must reach both).
FILTERS = "form.filters input, form.filters select"
FIRST_FINDING = "table.findings details > summary"


@dataclass(frozen=True)
class Screen:
    """A ``/ui`` page as a user meets it: its ``path`` (``{jti}``, ``{seq}``, ``{late}``,
    ``{area}``, ``{h3_area}``, ``{actor}`` are filled from what the node holds,
    :class:`Held`), the role signed in
    (None: nobody), what shows the page is complete (``ready``), and the elements Tab must
    reach on it, in order (``tab_to``: the first element each selector matches)."""

    name: str
    path: str
    role: str | None = "analyst"
    ready: str = "main"
    tab_to: tuple[str, ...] = ()


LOGIN = Screen("login", "/ui/login", role=None, tab_to=("input[name=token]", "button[type=submit]"))
#: Every page the checks open.
SCREENS = (
    LOGIN,
    Screen("situation", "/ui/situation", ready=FIRST_FINDING, tab_to=(FILTERS, FIRST_FINDING)),
    Screen("situation of one area", "/ui/situation?admin1={area}", ready=FIRST_FINDING),
    Screen("area, restricted findings", "/ui/areas?admin1={h3_area}", ready="svg.timeline"),
    Screen("actor", "/ui/actors?name={actor}", ready=FIRST_FINDING),
    Screen("result provenance", "/ui/results/{jti}", ready="table#input"),
    Screen(
        "audit log",
        "/ui/audit",
        role="auditor",
        # the alert, the witness and the entries all drawn
        ready="main:has(#alerts):has(#witnesses [data-witness]):has(#entries [data-seq])",
        tab_to=("form.filters select[name=act]", "form.filters button", "table#entries a"),
    ),
    Screen("audit log, refused filter", "/ui/audit?from=yesterday", "auditor", "#filter-errors"),
    Screen(
        "audit entry, checked in the browser",
        "/ui/audit/entries/{seq}",
        role="auditor",
        ready="#browser-check[data-result]",
        tab_to=("a[href='/ui/audit']",),
    ),
    Screen("audit entry, not yet checkpointed", "/ui/audit/entries/{late}", "auditor"),
    Screen("forbidden: the audit log to an analyst", "/ui/audit", ready="#forbidden"),
)
#: How many Tab presses may pass before an element counts as unreachable.
MAX_TABS = 400


@dataclass(frozen=True)
class Held:
    """The node, and the values its screens' paths are filled with."""

    node: ServedNode
    values: dict[str, str]


def fill_audit_log(fed: LocalFederation, ctx: NodeContext) -> dict[str, str]:
    """Checkpoint ``ctx``'s log, have unodc cosign the checkpoint, raise an alert, then
    append one more entry; the last checkpointed entry's seq and the late one's."""
    checkpoint = sign_checkpoint(ctx)
    assert checkpoint is not None
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    name = witness_name(ctx.manifest.federation, "unodc")
    key = participant_key(fed.root, "unodc")
    line = cosign(parse_note(checkpoint.note).text, name, key, stamp)
    with transaction(ctx.engine) as session:
        auditlog.add_cosignatures(
            session, witness="unodc", lines=[(checkpoint.size, line, stamp)], now=now
        )
        auditlog.add_alert(
            session, peer="dpa", kind="fork", detail="two roots for size 3", evidence="{}", now=now
        )
        (late,) = auditlog.append(session, [Act("view.sent", "node:mission", peer="dpa")], now=now)
    return {"seq": str(checkpoint.size - 1), "late": str(late)}


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    fed = built_federation(tmp_path_factory.mktemp("ui-a11y"), ("mission", "unodc", "dpa"))
    with served_node(fed.nodes["mission"]) as node:
        load_mixed_situation(fed, node.context)
        restricted = next(iter(fused_findings(node.context, admin1=H3_AREA)))
        actor = next(f.actor for f in fused_findings(node.context) if f.actor)
        values = {
            "jti": restricted.result_jti,
            "area": QUIET_AREA,
            "h3_area": H3_AREA,
            "actor": actor,
        }
        yield Held(node, values | fill_audit_log(fed, node.context))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def open_screen(held: Held, browser: Browser) -> Iterator[Callable[[Screen], Page]]:
    """Opens a screen in the page of its role's session (each role signed in once)."""
    with ExitStack() as sessions:
        pages: dict[str | None, Page] = {}

        def open_it(screen: Screen) -> Page:
            if screen.role not in pages:
                token = held.node.handle.tokens[screen.role] if screen.role else None
                session = ui_session(browser, held.node.url, token)
                pages[screen.role] = sessions.enter_context(session)
            page = pages[screen.role]
            page.goto(held.node.url + screen.path.format(**held.values))
            page.wait_for_selector(screen.ready, timeout=15_000)
            return page

        yield open_it


#: What holds the focus: whether it is the first element of each selector given, whether
#: a focus indicator shows (an outline or a box shadow), and whether it is on screen.
FOCUS = """selectors => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    element: el.outerHTML.slice(0, 120),
    first: selectors.map(s => document.querySelector(s) === el),
    indicated: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
                && style.outlineColor !== 'rgba(0, 0, 0, 0)') || style.boxShadow !== 'none',
    shown: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
           && box.top < innerHeight && box.left < innerWidth,
  };
}"""
#: The first element of the content that takes the focus (after the skip link's jump).
CONTENT_FOCUSABLE = (
    "#content :is(a[href], input:not([type=hidden]), select, textarea, button, summary)"
)


def focus(page: Page, *selectors: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.evaluate(FOCUS, list(selectors))
    return found


def tab_to(page: Page, selectors: tuple[str, ...]) -> list[dict[str, Any]]:
    """Press Tab until the first element of each selector had the focus, in order; every
    element that held the focus on the way."""
    stops: list[dict[str, Any]] = []
    wanted = 0
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = focus(page, *selectors)
        if now is None:  # the focus left the page, past its end
            continue
        stops.append(now)
        if now["first"][wanted]:
            wanted += 1
            if wanted == len(selectors):
                return stops
    raise AssertionError(
        f"{MAX_TABS} Tab presses did not reach {selectors[wanted]!r} after "
        f"{[s['element'] for s in stops[-5:]]}"
    )


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_axe_finds_no_serious_violation(
    open_screen: Callable[[Screen], Page], screen: Screen
) -> None:
    page = open_screen(screen)
    violations = axe_violations(page)
    assert violations == [], f"{screen.name} ({page.url}):\n{describe(violations)}"


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_the_first_tab_offers_a_skip_to_the_content(
    open_screen: Callable[[Screen], Page], screen: Screen
) -> None:
    page = open_screen(screen)
    page.keyboard.press("Tab")
    skip = focus(page, "a.skip-link")
    assert skip is not None and skip["first"] == [True], skip
    assert skip["shown"] and skip["indicated"], skip
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    after = focus(page, CONTENT_FOCUSABLE)
    if page.locator(CONTENT_FOCUSABLE).count():
        assert after is not None and after["first"] == [True], after
    else:  # nothing in the content takes the focus: Tab goes past it
        assert after is None or not after["first"][0], after


@pytest.mark.parametrize("screen", [s for s in SCREENS if s.tab_to], ids=lambda s: s.name)
def test_tab_reaches_the_controls_and_shows_the_focus(
    open_screen: Callable[[Screen], Page], screen: Screen
) -> None:
    page = open_screen(screen)
    stops = tab_to(page, screen.tab_to)
    unmarked = [s["element"] for s in stops if not (s["indicated"] and s["shown"])]
    assert unmarked == [], f"focus not visible on {screen.name}: {unmarked}"


def test_a_refused_sign_in_is_tied_to_the_token_field(
    open_screen: Callable[[Screen], Page],
) -> None:
    page = open_screen(LOGIN)
    page.fill("input[name=token]", "not a token")
    page.click("button[type=submit]")
    error = page.wait_for_selector("#login-error")
    assert error is not None and "unknown token" in error.inner_text()
    assert page.get_attribute("input[name=token]", "aria-describedby") == "login-error"
    assert page.get_attribute("input[name=token]", "aria-invalid") == "true"
    violations = axe_violations(page)
    assert violations == [], describe(violations)
