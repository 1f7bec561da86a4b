"""Accessibility checks in the browser tests: axe-core run on a Playwright page.

axe-core (Deque's rules engine, MPL-2.0) is the tests' Node.js tooling, pinned in the
project's ``package-lock.json`` and installed into ``node_modules/`` by ``make test``
(``npm ci``); it is never part of the product. :func:`axe_violations` puts it into the
page and runs the rules of WCAG 2.0 and 2.1, levels A and AA.

The ``/ui`` pages' Content-Security-Policy allows no inline script (and none at all on
most pages), so a ``<script>`` element carrying axe would be refused. The source is
evaluated instead with ``page.evaluate``, which Playwright runs through the DevTools
protocol (``Runtime.evaluate``): no policy governs that, so the pages are checked under
their real policy, with no ``bypass_csp`` context.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support import ROOT

__all__ = ["AXE", "WCAG_AA", "axe_violations", "describe"]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: axe's tags for the success criteria of WCAG 2.0 and 2.1 at levels A and AA.
WCAG_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
#: Runs axe on the whole document with only the WCAG A/AA rules (``tags`` the argument).
RUN = "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"


@cache
def _axe_source() -> str:
    """axe-core's browser bundle, as ``npm ci`` installed it; fails (never skips) if absent."""
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is not installed ({AXE.relative_to(ROOT)} is missing): run `make test`, "
            "or `npm ci` in the project's root, to install the tests' Node.js tooling from "
            "package-lock.json",
            pytrace=False,
        )
    return AXE.read_text(encoding="utf-8")


def axe_violations(
    page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA violations axe finds on ``page`` as it stands, of ``impacts``:
    each with its rule ``id``, ``impact``, ``help``, ``helpUrl`` and, per failing node,
    its CSS ``target`` and axe's ``summary`` of what to fix."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate(RUN, list(WCAG_AA))
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "helpUrl": violation["helpUrl"],
            "nodes": [
                {"target": node["target"], "summary": node.get("failureSummary", "")}
                for node in violation["nodes"]
            ],
        }
        for violation in results["violations"]
        if violation["impact"] in impacts
    ]


def describe(violations: list[dict[str, Any]], *, nodes: int = 5) -> str:
    """``violations`` as readable lines for an assertion message (the first ``nodes``
    failing nodes of each rule)."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:nodes]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {' > '.join(map(str, node['target']))}: {summary}")
        if len(v["nodes"]) > nodes:
            lines.append(f"    … and {len(v['nodes']) - nodes} more")
    return "\n".join(lines)
