"""C2SP signed notes, checkpoints and cosignatures: published vectors and our own round trips."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.errors import (
    CheckpointMalformed,
    KeyUnusable,
    NoteError,
    NoteInvalid,
    NoteMalformed,
    NoteSignatureInvalid,
    NoteUnverified,
    ProtocolError,
)
from clearinghouse.protocol.merkle import root_hash
from clearinghouse.protocol.notes import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    VerifiedSignature,
    Verifier,
    add_signatures,
    checkpoint_text,
    cosign,
    cosignature_vkey,
    ed25519_vkey,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    sign_note,
    verify_cosignature,
    verify_note,
)
from tests.support import VECTORS, seeded_key

DIR = VECTORS / "signed-note"
DATA = json.loads((DIR / "notes_and_checkpoints.json").read_text(encoding="utf-8"))
VALID = {case["id"]: case for case in DATA["valid"]}
INVALID = {case["id"]: case for case in DATA["invalid"]}
EXPECTED_ERROR: dict[str, type[NoteError]] = {
    "no-known-key": NoteUnverified,
    "tampered-text": NoteSignatureInvalid,
    "sig-bytes-inserted": NoteSignatureInvalid,
    "text-only": NoteMalformed,
    "text-blank-only": NoteMalformed,
    "missing-final-newline": NoteMalformed,
    "control-char": NoteMalformed,
    "bad-name-with-space": NoteMalformed,
    "trailing-junk-line": NoteMalformed,
    "cosig-checked-with-legacy-0x01-vkey": NoteUnverified,
    "checkpoint-size-changed": NoteSignatureInvalid,
}
CT = VALID["ct-staging-checkpoint-4-cosigs"]
CT_TIME = 1779573024


def _load_test_private_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse Go's ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` (tests only)."""
    prefix, key_word, name, hex_id, key64 = text.split("+", 4)
    assert (prefix, key_word) == ("PRIVATE", "KEY")
    raw = base64.b64decode(key64, validate=True)
    assert raw[0] == ED25519 and len(raw) == 33
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    assert parse_vkey(ed25519_vkey(name, key.public_key())).key_id == int(hex_id, 16)
    return name, key


def _expected(case: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(e["name"], e["kind"], e.get("timestamp")) for e in case["expect_verified"]]


def _got(verified: list[VerifiedSignature]) -> list[tuple[str, str, int | None]]:
    return [(v.name, v.kind, v.timestamp) for v in verified]


# --- published vectors -------------------------------------------------------------------


@pytest.mark.parametrize("case_id", sorted(VALID))
def test_valid_vector_verifies(case_id: str) -> None:
    case = VALID[case_id]
    assert _got(verify_note(case["note"], case["vkeys"])) == _expected(case)
    assert parse_note(case["note"]).text == case["note_text"]
    # The raw files hold the same note and keys; bytes are accepted too.
    raw = (DIR / f"{case_id}.note.txt").read_bytes()
    assert raw.decode("utf-8") == case["note"]
    vkeys = (DIR / f"{case_id}.vkeys.txt").read_text(encoding="utf-8").split()
    assert _got(verify_note(raw, vkeys)) == _expected(case)


@pytest.mark.parametrize("case_id", sorted(INVALID))
def test_invalid_vector_is_rejected(case_id: str) -> None:
    case = INVALID[case_id]
    with pytest.raises(EXPECTED_ERROR.get(case_id, NoteError)):
        verify_note(case["note"], case["vkeys"])


def test_every_invalid_vector_has_an_expected_error() -> None:
    assert set(INVALID) == set(EXPECTED_ERROR)


@pytest.mark.parametrize("vkey", sorted({k for c in DATA["valid"] for k in c["vkeys"]}))
def test_vkeys_round_trip(vkey: str) -> None:
    verifier = parse_vkey(vkey)
    assert verifier.vkey == vkey
    make = ed25519_vkey if verifier.type == ED25519 else cosignature_vkey
    assert make(verifier.name, verifier.public_key) == vkey


