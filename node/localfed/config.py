"""What a local federation is made of on disk: its federation config, tokens, node configs.

* :func:`restrict_federation`: a federation config (as in
  ``deploy/examples/federation.yaml``) cut down to some of its participants, each at
  the address it will have; ``clearinghouse federation restrict`` (which
  ``deploy/compose/init.sh`` runs) and :class:`~.federation.LocalFederation` both
  use it.
* :func:`make_tokens` / :func:`hash_tokens`: one bearer token per role, and the
  SHA-256 a node's config keeps instead.
* :func:`write_node_config`: the TOML file ``clearinghouse run --config`` reads; the
  one writer of node configs (``clearinghouse init`` and the local federation).
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from clearinghouse.node.settings import ROLES, Pkcs11Settings

__all__ = [
    "DEFAULT_PARTICIPANTS",
    "FEDERATION_YAML",
    "ROOT",
    "hash_tokens",
    "load_federation_config",
    "make_tokens",
    "restrict_federation",
    "write_node_config",
]

#: The checkout the local federation runs from (its nodes' working directory).
ROOT = Path(__file__).resolve().parents[2]
FEDERATION_YAML = ROOT / "deploy" / "examples" / "federation.yaml"
DEFAULT_PARTICIPANTS = ("mission", "unodc", "dpa", "undp", "sanctions")


def load_federation_config(path: Path = FEDERATION_YAML) -> dict[str, Any]:
    """A federation config file (YAML), as a dict. Raises ``OSError`` or
    ``yaml.YAMLError``, and ``ValueError`` if it is not a mapping with participants."""
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict) or not isinstance(config.get("participants"), list):
        raise ValueError(f"{path}: expected a mapping with a 'participants' list")
    return config


def restrict_federation(config: Mapping[str, Any], base_urls: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``config`` with only the participants ``base_urls`` names, each at its
    URL there: the policy keeps only the rules addressed to them, and the quorum is at
    most their number.

    Raises ``ValueError`` naming any participant the config does not have."""
    known = {entry["id"] for entry in config["participants"]}
    unknown = [p for p in base_urls if p not in known]
    if unknown:
        raise ValueError(f"no participant {', '.join(map(repr, unknown))} in the federation")
    restricted = copy.deepcopy(dict(config))
    restricted["participants"] = [
        {**entry, "base_url": base_urls[entry["id"]]}
        for entry in restricted["participants"]
        if entry["id"] in base_urls
    ]
    restricted["policy"] = {
        schema: {recipient: rules for recipient, rules in per.items() if recipient in base_urls}
        for schema, per in restricted.get("policy", {}).items()
    }
    restricted["quorum"] = min(restricted["quorum"], len(base_urls))
    return restricted


def make_tokens() -> tuple[dict[str, str], dict[str, str]]:
    """A fresh bearer token per role: (plaintext by role, SHA-256 by role)."""
    plain = {role: secrets.token_urlsafe(32) for role in ROLES}
    return plain, hash_tokens(plain)


def hash_tokens(plain: Mapping[str, str]) -> dict[str, str]:
    """The SHA-256 (hex) of each role's token: what a node's config holds."""
    return {role: hashlib.sha256(token.encode()).hexdigest() for role, token in plain.items()}


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _inline_table(section: Pkcs11Settings) -> str:
    """A TOML inline table (a key of the root table, wherever ``extra`` puts sections)."""
    values = section.model_dump(mode="json", exclude_none=True)
    return "{ " + ", ".join(f"{k} = {_toml_string(v)}" for k, v in values.items()) + " }"


def write_node_config(
    path: Path,
    *,
    participant: str,
    key_file: str | None,
    manifest_file: str,
    database_url: str,
    port: int,
    token_hashes: Mapping[str, str],
    pseudonym_key_file: str | None = None,
    pkcs11: Pkcs11Settings | None = None,
    extra: str = "",
) -> None:
    """Write the node config ``clearinghouse run --config`` reads: who it is, its key
    (``key_file``, or ``pkcs11``: a key in a token), manifest and database, where it
    listens, and its bearer tokens' hashes (relative paths are relative to the file).
    ``extra``: more TOML lines, as they are."""
    lines = [
        "# Clearinghouse node configuration (clearinghouse run --config THIS_FILE).",
        "# Relative paths are relative to this file. Environment variables",
        "# CLEARINGHOUSE_* override any setting here.",
        f"participant = {_toml_string(participant)}",
        *([f"key_file = {_toml_string(key_file)}"] if key_file is not None else []),
        *([f"pkcs11 = {_inline_table(pkcs11)}"] if pkcs11 is not None else []),
        f"manifest_file = {_toml_string(manifest_file)}",
        f"database_url = {_toml_string(database_url)}",
        'host = "127.0.0.1"',
        f"port = {port}",
    ]
    if pseudonym_key_file:
        lines.append(f"pseudonym_key_file = {_toml_string(pseudonym_key_file)}")
    lines.append(extra)
    for role, digest in token_hashes.items():
        lines += [
            "",
            "[[tokens]]",
            f"name = {_toml_string(role)}",
            f"role = {_toml_string(role)}",
            f"sha256 = {_toml_string(digest)}",
        ]
    path.write_text("\n".join(lines) + "\n")
