"""The common situation's index: held findings, places and actors, flat, in the database.

A node may hold a million packets; the situation must not load them to answer
(issue 18, "Flat at scale"). So when a packet is stored, in the same transaction:

* each finding of a result (``analysis-result/1``) becomes a ``situation_finding``
  row, and the version the situation shows of that finding is marked ``latest``;
* a record that says where it took place (an event, a market price, a seizure) gets a
  ``packet_place`` row: its country, admin1 and coordinates as far as the view held
  discloses them (exact, or the 0.5-degree cell the policy generalises them to);
* a conflict event names its two sides in ``packet_actor``.

Which version is latest (DESIGN.md, "Analysis"): a finding is identified by its
issuer, analyzer, kind, subject and period; a later version names the result it
supersedes. The latest is the version no other held version supersedes; where a gap
in what this node holds leaves several, the last issued (by issue time, then result
jti: never by arrival). It is a function of the set of versions held, so the order
results arrive in never changes it. The same rule, over the versions held at a given
instant, gives the situation as it stood then (:func:`as_of_ids`).

Every row here is derived from ``packet``: nothing is evidence, and migration 0010
builds it for packets stored before it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, select, text, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.models import PacketActor, PacketPlace, SituationFinding
from clearinghouse.protocol.results import RESULT_SCHEMA

__all__ = [
    "LEVEL_RANKS",
    "actor_key",
    "actor_of",
    "as_of_ids",
    "finding_rows",
    "index_packets",
    "month_range",
    "place_of",
    "reindex_packet",
]

LEVEL_RANKS = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: UCDP GED codebook, ``where_prec``: 1-3 a place or a second-order area, 4 a
#: first-order area (admin1); 5 and above a larger region, the country or waters —
#: too coarse to place anything inside an admin1.
MAX_WHERE_PRECISION = 4

_FINDING = table_of(SituationFinding)
_PLACE = table_of(PacketPlace)
_ACTOR = table_of(PacketActor)


def identity_sha256(issuer: str, analyzer: str, finding: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a finding's identity: issuer, analyzer, kind, subject, period."""
    key = [issuer, analyzer, finding.get("kind"), finding.get("subject"), finding.get("period")]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


def month_range(period: str | None) -> tuple[str | None, str | None]:
    """The first and last month (``YYYY-MM``) a period covers: ``2016`` is 2016-01 to
    2016-12, ``2016-03`` that month, ``2016-01/2016-06`` (or ``..``) from one to the
    other, a day its month. Anything else covers no month we can tell."""
    if not period:
        return None, None
    for separator in ("/", ".."):
        if separator in period:
            start, _, end = period.partition(separator)
            return month_range(start)[0], month_range(end)[1]
    if len(period) == 4 and period.isdigit():
        return f"{period}-01", f"{period}-12"
    if len(period) >= 7 and period[:4].isdigit() and period[4] == "-" and period[5:7].isdigit():
        return period[:7], period[:7]
    return None, None


def actor_key(name: str) -> str:
    """How actor names are compared: casefolded, whitespace collapsed."""
    return " ".join(name.casefold().split())[:255]


