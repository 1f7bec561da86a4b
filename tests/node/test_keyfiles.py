"""Secret files: pseudonymisation keys (``EPOCH KEY`` on one line, or, older, the key
alone), private keys and token files, written 0600 and refused when world-readable."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from clearinghouse.node.keyfiles import (
    PASSPHRASE_ENV,
    passphrase_from_env,
    read_private_key,
    read_pseudonym_key,
    read_token_file,
    write_private_key,
    write_pseudonym_key,
    write_secret,
)
from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.errors import KeyUnusable, ProtocolError
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.pseudonyms import PseudonymKey, derived_epoch

KEY = hashlib.sha256(b"pseudonym key").digest()


def private_text(path: Path, text: str) -> Path:
    """``text`` written as an operator would keep a secret: readable by its owner only."""
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_new_key_file_names_its_epoch(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    written = write_pseudonym_key(path, "2026-11-30")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    epoch, key = path.read_text().rstrip("\n").split(" ")
    assert epoch == "2026-11-30" and key == b64url_encode(written.key)
    assert len(written.key) == 32
    assert read_pseudonym_key(path) == written == PseudonymKey("2026-11-30", written.key)
    with pytest.raises(FileExistsError):
        write_pseudonym_key(path, "2026-12-01")  # never overwritten


def test_without_an_epoch_name_the_derived_one_is_written(tmp_path: Path) -> None:
    written = write_pseudonym_key(tmp_path / "p.key")
    assert written.epoch == derived_epoch(written.key) and written.epoch.startswith("e-")
    assert (tmp_path / "p.key").read_text().startswith(written.epoch + " ")


def test_a_file_of_the_key_alone_keeps_working_with_a_stable_derived_epoch(
    tmp_path: Path,
) -> None:
    path = private_text(tmp_path / "old.key", b64url_encode(KEY) + "\n")
    read = read_pseudonym_key(path)
    assert read.key == KEY and read.epoch == "e-m0vYsRPu7E"  # tests/protocol vector
    assert read_pseudonym_key(path) == read
    # The same key written with that name reads back the same: a deployment can add
    # the name to its file without starting a new epoch.
    named = private_text(tmp_path / "named.key", f"e-m0vYsRPu7E {b64url_encode(KEY)}\n")
    assert read_pseudonym_key(named) == read


def test_a_bad_epoch_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="pseudonym epoch"):
        write_pseudonym_key(tmp_path / "p.key", "no spaces")
    assert not (tmp_path / "p.key").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "one line"),
        (f"a b {b64url_encode(KEY)}", "one line"),
        (f"2026-11\n{b64url_encode(KEY)}", "one line"),
        ("2026-11 not+base64url!", "base64url"),
        (f"2026-11 {b64url_encode(KEY[:16])}", "16 bytes"),
        (f"bad/epoch {b64url_encode(KEY)}", "pseudonym epoch"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = private_text(tmp_path / "p.key", content)
    with pytest.raises(KeyUnusable, match=message) as info:
        read_pseudonym_key(path)
    assert str(path) in info.value.message
    assert b64url_encode(KEY) not in info.value.message  # never the key itself


def test_a_missing_file_is_key_unusable(tmp_path: Path) -> None:
    with pytest.raises(KeyUnusable, match="cannot read"):
        read_pseudonym_key(tmp_path / "absent.key")


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o666])
def test_a_world_readable_secret_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    key = generate_private_key()
    private = tmp_path / "unodc.key.pem"
    write_private_key(private, key, None)
    pseudonym = tmp_path / "pseudonym.key"
    write_pseudonym_key(pseudonym, "2026-12")
    token = private_text(tmp_path / "token", "s3cr3t-token\n")
    for path, read in (
        (private, lambda: read_private_key(private)),
        (pseudonym, lambda: read_pseudonym_key(pseudonym)),
        (token, lambda: read_token_file(token, "auditor")),
    ):
        path.chmod(mode)
        with pytest.raises(KeyUnusable, match="readable by every local account") as info:
            read()
        assert f"mode {mode:04o}" in info.value.message
        assert f"chmod o-rwx {path}" in info.value.message
        assert "s3cr3t" not in info.value.message


def test_owner_and_group_readable_secrets_are_read(tmp_path: Path) -> None:
    """Kubernetes mounts secrets 0440 for the pod's fsGroup: that must keep working."""
    key = generate_private_key()
    private = tmp_path / "unodc.key.pem"
    write_private_key(private, key, None)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    private.chmod(0o440)
    assert public_jwk(read_private_key(private)) == public_jwk(key)
    token = private_text(tmp_path / "token", "s3cr3t-token\n")
    token.chmod(0o640)
    assert read_token_file(token, "auditor") == "s3cr3t-token"


