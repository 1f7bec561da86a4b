"""``node.storage.analysis`` finding heads: which result last reported each finding."""

from __future__ import annotations

from sqlalchemy import Engine

from clearinghouse.node.storage import analysis
from clearinghouse.node.storage.analysis import Head
from clearinghouse.node.storage.db import transaction

FIRST = Head("01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e1f", "a" * 64, False)
LATER = Head("01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e20", "b" * 64, True)
KEY = '["escalation", "Syria / Idlib Governorate / 2019-05", "2019-05"]'
OTHER = '["sanctions-hit", "sanctions:QDe.115", null]'


def test_heads_are_upserted_per_analyzer_and_key(engine: Engine) -> None:
    with transaction(engine) as session:
        assert analysis.heads(session, "mission.security-risk", [KEY]) == {}
        analysis.save_heads(session, "mission.security-risk", {KEY: FIRST, OTHER: FIRST})
        analysis.save_heads(session, "dpa.spoiler-risk", {KEY: LATER})
    with transaction(engine) as session:  # a later version replaces the head, in place
        analysis.save_heads(session, "mission.security-risk", {KEY: LATER})
    with transaction(engine) as session:
        assert analysis.heads(session, "mission.security-risk", [KEY, OTHER, "[]"]) == {
            KEY: LATER,
            OTHER: FIRST,
        }
        assert analysis.heads(session, "dpa.spoiler-risk", [KEY, OTHER]) == {KEY: LATER}
        assert analysis.heads(session, "mission.security-risk", []) == {}


def test_a_long_finding_key_is_kept_whole(engine: Engine) -> None:
    key = '["imprecise-events", "' + "x" * 5000 + '", "2016"]'
    with transaction(engine) as session:
        analysis.save_heads(session, "mission.security-risk", {key: FIRST})
    with transaction(engine) as session:
        assert analysis.heads(session, "mission.security-risk", [key]) == {key: FIRST}
