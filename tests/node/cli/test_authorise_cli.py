"""``clearinghouse authorise [submit]``: issue an oversight authorisation, post it to a node.

Issuing runs against the demo federation's manifest (``sanctions`` has the oversight
role) at the frozen time; submitting runs against a node mocked with respx.
"""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner, Result

from clearinghouse.node.cli import authorise as authorise_cli
from clearinghouse.node.cli.main import app
from clearinghouse.node.keyfiles import PASSPHRASE_ENV, write_private_key
from clearinghouse.protocol.authorisation import parse_authorisation, verify_authorisation
from clearinghouse.protocol.manifest import manifest_json
from tests.support import NOW, Federation

NODE = "http://node.test"
JTI = "01a21293-b600-725b-87e3-3999c56e59a7"
QUERY = (
    "query:schema=conflict-event/1;area=Aleppo,Idlib;from=2016-01-01;to=2016-12-31;issuers=mission"
)


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authorise_cli, "now", lambda: NOW)


@pytest.fixture
def files(tmp_path: Path, federation: Federation) -> Path:
    """The manifest and the private keys of sanctions (oversight) and mission."""
    (tmp_path / "manifest.json").write_bytes(manifest_json(federation.manifest))
    for participant in ("sanctions", "mission"):
        write_private_key(tmp_path / f"{participant}.key.pem", federation.keys[participant], None)
    return tmp_path


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["authorise", *map(str, args)], env=env)


def issue_args(d: Path, **changes: str) -> list[str | Path]:
    options: dict[str, str | Path] = {
        "--participant": "sanctions",
        "--key": d / "sanctions.key.pem",
        "--manifest": d / "manifest.json",
        "--recipient": "undp",
        "--fields": "side_a, side_b",
        "--scope": QUERY,
        "--purpose": "Inquiry into executions in Idlib, January 2016.",
        "--expires": "7d",
        "--out": d / "auth.json",
    }
    options.update({f"--{k.replace('_', '-')}": v for k, v in changes.items()})
    return [item for pair in options.items() for item in pair]


