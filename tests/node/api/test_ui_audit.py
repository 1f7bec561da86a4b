"""``/ui/audit``: who may see it, what its filters and pages return, the checkpoint panel,
and the entry page's proof data (checked here with :mod:`protocol.merkle`), on one node
served for real on loopback (in this process, without workers) whose log the test writes."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services import acts
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditEntry
from clearinghouse.protocol.audit import Act, audit_origin, parse_entry, witness_name
from clearinghouse.protocol.merkle import leaf_hash, verify_inclusion
from clearinghouse.protocol.notes import cosign, parse_checkpoint, parse_note
from clearinghouse.protocol.packet import PacketRef
from tests.nodes import built_federation, served_node
from tests.signer import participant_key
from tests.ui_sessions import COOKIE, Sessions, session_cookie, signed_in_headers

PARTICIPANTS = ("dpa", "mission", "unodc")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
#: Text that must reach the browser as bytes, unharmed and unable to break out of a tag.
UNICODE = "Ḩalab \u2013 ✓ 𝄞"  # two-, three- and four-byte UTF-8
AWKWARD = f"{UNICODE} </script><script>alert(1)</script> & 'x'"


@dataclass
class Node:
    fed: LocalFederation
    client: httpx.Client
    ctx: NodeContext
    size: int  # the checkpoint's size
    root: bytes  # its root, from the signed note
    awkward: int  # the seq of the entry with AWKWARD in it
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(str(self.client.base_url))

    def get(self, path: str, role: str | None = "auditor", **params: Any) -> httpx.Response:
        token = self.fed.nodes["dpa"].tokens[role] if role else None
        headers = self.sessions.headers(token) if token else {}
        return self.client.get(  # (httpx drops a URL's query when given params={})
            path, params=params or None, headers=headers, follow_redirects=False
        )

    def all_entries(self) -> list[AuditEntry]:
        with transaction(self.ctx.engine) as session:
            return auditlog.entries(session, 0, auditlog.head(session).size)


@contextmanager
def serve(fed: LocalFederation) -> Iterator[tuple[NodeContext, httpx.Client]]:
    """The dpa node on its loopback port, and a client for it (no cookie of its own)."""
    with (
        served_node(fed.nodes["dpa"]) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        yield served.context, client


def append(ctx: NodeContext, act: Act, at: datetime) -> int:
    with transaction(ctx.engine) as session:
        return auditlog.append(session, [act], now=at)[0]


#: A push of two views (one receipt for the batch) and a batch received with a refusal.
BATCHES = [
    acts.view_sent(
        "node:dpa",
        "mission",
        [
            acts.SentView("j-a", "d-a", "duplicate", None, "receipt-1"),
            acts.SentView("j-d", "d-d", "accepted", None, "receipt-1"),
        ],
        "push",
    ),
    acts.packet_received(
        "unodc",
        [
            acts.ReceivedView(None, "rejected", "malformed", "<i>bad</i>"),
            acts.ReceivedView(PacketRef("j-e", "d-e"), "accepted"),
        ],
        "push",
    ),
]


def covers(entry: AuditEntry, jti: str) -> bool:
    return jti in parse_entry(entry.body.encode()).covers()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    fed = built_federation(tmp_path_factory.mktemp("ui-audit"), PARTICIPANTS)
    with serve(fed) as (ctx, client):
        # Start-up wrote the trust state (manifest, key, tokens) with today's time.
        actor = "node:dpa"
        script: list[tuple[str, str | None, str | None, dict[str, Any]]] = [
            ("view.queued", "mission", "j-a", {"digest": "d-a", "fields": ["country"]}),
            ("view.sent", "mission", "j-a", {"digest": "d-a", "via": "push"}),
            ("view.sent", "mission", "j-a", {"digest": "d-a", "status": "accepted"}),
            ("view.queued", "unodc", "j-b", {"digest": "d-b", "fields": ["price"]}),
            ("view.sent", "unodc", "j-b", {"digest": "d-b", "via": "catch-up"}),
            ("packet.received", "unodc", "j-c", {"outcome": "rejected", "reason": "<b>no</b>"}),
            ("authorisation.used", "mission", None, {"id": "auth-1", "note": AWKWARD}),
        ]
        acted = [
            Act(act, actor, peer=peer, jti=jti, fields=fields) for act, peer, jti, fields in script
        ]
        acted += BATCHES  # entries of a batch of views each, as the services write them now
        acted += [
            Act("view.sent", actor, peer="mission", jti=f"j-{i}", fields={"via": "push"})
            for i in range(12)
        ]
        seqs = [append(ctx, act, T0 + i * HOUR) for i, act in enumerate(acted)]
        checkpoint = sign_checkpoint(ctx)
        assert checkpoint is not None
        text = parse_note(checkpoint.note).text
        with transaction(ctx.engine) as session:
            for offset, witness in enumerate(("mission", "unodc")):
                key = participant_key(fed.root, witness)
                stamp = int((T0 + 30 * HOUR).timestamp()) + offset
                line = cosign(text, witness_name(ctx.manifest.federation, witness), key, stamp)
                auditlog.add_cosignatures(
                    session, witness=witness, lines=[(checkpoint.size, line, stamp)], now=T0
                )
            auditlog.add_alert(
                session,
                peer="unodc",
                kind="fork",
                detail="two roots for size 5 <script>alert(2)</script>",
                evidence="{}",
                now=T0 + 31 * HOUR,
            )
        # Two entries after the checkpoint: not yet checkpointed.
        append(ctx, Act("view.sent", actor, peer="unodc", jti="j-late"), T0 + 40 * HOUR)
        append(
            ctx, Act("analysis.run", actor, jti="j-late", fields={"findings": 0}), T0 + 41 * HOUR
        )
        yield Node(fed, client, ctx, checkpoint.size, parse_checkpoint(text).root, seqs[6])


def seqs_of(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', page)]


def link(page: str, element: str) -> str | None:
    found = re.search(rf'id="{element}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def inclusion_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="inclusion-data">(.*?)</script>', page)
    assert found, "the entry page carries no proof data"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


# --- who may see it ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ui/audit", "/ui/audit/entries/0"])
def test_only_auditors_and_admins_see_the_audit_pages(node: Node, path: str) -> None:
    for role in (None, "submitter"):  # not signed in, or a token that may not sign in
        response = node.get(path, role)
        assert (response.status_code, response.headers["location"]) == (303, "/ui/login")
    refused = node.get(path, "analyst")
    assert refused.status_code == 403
    assert "for auditors" in refused.text and "(role analyst)" in refused.text
    for role in ("auditor", "admin"):
        response = node.get(path, role)
        assert response.status_code == 200, response.text
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert response.headers["cache-control"] == "no-store"


def test_signing_in_still_lands_on_the_situation_and_the_nav_links_the_audit(node: Node) -> None:
    token = node.fed.nodes["dpa"].tokens["auditor"]
    origin = {"origin": str(node.client.base_url).rstrip("/")}
    signed_in = node.client.post("/ui/login", data={"token": token}, headers=origin)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/ui/situation")
    cookie = {"cookie": f"{COOKIE}={session_cookie(signed_in)}"}  # the cookie the login set
    page = node.client.get("/ui/audit", headers=cookie)
    assert page.status_code == 200 and 'id="entries"' in page.text
    situation = node.client.get("/ui/situation", headers=cookie).text
    assert '<a href="/ui/audit">Audit log</a>' in situation


def test_the_script_is_served_from_the_node(node: Node) -> None:
    script = node.get("/ui/static/audit-verify.js", None)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "crypto.subtle.digest" in script.text and "TextEncoder" in script.text
    assert "://" not in script.text  # nothing fetched from anywhere: works offline


# --- the overview ------------------------------------------------------------------------


def test_checkpoint_panel_counts_and_alerts(node: Node) -> None:
    node.get("/ui/audit")  # signed in (session.started) and read (data.read) before
    head = len(node.all_entries())
    page = node.get("/ui/audit").text
    origin = audit_origin(node.ctx.manifest.federation, "dpa")
    assert f"<code>{origin}</code>" in page
    assert f'id="checkpoint-size">{node.size}<' in page
    assert f'id="checkpoint-root">{base64.b64encode(node.root).decode()}<' in page
    assert "verified now: Ed25519 signature by" in page
    assert f"{head} entries ({head - node.size} not yet checkpointed)" in page
    # Each witness with its cosignature time, re-verified against the manifest's keys.
    for offset, witness in enumerate(("mission", "unodc")):
        row = re.search(rf'<tr data-witness="{witness}">(.*?)</tr>', page)
        assert row, f"no row for witness {witness}"
        stamp = int((T0 + 30 * HOUR).timestamp()) + offset
        when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        assert witness_name(node.ctx.manifest.federation, witness) in row.group(1)
        assert when in row.group(1) and f"({stamp})" in row.group(1)
        assert "verified now" in row.group(1)
    # The raw note: origin, size, root, the node's signature and both cosignatures.
    note = html.unescape(re.search(r'<pre id="checkpoint-note">(.*?)</pre>', page, re.S).group(1))  # type: ignore[union-attr]
    parsed = parse_note(note)
    assert parse_checkpoint(parsed.text).size == node.size
    assert len(parsed.signatures) == 3
    # Counts per act, as the database has them.
    acts = [e.act for e in node.all_entries()]
    for act in ("view.sent", "view.queued", "key.loaded", "witness.alert"):
        count = re.search(rf'<tr data-act="{re.escape(act)}">.*?<td class="num">(\d+)<', page)
        assert count and int(count.group(1)) == acts.count(act), act
    # The alert, prominent and escaped.
    assert 'id="alerts" class="alert"' in page and "fork" in page
    assert "<script>alert(2)" not in page and "&lt;script&gt;alert(2)" in page


# --- filters and paging ------------------------------------------------------------------

Filter = Callable[[AuditEntry], bool]
FILTERS: list[tuple[dict[str, str], Filter]] = [
    ({"act": "view.sent"}, lambda e: e.act == "view.sent"),
    ({"peer": "unodc"}, lambda e: e.peer == "unodc"),
    ({"jti": "j-a"}, lambda e: covers(e, "j-a")),  # entries of one view, and a batch's
    ({"jti": "j-e"}, lambda e: covers(e, "j-e")),  # only in a batch
    (
        {"from": "2026-03-01T14:00", "to": "2026-03-01T18:00"},  # datetime-local, meant as UTC
        lambda e: T0 + 2 * HOUR <= e.time < T0 + 6 * HOUR,
    ),
    ({"from": "2026-03-01T15:00:00+01:00"}, lambda e: e.time >= T0 + 2 * HOUR),  # RFC 3339
    (
        {"act": "view.sent", "peer": "mission", "to": "2026-03-01T20:00"},
        lambda e: e.act == "view.sent" and e.peer == "mission" and e.time < T0 + 8 * HOUR,
    ),
    ({"act": "result.issued"}, lambda e: False),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_filters_return_exactly_the_matching_entries(
    node: Node, params: dict[str, str], expected: Filter
) -> None:
    node.get("/ui/audit")  # signed in before: the entries held when the page is made
    wanted = sorted((e.seq for e in node.all_entries() if expected(e)), reverse=True)
    response = node.get("/ui/audit", limit="500", **params)
    assert response.status_code == 200, response.text
    assert seqs_of(response.text) == wanted
    if not wanted:
        assert 'id="no-entries"' in response.text
    for name, value in params.items():  # the form shows the filter in force
        if name in ("act", "peer"):
            assert re.search(rf'<option value="{re.escape(value)}"[^>]* selected>', response.text)


def test_paging_newest_first_through_older_links(node: Node) -> None:
    node.get("/ui/audit")  # signed in before: the entries held when paging starts
    held = sorted((e.seq for e in node.all_entries()), reverse=True)
    seen: list[int] = []
    url: str | None = "/ui/audit?limit=5"
    pages = 0
    while url:
        page = node.get(url).text
        rows = seqs_of(page)
        assert 0 < len(rows) <= 5
        assert (link(page, "newest") is None) == (pages == 0)
        seen += rows
        url = link(page, "older")
        pages += 1
    assert seen == held  # reading added entries, newer than the first page: not in it
    assert pages == -(-len(seen) // 5)


def test_paging_keeps_the_filters(node: Node) -> None:
    first = node.get("/ui/audit", act="view.sent", peer="mission", limit="4").text
    older = link(first, "older")
    assert older is not None and "act=view.sent" in older and "peer=mission" in older
    second = node.get(older).text
    everything = seqs_of(node.get("/ui/audit", act="view.sent", peer="mission", limit="500").text)
    assert seqs_of(first) + seqs_of(second) == everything[:8]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"act": "packet.stolen"}, "is not an act this log records"),
        ({"from": "yesterday"}, "is not a date and time"),
        ({"from": "2026-03-02T00:00", "to": "2026-03-01T00:00"}, "must be after from"),
    ],
)
def test_bad_filters_are_named(node: Node, params: dict[str, str], message: str) -> None:
    response = node.get("/ui/audit", **params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.text and message in html.unescape(response.text)
    assert seqs_of(response.text) == []


def test_table_rows_show_the_acts_fields_escaped(node: Node) -> None:
    page = node.get("/ui/audit", act="packet.received").text
    assert "<b>outcome</b>=rejected" in page
    assert "&lt;b&gt;no&lt;/b&gt;" in page and "<b>no</b>" not in page
    late = node.get("/ui/audit", jti="j-late").text
    assert late.count('<span class="muted">not yet checkpointed</span>') == 2


def test_a_batch_entry_is_summed_up_and_found_by_each_of_its_views(node: Node) -> None:
    (received,) = [e for e in node.all_entries() if covers(e, "j-e")]
    assert received.jti is None  # two views: no packet at the top level
    page = node.get("/ui/audit", jti="j-e").text
    assert seqs_of(page) == [received.seq]
    row = re.search(rf'<tr data-seq="{received.seq}">(.*?)</tr>', page, re.S)
    assert row, page
    assert "2 views received from unodc (push): 1 rejected, 1 accepted" in row.group(1)
    assert "this packet: <code>j-e</code> <b>outcome</b>=accepted" in row.group(1)
    assert "<i>bad</i>" not in page  # the refusal's reason, escaped wherever shown
    # searching by a packet sent in a batch and, before, on its own finds both
    sent = [e for e in node.all_entries() if covers(e, "j-a") and e.act == "view.sent"]
    page = node.get("/ui/audit", jti="j-a", act="view.sent").text
    assert seqs_of(page) == sorted((e.seq for e in sent), reverse=True) and len(sent) == 3
    assert "2 views sent to mission (push): 1 duplicate, 1 accepted" in page
    assert "this packet: <code>j-a</code> <b>status</b>=duplicate" in page


def test_a_batch_entry_page_lists_its_views_in_order(node: Node) -> None:
    (sent,) = [e for e in node.all_entries() if covers(e, "j-d")]
    page = node.get(f"/ui/audit/entries/{sent.seq}").text
    assert 'id="batch-summary">2 views sent to mission (push): 1 duplicate, 1 accepted<' in page
    rows = re.findall(r'<tr data-jti="([^"]*)">(.*?)</tr>', page, re.S)
    assert [jti for jti, _ in rows] == ["j-a", "j-d"]
    assert 'href="/ui/audit?jti=j-a"' in rows[0][1] and "<code>d-a</code>" in rows[0][1]
    assert "<b>status</b>=duplicate" in rows[0][1] and "<b>status</b>=accepted" in rows[1][1]
    receipt = hashlib.sha256(b"receipt-1").hexdigest()
    assert receipt in page  # the batch's one receipt, by hash
    (received,) = [e for e in node.all_entries() if covers(e, "j-e")]
    rows = re.findall(
        r'<tr data-jti="([^"]*)">(.*?)</tr>',
        node.get(f"/ui/audit/entries/{received.seq}").text,
        re.S,
    )
    assert [jti for jti, _ in rows] == ["", "j-e"]  # a refused view that named no packet
    assert "<b>code</b>=malformed" in rows[0][1] and "&lt;i&gt;bad&lt;/i&gt;" in rows[0][1]


def test_an_entry_written_before_batches_shows_as_it_was(node: Node) -> None:
    (old,) = [e for e in node.all_entries() if e.jti == "j-b" and e.act == "view.sent"]
    page = node.get(f"/ui/audit/entries/{old.seq}").text
    assert "batch-summary" not in page and 'id="views"' not in page
    assert "<code>j-b</code>" in page and "catch-up" in page


# --- one entry and its proof -------------------------------------------------------------


def test_entry_pages_carry_a_proof_that_verifies(node: Node) -> None:
    for seq in sorted({0, 1, node.awkward, node.size // 2, node.size - 1}):
        response = node.get(f"/ui/audit/entries/{seq}")
        assert response.status_code == 200
        data = inclusion_data(response.text)
        stored = node.all_entries()[seq]
        assert data["body"] == stored.body  # the exact text, JSON-escaped, not re-serialised
        body = data["body"].encode("utf-8")  # what the page's TextEncoder hashes
        assert leaf_hash(body) == base64.b64decode(data["leaf_hash"]) == stored.leaf_hash
        assert (data["seq"], data["size"]) == (seq, node.size)
        assert base64.b64decode(data["root"]) == node.root
        proof = [base64.b64decode(p) for p in data["proof"]]
        verify_inclusion(leaf_hash(body), seq, node.size, proof, node.root)
        assert html.unescape(
            re.search(r'<pre id="entry-body">(.*?)</pre>', response.text, re.S).group(1)  # type: ignore[union-attr]
        ) == (stored.body)
        assert '<script src="/ui/static/audit-verify.js"></script>' in response.text


def test_awkward_text_stays_inside_its_tags(node: Node) -> None:
    page = node.get(f"/ui/audit/entries/{node.awkward}").text
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the data block's and the script's own
    assert AWKWARD in inclusion_data(page)["body"]
    assert UNICODE in page  # shown as is, UTF-8


def test_entries_after_the_checkpoint_are_not_yet_checkpointed(node: Node) -> None:
    page = node.get(f"/ui/audit/entries/{node.size}")
    assert page.status_code == 200
    assert 'id="not-checkpointed"' in page.text and "not yet checkpointed" in page.text
    assert "inclusion-data" not in page.text
    missing = node.get(f"/ui/audit/entries/{len(node.all_entries()) + 10}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:clearinghouse:problem:not-found"


def test_a_log_without_a_checkpoint_says_so(tmp_path_factory: pytest.TempPathFactory) -> None:
    fed = built_federation(tmp_path_factory.mktemp("ui-audit-fresh"), PARTICIPANTS)
    with serve(fed) as (_, client):
        cookie = signed_in_headers(str(client.base_url), fed.nodes["dpa"].tokens["auditor"])
        page = client.get("/ui/audit", headers=cookie).text
        assert 'id="no-checkpoint"' in page and "No checkpoint yet" in page
        # the trust state written at start-up, and the auditor's sign-in
        assert len(seqs_of(page)) == 4
        entry = client.get("/ui/audit/entries/0", headers=cookie).text
        assert "not yet checkpointed: the node has signed no checkpoint yet" in entry
