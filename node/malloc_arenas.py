"""Fewer glibc malloc arenas for the node process: the same work in less memory.

glibc gives threads their own malloc arenas, up to eight per core, and memory freed
in one arena serves only that arena. A node runs its blocking work on a pool of
threads (database transactions, verification, analysis), so each thread grew an arena
of its own: the originator of the four-node ``bench federation`` run peaked at 265 MiB
(budget 250). With two arenas it peaked at 187 MiB at the same rate (333 against 341
records/s, within run-to-run noise).

:func:`limit_malloc_arenas` asks glibc (``mallopt(M_ARENA_MAX, 2)``) before the node
starts its threads, unless the operator set ``MALLOC_ARENA_MAX`` (glibc's own
variable, which then wins). Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["ARENAS", "limit_malloc_arenas"]

#: glibc's ``M_ARENA_MAX`` option of ``mallopt`` (malloc.h)
_M_ARENA_MAX = -8
#: arenas the node runs with unless ``MALLOC_ARENA_MAX`` says otherwise
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's malloc arenas at ``arenas``; return whether glibc took it."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
