"""The federation manifest: who takes part, their keys, analyzers and sharing policy.

One JSON document (DESIGN.md, "Federation manifest"), signed by at least
``quorum`` participants with detached Ed25519 signatures over its RFC 8785
canonical form without the ``signatures`` member. The bytes signed are those of
the document as received (re-canonicalised), never of a re-serialised model, so
formatting and member order in a file do not matter and nothing is lost.

Verification (:func:`verify_manifest`) is a numbered checklist; a manifest that
fails any step raises :class:`protocol.errors.ManifestRejected` saying which.
:func:`signing_key` answers "which public key verifies what this participant
signed at time t" for packets, requests and checkpoints alike.

A participant may be held to some record schemas: ``originates`` lists the record
schemas it issues packets of (absent: any; an empty list: none). It never names a
schema only the analysis pipeline issues (``analysis-result/1``: those are bound to
the declared ``analyzer`` instead). :func:`check_origination` is the check, for a
node's own ingest and for a receiver alike. An absent ``originates`` is never
written, so older manifests keep their bytes and signatures.

A participant may also declare ``witnesses``: the other participants that witness its
audit log (absent: the default assignment of :mod:`protocol.witnessing`). Each must be
another participant of the same manifest, named once. Absent, it is never written
either.

A successor is signed by participants of the manifest in force (``held``), with
the keys listed there: :func:`sign_manifest` in place, or
:func:`detached_signature` for one signature to send back and merge
(:mod:`protocol.manifest_changes`, which also builds successors).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, canonical_json, parse_json
from clearinghouse.protocol.errors import (
    EncodingError,
    KeyNotValid,
    KeyRevoked,
    KeyUnusable,
    ManifestRejected,
    PolicyError,
    ProtocolError,
    SchemaNotOriginated,
    UnknownIssuer,
    UnknownKey,
)
from clearinghouse.protocol.keys import Signer, public_jwk, public_key_from_jwk
from clearinghouse.protocol.policy import TREATMENTS, SharingPolicy
from clearinghouse.protocol.schemas import SCHEMAS

__all__ = [
    "AnalyzerDeclaration",
    "Manifest",
    "ManifestKey",
    "ManifestSignature",
    "Participant",
    "build_manifest",
    "check_origination",
    "check_successor",
    "detached_signature",
    "expand_policy",
    "manifest_json",
    "parse_manifest",
    "sign_manifest",
    "signing_key",
    "verify_manifest",
    "with_signatures",
]

ParticipantId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestKey(_Strict):
    """A participant's Ed25519 public key as a JWK, with its validity."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    not_before: AwareDatetime
    not_after: AwareDatetime | None = None
    revoked: bool = False
    revoked_at: AwareDatetime | None = Field(
        default=None, description="From this instant on, signatures by the key are refused."
    )

    @model_validator(mode="after")
    def _key_is_usable(self) -> ManifestKey:
        try:
            public_key_from_jwk({"kty": self.kty, "crv": self.crv, "x": self.x, "kid": self.kid})
        except KeyUnusable as exc:
            raise ValueError(exc.message) from exc
        if self.not_after is not None and self.not_after <= self.not_before:
            raise ValueError(f"key {self.kid}: not_after is not after not_before")
        if self.revoked_at is not None and not self.revoked:
            raise ValueError(f"key {self.kid}: revoked_at given but revoked is false")
        return self

    def public_key(self) -> Ed25519PublicKey:
        return _public_key(self.x)


@lru_cache(maxsize=1024)
def _public_key(x: str) -> Ed25519PublicKey:
    """The Ed25519 key of a JWK's ``x``, built once per key: every view verified asks
    for its issuer's key, and building it again was 1.5 % of verifying a view (the key
    object is immutable, so one serves every caller)."""
    return public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": x})


