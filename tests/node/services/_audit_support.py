"""A real audit log for the audit tools' tests, and the ways to tamper with it.

:func:`audit_database` opens a migrated database private to one test, on SQLite or
on PostgreSQL (``CLEARINGHOUSE_TEST_POSTGRES_URL``, in a throwaway schema:
:func:`tests.databases.throwaway_schema`), with mission's log in it: entries appended with
:func:`node.storage.auditlog.append`, checkpoints signed with mission's key as
:mod:`node.services.checkpoints` signs them, and witness cosignatures stored as
``POST /v1/audit/cosign`` stores them. :func:`standard_log` builds the log most
tests start from.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.protocol.audit import Act, audit_origin, encode_entry, witness_name
from clearinghouse.protocol.encoding import canonical_json
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    build_manifest,
    manifest_json,
    parse_manifest,
    sign_manifest,
)
from clearinghouse.protocol.merkle import CompactRange, leaf_hash
from clearinghouse.protocol.notes import checkpoint_text, cosign, parse_note, sign_note
from tests.databases import POSTGRES_URL, copy_template, throwaway_schema
from tests.node.storage._support import TestDatabase
from tests.support import Federation, make_federation, seeded_key

PARTICIPANT = "mission"
WITNESSES = ("unodc", "dpa")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class AuditDatabase:
    """One test's database and mission's log in it."""

    database: TestDatabase
    engine: Engine
    federation: Federation
    url: str  # what ``--db`` gets (PostgreSQL: with this test's search_path)
    appended: int = 0

    @property
    def origin(self) -> str:
        return audit_origin(self.federation.manifest.federation, PARTICIPANT)

    def append(self, count: int, *, at: datetime | None = None, kid: str | None = None) -> None:
        """``count`` more packet.issued entries at ``at``, signed with key ``kid`` (default:
        mission's key), in one transaction."""
        kid = kid or self.federation.kid(PARTICIPANT)
        acts = [
            Act(
                "packet.issued",
                f"node:{PARTICIPANT}",
                jti=f"jti-{i:04d}",
                fields={
                    "digest": f"d{i}",
                    "schema": "conflict-event/1",
                    "hc": "ünïcode",
                    "kid": kid,
                },
            )
            for i in range(self.appended, self.appended + count)
        ]
        with transaction(self.engine) as session:
            auditlog.append(session, acts, now=at or NOW + timedelta(seconds=self.appended))
        self.appended += count

    def sign(
        self,
        witnesses: tuple[str, ...] = WITNESSES,
        *,
        key: Ed25519PrivateKey | None = None,
        at: datetime = NOW,
    ) -> int:
        """A checkpoint of the head signed with ``key`` (default: mission's) at ``at``,
        cosigned by ``witnesses`` ``size`` seconds later; return its size."""
        with transaction(self.engine) as session:
            head = auditlog.head(session)
            note = self.note(head.size, head.root, key)
            auditlog.add_checkpoint(session, size=head.size, root=head.root, note=note, now=at)
            self.cosign(session, head.size, note, witnesses, at)
        return head.size

    def note(self, size: int, root: bytes, key: Ed25519PrivateKey | None = None) -> str:
        key = key or self.federation.keys[PARTICIPANT]
        return sign_note(checkpoint_text(self.origin, size, root), self.origin, key)

    def cosign(
        self, session: Any, size: int, note: str, witnesses: tuple[str, ...], at: datetime = NOW
    ) -> None:
        checkpoint = parse_note(note).text
        fed = self.federation.manifest.federation
        for w in witnesses:
            ts = int(at.timestamp()) + size
            line = cosign(checkpoint, witness_name(fed, w), self.federation.keys[w], ts)
            auditlog.add_cosignatures(session, witness=w, lines=[(size, line, ts)], now=at)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def body(self, seq: int) -> str:
        return str(self.sql("SELECT body FROM audit_entry WHERE seq = :s", s=seq)[0][0])

    def rewrite(self, seq: int, change: Callable[[dict[str, Any]], None]) -> None:
        """Rewrite history as the key holder could: entry ``seq`` changed, every leaf hash,
        block and the head recomputed, the checkpoints covering it signed again (the
        witnesses' cosignatures are left as they were)."""
        rows = self.sql("SELECT seq, body FROM audit_entry ORDER BY seq")
        tree, roots = CompactRange(), {}
        sizes = {r[0] for r in self.sql("SELECT size FROM audit_checkpoint")}
        self.sql("DELETE FROM audit_block")
        for s, body in rows:
            if s == seq:
                value = json.loads(body)
                change(value)
                body = canonical_json(value).decode()
            leaf = leaf_hash(body.encode())
            self.sql(
                "UPDATE audit_entry SET body = :b, leaf_hash = :h WHERE seq = :s",
                b=body,
                h=leaf,
                s=s,
            )
            for block in tree.append(leaf)[1:]:
                self.sql(
                    "INSERT INTO audit_block (level, idx, hash) VALUES (:l, :i, :h)",
                    l=block.level,
                    i=block.index,
                    h=block.hash,
                )
            if tree.size in sizes:
                roots[tree.size] = tree.root()
        self.sql(
            "UPDATE audit_head SET root = :r, frontier = :f WHERE id = 1",
            r=tree.root(),
            f=tree.to_bytes(),
        )
        for size, root in roots.items():
            if size > seq:
                self.sql(
                    "UPDATE audit_checkpoint SET root = :r, note = :n WHERE size = :s",
                    r=root,
                    n=self.note(size, root),
                    s=size,
                )


def flip(signature_line: str) -> str:
    """The line with one bit of its signature bytes flipped (key id and length kept)."""
    prefix, _, sig64 = signature_line.rstrip("\n").rpartition(" ")
    raw = bytearray(base64.b64decode(sig64))
    raw[-10] ^= 0x01
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"


def standard_log(log: AuditDatabase) -> None:
    """28 entries; checkpoints 10 and 20 cosigned by unodc and dpa, 25 by nobody yet."""
    log.append(10)
    log.sign()
    log.append(10)
    log.sign()
    log.append(5)
    log.sign(witnesses=())
    log.append(3)


@contextmanager
def audit_database(
    backend: str, tmp_path: Path, federation: Federation, template: Path | None = None
) -> Iterator[AuditDatabase]:
    """A migrated database for one test (see the module docstring); on SQLite a copy of
    ``template`` if given (the ``migrated_sqlite`` fixture), else migrated here."""
    if backend == "sqlite":
        path = tmp_path / "node.db"
        if template is not None:
            url = copy_template(template, path)
        else:
            url = f"sqlite:///{path}"
            upgrade(url)
        database = TestDatabase("sqlite", url)
        try:
            yield AuditDatabase(database, database.engine(), federation, database.url)
        finally:
            database.dispose()
        return
    with throwaway_schema() as (schema, url):
        database = TestDatabase("postgres", POSTGRES_URL, schema)
        try:
            engine = database.engine()
            upgrade(database.url, engine=engine)
            yield AuditDatabase(database, engine, federation, url)
        finally:
            database.dispose()


def other_federation(config: dict[str, Any]) -> Federation:
    """The same federation with every participant's key replaced (a manifest the log's
    signatures do not verify with)."""
    federation = make_federation(config)
    keys = {pid: seeded_key(f"another {pid}") for pid in federation.keys}
    manifest = build_manifest(
        federation.config,
        {pid: [public_jwk(k)] for pid, k in keys.items()},
        issued_at=federation.manifest.issued_at,
    )
    for signer in ("mission", "unodc", "dpa"):
        manifest = sign_manifest(manifest, signer, keys[signer])
    return Federation(manifest, keys, federation.config, federation.pseudonym_key)


def write_manifest(federation: Federation, path: Path) -> Path:
    path.write_bytes(manifest_json(federation.manifest))
    return path


def with_keys(
    federation: Federation,
    keys: list[tuple[Ed25519PrivateKey, dict[str, Any]]],
    *,
    serial: int,
    issued_at: datetime,
    signers: dict[str, Ed25519PrivateKey],
) -> Federation:
    """The federation under a new manifest in which mission holds ``keys``, each with its
    validity (``not_before``, ``not_after``, ``revoked``, ``revoked_at`` as datetimes),
    signed by ``signers``."""
    doc = json.loads(manifest_json(federation.manifest))
    doc.pop("signatures")
    doc.update(serial=serial, issued_at=issued_at.isoformat())
    for participant in doc["participants"]:
        if participant["id"] == PARTICIPANT:
            participant["keys"] = [
                {
                    **public_jwk(key),
                    **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in w.items()},
                }
                for key, w in keys
            ]
    manifest = parse_manifest(doc)
    for signer, key in signers.items():
        manifest = sign_manifest(manifest, signer, key)
    return Federation(manifest, federation.keys, federation.config, federation.pseudonym_key)


