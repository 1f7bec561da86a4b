"""Fuzzing the wire parsers: packets and views (SD-JWT), receipts, signed notes.

One property throughout (STYLE rule 5): whatever bytes a peer sends, each parser and
verifier either returns a value or raises a :class:`ProtocolError` subclass with a
message; never ``ValueError``, ``KeyError``, ``TypeError``, ``UnicodeError``,
``IndexError``, ``RecursionError``, ``OverflowError``, ``binascii.Error``...

The inputs: arbitrary text and bytes; valid packets, views, receipts and notes
mutated character by character and part by part (``~`` and ``.`` parts, signature
lines); and valid documents re-signed with the issuer's real key after a structured
change (header fields, visible claims, disclosures re-encoded with odd JSON), so that
the fuzz reaches the checks behind the signature. The regressions these found are the
plain tests at the end of the file.

``CI`` set (``.ci/run``): derandomised, so a CI run is reproducible; elsewhere random.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, compact_json
from clearinghouse.protocol.errors import MalformedPacket, ProtocolError
from clearinghouse.protocol.merkle import root_hash
from clearinghouse.protocol.notes import (
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
from clearinghouse.protocol.packet import (
    IssuedPacket,
    issue_packet,
    make_view,
    recipient_view,
    stored_epoch,
    verify_view,
)
from clearinghouse.protocol.receipts import (
    BATCH_RECEIPT_TYP,
    RECEIPT_TYP,
    ReceiptEntry,
    sign_batch_receipt,
    sign_receipt,
    verify_batch_receipt,
    verify_receipt,
    verify_view_receipt,
)
from clearinghouse.protocol.sdjwt import (
    MAX_DEPTH,
    CompactSdJwt,
    decode_jws,
    digest_of,
    parse_disclosure,
    process,
)
from tests.support import EXAMPLES, NOW, PARTICIPANTS, make_federation, seeded_key

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FED = make_federation(yaml.safe_load((EXAMPLES / "federation.yaml").read_text()))
ISSUER = {
    "conflict-event/1": "mission",
    "seizure/1": "unodc",
    "market-price/1": "undp",
    "financial-flow/1": "unodc",
    "analysis-result/1": "dpa",
}


def _issue(schema: str) -> IssuedPacket:
    issuer = ISSUER[schema]
    record = json.loads((EXAMPLES / "records" / f"{schema.split('/')[0]}.json").read_text())
    return issue_packet(
        record,
        schema=schema,
        issuer=issuer,
        key=FED.keys[issuer],
        kid=FED.kid(issuer),
        now=NOW,
        pseudonym_key=FED.pseudonym_key,
        pseudonym_epoch=FED.pseudonym_epoch,
        decoys=2,
    )


PACKETS = {schema: _issue(schema) for schema in ISSUER}
# Full packets and per-recipient views: every one verifies as it is.
VALID_VIEWS = sorted(
    {p.sd_jwt for p in PACKETS.values()}
    | {recipient_view(p.sd_jwt, FED.manifest, r) for p in PACKETS.values() for r in PARTICIPANTS}
)


def protocol_outcome(call: Callable[[], object]) -> type[ProtocolError] | None:
    """Run ``call``: None if it returns, the class of the ProtocolError it raises; any
    other exception propagates and fails the test with its traceback."""
    try:
        call()
    except ProtocolError as exc:
        assert exc.message, f"{type(exc).__name__} without a message"
        event(type(exc).__name__)  # --hypothesis-show-statistics: how far inputs got
        return type(exc)
    event("accepted")
    return None


# --- mutations ------------------------------------------------------------------------

# Characters a mutation puts in: the base64url and separator alphabets, standard
# base64, padding, whitespace and controls, non-ASCII, a lone surrogate.
_ODD_CHARS = st.sampled_from(
    [*"AZaz09-_~.=+/ \t\r\n\x00\x7f", "\u2014", "\u00e9", "\ufeff", "\ud800", "\U0001f600"]
)
_CHARS = st.one_of(_ODD_CHARS, st.characters(codec="utf-8"), st.characters())


@st.composite
def char_mutations(draw: st.DrawFn, text: str) -> str:
    """1-4 character edits: flip, insert, delete a run, duplicate a run, truncate."""
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        if op == "flip" and i < len(text):
            text = text[:i] + draw(_CHARS) + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(st.text(_CHARS, min_size=1, max_size=4)) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)) :]
        elif op == "duplicate":
            text = text[:i] + text[i : i + draw(st.integers(1, 64))] + text[i:]
        else:
            text = text[:i]
    return text


def _b64url_corruptions(part: str) -> st.SearchStrategy[str]:
    """One base64url part made invalid, or valid but not canonical, or decoding to junk."""
    return st.sampled_from(
        [
            part + "=",
            part + "==",
            part.replace("-", "+").replace("_", "/"),
            part + "A",  # length 1 mod 4 (or a shifted decode)
            part[:-1] + ("B" if part[-1:] == "A" else "A"),  # stray bits, other last byte
            part[:-2],
            " " + part,
            part + "\n",
            base64.b64encode(part.encode()).decode(),
            "",
        ]
    )


@st.composite
def part_mutations(draw: st.DrawFn, text: str, sep: str) -> str:
    """1-3 edits of the ``sep``-separated parts: swap, drop, duplicate, corrupt, add."""
    parts = text.split(sep)
    for _ in range(draw(st.integers(1, 3))):
        if not parts:
            break
        i = draw(st.integers(0, len(parts) - 1))
        j = draw(st.integers(0, len(parts) - 1))
        op = draw(st.sampled_from(["swap", "drop", "duplicate", "corrupt", "add", "reverse"]))
        if op == "swap":
            parts[i], parts[j] = parts[j], parts[i]
        elif op == "drop":
            del parts[i]
        elif op == "duplicate":
            parts.insert(j, parts[i])
        elif op == "corrupt":
            parts[i] = draw(_b64url_corruptions(parts[i]))
        elif op == "add":
            parts.insert(i, draw(st.text(_CHARS, max_size=12) | st.sampled_from(parts)))
        else:
            parts.reverse()
    return sep.join(parts)


def mutations(text: str) -> st.SearchStrategy[str]:
    return st.one_of(
        char_mutations(text),
        part_mutations(text, "~"),
        part_mutations(text, "."),
        part_mutations(text, "~").flatmap(char_mutations),
    )


# --- odd JSON -------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: beyond 2**53 and 2**64
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.text(st.characters(codec="utf-8"), min_size=1000, max_size=3000),
)
# Python values that compact_json can write (no NaN): for header and payload fields.
ODD_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _deep(n: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '[{"_sd":' * n])


# JSON *text*, including what compact_json never writes: NaN, duplicate keys, numbers
# beyond a double, lone surrogate escapes, deep nesting, truncated documents.
ODD_JSON = st.one_of(
    ODD_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.floats().map(json.dumps),  # NaN, Infinity
    st.sampled_from(
        [
            "NaN",
            "-Infinity",
            "1e400",
            "-0",
            "1" + "0" * 400,
            '{"a":1,"a":2}',
            '{"_sd":["x"],"_sd":[]}',
            '{"...":"x"}',
            '[{"...":1}]',
            '[{"...":"x","y":1}]',
            '{"_sd":"notalist"}',
            '{"_sd":[1,null,{}]}',
            '"\\ud800"',
            '"\\u0000"',
            "[",
            "",
            " 1 ",
            '"' + "x" * 100_000 + '"',
        ]
    ),
    st.integers(1, 3000).flatmap(_deep),
)

# Names a disclosure may carry: every field of every schema, reserved names, odd JSON.
_FIELD_NAMES = sorted({name for p in PACKETS.values() for name in p.claims} | {"_sd", "..."})
DISCLOSURE_NAMES = st.one_of(
    st.sampled_from(_FIELD_NAMES).map(json.dumps),
    st.text(max_size=10).map(json.dumps),
    st.sampled_from(["1", "null", "[]", '{"a":1}', "true", "1.5"]),
)


@st.composite
def disclosure_texts(draw: st.DrawFn) -> str:
    """The JSON text of a disclosure: usually [salt, name, value] or [salt, value]."""
    salt = draw(st.sampled_from(['"c2FsdHNhbHRzYWx0"', '""', "1", "null"]))
    shape = draw(st.sampled_from(["property", "property", "element", "short", "long", "odd"]))
    if shape == "property":
        items = [salt, draw(DISCLOSURE_NAMES), draw(ODD_JSON)]
    elif shape == "element":
        items = [salt, draw(ODD_JSON)]
    elif shape == "short":
        items = [salt]
    elif shape == "long":
        items = [salt, draw(DISCLOSURE_NAMES), draw(ODD_JSON), draw(ODD_JSON)]
    else:
        return draw(ODD_JSON)
    return "[" + ",".join(items) + "]"


def _encode(text: str) -> str:
    """base64url of the text's UTF-8 (a lone surrogate passes through: invalid UTF-8)."""
    return b64url_encode(text.encode("utf-8", "surrogatepass"))


