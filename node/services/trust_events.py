"""Record the node's trust state in its audit log when it changes: the manifest it
runs on, the key it signs with, and the local API tokens (names and roles only).

Called at start-up; an entry is written only when the state differs from the last
one recorded, so restarts do not flood the log.
"""

from __future__ import annotations

import hashlib
import json

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import RESERVED, Act
from clearinghouse.protocol.manifest import Manifest, manifest_json

__all__ = ["key_loaded", "manifest_accepted", "record_trust_state"]


def manifest_accepted(actor: str, manifest: Manifest) -> Act:
    """The entry of a switch to ``manifest`` (at start-up, or by ``actor``'s submission)."""
    return Act(
        "manifest.accepted",
        actor,
        fields={
            "federation": manifest.federation,
            "serial": manifest.serial,
            "sha256": hashlib.sha256(manifest_json(manifest)).hexdigest(),
            "policy": acts.policy_digest(manifest),
        },
    )


def key_loaded(participant: str, kid: str) -> Act:
    return Act("key.loaded", acts.node_actor(participant), fields={"kid": kid})


def _current(ctx: NodeContext) -> list[Act]:
    actor = acts.node_actor(ctx.participant)
    return [
        manifest_accepted(actor, ctx.manifest),
        key_loaded(ctx.participant, ctx.kid),
        Act(
            "tokens.configured",
            actor,
            fields={
                "tokens": sorted(
                    ({"name": t.name, "role": t.role} for t in ctx.settings.tokens),
                    key=lambda t: (t["name"], t["role"]),
                )
            },
        ),
    ]


def record_trust_state(ctx: NodeContext) -> int:
    """Append an entry for each part of the trust state that changed; return how many.

    At start-up, and after the signing key changed (a rotation took effect)."""
    with transaction(ctx.engine) as session:
        changed = []
        for act in _current(ctx):
            last = auditlog.search(session, act=act.act, limit=1)
            if last:
                body = json.loads(last[0].body)
                if {k: v for k, v in body.items() if k not in RESERVED} == dict(act.fields):
                    continue
            changed.append(act)
        auditlog.append(session, changed, now=ctx.clock.now())
    return len(changed)
