"""``clearinghouse init``: keys, bearer tokens and a config file for one participant.

The tokens and the config file are made as the local federation makes them
(:mod:`node.localfed.config`), the one writer of node configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail, reporting, stderr
from clearinghouse.node.keyfiles import (
    passphrase_from_env,
    write_jwk,
    write_private_key,
    write_secret,
)
from clearinghouse.node.localfed.config import make_tokens, write_node_config
from clearinghouse.protocol.keys import generate_private_key

__all__ = ["init"]


def init(
    participant: Annotated[str, typer.Option(help="Participant id, as in the manifest.")],
    dir: Annotated[Path, typer.Option("--dir", help="Folder for keys, tokens and config.")],
    manifest: Annotated[
        Path | None, typer.Option(help="The federation manifest, once it exists.")
    ] = None,
    pseudonym_key: Annotated[
        Path | None, typer.Option(help="The shared pseudonymisation key file, if this body issues.")
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Create DIR/keys/ID.key.pem (0600), DIR/keys/ID.jwk.json, DIR/tokens.json (0600,
    one bearer token per role, shown only here) and DIR/ID.toml (token hashes only)."""
    config = dir / f"{participant}.toml"
    key_path = dir / "keys" / f"{participant}.key.pem"
    for existing in (config, key_path, dir / "tokens.json"):
        if existing.exists():
            fail(f"{existing} exists; refusing to overwrite")
    with reporting():
        key = generate_private_key()
        write_private_key(key_path, key, passphrase_from_env())
        jwk = write_jwk(dir / "keys" / f"{participant}.jwk.json", key)
        plain, hashes = make_tokens()
        write_secret(dir / "tokens.json", (json.dumps(plain, indent=2) + "\n").encode())
        write_node_config(
            config,
            participant=participant,
            key_file=f"keys/{participant}.key.pem",
            manifest_file=str(manifest.resolve()) if manifest else "manifest.json",
            database_url=f"sqlite:///{participant}.db",
            port=port,
            token_hashes=hashes,
            pseudonym_key_file=str(pseudonym_key.resolve()) if pseudonym_key else None,
        )
    stderr.print(
        f"wrote {config}, {key_path} (0600), {dir / 'keys' / (participant + '.jwk.json')} and "
        f"{dir / 'tokens.json'} (0600; the tokens are stored nowhere else)\n"
        f"key id {jwk['kid']}; give the JWK to whoever builds the manifest"
    )