# --- re-signed packets ----------------------------------------------------------------

_HEADER_VALUES = st.one_of(
    st.sampled_from(["EdDSA", "none", "HS256", "ES256", "clearinghouse-packet+sd-jwt", "JWT"]),
    st.sampled_from([FED.kid(p) for p in PARTICIPANTS]),
    ODD_VALUES,
)
_PAYLOAD_VALUES = st.one_of(
    st.sampled_from([*ISSUER, *PARTICIPANTS, "H0", "H1", "H2", "H3", "sha-256", "2026-11"]),
    st.sampled_from([0, -1, 2**31, 2**53, 10**20, -(10**20), 253402300800, -62135596801]),
    ODD_VALUES,
)


def _sign(header: bytes, payload: bytes, issuer: str) -> str:
    """A compact JWS over exactly these bytes (which need not be JSON), by ``issuer``."""
    signing_input = b64url_encode(header) + "." + b64url_encode(payload)
    signature = FED.keys[issuer].sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


def _replace_digest(
    disclosures: list[str], payload: dict[str, Any], old: str, new: str
) -> tuple[list[str], dict[str, Any]]:
    """Put disclosure ``new`` in the place of ``old``, rewriting its digest up the tree
    (through every enclosing disclosure) to the payload."""
    old_digest, new_digest = json.dumps(digest_of(old)), json.dumps(digest_of(new))
    out = [new if d == old else d for d in disclosures]
    for encoded in out:
        text = b64url_decode(encoded).decode("utf-8", "surrogatepass")
        if old_digest in text:  # a parent: rewrite it, then its own digest above it
            parent = _encode(text.replace(old_digest, new_digest))
            return _replace_digest(out, payload, encoded, parent)
    body = compact_json(payload).decode().replace(old_digest, new_digest)
    return out, json.loads(body)


