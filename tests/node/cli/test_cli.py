"""The ``clearinghouse`` console script, run as a real process as auditors' scripts will."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nodes import built_federation
from tests.support import EXAMPLES, PARTICIPANTS

EXE = shutil.which("clearinghouse", path=str(Path(sys.executable).parent)) or "clearinghouse"


def run(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    full_env.update(env or {})
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        input=stdin,
        timeout=60,
    )


def ok(*args: str | Path, **kw: object) -> str:
    result = run(*args, **kw)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """keygen for every participant, manifest create, three signatures."""
    d = tmp_path_factory.mktemp("fed")
    for p in PARTICIPANTS:
        ok("keygen", "--participant", p, "--out", d / "keys")
    ok("pseudonym-key", "--out", d / "keys" / "pseudonym.key", "--epoch", "2026-q4")
    ok(
        "manifest",
        "create",
        "--config",
        EXAMPLES / "federation.yaml",
        "--keys",
        d / "keys",
        "--out",
        d / "manifest.json",
    )
    for p in ("mission", "unodc", "dpa"):
        ok(
            "manifest",
            "sign",
            "--participant",
            p,
            "--key",
            d / "keys" / f"{p}.key.pem",
            d / "manifest.json",
        )
    return d


def test_keygen_writes_a_private_pem_0600_and_a_jwk(fed: Path) -> None:
    key = fed / "keys" / "mission.key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    jwk = json.loads((fed / "keys" / "mission.jwk.json").read_text())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and len(jwk["kid"]) == 43
    again = run("keygen", "--participant", "mission", "--out", fed / "keys")
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_keygen_encrypts_with_a_passphrase_from_the_environment(tmp_path: Path) -> None:
    env = {"CLEARINGHOUSE_KEY_PASSPHRASE": "s3cret passphrase"}
    ok("keygen", "--participant", "undp", "--out", tmp_path, env=env)
    pem = (tmp_path / "undp.key.pem").read_text()
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    record = EXAMPLES / "records" / "market-price.json"
    args = (
        "packet",
        "issue",
        "--participant",
        "undp",
        "--key",
        tmp_path / "undp.key.pem",
        "--schema",
        "market-price/1",
        record,
    )
    assert run(*args, env=env).returncode == 0
    refused = run(*args)
    assert refused.returncode == 1 and "CLEARINGHOUSE_KEY_PASSPHRASE" in refused.stderr


def test_manifest_verify_reports_quorum(fed: Path, tmp_path: Path) -> None:
    out = ok("manifest", "verify", fed / "manifest.json")
    assert "manifest OK" in out and "3 of quorum 3" in out
    ok(
        "manifest",
        "create",
        "--config",
        EXAMPLES / "federation.yaml",
        "--keys",
        fed / "keys",
        "--out",
        tmp_path / "m.json",
    )
    ok(
        "manifest",
        "sign",
        "--participant",
        "undp",
        "--key",
        fed / "keys" / "undp.key.pem",
        tmp_path / "m.json",
    )
    short = run("manifest", "verify", tmp_path / "m.json")
    assert short.returncode == 1
    assert "1 valid signature(s) (undp) of the 3 required" in short.stderr
    wrong = run(
        "manifest",
        "sign",
        "--participant",
        "dpa",
        "--key",
        fed / "keys" / "undp.key.pem",
        tmp_path / "m.json",
    )
    assert wrong.returncode == 1 and "not one of 'dpa'" in wrong.stderr


def test_manifest_verify_refuses_a_lower_serial(fed: Path) -> None:
    older = run("manifest", "verify", "--held", fed / "manifest.json", fed / "manifest.json")
    assert older.returncode == 1 and "not higher than the held serial 1" in older.stderr


def test_packet_issue_view_verify(fed: Path, tmp_path: Path) -> None:
    keys = fed / "keys"
    packet = ok(
        "packet",
        "issue",
        "--participant",
        "mission",
        "--key",
        keys / "mission.key.pem",
        "--schema",
        "conflict-event/1",
        "--pseudonym-key",
        keys / "pseudonym.key",
        "--hc",
        "H2",
        EXAMPLES / "records" / "conflict-event.json",
    )
    (tmp_path / "packet.sdjwt").write_text(packet)
    view = ok(
        "packet",
        "view",
        "--manifest",
        fed / "manifest.json",
        "--recipient",
        "undp",
        tmp_path / "packet.sdjwt",
    )
    (tmp_path / "undp.sdjwt").write_text(view)
    assert len(view) < len(packet)
    out = json.loads(
        ok(
            "packet",
            "verify",
            "--manifest",
            fed / "manifest.json",
            "--recipient",
            "undp",
            tmp_path / "undp.sdjwt",
        )
    )
    assert set(out) == {"iss", "jti", "sch", "hc", "pse", "ref", "claims"}
    assert (out["iss"], out["sch"], out["hc"]) == ("mission", "conflict-event/1", "H2")
    assert out["pse"] == "2026-q4"  # the epoch, shown even where no reference is disclosed
    assert "admin1" in out["claims"] and "side_a" not in out["claims"]
    assert set(out["ref"]) == {"jti", "sha256"}
    # The same packet from stdin, checked without a recipient, shows everything.
    full = json.loads(
        ok("packet", "verify", "--manifest", fed / "manifest.json", "-", stdin=packet)
    )
    assert full["ref"] == out["ref"] and "side_a" in full["claims"]
    # The full packet is over-disclosure for undp.
    over = run(
        "packet",
        "verify",
        "--manifest",
        fed / "manifest.json",
        "--recipient",
        "undp",
        tmp_path / "packet.sdjwt",
    )
    assert over.returncode == 1 and "over-disclosure" in over.stderr
    # A flipped character anywhere is refused with a reason.
    tampered = view[:40] + ("A" if view[40] != "A" else "B") + view[41:]
    (tmp_path / "bad.sdjwt").write_text(tampered)
    bad = run("packet", "verify", "--manifest", fed / "manifest.json", tmp_path / "bad.sdjwt")
    assert bad.returncode == 1 and bad.stderr.startswith("error:")


def test_pseudonym_key_names_its_epoch(fed: Path, tmp_path: Path) -> None:
    named = tmp_path / "named.key"
    assert ok("pseudonym-key", "--out", named, "--epoch", "2027-01").strip() == "2027-01"
    assert named.read_text().startswith("2027-01 ")
    assert stat.S_IMODE(named.stat().st_mode) == 0o600
    # By default the epoch is today's UTC date.
    dated = tmp_path / "dated.key"
    today = ok("pseudonym-key", "--out", dated).strip()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", today)
    assert dated.read_text().startswith(today + " ")
    bad = run("pseudonym-key", "--out", tmp_path / "bad.key", "--epoch", "two words")
    assert bad.returncode == 2 and "--epoch" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.key").exists()
    again = run("pseudonym-key", "--out", named, "--epoch", "2027-02")
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    # A packet issued under each file names that file's epoch; an old file holding the
    # key alone gets the derived name.
    old = tmp_path / "old.key"
    old.write_text(named.read_text().split(" ", 1)[1])
    old.chmod(0o600)  # a secret, kept as one
    for key_file, epoch in ((named, "2027-01"), (old, None)):
        packet = ok(
            "packet",
            "issue",
            "--participant",
            "mission",
            "--key",
            fed / "keys" / "mission.key.pem",
            "--schema",
            "conflict-event/1",
            "--pseudonym-key",
            key_file,
            EXAMPLES / "records" / "conflict-event.json",
        )
        out = json.loads(
            ok("packet", "verify", "--manifest", fed / "manifest.json", "-", stdin=packet)
        )
        if epoch is None:
            assert out["pse"].startswith("e-") and len(out["pse"]) == 12
        else:
            assert out["pse"] == epoch


def test_cli_errors_are_messages_not_tracebacks(fed: Path, tmp_path: Path) -> None:
    missing = run("packet", "verify", "--manifest", fed / "manifest.json", tmp_path / "nope")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    (tmp_path / "rec.json").write_text(json.dumps({"price": "free"}))
    bad = run(
        "packet",
        "issue",
        "--participant",
        "undp",
        "--key",
        fed / "keys" / "undp.key.pem",
        "--schema",
        "market-price/1",
        tmp_path / "rec.json",
    )
    assert bad.returncode == 1 and "schema-violation" in bad.stderr and "price" in bad.stderr
    unknown = run(
        "packet",
        "issue",
        "--participant",
        "undp",
        "--key",
        fed / "keys" / "undp.key.pem",
        "--schema",
        "weather/1",
        tmp_path / "rec.json",
    )
    assert unknown.returncode == 1 and "unknown-schema" in unknown.stderr
    hc = run(
        "packet",
        "issue",
        "--participant",
        "undp",
        "--key",
        fed / "keys" / "undp.key.pem",
        "--schema",
        "market-price/1",
        "--hc",
        "H9",
        EXAMPLES / "records" / "market-price.json",
    )
    assert hc.returncode == 2 and "H0" in hc.stderr


def test_schema_list_and_export() -> None:
    listed = ok("schema", "list")
    assert "conflict-event/1" in listed and "analysis-result/1" in listed
    exported = json.loads(ok("schema", "export", "conflict-event/1"))
    assert exported["$id"] == "urn:clearinghouse:schema:conflict-event/1"
    assert "side_a_ref" in exported["x-derived-claims"]
    unknown = run("schema", "export", "weather/1")
    assert unknown.returncode == 1 and "unknown-schema" in unknown.stderr


def test_analyze_runs_an_analyzer_offline_reproducibly(tmp_path: Path) -> None:
    source = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
    subset, shuffled = tmp_path / "events.csv", tmp_path / "shuffled.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        header, *rows = [row for _, row in zip(range(401), csv.reader(fh), strict=False)]
    with subset.open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])  # header + 400 events
    random.Random(15).shuffle(rows)
    with shuffled.open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    args = ("analyze", "--analyzer", "mission.security-risk", "--format", "ucdp-ged")
    first = run(*args, subset, "--summary", tmp_path / "one.json")
    assert first.returncode == 0, first.stderr
    # The final findings are those that hold on the set of events: any order, the same
    # bytes (pseudonyms use a fixed offline key; findings carry no packet ids).
    assert run(*args, shuffled).stdout == first.stdout
    final = [json.loads(line) for line in first.stdout.splitlines()]
    assert all({"kind", "subject", "explanation"} <= set(f) for f in final)
    assert "rows read 400, accepted 400, refused 0" in first.stderr
    assert "400 record(s) analysed as mission sees them" in first.stderr
    streamed = run(*args, subset, "--stream")
    assert streamed.returncode == 0, streamed.stderr
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert lines and all(line["findings"] for line in lines)
    assert [line["line"] for line in lines] == sorted(line["line"] for line in lines)
    summary = json.loads((tmp_path / "one.json").read_text())
    assert isinstance(summary, dict) and summary
    unknown = run("analyze", "--analyzer", "nobody.nothing", "--format", "ucdp-ged", subset)
    assert unknown.returncode == 2 and "mission.security-risk" in unknown.stderr
    wrong = run(
        "analyze", "--analyzer", "undp.illicit-economy", "--format", "unodc-seizures", subset
    )
    assert wrong.returncode == 2 and "does not analyse seizure/1" in wrong.stderr


def test_a_world_readable_key_or_token_file_is_refused_with_the_fix(
    fed: Path, tmp_path: Path
) -> None:
    key = tmp_path / "undp.key.pem"
    shutil.copy(fed / "keys" / "undp.key.pem", key)
    key.chmod(0o644)
    record = EXAMPLES / "records" / "market-price.json"
    args = ("packet", "issue", "--participant", "undp", "--key", key)
    refused = run(*args, "--schema", "market-price/1", record)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "readable by every local account (mode 0644)" in refused.stderr
    assert "chmod o-rwx" in refused.stderr
    key.chmod(0o640)  # group-readable, as a Kubernetes secret mount with fsGroup
    assert ok(*args, "--schema", "market-price/1", record).count("~") >= 1
    token = tmp_path / "tokens.json"
    token.write_text('{"auditor": "not-a-real-token"}')
    token.chmod(0o604)
    exposed = run("audit", "verify", "--node", "http://127.0.0.1:9", "--token-file", token)
    assert exposed.returncode == 2 and "readable by every local account" in exposed.stderr
    both = run(
        "audit", "verify", "--node", "http://127.0.0.1:9", "--token", "t", "--token-file", token
    )
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_node_whose_key_others_can_read_does_not_start(tmp_path: Path) -> None:
    built_federation(tmp_path, ("mission", "unodc", "dpa"))
    (tmp_path / "keys" / "dpa.key.pem").chmod(0o644)
    started = run("run", "--config", tmp_path / "dpa.toml")
    assert started.returncode == 2
    assert "readable by every local account" in started.stderr
    assert "key_file" in started.stderr
