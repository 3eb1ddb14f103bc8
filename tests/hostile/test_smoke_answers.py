"""A deployment that answers the smoke test with something other than one labelled, calibrated
prediction per example fails it: the rollout is rolled back with the reason, and traffic stays
on the serving deployment. Through the real function and timer, on the tests' fakes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.rollout import Phase, Rollout
from shared.domain.values import ModelRef
from shared.services.rollouts import ROLLOUT
from tests.conftest import World, model_registered

ENDPOINT, MODEL = "spam-endpoint", "spam-classifier"
GOOD_TAGS = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "0.99", "f1": "0.96"}


def register(world: World, version: str) -> None:
    world.platform.add_model(MODEL, version, dict(GOOD_TAGS))
    world.deliver("on_model_registered", model_registered(MODEL, version, {"gate": "passed"}))


def settle(world: World) -> None:
    for _ in range(5):
        world.reconcile()
        world.clock.advance(301)


def each(world: World, prediction: Any) -> dict[str, Any]:
    """``prediction`` for every example of the smoke set."""
    return {"predictions": [prediction] * len(world.deps.smoke_set)}


NO_PREDICTIONS = "smoke test answer has no prediction per example"
NO_PROBABILITY = "smoke test answer has a prediction without a probability in [0, 1]"
NO_LABEL = "smoke test answer has a prediction without a label"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda w: None, NO_PREDICTIONS),
        (lambda w: "spam", NO_PREDICTIONS),
        (lambda w: {"predictions": "spam"}, NO_PREDICTIONS),
        (lambda w: {"predictions": []}, NO_PREDICTIONS),
        (lambda w: {"predictions": each(w, {})["predictions"][1:]}, NO_PREDICTIONS),
        (lambda w: each(w, "spam"), NO_PROBABILITY),
        (lambda w: each(w, {"label": "spam"}), NO_PROBABILITY),
        (lambda w: each(w, {"label": "spam", "probability": "0.9"}), NO_PROBABILITY),
        (lambda w: each(w, {"label": "spam", "probability": 1.5}), NO_PROBABILITY),
        (lambda w: each(w, {"label": "spam", "probability": float("nan")}), NO_PROBABILITY),
        (lambda w: each(w, {"label": "spam", "probability": True}), NO_PROBABILITY),
        (lambda w: each(w, {"probability": 0.9}), NO_LABEL),
        (lambda w: each(w, {"label": ["spam"], "probability": 0.9}), NO_LABEL),
    ],
    ids=[
        "null",
        "a-string",
        "predictions-not-a-list",
        "no-predictions",
        "one-short",
        "bare-labels",
        "no-probability",
        "probability-as-text",
        "probability-above-1",
        "probability-nan",
        "probability-a-boolean",
        "no-label",
        "label-not-text",
    ],
)
def test_a_malformed_smoke_answer_rolls_the_model_back(
    world: World, answer: Any, reason: str
) -> None:
    register(world, "1")
    settle(world)
    world.platform.answers[ModelRef(MODEL, "2")] = answer(world)
    register(world, "2")
    settle(world)

    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert "green" in world.platform.deleted
    rollouts = [Rollout.from_dict(stored.value) for stored in world.state.list(ROLLOUT)]
    [bad] = [rollout for rollout in rollouts if rollout.model.version == "2"]
    assert bad.phase == Phase.ROLLED_BACK
    assert [t.phase for t in bad.history][-2:] == [Phase.SMOKE_TESTING, Phase.ROLLED_BACK]
    assert reason in bad.history[-1].note
    assert world.outcomes("rollout.rolled_back") == ["rolled_back"]
