"""Pseudonymisation key files: ``EPOCH KEY`` on one line, or (older files) the key alone."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from node.keyfiles import read_pseudonym_key, write_pseudonym_key
from protocol.encoding import b64url_encode
from protocol.errors import KeyUnusable, ProtocolError
from protocol.pseudonyms import PseudonymKey, derived_epoch

KEY = hashlib.sha256(b"pseudonym key").digest()


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
    path = tmp_path / "old.key"
    path.write_text(b64url_encode(KEY) + "\n")
    read = read_pseudonym_key(path)
    assert read.key == KEY and read.epoch == "e-m0vYsRPu7E"  # tests/protocol vector
    assert read_pseudonym_key(path) == read
    # The same key written with that name reads back the same: a deployment can add
    # the name to its file without starting a new epoch.
    named = tmp_path / "named.key"
    named.write_text(f"e-m0vYsRPu7E {b64url_encode(KEY)}\n")
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
    path = tmp_path / "p.key"
    path.write_text(content)
    with pytest.raises(KeyUnusable, match=message) as info:
        read_pseudonym_key(path)
    assert str(path) in info.value.message
    assert b64url_encode(KEY) not in info.value.message  # never the key itself


def test_a_missing_file_is_key_unusable(tmp_path: Path) -> None:
    with pytest.raises(KeyUnusable, match="cannot read"):
        read_pseudonym_key(tmp_path / "absent.key")
