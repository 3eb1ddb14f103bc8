"""The local ML platform with real processes: train.py jobs, the MLflow registry on SQLite
and azmlinfsrv deployments. One platform (and one trained model per version) per module."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local.event_grid import load_routing
from shared.adapters.local.ml_platform import LocalMLPlatform
from shared.domain.events import MODEL_REGISTERED, parse_event
from shared.domain.job_events import RUN_COMPLETED, RUN_STATUS_CHANGED, TrainingRunEvent
from shared.domain.values import DeploymentSpec, JobInfo, ModelRef, TrainingJobRequest
from shared.ops.demo import data as demodata
from shared.ports import MLPlatform, NotFound

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mlops"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlw-mlops"
)
MODEL = "spam-classifier"
ENDPOINT = "spam-endpoint"
GOOD_URL = "http://127.0.0.1:10000/devstoreaccount1/training-data/sms"
ONE_CLASS_URL = "http://127.0.0.1:10000/devstoreaccount1/training-data/hams"
TEXTS = ["WINNER!! Claim your FREE prize now, txt WIN to 80082", "see you at the station at 7"]


@dataclass
class Env:
    home: Path
    datasets: dict[str, Path]
    events: list[Mapping[str, Any]] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)  # every server process seen, with children

    def platform(self) -> LocalMLPlatform:
        """A platform on ``home``: a second one stands for a later CLI process."""
        return LocalMLPlatform(
            home=self.home,
            resolve_data=self.resolve,
            publish=self.events.append,
            workspace_topic=TOPIC,
            repo_root=REPO_ROOT,
        )

    def resolve(self, url: str) -> Path:
        if url not in self.datasets:
            raise NotFound(url)
        return self.datasets[url]

    def remember(self, platform: LocalMLPlatform, name: str) -> int:
        pid = platform.deployment_stats(ENDPOINT, name)["pid"]
        self.pids |= {pid, *_children(pid)}
        return pid


@dataclass
class Trained:
    platform: LocalMLPlatform
    v1: JobInfo
    resubmitted: JobInfo
    one_class: JobInfo
    events_after_v1: list[Mapping[str, Any]]
    submit_seconds: float


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("mlplatform")
    rows = demodata.generate(600, seed=7)
    hams = [row for row in rows if row[0] == "ham"]
    demodata.write_tsv(root / "data" / "sms" / "part-1.tsv", rows)
    demodata.write_tsv(root / "data" / "hams" / "part-1.tsv", hams)
    datasets = {GOOD_URL: root / "data" / "sms", ONE_CLASS_URL: root / "data" / "hams"}
    return Env(home=root / "home", datasets=datasets)


@pytest.fixture(scope="module")
def trained(env: Env) -> Iterator[Trained]:
    """Version 1 and a job on one-class data, trained side by side."""
    platform = env.platform()
    port: MLPlatform = platform  # mypy checks that it implements the port
    assert port is platform
    started = time.monotonic()
    first = platform.submit_job(_request("job-v1", GOOD_URL))
    submit_seconds = time.monotonic() - started
    resubmitted = platform.submit_job(_request("job-v1", GOOD_URL))
    platform.submit_job(_request("job-one-class", ONE_CLASS_URL))
    assert first == JobInfo("job-v1", "running")
    v1 = platform.wait_for_job("job-v1", timeout=180)
    one_class = platform.wait_for_job("job-one-class", timeout=60)
    yield Trained(platform, v1, resubmitted, one_class, list(env.events), submit_seconds)
    platform.close()
    platform.close()  # safe twice
    assert not [pid for pid in env.pids if _alive(pid)], "azmlinfsrv processes outlived close()"


@pytest.fixture(scope="module")
def v2(trained: Trained) -> JobInfo:
    champion = ModelRef(MODEL, "1")
    trained.platform.submit_job(_request("job-v2", GOOD_URL, champion=champion))
    return trained.platform.wait_for_job("job-v2", timeout=180)


def test_a_job_registers_a_gated_version(trained: Trained) -> None:
    assert trained.v1 == JobInfo("job-v1", "completed", ModelRef(MODEL, "1"))
    model = trained.platform.get_model(MODEL, "1")
    assert model.tags["gate"] in ("passed", "failed")
    assert model.tags["gate_reason"]
    assert float(model.tags["accuracy"]) > 0.8
    assert model.tags["job_name"] == "job-v1"
    assert model.tags["dataset"] == "sms"
    assert (trained.platform.model_path(model.ref) / "MLmodel").is_file()
    assert Path(model.properties["path"]) == trained.platform.model_path(model.ref)
    with pytest.raises(NotFound):
        trained.platform.get_model(MODEL, "99")
    print(f"submit_job with a fresh MLflow database: {trained.submit_seconds:.1f}s")


def test_the_registration_is_announced_once_in_the_event_grid_schema(trained: Trained) -> None:
    (event,) = [e for e in trained.events_after_v1 if e["eventType"] == MODEL_REGISTERED]
    assert event["topic"] == TOPIC
    assert event["subject"] == f"models/{MODEL}:1"
    assert event["eventType"] == MODEL_REGISTERED
    assert event["eventTime"].endswith("Z")
    assert uuid.UUID(event["id"]).version == 4
    assert (event["dataVersion"], event["metadataVersion"]) == ("2", "1")
    data = event["data"]
    assert (data["modelName"], data["modelVersion"]) == (MODEL, "1")
    assert data["modelTags"]["gate"] == trained.platform.get_model(MODEL, "1").tags["gate"]
    assert "path" in data["modelProperties"]


def test_resubmitting_a_job_returns_it_without_a_second_process(trained: Trained, env: Env) -> None:
    assert trained.resubmitted == JobInfo("job-v1", "running")
    again = trained.platform.submit_job(_request("job-v1", GOOD_URL))
    assert again == trained.v1
    log = (env.home / "ml" / "jobs" / "job-v1" / "std_log.txt").read_text()
    assert log.count("registered spam-classifier version") == 1
    assert [m.version for m in trained.platform.list_models(MODEL)][:1] == ["1"]


def test_a_job_on_one_class_data_fails_clearly_and_announces_nothing(trained: Trained) -> None:
    assert trained.one_class.status == "failed"
    assert trained.one_class.model is None
    assert "invalid training data" in trained.one_class.error
    assert "label" in trained.one_class.error.lower() or "class" in trained.one_class.error
    announced = [
        event["data"]["modelTags"].get("job_name")
        for event in trained.events_after_v1
        if event["eventType"] == MODEL_REGISTERED
    ]
    assert announced == ["job-v1"]


def test_every_job_announces_its_end_as_the_workspace_does(trained: Trained) -> None:
    """RunCompleted for the job that registered v1, RunStatusChanged to Failed for the one
    whose data was refused, each once, in the app's experiment, routed to on_job_finished."""
    ended = {}
    for raw in trained.events_after_v1:
        if raw["eventType"] == MODEL_REGISTERED:
            continue
        event = parse_event(raw)
        assert isinstance(event, TrainingRunEvent)
        assert event.run_id not in ended, "announced once"
        ended[event.run_id] = (event.meta.type, event.status, event.experiment_name)
        assert event.meta.subject == f"experiments/{event.experiment_id}/runs/{event.run_id}"
        assert [sub.function for sub in load_routing() if sub.matches(raw)] == ["on_job_finished"]
    assert ended == {
        "job-v1": (RUN_COMPLETED, "Completed", MODEL),
        "job-one-class": (RUN_STATUS_CHANGED, "Failed", MODEL),
    }


