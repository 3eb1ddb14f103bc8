"""Load, validate and split labelled text data (columns ``label`` and ``text``).

Formats, chosen by extension: ``.csv`` (RFC 4180 quoting), ``.tsv`` (tab-separated, no quoting,
as the SMS Spam Collection ships), ``.jsonl`` (one JSON object per line). Texts are stripped and
truncated to MAX_TEXT_CHARS, the same limit the scoring script enforces, so the model never
trains on inputs it could not be asked about.

A file training cannot read (not UTF-8, a CSV field over the csv module's limit, a missing
column, a JSONL line that is not an object with both keys, an unreadable path) is skipped and
reported in ``skipped_files`` (path inside the data folder -> why); the other files train.
The app quarantines what a job reports, so one bad file never fails every later job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_SUFFIXES = (".csv", ".tsv", ".jsonl")
REQUIRED_COLUMNS = ("label", "text")
MAX_TEXT_CHARS = 5_000
MIN_ROWS = 20
MIN_CLASS_ROWS = 5
MIN_CLASS_SHARE = 0.02
MAX_EMPTY_SHARE = 0.05
MAX_DUPLICATE_SHARE = 0.50
HELD_OUT_PERCENT = 20


@dataclass
class Dataset:
    """Rows after cleaning, plus what validation found on the way."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was not read

    @property
    def valid(self) -> bool:
        return not self.problems

    def report(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": self.problems,
            "stats": self.stats,
            "skipped_files": self.skipped,
        }


class BadFile(Exception):
    """A file training cannot read: skipped and reported, the rest trains."""


@dataclass(frozen=True)
class Split:
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    method: str

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "train_rows": len(self.train_texts),
            "test_rows": len(self.test_texts),
            "test_class_counts": dict(sorted(Counter(self.test_labels).items())),
        }


def find_data_files(path: Path) -> list[Path]:
    """The file itself, or every data file below the folder (recursively, sorted)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


def read_file(path: Path) -> list[tuple[str, str]]:
    """The (label, text) rows of one file; raises BadFile saying why it cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise BadFile(f"cannot be read ({err.strerror or type(err).__name__})") from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadFile(f"not valid UTF-8 (byte {err.start}: {err.reason})") from None
    if path.suffix.lower() == ".jsonl":
        return _jsonl_rows(content)
    try:
        return _delimited_rows(path, content)
    except csv.Error as err:  # e.g. a field longer than csv.field_size_limit()
        raise BadFile(f"not valid {path.suffix.lower()[1:].upper()}: {err}") from None