class AnalyzerDeclaration(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9._-]*$")
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Participant(_Strict):
    id: ParticipantId
    name: str = Field(min_length=1)
    base_url: str
    roles: tuple[Literal["oversight"], ...] = ()
    keys: tuple[ManifestKey, ...] = Field(min_length=1)
    analyzer: AnalyzerDeclaration | None = None
    originates: tuple[str, ...] | None = Field(
        default=None,
        description="The record schemas this participant issues packets of; absent: any.",
    )
    witnesses: tuple[ParticipantId, ...] | None = Field(
        default=None,
        min_length=1,
        description="The participants that witness this participant's audit log; absent: "
        "the default assignment (protocol.witnessing).",
    )

    @field_validator("originates")
    @classmethod
    def _record_schemas(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if len(set(value)) != len(value):
            raise ValueError("originates names a schema twice")
        for schema_id in value:
            spec = SCHEMAS.get(schema_id)
            if spec is None:
                raise ValueError(f"originates names unknown schema {schema_id!r}")
            if spec.issued_by != "records":
                raise ValueError(
                    f"originates names {schema_id}, which only the analysis pipeline issues "
                    "(a participant's results are bound to its declared analyzer)"
                )
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(f"base_url {value!r} is not an http(s) URL")
        return value.rstrip("/")


def _check_witnesses(participant: Participant, ids: Sequence[str]) -> None:
    """A declared ``witnesses`` names other participants of the manifest, each once."""
    declared = participant.witnesses
    if declared is None:
        return
    if participant.id in declared:
        raise ValueError(f"participant {participant.id!r} names itself as its own witness")
    if len(set(declared)) != len(declared):
        raise ValueError(f"participant {participant.id!r} names a witness twice")
    unknown = [w for w in declared if w not in ids]
    if unknown:
        raise ValueError(
            f"participant {participant.id!r} names witnesses that are not participants: "
            + ", ".join(unknown)
        )


class ManifestSignature(_Strict):
    signer: ParticipantId
    kid: str
    sig: str


class Manifest(_Strict):
    federation: str = Field(min_length=1)
    serial: int = Field(ge=1)
    issued_at: AwareDatetime
    quorum: int = Field(ge=1)
    participants: tuple[Participant, ...] = Field(min_length=1)
    policy: dict[str, dict[str, dict[str, str]]] = Field(default_factory=dict)
    signatures: tuple[ManifestSignature, ...] = ()

    _body: dict[str, Any] = PrivateAttr(default_factory=dict)
    _sharing: SharingPolicy | None = PrivateAttr(default=None)
    _policy_sha256: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _coherent(self) -> Manifest:
        ids = [p.id for p in self.participants]
        if len(set(ids)) != len(ids):
            raise ValueError("participant ids are not unique")
        kids = [k.kid for p in self.participants for k in p.keys]
        if len(set(kids)) != len(kids):
            raise ValueError("a key id appears twice")
        if self.quorum > len(ids):
            raise ValueError(f"quorum {self.quorum} exceeds the {len(ids)} participants")
        for p in self.participants:
            _check_witnesses(p, ids)
        return self

    def participant(self, participant_id: str) -> Participant:
        for p in self.participants:
            if p.id == participant_id:
                return p
        raise UnknownIssuer(f"{participant_id!r} is not a participant of {self.federation}")

    @property
    def participant_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.participants)

    @property
    def sharing(self) -> SharingPolicy:
        if self._sharing is None:
            self._sharing = SharingPolicy(self.policy)
        return self._sharing

    @property
    def policy_sha256(self) -> str:
        """SHA-256 (hex) of the sharing policy in canonical JSON, worked out once (every
        ingest call and analysis batch names the policy it applied by it)."""
        if self._policy_sha256 is None:
            self._policy_sha256 = hashlib.sha256(canonical_json(self.policy)).hexdigest()
        return self._policy_sha256

    def signing_input(self) -> bytes:
        """The bytes every signature covers: JCS of the document minus ``signatures``."""
        return canonical_json(self._body)


