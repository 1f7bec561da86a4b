"""What a peer's pushes may cost a node: quotas of views and bytes, refusals kept short.

Unit tests of :class:`node.api.peer_quota.PeerQuota` on a clock the test moves, then
one node (dpa) served for real on loopback with small quotas (8 views and 150,000 bytes
per hour per peer), the test playing its peers with RFC 9421-signed requests: a batch
within quota is received; one beyond it is refused whole (429 ``quota-exceeded`` with
``Retry-After``, counted, nothing stored, no audit entry); a quarantined view leaves no
withheld value in ``inbound_refusal``; a receipt's reason is cut to 500 characters. The
node runs on SQLite, and again on PostgreSQL when ``CLEARINGHOUSE_TEST_POSTGRES_URL``
is set. Each test pushes as a peer of its own, so each starts with a full quota.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import Engine, text

from clearinghouse.node.api.peer_quota import PeerQuota
from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.storage.db import make_engine
from clearinghouse.protocol.packet import recipient_view
from clearinghouse.protocol.receipts import MAX_REASON, verify_receipt
from clearinghouse.protocol.sdjwt import CompactSdJwt, sign_jws
from tests.databases import node_database
from tests.node.api.test_packets_api import (
    assert_problem,
    key_of,
    manifest_of,
    mission_packet,
    signed,
    views_body,
)
from tests.nodes import built_federation, node_app, served_node
from tests.signer import send

QUOTA_VIEWS, QUOTA_BYTES, PERIOD_S = 8, 150_000, 3600.0
#: What dpa's policy withholds from it in the example conflict event (place, exact
#: coordinates, the source's headline): none of it may be kept when quarantined.
WITHHELD = ("Ariha town", "35.812335", "36.610978", "al-Fateh army executes")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the quota on its own ----------------------------------------------------------------


def test_a_batch_is_charged_whole_or_not_at_all() -> None:
    clock = Clock()
    quota = PeerQuota(10, 1000, 100.0, clock=clock)
    assert quota.charge("unodc", views=6, size=100) is None
    refused = quota.charge("unodc", views=5, size=100)
    assert refused is not None and refused.kind == "views"
    assert refused.retry_after == 10  # one view short, 0.1 view/s
    assert "quota of 10 views per 100 s" in refused.detail
    assert quota.charge("unodc", views=4, size=100) is None  # the refusal took nothing
    assert quota.charge("unodc", views=1, size=1) is not None
    clock.now += 10  # one view back
    assert quota.charge("unodc", views=1, size=1) is None


def test_bytes_are_a_quota_of_their_own_and_each_peer_has_its_own() -> None:
    clock = Clock()
    quota = PeerQuota(100, 1000, 10.0, clock=clock)
    assert quota.charge("unodc", views=1, size=900) is None
    refused = quota.charge("unodc", views=1, size=300)
    assert refused is not None and (refused.kind, refused.retry_after) == ("bytes", 2)
    assert quota.charge("mission", views=1, size=1000) is None
    clock.now += 1000  # refills to the quota, never beyond
    assert quota.charge("unodc", views=1, size=1000) is None
    assert quota.charge("unodc", views=1, size=1) is not None


def test_zero_disables_a_quota_and_bad_parameters_are_refused() -> None:
    quota = PeerQuota(0, 0, 1.0, clock=Clock())
    assert all(quota.charge("unodc", views=10**6, size=10**9) is None for _ in range(100))
    with pytest.raises(ValueError, match="quotas"):
        PeerQuota(-1, 10, 1.0)
    with pytest.raises(ValueError, match="period"):
        PeerQuota(1, 10, 0)


def test_a_quota_below_one_full_batch_is_refused_naming_the_settings(tmp_path: Path) -> None:
    fed = built_federation(tmp_path, ("mission", "dpa"))
    with pytest.raises(ValidationError, match="peer_quota_views"):
        load_settings(fed.nodes["dpa"].config, peer_quota_views=10, max_batch=11)
    with pytest.raises(ValidationError, match="peer_quota_bytes"):
        load_settings(fed.nodes["dpa"].config, peer_quota_bytes=2048, max_body_bytes=4096)


def test_the_defaults_never_limit_the_normal_federation() -> None:
    """The benchmarks push the busiest peer's views at a few hundred a second, at most
    16,566 records' worth in one run (docs/performance.md): far below the defaults."""
    settings = Settings.model_fields
    views, size = settings["peer_quota_views"].default, settings["peer_quota_bytes"].default
    period = settings["peer_quota_period_s"].default
    assert views >= 100_000 and views / period >= 1000  # views, and views per second
    assert size >= 512 * 1024 * 1024 and size / period >= 4 * 1024 * 1024  # 4 MiB/s


# -- a node served for real ----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalFederation, NodeHandle, Engine]]:
    root: Path = tmp_path_factory.mktemp("quota")
    with node_database(backend, root) as url:
        fed = built_federation(
            root, ("mission", "unodc", "dpa", "undp", "sanctions"), database_urls={"dpa": url}
        )
        node = fed.nodes["dpa"]
        app = node_app(
            node,
            max_batch=5,
            max_body_bytes=100_000,
            peer_quota_views=QUOTA_VIEWS,
            peer_quota_bytes=QUOTA_BYTES,
            peer_quota_period_s=PERIOD_S,
        )
        engine = make_engine(url)
        try:
            with served_node(node, app):
                yield fed, node, engine
        finally:
            engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("packet", "inbound_refusal", "audit_entry")
        }


