"""Oversight authorisations: an oversight participant lets one recipient see more.

DESIGN.md, "Oversight". A participant whose manifest entry has the role
``oversight`` signs an authorisation that unlocks, for one recipient, record
fields the sharing policy withholds from it, limited in scope and time::

    {"type": "clearinghouse-authorisation/1", "id": "<UUIDv7>",
     "federation": "...", "issuer": "<oversight participant>", "recipient": "<participant>",
     "scope": {"packets": ["<jti>", ...]}
           | {"query": {"schema": "conflict-event/1", "issuers": ["mission"],
                        "area": ["Idlib"], "period": {"from": "2016-01-01", "to": "2016-12-31"}}},
     "fields": ["side_a", "side_b"], "purpose": "<why, at most 2000 characters>",
     "issued_at": "2026-11-25T12:00:00Z", "expires_at": "2026-12-02T12:00:00Z",
     "signature": {"signer": "<issuer>", "kid": "<key id>", "sig": "<base64url Ed25519>"}}

The signature covers the RFC 8785 canonical form of the document without
``signature``, taken from the document as received (as for the manifest), so
formatting and member order do not matter. ``issuers``, ``area`` and ``period`` of
a query are optional; ``schema`` is not.

Matching a record (:func:`covers`, at the originator, on the full record):

* ``packets``: the packet's ``jti`` is listed;
* ``schema`` equal, ``issuers`` contains the packet's issuer;
* ``area``: one of the record's place claims (:data:`PLACE_CLAIMS`, per schema)
  names one of the areas. Names compare case-insensitively, with spacing collapsed
  and one trailing administrative word dropped ("Idlib Governorate", "Ariha
  district", "Ariha town" -> "idlib", "ariha", "ariha"), so that ``Idlib`` covers the
  governorate and the town of that name. Nothing else is inferred: ``Syria`` is not
  ``Syrian Arab Republic``;
* ``period``: the record lies wholly inside the period (both days included): each
  of its exact date claims (:data:`DATE_CLAIMS`), or, for a record with none, the
  whole year or month of its coarse ones. A record without any date is not covered.

At the recipient (:func:`covers_view`) only what the view shows can be checked:
``jti``, schema and issuer always; the period only through the date claims the view
discloses (an exact date must lie inside, a month or year must overlap); the area
only when the view discloses *every* place claim of the schema and none matches,
because a hidden place claim may be the one that matched. The rest was checked by
the originator, who signed the packet and logs every use of an authorisation in
its audit log. Raises :class:`protocol.errors.AuthorisationRejected` throughout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from clearinghouse.protocol.encoding import (
    b64url_decode,
    b64url_encode,
    canonical_json,
    compact_json,
    parse_json,
)
from clearinghouse.protocol.errors import AuthorisationRejected, EncodingError, ProtocolError
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import Signer, public_jwk
from clearinghouse.protocol.manifest import Manifest, ParticipantId, signing_key
from clearinghouse.protocol.packet import VerifiedPacket
from clearinghouse.protocol.record_extent import (
    DATE_CLAIMS,
    PLACE_CLAIMS,
    UNDATED,
    Dating,
    contains,
    day_span,
    overlaps,
    place_key,
    record_within,
)
from clearinghouse.protocol.schemas import SchemaSpec, get_schema

__all__ = [
    "AUTHORISATION_TYPE",
    "DATE_CLAIMS",
    "MAX_PURPOSE_LENGTH",
    "PLACE_CLAIMS",
    "Authorisation",
    "AuthorisationSignature",
    "Dating",
    "PacketScope",
    "Period",
    "Query",
    "QueryScope",
    "authorisation_json",
    "build_authorisation",
    "canonical_authorisation",
    "covers",
    "covers_view",
    "parse_authorisation",
    "sign_authorisation",
    "unlocked_claims",
    "verify_authorisation",
]

AUTHORISATION_TYPE = "clearinghouse-authorisation/1"
MAX_PURPOSE_LENGTH = 2000
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
Jti = Annotated[str, Field(pattern=rf"^{_UUID}$")]
UUID7 = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


_M = TypeVar("_M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PacketScope(_Strict):
    """The packets named by their ``jti``."""

    packets: tuple[Jti, ...] = Field(min_length=1)

    @field_validator("packets")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _refuse_repeats(value, "packet")
        return value


class Period(_Strict):
    """From one day to another, both included."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self


