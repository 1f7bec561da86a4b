"""Packets: a record signed once as an SD-JWT, viewed per recipient, verified by anyone.

DESIGN.md, "Packets". :func:`issue_packet` validates a record against its schema,
adds the derived claims (pseudonyms under the pseudonymisation key, generalised
values), conceals every claim recursively and signs the JWT with the issuer's
Ed25519 key. :func:`make_view` keeps only the disclosures of the claims a
recipient is granted (the signature is untouched, so one signature serves every
recipient and a relay can only remove). :func:`verify_view` is the only way to a
:class:`VerifiedPacket`.

Always-visible claims: ``iss``, ``jti`` (UUIDv7), ``iat``, ``sch``, ``hc`` (and
``hcr``, the free-text restriction of an H3 packet), ``_sd_alg``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.encoding import b64url_encode
from protocol.errors import MalformedPacket, ProtocolError
from protocol.ids import uuid7
from protocol.manifest import Manifest, signing_key
from protocol.schemas import get_schema
from protocol.sdjwt import (
    SD_ALG,
    CompactSdJwt,
    conceal_by_claim,
    decode_jws,
    parse_disclosure,
    process,
    sign_jws,
    verify_jws,
)

__all__ = [
    "HANDLING_CODES",
    "PACKET_TYP",
    "IssuedPacket",
    "PacketRef",
    "VerifiedPacket",
    "issue_packet",
    "make_view",
    "normalise_identifier",
    "packet_ref",
    "pseudonym",
    "recipient_view",
    "verify_view",
]

PACKET_TYP = "clearinghouse-packet+sd-jwt"
#: Europol-style handling codes: H0 no restriction, H1 no use in judicial
#: proceedings without the originator's consent, H2 no onward dissemination,
#: H3 other restriction (stated in ``hcr``).
HANDLING_CODES = ("H0", "H1", "H2", "H3")
_ALWAYS_VISIBLE = ("iss", "jti", "iat", "sch", "hc", "hcr")
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


def normalise_identifier(identifier: str) -> str:
    """The form hashed for a pseudonym: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", identifier).casefold().split())


def pseudonym(key: bytes, identifier: str) -> str:
    """HMAC-SHA-256 of the normalised identifier under ``key``, base64url."""
    mac = hmac.new(key, normalise_identifier(identifier).encode("utf-8"), hashlib.sha256)
    return b64url_encode(mac.digest())


