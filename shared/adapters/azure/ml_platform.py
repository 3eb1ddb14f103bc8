"""The ``MLPlatform`` port on Azure Machine Learning (``azure-ai-ml``'s ``MLClient``).

The composition root builds the MLClient with the process's one credential and imports this
module only for MLOPS_BACKEND=azure. Jobs and the registry live in ``ml_jobs``, endpoints in
``ml_endpoints``, scoring in ``ml_scoring``; states map onto the domain's as the local
adapter's do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import HttpTransport

from shared.adapters.azure.ml_endpoints import AzureEndpoints
from shared.adapters.azure.ml_jobs import AzureJobs
from shared.adapters.azure.ml_runs import JobRuns
from shared.adapters.azure.ml_scoring import EndpointScorer
from shared.domain.values import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    JobInfo,
    ModelVersion,
    TrainingJobRequest,
    TrainingRun,
)
from shared.logging_setup import quiet_azure_sdk
from shared.ports import TransientError
from shared.settings import Settings


@dataclass(frozen=True)
class AzureMLConfig:
    compute: str
    endpoint_identity_id: str  # ARM id of the user-assigned identity endpoints run as
    job_spec: Path  # training/jobs/train.yml
    endpoint_spec: Path  # training/endpoints/endpoint.yml
    deployment_spec: Path  # training/endpoints/deployment.yml
    # The training data container's URL (account URL/container/): jobs read it through the
    # identity-based datastore below, named as in infra/modules/ml-workspace.bicep.
    training_container_url: str
    training_datastore: str = "training_data"
    experiment: str = "text-classifier"
    positive_label: str = "spam"

    @classmethod
    def from_settings(cls, settings: Settings, repo_root: Path) -> AzureMLConfig:
        if not settings.endpoint_identity_id:
            raise ValueError("MLOPS_ENDPOINT_IDENTITY_ID is required for the Azure backend")
        training = repo_root / "training"
        return cls(
            compute=settings.compute_name,
            endpoint_identity_id=settings.endpoint_identity_id,
            job_spec=training / "jobs" / "train.yml",
            endpoint_spec=training / "endpoints" / "endpoint.yml",
            deployment_spec=training / "endpoints" / "deployment.yml",
            training_container_url=(
                f"{settings.storage_account_url.rstrip('/')}/{settings.training_container}/"
            ),
            experiment=settings.model_name,
            positive_label=settings.positive_label,
        )


class AzureMLPlatform:
    """Implements ``MLPlatform``. ``scoring_transport`` is for tests: the data-plane
    clients built here (scoring, the MLflow runs API) use it; the MLClient gets its transport
    from whoever builds it."""

    def __init__(
        self,
        ml_client: MLClient,
        config: AzureMLConfig,
        *,
        credential: TokenCredential,
        scoring_transport: HttpTransport | None = None,  # type: ignore[type-arg]
    ) -> None:
        quiet_azure_sdk()  # importing azure.ai.ml set its loggers to INFO
        self._runs = JobRuns(ml_client, credential, transport=scoring_transport)
        self._jobs = AzureJobs(
            ml_client,
            self._runs,  # an ended job's skipped files are on its run
            job_spec=config.job_spec,
            container_url=config.training_container_url,
            datastore=config.training_datastore,
            compute=config.compute,
            experiment=config.experiment,
            positive_label=config.positive_label,
        )
        self._endpoints = AzureEndpoints(
            ml_client,
            endpoint_spec=config.endpoint_spec,
            deployment_spec=config.deployment_spec,
            identity_id=config.endpoint_identity_id,
        )
        self._scorer = EndpointScorer(ml_client, credential, transport=scoring_transport)

    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        return self._jobs.submit_job(request)

    def get_job(self, name: str) -> JobInfo:
        return self._jobs.get_job(name)

    def get_model(self, name: str, version: str) -> ModelVersion:
        return self._jobs.get_model(name, version)

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        return self._jobs.list_models(name)

    def get_training_run(self, job_name: str) -> TrainingRun:
        return self._runs.get(job_name)

    def get_endpoint(self, name: str) -> EndpointInfo:
        return self._endpoints.get_endpoint(name)

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        return self._endpoints.ensure_endpoint(name)

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        self._endpoints.begin_deployment(spec)

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        return self._endpoints.get_deployment(endpoint, name)

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        self._endpoints.set_traffic(endpoint, traffic)

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        self._endpoints.begin_delete_deployment(endpoint, name)

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        """A deployment asked for by name must be provisioned: one still creating (or
        failed) is refused with TransientError before anything is scored."""
        if deployment is not None:
            state = self._endpoints.get_deployment(endpoint, deployment).state
            if state != "succeeded":
                raise TransientError(f"{endpoint}/{deployment} is {state}, not ready to score")
        return self._scorer.invoke(endpoint, payload, deployment=deployment)
