"""Scoring: one text and batches of 1,000 through score.py, and one text over HTTP through
azmlinfsrv, for the model train.py saves beside the calibrated pipeline it replaced.

    python bench/bench_scoring.py

"Before" is the pipeline train.py fitted until decisions 221-223, rebuilt by
``previous_pipeline`` (hashed word 1-2 and char_wb 1-5 TF-IDF in a FeatureUnion, a calibrated
SVM, saved as is); "after" is ``train.fit``. Both are fitted on the same rows in this run;
each timing is a before/after pair taken in turns, the median of RUNS runs. score.py runs in
the inference server's venv (its Python and pins), as a deployment runs it. The data is the
SMS Spam Collection's hash split when the file is beside the repo (../shared/data), else
generated demo data (said in each row).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TRAINING_SRC = REPO / "training" / "src"
SMS_FILE = REPO.parent / "shared" / "data" / "sms_spam_collection.tsv"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(TRAINING_SRC))

import model_store  # noqa: E402
import train  # noqa: E402
import training_data  # noqa: E402
from evaluation import compute_metrics  # noqa: E402

from bench.table import Row, at_least, at_most, row  # noqa: E402
from shared.adapters.local.inference_server import azmlinfsrv  # noqa: E402
from shared.ops.demo import data as demodata  # noqa: E402

RUNS = 5
CALLS = 200  # one-text calls per run
BATCH = 1_000
REQUESTS = 300  # HTTP requests per run, after WARM_UP
WARM_UP = 30
TEXT = "URGENT! You have won a £1000 prize. Call 09061234567 now"
MODELS = ("before", "after")

# Runs in the inference server's venv: score.py as azmlinfsrv imports it, one model at a time
# (init() reads AZUREML_MODEL_DIR), runs alternating between the models.
_PROBE = """
import json, os, statistics, sys, time
config = json.loads(open(sys.argv[1], encoding="utf-8").read())
sys.path.insert(0, config["src"])
import azureml_inference_server_http.server  # maps azureml.contrib.services, as the server does
import score

def per_call(fn, calls):
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls

models = {}
for name, folder in config["dirs"].items():
    os.environ["AZUREML_MODEL_DIR"] = folder
    score.init()
    models[name] = score._model
one, batch, calls = [config["text"]], config["batch"], config["calls"]
body = json.dumps({"data": one})
samples = {name: {"run": [], "predict": [], "model": [], "batch": []} for name in models}
for _ in range(config["runs"]):
    for name, model in models.items():
        score._model = model
        s = samples[name]
        s["run"].append(per_call(lambda: score.run(body), calls))
        s["predict"].append(per_call(lambda: score.predict(one), calls))
        s["model"].append(per_call(lambda: model.predict_proba(one), calls))
        s["batch"].append(per_call(lambda: score.predict(batch), 1))
print(json.dumps({n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}))
"""


def holdout() -> tuple[training_data.Split, str]:
    if SMS_FILE.exists():
        data, _ = training_data.load(SMS_FILE)
        return training_data.hash_split(data.texts, data.labels), "SMS Spam Collection"
    rows = demodata.generate(3000, seed=1)
    texts, labels = [t for _, t in rows], [y for y, _ in rows]
    return training_data.hash_split(texts, labels), f"demo data ({SMS_FILE} is absent)"


def previous_pipeline(min_class_rows: int, seed: int) -> Any:
    """train.build_pipeline as it was before decisions 221-223, kept to compare against."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.svm import LinearSVC

    def tfidf(**hashing: Any) -> Any:
        counts = HashingVectorizer(n_features=2**18, alternate_sign=False, norm=None, **hashing)
        return make_pipeline(counts, TfidfTransformer(sublinear_tf=True))

    word = tfidf(ngram_range=(1, 2))
    char = tfidf(analyzer="char_wb", ngram_range=(1, 5), lowercase=False)
    svm = LinearSVC(C=1.0, random_state=seed)
    folds = max(2, min(5, min_class_rows))
    classifier = CalibratedClassifierCV(svm, cv=folds, method="sigmoid", ensemble=False)
    return Pipeline(
        [
            ("text", FunctionTransformer(np.ravel)),
            ("features", FeatureUnion([("word", word), ("char", char)])),
            ("classifier", classifier),
        ]
    )


def fitted(split: training_data.Split) -> dict[str, Any]:
    smallest = min(split.train_labels.count(c) for c in set(split.train_labels))
    before = previous_pipeline(smallest, seed=42).fit(split.train_texts, split.train_labels)
    return {"before": before, "after": train.fit(split, seed=42)}


