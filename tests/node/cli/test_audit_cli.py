"""``clearinghouse audit ...``: exit codes and messages, on a real log in a database
(SQLite, and PostgreSQL with ``CLEARINGHOUSE_TEST_POSTGRES_URL``) and on one real
node served on loopback."""

from __future__ import annotations

import base64
import itertools
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from clearinghouse.node.audit_tool import open_node_log, verify_log
from clearinghouse.node.cli.main import app
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation, NodeHandle, free_port
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import witness_name
from clearinghouse.protocol.manifest import manifest_json, parse_manifest, sign_manifest
from clearinghouse.protocol.notes import cosign, parse_note
from tests.node.services._audit_support import (
    HOUR,
    KEY_B,
    REVOKED_AT,
    SWITCH,
    TAMPERINGS,
    AuditDatabase,
    Tampering,
    audit_database,
    other_federation,
    rotated,
    rotation_log,
    standard_log,
    write_manifest,
)
from tests.nodes import built_federation, served_node
from tests.signer import participant_key
from tests.support import EXAMPLES, Federation

RECORD = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
#: A fresh UCDP event id per ingest: the same id again would be a duplicate, issuing nothing.
EVENT_IDS = itertools.count(900001)


def audit(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["audit", *map(str, args)], env=env)


def ok(*args: str | Path) -> Result:
    result = audit(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def refused(code: int, *args: str | Path) -> str:
    """The command's message (stderr but the "verifying ..." line), on one line, after it
    exited with ``code``."""
    result = audit(*args)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    if lines and lines[0].startswith(("verifying ", "exporting ")):
        lines = lines[1:]
    return " ".join(" ".join(lines).split())


@pytest.fixture
def log(
    backend: str, tmp_path: Path, federation: Federation, migrated_sqlite: Path
) -> Iterator[AuditDatabase]:
    with audit_database(backend, tmp_path, federation, migrated_sqlite) as database:
        standard_log(database)
        yield database


@pytest.fixture
def manifest(tmp_path: Path, federation: Federation) -> Path:
    return write_manifest(federation, tmp_path / "manifest.json")


# --- from the database, and through a bundle ---------------------------------------------

SUMMARY = """\
  entries:       28
  root:          {root}
  checkpoints:   3, the last of size 25; the 3 entries after it are not signed yet
  cosignatures:  dpa 2, unodc 2
  witnesses:     sanctions, undp, unodc (by the manifest)
  not cosigned:  1 checkpoint(s), the last: 25
  key validity:  checkpoint 3, cosignature 4, packet.issued 28; each by a key valid and not \
revoked when it signed
"""


def root_of(log: AuditDatabase) -> str:
    with transaction(log.engine) as session:
        return base64.b64encode(auditlog.head(session).root).decode()


def test_verify_db_prints_a_summary(log: AuditDatabase, manifest: Path) -> None:
    out = ok("verify", "--db", log.url, "--manifest", manifest).stdout
    assert out.startswith("audit log OK: un-integrated-analysis-demo/mission/audit\n")
    assert f"  manifest:      trusted file {manifest}, serial 1\n" in out
    assert out.endswith(SUMMARY.format(root=root_of(log)))


@pytest.mark.parametrize("name", ["log.jsonl", "log.jsonl.gz"])
def test_export_then_verify_bundle(
    log: AuditDatabase, manifest: Path, tmp_path: Path, name: str
) -> None:
    bundle = tmp_path / name
    out = ok("export", "--db", log.url, "--manifest", manifest, "--out", bundle).stdout
    assert re.match(rf"wrote {re.escape(str(bundle))}: 28 entries, 3 checkpoints of ", out)
    offline = ok("verify-bundle", bundle).stdout
    assert "  manifest:      carried in the bundle (not independently trusted" in offline
    assert offline.endswith(SUMMARY.format(root=root_of(log)))
    trusted = ok("verify-bundle", bundle, "--manifest", manifest).stdout
    assert f"  manifest:      trusted file {manifest}, serial 1\n" in trusted


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=str)
def test_tampering_fails_verify_and_verify_bundle(
    log: AuditDatabase, manifest: Path, tmp_path: Path, tampering: Tampering
) -> None:
    tampering.apply(log)
    pattern = tampering.message.strip("^$")
    err = refused(1, "verify", "--db", log.url, "--manifest", manifest)
    assert re.match(rf"audit log INVALID: {pattern}", err), err
    bundle = tmp_path / "after.jsonl"
    ok("export", "--db", log.url, "--manifest", manifest, "--out", bundle)
    err = refused(1, "verify-bundle", bundle)
    assert re.match(rf"audit log INVALID: {pattern}", err), err


