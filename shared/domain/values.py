"""Value types that cross the ports: what the app knows about blobs, models and endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

JobStatus = Literal["queued", "running", "completed", "failed", "canceled"]
ProvisioningState = Literal["creating", "succeeded", "failed", "deleting"]


@dataclass(frozen=True)
class BlobProperties:
    url: str
    size: int
    content_type: str
    etag: str


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    # Lineage as the platform derives it from where the version's files live, never from
    # tags: ``run_id`` is set only when the files are the ``model`` artifact of that training
    # run; ``job_name`` is the job that run claims to belong to. Both are claims until the
    # job's own run (``MLPlatform.get_training_run``) confirms them.
    run_id: str = ""
    job_name: str = ""

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.name, self.version)


@dataclass(frozen=True)
class TrainingRun:
    """What a training job recorded on its own run (the MLflow run the job's process
    logged to): the evidence the deploy gate reads, instead of a model version's tags."""

    job_name: str
    run_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingJobRequest:
    """One training job; ``name`` is derived from the idempotency key, so a retry finds it."""

    name: str
    dataset: str
    data_url: str  # the dataset folder (uri_folder), never formatted into a command string
    model_name: str
    champion: ModelRef | None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The accepted files of the dataset (blob URLs): a file the app rejected, or one changed
    # since it was accepted, is not trained on even though it sits in the same folder.
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobInfo:
    name: str
    status: JobStatus
    model: ModelRef | None = None  # the version the job registered, once completed
    error: str = ""
    # Files the job could not read and trained without (path inside the dataset folder ->
    # why), once it ended: the reconciler quarantines them.
    skipped_files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploymentSpec:
    endpoint: str
    name: str  # the colour: "blue" or "green"
    model: ModelRef
    image: str | None = None  # "registry/repository@sha256:..." or None for the curated default


@dataclass(frozen=True)
class DeploymentInfo:
    endpoint: str
    name: str
    model: ModelRef
    image: str | None
    state: ProvisioningState
    error: str = ""


@dataclass(frozen=True)
class EndpointInfo:
    name: str
    traffic: Mapping[str, int]
    deployments: tuple[DeploymentInfo, ...] = ()

    @property
    def serving(self) -> str | None:
        """The deployment that takes the most traffic (ties broken by name)."""
        live = [(weight, name) for name, weight in self.traffic.items() if weight > 0]
        return max(live)[1] if live else None


@dataclass(frozen=True)
class Stored:
    """A document read from the state store with its concurrency token."""

    key: str
    value: Mapping[str, Any]
    etag: str