class Query(_Strict):
    """The records of one schema, optionally only some issuers', areas and period."""

    schema_id: str = Field(alias="schema", min_length=1)
    issuers: tuple[ParticipantId, ...] | None = Field(None, min_length=1)
    area: tuple[Name, ...] | None = Field(None, min_length=1)
    period: Period | None = None


class QueryScope(_Strict):
    query: Query


def _scope_kind(value: Any) -> str | None:
    if isinstance(value, PacketScope | QueryScope):
        return "packets" if isinstance(value, PacketScope) else "query"
    if isinstance(value, Mapping):
        kinds = [k for k in ("packets", "query") if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return None


Scope = Annotated[
    Annotated[PacketScope, Tag("packets")] | Annotated[QueryScope, Tag("query")],
    Discriminator(
        _scope_kind,
        custom_error_type="scope_kind",
        custom_error_message="scope is an object with exactly one of 'packets' or 'query'",
    ),
]


class AuthorisationSignature(_Strict):
    signer: ParticipantId
    kid: str = Field(min_length=1)
    sig: str = Field(min_length=1)


class _Body(_Strict):
    """Everything but the signature; :func:`build_authorisation` checks this much."""

    type: Literal["clearinghouse-authorisation/1"]
    id: UUID7
    federation: str = Field(min_length=1)
    issuer: ParticipantId
    recipient: ParticipantId
    scope: Scope
    fields: tuple[Name, ...] = Field(min_length=1)
    purpose: str = Field(min_length=1, max_length=MAX_PURPOSE_LENGTH)
    issued_at: AwareDatetime
    expires_at: AwareDatetime

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _refuse_repeats(value, "field")
        return value

    @field_validator("purpose")
    @classmethod
    def _purpose_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("purpose is blank; say why the fields are needed")
        return value

    @model_validator(mode="after")
    def _expires_after_issue(self) -> _Body:
        if self.expires_at <= self.issued_at:
            raise ValueError(
                f"expires_at {_instant(self.expires_at)} is not after issued_at "
                f"{_instant(self.issued_at)}"
            )
        return self


class Authorisation(_Body):
    """A parsed authorisation (:func:`parse_authorisation`); trust it once verified."""

    signature: AuthorisationSignature

    _body: dict[str, Any] = PrivateAttr(default_factory=dict)

    def signing_input(self) -> bytes:
        """The bytes the signature covers: JCS of the document minus ``signature``."""
        return canonical_json(self._body)

    def document(self) -> dict[str, Any]:
        """The whole document as received: the signed body plus the signature."""
        return {**json.loads(compact_json(self._body)), "signature": self.signature.model_dump()}


def _refuse_repeats(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)


def build_authorisation(
    *,
    federation: str,
    issuer: str,
    recipient: str,
    scope: Mapping[str, Any],
    fields: Sequence[str],
    purpose: str,
    expires_at: datetime,
    now: datetime,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> dict[str, Any]:
    """An unsigned authorisation document issued at ``now`` (to the second).

    ``scope`` is the JSON form, ``{"packets": [...]}`` or ``{"query": {...}}``.
    Raises :class:`AuthorisationRejected` for a malformed document, a query of an
    unknown schema or a field that schema does not have; the manifest's part (roles,
    participants, keys) is checked by :func:`verify_authorisation`.
    """
    if now.tzinfo is None or expires_at.tzinfo is None:
        raise AuthorisationRejected("now and expires_at must be timezone-aware instants")
    issued = now.astimezone(UTC).replace(microsecond=0)
    doc: dict[str, Any] = {
        "type": AUTHORISATION_TYPE,
        "id": uuid7(issued, random_bytes),
        "federation": federation,
        "issuer": issuer,
        "recipient": recipient,
        "scope": scope,
        "fields": list(fields) if not isinstance(fields, str) else fields,
        "purpose": purpose,
        "issued_at": _instant(issued),
        "expires_at": _instant(expires_at.astimezone(UTC).replace(microsecond=0)),
    }
    doc = _json_value(doc)
    _check_query(_validate(_Body, doc))
    return doc


def sign_authorisation(doc: Mapping[str, Any], issuer_key: Signer) -> Authorisation:
    """Sign ``doc`` (any ``signature`` in it is replaced) as its issuer, with ``issuer_key``.

    Raises :class:`AuthorisationRejected` for a malformed document. Whether the key
    is one of the issuer's in the manifest is for :func:`verify_authorisation`.
    """
    body = {k: v for k, v in _json_value(doc).items() if k != "signature"}
    _validate(_Body, body)
    signature = {
        "signer": body["issuer"],
        "kid": public_jwk(issuer_key)["kid"],
        "sig": b64url_encode(issuer_key.sign(canonical_json(body))),
    }
    return parse_authorisation({**body, "signature": signature})


def parse_authorisation(data: bytes | str | Mapping[str, Any]) -> Authorisation:
    """Parse an authorisation's structure (not its signature or its trust).

    Raises :class:`AuthorisationRejected` naming what is malformed.
    """
    doc = _json_value(data if isinstance(data, Mapping) else _parsed(data))
    authorisation = _validate(Authorisation, doc)
    authorisation._body = {k: v for k, v in doc.items() if k != "signature"}
    return authorisation


def authorisation_json(authorisation: Authorisation) -> bytes:
    """The authorisation as a readable JSON file (the body as received, then the signature)."""
    text = json.dumps(authorisation.document(), indent=2, ensure_ascii=False)
    return (text + "\n").encode()


def canonical_authorisation(authorisation: Authorisation) -> bytes:
    """The whole authorisation, signature included, in RFC 8785 form: for the wire."""
    return canonical_json(authorisation.document())


def verify_authorisation(
    authorisation: Authorisation,
    manifest: Manifest,
    *,
    now: datetime,
    recipient: str | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> Authorisation:
    """Check that ``authorisation`` may be used now; return it or raise.

    ``recipient``, when given, is who the caller expects it to be for.
    Raises :class:`AuthorisationRejected` naming the failed check.
    """
    # Plan (the structure, unique non-empty fields and scope of one kind were checked
    # when it was parsed):
    # (1) the federation is the manifest's;
    # (2) the issuer is a participant with the oversight role, and the signer;
    # (3) its key kid was valid at issued_at and is not revoked as of now;
    # (4) the signature verifies over the canonical bytes of the body as received;
    # (5) issued_at is not in the future (beyond the clock skew); now < expires_at;
    # (6) the recipient is a participant other than the issuer, and the expected one;
    # (7) a query's schema is known, has every field, has place claims for an area and
    #     date claims for a period, and its issuers are participants.
    a = authorisation
    # (1): federation
    if a.federation != manifest.federation:
        raise AuthorisationRejected(
            f"authorisation {a.id} is for federation {a.federation!r}, not {manifest.federation!r}"
        )
    # (2): issuer
    _check_issuer(a, manifest)
    # (3): key
    public_key = _issuer_key(a, manifest, now)
    # (4): signature
    try:
        public_key.verify(b64url_decode(a.signature.sig), a.signing_input())
    except (InvalidSignature, EncodingError) as exc:
        raise AuthorisationRejected(
            f"signature by {a.issuer!r} (key {a.signature.kid}) does not verify over "
            f"authorisation {a.id}"
        ) from exc
    # (5): time
    _check_time(a, now, max_clock_skew)
    # (6): recipient
    _check_recipient(a, manifest, recipient)
    # (7): query
    _check_query(a, manifest)
    return a


def _check_issuer(a: Authorisation, manifest: Manifest) -> None:
    """Step (2) of :func:`verify_authorisation`: a participant with the oversight role
    issued it, and signed it itself."""
    if a.issuer not in manifest.participant_ids:
        raise AuthorisationRejected(f"issuer {a.issuer!r} is not a participant of {a.federation}")
    if "oversight" not in manifest.participant(a.issuer).roles:
        raise AuthorisationRejected(
            f"issuer {a.issuer!r} lacks the oversight role in manifest serial {manifest.serial}"
        )
    if a.signature.signer != a.issuer:
        raise AuthorisationRejected(
            f"authorisation is signed by {a.signature.signer!r}, not by its issuer {a.issuer!r}"
        )


def _issuer_key(a: Authorisation, manifest: Manifest, now: datetime) -> Ed25519PublicKey:
    """Step (3) of :func:`verify_authorisation`: the key that signed, valid when the
    authorisation was issued and not revoked as of ``now`` (an authorisation is used long
    after it is signed, so a revocation since then counts, unlike for a packet)."""
    kid = a.signature.kid
    try:
        public_key = signing_key(manifest, a.issuer, kid, a.issued_at)
    except ProtocolError as exc:
        raise AuthorisationRejected(f"authorisation {a.id}: {exc.message}") from exc
    key = next(k for k in manifest.participant(a.issuer).keys if k.kid == kid)
    if key.revoked and (key.revoked_at is None or key.revoked_at <= now):
        raise AuthorisationRejected(
            f"key {kid} of {a.issuer!r} that signed authorisation {a.id} was revoked"
            + (f" at {_instant(key.revoked_at)}" if key.revoked_at else "")
        )
    return public_key


def _check_time(a: Authorisation, now: datetime, max_clock_skew: timedelta) -> None:
    """Step (5) of :func:`verify_authorisation`: issued by ``now`` (up to the clock
    skew), and not yet expired."""
    if a.issued_at > now + max_clock_skew:
        raise AuthorisationRejected(
            f"authorisation {a.id} is issued at {_instant(a.issued_at)}, in the future"
        )
    if now >= a.expires_at:
        raise AuthorisationRejected(f"authorisation {a.id} expired at {_instant(a.expires_at)}")


def _check_recipient(a: Authorisation, manifest: Manifest, expected: str | None) -> None:
    """Step (6) of :func:`verify_authorisation`: the recipient is a participant other
    than the issuer, and the one the caller ``expected`` if it named one."""
    if a.recipient not in manifest.participant_ids:
        raise AuthorisationRejected(
            f"recipient {a.recipient!r} is not a participant of {a.federation}"
        )
    if a.recipient == a.issuer:
        raise AuthorisationRejected(
            f"{a.issuer!r} cannot authorise itself: oversight grants access to others"
        )
    if expected is not None and a.recipient != expected:
        raise AuthorisationRejected(
            f"authorisation {a.id} is for {a.recipient!r}, not for {expected!r}"
        )


def unlocked_claims(authorisation: Authorisation, spec: SchemaSpec) -> frozenset[str]:
    """The claims of ``spec`` the authorisation discloses beyond the policy: its fields.

    Raises :class:`AuthorisationRejected` for a field ``spec`` does not have.
    """
    for name in authorisation.fields:
        if name not in spec.fields:
            raise AuthorisationRejected(
                f"authorisation {authorisation.id}: field {name!r} is not a field of "
                f"schema {spec.id}"
            )
    return frozenset(authorisation.fields)


def covers(
    authorisation: Authorisation,
    *,
    issuer: str,
    jti: str,
    schema: str,
    claims: Mapping[str, Any],
) -> bool:
    """Whether a (verified) authorisation covers a packet, judged on its full ``claims``.

    For the originator. Raises :class:`AuthorisationRejected` when it covers a packet
    whose schema lacks one of its fields (only then is a packet scope's schema known).
    """
    scope = authorisation.scope
    if isinstance(scope, PacketScope):
        if jti not in scope.packets:
            return False
        unlocked_claims(authorisation, _schema_of(schema, authorisation))
        return True
    query = scope.query
    if query.schema_id != schema or (query.issuers is not None and issuer not in query.issuers):
        return False
    if query.area is not None:
        areas = {place_key(a) for a in query.area}
        places = (claims.get(c) for c in PLACE_CLAIMS.get(schema, ()))
        if not any(isinstance(p, str) and place_key(p) in areas for p in places):
            return False
    if query.period is not None:
        return record_within(
            query.period.start, query.period.end, DATE_CLAIMS.get(schema, UNDATED), claims
        )
    return True


def covers_view(authorisation: Authorisation, packet: VerifiedPacket) -> bool:
    """Whether what ``packet`` (a verified view) shows is consistent with the scope.

    For the recipient: ``jti``, schema and issuer are always visible and checked;
    the period only through the date claims the view discloses, the area only when it
    discloses every place claim of the schema (see the module docstring). Raises like
    :func:`covers`.
    """
    scope = authorisation.scope
    if isinstance(scope, PacketScope):
        return covers(
            authorisation, issuer=packet.iss, jti=packet.jti, schema=packet.sch, claims={}
        )
    query = scope.query
    if query.schema_id != packet.sch:
        return False
    if query.issuers is not None and packet.iss not in query.issuers:
        return False
    claims = packet.claims
    if query.area is not None:
        place_claims = PLACE_CLAIMS.get(packet.sch, ())
        if all(c in claims for c in place_claims):
            areas = {place_key(a) for a in query.area}
            places = (claims[c] for c in place_claims)
            if not any(isinstance(p, str) and place_key(p) in areas for p in places):
                return False
    if query.period is not None:
        dating = DATE_CLAIMS.get(packet.sch, UNDATED)
        for name in dating.exact:
            if name in claims and not contains(
                query.period.start, query.period.end, day_span(claims[name], exact=True)
            ):
                return False
        for name in dating.coarse:
            if name in claims and not overlaps(
                query.period.start, query.period.end, day_span(claims[name], exact=False)
            ):
                return False
    return True


def _schema_of(schema: str, authorisation: Authorisation) -> SchemaSpec:
    """``get_schema``, its refusal restated as the authorisation's."""
    try:
        return get_schema(schema)
    except ProtocolError as exc:
        raise AuthorisationRejected(f"authorisation {authorisation.id}: {exc.message}") from exc


# -- helpers -----------------------------------------------------------------------


def _check_query(body: _Body, manifest: Manifest | None = None) -> None:
    if not isinstance(body.scope, QueryScope):
        return
    query = body.scope.query
    try:
        spec = get_schema(query.schema_id)
    except ProtocolError as exc:
        raise AuthorisationRejected(f"scope: {exc.message}") from exc
    for name in body.fields:
        if name not in spec.fields:
            raise AuthorisationRejected(f"field {name!r} is not a field of schema {spec.id}")
    if query.area is not None and not PLACE_CLAIMS.get(spec.id):
        raise AuthorisationRejected(f"schema {spec.id} has no place claims an area could match")
    if query.period is not None and not any(DATE_CLAIMS.get(spec.id, UNDATED)):
        raise AuthorisationRejected(f"schema {spec.id} has no date claims a period could match")
    if manifest is not None:
        for issuer in query.issuers or ():
            if issuer not in manifest.participant_ids:
                raise AuthorisationRejected(
                    f"scope names issuer {issuer!r}, not a participant of {manifest.federation}"
                )


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parsed(data: bytes | str) -> Any:
    try:
        return parse_json(data)
    except EncodingError as exc:
        raise AuthorisationRejected(f"authorisation is not JSON: {exc.message}") from exc


def _json_value(value: Any) -> dict[str, Any]:
    """A JSON object's own copy, checked to be JSON data (no dates, sets, NaN, ...)."""
    if not isinstance(value, Mapping):
        raise AuthorisationRejected("authorisation is not a JSON object")
    try:
        copied = parse_json(compact_json(dict(value)))
    except (EncodingError, RecursionError) as exc:
        raise AuthorisationRejected(f"authorisation is not JSON data: {exc}") from exc
    if not isinstance(copied, dict):  # pragma: no cover - a Mapping encodes as an object
        raise AuthorisationRejected("authorisation is not a JSON object")
    return copied


def _validate(model: type[_M], doc: dict[str, Any]) -> _M:
    try:
        return model.model_validate_json(compact_json(doc), strict=True)
    except (ValidationError, EncodingError, RecursionError) as exc:
        raise AuthorisationRejected(f"authorisation is malformed: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
