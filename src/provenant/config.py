"""One settings object for the whole product (environment prefix ``PROVENANT_``)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from provenant.domain.lineage import is_http_base_url


class Settings(BaseSettings):
    """Everything configurable; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="PROVENANT_", extra="ignore")

    home: Path = Path(".provenant")
    database_url: str = ""
    mlflow_tracking_uri: str = ""
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    api_token: str | None = None
    # Blob store for chart images: a folder path, or s3://bucket/prefix (extra "s3").
    blob_store_url: str = ""
    s3_endpoint_url: str | None = None
    # Embedded SQLite migrates itself; servers use `provenant db upgrade` unless this is set.
    auto_migrate: bool | None = None

    # Workflow providers.
    market_data_provider: Literal["bundled", "csv", "ibkr"] = "bundled"
    market_data_csv: Path | None = None
    analyst: Literal["rules", "openai"] = "rules"
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = None
    llm_timeout_seconds: float = 60.0
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    broker: Literal["paper", "ibkr"] = "paper"
    allow_live_orders: bool = False
    order_quantity: int = Field(default=10, ge=1)
    ibkr_host: str = "127.0.0.1"
    ibkr_port: int = 7497
    ibkr_client_id: int = 1

    # Lineage lookups.
    hydration_timeout_seconds: float = Field(default=2.0, gt=0)
    hydration_miss_ttl_seconds: float = Field(default=60.0, ge=0)
    repair_interval_seconds: float = Field(default=600.0, ge=0)  # 0 switches it off
    repair_batch_size: int = Field(default=500, ge=1)

    # HTTP API limits.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Comma-separated URL prefixes a posted `image_path` may be fetched from (none by default:
    # fetching any URL a client names would be server-side request forgery).
    image_fetch_prefixes: str = ""

    @field_validator("mlflow_ui_url")
    @classmethod
    def _ui_url_is_http(cls, value: str) -> str:
        if not is_http_base_url(value):
            raise ValueError("PROVENANT_MLFLOW_UI_URL must be an http(s) URL with a host")
        return value.rstrip("/")

    @field_validator("api_token")
    @classmethod
    def _empty_token_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _embedded_defaults(self) -> "Settings":
        home = self.home.expanduser().resolve()
        self.home = home
        if not self.database_url:
            self.database_url = f"sqlite:///{home / 'provenant.db'}"
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = (
                os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}")
        if not self.blob_store_url:
            self.blob_store_url = str(home / "blobs")
        if self.auto_migrate is None:
            self.auto_migrate = self.database_url.startswith("sqlite")
        return self

    @field_validator("image_fetch_prefixes")
    @classmethod
    def _prefixes_are_http(cls, value: str) -> str:
        for prefix in filter(None, (p.strip() for p in value.split(","))):
            if not is_http_base_url(prefix):
                raise ValueError(f"PROVENANT_IMAGE_FETCH_PREFIXES: {prefix!r} is not an "
                                 f"http(s) URL with a host")
        return value

    @property
    def image_fetch_prefix_list(self) -> tuple[str, ...]:
        """The allowed image URL prefixes, as a tuple."""
        return tuple(filter(None, (p.strip() for p in self.image_fetch_prefixes.split(","))))

    @property
    def tracking_is_server(self) -> bool:
        """True when MLflow tracking is a remote ``http(s)://`` server."""
        return self.mlflow_tracking_uri.startswith(("http://", "https://"))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