def _is_leaf(encoded: str) -> bool:
    """Whether a disclosure's value holds no digest of another disclosure."""
    text = b64url_decode(encoded).decode()
    return '"_sd"' not in text and '"..."' not in text


@st.composite
def resigned_packets(draw: st.DrawFn) -> str:
    """A valid packet or view, changed behind its signature and re-signed by its issuer."""
    raw = draw(st.sampled_from(VALID_VIEWS))
    compact = CompactSdJwt.parse(raw)
    jws = decode_jws(compact.jwt)
    header, payload = dict(jws.header), dict(jws.payload)
    disclosures = list(compact.disclosures)
    originals = frozenset(disclosures)
    issuer = payload["iss"]
    raw_payload: str | None = None
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                ["header", "claim", "add", "replace", "array", "sd", "raw-payload"]
                + ["revalue"] * 4  # past the signature to the schema and the policy
            )
        )
        leaves = [d for d in disclosures if d in originals and _is_leaf(d)]
        if op == "revalue" and leaves:
            # A leaf disclosure's value replaced (salt and claim name kept), its digest
            # rewritten up the tree: the schema and the policy then see the odd value.
            old = parse_disclosure(draw(st.sampled_from(leaves)))
            kept = [old.salt] if old.name is None else [old.salt, old.name]
            text = "[" + ",".join([*map(json.dumps, kept), draw(ODD_JSON)]) + "]"
            disclosures, payload = _replace_digest(disclosures, payload, old.encoded, _encode(text))
        elif op == "header":
            name = draw(st.sampled_from(["alg", "typ", "kid"]) | st.text(max_size=5))
            if draw(st.booleans()):
                header.pop(name, None)
            else:
                header[name] = draw(_HEADER_VALUES)
        elif op == "claim":
            names = ["iss", "jti", "iat", "sch", "hc", "hcr", "pse", "_sd", "_sd_alg"]
            name = draw(st.sampled_from(names) | st.text(max_size=5))
            if draw(st.booleans()):
                payload.pop(name, None)
            else:
                payload[name] = draw(_PAYLOAD_VALUES)
        elif op in ("add", "replace", "array"):
            encoded = _encode(draw(disclosure_texts()))
            sd = payload.get("_sd")
            top = [d for d in disclosures if isinstance(sd, list) and digest_of(d) in sd]
            if op == "replace" and top and isinstance(sd, list):
                old = draw(st.sampled_from(top))
                disclosures[disclosures.index(old)] = encoded
                payload["_sd"] = [digest_of(encoded) if d == digest_of(old) else d for d in sd]
            elif op == "array":
                payload[draw(st.sampled_from(_FIELD_NAMES))] = [{"...": digest_of(encoded)}]
                disclosures.append(encoded)
            else:
                payload["_sd"] = [*(sd if isinstance(sd, list) else []), digest_of(encoded)]
                disclosures.append(encoded)
        elif op == "sd":
            # A claim op may have left ``_sd`` any JSON value: only a list is extended.
            current = payload.get("_sd")
            sd = list(current) if isinstance(current, list) else []
            choice = draw(st.sampled_from(["dup", "drop", "odd", "nested"]))
            if choice == "dup" and sd:
                sd.append(draw(st.sampled_from(sd)))
            elif choice == "drop" and sd:
                sd.pop(draw(st.integers(0, len(sd) - 1)))
            elif choice == "nested":
                payload["n"] = {"_sd": sd, "_sd_alg": "sha-256"}
            else:
                sd.append(draw(ODD_VALUES))
            payload["_sd"] = sd
        else:
            raw_payload = draw(ODD_JSON)
    payload_bytes = (
        raw_payload.encode("utf-8", "surrogatepass")
        if raw_payload is not None
        else compact_json(payload)
    )
    jwt = _sign(compact_json(header), payload_bytes, issuer)
    if draw(st.booleans()):
        disclosures = draw(st.permutations(disclosures))
    return jwt + "~" + "".join(d + "~" for d in disclosures)


