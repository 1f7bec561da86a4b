"""RFC 9421 request signatures and RFC 9530 Content-Digest between nodes (httpsig)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from clearinghouse.node.errors import (
    DigestMismatch,
    NodeError,
    RequestSignatureInvalid,
    SignatureMissing,
    StaleSignature,
    UnknownKeyId,
)
from clearinghouse.node.transport import httpsig
from clearinghouse.node.transport.httpsig import (
    SignedHeaders,
    VerifiedRequest,
    content_digest,
    new_nonce,
    sign_request,
    verify_request,
    verify_request_body,
    verify_request_headers,
)
from tests.support import NOW, VECTORS, seeded_key

RFC9421 = VECTORS / "http-message-signatures"
KEY = seeded_key("mission")
OTHER_KEY = seeded_key("unodc")
KEY_ID = "mission-key-1"
WINDOW = timedelta(minutes=5)
PACKETS_URL = "http://127.0.0.1:8102/v1/packets?since=5&limit=10"
POST_URL = "http://127.0.0.1:8102/v1/packets"
POST_JSON = {"views": [{"jti": "p-1", "sd_jwt": "eyJ...~"}]}


def resolve(key_id: str) -> Ed25519PublicKey:
    if key_id != KEY_ID:
        raise UnknownKeyId(f"no participant has key {key_id!r}", keyid=key_id)
    return KEY.public_key()


def signed_post(**overrides: Any) -> httpx.Request:
    request = httpx.Request("POST", POST_URL, json=POST_JSON)
    options: dict[str, Any] = {"key": KEY, "key_id": KEY_ID, "created": NOW, **overrides}
    return sign_request(request, **options)


def verify(request: httpx.Request, **overrides: Any) -> VerifiedRequest:
    """Verify as a server would: the URL as sent, the header lines, the raw body."""
    arguments: dict[str, Any] = {
        "method": request.method,
        "url": str(request.url),
        "headers": request.headers.multi_items(),
        "body": request.content,
        "resolve_key": resolve,
        "now": NOW,
        "window": WINDOW,
        **overrides,
    }
    return verify_request(**arguments)


def library_signer(key_id: str, key: Ed25519PrivateKey) -> HTTPMessageSigner:
    """The library's Ed25519 signer holding just this one key (not the node's path)."""
    return HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
    )


def library_signed(
    components: tuple[str, ...], *, nonce: str | None = "n-1", with_body: bool = True
) -> httpx.Request:
    """A request signed by the library directly, with chosen coverage and parameters."""
    request = httpx.Request("POST", POST_URL, json=POST_JSON)
    if not with_body:
        request.headers["Content-Digest"] = content_digest(request.content)
    library_signer(KEY_ID, KEY).sign(
        request,
        key_id=KEY_ID,
        created=NOW,
        nonce=nonce,
        label="ch",
        covered_component_ids=components,
        body=request.content if with_body else None,
        use_existing_digest=not with_body,
    )
    return request


# --- Known-answer vectors ----------------------------------------------------------


@pytest.fixture(scope="module")
def rfc9421() -> dict[str, Any]:
    return json.loads((RFC9421 / "rfc9421_appendix_b.json").read_text())


@pytest.fixture(scope="module")
def b26(rfc9421: dict[str, Any]) -> dict[str, Any]:
    return next(case for case in rfc9421["cases"] if case["label"] == "sig-b26")


def rfc_test_request(
    rfc9421: dict[str, Any], url: str = "https://example.com/foo?param=Value&Pet=dog"
) -> httpx.Request:
    """RFC 9421 Appendix B.2's test request as an httpx.Request."""
    return httpx.Request(
        "POST",
        url,
        headers={
            "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
            "Content-Type": "application/json",
            "Content-Digest": rfc9421["content_digest_header"],
        },
        content=rfc9421["test_request_body"].encode(),
    )


