"""Contract: managed online endpoints, deployments, traffic and scoring, on the wire."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.adapters.azure.ml_platform import AzureMLPlatform
from shared.domain.values import DeploymentSpec, ModelRef
from shared.ports import NotFound, TransientError
from tests.contract.ml_workspace import (
    ARM,
    ARM_SCOPE,
    IDENTITY,
    ML_SCOPE,
    WORKSPACE,
    Workspace,
    echo,
)
from tests.contract.recording import Canned, Recorded, error

EP = "spam-endpoint"
SCORING = f"https://{EP}.westeurope.inference.ml.azure.com/score"
OPERATION = (
    ARM
    + "/providers/Microsoft.MachineLearningServices/locations/westeurope/mfeOperationsStatus/op-1"
)
DIGEST = "contosomlops.azurecr.io/mlops/sklearn-serving@sha256:" + "ab" * 32


def endpoint_resource(traffic: dict[str, int], state: str = "Succeeded") -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/onlineEndpoints/{EP}",
        "name": EP,
        "location": "westeurope",
        "kind": "Managed",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
        "properties": {
            "authMode": "AADToken",
            "scoringUri": SCORING,
            "provisioningState": state,
            "traffic": traffic,
        },
    }


def deployment_resource(name: str, version: str, state: str, image: str = "") -> dict[str, Any]:
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
            "environmentVariables": {"MLOPS_SERVING_IMAGE": image},
            "instanceType": "Standard_DS3_v2",
            "scaleSettings": {"scaleType": "Default"},
            "provisioningState": state,
        },
    }


def accepted(request: Recorded) -> Canned:
    """ARM accepts a long operation: 201 plus where to poll it."""
    response = echo(request)
    return Canned(201, response.body, {"Azure-AsyncOperation": OPERATION})


@pytest.fixture
def ws() -> Workspace:
    return Workspace()


class Pollers:
    """The operation stays in progress until the test ends: a poller left behind would
    block on it. ``assert_none_left`` checks, right after the adapter returned, that no
    LROPoller thread runs and that nothing asked for the operation's status."""

    def __init__(self, ws: Workspace) -> None:
        self.ws, self.release = ws, threading.Event()
        self.before = self.running()

        def poll(request: Recorded) -> Canned:
            self.release.wait(5)
            return Canned(200, {"status": "Succeeded"})

        ws.transport.add("GET", "^" + OPERATION, poll, repeat=True)

    @staticmethod
    def running() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("LROPoller")}

    def assert_none_left(self) -> None:
        left = self.running() - self.before
        assert not left, f"pollers still running: {sorted(t.name for t in left)}"
        assert self.ws.transport.sent("GET", "^" + OPERATION) == []


@pytest.fixture
def pollers(ws: Workspace) -> Iterator[Pollers]:
    watch = Pollers(ws)
    yield watch
    watch.release.set()  # let a leaked poller (old code) finish


def _existing(ws: Workspace, traffic: dict[str, int], *deployments: dict[str, Any]) -> None:
    ws.add("GET", f"/onlineEndpoints/{EP}", Canned(200, endpoint_resource(traffic)), repeat=True)
    listing = Canned(200, {"value": list(deployments)})
    ws.add("GET", f"/onlineEndpoints/{EP}/deployments", listing, repeat=True)
    for deployment in deployments:  # read before scoring it by name
        path = f"/onlineEndpoints/{EP}/deployments/{deployment['name']}"
        ws.add("GET", path, Canned(200, deployment), repeat=True)


def test_get_endpoint_maps_traffic_and_deployments(ws: Workspace) -> None:
    _existing(
        ws,
        {"blue": 90, "green": 10},
        deployment_resource("green", "4", "Updating", DIGEST),
        deployment_resource("blue", "3", "Succeeded"),
    )

    endpoint = ws.platform.get_endpoint(EP)

    assert endpoint.traffic == {"blue": 90, "green": 10}
    assert endpoint.serving == "blue"
    blue, green = endpoint.deployments
    assert (blue.model, blue.image, blue.state) == (
        ModelRef("spam-classifier", "3"),
        None,
        "succeeded",
    )
    assert (green.model, green.image, green.state) == (
        ModelRef("spam-classifier", "4"),
        DIGEST,
        "creating",
    )
    request = ws.transport.sent("GET", f"/onlineEndpoints/{EP}\\?")[0]
    assert request.query["api-version"] == "2022-02-01-preview"


def test_a_missing_endpoint_is_not_found(ws: Workspace) -> None:
    ws.add("GET", f"/onlineEndpoints/{EP}", error(404, "UserError", "not found"))

    with pytest.raises(NotFound):
        ws.platform.get_endpoint(EP)


