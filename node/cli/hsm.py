"""``clearinghouse hsm keygen|jwk``: a participant's Ed25519 key made and kept in a PKCS#11 token.

``keygen`` makes the key pair inside the token (private, sensitive, never
extractable: :meth:`~clearinghouse.node.signers.Pkcs11Token.generate_key`) and writes
only its public JWK, ``OUT/ID.jwk.json``, for the manifest, as ``clearinghouse keygen``
does for a PEM key. ``jwk`` prints the public JWK of a key already in a token. A node
then names the key in its settings (``[pkcs11]``: module, token_label, key_label,
pin_file), and the signing commands take it with the same ``--pkcs11-*`` options.

The token itself is set up with its own tools first (for SoftHSM2: ``softhsm2-util
--init-token``); the PIN is read from ``--pin-file`` or the environment, never from
the command line.
"""

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
    TokenKeyOption,
    TokenOption,
    required_token_settings,
)
from clearinghouse.node.keyfiles import write_jwk
from clearinghouse.node.signers import Pkcs11Token
from clearinghouse.protocol.keys import public_jwk

__all__ = ["app"]

app = typer.Typer(
    help="Make and read a participant's key in a PKCS#11 token (an HSM).", no_args_is_help=True
)


@app.command()
def keygen(
    participant: Annotated[str, typer.Option(help="Participant id, e.g. unodc.")],
    out: Annotated[Path, typer.Option(help="Directory for ID.jwk.json (the public key).")],
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: NewKeyOption = None,
    pin_file: PinFileOption = None,
) -> None:
    """Make an Ed25519 key pair in the token, which never lets the private key out;
    write OUT/ID.jwk.json and print the key id."""
    label = pkcs11_key or participant
    in_token = required_token_settings(pkcs11_module, pkcs11_token, label, pin_file)
    jwk_path = out / f"{participant}.jwk.json"
    if jwk_path.exists():
        fail(f"{jwk_path} exists; refusing to overwrite a key")
    with reporting(), Pkcs11Token.from_settings(in_token, writable=True) as token:
        key = token.generate_key(in_token.key_label)
        jwk = write_jwk(jwk_path, key)
    stderr.print(
        f"made key {in_token.key_label!r} in PKCS#11 token {in_token.token_label!r} "
        f"(sensitive, not extractable) and wrote {jwk_path}",
        markup=False,
        soft_wrap=True,
    )
    typer.echo(jwk["kid"])


@app.command()
def jwk(
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: TokenKeyOption = None,
    pin_file: PinFileOption = None,
) -> None:
    """Print the public JWK (with its kid) of a key in the token."""
    in_token = required_token_settings(pkcs11_module, pkcs11_token, pkcs11_key, pin_file)
    with reporting(), Pkcs11Token.from_settings(in_token) as token:
        key = token.key(in_token.key_label)
    typer.echo(json.dumps(public_jwk(key), indent=2))
