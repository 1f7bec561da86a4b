"""deploy/README.md, the operator's guide: its commands are ones the tools accept.

Every ``clearinghouse …`` command in the guide (code blocks and inline code) is
checked against the real command's ``--help``: the subcommand exists, each option
exists, no required option is left out. The same goes for ``generate.py`` and the
files, services and paths the guide names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from tests.deploy._support import DEPLOY, check_cli_calls, cli_calls, cli_help, explain, tool

GUIDE = DEPLOY / "README.md"
#: The commands of a federation change, which the guide must show (and which must exist).
LIFECYCLE = (
    ("manifest", "propose"),
    ("manifest", "sign"),
    ("manifest", "merge"),
    ("manifest", "submit"),
    ("key", "rotate"),
    ("key", "revoke"),
)


def shell_text() -> str:
    """The guide's shell code blocks, then its inline code spans, one per line."""
    block: list[str] | None = None
    lines: list[str] = []
    spans: list[str] = []
    for line in GUIDE.read_text().splitlines():
        if line.lstrip().startswith("```"):
            if block is None:
                block = [] if line.strip() in ("```", "```sh") else ["# not shell"]
            else:
                lines += block if block[:1] != ["# not shell"] else []
                block = None
        elif block is not None:
            block.append(line)
        else:
            spans += re.findall(r"`([^`]+)`", line)
    assert block is None, "a code block is not closed"
    return "\n".join(lines + spans)


def test_every_clearinghouse_command_in_the_guide_exists() -> None:
    calls = cli_calls(shell_text())
    assert len(calls) >= 20
    assert check_cli_calls(calls) >= 10


def test_the_installed_script_runs_that_cli() -> None:
    result = subprocess.run(
        [str(tool("clearinghouse")), "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == cli_help(())[1], explain(result)


def test_the_guide_shows_how_to_change_the_federation() -> None:
    """Propose, sign detached, merge, submit; rotate and revoke keys: each shown, each real."""
    text = GUIDE.read_text()
    assert "## Changing the federation: adding a member, rotating and revoking keys" in text
    assert "command, which will" not in text  # the old "is planned" paragraph is gone
    shown = {tuple(words[1:3]) for words in cli_calls(shell_text())}
    for command in LIFECYCLE:
        assert command in shown, f"the guide shows no 'clearinghouse {' '.join(command)}'"
        code, help_text = cli_help(command)
        assert code == 0, help_text
    signs = [w for w in cli_calls(shell_text()) if w[1:3] == ["manifest", "sign"]]
    assert any("--detached-out" in w and "--held" in w for w in signs)


def test_generate_and_compose_commands_name_what_exists() -> None:
    text = shell_text()
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "k8s" / "generate.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    for line in text.splitlines():
        if "deploy/k8s/generate.py" in line:
            for option in re.findall(r"\s(--[a-z-]+)", line):
                assert option in result.stdout, line

    services = set(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"])
    compose = re.compile(r"docker compose -f deploy/compose\.yaml (\w+)(.*)")
    for match in compose.finditer(text):
        verb, rest = match.groups()
        if verb in {"exec", "run", "logs", "stop", "start"}:
            words = [w for w in rest.split() if not w.startswith("-")]
            if verb == "run" and "--entrypoint" in rest:
                words = words[1:]  # the entrypoint's value
            assert words and words[0] in services, match.group(0)

    for path in re.findall(r"deploy/[\w./-]+", text):
        if "secrets" not in path and "my-k8s" not in path:
            assert (DEPLOY.parent / path).exists(), path