def test_a_token_file_is_one_line_or_node_inits_tokens_by_role(tmp_path: Path) -> None:
    by_role = private_text(tmp_path / "tokens.json", '{"auditor": "aud", "admin": "adm"}\n')
    assert read_token_file(by_role, "auditor") == "aud"
    assert read_token_file(by_role, "admin") == "adm"
    with pytest.raises(KeyUnusable, match="no token for role 'submitter'"):
        read_token_file(by_role, "submitter")
    for bad in ("", "two words\n", "a\nb\n"):
        with pytest.raises(KeyUnusable, match="one line"):
            read_token_file(private_text(tmp_path / "bad", bad), "auditor")
    with pytest.raises(KeyUnusable, match="not JSON"):
        read_token_file(private_text(tmp_path / "bad", "{nope"), "auditor")
    with pytest.raises(KeyUnusable, match="cannot read token file"):
        read_token_file(tmp_path / "absent", "auditor")


def test_replacing_a_secret_keeps_it_private_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "federation.json"
    path.write_text("old, world-readable")
    path.chmod(0o644)
    write_secret(path, b"new", replace=True)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["federation.json"]  # no temporary left
    with pytest.raises(FileExistsError):
        write_secret(path, b"again")


def test_the_passphrase_comes_from_its_variable_or_the_file_its_file_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert passphrase_from_env() is None
    monkeypatch.setenv(PASSPHRASE_ENV, "in the environment")
    assert passphrase_from_env() == b"in the environment"
    monkeypatch.delenv(PASSPHRASE_ENV)
    passphrase = private_text(tmp_path / "passphrase", "correct horse battery\n")
    passphrase.chmod(0o440)  # a Kubernetes Secret volume for the pod's fsGroup
    monkeypatch.setenv(f"{PASSPHRASE_ENV}_FILE", str(passphrase))
    assert passphrase_from_env() == b"correct horse battery"  # the line break dropped

    sealed = tmp_path / "sealed.key.pem"
    key = generate_private_key()
    write_private_key(sealed, key, passphrase_from_env())
    assert public_jwk(read_private_key(sealed, passphrase_from_env())) == public_jwk(key)

    monkeypatch.setenv(PASSPHRASE_ENV, "another")
    with pytest.raises(KeyUnusable, match=f"both {PASSPHRASE_ENV} and {PASSPHRASE_ENV}_FILE"):
        passphrase_from_env()
    monkeypatch.delenv(PASSPHRASE_ENV)
    passphrase.chmod(0o644)
    with pytest.raises(KeyUnusable, match="readable by every local account") as exposed:
        passphrase_from_env()
    assert f"{PASSPHRASE_ENV}_FILE {passphrase}" in exposed.value.message
    assert "horse" not in exposed.value.message
    monkeypatch.setenv(f"{PASSPHRASE_ENV}_FILE", str(tmp_path / "absent"))
    with pytest.raises(KeyUnusable, match=f"cannot read {PASSPHRASE_ENV}_FILE"):
        passphrase_from_env()
