"""Azure ML training jobs and the model registry, for ``AzureMLPlatform``.

A job is ``training/jobs/train.yml`` loaded with ``load_job`` and completed through the
SDK's own ``params_override`` (so the schema types every value): the dataset prefix as a
``uri_folder`` input on the identity-based ``training_data`` datastore
(``azureml://datastores/<datastore>/paths/<prefix>``), the champion as an ``mlflow_model``
input, the accepted files as the ``accepted_files`` string input (base64url of a JSON list of
paths relative to the prefix, so only shell-inert characters reach the command line), the job's
own name as ``job_name`` (train.py tags the model version with it). The command is the YAML's:
no request value is formatted into it.

An ended job's ``skipped_files`` come from its MLflow run (``ml_runs``), where train.py names
the files it could not read: the reconciler quarantines them, as it does locally.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient, load_job
from azure.ai.ml.entities import Job, Model
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.adapters.azure.ml_errors import translated
from shared.adapters.azure.ml_runs import JobRuns, run_of_model_path
from shared.domain.events import split_blob_url
from shared.domain.values import JobInfo, JobStatus, ModelRef, ModelVersion, TrainingJobRequest

# Azure ML job states (JobStatus in the REST API) as the domain's.
_JOB_STATUS: Mapping[str, JobStatus] = {
    "NotStarted": "queued",
    "Queued": "queued",
    "Starting": "queued",
    "Preparing": "queued",
    "Provisioning": "queued",
    "Running": "running",
    "Finalizing": "running",
    "Completed": "completed",
    "Failed": "failed",
    "NotResponding": "failed",
    "CancelRequested": "canceled",
    "Canceled": "canceled",
}
_ENDED: tuple[JobStatus, ...] = ("completed", "failed", "canceled")
_MODEL_TAG = "model_name"
_MAX_TAGS = 20
_MAX_TAG_VALUE = 256
_MAX_ACCEPTED_FILES_JSON = 32 * 1024  # a literal input reaches the job as an env variable


class AzureJobs:
    def __init__(
        self,
        ml_client: MLClient,
        runs: JobRuns,
        *,
        job_spec: Path,
        container_url: str,
        datastore: str,
        compute: str,
        experiment: str,
        positive_label: str,
    ) -> None:
        self._ml = ml_client
        self._runs = runs
        self._job_spec = job_spec
        self._container_url = container_url if container_url.endswith("/") else container_url + "/"
        self._datastore = datastore
        self._compute = compute
        self._experiment = experiment
        self._positive_label = positive_label

    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        """GET first, so a redelivered event finds its job; a create that loses the race
        (409) returns the winner's."""
        what = f"job {request.name}"
        with translated(what):
            try:
                return self._info(self._ml.jobs.get(request.name))
            except ResourceNotFoundError:
                pass
            job = load_job(self._job_spec, params_override=self._overrides(request))
            try:
                created = self._ml.jobs.create_or_update(job)
            except ResourceExistsError:
                created = self._ml.jobs.get(request.name)
            return self._info(created)

    def get_job(self, name: str) -> JobInfo:
        with translated(f"job {name}"):
            return self._info(self._ml.jobs.get(name))

    def get_model(self, name: str, version: str) -> ModelVersion:
        with translated(f"model {name}:{version}"):
            return self._model_version(self._ml.models.get(name=name, version=version))

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        with translated(f"model {name}"):
            models = [self._model_version(m) for m in self._ml.models.list(name=name)]
        return sorted(models, key=_version_order)

    def _model_version(self, model: Model) -> ModelVersion:
        """The version with its lineage taken from where its files are (its path), which
        the gate checks against the job's own run; ``jobName`` alone is writable by anyone
        who may register a version, so it only has to agree."""
        scope = (
            str(self._ml.subscription_id),
            str(self._ml.resource_group_name),
            str(self._ml.workspace_name),
        )
        job = run_of_model_path(str(model.path or ""), str(model.job_name or ""), scope)
        return replace(_model_version(model), run_id=job, job_name=job)

    def _overrides(self, request: TrainingJobRequest) -> list[dict[str, Any]]:
        overrides: list[dict[str, Any]] = [
            {"name": request.name},
            {"experiment_name": self._experiment},
            {"compute": f"azureml:{self._compute}"},
            {"tags": _tags(request)},
            {"inputs.training_data.path": self._datastore_uri(request)},  # type, mode: train.yml
            {"inputs.model_name": request.model_name},
            {"inputs.positive_label": self._positive_label},
            {"inputs.job_name": request.name},
        ]
        if request.files:
            overrides.append({"inputs.accepted_files": _accepted_files(request)})
        # The model version carries the data's lineage (event id, blob URL, eTag) as tags.
        overrides.append({"inputs.lineage": _base64url_json(_tags(request))})
        if request.champion is not None:
            champion = f"azureml:{request.champion.name}:{request.champion.version}"
            overrides.append({"inputs.champion": {"type": "mlflow_model", "path": champion}})
        return overrides

    def _datastore_uri(self, request: TrainingJobRequest) -> str:
        """The dataset prefix on the training_data datastore, which the job reads with the
        compute's identity: an https blob URL is for public data (Learn, "Access data in a
        job"). Refuses a prefix outside the datastore's container."""
        if not request.data_url.startswith(self._container_url):
            raise ValueError(f"job {request.name}: data is outside {self._container_url}")
        prefix = request.data_url.removeprefix(self._container_url)
        return f"azureml://datastores/{self._datastore}/paths/{prefix}"

    def _info(self, job: Job) -> JobInfo:
        # Job.status is the SDK's JobStatus enum; Paused and Unknown: keep polling.
        status = _JOB_STATUS.get(str(getattr(job.status, "value", job.status)), "running")
        model = self._registered_by(job) if status == "completed" else None
        error = "" if status != "failed" else f"job {job.name} {job.status}; see its std_log"
        # A transient failure to read the run raises: the job is looked at again next tick,
        # rather than ending without the files it skipped.
        skipped = self._runs.skipped_files(str(job.name)) if status in _ENDED else {}
        return JobInfo(str(job.name), status, model, error, skipped)

    def _registered_by(self, job: Job) -> ModelRef | None:
        """The version the job registered: train.py tags it ``job_name`` with the job's name
        (its ``job_name`` input), as the local platform does. A version whose service-set
        ``job_name`` (lineage) names another job is never taken on its tag. The model's name
        is the job's tag (read back from an input, a literal is private to the SDK's
        NodeInput)."""
        model_name = (job.tags or {}).get(_MODEL_TAG)
        if not model_name:
            return None
        for model in self._ml.models.list(name=model_name):
            lineage, tagged = model.job_name, (model.tags or {}).get("job_name")
            if lineage == job.name or (not lineage and tagged == job.name):
                return ModelRef(model_name, str(model.version))
        return None


