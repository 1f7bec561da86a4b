"""A delivery worker in its own process, for the two-process outbox test.

    python -m tests.node.storage._drain URL SCHEMA RECIPIENT OWNER OUT_FILE GO_FILE

Writes ``OUT_FILE.ready``, waits for ``GO_FILE`` (so that both workers start
together), then loops: claim up to 50 due items in one transaction, mark them
delivered in another, and append a line ``<changed> <id> <id> ...`` to
``OUT_FILE`` per batch (what ``mark_delivered`` changed, then the ids claimed),
until nothing is due. The file ends with ``done``.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import make_engine, transaction

BATCH = 50
LEASE = timedelta(minutes=10)


def drain(url: str, schema: str, recipient: str, owner: str, out: Path, go: Path) -> None:
    engine = make_engine(url, connect_args={"options": f"-c search_path={schema}"})
    try:
        with engine.connect():  # connect before the start signal
            pass
        out.with_suffix(".ready").touch()
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no start signal")
            time.sleep(0.005)
        with out.open("w") as record:
            while True:
                now = datetime.now(UTC)
                with transaction(engine) as session:
                    items = outbox.claim_due(
                        session, recipient=recipient, owner=owner, now=now, lease=LEASE, limit=BATCH
                    )
                    ids = [item.id for item in items]
                if not ids:
                    break
                with transaction(engine) as session:
                    kept = outbox.add_receipt(
                        session, recipient=recipient, jws=f"sent by {owner}", now=now
                    )
                    changed = outbox.mark_delivered(
                        session, receipts={i: (kept, k) for k, i in enumerate(ids)}, now=now
                    )
                record.write(" ".join(map(str, [changed, *ids])) + "\n")
                record.flush()
            record.write("done\n")
    finally:
        engine.dispose()


if __name__ == "__main__":
    url, schema, recipient, owner, out, go = sys.argv[1:]
    drain(url, schema, recipient, owner, Path(out), Path(go))
