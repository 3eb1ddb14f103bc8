"""The Function App's custom Azure ML role, derived from what the adapter really sends.

Every ``MLPlatform`` operation runs through a real azure-ai-ml ``MLClient`` on the recording
transport (tests/contract/ml_workspace.py); each request it sends is mapped to the action
Learn's operations list ("Azure permissions for AI + machine learning",
Microsoft.MachineLearningServices) names for it. The role in rbac-app.bicep must hold every
such action, and hold nothing else except what Learn lists for job submission ("Manage roles
in your workspace", "Submitting any type of run (V2)") and the reads of what a job or a
deployment names. A new SDK call, or an action nobody uses any more, fails here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from shared.domain.values import DeploymentSpec, ModelRef, TrainingJobRequest
from tests.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, azurite  # noqa: F401  (the fixture)
from tests.contract.ml_workspace import (
    ARM,
    SUB,
    WORKSPACE,
    Workspace,
    echo,
    model_version,
)
from tests.contract.recording import Canned, Recorded, error
from tests.infra.bicep import resources
from tests.infra.test_roles import ML, SUBMIT_RUN_V2

EP = "spam-endpoint"
JOB = "train-spam-0123456789abcdef"
PREFIX = "https://stmlopsdata.blob.core.windows.net/training-data/spam/"
SCORING = f"https://{EP}.westeurope.inference.ml.azure.com/score"
# Where Azure ML points a long operation's Azure-AsyncOperation header (as the service
# answers it: a subscription-level URL, not one under the workspace).
OPERATION = (
    f"{ARM}/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices"
    "/locations/westeurope/mfeOperationsStatus/oe:op-1"
)
DIGEST = "contosomlops.azurecr.io/mlops/sklearn-serving@sha256:" + "ab" * 32

# (method, path under the workspace) -> the operations list's action for it. ARM derives the
# action from the resource type and the verb (GET read, PUT write, DELETE delete).
DEPLOYMENT = r"/onlineEndpoints/[^/]+/deployments"
ARM_ACTIONS: list[tuple[str, str, str]] = [
    ("GET", r"", f"{ML}/read"),
    ("GET", r"/jobs/[^/]+", f"{ML}/jobs/read"),
    ("PUT", r"/jobs/[^/]+", f"{ML}/jobs/write"),
    ("GET", r"/codes/[^/]+/versions(/[^/]+)?", f"{ML}/codes/versions/read"),
    # The operations list names no action of its own for startPendingUpload (the call that
    # hands out the upload SAS); it registers a code version, so the version's write.
    ("POST", r"/codes/[^/]+/versions/[^/]+/startPendingUpload", f"{ML}/codes/versions/write"),
    ("PUT", r"/codes/[^/]+/versions/[^/]+", f"{ML}/codes/versions/write"),
    ("GET", r"/environments/[^/]+/versions(/[^/]+)?", f"{ML}/environments/versions/read"),
    ("PUT", r"/environments/[^/]+/versions/[^/]+", f"{ML}/environments/versions/write"),
    ("GET", r"/models/[^/]+/versions(/[^/]+)?", f"{ML}/models/versions/read"),
    ("GET", r"/onlineEndpoints/[^/]+", f"{ML}/onlineEndpoints/read"),
    ("PUT", r"/onlineEndpoints/[^/]+", f"{ML}/onlineEndpoints/write"),
    ("GET", DEPLOYMENT + r"(/[^/]+)?", f"{ML}/onlineEndpoints/deployments/read"),
    ("PUT", DEPLOYMENT + r"/[^/]+", f"{ML}/onlineEndpoints/deployments/write"),
    ("DELETE", DEPLOYMENT + r"/[^/]+", f"{ML}/onlineEndpoints/deployments/delete"),
]
SCORE = f"{ML}/onlineEndpoints/score/action"
# The workspace's MLflow API (its tracking URI as https): the gate reads a job's run there
# (Learn "Manage roles in your workspace", MLflow operations: get a run -> runs/read).
TRACKING = f"https://westeurope.api.azureml.ms/mlflow/v1.0{WORKSPACE}"
RUNS_READ = f"{ML}/experiments/runs/read"
# A job or a deployment names its compute, datastores, code, environment and model; the
# service checks them for the submitter ("Submitting any type of run (V2)": workspaces/*/read),
# so the role reads each of those types, container and version.
REFERENCED_READS = {
    f"{ML}/computes/read",
    f"{ML}/datastores/read",
    f"{ML}/codes/read",
    f"{ML}/environments/read",
    f"{ML}/models/read",
    f"{ML}/codes/versions/read",
    f"{ML}/environments/versions/read",
    f"{ML}/models/versions/read",
}


def action_of(request: Recorded) -> str | None:
    """The action a request needs from the role; None when no role can or need grant it."""
    if request.url.startswith(OPERATION):
        return None  # a subscription-level status URL: outside any workspace assignment
    if request.method == "POST" and request.url.startswith(SCORING):
        return SCORE  # aad_token scoring (Learn: "Authentication for managed online endpoints")
    if request.method == "GET" and request.url.startswith(f"{TRACKING}/api/2.0/mlflow/runs/get?"):
        return RUNS_READ
    prefix = ARM + WORKSPACE
    assert request.url.startswith(prefix), f"unclassified request {request.method} {request.url}"
    path = request.path.removeprefix(WORKSPACE)
    for method, pattern, action in ARM_ACTIONS:
        if method == request.method and re.fullmatch(pattern, path):
            return action
    raise AssertionError(f"no action known for {request.method} {path}: look it up and add it")


# --- the operations, each on a workspace answering what the real one would ---------------


def endpoint(traffic: dict[str, int], state: str = "Succeeded") -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/onlineEndpoints/{EP}",
        "name": EP,
        "location": "westeurope",
        "kind": "Managed",
        "properties": {
            "authMode": "AADToken",
            "scoringUri": SCORING,
            "provisioningState": state,
            "traffic": traffic,
        },
    }


def deployment(name: str, version: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/onlineEndpoints/{EP}/deployments/{name}",
        "name": name,
        "location": "westeurope",
        "kind": "Managed",
        "sku": {"name": "Default", "capacity": 1},
        "properties": {
            "endpointComputeType": "Managed",
            "model": f"{WORKSPACE}/models/spam-classifier/versions/{version}",
            "environmentId": f"{WORKSPACE}/environments/env/versions/1",
            "environmentVariables": {"MLOPS_SERVING_IMAGE": ""},
            "instanceType": "Standard_DS3_v2",
            "scaleSettings": {"scaleType": "Default"},
            "provisioningState": "Succeeded",
        },
    }


def accepted(request: Recorded) -> Canned:
    return Canned(201, echo(request).body, {"Azure-AsyncOperation": OPERATION})


def job(status: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/jobs/{JOB}",
        "name": JOB,
        "properties": {
            "jobType": "Command",
            "status": status,
            "command": "python train.py",
            "environmentId": f"{WORKSPACE}/environments/env/versions/1",
            "computeId": f"{WORKSPACE}/computes/cpu-cluster",
            "tags": {"model_name": "spam-classifier"},
        },
    }


def serving(ws: Workspace) -> None:
    """An endpoint serving blue, settled, and every long operation already Succeeded."""
    ws.add("GET", f"/onlineEndpoints/{EP}", Canned(200, endpoint({"blue": 100})), repeat=True)
    listing = Canned(200, {"value": [deployment("blue", "3")]})
    ws.add("GET", f"/onlineEndpoints/{EP}/deployments", listing, repeat=True)
    ws.workspace_location()
    ws.transport.add("GET", "^" + re.escape(OPERATION), Canned(200, {"status": "Succeeded"}))


def submit_reusing_code(ws: Workspace) -> None:
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", "not found"))
    ws.code_exists()
    ws.environments_echo()
    ws.add("PUT", f"/jobs/{JOB}", echo)
    champion = ModelRef("spam-classifier", "3")
    ws.platform.submit_job(TrainingJobRequest(JOB, "spam", PREFIX, "spam-classifier", champion))


def follow_job_to_its_model(ws: Workspace) -> None:
    ws.add("GET", f"/jobs/{JOB}", Canned(200, job("Completed")))
    versions = [model_version("spam-classifier", "4", jobName=JOB)]
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": versions}))
    ws.tracking()  # an ended job's run names the files it skipped
    ws.run(JOB, Canned(200, {"run": {"info": {"run_id": JOB}, "data": {}}}))
    assert ws.platform.get_job(JOB).model == ModelRef("spam-classifier", "4")


def read_models(ws: Workspace) -> None:
    version = model_version("spam-classifier", "4")
    ws.add("GET", "/models/spam-classifier/versions/4", Canned(200, version))
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": [version]}))
    ws.platform.get_model("spam-classifier", "4")
    ws.platform.list_models("spam-classifier")


def read_a_job_s_run(ws: Workspace) -> None:
    properties = {"mlFlowTrackingUri": TRACKING.replace("https://", "azureml://")}
    workspace = {"id": WORKSPACE, "name": "mlw", "location": "westeurope"}
    ws.add("GET", "", Canned(200, {**workspace, "properties": properties}))
    run = {"run": {"info": {"run_id": JOB}, "data": {"metrics": [], "tags": []}}}
    ws.transport.add(
        "GET", "^" + re.escape(f"{TRACKING}/api/2.0/mlflow/runs/get?"), Canned(200, run)
    )
    ws.platform.get_training_run(JOB)


def create_endpoint(ws: Workspace) -> None:
    ws.add("GET", f"/onlineEndpoints/{EP}", error(404, "UserError", "not found"))
    ws.workspace_location()
    ws.add("PUT", f"/onlineEndpoints/{EP}", accepted)
    ws.add("GET", f"/onlineEndpoints/{EP}", Canned(200, endpoint({})), repeat=True)
    ws.transport.add("GET", "^" + re.escape(OPERATION), Canned(200, {"status": "Succeeded"}))
    ws.platform.ensure_endpoint(EP)


def deploy_a_colour(ws: Workspace, image: str | None) -> None:
    serving(ws)
    ws.code_exists()
    ws.environments_echo()
    ws.add("PUT", f"/onlineEndpoints/{EP}/deployments/green", accepted)
    green = Canned(200, deployment("green", "4"))
    ws.add("GET", f"/onlineEndpoints/{EP}/deployments/green", green, repeat=True)
    spec = DeploymentSpec(EP, "green", ModelRef("spam-classifier", "4"), image)
    ws.platform.begin_deployment(spec)
    ws.platform.get_deployment(EP, "green")


def shift_traffic_and_retire(ws: Workspace) -> None:
    shifted = Canned(200, endpoint({"blue": 0, "green": 100}))  # what the delete then reads
    ws.add("GET", f"/onlineEndpoints/{EP}", shifted, repeat=True)
    serving(ws)
    ws.add("PUT", f"/onlineEndpoints/{EP}", accepted)
    ws.add(
        "DELETE",
        f"/onlineEndpoints/{EP}/deployments/blue",
        Canned(
            202,
            None,
            {
                "Azure-AsyncOperation": OPERATION,
            },
        ),
    )
    ws.platform.set_traffic(EP, {"blue": 0, "green": 100})
    ws.platform.begin_delete_deployment(EP, "blue")


def score(ws: Workspace) -> None:
    serving(ws)
    blue = Canned(200, deployment("blue", "3"))  # scored by name only once provisioned
    ws.add("GET", f"/onlineEndpoints/{EP}/deployments/blue", blue, repeat=True)
    ws.transport.add("POST", "^" + re.escape(SCORING), Canned(200, {"predictions": []}))
    ws.platform.invoke(EP, {"data": ["WIN a prize"]}, deployment="blue")


OPERATIONS: dict[str, Callable[[Workspace], None]] = {
    "submit_job (snapshot already registered)": submit_reusing_code,
    "get_job (completed, finds its model)": follow_job_to_its_model,
    "get_model, list_models": read_models,
    "get_training_run (the job's MLflow run)": read_a_job_s_run,
    "ensure_endpoint (creates it)": create_endpoint,
    "begin_deployment (image by digest)": lambda ws: deploy_a_colour(ws, DIGEST),
    "begin_deployment (conda environment)": lambda ws: deploy_a_colour(ws, None),
    "set_traffic, begin_delete_deployment": shift_traffic_and_retire,
    "invoke": score,
}


def submit_uploading_code(ws: Workspace, azurite: Azurite) -> None:  # noqa: F811
    """A first job: the code snapshot goes to the SAS startPendingUpload hands out (here an
    Azurite container: the SDK uploads with a client of its own, not the recording one)."""
    blobs = BlobServiceClient(azurite.blob_url, credential=azurite.credential)
    container = f"pending-{uuid.uuid4().hex[:12]}"
    blobs.create_container(container)
    permission = ContainerSasPermissions(read=True, write=True, create=True, list=True)
    expiry = datetime.now(UTC) + timedelta(hours=1)
    sas = generate_container_sas(
        ACCOUNT, container, ACCOUNT_KEY, permission=permission, expiry=expiry
    )
    container_url = f"{blobs.url.rstrip('/')}/{container}"
    pending = {
        "pendingUploadType": "TemporaryBlobReference",
        "blobReferenceForConsumption": {
            "blobUri": container_url,
            "credential": {"credentialType": "SAS", "sasUri": f"{container_url}?{sas}"},
        },
    }
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", "not found"))
    ws.add("GET", "/codes/[^/]+/versions", Canned(200, {"value": []}))
    ws.add("POST", "/codes/[^/]+/versions/1/startPendingUpload", Canned(200, pending))
    ws.add("PUT", "/codes/[^/]+/versions/1", echo)
    ws.environments_echo()
    ws.add("PUT", f"/jobs/{JOB}", echo)
    ws.platform.submit_job(TrainingJobRequest(JOB, "spam", PREFIX, "spam-classifier", None))


@pytest.fixture(scope="module")
def needed(azurite: Azurite) -> Iterator[dict[str, set[str]]]:  # noqa: F811
    """Each operation's actions, from the requests it sent."""
    found: dict[str, set[str]] = {}
    runs: dict[str, Callable[[Workspace], None]] = {
        **OPERATIONS,
        "submit_job (uploads a new snapshot)": lambda ws: submit_uploading_code(ws, azurite),
    }
    for name, operation in runs.items():
        ws = Workspace()
        operation(ws)
        sent = list(ws.transport.requests)  # a dropped poller may still add its status reads
        found[name] = {a for a in map(action_of, sent) if a is not None}
    yield found


