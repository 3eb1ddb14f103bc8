"""Train a text classifier, evaluate it against the champion, gate it and optionally register it.

    python train.py --data PATH --model-output DIR [--champion MODEL_DIR]
        [--positive-label spam] [--register-name NAME] [--job-name NAME]
        [--golden-set TSV] [--tag KEY=VALUE ...] [--seed 42]

Exit codes: 0 a model was trained (gate passed or failed), 2 invalid data, 1 unexpected error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import model_card
import model_store
import platt
import skipped_tag
import training_data
import unseen
from evaluation import (
    GOLDEN_METRICS,
    GOLDEN_SET,
    METRIC_NAMES,
    compute_metrics,
    decide_gate,
    format_metric,
    golden_metrics,
    load_golden_set,
    resolve_positive_label,
)
from training_data import Dataset, Split

EXIT_TRAINED, EXIT_ERROR, EXIT_INVALID_DATA = 0, 1, 2
MODEL_ARTIFACT = "model"  # the model folder's path in the run's artifacts
C = 1.0
CHAR_NGRAMS = (2, 4)
HASH_FEATURES = 2**18
CALIBRATION_FOLDS = 5


def _tag(pair: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {pair!r}")
    return key.strip(), value


def _base64url_json(encoded: str, option: str) -> Any:
    """Request data reaches an Azure ML command line as base64url only: [A-Za-z0-9_=-], so
    no blob name or tag is ever interpreted by the shell that runs the job."""
    try:
        raw = base64.b64decode(encoded.encode("ascii"), altchars=b"-_", validate=True)
        return json.loads(raw)
    except (ValueError, UnicodeError) as error:
        message = f"{option} is not base64url JSON: {error}"
        raise argparse.ArgumentTypeError(message) from None


def _accepted(encoded: str) -> list[str]:
    names = _base64url_json(encoded, "--accepted-files")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise argparse.ArgumentTypeError("--accepted-files must encode a JSON list of names")
    return names


def _lineage(encoded: str) -> list[tuple[str, str]]:
    tags = _base64url_json(encoded, "--lineage")
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise argparse.ArgumentTypeError("--lineage must encode a JSON object of strings")
    return [(str(key), value) for key, value in tags.items()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="data file or folder")
    parser.add_argument("--model-output", type=Path, required=True, help="output folder")
    parser.add_argument("--champion", type=Path, help="MLflow model folder of the champion")
    parser.add_argument(
        "--accepted-files",
        type=_accepted,
        help="train on these files under --data only (base64url JSON list of relative paths)",
    )
    parser.add_argument("--positive-label", default="spam")
    parser.add_argument("--register-name", help="register the model under this name")
    parser.add_argument(
        "--job-name", help="the job that trains: a job_name tag, how its submitter finds the model"
    )
    parser.add_argument("--tag", type=_tag, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--lineage",
        type=_lineage,
        default=[],
        help="more KEY=VALUE tags, as base64url JSON (what the app passes on Azure ML)",
    )
    parser.add_argument(
        "--golden-set",
        type=Path,
        default=GOLDEN_SET,
        help="the fixed labelled TSV challenger and champion are both scored on",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser


def build_pipeline(min_class_rows: int, seed: int) -> Any:
    """TF-IDF over hashed char n-grams into a linear SVM with calibrated probabilities.

    Hashed: no vocabulary to store, so the skops file stays small and quick to write and load
    (a 70k-term vocabulary serializes to ~60 MB of JSON). One vectorizer and no union of
    word and char features: each scikit-learn step costs more per text than its arithmetic,
    and char_wb 2-4 grams alone score as well on held-out rows (decision 223)."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.svm import LinearSVC

    # Case kept, words padded with a space: "FREE", " £" and "! " are spam cues.
    counts = HashingVectorizer(
        n_features=HASH_FEATURES,
        analyzer="char_wb",
        ngram_range=CHAR_NGRAMS,
        lowercase=False,
        alternate_sign=False,
        norm=None,
    )
    folds = max(2, min(CALIBRATION_FOLDS, min_class_rows))
    # ensemble=False: one SVM on all training rows, calibrated on cross-validated scores.
    classifier = CalibratedClassifierCV(
        LinearSVC(C=C, random_state=seed), cv=folds, method="sigmoid", ensemble=False
    )
    # ravel turns a list of texts or a one-column DataFrame (pyfunc input) into 1-D text.
    return Pipeline(
        [
            ("text", FunctionTransformer(np.ravel)),
            ("counts", counts),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ("classifier", classifier),
        ]
    )


