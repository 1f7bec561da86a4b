"""``clearinghouse init``: keys, bearer tokens and a config file for one participant.

The key is a PEM file, or a key made in a PKCS#11 token (the ``--pkcs11-*`` options of
:mod:`node.cli._signing`), which the config then names instead of a key file.

The tokens and the config file are made as the local federation makes them
(:mod:`node.localfed.config`), the one writer of node configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail, reporting, stderr
from clearinghouse.node.cli._signing import (
    ModuleOption,
    NewKeyOption,
    PinFileOption,
    TokenOption,
    required_token_settings,
)
from clearinghouse.node.keyfiles import (
    passphrase_from_env,
    write_jwk,
    write_private_key,
    write_secret,
)
from clearinghouse.node.localfed.config import make_tokens, write_node_config
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers import Pkcs11Token
from clearinghouse.protocol.keys import Signer, generate_private_key

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
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: NewKeyOption = None,
    pin_file: PinFileOption = None,
) -> None:
    """Create DIR/keys/ID.key.pem (0600), DIR/keys/ID.jwk.json, DIR/tokens.json (0600,
    one bearer token per role, shown only here) and DIR/ID.toml (token hashes only).

    With --pkcs11-module and --pkcs11-token the key is made in that PKCS#11 token
    instead (as 'clearinghouse hsm keygen' makes it), no key file is written, and
    DIR/ID.toml names the token ([pkcs11]) rather than a key_file."""
    config = dir / f"{participant}.toml"
    key_path = dir / "keys" / f"{participant}.key.pem"
    in_token = None
    if pkcs11_module is not None or pkcs11_token is not None or pin_file is not None:
        label = pkcs11_key or participant
        in_token = required_token_settings(pkcs11_module, pkcs11_token, label, pin_file)
        if in_token.pin_file is not None:  # the node reads it from wherever it starts
            in_token = in_token.model_copy(update={"pin_file": in_token.pin_file.resolve()})
    for existing in (config, key_path, dir / "tokens.json"):
        if existing.exists():
            fail(f"{existing} exists; refusing to overwrite")
    with reporting():
        key = _new_key(key_path, in_token)
        jwk = write_jwk(dir / "keys" / f"{participant}.jwk.json", key)
        plain, hashes = make_tokens()
        write_secret(dir / "tokens.json", (json.dumps(plain, indent=2) + "\n").encode())
        write_node_config(
            config,
            participant=participant,
            key_file=f"keys/{participant}.key.pem" if in_token is None else None,
            pkcs11=in_token,
            manifest_file=str(manifest.resolve()) if manifest else "manifest.json",
            database_url=f"sqlite:///{participant}.db",
            port=port,
            token_hashes=hashes,
            pseudonym_key_file=str(pseudonym_key.resolve()) if pseudonym_key else None,
        )
    made = f"{key_path} (0600)" if in_token is None else f"{key} (never extractable)"
    stderr.print(
        f"wrote {config}, {made}, {dir / 'keys' / (participant + '.jwk.json')} and "
        f"{dir / 'tokens.json'} (0600; the tokens are stored nowhere else)\n"
        f"key id {jwk['kid']}; give the JWK to whoever builds the manifest",
        markup=False,
        soft_wrap=True,
    )


def _new_key(key_path: Path, in_token: Pkcs11Settings | None) -> Signer:
    """A new key: written to ``key_path`` (encrypted if a passphrase is set), or made in
    the token ``in_token`` names."""
    if in_token is None:
        key = generate_private_key()
        write_private_key(key_path, key, passphrase_from_env())
        return key
    with Pkcs11Token.from_settings(in_token, writable=True) as token:
        return token.generate_key(in_token.key_label)
