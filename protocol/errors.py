"""The protocol layer's exception tree.

Every failure in ``protocol`` raises one of these; nothing else escapes a public
function (a foreign ``ValueError`` or ``KeyError`` is translated where it enters,
``raise ... from exc``). The node maps each class to an RFC 9457 problem type
through its ``code``.

    ProtocolError
    ├── EncodingError            malformed base64url, JSON, PEM or compact serialisation
    ├── KeyUnusable              a key cannot be loaded or has the wrong type
    ├── SchemaError
    │   ├── UnknownSchema        ``sch`` names no schema this code knows
    │   └── SchemaViolation      a record or a disclosed subset breaks its schema
    ├── PacketError
    │   ├── MalformedPacket      not an SD-JWT of ours (header, claims, structure)
    │   │   └── IssuedInFuture   ``iat`` ahead of the receiver's clock beyond the skew
    │   ├── SignatureInvalid     the issuer signature does not verify
    │   ├── DisclosureMismatch   a disclosure's digest is not in the signed payload
    │   ├── DuplicateDisclosure  a disclosure or digest occurs more than once
    │   ├── DuplicateClaim       a disclosed claim name already exists where it lands
    │   ├── OverDisclosure       a view discloses a field its policy withholds
    │   └── HandlingViolation    a view went where its handling code forbids (H2 relayed)
    ├── TrustError
    │   ├── UnknownIssuer        the issuer is not a participant of the manifest
    │   ├── UnknownKey           the key id is not one of the issuer's keys
    │   ├── KeyNotValid          the key is outside its validity window at that time
    │   └── KeyRevoked           the key was revoked
    ├── AnalyzerMismatch         a result's analyzer is not the one its issuer declared
    ├── SchemaNotOriginated      a record schema its issuer's ``originates`` does not list
    ├── ResultInputInvalid       a result's input is a packet its issuer cannot have received
    ├── PolicyError              a policy is malformed (unknown schema, field or treatment)
    ├── ManifestRejected         too few signatures, a lower serial, a bad signature, ...
    │   └── ManifestChainBroken  a manifest of a chain does not follow from the one before it
    ├── AuthorisationRejected    an oversight authorisation that is malformed, badly signed,
    │                            expired, out of scope, or not by an oversight participant
    ├── MerkleError              RFC 9162 §2.1 Merkle tree math (``protocol.merkle``)
    │   ├── MerkleInputError     an index or size the tree does not have, a hash not 32 bytes
    │   ├── InclusionProofInvalid    an inclusion proof fails RFC 9162 §2.1.3.2
    │   └── ConsistencyProofInvalid  a consistency proof fails RFC 9162 §2.1.4.2
    └── NoteError                C2SP signed notes, checkpoints, cosignatures (``protocol.notes``)
        ├── NoteMalformed        not a signed note: syntax, control characters, > 100 signatures
        │   └── CheckpointMalformed  the note text is not a tlog-checkpoint body
        └── NoteInvalid          the note does not verify against the given keys
            ├── NoteSignatureInvalid  a signature by a known key does not verify
            └── NoteUnverified   no signature by a known key (unknown keys are ignored)
    └── AuditError               audit log entries and whole logs (``protocol.audit``)
        ├── AuditEntryMalformed  an entry that is not canonical JSON with seq, time, act, actor
        └── AuditLogInvalid      a log that does not match its entries or checkpoints (``.seq``)
"""

from __future__ import annotations

__all__ = [
    "AnalyzerMismatch",
    "AuditEntryMalformed",
    "AuditError",
    "AuditLogInvalid",
    "AuthorisationRejected",
    "CheckpointMalformed",
    "ConsistencyProofInvalid",
    "DisclosureMismatch",
    "DuplicateClaim",
    "DuplicateDisclosure",
    "EncodingError",
    "HandlingViolation",
    "InclusionProofInvalid",
    "IssuedInFuture",
    "KeyNotValid",
    "KeyRevoked",
    "KeyUnusable",
    "MalformedPacket",
    "ManifestChainBroken",
    "ManifestRejected",
    "MerkleError",
    "MerkleInputError",
    "NoteError",
    "NoteInvalid",
    "NoteMalformed",
    "NoteSignatureInvalid",
    "NoteUnverified",
    "OverDisclosure",
    "PacketError",
    "PolicyError",
    "ProtocolError",
    "ResultInputInvalid",
    "SchemaError",
    "SchemaNotOriginated",
    "SchemaViolation",
    "SignatureInvalid",
    "TrustError",
    "UnknownIssuer",
    "UnknownKey",
    "UnknownSchema",
]


class ProtocolError(Exception):
    """Base of every protocol failure; ``code`` is stable and machine-readable."""

    code = "protocol-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EncodingError(ProtocolError):
    code = "encoding-error"


class KeyUnusable(ProtocolError):
    """A key cannot be loaded (bad PEM, wrong passphrase, not Ed25519)."""

    code = "key-unusable"


class SchemaError(ProtocolError):
    code = "schema-error"


class UnknownSchema(SchemaError):
    code = "unknown-schema"