def calibration(model: Any, split: training_data.Split) -> dict[str, Any]:
    """Brier score and a 10-bin reliability table of P(spam) on the held-out rows."""
    from sklearn.metrics import brier_score_loss

    column = [str(c) for c in model.classes_].index("spam")
    predicted = model.predict_proba(split.test_texts)[:, column]
    truth = [label == "spam" for label in split.test_labels]
    bins: dict[int, list[tuple[float, bool]]] = {}
    for p, y in zip(predicted, truth, strict=True):
        bins.setdefault(min(int(p * 10), 9), []).append((float(p), y))
    summary = [
        (
            f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
            len(items),
            statistics.fmean(p for p, _ in items),
            statistics.fmean(float(y) for _, y in items),
        )
        for b, items in sorted(bins.items())
    ]
    error = sum(rows * abs(mean - observed) for _, rows, mean, observed in summary)
    table = [
        {"bin": b, "rows": n, "mean_predicted": round(m, 4), "observed_spam": round(o, 4)}
        for b, n, m, o in summary
    ]
    return {
        "brier": round(float(brier_score_loss(truth, predicted)), 5),
        "expected_calibration_error": round(error / len(truth), 5),
        "reliability": table,
    }


def quality(models: dict[str, Any], split: training_data.Split) -> dict[str, Any]:
    report = {}
    for name, model in models.items():
        metrics = compute_metrics(model, split.test_texts, split.test_labels, "spam")
        scores = {k: round(metrics[k], 4) for k in ("accuracy", "precision", "recall", "f1")}
        report[name] = scores | calibration(model, split)
    return report


def in_process(models: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """model.predict_proba in this interpreter (the app's Python), alternating the models."""
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(RUNS):
        for name, model in models.items():
            started = time.perf_counter()
            for _ in range(CALLS):
                model.predict_proba([TEXT])
            samples[name].append((time.perf_counter() - started) / CALLS)
    batch: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(RUNS):
        for name, model in models.items():
            started = time.perf_counter()
            model.predict_proba(texts)
            batch[name].append(time.perf_counter() - started)
    return {
        name: {
            "one_text_ms": round(1e3 * statistics.median(samples[name]), 3),
            "texts_per_second": round(len(texts) / statistics.median(batch[name])),
        }
        for name in models
    }


def through_score_py(dirs: dict[str, Path], texts: list[str]) -> dict[str, Any]:
    python = azmlinfsrv().parent / "python"
    config = {
        "src": str(TRAINING_SRC),
        "dirs": {name: str(folder) for name, folder in dirs.items()},
        "text": TEXT,
        "batch": texts,
        "runs": RUNS,
        "calls": CALLS,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as handle:
        json.dump(config, handle)
        handle.flush()
        command = [str(python), "-c", _PROBE, handle.name]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the score.py probe failed: {out.stderr[-2000:]}")
    medians = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        name: {
            "run_ms": round(1e3 * m["run"], 3),
            "predict_ms": round(1e3 * m["predict"], 3),
            "model_ms": round(1e3 * m["model"], 3),
            "texts_per_second": round(len(texts) / m["batch"]),
        }
        for name, m in medians.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(model_dir: Path) -> Iterator[int]:
    port = free_port()
    command = [str(azmlinfsrv()), "--port", str(port)]
    command += ["--entry_script", str(TRAINING_SRC / "score.py")]
    env = os.environ | {"AZUREML_MODEL_DIR": str(model_dir)}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"azmlinfsrv did not start (exit status {process.poll()})")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def latencies(port: int, requests: int) -> list[float]:
    """Seconds per POST /score of one text; http.client reconnects when the server closes."""
    body = json.dumps({"data": [TEXT]}).encode()
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("POST", "/score", body, headers)
            response = connection.getresponse()
            response.read()
            samples.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"POST /score answered {response.status}")
    finally:
        connection.close()
    return samples


def percentile(samples: list[float], share: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(share * len(samples)))]


