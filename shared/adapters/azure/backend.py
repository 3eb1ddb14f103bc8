"""Builds the Azure backend: every Azure adapter, sharing the one process credential."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.services.deps import Deps

if TYPE_CHECKING:  # annotations only: the SDKs are imported when first built
    from azure.core.credentials import TokenCredential

    from shared.adapters.azure.audit_sink import AzureAuditSink
    from shared.domain.audit import ChainKey
    from shared.ports import SecretStore
    from shared.settings import Settings


@dataclass
class AzureBackend:
    deps: Deps
    audit: AzureAuditSink
    credential: TokenCredential


def build(
    settings: Settings,
    *,
    credential: TokenCredential | None = None,
    storage_credential: Any = None,
    client_options: Mapping[str, Any] | None = None,
) -> AzureBackend:
    """Every Azure adapter, sharing the one process credential; the state table is created
    if absent. Tests pass their own credentials and SDK options (e.g. a transport)."""
    from shared.adapters.azure.audit_sink import AzureAuditSink, logs_client
    from shared.adapters.azure.blob_store import AzureBlobStore
    from shared.adapters.azure.container_registry import AzureContainerRegistry
    from shared.adapters.azure.credential import process_credential
    from shared.adapters.azure.endpoint_metrics import AzureEndpointMetrics
    from shared.adapters.azure.ml_platform import AzureMLConfig, AzureMLPlatform
    from shared.adapters.azure.secret_store import KeyVaultSecretStore
    from shared.adapters.azure.state_store import AzureStateStore, open_table
    from shared.adapters.clock import SystemClock
    from shared.settings import service_settings

    options = dict(client_options or {})
    identity = credential or process_credential(settings.azure_client_id)
    storage = storage_credential or identity
    table = open_table(_need(settings.table_service_url), settings.state_table, storage, **options)
    clock = SystemClock()
    secrets = KeyVaultSecretStore(_need(settings.key_vault_url), identity, **options)
    audit = AzureAuditSink(
        table,
        logs_client(_need(settings.audit_ingestion_endpoint), identity, **options),
        _need(settings.audit_dcr_id),
        settings.audit_stream,
        clock,
        key=chain_key_from(secrets, settings.audit_key_secret),
        checkpoint_every=settings.audit_checkpoint_every,
    )
    built = Deps(
        settings=service_settings(settings),
        platform=AzureMLPlatform(
            _ml_client(settings, identity, options),
            AzureMLConfig.from_settings(settings, REPO_ROOT),
            credential=identity,
            scoring_transport=options.get("transport"),
        ),
        blobs=AzureBlobStore(
            settings.storage_account_url, settings.training_container, storage, **options
        ),
        state=AzureStateStore(table),
        secrets=secrets,
        audit=audit,
        clock=clock,
        smoke_set=load_smoke_set(settings.smoke_set),
        # The allow-listed registries only: the app's token is never sent where an event says.
        registry=AzureContainerRegistry(settings.allowed_registries, identity, **options),
        # The canary's live check: the endpoints' platform metrics in Azure Monitor.
        traffic=AzureEndpointMetrics(
            subscription_id=_need(settings.subscription_id),
            resource_group=_need(settings.resource_group),
            workspace_name=_need(settings.workspace_name),
            credential=identity,
            **options,
        ),
    )
    return AzureBackend(built, audit, identity)


def _ml_client(settings: Settings, identity: TokenCredential, options: dict[str, Any]) -> Any:
    from azure.ai.ml import MLClient  # over a second to import: only for the Azure backend

    return MLClient(
        credential=identity,
        subscription_id=settings.subscription_id,
        resource_group_name=settings.resource_group,
        workspace_name=settings.workspace_name,
        **options,
    )


def _need(value: str | None) -> str:
    if not value:  # Settings refuses MLOPS_BACKEND=azure without it; this is for mypy
        raise ValueError("an Azure setting is missing")
    return value


def chain_key_from(secrets: SecretStore, name: str) -> Callable[[], ChainKey]:
    """The audit chain key, read when first needed (the store caches it). The app only
    reads it: a missing secret is an operator's step, retried until it is done."""
    from shared.domain.audit import ChainKey
    from shared.ports import NotFound, TransientError

    def key() -> ChainKey:
        try:
            return ChainKey.from_text(secrets.get(name))
        except NotFound:
            raise TransientError(
                f"the audit chain key (Key Vault secret {name!r}) is missing: create it once "
                "with `azd hooks run postprovision` (infra/hooks/create-audit-chain-key.sh)"
            ) from None

    return key
