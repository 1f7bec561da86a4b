"""Server-rendered web pages (no CDN, no JavaScript framework): the situation and provenance."""

__all__: list[str] = []
