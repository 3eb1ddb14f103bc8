"""The ports: what the services need from the outside world, as Protocols.

Adapters live in ``shared.adapters.azure`` and ``shared.adapters.local``; the services
never import them. Every method either succeeds, raises ``TransientError`` (retry the
event), or raises a more specific error documented on the method.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.audit import AuditEntry, AuditRecord
from shared.domain.canary import TrafficSample
from shared.domain.values import (
    BlobProperties,
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    JobInfo,
    ModelVersion,
    Stored,
    TrainingJobRequest,
    TrainingRun,
)


class TransientError(Exception):
    """A dependency failed in a way that retrying may fix; the event must be redelivered."""


class NotFound(Exception):
    """The named resource does not exist."""


class ConcurrencyConflict(Exception):
    """A compare-and-set lost: the stored document changed (or already exists)."""


class AccessDenied(Exception):
    """The app's own identity may not read the resource (HTTP 401/403): a role assignment is
    missing. Says nothing about the event, so the event is neither accepted nor rejected."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class BlobStore(Protocol):
    def properties(self, url: str) -> BlobProperties:
        """Raises NotFound, or ValueError for a URL outside the configured account/container."""
        ...

    def read_head(self, url: str, max_bytes: int) -> bytes:
        """The first ``max_bytes`` bytes of the blob (a bounded range read)."""
        ...


@dataclass(frozen=True)
class Manifest:
    """An image manifest as the registry describes it (never as an event claims it)."""

    registry: str  # the login server host, lower case
    repository: str
    digest: str  # sha256:<64 hex>, as the registry names it
    created: str  # ISO 8601 as the registry reports it; "" when it does not
    size: int | None  # bytes, when the registry reports it

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


class ContainerRegistry(Protocol):
    def manifest(self, registry: str, repository: str, digest: str) -> Manifest:
        """The manifest ``digest`` of ``repository`` in ``registry`` (a login server host).
        Raises NotFound when the registry holds no such manifest in that repository,
        ValueError for a registry or name the adapter refuses before asking, AccessDenied
        when the app's identity may not read it, TransientError otherwise."""
        ...


# The (kind, field) pairs the state stores index for list_where: a job's status, a rollout's
# phase. Only these: every index costs each write of its kind.
INDEXED: tuple[tuple[str, str], ...] = (("job", "status"), ("rollout", "phase"))


class StateStore(Protocol):
    """Small JSON documents grouped by kind, with optimistic concurrency."""

    def get(self, kind: str, key: str) -> Stored | None: ...

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        """Write and return the new etag. ``etag=None`` inserts only if absent; otherwise the
        write succeeds only if the stored etag still matches. Raises ConcurrencyConflict."""
        ...

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        """Documents of one kind whose key starts with ``prefix``, ordered by key."""
        ...

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        """Documents of one kind whose top-level ``field`` is one of ``values``, ordered by
        key. For the pairs in INDEXED the stores answer from an index, so the cost follows
        the matches (the active items), not the kind's history."""
        ...


class SecretStore(Protocol):
    def get(self, name: str) -> str:
        """Raises NotFound for an unknown secret. Never log the value."""
        ...


class AuditSink(Protocol):
    def append(self, entry: AuditEntry) -> AuditRecord:
        """Append one record durably: the sink sequences it, seals it into the keyed chain
        (HMAC under the key it reads through the SecretStore) and moves the anchored head."""
        ...

    def flush(self) -> int:
        """Ship records already written durably but not yet delivered (an outbox); return
        how many. Raises TransientError when delivery fails; nothing is lost."""
        ...


class LiveTraffic(Protocol):
    """What users saw from each deployment of an endpoint: the canary's evidence."""

    def deployment_sample(
        self, endpoint: str, deployment: str, start: datetime, end: datetime
    ) -> TrafficSample:
        """The requests the endpoint routed to ``deployment`` in [start, end): how many, how
        many it failed (5xx), their p95 latency. A window with no traffic is a zero sample,
        not an error. Raises TransientError when the source cannot answer now."""
        ...


class MLPlatform(Protocol):
    """Azure ML jobs, the model registry and managed online endpoints.

    Long operations (``begin_*``) return once accepted; the reconciler polls their state.
    """

    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        """Idempotent by ``request.name``: an existing job of that name is returned."""
        ...

    def get_job(self, name: str) -> JobInfo: ...

    def get_model(self, name: str, version: str) -> ModelVersion:
        """Raises NotFound."""
        ...

    def get_training_run(self, job_name: str) -> TrainingRun:
        """The run a training job logged to, as the job's own record names it (not as a
        model version claims): its metrics and tags. Raises NotFound for a job that does not
        exist or has no run."""
        ...

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        """All versions of a model, oldest first."""
        ...

    def get_endpoint(self, name: str) -> EndpointInfo:
        """Raises NotFound."""
        ...

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        """Create the endpoint if absent (no deployments, no traffic)."""
        ...

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        """Create or replace a deployment; it receives no traffic until ``set_traffic``."""
        ...

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        """Raises NotFound."""
        ...

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        """Weights in percent summing to 100 (or all zero); unnamed deployments get 0."""
        ...

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        """Idempotent: deleting a missing deployment is not an error."""
        ...

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        """Score through the endpoint (traffic-weighted) or one deployment directly.

        Raises TransientError when the deployment cannot be reached, ValueError when it
        answers with a client error (the message says why)."""
        ...
