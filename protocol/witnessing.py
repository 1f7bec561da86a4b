"""Who witnesses whose audit log: bounded witnessing.

Every node's audit log is witnessed (checked, cosigned, compared) by some of the other
participants, not all: with every node witnessing every other one, the work per
interval grows as n(n-1). A participant's ``witnesses`` in the manifest says who
witnesses its log; absent, the default assignment applies:

* while the federation has at most :data:`ALL_WHILE_AT_MOST` participants, every other
  participant witnesses the log (as before bounded witnessing: small federations keep
  their n-1 witnesses);
* beyond, :data:`DEFAULT_K` witnesses per log, from a ring of the participant ids in
  sorted order: participant i is witnessed by the k next ones (i+1 .. i+k, mod n). So
  every participant also witnesses exactly k logs when none declares, and the
  assignment is the same on every node that holds the same manifest, with no
  coordination.

A declared list overrides the default for that participant's log only; the others keep
the ring. Witnesses of the same log compare what they cosigned of it (gossip):
:func:`co_witnesses` says with whom, each for which logs. What k protects against is
in docs/threat-model.md (A1).
"""

from __future__ import annotations

from clearinghouse.protocol.manifest import Manifest

__all__ = ["ALL_WHILE_AT_MOST", "DEFAULT_K", "co_witnesses", "witnessed_by", "witnesses_of"]

#: Witnesses per log by default, once the federation is larger than ALL_WHILE_AT_MOST.
DEFAULT_K = 3
#: Up to this many participants, every other participant witnesses each log.
ALL_WHILE_AT_MOST = 4


def _ring_default(ring: tuple[str, ...], participant: str) -> tuple[str, ...]:
    """The default witnesses of ``participant`` in ``ring`` (the sorted participant ids)."""
    n = len(ring)
    if n <= ALL_WHILE_AT_MOST:
        return tuple(p for p in ring if p != participant)
    i = ring.index(participant)
    return tuple(ring[(i + step) % n] for step in range(1, DEFAULT_K + 1))


def witnesses_of(manifest: Manifest, participant: str) -> tuple[str, ...]:
    """The participants that witness ``participant``'s log: its declared ``witnesses``,
    else the default assignment. Raises :class:`UnknownIssuer` for a non-participant."""
    declared = manifest.participant(participant).witnesses
    if declared is not None:
        return declared
    return _ring_default(tuple(sorted(manifest.participant_ids)), participant)


def witnessed_by(manifest: Manifest, witness: str) -> tuple[str, ...]:
    """The participants whose logs ``witness`` witnesses, in id order. Raises
    :class:`UnknownIssuer` for a non-participant."""
    manifest.participant(witness)
    ring = tuple(sorted(manifest.participant_ids))
    declared = {p.id: p.witnesses for p in manifest.participants}
    return tuple(
        p for p in ring if p != witness and witness in (declared[p] or _ring_default(ring, p))
    )


def co_witnesses(manifest: Manifest, witness: str) -> dict[str, tuple[str, ...]]:
    """The other participants that witness a log ``witness`` witnesses, each with the
    logs both witness (id order): whom ``witness`` compares notes with, about what."""
    shared: dict[str, list[str]] = {}
    for origin in witnessed_by(manifest, witness):
        for other in witnesses_of(manifest, origin):
            if other != witness:
                shared.setdefault(other, []).append(origin)
    return {other: tuple(shared[other]) for other in sorted(shared)}
