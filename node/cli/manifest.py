"""``clearinghouse manifest``: build, co-sign, check and change the federation manifest.

``create``, ``sign`` and ``verify`` make and check a manifest; a running federation
changes by a successor (DESIGN.md, "Federation manifest"): ``propose`` drafts it
from the manifest in force, each signer runs ``sign --held ... --detached-out``,
``merge`` gathers the detached signatures (checking each) and ``submit`` hands the
result to one node, which passes it on to the others. The logic is
:mod:`protocol.manifest_changes`; ``clearinghouse key rotate|revoke`` draft key
changes the same way.

Exit codes: 0 done, 1 refused (a protocol error, or a node's refusal), 2 a usage
or file problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clearinghouse.node.cli._common import (
    TokenFileOption,
    bearer_token,
    fail,
    now,
    read_text_arg,
    read_yaml_file,
    reporting,
    stderr,
    token_option,
    token_sources,
)
from clearinghouse.node.cli._signing import (
    KeyOption,
    ModuleOption,
    PinFileOption,
    TokenKeyOption,
    TokenOption,
    signing_key,
)
from clearinghouse.node.declarations import resolve_analyzers
from clearinghouse.node.keyfiles import read_jwk
from clearinghouse.node.transport.api_client import open_api_client
from clearinghouse.node.transport.local_api import AnswerMalformed, NodeRefused, NodeUnreachable
from clearinghouse.protocol.errors import ManifestRejected
from clearinghouse.protocol.manifest import (
    Manifest,
    build_manifest,
    detached_signature,
    manifest_json,
    parse_manifest,
    sign_manifest,
    verify_manifest,
)
from clearinghouse.protocol.manifest_changes import (
    describe_changes,
    merge_signatures,
    parse_signature,
    propose,
)

__all__ = ["TOKEN_ENV", "app", "print_changes", "read_manifest"]

#: The variable ``submit`` reads the admin token from (or the file ``…_FILE`` names) when
#: neither ``--token`` nor ``--token-file`` is given.
TOKEN_ENV = "CLEARINGHOUSE_ADMIN_TOKEN"

app = typer.Typer(
    help="Create, sign and verify the federation manifest; propose, merge and submit changes.",
    no_args_is_help=True,
)


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
    manifest_file: Annotated[
        Path, typer.Argument(metavar="MANIFEST", help="Signed in place (unless --detached-out).")
    ],
    participant: Annotated[str, typer.Option(help="The signing participant's id.")],
    key: KeyOption = None,
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: TokenKeyOption = None,
    pin_file: PinFileOption = None,
    held: Annotated[
        Path | None,
        typer.Option(
            help="The manifest in force: MANIFEST must succeed it, and the key must be one "
            "it lists (so a participant being removed, or rotating its key, signs with the "
            "key it holds now)."
        ),
    ] = None,
    detached_out: Annotated[
        Path | None,
        typer.Option(
            help="Write only this signature, as JSON {signer, kid, sig}, to this file and "
            "leave MANIFEST untouched (gather them with 'manifest merge')."
        ),
    ] = None,
) -> None:
    """Add PARTICIPANT's signature to the manifest, in place or as a detached file; signed
    with --key (PEM) or with a key in a PKCS#11 token (--pkcs11-*)."""
    if detached_out is not None and detached_out.resolve() == manifest_file.resolve():
        fail("--detached-out must not be the manifest itself")
    with (
        reporting(),
        signing_key(key, pkcs11_module, pkcs11_token, pkcs11_key, pin_file) as private_key,
    ):
        manifest = read_manifest(manifest_file)
        held_manifest = read_manifest(held) if held is not None else None
        if held_manifest is not None:
            print_changes(held_manifest, manifest, title="you sign these changes:", to_stderr=True)
        if detached_out is not None:
            signature = detached_signature(manifest, participant, private_key, held=held_manifest)
            detached_out.write_text(json.dumps(signature.model_dump(), indent=2) + "\n")
            stderr.print(
                f"wrote {detached_out}: signature by {participant} (key {signature.kid}) over "
                f"serial {manifest.serial}; {manifest_file} is unchanged",
                markup=False,
                soft_wrap=True,
            )
            return
        signed = sign_manifest(manifest, participant, private_key, held=held_manifest)
        manifest_file.write_bytes(manifest_json(signed))
    _signed_so_far(signed, held_manifest, f"signed by {participant}")


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
    _summary(manifest, held_manifest)