def refused(code: int, *args: str | Path, env: dict[str, str] | None = None) -> str:
    result = invoke(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return " ".join(result.stderr.split())


# -- issuing -----------------------------------------------------------------------


def test_issue_a_query_authorisation(files: Path, federation: Federation) -> None:
    result = invoke(*issue_args(files))
    assert result.exit_code == 0, (result.stderr, result.exception)
    a = parse_authorisation((files / "auth.json").read_bytes())
    assert result.stdout.strip() == a.id
    assert verify_authorisation(a, federation.manifest, now=NOW, recipient="undp") == a
    doc = a.document()
    assert doc["scope"] == {
        "query": {
            "schema": "conflict-event/1",
            "area": ["Aleppo", "Idlib"],
            "issuers": ["mission"],
            "period": {"from": "2016-01-01", "to": "2016-12-31"},
        }
    }
    assert doc["fields"] == ["side_a", "side_b"]
    assert (doc["issuer"], doc["recipient"]) == ("sanctions", "undp")
    assert a.expires_at == NOW + timedelta(days=7)
    assert "lets undp see side_a, side_b of conflict-event/1 records" in result.stderr


def test_issue_a_packet_authorisation(files: Path) -> None:
    scope = f"packets: {JTI.upper()} , {JTI[:-1]}8"
    result = invoke(*issue_args(files, scope=scope, expires="2026-12-31T00:00:00Z"))
    assert result.exit_code == 0, result.stderr
    a = parse_authorisation((files / "auth.json").read_bytes())
    assert a.document()["scope"] == {"packets": [JTI, JTI[:-1] + "8"]}
    assert a.document()["expires_at"] == "2026-12-31T00:00:00Z"


@pytest.mark.parametrize(
    ("expires", "delta"), [("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30))]
)
def test_durations(files: Path, expires: str, delta: timedelta) -> None:
    assert invoke(*issue_args(files, expires=expires)).exit_code == 0
    assert parse_authorisation((files / "auth.json").read_bytes()).expires_at == NOW + delta


def test_an_encrypted_key_takes_the_passphrase_from_the_environment(
    files: Path, federation: Federation
) -> None:
    key = files / "sealed.key.pem"
    write_private_key(key, federation.keys["sanctions"], b"correct horse")
    message = refused(1, *issue_args(files, key=str(key)))
    assert PASSPHRASE_ENV in message
    result = invoke(*issue_args(files, key=str(key)), env={PASSPHRASE_ENV: "correct horse"})
    assert result.exit_code == 0, result.stderr


def test_a_participant_without_the_oversight_role_is_refused(files: Path) -> None:
    args = issue_args(files, participant="mission", key=str(files / "mission.key.pem"))
    assert "issuer 'mission' lacks the oversight role" in refused(1, *args)
    assert not (files / "auth.json").exists()


def test_a_key_that_is_not_the_participants_is_refused(files: Path) -> None:
    args = issue_args(files, key=str(files / "mission.key.pem"))
    assert "'sanctions' has no key" in refused(1, *args)
    assert not (files / "auth.json").exists()


def test_a_field_the_schema_lacks_is_refused(files: Path) -> None:
    message = refused(1, *issue_args(files, fields="side_a,salary"))
    assert "field 'salary' is not a field of schema conflict-event/1" in message


def test_an_unknown_recipient_is_refused(files: Path) -> None:
    assert "recipient 'nobody' is not a participant" in refused(
        1, *issue_args(files, recipient="nobody")
    )


def test_an_unsigned_manifest_is_refused(files: Path, federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    doc["signatures"] = []
    (files / "manifest.json").write_text(json.dumps(doc))
    assert "manifest-rejected" in refused(1, *issue_args(files))


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("everything", "must start with 'packets:' or 'query:'"),
        ("packets:", "names no packet"),
        ("query:area=Idlib", "needs schema=SCHEMA_ID"),
        ("query:schema=conflict-event/1;from=2016-01-01", "needs both from= and to="),
        ("query:schema=conflict-event/1;colour=red", "unknown criterion 'colour'"),
        ("query:schema=a/1;schema=b/1", "'schema' is given twice"),
        ("query:schema=conflict-event/1;area", "'area' is not name=value"),
    ],
)
def test_scope_syntax_errors(files: Path, scope: str, message: str) -> None:
    assert message in refused(2, *issue_args(files, scope=scope))


def test_a_malformed_period_is_refused(files: Path) -> None:
    scope = "query:schema=conflict-event/1;from=2016-01-01;to=someday"
    assert "period.to" in refused(1, *issue_args(files, scope=scope))


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("2026-12-31T00:00:00", "has no time zone"),
        ("next week", "neither an ISO 8601 instant nor a duration"),
        ("7y", "neither an ISO 8601 instant nor a duration"),
    ],
)
def test_expiry_syntax_errors(files: Path, expires: str, message: str) -> None:
    assert message in refused(2, *issue_args(files, expires=expires))


def test_an_expiry_in_the_past_is_refused(files: Path) -> None:
    assert "is not after issued_at" in refused(
        1, *issue_args(files, expires="2026-01-01T00:00:00Z")
    )


def test_missing_options_are_named(files: Path) -> None:
    message = refused(2, "--participant", "sanctions", "--out", files / "auth.json")
    assert (
        "missing --key, --manifest, --recipient, --fields, --scope, --purpose, --expires" in message
    )


