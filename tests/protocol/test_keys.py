"""Ed25519 keys: PEM round trips (plain and encrypted) and RFC 7638/8037 JWK thumbprints."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from clearinghouse.protocol.errors import KeyUnusable
from clearinghouse.protocol.keys import (
    generate_private_key as generate_ed25519,
)
from clearinghouse.protocol.keys import (
    jwk_thumbprint,
    load_private_key,
    private_key_to_pem,
    public_jwk,
    public_key_from_jwk,
)
from tests.support import VECTORS


def test_rfc8037_appendix_a_thumbprint() -> None:
    # RFC 8037 A.3: the thumbprint of the A.2 public key.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc9421_test_key_loads_and_matches_its_public_pem() -> None:
    key = load_private_key(
        (VECTORS / "http-message-signatures" / "test-key-ed25519.private.pem").read_bytes()
    )
    public = serialization.load_pem_public_key(
        (VECTORS / "http-message-signatures" / "test-key-ed25519.pem").read_bytes()
    )
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == public.public_bytes(*raw)


def test_pem_round_trip_plain_and_encrypted() -> None:
    key = generate_ed25519()
    plain = private_key_to_pem(key)
    assert plain.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_jwk(load_private_key(plain)) == public_jwk(key)
    encrypted = private_key_to_pem(key, b"correct horse")
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public_jwk(load_private_key(encrypted, b"correct horse")) == public_jwk(key)
    with pytest.raises(KeyUnusable):
        load_private_key(encrypted, b"wrong")
    with pytest.raises(KeyUnusable):
        load_private_key(encrypted)
    with pytest.raises(KeyUnusable):
        load_private_key(b"not a pem")


def test_non_ed25519_private_key_is_refused() -> None:
    ec = generate_private_key(SECP256R1())
    pem = ec.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyUnusable, match="not Ed25519"):
        load_private_key(pem)


def test_public_jwk_is_okp_with_thumbprint_kid() -> None:
    jwk = public_jwk(generate_ed25519())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert jwk["kid"] == jwk_thumbprint(jwk)
    public_key_from_jwk(jwk)


@pytest.mark.parametrize(
    "mutation",
    [
        {"kty": "EC"},
        {"crv": "X25519"},
        {"x": "AAAA"},
        {"x": "not base64!"},
        {"kid": "wrong-kid"},
        {"d": "private"},
    ],
)
def test_bad_jwks_are_refused(mutation: dict) -> None:
    jwk = {**public_jwk(generate_ed25519()), **mutation}
    with pytest.raises(KeyUnusable):
        public_key_from_jwk(jwk)


def test_rfc8037_a4_ed25519_jws_signature() -> None:
    # RFC 8037 A.1 private key, A.4 signing of "Example of Ed25519 signing" with
    # header {"alg":"EdDSA"}: Ed25519 is deterministic, so the bytes must match.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from clearinghouse.protocol.encoding import b64url_decode, b64url_encode

    key = Ed25519PrivateKey.from_private_bytes(
        b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    )
    assert public_jwk(key)["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    assert b64url_encode(key.sign(signing_input)) == (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )


def test_rfc9421_b26_ed25519_signature_is_reproduced() -> None:
    import base64
    import json

    vectors = json.loads(
        (VECTORS / "http-message-signatures" / "rfc9421_appendix_b.json").read_text()
    )
    case = next(c for c in vectors["cases"] if c["label"] == "sig-b26")
    key = load_private_key(
        (VECTORS / "http-message-signatures" / "test-key-ed25519.private.pem").read_bytes()
    )
    signature = key.sign(case["signature_base"].encode())
    assert base64.b64encode(signature).decode() == case["signature_b64"]
    key.public_key().verify(signature, case["signature_base"].encode())
