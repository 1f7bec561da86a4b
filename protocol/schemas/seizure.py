"""``seizure/1``: a drug seizure, single or a country-year total (DESIGN.md, "Record schemas").

One record type with a ``kind``:

* ``annual-total``: a UNODC country x drug x year total (dataUNODC "Drug
  seizures": region, subregion, country, ISO3 code, drug group, subgroup, drug,
  year, kilograms); requires ``year`` and ``kilograms``;
* ``single-seizure``: one interdiction as a law-enforcement body records it
  (place, date, quantity and unit, route, persons and vehicles involved);
  requires ``date``, ``quantity`` and ``unit``.

The per-kind requirements hold for whole records only. A view is validated with
every field optional (:meth:`SchemaSpec.validate_disclosed`), and a view may
disclose ``kind`` while the policy generalises ``kilograms`` to ``kilograms_band``,
so the check is skipped for the partial (view) model that ``_spec`` derives.

No natural key: neither a UNODC total nor a single seizure carries an id of its
own, and the fields of a total (country, drug, year) are optional, so two records
with the same values may be distinct seizures.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from clearinghouse.protocol.schemas import _generalise as g
from clearinghouse.protocol.schemas._spec import Derivation, RecordModel, SchemaSpec

__all__ = ["SPEC", "Seizure", "SeizureKind"]

SeizureKind = Literal["annual-total", "single-seizure"]
Iso3 = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "annual-total": ("year", "kilograms"),
    "single-seizure": ("date", "quantity", "unit"),
}


class Seizure(RecordModel):
    """A drug seizure: an annual country total or one interdiction."""

    kind: SeizureKind = Field(
        description="'annual-total' (country x drug x year) or 'single-seizure' (one interdiction)."
    )
    country: str | None = Field(None, description="Country or territory of the seizure.")
    country_code: Iso3 | None = Field(
        None,
        description="ISO 3166-1 alpha-3 code of the country (UNODC msCode when ISO 3166 "
        "assigns it; absent for a territory without one, whose name stays in `country`).",
    )
    region: str | None = Field(None, description="UN region, e.g. 'Asia'.")
    subregion: str | None = Field(None, description="UN subregion, e.g. 'Near and Middle East'.")
    drug_group: str | None = Field(
        None, description="UNODC drug group, e.g. 'Amphetamines and Stimulants'."
    )
    drug_subgroup: str | None = Field(None, description="UNODC drug subgroup.")
    drug: str | None = Field(None, description="Drug seized, e.g. 'Captagon'.")
    year: int | None = Field(
        None, ge=1900, le=2200, description="Year of an annual total (required for annual-total)."
    )
    kilograms: float | None = Field(
        None, ge=0, description="Kilograms seized in the year (required for annual-total)."
    )
    place: str | None = Field(None, description="Place of a single seizure (port, checkpoint...).")
    admin1: str | None = Field(
        None, description="First-level administrative area of the place of a single seizure."
    )
    date: Date | None = Field(None, description="Date of a single seizure (required for it).")
    latitude: float | None = Field(None, ge=-90, le=90, description="Latitude, WGS 84 degrees.")
    longitude: float | None = Field(None, ge=-180, le=180, description="Longitude, WGS 84 degrees.")
    quantity: float | None = Field(
        None, ge=0, description="Quantity seized, in `unit` (required for single-seizure)."
    )
    unit: str | None = Field(
        None,
        min_length=1,
        description="Unit of `quantity`: 'kg', 'g', 'l', 'tablets', 'plants'... "
        "(required for single-seizure).",
    )
    route_origin: str | None = Field(
        None, description="Country of origin of the consignment (ISO3 code preferred)."
    )
    route_destination: str | None = Field(
        None, description="Intended country of destination (ISO3 code preferred)."
    )
    route_transit: list[str] | None = Field(
        None, description="Countries of transit, in route order (ISO3 codes preferred)."
    )
    persons_involved: int | None = Field(None, ge=0, description="Number of persons involved.")
    vehicles_involved: int | None = Field(None, ge=0, description="Number of vehicles involved.")
    persons: list[str] | None = Field(
        None,
        description="Identifiers of the persons and organisations involved (names, document "
        "numbers or case ids), pseudonymised as persons_refs.",
    )
    conveyance: str | None = Field(
        None, description="Means of transport: 'truck', 'maritime container', 'air courier'..."
    )
    concealment: str | None = Field(
        None, description="How the drugs were hidden, e.g. 'in fruit consignment'."
    )

    @model_validator(mode="after")
    def _kind_has_its_fields(self) -> Self:
        if type(self) is not Seizure or self.kind is None:
            # A view (the partial model) may withhold or generalise any field.
            return self
        missing = [name for name in _REQUIRED[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} record requires {', '.join(missing)}")
        return self


SPEC = SchemaSpec(
    id="seizure/1",
    title="Drug seizure",
    model=Seizure,
    derivations=(
        Derivation(
            claim="persons_refs",
            source="persons",
            treatment="pseudonymise",
            compute=g.name_identifiers,
            claim_type=g.PSEUDONYM_LIST_TYPE,
            description="Pseudonym of each person or organisation involved, in order.",
        ),
        g.month_of("date", "the seizure"),
        Derivation(
            claim="kilograms_band",
            source="kilograms",
            treatment="generalise",
            compute=g.magnitude_band,
            claim_type=g.MAGNITUDE_BAND_TYPE,
            description='Order of magnitude of kilograms, e.g. "1e2-1e3".',
        ),
        Derivation(
            claim="quantity_band",
            source="quantity",
            treatment="generalise",
            compute=g.magnitude_band,
            claim_type=g.MAGNITUDE_BAND_TYPE,
            description='Order of magnitude of quantity (in its unit), e.g. "1e2-1e3".',
        ),
        *g.coordinate_cells(),
    ),
)
