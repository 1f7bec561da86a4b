"""This node's analyzer and its picture so far (``GET /v1/local/analyzer``).

The analyzer's summary is drawn from its state. With SQLite one process analyses and
keeps the state in memory (read under :attr:`NodeContext.analysis_lock
<node.context.NodeContext.analysis_lock>`, since the analysis worker changes it); with
PostgreSQL several replicas may serve one node and only one of them analyses, so each
reads the state that one committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearinghouse.analyzers.state import State
from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import NotFound
from clearinghouse.node.storage import analysis
from clearinghouse.node.storage.db import is_postgres, transaction

__all__ = ["AnalyzerSummary", "analyzer_summary"]


@dataclass(frozen=True)
class AnalyzerSummary:
    """Which analyzer (as the manifest declares it) and what it sums up so far."""

    analyzer: str
    version: str
    sha256: str | None
    summary: dict[str, Any]


def analyzer_summary(ctx: NodeContext) -> AnalyzerSummary:
    """The declared analyzer's id, version and code digest, and its summary now.

    :raises NotFound: this node declares no analyzer.
    """
    if ctx.analyzer is None or ctx.analyzer_state is None:
        raise NotFound(f"{ctx.participant} declares no analyzer")
    if is_postgres(ctx.engine):  # replicas: only one analyses; read what it committed
        with transaction(ctx.engine) as session:
            state = State(analysis.load_state(session, ctx.analyzer.id))
        summary = ctx.analyzer.summary(state)
    else:
        with ctx.analysis_lock:
            summary = ctx.analyzer.summary(ctx.analyzer_state)
    declaration = ctx.analyzer_declaration
    return AnalyzerSummary(
        analyzer=ctx.analyzer.id,
        version=ctx.analyzer.version,
        sha256=declaration.sha256 if declaration else None,
        summary=summary,
    )
