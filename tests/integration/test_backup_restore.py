"""A cold backup of a stopped node, restored elsewhere, rejoins its federation seamlessly.

The procedure proven, for the operator of one node (here ``unodc``, in a running
federation with mission and dpa):

1. Stop the node with SIGTERM and wait for it to exit (in-flight requests finish,
   its workers stop, its database connections close). Peers queue what they owe it.
2. While it is stopped, back up its database — SQLite: ``sqlite3 unodc.db ".backup
   FILE"``; PostgreSQL: ``pg_dump -Fc -n SCHEMA`` — together with its config file,
   private key, pseudonymisation key and the manifest.
3. (The database is lost: deleted here, SQLite file or PostgreSQL schema.)
4. Restore into a fresh place: the backup file copied into a new folder, or
   ``pg_restore`` into a new database; the config's ``database_url`` pointed there.
5. Start the node from the restored folder.

Then delivery to it resumes (events ingested at mission while it was down and after
it is back arrive), its own outbox drains, its audit log verifies end to end, no
witness raises an alert about it, and every peer cosigns its new checkpoints: the
restored log is exactly the one the witnesses had cosigned before the backup,
extended. (That holds because the backup was taken after the node stopped: a dump
older than the last checkpoint its witnesses cosigned is another, unsafe, matter.)

Runs on SQLite, and with ``CLEARINGHOUSE_TEST_POSTGRES_URL`` also with unodc on
PostgreSQL (the others stay on SQLite).
"""

from __future__ import annotations

import itertools
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from clearinghouse.node.importers.records_file import read_records
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.transport.records_upload import post_batches
from tests.databases import (
    POSTGRES_URL,
    drop_schema,
    in_schema,
    on_database,
    throwaway_database,
    throwaway_schema,
)
from tests.integration._nodes import (
    Databases,
    alerts,
    verify_audit_log,
    wait_witnessed,
    witnessed,
)
from tests.integration.test_audit_federation import FAST
from tests.integration.test_federation import assert_exact, events, ingest, packets_at, wait_settled
from tests.nodes import running_federation
from tests.support import EXAMPLES

PARTICIPANTS = ("mission", "unodc", "dpa")
PEERS = ("mission", "dpa")  # unodc's witnesses
SEIZURES = EXAMPLES / "data" / "unodc_drug_seizures_2018_2022.csv"
#: The files of unodc's folder a restore needs besides its database.
FILES = ("unodc.toml", "manifest.json", "keys/unodc.key.pem", "keys/pseudonym.key")


@pytest.fixture
def places() -> Iterator[ExitStack]:
    """PostgreSQL schemas and databases made by a test, dropped after its nodes stopped."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def fed(backend: str, tmp_path: Path, places: ExitStack) -> Iterator[LocalFederation]:
    urls = {}
    if backend == "postgres":
        _, urls["unodc"] = places.enter_context(throwaway_schema("backup"))
    with running_federation(
        tmp_path / "federation", PARTICIPANTS, database_urls=urls, config_extra=FAST
    ) as federation:
        yield federation


@pytest.fixture
def db(fed: LocalFederation) -> Iterator[Databases]:
    databases = Databases(fed)
    try:
        yield databases
    finally:
        databases.close()


def back_up(fed: LocalFederation, backend: str, to: Path) -> Path:
    """Step 2: copy the stopped node's database and folder into ``to``; return the dump."""
    node = fed.nodes["unodc"]
    for name in FILES:
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(fed.root / name, to / name)
    if backend == "sqlite":
        dump = to / "unodc.db.backup"
        source = node.database_url.removeprefix("sqlite:///")
        subprocess.run(["sqlite3", source, f".backup '{dump}'"], check=True, timeout=60)
        with sqlite3.connect(dump) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return dump
    dump = to / "unodc.pgdump"
    subprocess.run(
        ["pg_dump", "-Fc", "-n", schema_of(node.database_url), "-f", str(dump), POSTGRES_URL],
        check=True,
        timeout=60,
    )
    return dump


def lose(fed: LocalFederation, backend: str, db: Databases) -> None:
    """Step 3: the node's database is gone."""
    url = fed.nodes["unodc"].database_url
    db.close()
    if backend == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        for lost in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            lost.unlink(missing_ok=True)
        assert not path.exists()
        return
    drop_schema(schema_of(url))