def test_resigning_with_the_published_go_key_reproduces_the_signature() -> None:
    name, key = _load_test_private_key(DATA["published_test_signing_keys"]["PeterNeumann"])
    case = VALID["go-note-peter"]
    assert sign_note(case["note_text"], name, key) == case["note"]
    assert ed25519_vkey(name, key.public_key()) == case["vkeys"][0]


def test_sumdb_checkpoint_parses_and_verifies() -> None:
    case = VALID["sumdb-real-checkpoint"]
    (verified,) = verify_note(case["note"], case["vkeys"])
    assert (verified.name, verified.kind, verified.key_id) == (
        "sum.golang.org",
        "ed25519",
        0x033DE0AE,
    )
    checkpoint = parse_checkpoint(parse_note(case["note"]).text)
    assert (checkpoint.origin, checkpoint.size) == ("go.sum database tree", 35225469)
    assert checkpoint.root == base64.b64decode("vt5T6GaLCXvyHFl9VUvvItR43XZxfLgftEcTyO3eJCQ=")
    assert checkpoint.extensions == ()


def test_ct_checkpoint_ignores_the_unknown_rfc6962_line() -> None:
    note = parse_note(CT["note"])
    assert len(note.signatures) == 6
    log = parse_vkey(CT["vkeys"][0])
    same_name = [s for s in note.signatures if s.name == log.name]
    # Two lines by the log's name: its Ed25519 key, and a 0x05 TreeHeadSignature
    # under another key id (no vkey given), which verification must skip.
    assert sorted(s.key_id for s in same_name) == sorted([log.key_id, 0xCD333CB1])
    verified = verify_note(CT["note"], CT["vkeys"])
    assert _got(verified) == _expected(CT)
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == (log.name, 1432088532)


def test_ct_cosignatures_verify_one_by_one() -> None:
    note = parse_note(CT["note"])
    witnesses = [parse_vkey(v) for v in CT["vkeys"] if parse_vkey(v).type == COSIGNATURE_V1]
    assert len(witnesses) == 4
    for witness in witnesses:
        (line,) = [s.line for s in note.signatures if s.name == witness.name]
        assert verify_cosignature(note.text, line, witness) == CT_TIME
        assert verify_cosignature(note.text, line + "\n", witness.vkey) == CT_TIME


def test_a_cosignature_is_not_an_ed25519_note_signature() -> None:
    # The same little-garden public key as a 0x01 vkey has another key id: no match.
    legacy = INVALID["cosig-checked-with-legacy-0x01-vkey"]["vkeys"][0]
    witness = next(v for v in CT["vkeys"] if v.startswith("transparency.dev/DEV"))
    assert parse_vkey(legacy).public_key == parse_vkey(witness).public_key
    assert parse_vkey(legacy).key_id != parse_vkey(witness).key_id
    line = next(
        s.line for s in parse_note(CT["note"]).signatures if s.name == parse_vkey(witness).name
    )
    with pytest.raises(KeyUnusable):
        verify_cosignature(parse_note(CT["note"]).text, line, legacy)


# --- our own checkpoints and cosignatures -----------------------------------------------

LOG = "clearinghouse.example/audit/mission"
ROOT = root_hash([b"entry 0", b"entry 1", b"entry 2"])


def _log_note() -> tuple[str, str]:
    text = checkpoint_text(LOG, 3, ROOT)
    return text, sign_note(text, LOG, seeded_key("mission"))


def test_checkpoint_text_and_parse_round_trip() -> None:
    text = checkpoint_text(LOG, 3, ROOT, ["ext: one", "ext two"])
    assert text == f"{LOG}\n3\n{base64.b64encode(ROOT).decode()}\next: one\next two\n"
    assert parse_checkpoint(text) == Checkpoint(LOG, 3, ROOT, ("ext: one", "ext two"))
    assert parse_checkpoint(checkpoint_text(LOG, 0, ROOT)).size == 0
    assert parse_checkpoint(checkpoint_text(LOG, 2**64 - 1, ROOT)).size == 2**64 - 1


