"""A federation for the trust-lifecycle service tests, and nodes of it opened in process.

Fixed keys (seeded), a manifest issued at :data:`T0` (keys valid 730 days from then),
no analyzers (so that a node opens without loading any), and a clock the test sets:
:class:`FixedClock`. :func:`opened_trust_node` writes one participant's key, pseudonym key
and manifest into a folder and opens the node with :func:`node.startup.open_node`,
on SQLite or, for ``backend="postgres"``, on ``CLEARINGHOUSE_TEST_POSTGRES_URL`` in a
throwaway schema (:func:`tests.databases.node_database`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Row
from sqlalchemy import select as select_rows

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import write_private_key, write_secret
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.settings import Settings
from clearinghouse.node.storage import auditlog, packets
from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OutboxItem, OutboxView
from clearinghouse.protocol.authorisation import (
    Authorisation,
    build_authorisation,
    sign_authorisation,
)
from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, build_manifest, manifest_json, sign_manifest
from clearinghouse.protocol.packet import IssuedPacket, issue_packet, recipient_view, verify_view
from clearinghouse.protocol.schemas import get_schema
from tests.databases import node_database
from tests.nodes import opened_context
from tests.support import EXAMPLES, seeded_key
from tests.support import NOW as SUPPORT_NOW

#: When the first manifest was issued (every key valid from then, for 730 days).
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: When the tests act (whole seconds: manifest changes stamp whole seconds).
NOW = SUPPORT_NOW
PARTICIPANTS = ("mission", "unodc", "dpa", "undp", "sanctions")
SIGNERS = ("mission", "unodc", "dpa")
EPOCH = "2026-11"
PSEUDONYM_KEY = bytes(range(32))

#: The claims of a conflict event that the demo policy grants undp.
UNDP = {
    "admin1",
    "country",
    "date_precision",
    "event_id",
    "fatality_band",
    "month",
    "type_of_violence",
    "where_precision",
    "year",
}


class FixedClock:
    """A clock that says what the test set (``at``)."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _config() -> dict[str, Any]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    config["participants"] = [
        {k: v for k, v in p.items() if k != "analyzer"} for p in config["participants"]
    ]
    return dict(config)


@dataclass(frozen=True)
class TrustFederation:
    manifest: Manifest  # serial 1, signed by SIGNERS
    keys: dict[str, Ed25519PrivateKey]

    def kid(self, participant: str) -> str:
        return public_jwk(self.keys[participant])["kid"]

    def granted(self, schema: str, recipient: str, manifest: Manifest | None = None) -> set[str]:
        spec = get_schema(schema)
        return set((manifest or self.manifest).sharing.granted_claims(spec, recipient))


def make_trust_federation() -> TrustFederation:
    keys = {p: seeded_key(p) for p in PARTICIPANTS}
    manifest = build_manifest(
        _config(), {p: [public_jwk(k)] for p, k in keys.items()}, issued_at=T0
    )
    for signer in SIGNERS:
        manifest = sign_manifest(manifest, signer, keys[signer])
    return TrustFederation(manifest, keys)


def signed(proposal: Manifest, held: Manifest, keys: Mapping[str, Ed25519PrivateKey]) -> Manifest:
    """``proposal`` signed by each of ``keys`` (signer -> key listed in ``held``)."""
    for signer, key in keys.items():
        proposal = sign_manifest(proposal, signer, key, held=held)
    return proposal


def ingest(ctx: NodeContext, *records: dict[str, object]) -> list[str]:
    """Ingest conflict events at ``ctx``, none refused; their packets' jtis."""
    result = ingest_records(ctx, "conflict-event/1", list(records))
    assert result.rejected == []
    return [a["jti"] for a in result.accepted]


def record(schema: str = "conflict-event", **changes: Any) -> dict[str, Any]:
    """The example record of ``schema`` (file stem), with ``changes``."""
    data = json.loads((EXAMPLES / "records" / f"{schema}.json").read_text())
    return {**data, **changes}


def write_node(
    folder: Path,
    fed: TrustFederation,
    participant: str,
    url: str,
    *,
    manifest: Manifest | None = None,
) -> Settings:
    """Key, pseudonym key and manifest of ``participant`` in ``folder``; its settings."""
    keys = folder / "keys"
    key_file = keys / f"{participant}.key.pem"
    if not key_file.exists():
        write_private_key(key_file, fed.keys[participant], None)
    pseudonym = keys / "pseudonym.key"
    if not pseudonym.exists():
        write_secret(pseudonym, f"{EPOCH} {b64url_encode(PSEUDONYM_KEY)}\n".encode())
    manifest_file = folder / "manifest.json"
    manifest_file.write_bytes(manifest_json(manifest or fed.manifest))
    return Settings(
        participant=participant,
        key_file=key_file,
        manifest_file=manifest_file,
        pseudonym_key_file=pseudonym,
        database_url=url,
        run_workers=False,
    )


