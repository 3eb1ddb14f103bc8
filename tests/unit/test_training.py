"""training/src: data validation, the stable split, the CLI outputs, the gate and registration."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shared.ops.demo import data as demodata

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SRC = REPO_ROOT / "training" / "src"
TRAIN_SCRIPT = TRAINING_SRC / "train.py"
SMS_FILE = REPO_ROOT.parent / "shared" / "data" / "sms_spam_collection.tsv"
sys.path.insert(0, str(TRAINING_SRC))

import model_store  # noqa: E402
import train  # noqa: E402
import training_data  # noqa: E402
from evaluation import compute_metrics  # noqa: E402

Rows = list[tuple[str, str]]


def write_csv(path: Path, header: str, rows: Rows) -> Path:
    body = "".join(f'{label},"{text}"\n' for label, text in rows)
    path.write_text(header + "\n" + body, encoding="utf-8")
    return path


def problems_for(path: Path) -> list[str]:
    data, _ = training_data.load(path)
    assert not data.valid
    return data.problems


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(TRAIN_SCRIPT), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_rows() -> Rows:
    return demodata.generate(1500, seed=11)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_rows: Rows) -> Iterator[Path]:
    """One CLI training run on demo data, shared by the tests that read its outputs."""
    root = tmp_path_factory.mktemp("trained")
    data = demodata.write_tsv(root / "data" / "part-1.tsv", demo_rows)
    result = run_cli("--data", data.parent, "--model-output", root / "out", "--tag", "etag=0x1")
    assert result.returncode == 0, result.stderr
    yield root / "out"


# Validation


def test_missing_columns_are_named(tmp_path: Path, demo_rows: Rows) -> None:
    path = write_csv(tmp_path / "d.csv", "label,body", demo_rows[:100])
    assert any("missing column(s) text" in p and "label, body" in p for p in problems_for(path))


def test_a_single_class_is_rejected(tmp_path: Path) -> None:
    rows = [("ham", f"message number {i}") for i in range(50)]
    assert any(
        "only one class ('ham')" in p
        for p in problems_for(write_csv(tmp_path / "d.csv", "label,text", rows))
    )


def test_too_few_rows_are_rejected(tmp_path: Path, demo_rows: Rows) -> None:
    path = write_csv(tmp_path / "d.csv", "label,text", demo_rows[:10])
    assert any("only 10 usable rows" in p for p in problems_for(path))


def test_a_rare_class_is_rejected(tmp_path: Path) -> None:
    rows = [("ham", f"hello {i}") for i in range(300)] + [("spam", f"win {i}") for i in range(4)]
    assert any(
        "class 'spam' has 4 rows" in p
        for p in problems_for(write_csv(tmp_path / "d.csv", "label,text", rows))
    )


def test_too_many_empty_texts_fail_and_a_few_are_dropped(tmp_path: Path, demo_rows: Rows) -> None:
    many = demo_rows[:200] + [("ham", "  ")] * 20
    assert any(
        "20 of 220 rows" in p and "empty" in p
        for p in problems_for(write_csv(tmp_path / "a.csv", "label,text", many))
    )
    few = demo_rows[:200] + [("ham", "")] * 2
    data, _ = training_data.load(write_csv(tmp_path / "b.csv", "label,text", few))
    assert data.valid and data.stats["empty_rows_dropped"] == 2 and data.stats["rows"] == 200


def test_duplicates_are_dropped_and_mostly_duplicates_fail(tmp_path: Path, demo_rows: Rows) -> None:
    some = demo_rows[:200] + demo_rows[:30]
    data, _ = training_data.load(write_csv(tmp_path / "a.csv", "label,text", some))
    assert data.valid and data.stats["duplicate_rows_dropped"] == 30
    mostly = demo_rows[:100] * 3
    assert any(
        "200 of 300 rows" in p and "repeat" in p
        for p in problems_for(write_csv(tmp_path / "b.csv", "label,text", mostly))
    )


def test_undecodable_utf8_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"label\ttext\nham\tcaf\xe9\n")
    assert any("bad.tsv: not valid UTF-8" in p for p in problems_for(path))


def test_folders_mix_csv_tsv_and_jsonl(tmp_path: Path, demo_rows: Rows) -> None:
    write_csv(tmp_path / "a.csv", "label,text,source", [(y, f'{t}","x') for y, t in demo_rows[:50]])
    demodata.write_tsv(tmp_path / "sub" / "b.tsv", demo_rows[50:100])
    lines = [
        json.dumps({"label": y, "text": t, "id": i}) for i, (y, t) in enumerate(demo_rows[100:150])
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(lines), encoding="utf-8")
    data, files = training_data.load(tmp_path)
    assert [f.name for f in files] == ["a.csv", "c.jsonl", "b.tsv"]
    assert data.valid and data.stats["rows"] == 150


def test_only_the_accepted_files_are_read(tmp_path: Path, demo_rows: Rows) -> None:
    demodata.write_tsv(tmp_path / "accepted.tsv", demo_rows[:100])
    demodata.write_tsv(tmp_path / "rejected.tsv", [("ham", "x")] * 100)
    data, files = training_data.load(tmp_path, ["accepted.tsv"])
    assert [f.name for f in files] == ["accepted.tsv"] and data.valid


@pytest.mark.parametrize("name", ["../outside.tsv", "/etc/passwd", "gone.tsv"])
def test_an_accepted_file_outside_the_folder_or_missing_stops_the_job(
    tmp_path: Path, demo_rows: Rows, name: str
) -> None:
    demodata.write_tsv(tmp_path / "accepted.tsv", demo_rows[:100])
    data, _ = training_data.load(tmp_path, ["accepted.tsv", name])
    assert not data.valid and any(repr(name) in p for p in data.problems)


def test_lineage_tags_arrive_as_base64url_json() -> None:
    encoded = base64.urlsafe_b64encode(json.dumps({"event_id": "e 1; x"}).encode()).decode()
    args = train.parse_args(["--data", "d", "--model-output", "o", "--lineage", encoded])
    assert dict(args.lineage) == {"event_id": "e 1; x"}
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "d", "--model-output", "o", "--lineage", "W10="])  # []


def test_the_accepted_files_argument_is_base64url_json() -> None:
    encoded = base64.urlsafe_b64encode(json.dumps(["a b.tsv"]).encode()).decode()
    args = train.parse_args(["--data", "d", "--model-output", "o", "--accepted-files", encoded])
    assert args.accepted_files == ["a b.tsv"]
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "d", "--model-output", "o", "--accepted-files", "a;rm -rf"])


def test_train_yml_runs_train_py_with_its_options_and_declares_its_required_inputs() -> None:
    """An optional input ($[[...]]) has no value in train.yml, or it could never drop out."""
    job = yaml.safe_load((REPO_ROOT / "training" / "jobs" / "train.yml").read_text())
    command: str = job["command"]
    optional = set(re.findall(r"\$\[\[[^]]*\$\{\{inputs\.(\w+)\}\}", command))
    required = set(re.findall(r"\$\{\{inputs\.(\w+)\}\}", re.sub(r"\$\[\[.*?\]\]", "", command)))
    assert required <= set(job["inputs"]) and not optional & set(job["inputs"])
    assert {"champion", "accepted_files", "lineage", "job_name"} <= optional
    options = set(re.findall(r"--[a-z-]+", train.build_parser().format_help()))
    assert set(re.findall(r"--[a-z-]+", command)) <= options


# Split


def test_hash_split_is_deterministic_and_stable_when_rows_are_added(demo_rows: Rows) -> None:
    labels, texts = [y for y, _ in demo_rows], [t for _, t in demo_rows]
    first = training_data.hash_split(texts[:1000], labels[:1000])
    assert first == training_data.hash_split(texts[:1000], labels[:1000])
    grown = training_data.hash_split(texts, labels)
    assert set(first.test_texts) <= set(grown.test_texts)
    assert set(first.train_texts) <= set(grown.train_texts)
    assert 0.15 < len(grown.test_texts) / len(texts) < 0.25


def test_stratified_split_keeps_class_shares(demo_rows: Rows) -> None:
    labels, texts = [y for y, _ in demo_rows], [t for _, t in demo_rows]
    split = training_data.stratified_split(texts, labels, seed=3)
    assert len(split.test_texts) == 300
    share = split.test_labels.count("spam") / 300
    assert abs(share - labels.count("spam") / len(labels)) < 0.01


# CLI and outputs


def test_cli_writes_model_metrics_gate_card_and_lineage(trained: Path) -> None:
    metrics, gate = read_json(trained / "metrics.json"), read_json(trained / "gate.json")
    assert metrics["classes"] == ["ham", "spam"] and metrics["positive_label"] == "spam"
    assert metrics["champion"] is None
    assert 0.9 < metrics["challenger"]["accuracy"] <= 1.0
    assert set(metrics["challenger"]) >= {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert gate["gate"] == "passed" and "no champion" in gate["reason"]
    assert read_json(trained / "validation.json")["valid"] is True
    lineage = read_json(trained / "lineage.json")
    assert lineage["tags"] == {"etag": "0x1"} and lineage["files"][0]["path"] == "part-1.tsv"
    assert len(lineage["files"][0]["sha256"]) == 64
    assert "## Intended use" in (trained / "model_card.md").read_text(encoding="utf-8")
    assert "serialization_format: skops" in (trained / "model" / "MLmodel").read_text()
    assert not list((trained / "model").glob("*.pkl"))


def test_the_saved_model_predicts_labels_and_probabilities(trained: Path) -> None:
    model = model_store.load(trained)
    texts = ["URGENT! You have won a £1000 prize. Call 09061234567 now", "see you at the pub at 7"]
    assert list(model.predict(texts)) == ["spam", "ham"]
    assert model.predict_proba(texts).sum(axis=1) == pytest.approx([1.0, 1.0])


def test_pyfunc_accepts_a_list_or_a_text_dataframe(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    import pandas as pd

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    model = mlflow.pyfunc.load_model(str(trained / "model"))
    texts = ["FREE entry to win a prize, txt WIN to 80086", "running late, be there in 5"]
    assert list(model.predict(texts)) == ["spam", "ham"]
    assert list(model.predict(pd.DataFrame({"text": texts}))) == ["spam", "ham"]


def test_invalid_data_exits_2_with_a_report_and_no_model(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "label,text", [("ham", f"hi {i}") for i in range(30)])
    result = run_cli("--data", path, "--model-output", tmp_path / "out")
    assert result.returncode == 2
    assert "only one class" in result.stderr
    report = read_json(tmp_path / "out" / "validation.json")
    assert report["valid"] is False and report["stats"]["rows"] == 30
    assert read_json(tmp_path / "out" / "gate.json")["gate"] == "failed"
    assert not (tmp_path / "out" / "model").exists()


def test_a_three_class_dataset_trains_with_macro_f1(tmp_path: Path) -> None:
    moods = {
        "positive": [
            "loved the {}",
            "great {} really",
            "the {} was excellent",
            "happy with the {}",
        ],
        "negative": [
            "hated the {}",
            "awful {} honestly",
            "the {} was terrible",
            "angry about the {}",
        ],
        "neutral": ["the {} arrived on tuesday", "a {} is on the table", "they sell the {} here"],
    }
    things = [
        f"{a} {b}"
        for a in ("red", "big", "old", "new", "cheap", "fancy")
        for b in ("phone", "film", "meal", "hotel", "book", "shoes", "bike")
    ]
    rows = [
        (mood, template.format(thing))
        for mood, templates in moods.items()
        for template in templates
        for thing in things
    ]
    path = write_csv(tmp_path / "reviews.csv", "label,text", rows)
    assert train.main(["--data", str(path), "--model-output", str(tmp_path / "out")]) == 0
    metrics = read_json(tmp_path / "out" / "metrics.json")
    assert metrics["classes"] == ["negative", "neutral", "positive"]
    assert metrics["positive_label"] is None and metrics["challenger"]["average"] == "macro"
    assert metrics["challenger"]["f1"] > 0.8 and metrics["challenger"]["roc_auc"] is not None


def test_an_absent_positive_label_falls_back_to_the_minority_class(tmp_path: Path) -> None:
    rows = [("good" if y == "ham" else "bad", t) for y, t in demodata.generate(400, seed=5)]
    path = write_csv(tmp_path / "d.csv", "label,text", rows)
    assert train.main(["--data", str(path), "--model-output", str(tmp_path / "out")]) == 0
    metrics = read_json(tmp_path / "out" / "metrics.json")
    assert (
        metrics["positive_label"] == "bad"
        and "minority class 'bad'" in metrics["positive_label_note"]
    )


# Champion and gate


def _train_on(rows: Rows, folder: Path, *extra: str) -> dict[str, Any]:
    data = demodata.write_tsv(folder / "data.tsv", rows)
    assert train.main(["--data", str(data), "--model-output", str(folder / "out"), *extra]) == 0
    gate: dict[str, Any] = read_json(folder / "out" / "gate.json")
    return gate


def _inverted_training_rows(rows: Rows) -> Rows:
    """Held-out rows keep their labels; training rows get the opposite one (a useless model)."""
    swap = {"ham": "spam", "spam": "ham"}
    return [(y if training_data.is_held_out(t) else swap[y], t) for y, t in rows]


def test_a_worse_champion_lets_the_challenger_pass(tmp_path: Path, demo_rows: Rows) -> None:
    _train_on(_inverted_training_rows(demo_rows), tmp_path / "champion")
    gate = _train_on(
        demo_rows,
        tmp_path / "challenger",
        "--champion",
        str(tmp_path / "champion" / "out" / "model"),
    )
    assert gate["gate"] == "passed"
    assert gate["champion_metrics"]["f1"] < gate["metrics"]["f1"]


def test_a_much_better_champion_fails_the_challenger(tmp_path: Path, demo_rows: Rows) -> None:
    _train_on(demo_rows, tmp_path / "champion")
    gate = _train_on(
        _inverted_training_rows(demo_rows),
        tmp_path / "challenger",
        "--champion",
        str(tmp_path / "champion" / "out"),
    )
    assert gate["gate"] == "failed"
    assert "trails the champion" in gate["reason"] and "f1" in gate["reason"]


# Registration


def test_registration_tags_the_version_and_writes_registered_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_rows: Rows
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # the sqlite store keeps artifacts under ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    extra = ["--register-name", "spam-filter", "--tag", "blob_url=https://acct/blob/a.tsv"]
    _train_on(demo_rows, tmp_path, *extra)
    registered = read_json(tmp_path / "out" / "registered.json")
    assert registered["name"] == "spam-filter" and registered["version"] == "1"
    tags = MlflowClient().get_model_version("spam-filter", "1").tags
    assert tags["gate"] == "passed" and tags["positive_label"] == "spam"
    assert tags["blob_url"] == "https://acct/blob/a.tsv"
    assert tags["data_sha256"] == read_json(tmp_path / "out" / "lineage.json")["data_sha256"]
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert len(tags[name].split(".")[1]) == 4
    run = MlflowClient().get_run(registered["run_id"])
    assert run.data.metrics["f1"] == pytest.approx(float(tags["f1"]), abs=1e-4)


# The published dataset, when present


def test_sms_spam_collection_reaches_the_accuracy_bar() -> None:
    if not SMS_FILE.exists():
        pytest.skip(f"{SMS_FILE} is absent; it lives beside the repo, not in it")
    data, _ = training_data.load(SMS_FILE)
    split = training_data.stratified_split(data.texts, data.labels, seed=42)
    model = train.fit(split, seed=42)
    metrics = compute_metrics(model, split.test_texts, split.test_labels, "spam")
    assert metrics["accuracy"] >= 0.99
    assert metrics["f1"] >= 0.95
