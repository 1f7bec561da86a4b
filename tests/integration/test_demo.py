"""``clearinghouse demo`` through the real console script, on a small slice of the data:
once to the end (the nodes stop), then again on the same folder kept running until
Ctrl+C."""

from __future__ import annotations

import json
import signal
import stat
from pathlib import Path

import httpx

from clearinghouse.node.transport.local_api import node_ready
from tests.integration._demo import (
    DEMO_RECORDS,
    SIGN_IN_LINK,
    DemoRun,
    start_serving_demo,
)
from tests.ui_sessions import session_cookie


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
    assert summary["restarts"] == []  # no node went down
    # without --keep-running the run ends (the nodes stop), saying how to keep them
    assert "--keep-running keeps them serving" in result.stdout
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

    # Started again on the same folder, it reuses keys and manifest; kept running, it
    # serves with a one-click sign-in until Ctrl+C, which stops every node.
    manifest_before = Path(described["manifest"]).read_bytes()
    again = start_serving_demo(demo_run.root.parent, "--records", "10", "--dir", str(demo_run.root))
    try:
        printed = again.wait_serving()
        link = SIGN_IN_LINK.search(printed)
        assert link, printed
        assert f"common situation: {mission['url']}/ui/situation" in printed
        assert f"tokens: {demo_run.root / 'federation.json'}" in printed
        signed_in = httpx.get(link.group(0), follow_redirects=False, timeout=30)
        assert signed_in.status_code == 303
        assert session_cookie(signed_in)
        assert all(node_ready(p["url"]) for p in described["participants"].values())
    finally:
        again.process.send_signal(signal.SIGINT)
        returncode = again.process.wait(timeout=120)
    said = again.stderr.read_text()
    assert returncode == 0, said[-3000:]
    assert "every node stopped" in said and "Traceback" not in said
    assert not any(node_ready(p["url"]) for p in described["participants"].values())
    assert Path(described["manifest"]).read_bytes() == manifest_before
