"""A witness's cosignatures on this node's checkpoints: each checked, then all stored.

``POST /v1/audit/cosign`` (DESIGN.md, "Audit log"; C2SP tlog-cosignature). A peer that
witnesses this node's log sends ``{"size": N, "line": "— <witness> <base64>"}`` items;
each line must verify, with a cosignature key the manifest gives that peer, over this
node's stored checkpoint of size ``N``. One bad item refuses the whole request (naming
its index), so a witness never has part of a batch taken; the good ones are stored in
one transaction (a size this witness cosigned already is not stored again) and counted
per witness in ``clearinghouse_audit_cosignatures_received``.

Items are checked in order and the first fault answers: 400 for an item that is no
``{size, line}`` object, 422 for a size with no checkpoint or a line that does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest, Unprocessable
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import MAX_INT, transaction
from clearinghouse.protocol.audit import witness_keys, witness_name
from clearinghouse.protocol.errors import NoteError
from clearinghouse.protocol.notes import Verifier, parse_note, verify_cosignature

__all__ = ["store_cosignatures"]


def store_cosignatures(ctx: NodeContext, *, witness: str, items: Sequence[object]) -> int:
    """Check every cosignature ``witness`` sent and store them; return how many were new.

    :raises BadRequest: an item is not an object with an integer size and a line.
    :raises Unprocessable: an item names no checkpoint held, or its line does not verify
        with a cosignature key of ``witness``.
    """
    name = witness_name(ctx.manifest.federation, witness)
    keys = [k for k in witness_keys(ctx.manifest) if k.name == name]
    with transaction(ctx.engine) as session:
        good = [_checked(session, index, item, witness, keys) for index, item in enumerate(items)]
        stored = auditlog.add_cosignatures(
            session, witness=witness, lines=good, now=ctx.clock.now()
        )
    ctx.metrics.audit_cosignatures.labels(witness=witness).inc(stored)
    return stored


def _checked(
    session: Session, index: int, item: object, witness: str, keys: list[Verifier]
) -> tuple[int, str, int]:
    """Item ``index`` as ``(size, line ending in a newline, cosignature timestamp)``."""
    size, line = (item.get("size"), item.get("line")) if isinstance(item, dict) else (None, None)
    if type(size) is not int or not isinstance(line, str):
        raise BadRequest(f"cosignatures[{index}]: needs an integer size and a line")
    if not 0 <= size <= MAX_INT:
        raise Unprocessable(f"cosignatures[{index}]: no checkpoint of size {size}")
    row = auditlog.checkpoint_at(session, size)
    if row is None:
        raise Unprocessable(f"cosignatures[{index}]: no checkpoint of size {size}")
    text = parse_note(row.note).text
    problems = []
    for key in keys:
        try:
            timestamp = verify_cosignature(text, line, key)
            break
        except NoteError as exc:
            problems.append(exc.message)
    else:
        raise Unprocessable(
            f"cosignatures[{index}] on checkpoint {size} does not verify with a "
            f"cosignature key of {witness}: {'; '.join(problems) or 'no key'}"
        )
    return size, line if line.endswith("\n") else line + "\n", timestamp
