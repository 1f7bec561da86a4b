"""``clearinghouse demo`` through the real console script, on a small slice of the data."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.integration._demo import DEMO_RECORDS, DemoRun, run_demo


def test_demo_runs_a_whole_federation_and_counts_exactly(demo_run: DemoRun) -> None:
    n_records = DEMO_RECORDS
    summary, result = demo_run.summary, demo_run.result
    nodes = summary["nodes"]
    assert set(nodes) == {"mission", "unodc", "dpa", "undp", "sanctions"}
    assert summary["feeds"] == {
        "UCDP events at mission": n_records,
        "UNODC seizures at unodc": n_records,
        "WFP prices at undp": n_records,
    }
    for p, n in nodes.items():
        assert (
            n["issued"]
            == (n_records if p in ("mission", "unodc", "undp") else 0) + n["results_issued"]
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
    described = json.loads((demo_run.root / "federation.json").read_text())
    mission = described["participants"]["mission"]
    assert mission["url"].startswith("http://127.0.0.1:") and mission["admin_token"]
    assert mission["public_jwk"]["kty"] == "OKP"
    assert Path(described["manifest"]).is_file()
    # Every token, the keys and every record: readable by the operator alone.
    secrets = [demo_run.root / "federation.json", demo_run.root / "state.json"]
    secrets += [*(demo_run.root / "keys").glob("*.key*"), *demo_run.root.glob("*.db")]
    assert len(secrets) == 2 + 6 + 5
    assert {str(p): stat.S_IMODE(p.stat().st_mode) for p in secrets} == {
        str(p): 0o600 for p in secrets
    }

    # Started again on the same folder, it reuses keys and manifest.
    manifest_before = Path(described["manifest"]).read_bytes()
    again = run_demo("--records", "10", "--dir", str(demo_run.root))
    assert again.returncode == 0, again.stderr[-3000:]
    assert Path(described["manifest"]).read_bytes() == manifest_before
