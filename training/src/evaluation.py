"""Held-out and golden-set metrics for a fitted classifier and the champion/challenger gate.

The held-out split comes from the data being trained on, so data whose labels are wrong
throughout (a scrambled drop) looks perfect on it. The golden set is fixed, labelled by hand
and shipped with this code: a model that disagrees with it fails the gate whatever its own
split says.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

# The challenger may trail the champion by this much (noise on a finite held-out set).
GATE_TOLERANCE = 0.005
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")
GOLDEN_SET = Path(__file__).with_name("golden_set.tsv")
# Absolute floors on the golden set, and how far the challenger may trail the champion
# there (48 messages: one mistake is 0.021).
GOLDEN_MIN_ACCURACY = 0.85
GOLDEN_MIN_F1 = 0.85
GOLDEN_MARGIN = 0.05
GOLDEN_METRICS = ("accuracy", "f1")


def load_golden_set(path: Path = GOLDEN_SET) -> tuple[list[str], list[str]]:
    """(texts, labels) of the golden set: a UTF-8 TSV with ``label`` and ``text`` columns."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or any(not row.get("label") or not row.get("text") for row in rows):
        raise ValueError(f"{path} needs non-empty 'label' and 'text' columns")
    return [row["text"] for row in rows], [row["label"] for row in rows]


def golden_metrics(
    model: Any, golden: tuple[list[str], list[str]], positive: str | None
) -> dict[str, Any]:
    """The model's metrics on the golden set, or ``{"problem": ...}`` when its labels are not
    the model's classes (then the gate cannot pass: there is nothing fixed to judge it by)."""
    texts, labels = golden
    classes = {str(c) for c in model.classes_}
    if set(labels) != classes:
        return {
            "problem": f"the golden set's labels {sorted(set(labels))} are not the model's "
            f"classes {sorted(classes)}: pass a golden set for these labels (--golden-set)"
        }
    return compute_metrics(model, texts, labels, positive)


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


def decide_gate(
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    golden: dict[str, Any] | None = None,
    champion_golden: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """``passed`` unless the challenger trails the champion on F1 or accuracy beyond tolerance
    on the held-out split, or on the golden set misses a floor or trails the champion beyond
    ``GOLDEN_MARGIN``. ``golden=None`` judges the held-out split alone (no golden set given)."""
    shortfalls = _golden_shortfalls(golden, champion_golden)
    if champion is not None:
        shortfalls += [
            f"{name} {challenger[name]:.4f} < champion {champion[name]:.4f} - {GATE_TOLERANCE}"
            for name in ("f1", "accuracy")
            if challenger[name] < champion[name] - GATE_TOLERANCE
        ]
    if shortfalls:
        lead = "challenger trails the champion or the golden set" if champion else "golden set"
        return "failed", f"{lead}: " + "; ".join(shortfalls)
    golden_note = (
        f"; golden set f1 {golden['f1']:.4f}, accuracy {golden['accuracy']:.4f}"
        if golden is not None
        else ""
    )
    if champion is None:
        return "passed", (
            f"no champion to compare with; challenger f1 {challenger['f1']:.4f}, "
            f"accuracy {challenger['accuracy']:.4f}{golden_note}"
        )
    return "passed", (
        f"challenger f1 {challenger['f1']:.4f} vs champion {champion['f1']:.4f}, "
        f"accuracy {challenger['accuracy']:.4f} vs {champion['accuracy']:.4f} "
        f"(tolerance {GATE_TOLERANCE}){golden_note}"
    )


def _golden_shortfalls(
    golden: dict[str, Any] | None, champion_golden: dict[str, Any] | None
) -> list[str]:
    if golden is None:
        return []
    if "problem" in golden:
        return [str(golden["problem"])]
    floors = {"accuracy": GOLDEN_MIN_ACCURACY, "f1": GOLDEN_MIN_F1}
    shortfalls = [
        f"golden {name} {golden[name]:.4f} < floor {floor}"
        for name, floor in floors.items()
        if not golden[name] >= floor
    ]
    if champion_golden is not None and "problem" not in champion_golden:
        shortfalls += [
            f"golden {name} {golden[name]:.4f} < champion {champion_golden[name]:.4f}"
            f" - {GOLDEN_MARGIN}"
            for name in GOLDEN_METRICS
            if golden[name] < champion_golden[name] - GOLDEN_MARGIN
        ]
    return shortfalls


def format_metric(value: float | None) -> str:
    """Tag values are strings; a metric that could not be computed is 'nan'."""
    return "nan" if value is None or math.isnan(value) else f"{value:.4f}"