# --- tampering with mission's log (as built by standard_log) --------------------------


def change_body(log: AuditDatabase) -> None:
    """Entry 13's bytes edited in place (its stored leaf hash left alone)."""
    log.sql("UPDATE audit_entry SET body = :b WHERE seq = 13", b=log.body(13).replace("d13", "d99"))


def delete_entry(log: AuditDatabase) -> None:
    log.sql("DELETE FROM audit_entry WHERE seq = 13")


def delete_last_entry(log: AuditDatabase) -> None:
    log.sql("DELETE FROM audit_entry WHERE seq = 27")


def insert_entry(log: AuditDatabase) -> None:
    """A well-formed entry 13 slipped in, the later ones renumbered (their bodies kept)."""
    log.sql("UPDATE audit_entry SET seq = -seq - 1 WHERE seq >= 13")
    log.sql("UPDATE audit_entry SET seq = -seq WHERE seq < 0")
    body = encode_entry(13, NOW, Act("key.loaded", f"node:{PARTICIPANT}", fields={"kid": "x"}))
    log.sql(
        "INSERT INTO audit_entry (seq, time, act, actor, body, leaf_hash)"
        " VALUES (13, :t, 'key.loaded', 'node:mission', :b, :h)",
        t=NOW,
        b=body.decode(),
        h=leaf_hash(body),
    )


