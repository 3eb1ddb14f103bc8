"""The bag the composition root builds: every port, the settings and the smoke-test examples.
A use case never takes it whole; shared/services/injection.py passes it the ones it names."""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import (
    AuditSink,
    BlobStore,
    Clock,
    ContainerRegistry,
    LiveTraffic,
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
    # What users saw from each deployment: the canary's live check. None where no source is
    # wired (service tests of other use cases): the canary is then judged on the smoke test.
    traffic: LiveTraffic | None = None
