"""score.py under the real Azure ML inference server (azmlinfsrv) with a freshly trained model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local import inference_server
from shared.ops.demo import data as demodata
from tests.infra import dockerfile

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SRC = REPO_ROOT / "training" / "src"
sys.path.insert(0, str(TRAINING_SRC))

import model_store  # noqa: E402

AZMLINFSRV = inference_server.azmlinfsrv()
STARTUP_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def post(url: str, body: bytes) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (localhost)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_until_live(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azmlinfsrv exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (localhost)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"azmlinfsrv did not answer on {url} within {STARTUP_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    data = demodata.write_tsv(root / "data.tsv", demodata.generate(1500, seed=21))
    command = [sys.executable, str(TRAINING_SRC / "train.py"), "--data", str(data)]
    subprocess.run([*command, "--model-output", str(root / "out")], check=True, timeout=120)
    return root / "out"  # the MLmodel sits one level below, in out/model/


@contextmanager
def serving(env: dict[str, str], logs: Path, *entry: str) -> Iterator[str]:
    """azmlinfsrv on a free port until the block ends; yields the scoring URL."""
    port = free_port()
    log = (logs / "azmlinfsrv.log").open("wb")
    command = [str(AZMLINFSRV), *entry, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_live(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}/score"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def model_env(model_dir: Path) -> dict[str, str]:
    return os.environ | {
        "AZUREML_MODEL_DIR": str(model_dir),
        "MLOPS_MODEL_NAME": "spam-filter",
        "MLOPS_MODEL_VERSION": "3",
        "MLOPS_DEPLOYMENT": "green",
    }


@pytest.fixture(scope="module")
def score_url(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    entry = ("--entry_script", str(TRAINING_SRC / "score.py"))
    with serving(model_env(model_dir), tmp_path_factory.mktemp("logs"), *entry) as url:
        yield url


def test_scores_texts_with_calibrated_probabilities(score_url: str, model_dir: Path) -> None:
    texts = ["URGENT! You have won a £1000 prize. Call 09061234567 now", "see you at the pub at 7"]
    status, answer = post(score_url, json.dumps({"data": texts}).encode())
    assert status == 200
    assert [p["label"] for p in answer["predictions"]] == ["spam", "ham"]
    # Scored with scikit-learn's per-call checks off: the same numbers as the model's own.
    expected = model_store.load(model_dir).predict_proba(texts)
    for prediction, probabilities in zip(answer["predictions"], expected, strict=True):
        assert [prediction["scores"][c] for c in ("ham", "spam")] == pytest.approx(probabilities)
        assert set(prediction["scores"]) == {"ham", "spam"}
        assert sum(prediction["scores"].values()) == pytest.approx(1.0)
        assert prediction["probability"] == max(prediction["scores"].values())
    assert answer["model"] == {
        "name": "spam-filter",
        "version": "3",
        "deployment": "green",
        "image": "",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b'{"texts": ["hi"]}', '"data"'),
        (b'{"data": []}', "1 to 1000 texts, got 0"),
        (json.dumps({"data": ["hi"] * 1001}).encode(), "got 1001"),
        (b'{"data": ["hi", 42]}', "data[1] must be a string"),
        (b'{"data": ["hi", "   "]}', "data[1] is empty"),
        (json.dumps({"data": ["x" * 5001]}).encode(), "at most 5000"),
    ],
)
def test_bad_requests_get_a_400_naming_the_problem(
    score_url: str, body: bytes, problem: str
) -> None:
    status, answer = post(score_url, body)
    assert status == 400
    assert problem in answer["message"]


# The serving image (training/serving/Dockerfile) without a container runtime: what it copies,
# laid out as it lays it out, with its AML_APP_ROOT and entry script, served by the inference
# server venv built from the same pinned file as the image's environment
# (tests/infra/test_serving_image.py holds the two together).
SERVING_IMAGE = "crmlopsabc.azurecr.io/mlops/sklearn-serving@sha256:" + "c0ffee42" * 8


def test_the_serving_image_s_contents_serve_score_py(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = dockerfile.lay_out(tmp_path_factory.mktemp("image"))
    image_env = dockerfile.environment()
    app_root = root / image_env["AML_APP_ROOT"].lstrip("/")
    env = model_env(model_dir) | {
        "AML_APP_ROOT": str(app_root),
        "AZUREML_ENTRY_SCRIPT": image_env["AZUREML_ENTRY_SCRIPT"],
        "MLOPS_SERVING_IMAGE": SERVING_IMAGE,
    }
    env.pop("PYTHONPATH", None)  # nothing from this checkout but what the image copies
    entry = ("--entry_script", str(app_root / image_env["AZUREML_ENTRY_SCRIPT"]))
    with serving(env, tmp_path_factory.mktemp("image-logs"), *entry) as url:
        status, answer = post(url, json.dumps({"data": ["WIN a FREE prize now!!!"]}).encode())
        bad_status, bad = post(url, b'{"data": []}')
    assert status == 200, answer
    assert answer["predictions"][0]["label"] == "spam"
    assert answer["model"]["image"] == SERVING_IMAGE
    assert (bad_status, "got 0" in bad["message"]) == (400, True)
