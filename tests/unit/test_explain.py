"""`explain`: the story of an upload or an operation, stitched from the records the services
really write (through the functions, on the test World), with its durations."""

from __future__ import annotations

import pytest

from shared.domain.audit import AuditEntry
from shared.domain.values import ModelRef
from shared.ops.render.text import story_text
from shared.ops.views.story import AmbiguousId, StoryNotFound, explain
from shared.services.injection import inject
from shared.services.operations import rollback
from tests.conftest import World, model_registered
from tests.fakes import RecordingAuditSink
from tests.unit.test_rollouts import ALICE, ENDPOINT, MODEL, register, settle


def train_from_upload(world: World, *paths: str) -> list[str]:
    """Uploads coalesce into one job; the job registers v1 with its lineage, as train.py does."""
    events = [world.upload(path) for path in paths]
    for event in events:
        world.deliver("on_blob_created", event)
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    tags = {"gate": "passed", "gate_reason": "first model", "f1": "0.96", "accuracy": "0.99"}
    lineage = {**tags, **job.tags, "job_name": job.name}
    world.platform.finish_job(job.name, world.platform.add_model(MODEL, "1", lineage))
    world.clock.advance(30)
    world.reconcile()
    world.deliver("on_model_registered", model_registered(MODEL, "1", lineage))
    settle(world)
    return [str(event["id"]) for event in events]


def test_an_upload_is_followed_from_event_to_serving(world: World) -> None:
    first, second = train_from_upload(world, "spam/a.csv", "spam/b.csv")
    story = explain(world.audit.records, second)  # the second upload: not the job's own id
    actions = [step.record.action for step in story.steps]
    assert actions[:3] == ["data.received", "data.received", "training.submitted"]
    assert "training.completed" in actions and "model.registered" in actions
    assert actions[-1] == "rollout.completed"
    assert story.correlation_ids[:2] == (first, second)
    assert story.outcome.startswith(f"{ENDPOINT}/blue {MODEL}:1 serving")
    assert story.spans["coalescing"] == pytest.approx(61)
    assert story.spans["training"] == pytest.approx(30)
    assert story.steps[0].offset == 0 and story.steps[-1].offset == story.spans["total"]
    assert [s.took for s in story.steps][2] == pytest.approx(61)


def test_the_same_story_from_a_job_a_model_or_an_id_prefix(world: World) -> None:
    [event_id] = train_from_upload(world, "spam/a.csv")
    whole = explain(world.audit.records, event_id)
    job = next(s.record.target for s in whole.steps if s.record.action == "training.submitted")
    for key in (job, f"{MODEL}@1", event_id[:8]):
        assert explain(world.audit.records, key).steps == whole.steps, key


def test_a_rejected_upload_is_a_short_story(world: World) -> None:
    event = world.upload("spam/../x.csv")
    world.deliver("on_blob_created", event)
    story = explain(world.audit.records, str(event["id"]))
    assert [s.record.outcome for s in story.steps] == ["rejected"]
    assert story.outcome.startswith("rejected: blob path")


def test_an_operators_rollback_names_her(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    settle(world)
    rolled = inject(rollback, world.deps)(
        ENDPOINT, principal=ALICE, reason="v2 complaints", operation_key="k1"
    )
    settle(world)
    story = explain(world.audit.records, rolled.id)
    assert [s.record.action for s in story.steps][:2] == ["rollout.planned", "operator.rollback"]
    assert story.steps[-1].record.action == "rollout.completed"
    assert str(ModelRef(MODEL, "1")) in story.steps[-1].record.target
    text = story_text(story)
    assert f"[by {ALICE.name}]" in text and "v2 complaints" in text


def test_unknown_and_ambiguous_ids_are_named() -> None:
    sink = RecordingAuditSink()
    for event_id in ("abcdef-1", "abcdef-2"):
        sink.append(AuditEntry("storage", "data.received", "spam:a", "accepted", "", event_id))
    with pytest.raises(StoryNotFound, match="no audit record mentions 'nope'"):
        explain(sink.records, "nope")
    with pytest.raises(AmbiguousId, match="'abcdef' starts 2 correlation ids"):
        explain(sink.records, "abcdef")
    with pytest.raises(StoryNotFound):
        explain(sink.records, "abcde")  # too short to stand for a prefix
    assert len(explain(sink.records, "abcdef-2").steps) == 1
