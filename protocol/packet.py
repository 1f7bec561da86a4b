"""Packets: a record signed once as an SD-JWT, viewed per recipient, verified by anyone.

DESIGN.md, "Packets". :func:`issue_packet` validates a record against its schema,
adds the derived claims (pseudonyms under the pseudonymisation key, generalised
values), conceals every claim recursively and signs the JWT with the issuer's
Ed25519 key. :func:`make_view` keeps only the disclosures of the claims a
recipient is granted (the signature is untouched, so one signature serves every
recipient and a relay can only remove). :func:`verify_view` is the only way to a
:class:`VerifiedPacket`.

Always-visible claims: ``iss``, ``jti`` (UUIDv7), ``iat``, ``sch``, ``hc`` (and
``hcr``, the free-text restriction of an H3 packet), ``pse`` (the pseudonym epoch,
in every packet that carries pseudonymised claims, see :mod:`protocol.pseudonyms`),
``_sd_alg``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from clearinghouse.protocol.errors import IssuedInFuture, MalformedPacket, ProtocolError
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import Manifest, signing_key
from clearinghouse.protocol.pseudonyms import (
    PseudonymKey,
    check_epoch,
    is_epoch_name,
    normalise_identifier,
    pseudonym,
)
from clearinghouse.protocol.schemas import SchemaSpec, get_schema
from clearinghouse.protocol.sdjwt import (
    SD_ALG,
    CompactSdJwt,
    Jws,
    conceal_encoded,
    decode_jws,
    numeric_date,
    process_encoded,
    sign_jws,
    verify_jws,
)

__all__ = [
    "HANDLING_CODES",
    "HANDLING_MEANINGS",
    "PACKET_TYP",
    "IssuedPacket",
    "PacketRef",
    "PseudonymKey",
    "VerifiedPacket",
    "issue_packet",
    "make_view",
    "normalise_identifier",
    "packet_ref",
    "pseudonym",
    "recipient_view",
    "stored_epoch",
    "verify_view",
]

PACKET_TYP = "clearinghouse-packet+sd-jwt"
#: Europol-style handling codes: H0 no restriction, H1 no use in judicial
#: proceedings without the originator's consent, H2 no onward dissemination,
#: H3 other restriction (stated in ``hcr``).
HANDLING_CODES = ("H0", "H1", "H2", "H3")
#: What each handling code asks of a recipient, for people reading a packet.
HANDLING_MEANINGS = {
    "H0": "no restriction",
    "H1": "no use in judicial proceedings without the originator's consent",
    "H2": "no onward dissemination",
    "H3": "other restriction, stated by the originator",
}
_ALWAYS_VISIBLE = ("iss", "jti", "iat", "sch", "hc", "hcr", "pse")
#: A packet id: a UUID in its canonical lowercase form (ours are UUIDv7, RFC 9562).
_JTI = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class PacketRef:
    """A packet's identity, the same in every view: ``jti`` + SHA-256 of the issuer JWT."""

    jti: str
    digest: str  # lowercase hex

    def as_dict(self) -> dict[str, str]:
        return {"jti": self.jti, "sha256": self.digest}


def packet_ref(jti: str, jwt: str) -> PacketRef:
    return PacketRef(jti, hashlib.sha256(jwt.encode("ascii")).hexdigest())


@dataclass(frozen=True)
class IssuedPacket:
    """A freshly issued packet with every disclosure (only the issuer holds this)."""

    sd_jwt: str
    ref: PacketRef
    schema: str
    issued_at: datetime
    hc: str
    hcr: str | None
    #: the pseudonym epoch, if the packet carries pseudonymised claims
    pse: str | None
    claims: Mapping[str, Any]
    #: the encoded disclosures under each top-level claim, to cut views cheaply
    disclosures_by_claim: Mapping[str, tuple[str, ...]] = field(repr=False)

    def view(self, granted: Iterable[str]) -> str:
        """The view that keeps exactly the top-level claims in ``granted``.

        Same result as :func:`make_view` on :attr:`sd_jwt`, without re-parsing it.
        """
        jwt = self.sd_jwt.split("~", 1)[0]
        kept = [e for claim in granted for e in self.disclosures_by_claim.get(claim, ())]
        return CompactSdJwt(jwt, tuple(kept)).serialize()


