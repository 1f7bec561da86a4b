"""Changing a running federation: successor manifests, proposed offline.

DESIGN.md, "Federation manifest": a federation changes by a new manifest whose
``serial`` is one higher, signed by at least the quorum of the participants of the
manifest nodes hold now (the *held* one). Key rotation is a new manifest with an
overlapping key; revocation is a new manifest marking the key revoked.

Each function here takes the held manifest and returns an **unsigned** successor
(``serial + 1``, ``issued_at`` = ``now`` in whole seconds, no signatures) that has
passed :func:`protocol.manifest.parse_manifest`:

* :func:`propose`: add or remove participants, replace the policy, set the quorum;
* :func:`rotate_key`: add a participant's new key and end its current keys after an
  overlap;
* :func:`revoke_key`: mark one key revoked from an instant on.

Keys are never deleted from a participant that stays: packets, requests and
checkpoints signed with an old key during its validity must still verify against
every later manifest (:func:`protocol.manifest.signing_key`). A participant that is
removed takes its keys with it; its signatures are then no longer checked.

Signatures are collected detached (:func:`protocol.manifest.detached_signature`)
and added with :func:`merge_signatures`, which checks each one against the held
manifest. :func:`describe_changes` says, line by line, what a successor changes,
so that a signer sees what it signs.

Every refusal raises :class:`protocol.errors.ManifestRejected` saying what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from clearinghouse.protocol.encoding import b64url_decode, parse_json
from clearinghouse.protocol.errors import (
    EncodingError,
    KeyUnusable,
    ManifestRejected,
    ProtocolError,
    UnknownKey,
)
from clearinghouse.protocol.keys import jwk_thumbprint, public_key_from_jwk
from clearinghouse.protocol.manifest import (
    AnalyzerDeclaration,
    Manifest,
    ManifestKey,
    ManifestSignature,
    Participant,
    check_successor,
    expand_policy,
    manifest_json,
    parse_manifest,
    signing_key,
    with_signatures,
)

__all__ = [
    "DEFAULT_KEY_VALIDITY",
    "describe_changes",
    "merge_signatures",
    "parse_signature",
    "propose",
    "revoke_key",
    "rotate_key",
]

#: Validity of a key added without an explicit ``not_after`` (as ``build_manifest``).
DEFAULT_KEY_VALIDITY = timedelta(days=730)


def propose(
    held: Manifest,
    *,
    now: datetime,
    add_participants: Iterable[Mapping[str, Any]] = (),
    remove_participants: Iterable[str] = (),
    policy: Mapping[str, Any] | None = None,
    quorum: int | None = None,
) -> Manifest:
    """An unsigned successor of ``held`` with participants added or removed, a new
    policy or a new quorum.

    An added participant is a mapping with ``id``, ``name``, ``base_url``, optional
    ``roles`` and ``analyzer`` (``{id, version, sha256}``), and ``keys``: public JWKs,
    each with optional ``not_before``/``not_after`` (default ``now`` and ``now`` +
    730 days). A removed participant leaves with its keys, every policy rule
    naming it as recipient, and every declared ``witnesses`` entry naming it (a
    declaration left empty goes: the default assignment applies). ``policy``
    replaces the whole policy, per field or per treatment
    (:func:`protocol.manifest.expand_policy`).

    Raises :class:`ManifestRejected`: an unknown participant to remove, one added
    that exists or has an unusable or duplicate key, fewer participants than the
    quorum (unless ``quorum`` is given), a quorum out of range, a policy naming an
    unknown schema, field or participant.
    """
    doc, stamp = _successor(held, now)
    # (1): removals, with the policy rules addressed to those removed
    removing = list(remove_participants)
    for pid in removing:
        if removing.count(pid) > 1:
            raise ManifestRejected(f"participant {pid!r} is named twice for removal")
        if pid not in held.participant_ids:
            raise ManifestRejected(
                f"cannot remove {pid!r}: not a participant of {held.federation} "
                f"(serial {held.serial})"
            )
    gone = set(removing)
    doc["participants"] = [
        _without_witnesses(p, gone) for p in doc["participants"] if p["id"] not in gone
    ]
    doc["policy"] = {
        schema: {r: rules for r, rules in per_recipient.items() if r not in gone}
        for schema, per_recipient in doc.get("policy", {}).items()
    }
    # (2): additions
    for entry in add_participants:
        doc["participants"].append(_new_participant(entry, doc, gone, stamp))
    # (3): policy
    if policy is not None:
        doc["policy"] = expand_policy(policy)
    # (4): quorum
    count = len(doc["participants"])
    if count == 0:
        raise ManifestRejected("a manifest needs at least one participant; none would remain")
    if quorum is not None:
        if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= count:
            raise ManifestRejected(
                f"quorum {quorum!r} is out of range: between 1 and the {count} participants"
            )
        doc["quorum"] = quorum
    elif doc["quorum"] > count:
        raise ManifestRejected(
            f"removing {', '.join(sorted(gone))} leaves {count} participant(s), fewer than "
            f"the quorum {doc['quorum']}; give a new quorum"
        )
    return parse_manifest(doc)


def rotate_key(
    held: Manifest,
    participant: str,
    new_jwk: Mapping[str, Any],
    *,
    now: datetime,
    overlap: timedelta,
    validity: timedelta = DEFAULT_KEY_VALIDITY,
) -> Manifest:
    """An unsigned successor of ``held`` where ``participant`` gets ``new_jwk``.

    The new key is valid from ``now`` for ``validity``. Each of the participant's
    keys usable at ``now`` (valid, not revoked) ends at ``now + overlap`` unless it
    ends earlier already; it stays in the manifest, so what it signed until then
    keeps verifying. Keys not usable now are left as they are.

    Raises :class:`ManifestRejected`: an unknown participant, an unusable key or
    one already in the manifest, an overlap or validity that is not positive.
    """
    doc, stamp = _successor(held, now)
    if overlap <= timedelta(0):
        raise ManifestRejected(
            f"overlap {overlap} is not positive; to end a key at once, revoke it"
        )
    if validity <= timedelta(0):
        raise ManifestRejected(f"validity {validity} is not positive")
    owner = _held_participant(held, participant)
    entry = next(p for p in doc["participants"] if p["id"] == participant)
    new_key = _manifest_key(new_jwk, participant, _taken_kids(doc), stamp, stamp + validity)
    ends = stamp + overlap
    for key in owner.keys:
        if not _usable(key, stamp):
            continue
        if key.not_after is None or ends < key.not_after:
            key_doc = next(k for k in entry["keys"] if k["kid"] == key.kid)
            key_doc["not_after"] = _instant(ends, "overlap end")
    entry["keys"].append(new_key)
    return parse_manifest(doc)


def revoke_key(
    held: Manifest, participant: str, kid: str, *, at: datetime, now: datetime
) -> Manifest:
    """An unsigned successor of ``held`` where ``participant``'s key ``kid`` is revoked
    from instant ``at`` on (signatures made at or after ``at`` are refused).

    ``at`` may lie in the future (a planned revocation) or in the past (a key
    compromised since then), but not before the key's ``not_before``.

    Raises :class:`ManifestRejected`: an unknown participant or key, a key already
    revoked, ``at`` before the key's validity or without a time zone.
    """
    doc, _ = _successor(held, now)
    at_text = _instant(at, "at")
    owner = _held_participant(held, participant)
    key = next((k for k in owner.keys if k.kid == kid), None)
    if key is None:
        raise ManifestRejected(
            f"{participant!r} has no key {kid!r} in the held manifest (serial {held.serial})"
        )
    if key.revoked:
        since = f" since {key.revoked_at.isoformat()}" if key.revoked_at else ""
        raise ManifestRejected(f"key {kid} of {participant!r} is already revoked{since}")
    if at < key.not_before:
        raise ManifestRejected(
            f"cannot revoke key {kid} of {participant!r} at {at.isoformat()}: that is before "
            f"the key's not_before {key.not_before.isoformat()}"
        )
    entry = next(p for p in doc["participants"] if p["id"] == participant)
    key_doc = next(k for k in entry["keys"] if k["kid"] == kid)
    key_doc["revoked"] = True
    key_doc["revoked_at"] = at_text
    return parse_manifest(doc)


def merge_signatures(
    proposal: Manifest,
    signatures: Iterable[ManifestSignature],
    *,
    held: Manifest | None,
    now: datetime | None = None,
) -> Manifest:
    """``proposal`` with detached ``signatures`` added, each checked first.

    Each signature must be by a participant of ``held`` (of ``proposal`` when
    ``held`` is None, for a first manifest), with one of its keys there, and verify
    over ``proposal.signing_input()``; with ``now``, the key must also be valid and
    not revoked at ``now`` (as :func:`protocol.manifest.verify_manifest` will
    require). A signature by the same signer and key as one already present
    replaces it. Whether a quorum has signed is left to ``verify_manifest``.

    Raises :class:`ManifestRejected` naming the signer and key of the first
    signature that is not acceptable, or if ``proposal`` does not succeed ``held``.
    """
    anchor = held or proposal
    if held is not None:
        check_successor(proposal, held)
    message = proposal.signing_input()
    accepted: dict[tuple[str, str], ManifestSignature] = {}
    for s in signatures:
        try:
            public_key = (
                signing_key(anchor, s.signer, s.kid, now)
                if now is not None
                else _listed_key(anchor, s.signer, s.kid)
            )
            public_key.verify(b64url_decode(s.sig), message)
        except InvalidSignature as exc:
            raise ManifestRejected(
                f"signature by {s.signer!r} (key {s.kid}) does not verify over this proposal "
                f"(serial {proposal.serial}); was it made over another version of the file?"
            ) from exc
        except (ProtocolError, KeyUnusable) as exc:
            raise ManifestRejected(
                f"signature by {s.signer!r} (key {s.kid}) is not acceptable: {exc.message}"
            ) from exc
        accepted[(s.signer, s.kid)] = s
    return with_signatures(proposal, list(accepted.values()))


def parse_signature(data: bytes | str | Mapping[str, Any]) -> ManifestSignature:
    """A detached signature ``{signer, kid, sig}``; raises :class:`ManifestRejected`."""
    try:
        doc = parse_json(data) if isinstance(data, bytes | str) else dict(data)
        return ManifestSignature.model_validate(doc)
    except EncodingError as exc:
        raise ManifestRejected(f"signature is not JSON: {exc.message}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ManifestRejected(f"not a signature {{signer, kid, sig}}: {problems}") from exc


def describe_changes(held: Manifest, proposal: Manifest) -> list[str]:
    """What ``proposal`` changes against ``held``, one line each (``+`` added,
    ``-`` removed, ``~`` changed, ``!`` revoked), in a stable order."""
    lines = [f"serial {held.serial} -> {proposal.serial}"]
    if proposal.federation != held.federation:
        lines.append(f"~ federation {held.federation!r} -> {proposal.federation!r}")
    old = {p.id: p for p in held.participants}
    new = {p.id: p for p in proposal.participants}
    for pid in sorted(new.keys() - old.keys()):
        p = new[pid]
        analyzer = f", analyzer {p.analyzer.id} {p.analyzer.version}" if p.analyzer else ""
        roles = f", roles {', '.join(p.roles)}" if p.roles else ""
        lines.append(f"+ participant {pid} ({p.name}, {p.base_url}{analyzer}{roles})")
        lines += [f"+ key {k.kid} of {pid}, {_validity(k)}" for k in p.keys]
    lines += [f"- participant {pid} and its keys" for pid in sorted(old.keys() - new.keys())]
    for pid in sorted(old.keys() & new.keys()):
        lines += _participant_changes(old[pid], new[pid])
    if proposal.quorum != held.quorum:
        lines.append(f"~ quorum {held.quorum} -> {proposal.quorum}")
    lines += _policy_changes(held.policy, proposal.policy)
    return lines


# -- helpers ----------------------------------------------------------------------------


def _successor(held: Manifest, now: datetime) -> tuple[dict[str, Any], datetime]:
    """The held document, unsigned, as serial + 1 issued at ``now`` (whole seconds)."""
    _instant(now, "now")
    stamp = now.replace(microsecond=0)
    if stamp < held.issued_at:
        raise ManifestRejected(
            f"now ({stamp.isoformat()}) is before the held manifest was issued "
            f"({held.issued_at.isoformat()}); check the clock"
        )
    doc: dict[str, Any] = json.loads(manifest_json(held))
    doc.pop("signatures", None)
    doc["serial"] = held.serial + 1
    doc["issued_at"] = stamp.isoformat()
    return doc, stamp


def _instant(value: datetime, name: str) -> str:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ManifestRejected(f"{name} must be a date and time with a time zone, not {value!r}")
    return value.isoformat()


def _held_participant(held: Manifest, participant: str) -> Participant:
    for p in held.participants:
        if p.id == participant:
            return p
    raise ManifestRejected(
        f"{participant!r} is not a participant of {held.federation} (serial {held.serial})"
    )


def _taken_kids(doc: Mapping[str, Any]) -> dict[str, str]:
    return {k["kid"]: p["id"] for p in doc["participants"] for k in p["keys"]}


def _usable(key: ManifestKey, at: datetime) -> bool:
    if key.revoked and (key.revoked_at is None or at >= key.revoked_at):
        return False
    return key.not_before <= at and (key.not_after is None or at <= key.not_after)


def _listed_key(manifest: Manifest, signer: str, kid: str) -> Ed25519PublicKey:
    for key in manifest.participant(signer).keys:
        if key.kid == kid:
            return key.public_key()
    raise UnknownKey(f"{signer!r} has no key {kid!r} in manifest serial {manifest.serial}")


def _without_witnesses(participant: Mapping[str, Any], gone: set[str]) -> dict[str, Any]:
    """``participant`` with those ``gone`` struck from its declared ``witnesses`` (none
    left: the declaration goes, and the default assignment applies)."""
    entry = dict(participant)
    declared = entry.get("witnesses")
    if isinstance(declared, list) and gone & set(declared):
        kept = [w for w in declared if w not in gone]
        if kept:
            entry["witnesses"] = kept
        else:
            del entry["witnesses"]
    return entry


def _new_participant(
    entry: Mapping[str, Any], doc: Mapping[str, Any], gone: set[str], stamp: datetime
) -> dict[str, Any]:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
        raise ManifestRejected("a participant to add must be a mapping with an 'id'")
    pid: str = entry["id"]
    if pid in gone:
        raise ManifestRejected(f"participant {pid!r} is both removed and added")
    if any(p["id"] == pid for p in doc["participants"]):
        raise ManifestRejected(f"cannot add {pid!r}: it is a participant already")
    jwks = entry.get("keys")
    if not isinstance(jwks, Sequence) or isinstance(jwks, str) or not jwks:
        raise ManifestRejected(f"participant {pid!r}: 'keys' must be a non-empty list of JWKs")
    taken = _taken_kids(doc)
    keys = []
    for jwk in jwks:
        key = _manifest_key(jwk, pid, taken, stamp, stamp + DEFAULT_KEY_VALIDITY)
        taken[key["kid"]] = pid
        keys.append(key)
    participant = {k: _plain(v) for k, v in entry.items() if k != "keys"}
    participant["keys"] = keys
    return participant


def _manifest_key(
    jwk: Mapping[str, Any],
    owner: str,
    taken: Mapping[str, str],
    not_before: datetime,
    not_after: datetime,
) -> dict[str, Any]:
    """A manifest key entry from a public JWK, refusing one the manifest has already."""
    if not isinstance(jwk, Mapping):
        raise ManifestRejected(f"participant {owner!r}: a key must be a JWK object")
    try:
        public_key_from_jwk(dict(jwk))
        kid = jwk_thumbprint(dict(jwk))
    except KeyUnusable as exc:
        raise ManifestRejected(f"participant {owner!r}: {exc.message}") from exc
    if kid in taken:
        whose = "one of its keys" if taken[kid] == owner else f"a key of {taken[kid]!r}"
        raise ManifestRejected(f"key {kid} for {owner!r} is in the manifest already, as {whose}")
    begins = jwk.get("not_before", not_before)
    ends = jwk.get("not_after", not_after)
    return {
        "kty": jwk["kty"],
        "crv": jwk["crv"],
        "x": jwk["x"],
        "kid": kid,
        "not_before": _instant(begins, "not_before") if isinstance(begins, datetime) else begins,
        "not_after": _instant(ends, "not_after") if isinstance(ends, datetime) else ends,
    }


def _plain(value: Any) -> Any:
    """JSON types only (tuples as lists), as the signed canonical form needs."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _end(key: ManifestKey) -> str:
    return key.not_after.isoformat() if key.not_after else "open end"