def swap_entries(log: AuditDatabase) -> None:
    log.sql("UPDATE audit_entry SET seq = -1 WHERE seq = 13")
    log.sql("UPDATE audit_entry SET seq = 13 WHERE seq = 14")
    log.sql("UPDATE audit_entry SET seq = 14 WHERE seq = -1")


def resign_history(log: AuditDatabase) -> None:
    """Entry 13 rewritten with the node's key: tree, head and checkpoints 20, 25 redone."""
    log.rewrite(13, lambda body: body.update(digest="forged"))


def resign_history_without_witnesses(log: AuditDatabase) -> None:
    resign_history(log)
    log.sql("DELETE FROM audit_cosignature WHERE size >= 20")


def corrupt_cosignature(log: AuditDatabase) -> None:
    line = log.sql("SELECT line FROM audit_cosignature WHERE size = 10 AND witness = 'unodc'")
    log.sql(
        "UPDATE audit_cosignature SET line = :l WHERE size = 10 AND witness = 'unodc'",
        l=flip(line[0][0]),
    )


def corrupt_checkpoint_signature(log: AuditDatabase) -> None:
    note = log.sql("SELECT note FROM audit_checkpoint WHERE size = 20")[0][0]
    text, _, line = note.rstrip("\n").rpartition("\n")
    log.sql("UPDATE audit_checkpoint SET note = :n WHERE size = 20", n=f"{text}\n{flip(line)}")


def remove_checkpoint_signature(log: AuditDatabase) -> None:
    """Checkpoint 20's own signature line dropped; the witnesses' lines still verify."""
    note = log.sql("SELECT note FROM audit_checkpoint WHERE size = 20")[0][0]
    text = note[: note.rindex("\n\n") + 2]
    log.sql("UPDATE audit_checkpoint SET note = :n WHERE size = 20", n=text)


def change_unsigned_entry(log: AuditDatabase) -> None:
    """Entry 26 (after the last checkpoint) changed, its leaf hash recomputed."""
    body = log.body(26).replace("d26", "d99")
    log.sql(
        "UPDATE audit_entry SET body = :b, leaf_hash = :h WHERE seq = 26",
        b=body,
        h=leaf_hash(body.encode()),
    )


def corrupt_tree(log: AuditDatabase) -> None:
    """The stored tree's blocks damaged: the proof 10 -> 20 no longer holds."""
    log.sql("UPDATE audit_block SET hash = :z WHERE level = 1", z=bytes(32))


@dataclass(frozen=True)
class Tampering:
    name: str
    apply: Callable[[AuditDatabase], None]
    message: str  # a regular expression the failure message must match
    seq: int | None  # the entry the failure names first

    def __str__(self) -> str:
        return self.name


