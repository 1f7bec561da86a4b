"""The manifests a node stored, verified as a chain from a trusted anchor.

A row of the ``manifest`` table is only a claim: anyone who can write the database
can add one. :mod:`node.services.manifests` obeys a stored manifest only if it
follows, link by link (:func:`protocol.manifest_chain.verify_chain`), from an anchor
the node trusts: the ``manifest_file`` at start-up (:func:`chain_at_start`), the
manifest in force while running (:func:`follow`). A break is described for the log
and the operator (:class:`ChainBreak`) and recorded once as ``manifest.chain_broken``
(:func:`record_break`). Stored manifests older than the anchor are history: not in
force, so not verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog, manifests
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import HeldManifest
from clearinghouse.protocol.audit import RESERVED
from clearinghouse.protocol.errors import ManifestChainBroken, ManifestRejected
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest
from clearinghouse.protocol.manifest_chain import (
    parse_manifest_chain,
    verify_anchor,
    verify_chain,
    verify_successor,
)

__all__ = [
    "ChainBreak",
    "StoredChainBroken",
    "StoredLink",
    "chain_at_start",
    "follow",
    "record_break",
]

log = logging.getLogger("clearinghouse.manifest")


@dataclass(frozen=True)
class StoredLink:
    """A manifest of the chain: the file's (``from_file``, parsed, its document to
    store) or a stored row's (its document, parsed when its turn comes)."""

    serial: int
    document: bytes
    manifest: Manifest | None = None
    from_file: bool = False

    @classmethod
    def stored(cls, row: HeldManifest) -> StoredLink:
        return cls(row.serial, row.document.encode("utf-8"))

    def read(self) -> Manifest:
        """The manifest; for a stored one, parsed from its document, which must be of the
        row's serial. Raises :class:`ManifestRejected`."""
        if self.manifest is not None:
            return self.manifest
        manifest = parse_manifest(self.document)
        if manifest.serial != self.serial:
            raise ManifestRejected(
                f"the row of serial {self.serial} holds a manifest of serial {manifest.serial}"
            )
        return manifest


@dataclass(frozen=True)
class ChainBreak:
    """The first link of a chain that does not follow, and why."""

    link: StoredLink
    error: ManifestChainBroken

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.link.document).hexdigest()

    def describe(self) -> str:
        return (
            f"stored {self.error.message}; this node did not accept that manifest (was its "
            f"database written to?): it is not obeyed. Find out how it got there, then delete "
            f"it (table manifest, serial {self.link.serial}, document SHA-256 {self.sha256})"
        )


class StoredChainBroken(Exception):
    """At start-up: a stored manifest the file does not hold does not follow (``broken``)."""

    def __init__(self, broken: ChainBreak) -> None:
        super().__init__(broken.error.message)
        self.broken = broken


def follow(
    anchor: Manifest, links: Sequence[StoredLink]
) -> tuple[list[Manifest], ChainBreak | None]:
    """The manifests of ``links`` that follow from ``anchor``, one after the other, up
    to the first that does not (returned with why; None if all do)."""
    parsed: list[Manifest] = []
    unreadable = None
    for link in links:
        try:
            parsed.append(link.read())
        except ManifestRejected as exc:
            after = parsed[-1].serial if parsed else anchor.serial
            error = ManifestChainBroken(
                f"manifest serial {link.serial} does not follow from serial {after}: {exc.message}",
                serial=link.serial,
                after=after,
            )
            unreadable = ChainBreak(link, error)
            break
    try:
        verify_chain(anchor, parsed)
    except ManifestChainBroken as exc:
        index = next(i for i, m in enumerate(parsed) if m.serial == exc.serial)
        return parsed[:index], ChainBreak(links[index], exc)
    return parsed, unreadable


def chain_at_start(session: Session, document: bytes, now: datetime) -> tuple[Manifest, datetime]:
    """The manifest in force from the ``manifest_file`` ``document`` and the stored
    ones, and since when (see :func:`node.services.manifests.startup_manifest`).

    Raises :class:`ManifestRejected` (a :class:`ManifestChainBroken` for a manifest of
    the file that does not follow) or :class:`StoredChainBroken`.
    """
    # Plan:
    # (1) the file: one manifest or a chain (oldest first); its first is the anchor;
    # (2) a serial both in the file and stored: the same content (signatures aside);
    # (3) the anchor: the stored manifest of its serial, or a successor of the stored
    #     one before it, or (none stored before it) signed by its own quorum;
    # (4) from the anchor on, the file's manifests and every stored one of a higher
    #     serial, in serial order, each follow from the one before: a break at a
    #     stored one is a manifest this node did not accept (StoredChainBroken);
    # (5) the file's manifests not stored yet are stored; the newest is in force.
    # (1): the file
    chain = parse_manifest_chain(document)
    is_list = document.lstrip().startswith(b"[")  # a chain: no one document per manifest
    documents = [manifest_json(m) for m in chain] if is_list else [document]
    anchor = chain[0]
    rows = {row.serial: row for row in manifests.history(session)}
    # (2): the same serial, the same content
    for manifest in chain:
        row = rows.get(manifest.serial)
        if row is not None and manifests.content_sha256(manifest) != row.sha256:
            raise ManifestRejected(
                f"it holds serial {manifest.serial}, but the manifest of that serial this "
                "node accepted has other content; a changed manifest needs a higher serial"
            )
    # (3): the anchor
    if anchor.serial not in rows:
        before = [serial for serial in rows if serial < anchor.serial]
        if before:
            verify_successor(anchor, StoredLink.stored(rows[max(before)]).read())
        else:
            verify_anchor(anchor)
    # (4): the chain from the anchor
    links = {
        m.serial: StoredLink(m.serial, doc, manifest=m, from_file=True)
        for m, doc in zip(chain, documents, strict=True)
    }
    for serial, row in rows.items():
        if serial > anchor.serial and serial not in links:
            links[serial] = StoredLink.stored(row)
    successors = [links[serial] for serial in sorted(links) if serial > anchor.serial]
    verified, broken = follow(anchor, successors)
    if broken is not None:
        if broken.link.from_file:
            raise broken.error
        raise StoredChainBroken(broken)
    # (5): store what only the file holds; the newest is in force
    for manifest, doc in zip(chain, documents, strict=True):
        if manifest.serial not in rows:
            manifests.add(session, manifest, doc, source="file", now=now)
    head = verified[-1] if verified else anchor
    row = rows.get(head.serial)
    if chain[-1].serial < head.serial and row is not None:
        log.info(
            "manifest_file holds serial %d; serial %d (accepted %s) is in force",
            chain[-1].serial,
            head.serial,
            row.accepted_at.isoformat(),
        )
    return head, row.accepted_at if row is not None else now


def record_break(engine: Engine, broken: ChainBreak, actor: str, now: datetime) -> bool:
    """Record ``broken`` as ``manifest.chain_broken`` unless it is the last such entry
    (a restart that fails again, a replica that found it first); True if written."""
    act = acts.manifest_chain_broken(
        actor, broken.link.serial, broken.sha256, broken.error.after, broken.error.message
    )
    with transaction(engine) as session:
        last = auditlog.search(session, act=act.act, limit=1)
        if last:
            body = json.loads(last[0].body)
            if {k: v for k, v in body.items() if k not in RESERVED} == dict(act.fields):
                return False
        auditlog.append(session, [act], now=now)
    return True
