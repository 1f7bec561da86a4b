"""The audit benchmark at a tiny size: every figure is in its JSON, and positive.

Never a timing threshold (the figures depend on the machine). Runs on SQLite, and
also on PostgreSQL when ``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.audit import BATCHES, main
from tests.databases import POSTGRES_URL

APPENDS = {"entries_per_transaction", "appends_per_s", "bare_insert_per_s",
           "ratio_to_bare_insert", "ratio_to_target"}  # fmt: skip
CONCURRENT = {"entries_per_transaction", "appends_per_s", "proofs_served_per_s",
              "appends_per_s_alone", "ratio_to_alone", "ratio_to_target"}  # fmt: skip
VERIFY = {"entries", "checkpoints", "entry_bytes_mean", "build_entries_per_s", "sha256_per_s"} | {
    f"{name}{suffix}"
    for name in ("verify_from_db", "read_db", "verifier_in_memory")
    for suffix in ("_per_s", "_ratio_to_sha256")
}
PROOFS = {"size", "samples", "point_select_median_us", "inclusion_hashes_mean",
          "consistency_hashes_mean"} | {
    f"{kind}_{what}"
    for kind in ("inclusion", "consistency")
    for what in ("serve_median_us", "verify_median_us", "ratio_to_select")
}  # fmt: skip


def _positive(figures: dict[str, Any], keys: set[str]) -> None:
    assert set(figures) == keys
    for key in keys:
        assert figures[key] > 0, key


def test_audit_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    argv = ["--entries", "300", "--checkpoint-every", "100", "--appends", "100"]
    argv += ["--samples", "5", "--out", str(out)]
    if POSTGRES_URL:
        argv += ["--postgres", POSTGRES_URL]

    result = main(argv)

    written = json.loads(out.read_text())
    assert written == result
    backends = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
    assert set(written) == {"entries", "checkpoint_every", "target_appends_per_s",
                            "public_logs_writes_per_s", *backends}  # fmt: skip
    for backend in backends:
        r = written[backend]
        assert set(r["appends"]) == {f"batch_{n}" for n in BATCHES}
        for figures in r["appends"].values():
            _positive(figures, APPENDS)
        _positive(r["appends_while_proving"], CONCURRENT)
        _positive(r["verify"], VERIFY)
        assert r["verify"]["entries"] == 300
        assert r["verify"]["checkpoints"] == 3
        _positive(r["proofs"], PROOFS)
        assert r["proofs"]["size"] == 300