def restore(
    fed: LocalFederation, backend: str, backup: Path, dump: Path, to: Path, places: ExitStack
) -> None:
    """Step 4: the backup in a fresh folder and database; the node's config points there."""
    shutil.copytree(backup, to)
    if backend == "sqlite":
        shutil.copy2(dump, to / "unodc.db")
        url = f"sqlite:///{to / 'unodc.db'}"
    else:
        schema = schema_of(fed.nodes["unodc"].database_url)
        fresh = places.enter_context(throwaway_database("restored"))
        server = on_database(POSTGRES_URL, fresh)
        subprocess.run(["pg_restore", "-d", server, str(dump)], check=True, timeout=60)
        url = in_schema(server, schema)
    config = to / "unodc.toml"
    text, replaced = re.subn(
        r"^database_url = .*$", f'database_url = "{url}"', config.read_text(), flags=re.M
    )
    assert replaced == 1
    config.write_text(text)
    node = fed.nodes["unodc"]
    node.config, node.database_url = config, url


def ingest_seizures(fed: LocalFederation, count: int) -> int:
    """``count`` real UNODC seizure records issued at unodc."""
    rows = itertools.islice(read_records(SEIZURES, "unodc-seizures", "seizure/1"), count)
    with fed.nodes["unodc"].client("submitter", timeout=120) as client:
        accepted, problems = post_batches(client, "seizure/1", rows, batch=50)
    assert problems == []
    return accepted


def seizures_at(fed: LocalFederation, participant: str) -> int:
    with fed.nodes[participant].client("analyst") as client:
        page = client.get(
            "/v1/local/packets", params={"origin": "unodc", "schema": "seizure/1", "limit": 1000}
        )
        return len(page.json()["items"])


def schema_of(url: str) -> str:
    found = re.search(r"search_path%3D(\w+)", url)
    assert found, url
    return found.group(1)


def test_a_node_restored_from_a_cold_backup_rejoins_its_federation(
    fed: LocalFederation, db: Databases, backend: str, tmp_path: Path, places: ExitStack
) -> None:
    assert ingest(fed, events(0, 100)) == 100
    wait_settled(fed)
    received = len(packets_at(fed, "unodc"))  # a read: recorded in the log (data.read)
    wait_witnessed(db, PARTICIPANTS)
    before = verify_audit_log(fed, "unodc", min_cosignatures=len(PEERS))
    assert before.checkpoints > 0 and before.last_checkpoint == before.entries
    cosigned = {p: witnessed(fed.nodes[p])["unodc"] for p in PEERS}
    assert all(c.size <= before.entries for c in cosigned.values())

    # 1-5: stop, back up, lose the database, restore elsewhere, start again.
    fed.stop("unodc")
    dump = back_up(fed, backend, tmp_path / "backup")
    assert ingest(fed, events(100, 20)) == 20  # owed to unodc while it is down
    lose(fed, backend, db)
    restore(fed, backend, tmp_path / "backup", dump, tmp_path / "restored", places)
    restored = verify_audit_log(fed, "unodc", min_cosignatures=len(PEERS))
    assert (restored.entries, restored.root) == (before.entries, before.root)
    fed.start("unodc")
    fed.wait_ready(participant="unodc")
    assert ingest(fed, events(120, 30)) == 30
    assert ingest_seizures(fed, 20) == 20  # the restored node issues again

    # Delivery resumed both ways, and every outbox drained.
    stats = wait_settled(fed)
    assert len(packets_at(fed, "unodc")) == received + 50
    assert seizures_at(fed, "mission") == seizures_at(fed, "dpa") == 20
    assert_exact(stats)
    assert not stats["unodc"]["pending"] and not stats["mission"]["pending"]
    # Its log grew from the restored one, verifies, and every peer cosigned what is new.
    wait_witnessed(db, PARTICIPANTS)
    after = verify_audit_log(fed, "unodc", min_cosignatures=len(PEERS))
    assert after.entries > before.entries and after.checkpoints > before.checkpoints
    assert db.value("unodc", "SELECT count(*) FROM audit_entry") == after.entries
    for p in PARTICIPANTS:
        assert alerts(fed.nodes[p]) == [], p
    for p in PEERS:
        now = witnessed(fed.nodes[p])["unodc"]
        assert now.size > cosigned[p].size
        root = db.value("unodc", "SELECT root FROM audit_checkpoint WHERE size = :s", s=now.size)
        assert bytes(root) == now.root
