"""A forged ImagePushed cannot move the serving image (issue 12, section 6, for images).

Whoever can publish to the topic (or holds the Event Grid key) can name any ``sha256:``
digest in an allow-listed repository. The app asks the registry before any rollout: a digest
the registry does not hold in that repository is rejected with the claim and the registry's
answer in the audit record and remembered nowhere, so the real push's event later is not a
duplicate; a registry that cannot be asked makes the function raise (Event Grid retries).
Every event goes through the real ``on_image_pushed`` entry point as an
``azure.functions.EventGridEvent`` (or ``func.CloudEvent``), on the tests' fakes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import azure.functions as func
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import bootstrap
from shared.adapters.local import system_events as topics
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.devhost import delivery
from shared.ports import AccessDenied, Manifest, TransientError
from shared.services.deps import Deps
from shared.services.idempotency import KIND as HANDLED
from shared.services.rollouts import ROLLOUT
from shared.settings import Settings, service_settings
from tests.conftest import ACCOUNT, ACR_TOPIC, World, model_registered, to_cloud
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.fakes.ml_platform import FakeMLPlatform

HOST = "contosomlops.azurecr.io"
SERVING = "mlops/sklearn-serving"
GPU = "mlops/sklearn-serving-gpu"  # also allow-listed in these tests
MODEL = "spam-classifier"
GOOD = {"gate": "passed", "gate_reason": "first model", "accuracy": "0.99", "f1": "0.96"}


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def pushed(digest: str, repository: str = SERVING, event_id: str = "") -> dict[str, Any]:
    event = topics.image_pushed(ACR_TOPIC, HOST, repository, digest=digest, tag="2.1")
    if event_id:
        event["id"] = event_id
    return event


@contextmanager
def images_world() -> Iterator[World]:
    """The conftest ``world`` with a second allow-listed repository, built per example."""
    settings_ = Settings(storage_account_url=ACCOUNT, allowed_repositories=(SERVING, GPU))
    clock = FakeClock()
    smoke = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
    platform, state = FakeMLPlatform(smoke), InMemoryStateStore()
    audit, blobs = RecordingAuditSink(clock), InMemoryBlobStore(ACCOUNT)
    platform.app_state = state
    registry = InMemoryContainerRegistry(clock)
    deps = Deps(
        service_settings(settings_),
        platform,
        blobs,
        state,
        NoSecrets(),
        audit,
        clock,
        smoke,
        registry,
    )
    bootstrap.install(deps)
    try:
        world = World(deps, platform, state, audit, blobs, clock)
        serve_version_1(world)
        yield world
    finally:
        bootstrap.install(None)


@pytest.fixture
def serving() -> Iterator[World]:
    with images_world() as world:
        yield world


def serve_version_1(world: World) -> None:
    world.platform.add_model(MODEL, "1", GOOD)
    world.deliver("on_model_registered", model_registered(MODEL, "1", {"gate": "passed"}))
    settle(world)


def settle(world: World) -> None:
    for _ in range(6):
        world.reconcile()
        world.clock.advance(301)


def image_rollouts(world: World) -> list[Any]:
    return [r for r in world.state.list(ROLLOUT) if r.value.get("kind") == "image"]


def served_image(world: World) -> str | None:
    endpoint = world.platform.get_endpoint(world.deps.settings.endpoint_name)
    return world.platform.get_deployment(endpoint.name, endpoint.serving or "").image


def image_outcomes(world: World) -> list[tuple[str, str]]:
    return [
        (e.correlation_id, e.outcome) for e in world.audit.entries if e.action == "image.pushed"
    ]


def test_a_digest_never_pushed_starts_nothing_and_is_remembered_nowhere(serving: World) -> None:
    handled_before = len(serving.state.list(HANDLED))
    forged = digest_of("never pushed")
    event = pushed(forged, event_id="forged-1")
    assert isinstance(delivery.to_trigger_event(event), func.EventGridEvent)
    serving.deliver("on_image_pushed", event)  # acknowledged: Event Grid does not retry it

    [entry] = [e for e in serving.audit.entries if e.action == "image.pushed"]
    assert (entry.outcome, entry.correlation_id) == ("rejected", "forged-1")
    assert "registry holds no manifest" in entry.reason
    claimed = {"registry": HOST, "repository": SERVING, "digest": forged}
    assert (entry.details["claimed"], entry.details["stored"]) == (claimed, None)
    assert serving.registry.asked == [(HOST, SERVING, forged)]
    assert len(serving.state.list(HANDLED)) == handled_before
    assert image_rollouts(serving) == [] and served_image(serving) is None


def test_the_real_push_after_a_forged_event_is_not_a_duplicate(serving: World) -> None:
    digest = digest_of("v2 serving image")
    serving.deliver("on_image_pushed", pushed(digest, event_id="early-forgery"))
    real = serving.registry.push(HOST, SERVING, "v2 serving image")
    assert real == digest
    serving.deliver("on_image_pushed", pushed(digest, event_id="real-push"))
    settle(serving)

    assert image_outcomes(serving) == [("early-forgery", "rejected"), ("real-push", "accepted")]
    assert served_image(serving) == f"{HOST}/{SERVING}@{digest}"


def test_a_forgery_reusing_the_real_event_id_does_not_block_its_redelivery(
    serving: World,
) -> None:
    digest = digest_of("v2 serving image")
    serving.deliver("on_image_pushed", pushed(digest, event_id="evt-1"))  # before the push
    serving.registry.push(HOST, SERVING, "v2 serving image")
    serving.deliver("on_image_pushed", pushed(digest, event_id="evt-1"))  # Event Grid's own
    assert [outcome for _, outcome in image_outcomes(serving)] == ["rejected", "accepted"]


def test_a_digest_of_another_repository_is_not_this_repository_s(serving: World) -> None:
    gpu_image = serving.registry.push(HOST, GPU, "gpu build")
    serving.deliver("on_image_pushed", pushed(gpu_image, SERVING, "moved"))
    serving.deliver("on_image_pushed", pushed(gpu_image, GPU, "true"))
    settle(serving)
    assert image_outcomes(serving) == [("moved", "rejected"), ("true", "accepted")]
    assert served_image(serving) == f"{HOST}/{GPU}@{gpu_image}"


def test_the_registry_s_answer_is_what_is_compared_and_recorded(serving: World) -> None:
    claimed, other = digest_of("claimed"), digest_of("what the registry says")
    serving.registry.manifests[(HOST, SERVING, claimed)] = Manifest(
        HOST, SERVING, other, "2026-11-26T10:00:00+00:00", 100
    )
    serving.deliver("on_image_pushed", pushed(claimed, event_id="mismatch"))
    [entry] = [e for e in serving.audit.entries if e.action == "image.pushed"]
    assert entry.outcome == "rejected" and "disagrees with the registry" in entry.reason
    assert entry.details["stored"]["digest"] == other
    assert image_rollouts(serving) == []


def test_an_accepted_image_is_recorded_with_the_registry_s_facts(serving: World) -> None:
    digest = serving.registry.push(HOST, SERVING, "v2 serving image")
    serving.deliver("on_image_pushed", to_cloud(pushed(digest, event_id="cloud")))
    [entry] = [e for e in serving.audit.entries if e.action == "image.pushed"]
    assert (entry.outcome, entry.target) == ("accepted", f"{HOST}/{SERVING}@{digest}")
    pushed_at = serving.clock.now().isoformat()  # when the fake registry stored it
    assert entry.details["registry"] == {"created": pushed_at, "size": len("v2 serving image")}
    assert entry.details["tag"] == "2.1"  # kept as the claim it is, never deployed


@pytest.mark.parametrize(
    "failure",
    [
        TransientError("registry: HTTP 503"),
        AccessDenied("registry refused the app's identity (HTTP 403): it needs AcrPull"),
    ],
    ids=["transient", "access-denied"],
)
def test_a_registry_that_cannot_be_asked_makes_event_grid_retry(
    serving: World, failure: Exception
) -> None:
    digest = serving.registry.push(HOST, SERVING, "v2 serving image")
    serving.registry.failure = failure
    handled_before = len(serving.state.list(HANDLED))
    with pytest.raises(type(failure)):
        serving.deliver("on_image_pushed", pushed(digest, event_id="evt-1"))
    assert image_outcomes(serving) == [] and image_rollouts(serving) == []
    assert len(serving.state.list(HANDLED)) == handled_before

    serving.registry.failure = None  # the redelivery, once the registry answers
    serving.deliver("on_image_pushed", pushed(digest, event_id="evt-1"))
    assert image_outcomes(serving) == [("evt-1", "accepted")]


@pytest.mark.parametrize(
    ("registry", "repository", "digest"),
    [
        ("evil.example.io", SERVING, digest_of("x")),
        (HOST, "team/other", digest_of("x")),
        (HOST, SERVING, "latest"),
        (HOST, SERVING, digest_of("x").upper()),
    ],
)
def test_claims_off_the_allow_list_are_refused_before_the_registry_is_asked(
    serving: World, registry: str, repository: str, digest: str
) -> None:
    event = topics.image_pushed(ACR_TOPIC, registry, repository, digest=digest)
    serving.deliver("on_image_pushed", event)
    assert [outcome for _, outcome in image_outcomes(serving)] == ["rejected"]
    assert serving.registry.asked == []  # the app's token goes to no host an event names


# For any forged digests, in any order around the real push, the real image rolls out once --


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=16), min_size=1, max_size=4, unique=True),
    st.integers(min_value=0, max_value=4),
    st.sampled_from([SERVING, GPU]),
)
def test_forged_digests_never_poison_the_real_push(
    seeds: list[bytes], real_at: int, forged_repository: str
) -> None:
    content = "the real v2 image"
    real = digest_of(content)
    forged = [
        (f"forged-{i}", "sha256:" + hashlib.sha256(s).hexdigest()) for i, s in enumerate(seeds)
    ]
    events = [(event_id, digest, forged_repository) for event_id, digest in forged]
    events.insert(min(real_at, len(events)), ("real", real, SERVING))
    events.append(("real-digest-wrong-repository", real, GPU))
    with images_world() as world:
        for event_id, digest, repository in events:
            if event_id == "real":
                world.registry.push(HOST, SERVING, content)
            world.deliver("on_image_pushed", pushed(digest, repository, event_id))
        world.deliver("on_image_pushed", pushed(real, SERVING, "real"))  # Event Grid again
        settle(world)

        *first, last = image_outcomes(world)
        assert first == [
            (event_id, "accepted" if event_id == "real" else "rejected")
            for event_id, _, _ in events
        ]
        assert last == ("real", "duplicate")
        assert len(image_rollouts(world)) == 1
        assert served_image(world) == f"{HOST}/{SERVING}@{real}"