def rfc_key() -> Ed25519PrivateKey:
    key = load_pem_private_key((RFC9421 / "test-key-ed25519.private.pem").read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def rfc_verifier() -> httpsig._Verifier:
    public = load_pem_public_key((RFC9421 / "test-key-ed25519.pem").read_bytes())
    return httpsig._Verifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={"test-key-ed25519": public}, private_keys={}),
    )


def test_rfc9421_b26_signature_base_and_signature(
    rfc9421: dict[str, Any], b26: dict[str, Any]
) -> None:
    request = rfc_test_request(rfc9421)
    assert request.headers["content-length"] == "18"
    signer = library_signer(b26["keyid"], rfc_key())
    options: dict[str, Any] = {
        "key_id": b26["keyid"],
        "created": datetime(2021, 4, 20, 2, 7, 53, tzinfo=UTC),  # 1618884473
        "label": b26["label"],
        "include_alg": False,  # B.2.6 has no alg parameter
        "covered_component_ids": b26["covered_components"],
        "use_existing_digest": True,  # the RFC request already carries a (sha-512) digest
    }

    prepared = signer.prepare(request, **options)
    assert prepared.signature_base == b26["signature_base"].encode()
    assert prepared.signature_params == b26["signature_params"]

    signer.sign(request, **options)
    assert request.headers["signature-input"] == b26["signature_input_header"]
    assert request.headers["signature"] == b26["signature_header"]
    assert request.headers["content-digest"] == rfc9421["content_digest_header"]


