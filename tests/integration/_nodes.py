"""Reading running nodes from outside: their databases (SQLite or PostgreSQL) and audit APIs.

:class:`Databases` opens one engine per database URL on first use, so a node
restored into another database is read there; :func:`wait_witnessed` waits until
every log's latest checkpoint covers the whole log and every peer cosigned it;
:func:`verify_audit_log` checks a participant's log end to end as ``clearinghouse
audit verify --db`` does; :func:`per_view` reads the acts on views (an entry per batch,
or per view before batches) one view at a time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import Engine, text

from clearinghouse.node.audit_tool import (
    Summary,
    open_database,
    read_manifest,
    verify_log,
)
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.storage.db import make_engine
from clearinghouse.protocol.notes import Checkpoint, parse_checkpoint, parse_note


class Databases:
    """Engines on the participants' databases, read while the nodes run."""

    def __init__(self, fed: LocalFederation) -> None:
        self.fed = fed
        self._engines: dict[str, Engine] = {}

    def engine(self, participant: str) -> Engine:
        url = self.fed.nodes[participant].database_url
        if url not in self._engines:
            self._engines[url] = make_engine(url)
        return self._engines[url]

    def rows(self, participant: str, sql: str, **params: Any) -> list[Any]:
        with self.engine(participant).connect() as connection:
            return list(connection.execute(text(sql), params))

    def value(self, participant: str, sql: str, **params: Any) -> Any:
        (row,) = self.rows(participant, sql, **params)
        return row[0]

    def logged(self, participant: str, act: str, peer: str | None = None) -> list[dict[str, Any]]:
        """The bodies of ``participant``'s audit entries of ``act`` (about ``peer``)."""
        sql = "SELECT body FROM audit_entry WHERE act = :act"
        sql += " AND peer = :peer" if peer else ""
        rows = self.rows(participant, sql + " ORDER BY seq", act=act, peer=peer)
        return [json.loads(body) for (body,) in rows]

    def logged_views(
        self, participant: str, act: str, peer: str | None = None
    ) -> list[dict[str, Any]]:
        """``participant``'s entries of ``act`` (about ``peer``), a dict per view listed
        (:func:`per_view`)."""
        return per_view(self.logged(participant, act, peer))

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def per_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per view the entries record, in log and batch order: each view of a batch
    entry over the entry's other keys (``batch``: the entry's seq; ``receipt``: the hash
    of the receipt covering it, as an entry of one view recorded it), an entry written
    before batches as it is. Checks each batch entry's shape on the way: views listed,
    the packet at the top level exactly when the batch is of one view."""
    flat = []
    for entry in entries:
        if "views" not in entry:
            flat.append(entry)
            continue
        views, receipts = entry["views"], entry.get("receipts", [])
        assert views, entry
        single = views[0].get("jti") if len(views) == 1 else None
        assert entry.get("jti") == single, entry
        common = {k: v for k, v in entry.items() if k not in ("views", "receipts", "jti")}
        for view in views:
            item = {**common, "batch": entry["seq"], **view}
            if receipts:
                item["receipt"] = receipts[view.get("receipt", 0)]
            flat.append(item)
    return flat


def wait_witnessed(db: Databases, participants: tuple[str, ...], timeout: float = 60) -> None:
    """Until each log's latest checkpoint covers it and every other participant cosigned it."""
    deadline = time.monotonic() + timeout
    while True:
        behind = []
        for p in participants:
            size = db.value(p, "SELECT size FROM audit_head")
            latest = db.value(p, "SELECT max(size) FROM audit_checkpoint")
            witnesses = db.value(
                p, "SELECT count(*) FROM audit_cosignature WHERE size = :s", s=latest
            )
            if latest != size or witnesses != len(participants) - 1:
                behind.append((p, size, latest, witnesses))
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"checkpoints not all cosigned in time: {behind}")
        time.sleep(0.3)


def verify_audit_log(
    fed: LocalFederation, participant: str, *, min_cosignatures: int = 0
) -> Summary:
    """``participant``'s whole log from its database, checked against the manifest."""
    with open_database(
        fed.nodes[participant].database_url,
        manifest=read_manifest(fed.manifest_path),
        manifest_source=str(fed.manifest_path),
        participant=participant,
    ) as log:
        return verify_log(log, min_cosignatures=min_cosignatures)


def alerts(node: NodeHandle) -> list[dict[str, Any]]:
    with node.client("auditor") as client:
        response = client.get("/v1/audit/alerts")
        response.raise_for_status()
        return response.json()["alerts"]  # type: ignore[no-any-return]


def witnessed(node: NodeHandle) -> dict[str, Checkpoint]:
    """The checkpoint of each peer's log this node last cosigned."""
    with node.client("auditor") as client:
        response = client.get("/v1/audit/witnessed")
        response.raise_for_status()
        logs = response.json()["logs"]
    found = {}
    for log in logs:
        checkpoint = parse_checkpoint(parse_note(log["note"]).text)
        assert checkpoint.size == log["size"], log
        found[log["peer"]] = checkpoint
    return found


def metric(node: NodeHandle, name: str, **labels: str) -> float:
    """One sample from this process's ``/metrics`` (0 if never set)."""
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    wanted = f"{name}{{{selector}}}" if labels else name
    for line in httpx.get(f"{node.url}/metrics").text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == wanted:
            return float(value)
    return 0.0
