"""Settings read from files (node/settings_files.py): ``CLEARINGHOUSE_X_FILE`` in the
environment and ``x_file`` in the TOML file, for any setting, nested ones included; and
the database password kept apart from the URL, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from clearinghouse.node.cli.db import resolve_database_url
from clearinghouse.node.cli.main import app
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.settings_files import SettingsFileError, settings_sources
from clearinghouse.node.storage.db import url_with_password
from tests.databases import POSTGRES_URL, throwaway_schema
from tests.nodes import built_federation, opened_node

HASH = "ab" * 32
TOKENS = [{"name": "ops", "role": "admin", "sha256": HASH}]
#: A password with every character a URL gives a meaning to.
AWKWARD = "p@ss:w/rd%2F?#&+ [x]\\"


def secret(path: Path, content: str, mode: int = 0o600) -> Path:
    path.write_text(content)
    path.chmod(mode)
    return path


@pytest.fixture
def required(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings a node cannot do without, none of them secret."""
    monkeypatch.setenv("CLEARINGHOUSE_PARTICIPANT", "unodc")
    monkeypatch.setenv("CLEARINGHOUSE_KEY_FILE", "/etc/clearinghouse/keys/key.pem")
    monkeypatch.setenv("CLEARINGHOUSE_MANIFEST_FILE", "/etc/clearinghouse/manifest.json")


# -- the environment: CLEARINGHOUSE_X_FILE ------------------------------------------------


@pytest.mark.usefixtures("required")
def test_any_setting_comes_from_the_file_its_file_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", "postgresql://ch@db.internal:5432/ch")
    monkeypatch.setenv(
        "CLEARINGHOUSE_DATABASE_PASSWORD_FILE", str(secret(tmp_path / "pw", AWKWARD + "\n"))
    )
    tokens = secret(tmp_path / "tokens.json", json.dumps(TOKENS) + "\n", 0o440)
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS_FILE", str(tokens))  # a list, as JSON
    monkeypatch.setenv("clearinghouse_delivery__lease_s_file", str(secret(tmp_path / "l", "12")))
    monkeypatch.setenv("CLEARINGHOUSE_DELIVERY__BATCH_SIZE", "7")  # beside it, in its section
    settings = Settings()
    assert make_url(settings.database_url).password == AWKWARD
    assert settings.database_password is not None
    assert AWKWARD not in repr(settings.database_password)
    assert [t.model_dump() for t in settings.tokens] == TOKENS
    assert (settings.delivery.lease_s, settings.delivery.batch_size) == (12.0, 7)


@pytest.mark.usefixtures("required")
def test_a_setting_named_file_is_that_setting_not_a_file_of_another() -> None:
    """CLEARINGHOUSE_KEY_FILE is key_file (a path the node reads), never 'key' from a file,
    and no file is read for it."""
    settings = Settings()
    assert settings.key_file == Path("/etc/clearinghouse/keys/key.pem")


class Section(BaseModel):
    model_config = {"extra": "forbid"}

    client_id: str
    client_secret: str | None = None
    certificate_file: Path | None = None


class WithSection(BaseSettings):
    """Settings with an optional section, as the node's oidc section."""

    model_config = SettingsConfigDict(
        env_prefix="CLEARINGHOUSE_", env_nested_delimiter="__", extra="forbid"
    )

    section: Section | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return settings_sources(settings_cls, init_settings)


def test_a_nested_setting_of_an_optional_section_comes_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_SECTION__CLIENT_ID", "node-1")
    path = secret(tmp_path / "client-secret", "s3cret\r\n")
    monkeypatch.setenv("CLEARINGHOUSE_SECTION__CLIENT_SECRET_FILE", str(path))
    monkeypatch.setenv("CLEARINGHOUSE_SECTION__CERTIFICATE_FILE", "/etc/cert.pem")
    section = WithSection().section
    assert section is not None
    assert (section.client_id, section.client_secret) == ("node-1", "s3cret")
    assert section.certificate_file == Path("/etc/cert.pem")  # a path setting, kept as it is

    monkeypatch.setenv("CLEARINGHOUSE_SECTION__CLIENT_SECRET", "inline")
    with pytest.raises(SettingsFileError) as both:
        WithSection()
    assert str(both.value) == (
        "CLEARINGHOUSE_SECTION__CLIENT_SECRET and CLEARINGHOUSE_SECTION__CLIENT_SECRET_FILE "
        "are both set; set only one"
    )


@pytest.mark.usefixtures("required")
def test_a_value_and_its_file_together_are_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS", json.dumps(TOKENS))
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS_FILE", str(secret(tmp_path / "t", "[]")))
    with pytest.raises(
        SettingsFileError, match="CLEARINGHOUSE_TOKENS and CLEARINGHOUSE_TOKENS_FILE"
    ):
        Settings()
    monkeypatch.delenv("CLEARINGHOUSE_TOKENS")
    assert Settings().tokens == []


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: secret(d / "pw", "pw", 0o644), "is readable by every local account (mode 0644)"),
        (lambda d: secret(d / "pw", "pw", 0o604), "chmod o-rwx"),
        (lambda d: d / "absent", "cannot read CLEARINGHOUSE_DATABASE_PASSWORD_FILE"),
        (lambda d: d, "Is a directory"),
        (lambda d: secret(d / "pw", "\n"), "is empty"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_naming_the_variable_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", "postgresql://ch@db/ch")
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_PASSWORD_FILE", str(path))
    with pytest.raises(SettingsFileError) as refused:
        Settings()
    assert "CLEARINGHOUSE_DATABASE_PASSWORD_FILE" in str(refused.value)
    assert str(path) in str(refused.value) and message in str(refused.value)


@pytest.mark.usefixtures("required")
def test_bytes_that_are_not_text_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"\xff\xfe")
    path.chmod(0o600)
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_PASSWORD_FILE", str(path))
    with pytest.raises(SettingsFileError, match="is not UTF-8 text"):
        Settings()


