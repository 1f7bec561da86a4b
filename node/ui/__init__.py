"""Server-rendered web pages (no CDN, no JavaScript framework): the situation, provenance
and the audit log (whose entry page checks an inclusion proof with a small script of ours)."""

__all__: list[str] = []
