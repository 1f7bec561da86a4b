"""The audit tools' logic: a real log read from its database, written to a bundle and
checked end to end; every kind of tampering named at the first bad entry, on SQLite
and (with ``CLEARINGHOUSE_TEST_POSTGRES_URL``) PostgreSQL."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.audit_tool import (
    AccessFailed,
    Log,
    LogHeader,
    LogMalformed,
    StoredCheckpoint,
    StoredEntry,
    Summary,
    VerificationFailed,
    check_checkpoint,
    open_bundle,
    open_database,
    verify_log,
    write_bundle,
)
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act, audit_origin, encode_entry, witness_name
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.merkle import CompactRange, leaf_hash
from clearinghouse.protocol.notes import checkpoint_text, cosign, sign_note
from tests.node.services._audit_support import (
    NOW,
    TAMPERINGS,
    AuditDatabase,
    Tampering,
    audit_database,
    other_federation,
    resign_history_without_witnesses,
    standard_log,
)
from tests.support import Federation


@pytest.fixture
def log(
    backend: str, tmp_path: Path, federation: Federation, migrated_sqlite: Path
) -> Iterator[AuditDatabase]:
    with audit_database(backend, tmp_path, federation, migrated_sqlite) as database:
        standard_log(database)
        yield database


def from_db(log: AuditDatabase, **kw: Any) -> Summary:
    with open_database(log.url, manifest=log.federation.manifest, manifest_source="test") as src:
        return verify_log(src, **kw)


def export(log: AuditDatabase, path: Path) -> Path:
    with open_database(log.url, manifest=log.federation.manifest, manifest_source="test") as src:
        write_bundle(src, path, now=NOW)
    return path


def from_bundle(path: Path, manifest: Manifest | None = None, **kw: Any) -> Summary:
    with open_bundle(path, manifest=manifest, manifest_source="trusted test") as src:
        return verify_log(src, **kw)


def lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read().splitlines()


# --- a good log ----------------------------------------------------------------------


def test_a_good_log_verifies_from_its_database(log: AuditDatabase) -> None:
    summary = from_db(log)
    with transaction(log.engine) as session:
        head = auditlog.head(session)
    assert (summary.entries, summary.root) == (28, head.root)
    assert (summary.checkpoints, summary.last_checkpoint) == (3, 25)
    assert summary.cosignatures == {"dpa": 2, "unodc": 2}
    assert (summary.uncosigned, summary.uncosigned_last) == (1, (25,))
    assert summary.header.origin == "un-integrated-analysis-demo/mission/audit"
    assert summary.header.participant == "mission"  # deduced from the checkpoints' origin


@pytest.mark.parametrize("name", ["log.jsonl", "log.jsonl.gz"])
def test_an_exported_bundle_verifies_offline_to_the_same_summary(
    log: AuditDatabase, tmp_path: Path, name: str
) -> None:
    path = export(log, tmp_path / name)
    direct, offline = from_db(log), from_bundle(path)
    assert (offline.entries, offline.root, offline.checkpoints) == (28, direct.root, 3)
    assert offline.cosignatures == direct.cosignatures
    assert offline.header.manifest_source.startswith("carried in the bundle")
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert not list(tmp_path.glob(".*.partial"))


def test_the_bundle_layout(log: AuditDatabase, tmp_path: Path) -> None:
    docs = [json.loads(line) for line in lines(export(log, tmp_path / "log.jsonl"))]
    header = docs[0]
    assert header["format"] == "clearinghouse-audit-bundle/1"
    assert (header["participant"], header["size"]) == ("mission", 28)
    assert header["manifest"]["federation"] == "un-integrated-analysis-demo"
    assert header["exported_at"] == "2026-11-25T12:00:00.000Z"
    kinds = ["end" if "end" in d else "cp" if "checkpoint" in d else d["seq"] for d in docs[1:]]
    expected = [*range(10), "cp", *range(10, 20), "cp", *range(20, 25), "cp", 25, 26, 27, "end"]
    assert kinds == expected
    assert docs[11]["consistency"] == [] and len(docs[22]["consistency"]) > 0
    assert docs[-1] == {"end": 28}
    with transaction(log.engine) as session:
        row = auditlog.entries(session, 13, 14)[0]
    assert docs[15]["body"] == row.body  # the exact bytes, non-ASCII included
    assert "\\u00fc" in lines(tmp_path / "log.jsonl")[15]  # written as ASCII


def test_a_log_without_checkpoints_needs_its_participant(
    tmp_path: Path, federation: Federation
) -> None:
    with audit_database("sqlite", tmp_path, federation) as log:
        log.append(4)
        manifest = federation.manifest
        with pytest.raises(AccessFailed, match="pass --participant"):
            from_db(log)
        summary = from_db_url(log.url, manifest)
    assert (summary.entries, summary.checkpoints, summary.last_checkpoint) == (4, 0, None)


def test_min_cosignatures_fails_at_the_first_checkpoint_short_of_witnesses(
    log: AuditDatabase,
) -> None:
    with pytest.raises(VerificationFailed) as caught:
        from_db(log, min_cosignatures=1)
    assert caught.value.message == (
        "checkpoint 25 has 0 valid witness cosignature(s) of the 1 required:"
        " entries [20, 25) are not witnessed"
    )
    assert (caught.value.seq, caught.value.entries_checked) == (20, 25)


# --- tampering, named at the first bad entry, from the database and from a bundle -----


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=str)
def test_tampering_is_named_from_the_database(log: AuditDatabase, tampering: Tampering) -> None:
    tampering.apply(log)
    with pytest.raises(VerificationFailed) as caught:
        from_db(log)
    assert re.search(tampering.message, caught.value.message), caught.value.message
    assert caught.value.seq == tampering.seq


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=str)
def test_tampering_is_named_from_a_bundle_exported_after_it(
    log: AuditDatabase, tmp_path: Path, tampering: Tampering
) -> None:
    tampering.apply(log)
    path = export(log, tmp_path / "log.jsonl.gz")  # exporting checks nothing
    with pytest.raises(VerificationFailed) as caught:
        from_bundle(path)
    assert re.search(tampering.message, caught.value.message), caught.value.message
    assert caught.value.seq == tampering.seq


def test_history_resigned_without_its_cosignatures_shows_as_unwitnessed(
    log: AuditDatabase,
) -> None:
    resign_history_without_witnesses(log)
    summary = from_db(log)  # consistent in itself: only the witnesses could tell
    assert summary.cosignatures == {"dpa": 1, "unodc": 1}
    assert (summary.uncosigned, summary.uncosigned_last) == (2, (20, 25))
    with pytest.raises(VerificationFailed, match=r"^checkpoint 20 has 0 valid witness") as caught:
        from_db(log, min_cosignatures=1)
    assert caught.value.seq == 10


def test_an_entry_changed_is_still_caught_by_a_bundle_without_leaf_hashes(
    log: AuditDatabase, tmp_path: Path
) -> None:
    TAMPERINGS[0].apply(log)  # entry 13's body edited in place
    path = export(log, tmp_path / "log.jsonl")
    docs = [json.loads(line) for line in lines(path)]
    for doc in docs:
        doc.pop("leaf_hash", None)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    with pytest.raises(VerificationFailed) as caught:
        from_bundle(path)
    assert caught.value.message == (
        "checkpoint 20 signed a root the entries do not reproduce: an entry in [10, 20) was"
        " changed, inserted, deleted or reordered"
    )
    assert (caught.value.seq, caught.value.entries_checked) == (10, 20)


# --- bad bundles -----------------------------------------------------------------------


def test_a_trusted_manifest_with_other_keys_fails_at_the_first_checkpoint(
    log: AuditDatabase, tmp_path: Path, federation_config: dict[str, Any]
) -> None:
    path = export(log, tmp_path / "log.jsonl")
    other = other_federation(federation_config).manifest
    with pytest.raises(VerificationFailed) as caught:
        from_bundle(path, other)
    assert caught.value.message == (
        "checkpoint 10: no signature by a known key (the keys of the manifest trusted test;"
        " the bundle carries another one (serial 1))"
    )
    assert (caught.value.seq, caught.value.entries_checked) == (0, 10)
    summary = from_bundle(path, log.federation.manifest)
    assert summary.header.manifest_source == "trusted test"


def test_a_bundle_manifest_without_a_quorum_is_refused(log: AuditDatabase, tmp_path: Path) -> None:
    path = export(log, tmp_path / "log.jsonl")
    text = lines(path)
    header = json.loads(text[0])
    header["manifest"]["signatures"] = header["manifest"]["signatures"][:2]
    path.write_text("\n".join([json.dumps(header), *text[1:]]) + "\n")
    with pytest.raises(VerificationFailed, match=r"^the manifest \(carried in the bundle") as e:
        from_bundle(path)
    assert "2 valid signature(s)" in e.value.message and e.value.seq is None


def rewrite(path: Path, change: Any) -> Path:
    text = lines(path)
    path.write_text("\n".join(change(text)))
    return path


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (lambda t: [*t[:5], "{not json", *t[5:], ""], r"log.jsonl line 6 is not JSON: ", 6),
        (lambda t: [*t[:-2], ""], r"is truncated: it ends after line 31 without its end line", 32),
        (lambda t: t, r"is truncated: line 33 is cut off", 33),  # no final newline
        (
            lambda t: [*t[:-1], '{"end":27}', ""],
            r"line 33: the end line says 27, the header 28",
            33,
        ),
        (lambda t: [*t, "{}", ""], r"line 34: a line after the end line", 34),
        (
            lambda t: [*t[:3], '{"what":1}', *t[3:], ""],
            r"line 4: neither an entry, a checkpoint",
            4,
        ),
        (lambda t: [*t[:3], '{"seq":2,"body":1}', *t[3:], ""], r"line 4: an entry line needs", 4),
        (
            lambda t: ['{"format":"x"}', *t[1:], ""],
            r"line 1 is not a clearinghouse-audit-bundle/1",
            1,
        ),
    ],
)
def test_a_malformed_bundle_names_its_line(
    log: AuditDatabase, tmp_path: Path, change: Any, message: str, line: int
) -> None:
    path = rewrite(export(log, tmp_path / "log.jsonl"), change)
    with pytest.raises(LogMalformed, match=message) as caught:
        from_bundle(path)
    assert caught.value.line == line


def test_a_truncated_gzip_bundle_fails_clearly(log: AuditDatabase, tmp_path: Path) -> None:
    path = export(log, tmp_path / "log.jsonl.gz")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(LogMalformed, match=r"is truncated: its gzip stream ends early"):
        from_bundle(path)


def test_unreadable_bundles_are_access_failures(tmp_path: Path) -> None:
    with pytest.raises(AccessFailed, match=r"cannot read .*missing.jsonl: No such file"):
        from_bundle(tmp_path / "missing.jsonl")
    (tmp_path / "plain.gz").write_text("not gzip\n")
    with pytest.raises(AccessFailed, match=r"cannot read .*plain.gz: Not a gzipped file"):
        from_bundle(tmp_path / "plain.gz")


def test_unreadable_databases_are_access_failures(tmp_path: Path, federation: Federation) -> None:
    manifest = federation.manifest
    with pytest.raises(AccessFailed, match=r"no SQLite database at .*none.db"):
        from_db_url(f"sqlite:///{tmp_path / 'none.db'}", manifest)
    assert not (tmp_path / "none.db").exists()  # not created by looking
    sqlite3.connect(tmp_path / "other.db").close()
    with pytest.raises(AccessFailed, match=r"cannot read an audit log in .*no such table"):
        from_db_url(f"sqlite:///{tmp_path / 'other.db'}", manifest)
    with pytest.raises(AccessFailed, match=r"not a database URL"):
        from_db_url("::", manifest)


def from_db_url(url: str, manifest: Manifest) -> Summary:
    with open_database(url, manifest=manifest, manifest_source="t", participant="mission") as src:
        return verify_log(src)


def test_a_failed_export_leaves_no_file(log: AuditDatabase, tmp_path: Path) -> None:
    def broken() -> Iterator[StoredEntry]:
        yield StoredEntry(0, b"{}")
        raise AccessFailed("reading failed")

    with open_database(log.url, manifest=log.federation.manifest, manifest_source="t") as src:
        with pytest.raises(AccessFailed, match="reading failed"):
            write_bundle(Log(src.header, broken()), tmp_path / "out.jsonl", now=NOW)
    assert not [p.name for p in tmp_path.iterdir() if "out" in p.name]
    with pytest.raises(AccessFailed, match=r"cannot write .*nowhere"):
        export(log, tmp_path / "nowhere" / "out.jsonl")


# --- one checkpoint ----------------------------------------------------------------------


def test_check_checkpoint_names_signer_and_cosigners(
    log: AuditDatabase, federation_config: dict[str, Any]
) -> None:
    note = log.sql("SELECT note FROM audit_checkpoint WHERE size = 10")[0][0]
    lines_ = [r[0] for r in log.sql("SELECT line FROM audit_cosignature WHERE size = 10")]
    checked = check_checkpoint(note + "".join(lines_), log.federation.manifest)
    assert (checked.participant, checked.size, sorted(checked.cosigners)) == (
        "mission",
        10,
        ["dpa", "unodc"],
    )
    with pytest.raises(VerificationFailed, match="does not verify: no signature by a known key"):
        check_checkpoint(note, other_federation(federation_config).manifest)


# --- memory stays flat -------------------------------------------------------------------


def synthetic_log(federation: Federation, size: int) -> Log:
    """A log generated on the fly, nothing kept: checkpoints at the powers of two from
    256, each cosigned by dpa, with its proof from the previous one (the right half's
    root, RFC 9162 PROOF(m, D[2m]))."""
    manifest = federation.manifest
    origin = audit_origin(manifest.federation, "mission")
    witness = witness_name(manifest.federation, "dpa")

    def items() -> Iterator[StoredEntry | StoredCheckpoint]:
        tree, half = CompactRange(), CompactRange()
        for seq in range(size):
            act = Act("view.sent", "node:mission", peer="dpa", jti=f"j{seq}")
            body = encode_entry(seq, NOW + timedelta(milliseconds=seq), act)
            tree.append(leaf_hash(body))
            half.append(leaf_hash(body))
            yield StoredEntry(seq, body)
            if tree.size >= 256 and tree.size & (tree.size - 1) == 0:
                text = checkpoint_text(origin, tree.size, tree.root())
                note = sign_note(text, origin, federation.keys["mission"])
                note += cosign(text, witness, federation.keys["dpa"], 1)
                proof = (half.root(),) if tree.size > 256 else ()
                yield StoredCheckpoint(tree.size, note, proof)
                half = CompactRange()

    header = LogHeader(origin, "mission", size, None, manifest, "test", "synthetic")
    return Log(header, items())


@pytest.mark.slow
def test_export_and_verify_stream_in_flat_memory(tmp_path: Path, federation: Federation) -> None:
    peaks = []
    for size, checkpoints in ((512, 2), (2_048, 4)):
        path = tmp_path / f"{size}.jsonl.gz"
        tracemalloc.start()
        try:
            write_bundle(synthetic_log(federation, size), path, now=NOW)
            summary = from_bundle(path)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert (summary.entries, summary.checkpoints) == (size, checkpoints)
        assert summary.cosignatures == {"dpa": checkpoints}
    assert peaks[1] < peaks[0] * 1.5, peaks  # 4 times the entries, not 4 times the memory


@pytest.mark.slow
def test_reading_a_database_streams_in_flat_memory(tmp_path: Path, federation: Federation) -> None:
    peaks = []
    with audit_database("sqlite", tmp_path, federation) as log:
        for total in (512, 2_048):
            log.append(total - log.appended)
            log.sign()
            manifest = log.federation.manifest
            tracemalloc.start()
            try:
                with open_database(
                    log.url, manifest=manifest, manifest_source="t", chunk=128
                ) as src:
                    summary = verify_log(src)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert summary.entries == total
    assert peaks[1] < peaks[0] * 1.5, peaks
