"""Sharing policy: for each schema, each recipient and each field, one treatment.

A policy is part of the manifest (DESIGN.md, "Federation manifest")::

    {"conflict-event/1": {"undp": {"admin1": "disclose", "date_start": "generalise"}}}

Treatments of a top-level record field (nested objects and arrays go as a whole):

* ``disclose``: the field itself;
* ``pseudonymise``: only the field's pseudonym claim (``side_a`` -> ``side_a_ref``);
* ``generalise``: only the field's generalised claim (``date_start`` -> ``month``);
* ``withhold``: nothing.

A field the policy does not name is withheld (deny by default). The policy turns
into the set of top-level claims a recipient may see (:meth:`granted_claims`),
which is what a view keeps and what a receiver checks (:meth:`check_disclosed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import get_args

from clearinghouse.protocol.errors import OverDisclosure, PolicyError
from clearinghouse.protocol.schemas import SCHEMAS, SchemaSpec
from clearinghouse.protocol.schemas._spec import Treatment

__all__ = ["TREATMENTS", "SharingPolicy"]

TREATMENTS: tuple[str, ...] = get_args(Treatment)


class SharingPolicy:
    """The policy part of a manifest, with the questions nodes ask of it."""

    def __init__(self, rules: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        self._rules = {
            schema: {recipient: dict(fields) for recipient, fields in per_recipient.items()}
            for schema, per_recipient in rules.items()
        }
        self._granted: dict[tuple[str, str], frozenset[str]] = {}

    def validate(self, participants: Iterable[str]) -> None:
        """Check every rule names a known schema, participant, field and treatment.

        Raises :class:`PolicyError` naming the first bad rule.
        """
        known = set(participants)
        for schema_id, per_recipient in self._rules.items():
            spec = SCHEMAS.get(schema_id)
            if spec is None:
                raise PolicyError(f"policy names unknown schema {schema_id!r}")
            for recipient, fields in per_recipient.items():
                if recipient not in known:
                    raise PolicyError(
                        f"policy for {schema_id} names {recipient!r}, not a participant"
                    )
                for field, treatment in fields.items():
                    where = f"policy {schema_id} -> {recipient} -> {field}"
                    if field not in spec.fields:
                        raise PolicyError(f"{where}: {schema_id} has no field {field!r}")
                    if treatment not in TREATMENTS:
                        raise PolicyError(
                            f"{where}: treatment {treatment!r} is not one of {TREATMENTS}"
                        )
                    if treatment in ("pseudonymise", "generalise") and not spec.derivation(
                        field, treatment
                    ):
                        raise PolicyError(
                            f"{where}: {schema_id} defines no way to {treatment} {field!r}"
                        )

    def treatment(self, schema_id: str, recipient: str, field: str) -> str:
        return self._rules.get(schema_id, {}).get(recipient, {}).get(field, "withhold")

    def rules(self) -> dict[str, dict[str, dict[str, str]]]:
        return {s: {r: dict(f) for r, f in per.items()} for s, per in self._rules.items()}

    def recipients(self, schema_id: str) -> list[str]:
        """Participants that are granted at least one claim of ``schema_id``."""
        per = self._rules.get(schema_id, {})
        return sorted(
            r for r, fields in per.items() if any(t != "withhold" for t in fields.values())
        )

    def granted_claims(self, spec: SchemaSpec, recipient: str) -> frozenset[str]:
        """The top-level claims of ``spec`` that ``recipient`` may see."""
        key = (spec.id, recipient)
        granted = self._granted.get(key)
        if granted is None:
            claims: set[str] = set()
            for field in spec.fields:
                treatment = self.treatment(spec.id, recipient, field)
                if treatment == "disclose":
                    claims.add(field)
                elif treatment in ("pseudonymise", "generalise"):
                    derivation = spec.derivation(field, treatment)
                    if derivation is not None:
                        claims.add(derivation.claim)
            granted = self._granted[key] = frozenset(claims)
        return granted

    def check_disclosed(self, spec: SchemaSpec, recipient: str, disclosed: Iterable[str]) -> None:
        """Raise :class:`OverDisclosure` if a disclosed claim is not granted.

        ``disclosed`` are the top-level claim names a view reveals.
        """
        granted = self.granted_claims(spec, recipient)
        for claim in sorted(disclosed):
            if claim in granted:
                continue
            derivation = spec.derived_claim(claim)
            field = derivation.source if derivation else claim
            allowed = self.treatment(spec.id, recipient, field)
            shown = (
                f"{claim!r} ({derivation.treatment} of {field!r})" if derivation else repr(claim)
            )
            raise OverDisclosure(
                f"view discloses {shown} of {spec.id} to {recipient!r}, "
                f"but the policy grants {allowed!r} for {field!r}",
                field=field,
            )
