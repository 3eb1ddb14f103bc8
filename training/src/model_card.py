"""The model card written beside every trained model (Markdown)."""

from __future__ import annotations

from typing import Any

from evaluation import METRIC_NAMES, format_metric


def _metrics_table(challenger: dict[str, Any], champion: dict[str, Any] | None) -> list[str]:
    lines = ["| metric | challenger | champion |", "|---|---|---|"]
    for name in METRIC_NAMES:
        theirs = format_metric(champion[name]) if champion else "-"
        lines.append(f"| {name} | {format_metric(challenger[name])} | {theirs} |")
    return lines


def render(
    metrics: dict[str, Any], gate: dict[str, Any], lineage: dict[str, Any], params: dict[str, Any]
) -> str:
    classes = ", ".join(f"`{c}`" for c in metrics["classes"])
    files = [
        f"- `{f['path']}`: {f['size']} bytes, sha256 `{f['sha256']}`" for f in lineage["files"]
    ]
    tags = [f"- {key}: `{value}`" for key, value in sorted(lineage["tags"].items())]
    split = metrics["split"]
    lines = [
        "# Model card: text classifier",
        "",
        "## Intended use",
        f"Classifies short texts (such as SMS messages) into one of: {classes}. "
        "It is meant to flag messages for filtering or review, not to take irreversible "
        "decisions on its own. Inputs are single texts of at most 5,000 characters.",
        "",
        "## Model",
        "TF-IDF features over hashed case-sensitive char_wb 2-4 grams (sublinear tf; "
        "n-grams no training text had weigh nothing) "
        "feeding a linear SVM whose scores are calibrated into probabilities (sigmoid); "
        "with two classes it is saved as the logistic regression that gives the same "
        "probabilities. "
        f"Parameters: `{params}`.",
        "",
        "## Data lineage",
        f"Data fingerprint (sha256 over the file hashes): `{lineage['data_sha256']}`.",
        *files,
        *(["", "Provenance tags:", *tags] if tags else []),
        "",
        "## Evaluation",
        f"Held-out split: {split['method']} ({split['test_rows']} test rows, "
        f"{split['train_rows']} training rows). {metrics['positive_label_note']}.",
        "",
        *_metrics_table(metrics["challenger"], metrics["champion"]),
        "",
        f"Gate: **{gate['gate']}**. {gate['reason']}.",
        "",
        "## Limitations",
        "- Learns surface patterns of its training data; new spam campaigns, other languages "
        "and other domains will lower accuracy until it is retrained on them.",
        "- Probabilities are calibrated on the training data; they drift with the data.",
        "- Duplicate texts are dropped before training and texts over 5,000 characters are "
        "truncated, so metrics describe distinct messages.",
        "- The held-out split is small for rare classes; small metric differences are noise.",
        "",
    ]
    return "\n".join(lines)
