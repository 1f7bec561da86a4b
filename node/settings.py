"""Node settings: environment variables ``CLEARINGHOUSE_*`` and an optional TOML file.

Precedence: explicit arguments, then environment variables (nested sections with
``__``, e.g. ``CLEARINGHOUSE_DELIVERY__BATCH_SIZE``), then the TOML file named by
``CLEARINGHOUSE_CONFIG`` (or given to :func:`load_settings`), then defaults.

Any setting X may be read from a file instead: ``CLEARINGHOUSE_X_FILE`` in the
environment, ``x_file`` in the TOML file (:mod:`node.settings_files`), so that secrets
(``database_password``, ``database_url``, ``tokens``) come from mounted files.

Tokens are configured by their SHA-256 only (``clearinghouse init`` prints the
secrets once); a placeholder or short token hash is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from clearinghouse.node.settings_files import settings_sources
from clearinghouse.node.storage.db import normalise_database_url, url_with_password

__all__ = [
    "ROLES",
    "AuditSettings",
    "DeliverySettings",
    "OidcSettings",
    "Pkcs11Settings",
    "SessionSettings",
    "Settings",
    "TokenSetting",
    "load_settings",
]

ROLES = ("submitter", "analyst", "auditor", "admin")
Role = Literal["submitter", "analyst", "auditor", "admin"]


class TokenSetting(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1)
    role: Role
    sha256: str = Field(description="Lowercase hex SHA-256 of the bearer token.")

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("sha256 must be 64 lowercase hex digits (the token's SHA-256)")
        return value


class DeliverySettings(BaseModel):
    model_config = {"extra": "forbid"}

    batch_size: int = Field(200, ge=1, le=5000)
    base_delay_s: float = Field(0.5, gt=0)
    max_delay_s: float = Field(60.0, gt=0)
    lease_s: float = Field(60.0, gt=0)
    request_timeout_s: float = Field(30.0, gt=0)
    poll_interval_s: float = Field(1.0, gt=0)
    idle_poll_max_s: float = Field(
        30.0,
        gt=0,
        description="A delivery worker with nothing due for its peer sleeps until views are "
        "queued (by this process), the next one falls due, or this long at most (views "
        "queued by a replica, leases a crashed one left).",
    )
    result_batch_s: float = Field(
        0.0,
        ge=0,
        description="0 (the default): each of this node's analysis results goes out at "
        "once. Above 0: results go out at once when the node's previous ones went this long "
        "ago or more, else wait for the next of these intervals, so that each peer gets at "
        "most one batch of results per interval (one request and one receipt, not one per "
        "result): fewer requests in a large federation, each result up to this much later "
        "(bench latency counts a record done when its results are everywhere).",
    )
    catchup_interval_s: float = Field(15.0, gt=0)
    catchup_idle_max_s: float = Field(
        120.0,
        gt=0,
        description="Each pull that finds a peer's feed empty doubles the wait before the "
        "next, from catchup_interval_s up to this.",
    )
    catchup_batch: int = Field(500, ge=1, le=5000)
    deferred_max_s: float = Field(
        86400.0,
        ge=0,
        description="How long a view a peer deferred (receipt status 'deferred': issued "
        "in the future by the peer's clock) is sent again, from its first deferral, "
        "with the usual backoff and never sooner than the peer's hint; after that it is "
        "refused for good, as a rejected view. 0: never retried.",
    )


class AuditSettings(BaseModel):
    model_config = {"extra": "forbid"}

    checkpoint_interval_s: float = Field(
        1.0,
        gt=0,
        description="How often the log's growth is looked at; a checkpoint is signed at "
        "once when it grew by checkpoint_entries, else after the quiet interval, which "
        "starts here.",
    )
    checkpoint_entries: int = Field(
        1000,
        ge=1,
        description="A log that grew by this many entries since its last checkpoint gets "
        "the next one at the next look (busy: every checkpoint_interval_s at most).",
    )
    checkpoint_max_interval_s: float = Field(
        10.0,
        gt=0,
        description="The quiet interval between checkpoints of a log that grows by fewer "
        "than checkpoint_entries doubles after each one, up to this.",
    )
    witness_interval_s: float = Field(
        2.0,
        gt=0,
        description="How often each log this node witnesses is asked for new checkpoints "
        "(each wait jittered by 0.5-1.5x).",
    )
    witness_idle_max_s: float = Field(
        8.0,
        gt=0,
        description="While a peer's log stands still, the wait between checks doubles, up "
        "to this (back to witness_interval_s at its next checkpoint).",
    )
    gossip_interval_s: float = Field(
        30.0,
        gt=0,
        description="How often what each co-witness cosigned is compared with what this "
        "node did (only peers witnessing a log this node witnesses).",
    )
    unwitnessed_alert_s: float = Field(
        600.0,
        ge=0,
        description="A witness that has not cosigned a checkpoint of this node's log this "
        "long after it was signed is logged as silent; when every witness of the log is, "
        "an 'unwitnessed' alert is raised. 0: never.",
    )


class OidcSettings(BaseModel):
    """Sign-in through the agency's OpenID Connect provider (:mod:`node.auth.oidc`).

    The web pages use the authorization code flow with PKCE; the local API also takes
    the provider's access tokens (JWTs) as bearer tokens, checked against its JWKS. A
    person's roles on this node come from one claim of theirs (``roles_claim``) through
    ``role_map``; a person none of whose values maps to a role is refused.
    """

    model_config = {"extra": "forbid"}

    issuer: str = Field(
        description="The provider's issuer URL, exactly as its discovery document and its "
        "tokens' `iss` say (its /.well-known/openid-configuration is read at start)."
    )
    client_id: str = Field(min_length=1, description="This node's client id at the provider.")
    client_secret_file: Path | None = Field(
        None,
        description="File holding the client secret (client_secret_basic at the token "
        "endpoint); refused if every local account may read it.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="Scopes asked for at sign-in (`openid` is always asked for).",
    )
    roles_claim: str = Field(
        "groups",
        min_length=1,
        description="The claim carrying a person's groups or roles (a string or a list of "
        "strings); a dotted path reaches into objects, e.g. `realm_access.roles`. Read "
        "from the ID token or userinfo at sign-in, and from the access token on the API.",
    )
    role_map: dict[str, Role] = Field(
        default_factory=dict,
        description="Which value of roles_claim gives which role on this node, e.g. "
        '{"ops-analysts" = "analyst", "ops-audit" = "auditor"}. Values not listed give none.',
    )
    audience: str | None = Field(
        None,
        description="The `aud` an access token must carry to be taken on the local API; "
        "default: this node's public URL.",
    )
    display_name_claim: str = Field(
        "name", description="The claim shown as a person's name on this node's pages."
    )
    provider_name: str = Field(
        "your organisation", description="How the sign-in button names the provider."
    )
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "PS256", "ES256", "Ed25519", "EdDSA"],
        description="Signature algorithms accepted on ID and access tokens (never `none` "
        "or an HMAC one).",
    )
    leeway_s: int = Field(60, ge=0, le=600, description="Clock skew allowed on exp/iat/nbf.")
    http_timeout_s: float = Field(10.0, gt=0, description="Timeout of calls to the provider.")

    @field_validator("issuer")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        if not re.match(r"https?://[^/?#]+", value):
            raise ValueError("issuer must be an http(s) URL")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a == "none" or a.upper().startswith("HS")]
        if refused:
            raise ValueError(f"algorithms {refused} are refused: only public-key signatures")
        return value


class SessionSettings(BaseModel):
    """The web pages' sessions (:mod:`node.auth.sessions`)."""

    model_config = {"extra": "forbid"}

    idle_s: float = Field(
        1800.0, gt=0, description="A session unused this long ends (sign in again)."
    )
    max_s: float = Field(
        8 * 3600.0, gt=0, description="A session ends this long after sign-in, used or not."
    )
    cookie_secure: bool = Field(
        True,
        description="Mark the session cookie `Secure`: browsers send it over HTTPS and to "
        "http://localhost only. Turn off only for a node reached over plain HTTP on a "
        "trusted network other than localhost.",
    )