def test_a_challenger_job_is_registered_as_the_next_version(
    trained: Trained, v2: JobInfo, env: Env
) -> None:
    assert v2 == JobInfo("job-v2", "completed", ModelRef(MODEL, "2"))
    gate = json.loads((env.home / "ml" / "jobs" / "job-v2" / "outputs" / "gate.json").read_text())
    assert gate["champion_metrics"], "the champion was not evaluated"
    assert [m.version for m in trained.platform.list_models(MODEL)] == ["1", "2"]
    assert trained.platform.list_models("no-such-model") == []
    assert trained.platform.get_model(MODEL, "2").tags["job_name"] == "job-v2"


@pytest.fixture(scope="module")
def blue(trained: Trained, env: Env) -> float:
    """Version 1 deployed as blue with all the traffic; returns its start-to-ready seconds."""
    platform = trained.platform
    assert platform.ensure_endpoint(ENDPOINT).traffic == {}
    started = time.monotonic()
    platform.begin_deployment(DeploymentSpec(ENDPOINT, "blue", ModelRef(MODEL, "1")))
    assert platform.get_deployment(ENDPOINT, "blue").state == "creating"
    ready = platform.wait_for_deployment(ENDPOINT, "blue", timeout=90)
    seconds = time.monotonic() - started
    assert (ready.state, ready.error) == ("succeeded", "")
    env.remember(platform, "blue")
    platform.set_traffic(ENDPOINT, {"blue": 100})
    return seconds


