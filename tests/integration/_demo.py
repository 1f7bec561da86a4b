"""``clearinghouse demo`` through the real console script, and the one run the tests share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEMO_RECORDS", "DemoRun", "run_demo", "start_demo"]

EXE = shutil.which("clearinghouse", path=str(Path(sys.executable).parent)) or "clearinghouse"
#: Records of each feed in the shared run.
DEMO_RECORDS = 120


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    return subprocess.run(
        [EXE, "demo", *args], capture_output=True, text=True, env=env, timeout=600
    )


@dataclass(frozen=True)
class DemoRun:
    """A finished ``clearinghouse demo --records DEMO_RECORDS --dir root`` (nodes stopped)."""

    root: Path
    result: subprocess.CompletedProcess[str]
    summary: dict[str, Any]


def start_demo(base: Path) -> DemoRun:
    summary_file = base / "summary.json"
    root = base / "fed"
    result = run_demo(
        "--records", str(DEMO_RECORDS), "--summary", str(summary_file), "--dir", str(root)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return DemoRun(root, result, json.loads(summary_file.read_text()))
