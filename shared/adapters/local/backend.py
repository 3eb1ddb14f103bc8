"""Builds the local backend: real SQLite, MLflow, azmlinfsrv and a local Event Grid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.services.deps import Deps

if TYPE_CHECKING:  # annotations only: each adapter is imported when first built
    from shared.adapters.local.audit_sink import SqliteAuditSink
    from shared.adapters.local.blob_store import LocalBlobStore
    from shared.adapters.local.container_registry import LocalContainerRegistry
    from shared.adapters.local.event_grid import LocalEventGrid
    from shared.adapters.local.ml_platform import LocalMLPlatform
    from shared.adapters.local.secret_store import EnvFileSecretStore
    from shared.ports import Clock, StateStore
    from shared.settings import Settings


@dataclass
class LocalBackend:
    """The local stand-ins, kept together so the CLI and local host can reach their extras."""

    deps: Deps
    blobs: LocalBlobStore
    platform: LocalMLPlatform
    audit: SqliteAuditSink
    events: LocalEventGrid
    registry: LocalContainerRegistry  # the demo pushes serving images here
    settings: Settings  # all of them (the demo's stand-in ARM ids too); deps has what services read
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def build(settings: Settings) -> LocalBackend:
    """The local backend under ``settings.home``: real SQLite, MLflow and azmlinfsrv."""
    from shared.adapters.clock import SystemClock
    from shared.adapters.local.container_registry import LocalContainerRegistry
    from shared.adapters.local.event_grid import LocalEventGrid
    from shared.adapters.local.ml_platform import LocalMLPlatform
    from shared.adapters.local.private_files import private_home
    from shared.adapters.local.secret_store import EnvFileSecretStore
    from shared.adapters.local.state_store import SqliteStateStore
    from shared.settings import service_settings

    home = private_home(settings.home)  # 0700, owner-only umask, before anything is created
    clock = SystemClock()
    blobs = local_blob_store(settings)
    events = LocalEventGrid(home / "eventgrid.db", experiment=settings.model_name)
    platform = LocalMLPlatform(
        home=home,
        resolve_data=blobs.path_for,
        publish=events.publish,
        workspace_topic=local_topic(settings, "Microsoft.MachineLearningServices/workspaces"),
        repo_root=REPO_ROOT,
        positive_label=settings.positive_label,
        experiment=settings.model_name,
    )
    state = SqliteStateStore(home / "state.db")
    secrets = EnvFileSecretStore(home / "secrets.json")
    audit = local_audit_sink(settings, clock, secrets=secrets, anchor=state)
    registry = LocalContainerRegistry(home / "registry")
    built = Deps(
        settings=service_settings(settings),
        platform=platform,
        blobs=blobs,
        state=state,
        secrets=secrets,
        audit=audit,
        clock=clock,
        smoke_set=load_smoke_set(settings.smoke_set),
        registry=registry,
        traffic=platform.live_traffic(),  # what the endpoint router recorded
    )
    return LocalBackend(built, blobs, platform, audit, events, registry, settings, [platform.close])


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
