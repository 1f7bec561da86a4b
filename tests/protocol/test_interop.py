"""Interoperability: our packets and views verify with the SD-JWT reference implementation.

The ``sd-jwt`` package (openwallet-foundation-labs/sd-jwt-python) is the reference
implementation of RFC 9901; it verifies the EdDSA signature with jwcrypto and
reconstructs the disclosed claims on its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from jwcrypto.jws import InvalidJWSSignature
from sd_jwt.verifier import SDJWTVerifier

from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.packet import issue_packet, recipient_view, verify_view
from clearinghouse.protocol.schemas import get_schema
from tests.support import NOW, PARTICIPANTS, Federation

ISSUER = {
    "conflict-event/1": "mission",
    "seizure/1": "unodc",
    "market-price/1": "undp",
    "financial-flow/1": "unodc",
    "analysis-result/1": "dpa",
}


def reference_verify(fed: Federation, raw: str) -> dict[str, Any]:
    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        jwk = public_jwk(fed.keys[issuer])
        assert header["kid"] == jwk["kid"]
        return JWK.from_json(json.dumps(jwk))

    return SDJWTVerifier(raw, issuer_key).get_verified_payload()


@pytest.mark.parametrize("schema", sorted(ISSUER))
def test_reference_implementation_verifies_every_view(
    federation: Federation, example_records: dict, schema: str
) -> None:
    issuer = ISSUER[schema]
    packet = issue_packet(
        example_records[schema],
        schema=schema,
        issuer=issuer,
        key=federation.keys[issuer],
        kid=federation.kid(issuer),
        now=NOW,
        pseudonym_key=federation.pseudonym_key,
        pseudonym_epoch=federation.pseudonym_epoch,
        decoys=4,
    )
    for recipient in (None, *PARTICIPANTS):
        raw = (
            packet.sd_jwt
            if recipient is None
            else recipient_view(packet.sd_jwt, federation.manifest, recipient)
        )
        ours = verify_view(raw, federation.manifest, recipient=recipient, now=NOW)
        theirs = reference_verify(federation, raw)
        visible = {"iss", "jti", "iat", "sch", "hc", "pse"}
        assert {k: v for k, v in theirs.items() if k not in visible} == dict(ours.claims)
        assert theirs["iss"] == issuer and theirs["jti"] == ours.jti
        # The pseudonym epoch is a plain visible claim to any RFC 9901 verifier.
        assert theirs.get("pse") == ours.pse == packet.pse
    spec = get_schema(schema)
    has_pseudonyms = any(
        d.treatment == "pseudonymise" and d.claim in packet.claims for d in spec.derivations
    )
    assert (packet.pse == federation.pseudonym_epoch) == has_pseudonyms


def test_reference_implementation_rejects_our_tampered_signature(
    federation: Federation, example_records: dict
) -> None:
    packet = issue_packet(
        example_records["market-price/1"],
        schema="market-price/1",
        issuer="undp",
        key=federation.keys["undp"],
        kid=federation.kid("undp"),
        now=NOW,
    )
    jwt, rest = packet.sd_jwt.split("~", 1)
    head, payload, sig = jwt.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA~{rest}"
    with pytest.raises(InvalidJWSSignature):
        reference_verify(federation, forged)
