"""The MLPlatform contract, run on every implementation: the local platform (real MLflow
registry and azmlinfsrv processes), the Azure adapter (a real MLClient whose requests a
stateful workspace stand-in answers through the recording transport) and the tests' fake.

The rollout and reconciler code relies on these promises: a missing job is ``NotFound``
(so it is parked, not retried forever), a deployment that still takes traffic cannot be
deleted, a new deployment is ``creating`` (a rollout waits for it), and a deployment that is
not ready cannot be scored (the smoke test fails instead of passing on nothing). The deploy
gate relies on ``get_training_run``: ``NotFound`` for a job that is missing or recorded no
run, and a run's metrics and gate as the job recorded them; the quarantine on an ended job
naming the files it skipped. Locally those jobs are real train.py processes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from shared.adapters.local.ml_platform import LocalMLPlatform
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.domain.values import DeploymentSpec, ModelRef, TrainingJobRequest
from shared.ops.demo import data as demodata
from shared.ports import MLPlatform, NotFound, TransientError
from tests.contract.ml_workspace import (
    RUNS_GET,
    TRACKING,
    WORKSPACE,
    Workspace,
    echo,
    model_version,
    no_run,
    run_answer,
)
from tests.contract.recording import Canned, Recorded, error
from tests.fakes.ml_platform import GOLDEN, GOOD_TAGS, FakeMLPlatform

sys.path.insert(0, str(REPO_ROOT / "training" / "src"))

import skipped_tag  # train.py's encoder, imported as the job does

EP = "contract-endpoint"
MODEL = "spam-classifier"
OPERATION = (
    "https://management.azure.com/providers/Microsoft.MachineLearningServices"
    "/locations/westeurope/mfeOperationsStatus/contract"
)


TRAINED, UNRUN = "train-contract-trained", "train-contract-unrun"
# Files training refuses: real ones for the local jobs, the reasons the others report.
BAD_FILES = {"latin-1.csv": "label,text\nham,caf\xe9\n".encode("latin-1")}
BAD_FILES["sub/no text.tsv"] = b"label\tbody\nham\thello\n"
SKIPPED = {"latin-1.csv": "not valid UTF-8", "sub/no text.tsv": "missing column(s) text"}


@dataclass(frozen=True)
class FinishedJob:
    """A job as it ended, and what it recorded: its run's gate and metrics, its skipped files."""

    name: str
    gate: str
    metrics: Mapping[str, float]
    skipped: Mapping[str, str]


@dataclass
class Harness:
    platform: MLPlatform
    model: ModelRef  # a version the platform can deploy
    sent: Callable[[str], list[str]]  # what reached the service, by method (none where local)
    trained: Callable[[], FinishedJob]  # a completed job that skipped files, with its run
    unrun: Callable[[], str]  # a job that failed before it recorded a run
    endpoint: str = EP  # the local platform keeps its endpoints: one name per test
    remote: bool = False  # requests go to a (recorded) service: ``sent`` lists them


