"""The analyzer state: values copied in and out, changes tracked, rollback and savepoints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clearinghouse.analyzers.state import State


def test_get_returns_a_copy_that_never_reaches_the_state() -> None:
    state = State({"k": {"months": ["2020-01"], "tally": {"events": 1}}})
    value = state.get("k")
    value["months"].append("2020-02")
    value["tally"]["events"] += 1
    assert state.get("k") == {"months": ["2020-01"], "tally": {"events": 1}}


def test_set_stores_a_copy_so_later_changes_to_the_callers_value_are_not_kept() -> None:
    state = State()
    value = {"a": [1, 2, {"b": None}], "f": 0.5, "t": True}
    state["k"] = value
    value["a"][2]["b"] = "changed"
    value["a"].append(3)
    assert state.get("k") == {"a": [1, 2, {"b": None}], "f": 0.5, "t": True}


def test_copies_keep_key_order_and_types() -> None:
    state = State()
    value = {"z": 1, "a": 2.0, "m": [None, False, "x", {"2": 1, "1": 2}]}
    state["k"] = value
    copied = state.get("k")
    assert copied == value
    assert list(copied) == ["z", "a", "m"]
    assert list(copied["m"][3]) == ["2", "1"]
    assert type(copied["a"]) is float and type(copied["m"][1]) is bool


def test_a_default_is_copied_too() -> None:
    state = State()
    default = {"months": []}
    state.get("absent", default)["months"].append("x")
    assert default == {"months": []}


def test_items_are_copies_in_key_order() -> None:
    state = State({"p:b": [1], "p:a": [2], "q": [3]})
    items = list(state.items("p:"))
    assert items == [("p:a", [2]), ("p:b", [1])]
    items[0][1].append(9)
    assert state.get("p:a") == [2]


def test_values_other_than_json_data_are_still_copied() -> None:
    state = State()
    value = {"amount": Decimal("1.5"), "pair": (1, [2])}
    state["k"] = value
    value["pair"][1].append(3)
    assert state.get("k") == {"amount": Decimal("1.5"), "pair": (1, [2])}


def test_rollback_restores_every_key_changed_since_the_last_commit() -> None:
    state = State({"kept": 1, "changed": {"n": 1}})
    state["changed"] = {"n": 2}
    state["new"] = [1]
    del state["kept"]
    assert state.changes() == ({"changed": {"n": 2}, "new": [1]}, ["kept"])
    state.rollback()
    assert state.get("kept") == 1 and state.get("changed") == {"n": 1} and "new" not in state
    assert state.changes() == ({}, [])


def test_a_savepoint_undoes_only_its_own_block() -> None:
    state = State({"a": 1})
    state["b"] = 2
    with pytest.raises(RuntimeError), state.savepoint():
        state["a"] = 10
        state["c"] = 3
        raise RuntimeError("analysis failed")
    assert state.get("a") == 1 and state.get("b") == 2 and "c" not in state
    state.commit()
    assert state.changes() == ({}, [])


def test_peek_reads_the_value_itself_without_copying() -> None:
    state = State({"k": {"months": ["2020-01"]}})
    assert state.peek("k") == {"months": ["2020-01"]}
    assert state.peek("k") is state.peek("k")  # no copy: for reading only
    assert state.peek("absent") is None
    assert state.peek("absent", []) == []
    assert state.changes() == ({}, [])