def issue_packet(
    record: Mapping[str, Any],
    *,
    schema: str,
    issuer: str,
    key: Ed25519PrivateKey,
    kid: str,
    now: datetime,
    pseudonym_key: bytes | None = None,
    hc: str = "H0",
    hc_restriction: str | None = None,
    decoys: int = 0,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> IssuedPacket:
    """Sign ``record`` as a packet of ``schema`` with every claim disclosable.

    Raises :class:`SchemaViolation` or :class:`UnknownSchema` for a bad record and
    :class:`ProtocolError` for a bad handling code or a missing pseudonymisation key.
    """
    if hc not in HANDLING_CODES:
        raise ProtocolError(f"handling code {hc!r} is not one of {HANDLING_CODES}")
    if (hc == "H3") != bool(hc_restriction):
        raise ProtocolError("an H3 packet needs its restriction text, and only H3 has one")
    spec = get_schema(schema)
    claims = spec.validate_record(record)
    for d in spec.derivations:
        if d.source not in claims:
            continue
        source_value = claims[d.source]
        if d.treatment == "generalise":
            claims[d.claim] = d.compute(source_value)
            continue
        if not pseudonym_key:
            raise ProtocolError(
                f"{schema} pseudonymises {d.source!r}: a pseudonymisation key is required"
            )
        identifier = d.compute(source_value)
        claims[d.claim] = (
            [pseudonym(pseudonym_key, i) for i in identifier]
            if isinstance(identifier, list)
            else pseudonym(pseudonym_key, identifier)
        )
    digests, disclosures, by_claim = conceal_by_claim(claims, random_bytes, decoys=decoys)
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
    payload["_sd"] = digests
    payload["_sd_alg"] = SD_ALG
    jwt = sign_jws({"alg": "EdDSA", "typ": PACKET_TYP, "kid": kid}, payload, key)
    sd_jwt = CompactSdJwt(jwt, tuple(d.encoded for d in disclosures)).serialize()
    return IssuedPacket(
        sd_jwt=sd_jwt,
        ref=packet_ref(jti, jwt),
        schema=schema,
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        hc=hc,
        hcr=hc_restriction,
        claims=MappingProxyType(claims),
        disclosures_by_claim=MappingProxyType(by_claim),
    )


def make_view(sd_jwt: str, granted: Iterable[str]) -> str:
    """Keep the disclosures of the top-level claims in ``granted`` (and all below them).

    Works on any view, so a relay can only narrow what it received. The issuer
    signature is not checked here: a view is only as good as its verification.
    """
    compact = CompactSdJwt.parse(sd_jwt)
    keep = frozenset(granted)
    jws = decode_jws(compact.jwt)
    disclosures = [parse_disclosure(e) for e in compact.disclosures]
    _, landed = process(jws.payload, disclosures)
    kept = [d.encoded for d in disclosures if landed[d.digest][0] in keep]
    return compact.with_disclosures(kept).serialize()


def recipient_view(sd_jwt: str, manifest: Manifest, recipient: str) -> str:
    """The view ``recipient`` is entitled to under the manifest's policy."""
    compact = CompactSdJwt.parse(sd_jwt)
    schema = decode_jws(compact.jwt).payload.get("sch")
    if not isinstance(schema, str):
        raise MalformedPacket("packet has no schema claim 'sch'")
    manifest.participant(recipient)
    return make_view(sd_jwt, manifest.sharing.granted_claims(get_schema(schema), recipient))


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
    ref: PacketRef
    claims: Mapping[str, Any]
    disclosed: frozenset[str]
    raw: str
    _token: _Token = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

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
    # (2) decode the JWT; header typ and alg; the always-visible claims' types;
    # (3) the issuer's key: a participant, its key kid valid and unrevoked at iat;
    #     iat not in the future beyond the clock skew;
    # (4) the issuer signature;
    # (5) _sd_alg, then every disclosure's digest present exactly once, no
    #     duplicate claims (RFC 9901 §7.1);
    # (6) the disclosed subset against the schema;
    # (7) for a recipient: nothing disclosed that its policy withholds.
    # (1): split
    compact = CompactSdJwt.parse(raw)
    # (2): header and visible claims
    jws = decode_jws(compact.jwt)
    header, payload = jws.header, jws.payload
    if header.get("typ") != PACKET_TYP:
        raise MalformedPacket(f"JWT typ is {header.get('typ')!r}, expected {PACKET_TYP!r}")
    if header.get("alg") != "EdDSA":
        raise MalformedPacket(f"JWT alg is {header.get('alg')!r}; only EdDSA is accepted")
    kid = _text(header, "kid")
    iss, jti, sch, hc = (_text(payload, k) for k in ("iss", "jti", "sch", "hc"))
    iat, hcr = payload.get("iat"), payload.get("hcr")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise MalformedPacket("packet 'iat' is not an integer timestamp")
    if hc not in HANDLING_CODES:
        raise MalformedPacket(f"handling code {hc!r} is not one of {HANDLING_CODES}")
    if (hc == "H3") != isinstance(hcr, str):
        raise MalformedPacket("an H3 packet carries its restriction 'hcr', and only H3 does")
    spec = get_schema(sch)
    # (3): issuer key at iat
    issued_at = datetime.fromtimestamp(iat, UTC)
    if issued_at > now + max_clock_skew:
        raise MalformedPacket(f"packet is issued at {issued_at.isoformat()}, in the future")
    public_key = signing_key(manifest, iss, kid, issued_at)
    # (4): signature
    verify_jws(jws, public_key)
    # (5): disclosures
    if payload.get("_sd_alg") != SD_ALG:
        raise MalformedPacket(f"_sd_alg is {payload.get('_sd_alg')!r}, only {SD_ALG} is used")
    disclosures = [parse_disclosure(e) for e in compact.disclosures]
    processed, _ = process(payload, disclosures)
    claims = {k: v for k, v in processed.items() if k not in _ALWAYS_VISIBLE}
    # (6): schema
    spec.validate_disclosed(claims)
    # (7): policy
    if recipient is not None:
        manifest.participant(recipient)
        manifest.sharing.check_disclosed(spec, recipient, claims)
    return VerifiedPacket(
        iss=iss,
        kid=kid,
        jti=jti,
        iat=issued_at,
        sch=sch,
        hc=hc,
        hcr=hcr,
        ref=packet_ref(jti, compact.jwt),
        claims=MappingProxyType(claims),
        disclosed=frozenset(claims),
        raw=raw,
        _token=_VERIFIED,
    )