class AzureWorkspace:
    """Online endpoints and jobs as ARM reports them: state kept here, changed by what the
    adapter PUTs and DELETEs. A new deployment is Creating, as ARM answers an accepted PUT."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.endpoint: dict[str, Any] | None = None
        self.deployments: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.versions: list[dict[str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}  # job name -> its MLflow run (GetRun)
        base = f"/onlineEndpoints/{EP}"
        ws.add("GET", "/jobs/[^/?]+", self.get_job, repeat=True)
        ws.add("GET", f"/models/{MODEL}/versions", self.list_versions, repeat=True)
        ws.transport.add("GET", RUNS_GET, self.get_run, repeat=True)
        ws.add("GET", base, self.get, repeat=True)
        ws.add("PUT", base, self.put, repeat=True)
        ws.add("GET", f"{base}/deployments", self.listing, repeat=True)
        ws.add("GET", f"{base}/deployments/[^/?]+", self.get_deployment, repeat=True)
        ws.add("PUT", f"{base}/deployments/[^/?]+", self.put_deployment, repeat=True)
        ws.add("DELETE", f"{base}/deployments/[^/?]+", self.delete_deployment, repeat=True)
        ws.transport.add("GET", "^" + re.escape(OPERATION), Canned(200, {"status": "Succeeded"}))
        ws.transport.add("POST", r"^https://contract-endpoint\.", Canned(200, {}), repeat=True)
        tracking = {"mlFlowTrackingUri": TRACKING.replace("https://", "azureml://")}
        where = {"id": WORKSPACE, "name": "mlw-mlops", "location": "westeurope"}
        ws.add("GET", "", Canned(200, {**where, "properties": tracking}), repeat=True)
        ws.code_exists()
        ws.environments_echo()

    def finish(self, job: str, status: str, run: dict[str, Any] | None) -> None:
        """A job that ended ``status``; ``run``: what its MLflow run holds (None: no run)."""
        properties = {"jobType": "Command", "status": status, "tags": {"model_name": MODEL}}
        environment = {"environmentId": f"{WORKSPACE}/environments/env/versions/1"}
        properties |= {"command": "python train.py", **environment}
        self.jobs[job] = {"id": f"{WORKSPACE}/jobs/{job}", "name": job, "properties": properties}
        if run is not None:
            self.runs[job] = run
            version = str(len(self.versions) + 2)
            self.versions.append(model_version(MODEL, version, jobName=job))

    def get_job(self, request: Recorded) -> Canned:
        found = self.jobs.get(request.path.rsplit("/", 1)[-1])
        return Canned(200, found) if found else error(404, "UserError", "job not found")

    def list_versions(self, request: Recorded) -> Canned:
        return Canned(200, {"value": self.versions})

    def get_run(self, request: Recorded) -> Canned:
        found = self.runs.get(request.query.get("run_id", ""))
        return Canned(200, found) if found else no_run()

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

    def trained() -> FinishedJob:
        model = platform.add_model(MODEL, "2", GOOD_TAGS, job=TRAINED)
        platform.finish_job(TRAINED, model, skipped=SKIPPED)
        recorded = {**GOOD_TAGS, **GOLDEN}
        metrics = {k: float(recorded[k]) for k in ("accuracy", "f1", "golden_accuracy")}
        return FinishedJob(TRAINED, "passed", metrics, SKIPPED)

    def unrun() -> str:
        platform.finish_job(UNRUN, None, failed=True)
        return UNRUN

    model = platform.add_model(MODEL, "1", GOOD_TAGS)
    return Harness(platform, model, lambda method: [], trained, unrun)


@pytest.fixture
def azure() -> Harness:
    ws = Workspace()
    stand_in = AzureWorkspace(ws)

    def sent(method: str) -> list[str]:
        return [r.path.removeprefix(WORKSPACE) for r in ws.transport.sent(method)]

    def trained() -> FinishedJob:
        metrics = {"accuracy": 0.9721, "f1": 0.9512, "golden_accuracy": 0.9583}
        tags = {"gate": "passed", "registered_version": "2", "job_name": TRAINED}
        tags["skipped_files"] = skipped_tag.encode(SKIPPED)
        run = run_answer(
            TRAINED,
            metrics=[{"key": k, "value": v, "timestamp": 1, "step": 0} for k, v in metrics.items()],
            tags=[{"key": k, "value": v} for k, v in tags.items()],
        )
        stand_in.finish(TRAINED, "Completed", run)
        return FinishedJob(TRAINED, "passed", metrics, SKIPPED)

    def unrun() -> str:
        stand_in.finish(UNRUN, "Failed", None)
        return UNRUN

    return Harness(ws.platform, ModelRef(MODEL, "1"), sent, trained, unrun, remote=True)


@pytest.fixture(scope="module")
def local_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract-home")


@pytest.fixture(scope="module")
def local_platform(local_home: Path) -> Iterator[LocalMLPlatform]:
    home = local_home
    platform = LocalMLPlatform(
        home=home,
        # https://local/training/<dataset>/ -> home/data/<dataset>
        resolve_data=lambda url: home / "data" / unquote(url.rstrip("/").rsplit("/", 1)[-1]),
        publish=lambda event: None,
        workspace_topic="/subscriptions/0/resourceGroups/rg/workspaces/contract",
        repo_root=REPO_ROOT,
        ready_timeout=0.5,  # a deployment not ready by then is "not ready"
    )
    yield platform
    platform.close()


def _local_job(platform: LocalMLPlatform, name: str, dataset: str) -> None:
    """Run train.py as the local platform runs a job, to its end."""
    request = TrainingJobRequest(name, dataset, f"https://local/training/{dataset}/", MODEL, None)
    platform.submit_job(request)
    platform.wait_for_job(name, timeout=600)


@pytest.fixture(scope="module")
def local_jobs(local_platform: LocalMLPlatform, local_home: Path) -> tuple[FinishedJob, str]:
    """Two real jobs, run once: one trains beside the files it skips, one finds no data.
    What they recorded is what train.py wrote in the job's output folder."""
    data = local_home / "data"
    demodata.write_tsv(data / "good" / "part-1.tsv", demodata.generate(400, seed=3))
    for name, raw in BAD_FILES.items():
        (data / "good" / name).parent.mkdir(parents=True, exist_ok=True)
        (data / "good" / name).write_bytes(raw)
    (data / "empty").mkdir(parents=True)
    _local_job(local_platform, TRAINED, "good")
    _local_job(local_platform, UNRUN, "empty")
    out = local_home / "ml" / "jobs" / TRAINED / "outputs"
    gate = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    skipped = json.loads((out / "validation.json").read_text(encoding="utf-8"))["skipped_files"]
    metrics = {name: gate["metrics"][name] for name in ("accuracy", "f1")}
    metrics["golden_accuracy"] = gate["golden_metrics"]["accuracy"]
    return FinishedJob(TRAINED, gate["gate"], metrics, skipped), UNRUN