def test_ensure_endpoint_starts_an_aad_token_endpoint_with_the_user_identity(
    ws: Workspace, pollers: Pollers
) -> None:
    ws.add("GET", f"/onlineEndpoints/{EP}", error(404, "UserError", "not found"))
    ws.workspace_location()
    ws.add("PUT", f"/onlineEndpoints/{EP}", accepted)

    endpoint = ws.platform.ensure_endpoint(EP)

    pollers.assert_none_left()
    assert (endpoint.name, dict(endpoint.traffic), endpoint.deployments) == (EP, {}, ())
    body = ws.one("PUT", f"/onlineEndpoints/{EP}").json()
    assert body["properties"]["authMode"] == "AADToken"
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert body["location"] == "westeurope"
    assert body["tags"]["managed-by"] == "secure-mlops-azure"
    assert ws.credential.requested() == {ARM_SCOPE}


def test_ensure_endpoint_leaves_an_existing_endpoint_alone(ws: Workspace) -> None:
    _existing(ws, {"blue": 100}, deployment_resource("blue", "3", "Succeeded"))

    assert ws.platform.ensure_endpoint(EP).serving == "blue"

    assert not ws.transport.sent("PUT")


def test_begin_deployment_pins_model_and_image_digest_without_waiting(
    ws: Workspace, pollers: Pollers
) -> None:
    _existing(ws, {"blue": 100}, deployment_resource("blue", "3", "Succeeded"))
    ws.code_exists()
    ws.environments_echo()
    ws.workspace_location()
    ws.add("PUT", f"/onlineEndpoints/{EP}/deployments/green", accepted)

    ws.platform.begin_deployment(
        DeploymentSpec(EP, "green", ModelRef("spam-classifier", "4"), DIGEST)
    )

    pollers.assert_none_left()
    body = ws.one("PUT", f"/onlineEndpoints/{EP}/deployments/green").json()
    props = body["properties"]
    assert props["model"] == f"{WORKSPACE}/models/spam-classifier/versions/4"
    assert props["instanceType"] == "Standard_DS3_v2"
    assert props["environmentVariables"]["MLOPS_MODEL_VERSION"] == "4"
    assert props["environmentVariables"]["MLOPS_SERVING_IMAGE"] == DIGEST
    env = ws.one("PUT", "/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]+").json()
    assert env["properties"]["image"] == DIGEST
    assert "condaFile" not in env["properties"]
    # The serving image's own routes (training/serving/Dockerfile): required for an image of
    # our own, or Azure ML has no port to probe and score on.
    assert env["properties"]["inferenceConfig"] == {
        "livenessRoute": {"path": "/", "port": 5001},
        "readinessRoute": {"path": "/", "port": 5001},
        "scoringRoute": {"path": "/score", "port": 5001},
    }
    assert props["environmentId"].startswith(f"{WORKSPACE}/environments/CliV2AnonymousEnvironment/")


@pytest.mark.parametrize("state", ["Creating", "Updating"])
def test_a_busy_endpoint_defers_a_deployment_and_a_traffic_change(
    ws: Workspace, state: str
) -> None:
    busy = Canned(200, endpoint_resource({"blue": 100}, state))
    ws.add("GET", f"/onlineEndpoints/{EP}", busy, repeat=True)
    ws.add("GET", f"/onlineEndpoints/{EP}/deployments", Canned(200, {"value": []}), repeat=True)
    spec = DeploymentSpec(EP, "green", ModelRef("spam-classifier", "4"), None)
    with pytest.raises(TransientError, match=f"is {state}"):
        ws.platform.begin_deployment(spec)
    with pytest.raises(TransientError, match=f"is {state}"):
        ws.platform.set_traffic(EP, {"blue": 90, "green": 10})
    assert ws.transport.sent("PUT") == []  # nothing was asked of the busy endpoint


def test_a_conflicting_operation_is_transient(ws: Workspace) -> None:
    _existing(ws, {"blue": 100}, deployment_resource("blue", "3", "Succeeded"))
    ws.workspace_location()
    conflict = error(409, "Conflict", "There is an ongoing operation on the endpoint")
    ws.add("PUT", f"/onlineEndpoints/{EP}", conflict)
    with pytest.raises(TransientError, match="HTTP 409"):
        ws.platform.set_traffic(EP, {"blue": 100})


def test_get_deployment_maps_provisioning_states(ws: Workspace) -> None:
    for azure, domain in [("Creating", "creating"), ("Failed", "failed"), ("Deleting", "deleting")]:
        ws.add(
            "GET",
            f"/onlineEndpoints/{EP}/deployments/green",
            Canned(200, deployment_resource("green", "4", azure)),
        )

        assert ws.platform.get_deployment(EP, "green").state == domain


