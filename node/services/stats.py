"""Exact counts of what a node did, from its own tables (for operators and the demo).

* ``issued``: packets issued here (records and results);
* ``sent``: distinct views delivered to peers (by push or acknowledged pull, never
  attempts);
* ``received``: view deliveries that arrived (pushed or pulled, duplicates included);
* ``accepted``: distinct packets stored from peers; ``duplicates``: deliveries of
  packets already held; ``rejected`` and ``quarantined``: views refused;
* ``pending``: views still owed, per peer;
* ``analysed``: packets run through this node's analyzer (``analysis_errors`` of
  them failed, ``analysis_queue`` still waiting);
* ``results_issued`` and ``results_received``: analysis results.
"""

from __future__ import annotations

from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import analysis, outbox, packets, peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.results import RESULT_SCHEMA

__all__ = ["node_stats"]


def node_stats(ctx: NodeContext) -> dict[str, Any]:
    with transaction(ctx.engine) as session:
        by_origin = packets.count_by_origin(session)
        by_schema = packets.count_by_schema_and_origin(session)
        runs = analysis.count_runs(session)
        queued = analysis.queue_depth(session)
        refusals = packets.count_refusals(session)
        outbox_counts = outbox.count_by_recipient_and_state(session)
        counts = peers.counters(session)
    states: dict[str, int] = {}
    pending: dict[str, int] = {}
    for (recipient, state), n in outbox_counts.items():
        states[state] = states.get(state, 0) + n
        if state == "pending":
            pending[recipient] = n
    return {
        "participant": ctx.participant,
        "issued": by_origin.get("local", 0),
        "sent": states.get("delivered", 0),
        "refused_by_peers": states.get("refused", 0),
        "received": counts.get("views_received", 0),
        "accepted": sum(n for origin, n in by_origin.items() if origin != "local"),
        "duplicates": counts.get("duplicates", 0),
        "rejected": refusals.get("rejected", 0),
        "quarantined": refusals.get("quarantined", 0),
        # views issued in the future by this node's clock: not now, the sender tries again
        "deferred": refusals.get("deferred", 0),
        "records_rejected": counts.get("records_rejected", 0),
        "pending": pending,
        "analyzer": ctx.analyzer.id if ctx.analyzer else None,
        "analysed": runs["runs"],
        "analysis_errors": runs["errors"],
        "analysis_queue": queued,
        "results_issued": by_schema.get((RESULT_SCHEMA, "local"), 0),
        "results_received": sum(
            n
            for (schema, origin), n in by_schema.items()
            if schema == RESULT_SCHEMA and origin != "local"
        ),
    }