def _summary(manifest: Manifest, held: Manifest | None = None) -> None:
    console = Console(highlight=False)
    signers = sorted({s.signer for s in manifest.signatures})
    counted = (
        f"{len(signers)} of quorum {manifest.quorum}"
        if held is None
        else f"{len(signers)} of quorum {held.quorum} of the held serial {held.serial}; "
        f"its own quorum: {manifest.quorum}"
    )
    console.print(
        f"manifest OK: federation {manifest.federation!r}, serial {manifest.serial}, "
        f"issued {manifest.issued_at.isoformat()}, signed by {', '.join(signers)} ({counted})"
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


@app.command("propose")
def propose_command(
    from_: Annotated[
        Path, typer.Option("--from", help="The manifest in force (the one nodes hold now).")
    ],
    out: Annotated[Path, typer.Option(help="The proposal to write (unsigned).")],
    add_participant: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="YAML or JSON: id, name, base_url, roles, analyzer (an installed id, or "
            "{id, version, sha256}), keys: [JWK...] or jwk: ID.jwk.json (relative to "
            "FILE), and optionally witnesses: [ID...], the peers that witness its audit log "
            "(default: every other participant up to four, else the next three in the ring "
            "of ids). Repeatable.",
        ),
    ] = None,
    remove_participant: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ID",
            help="A participant to remove, with the policy rules addressed to it. Repeatable.",
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="YAML or JSON: the whole new policy (or a federation file's 'policy').",
        ),
    ] = None,
    quorum: Annotated[int | None, typer.Option(min=1, help="The new quorum.")] = None,
) -> None:
    """Draft the next manifest (serial + 1): add or remove participants, replace the
    policy, change the quorum. Prints what changes. A removed participant is also struck
    from every declared ``witnesses`` list."""
    with reporting():
        held = read_manifest(from_)
        entries = [_read_participant(path) for path in add_participant or []]
        new_policy = _read_policy(policy) if policy is not None else None
        proposal = propose(
            held,
            now=now(),
            add_participants=entries,
            remove_participants=remove_participant or [],
            policy=new_policy,
            quorum=quorum,
        )
        out.write_bytes(manifest_json(proposal))
    print_changes(held, proposal)
    write_proposal_note(out, held, from_)


@app.command()
def merge(
    manifest_file: Annotated[Path, typer.Argument(metavar="PROPOSAL", help="Merged in place.")],
    signatures: Annotated[
        list[Path], typer.Argument(metavar="SIG.json", help="Detached signatures.")
    ],
    held: Annotated[
        Path | None,
        typer.Option(help="The manifest in force, whose participants' keys check each signature."),
    ] = None,
) -> None:
    """Add detached signatures to PROPOSAL in place, after checking each one."""
    with reporting():
        proposal = read_manifest(manifest_file)
        held_manifest = read_manifest(held) if held is not None else None
        parsed = []
        for path in signatures:
            try:
                parsed.append(parse_signature(path.read_bytes()))
            except ManifestRejected as exc:
                raise ManifestRejected(f"{path}: {exc.message}") from exc
        merged = merge_signatures(proposal, parsed, held=held_manifest, now=now())
        manifest_file.write_bytes(manifest_json(merged))
    _signed_so_far(merged, held_manifest, f"merged {len(parsed)} signature(s)")


