"""The MLPlatform contract, run on every implementation: the local platform (real MLflow
registry and azmlinfsrv processes), the Azure adapter (a real MLClient whose requests a
stateful workspace stand-in answers through the recording transport) and the tests' fake.

The rollout and reconciler code relies on these promises: a missing job is ``NotFound``
(so it is parked, not retried forever), a deployment that still takes traffic cannot be
deleted, a new deployment is ``creating`` (a rollout waits for it), and a deployment that is
not ready cannot be scored (the smoke test fails instead of passing on nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local.ml_platform import LocalMLPlatform
from shared.bootstrap import REPO_ROOT, load_smoke_set
from shared.domain.models import DeploymentSpec, ModelRef
from shared.ports import MLPlatform, NotFound, TransientError
from tests.contract.ml_workspace import WORKSPACE, Workspace, echo
from tests.contract.recording import Canned, Recorded, error
from tests.fake_platform import GOOD_TAGS, FakeMLPlatform

EP = "contract-endpoint"
MODEL = "spam-classifier"
OPERATION = (
    "https://management.azure.com/providers/Microsoft.MachineLearningServices"
    "/locations/westeurope/mfeOperationsStatus/contract"
)


@dataclass
class Harness:
    platform: MLPlatform
    model: ModelRef  # a version the platform can deploy
    sent: Callable[[str], list[str]]  # what reached the service, by method (none where local)
    endpoint: str = EP  # the local platform keeps its endpoints: one name per test


class AzureWorkspace:
    """Online endpoints and jobs as ARM reports them: state kept here, changed by what the
    adapter PUTs and DELETEs. A new deployment is Creating, as ARM answers an accepted PUT."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.endpoint: dict[str, Any] | None = None
        self.deployments: dict[str, dict[str, Any]] = {}
        base = f"/onlineEndpoints/{EP}"
        ws.add("GET", "/jobs/[^/?]+", error(404, "UserError", "job not found"), repeat=True)
        ws.add("GET", base, self.get, repeat=True)
        ws.add("PUT", base, self.put, repeat=True)
        ws.add("GET", f"{base}/deployments", self.listing, repeat=True)
        ws.add("GET", f"{base}/deployments/[^/?]+", self.get_deployment, repeat=True)
        ws.add("PUT", f"{base}/deployments/[^/?]+", self.put_deployment, repeat=True)
        ws.add("DELETE", f"{base}/deployments/[^/?]+", self.delete_deployment, repeat=True)
        ws.transport.add("GET", "^" + re.escape(OPERATION), Canned(200, {"status": "Succeeded"}))
        ws.transport.add("POST", r"^https://contract-endpoint\.", Canned(200, {}), repeat=True)
        where = {"id": WORKSPACE, "name": "mlw-mlops", "location": "westeurope"}
        ws.add("GET", "", Canned(200, where), repeat=True)  # the SDK reads it per create
        ws.code_exists()
        ws.environments_echo()

    def get(self, request: Recorded) -> Canned:
        if self.endpoint is None:
            return error(404, "UserError", "endpoint not found")
        return Canned(200, self.endpoint)

    def put(self, request: Recorded) -> Canned:
        body = echo(request).body
        properties = body["properties"]
        properties["provisioningState"] = "Succeeded"  # settled at once: not under test here
        properties.setdefault("traffic", {})
        properties["scoringUri"] = f"https://{EP}.westeurope.inference.ml.azure.com/score"
        self.endpoint = body
        return Canned(201, body, {"Azure-AsyncOperation": OPERATION})

    def listing(self, request: Recorded) -> Canned:
        return Canned(200, {"value": list(self.deployments.values())})

    def get_deployment(self, request: Recorded) -> Canned:
        found = self.deployments.get(request.path.rsplit("/", 1)[-1])
        return Canned(200, found) if found else error(404, "UserError", "deployment not found")

    def put_deployment(self, request: Recorded) -> Canned:
        body = echo(request).body
        body["properties"]["provisioningState"] = "Creating"
        body["properties"].setdefault("scaleSettings", {"scaleType": "Default"})  # ARM's default
        self.deployments[body["name"]] = body
        return Canned(201, body, {"Azure-AsyncOperation": OPERATION})

    def delete_deployment(self, request: Recorded) -> Canned:
        name = request.path.rsplit("/", 1)[-1]
        if self.deployments.pop(name, None) is None:
            return error(404, "UserError", "deployment not found")
        return Canned(202, None, {"Azure-AsyncOperation": OPERATION})


