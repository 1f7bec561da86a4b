"""``verify_log``'s ``min_cosignatures`` with bounded witnessing: the log's k witnesses
(five participants: mission's log has three, sanctions, undp and unodc) bound what may
be required, ``all`` requires each of them, and any participant's valid cosignature
still counts (the log's own node takes cosignatures from any participant)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.node.audit_tool import (
    ALL_WITNESSES,
    CannotBeMet,
    VerificationFailed,
    open_database,
    verify_log,
)
from clearinghouse.node.audit_tool.verify import Summary
from tests.node.services._audit_support import AuditDatabase, audit_database
from tests.support import Federation

ASSIGNED = ("sanctions", "undp", "unodc")


@pytest.fixture
def log(tmp_path: Path, federation: Federation, migrated_sqlite: Path) -> Iterator[AuditDatabase]:
    """Checkpoint 10 cosigned by the three witnesses, 20 by two of them and dpa."""
    with audit_database("sqlite", tmp_path, federation, migrated_sqlite) as database:
        database.append(10)
        database.sign(witnesses=ASSIGNED)
        database.append(10)
        database.sign(witnesses=("dpa", "undp", "unodc"))
        yield database


def verified(log: AuditDatabase, min_cosignatures: int | str) -> Summary:
    with open_database(log.url, manifest=log.federation.manifest, manifest_source="test") as src:
        return verify_log(src, min_cosignatures=min_cosignatures)  # type: ignore[arg-type]


def test_the_summary_names_the_witnesses_the_manifest_assigns(log: AuditDatabase) -> None:
    summary = verified(log, 3)  # dpa is not assigned, its cosignature counts all the same
    assert summary.witnesses == ASSIGNED
    assert summary.cosignatures == {"dpa": 1, "sanctions": 1, "undp": 2, "unodc": 2}


def test_all_requires_as_many_as_the_log_has_witnesses(
    log: AuditDatabase, tmp_path: Path, federation: Federation, migrated_sqlite: Path
) -> None:
    assert verified(log, ALL_WITNESSES).checkpoints == 2
    (tmp_path / "short").mkdir()
    with audit_database("sqlite", tmp_path / "short", federation, migrated_sqlite) as short:
        short.append(4)
        short.sign(witnesses=("undp", "unodc"))
        short_of_one = r"has 2 valid witness cosignature\(s\) of the 3"
        with pytest.raises(VerificationFailed, match=short_of_one):
            verified(short, ALL_WITNESSES)


def test_more_than_the_witnesses_cannot_be_required(log: AuditDatabase) -> None:
    with pytest.raises(CannotBeMet) as caught:
        verified(log, 4)
    assert caught.value.message == (
        "4 witness cosignatures cannot be required of mission's log: the manifest (test,"
        " serial 1) assigns it 3 witness(es) (sanctions, undp, unodc); require at most 3,"
        " or all"
    )
    assert caught.value.exit_code == 2
