"""A person's pseudonymous id: a keyed hash of the provider's issuer and subject.

Every peer can read a node's audit entries, so entries must not carry who a person
is: they name ``person:<id>``, where ``id`` is HMAC-SHA256 under a key only this
node (and its replicas, through the database) holds, of the issuer and subject in
canonical JSON (no separator ambiguity), truncated to 128 bits and written in
lowercase base32 with a ``p`` in front. The same person at the same provider always
gets the same id here; at another node, another one. The node's own directory
(:mod:`node.storage.people`) maps the id back to a name for its own pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from clearinghouse.protocol.encoding import canonical_json

__all__ = ["KEY_NAME", "person_id"]

#: The name of the node secret (``node_secret``) that keys the pseudonyms.
KEY_NAME = "person-id-key"
_ID_BYTES = 16


def person_id(key: bytes, issuer: str, subject: str) -> str:
    """The pseudonymous id of ``subject`` at ``issuer`` under ``key``."""
    mac = hmac.new(key, canonical_json([issuer, subject]), hashlib.sha256).digest()
    return "p" + base64.b32encode(mac[:_ID_BYTES]).decode("ascii").rstrip("=").lower()
