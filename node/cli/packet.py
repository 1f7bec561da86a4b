"""``clearinghouse packet issue|view|verify``: work with single packets offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.node.cli._common import fail, now, read_json_file, read_text_arg, reporting
from clearinghouse.node.cli._signing import (
    KeyOption,
    ModuleOption,
    PinFileOption,
    TokenKeyOption,
    TokenOption,
    signing_key,
)
from clearinghouse.node.keyfiles import read_pseudonym_key
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, parse_manifest, verify_manifest
from clearinghouse.protocol.packet import HANDLING_CODES, issue_packet, recipient_view, verify_view

__all__ = ["app"]

app = typer.Typer(help="Issue, view and verify packets.", no_args_is_help=True)


def _trusted_manifest(path: Path) -> Manifest:
    return verify_manifest(parse_manifest(path.read_bytes()), now=now())


@app.command()
def issue(
    record: Annotated[Path, typer.Argument(metavar="RECORD.json", help="'-' for stdin.")],
    participant: Annotated[str, typer.Option(help="The issuing participant's id.")],
    schema: Annotated[str, typer.Option(help="Schema id, e.g. conflict-event/1.")],
    key: KeyOption = None,
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: TokenKeyOption = None,
    pin_file: PinFileOption = None,
    pseudonym_key: Annotated[
        Path | None,
        typer.Option(help="Pseudonymisation key file ('EPOCH KEY', or the base64url key alone)."),
    ] = None,
    hc: Annotated[str, typer.Option(help="Handling code H0..H3.")] = "H0",
    hc_restriction: Annotated[
        str | None, typer.Option(help="The restriction text of an H3 packet.")
    ] = None,
    decoys: Annotated[int, typer.Option(min=0, max=64, help="Decoy digests to add.")] = 0,
) -> None:
    """Sign RECORD as a packet with --key (PEM) or a key in a PKCS#11 token (--pkcs11-*);
    print the full SD-JWT (every disclosure)."""
    if hc not in HANDLING_CODES:
        fail(f"--hc must be one of {', '.join(HANDLING_CODES)}")
    data = read_json_file(record)
    if not isinstance(data, dict):
        fail(f"{record}: a record is a JSON object")
    with (
        reporting(),
        signing_key(key, pkcs11_module, pkcs11_token, pkcs11_key, pin_file) as private_key,
    ):
        pseudonyms = read_pseudonym_key(pseudonym_key) if pseudonym_key else None
        packet = issue_packet(
            data,
            schema=schema,
            issuer=participant,
            key=private_key,
            kid=public_jwk(private_key)["kid"],
            now=now(),
            pseudonym_key=pseudonyms.key if pseudonyms else None,
            pseudonym_epoch=pseudonyms.epoch if pseudonyms else None,
            hc=hc,
            hc_restriction=hc_restriction,
            decoys=decoys,
        )
    typer.echo(packet.sd_jwt)


@app.command()
def view(
    packet_file: Annotated[Path, typer.Argument(metavar="FILE", help="'-' for stdin.")],
    manifest: Annotated[Path, typer.Option(help="The federation manifest.")],
    recipient: Annotated[str, typer.Option(help="The participant the view is for.")],
) -> None:
    """Print RECIPIENT's view of a packet: only the disclosures its policy grants."""
    with reporting():
        trusted = _trusted_manifest(manifest)
        typer.echo(recipient_view(read_text_arg(packet_file).strip(), trusted, recipient))


@app.command()
def verify(
    packet_file: Annotated[Path, typer.Argument(metavar="FILE", help="'-' for stdin.")],
    manifest: Annotated[Path, typer.Option(help="The federation manifest.")],
    recipient: Annotated[
        str | None, typer.Option(help="Also refuse anything the policy withholds from it.")
    ] = None,
) -> None:
    """Verify a packet or view; print what it discloses as JSON."""
    with reporting():
        trusted = _trusted_manifest(manifest)
        verified = verify_view(
            read_text_arg(packet_file).strip(), trusted, recipient=recipient, now=now()
        )
    typer.echo(json.dumps(verified.summary(), indent=2, ensure_ascii=False))
