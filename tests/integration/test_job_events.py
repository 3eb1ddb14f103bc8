"""Run events advance a training job at once (issue 14 §2): RunCompleted records the job's end
and rolls out the version it registered, RunStatusChanged to Failed records the run's error;
duplicates, out-of-order and lost events are harmless. Events are Learn's samples (both
schemas) with the run id and experiment of a job this app submitted, delivered through the
real function entry point (``on_job_finished``) to the services on the tests' fakes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.values import JobInfo, ModelRef
from shared.ports import TransientError
from shared.services.jobs import JOB
from shared.services.rollouts import ROLLOUT
from tests.conftest import WORKSPACE_TOPIC, World, model_registered
from tests.fakes.ml_platform import GOOD_TAGS
from tests.unit.job_event_samples import sample
from tests.unit.test_api_helpers import serving_model
from tests.unit.test_rollouts import MODEL, settle

SCHEMAS = ["EventGrid", "CloudEvents"]


def submitted(world: World) -> str:
    """One upload, coalesced and submitted by the reconciler: the job is running."""
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    assert world.state.get(JOB, job.name).value["status"] == "running"  # type: ignore[union-attr]
    return job.name


def trained(world: World, job: str) -> dict[str, str]:
    """The job registers v1 with its lineage, as train.py does, and completes."""
    [request] = world.platform.submitted
    lineage = {**GOOD_TAGS, **request.tags, "job_name": job}
    world.platform.add_model(MODEL, "1", lineage, job=job)
    world.platform.finish_job(job, ModelRef(MODEL, "1"))
    return lineage


def run_event(world: World, kind: str, job: str, **data: Any) -> dict[str, Any]:
    """The documented sample, about our job, in our experiment and from our workspace."""
    event = sample(kind, runId=job, experimentName=world.deps.settings.model_name, **data)
    event["topic" if "topic" in event else "source"] = WORKSPACE_TOPIC
    event["id"] = f"{kind}-{job}-{data.get('runStatus', '')}"
    return event


def job_status(world: World, job: str) -> str:
    stored = world.state.get(JOB, job)
    assert stored is not None
    return str(stored.value["status"])


def rollouts(world: World) -> int:
    return len(world.state.list(ROLLOUT))


@pytest.mark.parametrize("schema", SCHEMAS)
def test_run_completed_records_the_job_and_rolls_out_its_version_at_once(
    world: World, schema: str
) -> None:
    job = submitted(world)
    trained(world, job)
    world.deliver("on_job_finished", run_event(world, f"RunCompleted/{schema}", job))

    assert job_status(world, job) == "completed"  # no reconciler tick since the job ended
    [done] = [e for e in world.audit.entries if e.action == "training.completed"]
    assert (done.actor, done.outcome, done.target) == (WORKSPACE_TOPIC, "succeeded", job)
    assert done.reason == f"registered {ModelRef(MODEL, '1')}"
    assert world.outcomes("model.registered") == ["accepted"], "the gate, on the job's version"
    assert rollouts(world) == 1
    settle(world)
    assert serving_model(world) == ModelRef(MODEL, "1")


def test_the_model_registered_event_after_it_is_a_duplicate_and_starts_nothing(
    world: World,
) -> None:
    job = submitted(world)
    lineage = trained(world, job)
    world.deliver("on_job_finished", run_event(world, "RunCompleted/EventGrid", job))
    world.deliver("on_model_registered", model_registered(MODEL, "1", lineage))
    assert world.outcomes("model.registered") == ["accepted", "duplicate"]
    assert rollouts(world) == 1


def test_the_model_registered_event_before_it_leaves_the_run_event_nothing_to_roll_out(
    world: World,
) -> None:
    job = submitted(world)
    lineage = trained(world, job)
    world.deliver("on_model_registered", model_registered(MODEL, "1", lineage))
    world.deliver("on_job_finished", run_event(world, "RunCompleted/CloudEvents", job))
    assert world.outcomes("model.registered") == ["accepted"]
    assert rollouts(world) == 1
    assert job_status(world, job) == "completed"
    assert world.outcomes("training.completed") == ["succeeded"]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_run_status_changed_to_failed_records_the_runs_own_error(world: World, schema: str) -> None:
    job = submitted(world)
    world.platform.finish_job(job, None, failed=True)  # the fake's error: "data invalid"
    world.deliver("on_job_finished", run_event(world, f"RunStatusChanged/{schema}", job))

    assert job_status(world, job) == "failed"
    assert world.state.get(JOB, job).value["error"] == "data invalid"  # type: ignore[union-attr]
    [failed] = [e for e in world.audit.entries if e.action == "training.failed"]
    assert (failed.outcome, failed.reason, failed.actor) == (
        "failed",
        "data invalid",
        WORKSPACE_TOPIC,
    )
    assert rollouts(world) == 0


def test_a_canceled_run_is_recorded_as_the_platform_says(world: World) -> None:
    job = submitted(world)
    world.platform.jobs[job] = JobInfo(job, "canceled", None, "canceled by alice")
    world.deliver(
        "on_job_finished", run_event(world, "RunStatusChanged/EventGrid", job, runStatus="Canceled")
    )
    assert job_status(world, job) == "canceled"
    assert world.outcomes("training.failed") == ["failed"]


def test_a_duplicate_delivery_records_the_end_once(world: World) -> None:
    job = submitted(world)
    trained(world, job)
    event = run_event(world, "RunCompleted/EventGrid", job)
    for _ in range(3):
        world.deliver("on_job_finished", event)
    world.deliver("on_job_finished", {**event, "id": "a-second-copy-with-another-id"})
    assert world.outcomes("training.completed") == ["succeeded"]
    assert world.outcomes("training.run_event") == ["duplicate"] * 3
    assert rollouts(world) == 1


def test_a_late_failure_event_after_completion_changes_nothing(world: World) -> None:
    job = submitted(world)
    trained(world, job)
    world.deliver("on_job_finished", run_event(world, "RunCompleted/EventGrid", job))
    world.deliver("on_job_finished", run_event(world, "RunStatusChanged/EventGrid", job))
    assert job_status(world, job) == "completed", "the platform says completed, not the event"
    assert world.outcomes("training.failed") == []


def test_an_event_that_comes_before_the_job_has_ended_is_retried(world: World) -> None:
    job = submitted(world)  # the platform still says running
    event = run_event(world, "RunCompleted/EventGrid", job)
    with pytest.raises(TransientError):
        world.deliver("on_job_finished", event)
    assert job_status(world, job) == "running"
    trained(world, job)
    world.deliver("on_job_finished", event)  # Event Grid's redelivery
    assert job_status(world, job) == "completed"


def test_a_lost_event_leaves_the_reconciler_to_finish_the_window(world: World) -> None:
    job = submitted(world)
    trained(world, job)
    world.reconcile()  # no run event ever arrives
    assert job_status(world, job) == "completed"
    [done] = [e for e in world.audit.entries if e.action == "training.completed"]
    assert done.actor == "reconciler"
    # The event arriving after the poll finds the job recorded and its version rolled out once.
    world.deliver("on_job_finished", run_event(world, "RunCompleted/EventGrid", job))
    assert world.outcomes("training.completed") == ["succeeded"]
    assert rollouts(world) == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"experimentName": "someone-elses"}, "not this app's"),
        ({"runId": "train-by-hand-1"}, "not submitted by this app"),
        ({"runStatus": "Running"}, "not an ending"),
    ],
)
def test_events_about_other_runs_or_no_ending_are_refused_and_audited(
    world: World, data: dict[str, str], words: str
) -> None:
    job = submitted(world)
    trained(world, job)
    event = run_event(world, "RunStatusChanged/EventGrid", job)
    event["data"].update(data)
    world.deliver("on_job_finished", event)
    [entry] = [e for e in world.audit.entries if e.action == "training.run_event"]
    assert entry.outcome == "rejected" and words in entry.reason, entry
    assert job_status(world, job) == "running"
    assert rollouts(world) == 0


def test_a_forged_completion_of_a_failed_job_cannot_roll_anything_out(world: World) -> None:
    job = submitted(world)
    world.platform.add_model(MODEL, "1", {**GOOD_TAGS, "job_name": job}, job=job)
    world.platform.finish_job(job, None, failed=True)
    world.deliver("on_job_finished", run_event(world, "RunCompleted/EventGrid", job))
    assert job_status(world, job) == "failed", "the platform's answer, not the event's"
    assert rollouts(world) == 0
