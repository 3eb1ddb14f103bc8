"""An in-memory MLPlatform that records what the services asked of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from shared.domain.models import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    JobInfo,
    JobStatus,
    ModelRef,
    ModelVersion,
    ProvisioningState,
    TrainingJobRequest,
)
from shared.ports import NotFound, TransientError

Behaviour = Literal["good", "wrong", "down"]
GOOD_TAGS = {
    "gate": "passed",
    "gate_reason": "beats champion",
    "accuracy": "0.9900",
    "f1": "0.9600",
}


class FakeMLPlatform:
    def __init__(self, smoke_set: Sequence[tuple[str, str]]) -> None:
        self.truth = {text: label for label, text in smoke_set}
        self.jobs: dict[str, JobInfo] = {}
        self.submitted: list[TrainingJobRequest] = []
        self.models: dict[tuple[str, str], ModelVersion] = {}
        self.traffic: dict[str, dict[str, int]] = {}
        self.deployments: dict[tuple[str, str], DeploymentInfo] = {}
        self.deleted: list[str] = []
        self.behaviour: dict[ModelRef, Behaviour] = {}
        self.provisioning: ProvisioningState = "succeeded"  # what new deployments become
        self.transient_failures = 0  # the next N calls to submit_job raise TransientError
        self.busy: set[str] = set()  # endpoints still being created: changes must wait

    # Test helpers -----------------------------------------------------------
    def add_model(self, name: str, version: str, tags: Mapping[str, str] = GOOD_TAGS) -> ModelRef:
        self.models[(name, version)] = ModelVersion(name, version, dict(tags))
        return ModelRef(name, version)

    def finish_job(self, name: str, model: ModelRef | None, *, failed: bool = False) -> None:
        status: JobStatus = "failed" if failed else "completed"
        self.jobs[name] = JobInfo(name, status, model, "data invalid" if failed else "")

    # MLPlatform -------------------------------------------------------------
    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        if self.transient_failures:
            self.transient_failures -= 1
            raise TransientError("workspace throttled (429)")
        if request.name not in self.jobs:
            self.submitted.append(request)
            self.jobs[request.name] = JobInfo(request.name, "running")
        return self.jobs[request.name]

    def get_job(self, name: str) -> JobInfo:
        return self.jobs[name]

    def get_model(self, name: str, version: str) -> ModelVersion:
        if (name, version) not in self.models:
            raise NotFound(f"{name}:{version}")
        return self.models[(name, version)]

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        return [m for (n, _), m in sorted(self.models.items()) if n == name]

    def get_endpoint(self, name: str) -> EndpointInfo:
        if name not in self.traffic:
            raise NotFound(name)
        deployments = tuple(d for (e, _), d in sorted(self.deployments.items()) if e == name)
        return EndpointInfo(name, dict(self.traffic[name]), deployments)

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        self.traffic.setdefault(name, {})
        return self.get_endpoint(name)

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        if spec.endpoint in self.busy:
            raise TransientError(f"endpoint {spec.endpoint} is Creating")
        self.deployments[(spec.endpoint, spec.name)] = DeploymentInfo(
            spec.endpoint, spec.name, spec.model, spec.image, self.provisioning
        )

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        if (endpoint, name) not in self.deployments:
            raise NotFound(f"{endpoint}/{name}")
        return self.deployments[(endpoint, name)]

    def set_provisioning(self, endpoint: str, name: str, state: ProvisioningState) -> None:
        self.deployments[(endpoint, name)] = replace(
            self.deployments[(endpoint, name)], state=state
        )

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        unknown = set(traffic) - {n for (e, n) in self.deployments if e == endpoint}
        if unknown or sum(traffic.values()) not in (0, 100):
            raise ValueError(f"bad traffic {dict(traffic)}")
        self.traffic[endpoint] = {n: w for n, w in traffic.items() if w}

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        if self.deployments.pop((endpoint, name), None) is not None:
            self.deleted.append(name)
        self.traffic.get(endpoint, {}).pop(name, None)

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        if deployment is None:
            deployment = max(self.traffic[endpoint], key=lambda n: self.traffic[endpoint][n])
        model = self.get_deployment(endpoint, deployment).model
        behaviour = self.behaviour.get(model, "good")
        if behaviour == "down":
            raise TransientError(f"{deployment} is not answering")
        labels = sorted(set(self.truth.values()))
        predictions = []
        for text in payload["data"]:
            label = self.truth.get(text, labels[0])
            if behaviour == "wrong":
                label = labels[(labels.index(label) + 1) % len(labels)]
            predictions.append({"label": label, "probability": 0.97})
        return {"predictions": predictions, "model": {"name": model.name, "version": model.version}}
