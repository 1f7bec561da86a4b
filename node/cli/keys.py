"""``clearinghouse keygen`` and ``clearinghouse pseudonym-key``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail, now, reporting, stderr
from clearinghouse.node.keyfiles import (
    PASSPHRASE_ENV,
    passphrase_from_env,
    write_jwk,
    write_private_key,
    write_pseudonym_key,
)
from clearinghouse.protocol.keys import generate_private_key
from clearinghouse.protocol.pseudonyms import is_epoch_name

__all__ = ["keygen", "pseudonym_key"]


def keygen(
    participant: Annotated[str, typer.Option(help="Participant id, e.g. unodc.")],
    out: Annotated[Path, typer.Option(help="Directory for ID.key.pem and ID.jwk.json.")],
    passphrase_env: Annotated[
        str,
        typer.Option(help="Environment variable holding a passphrase to encrypt the key with."),
    ] = PASSPHRASE_ENV,
) -> None:
    """Generate an Ed25519 key pair: OUT/ID.key.pem (0600) and OUT/ID.jwk.json."""
    key_path, jwk_path = out / f"{participant}.key.pem", out / f"{participant}.jwk.json"
    for existing in (key_path, jwk_path):
        if existing.exists():
            fail(f"{existing} exists; refusing to overwrite a key")
    with reporting():
        key = generate_private_key()
        passphrase = passphrase_from_env(passphrase_env)
        write_private_key(key_path, key, passphrase)
        jwk = write_jwk(jwk_path, key)
    encrypted = "encrypted" if passphrase else "unencrypted"
    stderr.print(f"wrote {key_path} ({encrypted}, mode 0600) and {jwk_path}")
    typer.echo(jwk["kid"])


def pseudonym_key(
    out: Annotated[Path, typer.Option(help="File to create (mode 0600).")],
    epoch: Annotated[
        str | None,
        typer.Option(
            help="Name of the key's epoch (1-64 of A-Z a-z 0-9 . _ -); default: today's "
            "UTC date, e.g. 2026-11-30.",
        ),
    ] = None,
) -> None:
    """Generate a pseudonymisation key shared by the data-originating participants.

    Each key is an epoch: references made under it link with each other and with
    no reference of another epoch. The file is one line, ``EPOCH KEY``.
    """
    name = epoch if epoch is not None else now().date().isoformat()
    if not is_epoch_name(name):
        fail(f"--epoch {name!r} is not 1-64 characters of A-Z a-z 0-9 . _ -")
    if out.exists():
        fail(f"{out} exists; refusing to overwrite a key")
    with reporting():
        written = write_pseudonym_key(out, name)
    stderr.print(f"wrote {out} (mode 0600), pseudonym epoch {written.epoch}")
    typer.echo(written.epoch)
