"""Typed settings, read once from the environment (``MLOPS_*``) and validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.services.config import ServiceSettings

CommaList = Annotated[tuple[str, ...], NoDecode]

# The local demo's registry; the Azure backend refuses it as an allow-list.
EXAMPLE_REGISTRIES = ("contosomlops.azurecr.io",)

# What the Azure backend cannot start without; infra/ sets every one of them as an app setting.
AZURE_REQUIRED_SETTINGS = (
    "AZURE_CLIENT_ID",
    "MLOPS_SUBSCRIPTION_ID",
    "MLOPS_RESOURCE_GROUP",
    "MLOPS_WORKSPACE_NAME",
    "MLOPS_STORAGE_ACCOUNT_URL",
    "MLOPS_TABLE_SERVICE_URL",
    "MLOPS_KEY_VAULT_URL",
    "MLOPS_AUDIT_INGESTION_ENDPOINT",
    "MLOPS_AUDIT_DCR_ID",
    "MLOPS_ENDPOINT_IDENTITY_ID",
    "MLOPS_ALLOWED_REGISTRIES",
)
# An app setting still holding this after start-up is a Key Vault reference App Service
# could not resolve (missing role, wrong URI): the app must not run with it as a value.
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
_SCANNED_PREFIXES = ("MLOPS_", "AZURE_", "APPLICATIONINSIGHTS_")
# Endpoints the Azure backend calls with a bearer token: https, or http to a loopback emulator.
_AZURE_ENDPOINTS = (
    "storage_account_url",
    "table_service_url",
    "key_vault_url",
    "audit_ingestion_endpoint",
)
# Learn gives no bound for platform metrics' ingestion delay (architecture/decisions.md, 269);
# three minutes covers what the metrics API shows in practice, and it only lengthens a bake.
AZURE_METRICS_DELAY_SECONDS = 180.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Everything the app reads from its environment; unknown ``MLOPS_*`` names are ignored."""

    # hide_input_in_errors: a validation error must never echo a setting's value.
    model_config = SettingsConfigDict(
        env_prefix="MLOPS_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    backend: Literal["local", "azure"] = "local"
    home: Path = Path(".mlops")

    # Azure backend (MLOPS_BACKEND=azure); ignored by the local backend.
    azure_client_id: str | None = Field(default=None, validation_alias="AZURE_CLIENT_ID")
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace_name: str | None = None
    compute_name: str = "cpu-cluster"
    table_service_url: str | None = None
    state_table: str = Field(default="mlopsstate", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    key_vault_url: str | None = None
    audit_ingestion_endpoint: str | None = None
    audit_dcr_id: str | None = Field(default=None, pattern=r"^(dcr-[0-9a-f]{32})?$")
    audit_stream: str = "Custom-MLOpsAudit_CL"
    # The audit chain's HMAC key: a Key Vault secret (Azure) or the 0600 secret store (local);
    # a checkpoint record after every N records.
    audit_key_secret: str = Field(default="audit-chain-key", pattern=r"^[0-9A-Za-z-]{1,127}$")
    audit_checkpoint_every: int = Field(default=100, ge=1, le=100_000)
    endpoint_identity_id: str | None = None
    applicationinsights_connection_string: str | None = Field(
        default=None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING", repr=False
    )

    # Manual API: requests per principal per minute.
    api_rate_limit_per_minute: int = Field(default=30, ge=1)

    # Training data: only this account and container are trusted as event sources.
    storage_account_url: str = "http://127.0.0.1:10000/devstoreaccount1"
    training_container: str = "training-data"
    max_blob_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    allowed_content_types: CommaList = (
        "text/csv",
        "text/tab-separated-values",
        "application/x-ndjson",
        "application/jsonl",
        "application/json",
        "text/plain",
        "application/octet-stream",
    )
    allowed_extensions: CommaList = (".csv", ".tsv", ".jsonl")

    # A burst of uploads to one dataset prefix becomes one job once the prefix is quiet.
    coalesce_quiet_seconds: float = Field(default=60.0, ge=0)
    coalesce_max_seconds: float = Field(default=900.0, gt=0)

    model_name: str = "spam-classifier"
    endpoint_name: str = "spam-endpoint"
    positive_label: str = "spam"

    # Absolute floors a gate=passed model must also meet before it is deployed.
    min_accuracy: float = Field(default=0.95, ge=0, le=1)
    min_f1: float = Field(default=0.85, ge=0, le=1)
    # ... and on the fixed golden set the job scores it on (training/src/golden_set.tsv).
    min_golden_accuracy: float = Field(default=0.85, ge=0, le=1)
    min_golden_f1: float = Field(default=0.85, ge=0, le=1)

    # Rollout. The smoke set is a labelled TSV the smoke test and canary check score.
    smoke_set: Path = Path(__file__).with_name("smoke_set.tsv")
    canary_percent: int = Field(default=10, ge=1, le=50)
    canary_seconds: float = Field(default=300.0, ge=0)
    # The canary is also judged on live traffic against the serving deployment (README,
    # "Canaries judged on live traffic"): it bakes past canary_seconds, up to the cap, until
    # it has served canary_min_requests; then its 5xx rate may exceed the serving one's by the
    # excess (a fraction) and its p95 may be at most serving p95 * ratio + slack. Without
    # enough traffic by the cap it is rolled back, or promoted on the smoke test alone.
    canary_max_seconds: float = Field(default=3600.0, gt=0)
    canary_min_requests: int = Field(default=20, ge=1)
    canary_max_error_rate_excess: float = Field(default=0.02, ge=0, le=1)
    canary_max_p95_ratio: float = Field(default=1.5, ge=1)
    canary_max_p95_slack_ms: float = Field(default=25.0, ge=0)
    canary_without_traffic: Literal["roll_back", "promote"] = "roll_back"
    # Azure Monitor ingests platform metrics minutes after the requests: the canary is judged
    # on a window that ends this long before now, so its last minutes are in the numbers.
    # Unset: AZURE_METRICS_DELAY_SECONDS on the Azure backend, 0 locally (the router records
    # each request as it answers).
    canary_metrics_delay_seconds: float | None = Field(default=None, ge=0, le=3600)
    smoke_min_accuracy: float = Field(default=0.8, ge=0, le=1)
    deploy_timeout_seconds: float = Field(default=1800.0, gt=0)

    # Local backend: the stand-in ARM ids used as event sources.
    reconcile_schedule: str = "0 */1 * * * *"
    local_subscription: str = "00000000-0000-0000-0000-000000000000"
    local_resource_group: str = "mlops-local"

    # Serving images: registry hosts and repositories allowed to roll forward, by digest only.
    allowed_registries: CommaList = EXAMPLE_REGISTRIES
    allowed_repositories: CommaList = ("mlops/sklearn-serving",)

    @field_validator("allowed_content_types", "allowed_extensions", mode="before")
    @classmethod
    def _split_lower(cls, value: object) -> object:
        return _split(value, lower=True)

    @field_validator("allowed_registries", "allowed_repositories", mode="before")
    @classmethod
    def _split_plain(cls, value: object) -> object:
        return _split(value, lower=False)

    @field_validator("storage_account_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL of the storage account")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _canary_cap_after_its_bake_time(self) -> Settings:
        if self.canary_max_seconds < self.canary_seconds:
            raise ValueError(
                "MLOPS_CANARY_MAX_SECONDS must be at least MLOPS_CANARY_SECONDS (the cap on a"
                " canary's bake time cannot come before the bake time itself)"
            )
        return self

    @model_validator(mode="after")
    def _no_unresolved_key_vault_reference(self) -> Settings:
        names = unresolved_key_vault_references(os.environ)
        names += [
            env_name(field)
            for field in type(self).model_fields
            if str(getattr(self, field)).startswith(KEY_VAULT_REFERENCE)
        ]
        if names:
            listed = ", ".join(sorted(set(names)))
            raise ValueError(
                f"unresolved Key Vault reference in {listed}: grant the app's identity "
                "'Key Vault Secrets User' on the vault and check the secret URI"
            )
        return self

    @model_validator(mode="after")
    def _azure_needs_its_resources(self) -> Settings:
        if self.backend != "azure":
            return self
        insecure = [
            env_name(name)
            for name in _AZURE_ENDPOINTS
            if (value := getattr(self, name)) and not _https_or_loopback(value)
        ]
        if insecure:
            raise ValueError(f"these must be https URLs: {', '.join(insecure)}")
        # The example registry is a default for the local demo, never a real allow-list.
        missing = [
            name
            for name in AZURE_REQUIRED_SETTINGS
            if not getattr(self, name.removeprefix("MLOPS_").lower(), None)
            or (
                name == "MLOPS_ALLOWED_REGISTRIES" and self.allowed_registries == EXAMPLE_REGISTRIES
            )
        ]
        if missing:
            raise ValueError(f"MLOPS_BACKEND=azure needs these settings: {', '.join(missing)}")
        return self


def service_settings(settings: Settings) -> ServiceSettings:
    """The plain values services read (the core never imports pydantic), copied by name."""
    values = {field.name: getattr(settings, field.name) for field in fields(ServiceSettings)}
    if settings.canary_metrics_delay_seconds is None:
        delay = AZURE_METRICS_DELAY_SECONDS if settings.backend == "azure" else 0.0
        values["canary_metrics_delay_seconds"] = delay
    return ServiceSettings(**values)


def env_name(field: str) -> str:
    """The environment variable a Settings field is read from."""
    alias = Settings.model_fields[field].validation_alias
    return str(alias) if alias else f"MLOPS_{field.upper()}"


def unresolved_key_vault_references(env: Mapping[str, str]) -> list[str]:
    """The names (never the values) of app settings that are still Key Vault references."""
    return [
        name
        for name, value in env.items()
        if name.upper().startswith(_SCANNED_PREFIXES)
        and value.strip().startswith(KEY_VAULT_REFERENCE)
    ]


def _https_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


def _split(value: object, *, lower: bool) -> object:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
        return tuple(item.lower() for item in items) if lower else tuple(items)
    return value
