"""The test signer: requests signed as one node signs them for another (RFC 9421).

Tests that play a peer build their request here, signed with
:func:`clearinghouse.node.transport.httpsig.sign_request` exactly as a node's
``PeerClient`` signs (``Content-Digest`` over the body, label ``ch``, ``created``,
``keyid`` and a fresh ``nonce``), by a participant's key from a federation's folder
(:func:`participant_key`), a key no participant holds, or at another time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.transport.httpsig import sign_request
from clearinghouse.protocol.keys import public_jwk

__all__ = ["SIGNATURE_HEADERS", "participant_key", "send", "signed_request"]

#: The headers a signed request carries besides its own.
SIGNATURE_HEADERS = ("content-digest", "signature-input", "signature")


def participant_key(root: Path, participant: str) -> Ed25519PrivateKey:
    """``participant``'s private key in the local federation folder ``root``."""
    return read_private_key(root / "keys" / f"{participant}.key.pem")


def signed_request(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key: Ed25519PrivateKey,
    kid: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
    content_type: str | None = "application/json",
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """A request to ``url`` signed with ``key``: as ``kid`` (default: the key's own id),
    at ``created`` (default: now), with ``nonce`` (default: a fresh one)."""
    fields = {"content-type": content_type} if content_type else {}
    request = httpx.Request(method, url, content=body, headers={**fields, **(headers or {})})
    return sign_request(
        request,
        key=key,
        key_id=kid or public_jwk(key)["kid"],
        created=created or datetime.now(UTC),
        nonce=nonce,
    )


def send(request: httpx.Request, timeout: float = 30) -> httpx.Response:
    """Send one prepared request on a client of its own."""
    with httpx.Client(timeout=timeout) as client:
        return client.send(request)
