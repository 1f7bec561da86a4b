"""``clearinghouse federation restrict``: a federation config cut down to some participants."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from clearinghouse.node.cli.main import app
from tests.support import EXAMPLES

FEDERATION = EXAMPLES / "federation.yaml"


def _restrict(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["federation", "restrict", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def test_the_named_participants_are_kept_at_their_addresses(tmp_path: Path) -> None:
    out = tmp_path / "federation.yaml"
    code, output = _restrict(
        "unodc", "mission", "--config", FEDERATION, "--base-url", "http://{id}:8100", "--out", out
    )
    assert code == 0, output
    full = yaml.safe_load(FEDERATION.read_text())
    restricted = yaml.safe_load(out.read_text())
    # the config's order, each at the template's address, everything else as it was
    assert [p["id"] for p in restricted["participants"]] == ["mission", "unodc"]
    assert [p["base_url"] for p in restricted["participants"]] == [
        "http://mission:8100",
        "http://unodc:8100",
    ]
    assert restricted["participants"][0]["analyzer"] == full["participants"][0]["analyzer"]
    # only the rules addressed to the two, and a quorum the two can meet
    for schema, per_recipient in restricted["policy"].items():
        assert set(per_recipient) <= {"mission", "unodc"}, schema
        for recipient, rules in per_recipient.items():
            assert rules == full["policy"][schema][recipient]
    assert restricted["quorum"] == 2 < full["quorum"]
    assert "2 participants, quorum 2" in output


def test_a_participant_the_config_does_not_have_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "federation.yaml"
    code, output = _restrict(
        "mission", "interpol", "--config", FEDERATION, "--base-url", "http://{id}", "--out", out
    )
    assert code == 2
    assert "no participant 'interpol' in the federation" in output
    assert not out.exists()


def test_a_base_url_without_the_id_placeholder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "federation.yaml"
    code, output = _restrict(
        "mission", "--config", FEDERATION, "--base-url", "http://node:8100", "--out", out
    )
    assert code == 2
    assert "--base-url must contain {id}" in output
    assert not out.exists()


def test_a_file_that_is_not_a_federation_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "list.yaml"
    config.write_text("- mission\n- unodc\n")
    out = tmp_path / "federation.yaml"
    code, output = _restrict(
        "mission", "--config", config, "--base-url", "http://{id}", "--out", out
    )
    assert code == 2
    assert "expected a mapping with a 'participants' list" in output
    missing_code, missing = _restrict(
        "mission", "--config", tmp_path / "absent.yaml", "--base-url", "http://{id}", "--out", out
    )
    assert missing_code == 2 and "absent.yaml" in missing
    assert not out.exists()
