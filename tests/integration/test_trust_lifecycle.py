"""The trust lifecycle between four running nodes (``clearinghouse run`` processes).

The federation starts as mission, unodc, dpa and sanctions (the oversight body),
quorum 3; undp has keys and a configuration but is not a member yet. The tests run
in order, each on the federation the one before left:

1. a manifest with too few signatures is refused by the node it is submitted to;
2. undp is added by a quorum-signed manifest submitted to one node: it spreads to
   all, and undp (started on it) receives packets;
3. mission rotates its key while packets flow: none is refused anywhere, and the
   packets signed with the old key still verify;
4. the old key is revoked: a packet and a request signed with it afterwards are
   refused everywhere, naming the key, and an older manifest is refused;
5. an H2 packet never leaves its recipients: a relay is refused, a forged relay
   is rejected by the node it reaches;
6. an oversight authorisation unlocks a withheld field for one recipient, and no
   longer once it has expired.

Each step checks its audit entries at the nodes involved. Everything goes through
the real command line and the nodes' HTTP APIs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from clearinghouse.node.cli.main import app
from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.protocol.authorisation import (
    authorisation_json,
    build_authorisation,
    sign_authorisation,
)
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import manifest_json, parse_manifest, sign_manifest
from clearinghouse.protocol.packet import issue_packet, make_view, recipient_view
from clearinghouse.protocol.schemas import get_schema
from tests.integration._nodes import Databases
from tests.integration.test_federation import FAST as FEDERATION_FAST
from tests.integration.test_federation import events
from tests.signer import send, signed_request

pytestmark = pytest.mark.slow

MEMBERS = ("mission", "unodc", "dpa", "sanctions")
EVERYONE = (*MEMBERS, "undp")
CONFIG = (
    "manifest_sync_interval_s = 0.3\nmanifest_poll_interval_s = 2.0\n"
    + FEDERATION_FAST
    + "\n[audit]\ncheckpoint_interval_s = 0.5\nwitness_interval_s = 1.0\n"
)


def cli(*args: str | Path) -> Result:
    """``clearinghouse ARGS`` (in this process: the nodes are the separate processes)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def ok(done: Result) -> str:
    assert done.exit_code == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not in {timeout:.0f}s: {what}")
        time.sleep(0.2)


