"""Bounded witnessing: who witnesses whose log (``protocol.witnessing``) and the
manifest's optional ``witnesses`` field.

The default assignment gives every log min(k, n-1) witnesses and every participant
about k logs to witness, for any federation size; a declared list is honoured for that
log only; a bad declaration is refused; a manifest without the field keeps its bytes
(the known-answer digests computed before either optional field existed).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from clearinghouse.protocol.errors import ManifestRejected, UnknownIssuer
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    build_manifest,
    manifest_json,
    parse_manifest,
    verify_manifest,
)
from clearinghouse.protocol.manifest_changes import describe_changes, propose
from clearinghouse.protocol.witnessing import (
    ALL_WHILE_AT_MOST,
    DEFAULT_K,
    co_witnesses,
    witnessed_by,
    witnesses_of,
)
from tests.protocol.test_manifest_originates import (
    CONFIG,
    FILE_SHA256,
    NOW,
    SIGNING_INPUT_SHA256,
    signed,
)
from tests.support import seeded_key

ISSUED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def jwk(participant: str) -> dict[str, Any]:
    return public_jwk(seeded_key(participant))


def federation(ids: list[str], **declared: list[str]) -> Manifest:
    """An unsigned manifest of ``ids`` (in that order), with ``declared`` witnesses."""
    config = {
        "federation": "ring",
        "quorum": 1,
        "participants": [
            {"id": p, "name": p, "base_url": f"http://127.0.0.1:{9000 + i}"}
            | ({"witnesses": declared[p]} if p in declared else {})
            for i, p in enumerate(ids)
        ],
    }
    return build_manifest(config, {p: [jwk(p)] for p in ids}, issued_at=ISSUED_AT)


def ids_of(n: int) -> list[str]:
    # not in sorted order as listed: the ring is by id, whatever the manifest's order
    return [f"p{i:02d}" for i in reversed(range(n))]


# --- the default assignment -----------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 21))
def test_every_log_gets_min_k_witnesses_and_every_participant_witnesses_about_k(
    n: int,
) -> None:
    manifest = federation(ids_of(n))
    ids = manifest.participant_ids
    k = n - 1 if n <= ALL_WHILE_AT_MOST else DEFAULT_K
    load: Counter[str] = Counter()
    for p in ids:
        witnesses = witnesses_of(manifest, p)
        assert len(witnesses) == len(set(witnesses)) == k
        assert p not in witnesses and set(witnesses) <= set(ids)
        load.update(witnesses)
    for w in ids:
        logs = witnessed_by(manifest, w)
        assert len(logs) == k == load[w]  # exactly k each when none declares
        assert list(logs) == sorted(logs)
        assert all(w in witnesses_of(manifest, p) for p in logs)  # the two agree
        assert all(p in logs for p in ids if w in witnesses_of(manifest, p))


def test_all_others_witness_while_the_federation_is_small() -> None:
    manifest = federation(["d", "a", "c", "b"])
    assert witnesses_of(manifest, "c") == ("a", "b", "d")
    assert witnessed_by(manifest, "a") == ("b", "c", "d")


def test_the_ring_is_by_sorted_id_and_the_same_whatever_the_listed_order() -> None:
    ids = ["a", "b", "c", "d", "e", "f"]
    manifest = federation(ids)
    assert witnesses_of(manifest, "a") == ("b", "c", "d")
    assert witnesses_of(manifest, "e") == ("f", "a", "b")
    assert witnessed_by(manifest, "a") == ("d", "e", "f")
    shuffled = federation(["e", "c", "a", "f", "b", "d"])
    for p in ids:
        assert witnesses_of(shuffled, p) == witnesses_of(manifest, p)
        assert witnessed_by(shuffled, p) == witnessed_by(manifest, p)


def test_a_declared_list_is_honoured_for_that_log_only() -> None:
    manifest = federation(["a", "b", "c", "d", "e", "f"], a=["f", "e"])
    assert witnesses_of(manifest, "a") == ("f", "e")
    assert witnesses_of(manifest, "b") == ("c", "d", "e")  # the ring, unchanged
    assert witnessed_by(manifest, "f") == ("a", "c", "d", "e")  # a's declared, plus the ring's
    assert witnessed_by(manifest, "b") == ("e", "f")  # no longer a's
    # a small federation: a declaration narrows "all others" too
    small = federation(["a", "b", "c"], b=["c"])
    assert witnesses_of(small, "b") == ("c",)
    assert witnessed_by(small, "a") == ("c",)
    assert witnessed_by(small, "c") == ("a", "b")


def test_a_stranger_is_refused() -> None:
    manifest = federation(["a", "b"])
    with pytest.raises(UnknownIssuer):
        witnesses_of(manifest, "z")
    with pytest.raises(UnknownIssuer):
        witnessed_by(manifest, "z")


# --- the manifest field -----------------------------------------------------------------


def test_a_manifest_without_the_field_keeps_its_bytes_and_signatures() -> None:
    manifest = signed(CONFIG)
    assert hashlib.sha256(manifest.signing_input()).hexdigest() == SIGNING_INPUT_SHA256
    assert hashlib.sha256(manifest_json(manifest)).hexdigest() == FILE_SHA256
    assert b"witnesses" not in manifest_json(manifest)
    again = parse_manifest(manifest_json(manifest))
    assert verify_manifest(again, now=NOW) is again
    assert all(p.witnesses is None for p in again.participants)
    assert witnesses_of(again, "mission") == ("dpa",)


def test_the_field_round_trips_and_is_signed() -> None:
    config = copy.deepcopy(CONFIG)
    config["participants"][0]["witnesses"] = ["dpa"]
    manifest = signed(config)
    again = parse_manifest(manifest_json(manifest))
    assert again.participant("mission").witnesses == ("dpa",)
    assert again.signing_input() == manifest.signing_input() != signed(CONFIG).signing_input()
    verify_manifest(again, now=NOW)
    doc = json.loads(manifest_json(manifest))
    del doc["participants"][0]["witnesses"]
    with pytest.raises(ManifestRejected, match="does not verify"):
        verify_manifest(parse_manifest(doc), now=NOW)


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (["c", "a"], "names itself"),
        (["b", "b"], "names a witness twice"),
        (["b", "stranger"], "not participants: stranger"),
        ([], "at least 1"),
        (["Not An Id"], "pattern"),
        ("b", "tuple"),
    ],
)
def test_a_bad_declaration_is_refused(declared: Any, message: str) -> None:
    doc = json.loads(manifest_json(federation(["a", "b", "c"])))
    doc["participants"][0]["witnesses"] = declared
    with pytest.raises(ManifestRejected, match=message):
        parse_manifest(doc)


def test_removing_a_declared_witness_strikes_it_from_the_declaration() -> None:
    held = federation(["a", "b", "c", "d", "e", "f"], a=["b", "c"], d=["c"])
    successor = propose(held, now=NOW, remove_participants=["c"])
    assert successor.participant("a").witnesses == ("b",)
    assert successor.participant("d").witnesses is None  # none left: the default
    assert witnesses_of(successor, "d") == ("e", "f", "a")
    assert "~ participant a: witnesses [b, c] -> [b]" in describe_changes(held, successor)


def test_co_witnesses_are_the_peers_sharing_a_log_and_the_logs_they_share() -> None:
    manifest = federation(["a", "b", "c", "d", "e", "f"])
    # d witnesses a, b, c; a's witnesses b c d, b's c d e, c's d e f
    assert witnessed_by(manifest, "d") == ("a", "b", "c")
    assert co_witnesses(manifest, "d") == {
        "b": ("a",),
        "c": ("a", "b"),
        "e": ("b", "c"),
        "f": ("c",),
    }
    for n in (5, 8, 20):  # bounded: at most 2(k-1) peers to gossip with, whatever n
        big = federation(ids_of(n))
        for w in big.participant_ids:
            peers = co_witnesses(big, w)
            assert len(peers) == 2 * (DEFAULT_K - 1)
            for other, logs in peers.items():
                assert logs == tuple(
                    sorted(set(witnessed_by(big, w)) & set(witnessed_by(big, other)))
                )
    small = federation(["a", "b", "c"])
    assert co_witnesses(small, "a") == {"b": ("c",), "c": ("b",)}
