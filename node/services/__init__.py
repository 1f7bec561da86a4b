"""The node's logic: ingest, receive, deliver, catch up. Routes and workers call these."""

__all__: list[str] = []
