"""POST /api/datasets/{dataset}/train: an operator (or a pipeline after a deploy) retrains a
dataset on the files it already accepted. The request opens or reuses the dataset's window,
due now; the reconciler's next tick submits ONE job through its usual path, so the deploy gate
later finds a job this app submitted and deploys the version it registered."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.audit import ChainReport
from shared.domain.values import ModelRef
from shared.ops.views.status import build_status
from shared.ops.views.story import explain
from shared.services.data_arrived import WINDOW
from shared.services.reconciler import JOB
from shared.services.retrain import TRAIN_REQUEST
from tests.conftest import World, model_registered
from tests.integration.test_status import Events, Trail
from tests.unit.test_api_helpers import (
    ALICE_OID,
    BOB,
    ENDPOINT,
    GOOD_TAGS,
    MODEL,
    Reply,
    call,
    operation,
    serving_model,
    settle,
)


def train(
    dataset: str = "spam",
    *,
    reason: str = "retrain with the training code of 4f2a9c1",
    principal: str | None = None,
    key: str | None = None,
    body: Any = None,
) -> Reply:
    sent = {"reason": reason} if body is None else body
    extra = {} if principal is None else {"principal": principal}
    return call(
        "api_train",
        route_params={"dataset": dataset},
        body=sent,
        headers={"Idempotency-Key": key} if key else None,
        **extra,
    )


def trained_once(world: World, *paths: str) -> str:
    """Upload ``paths``, let their window close into a job, and let that job finish."""
    for path in paths:
        world.deliver("on_blob_created", world.upload(path))
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    world.platform.finish_job(job.name, None)
    world.reconcile()
    return job.name


def test_a_deployer_retrains_a_dataset_on_its_accepted_files(world: World) -> None:
    first = trained_once(world, "spam/part-1.csv", "spam/part-2.csv")
    reply = train()
    assert reply.status == 202
    op = reply.body["operation_id"]
    assert op.startswith("tr-")
    assert reply.headers["location"] == reply.body["status_url"] == f"/api/operations/{op}"

    waiting = operation(op).body
    assert (waiting["phase"], waiting["active"], waiting["outcome"]) == ("waiting", True, None)
    assert waiting["due"] == world.clock.now().isoformat("T", "seconds")  # due now
    assert waiting["files"] == 2
    assert waiting["requested_by"] == {"actor": f"user:{ALICE_OID}", "name": "alice@contoso.com"}

    world.reconcile()  # no quiet gap to wait for: the next tick submits
    [_, job] = world.platform.submitted
    assert job.name != first
    assert job.files == (
        "https://contosodata.blob.core.windows.net/training-data/spam/part-1.csv",
        "https://contosodata.blob.core.windows.net/training-data/spam/part-2.csv",
    )
    assert job.tags["blob_count"] == "2"
    submitted = operation(op).body
    assert submitted["phase"] == "submitted"
    assert submitted["job"] == {"name": job.name, "status": "running"}

    world.platform.finish_job(job.name, ModelRef(MODEL, "1"))
    world.reconcile()
    done = operation(op).body
    assert (done["phase"], done["outcome"], done["active"]) == ("completed", "succeeded", False)


def test_the_job_it_starts_is_recorded_so_the_gate_deploys_its_version(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    op = train().body["operation_id"]
    world.reconcile()
    job = world.platform.submitted[-1]
    assert world.state.get(JOB, job.name) is not None  # the reconciler's own record
    world.platform.finish_job(job.name, ModelRef(MODEL, "1"))
    world.reconcile()
    lineage = {**GOOD_TAGS, **job.tags, "job_name": job.name}  # as train.py tags it
    world.platform.add_model(MODEL, "1", lineage, job=job.name)
    world.deliver("on_model_registered", model_registered(MODEL, "1", lineage))
    settle(world)
    assert world.outcomes("model.registered") == ["accepted"]
    assert serving_model(world) == ModelRef(MODEL, "1")
    # `mlops explain tr-...`: from the request to the model serving.
    story = explain(world.audit.records, op)
    actions = [step.record.action for step in story.steps]
    assert actions[:3] == ["operator.train", "training.submitted", "training.completed"]
    assert {"model.registered", "rollout.completed"} <= set(actions)
    assert story.outcome.startswith(f"{ENDPOINT}/")


def test_every_record_of_the_request_tells_one_story(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    before = len(world.audit.entries)
    op = train(reason="new training code").body["operation_id"]
    world.reconcile()
    caused = world.audit.entries[before:]
    assert [(e.action, e.outcome) for e in caused] == [
        ("operator.train", "accepted"),
        ("training.submitted", "accepted"),
    ]
    asked, submitted = caused
    assert asked.actor == f"user:{ALICE_OID}"
    assert asked.target == "spam"
    assert asked.details["request_reason"] == "new training code"
    assert asked.details["principal"]["name"] == "alice@contoso.com"
    # The job's records carry the operation id: `mlops explain tr-...` follows them.
    assert asked.correlation_id == submitted.correlation_id == op
    assert submitted.details["window_id"] == asked.details["window_id"]


def test_mlops_status_shows_the_requested_window_then_its_job(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    op = train().body["operation_id"]
    report = build_status(world.deps, Events(), Trail(world.audit), ChainReport(True, 0))
    [window] = report["open_windows"]
    assert (window["operation_id"], window["requested_by"]) == (op, f"user:{ALICE_OID}")
    assert window["due"] == world.clock.now().isoformat("T", "seconds")
    world.reconcile()
    report = build_status(world.deps, Events(), Trail(world.audit), ChainReport(True, 0))
    assert report["open_windows"] == []
    assert report["running_jobs"] == [world.platform.submitted[-1].name]


def test_an_open_window_is_reused_and_made_due_now(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    [window] = world.state.list(WINDOW)
    op = train().body["operation_id"]
    [reused] = world.state.list(WINDOW)
    assert reused.value["window_id"] == window.value["window_id"]
    assert reused.value["close_by"] == world.clock.now().isoformat(timespec="microseconds")
    assert reused.value["requested_by"] == f"user:{ALICE_OID}"
    assert world.audit.entries[-1].reason.startswith("joined the open window")

    train()  # a second request joins the same window: still one job
    world.reconcile()
    assert len(world.platform.submitted) == 1
    assert operation(op).body["phase"] == "submitted"


def test_a_retry_with_the_same_key_starts_one_request(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    first = train(key="deploy-4f2a9c1-1")
    again = train(key="deploy-4f2a9c1-1")
    assert (again.status, again.body) == (202, first.body)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(world.state.list(TRAIN_REQUEST)) == 1
    assert world.outcomes("operator.train") == ["accepted"]
    world.reconcile()
    assert len(world.platform.submitted) == 2  # the first upload's job and this one


def test_a_dataset_without_an_accepted_file_is_404_and_audited(world: World) -> None:
    world.deliver("on_blob_created", world.upload("ham/part-1.csv"))
    reply = train("spam")
    assert (reply.status, reply.body["error"]) == (404, "nothing_to_train")
    assert "has no accepted file to train on" in reply.body["message"]
    refusal = world.audit.entries[-1]
    assert (refusal.action, refusal.outcome) == ("operator.train", "rejected")
    assert refusal.target == "spam"
    assert world.state.list(TRAIN_REQUEST) == []
    assert [w.value["dataset"] for w in world.state.list(WINDOW)] == ["ham"]


def test_quarantined_files_do_not_count(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    world.platform.finish_job(job.name, None, skipped={"part-1.csv": "field larger than limit"})
    world.reconcile()
    reply = train()
    assert (reply.status, reply.body["error"]) == (404, "nothing_to_train")


def test_a_window_that_cannot_train_reports_the_operation_failed(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    op = train().body["operation_id"]
    del world.blobs.blobs["spam/part-1.csv"]  # gone before the tick: nothing left to train on
    world.reconcile()
    failed = operation(op).body
    assert (failed["phase"], failed["outcome"], failed["active"]) == ("failed", "failed", False)
    assert "no accepted file" in failed["error"]


def test_a_failed_job_fails_the_operation(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    op = train().body["operation_id"]
    world.reconcile()
    world.platform.finish_job(world.platform.submitted[-1].name, None, failed=True)
    world.reconcile()
    failed = operation(op).body
    assert (failed["phase"], failed["error"]) == ("failed", "data invalid")
    assert failed["job"]["status"] == "failed"


@pytest.mark.parametrize(
    "dataset",
    ["..", ".", "spam.", "a\\b", "a/b", "a%2Fb", "a%5cb", "a%2eb", "a\nb", "a\u202eb", "\ue000"],
)
def test_a_name_no_blob_folder_may_have_is_400_and_audited(world: World, dataset: str) -> None:
    trained_once(world, "spam/part-1.csv")
    reply = train(dataset)
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")
    assert "dataset" in reply.body["message"]
    refusal = world.audit.entries[-1]
    assert (refusal.action, refusal.outcome) == ("api.train", "rejected")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "reason is required"),
        ({"reason": ""}, "reason must not be empty"),
        ({"reason": "r", "files": ["x"]}, "unknown field(s) 'files'"),
        ({"reason": "r", "dataset": "other"}, "unknown field(s) 'dataset'"),
    ],
)
def test_the_body_is_a_reason_and_nothing_else(world: World, body: Any, error: str) -> None:
    trained_once(world, "spam/part-1.csv")
    reply = train(body=body)
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")
    assert error in reply.body["message"]


def test_a_reader_may_not_train_but_may_follow_a_request(world: World) -> None:
    trained_once(world, "spam/part-1.csv")
    assert train(principal=BOB).status == 403
    op = train().body["operation_id"]
    assert operation(op, principal=BOB).status == 200


def test_an_unknown_training_request_is_404(world: World) -> None:
    reply = operation("tr-" + "0" * 20)
    assert (reply.status, reply.body["error"]) == (404, "not_found")
