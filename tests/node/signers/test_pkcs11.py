"""An Ed25519 key in a PKCS#11 token (SoftHSM2): it signs, it never leaves, it says what is wrong.

Each test gets a fresh SoftHSM2 token (:mod:`tests.softhsm`). The signatures are
checked with ``cryptography`` and with the protocol's own verifiers; that the private
key cannot be read out is checked against the token itself, through python-pkcs11,
not through the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import write_secret
from clearinghouse.node.signers import PIN_ENV, Pkcs11Key, Pkcs11Token, read_pin
from clearinghouse.protocol.errors import KeyUnusable
from clearinghouse.protocol.keys import Signer, public_jwk
from clearinghouse.protocol.notes import ed25519_vkey, parse_vkey, sign_note, verify_note
from clearinghouse.protocol.sdjwt import decode_jws, sign_jws, verify_jws
from tests.softhsm import MODULE, PIN, SoftHsm


@pytest.fixture
def token(softhsm: SoftHsm) -> Iterator[Pkcs11Token]:
    with softhsm.open(writable=True) as opened:
        yield opened


def raw_session(hsm: SoftHsm) -> pkcs11.Session:
    """A session of python-pkcs11's own (not the code under test), logged in."""
    return pkcs11.lib(str(MODULE)).get_token(token_label=hsm.token_label).open(rw=True)


def test_a_key_made_in_the_token_signs_what_its_public_key_verifies(token: Pkcs11Token) -> None:
    key = token.generate_key("mission")
    signer: Signer = key  # a Signer as the protocol takes it
    data = b"a packet's signing input"
    signature = signer.sign(data)
    assert len(signature) == 64
    signer.public_key().verify(signature, data)  # raises if it does not verify
    assert key.sign(data) == signature  # Ed25519 is deterministic: pure EdDSA, no prehash
    # found again by its label: the same public key, the same kid
    assert public_jwk(token.key("mission")) == public_jwk(key)
    # the protocol's signers and verifiers, as the node uses them
    jws = sign_jws({"alg": "EdDSA", "typ": "test", "kid": "k"}, {"n": 1}, key)
    verify_jws(decode_jws(jws), key.public_key())
    vkey = parse_vkey(ed25519_vkey("mission.example/log", key.public_key()))
    note = sign_note("mission.example/log\n3\nAAAA\n", "mission.example/log", key)
    assert [(s.name, s.key_id) for s in verify_note(note, [vkey])] == [(vkey.name, vkey.key_id)]


def test_the_private_key_cannot_be_read_out_of_the_token(
    softhsm: SoftHsm, token: Pkcs11Token
) -> None:
    token.generate_key("mission")
    with raw_session(softhsm) as session:
        # logged in through the code under test's session: the app's login covers this one
        private = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label="mission")
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.TOKEN] is True and private[Attribute.PRIVATE] is True
        with pytest.raises(p11.AttributeSensitive):
            private[Attribute.VALUE]
        wrapping = session.generate_key(KeyType.AES, 256, template={Attribute.WRAP: True})
        with pytest.raises(p11.KeyUnextractable):
            wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)


def test_a_key_that_could_leave_the_token_is_refused(softhsm: SoftHsm, token: Pkcs11Token) -> None:
    with raw_session(softhsm) as session:
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
            local=True,
        )
        params.generate_keypair(
            store=True,
            label="copyable",
            private_template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False},
        )
    with pytest.raises(KeyUnusable, match=r"'copyable' .* could leave the token"):
        token.key("copyable")


def test_a_key_of_another_type_is_refused(softhsm: SoftHsm, token: Pkcs11Token) -> None:
    with raw_session(softhsm) as session:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        params.generate_keypair(store=True, label="p256")
    with pytest.raises(KeyUnusable, match=r"'p256' .* key type EC, not Ed25519"):
        token.key("p256")


def test_a_missing_key_and_a_taken_label_are_named(token: Pkcs11Token) -> None:
    with pytest.raises(KeyUnusable, match="'clearinghouse-test' has no private key labelled 'x'"):
        token.key("x")
    token.generate_key("mission")
    with pytest.raises(KeyUnusable, match="already holds a key labelled 'mission'"):
        token.generate_key("mission")
    assert token.labels() == ["mission"]