def _every_packet_reader(raw: str) -> None:
    """Each public function that reads a packet or view, on ``raw``."""
    for recipient in (None, "undp", "nobody"):
        protocol_outcome(partial(verify_view, raw, FED.manifest, recipient=recipient, now=NOW))
    protocol_outcome(lambda: make_view(raw, ["admin1", "month", "country", "n"]))
    protocol_outcome(lambda: recipient_view(raw, FED.manifest, "sanctions"))
    protocol_outcome(lambda: stored_epoch(raw))
    protocol_outcome(lambda: CompactSdJwt.parse(raw))


# --- SD-JWT properties ----------------------------------------------------------------


@FUZZ
@given(raw=st.text() | st.text(st.sampled_from("AZaz09-_~.=")) | st.binary().map(repr))
def test_arbitrary_text_is_refused_with_a_protocol_error(raw: str) -> None:
    _every_packet_reader(raw)
    protocol_outcome(lambda: decode_jws(raw))
    protocol_outcome(lambda: parse_disclosure(raw))


@FUZZ
@given(raw=st.sampled_from(VALID_VIEWS).flatmap(mutations))
def test_mutated_views_verify_or_raise_protocol_errors(raw: str) -> None:
    _every_packet_reader(raw)


@FUZZ
@given(raw=resigned_packets())
def test_resigned_views_verify_or_raise_protocol_errors(raw: str) -> None:
    _every_packet_reader(raw)


@FUZZ
@given(text=disclosure_texts())
def test_odd_disclosures_parse_or_raise_protocol_errors(text: str) -> None:
    encoded = _encode(text)
    if protocol_outcome(lambda: parse_disclosure(encoded)) is None:
        disclosure = parse_disclosure(encoded)
        payload: dict[str, Any] = {"_sd": [disclosure.digest], "a": [{"...": disclosure.digest}]}
        protocol_outcome(lambda: process(payload, [disclosure]))
        protocol_outcome(lambda: process({"_sd": [disclosure.digest]}, [disclosure]))


# --- receipts -------------------------------------------------------------------------

RECEIPT = sign_receipt(
    receiver="undp",
    sender="mission",
    index=0,
    ref=PACKETS["conflict-event/1"].ref,
    status="accepted",
    key=FED.keys["undp"],
    kid=FED.kid("undp"),
    now=NOW,
)


