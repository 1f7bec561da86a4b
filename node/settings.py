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

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from node.storage.db import normalise_database_url

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
    manifest_file: Path = Field(description="The quorum-signed federation manifest (JSON).")
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
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

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