@app.command()
def submit(
    manifest_file: Annotated[Path, typer.Argument(metavar="MANIFEST", help="Sent as it is.")],
    node: Annotated[str, typer.Option(metavar="URL", help="The node's base URL.")],
    token: Annotated[str | None, token_option(TOKEN_ENV, "admin")] = None,
    token_file: TokenFileOption = None,
) -> None:
    """Hand a signed manifest to a node (POST /v1/manifest); it passes it on to its peers."""
    token = bearer_token(token, token_file, "admin", TOKEN_ENV)
    if not node.startswith(("http://", "https://")):
        fail(f"--node must be an http(s) URL, not {node!r}")
    if not token:
        fail(f"give a token of role admin: {token_sources(TOKEN_ENV)}")
    with reporting():
        body = manifest_file.read_bytes()
        parse_manifest(body)  # a file that is no manifest is not sent
    try:
        with open_api_client(node, token, timeout=30.0) as api:
            outcome = api.submit_manifest(body)  # submitManifest, the bytes as they are
    except NodeUnreachable as exc:
        fail(escape(f"cannot reach {node}: {exc.reason or exc.kind}"), 1)
    except NodeRefused as exc:
        document = exc.document
        if isinstance(document, dict) and ("detail" in document or "title" in document):
            title = document.get("title") or f"HTTP {exc.status}"
            reason = document.get("detail") or title
            kind = f" ({document['type']})" if document.get("type") else ""
            fail(escape(f"{node} refused the manifest: {title}: {reason}{kind}"), 1)
        fail(escape(f"{node} answered HTTP {exc.status}: {exc.text[:300].strip()}"), 1)
    except AnswerMalformed as exc:
        status = exc.document.get("status") if isinstance(exc.document, dict) else None
        if status is not None and status not in ("accepted", "already-held"):
            fail(escape(f"{node} answered with an unknown status {status!r}"), 1)
        fail(escape(f"{node} answered HTTP {exc.status}: {exc.text[:300].strip()}"), 1)
    serial, federation = outcome.serial, outcome.federation
    if outcome.status == "accepted":
        typer.echo(f"{node} accepted serial {serial} of {federation}; it passes it on")
    else:
        typer.echo(f"{node} already holds serial {serial} of {federation}; nothing changed")


# -- shared with ``clearinghouse key`` ---------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    """A manifest file, parsed; a refusal names the file."""
    try:
        return parse_manifest(path.read_bytes())
    except ManifestRejected as exc:
        raise ManifestRejected(f"{path}: {exc.message}") from exc


def print_changes(
    held: Manifest, proposal: Manifest, *, title: str = "changes:", to_stderr: bool = False
) -> None:
    """What ``proposal`` changes against ``held``: on stdout (a summary), or on stderr."""
    console = stderr if to_stderr else Console(highlight=False)
    console.print(title, markup=False)
    for line in describe_changes(held, proposal):
        console.print(f"  {line}", markup=False, soft_wrap=True)


def write_proposal_note(out: Path, held: Manifest, held_path: Path) -> None:
    stderr.print(
        f"wrote {out} (unsigned). Next: {held.quorum} participants of serial {held.serial} "
        f"sign it, each with 'clearinghouse manifest sign {out} --held {held_path} "
        "--participant ID --key KEY --detached-out ID.sig.json'; then 'clearinghouse "
        "manifest merge' and 'clearinghouse manifest submit'",
        markup=False,
        soft_wrap=True,
    )


def _signed_so_far(manifest: Manifest, held: Manifest | None, what: str) -> None:
    anchor = held or manifest
    signers = sorted({s.signer for s in manifest.signatures})
    stderr.print(
        f"{what}; {len(signers)} of {anchor.quorum} required: {', '.join(signers) or 'none'}",
        markup=False,
        soft_wrap=True,
    )
    if held is None:
        return
    at = now()
    try:
        verify_manifest(manifest, now=at, held=held)
    except ManifestRejected:
        return  # not complete yet
    try:
        verify_manifest(manifest, now=at)
    except ManifestRejected as exc:
        stderr.print(
            "note: it succeeds the held manifest, but on its own (as a node starting afresh "
            f"from it, such as a new member's, checks it) it is refused: {exc.message}. "
            "Prefer a quorum of signatures by participants that remain in it.",
            markup=False,
            soft_wrap=True,
        )


def _read_participant(path: Path) -> dict[str, Any]:
    """A participant file: keys inline, or ``jwk: PATH`` (relative to the file); analyzer
    resolved like ``manifest create`` does."""
    entry = read_yaml_file(path)
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        fail(f"{path}: expected a mapping with an 'id'")
    if "jwk" in entry:
        if "keys" in entry:
            fail(f"{path}: give either 'keys' or 'jwk', not both")
        jwk_path = Path(str(entry.pop("jwk")))
        entry["keys"] = [read_jwk(jwk_path if jwk_path.is_absolute() else path.parent / jwk_path)]
    return dict(resolve_analyzers({"participants": [entry]})["participants"][0])


def _read_policy(path: Path) -> Mapping[str, Any]:
    doc = read_yaml_file(path)
    if isinstance(doc, dict) and isinstance(doc.get("policy"), dict):
        doc = doc["policy"]
    if not isinstance(doc, dict):
        fail(f"{path}: expected a policy mapping (schema -> recipient -> rules)")
    return doc
