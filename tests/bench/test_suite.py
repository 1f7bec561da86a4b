"""The benchmark suite's fast parts, run as ``python -m bench NAME``: each writes its JSON,
every figure in it positive. Never a timing threshold (the figures depend on the
machine). The parts that start federations take minutes and are left to
``make bench``; their pure helpers are checked here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._local import federation_config, participant_ids
from bench._report import loglog_slope
from bench.latency import percentile

ROOT = Path(__file__).resolve().parents[2]


def _bench(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _positive(figures: dict[str, Any], keys: set[str]) -> None:
    assert keys <= set(figures)
    for key in keys:
        assert isinstance(figures[key], int | float) and figures[key] > 0, key


def test_crypto_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "crypto.json"

    run = _bench("crypto", "--quick", "--out", str(out))

    assert run.returncode == 0, run.stderr
    written = json.loads(out.read_text())
    _positive(written, {"ed25519_sign_per_s", "ed25519_verify_per_s", "sha256_1kib_per_s",
                        "verify_to_sign", "operations", "message_bytes"})  # fmt: skip
    assert "Ed25519 verify" in run.stdout


def test_protocol_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "protocol.json"

    run = _bench("protocol", "--quick", "--records", "20", "--no-reference", "--out", str(out))

    assert run.returncode == 0, run.stderr
    written = json.loads(out.read_text())
    assert written["records"] == 20
    _positive(written["yardstick"], {"ed25519_sign_per_s", "ed25519_verify_per_s"})
    _positive(written["clearinghouse"], {"issue_per_s", "view_per_s", "verify_view_per_s",
                                         "verify_full_per_s", "packet_bytes"})  # fmt: skip
    _positive(written["ratios"], {"issue_vs_sign", "verify_view_vs_verify"})


def test_a_part_refuses_postgres_it_cannot_use(tmp_path: Path) -> None:
    run = _bench("memory", "--postgres", "postgresql://nowhere/x")

    assert run.returncode == 2
    assert "SQLite only" in run.stderr


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_generated_federations_have_n_participants_with_policies(n: int) -> None:
    config, ids = federation_config(n)

    assert ids == participant_ids(n) and len(set(ids)) == n
    assert [p["id"] for p in config["participants"]] == list(ids)
    for schema in ("conflict-event/1", "analysis-result/1"):
        assert set(config["policy"][schema]) == set(ids)
    assert all("analyzer" in p for p in config["participants"])


def test_the_protocol_only_federation_declares_no_analyzer() -> None:
    config, ids = federation_config(4, analysis=False)

    assert ids == ("mission", "unodc", "dpa", "undp")
    assert not any("analyzer" in p for p in config["participants"])


def test_the_fitted_exponent_and_percentiles() -> None:
    assert math.isclose(loglog_slope([4, 8, 16], [3, 12, 48]), 2.0)
    assert math.isclose(loglog_slope([4, 8, 16], [5, 5, 5]), 0.0, abs_tol=1e-12)
    assert percentile(list(range(1, 101)), 50) == 50
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([7.0], 95) == 7.0