def test_a_read_only_token_does_not_make_keys(softhsm: SoftHsm) -> None:
    with softhsm.open() as read_only, pytest.raises(KeyUnusable, match="open it writable"):
        read_only.generate_key("mission")


@pytest.mark.parametrize(
    ("module", "label", "pin", "message"),
    [
        (
            Path("/nonexistent/libpkcs11.so"),
            None,
            PIN,
            "module /nonexistent/libpkcs11.so cannot be loaded",
        ),
        (Path("/etc/passwd"), None, PIN, "module /etc/passwd cannot be loaded: .*ELF"),
        (
            MODULE,
            "no-such-token",
            PIN,
            "no token labelled 'no-such-token' \\(its tokens: 'clearinghouse-test'\\)",
        ),
        (MODULE, None, "0000-0000", "the PIN for PKCS#11 token 'clearinghouse-test' is wrong"),
    ],
    ids=["module not found", "not a PKCS#11 library", "token not found", "wrong PIN"],
)
def test_a_token_that_cannot_be_opened_says_why(
    softhsm: SoftHsm, module: Path, label: str | None, pin: str, message: str
) -> None:
    with pytest.raises(KeyUnusable, match=message):
        Pkcs11Token(module, label or softhsm.token_label, pin)


def test_the_pin_comes_from_a_private_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_file = tmp_path / "pin"
    write_secret(pin_file, b"1234\n")
    assert read_pin(pin_file) == "1234"
    os.chmod(pin_file, 0o644)
    with pytest.raises(KeyUnusable, match=r"readable by every local account.*chmod o-rwx"):
        read_pin(pin_file)
    empty = tmp_path / "empty"
    write_secret(empty, b"\n")
    with pytest.raises(KeyUnusable, match="is empty"):
        read_pin(empty)
    monkeypatch.delenv(PIN_ENV, raising=False)
    with pytest.raises(KeyUnusable, match=f"no PIN .* set {PIN_ENV}"):
        read_pin(None)
    monkeypatch.setenv(PIN_ENV, "5678")
    assert read_pin(None) == "5678"


def test_a_lost_session_is_opened_again(softhsm: SoftHsm) -> None:
    # this process logs in with a session of its own first, so the token object's
    # session rides on that login (a PKCS#11 login is the application's, not a session's)
    other = pkcs11.lib(str(MODULE)).get_token(token_label=softhsm.token_label).open(user_pin=PIN)
    with softhsm.open(writable=True) as token:
        key = token.generate_key("mission")
        key.sign(b"before")
        other.close()  # C_Logout: the process is logged out of the token, behind its back
        key.public_key().verify(key.sign(b"after a logout"), b"after a logout")
        # the module restarts (C_Finalize, C_Initialize): every session handle is gone
        pkcs11.lib(str(MODULE)).reinitialize()
        key.public_key().verify(key.sign(b"after a restart"), b"after a restart")


def test_a_key_replaced_under_its_label_is_not_used(softhsm: SoftHsm, token: Pkcs11Token) -> None:
    key = token.generate_key("mission")
    with raw_session(softhsm) as session:
        for obj in session.get_objects({Attribute.LABEL: "mission"}):
            obj.destroy()
    pkcs11.lib(str(MODULE)).reinitialize()  # a new session must find the key again
    with pytest.raises(ServiceUnavailable, match=r"'mission' .* cannot sign: .* no private key"):
        key.sign(b"data")
    token.generate_key("mission")  # another key, the same label
    with pytest.raises(ServiceUnavailable, match="replaced by another key"):
        key.sign(b"data")


def test_many_threads_sign_at_once(token: Pkcs11Token) -> None:
    key = token.generate_key("mission")
    messages = [f"message {i}".encode() for i in range(400)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(key.sign, messages))
    for message, signature in zip(messages, signatures, strict=True):
        key.public_key().verify(signature, message)


def test_a_pem_key_and_a_token_key_are_both_signers(token: Pkcs11Token) -> None:
    signers: list[Signer] = [Ed25519PrivateKey.generate(), token.generate_key("mission")]
    for signer in signers:
        signer.public_key().verify(signer.sign(b"x"), b"x")
    assert isinstance(signers[1], Pkcs11Key)
    assert str(signers[1]) == "key 'mission' in PKCS#11 token 'clearinghouse-test'"