_KEY = r"\+[0-9a-f]{8}"
TAMPERINGS = [
    Tampering(
        "body-changed",
        change_body,
        r"^entry 13 was changed: its bytes no longer hash to its stored leaf hash$",
        13,
    ),
    Tampering(
        "deleted", delete_entry, r"^entry 13 is missing \(the next stored entry is 14\)$", 13
    ),
    Tampering(
        "last-deleted", delete_last_entry, r"^the log claims 28 entries but 27 were read$", 27
    ),
    Tampering(
        "inserted",
        insert_entry,
        r"^entry 14 says it is entry 13: entries were inserted, deleted or reordered$",
        14,
    ),
    Tampering("swapped", swap_entries, r"^entry 13 says it is entry 14: ", 13),
    Tampering(
        "history-resigned",
        resign_history,
        rf"^checkpoint 20: signature by known key un-integrated-analysis-demo/dpa/witness{_KEY}"
        r" does not verify$",
        10,
    ),
    Tampering(
        "cosignature-corrupted",
        corrupt_cosignature,
        rf"^checkpoint 10: signature by known key un-integrated-analysis-demo/unodc/witness{_KEY}"
        r" does not verify$",
        0,
    ),
    Tampering(
        "checkpoint-signature-bad",
        corrupt_checkpoint_signature,
        rf"^checkpoint 20: signature by known key un-integrated-analysis-demo/mission/audit{_KEY}"
        r" does not verify$",
        10,
    ),
    Tampering(
        "checkpoint-signature-removed",
        remove_checkpoint_signature,
        r"^checkpoint 20 is not signed by un-integrated-analysis-demo/mission/audit$",
        10,
    ),
    Tampering(
        "unsigned-entry-changed",
        change_unsigned_entry,
        r"^the .* claims root \S+ for its 28 entries, they give \S+: an entry after the last"
        r" checkpoint, in \[25, 28\), was changed after it was hashed$",
        25,
    ),
    Tampering(
        "tree-corrupted",
        corrupt_tree,
        r"^checkpoint 20: consistency proof 10 -> 20 fails: ",
        10,
    ),
]


# --- a key rotation in mission's log ----------------------------------------------------

KEY_B = seeded_key("mission, rotated")
SWITCH = NOW  # mission's first key (A) ends here; the next one (B) took over before
HOUR = timedelta(hours=1)
REVOKED_AT = SWITCH - 90 * timedelta(minutes=1)  # between checkpoints 5 and 10 (see below)


def rotated(federation: Federation, *, revoke_a_at: datetime | None = None) -> Federation:
    """mission's key A valid until :data:`SWITCH`, key B from 6 hours before it (serial 2,
    signed with B); with ``revoke_a_at``, A also revoked from then on (serial 3)."""
    a_window: dict[str, Any] = {"not_before": federation.manifest.issued_at, "not_after": SWITCH}
    if revoke_a_at is not None:
        a_window.update(revoked=True, revoked_at=revoke_a_at)
    b_window = {"not_before": SWITCH - 6 * HOUR, "not_after": SWITCH + 365 * 24 * HOUR}
    return with_keys(
        federation,
        [(federation.keys[PARTICIPANT], a_window), (KEY_B, b_window)],
        serial=2 if revoke_a_at is None else 3,
        issued_at=SWITCH - 6 * HOUR if revoke_a_at is None else SWITCH + 3 * HOUR,
        signers={
            PARTICIPANT: KEY_B,
            "unodc": federation.keys["unodc"],
            "dpa": federation.keys["dpa"],
        },
    )


def rotation_log(log: AuditDatabase) -> None:
    """17 entries across a rotation from key A to key B at :data:`SWITCH`: entries 0-4 by A
    (4 h before), checkpoint 5 by A (-3 h), entries 5-9 by A (-2 h), checkpoint 10 by A
    (-1 h), entries 10-14 by B (+1 h), checkpoint 15 by B (+2 h), entries 15-16 by B; every
    checkpoint cosigned by unodc and dpa ``size`` seconds after it was signed."""
    a, kid_a = log.federation.keys[PARTICIPANT], log.federation.kid(PARTICIPANT)
    kid_b = public_jwk(KEY_B)["kid"]
    log.append(5, at=SWITCH - 4 * HOUR, kid=kid_a)
    log.sign(key=a, at=SWITCH - 3 * HOUR)
    log.append(5, at=SWITCH - 2 * HOUR, kid=kid_a)
    log.sign(key=a, at=SWITCH - HOUR)
    log.append(5, at=SWITCH + HOUR, kid=kid_b)
    log.sign(key=KEY_B, at=SWITCH + 2 * HOUR)
    log.append(2, at=SWITCH + 2 * HOUR + 30 * timedelta(minutes=1), kid=kid_b)
