"""What every service receives: the ports, the settings and the smoke-test examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.ports import (
    AuditSink,
    BlobStore,
    Clock,
    ContainerRegistry,
    MLPlatform,
    SecretStore,
    StateStore,
)

if TYPE_CHECKING:  # pydantic costs ~80 ms: load it on the first invocation, not at import
    from shared.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    platform: MLPlatform
    blobs: BlobStore
    state: StateStore
    secrets: SecretStore
    audit: AuditSink
    clock: Clock
    smoke_set: tuple[tuple[str, str], ...]  # (label, text) the smoke test and canary score
    registry: ContainerRegistry  # what the serving images' registry holds, by digest
