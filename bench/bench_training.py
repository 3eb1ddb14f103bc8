"""Training time and accuracy on the SMS Spam Collection, and azmlinfsrv start-up time.

    python bench/bench_training.py

Prints one JSON document. The SMS file lives beside the repo (../shared/data); without it the
accuracy part is skipped with a message and the server is timed on a demo-data model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINING_SRC = REPO_ROOT / "training" / "src"
SMS_FILE = REPO_ROOT.parent / "shared" / "data" / "sms_spam_collection.tsv"
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(TRAINING_SRC))

import train  # noqa: E402
import training_data  # noqa: E402
from evaluation import compute_metrics  # noqa: E402

from bench.table import Row, at_least, at_most, row  # noqa: E402
from shared.adapters.local.inference_server import azmlinfsrv  # noqa: E402
from shared.ops.demo import data as demodata  # noqa: E402


def cli_training(data: Path, out: Path) -> dict[str, Any]:
    """End to end through the CLI, interpreter and imports included."""
    started = time.perf_counter()
    command = [sys.executable, str(TRAINING_SRC / "train.py"), "--data", str(data)]
    subprocess.run([*command, "--model-output", str(out)], check=True, capture_output=True)
    wall = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return {"cli_wall_seconds": round(wall, 2), "fit_seconds": metrics["fit_seconds"]}


def split_scores(split: training_data.Split) -> dict[str, Any]:
    started = time.perf_counter()
    model = train.fit(split, seed=42)
    fit_seconds = time.perf_counter() - started
    metrics = compute_metrics(model, split.test_texts, split.test_labels, "spam")
    return {
        "method": split.method,
        "test_rows": len(split.test_texts),
        "fit_seconds": round(fit_seconds, 2),
        **{name: round(metrics[name], 4) for name in ("accuracy", "precision", "recall", "f1")},
    }


def sms_benchmark(out: Path) -> dict[str, Any]:
    if not SMS_FILE.exists():
        return {"skipped": f"{SMS_FILE} is absent"}
    data, _ = training_data.load(SMS_FILE)
    return {
        "rows_after_cleaning": len(data.texts),
        "training": cli_training(SMS_FILE, out),
        "stratified_80_20": split_scores(training_data.stratified_split(data.texts, data.labels)),
        "hash_split": split_scores(training_data.hash_split(data.texts, data.labels)),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_startup_seconds(model_dir: Path) -> float:
    """From process start to the first 200 on GET / (the liveness route)."""
    port = free_port()
    command = [str(azmlinfsrv()), "--port", str(port)]
    command += ["--entry_script", str(TRAINING_SRC / "score.py")]
    env = os.environ | {"AZUREML_MODEL_DIR": str(model_dir)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    return round(time.perf_counter() - started, 2)
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"azmlinfsrv exited with {process.returncode}")
    finally:
        process.terminate()
        process.wait(timeout=15)


def rows(report: dict[str, Any]) -> list[Row]:
    sms = report["sms_spam_collection"]
    startup = report["azmlinfsrv_startup_seconds"]
    serving = row("`azmlinfsrv` start to its first 200 on `GET /`", startup, "s")
    if "skipped" in sms:
        figure = "training on the SMS Spam Collection"
        return [row(figure, None, "s", "< 10 s", None, sms["skipped"]), serving]
    wall, scores = sms["training"]["cli_wall_seconds"], sms["stratified_80_20"]
    accuracy, f1 = round(100 * scores["accuracy"], 2), scores["f1"]
    return [
        row(
            "training on the SMS Spam Collection, `train.py` end to end",
            wall,
            "s",
            "< 10 s",
            at_most(wall, 10),
            f"{sms['rows_after_cleaning']:,} rows after dropping duplicate texts; fit"
            f" {sms['training']['fit_seconds']} s; interpreter start and imports included",
        ),
        row(
            "held-out accuracy, stratified 80/20",
            accuracy,
            "%",
            "≥ 99.0 %",
            at_least(accuracy, 99.0),
            f"{scores['test_rows']} held-out rows; precision {scores['precision']},"
            f" recall {scores['recall']}",
        ),
        row("held-out spam F1, stratified 80/20", f1, "", "≥ 0.95", at_least(f1, 0.95)),
        serving,
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report: dict[str, Any] = {"sms_spam_collection": sms_benchmark(root / "sms")}
        served = root / "sms"
        if not (served / "model").exists():
            data = demodata.write_tsv(root / "demo.tsv", demodata.generate(3000, seed=1))
            cli_training(data, root / "demo")
            served = root / "demo"
        report["azmlinfsrv_startup_seconds"] = server_startup_seconds(served)
    print(json.dumps({"rows": rows(report), **report}, indent=2))


if __name__ == "__main__":
    main()