def test_help_documents_the_scope_syntax() -> None:
    result = invoke("--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "packets:JTI1,JTI2" in result.stdout
    assert "query:schema=ID;area=NAME,...;from=DATE;to=DATE;issuers=ID,..." in result.stdout
    assert "7d, 12h, 30m" in result.stdout
    assert "submit" in result.stdout


# -- submitting --------------------------------------------------------------------


@pytest.fixture
def signed(files: Path) -> Path:
    result = invoke(*issue_args(files))
    assert result.exit_code == 0, result.stderr
    return files / "auth.json"


def submit(path: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return invoke("submit", "--node", NODE + "/", "--token", "s3cret", *extra, path, env=env)


@pytest.mark.parametrize(
    ("status", "answer", "said"),
    [
        (201, {"status": "accepted", "views_queued": 3}, "accepted it"),
        (200, {"status": "already-held", "views_queued": 0}, "already held it"),
    ],
)
def test_submit_posts_the_file(
    signed: Path, status: int, answer: dict[str, Any], said: str
) -> None:
    a = parse_authorisation(signed.read_bytes())
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{NODE}/v1/authorisations").mock(
            return_value=httpx.Response(status, json={"id": a.id, **answer})
        )
        result = submit(signed)
    assert result.exit_code == 0, (result.stderr, result.exception)
    request = route.calls.last.request
    assert request.content == signed.read_bytes()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert said in result.stderr and f"{answer['views_queued']} view(s) queued" in result.stderr
    assert result.stdout.strip() == answer["status"]


def test_submit_takes_the_token_from_the_environment(signed: Path) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{NODE}/v1/authorisations").mock(
            return_value=httpx.Response(
                201, json={"id": "x", "status": "accepted", "views_queued": 0}
            )
        )
        result = invoke("submit", "--node", NODE, signed, env={authorise_cli.TOKEN_ENV: "from-env"})
    assert result.exit_code == 0, result.stderr
    assert route.calls.last.request.headers["authorization"] == "Bearer from-env"


def test_submit_prints_the_nodes_refusal(signed: Path) -> None:
    problem = {
        "type": "urn:clearinghouse:problem:authorisation-rejected",
        "title": "Refused",
        "status": 422,
        "detail": "authorisation 01a2 expired at 2026-12-02T12:00:00Z",
        "code": "authorisation-rejected",
    }
    with respx.mock() as mock:
        mock.post(f"{NODE}/v1/authorisations").mock(
            return_value=httpx.Response(
                422,
                content=json.dumps(problem).encode(),
                headers={"content-type": "application/problem+json"},
            )
        )
        result = submit(signed)
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "refused the authorisation (HTTP 422 authorisation-rejected)" in message
    assert "expired at 2026-12-02T12:00:00Z" in message


def test_submit_reports_a_failing_node(signed: Path) -> None:
    with respx.mock() as mock:
        mock.post(f"{NODE}/v1/authorisations").mock(
            return_value=httpx.Response(502, text="Bad Gateway [upstream]")
        )
        result = submit(signed)
    assert result.exit_code == 1
    assert "failed (HTTP 502): Bad Gateway [upstream]" in " ".join(result.stderr.split())


def test_submit_refuses_an_unexpected_answer(signed: Path) -> None:
    with respx.mock() as mock:
        mock.post(f"{NODE}/v1/authorisations").mock(return_value=httpx.Response(200, text="ok"))
        result = submit(signed)
    assert result.exit_code == 1
    assert "answered HTTP 200 with 'ok'" in result.stderr


def test_submit_to_an_unreachable_node(signed: Path) -> None:
    with respx.mock() as mock:
        mock.post(f"{NODE}/v1/authorisations").mock(side_effect=httpx.ConnectError("refused"))
        result = submit(signed)
    assert result.exit_code == 1
    assert f"cannot reach {NODE}/: ConnectError: refused" in " ".join(result.stderr.split())


def test_submit_to_a_closed_port(signed: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("submit", "--node", f"http://127.0.0.1:{port}", "--token", "t", signed)
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.stderr


def test_submit_checks_the_file_before_sending(files: Path, signed: Path) -> None:
    broken = files / "broken.json"
    broken.write_text(signed.read_text().replace('"fields"', '"fieldz"'))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{NODE}/v1/authorisations")
        result = submit(broken)
    assert result.exit_code == 1 and not route.called
    assert "authorisation-rejected: authorisation is malformed" in " ".join(result.stderr.split())


def test_submit_usage_errors(signed: Path, files: Path) -> None:
    assert "give a token of role admin: --token-file FILE" in refused(
        2, "submit", "--node", NODE, signed
    )
    assert "must be an http(s) URL" in refused(
        2, "submit", "--node", "node.test", "--token", "t", signed
    )
    assert "options for issuing, not for 'submit'" in refused(
        2, "--recipient", "undp", "submit", "--node", NODE, "--token", "t", signed
    )
    assert "missing.json" in refused(
        2, "submit", "--node", NODE, "--token", "t", files / "missing.json"
    )
