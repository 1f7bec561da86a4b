"""Reading the common situation's index (:mod:`node.storage.situation_index`).

Every question the situation page, the area and actor pages and the exports ask is one
query with the same filters (:class:`FindingFilter`), answered by the database with
limits or in chunks: memory stays flat however many packets the node holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, func, or_, select
from sqlmodel import Session, col

from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.models import (
    PacketActor,
    PacketPlace,
    SituationFinding,
    StoredPacket,
)
from clearinghouse.node.storage.situation_index import LEVEL_RANKS, actor_key, as_of_ids

__all__ = [
    "FindingFilter",
    "actor_months",
    "agreement",
    "area_keys",
    "area_months",
    "area_summary",
    "centroids",
    "contributors",
    "earlier_versions",
    "events_of_actor",
    "finding_months",
    "findings",
    "held_packets",
    "in_areas",
    "iter_findings",
]

F = SituationFinding


@dataclass(frozen=True)
class FindingFilter:
    """Which findings: all filters combine (and); an empty one does not filter.

    ``start`` and ``end`` are months (``YYYY-MM``): a finding is in the range when its
    period overlaps it (a finding without a period is then left out). ``levels``: any
    of these levels. ``as_of``: the situation as this node held it at that instant.
    ``withdrawn``: the findings withdrawn instead of those that hold.
    """

    country: str | None = None
    admin1: str | None = None
    start: str | None = None
    end: str | None = None
    analyzers: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    actor: str | None = None
    handling: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    as_of: datetime | None = None
    withdrawn: bool = False

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [
            col(F.id).in_(as_of_ids(self.as_of))
            if self.as_of is not None
            else col(F.latest).is_(True),
            col(F.withdrawn).is_(self.withdrawn),
        ]
        if self.country:
            out.append(col(F.country) == self.country)
        if self.admin1:
            out.append(col(F.admin1) == self.admin1)
        if self.start:
            out.append(col(F.period_last) >= self.start)
        if self.end:
            out.append(col(F.period_first) <= self.end)
        if self.analyzers:
            out.append(col(F.analyzer).in_(self.analyzers))
        if self.levels:
            out.append(col(F.level_rank).in_([LEVEL_RANKS[lv] for lv in self.levels]))
        if self.actor:
            out.append(col(F.actor_key) == actor_key(self.actor))
        if self.handling:
            out.append(col(F.hc).in_(self.handling))
        if self.kinds:
            out.append(col(F.kind).in_(self.kinds))
        return out


def _blank_first(*columns: Any) -> list[Any]:
    """Order by these columns, a missing value first on either database (SQLite puts
    NULLs first, PostgreSQL last)."""
    return [func.coalesce(col(c), "") for c in columns]


#: The page's order: by period, area, analyzer, then result (stable and arrival-free).
_BY_PERIOD = (
    *_blank_first(F.period, F.country, F.admin1),
    col(F.analyzer),
    col(F.result_jti),
    col(F.finding_no),
)
#: Most severe first: level, then fatalities, then score.
_BY_SEVERITY = (
    col(F.level_rank).desc(),
    func.coalesce(col(F.fatalities), -1).desc(),
    func.coalesce(col(F.score), 0).desc(),
    *_BY_PERIOD,
)


def findings(
    session: Session,
    where: FindingFilter,
    *,
    severity: bool = False,
    limit: int | None = None,
    offset: int = 0,
    extra: Sequence[ColumnElement[bool]] = (),
) -> list[SituationFinding]:
    """The findings matching ``where`` (and ``extra``), by period or most severe first."""
    query = (
        select(F)
        .where(*where.clauses(), *extra)
        .order_by(*(_BY_SEVERITY if severity else _BY_PERIOD))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query).all())


def iter_findings(
    session: Session, where: FindingFilter, *, chunk: int = 1000
) -> Iterator[SituationFinding]:
    """Every finding matching ``where``, a chunk at a time (for exports), by row id."""
    after = 0
    while True:
        rows = list(
            session.scalars(
                select(F)
                .where(*where.clauses(), col(F.id) > after)
                .order_by(col(F.id))
                .limit(chunk)
            ).all()
        )
        yield from rows
        if len(rows) < chunk:
            return
        after = int(rows[-1].id or 0)
        session.expunge_all()


def contributors(session: Session, where: FindingFilter) -> list[Row[Any]]:
    """Per issuer and analyzer: version, findings, latest issue time."""
    return list(
        session.execute(
            select(
                col(F.participant),
                col(F.analyzer),
                func.max(col(F.analyzer_version)).label("version"),
                func.count().label("findings"),
                func.max(col(F.issued_at)).label("latest"),
            )
            .where(*where.clauses())
            .group_by(col(F.participant), col(F.analyzer))
            .order_by(col(F.participant), col(F.analyzer))
        ).all()
    )


def area_keys(
    session: Session, where: FindingFilter, *, limit: int, offset: int = 0
) -> list[tuple[str | None, str | None, str | None]]:
    """A page of the (country, admin1, period) groups the findings fall in, in that
    order (a missing value first, on either database)."""
    rows = session.execute(
        select(col(F.country), col(F.admin1), col(F.period))
        .where(*where.clauses())
        .group_by(col(F.country), col(F.admin1), col(F.period))
        .order_by(*_blank_first(F.country, F.admin1, F.period))
        .limit(limit)
        .offset(offset)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def in_areas(
    keys: Sequence[tuple[str | None, str | None, str | None]],
) -> ColumnElement[bool]:
    """Findings of any of these (country, admin1, period) groups (NULLs match NULLs)."""

    def same(column: Any, value: str | None) -> ColumnElement[bool]:
        return col(column).is_(None) if value is None else col(column) == value

    return or_(
        *(and_(same(F.country, c), same(F.admin1, a), same(F.period, p)) for c, a, p in keys)
    )


def earlier_versions(
    session: Session, latest: Sequence[SituationFinding]
) -> list[SituationFinding]:
    """The versions held before each of ``latest`` (its identity's other versions)."""
    identities = {f.identity_sha256 for f in latest}
    if not identities:
        return []
    return list(
        session.scalars(
            select(F)
            .where(col(F.identity_sha256).in_(identities), col(F.latest).is_(False))
            .order_by(col(F.issued_at), col(F.result_jti))
        ).all()
    )


def finding_months(
    session: Session, where: FindingFilter, *, by: str
) -> list[tuple[str, str, int, int]]:
    """Per month and ``by`` (``analyzer``, ``area`` = admin1 or country, ``actor``): the
    findings of one month's period, and of those the flags (level high or critical)."""
    key: Any = {
        "analyzer": col(F.analyzer),
        "area": func.coalesce(col(F.admin1), col(F.country), ""),
        "actor": func.coalesce(col(F.actor), ""),
    }[by]
    flag = case((col(F.level_rank) >= LEVEL_RANKS["high"], 1), else_=0)
    rows = session.execute(
        select(col(F.period_first), key, func.count(), func.sum(flag))
        .where(*where.clauses(), col(F.period_first) == col(F.period_last))
        .group_by(col(F.period_first), key)
    ).all()
    return sorted((str(r[0]), str(r[1]), int(r[2]), int(r[3] or 0)) for r in rows if r[0])


def area_months(
    session: Session, country: str | None, admin1: str | None
) -> list[tuple[str, int, int]]:
    """Per month: the records this node holds for an area (events, market prices...)
    and their fatalities, as far as the views disclose them."""
    P = PacketPlace
    clauses: list[ColumnElement[bool]] = [col(P.month).is_not(None)]
    if country:
        clauses.append(col(P.country) == country)
    if admin1:
        clauses.append(col(P.admin1) == admin1)
    rows = session.execute(
        select(col(P.month), func.count(), func.coalesce(func.sum(col(P.fatalities)), 0))
        .where(*clauses)
        .group_by(col(P.month))
        .order_by(col(P.month))
    ).all()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def actor_months(session: Session, name: str) -> list[tuple[str, int, int]]:
    """Per month: the events this node holds that name an actor, and their fatalities."""
    A, P = PacketActor, PacketPlace
    rows = session.execute(
        select(col(P.month), func.count(), func.coalesce(func.sum(col(P.fatalities)), 0))
        .join(A, col(A.packet_id) == col(P.packet_id))
        .where(col(A.actor_key) == actor_key(name), col(P.month).is_not(None))
        .group_by(col(P.month))
        .order_by(col(P.month))
    ).all()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def events_of_actor(session: Session, name: str, *, limit: int) -> list[int]:
    """Row ids of held packets that name an actor, newest first (at most ``limit``)."""
    A = PacketActor
    return [
        int(i)
        for i in session.scalars(
            select(col(A.packet_id))
            .where(col(A.actor_key) == actor_key(name))
            .order_by(col(A.packet_id).desc())
            .limit(limit)
        ).all()
    ]


def centroids(
    session: Session, countries: Sequence[str]
) -> dict[tuple[str, str | None], tuple[float, float, str, int]]:
    """Where this node can place each area of these countries: the mean of the held
    records' coordinates per (country, admin1), and per (country, None) over the whole
    country; with how (exact "coordinates" if any record had them, else "cell") and of
    how many records."""
    P = PacketPlace
    if not countries:
        return {}
    exact = func.sum(case((col(P.precision) == "coordinates", 1), else_=0))
    located = [col(P.lat).is_not(None), col(P.country).in_(list(countries))]
    out: dict[tuple[str, str | None], tuple[float, float, str, int]] = {}
    for group in ((col(P.country), col(P.admin1)), (col(P.country),)):
        rows = session.execute(
            select(*group, func.avg(col(P.lat)), func.avg(col(P.lon)), exact, func.count())
            .where(*located)
            .group_by(*group)
        ).all()
        for r in rows:
            admin1 = r[1] if len(group) == 2 else None
            lat, lon, n_exact, n = r[-4], r[-3], r[-2], r[-1]
            how = "coordinates" if n_exact else "cell"
            out[(str(r[0]), admin1)] = (float(lat), float(lon), how, int(n))
    return out


def area_summary(session: Session, where: FindingFilter) -> list[Row[Any]]:
    """Per area (country, admin1) of the findings matching ``where``: the highest level,
    the fatalities and events of its month findings (per month the largest any finding
    reports, summed over the months: findings of one area-month report the same
    events), how many findings, and the most restrictive handling among them.
    Imprecise events (counted apart) are left out: they cannot be placed."""
    monthly = col(F.period_first) == col(F.period_last)
    per_period = (
        select(
            col(F.country).label("country"),
            col(F.admin1).label("admin1"),
            func.max(col(F.level_rank)).label("level_rank"),
            func.max(case((monthly, col(F.fatalities)), else_=None)).label("fatalities"),
            func.max(case((monthly, col(F.events)), else_=None)).label("events"),
            func.count().label("findings"),
            func.max(col(F.hc)).label("hc"),
            func.max(col(F.hcr)).label("hcr"),
        )
        .where(*where.clauses(), col(F.country).is_not(None), col(F.kind) != "imprecise-events")
        .group_by(col(F.country), col(F.admin1), col(F.period))
        .subquery("per_period")
    )
    p = per_period.c
    return list(
        session.execute(
            select(
                p.country,
                p.admin1,
                func.max(p.level_rank).label("level_rank"),
                func.sum(p.fatalities).label("fatalities"),
                func.sum(p.events).label("events"),
                func.sum(p.findings).label("findings"),
                func.max(p.hc).label("hc"),
                func.max(p.hcr).label("hcr"),
            )
            .group_by(p.country, p.admin1)
            .order_by(p.country, p.admin1)
        ).all()
    )


def held_packets(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    """The held packets of these row ids: jti, issuer, schema, handling and claims."""
    table = table_of(StoredPacket)
    if not ids:
        return []
    return list(
        session.execute(
            select(
                table.c.id,
                table.c.jti,
                table.c.issuer,
                table.c.schema_id,
                table.c.hc,
                table.c.hcr,
                table.c.claims,
            )
            .where(table.c.id.in_(list(ids)))
            .order_by(table.c.id.desc())
        ).all()
    )


def agreement(
    session: Session, where: FindingFilter, *, limit: int
) -> list[tuple[tuple[str | None, str | None, str | None], dict[str, int], str, str | None]]:
    """The latest (country, admin1, period) groups that two or more analyzers rated (at
    most ``limit``), each with every analyzer's highest level rank there and the most
    restrictive handling (code, H3 text) among the findings behind them."""
    rated = [*where.clauses(), col(F.level_rank) >= 0]
    group = (col(F.country), col(F.admin1), col(F.period))
    keys = [
        (r[0], r[1], r[2])
        for r in session.execute(
            select(*group)
            .where(*rated)
            .group_by(*group)
            .having(func.count(func.distinct(col(F.analyzer))) >= 2)
            .order_by(col(F.period).desc(), col(F.country), col(F.admin1))
            .limit(limit)
        ).all()
    ]
    if not keys:
        return []
    rows = session.execute(
        select(
            *group,
            col(F.analyzer),
            func.max(col(F.level_rank)),
            func.max(col(F.hc)),
            func.max(col(F.hcr)),
        )
        .where(*rated, in_areas(keys))
        .group_by(*group, col(F.analyzer))
    ).all()
    levels: dict[tuple[str | None, str | None, str | None], dict[str, int]] = {}
    handling: dict[tuple[str | None, str | None, str | None], tuple[str, str | None]] = {}
    for country, admin1, period, analyzer, rank, hc, hcr in rows:
        key = (country, admin1, period)
        levels.setdefault(key, {})[analyzer] = int(rank)
        handling[key] = max(handling.get(key, ("H0", None)), (hc, hcr), key=lambda h: h[0])
    return [(k, levels[k], *handling[k]) for k in keys if k in levels]
