"""Audit log entries (canonical, strict) and :class:`LogVerifier` on good and tampered logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.audit import (
    ACTS,
    RESERVED,
    Act,
    CheckpointCheck,
    LogVerifier,
    audit_origin,
    covered_jtis,
    encode_entry,
    format_time,
    log_keys,
    parse_entry,
    witness_keys,
    witness_name,
)
from clearinghouse.protocol.encoding import canonical_json
from clearinghouse.protocol.errors import (
    AuditEntryMalformed,
    AuditError,
    AuditLogInvalid,
    ProtocolError,
)
from clearinghouse.protocol.merkle import MemoryTree, consistency_proof_from, leaf_hash
from clearinghouse.protocol.notes import (
    COSIGNATURE_V1,
    ED25519,
    Verifier,
    add_signatures,
    checkpoint_text,
    cosign,
    cosignature_vkey,
    ed25519_vkey,
    parse_vkey,
    sign_note,
)
from tests.support import NOW, Federation, seeded_key

FED = "test-federation"
ORIGIN = audit_origin(FED, "dpa")
LOG_KEY = seeded_key("dpa audit log")
WITNESSES = {p: seeded_key(f"{p} witness") for p in ("mission", "unodc")}
COSIGNED_AT = 1_790_000_000


def _vkey(key: Ed25519PrivateKey) -> Verifier:
    return parse_vkey(ed25519_vkey(ORIGIN, key.public_key()))


def _witness_vkeys() -> list[Verifier]:
    return [
        parse_vkey(cosignature_vkey(witness_name(FED, p), k.public_key()))
        for p, k in WITNESSES.items()
    ]


def _act(i: int) -> Act:
    """A varied act for entry ``i``."""
    kinds = [
        Act("view.queued", "node:dpa", peer="mission", jti=f"j{i}",
            fields={"digest": f"d{i}", "fields": ["a", "b"], "policy": "p"}),
        Act("view.sent", "node:dpa", peer="unodc", jti=f"j{i}",
            fields={"digest": f"d{i}", "via": "push"}),
        Act("key.loaded", "node:dpa", fields={"kid": f"k{i}"}),
        Act("record.rejected", "token:submitter", fields={"index": i, "code": "x", "reason": "y"}),
    ]  # fmt: skip
    return kinds[i % len(kinds)]


def _at(i: int) -> datetime:
    return NOW + timedelta(milliseconds=1500 * i)


def _body(seq: int, act: Act | None = None, at: datetime | None = None) -> bytes:
    return encode_entry(seq, at or _at(seq), act or _act(seq))


# --- entries: canonical bytes -------------------------------------------------------------


def test_encode_entry_known_answer() -> None:
    at = datetime(2026, 11, 29, 10, 0, 0, 123_999, tzinfo=UTC)
    act = Act(
        "view.queued",
        "node:unodc",
        peer="dpa",
        jti="abc",
        fields={"policy": "p", "fields": ["a", "b"], "digest": "d"},
    )
    assert encode_entry(41, at, act) == (
        b'{"act":"view.queued","actor":"node:unodc","digest":"d","fields":["a","b"],'
        b'"jti":"abc","peer":"dpa","policy":"p","seq":41,"time":"2026-11-29T10:00:00.123Z"}'
    )


def test_encode_entry_leaves_out_absent_peer_and_jti() -> None:
    body = encode_entry(0, NOW, Act("key.loaded", "node:dpa", fields={"kid": "k"}))
    assert json.loads(body) == {
        "act": "key.loaded",
        "actor": "node:dpa",
        "kid": "k",
        "seq": 0,
        "time": "2026-11-25T12:00:00.000Z",
    }


def test_format_time_is_utc_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 1, 2, 5, 6, 7, 890_123, tzinfo=plus_two)) == (
        "2026-01-02T03:06:07.890Z"
    )
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"
    with pytest.raises(AuditEntryMalformed, match="timezone"):
        format_time(datetime(2026, 1, 1))  # naive on purpose


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    # rfc8785 refuses integral floats beyond 2**53, so stay inside that range
    | st.floats(-(2.0**52), 2.0**52, allow_nan=False)
    | st.text(max_size=20)
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in RESERVED), _JSON, max_size=6
)


@st.composite
def _acts(draw: st.DrawFn) -> Act:
    return Act(
        act=draw(st.sampled_from(sorted(ACTS))),
        actor=draw(st.text(min_size=1, max_size=30)),
        peer=draw(st.none() | st.text(min_size=1, max_size=20)),
        jti=draw(st.none() | st.text(min_size=1, max_size=40)),
        fields=draw(_FIELDS),
    )


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(0, 2**53 - 1),
    at=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    act=_acts(),
)
def test_entries_are_canonical_and_round_trip(seq: int, at: datetime, act: Act) -> None:
    body = encode_entry(seq, at, act)
    assert canonical_json(json.loads(body)) == body  # RFC 8785, byte for byte
    assert encode_entry(seq, at, act) == body  # deterministic
    entry = parse_entry(body)
    assert (entry.seq, entry.time, entry.act, entry.actor, entry.peer, entry.jti) == (
        seq,
        format_time(at),
        act.act,
        act.actor,
        act.peer,
        act.jti,
    )
    assert {k: v for k, v in entry.body.items() if k not in RESERVED} == dict(act.fields)


def test_a_batch_entry_covers_its_jti_and_each_view_once_in_order() -> None:
    views = [{"jti": "j2", "digest": "d2"}, {"outcome": "rejected"}, {"jti": "j1"}, {"jti": "j2"}]
    act = Act("packet.received", "peer:dpa", peer="dpa", fields={"via": "push", "views": views})
    assert act.covers() == ("j2", "j1")
    single = Act("view.sent", "node:dpa", peer="undp", jti="j1", fields={"views": [{"jti": "j1"}]})
    assert single.covers() == ("j1",)
    assert Act("view.sent", "node:dpa", jti="old", fields={"digest": "d"}).covers() == ("old",)
    assert Act("key.loaded", "node:dpa", fields={"kid": "k"}).covers() == ()
    # the entry read back covers the same packets
    assert parse_entry(encode_entry(3, NOW, act)).covers() == ("j2", "j1")
    assert parse_entry(encode_entry(3, NOW, single)).covers() == ("j1",)


def test_covered_jtis_passes_over_what_is_not_a_view() -> None:
    # stored entries are read as signed: a body of another shape covers what it names
    assert covered_jtis("j0", {"views": "j1"}) == ("j0",)
    assert covered_jtis(None, {"views": [["j1"], {"jti": 7}, {"jti": ""}, {"jti": "j3"}]}) == (
        "j3",
    )


@pytest.mark.parametrize(
    ("views", "message"),
    [
        ({"jti": "j1"}, "views must be a list"),
        (["j1"], "each of views must be an object"),
        ([{"jti": ""}], "a view's jti"),
        ([{"jti": 7}], "a view's jti"),
    ],
    ids=["not-a-list", "not-objects", "empty-jti", "number-jti"],
)
def test_encode_entry_refuses_malformed_views(views: object, message: str) -> None:
    act = Act("view.sent", "node:dpa", peer="undp", fields={"via": "push", "views": views})
    with pytest.raises(AuditEntryMalformed, match=message):
        encode_entry(0, NOW, act)


def test_every_batch_act_describes_its_views() -> None:
    for name in ("view.queued", "view.sent", "packet.received"):
        assert "one entry per batch" in ACTS[name] and "views:" in ACTS[name], name


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_act_fields_may_not_use_reserved_names(name: str) -> None:
    act = Act("view.sent", "node:dpa", fields={"digest": "d", name: "sneaky"})
    with pytest.raises(AuditEntryMalformed, match=name):
        encode_entry(0, NOW, act)


def test_unknown_acts_are_refused() -> None:
    with pytest.raises(AuditEntryMalformed, match="unknown act"):
        encode_entry(0, NOW, Act("view.deleted", "node:dpa"))


def test_encode_entry_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ProtocolError):
        encode_entry(0, NOW, Act("view.sent", "node:dpa", fields={"x": float("nan")}))
    with pytest.raises(ProtocolError):
        encode_entry(0, NOW, Act("view.sent", "node:dpa", fields={"x": object()}))
    with pytest.raises(AuditEntryMalformed):
        encode_entry(0, datetime(2026, 1, 1), Act("view.sent", "node:dpa"))  # naive


@pytest.mark.parametrize(
    ("seq", "act"),
    [
        (0, Act("view.sent", "")),  # parse_entry: "actor missing"
        (-1, Act("view.sent", "node:dpa")),  # parse_entry: seq not a non-negative integer
    ],
    ids=["empty-actor", "negative-seq"],
)
def test_encode_entry_never_writes_an_entry_parse_entry_refuses(seq: int, act: Act) -> None:
    # Whatever encode_entry returns is appended to the log for good; an entry that
    # parse_entry refuses makes every later LogVerifier run fail at that seq.
    try:
        body = encode_entry(seq, NOW, act)
    except AuditEntryMalformed:
        return  # refused up front: fine
    parse_entry(body)


# --- entries: strict parsing --------------------------------------------------------------


def _good() -> dict[str, Any]:
    return json.loads(_body(3))  # type: ignore[no-any-return]


def _canon(**changes: Any) -> bytes:
    doc = _good()
    for key, value in changes.items():
        if value is _DROP:
            doc.pop(key)
        else:
            doc[key] = value
    return canonical_json(doc)


_DROP = object()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b'{"act":NaN}', "not JSON"),
        (_body(3).replace(b",", b", "), "canonical"),  # whitespace
        (json.dumps(_good(), sort_keys=False).encode(), "canonical"),
        (b'{"seq":3,' + _body(3)[1:], "canonical"),  # a duplicate key
        (_body(3).replace(b'"seq":3', b'"seq":3.0'), "canonical"),
        (_body(3) + b"\n", "canonical"),
        (_canon(seq=_DROP), "seq"),
        (_canon(seq=-1), "seq"),
        (_canon(seq="3"), "seq"),
        (_canon(seq=True), "seq"),
        (_canon(seq=None), "seq"),
        (_canon(act=_DROP), "unknown act"),
        (_canon(act="view.deleted"), "unknown act"),
        (_canon(act=1), "unknown act"),
        (_canon(actor=_DROP), "actor"),
        (_canon(actor=""), "actor"),
        (_canon(actor=7), "actor"),
        (_canon(time=_DROP), "time"),
        (_canon(time=1_700_000_000), "time"),
        (_canon(peer=5), "peer"),
        (_canon(peer=["mission"]), "peer"),
        (_canon(jti={"a": 1}), "jti"),
        (_canon(jti=12), "jti"),
    ],
)
def test_parse_entry_refuses(body: bytes, message: str) -> None:
    with pytest.raises(AuditEntryMalformed, match=message):
        parse_entry(body)


def test_parse_entry_refuses_deep_nesting_as_malformed() -> None:
    # A stored body is untrusted input to the verifier: whatever it is, parse_entry
    # answers AuditEntryMalformed, never a foreign exception.
    body = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(AuditEntryMalformed):
        parse_entry(body)


def test_audit_errors_are_protocol_errors() -> None:
    assert issubclass(AuditEntryMalformed, AuditError) and issubclass(AuditLogInvalid, AuditError)
    assert issubclass(AuditError, ProtocolError)
    assert AuditLogInvalid("x", seq=4).seq == 4 and AuditLogInvalid("x").seq is None
    assert len({AuditError.code, AuditEntryMalformed.code, AuditLogInvalid.code}) == 3


# --- keys from the manifest ---------------------------------------------------------------


def test_log_and_witness_keys_come_from_the_manifest(federation: Federation) -> None:
    manifest = federation.manifest
    (key,) = log_keys(manifest, "dpa")
    assert (key.name, key.type) == (audit_origin(manifest.federation, "dpa"), ED25519)
    assert key.public_key == federation.keys["dpa"].public_key().public_bytes_raw()
    witnesses = witness_keys(manifest, besides="dpa")
    assert {w.name for w in witnesses} == {
        witness_name(manifest.federation, p.id) for p in manifest.participants if p.id != "dpa"
    }
    assert {w.type for w in witnesses} == {COSIGNATURE_V1}
    assert len(witness_keys(manifest)) == len(witnesses) + 1
    assert ORIGIN == "test-federation/dpa/audit"
    assert witness_name(FED, "mission") == "test-federation/mission/witness"


# --- LogVerifier --------------------------------------------------------------------------


@dataclass
class Log:
    """A log as a store holds it: rows (seq, body, leaf hash) and notes by size."""

    rows: list[tuple[int, bytes, bytes | None]]
    notes: dict[int, str] = field(default_factory=dict)
    proofs: dict[int, list[bytes]] = field(default_factory=dict)


def _note(
    size: int, root: bytes, *, key: Ed25519PrivateKey = LOG_KEY, witnesses: bool = True
) -> str:
    text = checkpoint_text(ORIGIN, size, root)
    note = sign_note(text, ORIGIN, key)
    if witnesses:
        lines = [
            cosign(text, witness_name(FED, p), k, COSIGNED_AT + i)
            for i, (p, k) in enumerate(WITNESSES.items())
        ]
        note = add_signatures(note, lines)
    return note


def _make_log(size: int = 20, checkpoints: tuple[int, ...] = (4, 10, 16, 20)) -> Log:
    bodies = [_body(i) for i in range(size)]
    tree = MemoryTree(leaf_hash(b) for b in bodies)
    log = Log([(i, b, leaf_hash(b)) for i, b in enumerate(bodies)])
    previous = 0
    for c in checkpoints:
        log.notes[c] = _note(c, tree.root(c))
        if previous:
            log.proofs[c] = consistency_proof_from(tree, previous, c)
        previous = c
    return log


def _verifier() -> LogVerifier:
    return LogVerifier(ORIGIN, [_vkey(LOG_KEY)], _witness_vkeys())


def _check(
    log: Log, claimed: int | None = None, verifier: LogVerifier | None = None
) -> list[CheckpointCheck]:
    """Stream ``log`` through a verifier as an auditor would; return the checkpoint checks."""
    verifier = verifier or _verifier()
    checks = []
    for seq, body, leaf in log.rows:
        if verifier.size in log.notes:
            size = verifier.size
            checks.append(verifier.checkpoint(log.notes[size], log.proofs.get(size)))
        verifier.entry(seq, body, leaf)
    if verifier.size in log.notes:
        checks.append(verifier.checkpoint(log.notes[verifier.size], log.proofs.get(verifier.size)))
    verifier.finish(len(log.rows) if claimed is None else claimed)
    return checks


def _fails_at(
    log: Log, seq: int | None, match: str | None = None, claimed: int | None = None
) -> None:
    with pytest.raises(AuditLogInvalid, match=match) as caught:
        _check(log, claimed)
    assert caught.value.seq == seq, caught.value.message


def test_a_good_log_verifies_with_its_cosigners() -> None:
    log = _make_log()
    verifier = _verifier()
    checks = _check(log, verifier=verifier)
    assert [c.checkpoint.size for c in checks] == [4, 10, 16, 20]
    assert {c.signed_by for c in checks} == {ORIGIN}
    expected = {
        witness_name(FED, "mission"): COSIGNED_AT,
        witness_name(FED, "unodc"): COSIGNED_AT + 1,
    }
    assert all(dict(c.cosigners) == expected for c in checks)
    assert (verifier.size, verifier.checkpoints, verifier.cosignatures) == (20, 4, 8)
    assert verifier.root == MemoryTree(leaf_hash(b) for _, b, _ in log.rows).root()
    last = verifier.last_checkpoint
    assert last is not None and last.size == 20


def test_a_good_log_verifies_without_stored_leaf_hashes_or_witnesses() -> None:
    log = _make_log()
    log.rows = [(s, b, None) for s, b, _ in log.rows]
    log.notes = {size: _note(size, MemoryTree(leaf_hash(b) for _, b, _ in log.rows[:size]).root(),
                             witnesses=False) for size in log.notes}  # fmt: skip
    verifier = LogVerifier(ORIGIN, [_vkey(LOG_KEY)])
    checks = _check(log, verifier=verifier)
    assert [dict(c.cosigners) for c in checks] == [{}] * 4 and verifier.cosignatures == 0


def test_an_unknown_witness_line_is_ignored() -> None:
    log = _make_log()
    text = checkpoint_text(ORIGIN, 10, MemoryTree(leaf_hash(b) for _, b, _ in log.rows[:10]).root())
    stranger = cosign(text, witness_name(FED, "stranger"), seeded_key("stranger"), 5)
    log.notes[10] = add_signatures(log.notes[10], [stranger])
    checks = _check(log)
    assert witness_name(FED, "stranger") not in checks[1].cosigners


def test_a_changed_body_with_its_stored_leaf_hash_is_named() -> None:
    log = _make_log()
    seq, _, leaf = log.rows[6]
    changed = _body(6, Act("view.sent", "node:dpa", peer="undp", jti="j6", fields={"digest": "x"}))
    log.rows[6] = (seq, changed, leaf)
    _fails_at(log, 6, "changed")


def test_a_changed_body_with_a_recomputed_leaf_hash_fails_at_the_checkpoint() -> None:
    log = _make_log()
    changed = _body(13, Act("key.loaded", "node:dpa", fields={"kid": "forged"}))
    log.rows[13] = (13, changed, leaf_hash(changed))
    _fails_at(log, 10, "root")  # the range since checkpoint 10


def test_a_changed_entry_before_the_first_checkpoint_names_entry_zero() -> None:
    log = _make_log()
    changed = _body(2, Act("key.loaded", "node:dpa", fields={"kid": "forged"}))
    log.rows[2] = (2, changed, leaf_hash(changed))
    _fails_at(log, 0, "root")


def test_a_gap_is_named() -> None:
    log = _make_log()
    del log.rows[7]
    _fails_at(log, 7, "missing")


def test_a_gap_at_the_end_is_caught_by_finish() -> None:
    log = _make_log(checkpoints=(4, 10))
    del log.rows[-2:]
    _fails_at(log, 18, "claims 20", claimed=20)


def test_a_swapped_pair_is_named() -> None:
    log = _make_log()
    log.rows[11], log.rows[12] = (11, *log.rows[12][1:]), (12, *log.rows[11][1:])
    _fails_at(log, 11, "says it is entry 12")


def test_a_wrong_seq_inside_a_body_is_named() -> None:
    log = _make_log()
    wrong = _body(7, at=_at(5))  # entry 5's slot holds an entry numbered 7
    log.rows[5] = (5, wrong, leaf_hash(wrong))
    _fails_at(log, 5, "says it is entry 7")


def test_a_malformed_body_is_named() -> None:
    log = _make_log()
    log.rows[9] = (9, log.rows[9][1] + b" ", None)
    _fails_at(log, 9, "malformed")


def test_a_deeply_nested_body_is_named_not_crashed_on() -> None:
    log = _make_log()
    log.rows[9] = (9, b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", None)
    _fails_at(log, 9, "malformed")


def test_a_checkpoint_root_mismatch_names_the_range_start() -> None:
    log = _make_log()
    log.notes[16] = _note(16, leaf_hash(b"not the root"))
    _fails_at(log, 10, r"\[10, 16\)")


def test_a_checkpoint_signed_by_a_wrong_key_is_refused() -> None:
    log = _make_log()
    root = MemoryTree(leaf_hash(b) for _, b, _ in log.rows[:16]).root()
    log.notes[16] = _note(16, root, key=seeded_key("intruder"), witnesses=False)
    _fails_at(log, 10)


def test_a_wrong_key_names_the_same_seq_whether_or_not_witnesses_cosigned() -> None:
    # The same fault (no valid signature by the log's key) must not be reported
    # differently because cosignature lines happen to sit on the note.
    log = _make_log()
    root = MemoryTree(leaf_hash(b) for _, b, _ in log.rows[:16]).root()
    log.notes[16] = _note(16, root, key=seeded_key("intruder"), witnesses=True)
    _fails_at(log, 10)


def test_a_corrupted_cosignature_by_a_known_witness_is_refused() -> None:
    log = _make_log()
    note = log.notes[16]
    text, _, signatures = note.partition("\n\n")
    lines = signatures.splitlines()
    mission = witness_name(FED, "mission")
    (i,) = [n for n, line in enumerate(lines) if line.startswith(f"\u2014 {mission} ")]
    name_and_sig = lines[i].rsplit(" ", 1)
    sig = name_and_sig[1]
    flipped = sig[:-6] + ("A" if sig[-6] != "A" else "B") + sig[-5:]
    lines[i] = f"{name_and_sig[0]} {flipped}"
    log.notes[16] = text + "\n\n" + "\n".join(lines) + "\n"
    _fails_at(log, 10, "does not verify")


def test_a_bad_consistency_proof_is_refused() -> None:
    log = _make_log()
    proof = log.proofs[16]
    log.proofs[16] = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    _fails_at(log, 10, "consistency proof 10 -> 16")
    log.proofs[16] = proof[:-1]
    _fails_at(log, 10, "consistency proof 10 -> 16")


@pytest.mark.parametrize(("claimed", "seq"), [(21, 20), (25, 20), (19, 19), (0, 0)])
def test_finish_with_a_wrong_claimed_size(claimed: int, seq: int) -> None:
    _fails_at(_make_log(), seq, f"claims {claimed}", claimed=claimed)


def test_checkpoint_problems_that_name_no_entry() -> None:
    cases: list[Callable[[LogVerifier], object]] = [
        lambda v: v.checkpoint("not a note"),
        lambda v: v.checkpoint(sign_note("not\na checkpoint\n", ORIGIN, LOG_KEY)),
        lambda v: v.checkpoint(_note(3, leaf_hash(b"x"))),  # size 3 after 2 entries
        lambda v: v.checkpoint(
            sign_note(checkpoint_text("other/origin", 2, v.root), ORIGIN, LOG_KEY)
        ),
    ]
    for case in cases:
        verifier = _verifier()
        verifier.entry(0, _body(0))
        verifier.entry(1, _body(1))
        with pytest.raises(AuditLogInvalid) as caught:
            case(verifier)
        assert caught.value.seq is None, caught.value.message


def test_verifier_keys_are_checked() -> None:
    with pytest.raises(AuditLogInvalid, match="no Ed25519"):
        LogVerifier(ORIGIN, [])
    with pytest.raises(AuditLogInvalid, match="no Ed25519"):
        LogVerifier("other/origin", [_vkey(LOG_KEY)])
    with pytest.raises(AuditLogInvalid, match="cosignature"):
        LogVerifier(ORIGIN, [_vkey(LOG_KEY)], [_vkey(LOG_KEY)])
