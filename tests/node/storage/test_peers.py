"""``node.storage.peers``: request nonces against replays, catch-up cursors, counters."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from clearinghouse.node.storage import peers
from clearinghouse.node.storage.db import transaction
from tests.node.storage._support import NOW


def test_remember_nonce_refuses_a_replay_per_peer(engine: Engine) -> None:
    with transaction(engine) as session:
        assert peers.remember_nonce(session, peer="mission", nonce="n-1", now=NOW) is True
        assert peers.remember_nonce(session, peer="mission", nonce="n-1", now=NOW) is False
    with transaction(engine) as session:  # also once committed, and later
        later = NOW + timedelta(minutes=1)
        assert peers.remember_nonce(session, peer="mission", nonce="n-1", now=later) is False
        assert peers.remember_nonce(session, peer="unodc", nonce="n-1", now=NOW) is True
        assert peers.remember_nonce(session, peer="mission", nonce="n-2", now=NOW) is True


def test_purge_nonces_forgets_only_older_ones(engine: Engine) -> None:
    with transaction(engine) as session:
        for minutes, nonce in ((0, "old-1"), (1, "old-2"), (5, "edge"), (9, "new")):
            peers.remember_nonce(
                session, peer="mission", nonce=nonce, now=NOW + timedelta(minutes=minutes)
            )
    with transaction(engine) as session:
        assert peers.purge_nonces(session, before=NOW + timedelta(minutes=5)) == 2
        assert peers.purge_nonces(session, before=NOW + timedelta(minutes=5)) == 0
    with transaction(engine) as session:
        assert peers.remember_nonce(session, peer="mission", nonce="old-1", now=NOW) is True
        assert peers.remember_nonce(session, peer="mission", nonce="edge", now=NOW) is False
        assert peers.remember_nonce(session, peer="mission", nonce="new", now=NOW) is False


def test_cursors_only_move_forward(engine: Engine) -> None:
    with transaction(engine) as session:
        assert peers.get_cursor(session, "mission") == 0
        peers.set_cursor(session, "mission", 10, NOW)
    for cursor in (5, 10, 0):
        with transaction(engine) as session:
            peers.set_cursor(session, "mission", cursor, NOW + timedelta(minutes=1))
    with transaction(engine) as session:
        assert peers.get_cursor(session, "mission") == 10
        peers.set_cursor(session, "mission", 2**40, NOW)  # a BIGINT cursor
        peers.set_cursor(session, "unodc", 3, NOW)
    with transaction(engine) as session:
        assert peers.get_cursor(session, "mission") == 2**40
        assert peers.get_cursor(session, "unodc") == 3
        assert peers.get_cursor(session, "dpa") == 0


def test_counters_add_up_across_transactions(engine: Engine) -> None:
    with transaction(engine) as session:
        assert peers.counters(session) == {}
        peers.add_to_counter(session, "packets_received")
        peers.add_to_counter(session, "packets_received", 2)
        peers.add_to_counter(session, "views_refused", 0)  # adds nothing, creates nothing
    with transaction(engine) as session:
        peers.add_to_counter(session, "packets_received", 10)
        peers.add_to_counter(session, "views_refused", 4)
        peers.add_to_counter(session, "views_refused", -1)
    with transaction(engine) as session:
        assert peers.counters(session) == {"packets_received": 13, "views_refused": 3}


def test_a_counter_rolls_back_with_its_transaction(engine: Engine) -> None:
    with transaction(engine) as session:
        peers.add_to_counter(session, "acts", 1)
    try:
        with transaction(engine) as session:
            peers.add_to_counter(session, "acts", 5)
            raise RuntimeError("the act failed")
    except RuntimeError:
        pass
    with transaction(engine) as session:
        assert peers.counters(session) == {"acts": 1}
