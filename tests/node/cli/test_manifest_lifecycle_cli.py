"""``clearinghouse manifest propose|sign|merge|submit`` and ``clearinghouse key rotate|revoke``.

In process through Typer's runner, on a federation of three made by
:class:`node.localfed.LocalFederation`; ``submit`` against a real node served on
loopback (accepted, already held, refused with the node's reason), and against
answers mocked with respx (a problem document, an unreachable node, an answer that is
not the contract's).
"""

from __future__ import annotations

import json
import shutil
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import typer
from typer.testing import CliRunner, Result

from clearinghouse.analyzers.registry import code_digest, load
from clearinghouse.node.cli.key_lifecycle import parse_duration
from clearinghouse.node.cli.main import app
from clearinghouse.node.keyfiles import read_jwk, read_private_key
from clearinghouse.node.localfed import LocalFederation, free_port
from clearinghouse.protocol.manifest import Manifest, parse_manifest, verify_manifest
from tests.nodes import built_federation, served_node

SIGNERS = ("mission", "unodc", "dpa")
PASSPHRASE_ENV = "CLEARINGHOUSE_KEY_PASSPHRASE"


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def ok(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = cli(*args, env=env)
    assert result.exit_code == 0, result.output
    return result


def refused(code: int, *args: str | Path, env: dict[str, str] | None = None) -> str:
    """The command's error output (one line), asserting its exit code."""
    result = cli(*args, env=env)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def read(path: Path) -> Manifest:
    return parse_manifest(path.read_bytes())


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("lifecycle"), SIGNERS)


@pytest.fixture
def held(fed: LocalFederation, tmp_path: Path) -> Path:
    """A copy of the federation's manifest (quorum 3 of mission, unodc, dpa)."""
    path = tmp_path / "current-manifest.json"
    shutil.copy(fed.manifest_path, path)
    return path


def key(fed: LocalFederation, participant: str) -> Path:
    return fed.root / "keys" / f"{participant}.key.pem"


def sign_detached(
    fed: LocalFederation, proposal: Path, held: Path, signers: tuple[str, ...] = SIGNERS
) -> list[Path]:
    paths = []
    for p in signers:
        out = proposal.parent / f"{p}.sig.json"
        args = ("--participant", p, "--key", key(fed, p), "--detached-out", out)
        ok("manifest", "sign", proposal, "--held", held, *args)
        paths.append(out)
    return paths


def wfp_file(tmp_path: Path, **extra: Any) -> Path:
    ok("keygen", "--participant", "wfp", "--out", tmp_path / "wfp-keys")
    entry = {
        "id": "wfp",
        "name": "World Food Programme",
        "base_url": "https://ch.wfp.example.org",
        "analyzer": "undp.illicit-economy",
        "jwk": "wfp-keys/wfp.jwk.json",
        **extra,
    }
    path = tmp_path / "wfp.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in entry.items()) + "\n")
    return path


# -- manifest propose ---------------------------------------------------------------------


def test_propose_adds_and_removes_members_and_prints_the_changes(
    held: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"policy": {"seizure/1": {"wfp": {"disclose": ["country"]}}}}))
    out = tmp_path / "proposal.json"
    result = ok(
        "manifest",
        "propose",
        "--from",
        held,
        "--add-participant",
        wfp_file(tmp_path),
        "--remove-participant",
        "dpa",
        "--policy",
        policy,
        "--quorum",
        "2",
        "--out",
        out,
    )
    before, proposal = read(held), read(out)
    assert proposal.serial == before.serial + 1 and proposal.signatures == ()
    assert proposal.participant_ids == ("mission", "unodc", "wfp") and proposal.quorum == 2
    assert proposal.policy == {"seizure/1": {"wfp": {"country": "disclose"}}}
    wfp = proposal.participant("wfp")
    analyzer = load("undp.illicit-economy")
    assert wfp.analyzer is not None and wfp.analyzer.sha256 == code_digest(analyzer)
    assert wfp.keys[0].kid == read_jwk(tmp_path / "wfp-keys" / "wfp.jwk.json")["kid"]
    lines = result.stdout.splitlines()
    assert lines[0] == "changes:" and lines[1] == "  serial 1 -> 2"
    assert "  + participant wfp (World Food Programme, https://ch.wfp.example.org," in (
        result.stdout
    )
    assert "  - participant dpa and its keys" in lines
    assert "  ~ quorum 3 -> 2" in lines
    assert any(line.startswith("  - policy conflict-event/1 -> mission") for line in lines)
    assert f"manifest sign {out} --held {held}" in " ".join(result.stderr.split())