class Trust:
    """The running federation, with what the steps need to reach it."""

    def __init__(self, fed: LocalFederation, work: Path) -> None:
        self.fed = fed
        self.work = work
        self.db = Databases(fed)
        self.keys = fed.root / "keys"

    def key_file(self, participant: str) -> Path:
        return self.keys / f"{participant}.key.pem"

    def serial(self, participant: str) -> int:
        return int(httpx.get(f"{self.fed.nodes[participant].url}/v1/manifest").json()["serial"])

    def held(self, participant: str = "mission") -> Path:
        """The manifest a node holds now, as a file."""
        path = self.work / f"held-by-{participant}.json"
        path.write_bytes(httpx.get(f"{self.fed.nodes[participant].url}/v1/manifest").content)
        return path

    def sign_by(self, proposal: Path, held: Path, signers: tuple[str, ...]) -> None:
        """Each signer signs on its own (a detached signature); then they are merged."""
        signatures = []
        for signer in signers:
            out = self.work / f"{proposal.stem}.{signer}.sig.json"
            ok(
                cli(
                    "manifest", "sign", "--participant", signer, "--key", self.key_file(signer),
                    "--held", held, "--detached-out", out, proposal,
                )
            )  # fmt: skip
            signatures.append(out)
        ok(cli("manifest", "merge", "--held", held, proposal, *signatures))

    def submit(self, proposal: Path, to: str = "mission") -> Result:
        node = self.fed.nodes[to]
        return cli(
            "manifest", "submit", "--node", node.url, "--token", node.tokens["admin"], proposal
        )

    def wait_serial(self, serial: int, participants: tuple[str, ...] = MEMBERS) -> None:
        wait_for(
            f"all of {participants} on manifest serial {serial}",
            lambda: all(self.serial(p) == serial for p in participants),
        )

    def ingest(self, records: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        with self.fed.nodes["mission"].client("submitter", timeout=120) as client:
            response = client.post(
                "/v1/local/records",
                json={"schema": "conflict-event/1", "records": records, **options},
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rejected"] == [], body
        return body["packets"]  # type: ignore[no-any-return]

    def stored(self, participant: str, jti: str) -> dict[str, Any] | None:
        rows = self.db.rows(participant, "SELECT claims, kid FROM packet WHERE jti = :j", j=jti)
        if not rows:
            return None
        claims = rows[0][0]
        return {
            "claims": json.loads(claims) if isinstance(claims, str) else claims,
            "kid": rows[0][1],
        }

    def refusals(self, participant: str) -> list[tuple[str, str, str]]:
        return [
            (r[0], r[1], r[2])
            for r in self.db.rows(participant, "SELECT peer, code, reason FROM inbound_refusal")
        ]

    def push(
        self, sender: str, to: str, body: dict[str, Any], *, key_file: Path | None = None
    ) -> httpx.Response:
        """A request to ``to``'s peer API signed as ``sender`` (with ``key_file``'s key)."""
        key = read_private_key(key_file or self.key_file(sender))
        url = f"{self.fed.nodes[to].url}/v1/packets"
        return send(signed_request("POST", url, json.dumps(body).encode(), key=key))


def records(start: int, count: int) -> list[dict[str, Any]]:
    return [record for _, record in events(start, count)]


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trust]:
    root = tmp_path_factory.mktemp("trust-lifecycle")
    fed = LocalFederation(root / "fed", EVERYONE, config_extra=CONFIG)
    fed.build()  # keys, tokens and configs for all five; a manifest naming all five
    full = json.loads(fed.manifest_path.read_text())
    work = root / "work"
    work.mkdir()
    # What undp will bring when it joins: its entry and the policy naming it.
    (undp,) = [p for p in full["participants"] if p["id"] == "undp"]
    (work / "undp.json").write_text(
        json.dumps(
            {
                **{k: v for k, v in undp.items() if k != "keys"},
                "keys": [fed.nodes["undp"].public_jwk],
            }
        )
    )
    (work / "policy.json").write_text(json.dumps(full["policy"]))
    # Serial 1 without undp, signed by three of the four members.
    doc = {k: v for k, v in full.items() if k != "signatures"}
    doc["participants"] = [p for p in full["participants"] if p["id"] != "undp"]
    doc["policy"] = {
        schema: {r: rules for r, rules in per.items() if r != "undp"}
        for schema, per in full["policy"].items()
    }
    manifest = parse_manifest(doc)
    for signer in ("mission", "unodc", "dpa"):
        manifest = sign_manifest(
            manifest, signer, read_private_key(fed.root / "keys" / f"{signer}.key.pem")
        )
    fed.manifest_path.write_bytes(manifest_json(manifest))
    state = Trust(fed, work)
    try:
        for p in MEMBERS:
            fed.start(p)
        for p in MEMBERS:
            fed.wait_ready(participant=p)
        yield state
    finally:
        fed.stop()
        state.db.close()


def test_a_manifest_with_too_few_signatures_is_refused(trust: Trust) -> None:
    held = trust.held()
    (trust.work / "serial-1.json").write_bytes(held.read_bytes())
    proposal = trust.work / "two-signers.json"
    ok(cli("manifest", "propose", "--from", held, "--quorum", "2", "--out", proposal))
    trust.sign_by(proposal, held, ("mission", "unodc"))

    done = trust.submit(proposal, to="dpa")

    assert done.exit_code != 0
    said = done.stdout + done.stderr
    assert "2 valid signature(s)" in said and "of the 3 required" in said, said
    time.sleep(1.0)  # nothing spreads: every node stays on serial 1
    assert [trust.serial(p) for p in MEMBERS] == [1, 1, 1, 1]
    (refused,) = trust.db.logged("dpa", "manifest.refused")
    assert refused["serial"] == 2 and refused["actor"] == "token:admin"
    assert "of the 3 required" in refused["reason"]


def test_a_member_added_by_quorum_joins_everywhere_and_receives_packets(trust: Trust) -> None:
    held = trust.held()
    proposal = trust.work / "add-undp.json"
    said = ok(
        cli(
            "manifest", "propose", "--from", held, "--add-participant", trust.work / "undp.json",
            "--policy", trust.work / "policy.json", "--out", proposal,
        )
    )  # fmt: skip
    assert "undp" in said
    trust.sign_by(proposal, held, ("mission", "dpa", "sanctions"))

    ok(trust.submit(proposal, to="unodc"))  # one node; it spreads from there
    trust.wait_serial(2)

    for p in MEMBERS:
        latest = trust.db.logged(p, "manifest.accepted")[-1]
        assert latest["serial"] == 2
        assert latest["actor"] == ("token:admin" if p == "unodc" else latest["actor"])
        assert p == "unodc" or latest["actor"].startswith("peer:"), latest
    # undp starts on the manifest that made it a member
    trust.fed.manifest_path.write_bytes(proposal.read_bytes())
    trust.fed.start("undp")
    trust.fed.wait_ready(participant="undp")
    assert trust.serial("undp") == 2

    sent = trust.ingest(records(0, 5))

    assert all("undp" in p["recipients"] for p in sent)
    wait_for("undp holds every packet", lambda: all(trust.stored("undp", p["jti"]) for p in sent))
    assert trust.refusals("undp") == []


def test_a_key_rotated_mid_stream_loses_no_packet(trust: Trust) -> None:
    old_key = read_private_key(trust.key_file("mission"))
    old_kid = public_jwk(old_key)["kid"]
    held = trust.held()
    proposal = trust.work / "rotate.json"
    ok(
        cli(
            "key", "rotate", "--participant", "mission", "--dir", trust.keys, "--from", held,
            "--overlap", "1h", "--out", proposal,
        )
    )  # fmt: skip
    (new_file,) = trust.keys.glob("mission.*.key.pem")
    new_kid = public_jwk(read_private_key(new_file))["kid"]
    sent: list[dict[str, Any]] = []
    stop = threading.Event()

    def stream() -> None:  # packets keep coming while the rotation spreads
        start = 100
        while not stop.is_set():
            sent.extend(trust.ingest(records(start, 10)))
            start += 10
            time.sleep(0.2)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        time.sleep(1.0)
        trust.sign_by(proposal, held, ("mission", "unodc", "dpa"))
        ok(trust.submit(proposal, to="dpa"))
        trust.wait_serial(3, EVERYONE)
        wait_for(
            "mission signs with its new key",
            lambda: trust.db.value(
                "mission",
                "SELECT count(*) FROM packet WHERE origin = 'local' AND kid = :k",
                k=new_kid,
            ),
        )
        time.sleep(1.0)
    finally:
        stop.set()
        streamer.join()

    kids = {
        row[0]
        for row in trust.db.rows(
            "mission", "SELECT DISTINCT kid FROM packet WHERE origin = 'local'"
        )
    }
    assert kids == {old_kid, new_kid}
    loaded = [e["kid"] for e in trust.db.logged("mission", "key.loaded")]
    assert loaded[-2:] == [old_kid, new_kid]
    for p in ("unodc", "dpa", "sanctions", "undp"):
        wait_for(
            f"{p} holds every packet", lambda p=p: all(trust.stored(p, s["jti"]) for s in sent)
        )
        assert trust.refusals(p) == [], p
        assert {trust.stored(p, s["jti"])["kid"] for s in sent} == {old_kid, new_kid}  # type: ignore[index]
    # History stays verifiable: the log (checkpoints by both keys) against the new manifest.
    manifest = trust.held("unodc")
    mission = trust.fed.nodes["mission"]
    said = ok(
        cli(
            "audit",
            "verify",
            "--node",
            mission.url,
            "--token",
            mission.tokens["auditor"],
            "--manifest",
            manifest,
        )
    )
    assert "audit log OK" in said


def test_a_revoked_key_signs_nothing_more(trust: Trust) -> None:
    old_file = trust.key_file("mission")
    old_key = read_private_key(old_file)
    old_kid = public_jwk(old_key)["kid"]
    held = trust.held()
    proposal = trust.work / "revoke.json"
    at = datetime.now(UTC).replace(microsecond=0)
    ok(
        cli(
            "key", "revoke", "--participant", "mission", "--kid", old_kid, "--at", at.isoformat(),
            "--from", held, "--out", proposal,
        )
    )  # fmt: skip
    trust.sign_by(proposal, held, ("unodc", "dpa", "sanctions"))
    ok(trust.submit(proposal, to="sanctions"))
    trust.wait_serial(4, EVERYONE)
    manifest = parse_manifest(trust.held().read_bytes())

    # A packet signed with the revoked key after its revocation, sent over a request
    # signed with mission's current key: every recipient refuses it, naming the key.
    pseudonyms = read_pseudonym_key(trust.fed.root / "keys" / "pseudonym.key")
    forged = issue_packet(
        records(500, 1)[0],
        schema="conflict-event/1",
        issuer="mission",
        key=old_key,
        kid=old_kid,
        now=datetime.now(UTC),
        pseudonym_key=pseudonyms.key,
        pseudonym_epoch=pseudonyms.epoch,
    )
    (new_file,) = trust.keys.glob("mission.*.key.pem")
    for p in ("unodc", "dpa", "sanctions", "undp"):
        view = recipient_view(forged.sd_jwt, manifest, p)
        response = trust.push("mission", p, {"views": [view]}, key_file=new_file)
        assert response.status_code == 200, response.text
        assert response.json()["summary"]["rejected"] == 1
        ((peer, code, reason),) = trust.refusals(p)
        assert (peer, code) == ("mission", "key-revoked") and old_kid in reason
        received = trust.db.logged_views(p, "packet.received", peer="mission")[-1]
        assert (received["outcome"], received["code"]) == ("rejected", "key-revoked")

    # A request signed with the revoked key is refused before anything is read.
    response = trust.push("mission", "dpa", {"views": []}, key_file=old_file)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert old_kid in response.json()["detail"] and "revoked" in response.json()["detail"]

    # An older manifest is refused with the reason.
    done = trust.submit(trust.work / "serial-1.json", to="undp")
    assert done.exit_code != 0
    assert "not higher than the held serial 4" in done.stdout + done.stderr


def test_an_h2_packet_never_leaves_its_recipients(trust: Trust) -> None:
    (h2,) = trust.ingest(records(600, 1), hc="H2")
    (h0,) = trust.ingest(records(601, 1))
    recipients = set(h2["recipients"])
    assert recipients == {"unodc", "dpa", "sanctions", "undp"} == set(h0["recipients"])
    for p in recipients:
        wait_for(f"{p} holds the H2 packet", lambda p=p: trust.stored(p, h2["jti"]))
    # unodc can relay the H0 packet only once it holds it, and dpa answers "duplicate"
    # only if mission's own view reached it first
    for p in ("unodc", "dpa"):
        wait_for(f"{p} holds the H0 packet", lambda p=p: trust.stored(p, h0["jti"]))

    # unodc may not pass it on: the relay is refused and recorded, nothing is queued
    with trust.fed.nodes["unodc"].client("admin") as client:
        refused = client.post(f"/v1/local/packets/{h2['jti']}/relay", json={"recipients": ["dpa"]})
        relayed = client.post(f"/v1/local/packets/{h0['jti']}/relay", json={"recipients": ["dpa"]})
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"].endswith(":handling-violation") and "H2" in problem["detail"]
    (entry,) = trust.db.logged("unodc", "relay.refused")
    assert entry["jti"] == h2["jti"] and entry["recipients"] == ["dpa"]
    assert trust.db.value("unodc", "SELECT count(*) FROM outbox WHERE jti = :j", j=h2["jti"]) == 0
    # (the H0 packet may be relayed: the control)
    assert relayed.status_code == 200, relayed.text
    assert "dpa" in relayed.json()["queued"]
    wait_for(
        "dpa acknowledges unodc's relay of the H0 packet",
        lambda: any(
            e["jti"] == h0["jti"] and e["outcome"] == "duplicate"
            for e in trust.db.logged_views("dpa", "packet.received", peer="unodc")
        ),
    )

    # unodc forging the relay itself: dpa refuses the H2 view from anyone but mission
    (raw,) = trust.db.rows("unodc", "SELECT raw FROM packet WHERE jti = :j", j=h2["jti"])
    response = trust.push("unodc", "dpa", {"views": [raw[0]]})
    assert response.status_code == 200 and response.json()["summary"]["rejected"] == 1
    refusal = [r for r in trust.refusals("dpa") if r[0] == "unodc"]
    assert [r[1] for r in refusal] == ["handling-violation"] and "relayed" in refusal[0][2]
    received = trust.db.logged_views("dpa", "packet.received", peer="unodc")[-1]
    assert (received["jti"], received["code"]) == (h2["jti"], "handling-violation")


def test_an_oversight_authorisation_unlocks_a_field_until_it_expires(trust: Trust) -> None:
    held = trust.held()
    manifest = parse_manifest(held.read_bytes())
    spec = get_schema("conflict-event/1")
    assert "place" not in manifest.sharing.granted_claims(spec, "dpa")  # withheld from dpa
    earlier = trust.db.value(
        "mission",
        "SELECT jti FROM packet WHERE origin = 'local' AND hc = 'H0' ORDER BY id LIMIT 1",
    )
    # The command line (``clearinghouse authorise``) is tested on its own; here the
    # document is made in-process so that its 30 seconds start at submission.
    authorisation = trust.work / "authorisation.json"
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    signed = sign_authorisation(
        build_authorisation(
            federation=manifest.federation,
            issuer="sanctions",
            recipient="dpa",
            scope={"query": {"schema": "conflict-event/1", "issuers": ["mission"]}},
            fields=["place"],
            purpose="Judicial review of attacks on civilians (case 2026/117)",
            expires_at=expires,
            now=datetime.now(UTC),
        ),
        read_private_key(trust.key_file("sanctions")),
    )
    authorisation.write_bytes(authorisation_json(signed))
    mission = trust.fed.nodes["mission"]
    said = ok(
        cli(
            "authorise",
            "submit",
            "--node",
            mission.url,
            "--token",
            mission.tokens["admin"],
            authorisation,
        )
    )
    assert "accepted" in said
    a_id = json.loads(authorisation.read_text())["id"]

    (during,) = trust.ingest(records(700, 1))

    def dpa_sees_place(jti: str) -> bool:
        held_by_dpa = trust.stored("dpa", jti)
        return held_by_dpa is not None and "place" in held_by_dpa["claims"]

    wait_for("dpa sees 'place' of the new packet", lambda: dpa_sees_place(during["jti"]))
    wait_for("dpa sees 'place' of an earlier packet", lambda: dpa_sees_place(earlier))
    wait_for("undp holds the new packet", lambda: trust.stored("undp", during["jti"]))
    assert "place" not in trust.stored("undp", during["jti"])["claims"]  # type: ignore[index]
    # issued and used: at the originator and at the recipient
    (accepted,) = trust.db.logged("mission", "authorisation.accepted")
    assert (accepted["id"], accepted["actor"], accepted["fields"]) == (
        a_id,
        "token:admin",
        ["place"],
    )
    used = [
        e for e in trust.db.logged("mission", "authorisation.used") if e["jti"] == during["jti"]
    ]
    assert [(e["id"], e["peer"], e["fields"]) for e in used] == [(a_id, "dpa", ["place"])]
    (seen,) = trust.db.logged("dpa", "authorisation.accepted")
    assert (seen["id"], seen["actor"]) == (a_id, "peer:mission")
    wait_for(
        "dpa records each use",
        lambda: (
            {e["jti"] for e in trust.db.logged("dpa", "authorisation.used")}
            >= {during["jti"], earlier}
        ),
    )

    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.0)
    (after,) = trust.ingest(records(701, 1))

    wait_for("dpa holds the packet issued after expiry", lambda: trust.stored("dpa", after["jti"]))
    assert not dpa_sees_place(after["jti"])
    # and an expired authorisation unlocks nothing at the recipient either
    (full,) = trust.db.rows("mission", "SELECT raw FROM packet WHERE jti = :j", j=after["jti"])
    view = make_view(full[0], manifest.sharing.granted_claims(spec, "dpa") | {"place"})
    (current_key,) = trust.keys.glob("mission.*.key.pem")  # the first one is revoked
    response = trust.push(
        "mission",
        "dpa",
        {"views": [view], "authorisations": [json.loads(authorisation.read_text())]},
        key_file=current_key,
    )
    assert response.status_code == 200 and response.json()["summary"]["quarantined"] == 1
    code, reason = trust.db.rows(
        "dpa", "SELECT code, reason FROM inbound_refusal WHERE jti = :j", j=after["jti"]
    )[0]
    assert code == "over-disclosure" and "expired" in reason and "'place'" in reason
    assert not dpa_sees_place(after["jti"])