def test_own_checkpoint_with_cosignatures_round_trips() -> None:
    text, note = _log_note()
    log_vkey = ed25519_vkey(LOG, seeded_key("mission").public_key())
    witnesses = {"undp.example/witness": 1_790_000_000, "dpa.example/witness": 1_790_000_007}
    lines = [cosign(text, w, seeded_key(w), t) for w, t in witnesses.items()]
    vkeys = [cosignature_vkey(w, seeded_key(w).public_key()) for w in witnesses]
    cosigned = add_signatures(note, lines)
    assert cosigned == note + "".join(lines)
    assert add_signatures(cosigned, lines) == cosigned  # lines already there are not repeated
    verified = verify_note(cosigned, [log_vkey, *vkeys])
    assert _got(verified) == [(LOG, "ed25519", None)] + [
        (w, "cosignature/v1", t) for w, t in witnesses.items()
    ]
    for line, vkey, t in zip(lines, vkeys, witnesses.values(), strict=True):
        assert verify_cosignature(text, line, vkey) == t
    # Only the witnesses known to the verifier count; the log alone is enough too.
    assert _got(verify_note(cosigned, vkeys[:1])) == [
        ("undp.example/witness", "cosignature/v1", 1_790_000_000)
    ]
    assert _got(verify_note(cosigned, [log_vkey])) == [(LOG, "ed25519", None)]
    assert parse_checkpoint(parse_note(cosigned).text) == Checkpoint(LOG, 3, ROOT)


def test_cosignature_signs_the_timestamped_message() -> None:
    text, _ = _log_note()
    line = cosign(text, "w.example", seeded_key("w"), 1_700_000_000)
    payload = base64.b64decode(line.removesuffix("\n").split(" ")[2])
    public = seeded_key("w").public_key()
    public.verify(payload[12:], b"cosignature/v1\ntime 1700000000\n" + text.encode())
    assert payload[4:12] == (1_700_000_000).to_bytes(8, "big")
    raw = parse_vkey(cosignature_vkey("w.example", public)).public_key
    assert payload[:4] == hashlib.sha256(b"w.example\n\x04" + raw).digest()[:4]


# --- tampering: each fails with its own exception ----------------------------------------


def _replace_line(note: str, index: int, payload: bytes) -> str:
    parsed = parse_note(note)
    lines = [s.line for s in parsed.signatures]
    lines[index] = f"\u2014 {parsed.signatures[index].name} {base64.b64encode(payload).decode()}"
    return parsed.text + "\n" + "".join(line + "\n" for line in lines)


def _payload(note: str, index: int = 0) -> bytes:
    sig = parse_note(note).signatures[index]
    return sig.key_id.to_bytes(4, "big") + sig.signature


def test_tampered_text_signature_and_key_id() -> None:
    _, note = _log_note()
    vkey = ed25519_vkey(LOG, seeded_key("mission").public_key())
    tampered_text = note.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(NoteSignatureInvalid):
        verify_note(tampered_text, [vkey])
    payload = _payload(note)
    with pytest.raises(NoteSignatureInvalid):
        verify_note(_replace_line(note, 0, payload[:-1] + bytes([payload[-1] ^ 1])), [vkey])
    with pytest.raises(NoteSignatureInvalid):  # a 63-byte signature by a known key
        verify_note(_replace_line(note, 0, payload[:-1]), [vkey])
    with pytest.raises(NoteUnverified):  # another key id: an unknown key, ignored
        verify_note(_replace_line(note, 0, bytes([payload[0] ^ 1]) + payload[1:]), [vkey])
    with pytest.raises(NoteUnverified):  # the right key under another name
        verify_note(note.replace(f"\u2014 {LOG} ", "\u2014 other.example ", 1), [vkey])