def _delimited_rows(path: Path, content: str) -> list[tuple[str, str]]:
    tsv = path.suffix.lower() == ".tsv"
    reader = csv.DictReader(
        io.StringIO(content, newline=""),
        delimiter="\t" if tsv else ",",
        quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        found = ", ".join(reader.fieldnames or []) or "none"
        raise BadFile(f"missing column(s) {', '.join(missing)} (found: {found})")
    return [(row["label"] or "", row["text"] or "") for row in reader]


def _jsonl_rows(content: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadFile(f"line {number} is not JSON ({err.msg})") from None
        except RecursionError:
            raise BadFile(f"line {number} nests too deeply") from None
        if not isinstance(record, dict) or not all(c in record for c in REQUIRED_COLUMNS):
            raise BadFile(f"line {number} lacks the 'label' and 'text' keys")
        rows.append((_as_text(record["label"]), _as_text(record["text"])))
    return rows


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def read_rows(
    files: list[Path], root: Path | None = None
) -> tuple[list[tuple[str, str]], list[str], dict[str, str]]:
    """All (label, text) rows of the readable files in order, the problems that stop the job
    and the files skipped (named relative to ``root``, with why)."""
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    skipped: dict[str, str] = {}
    if not files:
        problems.append(f"no data files found (expected {', '.join(DATA_SUFFIXES)})")
    for path in files:
        try:
            rows.extend(read_file(path))
        except BadFile as bad:
            skipped[_name(path, root)] = str(bad)
    if files and len(skipped) == len(files):
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        problems.append(f"no data file could be read: {reasons}")
    return rows, problems, skipped


def _name(path: Path, root: Path | None) -> str:
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return path.name


def clean(rows: list[tuple[str, str]], problems: list[str]) -> Dataset:
    """Drop empty and duplicate rows, truncate long texts, then check size and balance."""
    data = Dataset(problems=list(problems))
    seen: dict[str, str] = {}
    empty = truncated = duplicates = conflicting = 0
    for raw_label, raw_text in rows:
        label, text = raw_label.strip(), raw_text.strip()
        if not label or not text:
            empty += 1
            continue
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS]
            truncated += 1
        if text in seen:
            duplicates += 1
            conflicting += seen[text] != label
            continue
        seen[text] = label
        data.texts.append(text)
        data.labels.append(label)
    data.stats = {
        "rows_read": len(rows),
        "empty_rows_dropped": empty,
        "duplicate_rows_dropped": duplicates,
        "duplicates_with_conflicting_labels": conflicting,
        "texts_truncated": truncated,
        "rows": len(data.texts),
        "class_counts": dict(sorted(Counter(data.labels).items())),
    }
    data.problems.extend(_share_problems(len(rows), empty, duplicates))
    data.problems.extend(_size_problems(data.labels))
    return data


def _share_problems(read: int, empty: int, duplicates: int) -> list[str]:
    problems = []
    if read and empty / read > MAX_EMPTY_SHARE:
        problems.append(
            f"{empty} of {read} rows ({empty / read:.1%}) have an empty label or text "
            f"(at most {MAX_EMPTY_SHARE:.0%} allowed)"
        )
    non_empty = read - empty
    if non_empty and duplicates / non_empty > MAX_DUPLICATE_SHARE:
        problems.append(
            f"{duplicates} of {non_empty} rows ({duplicates / non_empty:.1%}) repeat an earlier "
            f"text (at most {MAX_DUPLICATE_SHARE:.0%} allowed)"
        )
    return problems


def _size_problems(labels: list[str]) -> list[str]:
    counts = Counter(labels)
    if len(labels) < MIN_ROWS:
        return [f"only {len(labels)} usable rows after cleaning (at least {MIN_ROWS} needed)"]
    if len(counts) < 2:
        found = ", ".join(repr(c) for c in counts) or "none"
        return [f"only one class ({found}); at least 2 classes are needed"]
    floor = max(MIN_CLASS_ROWS, MIN_CLASS_SHARE * len(labels))
    return [
        f"class {label!r} has {count} rows ({count / len(labels):.1%}); each class needs at least "
        f"{MIN_CLASS_ROWS} rows and {MIN_CLASS_SHARE:.0%} of the data"
        for label, count in sorted(counts.items())
        if count < floor
    ]


def split_problems(split: Split) -> list[str]:
    """The held-out split must be usable: rows to test on, every class to train on."""
    problems = []
    if not split.test_texts:
        problems.append("the held-out split is empty; add more rows")
    train_counts = Counter(split.train_labels)
    for label in sorted(set(split.train_labels) | set(split.test_labels)):
        if train_counts[label] < 2:
            problems.append(f"class {label!r} has fewer than 2 rows in the training split")
    return problems


def accepted_files(path: Path, names: list[str]) -> tuple[list[Path], list[str]]:
    """The accepted files under the folder ``path``: a listed file that is missing, or a name
    that would leave the folder, stops the job rather than train on another set."""
    files: list[Path] = []
    problems: list[str] = []
    for name in names:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not name:
            problems.append(f"accepted file name {name!r} is not a path inside the dataset")
        elif not (path / relative).is_file():
            problems.append(f"accepted file {name!r} is missing from {path}")
        else:
            files.append(path / relative)
    return files, problems


def load(path: Path, only: list[str] | None = None) -> tuple[Dataset, list[Path]]:
    """Read and validate the data files at ``path`` (only the ``only`` names, when given, as
    the app accepted them); the files are returned for lineage."""
    if not path.exists():
        return Dataset(problems=[f"data path {path} does not exist"]), []
    listed: list[str] = []
    if only is None:
        files = find_data_files(path)
    else:
        files, listed = accepted_files(path, only)
    root = path if path.is_dir() else path.parent
    rows, problems, skipped = read_rows(files, root)
    problems = listed + problems
    data = clean(rows, problems)
    data.skipped = skipped
    data.stats["files"] = len(files) - len(skipped)
    data.stats["files_skipped"] = len(skipped)
    if data.valid:
        split = hash_split(data.texts, data.labels)
        data.problems.extend(split_problems(split))
        data.stats["split"] = split.summary()
    read = [f for f in files if _name(f, root) not in skipped]
    return data, read  # the files trained on: the lineage names these


def is_held_out(text: str) -> bool:
    """Stable across data versions: a text keeps its side of the split when data is added."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 100 < HELD_OUT_PERCENT


def hash_split(texts: list[str], labels: list[str]) -> Split:
    held_out = [is_held_out(t) for t in texts]
    return Split(
        train_texts=[t for t, h in zip(texts, held_out, strict=True) if not h],
        train_labels=[y for y, h in zip(labels, held_out, strict=True) if not h],
        test_texts=[t for t, h in zip(texts, held_out, strict=True) if h],
        test_labels=[y for y, h in zip(labels, held_out, strict=True) if h],
        method=f"sha256(text)[:8] % 100 < {HELD_OUT_PERCENT}",
    )


def stratified_split(texts: list[str], labels: list[str], seed: int = 42) -> Split:
    """The conventional stratified 80/20 split, for benchmarks against published numbers."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    return Split(list(x_train), list(y_train), list(x_test), list(y_test), "stratified 80/20")
