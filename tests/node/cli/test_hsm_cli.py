"""``clearinghouse hsm keygen|jwk`` and the signing commands with a key in a PKCS#11 token.

In process through Typer's runner, on a fresh SoftHSM2 token (:mod:`tests.softhsm`):
mission and sanctions (oversight) keep their keys in the token, the others in PEM
files. The manifest, a packet and an authorisation signed in the token verify with
the protocol's checks; ``key rotate`` makes the new key in the token; wrong option
combinations and unsafe PIN files are refused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clearinghouse.node.cli.main import app
from clearinghouse.node.settings import load_settings
from clearinghouse.node.signers import PIN_ENV
from clearinghouse.protocol.authorisation import parse_authorisation, verify_authorisation
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import parse_manifest, verify_manifest
from tests.softhsm import MODULE, PIN, SoftHsm, softhsm_token
from tests.support import EXAMPLES

IN_TOKEN = ("mission", "sanctions")
IN_FILES = ("unodc", "dpa", "undp")


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def ok(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = cli(*args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def refused(code: int, *args: str | Path, env: dict[str, str] | None = None) -> str:
    result = cli(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return " ".join(result.stderr.split())


def token_options(hsm: SoftHsm, label: str | None, *, pin_file: bool = True) -> list[str | Path]:
    """The options naming the key ``label`` in the token (none: the command's default)."""
    options: list[str | Path] = ["--pkcs11-module", MODULE, "--pkcs11-token", hsm.token_label]
    options += ["--pkcs11-key", label] if label is not None else []
    return options + (["--pin-file", hsm.pin_file] if pin_file else [])


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One token for the module (its tests run in order: rotation adds a key last)."""
    with softhsm_token(tmp_path_factory.mktemp("softhsm")) as made:
        yield made


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, softhsm: SoftHsm) -> Path:
    """Keys (two in the token), and the manifest signed by mission (token), unodc and dpa."""
    tmp_path = tmp_path_factory.mktemp("fed")
    keys = tmp_path / "keys"
    for p in IN_TOKEN:
        made = ok("hsm", "keygen", "--participant", p, "--out", keys, *token_options(softhsm, None))
        made_jwk = json.loads((keys / f"{p}.jwk.json").read_text())
        assert made.stdout.strip() == made_jwk["kid"]
        assert f"made key '{p}' in PKCS#11 token" in made.stderr
    for p in IN_FILES:
        ok("keygen", "--participant", p, "--out", keys)
    manifest = tmp_path / "manifest.json"
    config = EXAMPLES / "federation.yaml"
    ok("manifest", "create", "--config", config, "--keys", keys, "--out", manifest)
    sign = ("manifest", "sign", manifest, "--participant")
    ok(*sign, "mission", *token_options(softhsm, "mission"))
    for p in ("unodc", "dpa"):
        ok(*sign, p, "--key", keys / f"{p}.key.pem")
    return tmp_path


def test_keygen_makes_the_key_in_the_token_and_writes_only_its_jwk(
    fed: Path, softhsm: SoftHsm
) -> None:
    keys = fed / "keys"
    assert not (keys / "mission.key.pem").exists() and (keys / "unodc.key.pem").exists()
    jwk = json.loads((keys / "mission.jwk.json").read_text())
    shown = ok("hsm", "jwk", *token_options(softhsm, "mission"))
    assert json.loads(shown.stdout) == jwk
    again = refused(
        1,
        "hsm",
        "keygen",
        "--participant",
        "mission",
        "--out",
        fed / "other",
        *token_options(softhsm, None),
    )
    assert "already holds a key labelled 'mission'" in again
    exists = refused(
        2,
        "hsm",
        "keygen",
        "--participant",
        "mission",
        "--out",
        keys,
        *token_options(softhsm, "mission2"),
    )
    assert "mission.jwk.json exists; refusing to overwrite a key" in exists
    with softhsm.open() as token:
        assert token.labels() == ["mission", "sanctions"]


def test_a_manifest_signed_in_the_token_verifies(fed: Path) -> None:
    manifest = verify_manifest(
        parse_manifest((fed / "manifest.json").read_bytes()), now=datetime.now(UTC)
    )
    jwk = json.loads((fed / "keys" / "mission.jwk.json").read_text())
    assert {s.signer: s.kid for s in manifest.signatures}["mission"] == jwk["kid"]


def test_a_packet_issued_with_the_token_key_verifies(fed: Path, softhsm: SoftHsm) -> None:
    record = EXAMPLES / "records" / "conflict-event.json"
    pseudonyms = fed / "keys" / "pseudonym.key"
    ok("pseudonym-key", "--out", pseudonyms)
    issued = ok(
        "packet",
        "issue",
        record,
        "--participant",
        "mission",
        "--schema",
        "conflict-event/1",
        "--pseudonym-key",
        pseudonyms,
        *token_options(softhsm, "mission"),
    )
    packet = fed / "packet.txt"
    packet.write_text(issued.stdout)
    checked = ok("packet", "verify", packet, "--manifest", fed / "manifest.json")
    assert "mission" in checked.stdout


def test_an_authorisation_signed_in_the_token_verifies(fed: Path, softhsm: SoftHsm) -> None:
    out = fed / "auth.json"
    ok(
        "authorise",
        "--participant",
        "sanctions",
        *token_options(softhsm, "sanctions"),
        "--manifest",
        fed / "manifest.json",
        "--recipient",
        "undp",
        "--fields",
        "side_a",
        "--scope",
        "query:schema=conflict-event/1",
        "--purpose",
        "An inquiry.",
        "--expires",
        "7d",
        "--out",
        out,
    )
    manifest = parse_manifest((fed / "manifest.json").read_bytes())
    authorisation = parse_authorisation(out.read_bytes())
    assert verify_authorisation(authorisation, manifest, now=authorisation.issued_at)
    jwk = json.loads((fed / "keys" / "sanctions.jwk.json").read_text())
    assert authorisation.signature.kid == jwk["kid"]


def test_the_key_options_are_one_way_or_the_other(fed: Path, softhsm: SoftHsm) -> None:
    sign = ("manifest", "sign", fed / "manifest.json", "--participant", "mission")
    both = refused(
        2, *sign, "--key", fed / "keys" / "unodc.key.pem", *token_options(softhsm, "mission")
    )
    assert "give --key or the --pkcs11-* options, not both" in both
    partial = refused(2, *sign, "--pkcs11-module", MODULE, "--pkcs11-key", "mission")
    assert "missing: --pkcs11-token" in partial
    neither = refused(2, *sign)
    assert "give the private key: --key FILE, or --pkcs11-module" in neither


def test_the_pin_comes_from_a_private_file_or_the_environment(fed: Path, softhsm: SoftHsm) -> None:
    sign = ("manifest", "sign", fed / "manifest.json", "--participant", "mission")
    os.chmod(softhsm.pin_file, 0o644)
    try:
        unsafe = refused(1, *sign, *token_options(softhsm, "mission"))
    finally:
        os.chmod(softhsm.pin_file, 0o600)
    assert "key-unusable" in unsafe and "readable by every local account" in unsafe
    without_pin = token_options(softhsm, "mission", pin_file=False)
    assert "no PIN for the PKCS#11 token" in refused(1, *sign, *without_pin)
    ok(*sign, *without_pin, env={PIN_ENV: PIN})
    wrong = refused(1, *sign, *without_pin, env={PIN_ENV: "0000-0000"})
    assert "the PIN for PKCS#11 token 'clearinghouse-test' is wrong" in wrong


def test_init_makes_a_node_whose_key_is_in_the_token(fed: Path, softhsm: SoftHsm) -> None:
    folder = fed / "undp-node"
    made = ok("init", "--participant", "undp", "--dir", folder, *token_options(softhsm, None))
    assert "(never extractable)" in made.stderr
    assert not (folder / "keys" / "undp.key.pem").exists()
    settings = load_settings(folder / "undp.toml")
    assert settings.key_file is None and settings.pkcs11 is not None
    assert settings.pkcs11.key_label == "undp" and settings.pkcs11.pin_file == softhsm.pin_file
    jwk = json.loads((folder / "keys" / "undp.jwk.json").read_text())
    with softhsm.open() as token:
        assert public_jwk(token.key("undp")) == jwk


def test_key_rotate_makes_the_new_key_in_the_token(fed: Path, softhsm: SoftHsm) -> None:
    proposal = fed / "rotate.json"
    made = ok(
        "key",
        "rotate",
        "--participant",
        "mission",
        "--dir",
        fed / "keys",
        "--from",
        fed / "manifest.json",
        "--out",
        proposal,
        *token_options(softhsm, "mission"),
    )
    kid = made.stdout.strip().splitlines()[-1]
    assert "(sensitive, not extractable)" in made.stderr
    listed = [k.kid for k in parse_manifest(proposal.read_bytes()).participant("mission").keys]
    assert listed[-1] == kid and len(listed) == 2
    assert (fed / "keys" / f"mission.{kid[:8]}.jwk.json").exists()
    assert not list((fed / "keys").glob("mission.*.key.pem"))
    with softhsm.open() as token:
        (rotated,) = [label for label in token.labels() if label.startswith("mission.")]
        assert re.fullmatch(r"mission\.\d{8}T\d{6}Z", rotated)  # KEY_LABEL.<UTC time>
        assert public_jwk(token.key(rotated))["kid"] == kid
