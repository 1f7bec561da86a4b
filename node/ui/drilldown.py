"""The pages one link away from every mention: an area over time, an actor over time.

``/ui/areas?country=…&admin1=…``: one admin1 (or a whole country) across all
analyzers — the records this node holds there and their fatalities per month, the
findings and flags per month, every finding about it (most severe first), and where
it lies on the map.

``/ui/actors?name=…``: one armed group, trafficker or listed entity — the typology
call per period, sanctions hits, its role in a trafficking network, and the events
behind them as far as this node's policy shows them (the claims of the views it
holds: a field the policy withholds is simply not there), with events per month.

Both obey the situation page's other filters (months, analyzer, level, handling,
as-of), so that drilling down keeps the question asked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.situation import contributors
from clearinghouse.node.services.situation_views import actor_view, area_view, map_areas
from clearinghouse.node.ui.charts import timeline
from clearinghouse.node.ui.headlines import format_value
from clearinghouse.node.ui.pages import MAX_ROWS, handling, level_legend
from clearinghouse.node.ui.situation_page import (
    area_link,
    area_mark,
    filter_choices,
    linked_row,
)
from clearinghouse.node.ui.situation_query import SituationQuery
from clearinghouse.node.ui.worldmap import MapMark, world_map

__all__ = ["EVENT_FIELDS", "actor_page", "area_page"]

#: What the actor page shows of each event, in this order (when the view discloses it).
EVENT_FIELDS = (
    ("date_start", "date"),
    ("country", "country"),
    ("admin1", "admin1"),
    ("place", "place"),
    ("side_a", "side A"),
    ("side_b", "side B"),
    ("type_of_violence", "type of violence"),
    ("deaths", "deaths (best)"),
)


def area_page(
    ctx: NodeContext, q: SituationQuery, *, country: str | None, admin1: str | None
) -> dict[str, Any]:
    """The area page's content for (country, admin1) under the query's other filters."""
    view = area_view(ctx, q.where(), country=country, admin1=admin1, limit=MAX_ROWS * 2)
    name = ", ".join(x for x in (admin1, country) if x) or "unknown area"
    scoped = replace(q.where(), country=country, admin1=admin1)
    marks = [m for m in (area_mark(a) for a in map_areas(ctx, scoped)) if m is not None]
    if not marks and view.place is not None:  # records held there, no finding about it
        marks = [
            MapMark(
                lat=view.place.lat,
                lon=view.place.lon,
                label=f"{name}: no finding (placed from {view.place.points} record(s))",
                precision=view.place.precision,
            )
        ]
    return {
        "name": name,
        "country": country,
        "admin1": admin1,
        "query": q,
        "choices": filter_choices(contributors(ctx, q.where())),
        "back": q.link("/ui/situation"),
        "country_link": area_link(q, country, None) if admin1 and country else None,
        "map": world_map(marks, title=name) if marks else "",
        "place": view.place,
        **_over_time(
            q,
            view.timeline.series,
            f"{name}: records held, findings and flags per month",
        ),
        "findings": [linked_row(q, f) for f in view.findings],
        "legend": level_legend(view.findings),
    }


def _over_time(
    q: SituationQuery, series: dict[str, dict[str, float]], title: str
) -> dict[str, Any]:
    """The timelines over the query's months (every month on the axis): the counts in one
    chart, the fatalities in another (on one axis they would flatten the counts), and
    the figures of both as a table."""
    deaths = {k: v for k, v in series.items() if k.startswith("fatalities")}
    counts = {k: v for k, v in series.items() if k not in deaths}
    span = {"first": q.start, "last": q.end}
    return {
        "timeline": timeline(counts, title=title, y_label="count", **span) if counts else "",
        "fatalities_chart": timeline(
            deaths, title=f"{title.split(':')[0]}: fatalities per month", y_label="deaths", **span
        )
        if deaths
        else "",
        "months": _month_table(series),
    }


def _month_table(series: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The timeline as a table (its text alternative): one row per month."""
    names = sorted(series)
    months = sorted({m for values in series.values() for m in values})
    return {
        "columns": names,
        "rows": [(m, [format_value(series[n].get(m, 0)) for n in names]) for m in months],
    }


def actor_page(ctx: NodeContext, q: SituationQuery, *, name: str) -> dict[str, Any]:
    """The actor page's content for ``name`` under the query's other filters."""
    view = actor_view(ctx, q.where(), name=name, limit=MAX_ROWS)
    rows = [linked_row(q, f) for f in view.findings]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(str(row.get("kind")), []).append(row)
    return {
        "name": name,
        "query": q,
        "choices": filter_choices(contributors(ctx, q.where())),
        "back": q.link("/ui/situation"),
        "typology": by_kind.pop("spoiler-typology", []),
        "sanctions": by_kind.pop("sanctions-hit", []),
        "network": by_kind.pop("broker", []) + by_kind.pop("recurring-actor", []),
        "other": [r for kind in sorted(by_kind) for r in by_kind[kind]],
        "events": [_event(q, e) for e in view.events],
        "event_fields": [label for _, label in EVENT_FIELDS],
        **_over_time(
            q,
            view.timeline.series,
            f"{name}: events held, findings and flags per month",
        ),
        "legend": level_legend(view.findings),
    }


def _event(q: SituationQuery, event: dict[str, Any]) -> dict[str, Any]:
    claims = event["claims"]
    values = []
    for field, _ in EVENT_FIELDS:
        value = claims.get(field)
        if field == "deaths" and isinstance(value, dict):
            value = value.get("best")
        values.append("" if value is None else format_value(value))
    return {
        "jti": event["jti"],
        "issuer": event["issuer"],
        "cells": values,
        "withheld": [f for f, _ in EVENT_FIELDS if f not in claims],
        "area_link": area_link(q, claims.get("country"), claims.get("admin1"))
        if claims.get("country")
        else None,
        "handling": handling(event["hc"], event["hcr"]),
    }
