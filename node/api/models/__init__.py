"""The API's wire models: every JSON answer and request body, and the problem document.

One module per resource; :mod:`node.api.openapi` puts them in the OpenAPI document and
:mod:`node.transport.api_client` parses the node's answers with the same classes.
"""

from clearinghouse.node.api.models.audit import (
    AuditAlert,
    AuditAlertList,
    AuditCheckpoint,
    AuditCheckpointList,
    AuditEntry,
    AuditEntryPage,
    AuditSearchPage,
    ConsistencyProofAnswer,
    CosignAnswer,
    Cosignature,
    CosignaturesIn,
    InclusionProofAnswer,
    WitnessedLog,
    WitnessedLogList,
)
from clearinghouse.node.api.models.federation import (
    BatchReceiptAnswer,
    FeedItem,
    FeedPage,
    PacketBatch,
    PacketsAnswer,
    ReceiptsAnswer,
    ReceiptSummary,
)
from clearinghouse.node.api.models.local import (
    AcceptedPacket,
    AnalyzerReport,
    HeldPacket,
    HeldPacketPage,
    NodeStats,
    RecordsAnswer,
    RecordsIn,
    RelayAnswer,
    RelayIn,
)
from clearinghouse.node.api.models.meta import (
    AuthorisationAnswer,
    Health,
    ManifestAnswer,
    Readiness,
    RecordSchema,
    SchemaList,
)
from clearinghouse.node.api.models.problem import FieldError, Problem, RejectedRecord
from clearinghouse.node.api.models.situation import Situation

__all__ = [
    "AcceptedPacket",
    "AnalyzerReport",
    "AuditAlert",
    "AuditAlertList",
    "AuditCheckpoint",
    "AuditCheckpointList",
    "AuditEntry",
    "AuditEntryPage",
    "AuditSearchPage",
    "AuthorisationAnswer",
    "BatchReceiptAnswer",
    "ConsistencyProofAnswer",
    "CosignAnswer",
    "Cosignature",
    "CosignaturesIn",
    "FeedItem",
    "FeedPage",
    "FieldError",
    "Health",
    "HeldPacket",
    "HeldPacketPage",
    "InclusionProofAnswer",
    "ManifestAnswer",
    "NodeStats",
    "PacketBatch",
    "PacketsAnswer",
    "Problem",
    "Readiness",
    "ReceiptSummary",
    "ReceiptsAnswer",
    "RecordSchema",
    "RecordsAnswer",
    "RecordsIn",
    "RejectedRecord",
    "RelayAnswer",
    "RelayIn",
    "SchemaList",
    "Situation",
    "WitnessedLog",
    "WitnessedLogList",
]
