"""The manifests this node accepted; the one with the highest serial is in force.

Each row keeps the document exactly as received (with its signatures), so the
chain of manifests a node ran on can be re-verified later, and replicas of one
node (one database) pick up a switch made by any of them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, col, select

from clearinghouse.node.storage._core import table_of, upsert_insert
from clearinghouse.node.storage.models import HeldManifest
from clearinghouse.protocol.manifest import Manifest

__all__ = ["add", "content_sha256", "history", "latest", "latest_serial", "newer_than"]


def content_sha256(manifest: Manifest) -> str:
    """SHA-256 (hex) of what the signatures cover: two copies of one manifest that
    differ only in their signatures have the same."""
    return hashlib.sha256(manifest.signing_input()).hexdigest()


def latest(session: Session) -> HeldManifest | None:
    return session.exec(select(HeldManifest).order_by(col(HeldManifest.serial).desc())).first()


def latest_serial(session: Session) -> int:
    row = session.exec(
        select(HeldManifest.serial).order_by(col(HeldManifest.serial).desc())
    ).first()
    return int(row or 0)


def history(session: Session) -> list[HeldManifest]:
    return list(session.exec(select(HeldManifest).order_by(col(HeldManifest.serial))))


def newer_than(session: Session, serial: int) -> list[HeldManifest]:
    """The stored manifests of a serial above ``serial``, oldest first."""
    query = select(HeldManifest).where(col(HeldManifest.serial) > serial)
    return list(session.exec(query.order_by(col(HeldManifest.serial))))


def add(
    session: Session, manifest: Manifest, document: bytes, *, source: str, now: datetime
) -> bool:
    """Store an accepted manifest; False if one with its serial is already stored
    (another replica switched first)."""
    table = table_of(HeldManifest)
    statement = (
        upsert_insert(session, table)
        .values(
            serial=manifest.serial,
            federation=manifest.federation,
            sha256=content_sha256(manifest),
            document=document.decode("utf-8"),
            source=source,
            accepted_at=now,
        )
        .on_conflict_do_nothing(index_elements=["serial"])
        .returning(table.c.serial)
    )
    return session.execute(statement).first() is not None
