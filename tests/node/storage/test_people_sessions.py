"""People, sessions and pending sign-ins in storage, on SQLite and PostgreSQL.

A node secret is made once and read the same by every later (or concurrent) caller;
a person is added, then brought up to date (or only read); a session is found by its
digest, touched, ended one by one or all of a principal's at once, and purged at its
absolute or idle end; a pending sign-in is taken once, and not after it expired.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from clearinghouse.node.storage import people, sessions
from clearinghouse.node.storage.db import transaction
from tests.node.storage._support import NOW

MINUTE = timedelta(minutes=1)


def test_a_node_secret_is_made_once_whoever_asks_first(engine: Engine) -> None:
    def ask(_: int) -> str:
        with transaction(engine) as session:
            return people.node_secret(session, "person-id-key")

    with ThreadPoolExecutor(4) as pool:
        values = set(pool.map(ask, range(8)))
    assert len(values) == 1 and len(values.pop()) == 43  # 256 bits, base64url
    with transaction(engine) as session:
        assert people.node_secret(session, "other") != people.node_secret(session, "person-id-key")


def test_a_person_is_added_then_kept_up_to_date(engine: Engine) -> None:
    def remember(name: str, roles: tuple[str, ...], at: timedelta, *, update: bool) -> str:
        with transaction(engine) as session:
            return people.remember(
                session,
                person_id="pabc",
                issuer="https://idp.example",
                subject="248289761001",
                display_name=name,
                email="jane@example.org",
                roles=roles,
                now=NOW + at,
                update=update,
            )

    assert remember("Jane", ("analyst",), timedelta(0), update=True) == "Jane"
    assert remember("248289761001", ("analyst",), MINUTE, update=False) == "Jane"  # read only
    assert remember("Jane Doe", ("auditor", "analyst"), 2 * MINUTE, update=True) == "Jane Doe"
    with transaction(engine) as session:
        held = people.get(session, "pabc")
        assert held is not None
        assert (held.display_name, held.roles) == ("Jane Doe", "analyst,auditor")
        assert (held.first_seen_at, held.last_seen_at) == (NOW, NOW + 2 * MINUTE)
        assert people.display_names(session, ["pabc", "pnone"]) == {"pabc": "Jane Doe"}
        assert [p.id for p in people.known(session)] == ["pabc"]


def add(engine: Engine, digest: str, principal: str, *, kind: str = "token") -> None:
    with transaction(engine) as session:
        sessions.add_session(
            session,
            id_sha256=digest,
            kind=kind,
            principal=principal,
            roles=("analyst",),
            now=NOW,
            expires_at=NOW + 60 * MINUTE,
        )


def test_sessions_are_found_touched_and_ended(engine: Engine) -> None:
    add(engine, "a" * 64, "ops")
    add(engine, "b" * 64, "ops")
    add(engine, "c" * 64, "pjane", kind="person")
    with transaction(engine) as session:
        found = sessions.find_session(session, "a" * 64)
        assert found is not None and (found.kind, found.principal, found.roles) == (
            "token",
            "ops",
            ("analyst",),
        )
        sessions.touch(session, "a" * 64, NOW + 5 * MINUTE)
    with transaction(engine) as session:
        touched = sessions.find_session(session, "a" * 64)
        assert touched is not None and touched.last_seen_at == NOW + 5 * MINUTE
        assert sessions.end_session(session, "c" * 64) is True
        assert sessions.end_session(session, "c" * 64) is False
        assert sessions.end_for(session, "token", "ops") == 2
        assert sessions.find_session(session, "a" * 64) is None


def test_ended_sessions_and_expired_sign_ins_are_purged(engine: Engine) -> None:
    add(engine, "a" * 64, "busy")
    add(engine, "b" * 64, "idle")
    with transaction(engine) as session:
        sessions.touch(session, "a" * 64, NOW + 40 * MINUTE)
        sessions.add_login(
            session, state_sha256="s" * 64, code_verifier="v", nonce="n", expires_at=NOW + MINUTE
        )
    with transaction(engine) as session:  # idle for 30 minutes before NOW + 45
        assert sessions.purge(session, NOW + 45 * MINUTE, NOW + 15 * MINUTE) == 2
        assert sessions.find_session(session, "a" * 64) is not None
    with transaction(engine) as session:  # the absolute end passed
        assert sessions.purge(session, NOW + 60 * MINUTE, NOW) == 1


def test_a_pending_sign_in_is_taken_once_and_not_late(engine: Engine) -> None:
    with transaction(engine) as session:
        for state in ("x" * 64, "y" * 64):
            sessions.add_login(
                session, state_sha256=state, code_verifier="v" * 86, nonce="n", expires_at=NOW
            )
    with transaction(engine) as session:
        taken = sessions.take_login(session, "x" * 64, NOW - MINUTE)
        assert taken is not None and taken.code_verifier == "v" * 86
    with transaction(engine) as session:
        assert sessions.take_login(session, "x" * 64, NOW - MINUTE) is None  # once
        assert sessions.take_login(session, "y" * 64, NOW) is None  # expired
    with transaction(engine) as session:
        assert sessions.take_login(session, "y" * 64, NOW - MINUTE) is None  # and gone
