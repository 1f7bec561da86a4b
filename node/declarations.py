"""Analyzer declarations for a manifest: resolve ids to the installed code's version and digest.

A federation config may name a participant's analyzer by id alone
(``analyzer: mission.security-risk``) or give ``{id, version, sha256}`` in full;
an id is resolved against the installed analyzer (entry point group
``clearinghouse.analyzers``) so that the manifest declares exactly that code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from clearinghouse.analyzers.registry import AnalyzerNotFound, code_digest, load
from clearinghouse.protocol.errors import ManifestRejected

__all__ = ["resolve_analyzers"]


def resolve_analyzers(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with every participant's analyzer declared in full.

    Raises :class:`ManifestRejected` naming an analyzer that is not installed.
    """
    resolved = copy.deepcopy(dict(config))
    for participant in resolved.get("participants", []):
        declared = participant.get("analyzer")
        if declared is None:
            continue
        if isinstance(declared, str):
            declared = {"id": declared}
        if not isinstance(declared, Mapping) or "id" not in declared:
            raise ManifestRejected(
                f"participant {participant.get('id')!r}: analyzer must be an id or "
                "{id, version, sha256}"
            )
        if {"version", "sha256"} <= set(declared):
            participant["analyzer"] = dict(declared)
            continue
        try:
            analyzer = load(declared["id"])
        except AnalyzerNotFound as exc:
            raise ManifestRejected(f"participant {participant.get('id')!r}: {exc}") from exc
        participant["analyzer"] = {
            "id": analyzer.id,
            "version": analyzer.version,
            "sha256": code_digest(analyzer),
        }
    return resolved
