"""A node whose keys are in a PKCS#11 token (SoftHSM2): the keyring, and start-up from settings.

:class:`~clearinghouse.node.keyring.TokenKeys` holds the key labelled ``key_label`` and
every ``key_label.*`` beside it (a rotation), as :class:`KeyFiles` holds ``key_file``
and its siblings; a node opened with ``[pkcs11]`` settings signs its checkpoints in
the token, and one whose token cannot be opened does not start, naming ``pkcs11``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_named_curve_parameters
from pydantic import ValidationError

from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import write_secret
from clearinghouse.node.keyring import TokenKeys, open_key_source
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.signers import Pkcs11Key, Pkcs11Token
from clearinghouse.protocol.audit import audit_origin, log_keys
from clearinghouse.protocol.errors import KeyUnusable
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.notes import verify_note
from tests.nodes import built_federation, opened_node
from tests.softhsm import MODULE, SoftHsm

PARTICIPANTS = ("mission", "dpa", "unodc")


@pytest.fixture
def token(softhsm: SoftHsm) -> Iterator[Pkcs11Token]:
    with softhsm.open(writable=True) as opened:
        yield opened


@pytest.fixture
def fed(tmp_path: Path, softhsm: SoftHsm) -> LocalFederation:
    """A federation of three whose mission keeps its key in the token."""
    softhsm.make_key("mission")
    return built_federation(
        tmp_path / "fed",
        PARTICIPANTS,
        pkcs11={"mission": softhsm.settings("mission")},
        env=softhsm.env,
    )


def raw_session(hsm: SoftHsm) -> pkcs11.Session:
    """A session of python-pkcs11's own, riding on the login of the code under test."""
    return pkcs11.lib(str(MODULE)).get_token(token_label=hsm.token_label).open(rw=True)


def test_token_keys_hold_the_key_label_and_the_keys_rotated_beside_it(
    token: Pkcs11Token,
) -> None:
    made = {label: token.generate_key(label) for label in ("mission", "mission.2027", "dpa")}
    keys, problems = TokenKeys(token, "mission").load()
    assert problems == []
    assert set(keys) == {public_jwk(made[label])["kid"] for label in ("mission", "mission.2027")}
    for kid, key in keys.items():
        assert isinstance(key, Pkcs11Key) and public_jwk(key)["kid"] == kid


def test_an_unusable_rotated_key_is_skipped_and_a_missing_key_label_refused(
    softhsm: SoftHsm, token: Pkcs11Token
) -> None:
    token.generate_key("mission")
    with raw_session(softhsm) as session:  # an Ed25519 key the token would let out
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
            local=True,
        )
        params.generate_keypair(
            store=True, label="mission.copyable", private_template={Attribute.EXTRACTABLE: True}
        )
    keys, problems = TokenKeys(token, "mission").load()
    assert len(keys) == 1
    assert len(problems) == 1 and problems[0].startswith("mission.copyable: ")
    assert "could leave the token" in problems[0]
    with pytest.raises(KeyUnusable, match="no private key labelled 'undp'"):
        TokenKeys(token, "undp").load()


def test_a_node_with_its_key_in_the_token_signs_its_checkpoints_there(
    fed: LocalFederation,
) -> None:
    assert not (fed.root / "keys" / "mission.key.pem").exists()  # no key file was written
    with opened_node(fed.nodes["mission"]) as ctx:
        assert isinstance(ctx.signing.key, Pkcs11Key)
        assert ctx.key_source.setting == "pkcs11"
        assert ctx.kid == fed.nodes["mission"].public_jwk["kid"]
        checkpoint = sign_checkpoint(ctx)  # the start-up's audit entries are in the log
        assert checkpoint is not None
        verified = verify_note(checkpoint.note, log_keys(ctx.manifest, "mission"))
        assert [s.name for s in verified] == [audit_origin(ctx.manifest.federation, "mission")]


def test_a_node_whose_token_cannot_be_opened_does_not_start_naming_pkcs11(
    fed: LocalFederation, softhsm: SoftHsm, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-pin"
    write_secret(wrong, b"0000-0000\n")
    for section, message in (
        (softhsm.settings("mission").model_copy(update={"pin_file": wrong}), "PIN .* is wrong"),
        (softhsm.settings("undp"), "no private key labelled 'undp'"),
        (softhsm.settings("mission").model_copy(update={"token_label": "t2"}), "no token"),
    ):
        with (
            pytest.raises(ServiceUnavailable, match=f"^(participant/)?pkcs11: .*{message}"),
            opened_node(fed.nodes["mission"], pkcs11=section),
        ):
            pass


def test_the_settings_pick_the_key_source(softhsm: SoftHsm, tmp_path: Path) -> None:
    softhsm.make_key("mission")
    common = {"participant": "mission", "manifest_file": tmp_path / "manifest.json"}
    source = open_key_source(Settings(**common, pkcs11=softhsm.settings("mission")))
    try:
        assert isinstance(source, TokenKeys) and source.setting == "pkcs11"
        (key,) = source.load()[0].values()
        key.public_key().verify(key.sign(b"x"), b"x")
    finally:
        source.close()
    files = open_key_source(Settings(**common, key_file=tmp_path / "mission.key.pem"))
    assert files.setting == "key_file"


def test_exactly_one_key_source_is_configured(tmp_path: Path) -> None:
    common = {"participant": "mission", "manifest_file": tmp_path / "manifest.json"}
    section = {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "t", "key_label": "k"}
    with pytest.raises(ValidationError, match="both key_file and pkcs11 are set"):
        Settings(**common, key_file=tmp_path / "k.pem", pkcs11=section)
    with pytest.raises(ValidationError, match=r"no key: set key_file .* or pkcs11"):
        Settings(**common)
    with pytest.raises(ValidationError, match=r"pkcs11\.token_label"):
        Settings(**common, pkcs11={**section, "token_label": "x" * 33})


def test_the_pkcs11_section_comes_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        'participant = "mission"\nmanifest_file = "manifest.json"\n\n[pkcs11]\n'
        'module = "/usr/lib/softhsm/libsofthsm2.so"\ntoken_label = "agency-hsm"\n'
        'key_label = "mission"\npin_file = "secrets/pin"\n'
    )
    settings = load_settings(config)
    assert settings.key_file is None and settings.pkcs11 is not None
    assert settings.pkcs11.pin_file == tmp_path / "secrets" / "pin"  # relative to the file
    monkeypatch.setenv("CLEARINGHOUSE_PKCS11__KEY_LABEL", "mission.2027")
    assert load_settings(config).pkcs11 == settings.pkcs11.model_copy(
        update={"key_label": "mission.2027"}
    )
