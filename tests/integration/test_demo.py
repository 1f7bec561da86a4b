"""``clearinghouse demo`` through the real console script, on a small slice of the data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXE = shutil.which("clearinghouse", path=str(Path(sys.executable).parent)) or "clearinghouse"


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    return subprocess.run(
        [EXE, "demo", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_demo_runs_a_whole_federation_and_counts_exactly(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    result = run_demo(
        "--records", "120", "--summary", str(summary_file), "--dir", str(tmp_path / "fed")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(summary_file.read_text())
    nodes = summary["nodes"]
    assert set(nodes) == {"mission", "unodc", "dpa", "undp", "sanctions"}
    assert summary["feeds"] == {
        "UCDP events at mission": 120,
        "UNODC seizures at unodc": 120,
        "WFP prices at undp": 120,
    }
    for p, n in nodes.items():
        assert (
            n["issued"] == (120 if p in ("mission", "unodc", "undp") else 0) + n["results_issued"]
        )
        assert n["received"] == n["accepted"] + n["duplicates"]
    # Every result reached every other participant.
    results = sum(n["results_issued"] for n in nodes.values())
    assert results > 0
    for n in nodes.values():
        assert n["results_received"] == results - n["results_issued"]
    assert sum(n["sent"] for n in nodes.values()) == sum(n["accepted"] for n in nodes.values())
    assert all(n["rejected"] == 0 and n["quarantined"] == 0 for n in nodes.values())
    assert summary["elapsed_s"] > 0
    assert "mission" in result.stdout and "Top five hotspots" in result.stdout
    assert summary["top_hotspots"] and summary["situation_url"].endswith("/ui/situation")
    described = json.loads((tmp_path / "fed" / "federation.json").read_text())
    mission = described["participants"]["mission"]
    assert mission["url"].startswith("http://127.0.0.1:") and mission["admin_token"]
    assert mission["public_jwk"]["kty"] == "OKP"
    assert Path(described["manifest"]).is_file()

    # Started again on the same folder, it reuses keys and manifest.
    manifest_before = Path(described["manifest"]).read_bytes()
    again = run_demo("--records", "10", "--dir", str(tmp_path / "fed"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert Path(described["manifest"]).read_bytes() == manifest_before
