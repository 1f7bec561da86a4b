"""Nothing that must stay private reaches a node's log (README.md, "Observability").

Reads every line the nodes of the shared demo run wrote (``logs/<participant>.log``:
their stdout and stderr, uvicorn's lines included) and checks that

* every line is one JSON object with time, level, logger and message;
* no bearer token of any node, and no private key material (PEM armour, the PEM
  body or the raw key of any node, the pseudonymisation key) appears;
* no value that the policy withholds from a recipient appears in that recipient's
  log, for every record the originators ingested;
* no node logs a field value at all, shared or not: every distinctive value of every
  record, and every pseudonym issued for one, is absent from every log.

A value is distinctive if it has at least 12 characters and is not only digits and
punctuation (dates, numbers): short or common values ("1", "Syria") could occur in a
line for other reasons. Enough values are checked that the test cannot pass
vacuously.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.localfed import FEEDS, feed_items
from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.packet import pseudonym
from clearinghouse.protocol.schemas import get_schema
from tests.integration._demo import DEMO_RECORDS, DemoRun

MIN_LENGTH = 12
NOT_DISTINCTIVE = re.compile(r"[\d\s.,:;/+-]*")


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def distinctive(values: Any) -> set[str]:
    return {
        s
        for s in strings(values)
        if len(s.strip()) >= MIN_LENGTH and not NOT_DISTINCTIVE.fullmatch(s)
    }


def read_log(path: Path) -> tuple[str, str]:
    """The raw text of a log, and the decoded text of its lines' values; every line
    must be a JSON object of the node's format."""
    raw = path.read_text()
    decoded = []
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line[:300]!r}") from exc
        assert isinstance(entry, dict), f"{path.name}:{number}"
        assert {"time", "level", "logger", "message"} <= set(entry), f"{path.name}:{number}"
        decoded.append("\n".join(strings(entry)))
    return raw, "\n".join(decoded)


def records(schema: str, participant: str) -> list[dict[str, Any]]:
    """The records the demo ingested for one feed, as the originator holds them."""
    feed = next(f for f in FEEDS if f.schema == schema and f.participant == participant)
    spec = get_schema(schema)
    return [
        spec.validate_record(item)
        for _, item in feed_items(feed, DEMO_RECORDS)
        if isinstance(item, dict)
    ]


def values_by_recipient(manifest: Manifest) -> tuple[dict[str, set[str]], set[str]]:
    """(the distinctive values withheld from each recipient and shown to it by no other
    record, every distinctive field value of every record)."""
    withheld: dict[str, set[str]] = {p: set() for p in manifest.participant_ids}
    shown: dict[str, set[str]] = {p: set() for p in manifest.participant_ids}
    everything: set[str] = set()
    for feed in FEEDS:
        spec = get_schema(feed.schema)
        held = records(feed.schema, feed.participant)
        assert len(held) == DEMO_RECORDS
        everything |= distinctive(held)
        for recipient in manifest.sharing.recipients(feed.schema):
            if recipient == feed.participant:
                continue
            granted = manifest.sharing.granted_claims(spec, recipient)
            for record in held:
                for field, value in record.items():
                    # pseudonymised and generalised fields are withheld: only a derived
                    # claim is disclosed in their place
                    (shown if field in granted else withheld)[recipient] |= distinctive(value)
    return {p: withheld[p] - shown[p] for p in withheld}, everything


def pseudonyms(root: Path) -> set[str]:
    """The pseudonyms issued for the records' pseudonymised fields (e.g. ``side_a_ref``)."""
    key = read_pseudonym_key(root / "keys" / "pseudonym.key")
    out: set[str] = set()
    for feed in FEEDS:
        spec = get_schema(feed.schema)
        derived = [d for d in spec.derivations if d.treatment == "pseudonymise"]
        for record in records(feed.schema, feed.participant):
            for d in derived:
                if record.get(d.source) is not None:
                    identifiers = d.compute(record[d.source])
                    for identifier in strings(identifiers):
                        out.add(pseudonym(key.key, identifier))
    return out


def key_material(root: Path) -> set[str]:
    """Strings of every private key file: PEM body lines, raw key (base64 and base64url)."""
    out = {"PRIVATE KEY", "-----BEGIN"}
    for pem in sorted((root / "keys").glob("*.key.pem")):
        out |= {line for line in pem.read_text().splitlines() if not line.startswith("-----")}
        raw = read_private_key(pem).private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        out |= {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()[:43]}
    out.add(b64url_encode(read_pseudonym_key(root / "keys" / "pseudonym.key").key))
    return out


def test_node_logs_are_json_and_hold_no_secret_and_no_field_value(demo_run: DemoRun) -> None:
    root = demo_run.root
    manifest = parse_manifest((root / "manifest.json").read_bytes())
    participants = manifest.participant_ids
    logs = {p: read_log(root / "logs" / f"{p}.log") for p in participants}

    # Every line is JSON (the check is in read_log), uvicorn's and the access log's too;
    # peers' requests are logged with the peer and the request id.
    for p, (raw, _) in logs.items():
        lines = [json.loads(line) for line in raw.splitlines()]
        loggers = {line["logger"] for line in lines}
        assert {"uvicorn.error", "clearinghouse.access", "clearinghouse.node"} <= loggers, p
        access = [line for line in lines if line["logger"] == "clearinghouse.access"]
        assert all(line["request_id"] and line["participant"] == p for line in access)
        assert {line["peer"] for line in access if "peer" in line} == set(participants) - {p}

    # No bearer token of any node, in any log.
    state = json.loads((root / "state.json").read_text())
    tokens = {t for per_node in state["tokens"].values() for t in per_node.values()}
    assert len(tokens) == 4 * len(participants)
    secrets = tokens | key_material(root)
    for p, (raw, decoded) in logs.items():
        leaked = sorted(s for s in secrets if s in raw or s in decoded)
        assert not leaked, f"{p}'s log holds a token or key material: {leaked[0][:8]}…"

    # No value withheld from a recipient in that recipient's log.
    withheld, everything = values_by_recipient(manifest)
    checked = 0
    for recipient, values in withheld.items():
        decoded = logs[recipient][1]
        leaked = sorted(v for v in values if v in decoded)
        assert not leaked, f"{recipient}'s log holds values withheld from it: {leaked[:3]}"
        checked += len(values)
    assert checked >= 500, f"only {checked} withheld values checked"
    assert all(len(withheld[p]) >= 50 for p in ("dpa", "undp", "sanctions")), {
        p: len(v) for p, v in withheld.items()
    }

    # No field value at all, shared or not, in any log; nor any pseudonym.
    every_value = everything | pseudonyms(root)
    assert len(every_value) >= 300, len(every_value)
    for p, (_, decoded) in logs.items():
        leaked = sorted(v for v in every_value if v in decoded)
        assert not leaked, f"{p}'s log holds field values: {leaked[:3]}"
