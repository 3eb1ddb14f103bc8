"""An Azure ML workspace as the recording transport answers it: the adapter under test is
built on a real ``MLClient`` whose every ARM request is recorded and answered here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient

from shared.adapters.azure.ml_platform import AzureMLConfig, AzureMLPlatform
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport

SUB, RG, WS = "0b3c1a2d-0000-4000-8000-000000000001", "rg-mlops", "mlw-mlops"
WORKSPACE = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
)
ARM = "https://management.azure.com"
IDENTITY = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-endpoint"
)
REPO = Path(__file__).parents[2]
TRAINING_CONTAINER_URL = "https://stmlopsdata.blob.core.windows.net/training-data/"
ARM_SCOPE = "https://management.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"
# The workspace's MLflow tracking server (its mlFlowTrackingUri with https) and GetRun there.
TRACKING = f"https://westeurope.api.azureml.ms/mlflow/v1.0{WORKSPACE}"
RUNS_GET = "^" + TRACKING.replace(".", r"\.") + r"/api/2\.0/mlflow/runs/get\?run_id="


def arm(path: str) -> str:
    """A URL regex for ``path`` under the workspace, up to the query string."""
    return "^" + ARM + WORKSPACE + path + r"\?"


class Workspace:
    def __init__(self) -> None:
        self.transport = RecordingTransport()
        self.credential = FakeCredential()
        self.ml_client = MLClient(
            credential=self.credential,
            subscription_id=SUB,
            resource_group_name=RG,
            workspace_name=WS,
            transport=self.transport,
        )
        self.config = AzureMLConfig(
            compute="cpu-cluster",
            endpoint_identity_id=IDENTITY,
            job_spec=REPO / "training/jobs/train.yml",
            endpoint_spec=REPO / "training/endpoints/endpoint.yml",
            deployment_spec=REPO / "training/endpoints/deployment.yml",
            training_container_url=TRAINING_CONTAINER_URL,
            experiment="spam-classifier",
        )
        self.platform = AzureMLPlatform(
            self.ml_client,
            self.config,
            credential=self.credential,
            scoring_transport=self.transport,
        )

    def add(self, method: str, path: str, *responses: Any, repeat: bool = False) -> None:
        self.transport.add(method, arm(path), *responses, repeat=repeat)

    def one(self, method: str, path: str) -> Recorded:
        return self.transport.one(method, arm(path))

    def code_exists(self) -> None:
        """The code snapshot's hash is already registered: the SDK reuses it, no upload."""
        self.add("GET", "/codes/[^/]+/versions", Canned(200, {"value": [code_version("1")]}))
        self.add("GET", "/codes/src-code/versions/1", Canned(200, code_version("1")))

    def environments_echo(self) -> None:
        self.add("PUT", "/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]+", echo)

    def workspace_location(self) -> None:
        self.add("GET", "", Canned(200, {"id": WORKSPACE, "name": WS, "location": "westeurope"}))

    def tracking(self, *, uri: bool = True, repeat: bool = False) -> None:
        """The workspace as ARM reports it, with its MLflow tracking URI (``uri``) or without."""
        properties = {"mlFlowTrackingUri": TRACKING.replace("https://", "azureml://")}
        body = {"id": WORKSPACE, "name": WS, "location": "westeurope"}
        self.add(
            "GET", "", Canned(200, {**body, "properties": properties if uri else {}}), repeat=repeat
        )

    def run(self, job: str, *answers: Canned, repeat: bool = False) -> None:
        """What the tracking server answers for the run of ``job`` (GetRun)."""
        self.transport.add("GET", RUNS_GET + re.escape(job) + "$", *answers, repeat=repeat)


def echo(request: Recorded) -> Canned:
    """ARM's answer to a PUT: the resource as sent, with its id and name (201 Created)."""
    body = request.json()
    body.update(id=request.path, name=request.path.rsplit("/", 1)[-1])
    return Canned(201, body)


def run_answer(run_id: str, **data: Any) -> dict[str, Any]:
    """MLflow's GetRun response (mlflow.org REST API, ``runs/get``); ``data`` replaces the
    default metrics, params or tags (lists of ``{key, value}``)."""
    default = {
        "metrics": [
            {"key": "accuracy", "value": 0.9812, "timestamp": 1, "step": 0},
            {"key": "golden_accuracy", "value": "NaN", "timestamp": 1, "step": 0},
        ],
        "params": [{"key": "seed", "value": "42"}],
        "tags": [{"key": "gate", "value": "passed"}, {"key": "registered_version", "value": "4"}],
    }
    info = {"run_id": run_id, "status": "FINISHED", "artifact_uri": "azureml://x/artifacts"}
    return {"run": {"info": info, "data": {**default, **data}}}


def no_run() -> Canned:
    """The tracking server's answer for a run it does not hold."""
    return Canned(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run not found"})


def code_version(version: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/codes/src-code/versions/{version}",
        "name": version,
        "properties": {"codeUri": "https://stmlops.blob.core.windows.net/code/src"},
    }


def model_version(name: str, version: str, **extra: Any) -> dict[str, Any]:
    properties = {
        "modelType": "mlflow_model",
        "modelUri": f"azureml://models/{name}/{version}",
        "flavors": {"python_function": {"data": {"loader_module": "mlflow.sklearn"}}},
    }
    return {
        "id": f"{WORKSPACE}/models/{name}/versions/{version}",
        "name": version,
        "properties": {**properties, **extra},
    }
