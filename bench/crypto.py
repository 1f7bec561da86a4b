"""Crypto yardstick: what one core does with the primitives everything else is built on.

Ed25519 signs/s and verifies/s (``cryptography``, OpenSSL) over a message the size
of a packet's signing input, and SHA-256 of 1 KiB per second. The other parts
measure this again in their own run and print their figures beside it.

    python -m bench crypto [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._report import Row, figures, log, write_json
from bench._timing import rate

__all__ = ["MESSAGE_BYTES", "main", "yardstick"]

#: About the signing input of a conflict-event packet (header and payload, base64url).
MESSAGE_BYTES = 400


def yardstick(message_size: int = MESSAGE_BYTES, *, n: int = 3000) -> dict[str, float]:
    """Single-core Ed25519 signs/s and verifies/s, and SHA-256 of 1 KiB/s (best of 3)."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(message_size)
    signature = key.sign(message)
    kib = os.urandom(1024)
    return {
        "ed25519_sign_per_s": rate(lambda: [key.sign(message) for _ in range(n)], n),
        "ed25519_verify_per_s": rate(
            lambda: [public.verify(signature, message) for _ in range(n)], n
        ),
        "sha256_1kib_per_s": rate(
            lambda: [hashlib.sha256(kib).digest() for _ in range(n * 10)], n * 10
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench crypto",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, help="operations per timing (3,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 operations per timing")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    n = args.records or (1000 if args.quick else 3000)
    log(f"crypto: {n:,} operations per timing, best of 3, one core")
    stick = yardstick(MESSAGE_BYTES, n=n)
    out: dict[str, Any] = {
        "message_bytes": MESSAGE_BYTES,
        "operations": n,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "openssl": _openssl(),
        **stick,
        "verify_to_sign": stick["ed25519_verify_per_s"] / stick["ed25519_sign_per_s"],
    }
    sign = stick["ed25519_sign_per_s"]
    rows: list[Row | None] = [
        ("Ed25519 sign", f"{sign:,.0f}/s", "", ""),
        ("Ed25519 verify", f"{stick['ed25519_verify_per_s']:,.0f}/s",
         f"sign {sign:,.0f}/s", f"{out['verify_to_sign']:.2f}"),
        ("SHA-256 of 1 KiB", f"{stick['sha256_1kib_per_s']:,.0f}/s",
         f"sign {sign:,.0f}/s", f"{stick['sha256_1kib_per_s'] / sign:.1f}"),
    ]  # fmt: skip
    figures(f"crypto yardstick, one core ({out['openssl']})", rows)
    write_json(args.out, out)
    return out


def _openssl() -> str:
    from cryptography.hazmat.backends.openssl.backend import backend

    return str(backend.openssl_version_text())


if __name__ == "__main__":
    main()