def _validity(key: ManifestKey) -> str:
    return f"valid {key.not_before.isoformat()} to {_end(key)}"


def _participant_changes(old: Participant, new: Participant) -> list[str]:
    lines = []
    for field in ("name", "base_url", "roles", "analyzer", "originates", "witnesses"):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            lines.append(f"~ participant {new.id}: {field} {_show(before)} -> {_show(after)}")
    old_keys = {k.kid: k for k in old.keys}
    new_keys = {k.kid: k for k in new.keys}
    for kid, key in new_keys.items():
        was = old_keys.get(kid)
        if was is None:
            lines.append(f"+ key {kid} of {new.id}, {_validity(key)}")
            continue
        if was.not_before != key.not_before:
            lines.append(
                f"~ key {kid} of {new.id}: not_before {was.not_before.isoformat()}"
                f" -> {key.not_before.isoformat()}"
            )
        if was.not_after != key.not_after:
            lines.append(f"~ key {kid} of {new.id}: not_after {_end(was)} -> {_end(key)}")
        if key.revoked and (not was.revoked or was.revoked_at != key.revoked_at):
            since = f" from {key.revoked_at.isoformat()}" if key.revoked_at else ""
            lines.append(f"! key {kid} of {new.id} revoked{since}")
        elif was.revoked and not key.revoked:
            lines.append(f"~ key {kid} of {new.id} no longer revoked")
    lines += [f"- key {kid} of {new.id}" for kid in old_keys if kid not in new_keys]
    return lines


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, AnalyzerDeclaration):
        return f"{value.id} {value.version} ({value.sha256[:12]})"
    return repr(value)


def _policy_changes(
    old: Mapping[str, Mapping[str, Mapping[str, str]]],
    new: Mapping[str, Mapping[str, Mapping[str, str]]],
) -> list[str]:
    lines = []
    for schema in sorted(old.keys() | new.keys()):
        before, after = old.get(schema, {}), new.get(schema, {})
        for recipient in sorted(before.keys() | after.keys()):
            was, will = before.get(recipient), after.get(recipient)
            where = f"policy {schema} -> {recipient}"
            if was is None and will is not None:
                lines.append(f"+ {where}: {_granted(will)}")
            elif will is None and was is not None:
                lines.append(f"- {where} (was {_granted(was)})")
            elif was is not None and will is not None and was != will:
                changed = [
                    f"{f} {was.get(f, 'withhold')} -> {will.get(f, 'withhold')}"
                    for f in sorted(was.keys() | will.keys())
                    if was.get(f, "withhold") != will.get(f, "withhold")
                ]
                lines.append(f"~ {where}: {', '.join(changed) or 'same treatments, rewritten'}")
    return lines


def _granted(rules: Mapping[str, str]) -> str:
    return f"{sum(t != 'withhold' for t in rules.values())} field(s) granted"