def issue_packet(
    record: Mapping[str, Any],
    *,
    schema: str,
    issuer: str,
    key: Signer,
    kid: str,
    now: datetime,
    pseudonym_key: bytes | None = None,
    pseudonym_epoch: str | None = None,
    hc: str = "H0",
    hc_restriction: str | None = None,
    decoys: int = 0,
    random_bytes: Callable[[int], bytes] = os.urandom,
    validated: bool = False,
) -> IssuedPacket:
    """Sign ``record`` as a packet of ``schema`` with every claim disclosable.

    ``pseudonym_key`` comes with the name of its epoch, ``pseudonym_epoch``; a
    packet in which a pseudonym is computed names that epoch in ``pse``.

    ``validated`` says that ``record`` is what ``validate_record`` of this schema
    returned (the node's ingest validates a record once, to key it): it is issued as
    it is, without validating it again (a tenth of the cost of issuing).

    Raises :class:`SchemaViolation` or :class:`UnknownSchema` for a bad record and
    :class:`ProtocolError` for a bad handling code, a missing pseudonymisation key,
    or a key without a well-formed epoch name.
    """
    _check_handling(hc, hc_restriction)
    key_of_epoch = _key_of_epoch(pseudonym_key, pseudonym_epoch)
    spec = get_schema(schema)
    # A copy of validated claims: the derived claims are added to it.
    claims = dict(record) if validated else spec.validate_record(record)
    epoch = _add_derived_claims(claims, spec, key_of_epoch)
    digests, disclosures, by_claim = conceal_encoded(claims, random_bytes, decoys=decoys)
    jti = uuid7(now, random_bytes)
    payload: dict[str, Any] = {
        "iss": issuer,
        "jti": jti,
        "iat": int(now.timestamp()),
        "sch": schema,
        "hc": hc,
    }
    if hc_restriction:
        payload["hcr"] = hc_restriction
    if epoch is not None:
        payload["pse"] = epoch
    payload["_sd"] = digests
    payload["_sd_alg"] = SD_ALG
    jwt = sign_jws({"alg": "EdDSA", "typ": PACKET_TYP, "kid": kid}, payload, key)
    sd_jwt = CompactSdJwt(jwt, tuple(disclosures)).serialize()
    return IssuedPacket(
        sd_jwt=sd_jwt,
        ref=packet_ref(jti, jwt),
        schema=schema,
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        hc=hc,
        hcr=hc_restriction,
        pse=epoch,
        claims=MappingProxyType(claims),
        disclosures_by_claim=MappingProxyType(by_claim),
    )


def _check_handling(hc: str, hc_restriction: str | None) -> None:
    """A known handling code, with restriction text exactly when it is H3."""
    if hc not in HANDLING_CODES:
        raise ProtocolError(f"handling code {hc!r} is not one of {HANDLING_CODES}")
    if (hc == "H3") != bool(hc_restriction):
        raise ProtocolError("an H3 packet needs its restriction text, and only H3 has one")


def _key_of_epoch(pseudonym_key: bytes | None, epoch: str | None) -> PseudonymKey | None:
    """The pseudonymisation key with the name of its epoch, if the issuer has one.

    An epoch named without a key is still checked, so that a misconfigured issuer
    learns of it before it first needs the key.
    """
    if pseudonym_key:
        if epoch is None:
            raise ProtocolError("a pseudonymisation key needs the name of its epoch")
        return PseudonymKey(epoch, pseudonym_key)
    if epoch is not None:
        check_epoch(epoch)
    return None


def _add_derived_claims(
    claims: dict[str, Any], spec: SchemaSpec, key_of_epoch: PseudonymKey | None
) -> str | None:
    """Add the schema's derived claims (generalised values, pseudonyms) to ``claims``;
    return the pseudonym epoch if a pseudonym was computed (the packet's ``pse``)."""
    epoch: str | None = None
    for d in spec.derivations:
        if d.source not in claims:
            continue
        source_value = claims[d.source]
        if d.treatment == "generalise":
            claims[d.claim] = d.compute(source_value)
            continue
        if key_of_epoch is None:
            raise ProtocolError(
                f"{spec.id} pseudonymises {d.source!r}: a pseudonymisation key is required"
            )
        identifier = d.compute(source_value)
        claims[d.claim] = (
            [key_of_epoch.pseudonym(i) for i in identifier]
            if isinstance(identifier, list)
            else key_of_epoch.pseudonym(identifier)
        )
        epoch = key_of_epoch.epoch
    return epoch


def make_view(sd_jwt: str, granted: Iterable[str]) -> str:
    """Keep the disclosures of the top-level claims in ``granted`` (and all below them).

    Works on any view, so a relay can only narrow what it received. The issuer
    signature is not checked here: a view is only as good as its verification.
    """
    compact = CompactSdJwt.parse(sd_jwt)
    keep = frozenset(granted)
    return _cut_view(compact, decode_jws(compact.jwt), keep)


