"""Test helpers shared across tiers: paths, frozen time, seeded keys, a demo federation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, build_manifest, sign_manifest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "deploy" / "examples"
VECTORS = Path(__file__).resolve().parent / "vectors"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
PARTICIPANTS = ("mission", "unodc", "dpa", "undp", "sanctions")


def seeded_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


@dataclass(frozen=True, repr=False)
class Federation:
    manifest: Manifest
    keys: dict[str, Ed25519PrivateKey]
    config: dict[str, Any]
    pseudonym_key: bytes
    pseudonym_epoch: str = "2026-11"

    def kid(self, participant: str) -> str:
        return public_jwk(self.keys[participant])["kid"]


def make_federation(
    config: dict[str, Any], *, signers: tuple[str, ...] = ("mission", "unodc", "dpa")
) -> Federation:
    config = {**config, "participants": [_declared(p) for p in config["participants"]]}
    keys = {p["id"]: seeded_key(p["id"]) for p in config["participants"]}
    jwks = {pid: [public_jwk(k)] for pid, k in keys.items()}
    manifest = build_manifest(config, jwks, issued_at=NOW.replace(year=2026, month=1, day=1))
    for signer in signers:
        manifest = sign_manifest(manifest, signer, keys[signer])
    return Federation(manifest, keys, config, hashlib.sha256(b"pseudonym key").digest())


def _declared(participant: dict[str, Any]) -> dict[str, Any]:
    """A fixed analyzer declaration in place of an id (protocol tests load no analyzer)."""
    analyzer = participant.get("analyzer")
    if not isinstance(analyzer, str):
        return participant
    digest = hashlib.sha256(analyzer.encode()).hexdigest()
    return {**participant, "analyzer": {"id": analyzer, "version": "1.0.0", "sha256": digest}}
