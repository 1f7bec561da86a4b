"""``clearinghouse key rotate|revoke``: a participant's key changes, as manifest proposals.

DESIGN.md, "Federation manifest": key rotation is a new manifest with an
overlapping key, revocation a new manifest marking the key revoked. Both commands
draft that successor from the manifest in force; it is then signed, merged and
submitted like any other proposal (``clearinghouse manifest sign|merge|submit``).
The logic is :mod:`protocol.manifest_changes`.

``key rotate`` writes the new key beside the others as ``ID.<kid8>.key.pem`` (mode
0600, encrypted like ``keygen``'s) and ``ID.<kid8>.jwk.json``, ``kid8`` being the
first 8 characters of the key id: a node picks up ``ID.*.key.pem`` from its key
file's folder once a manifest listing that key is accepted. With the ``--pkcs11-*``
options of the node's key in a token (``--pkcs11-key`` its ``key_label``), the new key
is made in that token instead, labelled ``KEY_LABEL.<UTC time>``, and only its JWK is
written: a node with ``[pkcs11] key_label = KEY_LABEL`` holds every ``KEY_LABEL.*`` too.

(``keygen`` and ``pseudonym-key`` stay top-level commands, in :mod:`node.cli.keys`.)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.cli._common import fail, now, reporting, stderr
from clearinghouse.node.cli._signing import (
    ModuleOption,
    PinFileOption,
    TokenOption,
    token_settings,
)
from clearinghouse.node.cli.manifest import print_changes, read_manifest, write_proposal_note
from clearinghouse.node.keyfiles import (
    PASSPHRASE_ENV,
    passphrase_from_env,
    write_jwk,
    write_private_key,
)
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers import Pkcs11Key, Pkcs11Token
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.manifest import ManifestKey, manifest_json
from clearinghouse.protocol.manifest_changes import DEFAULT_KEY_VALIDITY, revoke_key, rotate_key

__all__ = ["app", "parse_duration"]

app = typer.Typer(
    help="Rotate and revoke a participant's keys, as manifest proposals.", no_args_is_help=True
)

_DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``90s`` as a timedelta; raises :class:`typer.BadParameter`."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration such as 7d, 12h, 30m or 90s")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@app.command()
def rotate(
    participant: Annotated[str, typer.Option(help="Whose key, e.g. undp.")],
    dir: Annotated[
        Path,
        typer.Option(
            "--dir", help="Folder of the participant's keys (beside the node's key_file)."
        ),
    ],
    from_: Annotated[
        Path, typer.Option("--from", help="The manifest in force (the one nodes hold now).")
    ],
    out: Annotated[Path, typer.Option(help="The proposal to write (unsigned).")],
    overlap: Annotated[
        str,
        typer.Option(
            help="How long the current key stays valid beside the new one (7d, 12h, 30m, 90s)."
        ),
    ] = "7d",
    validity: Annotated[str, typer.Option(help="How long the new key is valid.")] = (
        f"{DEFAULT_KEY_VALIDITY.days}d"
    ),
    passphrase_env: Annotated[
        str,
        typer.Option(help="Environment variable holding a passphrase to encrypt the key with."),
    ] = PASSPHRASE_ENV,
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: Annotated[
        str | None,
        typer.Option(
            "--pkcs11-key",
            metavar="LABEL",
            help="The node's key_label: the new key is made in the token as LABEL.<UTC time>.",
        ),
    ] = None,
    pin_file: PinFileOption = None,
) -> None:
    """Make PARTICIPANT a new key in DIR (or in a PKCS#11 token) and draft the manifest
    that adds it, the current key(s) staying valid for OVERLAP."""
    overlap_time, validity_time = parse_duration(overlap), parse_duration(validity)
    in_token = token_settings(pkcs11_module, pkcs11_token, pkcs11_key, pin_file)
    with reporting():
        held = read_manifest(from_)
        held.participant(participant)  # checked before a key is made in a token for nobody
        key = generate_private_key() if in_token is None else _new_token_key(in_token)
        jwk = public_jwk(key)
        proposal = rotate_key(
            held, participant, jwk, now=now(), overlap=overlap_time, validity=validity_time
        )
        stem = f"{participant}.{jwk['kid'][:8]}"
        key_path, jwk_path = dir / f"{stem}.key.pem", dir / f"{stem}.jwk.json"
        for existing in (key_path, jwk_path):
            if existing.exists():
                fail(f"{existing} exists; refusing to overwrite a key")
        if isinstance(key, Ed25519PrivateKey):
            passphrase = passphrase_from_env(passphrase_env)
            write_private_key(key_path, key, passphrase)
            encrypted = "encrypted" if passphrase else "unencrypted"
            wrote = f"wrote {key_path} ({encrypted}, mode 0600)"
        else:
            wrote = f"made {key} (sensitive, not extractable)"
        write_jwk(jwk_path, key)
        out.write_bytes(manifest_json(proposal))
    stderr.print(f"{wrote}; wrote {jwk_path}", markup=False, soft_wrap=True)
    print_changes(held, proposal)
    write_proposal_note(out, held, from_)
    typer.echo(jwk["kid"])


@app.command()
def revoke(
    participant: Annotated[str, typer.Option(help="Whose key.")],
    kid: Annotated[
        str, typer.Option(help="The key id (or its unique first characters, at least 8).")
    ],
    from_: Annotated[
        Path, typer.Option("--from", help="The manifest in force (the one nodes hold now).")
    ],
    out: Annotated[Path, typer.Option(help="The proposal to write (unsigned).")],
    at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="ISO 8601 with a time zone, e.g. 2026-11-25T12:00:00Z: signatures made at or "
            "after it are refused (default: now).",
        ),
    ] = None,
) -> None:
    """Draft the manifest that revokes one of PARTICIPANT's keys from TIME on."""
    current = now()
    at_time = _instant(at) if at is not None else current
    with reporting():
        held = read_manifest(from_)
        full_kid = _full_kid(held.participant(participant).keys, participant, kid)
        proposal = revoke_key(held, participant, full_kid, at=at_time, now=current)
        out.write_bytes(manifest_json(proposal))
    print_changes(held, proposal)
    write_proposal_note(out, held, from_)


def _new_token_key(in_token: Pkcs11Settings) -> Pkcs11Key:
    """A new key made in the token, labelled ``KEY_LABEL.<UTC time>`` (the node holds it
    beside ``KEY_LABEL``); only its public half comes out."""
    label = f"{in_token.key_label}.{now():%Y%m%dT%H%M%SZ}"
    with Pkcs11Token.from_settings(in_token, writable=True) as token:
        return token.generate_key(label)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r} is not an ISO 8601 time such as 2026-11-25T12:00:00Z")
    if value.utcoffset() is None:
        fail(f"--at {text!r} has no time zone; add one, e.g. Z or +01:00")
    return value


def _full_kid(keys: tuple[ManifestKey, ...], participant: str, kid: str) -> str:
    """``kid`` itself if listed, else the one key id it is a prefix of (8 characters at least)."""
    kids = [k.kid for k in keys]
    if kid in kids:
        return kid
    matches = [k for k in kids if len(kid) >= 8 and k.startswith(kid)]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(kids)
    if matches:
        fail(f"--kid {kid!r} matches several keys of {participant!r}: {listed}")
    fail(f"{participant!r} has no key {kid!r}; its keys: {listed}", 1)
