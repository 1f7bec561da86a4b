"""Feeding a federation and reading what its nodes hold, for the fault tests.

:class:`IngestDriver` posts records to a node in batches from a thread, and survives
the node being killed under it: the local API is not idempotent (every call issues
new packets), so a batch whose call failed is looked up in the node's database once
the node is back, and posted again only if none of it is there. The functions read
each node's database: what it issued, what it received, what it took twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import bindparam, text

from tests.integration._faults import FaultFederation, ucdp_events, wait_ready_url
from tests.integration._nodes import Databases

__all__ = [
    "CONFLICT",
    "IngestDriver",
    "assert_every_event_once",
    "events_held",
    "held_from",
    "ingest",
    "log_lines",
    "received_again",
    "records",
    "sender_duplicates",
    "wait_for",
]

CONFLICT = "conflict-event/1"


def _event_id(db: Databases, participant: str) -> str:
    """SQL for a stored packet's UCDP event id, on the participant's database."""
    if db.engine(participant).dialect.name == "postgresql":
        return "claims->>'event_id'"
    return "json_extract(claims, '$.event_id')"


def events_held(db: Databases, participant: str, event_ids: Sequence[str]) -> int:
    """How many of these UCDP events ``participant`` issued as packets."""
    engine = db.engine(participant)
    extract = _event_id(db, participant)
    query = text(
        f"SELECT count(*) FROM packet WHERE origin = 'local' AND schema_id = :s"
        f" AND {extract} IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as connection:
        return int(connection.execute(query, {"s": CONFLICT, "ids": list(event_ids)}).scalar())


class IngestDriver(threading.Thread):
    """Post events to a node in batches. A batch whose call failed (the node killed under
    it) is looked up in the node's database once the node is back: all there, it went
    through and only the answer was lost; none there, it is posted again; anything
    else is a half-applied batch and fails the test."""

    def __init__(
        self,
        fed: FaultFederation,
        db: Databases,
        items: Sequence[tuple[int, Any]],
        *,
        at: str = "mission",
        batch: int = 500,
    ) -> None:
        super().__init__(name=f"ingest-{at}", daemon=True)
        self.fed, self.db, self.at, self.batch = fed, db, at, batch
        self.records = [record for _, record in items]
        self.posted = 0
        self.failed_calls: Counter[str] = Counter()
        self.reposted = 0
        self.answer_lost = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, len(self.records), self.batch):
                self._post(self.records[start : start + self.batch])
        except BaseException as exc:
            self.error = exc

    def _post(self, records: list[dict[str, Any]]) -> None:
        node = self.fed.nodes[self.at]
        body = {"schema": CONFLICT, "records": records}
        while True:
            try:
                with node.client("submitter", timeout=300) as client:
                    response = client.post("/v1/local/records", json=body)
                if response.status_code == 200:
                    document = response.json()
                    assert document["accepted"] == len(records), document["rejected"][:3]
                    self.posted += len(records)
                    return
                failure = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                failure = type(exc).__name__
            self.failed_calls[failure] += 1
            wait_ready_url(node.url)
            held = events_held(self.db, self.at, [r["event_id"] for r in records])
            if held == len(records):
                self.answer_lost += 1
                self.posted += len(records)
                return
            assert held == 0, f"{held} of a batch of {len(records)} were issued: half a batch"
            self.reposted += 1

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), "ingest did not finish"
        if self.error is not None:
            raise self.error


def held_from(db: Databases, participant: str, issuer: str, schema: str = CONFLICT) -> int:
    """Packets of ``schema`` by ``issuer`` that ``participant`` received."""
    return int(
        db.value(
            participant,
            "SELECT count(*) FROM packet WHERE issuer = :i AND schema_id = :s"
            " AND origin <> 'local'",
            i=issuer,
            s=schema,
        )
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.3) -> float:
    """Until ``check()`` is true; the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not in {timeout:.0f}s: {what}")
        time.sleep(every)
    return time.monotonic() - started


def ingest(fed: FaultFederation, records: Sequence[dict[str, Any]], at: str = "mission") -> None:
    with fed.nodes[at].client("submitter", timeout=300) as client:
        response = client.post(
            "/v1/local/records", json={"schema": CONFLICT, "records": list(records)}
        )
    assert response.status_code == 200, response.text[:500]
    assert response.json()["accepted"] == len(records)


def records(start: int, count: int) -> list[dict[str, Any]]:
    return [record for _, record in ucdp_events()[start : start + count]]


def received_again(db: Databases, participant: str) -> dict[str, int]:
    """Views ``participant`` received although it held them, by how they came (pushed
    by their sender, or pulled by its own catch-up)."""
    entries = db.logged_views(participant, "packet.received")
    return dict(Counter(e["via"] for e in entries if e.get("outcome") == "duplicate"))


def assert_every_event_once(db: Databases, items: Sequence[tuple[int, Any]]) -> None:
    """Mission issued each UCDP event exactly once: no event lost, none doubled."""
    extract = _event_id(db, "mission")
    rows = db.rows(
        "mission",
        f"SELECT {extract} AS event FROM packet WHERE origin = 'local' AND schema_id = :s",
        s=CONFLICT,
    )
    issued = Counter(str(r.event) for r in rows)
    doubled = [e for e, n in issued.items() if n > 1]
    wanted = {str(record["event_id"]) for _, record in items}
    assert not doubled, f"{len(doubled)} events issued twice, e.g. {doubled[:3]}"
    assert set(issued) == wanted, (
        f"{len(wanted - set(issued))} events lost, {len(set(issued) - wanted)} unknown"
    )


def sender_duplicates(db: Databases, sender: str, peer: str) -> int:
    """Views ``sender`` pushed to ``peer`` that the peer answered ``duplicate``."""
    sent = db.logged_views(sender, "view.sent", peer)
    return sum(entry.get("status") == "duplicate" for entry in sent)


def log_lines(fed: FaultFederation, participant: str, *needles: str) -> int:
    """Lines of ``participant``'s log that contain any of ``needles``."""
    text_ = fed.nodes[participant].log.read_text(errors="replace")
    return sum(any(n in line for n in needles) for line in text_.splitlines())
