"""Pseudonym key epochs: the always-visible ``pse`` claim, its checks, and linkability.

References made under one epoch's key link with each other and with nothing of
another epoch; every packet that carries pseudonymised claims names its epoch, and
a view that discloses a pseudonym without naming the epoch is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode
from clearinghouse.protocol.errors import MalformedPacket, ProtocolError
from clearinghouse.protocol.packet import (
    IssuedPacket,
    VerifiedPacket,
    issue_packet,
    make_view,
    recipient_view,
    stored_epoch,
    verify_view,
)
from clearinghouse.protocol.pseudonyms import PseudonymKey, derived_epoch, is_epoch_name, pseudonym
from clearinghouse.protocol.sdjwt import CompactSdJwt, sign_jws
from tests.support import NOW, PARTICIPANTS, Federation

CONFLICT = "conflict-event/1"
OTHER_KEY = hashlib.sha256(b"the next epoch's key").digest()


def issue(
    fed: Federation, record: dict[str, Any], schema: str = CONFLICT, **kw: Any
) -> IssuedPacket:
    issuer = {CONFLICT: "mission", "market-price/1": "undp", "seizure/1": "unodc"}[schema]
    return issue_packet(
        record,
        schema=schema,
        issuer=issuer,
        key=fed.keys[issuer],
        kid=fed.kid(issuer),
        now=NOW,
        pseudonym_key=kw.pop("pseudonym_key", fed.pseudonym_key),
        pseudonym_epoch=kw.pop("pseudonym_epoch", fed.pseudonym_epoch),
        **kw,
    )


def verify(fed: Federation, raw: str, recipient: str | None = None) -> VerifiedPacket:
    return verify_view(raw, fed.manifest, recipient=recipient, now=NOW)


def resigned(fed: Federation, raw: str, change: Callable[[dict[str, Any]], None]) -> str:
    """``raw`` with its payload changed and signed again by its issuer (a buggy issuer)."""
    compact = CompactSdJwt.parse(raw)
    h, p, _ = compact.jwt.split(".")
    header, payload = json.loads(b64url_decode(h)), json.loads(b64url_decode(p))
    change(payload)
    jwt = sign_jws(header, payload, fed.keys[payload["iss"]])
    return CompactSdJwt(jwt, compact.disclosures).serialize()


def test_a_packet_with_pseudonyms_names_its_epoch_in_every_view(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, example_records[CONFLICT])
    assert packet.pse == "2026-11" and "side_a_ref" in packet.claims
    assert verify(federation, packet.sd_jwt).summary()["pse"] == "2026-11"
    for recipient in PARTICIPANTS:
        view = recipient_view(packet.sd_jwt, federation.manifest, recipient)
        got = verify(federation, view, recipient)
        # Always visible: also in a view that discloses no reference at all (undp).
        assert got.pse == "2026-11" and stored_epoch(view) == "2026-11"
        assert "pse" not in got.claims


def test_a_packet_without_pseudonyms_has_no_epoch(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, example_records["market-price/1"], "market-price/1")
    assert packet.pse is None and stored_epoch(packet.sd_jwt) is None
    got = verify(federation, packet.sd_jwt)
    assert got.pse is None and "pse" not in got.summary()
    # Nor a seizure that names no persons (its one pseudonymised field is absent).
    seizure = issue(federation, example_records["seizure/1"], "seizure/1")
    assert "persons" not in seizure.claims and seizure.pse is None


def test_references_link_within_an_epoch_and_not_across(
    federation: Federation, example_records: dict
) -> None:
    record = dict(example_records[CONFLICT])
    first = verify(federation, issue(federation, record).sd_jwt)
    record["side_a"] = "  " + record["side_a"].upper() + " "
    same_epoch = verify(federation, issue(federation, record).sd_jwt)
    next_epoch = verify(
        federation,
        issue(federation, record, pseudonym_key=OTHER_KEY, pseudonym_epoch="2027-01").sd_jwt,
    )
    assert first.pse == same_epoch.pse == "2026-11" and next_epoch.pse == "2027-01"
    assert first.claims["side_a_ref"] == same_epoch.claims["side_a_ref"]
    assert first.claims["side_a_ref"] != next_epoch.claims["side_a_ref"]
    assert first.claims["side_b_ref"] != next_epoch.claims["side_b_ref"]
    assert next_epoch.claims["side_a_ref"] == pseudonym(OTHER_KEY, record["side_a"])
    assert (
        PseudonymKey("2027-01", OTHER_KEY).pseudonym(record["side_a"])
        == (next_epoch.claims["side_a_ref"])
    )


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "été", "a/b", "2026-11\n", "a:b", "~"])
def test_issue_refuses_a_malformed_epoch_name(
    federation: Federation, example_records: dict, name: str
) -> None:
    assert not is_epoch_name(name)
    with pytest.raises(ProtocolError, match="pseudonym epoch"):
        issue(federation, example_records[CONFLICT], pseudonym_epoch=name)
    with pytest.raises(ProtocolError, match="pseudonym epoch"):
        PseudonymKey(name, OTHER_KEY)


@pytest.mark.parametrize("name", ["x", "x" * 64, "2026-11-30", "e-AbC_9.z", "Q4.2026_b"])
def test_well_formed_epoch_names(federation: Federation, example_records: dict, name: str) -> None:
    assert issue(federation, example_records[CONFLICT], pseudonym_epoch=name).pse == name


def test_a_pseudonymisation_key_needs_its_epoch(
    federation: Federation, example_records: dict
) -> None:
    with pytest.raises(ProtocolError, match="epoch"):
        issue(federation, example_records[CONFLICT], pseudonym_epoch=None)
    with pytest.raises(ProtocolError, match="epoch"):  # even where no pseudonym is made
        issue(federation, example_records["market-price/1"], "market-price/1", pseudonym_epoch=None)
    with pytest.raises(ProtocolError, match="pseudonymisation key is required"):
        issue(federation, example_records[CONFLICT], pseudonym_key=None)


def test_verify_refuses_pseudonyms_without_an_epoch(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, example_records[CONFLICT])
    unnamed = resigned(federation, packet.sd_jwt, lambda p: p.pop("pse"))
    with pytest.raises(MalformedPacket, match=r"side_a_ref.*no pseudonym epoch 'pse'"):
        verify(federation, unnamed)
    unodc = recipient_view(unnamed, federation.manifest, "unodc")
    with pytest.raises(MalformedPacket, match="no pseudonym epoch"):
        verify(federation, unodc, "unodc")
    # A view of the same packet that discloses no pseudonym is still valid.
    undp = recipient_view(unnamed, federation.manifest, "undp")
    assert verify(federation, undp, "undp").pse is None
    assert verify(federation, make_view(unnamed, {"event_id", "country"})).pse is None


@pytest.mark.parametrize("bad", [5, "", "two words", "x" * 65, None, ["2026-11"]])
def test_verify_refuses_a_malformed_epoch(
    federation: Federation, example_records: dict, bad: Any
) -> None:
    packet = issue(federation, example_records[CONFLICT])
    if bad is None:
        raw = resigned(federation, packet.sd_jwt, lambda p: p.update(pse=None))
    else:
        raw = resigned(federation, packet.sd_jwt, lambda p: p.update(pse=bad))
    with pytest.raises(MalformedPacket, match="pse"):
        verify(federation, raw)


def test_the_epoch_is_covered_by_the_issuer_signature(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, example_records[CONFLICT])
    compact = CompactSdJwt.parse(packet.sd_jwt)
    h, p, s = compact.jwt.split(".")
    payload = json.loads(b64url_decode(p))
    payload["pse"] = "2027-01"
    forged_jwt = f"{h}.{b64url_encode(json.dumps(payload).encode())}.{s}"
    with pytest.raises(ProtocolError):
        verify(federation, CompactSdJwt(forged_jwt, compact.disclosures).serialize())


def test_derived_epoch_known_answer() -> None:
    key = hashlib.sha256(b"pseudonym key").digest()
    expected = hashlib.sha256(b"clearinghouse pseudonym epoch\x00" + key).digest()
    assert derived_epoch(key) == "e-" + b64url_encode(expected)[:10] == "e-m0vYsRPu7E"
    assert PseudonymKey.unnamed(key) == PseudonymKey("e-m0vYsRPu7E", key)
    assert derived_epoch(OTHER_KEY) != derived_epoch(key)
    assert is_epoch_name(derived_epoch(OTHER_KEY))


def test_a_pseudonym_key_never_shows_its_key() -> None:
    shown = repr(PseudonymKey("2026-11", OTHER_KEY)) + str(PseudonymKey("2026-11", OTHER_KEY))
    assert "2026-11" in shown
    assert b64url_encode(OTHER_KEY) not in shown and repr(OTHER_KEY) not in shown
    with pytest.raises(ProtocolError, match="empty"):
        PseudonymKey("2026-11", b"")


def test_stored_epoch_refuses_what_is_no_packet() -> None:
    with pytest.raises(MalformedPacket):
        stored_epoch("not a packet")