def role_actions() -> set[str]:
    (role,) = resources("Microsoft.Authorization/roleDefinitions")
    (permission,) = role.properties["permissions"]
    return set(permission["actions"])


def test_the_role_holds_every_action_the_adapter_needs(needed: dict[str, set[str]]) -> None:
    held = role_actions()
    lacking = {name: sorted(actions - held) for name, actions in needed.items() if actions - held}
    assert not lacking, f"403 in Azure for: {lacking}"


def test_the_role_holds_nothing_the_adapter_and_learn_do_not_ask_for(
    needed: dict[str, set[str]],
) -> None:
    used = set().union(*needed.values()) | SUBMIT_RUN_V2 | REFERENCED_READS
    assert role_actions() - used == set()


def test_every_operation_of_the_port_was_driven(needed: dict[str, set[str]]) -> None:
    assert SCORE in needed["invoke"]
    assert RUNS_READ in needed["get_training_run (the job's MLflow run)"]
    assert f"{ML}/jobs/write" in needed["submit_job (uploads a new snapshot)"]
    assert f"{ML}/codes/versions/write" in needed["submit_job (uploads a new snapshot)"]
    assert (
        f"{ML}/onlineEndpoints/deployments/delete" in needed["set_traffic, begin_delete_deployment"]
    )


def test_status_urls_of_long_operations_need_no_workspace_action() -> None:
    poll = Recorded("GET", OPERATION + "?api-version=2022-02-01-preview", {}, None)
    assert action_of(poll) is None
    status = Recorded("GET", f"{ARM}{WORKSPACE}/onlineEndpoints/{EP}?api-version=1", {}, None)
    assert action_of(status) == f"{ML}/onlineEndpoints/read"
