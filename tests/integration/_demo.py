"""``clearinghouse demo`` through the real console script: the one run the tests share,
and a run kept serving (``--keep-running``) until the test stops it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_RECORDS",
    "SIGN_IN_LINK",
    "DemoRun",
    "ServingDemo",
    "run_demo",
    "start_demo",
    "start_serving_demo",
]

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


#: The one-click sign-in a demo kept running prints.
SIGN_IN_LINK = re.compile(r"http://127\.0\.0\.1:\d+/ui/sign-in/[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ServingDemo:
    """``clearinghouse demo --keep-running ...`` running, its output in two files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def wait_serving(self, timeout: float = 300) -> str:
        """What it printed once it serves; fails if it exits or takes longer."""
        deadline = time.monotonic() + timeout
        while "press Ctrl+C" not in (printed := self.stdout.read_text()):
            assert self.process.poll() is None, self.stderr.read_text()[-3000:]
            assert time.monotonic() < deadline, f"not serving after {timeout:.0f} s"
            time.sleep(0.5)
        return printed


def start_serving_demo(base: Path, *args: str) -> ServingDemo:
    """``clearinghouse demo --keep-running ARGS`` started, printing to files in ``base``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    stdout, stderr = base / "serving.out", base / "serving.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [EXE, "demo", "--keep-running", *args], stdout=out, stderr=err, env=env
        )
    return ServingDemo(process, stdout, stderr)