def over_http(dirs: dict[str, Path]) -> dict[str, Any]:
    """p50 and p99 of each run, medians over RUNS; the two servers run one after the other."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in dirs}
    for name, folder in dirs.items():
        with server(folder) as port:
            latencies(port, WARM_UP)
            for _ in range(RUNS):
                samples = latencies(port, REQUESTS)
                runs[name].append((percentile(samples, 0.5), percentile(samples, 0.99)))
    return {
        name: {
            "p50_ms": round(1e3 * statistics.median(p50 for p50, _ in pairs), 2),
            "p99_ms": round(1e3 * statistics.median(p99 for _, p99 in pairs), 2),
        }
        for name, pairs in runs.items()
    }


def rows(report: dict[str, Any]) -> list[Row]:
    scored, direct, http_ = report["score_py"], report["in_process"], report["http"]
    q, data = report["holdout"], report["data"]
    before, after = scored["before"], scored["after"]
    one = after["predict_ms"]
    runs = f"medians of {RUNS} runs"
    one_detail = (
        f"score.predict in the server's venv: {one} ms vs {before['predict_ms']} ms before "
        f"(×{before['predict_ms'] / one:.1f}); score.run with JSON {after['run_ms']} vs "
        f"{before['run_ms']} ms; model.predict_proba alone {after['model_ms']} vs "
        f"{before['model_ms']} ms there, {direct['after']['one_text_ms']} vs "
        f"{direct['before']['one_text_ms']} ms on the app's Python; {runs} of {CALLS} calls"
    )
    rate = after["texts_per_second"]
    rate_detail = (
        f"score.predict of {BATCH} texts: {rate:,} vs {before['texts_per_second']:,} texts/s "
        f"before; model.predict_proba on the app's Python {direct['after']['texts_per_second']:,}"
        f" vs {direct['before']['texts_per_second']:,}; {runs}; bound by the char n-gram "
        "analyzer (Python, ~200 char_wb 2-4 grams a text) and their hashing, see decision 223"
    )
    p50, p99 = http_["after"]["p50_ms"], http_["after"]["p99_ms"]
    http_detail = (
        f"p50 {p50} ms, p99 {p99} ms vs {http_['before']['p50_ms']} / "
        f"{http_['before']['p99_ms']} ms before; {runs} of {REQUESTS} POSTs of one text"
    )
    kept = all(q["after"][k] >= q["before"][k] for k in ("accuracy", "f1"))
    quality_detail = (
        f"{data} hash split: accuracy {q['after']['accuracy']} vs {q['before']['accuracy']}, "
        f"F1 {q['after']['f1']} vs {q['before']['f1']}, Brier {q['after']['brier']} vs "
        f"{q['before']['brier']}, calibration error {q['after']['expected_calibration_error']}"
        f" vs {q['before']['expected_calibration_error']} (10 bins)"
    )
    return [
        row(
            "`score.py` predict for 1 text (model only)",
            one,
            "ms",
            "≤ 1 ms",
            at_most(one, 1.0),
            one_detail,
        ),
        row(
            "scoring over HTTP through `azmlinfsrv`, p50, 1 text",
            p50,
            "ms",
            "≤ 4 ms",
            at_most(p50, 4.0),
            http_detail,
        ),
        row(
            "scoring over HTTP through `azmlinfsrv`, p99, 1 text",
            p99,
            "ms",
            "≤ 8 ms",
            at_most(p99, 8.0),
            http_detail,
        ),
        row(
            "scoring throughput, batches of 1,000 texts",
            rate,
            "texts/s",
            "≥ 20,000 texts/s",
            at_least(rate, 20_000),
            rate_detail,
        ),
        row(
            "holdout accuracy after the model change",
            q["after"]["accuracy"],
            "",
            "≥ before, F1 too",
            kept,
            quality_detail,
        ),
    ]


def reliability_table(report: dict[str, Any]) -> dict[str, Any]:
    after = report["holdout"]["after"]["reliability"]
    return {
        "title": f"Reliability of P(spam) on the held-out rows ({report['data']}), after",
        "header": ["P(spam) bin", "rows", "mean predicted", "observed spam share"],
        "rows": [
            [t["bin"], str(t["rows"]), str(t["mean_predicted"]), str(t["observed_spam"])]
            for t in after
        ],
    }


def main() -> dict[str, Any]:
    split, data = holdout()
    models = fitted(split)
    texts = (split.test_texts * (BATCH // len(split.test_texts) + 1))[:BATCH]
    report: dict[str, Any] = {"data": data, "holdout": quality(models, split)}
    report["in_process"] = in_process(models, texts)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {name: Path(tmp) / name for name in MODELS}
        for name, folder in dirs.items():
            model_store.save(models[name], folder)
        report["score_py"] = through_score_py(dirs, texts)
        report["http"] = over_http(dirs)
    return {"rows": rows(report), "tables": [reliability_table(report)], **report}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
