"""A person's pseudonymous id: stable per node and person, unlinkable across nodes, and
without the ambiguity of a joined string."""

from __future__ import annotations

import re

from clearinghouse.node.auth.people import person_id

KEY = b"k" * 32


def test_the_same_person_at_the_same_provider_gets_the_same_id() -> None:
    first = person_id(KEY, "https://idp.example", "248289761001")
    assert first == person_id(KEY, "https://idp.example", "248289761001")
    assert re.fullmatch(r"p[a-z2-7]{26}", first)


def test_another_node_another_provider_or_person_gets_another_id() -> None:
    base = person_id(KEY, "https://idp.example", "alice")
    assert person_id(b"j" * 32, "https://idp.example", "alice") != base
    assert person_id(KEY, "https://other.example", "alice") != base
    assert person_id(KEY, "https://idp.example", "alicf") != base


def test_issuer_and_subject_cannot_be_shifted_into_each_other() -> None:
    # Joined with a separator, ("a:b", "c") and ("a", "b:c") could collide; JSON cannot.
    assert person_id(KEY, "https://idp.example/a", "b") != person_id(
        KEY, "https://idp.example", "a/b"
    )
    assert person_id(KEY, 'x", "y', "z") != person_id(KEY, "x", 'y", "z')
