"""Local ingest: a body's own records become packets and per-recipient views.

Each good record is issued as a packet; the packet and one view per recipient
granted anything by the policy are written in one transaction, before any network
I/O (DESIGN.md, "Outbox"). A bad record is reported with its index and reason and
never stops the good ones.

Only records come in this way. A schema that only the analysis pipeline issues
(``analysis-result/1``), or one the manifest does not let this node originate
(``originates``), is refused whole: 403 :class:`SchemaForbidden`, one
``record.rejected`` entry for the request, nothing issued.

Ingest is idempotent:

* per natural key (:meth:`protocol.schemas.SchemaSpec.natural_key`: a UCDP event
  id, a financial flow's id; seizures and market prices have none): a record whose
  key this node issued a packet for already is answered with that packet
  (``outcome: "duplicate"``, nothing issued) if it says the same
  (:meth:`~protocol.schemas.SchemaSpec.record_digest`), and refused with status 409
  (``record-conflict``, naming the packet held) if it says something else: a
  revision is never issued silently, and never dropped silently either. Two records
  with one key in a batch are treated the same way, the first one counting as held.
  Concurrent batches (replicas) race on the ``record_key`` primary key; the loser's
  transaction rolls back and is retried against what the winner stored.
* per request (:func:`submit_records`): a request sent with an ``Idempotency-Key``
  again with the same body gets the first answer again (:mod:`node.storage.idempotency`).

The steps live in private modules, one each: :mod:`._keys` (natural keys: new,
duplicate or revision), :mod:`._issue` (signing), :mod:`._store` (one transaction:
packets, views, keys, audit entries), :mod:`._refusals` (what is refused, recorded),
composed by :mod:`._pipeline` (:func:`ingest_records`); :mod:`._submit` answers the API
request once per ``Idempotency-Key`` (:func:`submit_records`).
"""

from clearinghouse.node.services.ingest._pipeline import ingest_records
from clearinghouse.node.services.ingest._result import (
    AcceptedRecord,
    IngestResult,
    RecordOutcome,
    RecordRejected,
)
from clearinghouse.node.services.ingest._submit import Answer, IdempotentRequest, submit_records

__all__ = [
    "AcceptedRecord",
    "Answer",
    "IdempotentRequest",
    "IngestResult",
    "RecordOutcome",
    "RecordRejected",
    "ingest_records",
    "submit_records",
]
