"""A node whose situation mixes restricted and unrestricted results (tests of handling).

Conflict events are issued on the mission node with a handling code by area —
Aleppo's as H3 (with a restriction text full of characters HTML must escape),
Daraa's as H2, Homs' and Latakia's as H0 — each with enough civilian deaths for
mission's own analyzer to flag it, so that its results inherit those codes. A dpa
result about Homs arrives as H1, so that Homs' agreement row (mission's H0 finding
beside dpa's H1 one) is restricted while Homs' hotspot rows are not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.analyze import analyse_batch
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.receive import receive_views
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.packet import issue_packet, recipient_view
from clearinghouse.protocol.results import result_record
from tests.nodes import built_federation, served_node
from tests.support import EXAMPLES
from tests.ui_sessions import Sessions

RESTRICTION = 'Not for sanctions designations: "source" <b>protected</b> & co'
H3_AREA, H2_AREA, H0_AREAS = "Aleppo Governorate", "Daraa Governorate", ("Homs Governorate",)
QUIET_AREA = "Latakia Governorate"  # nothing restricted about it at all
MONTHS = ("2016-01", "2016-02", "2016-03")
BASE = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())


def event(n: int, admin1: str, month: str) -> dict[str, Any]:
    """A one-sided event with 30 civilian deaths (enough for a civilian-harm flag)."""
    deaths = {"side_a": 0, "side_b": 0, "civilians": 30, "unknown": 0}
    return {
        **BASE,
        "event_id": f"t-{n}",
        "admin1": admin1,
        "date_start": f"{month}-07",
        "date_end": f"{month}-07",
        "deaths": {**deaths, "low": 30, "best": 30, "high": 30},
    }


def load_mixed_situation(fed: LocalFederation, ctx: NodeContext) -> None:
    """Fill mission's node (``ctx``) with the mixed situation described above."""
    plan = [
        (H3_AREA, "H3", RESTRICTION),
        (H2_AREA, "H2", None),
        *((a, "H0", None) for a in (*H0_AREAS, QUIET_AREA)),
    ]
    n = 0
    for month in MONTHS:
        for area, hc, restriction in plan:
            n += 1
            done = ingest_records(
                ctx, "conflict-event/1", [event(n, area, month)], hc=hc, hc_restriction=restriction
            )
            assert not done.rejected, done.rejected
    while analyse_batch(ctx):
        pass
    # A peer's H1 result about Homs, received as dpa would push it.
    receive_peer_finding(
        fed,
        ctx,
        {
            "kind": "spoiler-typology",
            "subject": "a group in Homs",
            "country": "Syria",
            "admin1": H0_AREAS[0],
            "period": MONTHS[1],
            "level": "low",
            "explanation": "predatory indicators",
        },
        input_jti="01937a2e-5c40-7b1d-9e3f-2a4b6c8d0e1f",
        input_digest="b" * 64,
        hc="H1",
    )


def receive_peer_finding(
    fed: LocalFederation,
    ctx: NodeContext,
    finding: dict[str, Any],
    *,
    input_jti: str,
    input_digest: str,
    hc: str = "H0",
) -> None:
    """``finding`` in a result of dpa's (handling ``hc``), received by mission as dpa
    would push it."""
    key = read_private_key(fed.root / "keys" / "dpa.key.pem")
    declared = ctx.manifest.participant("dpa").analyzer
    assert declared is not None
    record = result_record(
        analyzer=declared,
        input_jti=input_jti,
        input_digest=input_digest,
        input_schema="conflict-event/1",
        input_issuer="dpa",
        findings=[finding],
        explanation="one finding",
    )
    packet = issue_packet(
        record,
        schema="analysis-result/1",
        issuer="dpa",
        key=key,
        kid=public_jwk(key)["kid"],
        now=datetime.now(UTC),
        hc=hc,
    )
    view = recipient_view(packet.sd_jwt, ctx.manifest, "mission")
    (outcome,) = receive_views(ctx, peer="dpa", views=[view], sign=False)
    assert outcome.status == "accepted", outcome


@dataclass
class SituationNode:
    """mission's node serving the mixed situation, and a client to it."""

    fed: LocalFederation
    ctx: NodeContext
    client: httpx.Client
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(str(self.client.base_url))

    def get(self, path: str, *, role: str = "analyst", **params: str) -> httpx.Response:
        """``path`` as ``role`` would fetch it: its token as bearer and as page cookie."""
        token = self.fed.nodes["mission"].tokens[role]
        return self.client.get(
            path,
            params=params or None,
            headers={
                "authorization": f"Bearer {token}",
                **self.sessions.headers(token),
            },
        )

    def api(self, path: str, **params: str) -> httpx.Response:
        return self.get(path, **params)

    def page(self, path: str, **params: str) -> str:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.text


@contextmanager
def served_situation(
    root: Path, peer_finding: dict[str, Any], *, input_jti: str
) -> Iterator[SituationNode]:
    """mission served on loopback with the mixed situation and one more dpa finding."""
    fed = built_federation(root, ("mission", "unodc", "dpa"))
    with (
        served_node(fed.nodes["mission"]) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        load_mixed_situation(fed, served.context)
        receive_peer_finding(
            fed, served.context, peer_finding, input_jti=input_jti, input_digest="c" * 64
        )
        yield SituationNode(fed, served.context, client)
