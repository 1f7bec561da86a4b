"""deploy/compose.yaml and its one-shot set-up, deploy/compose/init.sh.

The file must follow the Compose Specification (check-jsonschema's vendored
compose-spec schema) and keep each agency apart: its own PostgreSQL with a named
volume and a health check, its own key folder, one port on 127.0.0.1, a read-only,
non-root node that waits for its database and for `init`, and whose secrets are files
named by ``_FILE`` variables. init.sh is run here for real, with the venv's
`clearinghouse`, and a node is started from what it wrote, with the environment compose
gives it (on the test PostgreSQL when there is one), until the image's health check
passes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import make_url

from clearinghouse.node.keyfiles import read_secret_file
from clearinghouse.node.localfed import free_port
from clearinghouse.node.settings import Settings
from clearinghouse.node.settings_files import file_target
from clearinghouse.protocol.manifest import parse_manifest, verify_manifest
from tests.databases import POSTGRES_URL, throwaway_schema
from tests.deploy._support import (
    AGENCIES,
    DEPLOY,
    NODE_UID,
    check_cli_calls,
    cli_calls,
    explain,
    healthcheck_command,
    run_tool,
    tool,
)

COMPOSE = DEPLOY / "compose.yaml"
#: Variables that would hold a secret (the database URL holds none: it has no password).
SECRETISH = re.compile(r"TOKEN|PASSWORD|PASSPHRASE|SECRET", re.IGNORECASE)
INIT = DEPLOY / "compose" / "init.sh"
PATH_SETTINGS = (
    "CLEARINGHOUSE_CONFIG",
    "CLEARINGHOUSE_KEY_FILE",
    "CLEARINGHOUSE_PSEUDONYM_KEY_FILE",
    "CLEARINGHOUSE_MANIFEST_FILE",
    "CLEARINGHOUSE_DATABASE_PASSWORD_FILE",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # resolves the x-* anchors' merge keys
    assert isinstance(doc, dict)
    return doc


def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Volume entries in long form (short `source:target[:mode]` strings expanded)."""
    out = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target, *mode = entry.split(":")
            entry = {"type": "volume", "source": source, "target": target}
            entry["read_only"] = mode == ["ro"]
        out.append(entry)
    return out


def test_follows_the_compose_specification(tmp_path: Path) -> None:
    checker = tool("check-jsonschema")
    result = run_tool(checker, "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, explain(result)

    # The schema is really applied: a misspelt key in one service is refused.
    bad = tmp_path / "compose.yaml"
    bad.write_text(COMPOSE.read_text().replace("  mission:\n", "  mission:\n    read_onyl: true\n"))
    result = run_tool(checker, "--builtin-schema", "vendor.compose-spec", bad)
    assert result.returncode != 0 and "read_onyl" in result.stdout, explain(result)


@pytest.mark.parametrize("agency", AGENCIES)
def test_each_agency_has_its_own_database(compose: dict[str, Any], agency: str) -> None:
    db = services(compose)[f"{agency}-db"]
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[a-z]+)?", db["image"]), db["image"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    (data,) = [m for m in mounts(db) if m["target"] == "/var/lib/postgresql/data"]
    assert data["type"] == "volume" and data["source"] in compose["volumes"]
    others = [
        name
        for name, s in services(compose).items()
        if name != f"{agency}-db" and any(m["source"] == data["source"] for m in mounts(s))
    ]
    assert not others, f"volume {data['source']} is shared with {others}"
    assert "ports" not in db, "a database is reachable from its node only"
    (network,) = db["networks"]
    assert compose["networks"][network].get("internal") is True
    on_network = {n for n, s in services(compose).items() if network in s.get("networks", [])}
    assert on_network == {agency, f"{agency}-db"}
    env = db["environment"]
    assert "POSTGRES_PASSWORD" not in env, "the password comes from a secret file"
    (secret,) = db["secrets"]
    assert secret["source"] == f"{agency}-db-password"
    assert env["POSTGRES_PASSWORD_FILE"] == f"/run/secrets/{secret['target']}"


