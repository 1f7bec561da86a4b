"""The common situation analysis: every result this node holds, fused per area and period.

DESIGN.md, "Analysis": each node fuses all results it holds — its own analyzer's
and its peers' — into one picture per area (country and admin1) and period. For
each area and period it lists each analyzer's latest findings, who produced them
and from which input, and says where analyzers agree or disagree: two analyzers
that rate the same area and period more than one level apart disagree.

Findings converge: a later version of a finding (same issuer, analyzer, kind,
subject and period) names the result it supersedes, and a finding that no
longer holds is withdrawn. The situation shows each finding's latest version,
leaves out withdrawn ones, and on request (``history``) lists the versions
before it and the withdrawn findings.

Every finding carries the handling of the result it comes from (a result inherits
its input's handling code, and for H3 the free-text restriction): ``handling`` =
``{"hc", "restricted", "restriction"}``, so that whoever shows the finding can show
the restriction with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.protocol.results import RESULT_SCHEMA

__all__ = [
    "LEVELS",
    "FusedFinding",
    "fused_findings",
    "situation",
    "situation_and_findings",
]

LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class FusedFinding:
    """One finding of one result, with where it came from."""

    participant: str
    analyzer: str
    version: str
    result_jti: str
    result_sha256: str
    issued_at: datetime
    input: dict[str, Any]
    finding: dict[str, Any]
    #: the result's handling code (H0..H3) and, for H3, its restriction text
    hc: str = "H0"
    hcr: str | None = None

    @property
    def restricted(self) -> bool:
        """Whether the result carries a restriction (H1, H2 or H3)."""
        return self.hc != "H0"

    @property
    def handling(self) -> dict[str, Any]:
        return {"hc": self.hc, "restricted": self.restricted, "restriction": self.hcr}

    @property
    def identity(self) -> tuple[Any, ...]:
        """What makes two findings versions of one: issuer, analyzer, kind, subject, period."""
        f = self.finding
        return (self.participant, self.analyzer, f.get("kind"), f.get("subject"), f.get("period"))

    @property
    def key(self) -> str:
        """This version's key: its result and its identity, as JSON."""
        return json.dumps([self.result_jti, *self.identity[2:]], ensure_ascii=False)

    @property
    def withdrawn(self) -> bool:
        """Whether this version withdraws the finding (it no longer holds)."""
        return self.finding.get("status") == "withdrawn"

    @property
    def area(self) -> tuple[str | None, str | None]:
        return self.finding.get("country"), self.finding.get("admin1")

    @property
    def period(self) -> str | None:
        return self.finding.get("period")

    def as_json(self) -> dict[str, Any]:
        return {
            **self.finding,
            "participant": self.participant,
            "analyzer": self.analyzer,
            "version": self.version,
            "result": {"jti": self.result_jti, "sha256": self.result_sha256},
            "issued_at": self.issued_at.isoformat(),
            "input": self.input,
            "handling": self.handling,
        }


def _results(session: Session) -> Iterable[StoredPacket]:
    return session.exec(
        select(StoredPacket)
        .where(StoredPacket.schema_id == RESULT_SCHEMA)
        .order_by(col(StoredPacket.issued_at), col(StoredPacket.id))
    ).all()


def _in_period(period: str | None, start: str | None, end: str | None) -> bool:
    if not start and not end:
        return True
    if not period:
        return False
    first = period.split("/", 1)[0]
    last = period.split("/", 1)[-1]
    return (not start or last[: len(start)] >= start) and (not end or first[: len(end)] <= end)


def _held_findings(session: Session) -> Iterator[FusedFinding]:
    """Every finding of every result held, in the order the results were issued."""
    for packet in _results(session):
        claims = packet.claims
        analyzer = claims.get("analyzer") or {}
        for finding in claims.get("findings") or []:
            yield FusedFinding(
                participant=packet.issuer,
                analyzer=str(analyzer.get("id", "?")),
                version=str(analyzer.get("version", "?")),
                result_jti=packet.jti,
                result_sha256=packet.digest,
                issued_at=packet.issued_at,
                input=claims.get("input") or {},
                finding=finding,
                hc=packet.hc,
                hcr=packet.hcr,
            )


def _chains(findings: Iterable[FusedFinding]) -> list[list[FusedFinding]]:
    """Each finding's versions, oldest first, the latest last.

    A finding is identified by its issuer, analyzer, kind, subject and period. Its
    latest version is the one no other held version supersedes (``supersedes``
    names the result it replaces); where a gap in what this node holds leaves
    several such versions, the last issued wins, as it does for results that name
    no predecessor (issued before ``supersedes`` existed).
    """
    versions: dict[tuple[Any, ...], list[FusedFinding]] = {}
    for f in findings:
        versions.setdefault(f.identity, []).append(f)
    out = []
    for group in versions.values():
        replaced = {
            (f.finding.get("supersedes") or {}).get("jti")
            for f in group
            if isinstance(f.finding.get("supersedes"), dict)
        }
        heads = [f for f in group if f.result_jti not in replaced]
        latest = heads[-1] if heads else group[-1]
        out.append([f for f in group if f is not latest] + [latest])
    return out


