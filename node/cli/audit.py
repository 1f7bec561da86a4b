"""``clearinghouse audit verify|export|verify-bundle|checkpoint``: the audit log's admin tools.

``verify`` checks a node's whole log, from its database (``--db``) or from the node
(``--node``): every entry, every checkpoint's signature and witness cosignatures, the
consistency between successive checkpoints; and that each key was valid and not
revoked when it signed a checkpoint, a cosignature or a packet the log records (a
key revoked later still verifies what it signed before). ``export`` writes the same
log to one bundle file that ``verify-bundle`` checks offline. ``checkpoint`` prints the node's
latest signed checkpoint. The logic is the audit tool's, :mod:`node.audit_tool`.

A manifest given with ``--manifest`` is the one the auditor trusts; otherwise the
keys come from the manifest the node serves or the bundle carries, and the output
says so. Exit codes: 0 the log verifies; 1 it does not (the message names the first
bad entry) or the bundle is malformed; 2 a usage or input problem (an unreadable
file or database, a node that cannot be reached). Progress goes to stderr, the
summary to stdout. A log that verifies but holds signatures by keys outside their
validity or after their revocation is listed (what, where, signer, key, when) and
exits 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from clearinghouse.node import audit_tool
from clearinghouse.node.audit_tool import (
    AuditToolError,
    KeyUseReport,
    Log,
    Summary,
    VerificationFailed,
)
from clearinghouse.node.cli._common import (
    TokenFileOption,
    bearer_token,
    fail,
    now,
    stderr,
    token_option,
    token_sources,
)
from clearinghouse.protocol.encoding import b64_encode
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import Manifest

__all__ = ["app"]

TOKEN_ENV = "CLEARINGHOUSE_AUDIT_TOKEN"

app = typer.Typer(help="Verify, export and inspect a node's audit log.", no_args_is_help=True)

NodeOption = Annotated[
    str | None, typer.Option("--node", metavar="URL", help="The node's base URL.")
]
TokenOption = Annotated[str | None, token_option(TOKEN_ENV, "auditor")]
DbOption = Annotated[
    str | None,
    typer.Option("--db", metavar="DATABASE_URL", help="The node's database (read only)."),
]
ManifestOption = Annotated[
    Path | None,
    typer.Option("--manifest", help="The manifest you trust; its keys check the log's signatures."),
]
ParticipantOption = Annotated[
    str | None,
    typer.Option(help="Whose log (default: the origin of its checkpoints)."),
]


def _cosignatures(value: str) -> str:
    """``--min-cosignatures``, checked: a count, or ``all``."""
    if value != audit_tool.ALL_WITNESSES and not value.isdigit():
        raise typer.BadParameter(f"{value!r} is neither a count (0, 1, 2 ...) nor 'all'")
    return value


def _required(value: str) -> int | Literal["all"]:
    return audit_tool.ALL_WITNESSES if value == audit_tool.ALL_WITNESSES else int(value)


CosignaturesOption = Annotated[
    str,
    typer.Option(
        "--min-cosignatures",
        metavar="N|all",
        callback=_cosignatures,
        help="Fail unless every checkpoint has N valid witness cosignatures (all: as many "
        "as the manifest assigns the log witnesses; more than that is refused).",
    ),
]


@contextmanager
def _reporting() -> Iterator[None]:
    """The audit tools' errors as a message on stderr and their exit code."""
    try:
        yield
    except VerificationFailed as exc:
        stderr.print(f"[bold red]audit log INVALID:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.entries_checked or exc.checkpoints_checked:
            stderr.print(
                f"checked before that: {exc.entries_checked} entries,"
                f" {exc.checkpoints_checked} checkpoint(s)"
            )
        raise typer.Exit(1) from exc
    except AuditToolError as exc:
        fail(escape(exc.message), exc.exit_code)
    except ProtocolError as exc:
        fail(escape(f"{exc.code}: {exc.message}"), 1)


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = f"{speed:,.0f}" if speed else "-"
        return Text(f"{shown} entries/s", style="progress.data.speed")


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (a terminal only), fed the number of entries done."""
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, disable=not stderr.is_terminal) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


def _trusted(manifest: Path | None) -> tuple[Manifest | None, str]:
    if manifest is None:
        return None, ""
    return audit_tool.read_manifest(manifest), f"trusted file {manifest}"


def _open(
    node: str | None,
    token: str | None,
    db: str | None,
    manifest: Path | None,
    participant: str | None,
) -> AbstractContextManager[Log]:
    """The log named by exactly one of ``--node`` and ``--db``."""
    if db is not None and node is None:
        if manifest is None:
            fail("--db needs --manifest: the manifest whose keys check the log")
        return audit_tool.open_database(
            db,
            manifest=audit_tool.read_manifest(manifest),
            manifest_source=f"trusted file {manifest}",
            participant=participant,
        )
    if node is not None and db is None:
        if not node.startswith(("http://", "https://")):
            fail(f"--node must be an http(s) URL, not {node!r}")
        if not token:
            fail(f"--node needs a token of role auditor: {token_sources(TOKEN_ENV)}")
        trusted, label = _trusted(manifest)
        return audit_tool.open_node_log(
            node, token, manifest=trusted, manifest_source=label, participant=participant
        )
    fail("give one of --node URL or --db DATABASE_URL")


def _announce(log: Log, verb: str) -> None:
    h = log.header
    stderr.print(escape(f"{verb} {h.origin}: {h.size} entries from the {h.source}"), soft_wrap=True)


def _print_summary(summary: Summary) -> None:
    h = summary.header
    after = summary.entries - (summary.last_checkpoint or 0)
    verdict = "OK" if summary.keys.ok else "intact, but key use INVALID"
    lines = [
        f"audit log {verdict}: {h.origin}",
        f"  source:        {h.source}",
        f"  manifest:      {h.manifest_source}, serial {h.manifest.serial}",
        f"  entries:       {summary.entries}",
        f"  root:          {b64_encode(summary.root)}",
    ]
    if summary.last_checkpoint is None:
        lines.append("  checkpoints:   0 (no entry is signed yet)")
    else:
        lines.append(
            f"  checkpoints:   {summary.checkpoints}, the last of size {summary.last_checkpoint}"
            + (f"; the {after} entries after it are not signed yet" if after else "")
        )
    cosigned = ", ".join(f"{w} {n}" for w, n in summary.cosignatures.items()) or "none"
    lines.append(f"  cosignatures:  {cosigned}")
    lines.append(f"  witnesses:     {', '.join(summary.witnesses) or 'none'} (by the manifest)")
    if summary.uncosigned:
        sizes = ", ".join(map(str, summary.uncosigned_last))
        lines.append(f"  not cosigned:  {summary.uncosigned} checkpoint(s), the last: {sizes}")
    lines += _key_use_lines(summary.keys)
    typer.echo("\n".join(lines))


def _key_use_lines(keys: KeyUseReport) -> list[str]:
    """The key-validity line, and one line per use outside validity or after revocation."""
    judged = ", ".join(f"{what} {n}" for what, n in keys.checked.items()) or "none dated"
    verdict = (
        "each by a key valid and not revoked when it signed"
        if keys.ok
        else f"{keys.violation_count} by a key outside its validity or after its revocation:"
    )
    undated = f"; {keys.undated} undated, not judged" if keys.undated else ""
    lines = [f"  key validity:  {judged}{undated}; {verdict}"]
    lines += [f"    {use.describe()}" for use in keys.violations]
    if keys.violation_count > len(keys.violations):
        lines.append(f"    ... and {keys.violation_count - len(keys.violations)} more")
    return lines


def _fail_on_key_use(keys: KeyUseReport) -> None:
    """Exit 1 naming the keys, after the summary, if any key signed when it could not."""
    if keys.ok:
        return
    by_key = Counter((use.signer, use.kid) for use in keys.violations)
    named = ", ".join(f"key {kid} of {signer} ({n})" for (signer, kid), n in by_key.items())
    more = " and more" if keys.violation_count > len(keys.violations) else ""
    stderr.print(
        f"[bold red]audit log INVALID:[/] {keys.violation_count} signature(s) by a key outside"
        f" its validity or after its revocation: {escape(named)}{more}",
        soft_wrap=True,
    )
    raise typer.Exit(1)


@app.command()
def verify(
    node: NodeOption = None,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    db: DbOption = None,
    manifest: ManifestOption = None,
    participant: ParticipantOption = None,
    min_cosignatures: CosignaturesOption = "0",
) -> None:
    """Check a node's whole audit log, from its database or from the node."""
    token = bearer_token(token, token_file, "auditor", TOKEN_ENV)
    with _reporting(), _open(node, token, db, manifest, participant) as log:
        _announce(log, "verifying")
        with _progress("verify", log.header.size) as progress:
            summary = audit_tool.verify_log(
                log, min_cosignatures=_required(min_cosignatures), on_progress=progress
            )
    _print_summary(summary)
    _fail_on_key_use(summary.keys)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", metavar="BUNDLE", help="File (*.gz: gzip).")],
    node: NodeOption = None,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    db: DbOption = None,
    manifest: ManifestOption = None,
    participant: ParticipantOption = None,
) -> None:
    """Write the whole log, its checkpoints, proofs and manifest to one bundle file."""
    token = bearer_token(token, token_file, "auditor", TOKEN_ENV)
    with _reporting(), _open(node, token, db, manifest, participant) as log:
        _announce(log, "exporting")
        with _progress("export", log.header.size) as progress:
            result = audit_tool.write_bundle(log, out, now=now(), on_progress=progress)
    for warning in result.warnings:
        stderr.print(f"warning: {escape(warning)}", soft_wrap=True)
    h = log.header
    typer.echo(
        f"wrote {out}: {result.entries} entries, {result.checkpoints} checkpoints of"
        f" {h.origin}, {result.bytes} bytes; manifest {h.manifest_source}"
    )


