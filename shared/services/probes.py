"""The smoke test and canary check: score known examples on one deployment directly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.ports import MLPlatform, TransientError
from shared.services.config import ServiceSettings


class ProbeFailed(Exception):
    """The deployment misbehaves: roll back."""


def smoke_test(
    endpoint: str,
    deployment: str,
    *,
    platform: MLPlatform,
    smoke_set: tuple[tuple[str, str], ...],
    settings: ServiceSettings,
) -> str:
    """Score the smoke set on ``deployment`` alone; returns a one-line summary or raises."""
    examples = smoke_set
    try:
        answer = platform.invoke(
            endpoint, {"data": [text for _, text in examples]}, deployment=deployment
        )
    except (TransientError, ValueError) as error:
        raise ProbeFailed(f"{deployment} did not answer the smoke test: {error}") from None
    predictions = _predictions(answer, len(examples))
    correct = sum(
        1 for (label, _), got in zip(examples, predictions, strict=True) if got["label"] == label
    )
    accuracy = correct / len(examples)
    confidence = sum(float(got["probability"]) for got in predictions) / len(predictions)
    summary = f"accuracy {accuracy:.2f} on {len(examples)} examples, mean p {confidence:.2f}"
    if accuracy < settings.smoke_min_accuracy:
        raise ProbeFailed(
            f"{deployment} failed the smoke test: {summary}, "
            f"below {settings.smoke_min_accuracy:.2f}"
        )
    return summary


def _predictions(answer: Any, expected: int) -> list[Mapping[str, Any]]:
    """Check the answer's shape: a label and a calibrated probability per example."""
    items = answer.get("predictions") if isinstance(answer, Mapping) else None
    if not isinstance(items, list) or len(items) != expected:
        raise ProbeFailed("smoke test answer has no prediction per example")
    for item in items:
        probability = item.get("probability") if isinstance(item, Mapping) else None
        if (
            not isinstance(probability, int | float)
            or isinstance(probability, bool)  # an int to isinstance; JSON's true is no probability
            or not 0.0 <= probability <= 1.0
        ):
            raise ProbeFailed("smoke test answer has a prediction without a probability in [0, 1]")
        if not isinstance(item.get("label"), str):  # else a KeyError, not a rollback
            raise ProbeFailed("smoke test answer has a prediction without a label")
    return items