@pytest.mark.parametrize("agency", AGENCIES)
def test_each_node_is_confined_and_waits_for_its_dependencies(
    compose: dict[str, Any], agency: str
) -> None:
    node = services(compose)[agency]
    assert node["depends_on"] == {
        "init": {"condition": "service_completed_successfully"},
        f"{agency}-db": {"condition": "service_healthy"},
    }
    assert "/readyz" in " ".join(node["healthcheck"]["test"])
    assert node["read_only"] is True
    assert any(t.split(":")[0] == "/tmp" for t in node["tmpfs"])
    assert node["user"] == f"{NODE_UID}:{NODE_UID}"
    assert node["cap_drop"] == ["ALL"] and "no-new-privileges:true" in node["security_opt"]
    assert "secrets" not in node, "a node needs no other agency's secret"
    (port,) = node["ports"]
    host_ip, _host_port, container_port = port.split(":")
    assert host_ip == "127.0.0.1" and container_port == node["environment"]["CLEARINGHOUSE_PORT"]


@pytest.mark.parametrize("agency", AGENCIES)
def test_each_node_is_configured_by_environment_and_read_only_files(
    compose: dict[str, Any], agency: str
) -> None:
    node = services(compose)[agency]
    env = node["environment"]
    fields = set(Settings.model_fields) | {"config"}
    for name in env:
        if name.startswith("CLEARINGHOUSE_"):
            setting = name.removeprefix("CLEARINGHOUSE_").lower()
            known = setting in fields or file_target(Settings, setting.split("__"))
            assert known, f"{name}: no such setting"
            assert not SECRETISH.search(name) or name.endswith("_FILE"), f"{name}: a secret"
    assert env["CLEARINGHOUSE_PARTICIPANT"] == agency
    url = urlsplit(env["CLEARINGHOUSE_DATABASE_URL"])
    assert url.scheme == "postgresql" and url.hostname == f"{agency}-db" and url.password is None
    read_only = {m["target"]: m for m in mounts(node) if m.get("read_only")}
    for name in PATH_SETTINGS:
        path = PurePosixPath(env[name])
        assert any(path.is_relative_to(t) for t in read_only), f"{name}={path}: not mounted"
    own = read_only["/etc/clearinghouse"]
    assert own["source"] == "federation" and own["volume"]["subpath"] == agency
    assert read_only["/manifest"]["volume"]["subpath"] == "public"
    subpaths = {m.get("volume", {}).get("subpath") for m in mounts(node)}
    assert subpaths == {agency, "public"}, "a node sees no other agency's keys"


def test_ports_are_distinct_and_secrets_are_files_outside_git(compose: dict[str, Any]) -> None:
    ports = [services(compose)[a]["ports"][0].split(":")[1] for a in AGENCIES]
    assert len(set(ports)) == len(AGENCIES)
    published = [name for name, s in services(compose).items() if s.get("ports")]
    assert sorted(published) == sorted(AGENCIES)
    assert set(compose["secrets"]) == {f"{a}-db-password" for a in AGENCIES}
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/")
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()


def test_init_service(compose: dict[str, Any]) -> None:
    init = services(compose)["init"]
    assert init["user"] == f"{NODE_UID}:{NODE_UID}" and init["read_only"] is True
    assert init["network_mode"] == "none"
    assert init["secrets"] == [f"{a}-db-password" for a in AGENCIES]
    binds = {m["target"]: m for m in mounts(init) if m["type"] == "bind"}
    script = init["entrypoint"][-1]
    assert binds[script]["read_only"] and (DEPLOY / binds[script]["source"]) == INIT
    federation = binds["/config/federation.yaml"]
    assert (DEPLOY / federation["source"]).resolve() == DEPLOY / "examples" / "federation.yaml"
    (data,) = [m for m in mounts(init) if m["type"] == "volume"]
    assert data == {"type": "volume", "source": "federation", "target": "/data"}


def test_node_health_check_is_the_images(compose: dict[str, Any]) -> None:
    for agency in AGENCIES:
        test = services(compose)[agency]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1:] == healthcheck_command()


