"""Audit log entries and the streaming check of a whole log against its checkpoints.

An entry is one act on shared data, as canonical JSON (RFC 8785 JCS)::

    {"act":"view.queued","actor":"node:unodc","jti":"...","peer":"dpa","seq":41,
     "time":"2026-11-29T10:00:00.123Z", ...act-specific fields}

``seq`` numbers the entries from 0 without gaps: entry ``seq`` is leaf ``seq`` of
the log's RFC 9162 Merkle tree (:mod:`protocol.merkle`), and a C2SP checkpoint
(:mod:`protocol.notes`) signs the root of the first ``size`` entries. Entries name
fields, peers and packets, never field values.

The acts on views — ``view.queued``, ``view.sent``, ``packet.received`` — record a
*batch* with one peer in one entry, and ``analysis.run`` the packets one analysis
batch took: its ``views`` field lists each view (or packet) in batch order, each an
object naming the view's ``jti`` (when known) and ``digest`` with what became of it.
An entry whose batch holds exactly one view also carries that view's ``jti`` at the
top level, as entries of one view always did (readers that look only there still find
it); an entry of several views has no top-level ``jti``. :meth:`Act.covers` (and
:meth:`Entry.covers`) lists every packet an entry covers, so a store can index each
one (``GET /v1/audit/search?jti=`` finds the batch entry of each view). Entries
written before batches (one view each, the view's fields at the top level, no
``views``) stay as they were signed and are read alongside.

:class:`LogVerifier` takes a log's entries in order, interleaved with its signed
checkpoints, and raises :class:`AuditLogInvalid` naming the first entry that is
wrong (or the first one a mismatching checkpoint could cover). Memory is O(log n).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clearinghouse.protocol.encoding import canonical_json, parse_canonical_json
from clearinghouse.protocol.errors import (
    AuditEntryMalformed,
    AuditLogInvalid,
    EncodingError,
    MerkleError,
    NoteError,
)
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.merkle import CompactRange, leaf_hash, verify_consistency
from clearinghouse.protocol.notes import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    VerifiedSignature,
    Verifier,
    cosignature_vkey,
    ed25519_vkey,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_note,
)

__all__ = [
    "ACTS",
    "RESERVED",
    "Act",
    "CheckpointCheck",
    "Entry",
    "LogVerifier",
    "audit_origin",
    "covered_jtis",
    "encode_entry",
    "format_time",
    "log_keys",
    "parse_entry",
    "witness_keys",
    "witness_name",
]

#: Every act an entry may record, with what its entry holds besides seq/time/actor.
ACTS: dict[str, str] = {
    "record.rejected": "a local record refused at ingest: index, code, reason",
    "packet.issued": (
        "a local record issued as a packet: jti, digest, schema, hc, kid (the key that signed it)"
    ),
    "view.queued": (
        "views owed to peer, one entry per batch queued: policy hash (the sharing policy"
        " in force) and views: [{jti, digest, fields (the claim names disclosed),"
        " authorisation (the oversight authorisation relied on, if any)}]; relay (the"
        " issuer, for views relayed) or authorisation (for views an authorisation queued)"
    ),
    "view.sent": (
        "views handed to peer, one entry per batch: via (push, or catch-up: one entry per"
        " page served) and views: [{jti, digest}]; a push adds each view's status and"
        " reason from the receipt peer signed, and receipts: the SHA-256 of each distinct"
        " receipt text covering the batch (a view's receipt: its index in receipts, when"
        " there are several)"
    ),
    "packet.received": (
        "views from peer, one entry per batch: via (push or catch-up) and views: [{jti,"
        " digest (both when known), outcome (accepted, duplicate, rejected, quarantined,"
        " deferred), code, reason, widened}]"
    ),
    "analysis.run": (
        "the node's analyzer ran on a batch of packets: analyzer, and views (each packet's"
        " jti, digest, issuer, findings, error); written before batches: one packet's jti,"
        " digest, issuer, analyzer, findings, error"
    ),
    "result.issued": (
        "an analysis result issued as a packet: jti, digest, input jti, hc, kid (the key that"
        " signed it)"
    ),
    "manifest.accepted": "the node started on (or switched to) a manifest: serial, sha256",
    "key.loaded": "the node signs with a key: kid",
    "tokens.configured": "the local API tokens: name and role of each (never the secret)",
    "witness.alert": "peer's log is inconsistent with what this node cosigned: kind, detail",
    "manifest.refused": "a submitted manifest refused: serial, sha256, from whom, the reason",
    "manifest.chain_broken": (
        "a stored manifest that does not follow from the one before it, never obeyed: serial,"
        " sha256 of the stored document, the serial it was checked against, the reason"
    ),
    "authorisation.accepted": (
        "an oversight authorisation taken on: id, issuer, recipient, fields, purpose, expiry"
    ),
    "authorisation.refused": "a submitted oversight authorisation refused: id, the reason",
    "authorisation.used": "an oversight authorisation unlocked fields: id, recipient, fields",
    "relay.refused": "onward dissemination refused by the handling code: jti, hc, recipients",
    "data.read": (
        "a person or local client read shared data: what (packet, packets, result, situation,"
        " area, actor, export, audit), and the jti, audit entries or filters it named"
    ),
    "session.started": "a person or token signed in to the web pages: how (oidc, token, link)",
    "session.ended": "a web session ended by signing out",
}

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

#: The keys every entry has or may have at its top level; an act's fields use others.
RESERVED = frozenset({"seq", "time", "act", "actor", "peer", "jti"})


def audit_origin(federation: str, participant: str) -> str:
    """The checkpoint origin (and signed-note key name) of ``participant``'s log."""
    return f"{federation}/{participant}/audit"


