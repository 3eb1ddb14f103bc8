"""Held-out metrics for a fitted classifier and the champion/challenger gate."""

from __future__ import annotations

import math
from typing import Any

# The challenger may trail the champion by this much (noise on a finite held-out set).
GATE_TOLERANCE = 0.005
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")


def resolve_positive_label(labels: list[str], requested: str) -> tuple[str | None, str]:
    """The class binary metrics are about (None beyond two classes) and a note for the report."""
    classes = sorted(set(labels))
    if len(classes) != 2:
        return None, f"{len(classes)} classes: precision, recall and F1 are macro averages"
    if requested in classes:
        return requested, f"positive class {requested!r}"
    minority = min(classes, key=lambda c: (labels.count(c), c))
    return minority, (
        f"positive label {requested!r} is absent from the data; "
        f"the minority class {minority!r} is used instead"
    )


def compute_metrics(
    model: Any, texts: list[str], labels: list[str], positive: str | None
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 (positive class, or macro) and ROC AUC on ``texts``."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    predicted = [str(p) for p in model.predict(texts)]
    average = "binary" if positive is not None else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, average=average, pos_label=positive, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": _roc_auc(model, texts, labels, positive),
        "average": average,
        "test_rows": len(labels),
    }


def _roc_auc(model: Any, texts: list[str], labels: list[str], positive: str | None) -> float | None:
    """From the calibrated probabilities; None when the held-out rows hold a single class."""
    from sklearn.metrics import roc_auc_score

    classes = [str(c) for c in model.classes_]
    if len(set(labels)) < 2 or not set(labels) <= set(classes):
        return None
    probabilities = model.predict_proba(texts)
    if positive is not None:
        column = classes.index(positive)
        truth = [label == positive for label in labels]
        return float(roc_auc_score(truth, probabilities[:, column]))
    if len(set(labels)) < len(classes):
        return None
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro"))


def decide_gate(challenger: dict[str, Any], champion: dict[str, Any] | None) -> tuple[str, str]:
    """``passed`` unless the challenger trails the champion on F1 or accuracy beyond tolerance."""
    if champion is None:
        return "passed", (
            f"no champion to compare with; challenger f1 {challenger['f1']:.4f}, "
            f"accuracy {challenger['accuracy']:.4f}"
        )
    shortfalls = [
        f"{name} {challenger[name]:.4f} < champion {champion[name]:.4f} - {GATE_TOLERANCE}"
        for name in ("f1", "accuracy")
        if challenger[name] < champion[name] - GATE_TOLERANCE
    ]
    if shortfalls:
        return "failed", "challenger trails the champion: " + "; ".join(shortfalls)
    return "passed", (
        f"challenger f1 {challenger['f1']:.4f} vs champion {champion['f1']:.4f}, "
        f"accuracy {challenger['accuracy']:.4f} vs {champion['accuracy']:.4f} "
        f"(tolerance {GATE_TOLERANCE})"
    )


def format_metric(value: float | None) -> str:
    """Tag values are strings; a metric that could not be computed is 'nan'."""
    return "nan" if value is None or math.isnan(value) else f"{value:.4f}"