def test_a_failing_line_by_a_known_key_rejects_even_next_to_a_good_one() -> None:
    _, note = _log_note()
    vkey = ed25519_vkey(LOG, seeded_key("mission").public_key())
    payload = _payload(note)
    bad = f"\u2014 {LOG} {base64.b64encode(payload[:-1] + bytes([payload[-1] ^ 1])).decode()}"
    with pytest.raises(NoteSignatureInvalid):
        verify_note(add_signatures(note, [bad]), [vkey])


def test_tampered_cosignatures() -> None:
    text, note = _log_note()
    witness, key = "w.example", seeded_key("w")
    vkey = cosignature_vkey(witness, key.public_key())
    line = cosign(text, witness, key, 1_700_000_000)
    payload = base64.b64decode(line.split(" ")[2])
    later = payload[:4] + (1_700_000_001).to_bytes(8, "big") + payload[12:]
    later_line = f"\u2014 {witness} {base64.b64encode(later).decode()}"
    with pytest.raises(NoteSignatureInvalid):
        verify_cosignature(text, later_line, vkey)
    with pytest.raises(NoteSignatureInvalid):
        verify_note(add_signatures(note, [later_line]), [vkey])
    with pytest.raises(NoteSignatureInvalid):  # over the checkpoint of another size
        verify_cosignature(checkpoint_text(LOG, 4, ROOT), line, vkey)
    other = cosignature_vkey("x.example", seeded_key("x").public_key())
    with pytest.raises(NoteUnverified):
        verify_cosignature(text, line, other)
    with pytest.raises(KeyUnusable):  # a note key is not a witness key
        verify_cosignature(text, line, ed25519_vkey(witness, key.public_key()))
    huge = payload[:4] + (2**63).to_bytes(8, "big") + payload[12:]
    with pytest.raises(NoteSignatureInvalid, match="2\\^63"):
        verify_cosignature(text, f"\u2014 {witness} {base64.b64encode(huge).decode()}", vkey)


# --- strict parsing ------------------------------------------------------------------------

GOOD = VALID["go-note-peter"]["note"]
SIG = GOOD.split("\n\n")[1]


