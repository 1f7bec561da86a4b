"""Records sent to a node's local API in batches (``POST /v1/local/records``).

What ``clearinghouse ingest``, the demo, the benchmarks and the tests use to feed a
node: :func:`post_batches` takes ``(line, record or RowRejected)`` items as the
importers yield them, sends the records in batches of ``batch`` (each with an
``Idempotency-Key`` if asked), and collects what the node refused, by line, besides
the rows the importer refused. Raises what :mod:`node.transport.local_api` defines:
:class:`~node.transport.local_api.NodeUnreachable` (no answer),
:class:`~node.transport.local_api.NodeRefused` (the node refused a whole batch) or
:class:`~node.transport.local_api.AnswerMalformed` (an answer without its counts).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from clearinghouse.node.importers import ImportCounts, RowRejected
from clearinghouse.node.importers.records_file import Item
from clearinghouse.node.transport.local_api import AnswerMalformed, NodeRefused, unreachable
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError

__all__ = ["post_batches"]

RECORDS_PATH = "/v1/local/records"


@dataclass
class _Upload:
    """What one call of :func:`post_batches` has seen so far."""

    counts: ImportCounts | None
    on_accepted: Callable[[Any], object] | None
    accepted: int = 0
    problems: list[str] = field(default_factory=list)


def post_batches(
    client: httpx.Client,
    schema: str,
    items: Iterator[Item],
    *,
    batch: int,
    on_progress: Callable[[int], object] | None = None,
    on_accepted: Callable[[Any], object] | None = None,
    counts: ImportCounts | None = None,
    idempotency_prefix: str | None = None,
) -> tuple[int, list[str]]:
    """Post records in batches; return (accepted, messages about rejected ones).

    ``on_progress(n)`` is called after each batch with its row count,
    ``on_accepted(packets)`` with the node's list of accepted packets; ``counts``,
    if given, counts every row read, accepted by the node and refused by reason.
    With ``idempotency_prefix``, batch ``i`` is sent with the Idempotency-Key
    ``{idempotency_prefix}-{i}``. A record the node holds already counts as accepted
    (its packet is the one issued before).
    """
    upload = _Upload(counts, on_accepted)
    for index in itertools.count():
        chunk = list(itertools.islice(items, batch))
        if not chunk:
            break
        records, lines = [], []
        for line, item in chunk:
            if counts is not None:
                counts.read_only(item)
            if isinstance(item, RowRejected):
                upload.problems.append(item.message)
            else:
                records.append(item)
                lines.append(line)
        if records:
            key = None if idempotency_prefix is None else f"{idempotency_prefix}-{index}"
            _post_batch(client, upload, schema, records, lines, key)
        if on_progress:
            on_progress(len(chunk))
    return upload.accepted, upload.problems


def _post_batch(
    client: httpx.Client,
    upload: _Upload,
    schema: str,
    records: list[dict[str, Any]],
    lines: list[int],
    idempotency_key: str | None,
) -> None:
    """Send one batch; count what the node accepted, note what it refused, by line."""
    headers = {} if idempotency_key is None else {"idempotency-key": idempotency_key}
    try:
        response = client.post(
            RECORDS_PATH, json={"schema": schema, "records": records}, headers=headers
        )
    except httpx.HTTPError as exc:
        raise unreachable(str(client.base_url).rstrip("/"), exc) from exc
    document = _document(response)
    if response.status_code == 200:
        if not isinstance(document.get("accepted"), int) or "rejected" not in document:
            raise AnswerMalformed(
                f"node answered HTTP 200 without its counts: {response.text[:300]}"
            )
        upload.accepted += document["accepted"]
        if upload.counts is not None:
            upload.counts.accept(document["accepted"])
        if upload.on_accepted:
            upload.on_accepted(document["packets"])
    elif response.status_code not in (409, 422) or "rejected" not in document:
        detail = str(document.get("detail", response.text[:300]))
        raise NodeRefused(
            f"node answered HTTP {response.status_code}: {detail}",
            status=response.status_code,
            detail=detail,
        )
    for r in document["rejected"]:
        upload.problems.append(f"line {lines[r['index']]}: {r['code']}: {r['detail']}")
        if upload.counts is not None:
            upload.counts.refuse(f"node refused: {r['code']}")


def _document(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; an empty one if it has none (a proxy's error page)."""
    try:
        document = parse_json(response.content) if response.content else {}
    except EncodingError:
        return {}
    return document if isinstance(document, dict) else {}