def witness_name(federation: str, participant: str) -> str:
    """The key name ``participant`` cosigns other logs' checkpoints under."""
    return f"{federation}/{participant}/witness"


def log_keys(manifest: Manifest, participant: str) -> list[Verifier]:
    """Ed25519 verifier keys for ``participant``'s checkpoints: one per manifest key."""
    origin = audit_origin(manifest.federation, participant)
    return [
        parse_vkey(ed25519_vkey(origin, key.public_key()))
        for key in manifest.participant(participant).keys
    ]


def witness_keys(manifest: Manifest, *, besides: str | None = None) -> list[Verifier]:
    """cosignature/v1 verifier keys of every participant (but ``besides``) as a witness."""
    return [
        parse_vkey(cosignature_vkey(witness_name(manifest.federation, p.id), key.public_key()))
        for p in manifest.participants
        if p.id != besides
        for key in p.keys
    ]


@functools.lru_cache(maxsize=64)  # a batch of entries shares one time: strftime is slow
def format_time(at: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as entries carry it."""
    if at.tzinfo is None:
        raise AuditEntryMalformed("entry time must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def covered_jtis(jti: str | None, fields: Mapping[str, Any]) -> tuple[str, ...]:
    """The packets an entry covers: its top-level ``jti`` and the ``jti`` of each of its
    ``views``, each once, in order. Anything malformed in ``views`` is passed over (a
    stored entry is read as it was signed)."""
    covered = [jti] if jti else []
    views = fields.get("views")
    if isinstance(views, list):
        covered += [
            v["jti"] for v in views if isinstance(v, dict) and isinstance(v.get("jti"), str)
        ]
    return tuple(dict.fromkeys(j for j in covered if j))


@dataclass(frozen=True, slots=True)
class Act:
    """One act to record: what, by whom, with which peer and packet, and its fields
    (a batch act lists its views in ``fields["views"]``: see the module docstring)."""

    act: str
    actor: str
    peer: str | None = None
    jti: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def covers(self) -> tuple[str, ...]:
        """Every packet this act's entry covers (:func:`covered_jtis`)."""
        return covered_jtis(self.jti, self.fields)


def _check_views(views: object) -> None:
    """A ``views`` field is a list of objects, each naming its packet by a non-empty
    ``jti`` or none at all."""
    if not isinstance(views, list | tuple):
        raise AuditEntryMalformed("views must be a list")
    for view in views:
        if not isinstance(view, Mapping):
            raise AuditEntryMalformed("each of views must be an object")
        jti = view.get("jti")
        if jti is not None and not (isinstance(jti, str) and jti):
            raise AuditEntryMalformed("a view's jti must be a non-empty string or absent")


def encode_entry(seq: int, at: datetime, act: Act) -> bytes:
    """The canonical bytes of entry ``seq`` (its Merkle leaf input); refuses anything
    :func:`parse_entry` would refuse."""
    if act.act not in ACTS:
        raise AuditEntryMalformed(f"unknown act {act.act!r}")
    if type(seq) is not int or seq < 0:
        raise AuditEntryMalformed(f"seq {seq!r} is not a non-negative integer")
    if not isinstance(act.actor, str) or not act.actor:
        raise AuditEntryMalformed("an entry needs an actor")
    for name, value in (("peer", act.peer), ("jti", act.jti)):
        if value is not None and not (isinstance(value, str) and value):
            raise AuditEntryMalformed(f"{name} must be a non-empty string or absent")
    clash = RESERVED & set(act.fields)
    if clash:
        raise AuditEntryMalformed(f"act fields may not be named {sorted(clash)}")
    if "views" in act.fields:
        _check_views(act.fields["views"])
    body: dict[str, Any] = {**act.fields, "seq": seq, "time": format_time(at)}
    body["act"], body["actor"] = act.act, act.actor
    if act.peer is not None:
        body["peer"] = act.peer
    if act.jti is not None:
        body["jti"] = act.jti
    return canonical_json(body)


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    time: str
    act: str
    actor: str
    peer: str | None
    jti: str | None
    body: dict[str, Any]

    def covers(self) -> tuple[str, ...]:
        """Every packet this entry covers (:func:`covered_jtis`): its top-level ``jti``
        (an entry of one view, or written before batches) and each of its ``views``."""
        return covered_jtis(self.jti, self.body)


def parse_entry(body: bytes) -> Entry:
    """Parse and check one entry's bytes: canonical JSON with the required keys."""
    try:
        value = parse_canonical_json(body)
    except EncodingError as exc:
        raise AuditEntryMalformed(exc.message) from exc
    if not isinstance(value, dict):
        raise AuditEntryMalformed("not a JSON object")
    seq, act, actor = value.get("seq"), value.get("act"), value.get("actor")
    if type(seq) is not int or seq < 0:
        raise AuditEntryMalformed("seq is not a non-negative integer")
    if not isinstance(act, str) or act not in ACTS:
        raise AuditEntryMalformed(f"unknown act {act!r}")
    if not isinstance(actor, str) or not actor:
        raise AuditEntryMalformed("actor missing")
    time = value.get("time")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise AuditEntryMalformed("time is not RFC 3339 UTC with milliseconds")
    for name in ("peer", "jti"):
        if name in value and not (isinstance(value[name], str) and value[name]):
            raise AuditEntryMalformed(f"{name} is not a non-empty string")
    peer, jti = value.get("peer"), value.get("jti")
    return Entry(seq, time, act, actor, peer, jti, value)


@dataclass(frozen=True, slots=True)
class CheckpointCheck:
    """A checkpoint that matched the entries: its size, root and who cosigned when.

    ``signatures``: every signature that verified, the log's own (``ed25519``) and the
    witnesses' (``cosignature/v1``, with their timestamps), by key name and key id:
    :mod:`protocol.key_use` judges each key's validity at that time."""

    checkpoint: Checkpoint
    signed_by: str
    cosigners: Mapping[str, int]  # witness name -> cosignature timestamp
    signatures: tuple[VerifiedSignature, ...] = ()


class LogVerifier:
    """Check a log as it streams past: entries in order, each checkpoint when reached.

    ``log_keys`` are the origin's Ed25519 verifier keys (any of them may have signed
    a checkpoint); ``witnesses`` are cosignature/v1 verifier keys (:func:`witness_keys`).
    Feed :meth:`entry` for seq 0, 1, ... and :meth:`checkpoint` whenever :attr:`size`
    equals the checkpoint's size; :meth:`finish` with the number of entries the
    store claims. Each raises :class:`AuditLogInvalid` (``.seq``: the first bad entry).
    """

    def __init__(
        self,
        origin: str,
        log_keys: Sequence[Verifier],
        witnesses: Sequence[Verifier] = (),
    ) -> None:
        self.origin = origin
        self._log_keys = [k for k in log_keys if k.type == ED25519 and k.name == origin]
        if not self._log_keys:
            raise AuditLogInvalid(f"no Ed25519 verifier key named {origin!r}", seq=None)
        self._witnesses = list(witnesses)
        for key in self._witnesses:
            if key.type != COSIGNATURE_V1:
                raise AuditLogInvalid(f"witness key {key.name!r} is not a cosignature/v1 key")
        self._range = CompactRange()
        self._last: Checkpoint | None = None
        self.checkpoints = 0
        self.cosignatures = 0

    @property
    def size(self) -> int:
        return self._range.size

    @property
    def root(self) -> bytes:
        return self._range.root()

    @property
    def last_checkpoint(self) -> Checkpoint | None:
        return self._last

    def _since_last(self) -> int:
        return self._last.size if self._last is not None else 0

    def entry(self, seq: int, body: bytes, stored_leaf_hash: bytes | None = None) -> Entry:
        """Take the entry stored at position ``seq`` (the next one); return it parsed."""
        position = self._range.size
        if seq != position:
            raise AuditLogInvalid(
                f"entry {position} is missing (the next stored entry is {seq})", seq=position
            )
        try:
            parsed = parse_entry(body)
        except AuditEntryMalformed as exc:
            raise AuditLogInvalid(f"entry {seq} is malformed: {exc}", seq=seq) from exc
        if parsed.seq != seq:
            raise AuditLogInvalid(
                f"entry {seq} says it is entry {parsed.seq}: entries were inserted, deleted"
                " or reordered",
                seq=seq,
            )
        computed = leaf_hash(body)
        if stored_leaf_hash is not None and stored_leaf_hash != computed:
            raise AuditLogInvalid(
                f"entry {seq} was changed: its bytes no longer hash to its stored leaf hash",
                seq=seq,
            )
        self._range.append(computed)
        return parsed

    def checkpoint(
        self, note: str, consistency_proof: Sequence[bytes] | None = None
    ) -> CheckpointCheck:
        """Check a signed checkpoint of the entries taken so far (size == :attr:`size`).

        Its signature by the origin, every known witness's cosignature, its root against
        the entries, and (if given) the consistency proof from the previous checkpoint.
        """
        try:
            parsed_note = parse_note(note)
            checkpoint = parse_checkpoint(parsed_note.text)
        except NoteError as exc:
            raise AuditLogInvalid(f"a checkpoint is malformed: {exc}", seq=None) from exc
        where = f"checkpoint {checkpoint.size}"
        if checkpoint.origin != self.origin:
            raise AuditLogInvalid(f"{where} is for origin {checkpoint.origin!r}", seq=None)
        if checkpoint.size != self.size:
            raise AuditLogInvalid(
                f"{where} was checked after {self.size} entries (checkpoints out of order)",
                seq=None,
            )
        try:
            verified = verify_note(parsed_note, [*self._log_keys, *self._witnesses])
        except NoteError as exc:
            raise AuditLogInvalid(f"{where}: {exc}", seq=self._since_last()) from exc
        signer = next((v for v in verified if v.kind == "ed25519"), None)
        if signer is None:  # only witnesses' lines verified: the log's own signature is missing
            raise AuditLogInvalid(f"{where} is not signed by {self.origin}", seq=self._since_last())
        if checkpoint.root != self.root:
            first = self._since_last()
            raise AuditLogInvalid(
                f"{where} signed a root the entries do not reproduce: an entry in"
                f" [{first}, {checkpoint.size}) was changed, inserted, deleted or reordered",
                seq=first,
            )
        previous = self._last
        if previous is not None and consistency_proof is not None:
            try:
                verify_consistency(
                    previous.size, checkpoint.size, previous.root, checkpoint.root,
                    consistency_proof,
                )  # fmt: skip
            except MerkleError as exc:
                raise AuditLogInvalid(
                    f"consistency proof {previous.size} -> {checkpoint.size} fails: {exc}",
                    seq=previous.size,
                ) from exc
        cosigners = {v.name: int(v.timestamp or 0) for v in verified if v.kind != "ed25519"}
        self._last = checkpoint
        self.checkpoints += 1
        self.cosignatures += len(cosigners)
        return CheckpointCheck(checkpoint, signer.name, cosigners, tuple(verified))

    def finish(self, claimed_size: int | None = None) -> None:
        """The end of the log: the store's own size (if any) must match what was read."""
        if claimed_size is not None and claimed_size != self.size:
            raise AuditLogInvalid(
                f"the log claims {claimed_size} entries but {self.size} were read",
                seq=min(claimed_size, self.size),
            )