class SchemaViolation(SchemaError):
    code = "schema-violation"


class PacketError(ProtocolError):
    code = "packet-error"


class MalformedPacket(PacketError):
    code = "malformed-packet"


class IssuedInFuture(MalformedPacket):
    """A packet's ``iat`` is ahead of the verifier's clock by more than the allowed skew.

    Not final: clocks converge, so the same view may verify later. ``ahead`` is how far
    past the allowed skew the ``iat`` is (whole seconds, at least 1): when to try again.
    """

    code = "issued-in-the-future"

    def __init__(self, message: str, *, ahead: int) -> None:
        super().__init__(message)
        self.ahead = ahead


class SignatureInvalid(PacketError):
    code = "signature-invalid"


class DisclosureMismatch(PacketError):
    code = "disclosure-mismatch"


class DuplicateDisclosure(PacketError):
    code = "duplicate-disclosure"


class DuplicateClaim(PacketError):
    code = "duplicate-claim"


class HandlingViolation(PacketError):
    """A view travelled where its handling code forbids: an H2 packet (no onward
    dissemination) relayed by anyone but its issuer."""

    code = "handling-violation"


class OverDisclosure(PacketError):
    """A view discloses something the recipient's policy withholds.

    ``field`` names the policy field (top-level record field) at fault.
    """

    code = "over-disclosure"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class TrustError(ProtocolError):
    code = "trust-error"


class UnknownIssuer(TrustError):
    code = "unknown-issuer"


class UnknownKey(TrustError):
    code = "unknown-key"


class KeyNotValid(TrustError):
    code = "key-not-valid"


class KeyRevoked(TrustError):
    code = "key-revoked"


class AnalyzerMismatch(ProtocolError):
    code = "analyzer-mismatch"


class SchemaNotOriginated(ProtocolError):
    """A packet of a record schema its issuer does not originate: the issuer's entry in
    the manifest lists in ``originates`` the record schemas it may issue, and not this one."""

    code = "schema-not-originated"


class ResultInputInvalid(ProtocolError):
    """A result names as its input a packet its issuer cannot have received (e.g. one
    issued by no participant of the federation)."""

    code = "result-input-invalid"


class PolicyError(ProtocolError):
    code = "policy-error"


class ManifestRejected(ProtocolError):
    code = "manifest-rejected"


class ManifestChainBroken(ManifestRejected):
    """A manifest of a chain does not follow from its predecessor
    (:func:`protocol.manifest_chain.verify_chain`).

    ``serial`` is the manifest that does not follow, ``after`` the serial of the last
    one that did (the anchor's, if the first successor fails); the message says why.
    """

    code = "manifest-chain-broken"

    def __init__(self, message: str, *, serial: int, after: int) -> None:
        super().__init__(message)
        self.serial = serial
        self.after = after


class AuthorisationRejected(ProtocolError):
    """An oversight authorisation that cannot be used (:mod:`protocol.authorisation`).

    The message names what is wrong: a malformed document, a signature that does
    not verify, an issuer without the oversight role, an expiry that has passed, a
    field its schema does not have, ...
    """

    code = "authorisation-rejected"


class MerkleError(ProtocolError):
    """Base of the RFC 9162 Merkle tree failures (:mod:`protocol.merkle`)."""

    code = "merkle-error"


class MerkleInputError(MerkleError):
    """A proof or subtree was asked for outside the tree, or a hash is not 32 bytes."""

    code = "merkle-input"


class InclusionProofInvalid(MerkleError):
    """An inclusion proof does not verify (RFC 9162 §2.1.3.2); the message names the check."""

    code = "inclusion-proof-invalid"


class ConsistencyProofInvalid(MerkleError):
    """A consistency proof does not verify (RFC 9162 §2.1.4.2); the message names the check."""

    code = "consistency-proof-invalid"


class NoteError(ProtocolError):
    """Base of the C2SP signed-note, checkpoint and cosignature failures (:mod:`protocol.notes`)."""

    code = "note-error"


class NoteMalformed(NoteError):
    """Not a well-formed signed note, signature line or note text."""

    code = "note-malformed"


class CheckpointMalformed(NoteMalformed):
    """The note text is not a C2SP tlog-checkpoint body."""

    code = "checkpoint-malformed"


class NoteInvalid(NoteError):
    """The note does not verify against the keys it was checked with."""

    code = "note-invalid"


class NoteSignatureInvalid(NoteInvalid):
    """A signature line by a known key (name and key id) does not verify."""

    code = "note-signature-invalid"


class NoteUnverified(NoteInvalid):
    """No signature line is by a known key, so nothing vouches for the text."""

    code = "note-unverified"


class AuditError(ProtocolError):
    """Base of the audit log failures (:mod:`protocol.audit`)."""

    code = "audit-error"


class AuditEntryMalformed(AuditError):
    """An entry that is not canonical JSON with seq, time, a known act and an actor."""

    code = "audit-entry-malformed"


class AuditLogInvalid(AuditError):
    """A log that fails verification; ``seq`` is the first bad entry (None: not an entry)."""

    code = "audit-log-invalid"

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq
