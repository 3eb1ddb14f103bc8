"""One item never wedges the rest (issue 12, section 1).

Each test puts a poisoned window, job or rollout next to a healthy one and runs the real
timer function (``reconcile_rollouts`` with an ``azure.functions`` TimerRequest): the healthy
item advances in the same tick; the poisoned one is parked as failed (audited with the
reason, listed by ``mlops status``) or, for a transient error, simply waits. The symlink
case runs on the local blob store, where a file can really be replaced by a link.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from shared import bootstrap
from shared.adapters.local import system_events as topics
from shared.adapters.local.blob_store import LocalBlobStore
from shared.adapters.local.model_registry import NAME
from shared.domain.audit import ChainReport
from shared.domain.rollout import Phase
from shared.domain.values import ModelRef
from shared.ops.render.tables import render
from shared.ops.views.status import build_status
from shared.ports import ConcurrencyConflict, NotFound, TransientError
from shared.services.data_arrived import WINDOW
from shared.services.deps import Deps
from shared.services.injection import inject
from shared.services.isolation import PARKED, QUARANTINE
from shared.services.operations import Principal, redeploy, rollback
from shared.services.reconciler import JOB
from shared.services.rollouts import LOCK, get_rollout
from tests.conftest import ACCOUNT, GOOD_CSV, STORAGE_TOPIC, World, model_registered
from tests.fakes import InMemoryStateStore
from tests.fakes.ml_platform import GOOD_TAGS
from tests.integration.test_status import Events, Trail
from tests.unit.test_api_helpers import ENDPOINT, MODEL, serve

ALICE = Principal("0b7c-alice", "alice", ("MLOps.Deployer",))

OTHER = "second-endpoint"


def status(world: World) -> dict[str, Any]:
    """``mlops status`` as JSON, on this world."""
    return build_status(world.deps, Events(), Trail(world.audit), ChainReport(True, 0))


def shown_by_mlops_status(world: World) -> str:
    """What `mlops status` prints for this world."""
    out = io.StringIO()
    render(status(world), Console(file=out, width=200, highlight=False))
    text = out.getvalue()
    assert "Parked as failed / quarantined" in text
    return text


def upload(world: World, blob_path: str, data: bytes = GOOD_CSV) -> None:
    world.deliver("on_blob_created", world.upload(blob_path, data))


def parked(world: World) -> dict[str, str]:
    return {s.key: str(s.value["reason"]) for s in world.state.list(PARKED)}


def audited(world: World, action: str) -> list[tuple[str, str, str]]:
    return [(e.target, e.outcome, e.reason) for e in world.audit.entries if e.action == action]


# Windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder",
    ["my data", "Données 2026", "a%41b", "q#?&=+;", "-x", "UPPER_and.dots", "x" * 120, "日本語"],
)
def test_any_accepted_folder_name_becomes_a_job_beside_a_healthy_window(
    world: World, folder: str
) -> None:
    upload(world, f"{folder}/part 1.csv")
    upload(world, "spam/part-1.csv")
    world.clock.advance(61)
    world.reconcile()

    jobs = {request.dataset: request for request in world.platform.submitted}
    assert set(jobs) == {folder, "spam"}
    poisoned = jobs[folder]
    assert NAME.fullmatch(poisoned.name) and len(poisoned.name) <= 64
    assert poisoned.name != jobs["spam"].name
    assert poisoned.files == (world.blobs.url_for(f"{folder}/part 1.csv"),)
    assert poisoned.data_url.endswith("/") and " " not in poisoned.data_url
    assert parked(world) == {}


def test_a_window_the_workspace_refuses_is_parked_and_the_others_go_on(world: World) -> None:
    upload(world, "bad/part-1.csv")
    upload(world, "spam/part-1.csv")
    world.clock.advance(61)
    bad_window = world.state.get(WINDOW, "bad")
    assert bad_window is not None
    name = f"train-bad-{bad_window.value['window_id']}"
    world.platform.refused[name] = ValueError(f"job {name}: HTTP 400 UserError: bad input")

    world.reconcile()

    assert [r.dataset for r in world.platform.submitted] == ["spam"]
    window = world.state.get(WINDOW, "bad")
    assert window is not None and window.value["status"] == "failed"
    assert "HTTP 400" in window.value["error"]
    assert (name, "failed") in [(t, o) for t, o, _ in audited(world, "training.submitted")]
    assert "HTTP 400" in parked(world)[f"window/{bad_window.value['window_id']}"]
    shown = status(world)["parked"]
    assert [(p["kind"], p["dataset"]) for p in shown] == [("window", "bad")]
    assert "HTTP 400" in shown_by_mlops_status(world)

    records = len(world.audit.entries)
    world.reconcile()  # parked: not retried, not audited again
    assert len(world.audit.entries) == records

    upload(world, "bad/part-2.csv")  # the dataset's next upload opens a new window
    world.clock.advance(61)
    world.reconcile()
    assert [r.dataset for r in world.platform.submitted] == ["spam", "bad"]


def test_a_transient_error_waits_for_the_next_tick_without_parking(world: World) -> None:
    upload(world, "first/part-1.csv")
    upload(world, "second/part-1.csv")
    world.clock.advance(61)
    world.platform.transient_failures = 1  # the first submission of the tick: throttled
    world.reconcile()

    assert [r.dataset for r in world.platform.submitted] == ["second"]
    assert parked(world) == {}
    world.reconcile()
    assert [r.dataset for r in world.platform.submitted] == ["second", "first"]


def test_an_unexpected_error_is_retried_not_parked_and_the_others_go_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    upload(world, "odd/part-1.csv")
    upload(world, "spam/part-1.csv")
    world.clock.advance(61)
    odd = world.state.get(WINDOW, "odd")
    assert odd is not None
    name = f"train-odd-{odd.value['window_id']}"
    world.platform.refused[name] = RuntimeError("the local ML platform is closed")

    world.reconcile()

    assert [r.dataset for r in world.platform.submitted] == ["spam"]
    assert parked(world) == {}
    assert "unexpected error" in caplog.text
    del world.platform.refused[name]
    world.reconcile()
    assert [r.dataset for r in world.platform.submitted] == ["spam", "odd"]


# Jobs -------------------------------------------------------------------------------------


def _two_running_jobs(world: World) -> tuple[str, str]:
    upload(world, "gone/part-1.csv")
    upload(world, "spam/part-1.csv")
    world.clock.advance(61)
    world.reconcile()
    by_dataset = {r.dataset: r.name for r in world.platform.submitted}
    return by_dataset["gone"], by_dataset["spam"]


def test_a_job_that_no_longer_exists_is_parked_and_the_others_are_followed(
    world: World,
) -> None:
    gone, healthy = _two_running_jobs(world)
    world.platform.forget_job(gone)  # deleted from the workspace
    world.platform.finish_job(healthy, ModelRef(MODEL, "1"))

    world.reconcile()

    assert world.state.get(JOB, healthy).value["status"] == "completed"  # type: ignore[union-attr]
    job = world.state.get(JOB, gone)
    assert job is not None and job.value["status"] == "failed"
    assert "does not exist" in job.value["error"]
    assert (gone, "failed") in [(t, o) for t, o, _ in audited(world, "training.failed")]
    assert (healthy, "succeeded") in [(t, o) for t, o, _ in audited(world, "training.completed")]
    assert f"job/{gone}" in parked(world)
    jobs = {j["name"]: j["status"] for j in status(world)["jobs"]}
    assert jobs == {gone: "failed", healthy: "completed"}


def test_a_file_training_skipped_is_quarantined_and_left_out_of_later_windows(
    world: World,
) -> None:
    upload(world, "spam/good.csv")
    upload(world, "spam/huge field.csv")
    world.clock.advance(61)
    world.reconcile()
    [first] = world.platform.submitted
    assert len(first.files) == 2
    why = "not valid CSV: field larger than field limit (131072)"
    world.platform.finish_job(first.name, ModelRef(MODEL, "1"), skipped={"huge field.csv": why})

    world.reconcile()

    [(target, outcome, reason)] = audited(world, "data.quarantined")
    assert (target, outcome) == ("spam:spam/huge field.csv", "rejected")
    assert why in reason
    [shown] = status(world)["quarantined_files"]
    assert "huge field.csv" in shown_by_mlops_status(world)
    assert shown["url"] == world.blobs.url_for("spam/huge field.csv")
    completed = world.audit.entries[-1]
    assert completed.action == "training.completed"
    assert completed.details["skipped_files"] == ["huge field.csv"]

    upload(world, "spam/more.csv")  # the next window trains without the bad file ...
    world.clock.advance(61)
    world.reconcile()
    second = world.platform.submitted[-1]
    assert world.blobs.url_for("spam/huge field.csv") not in second.files
    assert len(second.files) == 2

    upload(world, "spam/huge field.csv")  # ... until a new version of it is uploaded
    world.clock.advance(61)
    world.reconcile()
    assert world.blobs.url_for("spam/huge field.csv") in world.platform.submitted[-1].files
    assert status(world)["quarantined_files"] == []


# Rollouts ---------------------------------------------------------------------------------


def _redeploy_v1(world: World, endpoint: str, key: str) -> str:
    """An operator's rollout of v1 on ``endpoint``; its first step deploys at once."""
    world.platform.add_model(MODEL, "1", GOOD_TAGS)
    world.platform.ensure_endpoint(endpoint)
    rollout = inject(redeploy, world.deps)(
        endpoint,
        ModelRef(MODEL, "1"),
        principal=ALICE,
        reason="a second endpoint",
        operation_key=key,
        supersede=False,
    )
    assert rollout.phase == Phase.DEPLOYING
    return rollout.id


def test_a_rollout_whose_deployment_vanished_fails_and_the_other_rollout_advances(
    world: World,
) -> None:
    serve(world, "1")
    world.platform.add_model(MODEL, "2", GOOD_TAGS)
    world.deliver("on_model_registered", model_registered(MODEL, "2"))
    poisoned = _redeploy_v1(world, OTHER, "other-1")
    world.reconcile()  # both new deployments are seen creating
    current = get_rollout(poisoned, state=world.deps.state)
    assert current is not None and current.phase == Phase.DEPLOYING
    del world.platform.deployments[(OTHER, current.colour)]  # deleted in the portal

    world.reconcile()

    failed = get_rollout(poisoned, state=world.deps.state)
    assert failed is not None and failed.phase == Phase.FAILED
    assert "does not exist" in failed.history[-1].note
    assert [o for _, o, _ in audited(world, "rollout.failed")] == ["failed"]
    assert f"rollout/{poisoned}" in parked(world)
    lock = world.state.get(LOCK, OTHER)
    assert lock is not None and lock.value["rollout_id"] == ""  # the endpoint is free again
    assert world.platform.traffic[ENDPOINT] == {"blue": 90, "green": 10}  # v2 went on
    phases = {r["model"]: r["phase"] for r in status(world)["recent_rollouts"]}
    assert phases[f"{MODEL}:2"] == "canary"
    assert [p["kind"] for p in status(world)["parked"]] == ["rollout"]


def test_a_rollout_that_cannot_even_be_undone_is_parked_and_frees_its_endpoint(
    world: World,
) -> None:
    poisoned = _redeploy_v1(world, OTHER, "other-1")
    current = get_rollout(poisoned, state=world.deps.state)
    assert current is not None
    del world.platform.deployments[(OTHER, current.colour)]
    del world.platform.traffic[OTHER]  # the whole endpoint is gone: traffic cannot be restored

    world.reconcile()

    failed = get_rollout(poisoned, state=world.deps.state)
    assert failed is not None and failed.phase == Phase.FAILED
    assert "traffic left as it was" in failed.history[-1].note
    again = _redeploy_v1(world, OTHER, "other-2")  # nothing holds the endpoint
    assert again != poisoned


def test_a_rollout_failing_in_its_first_step_is_parked_by_the_handler_that_started_it(
    world: World,
) -> None:
    serve(world, "1")
    del world.platform.deployments[(ENDPOINT, "blue")]  # serving, yet gone from the workspace
    world.platform.add_model(MODEL, "2", GOOD_TAGS)

    world.deliver("on_model_registered", model_registered(MODEL, "2"))  # does not raise

    [(_, outcome, reason)] = audited(world, "rollout.failed")
    assert outcome == "failed" and "does not exist" in reason
    lock = world.state.get(LOCK, ENDPOINT)
    assert lock is not None and lock.value["rollout_id"] == ""


