"""Node settings: environment variables ``CLEARINGHOUSE_*`` and an optional TOML file.

Precedence: explicit arguments, then environment variables (nested sections with
``__``, e.g. ``CLEARINGHOUSE_DELIVERY__BATCH_SIZE``), then the TOML file named by
``CLEARINGHOUSE_CONFIG`` (or given to :func:`load_settings`), then defaults.

Tokens are configured by their SHA-256 only (``clearinghouse init`` prints the
secrets once); a placeholder or short token hash is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clearinghouse.node.storage.db import normalise_database_url

__all__ = [
    "ROLES",
    "AuditSettings",
    "DeliverySettings",
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
    catchup_interval_s: float = Field(15.0, gt=0)
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
        1.0, gt=0, description="How often a checkpoint is signed while the log grows."
    )
    witness_interval_s: float = Field(
        2.0, gt=0, description="How often each peer's new checkpoints are checked and cosigned."
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
        description="How often what each peer cosigned is compared with what this node did.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLEARINGHOUSE_", env_nested_delimiter="__", extra="forbid"
    )

    participant: str = Field(description="This node's participant id in the manifest.")
    key_file: Path = Field(description="PKCS#8 PEM Ed25519 private key of the participant.")
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

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


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
    if settings.database_url.startswith("sqlite:///") and not settings.database_url.startswith(
        "sqlite:////"
    ):
        path = settings.database_url[len("sqlite:///") :]
        if path and path != ":memory:":
            updates["database_url"] = f"sqlite:///{base / path}"
    return settings.model_copy(update=updates)