def test_rfc9421_b26_verifies_with_our_verifier(
    rfc9421: dict[str, Any], b26: dict[str, Any]
) -> None:
    request = rfc_test_request(rfc9421)
    request.headers["Signature-Input"] = b26["signature_input_header"]
    request.headers["Signature"] = b26["signature_header"]
    # 2021 is years before the wall clock: only our injected clock may judge `created`.
    (result,) = rfc_verifier().verify(request, max_age=None)
    assert result.parameters == {"created": 1618884473, "keyid": "test-key-ed25519"}
    assert result.covered_components['"@signature-params"'] == b26["signature_params"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rfc9421_b26_negative_cases(
    rfc9421: dict[str, Any], b26: dict[str, Any], index: int
) -> None:
    case = rfc9421["negative_cases"][index]
    url = "https://example.com/foo?param=Value&Pet=dog"
    if "signature_base" in case:  # the same signature over a base for another @path
        assert '"@path": /foo2' in case["signature_base"]
        url = "https://example.com/foo2?param=Value&Pet=dog"
    request = rfc_test_request(rfc9421, url)
    request.headers["Signature-Input"] = b26["signature_input_header"]
    request.headers["Signature"] = f"sig-b26=:{case['signature_b64']}:"
    with pytest.raises(InvalidSignature):
        rfc_verifier().verify(request, max_age=None)


def test_rfc9530_content_digest_example(rfc9421: dict[str, Any]) -> None:
    body = rfc9421["test_request_body"].encode()
    assert body == b'{"hello": "world"}'

    class Sha512Digest(ContentDigest):
        algorithm = "sha-512"

    assert Sha512Digest.create(body) == rfc9421["content_digest_header"]


@pytest.mark.parametrize("body", [b'{"hello": "world"}', b"", bytes(range(256))])
def test_content_digest_is_sha256_of_the_exact_bytes(body: bytes) -> None:
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert content_digest(body) == f"sha-256=:{expected}:"


def test_new_nonce_is_128_random_bits_base64url() -> None:
    nonce = new_nonce()
    assert len(nonce) == 22
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 16
    assert new_nonce() != nonce


# --- Round trips -------------------------------------------------------------------


def test_post_with_json_body_round_trip() -> None:
    request = signed_post(nonce="nonce-1")
    assert request.headers["content-digest"] == content_digest(request.content)
    assert request.headers["signature-input"] == (
        'ch=("@method" "@target-uri" "content-digest");'
        f'created={int(NOW.timestamp())};keyid="{KEY_ID}";alg="ed25519";nonce="nonce-1"'
    )
    assert verify(request) == VerifiedRequest(
        key_id=KEY_ID,
        created=NOW,
        nonce="nonce-1",
        covered=("@method", "@target-uri", "content-digest"),
    )


def test_get_with_query_round_trip_on_the_same_url_string() -> None:
    request = sign_request(httpx.Request("GET", PACKETS_URL), key=KEY, key_id=KEY_ID, created=NOW)
    assert request.headers["content-digest"] == content_digest(b"")
    verified = verify(request, url=PACKETS_URL, headers=dict(request.headers), body=b"")
    assert verified.key_id == KEY_ID
    assert len(verified.nonce) == 22  # a fresh default nonce


def test_sign_request_replaces_a_stale_digest_and_returns_the_same_request() -> None:
    request = httpx.Request("POST", POST_URL, json=POST_JSON)
    request.headers["Content-Digest"] = content_digest(b"something else")
    assert sign_request(request, key=KEY, key_id=KEY_ID, created=NOW) is request
    assert request.headers.get_list("content-digest") == [content_digest(request.content)]
    verify(request)


class KeyElsewhere:
    """A signer whose key the library never sees (as a key in an HSM): only sign and
    public_key, no ``cryptography`` private key object."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.signed: list[bytes] = []

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return self._key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


def test_a_signer_that_is_not_a_private_key_object_signs_the_same_request() -> None:
    elsewhere = KeyElsewhere(KEY)
    request = signed_post(key=elsewhere, nonce="n-1")
    assert signed_post(nonce="n-1").headers["signature"] == request.headers["signature"]
    (base,) = elsewhere.signed  # the RFC 9421 signature base, signed once
    assert base.startswith(b'"@method": POST\n') and b'"@signature-params": ' in base
    verify(request)


def test_ch_is_chosen_among_several_signatures() -> None:
    request = signed_post()
    request.headers["Signature-Input"] += ', proxy=("@method");created=1;keyid="p"'
    request.headers["Signature"] += ", proxy=:AAAA:"
    assert verify(request).key_id == KEY_ID


def test_a_single_signature_under_another_label_is_accepted() -> None:
    request = signed_post()
    for name in ("Signature-Input", "Signature"):
        request.headers[name] = request.headers[name].replace("ch=", "sig1=", 1)
    assert verify(request).key_id == KEY_ID


# --- One negative test per error ---------------------------------------------------


@pytest.mark.parametrize("header", ["Signature", "Signature-Input", "Content-Digest"])
def test_missing_header(header: str) -> None:
    request = signed_post()
    del request.headers[header]
    with pytest.raises(SignatureMissing, match=header) as caught:
        verify(request)
    assert caught.value.extra["header"] == header


@pytest.mark.parametrize(
    ("components", "missing"),
    [
        (("@method", "@target-uri"), "content-digest"),
        (("@method", "content-digest"), "@target-uri"),
        (("@target-uri", "content-digest"), "@method"),
        (("@method", "@target-uri", '"content-digest";sf'), "content-digest"),
    ],
)
def test_signature_missing_a_required_component(components: tuple[str, ...], missing: str) -> None:
    # Without any digest coverage the library would add it for a body: set the header instead.
    with_body = any("content-digest" in component for component in components)
    request = library_signed(components, with_body=with_body)
    with pytest.raises(RequestSignatureInvalid, match=f"does not cover {missing}"):
        verify(request)


def test_signature_without_nonce() -> None:
    request = library_signed(("@method", "@target-uri", "content-digest"), nonce=None)
    with pytest.raises(RequestSignatureInvalid, match="nonce"):
        verify(request)


@pytest.mark.parametrize("parameter", ["created", "keyid"])
def test_signature_input_without_parameter(parameter: str) -> None:
    request = signed_post()
    value = request.headers["Signature-Input"]
    start = value.index(f";{parameter}=")
    end = value.index(";", start + 1)
    request.headers["Signature-Input"] = value[:start] + value[end:]
    with pytest.raises(RequestSignatureInvalid, match=parameter):
        verify(request)


def test_other_algorithm_is_refused() -> None:
    request = signed_post()
    value = request.headers["Signature-Input"]
    request.headers["Signature-Input"] = value.replace('alg="ed25519"', 'alg="hmac-sha256"')
    with pytest.raises(RequestSignatureInvalid, match="algorithm"):
        verify(request)


def test_wrong_key() -> None:
    with pytest.raises(RequestSignatureInvalid, match="does not verify"):
        verify(signed_post(key=OTHER_KEY))


def test_unknown_key_id_propagates() -> None:
    with pytest.raises(UnknownKeyId):
        verify(signed_post(key_id="stranger-key"))


@pytest.mark.parametrize(
    ("offset", "direction"), [(timedelta(minutes=-10), "past"), (timedelta(minutes=10), "future")]
)
def test_stale_created(offset: timedelta, direction: str) -> None:
    request = signed_post(created=NOW + offset)
    with pytest.raises(StaleSignature, match=f"600 s in the {direction}; the window is 300 s"):
        verify(request)
    assert verify(request, now=NOW + offset).created == NOW + offset


def test_body_changed_after_signing() -> None:
    request = signed_post()
    with pytest.raises(DigestMismatch):
        verify(request, body=request.content.replace(b"p-1", b"p-2"))


def test_signed_digest_without_sha256_member() -> None:
    request = httpx.Request("POST", POST_URL, json=POST_JSON)
    digest = base64.b64encode(hashlib.sha512(request.content).digest()).decode()
    request.headers["Content-Digest"] = f"sha-512=:{digest}:"
    library_signer(KEY_ID, KEY).sign(
        request,
        key_id=KEY_ID,
        created=NOW,
        nonce="n-1",
        label="ch",
        covered_component_ids=httpsig.COVERED_COMPONENTS,
        body=request.content,
        use_existing_digest=True,
    )
    with pytest.raises(DigestMismatch, match="sha-256"):
        verify(request)


def test_method_changed() -> None:
    with pytest.raises(RequestSignatureInvalid):
        verify(signed_post(), method="PUT")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8102/v1/packets?since=6&limit=10",
        "http://127.0.0.1:8102/v1/packets?since=5",
        "http://127.0.0.1:8102/v1/packet?since=5&limit=10",
        "http://127.0.0.1:8103/v1/packets?since=5&limit=10",
        "https://127.0.0.1:8102/v1/packets?since=5&limit=10",
    ],
)
def test_url_or_query_changed(url: str) -> None:
    request = sign_request(httpx.Request("GET", PACKETS_URL), key=KEY, key_id=KEY_ID, created=NOW)
    with pytest.raises(RequestSignatureInvalid):
        verify(request, url=url)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Signature", "garbage!!"),
        ("Signature", ""),
        ("Signature", "ch=:AAAA:"),
        ("Signature", "ch=42"),
        ("Signature", "ch=:not base64:"),
        ("Signature", "other=:AAAA:"),
        ("Signature", "ch=:AAAA:, ch=:BBBB:"),
        ("Signature-Input", "garbage!!"),
        ("Signature-Input", "ch=:AAAA:"),
        ("Signature-Input", 'ch=("@method" @target-uri);keyid="k"'),
        ("Signature-Input", 'a=("@method"), b=("@method")'),
        ("Content-Digest", "garbage!!"),
    ],
)
def test_garbage_headers_are_refused_not_crashes(header: str, value: str) -> None:
    request = signed_post()
    request.headers[header] = value
    # A rewritten Content-Digest is covered by the signature, so it fails at step (4).
    with pytest.raises(RequestSignatureInvalid):
        verify(request)


@pytest.mark.parametrize(
    "created",
    ['"1795608000"', "1795608000.5", "?1", "999999999999999", "99999999999999999999"],
)
def test_malformed_created_is_refused(created: str) -> None:
    request = signed_post()
    value = request.headers["Signature-Input"]
    request.headers["Signature-Input"] = value.replace(
        f"created={int(NOW.timestamp())}", f"created={created}"
    )
    with pytest.raises(RequestSignatureInvalid):
        verify(request)


@pytest.mark.parametrize("url", ["not a url", "/v1/packets", "http://h/é", ""])
def test_unusable_url_is_refused(url: str) -> None:
    with pytest.raises(RequestSignatureInvalid):
        verify(signed_post(), url=url)


def test_naive_datetimes_are_refused() -> None:
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(NodeError, match="timezone-aware"):
        signed_post(created=naive)
    with pytest.raises(NodeError, match="timezone-aware"):
        verify(signed_post(), now=naive)


def test_streaming_body_cannot_be_signed() -> None:
    request = httpx.Request("POST", POST_URL, content=iter([b"a", b"b"]))
    with pytest.raises(NodeError, match="streaming"):
        sign_request(request, key=KEY, key_id=KEY_ID, created=NOW)


# --- Headers first, the body after ---------------------------------------------------


def verify_headers(request: httpx.Request, **overrides: Any) -> SignedHeaders:
    """Steps (1) to (4) as a server runs them before reading a body: no body given."""
    arguments: dict[str, Any] = {
        "method": request.method,
        "url": str(request.url),
        "headers": request.headers.multi_items(),
        "resolve_key": resolve,
        "now": NOW,
        "window": WINDOW,
        **overrides,
    }
    return verify_request_headers(**arguments)


def test_headers_then_body_is_verify_request() -> None:
    request = signed_post(nonce="n-1")
    signed = verify_headers(request)
    assert (signed.key_id, signed.created, signed.nonce) == (KEY_ID, NOW, "n-1")
    assert verify_request_body(signed, request.content) == verify(request)
    with pytest.raises(DigestMismatch, match="does not match"):
        verify_request_body(signed, request.content + b" ")


def _without(header: str) -> Any:
    def change(request: httpx.Request) -> None:
        del request.headers[header]

    return change


def _resigned(**overrides: Any) -> Any:
    def change(request: httpx.Request) -> None:
        signed = signed_post(**overrides)
        for name in ("Signature", "Signature-Input"):
            request.headers[name] = signed.headers[name]

    return change


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (_without("Signature-Input"), SignatureMissing, "Signature-Input"),
        (_without("Content-Digest"), SignatureMissing, "Content-Digest"),
        (_resigned(key_id="stranger-key"), UnknownKeyId, "stranger-key"),
        (_resigned(created=NOW - timedelta(hours=1)), StaleSignature, "in the past"),
        (_resigned(key=OTHER_KEY), RequestSignatureInvalid, "does not verify"),
        (
            lambda r: r.headers.__setitem__("Signature-Input", "ch=garbage("),
            RequestSignatureInvalid,
            "malformed",
        ),
    ],
    ids=["no signature-input", "no content-digest", "unknown keyid", "stale", "wrong key", "junk"],
)
def test_a_request_nobody_signed_is_refused_from_its_headers(
    change: Any, error: type[Exception], words: str
) -> None:
    """Each refusal comes from the headers alone: the server never needs the body."""
    request = signed_post()
    change(request)
    with pytest.raises(error, match=words):
        verify_headers(request)


def test_no_key_is_looked_up_for_a_stale_or_malformed_signature() -> None:
    looked_up: list[str] = []

    def recording(key_id: str) -> Ed25519PublicKey:
        looked_up.append(key_id)
        return resolve(key_id)

    with pytest.raises(StaleSignature):
        verify_headers(signed_post(created=NOW + timedelta(hours=1)), resolve_key=recording)
    request = signed_post()
    del request.headers["Signature"]
    with pytest.raises(SignatureMissing):
        verify_headers(request, resolve_key=recording)
    assert looked_up == []


def test_public_surface() -> None:
    assert set(httpsig.__all__) == {
        "COVERED_COMPONENTS",
        "LABEL",
        "REQUIRED_PARAMETERS",
        "SignedHeaders",
        "VerifiedRequest",
        "content_digest",
        "new_nonce",
        "sign_request",
        "verify_request",
        "verify_request_body",
        "verify_request_headers",
    }
