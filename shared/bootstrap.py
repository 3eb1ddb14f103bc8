"""The composition root: settings in, adapters out, built once per process, lazily.

Function code calls ``deps()``; tests and the local host call ``install()`` with their own.
Nothing heavy happens at import time: adapters import their SDKs when first built.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.services.deps import Deps

if TYPE_CHECKING:  # annotations only: settings and adapters are imported when first used
    from azure.core.credentials import TokenCredential

    from shared.adapters.azure.audit_sink import AzureAuditSink
    from shared.adapters.local.audit_sink import SqliteAuditSink
    from shared.adapters.local.blob_store import LocalBlobStore
    from shared.adapters.local.container_registry import LocalContainerRegistry
    from shared.adapters.local.ml_platform import LocalMLPlatform
    from shared.adapters.local.secret_store import EnvFileSecretStore
    from shared.domain.audit import ChainKey
    from shared.localhost.eventgrid import LocalEventGrid
    from shared.ports import Clock, SecretStore, StateStore
    from shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent

_lock = threading.Lock()
_deps: Deps | None = None


@dataclass
class LocalBackend:
    """The local stand-ins, kept together so the CLI and local host can reach their extras."""

    deps: Deps
    blobs: LocalBlobStore
    platform: LocalMLPlatform
    audit: SqliteAuditSink
    events: LocalEventGrid
    registry: LocalContainerRegistry  # the demo pushes serving images here
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def deps() -> Deps:
    """The process-wide dependencies, built on first use."""
    global _deps
    with _lock:
        if _deps is None:
            from shared.settings import Settings

            settings = Settings()
            built = build_azure(settings) if settings.backend == "azure" else build_local(settings)
            _deps = built.deps
        return _deps


def install(new: Deps | None) -> None:
    """Use ``new`` for this process (tests, the local host); None forgets it."""
    global _deps
    with _lock:
        _deps = new


def build_local(settings: Settings) -> LocalBackend:
    """The local backend under ``settings.home``: real SQLite, MLflow and azmlinfsrv."""
    from shared.adapters.local.clock import SystemClock
    from shared.adapters.local.container_registry import LocalContainerRegistry
    from shared.adapters.local.ml_platform import LocalMLPlatform
    from shared.adapters.local.private_files import private_home
    from shared.adapters.local.secret_store import EnvFileSecretStore
    from shared.adapters.local.state_store import SqliteStateStore
    from shared.localhost.eventgrid import LocalEventGrid

    home = private_home(settings.home)  # 0700, owner-only umask, before anything is created
    clock = SystemClock()
    blobs = local_blob_store(settings)
    events = LocalEventGrid(home / "eventgrid.db")
    platform = LocalMLPlatform(
        home=home,
        resolve_data=blobs.path_for,
        publish=events.publish,
        workspace_topic=local_topic(settings, "Microsoft.MachineLearningServices/workspaces"),
        repo_root=REPO_ROOT,
        positive_label=settings.positive_label,
    )
    state = SqliteStateStore(home / "state.db")
    secrets = EnvFileSecretStore(home / "secrets.json")
    audit = local_audit_sink(settings, clock, secrets=secrets, anchor=state)
    registry = LocalContainerRegistry(home / "registry")
    built = Deps(
        settings=settings,
        platform=platform,
        blobs=blobs,
        state=state,
        secrets=secrets,
        audit=audit,
        clock=clock,
        smoke_set=load_smoke_set(settings.smoke_set),
        registry=registry,
    )
    return LocalBackend(built, blobs, platform, audit, events, registry, [platform.close])


@dataclass
class AzureBackend:
    deps: Deps
    audit: AzureAuditSink
    credential: TokenCredential


def build_azure(
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
    from shared.adapters.azure.ml_platform import AzureMLConfig, AzureMLPlatform
    from shared.adapters.azure.secret_store import KeyVaultSecretStore
    from shared.adapters.azure.state_store import AzureStateStore, open_table
    from shared.adapters.local.clock import SystemClock

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
        settings=settings,
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


def local_audit_path(settings: Settings) -> Path:
    """The local audit trail's SQLite file under ``settings.home``."""
    return settings.home.resolve() / "audit.db"


def local_audit_sink(
    settings: Settings,
    clock: Clock,
    *,
    secrets: EnvFileSecretStore | None = None,
    anchor: StateStore | None = None,
) -> SqliteAuditSink:
    """The local trail, keyed by the home's secret store and anchored in its state store."""
    from shared.adapters.local.audit_sink import SqliteAuditSink

    return SqliteAuditSink(
        local_audit_path(settings),
        clock,
        secrets=secrets,
        anchor=anchor,
        key_secret=settings.audit_key_secret,
        checkpoint_every=settings.audit_checkpoint_every,
    )


def local_blob_store(settings: Settings) -> LocalBlobStore:
    """The folder that stands in for the training-data container (the host and the CLI's
    ``upload`` must agree on it)."""
    from shared.adapters.local.blob_store import LocalBlobStore
    from shared.adapters.local.private_files import private_home

    home = private_home(settings.home)
    return LocalBlobStore(home / "blobs", settings.storage_account_url, settings.training_container)


def local_topic(settings: Settings, resource_type: str) -> str:
    """The ARM id a local stand-in publishes events as, shaped like the real one."""
    name = {"Microsoft.Storage/storageAccounts": "mlopslocal"}.get(resource_type, "mlops-local")
    return (
        f"/subscriptions/{settings.local_subscription}/resourceGroups/"
        f"{settings.local_resource_group}/providers/{resource_type}/{name}"
    )


def load_smoke_set(path: Path) -> tuple[tuple[str, str], ...]:
    """Labelled examples (TSV with label and text columns) for smoke tests and canaries."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = tuple((row["label"], row["text"]) for row in csv.DictReader(handle, delimiter="\t"))
    if len(rows) < 4 or len({label for label, _ in rows}) < 2:
        raise ValueError(f"smoke set {path} needs at least 4 rows and 2 labels")
    return rows
