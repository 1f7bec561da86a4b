"""CLI conventions: ``clearinghouse --version``, and ``ingest``'s token kept out of
``ps`` and shell history (from the environment or a file), against a served node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearinghouse.node.cli.ingest import TOKEN_ENV
from clearinghouse.node.cli.main import app
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