@pytest.fixture
def fake() -> Harness:
    platform = FakeMLPlatform(load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv"))
    return Harness(platform, platform.add_model(MODEL, "1", GOOD_TAGS), lambda method: [])


@pytest.fixture
def azure() -> Harness:
    ws = Workspace()
    AzureWorkspace(ws)

    def sent(method: str) -> list[str]:
        return [r.path.removeprefix(WORKSPACE) for r in ws.transport.sent(method)]

    return Harness(ws.platform, ModelRef(MODEL, "1"), sent)


@pytest.fixture(scope="module")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMLPlatform]:
    home = tmp_path_factory.mktemp("contract-home")
    platform = LocalMLPlatform(
        home=home,
        resolve_data=lambda url: home / "data",
        publish=lambda event: None,
        workspace_topic="/subscriptions/0/resourceGroups/rg/workspaces/contract",
        repo_root=REPO_ROOT,
        ready_timeout=0.5,  # a deployment not ready by then is "not ready"
    )
    yield platform
    platform.close()


@pytest.fixture
def local(local_platform: LocalMLPlatform, tmp_path: Path) -> Iterator[Harness]:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")  # a server starts, then fails to load it
    version = local_platform.register_model_dir(MODEL, folder, dict(GOOD_TAGS))
    endpoint = f"ep-{tmp_path.name[-24:].strip('_-').lower()}"
    yield Harness(local_platform, version.ref, lambda method: [], endpoint)
    local_platform.ensure_endpoint(endpoint)
    local_platform.set_traffic(endpoint, {})
    for deployment in local_platform.get_endpoint(endpoint).deployments:
        local_platform.begin_delete_deployment(endpoint, deployment.name)


@pytest.fixture(
    params=[
        "fake",
        "azure",
        pytest.param("local", marks=pytest.mark.slow),
    ]
)
def harness(request: pytest.FixtureRequest) -> Harness:
    built: Harness = request.getfixturevalue(request.param)
    return built


def _deploy(harness: Harness, name: str = "blue") -> None:
    harness.platform.ensure_endpoint(harness.endpoint)
    harness.platform.begin_deployment(DeploymentSpec(harness.endpoint, name, harness.model))


def test_a_missing_job_is_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound):
        harness.platform.get_job("train-no-such-job-0123456789abcdef")


def test_a_missing_endpoint_and_deployment_are_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound):
        harness.platform.get_endpoint(harness.endpoint)
    harness.platform.ensure_endpoint(harness.endpoint)
    with pytest.raises(NotFound):
        harness.platform.get_deployment(harness.endpoint, "green")


def test_a_new_deployment_starts_creating_with_no_traffic(harness: Harness) -> None:
    _deploy(harness)

    assert harness.platform.get_deployment(harness.endpoint, "blue").state == "creating"
    assert harness.platform.get_endpoint(harness.endpoint).serving is None


def test_invoking_a_deployment_that_is_not_ready_fails(harness: Harness) -> None:
    _deploy(harness)

    with pytest.raises(TransientError):
        harness.platform.invoke(harness.endpoint, {"data": ["WIN a prize"]}, deployment="blue")
    assert harness.sent("POST") == []  # nothing was scored


def test_deleting_a_deployment_that_takes_traffic_is_refused(harness: Harness) -> None:
    _deploy(harness)
    harness.platform.set_traffic(harness.endpoint, {"blue": 100})

    with pytest.raises(ValueError, match="traffic"):
        harness.platform.begin_delete_deployment(harness.endpoint, "blue")

    assert harness.platform.get_deployment(harness.endpoint, "blue").name == "blue"
    assert harness.sent("DELETE") == []


def test_deleting_without_traffic_works_and_deleting_twice_is_not_an_error(
    harness: Harness,
) -> None:
    _deploy(harness)
    harness.platform.set_traffic(harness.endpoint, {})

    harness.platform.begin_delete_deployment(harness.endpoint, "blue")
    harness.platform.begin_delete_deployment(harness.endpoint, "blue")

    with pytest.raises(NotFound):
        harness.platform.get_deployment(harness.endpoint, "blue")
