"""Analyzer state: a JSON key-value store with change tracking and rollback.

The node keeps each analyzer's state in its database (table ``analyzer_state``)
and loads it into a :class:`State` at start. An analysis reads and writes keys;
the node then writes only the changed keys, in the same transaction as the
result, and calls :meth:`State.commit`; if that transaction fails it calls
:meth:`State.rollback`, so memory never runs ahead of the database and a crash
never yields a lost or doubled result.

Values are JSON data. :meth:`State.get` returns a copy: to change a value, assign
it back (``state[key] = value``). :meth:`State.peek` returns the value itself, for
reading only.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["State"]

_ABSENT = object()
_IMMUTABLE = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of JSON data, five times faster than :func:`copy.deepcopy` for the
    documents analyzers keep (a pickle round trip is done in C; these bytes never leave
    the process, so nothing foreign is ever unpickled). Scalars are immutable and
    returned as they are; anything else is copied by :func:`copy.deepcopy`."""
    kind = type(value)
    if kind is dict or kind is list:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


class State:
    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._undo: dict[str, Any] = {}
        self._savepoints: list[dict[str, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        """A copy of the value at ``key``, or of ``default`` when absent."""
        return _copy(self._values.get(key, default))

    def peek(self, key: str, default: Any = None) -> Any:
        """The value at ``key`` itself, not a copy, or ``default`` when absent: for
        reading only, where a copy would cost more than the reading (an analyzer that
        consults many documents per view). Never change what it returns."""
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def _remember(self, key: str) -> None:
        before = self._values.get(key, _ABSENT)
        self._undo.setdefault(key, before)
        if self._savepoints:
            self._savepoints[-1].setdefault(key, before)

    def __setitem__(self, key: str, value: Any) -> None:
        self._remember(key)
        self._values[key] = _copy(value)

    def __delitem__(self, key: str) -> None:
        self._remember(key)
        self._values.pop(key, None)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo the block's changes (only those) if it raises; keep them otherwise."""
        self._savepoints.append({})
        try:
            yield
        except BaseException:
            for key, before in self._savepoints.pop().items():
                if before is _ABSENT:
                    self._values.pop(key, None)
                else:
                    self._values[key] = before
            raise
        else:
            inner = self._savepoints.pop()
            if self._savepoints:
                for key, before in inner.items():
                    self._savepoints[-1].setdefault(key, before)

    def keys(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted (so that iteration is deterministic)."""
        return sorted(k for k in self._values if k.startswith(prefix))

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """(key, copy of value) for keys starting with ``prefix``, sorted."""
        for key in self.keys(prefix):
            yield key, _copy(self._values[key])

    def changes(self) -> tuple[dict[str, Any], list[str]]:
        """(changed keys and their values, deleted keys) since the last commit."""
        changed = {k: self._values[k] for k in sorted(self._undo) if k in self._values}
        deleted = sorted(k for k in self._undo if k not in self._values)
        return changed, deleted

    def commit(self) -> None:
        """The changes are stored: forget how to undo them."""
        self._undo.clear()
        self._savepoints.clear()

    def rollback(self) -> None:
        """Undo every change since the last commit."""
        for key, before in self._undo.items():
            if before is _ABSENT:
                self._values.pop(key, None)
            else:
                self._values[key] = before
        self._undo.clear()
        self._savepoints.clear()
