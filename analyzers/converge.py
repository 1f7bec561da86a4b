"""Findings that converge: what holds on the *set* of inputs, whatever their order.

DESIGN.md, "Analysis": an analyzer's findings are a function of the set of inputs
it has received, never of their arrival order, because every node of a
federation receives packets in its own order. An analyzer gets there in two steps:

1. **Absorb** each view into order-free tallies in its :class:`~analyzers.state.State`
   (counts, exact sums, sets; never a float running sum, whose last bits depend on
   the order of the additions, and never "the first value seen").
2. **Derive** the findings of every *scope* the view touched (an area, a group, a
   country: the analyzer's choice) from those tallies alone, and hand them to
   :func:`reconcile`.

:func:`reconcile` keeps, per scope, the findings last reported (in the state,
under ``reported:<scope>``) and returns only what changed: a finding that is new
or whose content differs (a total grew, a level changed, a call changed), and a
*withdrawal* (``status="withdrawn"``) for each finding reported before that no
longer holds. A finding is identified by ``(kind, subject, period)``
(:func:`finding_key`): a later finding with the same key supersedes the earlier
one; the node records which result carried each (``supersedes`` in
``analysis-result/1``) so that receivers can follow the chain.

So, once every input has been absorbed, the findings that hold
(:func:`current_findings`) are the same for every order, and so are the latest
findings of the results on the wire (the node only ever issues what
:func:`reconcile` returns).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from clearinghouse.analyzers.base import WITHDRAWN, Finding
from clearinghouse.analyzers.state import State

__all__ = [
    "REPORTED_PREFIX",
    "current_findings",
    "finding_key",
    "reconcile",
    "withdrawal",
]

#: State keys holding, per scope, the findings last reported: ``reported:<scope>``.
REPORTED_PREFIX = "reported:"


def finding_key(finding: Finding | Mapping[str, Any]) -> str:
    """The identity of a finding across results: ``(kind, subject, period)`` as JSON."""
    if isinstance(finding, Finding):
        kind, subject, period = finding.kind, finding.subject, finding.period
    else:
        kind, subject, period = finding["kind"], finding["subject"], finding.get("period")
    return json.dumps([kind, subject, period], ensure_ascii=False)


def withdrawal(reported: Mapping[str, Any]) -> Finding:
    """The finding that withdraws ``reported`` (a finding as JSON): same identity, no level."""
    period = reported.get("period")
    when = f" for {period}" if period else ""
    return Finding(
        kind=str(reported["kind"]),
        subject=str(reported["subject"]),
        period=period,
        area=reported.get("area"),
        country=reported.get("country"),
        admin1=reported.get("admin1"),
        status=WITHDRAWN,
        explanation=(
            f"Withdrawn: the {reported['kind']} finding on {reported['subject']}{when} "
            "no longer holds on all the data received so far."
        ),
    )


def reconcile(state: State, scope: str, findings: Iterable[Finding]) -> list[Finding]:
    """What to report for ``scope`` now that ``findings`` are all that hold there.

    Returns the findings that are new or changed since the last report for this
    scope, in key order, then a withdrawal for each earlier finding that no longer
    holds, in key order; records ``findings`` as the scope's reported findings.
    Raises :class:`ValueError` if two findings share a key (the analyzer's bug).
    """
    now: dict[str, dict[str, Any]] = {}
    for finding in findings:
        key = finding_key(finding)
        if key in now:
            raise ValueError(f"two findings in scope {scope!r} share the key {key}")
        now[key] = finding.as_json()
    state_key = REPORTED_PREFIX + scope
    before: dict[str, dict[str, Any]] = state.peek(state_key) or {}  # read only
    if now == before:
        return []
    changed = [Finding.from_json(now[k]) for k in sorted(now) if before.get(k) != now[k]]
    withdrawn = [withdrawal(before[k]) for k in sorted(before) if k not in now]
    if now:
        state[state_key] = now
    else:
        del state[state_key]
    return changed + withdrawn


def current_findings(state: State) -> list[dict[str, Any]]:
    """Every finding that holds now, as JSON, in (scope, key) order: the same for any
    order of the same inputs."""
    out: list[dict[str, Any]] = []
    for _, reported in state.items(REPORTED_PREFIX):
        out += [reported[k] for k in sorted(reported)]
    return out