def test_an_operator_rollback_of_a_rollout_that_cannot_be_undone_parks_it(
    world: World,
) -> None:
    serve(world, "1")
    world.platform.add_model(MODEL, "2", GOOD_TAGS)
    world.deliver("on_model_registered", model_registered(MODEL, "2"))  # green deploying
    del world.platform.deployments[(ENDPOINT, "blue")]  # traffic cannot go back to it

    rolled = inject(rollback, world.deps)(
        ENDPOINT, principal=ALICE, reason="stop it", operation_key="rb-1"
    )

    assert rolled.phase == Phase.FAILED and "traffic left as it was" in rolled.history[-1].note
    [entry] = [e for e in world.audit.entries if e.action == "rollout.failed"]
    assert entry.actor == ALICE.actor and "stop it" in entry.reason


# The symlink case, on the local blob store -------------------------------------------------


@pytest.fixture
def local_world(world: World, tmp_path: Path) -> Iterator[tuple[World, LocalBlobStore]]:
    """The fake world with a real folder as its blob store."""
    blobs = LocalBlobStore(tmp_path / "container", ACCOUNT, "training-data")
    deps = Deps(
        world.deps.settings,
        world.platform,
        blobs,
        InMemoryStateStore(),
        world.deps.secrets,
        world.audit,
        world.clock,
        world.deps.smoke_set,
        world.deps.registry,
    )
    bootstrap.install(deps)
    local = World(deps, world.platform, deps.state, world.audit, world.blobs, world.clock)  # type: ignore[arg-type]
    yield local, blobs
    bootstrap.install(world.deps)


def _local_upload(world: World, blobs: LocalBlobStore, blob_path: str) -> Path:
    props = blobs.upload(blob_path, GOOD_CSV, "text/csv")
    world.deliver("on_blob_created", topics.blob_created(STORAGE_TOPIC, props))
    return blobs.path_for(props.url)


def test_a_file_replaced_by_a_symlink_is_quarantined_and_the_rest_trains(
    local_world: tuple[World, LocalBlobStore], tmp_path: Path
) -> None:
    world, blobs = local_world
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("label,text\nham,not for training\n")
    linked = _local_upload(world, blobs, "mixed/part-1.csv")
    _local_upload(world, blobs, "mixed/part 2.csv")
    only = _local_upload(world, blobs, "linked/part-1.csv")
    _local_upload(world, blobs, "spam/part-1.csv")
    for path in (linked, only):  # each file replaced by a link out of the container
        path.unlink()
        path.symlink_to(secret)
    world.clock.advance(61)

    world.reconcile()

    jobs = {r.dataset: r for r in world.platform.submitted}
    assert set(jobs) == {"mixed", "spam"}
    assert jobs["mixed"].files == (blobs.url_for("mixed/part 2.csv"),)
    quarantined = {s.value["url"]: s.value["reason"] for s in world.state.list(QUARANTINE)}
    assert set(quarantined) == {
        blobs.url_for("mixed/part-1.csv"),
        blobs.url_for("linked/part-1.csv"),
    }
    assert all("outside the container" in reason for reason in quarantined.values())
    linked_window = world.state.get(WINDOW, "linked")
    assert linked_window is not None and linked_window.value["status"] == "failed"
    assert "no accepted file" in linked_window.value["error"]
    assert len(audited(world, "data.quarantined")) == 2


# The classification itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "parks"),
    [
        (NotFound("job x does not exist"), True),
        (ValueError("HTTP 400 UserError"), True),
        (KeyError("window_id"), True),
        (TransientError("HTTP 429"), False),
        (ConcurrencyConflict("etag changed"), False),
        (RuntimeError("closed"), False),
        (OSError("disk full"), False),
    ],
)
def test_only_permanent_errors_park_an_item(world: World, error: Exception, parks: bool) -> None:
    upload(world, "one/part-1.csv")
    world.clock.advance(61)
    window = world.state.get(WINDOW, "one")
    assert window is not None
    world.platform.refused[f"train-one-{window.value['window_id']}"] = error
    world.reconcile()
    assert bool(parked(world)) is parks