class Pkcs11Settings(BaseModel):
    """The participant's Ed25519 key in a PKCS#11 token (an HSM), instead of ``key_file``
    (:mod:`node.signers.pkcs11`). The PIN is never a setting: it is read from
    ``pin_file``, or else from the environment variable ``CLEARINGHOUSE_PKCS11_PIN``."""

    model_config = {"extra": "forbid"}

    module: Path = Field(
        description="The token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so."
    )
    token_label: str = Field(
        min_length=1, max_length=32, description="The token's label (at most 32 characters)."
    )
    key_label: str = Field(
        min_length=1,
        description="The label of the key pair in the token (its private and public key). "
        "A key made by 'clearinghouse key rotate' beside it is labelled KEY_LABEL.<kid8>; "
        "the node holds both, as it holds the key files beside key_file.",
    )
    pin_file: Path | None = Field(
        None,
        description="A file holding the token's user PIN (one line; refused if every local "
        "account may read it). None: the PIN is read from CLEARINGHOUSE_PKCS11_PIN.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLEARINGHOUSE_", env_nested_delimiter="__", extra="forbid"
    )

    participant: str = Field(description="This node's participant id in the manifest.")
    key_file: Path | None = Field(
        None,
        description="PKCS#8 PEM Ed25519 private key of the participant; this or pkcs11.",
    )
    pkcs11: Pkcs11Settings | None = Field(
        None,
        description="The participant's key in a PKCS#11 token (an HSM); this or key_file.",
    )
    manifest_file: Path = Field(
        description="The quorum-signed federation manifest (JSON), the anchor this node "
        "trusts; or a chain of them (a JSON array, oldest first), each signed by a quorum "
        "of the one before, for a node that joins a federation whose manifest changed since "
        "its first. At start the node verifies, from the first manifest of the file on, "
        "every later one in the file and in its database, and refuses to start on a break."
    )
    pseudonym_key_file: Path | None = Field(
        None, description="Pseudonymisation key (base64url); needed to issue pseudonymised fields."
    )
    database_url: str = Field("sqlite:///clearinghouse.db", description="SQLAlchemy URL.")
    database_password: SecretStr | None = Field(
        None,
        description="The password of database_url's user, kept out of the URL: best "
        "from a file (CLEARINGHOUSE_DATABASE_PASSWORD_FILE, or database_password_file in "
        "the TOML file). It is put into database_url, URL-escaped; refused if the URL holds "
        "a password already or is SQLite's. (PostgreSQL also reads libpq's PGPASSFILE.)",
    )
    host: str = "127.0.0.1"
    port: int = Field(8100, ge=0, le=65535)
    public_url: str | None = Field(
        None, description="The URL peers use for this node; default: its base_url in the manifest."
    )
    tokens: list[TokenSetting] = Field(default_factory=list)
    signature_window_s: int = Field(300, ge=1, description="Allowed age/skew of `created`.")
    clock_offset_s: float = Field(
        0.0,
        description="Shift this node's clock by this many seconds (fault drills and tests "
        "of clock skew between nodes); 0 in production.",
    )
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_batch: int = Field(5000, ge=1, description="Most records or views in one request.")
    peer_rate_limit_per_s: float = Field(
        100.0,
        ge=0,
        description="Requests per second each peer may make (RFC 9421-authenticated "
        "requests, counted per request, not per view); beyond it, 429 with Retry-After. "
        "0 disables the limit.",
    )
    peer_rate_burst: int = Field(
        500, ge=1, description="Requests a peer may make at once before its rate applies."
    )
    max_unauthenticated_body_bytes: int = Field(
        8 * 1024,
        ge=256,
        description="Largest body read from a request that presents no credentials (no known "
        "bearer token, no request signature) and of every POST /ui/login; beyond it, 413 "
        "before reading further. A sign-in form needs a few hundred bytes.",
    )
    address_rate_limit_per_s: float = Field(
        20.0,
        ge=0,
        description="Failed or unauthenticated requests per second each client address may "
        "make: requests refused 401/403 by a bearer-token or signature check, and every "
        "POST /ui/login. Beyond it, 429 with Retry-After. Requests with valid credentials "
        "are never counted, so nodes and users sharing an address are not throttled by "
        "each other's traffic. 0 disables the limit.",
    )
    address_rate_burst: int = Field(
        100,
        ge=1,
        description="Failed requests an address may make at once before its rate applies.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For is "
        "believed: a request from one of them is counted by the right-most address in "
        "X-Forwarded-For that is not a trusted proxy. Empty: X-Forwarded-For is ignored.",
    )
    peer_quota_views: int = Field(
        200_000,
        ge=0,
        description="Views each peer may push in any peer_quota_period_s (a bucket "
        "refilled evenly over the period, so also the steady rate); a batch beyond it is "
        "refused whole with 429 and Retry-After before any view is looked at. 0 disables "
        "it. At least max_batch, so that a full batch can pass.",
    )
    peer_quota_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="Request body bytes each peer may push to /v1/packets in any "
        "peer_quota_period_s, as peer_quota_views. 0 disables it. At least max_body_bytes.",
    )
    peer_quota_period_s: float = Field(
        60.0, gt=0, description="The period of peer_quota_views and peer_quota_bytes."
    )
    refusal_retention_days: float = Field(
        30.0,
        gt=0,
        description="Refused, quarantined and deferred views (their digest and a short "
        "prefix, never the text) are kept this long in inbound_refusal, then purged.",
    )
    refusal_max_per_peer: int = Field(
        10_000,
        ge=1,
        description="The most inbound_refusal rows kept per peer; the oldest go first.",
    )
    idempotency_retention_s: float = Field(
        86_400.0,
        gt=0,
        description="How long POST /v1/local/records keeps the answer to a request sent "
        "with an Idempotency-Key (per token): the same key and body within it get the "
        "same answer, another body 422; after it the key may be used afresh.",
    )
    run_workers: bool = Field(True, description="Run delivery and catch-up in this process.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    access_log: bool = Field(
        False, description="Log one JSON line per HTTP request (clearinghouse.access, INFO)."
    )
    manifest_sync_interval_s: float = Field(
        2.0,
        gt=0,
        description="How often the node checks for a replica's manifest switch and for "
        "key validity windows (rotation, expiry, revocation) taking effect.",
    )
    manifest_poll_interval_s: float = Field(
        30.0, gt=0, description="How often the node compares manifest serials with each peer."
    )
    manifest_poll_max_s: float = Field(
        300.0,
        gt=0,
        description="While every peer holds this node's serial, each comparison doubles the "
        "wait before the next, from manifest_poll_interval_s up to this (a switch is "
        "spread at once by the node that makes it).",
    )
    key_prepublish_max_s: float = Field(
        120.0,
        ge=0,
        description="After a rotation, the node keeps signing with its current key until "
        "every peer holds the manifest listing the new one (pre-publish, RFC 6781 "
        "4.1.1.1), so that no peer refuses a view for an unknown key; after this many "
        "seconds it switches anyway (a peer that is down learns the key when it is back). "
        "0: switch at once.",
    )
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    oidc: OidcSettings | None = Field(
        None, description="Sign-in through an OpenID Connect provider; none: tokens only."
    )
    session: SessionSettings = Field(default_factory=SessionSettings)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @model_validator(mode="after")
    def _password_into_the_url(self) -> Settings:
        password = self.database_password
        if password is None:
            return self
        try:
            self.database_url = url_with_password(self.database_url, password.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"database_password: {exc}") from exc
        return self

    @model_validator(mode="after")
    def _one_key(self) -> Settings:
        if self.key_file is not None and self.pkcs11 is not None:
            raise ValueError(
                "both key_file and pkcs11 are set: give one, the PEM file or the key in a token"
            )
        if self.key_file is None and self.pkcs11 is None:
            raise ValueError(
                "no key: set key_file (a PEM file) or pkcs11 (a key in a PKCS#11 token)"
            )
        return self

    @model_validator(mode="after")
    def _a_full_batch_fits_the_quota(self) -> Settings:
        if 0 < self.peer_quota_views < self.max_batch:
            raise ValueError(
                f"peer_quota_views ({self.peer_quota_views}) is below max_batch "
                f"({self.max_batch}): a full batch could never pass"
            )
        if 0 < self.peer_quota_bytes < self.max_body_bytes:
            raise ValueError(
                f"peer_quota_bytes ({self.peer_quota_bytes}) is below max_body_bytes "
                f"({self.max_body_bytes}): a full request could never pass"
            )
        return self

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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and ``config_file`` (TOML); relative paths in the
    file are taken relative to the file's folder."""
    if config_file is None and os.environ.get("CLEARINGHOUSE_CONFIG"):
        config_file = Path(os.environ["CLEARINGHOUSE_CONFIG"])
    if config_file is None:
        return Settings(**overrides)
    if not config_file.is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")

    class FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

    settings = FromFile(**overrides)
    base = config_file.resolve().parent
    updates: dict[str, Any] = {}
    for name in ("key_file", "manifest_file", "pseudonym_key_file"):
        value = getattr(settings, name)
        if value is not None and not value.is_absolute():
            updates[name] = base / value
    pkcs11 = settings.pkcs11
    if pkcs11 is not None and pkcs11.pin_file is not None and not pkcs11.pin_file.is_absolute():
        updates["pkcs11"] = pkcs11.model_copy(update={"pin_file": base / pkcs11.pin_file})
    if settings.database_url.startswith("sqlite:///") and not settings.database_url.startswith(
        "sqlite:////"
    ):
        path = settings.database_url[len("sqlite:///") :]
        if path and path != ":memory:":
            updates["database_url"] = f"sqlite:///{base / path}"
    return settings.model_copy(update=updates)