def fit(split: Split, seed: int) -> Any:
    """The calibrated pipeline, fitted; n-grams unseen in training weigh nothing (unseen.py),
    and two classes are saved as the logistic regression the calibrated SVM equals (platt.py:
    the same probabilities at a fraction of the per-text cost)."""
    smallest = min(split.train_labels.count(c) for c in set(split.train_labels))
    fitted = build_pipeline(smallest, seed).fit(split.train_texts, split.train_labels)
    return platt.fold(unseen.forget_unseen(fitted, split.train_texts))


def file_lineage(files: list[Path], root: Path, tags: dict[str, str]) -> dict[str, Any]:
    """Each data file with its sha256 and size; ``data_sha256`` hashes the file hashes in order."""
    base = root if root.is_dir() else root.parent
    hashes = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    entries = [
        {"path": str(f.relative_to(base)), "sha256": digest, "size": f.stat().st_size}
        for f, digest in zip(files, hashes, strict=True)
    ]
    combined = hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    return {"data": str(root), "files": entries, "data_sha256": combined, "tags": tags}


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def reject(out: Path, data: Dataset) -> int:
    """Report invalid data on stderr and in the output folder; nothing is trained."""
    reason = f"data validation failed: {'; '.join(data.problems)}"
    write_json(out / "gate.json", {"gate": "failed", "reason": reason, "metrics": {}})
    print(
        "Data validation failed:", *(f"  - {p}" for p in data.problems), sep="\n", file=sys.stderr
    )
    print(f"Stats: {json.dumps(data.stats, sort_keys=True)}", file=sys.stderr)
    return EXIT_INVALID_DATA