def _cut_view(compact: CompactSdJwt, jws: Jws, keep: frozenset[str]) -> str:
    """:func:`make_view` on an SD-JWT already split and decoded."""
    _, landed = process_encoded(jws.payload, compact.disclosures)
    kept = [e for e, path in zip(compact.disclosures, landed, strict=True) if path[0] in keep]
    return compact.with_disclosures(kept).serialize()


def recipient_view(sd_jwt: str, manifest: Manifest, recipient: str) -> str:
    """The view ``recipient`` is entitled to under the manifest's policy."""
    compact = CompactSdJwt.parse(sd_jwt)
    jws = decode_jws(compact.jwt)
    schema = jws.payload.get("sch")
    if not isinstance(schema, str):
        raise MalformedPacket("packet has no schema claim 'sch'")
    manifest.participant(recipient)
    keep = frozenset(manifest.sharing.granted_claims(get_schema(schema), recipient))
    # make_view without splitting and decoding the same text again (a tenth of its cost)
    return _cut_view(compact, jws, keep)


def stored_epoch(raw: str) -> str | None:
    """The pseudonym epoch ``pse`` that a packet or view names, read without verifying.

    For showing packets that were verified when they were stored; never for trust.
    Raises :class:`MalformedPacket` if ``raw`` is not an SD-JWT.
    """
    pse = decode_jws(CompactSdJwt.parse(raw).jwt).payload.get("pse")
    return pse if is_epoch_name(pse) else None


class _Token:
    pass


_VERIFIED = _Token()


@dataclass(frozen=True)
class VerifiedPacket:
    """A view whose every check passed; only :func:`verify_view` makes one."""

    iss: str
    kid: str
    jti: str
    iat: datetime
    sch: str
    hc: str
    hcr: str | None
    #: the pseudonym epoch (``pse``): pseudonymised claims link only within one epoch
    pse: str | None
    ref: PacketRef
    claims: Mapping[str, Any]
    disclosed: frozenset[str]
    raw: str
    _token: _Token | None = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a VerifiedPacket is made only by protocol.packet.verify_view")

    def summary(self) -> dict[str, Any]:
        """The JSON form printed by ``clearinghouse packet verify``."""
        out: dict[str, Any] = {
            "iss": self.iss,
            "jti": self.jti,
            "sch": self.sch,
            "hc": self.hc,
            "ref": self.ref.as_dict(),
            "claims": dict(self.claims),
        }
        if self.hcr:
            out["hcr"] = self.hcr
        if self.pse:
            out["pse"] = self.pse
        return out


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise MalformedPacket(f"packet lacks {name!r} (or it is not a string)")
    return value


