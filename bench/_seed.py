"""A node's database filled with N realistic packets, as the node would have stored them.

The memory benchmark (:mod:`bench.memory`) needs a node holding a million packets
without making a million ingests. So:

* :func:`analyses`: real UCDP events, and what mission's own analyzer and dpa's and
  unodc's find in them, run offline (once: it does not depend on any key);
* :func:`templates`: those events issued and signed by mission, and each analysis
  issued as a result by the participant that made it (mission's own as packets it
  issued, the others' as the views mission received), each as the node stores it;
* :func:`seed`: N rows copied from the templates with fresh ids, a chunk per
  transaction, one in :data:`RESULT_EVERY` a result, with what the node writes beside
  every packet it stores: the common situation's index (through the node's own
  :func:`~clearinghouse.node.storage.situation_index.index_packets`, so that the
  rows are those the node writes), a view owed to dpa for each own packet (backed
  off, as for a peer long gone) and an audit entry each, through the real append so
  that the log verifies.

A copy is not signed anew (its jti and digest are fresh, its raw text the
template's): nothing here verifies stored packets, and the catch-up feed serves the
views as stored. Copies of a result repeat its findings, so each finding has many
versions and the situation shows the latest of each, as after many analyses of one
area and period.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from bench._local import CONFLICT, DEMO_FOUR, RESULT, federation_config
from bench._local import ucdp_events as events
from bench.audit import view_queued_acts
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.registry import load
from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import OutboxItem, OutboxView, StoredPacket
from clearinghouse.node.storage.situation_index import index_packets
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest
from clearinghouse.protocol.packet import IssuedPacket, issue_packet, recipient_view, verify_view
from clearinghouse.protocol.results import result_record

__all__ = [
    "ANALYZERS",
    "NODE",
    "PULLER",
    "RESULT_EVERY",
    "Sample",
    "Templates",
    "analyses",
    "packet_rows",
    "seed",
    "templates",
]

NODE, PULLER = "mission", "dpa"
RESULT_EVERY = 50  # one stored packet in 50 is a result
CHUNK = 10_000  # rows per transaction
#: Whose analyzers find what in mission's events: mission's own (its results are packets
#: it issued) and dpa's and unodc's (results it received). undp's finds nothing in
#: conflict events without market prices, so it is left out.
ANALYZERS = (
    ("mission", "mission.security-risk"),
    ("dpa", "dpa.spoiler-risk"),
    ("unodc", "unodc.trafficking-network"),
)
#: What the node stores but a copy does not take from its template.
_NOT_STORED = ("view", "packet")


@dataclass(frozen=True)
class Sample:
    """Real events, and per analyzing participant the findings (as JSON) of each event
    it found something in: (event index, findings)."""

    records: list[dict[str, Any]]
    found: dict[str, list[tuple[int, list[dict[str, Any]]]]]

    @property
    def results(self) -> int:
        return sum(len(found) for found in self.found.values())


def analyses(count: int) -> Sample:
    """``count`` UCDP events spread over the whole file, and what each analyzer of
    :data:`ANALYZERS` finds in them, fed in order as a live node would."""
    every = events(None)
    records = [r for _, r in every[:: max(1, len(every) // count)]][:count]
    config, _ = federation_config(DEMO_FOUR)
    found: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
    for participant, analyzer_id in ANALYZERS:
        run = OfflineRun.start(load(analyzer_id), config, participant=participant, issuer=NODE)
        found[participant] = [
            (i, [f.as_json() for f in findings])
            for i, findings in enumerate(run.run(CONFLICT, records))
            if findings
        ]
    if not any(found.values()):
        raise RuntimeError(f"the analyzers found nothing in {count} events")
    return Sample(records, found)


@dataclass(frozen=True)
class Templates:
    """Rows as mission stores them (without jti, digest and times, which each copy
    gets fresh), each with ``packet``: the packet itself (an ``IssuedPacket`` for
    mission's own, a ``VerifiedPacket`` for a view received); and for mission's own,
    ``view``: dpa's view of it. ``results`` are in the order of their inputs."""

    events: list[dict[str, Any]]
    results: list[dict[str, Any]]


def templates(root: Path, manifest: Manifest, sample: Sample, now: datetime) -> Templates:
    """The sample's events and results issued with the keys of the federation at ``root``."""
    keys = {p: read_private_key(root / "keys" / f"{p}.key.pem") for p in (NODE, *sample.found)}
    pseudonym_key = read_pseudonym_key(root / "keys" / "pseudonym.key")
    kid = public_jwk(keys[NODE])["kid"]
    issued = [
        issue_packet(record, schema=CONFLICT, issuer=NODE, key=keys[NODE], kid=kid, now=now,
                     pseudonym_key=pseudonym_key.key, pseudonym_epoch=pseudonym_key.epoch)
        for record in sample.records
    ]  # fmt: skip
    own = [_own(packet, kid, manifest) for packet in issued]
    analyses_ = sorted(
        ((i, p, findings) for p, found in sample.found.items() for i, findings in found),
        key=lambda a: (a[0], a[1]),
    )
    results = []
    for index, participant, findings in analyses_:
        declared = manifest.participant(participant).analyzer
        if declared is None:
            raise RuntimeError(f"{participant} declares no analyzer in the manifest")
        event = issued[index]
        record = result_record(
            analyzer=declared, input_jti=event.ref.jti, input_digest=event.ref.digest,
            input_schema=CONFLICT, input_issuer=NODE, findings=findings,
            explanation=f"{declared.id} {declared.version} found {len(findings)} thing(s)",
        )  # fmt: skip
        key = keys[participant]
        packet = issue_packet(record, schema=RESULT, issuer=participant, key=key,
                              kid=public_jwk(key)["kid"], now=now, hc=event.hc,
                              hc_restriction=event.hcr)  # fmt: skip
        if participant == NODE:
            results.append(_own(packet, kid, manifest))
            continue
        view = recipient_view(packet.sd_jwt, manifest, NODE)
        verified = verify_view(view, manifest, recipient=NODE, now=now)
        results.append({"issuer": participant, "kid": verified.kid, "schema_id": RESULT,
                        "hc": verified.hc, "hcr": verified.hcr, "origin": participant,
                        "raw": view, "claims": dict(verified.claims),
                        "packet": verified})  # fmt: skip
    return Templates(own, results)


def _own(packet: IssuedPacket, kid: str, manifest: Manifest) -> dict[str, Any]:
    """A packet mission issued, as ``packets.add_issued`` stores it, with dpa's view."""
    return {"issuer": NODE, "kid": kid, "schema_id": packet.schema, "hc": packet.hc,
            "hcr": packet.hcr, "origin": "local", "raw": packet.sd_jwt,
            "claims": dict(packet.claims), "packet": packet,
            "view": recipient_view(packet.sd_jwt, manifest, PULLER)}  # fmt: skip


def packet_rows(
    t: Templates,
    first: int,
    stop: int,
    now: datetime,
    rng: random.Random,
    *,
    result_every: int = RESULT_EVERY,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Packets ``first`` to ``stop`` (row ids ``first + 1``...): the ``packet`` rows, the
    ``outbox`` rows (dpa's view of each own packet), and the template of each row."""
    packets, outbox, used = [], [], []
    for i in range(first, stop):
        jti = uuid7(now, rng.randbytes)
        digest = hashlib.sha256(jti.encode()).hexdigest()
        if i % result_every == result_every - 1:
            template = t.results[(i // result_every) % len(t.results)]
        else:  # the i // result_every results before this one are not events
            template = t.events[(i - i // result_every) % len(t.events)]
        stored = {k: v for k, v in template.items() if k not in _NOT_STORED}
        packets.append({"id": i + 1, "jti": jti, "digest": digest, "issued_at": now,
                        "stored_at": now, **stored})  # fmt: skip
        used.append(template)
        if "view" in template:
            outbox.append({"recipient": PULLER, "packet_id": i + 1, "jti": jti,
                           "digest": digest, "view": template["view"], "state": "pending",
                           "attempts": 8, "created_at": now,
                           "next_attempt_at": now + timedelta(days=1)})  # fmt: skip
    return packets, outbox, used


def store(
    session: Session,
    packets: list[dict[str, Any]],
    outbox: list[dict[str, Any]],
    now: datetime,
    rng: random.Random,
) -> None:
    """Write one chunk as the node writes stored packets: the rows, the situation's
    index of them, the views owed, and an audit entry each."""
    session.execute(insert(StoredPacket), packets)
    if outbox:
        rows = [{k: v for k, v in row.items() if k != "view"} for row in outbox]
        written = insert(OutboxItem).returning(OutboxItem.id, sort_by_parameter_order=True)
        ids = session.execute(written, rows).scalars().all()
        texts = [{"item_id": i, "view": row["view"]} for i, row in zip(ids, outbox, strict=True)]
        session.execute(insert(OutboxView), texts)
    index_packets(session, [(row["id"], row) for row in packets])
    auditlog.append(session, view_queued_acts(len(packets), rng), now=now)


def seed(
    url: str, t: Templates, count: int, now: datetime, *, result_every: int = RESULT_EVERY
) -> float:
    """Migrate the database at ``url`` and write ``count`` packets; return the seconds."""
    engine = make_engine(url)
    started, rng = time.perf_counter(), random.Random(8)
    try:
        upgrade(url, engine=engine)
        for first in range(0, count, CHUNK):
            stop = min(first + CHUNK, count)
            packets, outbox, _ = packet_rows(t, first, stop, now, rng, result_every=result_every)
            with transaction(engine) as session:
                store(session, packets, outbox, now, rng)
    finally:
        engine.dispose()
    return time.perf_counter() - started
