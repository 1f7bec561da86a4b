"""``clearinghouse manifest create|sign|verify``: build, co-sign and check the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from node.cli._common import fail, now, read_text_arg, read_yaml_file, reporting, stderr
from node.declarations import resolve_analyzers
from node.keyfiles import PASSPHRASE_ENV, passphrase_from_env, read_jwk, read_private_key
from protocol.manifest import (
    Manifest,
    build_manifest,
    manifest_json,
    parse_manifest,
    sign_manifest,
    verify_manifest,
)

__all__ = ["app"]

app = typer.Typer(help="Create, sign and verify the federation manifest.", no_args_is_help=True)


@app.command()
def create(
    config: Annotated[Path, typer.Option(help="YAML: federation, quorum, participants, policy.")],
    keys: Annotated[Path, typer.Option(help="Directory holding each participant's ID.jwk.json.")],
    out: Annotated[Path, typer.Option(help="Manifest file to write (unsigned).")],
) -> None:
    """Build an unsigned manifest from a config file and the participants' public keys."""
    doc = read_yaml_file(config)
    if not isinstance(doc, dict) or not isinstance(doc.get("participants"), list):
        fail(f"{config}: expected a mapping with a 'participants' list")
    with reporting():
        jwks = {}
        for entry in doc["participants"]:
            pid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(pid, str):
                fail(f"{config}: every participant needs an 'id'")
            jwks[pid] = [read_jwk(keys / f"{pid}.jwk.json")]
        manifest = build_manifest(
            resolve_analyzers(doc), jwks, issued_at=now().replace(microsecond=0)
        )
        out.write_bytes(manifest_json(manifest))
    stderr.print(
        f"wrote {out}: federation {manifest.federation!r}, serial {manifest.serial}, "
        f"{len(manifest.participants)} participants, quorum {manifest.quorum}; "
        "now collect signatures with 'clearinghouse manifest sign'"
    )


@app.command()
def sign(
    manifest_file: Annotated[Path, typer.Argument(metavar="MANIFEST", help="Signed in place.")],
    participant: Annotated[str, typer.Option(help="The signing participant's id.")],
    key: Annotated[Path, typer.Option(help="That participant's private key (PEM).")],
) -> None:
    """Add PARTICIPANT's signature to the manifest, in place."""
    with reporting():
        manifest = parse_manifest(manifest_file.read_bytes())
        private_key = read_private_key(key, passphrase_from_env(PASSPHRASE_ENV))
        signed = sign_manifest(manifest, participant, private_key)
        manifest_file.write_bytes(manifest_json(signed))
    signers = sorted({s.signer for s in signed.signatures})
    stderr.print(
        f"signed by {participant}; {len(signers)} of {signed.quorum} required: {', '.join(signers)}"
    )


@app.command()
def verify(
    manifest_file: Annotated[Path, typer.Argument(metavar="MANIFEST")],
    held: Annotated[
        Path | None,
        typer.Option(help="The manifest you trust now; the new one must succeed it."),
    ] = None,
) -> None:
    """Check a manifest's structure, policy, signatures and quorum; print a summary."""
    with reporting():
        held_manifest = None
        if held is not None:
            held_manifest = verify_manifest(parse_manifest(held.read_bytes()), now=now())
        manifest = verify_manifest(
            parse_manifest(read_text_arg(manifest_file)), now=now(), held=held_manifest
        )
    _summary(manifest)


def _summary(manifest: Manifest) -> None:
    console = Console(highlight=False)
    signers = sorted({s.signer for s in manifest.signatures})
    console.print(
        f"manifest OK: federation {manifest.federation!r}, serial {manifest.serial}, "
        f"issued {manifest.issued_at.isoformat()}, signed by {', '.join(signers)} "
        f"({len(signers)} of quorum {manifest.quorum})"
    )
    table = Table("participant", "name", "base URL", "keys", "analyzer", "roles")
    for p in manifest.participants:
        analyzer = f"{p.analyzer.id} {p.analyzer.version}" if p.analyzer else "-"
        keys = ", ".join(k.kid[:12] + ("(revoked)" if k.revoked else "") for k in p.keys)
        table.add_row(p.id, p.name, p.base_url, keys, analyzer, ", ".join(p.roles) or "-")
    console.print(table)
    for schema, per_recipient in sorted(manifest.policy.items()):
        granted = ", ".join(
            f"{r}: {sum(t != 'withhold' for t in fields.values())} fields"
            for r, fields in sorted(per_recipient.items())
        )
        console.print(f"policy {schema}: {granted}")