def test_a_body_changed_is_named_with_how_much_checked_out(
    log: AuditDatabase, manifest: Path
) -> None:
    TAMPERINGS[0].apply(log)
    assert refused(1, "verify", "--db", log.url, "--manifest", manifest) == (
        "audit log INVALID: entry 13 was changed: its bytes no longer hash to its stored leaf"
        " hash checked before that: 13 entries, 1 checkpoint(s)"
    )


def test_min_cosignatures(log: AuditDatabase, manifest: Path) -> None:
    err = refused(1, "verify", "--db", log.url, "--manifest", manifest, "--min-cosignatures", "1")
    assert err.startswith(
        "audit log INVALID: checkpoint 25 has 0 valid witness cosignature(s) of the 1 required"
    )
    # all: the 3 witnesses the manifest assigns mission's log (five participants)
    err = refused(1, "verify", "--db", log.url, "--manifest", manifest, "--min-cosignatures", "all")
    assert err.startswith(
        "audit log INVALID: checkpoint 10 has 2 valid witness cosignature(s) of the 3 required"
    )


def test_more_cosignatures_than_witnesses_is_a_usage_error_naming_k(
    log: AuditDatabase, manifest: Path
) -> None:
    err = refused(2, "verify", "--db", log.url, "--manifest", manifest, "--min-cosignatures", "4")
    assert err == (
        "error: 4 witness cosignatures cannot be required of mission's log: the manifest"
        f" (trusted file {manifest}, serial 1) assigns it 3 witness(es) (sanctions, undp,"
        " unodc); require at most 3, or all"
    )
    err = refused(2, "verify", "--db", log.url, "--min-cosignatures", "three")
    assert "Invalid value for '--min-cosignatures': 'three'" in err


def test_verify_bundle_with_another_manifest_fails_clearly(
    log: AuditDatabase, manifest: Path, tmp_path: Path, federation_config: dict[str, Any]
) -> None:
    bundle = tmp_path / "log.jsonl"
    ok("export", "--db", log.url, "--manifest", manifest, "--out", bundle)
    other = write_manifest(other_federation(federation_config), tmp_path / "other.json")
    assert refused(1, "verify-bundle", bundle, "--manifest", other) == (
        f"audit log INVALID: checkpoint 10: no signature by a known key (the keys of the"
        f" manifest trusted file {other}; the bundle carries another one (serial 1)) checked"
        " before that: 10 entries, 0 checkpoint(s)"
    )