def test_blue_serves_version_1_through_the_endpoint(trained: Trained, blue: float) -> None:
    print(f"azmlinfsrv start to ready: {blue:.1f}s")
    platform = trained.platform
    assert platform.get_endpoint(ENDPOINT).serving == "blue"
    before = platform.deployment_stats(ENDPOINT, "blue")["requests"]

    answer = platform.invoke(ENDPOINT, {"data": TEXTS})
    assert [p["label"] for p in answer["predictions"]] == ["spam", "ham"]
    assert answer["model"]["version"] == "1"
    assert answer["model"]["deployment"] == "blue"
    direct = platform.invoke(ENDPOINT, {"data": TEXTS[:1]}, deployment="blue")
    assert 0.5 < direct["predictions"][0]["probability"] <= 1.0
    assert platform.deployment_stats(ENDPOINT, "blue")["requests"] == before + 2


@pytest.mark.usefixtures("blue")
def test_local_model_servers_listen_on_loopback_only(env: Env) -> None:
    log = (env.home / "ml" / "deployments" / ENDPOINT / "blue.log").read_text()
    assert "Listening at: http://127.0.0.1:" in log
    assert "0.0.0.0" not in log


@pytest.mark.usefixtures("blue")
def test_a_bad_payload_is_a_value_error(trained: Trained) -> None:
    before = trained.platform.deployment_stats(ENDPOINT, "blue")
    with pytest.raises(ValueError, match='"data" must be a list'):
        trained.platform.invoke(ENDPOINT, {"data": "not a list"}, deployment="blue")
    after = trained.platform.deployment_stats(ENDPOINT, "blue")
    assert after["client_errors"] == before["client_errors"] + 1
    assert after["errors"] == before["errors"]