def metric(node: NodeHandle, name: str, **labels: str) -> float:
    page = httpx.get(node.url + "/metrics", timeout=30).text
    return sum(
        s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def push(fed: LocalFederation, node: NodeHandle, peer: str, *views: str) -> httpx.Response:
    return send(signed(fed, node, "POST", "/v1/packets", views_body(*views), signer=peer))


def test_a_batch_beyond_the_view_quota_is_refused_whole_and_stores_nothing(
    served: tuple[LocalFederation, NodeHandle, Engine],
) -> None:
    fed, node, engine = served
    manifest = manifest_of(fed)
    good = [recipient_view(mission_packet(fed), manifest, "dpa") for _ in range(5)]
    within = push(fed, node, "mission", *good)
    assert within.status_code == 200, within.text
    assert within.json()["summary"]["accepted"] == 5

    before = counts(engine)
    exceeded = metric(node, "clearinghouse_peer_quota_exceeded_total", peer="mission", kind="views")
    refused_before = metric(node, "clearinghouse_requests_refused_total", code="quota-exceeded")
    response = push(fed, node, "mission", *[f"junk-{n}" for n in range(4)])  # 3 views left

    problem = assert_problem(response, 429, "quota-exceeded")
    assert "8 views per 3600 s" in problem["detail"], problem
    assert int(response.headers["retry-after"]) >= 1
    assert counts(engine) == before  # no packet, no refusal row, no audit entry
    assert (
        metric(node, "clearinghouse_peer_quota_exceeded_total", peer="mission", kind="views")
        == exceeded + 1
    )
    assert (
        metric(node, "clearinghouse_requests_refused_total", code="quota-exceeded")
        == refused_before + 1
    )
    # what is left of the quota still passes (the refused batch took nothing) ...
    rest = push(fed, node, "mission", *[f"junk-{n}" for n in range(3)])
    assert rest.status_code == 200 and rest.json()["summary"]["rejected"] == 3
    assert_problem(push(fed, node, "mission", "junk"), 429, "quota-exceeded")
    # ... and another peer has a quota of its own
    other = push(fed, node, "sanctions", good[0])
    assert other.status_code == 200 and other.json()["summary"]["duplicate"] == 1


def test_a_batch_beyond_the_byte_quota_is_refused(
    served: tuple[LocalFederation, NodeHandle, Engine],
) -> None:
    fed, node, engine = served
    big = ["x" * 45_000, "y" * 45_000]  # about 90 kB a batch; 150 kB per hour
    assert push(fed, node, "unodc", *big).status_code == 200
    before = counts(engine)
    response = push(fed, node, "unodc", *big)
    problem = assert_problem(response, 429, "quota-exceeded")
    assert "150000 bytes per 3600 s" in problem["detail"], problem
    assert int(response.headers["retry-after"]) > 60  # 30 kB short at about 42 B/s
    assert counts(engine) == before
    assert metric(node, "clearinghouse_peer_quota_exceeded_total", peer="unodc", kind="bytes")


def test_a_quarantined_view_leaves_no_withheld_value_in_the_refusals(
    served: tuple[LocalFederation, NodeHandle, Engine],
) -> None:
    fed, node, engine = served
    full = mission_packet(fed)  # every field, the withheld ones too: over-disclosure
    response = push(fed, node, "undp", full)
    receipt = verify_receipt(response.json()["receipts"][0], manifest_of(fed), sender="undp")
    assert (receipt.status, receipt.reason_code) == ("quarantined", "over-disclosure")

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM inbound_refusal")).mappings().all()
    table = json.dumps([{k: str(v) for k, v in row.items()} for row in rows])
    jwt, *disclosures = full.rstrip("~").split("~")
    decoded = " ".join(
        base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)).decode() for d in disclosures
    )
    assert all(value in decoded for value in WITHHELD)  # the view does carry them
    for value in (*WITHHELD, jwt.split(".")[1], *disclosures):
        assert value not in table, value
    (row,) = [r for r in rows if r["peer"] == "undp" and r["disposition"] == "quarantined"]
    assert row["prefix"] == jwt.split(".")[0] and row["size"] == len(full)
    assert receipt.ref is not None and row["jti"] == receipt.ref.jti


def test_a_long_reason_is_cut_in_the_receipt_and_the_refusal(
    served: tuple[LocalFederation, NodeHandle, Engine],
) -> None:
    fed, node, engine = served
    key = key_of(fed, "undp")
    payload = {
        "iss": "undp",
        "jti": str(uuid.uuid4()),
        "iat": int(datetime.now(UTC).timestamp()),
        "sch": "market-price/1",
        "hc": "H0",
        "_sd": [],
        "_sd_alg": "sha-256",
    }
    kid = "k" + secrets.token_hex(1500)  # the reason names the unknown key id
    header = {"alg": "EdDSA", "typ": "clearinghouse-packet+sd-jwt", "kid": kid}
    view = CompactSdJwt(sign_jws(header, payload, key), ()).serialize()
    response = push(fed, node, "undp", view)
    assert response.status_code == 200, response.text
    receipt = verify_receipt(response.json()["receipts"][0], manifest_of(fed), sender="undp")
    assert (receipt.status, receipt.reason_code) == ("rejected", "unknown-key")
    assert receipt.reason is not None and len(receipt.reason) == MAX_REASON
    assert receipt.reason.endswith("\u2026") and receipt.reason.startswith("'undp' has no key")
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT reason FROM inbound_refusal WHERE peer = 'undp' ORDER BY id DESC")
        ).first()
    assert stored is not None and stored.reason == receipt.reason
