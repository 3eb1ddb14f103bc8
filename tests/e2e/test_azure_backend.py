"""The Azure backend end to end, through the registered functions: data arrives, one job is
submitted, the registered model passes its gate and its rollout starts.

Blob and Table storage are Azurite; Azure ML (ARM), Key Vault and Logs Ingestion are the
recording transport. Every adapter is built by ``shared.adapters.azure.backend.build``, as in Azure.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.functions.timer import TimerRequest
from azure.storage.blob import ContainerClient, ContentSettings

from shared import bootstrap
from shared.adapters.azure import backend as azure_backend
from shared.adapters.local import system_events as topics
from shared.devhost import delivery
from shared.devhost.functions_registry import user_function
from shared.domain.audit import from_table_row
from shared.domain.audit_verify import verify_chain
from shared.settings import Settings
from tests.azurite import Azurite
from tests.conftest import GOOD_CSV, STORAGE_TOPIC, model_registered
from tests.contract.ml_workspace import (
    ARM,
    IDENTITY,
    RG,
    SUB,
    WORKSPACE,
    WS,
    arm,
    code_version,
    echo,
    model_version,
)
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport, error
from tests.contract.test_keyvault import CHALLENGE
from tests.fakes import TEST_CHAIN_KEY

DCR = "dcr-00112233445566778899aabbccddeeff"
INGEST = "https://dce-mlops.westeurope-1.ingest.monitor.azure.com"
EP = "spam-endpoint"
OPERATION = ARM + "/providers/Microsoft.MachineLearningServices/locations/westeurope/op"
VAULT = "https://kv-mlops.vault.azure.net"
GATE = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "0.99", "f1": "0.97"}


def job_run(job_name: str) -> dict[str, Any]:
    """MLflow's GetRun answer for the job's run, as train.py logged it."""
    metrics = {"accuracy": 0.99, "f1": 0.97, "golden_accuracy": 0.98, "golden_f1": 0.98}
    tags = {"gate": "passed", "gate_reason": "beats champion", "registered_version": "1"}
    data = {
        "metrics": [{"key": k, "value": v, "timestamp": 0, "step": 0} for k, v in metrics.items()],
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    return {"run": {"info": {"run_id": job_name, "status": "FINISHED"}, "data": data}}


def chain_key(request: Recorded) -> Canned:
    """Key Vault: the bearer challenge first (once per process), then the audit chain key."""
    if "Authorization" not in request.headers:
        return CHALLENGE
    secret = f"{VAULT}/secrets/audit-chain-key/0123456789abcdef"
    return Canned(200, {"value": TEST_CHAIN_KEY.secret.hex(), "id": secret})


class World:
    def __init__(self, azurite: Azurite, container: str) -> None:
        self.transport = RecordingTransport()
        self.transport.forward(r"^http://127\.0\.0\.1:", lambda url: url)  # Azurite
        self.transport.add("POST", f"^{INGEST}/dataCollectionRules/", Canned(204), repeat=True)
        self.transport.add("GET", f"^{VAULT}/secrets/audit-chain-key/", chain_key, repeat=True)
        self.credential = FakeCredential()
        self.settings = Settings(
            backend="azure",
            azure_client_id="7c0d7a2e-0000-4000-8000-00000000c1d0",
            subscription_id=SUB,
            resource_group=RG,
            workspace_name=WS,
            storage_account_url=azurite.blob_url,
            training_container=container,
            table_service_url=azurite.table_url,
            state_table=f"t{uuid.uuid4().hex[:20]}",
            key_vault_url=VAULT,
            audit_ingestion_endpoint=INGEST,
            audit_dcr_id=DCR,
            endpoint_identity_id=IDENTITY,
            allowed_registries=("crmlopsprod.azurecr.io",),
            coalesce_quiet_seconds=0,
        )
        self.backend = azure_backend.build(
            self.settings,
            credential=self.credential,
            storage_credential=azurite.credential,
            client_options={"transport": self.transport},
        )

    def arm(self, method: str, path: str, *responses: Any, repeat: bool = False) -> None:
        self.transport.add(method, arm(path), *responses, repeat=repeat)

    def audit_rows(self) -> list[dict[str, Any]]:
        return [
            row
            for sent in self.transport.sent("POST", "/dataCollectionRules/")
            if sent.body
            for row in json.loads(gzip.decompress(sent.body))
        ]

    def actions(self) -> list[tuple[str, str]]:
        return [(row["Action"], row["Outcome"]) for row in self.audit_rows()]


@pytest.fixture
def world(azurite: Azurite) -> Iterator[World]:
    container = f"td{uuid.uuid4().hex[:20]}"
    ContainerClient(azurite.blob_url, container, azurite.credential).create_container()
    built = World(azurite, container)
    bootstrap.install(built.backend.deps)
    yield built
    bootstrap.install(None)


class Endpoint:
    """The managed online endpoint as ARM reports it: absent until PUT, then what was PUT."""

    def __init__(self) -> None:
        self.resource: dict[str, Any] | None = None
        self.deployments: dict[str, dict[str, Any]] = {}

    def route(self, world: World) -> None:
        base = f"/onlineEndpoints/{EP}"
        world.arm("GET", base, self.get, repeat=True)
        world.arm("PUT", base, self.put, repeat=True)
        world.arm("GET", f"{base}/deployments", self.listing, repeat=True)
        world.arm("GET", f"{base}/deployments/[a-z]+", self.get_deployment, repeat=True)
        world.arm("PUT", f"{base}/deployments/[a-z]+", self.put_deployment, repeat=True)
        world.transport.add(
            "GET", "^" + OPERATION, Canned(200, {"status": "Succeeded"}), repeat=True
        )

    def get(self, request: Recorded) -> Canned:
        if self.resource is None:
            return error(404, "UserError", "endpoint not found")
        return Canned(200, self.resource)

    def put(self, request: Recorded) -> Canned:
        body = echo(request).body
        body["properties"].update(
            provisioningState="Succeeded",
            traffic={},
            scoringUri=f"https://{EP}.westeurope.inference.ml.azure.com/score",
        )
        self.resource = body
        return Canned(201, body, {"Azure-AsyncOperation": OPERATION})

    def listing(self, request: Recorded) -> Canned:
        return Canned(200, {"value": list(self.deployments.values())})

    def get_deployment(self, request: Recorded) -> Canned:
        found = self.deployments.get(request.path.rsplit("/", 1)[-1])
        return Canned(200, found) if found else error(404, "UserError", "no deployment")

    def put_deployment(self, request: Recorded) -> Canned:
        body = echo(request).body
        body["properties"]["provisioningState"] = "Creating"
        self.deployments[body["name"]] = body
        return Canned(201, body, {"Azure-AsyncOperation": OPERATION})


class Jobs:
    """Azure ML jobs as ARM reports them: absent until PUT, then in ``status``."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, Any]] = {}
        self.status = "Running"

    def route(self, world: World) -> None:
        world.arm("GET", "/jobs/train-[^/?]+", self.get, repeat=True)
        world.arm("PUT", "/jobs/train-[^/?]+", self.put, repeat=True)

    def get(self, request: Recorded) -> Canned:
        found = self.created.get(request.path.rsplit("/", 1)[-1])
        if found is None:
            return error(404, "UserError", "no such job")
        found["properties"]["status"] = self.status
        return Canned(200, found)

    def put(self, request: Recorded) -> Canned:
        body = echo(request).body
        body["properties"]["status"] = "NotStarted"
        self.created[body["name"]] = body
        return Canned(201, body)


