"""Files that ship with the app and both backends read: where they are, and the smoke set."""

from __future__ import annotations

import csv
from pathlib import Path

# The deployed package's root: host.json, training/ (the job's code) and the smoke set.
REPO_ROOT = Path(__file__).resolve().parents[2]


def load_smoke_set(path: Path) -> tuple[tuple[str, str], ...]:
    """Labelled examples (TSV with label and text columns) for smoke tests and canaries."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = tuple((row["label"], row["text"]) for row in csv.DictReader(handle, delimiter="\t"))
    if len(rows) < 4 or len({label for label, _ in rows}) < 2:
        raise ValueError(f"smoke set {path} needs at least 4 rows and 2 labels")
    return rows