def test_set_traffic_puts_every_deployment_s_weight(ws: Workspace, pollers: Pollers) -> None:
    _existing(
        ws,
        {"blue": 100},
        deployment_resource("blue", "3", "Succeeded"),
        deployment_resource("green", "4", "Succeeded"),
    )
    ws.workspace_location()
    ws.add("PUT", f"/onlineEndpoints/{EP}", accepted)

    ws.platform.set_traffic(EP, {"blue": 90, "green": 10})

    pollers.assert_none_left()
    body = ws.one("PUT", f"/onlineEndpoints/{EP}").json()
    assert body["properties"]["traffic"] == {"blue": 90, "green": 10}
    assert body["properties"]["authMode"] == "AADToken"


def test_deleting_a_missing_deployment_is_not_an_error(ws: Workspace) -> None:
    _existing(ws, {"blue": 100})
    ws.add(
        "DELETE", f"/onlineEndpoints/{EP}/deployments/green", error(404, "UserError", "not found")
    )

    ws.platform.begin_delete_deployment(EP, "green")

    ws.one("DELETE", f"/onlineEndpoints/{EP}/deployments/green")  # asked, once; 404 is done
    assert len(ws.transport.sent("DELETE")) == 1


def test_delete_starts_and_returns(ws: Workspace, pollers: Pollers) -> None:
    _existing(ws, {"blue": 100})
    ws.add(
        "DELETE",
        f"/onlineEndpoints/{EP}/deployments/green",
        Canned(202, None, {"Azure-AsyncOperation": OPERATION}),
    )

    ws.platform.begin_delete_deployment(EP, "green")

    pollers.assert_none_left()
    ws.one("DELETE", f"/onlineEndpoints/{EP}/deployments/green")  # started, once
    assert len(ws.transport.sent("DELETE")) == 1  # and nothing else deleted


def test_invoke_scores_one_deployment_with_an_ml_token(ws: Workspace) -> None:
    _existing(ws, {"blue": 100}, deployment_resource("blue", "3", "Succeeded"))
    ws.transport.add("POST", "^" + SCORING, Canned(200, {"predictions": [{"label": "spam"}]}))

    result = ws.platform.invoke(EP, {"data": ["WIN a prize"]}, deployment="blue")

    assert result == {"predictions": [{"label": "spam"}]}
    post = ws.transport.one("POST", "^" + SCORING)
    assert post.json() == {"data": ["WIN a prize"]}
    assert post.headers["azureml-model-deployment"] == "blue"
    assert post.headers["Authorization"] == "Bearer fake-token"
    assert ("https://ml.azure.com/.default",) in ws.credential.scopes
    assert ws.credential.requested() == {ARM_SCOPE, ML_SCOPE}


def test_an_endpoint_wide_call_after_a_targeted_one_is_not_pinned(ws: Workspace) -> None:
    _existing(ws, {"blue": 100}, deployment_resource("blue", "3", "Succeeded"))
    ws.transport.add("POST", "^" + SCORING, Canned(200, {}), repeat=True)

    ws.platform.invoke(EP, {"data": []}, deployment="blue")
    ws.platform.invoke(EP, {"data": []})

    last = ws.transport.sent("POST")[-1]
    assert "azureml-model-deployment" not in last.headers


def test_a_client_error_from_the_scorer_is_a_value_error(ws: Workspace) -> None:
    _existing(ws, {"blue": 100})
    ws.transport.add("POST", "^" + SCORING, Canned(400, {"message": "data must be a list"}))

    with pytest.raises(ValueError, match="data must be a list"):
        ws.platform.invoke(EP, {"data": "x"})


def test_a_server_error_from_the_scorer_is_transient(ws: Workspace) -> None:
    _existing(ws, {"blue": 100})
    ws.transport.add("POST", "^" + SCORING, Canned(502, "upstream failed"), repeat=True)

    with pytest.raises(TransientError, match="502"):
        ws.platform.invoke(EP, {"data": []})


def test_an_sdk_that_moved_the_operations_fails_loudly() -> None:
    ws = Workspace()
    del ws.ml_client.online_deployments._online_deployment
    with pytest.raises(RuntimeError, match=r"online_deployments\._online_deployment"):
        AzureMLPlatform(ws.ml_client, ws.config, credential=ws.credential)


def test_building_the_platform_quiets_the_ml_sdk_loggers() -> None:
    logging.getLogger("azure.ai.ml").setLevel(logging.INFO)  # as importing azure.ai.ml does
    Workspace()
    assert logging.getLogger("azure.ai.ml").getEffectiveLevel() == logging.WARNING
