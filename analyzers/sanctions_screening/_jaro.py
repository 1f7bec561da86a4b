"""Jaro-Winkler similarity of two strings, in [0, 1] (1 = identical).

Jaro (1989): with ``m`` characters matching within a window of
``max(len) // 2 - 1`` positions and ``t`` half the number of matched characters
out of order, ``jaro = (m/|a| + m/|b| + (m - t)/m) / 3``. Winkler (1990) adds a
bonus for a common prefix of up to 4 characters:
``jw = jaro + l * p * (1 - jaro)`` with ``p = 0.1``. Names differ more often at
their end than at their start, which is what the bonus rewards.

Known values (Winkler's examples): ``MARTHA``/``MARHTA`` 0.961,
``DWAYNE``/``DUANE`` 0.84, ``DIXON``/``DICKSONX`` 0.813.
"""

from __future__ import annotations

__all__ = ["jaro_winkler"]

PREFIX_SCALE = 0.1
PREFIX_MAX = 4


def jaro_winkler(a: str, b: str) -> float:
    """The Jaro-Winkler similarity of ``a`` and ``b``."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    a_matched = [False] * len(a)
    b_matched = [False] * len(b)
    matches = 0
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_matched[j] and b[j] == char:
                a_matched[i] = b_matched[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    out_of_order = 0
    j = 0
    for i, char in enumerate(a):
        if a_matched[i]:
            while not b_matched[j]:
                j += 1
            if char != b[j]:
                out_of_order += 1
            j += 1
    m = float(matches)
    jaro = (m / len(a) + m / len(b) + (m - out_of_order / 2) / m) / 3
    prefix = 0
    for x, y in zip(a[:PREFIX_MAX], b[:PREFIX_MAX], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * PREFIX_SCALE * (1 - jaro)