@pytest.fixture
def local(
    local_platform: LocalMLPlatform, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Harness]:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")  # a server starts, then fails to load it
    version = local_platform.register_model_dir(MODEL, folder, dict(GOOD_TAGS))
    endpoint = f"ep-{tmp_path.name[-24:].strip('_-').lower()}"

    def jobs() -> tuple[FinishedJob, str]:
        found: tuple[FinishedJob, str] = request.getfixturevalue("local_jobs")
        return found

    harness = Harness(
        local_platform,
        version.ref,
        lambda method: [],
        lambda: jobs()[0],
        lambda: jobs()[1],
        endpoint,
    )
    yield harness
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
    if harness.remote:  # both DELETEs reached the service; the second one's 404 is no error
        assert harness.sent("DELETE") == [f"/onlineEndpoints/{EP}/deployments/blue"] * 2


def test_a_missing_job_has_no_training_run(harness: Harness) -> None:
    with pytest.raises(NotFound):
        harness.platform.get_training_run("train-no-such-job-0123456789abcdef")


def test_a_job_that_ended_before_recording_a_run_has_none(harness: Harness) -> None:
    name = harness.unrun()

    job = harness.platform.get_job(name)

    assert (job.status, job.model, job.skipped_files) == ("failed", None, {})
    with pytest.raises(NotFound):
        harness.platform.get_training_run(name)


def test_a_job_s_run_holds_its_gate_and_metrics_as_the_job_recorded_them(
    harness: Harness,
) -> None:
    recorded = harness.trained()

    run = harness.platform.get_training_run(recorded.name)

    assert run.job_name == recorded.name and run.run_id
    assert run.tags["gate"] == recorded.gate
    assert run.tags["registered_version"].isdigit()
    for name, value in recorded.metrics.items():
        assert run.metrics[name] == pytest.approx(value, abs=1e-9), name


def test_an_ended_job_names_the_files_it_skipped(harness: Harness) -> None:
    recorded = harness.trained()

    job = harness.platform.get_job(recorded.name)

    assert job.status == "completed" and job.model is not None
    assert set(recorded.skipped) == {"latin-1.csv", "sub/no text.tsv"}
    assert dict(job.skipped_files) == dict(recorded.skipped)