@st.composite
def resigned_receipts(draw: st.DrawFn) -> str:
    jws = decode_jws(RECEIPT)
    header, payload = dict(jws.header), dict(jws.payload)
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([header, payload]))
        names = ["alg", "typ", "kid", "iss", "aud", "iat", "index", "status", "reason", "jti"]
        name = draw(st.sampled_from(names))
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = draw(_PAYLOAD_VALUES | _HEADER_VALUES)
    return _sign(compact_json(header), compact_json(payload), "undp")


@FUZZ
@given(raw=st.text() | mutations(RECEIPT) | resigned_receipts())
def test_receipts_verify_or_raise_protocol_errors(raw: str) -> None:
    protocol_outcome(lambda: verify_receipt(raw, FED.manifest, sender="mission"))


BATCH_RECEIPT = sign_batch_receipt(
    receiver="undp",
    sender="mission",
    request_sha256="cd" * 32,
    entries=[
        ReceiptEntry(0, PACKETS["conflict-event/1"].ref, "accepted"),
        ReceiptEntry(1, None, "rejected", "malformed-packet", "not a string"),
        ReceiptEntry(2, None, "deferred", "issued-in-the-future", "ahead", retry_after=30),
    ],
    key=FED.keys["undp"],
    kid=FED.kid("undp"),
    now=NOW,
)


_RECEIPT_VALUES = st.sampled_from([RECEIPT_TYP, BATCH_RECEIPT_TYP, "accepted", "cd" * 32, 0, 1])


@st.composite
def resigned_batch_receipts(draw: st.DrawFn) -> str:
    """A batch receipt whose header, payload or one view entry is edited, re-signed."""
    jws = decode_jws(BATCH_RECEIPT)
    header, payload = dict(jws.header), dict(jws.payload)
    views = [dict(v) for v in payload["views"]]
    payload["views"] = views
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([header, payload, *views]))
        names = ["alg", "typ", "kid", "iss", "aud", "iat", "request", "views", "index"]
        name = draw(st.sampled_from([*names, "status", "reason", "jti", "sha256"]))
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = draw(_PAYLOAD_VALUES | _HEADER_VALUES | _RECEIPT_VALUES)
    return _sign(compact_json(header), compact_json(payload), "undp")


@FUZZ
@given(
    raw=st.text() | mutations(BATCH_RECEIPT) | resigned_batch_receipts(),
    position=st.integers(-1, 3),
)
def test_batch_receipts_verify_or_raise_protocol_errors(raw: str, position: int) -> None:
    protocol_outcome(lambda: verify_batch_receipt(raw, FED.manifest, sender="mission"))
    protocol_outcome(
        lambda: verify_batch_receipt(
            raw, FED.manifest, sender="mission", request_sha256="cd" * 32, max_views=2
        )
    )
    protocol_outcome(
        lambda: verify_view_receipt(raw, FED.manifest, sender="mission", position=position)
    )


# --- signed notes, checkpoints, cosignatures ------------------------------------------

LOG = "clearinghouse.example/audit/mission"
LOG_KEY = seeded_key("mission")
WITNESSES = {name: seeded_key(name) for name in ("witness/unodc", "witness/dpa")}
CHECKPOINT = checkpoint_text(LOG, 3, root_hash([b"0", b"1", b"2"]), ["ext: one"])
COSIGNATURES = [cosign(CHECKPOINT, n, k, 1_790_000_000) for n, k in WITNESSES.items()]
NOTE = add_signatures(sign_note(CHECKPOINT, LOG, LOG_KEY), COSIGNATURES)
VKEYS = [
    ed25519_vkey(LOG, LOG_KEY.public_key()),
    *(cosignature_vkey(n, k.public_key()) for n, k in WITNESSES.items()),
]
_SIG_PAYLOADS = st.binary(max_size=90).map(lambda b: base64.b64encode(b).decode())
SIGNATURE_LINES = st.one_of(
    st.sampled_from(NOTE.splitlines()),
    st.builds(
        lambda name, sig: f"\u2014 {name} {sig}",
        st.sampled_from([LOG, *WITNESSES]) | st.text(max_size=12),
        _SIG_PAYLOADS
        | st.sampled_from(["", "=", "AAAA", "AAA=", "AAAAB===", "-_-_", "QUFB\n"])
        | st.text(max_size=12),
    ),
    st.builds(lambda n: "\u2014 " + n, st.text(max_size=8)),
    st.sampled_from(["- x AAAA", "\u2014", "\u2014 ", "\u2014  AAAA", "\u2014 a  AAAA"]),
)


