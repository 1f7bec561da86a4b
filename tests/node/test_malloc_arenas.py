"""``node.malloc_arenas``: the node caps glibc's malloc arenas unless the operator did."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from clearinghouse.node.malloc_arenas import limit_malloc_arenas

GLIBC = platform.libc_ver()[0] == "glibc"


def test_glibc_takes_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is GLIBC


def test_the_operators_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert limit_malloc_arenas() is False


def test_clearinghouse_run_caps_them_before_loading_its_settings() -> None:
    # run with a config that does not exist: it stops at loading the settings, after the
    # cap; the cap itself is checked in-process above, here only that run gets there
    code = (
        "import sys\n"
        "from unittest import mock\n"
        "import clearinghouse.node.cli.run as run\n"
        "with mock.patch.object(run, 'limit_malloc_arenas') as cap:\n"
        "    try:\n"
        "        run.run(config=__import__('pathlib').Path('/nonexistent/node.toml'))\n"
        "    except BaseException:\n"
        "        pass\n"
        "    sys.exit(0 if cap.call_count == 1 else 1)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
