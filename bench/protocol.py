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

    python -m bench protocol [--records N] [--quick] [--no-reference] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._report import Row, figures, log, write_json
from bench._timing import rate
from bench.crypto import yardstick
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import build_manifest, sign_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view, verify_view

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
CONFIG = ROOT / "deploy" / "examples" / "federation.yaml"
NOW = datetime.now(UTC).replace(microsecond=0)


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
                pseudonym_epoch="bench",
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
    parser = argparse.ArgumentParser(
        prog="python -m bench protocol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, help="real UCDP events to use (2,000)")
    parser.add_argument("--quick", action="store_true", help="300 events")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--no-reference", action="store_true", help="skip the sd-jwt peer")
    args = parser.parse_args(argv)
    count = args.records or (300 if args.quick else 2000)

    records = list(itertools.islice(read_events(EVENTS), count))
    log(
        f"protocol: {len(records)} real UCDP GED events, one core, "
        f"{platform.python_implementation()} {platform.python_version()}"
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
    _print(out)
    write_json(args.out, out)
    return out


def _print(out: dict[str, Any]) -> None:
    stick, ours, ratios = out["yardstick"], out["clearinghouse"], out["ratios"]
    sign = f"Ed25519 sign {stick['ed25519_sign_per_s']:,.0f}/s"
    verify = f"Ed25519 verify {stick['ed25519_verify_per_s']:,.0f}/s"
    rows: list[Row | None] = [
        ("packets issued", f"{ours['issue_per_s']:,.0f}/s", sign,
         f"{ratios['issue_vs_sign']:.3f}"),
        ("views made (no signature)", f"{ours['view_per_s']:,.0f}/s",
         f"SHA-256 1 KiB {stick['sha256_1kib_per_s']:,.0f}/s",
         f"{ours['view_per_s'] / stick['sha256_1kib_per_s']:.4f}"),
        ("views verified (with policy)", f"{ours['verify_view_per_s']:,.0f}/s", verify,
         f"{ratios['verify_view_vs_verify']:.3f}"),
        ("full packets verified", f"{ours['verify_full_per_s']:,.0f}/s", verify,
         f"{ratios['verify_full_vs_verify']:.3f}"),
    ]  # fmt: skip
    if "sd_jwt_reference" in out:
        ref = out["sd_jwt_reference"]
        rows += [
            None,
            ("packets issued", f"{ours['issue_per_s']:,.0f}/s",
             f"sd-jwt reference {ref['issue_per_s']:,.0f}/s",
             f"{ratios['issue_vs_reference']:.2f}"),
            ("full packets verified", f"{ours['verify_full_per_s']:,.0f}/s",
             f"sd-jwt reference {ref['verify_full_per_s']:,.0f}/s",
             f"{ratios['verify_full_vs_reference']:.2f}"),
        ]  # fmt: skip
    rows += [
        None,
        ("disclosures per packet", f"{ours['disclosures_per_packet']:.1f}", "", ""),
        ("bytes per packet / per view",
         f"{ours['packet_bytes']:,.0f} / {ours['view_bytes']:,.0f}", "", ""),
    ]  # fmt: skip
    figures(f"protocol, {out['records']:,} real UCDP events, one core", rows)


if __name__ == "__main__":
    main()
