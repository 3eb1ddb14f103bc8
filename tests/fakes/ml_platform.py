"""An in-memory MLPlatform that records what the services asked of it, and keeps the
MLPlatform contract (tests/contract/test_ml_platform_contract.py runs on it): NotFound for
what does not exist, a deployment that takes traffic cannot be deleted, a new deployment is
"creating" until observed once, and one that is not ready cannot be invoked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from shared.domain.values import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    JobInfo,
    JobStatus,
    ModelRef,
    ModelVersion,
    ProvisioningState,
    TrainingJobRequest,
    TrainingRun,
)
from shared.ports import NotFound, StateStore, TransientError

Behaviour = Literal["good", "wrong", "down"]
GOOD_TAGS = {
    "gate": "passed",
    "gate_reason": "beats champion",
    "accuracy": "0.9900",
    "f1": "0.9600",
}
# What add_model's run records on the golden set unless the test says otherwise.
GOLDEN = {"golden_accuracy": "0.9800", "golden_f1": "0.9790"}
_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "golden_accuracy", "golden_f1")


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
        self.answers: dict[ModelRef, Any] = {}  # what a model's deployment answers instead
        # What a new deployment becomes once it has been seen "creating" (one get_deployment).
        self.provisioning: ProvisioningState = "succeeded"
        self._settling: dict[tuple[str, str], ProvisioningState] = {}
        self.transient_failures = 0  # the next N calls to submit_job raise TransientError
        self.refused: dict[str, Exception] = {}  # job name -> what submitting it raises
        self.busy: set[str] = set()  # endpoints still being created: changes must wait
        self.runs: dict[str, TrainingRun] = {}  # job name -> the run it logged to
        # The app's state store: a job add_model trains on its own is recorded there as the
        # reconciler records the jobs it submits (tests/conftest.py sets it).
        self.app_state: StateStore | None = None

    # Test helpers -----------------------------------------------------------
    def add_model(
        self,
        name: str,
        version: str,
        tags: Mapping[str, str] = GOOD_TAGS,
        *,
        job: str | None = None,
        run: Mapping[str, str] | None = None,
        submitted: bool = True,
    ) -> ModelRef:
        """A version as our training job registers it: ``job`` (default: its ``job_name``
        tag, else one this app submitted, named after the version) completed, its run
        records ``run`` (default: what ``tags`` claim, with good golden-set metrics) and
        registered this version, whose files are that run's model. The version carries
        ``tags``. ``submitted=False``: a job someone else ran in the workspace."""
        job = job or tags.get("job_name") or f"train-{name}-v{version}"
        if submitted and self.app_state is not None and self.app_state.get("job", job) is None:
            doc = {"dataset": "spam", "window_id": "", "status": "completed", "correlation_id": ""}
            self.app_state.put("job", job, doc, etag=None)
        recorded = {**GOLDEN, **(tags if run is None else run)}
        metrics = {k: float(recorded[k]) for k in _METRICS if k in recorded}
        run_tags = {k: v for k, v in recorded.items() if k not in _METRICS}
        run_id = f"run-{job}"
        run_tags |= {"job_name": job, "registered_version": version}
        self.runs[job] = TrainingRun(job, run_id, metrics, run_tags)
        self.jobs.setdefault(job, JobInfo(job, "completed", ModelRef(name, version)))
        self.models[(name, version)] = ModelVersion(
            name, version, dict(tags), run_id=run_id, job_name=job
        )
        return ModelRef(name, version)

    def register_by_hand(
        self, name: str, version: str, tags: Mapping[str, str], *, run_id: str = "", job: str = ""
    ) -> ModelRef:
        """A version someone registered directly: its tags and lineage are whatever they
        wrote (``run_id``/``job``: files that claim to be a run's model)."""
        self.models[(name, version)] = ModelVersion(
            name, version, dict(tags), run_id=run_id, job_name=job
        )
        return ModelRef(name, version)

    def finish_job(
        self,
        name: str,
        model: ModelRef | None,
        *,
        failed: bool = False,
        skipped: Mapping[str, str] | None = None,
    ) -> None:
        status: JobStatus = "failed" if failed else "completed"
        error = "data invalid" if failed else ""
        self.jobs[name] = JobInfo(name, status, model, error, dict(skipped or {}))

    def forget_job(self, name: str) -> None:
        """The job was deleted from the workspace (or never existed there)."""
        del self.jobs[name]

    # MLPlatform -------------------------------------------------------------
    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        if self.transient_failures:
            self.transient_failures -= 1
            raise TransientError("workspace throttled (429)")
        if request.name in self.refused:
            raise self.refused[request.name]
        if request.name not in self.jobs:
            self.submitted.append(request)
            self.jobs[request.name] = JobInfo(request.name, "running")
        return self.jobs[request.name]

    def get_job(self, name: str) -> JobInfo:
        if name not in self.jobs:
            raise NotFound(f"job {name} does not exist")
        return self.jobs[name]

    def get_training_run(self, job_name: str) -> TrainingRun:
        if job_name not in self.runs:
            raise NotFound(f"job {job_name} has no run")
        return self.runs[job_name]

    def get_model(self, name: str, version: str) -> ModelVersion:
        if (name, version) not in self.models:
            raise NotFound(f"model {name}:{version} does not exist")
        return self.models[(name, version)]

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        return [m for (n, _), m in sorted(self.models.items()) if n == name]

    def get_endpoint(self, name: str) -> EndpointInfo:
        if name not in self.traffic:
            raise NotFound(f"endpoint {name} does not exist")
        deployments = tuple(d for (e, _), d in sorted(self.deployments.items()) if e == name)
        return EndpointInfo(name, dict(self.traffic[name]), deployments)

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        self.traffic.setdefault(name, {})
        return self.get_endpoint(name)

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        if spec.endpoint not in self.traffic:
            raise NotFound(f"endpoint {spec.endpoint} does not exist")
        if spec.endpoint in self.busy:
            raise TransientError(f"endpoint {spec.endpoint} is Creating")
        key = (spec.endpoint, spec.name)
        self.deployments[key] = DeploymentInfo(
            spec.endpoint, spec.name, spec.model, spec.image, "creating"
        )
        self._settling[key] = self.provisioning

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        if (endpoint, name) not in self.deployments:
            raise NotFound(f"deployment {endpoint}/{name} does not exist")
        seen = self.deployments[(endpoint, name)]
        if (endpoint, name) in self._settling:  # provisioning ends after this first look
            self.set_provisioning(endpoint, name, self._settling.pop((endpoint, name)))
        return seen

    def set_provisioning(self, endpoint: str, name: str, state: ProvisioningState) -> None:
        self.deployments[(endpoint, name)] = replace(
            self.deployments[(endpoint, name)], state=state
        )

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        if endpoint not in self.traffic:
            raise NotFound(f"endpoint {endpoint} does not exist")
        unknown = set(traffic) - {n for (e, n) in self.deployments if e == endpoint}
        if unknown or sum(traffic.values()) not in (0, 100):
            raise ValueError(f"bad traffic {dict(traffic)}")
        self.traffic[endpoint] = {n: w for n, w in traffic.items() if w}

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        if self.traffic.get(endpoint, {}).get(name, 0) > 0:
            raise ValueError(f"deployment {name} takes traffic on {endpoint}; set it to 0 first")
        self._settling.pop((endpoint, name), None)
        if self.deployments.pop((endpoint, name), None) is not None:
            self.deleted.append(name)

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        if endpoint not in self.traffic:
            raise NotFound(f"endpoint {endpoint} does not exist")
        if deployment is None:
            if not self.traffic[endpoint]:
                raise NotFound(f"endpoint {endpoint} has no deployment taking traffic")
            deployment = max(self.traffic[endpoint], key=lambda n: self.traffic[endpoint][n])
        if (endpoint, deployment) not in self.deployments:
            raise NotFound(f"deployment {endpoint}/{deployment} does not exist")
        info = self.deployments[(endpoint, deployment)]
        if info.state != "succeeded":
            raise TransientError(f"{endpoint}/{deployment} is {info.state}, not ready")
        model = info.model
        if model in self.answers:
            return self.answers[model]
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