def test_init_script_uses_only_commands_and_options_that_exist() -> None:
    calls = cli_calls(INIT.read_text())
    assert len(calls) >= 6
    assert check_cli_calls(calls) >= 5


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `federation` volume as init.sh leaves it, made here with this venv's CLI."""
    root = tmp_path_factory.mktemp("compose-init")
    secrets = root / "secrets"
    secrets.mkdir()
    for agency in AGENCIES:  # characters a URL or a pgpass line would have to escape
        (secrets / f"{agency}-db-password").write_text(f"pw:{agency}@\\x\n")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(root),
        "CLEARINGHOUSE_INIT_DATA": str(root / "data"),
        "CLEARINGHOUSE_INIT_FEDERATION": str(DEPLOY / "examples" / "federation.yaml"),
        "CLEARINGHOUSE_INIT_SECRETS": str(secrets),
    }
    for attempt in ("first", "again"):
        result = subprocess.run(
            ["sh", str(INIT)], capture_output=True, text=True, env=env, timeout=180, check=False
        )
        assert result.returncode == 0, f"{attempt}:\n{explain(result)}"
        if attempt == "first":
            manifest = (root / "data" / "public" / "manifest.json").read_bytes()
    assert (root / "data" / "public" / "manifest.json").read_bytes() == manifest, "idempotent"
    return root / "data"


def local_path(node: dict[str, Any], path: str, data: Path) -> Path:
    """Where a path inside the node container lies in the volume init.sh wrote."""
    for mount in mounts(node):
        target = PurePosixPath(mount["target"])
        if mount["source"] == "federation" and PurePosixPath(path).is_relative_to(target):
            rest = PurePosixPath(path).relative_to(target)
            return data / mount["volume"]["subpath"] / rest
    raise AssertionError(f"{path} is in no mount of the federation volume")


def test_init_script_makes_keys_tokens_and_a_quorum_signed_manifest(
    compose: dict[str, Any], initialised: Path
) -> None:
    manifest = verify_manifest(
        parse_manifest((initialised / "public" / "manifest.json").read_bytes()),
        now=datetime.now(UTC),
    )
    assert {p.id: p.base_url for p in manifest.participants} == {
        a: f"http://{a}:8100" for a in AGENCIES
    }
    assert len({s.signer for s in manifest.signatures}) >= manifest.quorum == 3
    for agency in AGENCIES:
        node = services(compose)[agency]
        env = node["environment"]
        for name in PATH_SETTINGS:
            assert local_path(node, env[name], initialised).is_file(), f"{agency}: {name}"
        key = local_path(node, env["CLEARINGHOUSE_KEY_FILE"], initialised)
        password = local_path(node, env["CLEARINGHOUSE_DATABASE_PASSWORD_FILE"], initialised)
        for secret in (key, password, local_path(node, env["CLEARINGHOUSE_CONFIG"], initialised)):
            assert secret.stat().st_mode & 0o077 == 0, f"{secret} is readable by others"
        assert read_secret_file(password, "password") == f"pw:{agency}@\\x"
        tokens = json.loads((initialised / "tokens" / f"{agency}.json").read_text())
        config = local_path(node, env["CLEARINGHOUSE_CONFIG"], initialised).read_text()
        for token in tokens.values():
            assert hashlib.sha256(token.encode()).hexdigest() in config
            assert token not in config
        assert not list((initialised / agency).rglob("tokens*")), "no clear tokens in a node"


def test_a_node_started_as_compose_starts_it_passes_the_health_check(
    compose: dict[str, Any], initialised: Path, tmp_path: Path
) -> None:
    node = services(compose)["mission"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    for name, value in node["environment"].items():
        env[name] = str(local_path(node, value, initialised)) if name in PATH_SETTINGS else value
    env.update(
        CLEARINGHOUSE_HOST="127.0.0.1",
        CLEARINGHOUSE_PORT=str(free_port()),
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),
        PYTHONDONTWRITEBYTECODE="1",
    )
    with ExitStack() as stack:
        if POSTGRES_URL and make_url(POSTGRES_URL).password is None:
            # The test server for the agency's PostgreSQL: it trusts local connections, so
            # the password the node reads from its file is taken, whatever it is.
            _, env["CLEARINGHOUSE_DATABASE_URL"] = stack.enter_context(throwaway_schema("compose"))
        else:  # SQLite instead, which takes no password; the rest exactly as compose sets it
            env["CLEARINGHOUSE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'mission.db'}"
            env.pop("CLEARINGHOUSE_DATABASE_PASSWORD_FILE")
        _run_until_healthy(env, tmp_path)


def _run_until_healthy(env: dict[str, str], tmp_path: Path) -> None:
    check = [sys.executable, *healthcheck_command()[1:]]
    log = tmp_path / "node.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(tool("clearinghouse")), "run"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"the node stopped:\n{log.read_text()}"
            probe = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)
            if probe.returncode == 0:
                break
            assert time.monotonic() < deadline, f"never healthy:\n{log.read_text()}"
            time.sleep(0.5)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
