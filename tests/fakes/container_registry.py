"""ContainerRegistry in memory: manifests pushed by the test, questions recorded."""

from __future__ import annotations

import hashlib

from shared.ports import Manifest, NotFound
from tests.fakes.clock import FakeClock


class InMemoryContainerRegistry:
    """Manifests pushed to registries (hosts compare in lower case, as DNS does); every
    question asked is kept in ``asked``. ``failure``, when set, is raised instead of an
    answer (a registry that is down, or refuses the app's identity)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.manifests: dict[tuple[str, str, str], Manifest] = {}
        self.asked: list[tuple[str, str, str]] = []
        self.failure: Exception | None = None

    def push(self, registry: str, repository: str, content: str = "", *, digest: str = "") -> str:
        """Store a manifest and return its digest: the sha256 of its bytes, as registries
        name manifests (or ``digest``, for a test that names it beforehand)."""
        body = content or f"{registry}/{repository}#{len(self.manifests)}"
        digest = digest or "sha256:" + hashlib.sha256(body.encode()).hexdigest()
        self.manifests[(registry.lower(), repository, digest)] = Manifest(
            registry.lower(), repository, digest, self.clock.now().isoformat(), len(body)
        )
        return digest

    def manifest(self, registry: str, repository: str, digest: str) -> Manifest:
        self.asked.append((registry, repository, digest))
        if self.failure is not None:
            raise self.failure
        try:
            return self.manifests[(registry.lower(), repository, digest)]
        except KeyError:
            raise NotFound(f"manifest {registry}/{repository}@{digest}") from None