def test_data_to_job_to_model_to_rollout_on_the_azure_backend(
    world: World, azurite: Azurite
) -> None:
    # 1. A training file lands in the container; Event Grid delivers BlobCreated.
    url = f"{world.settings.storage_account_url}/{world.settings.training_container}/spam/a.csv"
    blob = ContainerClient(
        world.settings.storage_account_url,
        world.settings.training_container,
        azurite.credential,
    )
    blob.upload_blob("spam/a.csv", GOOD_CSV, content_settings=ContentSettings("text/csv"))
    props = world.backend.deps.blobs.properties(url)
    delivery.invoke("on_blob_created", topics.blob_created(STORAGE_TOPIC, props))
    assert world.actions() == [("data.received", "accepted")]

    # 2. The window is quiet: the reconciler submits one training job to Azure ML.
    Endpoint().route(world)
    tracking = f"azureml://westeurope.api.azureml.ms/mlflow/v1.0{WORKSPACE}"
    workspace: dict[str, Any] = {"id": WORKSPACE, "name": WS, "location": "westeurope"}
    workspace["properties"] = {"mlFlowTrackingUri": tracking}
    world.arm("GET", "", Canned(200, workspace), repeat=True)
    jobs = Jobs()
    jobs.route(world)
    # The training code snapshot is already registered (same hash): no upload.
    world.arm(
        "GET", "/codes/[^/]+/versions", Canned(200, {"value": [code_version("1")]}), repeat=True
    )
    world.arm("GET", "/codes/src-code/versions/1", Canned(200, code_version("1")), repeat=True)
    world.arm(
        "PUT", "/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]+", echo, repeat=True
    )
    user_function("reconcile_rollouts", "timerTrigger")(TimerRequest())
    (submitted,) = world.transport.sent("PUT", "/jobs/train-")
    assert ("training.submitted", "accepted") in world.actions()
    job_name = submitted.path.rsplit("/", 1)[-1]

    # 3. The job completes and registers version 1 from its run; Azure ML sends
    # ModelRegistered. The job's MLflow run (its id is the job's name) holds the evidence.
    jobs.status = "Completed"
    files = f"azureml://jobs/{job_name}/outputs/artifacts/paths/model/"
    registered = model_version("spam-classifier", "1", jobName=job_name, tags=GATE, modelUri=files)
    world.transport.add(
        "GET",
        r"^https://westeurope\.api\.azureml\.ms/mlflow/v1\.0/.*/api/2\.0/mlflow/runs/get\?",
        Canned(200, job_run(job_name)),
        repeat=True,
    )
    world.arm(
        "GET", "/models/spam-classifier/versions", Canned(200, {"value": [registered]}), repeat=True
    )
    world.arm("GET", "/models/spam-classifier/versions/1", Canned(200, registered), repeat=True)
    user_function("reconcile_rollouts", "timerTrigger")(TimerRequest())
    assert ("training.completed", "succeeded") in world.actions()

    # 4. The gate passes and the rollout starts: endpoint created, blue deployment begun.
    delivery.invoke("on_model_registered", model_registered("spam-classifier", "1", GATE))
    actions = world.actions()
    assert ("model.registered", "accepted") in actions
    assert ("rollout.deploying", "accepted") in actions
    body = world.transport.one("PUT", f"/onlineEndpoints/{EP}/deployments/blue").json()
    assert body["properties"]["model"].endswith("/models/spam-classifier/versions/1")

    # The trail in Log Analytics is one verified chain, each record with its correlation id.
    rows = sorted({row["Seq"]: row for row in world.audit_rows()}.values(), key=lambda r: r["Seq"])
    assert verify_chain((from_table_row(row) for row in rows), key=TEST_CHAIN_KEY).valid
    assert all(row["CorrelationId"] for row in rows)
    assert world.credential.requested() >= {
        "https://monitor.azure.com/.default",
        "https://management.azure.com/.default",
    }