def test_propose_takes_inline_keys_in_json(
    held: Path, tmp_path: Path, fed: LocalFederation
) -> None:
    jwk = read_jwk(fed.root / "keys" / "mission.jwk.json")
    entry = {"id": "wfp", "name": "WFP", "base_url": "http://127.0.0.1:9", "keys": [jwk]}
    path = tmp_path / "wfp.json"
    path.write_text(json.dumps(entry))
    err = refused(
        1,
        "manifest",
        "propose",
        "--from",
        held,
        "--add-participant",
        path,
        "--out",
        tmp_path / "p.json",
    )
    assert "is in the manifest already, as a key of 'mission'" in err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("code", "args", "message"),
    [
        (1, ("--remove-participant", "ghost"), "cannot remove 'ghost': not a participant"),
        (
            1,
            ("--remove-participant", "dpa", "--remove-participant", "unodc"),
            "fewer than the quorum 3; give a new quorum",
        ),
        (2, ("--quorum", "0"), "greater than or equal to 1"),
        (1, ("--quorum", "4"), "quorum 4 is out of range"),
    ],
)
def test_propose_refusals(
    held: Path, tmp_path: Path, code: int, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "proposal.json"
    err = refused(code, "manifest", "propose", "--from", held, *args, "--out", out)
    assert message in err
    assert not out.exists()


def test_propose_refuses_bad_participant_and_policy_files(held: Path, tmp_path: Path) -> None:
    out = tmp_path / "proposal.json"
    base = ("manifest", "propose", "--from", held, "--out", out)
    no_id = tmp_path / "no-id.yaml"
    no_id.write_text("name: x\n")
    assert "expected a mapping with an 'id'" in refused(2, *base, "--add-participant", no_id)
    both = wfp_file(tmp_path, keys=[])
    assert "either 'keys' or 'jwk'" in refused(2, *base, "--add-participant", both)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("id: wfp\nname: W\nbase_url: http://x.org\nanalyzer: no.such\nkeys: []\n")
    assert "no analyzer 'no.such' is installed" in refused(1, *base, "--add-participant", unknown)
    missing_jwk = tmp_path / "missing.yaml"
    missing_jwk.write_text("id: wfp\nname: W\nbase_url: http://x.org\njwk: nowhere.jwk.json\n")
    assert "cannot read public key" in refused(1, *base, "--add-participant", missing_jwk)
    policy = tmp_path / "policy.yaml"
    policy.write_text("seizure/1:\n  ghost:\n    disclose: [country]\n")
    assert "names 'ghost', not a participant" in refused(1, *base, "--policy", policy)
    assert "No such file" in refused(
        2, "manifest", "propose", "--from", tmp_path / "none.json", "--out", out
    )
    assert not out.exists()


# -- manifest sign --detached-out, merge ------------------------------------------------------


def test_sign_detached_merge_and_verify_a_removal(
    fed: LocalFederation, held: Path, tmp_path: Path
) -> None:
    proposal = tmp_path / "proposal.json"
    ok(
        "manifest",
        "propose",
        "--from",
        held,
        "--remove-participant",
        "dpa",
        "--quorum",
        "2",
        "--out",
        proposal,
    )
    unsigned = proposal.read_bytes()
    sigs = sign_detached(fed, proposal, held)  # dpa, being removed, signs with its held key
    assert proposal.read_bytes() == unsigned
    doc = json.loads(sigs[2].read_text())
    assert set(doc) == {"signer", "kid", "sig"} and doc["signer"] == "dpa"
    assert doc["kid"] == read_jwk(fed.root / "keys" / "dpa.jwk.json")["kid"]

    partial = ok("manifest", "merge", proposal, *sigs[:2], "--held", held)
    assert "merged 2 signature(s); 2 of 3 required: mission, unodc" in " ".join(
        partial.output.split()
    )
    assert "note:" not in partial.output
    assert "2 valid signature(s)" in refused(1, "manifest", "verify", proposal, "--held", held)
    merged = ok("manifest", "merge", proposal, sigs[2], "--held", held)
    text = " ".join(merged.output.split())
    assert "3 of 3 required: dpa, mission, unodc" in text
    # a node starting afresh from it would refuse dpa's signature: say so
    assert "note: it succeeds the held manifest, but on its own" in text and "'dpa'" in text
    verified = ok("manifest", "verify", proposal, "--held", held).stdout
    assert (
        "signed by dpa, mission, unodc (3 of quorum 3 of the held serial 1; its own quorum: 2)"
        in " ".join(verified.split())
    )
    assert verify_manifest(read(proposal), now=read(proposal).issued_at, held=read(held))


def test_sign_in_place_against_held_shows_what_is_signed(
    fed: LocalFederation, held: Path, tmp_path: Path
) -> None:
    proposal = tmp_path / "proposal.json"
    ok("manifest", "propose", "--from", held, "--quorum", "2", "--out", proposal)
    result = ok(
        "manifest",
        "sign",
        proposal,
        "--held",
        held,
        "--participant",
        "unodc",
        "--key",
        key(fed, "unodc"),
    )
    text = " ".join(result.output.split())
    assert "you sign these changes: serial 1 -> 2 ~ quorum 3 -> 2" in text
    assert "signed by unodc; 1 of 3 required: unodc" in text
    assert {s.signer for s in read(proposal).signatures} == {"unodc"}
    # a key the held manifest does not list is refused
    ok("keygen", "--participant", "unodc", "--out", tmp_path / "other")
    err = refused(
        1,
        "manifest",
        "sign",
        proposal,
        "--held",
        held,
        "--participant",
        "unodc",
        "--key",
        tmp_path / "other" / "unodc.key.pem",
    )
    assert "is not one of 'unodc''s keys in the held manifest (serial 1)" in err
    err = refused(
        2,
        "manifest",
        "sign",
        proposal,
        "--participant",
        "unodc",
        "--key",
        key(fed, "unodc"),
        "--detached-out",
        proposal,
    )
    assert "--detached-out must not be the manifest itself" in err


def test_merge_refuses_a_forged_or_malformed_signature(
    fed: LocalFederation, held: Path, tmp_path: Path
) -> None:
    proposal = tmp_path / "proposal.json"
    ok("manifest", "propose", "--from", held, "--quorum", "2", "--out", proposal)
    (mission, unodc) = sign_detached(fed, proposal, held, ("mission", "unodc"))
    before = proposal.read_bytes()
    forged = json.loads(mission.read_text())
    forged["sig"] = json.loads(unodc.read_text())["sig"]
    mission.write_text(json.dumps(forged))
    err = refused(1, "manifest", "merge", proposal, unodc, mission, "--held", held)
    assert f"signature by 'mission' (key {forged['kid']}) does not verify over this proposal" in err
    bad = tmp_path / "bad.sig.json"
    bad.write_text("{not json")
    assert f"{bad}: signature is not JSON" in refused(1, "manifest", "merge", proposal, bad)
    incomplete = tmp_path / "incomplete.sig.json"
    incomplete.write_text(json.dumps({"signer": "mission"}))
    assert "kid: Field required" in refused(1, "manifest", "merge", proposal, incomplete)
    assert proposal.read_bytes() == before  # nothing merged
    # over another version of the file
    ok("manifest", "propose", "--from", held, "--quorum", "1", "--out", tmp_path / "other.json")
    err = refused(1, "manifest", "merge", tmp_path / "other.json", unodc, "--held", held)
    assert "'unodc'" in err and "does not verify" in err


# -- key rotate, key revoke ----------------------------------------------------------------


def test_key_rotate_writes_the_key_beside_the_others_and_the_proposal(
    held: Path, tmp_path: Path
) -> None:
    keys, out = tmp_path / "keys", tmp_path / "proposal.json"
    env = {PASSPHRASE_ENV: "rotate me"}
    result = ok(
        "key",
        "rotate",
        "--participant",
        "unodc",
        "--dir",
        keys,
        "--from",
        held,
        "--overlap",
        "12h",
        "--validity",
        "90d",
        "--out",
        out,
        env=env,
    )
    kid = result.stdout.strip().splitlines()[-1]
    pem, jwk = keys / f"unodc.{kid[:8]}.key.pem", keys / f"unodc.{kid[:8]}.jwk.json"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert read_jwk(jwk)["kid"] == kid
    read_private_key(pem, b"rotate me")
    proposal, before = read(out), read(held)
    old, new = proposal.participant("unodc").keys
    assert old.kid == before.participant("unodc").keys[0].kid
    assert old.not_after == proposal.issued_at + timedelta(hours=12)
    assert new.kid == kid and new.not_before == proposal.issued_at
    assert new.not_after == proposal.issued_at + timedelta(days=90)
    assert f"~ key {old.kid} of unodc: not_after " in result.stdout
    assert f"+ key {kid} of unodc, valid " in result.stdout


def test_key_rotate_refusals_write_no_key(held: Path, tmp_path: Path) -> None:
    keys, out = tmp_path / "keys", tmp_path / "proposal.json"
    base = ("key", "rotate", "--dir", keys, "--from", held, "--out", out)
    assert "'ghost' is not a participant" in refused(1, *base, "--participant", "ghost")
    err = refused(2, *base, "--participant", "unodc", "--overlap", "12x")
    assert "'12x' is not a duration such as 7d, 12h, 30m or 90s" in err
    assert "overlap 0:00:00 is not positive" in refused(
        1, *base, "--participant", "unodc", "--overlap", "0s"
    )
    assert not keys.exists() and not out.exists()


def test_key_revoke(fed: LocalFederation, held: Path, tmp_path: Path) -> None:
    out = tmp_path / "proposal.json"
    kid = read_jwk(fed.root / "keys" / "unodc.jwk.json")["kid"]
    result = ok(
        "key",
        "revoke",
        "--participant",
        "unodc",
        "--kid",
        kid[:8],
        "--from",
        held,
        "--at",
        "2030-01-01T00:00:00+01:00",
        "--out",
        out,
    )
    revoked = read(out).participant("unodc").keys[0]
    assert revoked.revoked and revoked.revoked_at is not None
    assert revoked.revoked_at.isoformat() == "2030-01-01T00:00:00+01:00"
    assert f"! key {kid} of unodc revoked from 2030-01-01T00:00:00+01:00" in result.stdout
    # default: now
    ok("key", "revoke", "--participant", "unodc", "--kid", kid, "--from", held, "--out", out)
    now_revoked = read(out).participant("unodc").keys[0]
    assert now_revoked.revoked_at is not None
    assert abs(now_revoked.revoked_at - read(out).issued_at) < timedelta(seconds=2)

    base = ("key", "revoke", "--participant", "unodc", "--from", held, "--out", tmp_path / "x")
    assert "'unodc' has no key 'nope'" in refused(1, *base, "--kid", "nope")
    assert "no time zone" in refused(2, *base, "--kid", kid, "--at", "2030-01-01T00:00:00")
    assert "not an ISO 8601 time" in refused(2, *base, "--kid", kid, "--at", "soon")
    assert "before the key's not_before" in refused(
        1, *base, "--kid", kid, "--at", "2000-01-01T00:00:00Z"
    )
    ok(
        "manifest",
        "sign",
        out,
        "--held",
        held,
        "--participant",
        "mission",
        "--key",
        key(fed, "mission"),
    )
    twice = ("key", "revoke", "--participant", "unodc", "--kid", kid, "--from", out)
    assert "is already revoked since" in refused(1, *twice, "--out", tmp_path / "y")


def test_parse_duration() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration(" 90s ") == timedelta(seconds=90)
    for bad in ("", "7", "d", "1.5h", "-1d", "7w", "7d12h"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)


# -- manifest submit ----------------------------------------------------------------------


@pytest.fixture
def rotation(tmp_path: Path) -> Iterator[tuple[LocalFederation, Path]]:
    """A federation of its own (this test changes its keys), with mission's key rotation
    signed by the quorum and merged."""
    fed = built_federation(tmp_path / "fed", SIGNERS)
    time.sleep(1.1)  # the new key is valid from a later second than the current one
    proposal = tmp_path / "proposal.json"
    ok(
        "key",
        "rotate",
        "--participant",
        "mission",
        "--dir",
        fed.root / "keys",
        "--from",
        fed.manifest_path,
        "--overlap",
        "1h",
        "--out",
        proposal,
    )
    sigs = sign_detached(fed, proposal, fed.manifest_path)
    ok("manifest", "merge", proposal, *sigs, "--held", fed.manifest_path)
    yield fed, proposal


def test_submit_to_a_real_node(rotation: tuple[LocalFederation, Path]) -> None:
    fed, proposal = rotation
    node = fed.nodes["mission"]
    new_kid = read(proposal).participant("mission").keys[-1].kid
    with served_node(node) as served:
        ctx = served.context
        assert ctx.manifest.serial == 1 and ctx.signing.kid != new_kid
        admin = node.tokens["admin"]
        accepted = ok("manifest", "submit", proposal, "--node", node.url, "--token", admin)
        assert accepted.stdout == (
            f"{node.url} accepted serial 2 of {ctx.manifest.federation}; it passes it on\n"
        )
        assert ctx.manifest.serial == 2
        # picked up from beside the key file, and held back: no peer runs to learn it
        assert ctx.key_held_back is not None and ctx.key_held_back[0] == new_kid
        assert ctx.signing.kid != new_kid
        again = ok(
            "manifest",
            "submit",
            proposal,
            "--node",
            node.url + "/",
            env={"CLEARINGHOUSE_ADMIN_TOKEN": admin},
        )
        assert "already holds serial 2" in again.stdout
        err = refused(
            1, "manifest", "submit", fed.manifest_path, "--node", node.url, "--token", admin
        )
        assert err.startswith(f"error: {node.url} refused the manifest: ")
        assert "not higher than the held serial 2" in err
        err = refused(1, "manifest", "submit", proposal, "--node", node.url, "--token", "wrong")
        assert f"error: {node.url} refused the manifest: " in err


def test_submit_needs_a_token_and_an_url(held: Path) -> None:
    missing = refused(2, "manifest", "submit", held, "--node", "http://127.0.0.1:9")
    assert "give a token of role admin: --token-file FILE, $CLEARINGHOUSE_ADMIN_TOKEN" in missing
    assert "--node must be an http(s) URL" in refused(
        2, "manifest", "submit", held, "--node", "127.0.0.1:9", "--token", "t"
    )


def test_submit_refuses_a_file_that_is_no_manifest(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[]")
    err = refused(1, "manifest", "submit", path, "--node", "http://127.0.0.1:9", "--token", "t")
    assert "not a JSON object" in err


def test_submit_unreachable_node(held: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = refused(1, "manifest", "submit", held, "--node", url, "--token", "t")
    assert err.startswith(f"error: cannot reach {url}: ")


NODE = "https://ch.unodc.example.org"


@respx.mock
def test_submit_sends_the_bytes_and_reports_acceptance(held: Path) -> None:
    route = respx.post(f"{NODE}/v1/manifest").mock(
        return_value=httpx.Response(
            200, json={"serial": 7, "status": "accepted", "federation": "f"}
        )
    )
    result = ok("manifest", "submit", held, "--node", NODE, "--token", "s3cret")
    assert result.stdout == f"{NODE} accepted serial 7 of f; it passes it on\n"
    request = route.calls.last.request
    assert request.content == held.read_bytes()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"


@respx.mock
def test_submit_prints_the_problem_detail_of_a_refusal(held: Path) -> None:
    problem = {
        "type": "urn:clearinghouse:problem:manifest-rejected",
        "title": "Manifest rejected",
        "status": 422,
        "detail": "manifest serial 1 has 2 valid signature(s) (dpa, mission) of the 3 required",
    }
    respx.post(f"{NODE}/v1/manifest").mock(
        return_value=httpx.Response(
            422, json=problem, headers={"content-type": "application/problem+json"}
        )
    )
    err = refused(1, "manifest", "submit", held, "--node", NODE, "--token", "t")
    assert err == (
        f"error: {NODE} refused the manifest: Manifest rejected: manifest serial 1 has 2 valid "
        "signature(s) (dpa, mission) of the 3 required "
        "(urn:clearinghouse:problem:manifest-rejected)"
    )


@respx.mock
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.ConnectError("connection refused"), f"cannot reach {NODE}: connection refused"),
        (httpx.ReadTimeout("timed out"), f"cannot reach {NODE}: timed out"),
        (httpx.Response(502, text="<html>bad gateway</html>"), "answered HTTP 502: <html>bad"),
        (httpx.Response(200, json={"ok": True}), "answered HTTP 200"),
        (
            httpx.Response(200, json={"status": "queued", "serial": 2}),
            "answered with an unknown status 'queued'",
        ),
    ],
)
def test_submit_other_answers_exit_1(held: Path, answer: Any, message: str) -> None:
    route = respx.post(f"{NODE}/v1/manifest")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    assert message in refused(1, "manifest", "submit", held, "--node", NODE, "--token", "t")