def actor_of(analyzer: str, finding: Mapping[str, Any]) -> str | None:
    """The actor a finding is about, by each kind's own convention: a spoiler typology
    names the group as its subject (``dpa.spoiler-risk``); a sanctions hit the listed
    name that matched (``matched_list_name``); a trafficking broker or recurring actor
    its actor (a pseudonym) in ``indicators.actor``. Other findings are about places."""
    kind = finding.get("kind")
    indicators = finding.get("indicators") or {}
    name: Any = None
    if kind == "spoiler-typology":
        name = finding.get("subject")
    elif kind == "sanctions-hit":
        name = indicators.get("matched_list_name")
    elif kind in ("broker", "recurring-actor"):
        name = indicators.get("actor")
    return name if isinstance(name, str) and name.strip() else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def finding_rows(packet_id: int, packet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``situation_finding`` rows of one stored result (``packet`` as stored: jti,
    digest, issuer, hc, hcr, issued_at, stored_at, claims); ``latest`` is set apart."""
    claims = packet["claims"]
    analyzer = claims.get("analyzer") or {}
    analyzer_id = str(analyzer.get("id", "?"))
    rows = []
    for number, finding in enumerate(claims.get("findings") or []):
        if not isinstance(finding, dict):
            continue
        first, last = month_range(_text(finding.get("period")))
        indicators = finding.get("indicators") or {}
        supersedes = finding.get("supersedes")
        actor = actor_of(analyzer_id, finding)
        level = _text(finding.get("level"))
        rows.append(
            {
                "packet_id": packet_id,
                "finding_no": number,
                "result_jti": packet["jti"],
                "result_sha256": packet["digest"],
                "participant": packet["issuer"],
                "analyzer": analyzer_id[:128],
                "analyzer_version": str(analyzer.get("version", "?"))[:64],
                "identity_sha256": identity_sha256(packet["issuer"], analyzer_id, finding),
                "supersedes_jti": supersedes.get("jti") if isinstance(supersedes, dict) else None,
                "kind": str(finding.get("kind", ""))[:128],
                "subject": str(finding.get("subject", "")),
                "actor": actor,
                "actor_key": actor_key(actor) if actor else None,
                "country": _text(finding.get("country")),
                "admin1": _text(finding.get("admin1")),
                "period": _text(finding.get("period"), 64),
                "period_first": first,
                "period_last": last,
                "level": level[:32] if level else None,
                "level_rank": LEVEL_RANKS.get(level or "", -1),
                "score": _number(finding.get("score")),
                "events": _whole(indicators.get("events")),
                "fatalities": _whole(indicators.get("fatalities_best")),
                "withdrawn": finding.get("status") == "withdrawn",
                "latest": False,
                "hc": packet["hc"],
                "hcr": packet["hcr"],
                "issued_at": packet["issued_at"],
                "held_at": packet["stored_at"],
                "finding": finding,
                "input": claims.get("input") or {},
            }
        )
    return rows


def _text(value: Any, most: int = 255) -> str | None:
    """A text field cut to its column's width (the full finding is kept in ``finding``:
    a peer's result never fails to store over a long name)."""
    return value[:most] if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def place_of(packet_id: int, claims: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a held record took place, as far as its view discloses: exact coordinates
    (``latitude``/``longitude``), else the 0.5-degree cell the policy generalised them
    to (``latitude_cell``/``longitude_cell``); None for a record with neither a country
    nor an admin1. Coordinates coarser than an admin1 (``where_precision`` above
    :data:`MAX_WHERE_PRECISION`) are left out: the record still counts for its area."""
    country = _text(claims.get("country")) or _text(claims.get("country_code"))
    admin1 = _text(claims.get("admin1"))
    if country is None and admin1 is None:
        return None
    lat, lon, precision = None, None, None
    coarse = (_whole(claims.get("where_precision")) or 0) > MAX_WHERE_PRECISION
    for lat_name, lon_name, how in (
        ("latitude", "longitude", "coordinates"),
        ("latitude_cell", "longitude_cell", "cell"),
    ):
        a, b = _number(claims.get(lat_name)), _number(claims.get(lon_name))
        if a is not None and b is not None and not coarse:
            lat, lon, precision = a, b, how
            break
    deaths = claims.get("deaths")
    return {
        "packet_id": packet_id,
        "country": country,
        "admin1": admin1,
        "lat": lat,
        "lon": lon,
        "precision": precision,
        "month": _month_of(claims),
        "fatalities": _whole(deaths.get("best")) if isinstance(deaths, dict) else None,
    }


def _month_of(claims: Mapping[str, Any]) -> str | None:
    """The month a record falls in: its ``date``, or an event's ``date_start`` when it
    ends within the same month. An event known only to a longer span (UCDP's
    ``date_prec`` 4-5, e.g. a year-long national summary dated 1 January) has no month:
    it is counted apart (the analyzers' imprecise events), never as a spike in its
    first month."""
    start = claims.get("date_start")
    if isinstance(start, str):
        end = claims.get("date_end")
        same = not isinstance(end, str) or end[:7] == start[:7]
        return start[:7] if len(start) >= 7 and same else None
    date = claims.get("date")
    return date[:7] if isinstance(date, str) and len(date) >= 7 else None


def actor_rows(packet_id: int, claims: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The actors a held conflict event names (its sides, as far as the view discloses)."""
    names = {claims.get("side_a"), claims.get("side_b")}
    keyed = {actor_key(n): n for n in names if isinstance(n, str) and n.strip()}
    return [{"packet_id": packet_id, "actor_key": k, "actor": n} for k, n in sorted(keyed.items())]


def index_packets(session: Session, stored: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Index packets just stored (row id, the row as stored), in the caller's transaction."""
    findings: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    actors: list[dict[str, Any]] = []
    for packet_id, packet in stored:
        claims = packet["claims"]
        if packet["schema_id"] == RESULT_SCHEMA:
            findings.extend(finding_rows(packet_id, packet))
            continue
        place = place_of(packet_id, claims)
        if place is not None:
            places.append(place)
        actors.extend(actor_rows(packet_id, claims))
    if findings:
        session.execute(_FINDING.insert(), findings)
        refresh_latest(session, {row["identity_sha256"] for row in findings})
    if places:
        session.execute(_PLACE.insert(), places)
    if actors:
        session.execute(_ACTOR.insert(), actors)


def reindex_packet(session: Session, packet_id: int, claims: Mapping[str, Any]) -> None:
    """Index a record again after its view was widened (it may disclose more now)."""
    session.execute(delete(PacketPlace).where(col(PacketPlace.packet_id) == packet_id))
    session.execute(delete(PacketActor).where(col(PacketActor.packet_id) == packet_id))
    place = place_of(packet_id, claims)
    if place is not None:
        session.execute(_PLACE.insert(), [place])
    actors = actor_rows(packet_id, claims)
    if actors:
        session.execute(_ACTOR.insert(), actors)


#: Identities refreshed per statement (bounded ``IN`` lists).
_REFRESH_CHUNK = 500


def refresh_latest(session: Session, identities: Iterable[str]) -> None:
    """Mark, for each identity, the version the situation shows (see the module doc):
    one read of every version of a chunk of identities, then one update of the rows
    whose mark changes.

    On PostgreSQL the identities are locked for the transaction first (in one order, so
    two transactions never wait on each other in a cycle), so that two transactions
    storing versions of one finding at once cannot both leave theirs marked (each would
    see only its own); SQLite runs one writer at a time.
    """
    ordered = sorted(set(identities))
    if session.get_bind().dialect.name == "postgresql":
        for identity in ordered:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(identity[:15], 16)}
            )
    for start in range(0, len(ordered), _REFRESH_CHUNK):
        _refresh_chunk(session, ordered[start : start + _REFRESH_CHUNK])


def _refresh_chunk(session: Session, identities: Sequence[str]) -> None:
    F = SituationFinding
    rows = session.execute(
        select(
            col(F.id),
            col(F.identity_sha256),
            col(F.result_jti),
            col(F.supersedes_jti),
            col(F.issued_at),
            col(F.latest),
        ).where(col(F.identity_sha256).in_(identities))
    ).all()
    versions: dict[str, list[tuple[Any, str, str | None, datetime]]] = {}
    for r in rows:
        versions.setdefault(r.identity_sha256, []).append(
            (r.id, r.result_jti, r.supersedes_jti, r.issued_at)
        )
    chosen = {_latest(group) for group in versions.values()}
    changed = [(r.id, r.id in chosen) for r in rows if bool(r.latest) != (r.id in chosen)]
    for mark in (False, True):
        ids = [row_id for row_id, latest in changed if latest is mark]
        if ids:
            session.execute(update(F).where(col(F.id).in_(ids)).values(latest=mark))


def _latest(versions: Sequence[tuple[Any, str, str | None, datetime]]) -> Any:
    """The id of the latest of ``versions`` (id, result jti, supersedes jti, issued at)."""
    replaced = {v[2] for v in versions if v[2]}
    heads = [v for v in versions if v[1] not in replaced] or list(versions)
    return max(heads, key=lambda v: (v[3], v[1]))[0]


def as_of_ids(at: datetime) -> Select[tuple[int]]:
    """The ids of the versions the situation showed at ``at``: the same rule as
    :func:`refresh_latest`, over the versions held by then (``held_at <= at``)."""
    held = select(SituationFinding).where(col(SituationFinding.held_at) <= at).subquery("held")
    other = aliased(held)
    heads = (
        select(
            held.c.id,
            func.row_number()
            .over(
                partition_by=held.c.identity_sha256,
                order_by=(held.c.issued_at.desc(), held.c.result_jti.desc()),
            )
            .label("rank"),
        )
        .where(
            ~exists().where(
                and_(
                    other.c.identity_sha256 == held.c.identity_sha256,
                    other.c.supersedes_jti == held.c.result_jti,
                )
            )
        )
        .subquery("heads")
    )
    return select(heads.c.id).where(heads.c.rank == 1)
