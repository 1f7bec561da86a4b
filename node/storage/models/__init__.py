"""The node's tables (SQLModel), by concept. Storage models, not wire models.

* :mod:`.exchange`: ``packet``, ``outbox``, ``outbox_view``, ``delivery_receipt``,
  ``inbound_refusal``, ``seen_nonce``, ``peer_cursor``, ``node_counter``: the packets
  this node holds and their exchange with peers.
* :mod:`.analysis`: ``analysis_queue``, ``analysis_run``, ``analyzer_state``,
  ``finding_head``: this node's analyzer.
* :mod:`.audit`: ``audit_entry``, ``audit_entry_view``, ``audit_block``, ``audit_head``,
  ``audit_checkpoint``, ``audit_cosignature``, ``witnessed_log``, ``audit_alert``: the
  audit log and its witnessing.
* :mod:`.trust`: ``manifest``, ``authorisation``: manifests accepted and oversight
  authorisations.
* :mod:`.ingest`: ``record_key``, ``idempotency_key``: what local systems submitted.
* :mod:`.situation`: ``situation_finding``, ``packet_place``, ``packet_actor``: the
  situation index.

Each module says what its tables hold; importing this package registers them all on
``SQLModel.metadata`` (what Alembic compares the migrations with). The tables of who
may read (people, sessions, pending sign-ins, node secrets) are in
:mod:`node.storage.access_models`.
"""

from __future__ import annotations

from clearinghouse.node.storage.models._columns import BIG_ID, UTCDateTime
from clearinghouse.node.storage.models.analysis import (
    AnalysisQueue,
    AnalysisRun,
    AnalyzerStateEntry,
    FindingHead,
)
from clearinghouse.node.storage.models.audit import (
    AuditAlert,
    AuditBlock,
    AuditCheckpoint,
    AuditCosignature,
    AuditEntry,
    AuditEntryView,
    AuditHead,
    WitnessedLog,
)
from clearinghouse.node.storage.models.exchange import (
    DeliveryReceipt,
    InboundRefusal,
    NodeCounter,
    OutboxItem,
    OutboxView,
    PeerCursor,
    SeenNonce,
    StoredPacket,
)
from clearinghouse.node.storage.models.ingest import IdempotencyRecord, RecordKey
from clearinghouse.node.storage.models.situation import PacketActor, PacketPlace, SituationFinding
from clearinghouse.node.storage.models.trust import HeldManifest, OversightAuthorisation

__all__ = [
    "BIG_ID",
    "AnalysisQueue",
    "AnalysisRun",
    "AnalyzerStateEntry",
    "AuditAlert",
    "AuditBlock",
    "AuditCheckpoint",
    "AuditCosignature",
    "AuditEntry",
    "AuditEntryView",
    "AuditHead",
    "DeliveryReceipt",
    "FindingHead",
    "HeldManifest",
    "IdempotencyRecord",
    "InboundRefusal",
    "NodeCounter",
    "OutboxItem",
    "OutboxView",
    "OversightAuthorisation",
    "PacketActor",
    "PacketPlace",
    "PeerCursor",
    "RecordKey",
    "SeenNonce",
    "SituationFinding",
    "StoredPacket",
    "UTCDateTime",
    "WitnessedLog",
]
