"""``clearinghouse authorise [submit]``: issue an oversight authorisation, hand it to a node.

DESIGN.md, "Oversight". ``clearinghouse authorise ...`` (no subcommand) builds an
authorisation, signs it with the oversight participant's key, verifies it against
the manifest and writes it to a file; ``clearinghouse authorise submit`` posts that
file to the originating node (``POST /v1/authorisations``). The document and its
checks are :mod:`protocol.authorisation`.

Exit codes: 0 done; 1 refused (by the protocol checks or by the node) or the node
cannot be reached; 2 a usage or file problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from clearinghouse.node.cli._common import (
    TokenFileOption,
    bearer_token,
    fail,
    now,
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
from clearinghouse.node.transport.local_api import Answer, NodeUnreachable, post_document
from clearinghouse.protocol.authorisation import (
    Authorisation,
    PacketScope,
    authorisation_json,
    build_authorisation,
    parse_authorisation,
    sign_authorisation,
    verify_authorisation,
)
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import parse_manifest, verify_manifest

__all__ = ["TOKEN_ENV", "app", "parse_expiry", "parse_scope"]

TOKEN_ENV = "CLEARINGHOUSE_AUTHORISE_TOKEN"
SUBMIT_PATH = "/v1/authorisations"
SUBMIT_TIMEOUT = 30.0

_SCOPE_HELP = "What it covers: packets:JTI,... or query:schema=ID;... (see SCOPE above)."
_DURATION = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}

app = typer.Typer(invoke_without_command=True)

ParticipantOption = Annotated[
    str | None, typer.Option(help="The issuing participant; it needs the oversight role.")
]
#: the options that name the signing key (one way or the other: checked by signing_key)
_KEY_OPTIONS = ("--key", "--pkcs11-module", "--pkcs11-token", "--pkcs11-key", "--pin-file")
ManifestOption = Annotated[
    Path | None, typer.Option(help="The federation manifest the authorisation is under.")
]
RecipientOption = Annotated[
    str | None, typer.Option(help="The participant that may then see the fields.")
]
FieldsOption = Annotated[
    str | None,
    typer.Option(help="Comma-separated record fields to unlock, e.g. side_a,side_b."),
]
ScopeOption = Annotated[str | None, typer.Option(help=_SCOPE_HELP)]
PurposeOption = Annotated[
    str | None, typer.Option(help="Why the recipient needs the fields (at most 2000 chars).")
]
ExpiresOption = Annotated[
    str | None,
    typer.Option(
        metavar="TIME",
        help="When it ends: an ISO 8601 instant with its zone (2026-12-31T00:00:00Z) "
        "or a duration from now: 7d, 12h, 30m.",
    ),
]
OutOption = Annotated[Path | None, typer.Option(help="File to write the authorisation to.")]


@app.callback(invoke_without_command=True)
def issue(
    ctx: typer.Context,
    participant: ParticipantOption = None,
    key: KeyOption = None,
    pkcs11_module: ModuleOption = None,
    pkcs11_token: TokenOption = None,
    pkcs11_key: TokenKeyOption = None,
    pin_file: PinFileOption = None,
    manifest: ManifestOption = None,
    recipient: RecipientOption = None,
    fields: FieldsOption = None,
    scope: ScopeOption = None,
    purpose: PurposeOption = None,
    expires: ExpiresOption = None,
    out: OutOption = None,
) -> None:
    """Issue an oversight authorisation; 'authorise submit' hands it to a node.

    With no subcommand: let --recipient see the --fields that the sharing
    policy withholds from it, in the records of --scope, until --expires.
    The authorisation is signed with the key of --participant (which needs
    the oversight role): --key (PEM), or a key in a PKCS#11 token
    (--pkcs11-module, --pkcs11-token, --pkcs11-key, --pin-file); it is
    checked against the manifest and written to --out; its id is printed.

    SCOPE is one of
      packets:JTI1,JTI2
        those packets;
      query:schema=ID;area=NAME,...;from=DATE;to=DATE;issuers=ID,...
        the records of schema ID; optionally only those whose place claims
        (country, admin1, ...) name one of the areas, case-insensitively,
        that lie within from..to (both days included, both needed), or
        that the given participants issued. Quote it (';' ends a command):
        'query:schema=conflict-event/1;area=Idlib;from=2016-01-01;to=2016-12-31'

    TIME is an ISO 8601 instant with its zone (2026-12-31T00:00:00Z) or a
    duration from now: 7d, 12h, 30m.
    """
    options = {
        "--participant": participant,
        "--key": key,
        "--pkcs11-module": pkcs11_module,
        "--pkcs11-token": pkcs11_token,
        "--pkcs11-key": pkcs11_key,
        "--pin-file": pin_file,
        "--manifest": manifest,
        "--recipient": recipient,
        "--fields": fields,
        "--scope": scope,
        "--purpose": purpose,
        "--expires": expires,
        "--out": out,
    }
    if ctx.invoked_subcommand is not None:
        given = [name for name, value in options.items() if value is not None]
        if given:
            fail(f"{', '.join(given)}: options for issuing, not for '{ctx.invoked_subcommand}'")
        return
    if (
        participant is None
        or manifest is None
        or recipient is None
        or fields is None
        or scope is None
        or purpose is None
        or expires is None
        or out is None
    ):
        no_key = all(options[name] is None for name in _KEY_OPTIONS)
        missing = [
            name
            for name, value in options.items()
            if value is None and (name not in _KEY_OPTIONS or (name == "--key" and no_key))
        ]
        fail(f"missing {', '.join(missing)} (see 'clearinghouse authorise --help')")
    key_options = partial(signing_key, key, pkcs11_module, pkcs11_token, pkcs11_key, pin_file)
    _issue(participant, key_options, manifest, recipient, fields, scope, purpose, expires, out)


def _issue(
    participant: str,
    open_key: Callable[[], AbstractContextManager[Signer]],
    manifest: Path,
    recipient: str,
    fields: str,
    scope: str,
    purpose: str,
    expires: str,
    out: Path,
) -> None:
    """Build, sign, check and write the authorisation; print its id."""
    issued = now()
    field_names = [f.strip() for f in fields.split(",") if f.strip()]
    if not field_names:
        fail("--fields names no field")
    scope_doc = parse_scope(scope)
    expires_at = parse_expiry(expires, issued)
    with reporting(), open_key() as private_key:
        trusted = verify_manifest(parse_manifest(manifest.read_bytes()), now=issued)
        doc = build_authorisation(
            federation=trusted.federation,
            issuer=participant,
            recipient=recipient,
            scope=scope_doc,
            fields=field_names,
            purpose=purpose,
            expires_at=expires_at,
            now=issued,
        )
        authorisation = verify_authorisation(
            sign_authorisation(doc, private_key), trusted, now=issued
        )
        out.write_bytes(authorisation_json(authorisation))
    stderr.print(escape(f"wrote {out}: {_describe(authorisation)}"), soft_wrap=True)
    typer.echo(authorisation.id)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(metavar="AUTHORISATION", help="The signed file.")],
    node: Annotated[
        str, typer.Option("--node", metavar="URL", help="The originating node's base URL.")
    ],
    token: Annotated[str | None, token_option(TOKEN_ENV, "admin")] = None,
    token_file: TokenFileOption = None,
) -> None:
    """Post the authorisation to the node that holds the packets it covers."""
    token = bearer_token(token, token_file, "admin", TOKEN_ENV)
    if not node.startswith(("http://", "https://")):
        fail(f"--node must be an http(s) URL, not {node!r}")
    if not token:
        fail(f"give a token of role admin: {token_sources(TOKEN_ENV)}")
    with reporting():
        data = file.read_bytes()
        authorisation = parse_authorisation(data)
    try:
        answer = post_document(node, SUBMIT_PATH, data, token=token, timeout=SUBMIT_TIMEOUT)
    except NodeUnreachable as exc:
        if exc.bad_url:
            fail(escape(f"--node {node!r} is not a usable URL: {exc.reason}"))
        fail(escape(f"cannot reach {node}: {exc.kind}: {exc.reason}"), 1)
    _report_submission(node, authorisation, answer)


def _report_submission(node: str, authorisation: Authorisation, answer: Answer) -> None:
    """Print what the node did with the authorisation; exit 1 unless it took it."""
    body = answer.document if isinstance(answer.document, dict) else {}
    if answer.status in (200, 201):
        status, queued = body.get("status"), body.get("views_queued")
        if status not in ("accepted", "already-held") or not isinstance(queued, int):
            fail(escape(f"{node} answered HTTP {answer.status} with {answer.text[:300]!r}"), 1)
        held = "already held it" if status == "already-held" else "accepted it"
        stderr.print(
            escape(f"{node} {held}: authorisation {authorisation.id}, {queued} view(s) queued"),
            soft_wrap=True,
        )
        typer.echo(status)
        return
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    code = body.get("code") or body.get("title")
    what = f"HTTP {answer.status}" + (f" {code}" if isinstance(code, str) else "")
    verb = "refused the authorisation" if answer.status < 500 else "failed"
    fail(escape(f"{node} {verb} ({what}): {detail or answer.text[:300] or '(no detail)'}"), 1)


def parse_scope(text: str) -> dict[str, Any]:
    """The JSON scope of ``--scope`` (``packets:...`` or ``query:...``); exit 2 if bad."""
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind == "packets":
        jtis = [j.strip().lower() for j in rest.split(",") if j.strip()]
        if not jtis:
            fail("--scope packets: names no packet")
        return {"packets": jtis}
    if kind != "query":
        fail(f"--scope must start with 'packets:' or 'query:', not {text!r}")
    query: dict[str, Any] = {}
    period: dict[str, str] = {}
    for part in filter(str.strip, rest.split(";")):
        name, eq, value = (s.strip() for s in part.partition("="))
        name = name.lower()
        if not eq or not value:
            fail(f"--scope: {part.strip()!r} is not name=value")
        if name in query or name in period:
            fail(f"--scope: {name!r} is given twice")
        if name == "schema":
            query["schema"] = value
        elif name in ("area", "issuers"):
            query[name] = [v.strip() for v in value.split(",") if v.strip()]
        elif name in ("from", "to"):
            period[name] = value
        else:
            fail(f"--scope: unknown criterion {name!r}; use schema, area, from, to, issuers")
    if "schema" not in query:
        fail("--scope query: needs schema=SCHEMA_ID")
    if period:
        if len(period) != 2:
            fail("--scope: a period needs both from= and to=")
        query["period"] = {"from": period["from"], "to": period["to"]}
    return {"query": query}


def parse_expiry(text: str, issued: datetime) -> datetime:
    """``--expires``: an ISO 8601 instant with a zone, or 7d / 12h / 30m from ``issued``."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match:
        return issued + timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires {text!r} is neither an ISO 8601 instant nor a duration like 7d")
    if instant.tzinfo is None:
        fail(f"--expires {text!r} has no time zone; add one, e.g. Z or +02:00")
    return instant


def _describe(a: Authorisation) -> str:
    if isinstance(a.scope, PacketScope):
        scope = f"{len(a.scope.packets)} packet(s)"
    else:
        q = a.scope.query
        scope = f"{q.schema_id} records"
        if q.issuers:
            scope += f" of {', '.join(q.issuers)}"
        if q.area:
            scope += f" in {', '.join(q.area)}"
        if q.period:
            scope += f" from {q.period.start} to {q.period.end}"
    return (
        f"authorisation {a.id} by {a.issuer} lets {a.recipient} see {', '.join(a.fields)} "
        f"of {scope} until {a.expires_at.isoformat()}"
    )
