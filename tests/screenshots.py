"""Screenshots of the analyst's workspace for the docs: ``make screenshots``.

Opt-in, never part of ``make test`` or CI: it writes files into the checkout. It builds
the same node as the situation pages' browser test (:mod:`tests.situation_data`: real
UCDP events, mission's hotspots, dpa's spoiler typology), opens it in Debian's Chromium
signed in as the analyst, and writes to ``docs/screenshots/``:

* ``situation.png``: the situation page from its top down to the map (the filters, the
  downloads, who contributed, the map);
* ``area.png``: the deadliest hotspot's area page, down to its timeline;
* ``actor.png``: the page of :data:`~tests.situation_data.ACTOR`, down to the first
  events that name it.

Each is the width of the window (:data:`WIDTH` CSS pixels, at 1x) and at most
:data:`MAX_HEIGHT` tall: a view of the page's top, not the whole page, so that each
file stays well under 400 KB.

    .venv/bin/python -m tests.screenshots [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import FloatRect, Page

from tests.browser import launched_chromium, ui_session
from tests.situation_data import ACTOR, served_real_situation
from tests.support import ROOT

__all__ = ["OUT", "main", "shoot"]

OUT = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1300, 900
MAX_HEIGHT = 1500
#: Space kept under the last element shown.
MARGIN = 16


def shoot(page: Page, path: Path, *, down_to: str) -> int:
    """Save the page's top down to the bottom of the element ``down_to`` selects (at most
    :data:`MAX_HEIGHT` pixels) as a PNG at ``path``; its size in bytes."""
    box = page.locator(down_to).first.bounding_box()
    if box is None:
        raise RuntimeError(f"{down_to!r} is not shown on {page.url}")
    height = min(MAX_HEIGHT, int(box["y"] + box["height"]) + MARGIN)
    clip = FloatRect(x=0, y=0, width=WIDTH, height=height)
    page.screenshot(path=str(path), clip=clip, full_page=True)  # full page: clip below the fold
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    out: Path = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="screenshots-") as root:
        print("loading real data into a node (about 20 s)…", file=sys.stderr)
        with (
            served_real_situation(Path(root)) as (node, _),
            launched_chromium() as browser,
            ui_session(browser, node.url, node.handle.tokens["analyst"]) as page,
        ):
            page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
            shots = []
            page.goto(node.url + "/ui/situation")
            shots.append(shoot(page, out / "situation.png", down_to="div.map"))
            page.locator("table#hotspots a.area-link").first.click()
            page.wait_for_selector("#area-heading")
            shots.append(shoot(page, out / "area.png", down_to="svg.timeline"))
            page.goto(node.url + f"/ui/actors?name={ACTOR}")
            shots.append(shoot(page, out / "actor.png", down_to="#actor-events tr:nth-child(4)"))
    for name, size in zip(("situation", "area", "actor"), shots, strict=True):
        print(f"{out / name}.png: {size / 1024:.0f} KB", file=sys.stderr)
    print(f"done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
