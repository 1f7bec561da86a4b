"""``node.services.audit_display.batch_views``: how a batch entry is summed up on the
audit pages."""

from __future__ import annotations

from clearinghouse.node.services.audit_display import batch_views


def test_an_analysis_batch_names_its_analyzer_and_counts_its_packets() -> None:
    body = {
        "act": "analysis.run",
        "analyzer": "dpa.spoiler-risk 1.2.0",
        "views": [{"jti": "a", "findings": 1}, {"jti": "b", "findings": 0, "error": "x"}],
    }
    shown = batch_views("analysis.run", None, body)
    assert shown is not None
    assert shown.summary == "2 packets analysed by dpa.spoiler-risk 1.2.0"
    assert [v["jti"] for v in shown.views] == ["a", "b"]


def test_a_sent_batch_tallies_its_statuses_and_an_old_entry_is_no_batch() -> None:
    views = [{"jti": "a", "status": "accepted"}, {"jti": "b", "status": "accepted"}]
    body = {"via": "push", "views": views}
    shown = batch_views("view.sent", "dpa", body)
    assert shown is not None and shown.summary == "2 views sent to dpa (push): 2 accepted"
    assert batch_views("analysis.run", None, {"jti": "a", "findings": 3}) is None
    assert batch_views("packet.issued", None, {"views": []}) is None
