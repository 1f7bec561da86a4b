"""``conflict-event/1``: one event of organised violence (DESIGN.md, "Record schemas").

Modelled on a row of the UCDP Georeferenced Event Dataset (GED codebook 19.1 and
the global releases 23.1+), so that everything an analyst uses from GED travels:
the actors and their UCDP ids, the violence type, where and when with their
precision codes, the death estimates and their breakdown, and the sources.

Names of the actors, the dyad and the conflict are top-level string fields beside
their ids so that a policy can pseudonymise them (``side_a`` -> ``side_a_ref``).
A policy that pseudonymises a name should withhold its UCDP id as well.

Death estimates are *not* required to satisfy ``low <= best <= high``: 101 of the
16,566 events of the real GED Syria release break that order (58 even have
``low > high``), and a schema that rejects published UCDP data is wrong.

Fields the codebook may leave unknown (the global GED writes -1) and that no
analysis needs are optional: the UCDP ids, the Gleditsch-Ward numbers, the
region, the place name, the PRIO-GRID cell, the death breakdown and the sources.
Required are what an event cannot be counted without: its id, year, violence
type, actors, dates with their precision, country, coordinates with their
precision, clarity and best death estimate. Events with month- or year-level
dates (``date_precision`` 4-5) or country-level locations (``where_precision``
6-7) are valid events; their precision claims tell an analyzer how to count them.

The natural key is ``event_id`` (the GED id): the same event sent again is a
duplicate, and the same id with other content is UCDP's revision of the event.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import Field, model_validator

from clearinghouse.protocol.schemas import _generalise as g
from clearinghouse.protocol.schemas._spec import Derivation, RecordModel, SchemaSpec

__all__ = ["SPEC", "ConflictEvent", "Deaths", "EventSource"]

Count = Annotated[int, Field(ge=0)]


class Deaths(RecordModel):
    """Fatality estimates of the event (GED ``deaths_*``, ``low``, ``best``, ``high``)."""

    side_a: Count | None = Field(None, description="Deaths on side A (GED deaths_a).")
    side_b: Count | None = Field(None, description="Deaths on side B (GED deaths_b).")
    civilians: Count | None = Field(None, description="Civilian deaths (GED deaths_civilians).")
    unknown: Count | None = Field(
        None, description="Deaths of unknown status (GED deaths_unknown)."
    )
    low: Count | None = Field(None, description="Lowest plausible death estimate (GED low).")
    best: Count = Field(description="Most likely death estimate (GED best).")
    high: Count | None = Field(None, description="Highest plausible death estimate (GED high).")


class EventSource(RecordModel):
    """Where the event was reported; GED leaves several of these empty."""

    article: str | None = Field(
        None, description="Source article(s): outlet, date and title, ';'-separated (GED)."
    )
    office: str | None = Field(None, description="Reporting outlet(s), ';'-separated.")
    date: str | None = Field(
        None,
        description="Publication date(s) as written by the source, ';'-separated; free text, "
        "because published GED rows hold impossible dates here.",
    )
    headline: str | None = Field(None, description="Headline(s) of the source article(s).")
    original: str | None = Field(
        None, description="Original source(s) the outlet relied on (witnesses, agencies)."
    )
    number_of_sources: Count | None = Field(
        None, description="Number of sources reporting the event."
    )


class ConflictEvent(RecordModel):
    """A single event of lethal organised violence at a given time and place."""

    # Coded values are integers in a range rather than ``Literal`` choices: pydantic
    # matches ``Literal[1]`` by equality, so it would take JSON ``true`` for ``1``.

    event_id: str = Field(min_length=1, description="Event identifier (GED id).")
    relid: str | None = Field(
        None, description="GED release-stable identifier (global GED 23.1+ relid)."
    )
    code_status: str | None = Field(
        None, description="GED coding status, e.g. 'Clear' or 'Check deaths' (candidate data)."
    )
    year: int = Field(ge=1900, le=2200, description="Year of the event.")
    active_year: bool | None = Field(
        None,
        description="Whether the event belongs to a conflict-year above the 25-death "
        "threshold (GED active_year).",
    )
    type_of_violence: int = Field(
        ge=1,
        le=3,
        description="1 state-based conflict, 2 non-state conflict, 3 one-sided violence.",
    )
    conflict_id: int | None = Field(
        None,
        ge=0,
        description="UCDP conflict id (GED conflict_new_id); absent when the source codes "
        "it unknown.",
    )
    conflict: str = Field(min_length=1, description="Conflict name (GED conflict_name).")
    dyad_id: int | None = Field(
        None,
        ge=0,
        description="UCDP dyad id (GED dyad_new_id); absent when the source codes it unknown.",
    )
    dyad: str = Field(min_length=1, description="Dyad name (GED dyad_name).")
    side_a_id: int | None = Field(
        None,
        ge=0,
        description="UCDP actor id of side A (GED side_a_new_id); absent when unknown.",
    )
    side_a: str = Field(min_length=1, description="Name of side A, the actor of the event.")
    side_a_gwno: list[int] | None = Field(
        None, description="Gleditsch-Ward number(s) of side A when it is a state (GED gwnoa)."
    )
    side_b_id: int | None = Field(
        None,
        ge=0,
        description="UCDP actor id of side B (GED side_b_new_id); absent when unknown.",
    )
    side_b: str = Field(
        min_length=1, description="Name of side B; 'Civilians' for one-sided violence."
    )
    side_b_gwno: list[int] | None = Field(
        None, description="Gleditsch-Ward number(s) of side B when it is a state (GED gwnob)."
    )
    date_start: date = Field(description="Earliest possible date of the event.")
    date_end: date = Field(description="Latest possible date of the event (>= date_start).")
    date_precision: int = Field(
        ge=1,
        le=5,
        description="Date precision: 1 exact day ... 5 only the year is known (GED date_prec).",
    )
    country: str = Field(min_length=1, description="Country where the event took place.")
    country_id: int | None = Field(
        None,
        ge=2,
        le=999,
        description="Gleditsch-Ward number of the country; absent when unknown.",
    )
    region: str | None = Field(None, min_length=1, description="World region (GED region).")
    admin1: str | None = Field(
        None, description="First-level administrative area, e.g. 'Homs Governorate' (GED adm_1)."
    )
    admin2: str | None = Field(None, description="Second-level administrative area (GED adm_2).")
    place: str | None = Field(
        None,
        min_length=1,
        description="Name of the place the coordinates stand for (where_coordinates).",
    )
    place_description: str | None = Field(
        None, description="Free-text description of the location (GED where_description)."
    )
    latitude: float = Field(ge=-90, le=90, description="Latitude, WGS 84 degrees.")
    longitude: float = Field(ge=-180, le=180, description="Longitude, WGS 84 degrees.")
    where_precision: int = Field(
        ge=1,
        le=7,
        description="Location precision: 1 exact place ... 7 country or international waters.",
    )
    priogrid_gid: int | None = Field(
        None, ge=1, le=259200, description="PRIO-GRID cell id of the coordinates."
    )
    event_clarity: int = Field(
        ge=1, le=2, description="1 a clearly delimited event, 2 a summary of several events."
    )
    deaths: Deaths = Field(description="Fatality estimates.")
    source: EventSource | None = Field(None, description="Reporting sources.")
    narrative: str | None = Field(
        None,
        description="What happened, in words (for GED rows: the source headline), so that a "
        "policy can share the account of the event without the source attribution.",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if (
            self.date_start is not None
            and self.date_end is not None
            and self.date_end < self.date_start
        ):
            raise ValueError(f"date_end {self.date_end} is before date_start {self.date_start}")
        return self


SPEC = SchemaSpec(
    id="conflict-event/1",
    title="Conflict event",
    model=ConflictEvent,
    natural_key_fields=("event_id",),
    derivations=(
        Derivation(
            claim="side_a_ref",
            source="side_a",
            treatment="pseudonymise",
            compute=g.name_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of side A's name.",
        ),
        Derivation(
            claim="side_b_ref",
            source="side_b",
            treatment="pseudonymise",
            compute=g.name_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of side B's name.",
        ),
        Derivation(
            claim="dyad_ref",
            source="dyad",
            treatment="pseudonymise",
            compute=g.name_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of the dyad's name.",
        ),
        g.month_of("date_start", "date_start"),
        *g.coordinate_cells(),
        Derivation(
            claim="fatality_band",
            source="deaths",
            treatment="generalise",
            compute=g.fatality_band,
            claim_type=g.FatalityBand,
            description='Band of deaths.best: "0", "1-4", "5-24", "25-99", "100-999", "1000+".',
        ),
    ),
)