def verify_view(
    raw: str,
    manifest: Manifest,
    *,
    recipient: str | None,
    now: datetime,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedPacket:
    """Verify a packet or view; return what it verifiably discloses.

    With ``recipient`` given, also refuse over-disclosure under the manifest's
    policy. Raises a :class:`ProtocolError` subclass naming what failed.
    """
    # Plan:
    # (1) split the compact SD-JWT; refuse a Key Binding JWT;
    # (2) decode the JWT; header typ and alg; the always-visible claims' types,
    #     jti a canonical UUID;
    # (3) the issuer's key: a participant, its key kid valid and unrevoked at iat;
    #     iat not in the future beyond the clock skew;
    # (4) the issuer signature;
    # (5) _sd_alg, then every disclosure's digest present exactly once, no
    #     duplicate claims (RFC 9901 §7.1);
    # (6) the disclosed subset against the schema; pseudonymised claims only with
    #     the epoch ``pse`` that says which references may be linked;
    # (7) for a recipient: nothing disclosed that its policy withholds.
    # (1): split
    compact = CompactSdJwt.parse(raw)
    # (2): header and visible claims
    jws = decode_jws(compact.jwt)
    visible = _visible_claims(jws.header, jws.payload)
    # (3): issuer key at iat
    _check_not_in_future(visible.issued_at, now, max_clock_skew)
    public_key = signing_key(manifest, visible.iss, visible.kid, visible.issued_at)
    # (4): signature
    verify_jws(jws, public_key)
    # (5): disclosures
    claims = _disclosed_claims(jws.payload, compact.disclosures)
    # (6): schema, and the epoch of any pseudonym
    visible.spec.validate_disclosed(claims)
    if visible.pse is None:
        _check_no_pseudonyms(visible.spec, claims)
    # (7): policy
    if recipient is not None:
        manifest.participant(recipient)
        manifest.sharing.check_disclosed(visible.spec, recipient, claims)
    return VerifiedPacket(
        iss=visible.iss,
        kid=visible.kid,
        jti=visible.jti,
        iat=visible.issued_at,
        sch=visible.sch,
        hc=visible.hc,
        hcr=visible.hcr,
        pse=visible.pse,
        ref=packet_ref(visible.jti, compact.jwt),
        claims=MappingProxyType(claims),
        disclosed=frozenset(claims),
        raw=raw,
        _token=_VERIFIED,
    )


@dataclass(frozen=True)
class _VisibleClaims:
    """What a packet's header and always-visible claims say, each of the right form."""

    kid: str
    iss: str
    jti: str
    sch: str
    hc: str
    hcr: Any  # a string in an H3 packet; anything but a string in any other
    pse: Any  # a well-formed epoch name, or None if the packet names none
    issued_at: datetime
    spec: SchemaSpec


def _visible_claims(header: Mapping[str, Any], payload: Mapping[str, Any]) -> _VisibleClaims:
    """Step (2) of :func:`verify_view`: the header's ``typ``, ``alg`` and ``kid``, and
    the always-visible claims (``pse``, if present, a well-formed epoch name); the
    schema named must be known. Raises :class:`MalformedPacket` or
    :class:`UnknownSchema`."""
    if header.get("typ") != PACKET_TYP:
        raise MalformedPacket(f"JWT typ is {header.get('typ')!r}, expected {PACKET_TYP!r}")
    if header.get("alg") != "EdDSA":
        raise MalformedPacket(f"JWT alg is {header.get('alg')!r}; only EdDSA is accepted")
    kid = _text(header, "kid")
    iss, jti, sch, hc = (_text(payload, k) for k in ("iss", "jti", "sch", "hc"))
    hcr, pse = payload.get("hcr"), payload.get("pse")
    issued_at = numeric_date(payload.get("iat"), "iat")
    if hc not in HANDLING_CODES:
        raise MalformedPacket(f"handling code {hc!r} is not one of {HANDLING_CODES}")
    if (hc == "H3") != isinstance(hcr, str):
        raise MalformedPacket("an H3 packet carries its restriction 'hcr', and only H3 does")
    if "pse" in payload and not is_epoch_name(pse):
        raise MalformedPacket(f"pseudonym epoch 'pse' {str(pse)[:80]!r} is not a valid epoch name")
    spec = get_schema(sch)
    if not _JTI.fullmatch(jti):
        raise MalformedPacket(f"packet 'jti' {jti[:80]!r} is not a UUID (lowercase, canonical)")
    return _VisibleClaims(kid, iss, jti, sch, hc, hcr, pse, issued_at, spec)


def _check_not_in_future(issued_at: datetime, now: datetime, max_clock_skew: timedelta) -> None:
    """Step (3) of :func:`verify_view`, the clock: raises :class:`IssuedInFuture` with
    how many seconds too early (at least 1) for a packet issued beyond the skew."""
    if issued_at > now + max_clock_skew:
        ahead = issued_at - (now + max_clock_skew)
        raise IssuedInFuture(
            f"packet is issued at {issued_at.isoformat()}, in the future (beyond the allowed "
            f"clock skew of {int(max_clock_skew.total_seconds())} s by "
            f"{ahead.total_seconds():.0f} s)",
            ahead=max(1, math.ceil(ahead.total_seconds())),
        )


def _disclosed_claims(payload: dict[str, Any], encoded: Iterable[str]) -> dict[str, Any]:
    """Step (5) of :func:`verify_view`: the claims the disclosures reveal (without the
    always-visible ones), each disclosure's digest present exactly once, no claim twice.
    Raises :class:`MalformedPacket`."""
    if payload.get("_sd_alg") != SD_ALG:
        raise MalformedPacket(f"_sd_alg is {payload.get('_sd_alg')!r}, only {SD_ALG} is used")
    processed, _ = process_encoded(payload, encoded)
    return {k: v for k, v in processed.items() if k not in _ALWAYS_VISIBLE}


def _check_no_pseudonyms(spec: SchemaSpec, claims: Mapping[str, Any]) -> None:
    """Step (6) of :func:`verify_view` for a packet that names no epoch: a pseudonym
    can be linked only within its epoch, so one without it is refused."""
    pseudonymised = sorted(
        name
        for name in claims
        if (d := spec.derived_claim(name)) is not None and d.treatment == "pseudonymise"
    )
    if pseudonymised:
        raise MalformedPacket(
            f"packet discloses pseudonymised {', '.join(pseudonymised)} but names no "
            "pseudonym epoch 'pse'"
        )