@st.composite
def line_mutations(draw: st.DrawFn, note: str) -> str:
    """1-3 edits of a note's lines: drop, duplicate, swap, insert a (bad) signature
    line, a very long line, or text; lose the blank line or the final newline."""
    lines = note.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines)))
        op = draw(st.sampled_from(["drop", "dup", "swap", "sig", "long", "text", "end", "crlf"]))
        if op == "drop" and i < len(lines):
            del lines[i]
        elif op == "dup" and i < len(lines):
            lines.insert(i, lines[i])
        elif op == "swap" and lines:
            j = draw(st.integers(0, len(lines) - 1))
            k = min(i, len(lines) - 1)
            lines[j], lines[k] = lines[k], lines[j]
        elif op == "sig":
            lines.insert(i, draw(SIGNATURE_LINES))
        elif op == "long":
            lines.insert(i, draw(st.sampled_from(["x", "\u2014 ", "A", "9"])) * 100_000)
        elif op == "text":
            lines.insert(i, draw(st.text(_CHARS, max_size=20)))
        elif op == "end":
            lines = lines[:-1] if lines and lines[-1] == "" else [*lines, ""]
        else:
            lines = [line + "\r" for line in lines]
    return "\n".join(lines)


def _as_bytes(text: str) -> st.SearchStrategy[bytes]:
    """The note's UTF-8 as is, or with invalid UTF-8 spliced in."""
    data = text.encode("utf-8", "surrogatepass")
    junk = st.sampled_from([b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\x00", b"\xc0\x80"])
    return st.one_of(
        st.just(data),
        st.builds(lambda i, j: data[:i] + j + data[i:], st.integers(0, len(data)), junk),
    )


NOTES = st.one_of(
    st.text(),
    st.text(st.sampled_from(["\n", "\u2014", " ", "A", "=", "a", "+", "/"]), max_size=60),
    char_mutations(NOTE),
    line_mutations(NOTE),
    line_mutations(NOTE).flatmap(char_mutations),
)


def _every_note_reader(note: str | bytes) -> None:
    """Each public function that reads a note, its checkpoint or a cosignature line."""
    protocol_outcome(lambda: verify_note(note, VKEYS))
    if protocol_outcome(lambda: parse_note(note)) is not None:
        return
    parsed = parse_note(note)
    protocol_outcome(lambda: parse_checkpoint(parsed.text))
    protocol_outcome(lambda: verify_note(parsed, VKEYS[:1]))
    for sig in parsed.signatures[:4]:
        for vkey in VKEYS:
            protocol_outcome(partial(verify_cosignature, parsed.text, sig.line, vkey))
    protocol_outcome(lambda: add_signatures(NOTE, [s.line for s in parsed.signatures]))
    if isinstance(note, str):
        protocol_outcome(lambda: add_signatures(note, COSIGNATURES))


@FUZZ
@given(note=NOTES)
def test_notes_parse_and_verify_or_raise_protocol_errors(note: str) -> None:
    _every_note_reader(note)


@FUZZ
@given(note=NOTES.flatmap(lambda t: _as_bytes(t)))
def test_notes_as_bytes_parse_and_verify_or_raise_protocol_errors(note: bytes) -> None:
    _every_note_reader(note)


@FUZZ
@given(
    text=st.one_of(
        st.text(),
        char_mutations(CHECKPOINT),
        line_mutations(CHECKPOINT),
        st.builds(
            lambda o, s, r: f"{o}\n{s}\n{r}\n",
            st.text(max_size=10),
            st.integers().map(str) | st.text(st.sampled_from("0123456789-+ "), max_size=25),
            _SIG_PAYLOADS,
        ),
    ),
    line=SIGNATURE_LINES | char_mutations(COSIGNATURES[0]) | st.text(),
)
def test_checkpoints_and_cosignatures_parse_or_raise_protocol_errors(text: str, line: str) -> None:
    protocol_outcome(lambda: parse_checkpoint(text))
    for vkey in VKEYS:
        protocol_outcome(partial(verify_cosignature, text, line, vkey))
        protocol_outcome(partial(verify_cosignature, CHECKPOINT, line, vkey))


@FUZZ
@given(vkey=st.text() | st.sampled_from(VKEYS).flatmap(char_mutations))
def test_verifier_keys_parse_or_raise_protocol_errors(vkey: str) -> None:
    protocol_outcome(lambda: parse_vkey(vkey))
    protocol_outcome(lambda: verify_note(NOTE, [vkey]))


# --- the corpus, and the regressions the fuzz found ------------------------------------


def test_fuzz_corpus_is_valid_before_mutation() -> None:
    for raw in VALID_VIEWS:
        verify_view(raw, FED.manifest, recipient=None, now=NOW)
    assert len(verify_note(NOTE, VKEYS)) == 3
    assert verify_receipt(RECEIPT, FED.manifest, sender="mission").status == "accepted"
    batch = verify_batch_receipt(BATCH_RECEIPT, FED.manifest, sender="mission")
    assert [v.status for v in batch.views] == ["accepted", "rejected", "deferred"]


def _with_claims(raw: str, *, added: tuple[str, ...] = (), **claims: object) -> str:
    """``raw`` with payload claims set and disclosures added, re-signed by its issuer."""
    compact = CompactSdJwt.parse(raw)
    payload = {**decode_jws(compact.jwt).payload, **claims}
    payload["_sd"] = sorted([*payload["_sd"], *map(digest_of, added)])
    header = decode_jws(compact.jwt).header
    jwt = _sign(compact_json(header), compact_json(payload), str(payload["iss"]))
    return CompactSdJwt(jwt, (*compact.disclosures, *added)).serialize()


@pytest.mark.parametrize("iat", [10**20, -(10**20), 2**63, 253402300800, -62135596801])
def test_an_iat_beyond_what_a_datetime_holds_is_a_malformed_packet(iat: int) -> None:
    # Was OverflowError ("timestamp out of range for platform time_t") or ValueError
    # ("year 10000 is out of range") from datetime.fromtimestamp, before the signature.
    raw = _with_claims(PACKETS["conflict-event/1"].sd_jwt, iat=iat)
    with pytest.raises(MalformedPacket, match=r"'iat' .* is outside the years 1 to 9999"):
        verify_view(raw, FED.manifest, recipient=None, now=NOW)
    payload = {**decode_jws(RECEIPT).payload, "iat": iat}
    receipt = _sign(compact_json(decode_jws(RECEIPT).header), compact_json(payload), "undp")
    with pytest.raises(MalformedPacket, match="outside the years"):
        verify_receipt(receipt, FED.manifest, sender="mission")


@pytest.mark.parametrize("iat", [True, 1.5, "1790000000", None])
def test_an_iat_that_is_not_an_integer_is_a_malformed_packet(iat: object) -> None:
    raw = _with_claims(PACKETS["conflict-event/1"].sd_jwt, iat=iat)
    with pytest.raises(MalformedPacket, match="'iat' is not an integer timestamp"):
        verify_view(raw, FED.manifest, recipient=None, now=NOW)


@pytest.mark.parametrize("opener", ['{"a":', "[", '{"_sd":[],"a":'])
def test_claims_nested_past_max_depth_are_a_malformed_packet(opener: str) -> None:
    # Was RecursionError from process() (a disclosure's value 500 objects deep parses
    # as JSON, then walking it exhausted the stack) in verify_view, make_view and
    # recipient_view, so also in the node's relay and ingest.
    closer = "}" if opener.startswith("{") else "]"
    value = opener * 500 + "1" + closer * 500
    disclosure = _encode(f'["c2FsdHNhbHRzYWx0","deep",{value}]')
    raw = _with_claims(PACKETS["conflict-event/1"].sd_jwt, added=(disclosure,))
    readers: list[Callable[[], object]] = [
        lambda: verify_view(raw, FED.manifest, recipient=None, now=NOW),
        lambda: make_view(raw, ["deep"]),
        lambda: recipient_view(raw, FED.manifest, "undp"),
    ]
    for read in readers:
        with pytest.raises(MalformedPacket, match=f"deeper than {MAX_DEPTH} levels"):
            read()


def test_claims_nested_exactly_max_depth_still_process() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH):
        value = {"a": value}
    assert process({"x": value["a"]}, [])[0] == {"x": value["a"]}
    with pytest.raises(MalformedPacket, match="deeper than"):
        process({"x": value}, [])
