"""Records sent to a node's local API in batches (``POST /v1/local/records``).

What ``clearinghouse ingest``, the demo, the benchmarks and the tests use to feed a
node: :func:`post_batches` takes ``(line, record or RowRejected)`` items as the
importers yield them, sends the records in batches of ``batch`` (each with an
``Idempotency-Key`` if asked), and collects what the node refused, by line, besides
the rows the importer refused. Each batch is the typed client's ``submitRecords``
(:meth:`node.transport.api_client.NodeApiClient.submit_records`). Raises what
:mod:`node.transport.local_api` defines:
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

from clearinghouse.node.api.models import RejectedRecord
from clearinghouse.node.importers import ImportCounts, RowRejected
from clearinghouse.node.importers.records_file import Item
from clearinghouse.node.transport.api_client import NodeApiClient
from clearinghouse.node.transport.local_api import AnswerMalformed, NodeRefused

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
    api = NodeApiClient(client)  # over the caller's client, which the caller closes
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
            _post_batch(api, upload, schema, records, lines, key)
        if on_progress:
            on_progress(len(chunk))
    return upload.accepted, upload.problems


def _post_batch(
    api: NodeApiClient,
    upload: _Upload,
    schema: str,
    records: list[dict[str, Any]],
    lines: list[int],
    idempotency_key: str | None,
) -> None:
    """Send one batch; count what the node accepted, note what it refused, by line."""
    rejected: list[RejectedRecord]
    try:
        answer = api.submit_records(schema, records, idempotency_key=idempotency_key)
    except NodeRefused as exc:  # none accepted: each record's refusal is in the problem
        problem = exc.problem
        if exc.status not in (409, 422) or problem is None or problem.rejected is None:
            raise NodeRefused(
                f"node answered HTTP {exc.status}: {exc.detail}",
                status=exc.status,
                detail=exc.detail,
                document=exc.document,
                problem=problem,
                text=exc.text,
            ) from exc
        rejected = problem.rejected
    except AnswerMalformed as exc:
        raise AnswerMalformed(
            f"node answered HTTP {exc.status} without its counts: {exc.text[:300]}",
            status=exc.status,
            text=exc.text,
            document=exc.document,
        ) from exc
    else:
        upload.accepted += answer.accepted
        if upload.counts is not None:
            upload.counts.accept(answer.accepted)
        if upload.on_accepted:
            upload.on_accepted([p.model_dump(exclude_unset=True) for p in answer.packets])
        rejected = answer.rejected
    for r in rejected:
        upload.problems.append(f"line {lines[r.index]}: {r.code}: {r.detail}")
        if upload.counts is not None:
            upload.counts.refuse(f"node refused: {r.code}")
