"""Nodes whose keys are in a PKCS#11 token (SoftHSM2) run the whole exchange, over loopback.

Three ``clearinghouse run`` processes: mission (which originates the records) and dpa
keep their Ed25519 keys in one SoftHSM2 token (``[pkcs11]`` settings, the PIN in a
0600 file), unodc in a PEM file. No private key of mission or dpa exists anywhere
but in the token. Mission signs the packets, its RFC 9421 requests and its
checkpoints in the token; dpa signs its receipts and its cosignatures there; the
peers verify all of it against the manifest, which lists the token's public keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.node.localfed import LocalFederation
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.receipts import verify_view_receipt
from clearinghouse.protocol.sdjwt import decode_jws
from tests.integration._nodes import Databases, verify_audit_log, wait_witnessed
from tests.integration.test_federation import FAST as FEDERATION_FAST
from tests.integration.test_federation import assert_exact, events, ingest, packets_at, wait_settled
from tests.nodes import running_federation
from tests.softhsm import SoftHsm, softhsm_token

PARTICIPANTS = ("mission", "dpa", "unodc")
IN_TOKEN = ("mission", "dpa")
FAST = (
    FEDERATION_FAST
    + """
[audit]
checkpoint_interval_s = 0.3
checkpoint_max_interval_s = 1.0
witness_interval_s = 0.5
"""
)


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    with softhsm_token(tmp_path_factory.mktemp("softhsm")) as made:
        for participant in IN_TOKEN:
            made.make_key(participant)
        yield made


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, hsm: SoftHsm) -> Iterator[LocalFederation]:
    with running_federation(
        tmp_path_factory.mktemp("hsm-federation"),
        PARTICIPANTS,
        config_extra=FAST,
        env=hsm.env,
        pkcs11={p: hsm.settings(p) for p in IN_TOKEN},
    ) as federation:
        yield federation


def test_the_manifest_lists_the_token_keys_and_no_key_file_holds_them(
    fed: LocalFederation, hsm: SoftHsm
) -> None:
    manifest = parse_manifest(fed.manifest_path.read_bytes())
    with hsm.open() as token:
        for p in IN_TOKEN:
            kid = public_jwk(token.key(p))["kid"]
            assert [k.kid for k in manifest.participant(p).keys] == [kid]
            assert fed.nodes[p].public_jwk["kid"] == kid
    for p in IN_TOKEN:
        assert not list(fed.root.rglob(f"{p}*.pem"))
        config = fed.nodes[p].config.read_text()
        assert "\npkcs11 = {" in config and "\nkey_file" not in config
    assert (fed.root / "keys" / "unodc.key.pem").exists()


def test_packets_signed_in_the_token_are_delivered_and_receipted(
    fed: LocalFederation, hsm: SoftHsm
) -> None:
    assert ingest(fed, events(0, 20)) == 20
    stats = wait_settled(fed)
    assert_exact(stats)
    manifest = parse_manifest(fed.manifest_path.read_bytes())
    kids = {p: fed.nodes[p].public_jwk["kid"] for p in PARTICIPANTS}
    for recipient in ("dpa", "unodc"):  # each verified mission's token signature
        assert len(packets_at(fed, recipient)) == 20
    database = Path(fed.nodes["mission"].database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT o.recipient, r.jws, o.receipt_index FROM outbox o"
            " JOIN delivery_receipt r ON r.id = o.receipt_id WHERE o.state = 'delivered'"
        ).fetchall()
    by_dpa = [receipt for recipient, receipt, _ in rows if recipient == "dpa"]
    assert len(by_dpa) >= 20
    for recipient, receipt, position in rows:
        checked = verify_view_receipt(receipt, manifest, sender="mission", position=position)
        assert checked.receiver == recipient and checked.delivered
        assert decode_jws(receipt).header["kid"] == kids[recipient]  # dpa's: in the token


def test_checkpoints_signed_and_cosigned_in_the_token_verify(fed: LocalFederation) -> None:
    db = Databases(fed)
    try:
        wait_witnessed(db, PARTICIPANTS)
    finally:
        db.close()
    for p in PARTICIPANTS:  # mission's and dpa's logs signed in the token; every log
        summary = verify_audit_log(fed, p, min_cosignatures=len(PARTICIPANTS) - 1)
        assert summary.entries > 0 and summary.checkpoints > 0
        assert set(summary.cosignatures) == set(PARTICIPANTS) - {p}