@pytest.mark.usefixtures("required")
def test_a_file_that_does_not_hold_json_for_a_list_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = secret(tmp_path / "tokens.json", "name=ops role=admin\n")
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS_FILE", str(path))
    with pytest.raises(SettingsFileError) as refused:
        Settings()
    assert str(refused.value).startswith(
        f"CLEARINGHOUSE_TOKENS_FILE ({path}): the file does not hold tokens as JSON: "
    )
    assert "name=ops" not in str(refused.value)


@pytest.mark.usefixtures("required")
def test_clearinghouse_run_names_the_variable_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = secret(tmp_path / "tokens.json", json.dumps(TOKENS), 0o644)
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS_FILE", str(path))
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: settings: CLEARINGHOUSE_TOKENS_FILE ")
    assert "readable by every local account" in result.stderr


# -- the TOML file: x_file ----------------------------------------------------------------


def test_an_x_file_key_of_the_toml_file_is_read_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    (folder / "secrets").mkdir(parents=True)
    secret(folder / "secrets" / "db-password", AWKWARD + "\n")
    secret(folder / "secrets" / "tokens.json", json.dumps(TOKENS))
    secret(folder / "lease", "9")
    config = folder / "node.toml"
    config.write_text(
        'participant = "unodc"\nkey_file = "key.pem"\nmanifest_file = "manifest.json"\n'
        'database_url = "postgresql://ch@db/ch"\n'
        'database_password_file = "secrets/db-password"\ntokens_file = "secrets/tokens.json"\n'
        '[delivery]\nlease_s_file = "lease"\n'
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(config)
    assert make_url(settings.database_url).password == AWKWARD
    assert [t.model_dump() for t in settings.tokens] == TOKENS
    assert settings.delivery.lease_s == 9.0
    assert settings.key_file == folder / "key.pem"

    # A variable wins over the file, its _FILE form too.
    monkeypatch.setenv("CLEARINGHOUSE_TOKENS_FILE", str(secret(tmp_path / "none.json", "[]")))
    assert load_settings(config).tokens == []

    config.write_text(config.read_text().replace("[delivery]", "tokens = []\n[delivery]"))
    with pytest.raises(SettingsFileError) as both:
        load_settings(config)
    assert str(both.value) == f"{config}: tokens and tokens_file are both set; set only one"

    config.write_text(config.read_text().replace('lease_s_file = "lease"', 'lease_s_file = "gone"'))
    config.write_text(config.read_text().replace("tokens = []\n", ""))
    with pytest.raises(
        SettingsFileError, match=r"cannot read .*node\.toml: delivery\.lease_s_file"
    ):
        load_settings(config)


# -- the database password ------------------------------------------------------------------


def test_the_password_is_put_into_the_url_escaped() -> None:
    url = url_with_password("postgresql+psycopg://ch@db:5432/ch?sslmode=require", AWKWARD)
    parsed = make_url(url)
    assert parsed.password == AWKWARD
    assert (parsed.username, parsed.host, parsed.port, parsed.database) == ("ch", "db", 5432, "ch")
    assert parsed.query == {"sslmode": "require"}
    assert url_with_password(url, AWKWARD) == url  # settings validated again
    with pytest.raises(ValueError, match="holds a password already"):
        url_with_password(url, "another")
    with pytest.raises(ValueError, match="SQLite"):
        url_with_password("sqlite:///node.db", "pw")


@pytest.mark.usefixtures("required")
def test_settings_refuse_a_password_the_url_cannot_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_PASSWORD", "pw")
    with pytest.raises(ValueError, match="database_password: a SQLite database takes no password"):
        Settings()
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", "postgresql://ch:inline@db/ch")
    with pytest.raises(ValueError, match="database_password: the URL holds a password already"):
        Settings()
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", "postgresql://ch:pw@db/ch")
    settings = Settings()
    assert Settings.model_validate(settings.model_dump()).database_url == settings.database_url


def test_db_upgrade_takes_the_url_and_password_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = secret(tmp_path / "url", "postgresql://ch@db.internal/ch\n")
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL_FILE", str(url))
    monkeypatch.setenv(
        "CLEARINGHOUSE_DATABASE_PASSWORD_FILE", str(secret(tmp_path / "pw", AWKWARD))
    )
    assert make_url(resolve_database_url(None, None)).password == AWKWARD
    sqlite = secret(tmp_path / "url", f"sqlite:///{tmp_path / 'node.db'}\n")
    monkeypatch.delenv("CLEARINGHOUSE_DATABASE_PASSWORD_FILE")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "node.db").is_file() and sqlite.is_file()


@pytest.mark.postgres
def test_a_node_connects_to_postgresql_with_the_password_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test server trusts every local connection, so any password is accepted: what is
    checked is that the password from the file is the one the connection sends."""
    assert make_url(POSTGRES_URL).password is None
    fed = built_federation(tmp_path / "fed", ("mission", "dpa"))
    password = secret(tmp_path / "db-password", AWKWARD + "\n", 0o440)
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_PASSWORD_FILE", str(password))
    with throwaway_schema("pwfile") as (_, url):
        with opened_node(fed.nodes["mission"], database_url=url) as ctx:
            assert ctx.engine.url.password == AWKWARD
            with ctx.engine.connect() as connection:
                assert connection.execute(text("SELECT current_user")).scalar() == "postgres"
                info = connection.connection.driver_connection.info  # type: ignore[union-attr]
                assert info.password == AWKWARD
