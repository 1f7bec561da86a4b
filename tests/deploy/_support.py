"""What the deployment tests share: paths, the venv's tools, the deploy/ scripts.

The validators (hadolint, check-jsonschema, kubernetes-validate) are the dev extra's
console scripts, found beside the running interpreter so that the tests use the
virtual environment they run in. Their schemas and binary ship inside the packages:
nothing here needs the network.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
AGENCIES = ("mission", "unodc", "dpa", "undp")
NODE_UID = 10001
DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    line: int
    name: str
    args: str


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comment lines dropped."""
    text = path.read_text()
    out: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not parts and (not stripped or stripped.startswith("#")):
            continue
        if parts and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        joined = " ".join(p for p in parts if p)
        name, _, args = joined.partition(" ")
        out.append(Instruction(start, name.upper(), args.strip()))
        parts = []
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for ins in instructions:
        if ins.name == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def healthcheck_command(path: Path = DOCKERFILE) -> list[str]:
    """The exec-form command of the runtime stage's HEALTHCHECK."""
    health = next(i.args for i in stages(parse_dockerfile(path))[-1] if i.name == "HEALTHCHECK")
    command = json.loads(health[health.index("CMD ") + 4 :])
    assert isinstance(command, list)
    return [str(part) for part in command]


def tool(name: str) -> Path:
    """The console script ``name`` of this virtual environment (fails if not installed)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the dev extra (pip install -e '.[dev]')")
    return path


def run_tool(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    command = shlex.join(str(a) for a in result.args)
    return f"$ {command}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"


def load_script(path: Path) -> ModuleType:
    """Import one of the deploy/ scripts (deploy/ is not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"_deploy_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cli_calls(text: str) -> list[list[str]]:
    """Each ``clearinghouse …`` command line of a shell text, split into words."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [
        shlex.split(line.strip())
        for line in text.splitlines()
        if line.strip().startswith("clearinghouse ")
    ]


@functools.cache
def _cli() -> Any:
    """The object the ``clearinghouse`` console script runs (its entry point)."""
    (script,) = metadata.entry_points(group="console_scripts", name="clearinghouse")
    return script.load()


def cli_help(command: tuple[str, ...]) -> tuple[int, str]:
    """Exit code and text of ``clearinghouse COMMAND --help``.

    In process, through the console script's entry point: the same code the script
    runs, without paying the CLI's import time once per command (test_guide.py runs
    the installed script itself once).
    """
    from typer.testing import CliRunner

    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(_cli(), [*command, "--help"], env=env)
    return result.exit_code, result.output


def check_cli_calls(calls: list[list[str]]) -> int:
    """Check each call against ``clearinghouse SUBCOMMAND --help``: the subcommand and
    each option exist, no required option is left out. Returns how many subcommands."""
    used: dict[tuple[str, ...], list[set[str] | None]] = {}
    for words in calls:
        assert words[0] == "clearinghouse", words
        command = []
        for word in words[1:3]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            command.append(word)
        if len(words) == 1 + len(command):
            options = None  # a mention of the command by name: it must exist, that is all
        else:
            options = {w.split("=")[0] for w in words if w.startswith("--")}
        used.setdefault(tuple(command), []).append(options)
    for command, option_sets in used.items():
        name = " ".join(("clearinghouse", *command))
        code, text = cli_help(command)
        assert code == 0, f"{name} --help exited {code}:\n{text}"
        known = set(re.findall(r"(--[a-z][a-z0-9-]*)", text))
        required = set(re.findall(r"\*\s+(--[a-z][a-z0-9-]*)", text))
        for options in option_sets:
            if options is None:
                continue
            assert options <= known, f"{name} has no {sorted(options - known)}"
            assert required <= options, f"{name} needs {sorted(required - options)}"
    return len(used)
