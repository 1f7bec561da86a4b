"""CLI conventions: ``clearinghouse --version``, and the bearer token of every command
that sends one kept out of ``ps`` and shell history (from a file, the command's variable,
its ``_FILE`` form or ``CLEARINGHOUSE_TOKEN_FILE``), against a served node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearinghouse.node.cli._common import TOKEN_FILE_ENV as CLEARINGHOUSE_TOKEN_FILE
from clearinghouse.node.cli.ingest import TOKEN_ENV
from clearinghouse.node.cli.main import app
from clearinghouse.node.settings import load_settings
from tests.nodes import ServedNode, built_federation, served_node
from tests.support import EXAMPLES

runner = CliRunner()


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"clearinghouse {version('clearinghouse')}\n"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedNode, str]]:
    fed = built_federation(tmp_path_factory.mktemp("cli-conventions"), ("mission", "dpa"))
    with served_node(fed.nodes["mission"]) as served:
        yield served, fed.nodes["mission"].tokens["submitter"]


def events(tmp_path: Path, event_id: str) -> Path:
    record = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({**record, "event_id": event_id}) + "\n")
    return path


def ingest(node: ServedNode, path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    args = ["ingest", str(path), "--node", node.url, "--schema", "conflict-event/1", *extra]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_takes_its_token_from_the_environment(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    served, token = node
    out = ingest(served, events(tmp_path, "env-1"), env={TOKEN_ENV: token})
    assert "accepted 1" in out


def test_ingest_takes_its_token_from_a_private_file(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    served, token = node
    secret = tmp_path / "submitter.token"
    secret.write_text(token + "\n")
    secret.chmod(0o600)
    out = ingest(served, events(tmp_path, "file-1"), "--token-file", str(secret))
    assert "accepted 1" in out


def test_ingest_without_a_token_says_where_to_give_one(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    served, token = node
    path = events(tmp_path, "none-1")
    args = ["ingest", str(path), "--node", served.url, "--schema", "conflict-event/1"]
    missing = runner.invoke(app, args, env={TOKEN_ENV: ""})
    assert missing.exit_code == 2 and TOKEN_ENV in missing.stderr
    secret = tmp_path / "t"
    secret.write_text(token)
    secret.chmod(0o600)
    both = runner.invoke(app, [*args, "--token", token, "--token-file", str(secret)])
    assert both.exit_code == 2 and "not both" in both.stderr


# -- every command that takes a token: the same places, in the same order ---------------

#: Each command that sends a bearer token, its own variable and the token's role.
TOKEN_COMMANDS = [
    (["ingest", "--help"], "CLEARINGHOUSE_INGEST_TOKEN", "submitter"),
    (["audit", "verify", "--help"], "CLEARINGHOUSE_AUDIT_TOKEN", "auditor"),
    (["audit", "export", "--help"], "CLEARINGHOUSE_AUDIT_TOKEN", "auditor"),
    (["audit", "checkpoint", "--help"], "CLEARINGHOUSE_AUDIT_TOKEN", "auditor"),
    (["manifest", "submit", "--help"], "CLEARINGHOUSE_ADMIN_TOKEN", "admin"),
    (["authorise", "submit", "--help"], "CLEARINGHOUSE_AUTHORISE_TOKEN", "admin"),
]


@pytest.mark.parametrize(("command", "variable", "role"), TOKEN_COMMANDS)
def test_token_help_warns_that_the_command_line_shows_in_ps(
    command: list[str], variable: str, role: str
) -> None:
    result = runner.invoke(app, command, env={"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "--token-file" in text and CLEARINGHOUSE_TOKEN_FILE in text
    assert f"A bearer token of role {role}. Visible to every local account in ps" in text
    assert f"${variable}_FILE or ${variable}" in text


def served_manifest(served: ServedNode) -> Path:
    return load_settings(served.handle.config).manifest_file


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_every_token_command_takes_its_token_from_its_file_variable(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    """ingest, audit and manifest submit against the served node, each with its token in
    the file its own ``…_FILE`` variable names; a wrong token there is refused by the node,
    so the token read is the one sent."""
    served, _ = node
    tokens = served.handle.tokens
    manifest = served_manifest(served)
    records = str(events(tmp_path, "var-file-1"))
    runs = [
        (
            ["ingest", records, "--node", served.url, "--schema", "conflict-event/1"],
            "CLEARINGHOUSE_INGEST_TOKEN",
            "submitter",
        ),
        (
            ["audit", "verify", "--node", served.url, "--manifest", str(manifest)],
            "CLEARINGHOUSE_AUDIT_TOKEN",
            "auditor",
        ),
        (
            ["manifest", "submit", str(manifest), "--node", served.url],
            "CLEARINGHOUSE_ADMIN_TOKEN",
            "admin",
        ),
    ]
    for args, variable, role in runs:
        good = private(tmp_path / f"{role}.token", tokens[role] + "\n", 0o440)
        result = runner.invoke(app, args, env={f"{variable}_FILE": str(good)})
        assert result.exit_code == 0, (args, result.output)
        wrong = private(tmp_path / f"{role}.wrong", "not-the-token\n")
        result = runner.invoke(app, args, env={f"{variable}_FILE": str(wrong)})
        assert result.exit_code != 0, (args, result.output)


def test_node_inits_tokens_json_serves_every_command_through_one_variable(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    served, _ = node
    tokens = private(tmp_path / "tokens.json", json.dumps(served.handle.tokens))
    env = {CLEARINGHOUSE_TOKEN_FILE: str(tokens)}
    out = ingest(served, events(tmp_path, "tokens-json-1"), env=env)
    assert "accepted 1" in out
    audit = ["audit", "verify", "--node", served.url, "--manifest", str(served_manifest(served))]
    assert runner.invoke(app, audit, env=env).exit_code == 0


def test_the_command_line_wins_over_the_environment_and_its_variable_over_the_shared_file(
    node: tuple[ServedNode, str], tmp_path: Path
) -> None:
    served, token = node
    good = private(tmp_path / "good", token)
    wrong = private(tmp_path / "wrong", "not-the-token")
    env = {TOKEN_ENV: "not-the-token", CLEARINGHOUSE_TOKEN_FILE: str(wrong)}
    assert "accepted 1" in ingest(served, events(tmp_path, "a"), "--token-file", str(good), env=env)
    assert "accepted 1" in ingest(served, events(tmp_path, "b"), "--token", token, env=env)
    env = {TOKEN_ENV: token, CLEARINGHOUSE_TOKEN_FILE: str(wrong)}
    assert "accepted 1" in ingest(served, events(tmp_path, "c"), env=env)


@pytest.mark.parametrize(("command", "variable", "role"), TOKEN_COMMANDS)
def test_a_token_and_its_file_variable_together_or_a_readable_file_are_refused(
    command: list[str], variable: str, role: str, tmp_path: Path
) -> None:
    """Checked before the command does anything else, so no node is needed."""
    args = [*command[:-1], *PLACEHOLDER_ARGS[command[0]](tmp_path)]
    if command[:2] == ["audit", "export"]:
        args += ["--out", str(tmp_path / "log.jsonl")]
    good = private(tmp_path / "token", "t0ken")
    both = runner.invoke(app, args, env={variable: "t0ken", f"{variable}_FILE": str(good)})
    assert both.exit_code == 2, both.output
    assert f"both ${variable} and ${variable}_FILE are set; set only one" in both.stderr
    exposed = private(tmp_path / "exposed", "t0ken", 0o644)
    refused = runner.invoke(app, args, env={f"{variable}_FILE": str(exposed)})
    assert refused.exit_code == 2, refused.output
    assert f"${variable}_FILE: token file {exposed} is readable by every local account" in (
        refused.stderr
    )
    assert "t0ken" not in refused.output
    shared = runner.invoke(app, args, env={CLEARINGHOUSE_TOKEN_FILE: str(exposed)})
    assert shared.exit_code == 2 and f"${CLEARINGHOUSE_TOKEN_FILE}: token file" in shared.stderr


#: The arguments each command needs besides its token (a node nobody listens at).
PLACEHOLDER_ARGS = {
    "ingest": lambda d: [str(events(d, "x")), "--node", "http://127.0.0.1:9", "--schema", "s/1"],
    "audit": lambda d: ["--node", "http://127.0.0.1:9"],
    "manifest": lambda d: [str(private(d / "m.json", "{}")), "--node", "http://127.0.0.1:9"],
    "authorise": lambda d: [str(private(d / "a.json", "{}")), "--node", "http://127.0.0.1:9"],
}