@app.command("verify-bundle")
def verify_bundle(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE")],
    manifest: ManifestOption = None,
    min_cosignatures: CosignaturesOption = "0",
) -> None:
    """Check a bundle offline; with --manifest its keys, not the bundle's own, are used."""
    with _reporting():
        trusted, label = _trusted(manifest)
        with audit_tool.open_bundle(bundle, manifest=trusted, manifest_source=label) as log:
            _announce(log, "verifying")
            with _progress("verify", log.header.size) as progress:
                summary = audit_tool.verify_log(
                    log, min_cosignatures=_required(min_cosignatures), on_progress=progress
                )
    _print_summary(summary)
    _fail_on_key_use(summary.keys)


@app.command()
def checkpoint(
    node: Annotated[str, typer.Option("--node", metavar="URL", help="The node's base URL.")],
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    manifest: ManifestOption = None,
) -> None:
    """Print the node's latest signed checkpoint (with its cosignatures) and check it."""
    token = bearer_token(token, token_file, "auditor", TOKEN_ENV)
    with _reporting():
        note, served = audit_tool.fetch_checkpoint(node, token)
        trusted, label = _trusted(manifest)
        typer.echo(note, nl=False)
        checked = audit_tool.check_checkpoint(note, trusted or served)
    cosigners = ", ".join(checked.cosigners) or "no witness yet"
    stderr.print(
        escape(
            f"checkpoint {checked.size} of {checked.origin}: signed by {checked.participant},"
            f" cosigned by {cosigners}; keys from the manifest"
            f" {label or f'served by {node} (pass --manifest to use one you trust)'}"
        ),
        soft_wrap=True,
    )