def parse_manifest(data: bytes | str | Mapping[str, Any]) -> Manifest:
    """Parse a manifest's structure (not its signatures); raise :class:`ManifestRejected`."""
    try:
        doc = parse_json(data) if isinstance(data, bytes | str) else dict(data)
    except EncodingError as exc:
        raise ManifestRejected(f"manifest is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestRejected("manifest is not a JSON object")
    try:
        manifest = Manifest.model_validate(doc)
        manifest.sharing.validate(manifest.participant_ids)
    except ValidationError as exc:
        raise ManifestRejected(f"manifest is malformed: {_describe(exc)}") from exc
    except PolicyError as exc:
        raise ManifestRejected(f"manifest policy is invalid: {exc}") from exc
    manifest._body = {k: v for k, v in doc.items() if k != "signatures"}
    return manifest


def manifest_json(manifest: Manifest) -> bytes:
    """The manifest as a readable JSON file (signed content plus signatures)."""
    doc = dict(manifest._body)
    doc["signatures"] = [s.model_dump() for s in manifest.signatures]
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def signing_key(
    manifest: Manifest, participant_id: str, kid: str, at: datetime
) -> Ed25519PublicKey:
    """The public key ``kid`` of ``participant_id``, if it may sign at instant ``at``.

    Raises :class:`UnknownIssuer`, :class:`UnknownKey`, :class:`KeyNotValid` or
    :class:`KeyRevoked` (each naming the key).
    """
    participant = manifest.participant(participant_id)
    for key in participant.keys:
        if key.kid != kid:
            continue
        if key.revoked and (key.revoked_at is None or at >= key.revoked_at):
            since = f" since {key.revoked_at.isoformat()}" if key.revoked_at else ""
            raise KeyRevoked(f"key {kid} of {participant_id!r} is revoked{since}")
        if at < key.not_before or (key.not_after is not None and at > key.not_after):
            raise KeyNotValid(
                f"key {kid} of {participant_id!r} is valid from {key.not_before.isoformat()}"
                f" to {key.not_after.isoformat() if key.not_after else 'open end'},"
                f" not at {at.isoformat()}"
            )
        return key.public_key()
    raise UnknownKey(f"{participant_id!r} has no key {kid!r} in manifest serial {manifest.serial}")


def check_origination(manifest: Manifest, issuer: str, schema_id: str) -> None:
    """Raise :class:`SchemaNotOriginated` if ``issuer`` may not originate packets of the
    record schema ``schema_id``: its ``originates`` is given and does not list it.

    A schema only the analysis pipeline issues is not judged here (see
    :func:`protocol.results.check_result`), nor is an unknown one (verification
    refuses it). Raises :class:`UnknownIssuer` for an issuer not in ``manifest``.
    """
    spec = SCHEMAS.get(schema_id)
    if spec is None or spec.issued_by != "records":
        return
    allowed = manifest.participant(issuer).originates
    if allowed is not None and schema_id not in allowed:
        listed = ", ".join(allowed) or "none"
        raise SchemaNotOriginated(
            f"{issuer!r} may not originate {schema_id} packets: manifest serial "
            f"{manifest.serial} lists the record schemas it originates as: {listed}"
        )


def detached_signature(
    manifest: Manifest, signer: str, key: Signer, *, held: Manifest | None = None
) -> ManifestSignature:
    """``signer``'s signature over ``manifest``'s signing input, made with ``key``.

    The key must be one of the signer's keys in ``held`` when given (the manifest
    in force, whose participants vouch for a successor: so a participant being
    removed, or one whose key is being rotated, signs with the key it holds now),
    else in ``manifest`` itself. With ``held``, ``manifest`` must succeed it (same
    federation, higher serial).

    Raises :class:`ManifestRejected`: ``signer`` is not a participant of the manifest
    that vouches, or the key is not one of its keys there, or ``manifest`` does not
    succeed ``held``.
    """
    kid = public_jwk(key)["kid"]
    anchor = held or manifest
    where = "this manifest" if held is None else f"the held manifest (serial {held.serial})"
    if held is not None:
        check_successor(manifest, held)
    try:
        participant = anchor.participant(signer)
    except UnknownIssuer as exc:
        raise ManifestRejected(
            f"{signer!r} is not a participant of {where}, so it cannot sign"
        ) from exc
    if kid not in {k.kid for k in participant.keys}:
        raise ManifestRejected(
            f"key {kid} is not one of {signer!r}'s keys in {where}; sign with the key "
            "whose public part that manifest lists"
        )
    return ManifestSignature(
        signer=signer, kid=kid, sig=b64url_encode(key.sign(manifest.signing_input()))
    )


def sign_manifest(
    manifest: Manifest, signer: str, key: Signer, *, held: Manifest | None = None
) -> Manifest:
    """Add (or replace) ``signer``'s signature made with ``key``.

    The key must be one of the signer's keys in ``held`` when given, else in the
    manifest itself (see :func:`detached_signature`, which raises the same errors).
    """
    signature = detached_signature(manifest, signer, key, held=held)
    return with_signatures(manifest, [signature])


def with_signatures(manifest: Manifest, added: Sequence[ManifestSignature]) -> Manifest:
    """``manifest`` with ``added`` signatures, each replacing one by the same signer and key.

    Checks nothing about the signatures (:func:`verify_manifest` does).
    """
    replaced = {(s.signer, s.kid) for s in added}
    kept = [s for s in manifest.signatures if (s.signer, s.kid) not in replaced]
    doc = dict(manifest._body)
    doc["signatures"] = [s.model_dump() for s in [*kept, *added]]
    return parse_manifest(doc)


def check_successor(manifest: Manifest, held: Manifest) -> None:
    """Raise :class:`ManifestRejected` unless ``manifest`` succeeds ``held`` (same federation,
    higher serial)."""
    if manifest.federation != held.federation:
        raise ManifestRejected(
            f"manifest is for federation {manifest.federation!r}, not {held.federation!r}"
        )
    if manifest.serial <= held.serial:
        raise ManifestRejected(
            f"manifest serial {manifest.serial} is not higher than the held serial "
            f"{held.serial}; an older or equal manifest is refused"
        )


def verify_manifest(manifest: Manifest, *, now: datetime, held: Manifest | None = None) -> Manifest:
    """Check that ``manifest`` may be trusted; return it or raise :class:`ManifestRejected`.

    ``held`` is the manifest the caller trusts now (None for the first one).
    """
    # Plan:
    # (1) a successor of the held manifest: same federation, strictly higher serial;
    # (2) signatures are counted against the held manifest's participants and quorum
    #     (a new manifest cannot vouch for itself), or its own for the first one;
    # (3) every signature is by a participant, with one of its keys valid and not
    #     revoked now, and verifies over the canonical bytes; a bad one rejects all;
    # (4) at least quorum distinct participants signed.
    anchor = held or manifest
    # (1): successor
    if held is not None:
        check_successor(manifest, held)
    # (2), (3): each signature
    signers: set[str] = set()
    message = manifest.signing_input()
    for s in manifest.signatures:
        try:
            public_key = signing_key(anchor, s.signer, s.kid, now)
            public_key.verify(b64url_decode(s.sig), message)
        except InvalidSignature as exc:
            raise ManifestRejected(
                f"signature by {s.signer!r} (key {s.kid}) does not verify over this manifest"
            ) from exc
        except (ProtocolError, KeyUnusable) as exc:
            raise ManifestRejected(f"signature by {s.signer!r} is not acceptable: {exc}") from exc
        signers.add(s.signer)
    # (4): quorum
    if len(signers) < anchor.quorum:
        raise ManifestRejected(
            f"manifest serial {manifest.serial} has {len(signers)} valid signature(s) "
            f"({', '.join(sorted(signers)) or 'none'}) of the {anchor.quorum} required"
        )
    return manifest


def build_manifest(
    config: Mapping[str, Any],
    jwks: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    issued_at: datetime,
) -> Manifest:
    """An unsigned manifest from an operator's config and each participant's JWKs.

    ``config`` holds ``federation``, ``serial`` (default 1), ``quorum``,
    ``key_validity_days`` (default 730), ``participants`` (id, name, base_url,
    roles, analyzer) and ``policy``. A recipient's policy may be written per field
    (``{field: treatment}``) or per treatment (``{disclose: [fields], ...}``).
    """
    try:
        days = int(config.get("key_validity_days", 730))
        participants = []
        for entry in config["participants"]:
            pid = entry["id"]
            if pid not in jwks:
                raise ManifestRejected(f"no public key given for participant {pid!r}")
            keys = [
                {
                    "kty": jwk["kty"],
                    "crv": jwk["crv"],
                    "x": jwk["x"],
                    "kid": jwk["kid"],
                    "not_before": issued_at.isoformat(),
                    "not_after": (issued_at + timedelta(days=days)).isoformat(),
                }
                for jwk in jwks[pid]
            ]
            participant = {k: v for k, v in entry.items() if k != "keys"}
            participant["keys"] = keys
            participants.append(participant)
        doc = {
            "federation": config["federation"],
            "serial": int(config.get("serial", 1)),
            "issued_at": issued_at.isoformat(),
            "quorum": config["quorum"],
            "participants": participants,
            "policy": expand_policy(config.get("policy", {})),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestRejected(f"manifest config is incomplete or malformed: {exc!r}") from exc
    return parse_manifest(doc)


def expand_policy(policy: Mapping[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """A policy in the manifest's per-field form, from per-field or per-treatment rules.

    A recipient's rules may be ``{field: treatment}`` or ``{treatment: [fields]}``
    (mixed is allowed). Only the form is checked here; schemas, fields and
    treatments are checked by :func:`parse_manifest`. Raises
    :class:`ManifestRejected` for a field given twice or a policy that is not a
    mapping of mappings.
    """
    if not isinstance(policy, Mapping):
        raise ManifestRejected(f"policy must be a mapping of schema to recipients, not {policy!r}")
    out: dict[str, dict[str, dict[str, str]]] = {}
    for schema, per_recipient in policy.items():
        if not isinstance(per_recipient, Mapping | None):
            raise ManifestRejected(f"policy {schema}: expected a mapping of recipient to rules")
        out[schema] = {}
        for recipient, rules in (per_recipient or {}).items():
            if not isinstance(rules, Mapping | None):
                raise ManifestRejected(
                    f"policy {schema} -> {recipient}: expected a mapping of field to treatment"
                    " or of treatment to a list of fields"
                )
            fields: dict[str, str] = {}
            for key, value in (rules or {}).items():
                if key in TREATMENTS and isinstance(value, list):
                    for field in value:
                        if field in fields:
                            raise ManifestRejected(
                                f"policy {schema} -> {recipient}: field {field!r} given twice"
                            )
                        fields[field] = key
                else:
                    fields[key] = value
            out[schema][recipient] = fields
    return out


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
