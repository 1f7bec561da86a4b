"""Server-rendered web pages (no CDN, no JavaScript framework): the situation, provenance
and the audit log (whose entry page checks an inclusion proof with a small script of ours)."""

from pathlib import Path

__all__ = ["UI_DIR"]

#: Where the pages' templates (``templates/``) and static files (``static/``) are.
UI_DIR = Path(__file__).resolve().parent
