"""Protocol benchmark: packets issued, viewed and verified per second on real events.

Measured side by side in one process, on one core:

* the yardstick: raw Ed25519 signs/s and verifies/s over a message the size of a
  packet's signing input, and SHA-256 of 1 KiB/s;
* Clearinghouse: real UCDP GED events issued as packets (one signature, one
  disclosure per field), views made for every recipient of the demo policy, and
  views verified (signature, disclosures, schema, policy) per second;
* the SD-JWT reference implementation (``sd-jwt``, EdDSA through jwcrypto)
  issuing and verifying the same records with every field disclosable, as the
  peer a user would otherwise pick.

Each figure is printed with its ratio to the yardstick; ``--out FILE`` writes JSON.

    python -m bench.protocol [--records N] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._timing import rate
from node.importers.ucdp import read_events
from protocol.keys import public_jwk
from protocol.manifest import build_manifest, sign_manifest
from protocol.packet import issue_packet, recipient_view, verify_view

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
CONFIG = ROOT / "deploy" / "examples" / "federation.yaml"
NOW = datetime.now(UTC).replace(microsecond=0)


def yardstick(message_size: int) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(message_size)
    signature = key.sign(message)
    n = 3000
    kib = os.urandom(1024)
    return {
        "ed25519_sign_per_s": rate(lambda: [key.sign(message) for _ in range(n)], n),
        "ed25519_verify_per_s": rate(
            lambda: [public.verify(signature, message) for _ in range(n)], n
        ),
        "sha256_1kib_per_s": rate(
            lambda: [hashlib.sha256(kib).digest() for _ in range(n * 10)], n * 10
        ),
    }


def demo_federation() -> tuple[Any, dict[str, Ed25519PrivateKey]]:
    config = yaml.safe_load(CONFIG.read_text())
    for participant in config["participants"]:
        participant.pop("analyzer", None)  # no analysis here: only the packets' cost
    keys = {p["id"]: Ed25519PrivateKey.generate() for p in config["participants"]}
    manifest = build_manifest(config, {p: [public_jwk(k)] for p, k in keys.items()}, issued_at=NOW)
    for signer in list(keys)[: manifest.quorum]:
        manifest = sign_manifest(manifest, signer, keys[signer])
    return manifest, keys


def clearinghouse(records: list[dict[str, Any]]) -> tuple[dict[str, float], int]:
    manifest, keys = demo_federation()
    key, kid = keys["mission"], public_jwk(keys["mission"])["kid"]
    pseudonym_key = os.urandom(32)
    recipients = manifest.sharing.recipients("conflict-event/1")
    recipients = [r for r in recipients if r != "mission"]

    def issue_all() -> list[str]:
        return [
            issue_packet(
                r,
                schema="conflict-event/1",
                issuer="mission",
                key=key,
                kid=kid,
                now=NOW,
                pseudonym_key=pseudonym_key,
            ).sd_jwt
            for r in records
        ]

    packets = issue_all()
    views = [(recipient_view(p, manifest, r), r) for p in packets for r in recipients]
    n, nv = len(records), len(views)
    signing_input = len(packets[0].split("~", 1)[0].rsplit(".", 1)[0])
    results = {
        "issue_per_s": rate(issue_all, n, repeat=2),
        "view_per_s": rate(
            lambda: [recipient_view(p, manifest, r) for p in packets for r in recipients],
            nv,
            repeat=2,
        ),
        "verify_view_per_s": rate(
            lambda: [verify_view(v, manifest, recipient=r, now=NOW) for v, r in views], nv, repeat=2
        ),
        "verify_full_per_s": rate(
            lambda: [verify_view(p, manifest, recipient=None, now=NOW) for p in packets],
            n,
            repeat=2,
        ),
        "disclosures_per_packet": sum(p.count("~") - 1 for p in packets) / n,
        "packet_bytes": sum(len(p) for p in packets) / n,
        "view_bytes": sum(len(v) for v, _ in views) / nv,
    }
    return results, signing_input


def reference(records: list[dict[str, Any]]) -> dict[str, float]:
    """The sd-jwt reference implementation on the same records (all claims disclosable)."""
    from jwcrypto.jwk import JWK
    from sd_jwt.common import SDObj
    from sd_jwt.issuer import SDJWTIssuer
    from sd_jwt.verifier import SDJWTVerifier

    jwk = JWK.generate(kty="OKP", crv="Ed25519")

    def sd(value: Any) -> Any:
        if isinstance(value, dict):
            return {SDObj(k): sd(v) for k, v in value.items()}
        if isinstance(value, list):
            return [SDObj(sd(v)) for v in value]
        return value

    claims = [{"iss": "mission", "iat": int(NOW.timestamp()), **sd(r)} for r in records]

    def issue_all() -> list[str]:
        return [SDJWTIssuer(c, jwk, sign_alg="EdDSA").sd_jwt_issuance for c in claims]

    issued = issue_all()
    n = len(records)
    return {
        "issue_per_s": rate(issue_all, n, repeat=2),
        "verify_full_per_s": rate(
            lambda: [SDJWTVerifier(s, lambda iss, h: jwk).get_verified_payload() for s in issued],
            n,
            repeat=2,
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2000, help="real UCDP events to use")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--no-reference", action="store_true", help="skip the sd-jwt peer")
    args = parser.parse_args(argv)

    records = list(itertools.islice(read_events(EVENTS), args.records))
    print(
        f"protocol benchmark: {len(records)} real UCDP GED events, one core, "
        f"{platform.python_implementation()} {platform.python_version()}",
        file=sys.stderr,
    )
    ours, signing_input = clearinghouse(records)
    stick = yardstick(signing_input)
    out: dict[str, Any] = {
        "records": len(records),
        "yardstick": stick,
        "clearinghouse": ours,
        "ratios": {
            "issue_vs_sign": ours["issue_per_s"] / stick["ed25519_sign_per_s"],
            "verify_view_vs_verify": ours["verify_view_per_s"] / stick["ed25519_verify_per_s"],
            "verify_full_vs_verify": ours["verify_full_per_s"] / stick["ed25519_verify_per_s"],
        },
    }
    if not args.no_reference:
        ref = reference(records)
        out["sd_jwt_reference"] = ref
        out["ratios"]["issue_vs_reference"] = ours["issue_per_s"] / ref["issue_per_s"]
        out["ratios"]["verify_full_vs_reference"] = (
            ours["verify_full_per_s"] / ref["verify_full_per_s"]
        )

    rows = [
        ("Ed25519 sign (yardstick)", stick["ed25519_sign_per_s"], ""),
        ("Ed25519 verify (yardstick)", stick["ed25519_verify_per_s"], ""),
        ("SHA-256 of 1 KiB (yardstick)", stick["sha256_1kib_per_s"], ""),
        ("packets issued", ours["issue_per_s"], f"{out['ratios']['issue_vs_sign']:.3f} x sign"),
        ("views made", ours["view_per_s"], ""),
        (
            "views verified (with policy)",
            ours["verify_view_per_s"],
            f"{out['ratios']['verify_view_vs_verify']:.3f} x verify",
        ),
        (
            "full packets verified",
            ours["verify_full_per_s"],
            f"{out['ratios']['verify_full_vs_verify']:.3f} x verify",
        ),
    ]
    if "sd_jwt_reference" in out:
        ref = out["sd_jwt_reference"]
        rows += [
            (
                "sd-jwt reference: issued",
                ref["issue_per_s"],
                f"ours {out['ratios']['issue_vs_reference']:.2f} x",
            ),
            (
                "sd-jwt reference: verified",
                ref["verify_full_per_s"],
                f"ours {out['ratios']['verify_full_vs_reference']:.2f} x",
            ),
        ]
    print(f"{'':34}{'per second':>14}  ratio")
    for label, value, ratio in rows:
        print(f"{label:34}{value:14,.0f}  {ratio}")
    print(f"{'disclosures per packet':34}{ours['disclosures_per_packet']:14.1f}")
    sizes = f"{ours['packet_bytes']:14,.0f}  / {ours['view_bytes']:,.0f}"
    print(f"{'bytes per packet / per view':34}{sizes}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
