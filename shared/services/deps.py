"""What every service receives: the ports, the settings and the smoke-test examples."""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import (
    AuditSink,
    BlobStore,
    Clock,
    ContainerRegistry,
    MLPlatform,
    SecretStore,
    StateStore,
)
from shared.services.config import ServiceSettings


@dataclass(frozen=True)
class Deps:
    settings: ServiceSettings  # plain values, built from the typed Settings at start-up
    platform: MLPlatform
    blobs: BlobStore
    state: StateStore
    secrets: SecretStore
    audit: AuditSink
    clock: Clock
    smoke_set: tuple[tuple[str, str], ...]  # (label, text) the smoke test and canary score
    registry: ContainerRegistry  # what the serving images' registry holds, by digest