def fused_findings(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
    history: dict[str, list[FusedFinding]] | None = None,
    withdrawn: list[FusedFinding] | None = None,
) -> list[FusedFinding]:
    """The latest version of every finding that holds, matching the filters.

    A finding whose latest version withdraws it is left out (and appended to
    ``withdrawn`` when given); ``history``, when given, receives the earlier
    versions of each finding returned (and of each withdrawn one), oldest first,
    keyed by the latest version's result jti and :attr:`FusedFinding.key`.
    """
    with transaction(ctx.engine) as session:
        chains = _chains(_held_findings(session))
    latest: list[FusedFinding] = []
    for chain in chains:
        f = chain[-1]
        if country and f.finding.get("country") != country:
            continue
        if admin1 and f.finding.get("admin1") != admin1:
            continue
        if not _in_period(f.period, start, end):
            continue
        if f.withdrawn:
            if withdrawn is not None:
                withdrawn.append(f)
        else:
            latest.append(f)
        if history is not None and len(chain) > 1:
            history[f.key] = chain[:-1]
    order = _order
    if withdrawn is not None:
        withdrawn.sort(key=order)
    return sorted(latest, key=order)


def _order(f: FusedFinding) -> tuple[str, ...]:
    return (f.period or "", f.area[0] or "", f.area[1] or "", f.analyzer, f.result_jti, f.key)


def _agreement(findings: list[FusedFinding]) -> dict[str, Any]:
    levels: dict[str, str] = {}
    for f in findings:
        level = f.finding.get("level")
        if level in LEVELS:
            current = levels.get(f.analyzer)
            if current is None or LEVELS.index(level) > LEVELS.index(current):
                levels[f.analyzer] = level
    if len(levels) < 2:
        return {"levels": levels, "verdict": "single" if levels else "none"}
    ranks = [LEVELS.index(level) for level in levels.values()]
    verdict = "agree" if max(ranks) - min(ranks) <= 1 else "disagree"
    return {"levels": levels, "verdict": verdict}


def situation(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """The fused picture as JSON: per analyzer, per area and period, with agreement.

    With ``history``, each finding lists its earlier versions (``history``, oldest
    first) and the findings withdrawn are listed apart (``withdrawn``).
    """
    earlier: dict[str, list[FusedFinding]] | None = {} if history else None
    withdrawn: list[FusedFinding] | None = [] if history else None
    findings = fused_findings(
        ctx,
        country=country,
        admin1=admin1,
        start=start,
        end=end,
        history=earlier,
        withdrawn=withdrawn,
    )
    filters = {"country": country, "admin1": admin1, "from": start, "to": end}
    return _picture(ctx.participant, filters, findings, earlier, withdrawn)


def situation_and_findings(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[dict[str, Any], list[FusedFinding]]:
    """The picture (:func:`situation`, without history) and the findings it fuses, from
    one read of the results held: for a page that draws both."""
    findings = fused_findings(ctx, country=country, admin1=admin1, start=start, end=end)
    filters = {"country": country, "admin1": admin1, "from": start, "to": end}
    return _picture(ctx.participant, filters, findings, None, None), findings


def _picture(
    participant: str,
    filters: dict[str, str | None],
    findings: list[FusedFinding],
    earlier: dict[str, list[FusedFinding]] | None,
    withdrawn: list[FusedFinding] | None,
) -> dict[str, Any]:
    """``findings`` as the situation's JSON; ``earlier`` and ``withdrawn`` given: with history."""

    def shown(f: FusedFinding) -> dict[str, Any]:
        out = f.as_json()
        if earlier is not None:
            out["history"] = [_version(v) for v in earlier.get(f.key, [])]
        return out

    analyzers: dict[tuple[str, str], dict[str, Any]] = {}
    areas: dict[tuple[Any, ...], list[FusedFinding]] = {}
    for f in findings:
        entry = analyzers.setdefault(
            (f.participant, f.analyzer),
            {
                "participant": f.participant,
                "analyzer": f.analyzer,
                "version": f.version,
                "findings": 0,
                "latest": None,
            },
        )
        entry["findings"] += 1
        entry["latest"] = max(entry["latest"] or "", f.issued_at.isoformat())
        areas.setdefault((f.area[0], f.area[1], f.period), []).append(f)
    return {
        "participant": participant,
        "filters": filters,
        "analyzers": [analyzers[k] for k in sorted(analyzers)],
        "areas": [
            {
                "country": key[0],
                "admin1": key[1],
                "period": key[2],
                "agreement": _agreement(group),
                "findings": [shown(f) for f in group],
            }
            for key, group in sorted(areas.items(), key=lambda kv: tuple(x or "" for x in kv[0]))
        ],
        **({"withdrawn": [shown(f) for f in withdrawn]} if withdrawn is not None else {}),
    }


def _version(f: FusedFinding) -> dict[str, Any]:
    """An earlier version of a finding, as the history lists it."""
    keep = ("level", "score", "status", "explanation", "indicators", "supersedes")
    return {
        "result": {"jti": f.result_jti, "sha256": f.result_sha256},
        "issued_at": f.issued_at.isoformat(),
        "input": f.input,
        **{name: f.finding[name] for name in keep if name in f.finding},
    }