@contextmanager
def opened_trust_node(
    folder: Path,
    fed: TrustFederation,
    participant: str,
    clock: FixedClock,
    *,
    backend: str = "sqlite",
    template: Path | None = None,
) -> Iterator[NodeContext]:
    """``participant``'s node, opened in process on a database of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    with (
        node_database(backend, folder, template) as url,
        opened_context(write_node(folder, fed, participant, url), clock) as ctx,
    ):
        yield ctx


def audit_size(ctx: NodeContext) -> int:
    with transaction(ctx.engine) as session:
        return auditlog.head(session).size


def audit_entries(ctx: NodeContext, *, after: int = 0) -> list[dict[str, Any]]:
    """Every audit entry from seq ``after`` on, as its parsed JSON body."""
    with transaction(ctx.engine) as session:
        return [json.loads(r.body) for r in auditlog.iter_entries(session, start=after)]


def without_time(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("seq", "time")} for e in entries]


def outbox_items(ctx: NodeContext, recipient: str | None = None) -> list[Row[Any]]:
    """The outbox rows (of ``recipient``), each with its view, in the order queued."""
    items, texts = table_of(OutboxItem), table_of(OutboxView)
    query = (
        select_rows(items, texts.c.view)
        .join(texts, texts.c.item_id == items.c.id)
        .order_by(items.c.id)
    )
    if recipient is not None:
        query = query.where(items.c.recipient == recipient)
    with transaction(ctx.engine) as session:
        return list(session.execute(query).all())


def counter(metric: Any, **labels: str) -> float:
    """The value of a prometheus counter or gauge (with ``labels``)."""
    child = metric.labels(**labels) if labels else metric
    return float(child._value.get())


def issue(
    fed: TrustFederation,
    issuer: str,
    schema: str = "conflict-event/1",
    *,
    data: dict[str, Any] | None = None,
    hc: str = "H0",
    hcr: str | None = None,
    at: datetime = NOW,
) -> IssuedPacket:
    """A packet of ``issuer`` (the example record of ``schema`` unless ``data``)."""
    return issue_packet(
        data if data is not None else record(schema.split("/")[0]),
        schema=schema,
        issuer=issuer,
        key=fed.keys[issuer],
        kid=fed.kid(issuer),
        now=at,
        pseudonym_key=PSEUDONYM_KEY,
        pseudonym_epoch=EPOCH,
        hc=hc,
        hc_restriction=hcr,
    )


def policy_view(fed: TrustFederation, packet: IssuedPacket, recipient: str) -> str:
    return recipient_view(packet.sd_jwt, fed.manifest, recipient)


def hold(ctx: NodeContext, view: str, *, origin: str) -> int:
    """Store ``view`` as received from ``origin``; its row id."""
    verified = verify_view(view, ctx.manifest, recipient=None, now=ctx.clock.now())
    with transaction(ctx.engine) as session:
        new = packets.add_received(session, [verified], origin=origin, now=ctx.clock.now())
    return new[(verified.jti, verified.ref.digest)]


def disclosed(ctx: NodeContext, view: str, recipient: str | None = None) -> set[str]:
    """The claims ``view`` discloses (verified, for ``recipient``'s policy if given)."""
    return set(verify_view(view, ctx.manifest, recipient=recipient, now=ctx.clock.now()).disclosed)


FEDERATION = "un-integrated-analysis-demo"
#: Conflict events of mission in Idlib during 2016 (the example record is one).
IDLIB_2016: dict[str, Any] = {
    "query": {
        "schema": "conflict-event/1",
        "issuers": ["mission"],
        "area": ["Idlib"],
        "period": {"from": "2016-01-01", "to": "2016-12-31"},
    }
}
#: An event the query above does not cover (elsewhere).
ALEPPO = {"admin1": "Aleppo Governorate", "admin2": "Jebel Saman district", "place": "Aleppo"}


def authorise(
    fed: TrustFederation,
    *,
    recipient: str = "undp",
    fields: tuple[str, ...] = ("side_a", "side_b"),
    scope: Mapping[str, Any] = IDLIB_2016,
    issuer: str = "sanctions",
    issued: datetime = NOW,
    expires: datetime = NOW + timedelta(days=7),
) -> Authorisation:
    """An authorisation signed by ``issuer`` (sanctions has the oversight role)."""
    doc = build_authorisation(
        federation=FEDERATION,
        issuer=issuer,
        recipient=recipient,
        scope=scope,
        fields=list(fields),
        purpose="Inquiry into executions in Idlib, January 2016.",
        expires_at=expires,
        now=issued,
    )
    return sign_authorisation(doc, fed.keys[issuer])