def evaluate_champion(
    path: Path, split: Split, positive: str | None, golden: tuple[list[str], list[str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The champion on the challenger's held-out rows and on the golden set."""
    champion = model_store.load(path)
    held_out = compute_metrics(champion, split.test_texts, split.test_labels, positive)
    return held_out, golden_metrics(champion, golden, positive)


def version_tags(
    gate: dict[str, Any], metrics: dict[str, Any], lineage: dict[str, Any]
) -> dict[str, str]:
    """What the deploy handler reads: the gate, the metrics as strings, provenance, --tag values."""
    challenger = metrics["challenger"]
    tags: dict[str, str] = {"gate": gate["gate"], "gate_reason": gate["reason"]}
    tags |= {name: format_metric(challenger[name]) for name in METRIC_NAMES}
    golden = metrics["golden"]["challenger"]
    if "problem" not in golden:
        tags |= {f"golden_{name}": format_metric(golden[name]) for name in GOLDEN_METRICS}
    tags |= {
        "positive_label": metrics["positive_label"] or "",
        "data_sha256": lineage["data_sha256"],
    }
    provenance: dict[str, str] = lineage["tags"]
    return tags | provenance


def register(
    out: Path,
    name: str,
    tags: dict[str, str],
    params: dict[str, Any],
    skipped: dict[str, str],
) -> dict[str, str]:
    """One MLflow run with params, metrics and artifacts; one model version created with its tags.

    The tags go on at creation so a ModelRegistered handler never sees an untagged version.
    The saved model folder is logged as plain run artifacts and registered from ``runs:/``:
    MLflow 3's ``log_model`` first creates a LoggedModel (``/api/2.0/mlflow/logged-models``),
    which Azure ML's tracking server answers with 404. MLflow 2 and 3 both take this path.
    """
    import mlflow

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(run_metrics(metrics))
        mlflow.set_tags(tags)
        record_skipped(skipped)
        for artifact in (
            "model_card.md",
            "lineage.json",
            "metrics.json",
            "validation.json",
            "gate.json",
        ):
            mlflow.log_artifact(str(out / artifact))
        mlflow.log_artifacts(str(out / "model"), artifact_path=MODEL_ARTIFACT)
        model_uri = f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}"
        version = mlflow.register_model(model_uri, name, tags=tags)
        # The run names the one version it registered: the deploy gate refuses any other
        # version that points at this run's files.
        mlflow.set_tag("registered_version", str(version.version))
        registered = {"name": name, "version": str(version.version), "run_id": run.info.run_id}
    write_json(out / "registered.json", registered)
    return registered


def record_skipped(skipped: dict[str, str]) -> None:
    """Name the files this job skipped on its run, where the app reads them on Azure ML (in a
    job, MLflow's run is the job's own); skipped_tag.py says the form and its bound. Called
    with a run active; a job whose data is rejected starts one for it."""
    import mlflow

    if skipped:
        mlflow.set_tag(skipped_tag.SKIPPED_FILES_TAG, skipped_tag.encode(skipped))


def run_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """What the run records: the challenger's metrics as they are, the champion's with a
    ``champion_`` prefix, the golden set's with ``golden_`` (the deploy gate reads these)."""
    golden = metrics["golden"]
    roles = [
        ("", metrics["challenger"]),
        ("champion_", metrics["champion"]),
        ("golden_", golden["challenger"]),
        ("champion_golden_", golden["champion"]),
    ]
    return {
        prefix + name: float(values[name])
        for prefix, values in roles
        for name in METRIC_NAMES
        if values and values.get(name) is not None
    }


def evaluate(args: argparse.Namespace, data: Dataset) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Fit on the hash split; score challenger and champion on the held-out rows and on the
    golden set; gate."""
    split = training_data.hash_split(data.texts, data.labels)
    positive, note = resolve_positive_label(data.labels, args.positive_label)
    golden_set = load_golden_set(args.golden_set)
    started = time.perf_counter()
    model = fit(split, args.seed)
    fit_seconds = time.perf_counter() - started
    challenger = compute_metrics(model, split.test_texts, split.test_labels, positive)
    golden = golden_metrics(model, golden_set, positive)
    champion, champion_golden = (
        evaluate_champion(args.champion, split, positive, golden_set)
        if args.champion
        else (None, None)
    )
    verdict, reason = decide_gate(challenger, champion, golden, champion_golden)
    metrics = {
        "challenger": challenger,
        "champion": champion,
        "golden": {
            "challenger": golden,
            "champion": champion_golden,
            "rows": len(golden_set[1]),
            "sha256": hashlib.sha256(args.golden_set.read_bytes()).hexdigest(),
        },
        "positive_label": positive,
        "positive_label_note": note,
        "classes": [str(c) for c in model.classes_],
        "split": split.summary(),
        "fit_seconds": round(fit_seconds, 3),
    }
    gate = {
        "gate": verdict,
        "reason": reason,
        "metrics": challenger,
        "champion_metrics": champion,
        "golden_metrics": golden,
        "champion_golden_metrics": champion_golden,
    }
    return model, metrics, gate


def hyperparameters(args: argparse.Namespace, metrics: dict[str, Any]) -> dict[str, Any]:
    classes: list[str] = metrics["classes"]
    return {
        "seed": args.seed,
        "C": C,
        "calibration": "sigmoid",
        "served_as": "LogisticRegression" if len(classes) == 2 else "CalibratedClassifierCV",
        "char_ngrams": str(CHAR_NGRAMS),
        "unseen_ngram_idf": 0,
        "hash_features": HASH_FEATURES,
        "positive_label": metrics["positive_label"] or "",
        "classes": ",".join(classes),
        "train_rows": metrics["split"]["train_rows"],
        "golden_set_sha256": metrics["golden"]["sha256"],
    }


def train(args: argparse.Namespace) -> int:
    out: Path = args.model_output
    out.mkdir(parents=True, exist_ok=True)
    data, files = training_data.load(args.data, args.accepted_files)
    job = {"job_name": args.job_name} if args.job_name else {}
    lineage = file_lineage(files, args.data, dict(args.lineage) | dict(args.tag) | job)
    write_json(out / "lineage.json", lineage)
    write_json(out / "validation.json", data.report())
    if not data.valid:
        if args.register_name and data.skipped:  # the app quarantines them even so
            import mlflow

            with mlflow.start_run():
                record_skipped(data.skipped)
        return reject(out, data)

    model, metrics, gate = evaluate(args, data)
    params = hyperparameters(args, metrics) | {"data_sha256": lineage["data_sha256"]}
    shutil.rmtree(out / "model", ignore_errors=True)  # a rerun into the same folder
    model_store.save(model, out / "model")
    write_json(out / "metrics.json", metrics)
    write_json(out / "gate.json", gate)
    (out / "model_card.md").write_text(model_card.render(metrics, gate, lineage, params), "utf-8")
    if args.register_name:
        tags = version_tags(gate, metrics, lineage)
        registered = register(out, args.register_name, tags, params, data.skipped)
        print(f"registered {registered['name']} version {registered['version']}")
    print(f"gate {gate['gate']}: {gate['reason']}")
    return EXIT_TRAINED


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return train(args)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