@pytest.mark.parametrize(
    "note",
    [
        "",
        "\n",
        GOOD.replace("\n\n", "\r\n\n", 1),  # carriage return in the text
        GOOD.replace("problem,", "problem,\t", 1),  # tab
        GOOD.replace("\u2014 ", "- ", 1),  # hyphen instead of the em dash
        GOOD.replace("\u2014 ", "\u2014", 1),  # no space after the dash
        GOOD.replace("PeterNeumann ", "Peter+Neumann ", 1),  # '+' in a key name
        GOOD.replace("PeterNeumann ", "Peter\u00a0Neumann ", 1),  # a Unicode space
        GOOD.replace("AM=\n", "AN=\n", 1),  # non-canonical base64 (stray bits)
        GOOD.replace("AM=\n", "AM\n", 1),  # missing padding
        GOOD.replace("AM=\n", "AM= \n", 1),  # trailing space
        GOOD.replace(SIG, "\u2014 PeterNeumann AAAAAA==\n", 1),  # under 5 bytes
        GOOD.replace(SIG, "\u2014 PeterNeumann\n", 1),  # no signature
        GOOD.replace(SIG, SIG * 101, 1),  # more than 100 signatures
        GOOD.replace(SIG, SIG + "junk\n", 1),  # a line that is not a signature
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(NoteMalformed):
        parse_note(note)


def test_note_limits_and_encodings() -> None:
    assert len(parse_note(GOOD.replace(SIG, SIG * 100, 1)).signatures) == 100
    with pytest.raises(NoteMalformed):
        parse_note(GOOD.encode("utf-8").replace(b"you", b"y\xffu"))
    with pytest.raises(NoteMalformed):
        parse_note(GOOD.replace("you", "y\udcffu"))  # a lone surrogate is not UTF-8
    # Blank lines inside the text are allowed: the last blank line separates.
    text = "first\n\nsecond\n"
    assert parse_note(sign_note(text, "k.example", seeded_key("k"))).text == text


@pytest.mark.parametrize(
    "text",
    [
        "origin\n1\n",  # two lines
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",  # empty origin
        *(
            f"origin\n{size}\n{base64.b64encode(ROOT).decode()}\n"
            for size in [
                "01",
                "+1",
                " 1",
                "1 ",
                "1.0",
                "-1",
                "",
                "0x10",
                "\u0661",
                "1_0",
                "18446744073709551616",
                "9" * 5000,
            ]
        ),
        "origin\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",  # 31-byte root
        "origin\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",  # base64url
        "origin\n1\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n",  # no padding
        f"origin\n1\n{base64.b64encode(ROOT).decode()}\n\n",  # empty extension line
        f"origin\n1\n{base64.b64encode(ROOT).decode()}",  # no final newline
        f"origin\n1\n{base64.b64encode(ROOT).decode()}\n\x00ext\n",  # control character
    ],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(CheckpointMalformed):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 0x02 type
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy",  # short key
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(KeyUnusable):
        parse_vkey(vkey)


def test_bad_inputs_to_the_writers() -> None:
    key = seeded_key("k")
    text, _ = _log_note()
    cases: list[tuple[Callable[[], object], type[Exception]]] = [
        (lambda: sign_note("no newline", "k.example", key), NoteMalformed),
        (lambda: sign_note("text\n", "k example", key), NoteMalformed),
        (lambda: sign_note("bell\x07\n", "k.example", key), NoteMalformed),
        (lambda: cosign(text, "w.example", key, -1), NoteMalformed),
        (lambda: cosign(text, "w.example", key, 2**63), NoteMalformed),
        (lambda: cosign("not a checkpoint\n", "w.example", key, 0), CheckpointMalformed),
        (lambda: checkpoint_text(LOG, -1, ROOT), CheckpointMalformed),
        (lambda: checkpoint_text(LOG, 2**64, ROOT), CheckpointMalformed),
        (lambda: checkpoint_text(LOG, 1, ROOT[:31]), CheckpointMalformed),
        (lambda: checkpoint_text("two\nlines", 1, ROOT), CheckpointMalformed),
        (lambda: checkpoint_text(LOG, 1, ROOT, [""]), CheckpointMalformed),
        (lambda: ed25519_vkey("k.example", b"\x00" * 31), KeyUnusable),
        (lambda: cosignature_vkey("k+example", key.public_key()), KeyUnusable),
        (lambda: add_signatures(_log_note()[1], ["not a line"]), NoteMalformed),
    ]
    for call, error in cases:
        with pytest.raises(error):
            call()


def test_ambiguous_verifiers_are_refused() -> None:
    _, note = _log_note()
    real = parse_vkey(ed25519_vkey(LOG, seeded_key("mission").public_key()))
    impostor = Verifier(real.name, real.key_id, ED25519, bytes(32))
    with pytest.raises(KeyUnusable):
        verify_note(note, [real, impostor])
    assert _got(verify_note(note, [real, real.vkey])) == [(LOG, "ed25519", None)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab+/=\n \u2014\x01AM0123456789"), max_size=80))
def test_parsers_raise_only_protocol_errors(text: str) -> None:
    parsers: list[Callable[[str], object]] = [parse_note, parse_checkpoint, parse_vkey]
    for parse in parsers:
        try:
            parse(text)
        except ProtocolError:
            pass


def test_error_classes() -> None:
    assert issubclass(CheckpointMalformed, NoteMalformed)
    for cls in (NoteSignatureInvalid, NoteUnverified):
        assert issubclass(cls, NoteInvalid) and issubclass(cls, NoteError)
    assert issubclass(NoteError, ProtocolError)