@pytest.mark.usefixtures("blue")
def test_threads_share_the_platform(trained: Trained) -> None:
    """The local Functions host calls the platform from several threads at once."""
    platform = trained.platform
    before = platform.deployment_stats(ENDPOINT, "blue")["requests"]

    def score(_: int) -> str:
        platform.get_deployment(ENDPOINT, "blue")
        return str(platform.invoke(ENDPOINT, {"data": TEXTS})["predictions"][0]["label"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        labels = list(pool.map(score, range(30)))
    assert labels == ["spam"] * 30
    assert platform.deployment_stats(ENDPOINT, "blue")["requests"] == before + 30


@pytest.mark.usefixtures("blue")
@pytest.mark.parametrize(
    "traffic",
    [{"blue": 90}, {"blue": 50, "green": 50}, {"blue": 101}, {"blue": -1}, {"blue": True}],
)
def test_bad_traffic_is_refused(trained: Trained, traffic: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        trained.platform.set_traffic(ENDPOINT, traffic)
    assert trained.platform.get_endpoint(ENDPOINT).traffic == {"blue": 100}


@pytest.mark.usefixtures("blue")
def test_green_takes_a_canary_share_then_is_deleted(
    trained: Trained, v2: JobInfo, env: Env
) -> None:
    platform = trained.platform
    assert v2.model is not None
    platform.begin_deployment(DeploymentSpec(ENDPOINT, "green", v2.model, "reg.io/x@sha256:ab"))
    assert platform.get_endpoint(ENDPOINT).traffic == {"blue": 100, "green": 0}
    assert platform.wait_for_deployment(ENDPOINT, "green", timeout=90).state == "succeeded"
    green_pid = env.remember(platform, "green")
    platform.set_traffic(ENDPOINT, {"blue": 90, "green": 10})

    served = Counter(
        platform.invoke(ENDPOINT, {"data": TEXTS})["model"]["deployment"] for _ in range(100)
    )
    assert served["blue"] >= 70, served
    assert 1 <= served["green"] <= 30, served
    assert platform.deployment_stats(ENDPOINT, "green")["requests"] == served["green"]
    green = platform.invoke(ENDPOINT, {"data": TEXTS}, deployment="green")["model"]
    assert (green["version"], green["image"]) == ("2", "reg.io/x@sha256:ab")

    with pytest.raises(ValueError, match="traffic"):
        platform.begin_delete_deployment(ENDPOINT, "green")
    platform.set_traffic(ENDPOINT, {"blue": 100})
    platform.begin_delete_deployment(ENDPOINT, "green")
    platform.begin_delete_deployment(ENDPOINT, "green")  # idempotent
    assert not _alive(green_pid)
    with pytest.raises(NotFound):
        platform.get_deployment(ENDPOINT, "green")
    with pytest.raises(NotFound):
        platform.invoke(ENDPOINT, {"data": TEXTS}, deployment="green")
    assert platform.get_endpoint(ENDPOINT).traffic == {"blue": 100}


@pytest.mark.usefixtures("blue")
def test_a_deployment_of_a_broken_model_fails_with_its_log(
    trained: Trained, tmp_path: Path, env: Env
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text("flavors: {}\n")
    model = trained.platform.register_model_dir("broken-model", broken, {"gate": "failed"})
    assert env.events[-1]["subject"] == "models/broken-model:1"
    trained.platform.begin_deployment(DeploymentSpec(ENDPOINT, "broken", model.ref))
    env.remember(trained.platform, "broken")
    failed = trained.platform.wait_for_deployment(ENDPOINT, "broken", timeout=90)
    assert failed.state == "failed"
    assert "exited" in failed.error and len(failed.error) < 2000
    trained.platform.begin_delete_deployment(ENDPOINT, "broken")


def test_a_job_trains_on_the_files_it_is_given_not_the_whole_folder(
    trained: Trained, env: Env
) -> None:
    folder = env.home.parent / "data" / "mixed"
    demodata.write_tsv(folder / "batch-1" / "part-1.tsv", demodata.generate(300, seed=3))
    (folder / "notes.csv").write_text("name,phone\nann,0123\n")  # rejected at upload time
    mixed = "http://127.0.0.1:10000/devstoreaccount1/training-data/mixed"
    env.datasets[mixed] = folder
    env.datasets[f"{mixed}/batch-1/part-1.tsv"] = folder / "batch-1" / "part-1.tsv"
    request = TrainingJobRequest(
        "job-mixed", "mixed", mixed, MODEL, None, files=(f"{mixed}/batch-1/part-1.tsv",)
    )
    trained.platform.submit_job(request)
    job = trained.platform.wait_for_job("job-mixed", timeout=180)
    assert job.status == "completed", job.error
    inputs = env.home / "ml" / "jobs" / "job-mixed" / "inputs"
    assert sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob("*.tsv")) == [
        "batch-1/part-1.tsv"
    ]
    assert not (inputs / "notes.csv").exists()


@pytest.mark.usefixtures("blue")
def test_a_later_process_restarts_a_stopped_deployment_on_first_use(
    trained: Trained, env: Env
) -> None:
    trained.platform.close()
    assert not [pid for pid in env.pids if _alive(pid)]
    later = env.platform()
    try:
        answer = later.invoke(ENDPOINT, {"data": TEXTS})
        assert answer["model"]["deployment"] == "blue"
        env.remember(later, "blue")
        assert later.get_deployment(ENDPOINT, "blue").state == "succeeded"
        later.submit_job(_request("job-cut-short", GOOD_URL))
    finally:
        later.close()
    assert not [pid for pid in env.pids if _alive(pid)]
    observer = env.platform()
    cut_short = observer.get_job("job-cut-short")
    observer.close()
    assert (cut_short.status, cut_short.error) == ("canceled", "the local platform was closed")


def _request(name: str, url: str, champion: ModelRef | None = None) -> TrainingJobRequest:
    return TrainingJobRequest(name, "sms", url, MODEL, champion, {"dataset": "sms"})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def _children(pid: int) -> set[int]:
    """Direct children of ``pid`` (gunicorn's workers), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found
