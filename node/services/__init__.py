"""The node's logic, one concept per module; routes, pages and workers call these.

The data path (ingest, receive, deliver, catch-up, analyse, witness, ...) and what the
routes and pages serve (``feed``: the catch-up feed peers pull; ``push``: a batch a
peer pushes; ``cosignatures``; ``audit_reads`` and ``audit_display``: the audit log for
its readers and pages; ``held_packets``, ``analyzer_summary``, ``provenance``,
``situation``, ``stats``). Services take a :class:`~node.context.NodeContext`; they never
import the API or the start-up (:mod:`node.startup`, which calls them).
"""

__all__: list[str] = []
