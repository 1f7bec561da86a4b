"""A chain of federation manifests, verified link by link from a trusted anchor.

DESIGN.md, "Federation manifest": a federation changes by a successor with a higher
serial, signed by at least the quorum of the participants of the manifest in force
before it. So what a node trusts is a chain: an *anchor* it trusts because its
operator configured it (the node's ``manifest_file``), then every successor since,
each vouched for by the one before. A node re-checks that chain when it starts and
before it switches to a manifest it finds stored, so that a manifest written into its
database by anyone but itself is never obeyed; a new member can join from a chain
rather than from one manifest.

One link (:func:`verify_successor`) is judged with the predecessor's participants,
keys and quorum **as of the successor's own** ``issued_at``: a key that a later
manifest rotates out or revokes does not undo what it signed while it was valid, and
a chain verifies the same whenever it is checked. The plan:

(1) same federation and a strictly higher serial. Serials need not be consecutive:
    a node that held serial 3 and was offered 5 verified 5 against 3, and the
    signatures decide, not the numbering;
(2) issued no earlier than the predecessor. With (3), a key the predecessor
    revokes from an instant no later than its own issue cannot sign a successor
    dated back to before the revocation;
(3) every signature by a participant of the predecessor, with a key the predecessor
    lists as valid and not revoked at the successor's ``issued_at``, verifying over
    the successor's canonical bytes; one bad signature rejects the successor;
(4) at least the predecessor's quorum of distinct participants signed.

Steps (1), (3) and (4) are :func:`protocol.manifest.verify_manifest` with ``held``
the predecessor and ``now`` the successor's ``issued_at``.

:func:`verify_anchor` checks an anchor that has no predecessor to vouch for it: a
quorum of its own participants signed it, with keys valid when it was issued.
:func:`verify_chain` verifies the successors of an anchor in order and returns a
:class:`VerifiedChain`. :func:`parse_manifest_chain` reads what a manifest file may
hold: one manifest (a JSON object), or a chain (a JSON array of manifests, oldest
first; the first is the anchor).

Errors: :class:`protocol.errors.ManifestRejected` for a document that is not a
manifest or a chain, for an anchor or a successor that does not verify;
:class:`protocol.errors.ManifestChainBroken` (a ``ManifestRejected``) from
:func:`verify_chain`, naming the serial that does not follow and the last that did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError, ManifestChainBroken, ManifestRejected
from clearinghouse.protocol.manifest import (
    Manifest,
    check_successor,
    parse_manifest,
    verify_manifest,
)

__all__ = [
    "VerifiedChain",
    "parse_manifest_chain",
    "verify_anchor",
    "verify_chain",
    "verify_successor",
]


@dataclass(frozen=True, slots=True)
class VerifiedChain:
    """An anchor and its successors, each verified against the one before it (built by
    :func:`verify_chain`)."""

    manifests: tuple[Manifest, ...]

    @property
    def anchor(self) -> Manifest:
        return self.manifests[0]

    @property
    def head(self) -> Manifest:
        """The newest manifest of the chain: the one in force."""
        return self.manifests[-1]


def verify_successor(manifest: Manifest, predecessor: Manifest) -> Manifest:
    """Check that ``manifest`` follows from ``predecessor``; return it or raise
    :class:`ManifestRejected` saying why (steps (1)-(4) of the module docstring)."""
    # (1): successor
    check_successor(manifest, predecessor)
    # (2): not dated before its predecessor
    if manifest.issued_at < predecessor.issued_at:
        raise ManifestRejected(
            f"manifest serial {manifest.serial} is issued at {manifest.issued_at.isoformat()},"
            f" before serial {predecessor.serial} ({predecessor.issued_at.isoformat()})"
            " that it follows"
        )
    # (3), (4): signatures and quorum of the predecessor, as of the successor's issue
    return verify_manifest(manifest, now=manifest.issued_at, held=predecessor)


def verify_anchor(manifest: Manifest) -> Manifest:
    """Check a manifest that nothing before it vouches for: signed by a quorum of its
    own participants, with keys valid at its ``issued_at``. Return it or raise
    :class:`ManifestRejected`."""
    return verify_manifest(manifest, now=manifest.issued_at)


def verify_chain(anchor: Manifest, successors: Sequence[Manifest]) -> VerifiedChain:
    """``anchor`` (trusted by the caller: configured, or verified before) and each of
    ``successors`` (ascending) verified against the one before it.

    Raises :class:`ManifestChainBroken` for the first successor that does not follow,
    with its serial, the serial of the last one that did, and why.
    """
    chain = [anchor]
    for manifest in successors:
        predecessor = chain[-1]
        try:
            verify_successor(manifest, predecessor)
        except ManifestRejected as exc:
            raise ManifestChainBroken(
                f"manifest serial {manifest.serial} does not follow from serial "
                f"{predecessor.serial}: {exc.message}",
                serial=manifest.serial,
                after=predecessor.serial,
            ) from exc
        chain.append(manifest)
    return VerifiedChain(tuple(chain))


def parse_manifest_chain(data: bytes | str) -> tuple[Manifest, ...]:
    """The manifests of a manifest file: one (a JSON object) or a chain (a non-empty
    JSON array of manifest objects in ascending serial order, the anchor first).

    Parses structure only (signatures: :func:`verify_anchor`, :func:`verify_chain`).
    Raises :class:`ManifestRejected` for anything else, naming the position of a
    manifest of a chain that is malformed.
    """
    try:
        doc = parse_json(data)
    except EncodingError as exc:
        raise ManifestRejected(f"manifest is not JSON: {exc.message}") from exc
    if isinstance(doc, dict):
        return (parse_manifest(doc),)
    if not isinstance(doc, list) or not doc:
        raise ManifestRejected(
            "a manifest file holds one manifest (a JSON object) or a chain of them "
            "(a non-empty JSON array, oldest first)"
        )
    chain: list[Manifest] = []
    for position, item in enumerate(doc, start=1):
        where = f"manifest {position} of the {len(doc)} in the chain"
        if not isinstance(item, Mapping):
            raise ManifestRejected(f"{where} is not a JSON object")
        try:
            manifest = parse_manifest(item)
        except ManifestRejected as exc:
            raise ManifestRejected(f"{where}: {exc.message}") from exc
        if chain and manifest.serial <= chain[-1].serial:
            raise ManifestRejected(
                f"{where} has serial {manifest.serial}, not higher than serial "
                f"{chain[-1].serial} before it; a chain is in ascending serial order"
            )
        chain.append(manifest)
    return tuple(chain)