def _tags(request: TrainingJobRequest) -> dict[str, str]:
    """Lineage for the workspace UI and queries: bounded in number and length."""
    tags = {
        _MODEL_TAG: request.model_name,
        "dataset": request.dataset,
        "accepted_files": str(len(request.files)),
    }
    tags.update(request.tags)
    return {k[:_MAX_TAG_VALUE]: str(v)[:_MAX_TAG_VALUE] for k, v in list(tags.items())[:_MAX_TAGS]}


def _accepted_files(request: TrainingJobRequest) -> str:
    """The accepted files as paths relative to the dataset prefix (what the job sees under
    its ``training_data`` mount). Refuses a file outside the prefix or a list too long to pass
    as a literal, rather than train on a different set than the one accepted. Paths are
    compared and sent decoded (a mount shows ``a b.csv``, never ``a%20b.csv``)."""
    prefix = request.data_url if request.data_url.endswith("/") else request.data_url + "/"
    account, container, folder = split_blob_url(prefix)
    names: list[str] = []
    outside = 0
    for url in request.files:
        file_account, file_container, path = split_blob_url(url)
        same = (file_account.lower(), file_container) == (account.lower(), container)
        if not same or not path.startswith(folder):
            outside += 1
        names.append(path.removeprefix(folder))
    if outside:
        raise ValueError(f"job {request.name}: {outside} file(s) outside {prefix}")
    document = _base64url_json(names)
    if len(document) > _MAX_ACCEPTED_FILES_JSON:
        raise ValueError(
            f"job {request.name}: {len(request.files)} accepted files exceed the"
            f" {_MAX_ACCEPTED_FILES_JSON}-byte accepted_files input"
        )
    return document


def _base64url_json(value: object) -> str:
    """Only [A-Za-z0-9_=-] reaches the command line (train.py decodes it)."""
    return base64.urlsafe_b64encode(json.dumps(value).encode("utf-8")).decode("ascii")


def _model_version(model: Model) -> ModelVersion:
    return ModelVersion(
        name=str(model.name),
        version=str(model.version),
        tags={str(k): str(v) for k, v in (model.tags or {}).items()},
        properties={str(k): str(v) for k, v in (model.properties or {}).items()},
    )


def _version_order(model: ModelVersion) -> tuple[int, str]:
    return (int(model.version), "") if model.version.isdigit() else (1 << 62, model.version)