def test_a_truncated_or_garbled_bundle_fails_with_its_line(
    log: AuditDatabase, manifest: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "log.jsonl"
    ok("export", "--db", log.url, "--manifest", manifest, "--out", bundle)
    text = bundle.read_text().splitlines(keepends=True)
    bundle.write_text("".join(text[:20]))
    err = refused(1, "verify-bundle", bundle)
    assert err == f"error: {bundle} is truncated: it ends after line 20 without its end line"
    bundle.write_text("".join([*text[:6], "entry 6?\n", *text[7:]]))
    err = refused(1, "verify-bundle", bundle)
    assert err.startswith(f"error: {bundle} line 7 is not JSON: ")


def test_a_log_without_checkpoints(tmp_path: Path, federation: Federation, manifest: Path) -> None:
    with audit_database("sqlite", tmp_path, federation) as log:
        log.append(3)
        err = refused(2, "verify", "--db", log.url, "--manifest", manifest)
        assert err == "error: no checkpoint tells whose log this is: pass --participant"
        out = ok("verify", "--db", log.url, "--manifest", manifest, "--participant", "mission")
        assert "  checkpoints:   0 (no entry is signed yet)\n" in out.stdout


def test_usage_and_input_errors_exit_2(tmp_path: Path, manifest: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    assert refused(2, "verify") == "error: give one of --node URL or --db DATABASE_URL"
    assert refused(2, "verify", "--db", db, "--node", "http://x") == (
        "error: give one of --node URL or --db DATABASE_URL"
    )
    assert refused(2, "verify", "--db", db) == (
        "error: --db needs --manifest: the manifest whose keys check the log"
    )
    assert refused(2, "verify", "--db", db, "--manifest", manifest) == (
        f"error: no SQLite database at {tmp_path / 'none.db'}"
    )
    assert refused(2, "verify", "--db", db, "--manifest", tmp_path / "nope.json") == (
        f"error: cannot read the manifest {tmp_path / 'nope.json'}: No such file or directory"
    )
    assert refused(2, "verify-bundle", tmp_path / "nope.jsonl") == (
        f"error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory"
    )
    assert refused(2, "verify", "--node", "ftp://x", "--token", "t") == (
        "error: --node must be an http(s) URL, not 'ftp://x'"
    )
    assert refused(2, "verify", "--node", "http://127.0.0.1:1") == (
        "error: --node needs a token of role auditor: --token-file FILE, "
        "$CLEARINGHOUSE_AUDIT_TOKEN_FILE, $CLEARINGHOUSE_AUDIT_TOKEN or "
        "$CLEARINGHOUSE_TOKEN_FILE (or --token, which ps shows)"
    )
    port = free_port()  # nobody listens there
    err = refused(2, "checkpoint", "--node", f"http://127.0.0.1:{port}")
    assert err.startswith(f"error: cannot reach http://127.0.0.1:{port}/v1/audit/checkpoint: ")


# --- a real node -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("audit"), ("mission", "unodc", "dpa"))


def ingest(node: NodeHandle) -> None:
    with node.client("submitter") as client:
        response = client.post(
            "/v1/local/records",
            json={
                "schema": "conflict-event/1",
                "records": [{**RECORD, "event_id": str(next(EVENT_IDS))}],
            },
        )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def mission(fed: LocalFederation) -> Iterator[NodeHandle]:
    """mission, served without workers: entries from start-up and two ingests, checkpoints
    after each ingest (the first cosigned by dpa), one more ingest left unsigned."""
    node = fed.nodes["mission"]
    with served_node(node) as served:
        ctx = served.context
        ingest(node)
        first = sign_checkpoint(ctx)
        assert first is not None
        dpa = participant_key(fed.root, "dpa")
        ts = int(ctx.clock.now().timestamp())  # as a witness dates it: a key valid then
        line = cosign(
            parse_note(first.note).text, witness_name(ctx.manifest.federation, "dpa"), dpa, ts
        )
        with transaction(ctx.engine) as session:
            auditlog.add_cosignatures(
                session, witness="dpa", lines=[(first.size, line, ts)], now=ctx.clock.now()
            )
        ingest(node)
        assert sign_checkpoint(ctx) is not None
        ingest(node)
        yield node


def size_of(node: NodeHandle) -> int:
    """The node's log size now (``end=0`` reads no entry, so it adds no ``data.read``)."""
    with node.client("auditor") as client:
        return int(client.get("/v1/audit/entries", params={"end": 0}).json()["size"])


def test_verify_node(mission: NodeHandle, fed: LocalFederation) -> None:
    token = mission.tokens["auditor"]
    held = size_of(mission)  # reading the entries adds data.read entries after them
    out = ok("verify", "--node", mission.url, "--token", token).stdout
    assert out.startswith("audit log OK: ")
    assert f"  source:        node {mission.url}\n" in out
    assert f"  manifest:      served by {mission.url} (not independently trusted" in out
    assert f"  entries:       {held}\n" in out
    assert "  checkpoints:   2, the last of size " in out and "  cosignatures:  dpa 1\n" in out
    env = {"CLEARINGHOUSE_AUDIT_TOKEN": token}
    trusted = audit("verify", "--node", mission.url, "--manifest", fed.manifest_path, env=env)
    assert trusted.exit_code == 0, trusted.stderr
    assert f"  manifest:      trusted file {fed.manifest_path}, serial 1\n" in trusted.stdout


def test_export_node_then_verify_bundle(
    mission: NodeHandle, fed: LocalFederation, tmp_path: Path
) -> None:
    bundle = tmp_path / "mission.jsonl.gz"
    held = size_of(mission)
    ok("export", "--node", mission.url, "--token", mission.tokens["auditor"], "--out", bundle)
    out = ok("verify-bundle", bundle, "--manifest", fed.manifest_path).stdout
    assert f"  entries:       {held}\n" in out and "cosignatures:  dpa 1" in out


def test_checkpoint_node(mission: NodeHandle) -> None:
    result = ok("checkpoint", "--node", mission.url, "--token", mission.tokens["auditor"])
    with mission.client("auditor") as client:
        latest = client.get("/v1/audit/checkpoints", params={"after": 0}).json()["checkpoints"]
    assert result.stdout == latest[-1]["note"]
    assert result.stdout.startswith(f"{latest[-1]['note'].splitlines()[0]}\n")
    assert latest[-1]["note"].splitlines()[0].endswith("/mission/audit")
    assert f"checkpoint {latest[-1]['size']} of " in result.stderr
    assert "signed by mission, cosigned by no witness yet" in " ".join(result.stderr.split())


def test_node_errors_exit_2(mission: NodeHandle) -> None:
    err = refused(2, "checkpoint", "--node", mission.url)
    assert err.startswith(f"error: {mission.url}/v1/audit/checkpoint: HTTP 401: ")
    assert err.endswith("(a token of role auditor is needed)")
    err = refused(2, "verify", "--node", mission.url, "--token", mission.tokens["analyst"])
    assert err.startswith(f"error: {mission.url}/v1/audit/entries: HTTP 403: ")


def test_the_node_reader_pages(mission: NodeHandle) -> None:
    held = size_of(mission)
    with open_node_log(mission.url, mission.tokens["auditor"], page=3, checkpoint_page=1) as log:
        summary = verify_log(log)
    assert (summary.entries, summary.checkpoints) == (held, 2)
    assert summary.cosignatures == {"dpa": 1}


def test_verify_db_of_the_running_node_agrees_with_verify_node(
    mission: NodeHandle, fed: LocalFederation
) -> None:
    token = mission.tokens["auditor"]
    # The database first: reading entries through the API adds data.read entries after them.
    by_db = ok("verify", "--db", mission.database_url, "--manifest", fed.manifest_path).stdout
    by_api = ok("verify", "--node", mission.url, "--token", token).stdout
    assert by_api.splitlines()[3:] == by_db.splitlines()[3:]  # entries, root, checkpoints, ...
    assert by_db.splitlines()[1] == f"  source:        database {mission.database_url}"


def test_tampering_shows_through_the_node_api(mission: NodeHandle) -> None:
    path = mission.database_url.removeprefix("sqlite:///")

    def execute(statement: str, *params: str) -> list[Any]:
        with closing(sqlite3.connect(path)) as db, db:
            return db.execute(statement, params).fetchall()

    ((body,),) = execute("SELECT body FROM audit_entry WHERE seq = 2")
    forged = body.replace('"actor":"', '"actor":"x')
    assert forged != body
    try:
        execute("UPDATE audit_entry SET body = ? WHERE seq = 2", forged)
        err = refused(1, "verify", "--node", mission.url, "--token", mission.tokens["auditor"])
        assert err == (
            "audit log INVALID: entry 2 was changed: its bytes no longer hash to its stored leaf"
            " hash checked before that: 2 entries, 0 checkpoint(s)"
        )
    finally:
        execute("UPDATE audit_entry SET body = ? WHERE seq = 2", body)
    ok("verify", "--node", mission.url, "--token", mission.tokens["auditor"])


# --- keys used outside their validity ---------------------------------------------------


@pytest.fixture
def rotation(
    backend: str, tmp_path: Path, federation: Federation, migrated_sqlite: Path
) -> Iterator[AuditDatabase]:
    """mission's log signed with key A, then with key B after a rotation (manifest serial 2)."""
    with audit_database(backend, tmp_path, rotated(federation), migrated_sqlite) as database:
        rotation_log(database)
        yield database


ROTATION_OK = (
    "  key validity:  checkpoint 3, cosignature 6, packet.issued 17; each by a key valid and"
    " not revoked when it signed\n"
)


def test_a_log_across_a_key_rotation_verifies(rotation: AuditDatabase, tmp_path: Path) -> None:
    manifest = write_manifest(rotation.federation, tmp_path / "rotated.json")
    out = ok("verify", "--db", rotation.url, "--manifest", manifest).stdout
    assert out.startswith("audit log OK: un-integrated-analysis-demo/mission/audit\n")
    assert out.endswith(ROTATION_OK)
    bundle = tmp_path / "log.jsonl.gz"
    ok("export", "--db", rotation.url, "--manifest", manifest, "--out", bundle)
    assert ok("verify-bundle", bundle).stdout.endswith(ROTATION_OK)


def test_a_checkpoint_signed_after_its_key_was_revoked_fails_naming_it(
    rotation: AuditDatabase, tmp_path: Path, federation: Federation
) -> None:
    revoked = rotated(federation, revoke_a_at=REVOKED_AT)
    path = write_manifest(revoked, tmp_path / "revoked.json")
    kid = federation.kid("mission")
    report = (
        "  key validity:  checkpoint 3, cosignature 6, packet.issued 17; 1 by a key outside its"
        " validity or after its revocation:\n"
        f"    checkpoint 10: signed by mission with key {kid} at 2026-11-25T11:00:00.000Z,"
        " after its revocation at 2026-11-25T10:30:00.000Z\n"
    )
    message = (
        "audit log INVALID: 1 signature(s) by a key outside its validity or after its"
        f" revocation: key {kid} of mission (1)"
    )
    result = audit("verify", "--db", rotation.url, "--manifest", path)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith(
        "audit log intact, but key use INVALID: un-integrated-analysis-demo/mission/audit\n"
    )
    assert result.stdout.endswith(report)
    assert result.stderr.splitlines()[-1] == message
    bundle = tmp_path / "log.jsonl"  # it carries the rotation manifest, which revokes nothing
    ok("export", "--db", rotation.url, "--manifest", path, "--out", bundle)
    offline = audit("verify-bundle", bundle, "--manifest", path)
    assert offline.exit_code == 1 and offline.stdout.endswith(report)
    assert offline.stderr.splitlines()[-1] == message


def test_a_packet_issued_with_a_revoked_key_fails(
    rotation: AuditDatabase, tmp_path: Path, federation: Federation
) -> None:
    kid = federation.kid("mission")
    rotation.append(1, at=SWITCH + 3 * HOUR, kid=kid)  # entry 17: key A, revoked by then
    rotation.sign(key=KEY_B, at=SWITCH + 4 * HOUR)
    path = write_manifest(rotated(federation, revoke_a_at=REVOKED_AT), tmp_path / "revoked.json")
    result = audit("verify", "--db", rotation.url, "--manifest", path)
    assert result.exit_code == 1
    assert (
        f"    packet.issued entry 17: signed by mission with key {kid} at"
        " 2026-11-25T15:00:00.000Z, after its revocation at 2026-11-25T10:30:00.000Z\n"
    ) in result.stdout
    assert result.stderr.splitlines()[-1].endswith(f": key {kid} of mission (2)")


def test_verify_node_reports_what_its_revoked_key_signed(
    mission: NodeHandle, fed: LocalFederation, tmp_path: Path
) -> None:
    """A trusted manifest revoking mission's key from the federation's start: the
    node's checkpoints (dated by the time the node serves) and the packets it issued (by
    the kid their entries carry) are all reported; dpa's cosignature is not."""
    held = parse_manifest(fed.manifest_path.read_bytes())
    doc = json.loads(manifest_json(held))
    doc.pop("signatures")
    doc["serial"] = 2
    mine = next(p for p in doc["participants"] if p["id"] == "mission")
    # from the key's first instant: a checkpoint dated by a cosignature's whole second
    # may fall in the manifest's own second
    revoked_at = held.issued_at
    mine["keys"][0].update(revoked=True, revoked_at=revoked_at.isoformat())
    doc["quorum"] = 2  # signed by the two others: mission's own key is revoked
    manifest = parse_manifest(doc)
    for signer in ("unodc", "dpa"):
        key = read_private_key(fed.root / "keys" / f"{signer}.key.pem")
        manifest = sign_manifest(manifest, signer, key)
    path = tmp_path / "revoked.json"
    path.write_bytes(manifest_json(manifest))
    token = mission.tokens["auditor"]
    result = audit("verify", "--node", mission.url, "--token", token, "--manifest", path)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    uses = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")]
    assert uses, (result.stdout, result.stderr)
    assert sorted(uses) == ["checkpoint", "checkpoint", "packet.issued", "packet.issued",
                            "packet.issued"]  # fmt: skip
    assert "  key validity:  checkpoint 2, cosignature 1, packet.issued 3; 5 by a key" in (
        result.stdout
    )
