"""protocol/ stays pure: importing it pulls in no web, database or network framework."""

from __future__ import annotations

import subprocess
import sys

from clearinghouse import protocol
from tests.support import ROOT

FORBIDDEN = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "httpx", "uvicorn", "requests")


def test_importing_protocol_loads_no_framework() -> None:
    code = (
        "import sys, clearinghouse.protocol.packet, clearinghouse.protocol.manifest,"
        " clearinghouse.protocol.policy, clearinghouse.protocol.sdjwt;"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_public_surface_is_explicit() -> None:
    for name in protocol.__all__:
        assert hasattr(protocol, name), name
    assert "issue_packet" in protocol.__all__ and "verify_view" in protocol.__all__


def test_no_protocol_module_reads_files_or_the_clock() -> None:
    offenders = []
    for path in (ROOT / "protocol").rglob("*.py"):
        text = path.read_text()
        for needle in ("open(", "datetime.now", "time.time(", "read_text(", "read_bytes("):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []
