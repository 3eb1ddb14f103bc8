"""Hostile scoring requests against score.py under the real Azure ML inference server
(azmlinfsrv), with a freshly trained model (issue 12, section 3).

The server hands an undecorated ``run()`` the body as text, and anything ``run()`` raises is
the server's 500: JSON nested past the recursion limit (RecursionError) and an integer past
Python's 4,300-digit limit (ValueError, not JSONDecodeError) must be score.py's own 400.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from shared.ops.demo import data as demodata
from tests.integration.test_score_server import (
    AZMLINFSRV,
    TRAINING_SRC,
    free_port,
    post,
    wait_until_live,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def score_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("hostile-score")
    data = demodata.write_tsv(root / "data.tsv", demodata.generate(600, seed=5))
    train = [sys.executable, str(TRAINING_SRC / "train.py"), "--data", str(data)]
    subprocess.run([*train, "--model-output", str(root / "out")], check=True, timeout=180)
    port = free_port()
    env = os.environ | {"AZUREML_MODEL_DIR": str(root / "out")}
    command = [str(AZMLINFSRV), "--entry_script", str(TRAINING_SRC / "score.py")]
    with (root / "azmlinfsrv.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
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


def nested(depth: int, leaf: str = '"hi"') -> str:
    return "[" * depth + leaf + "]" * depth


BODIES = {
    "nesting-past-recursion": (nested(100_000), "nested too deeply"),
    "nesting-in-an-unread-field": (
        '{"data": ["hi"], "x": ' + nested(50_000) + "}",
        "nested too deeply",
    ),
    "nesting-inside-data": ('{"data": [' + nested(500) + "]}", "data[0] must be a string"),
    "int-past-python-limit": ('{"data": [' + "9" * 5000 + "]}", "number is too long"),
    "negative-int-past-limit": ('{"data": ["hi"], "n": -' + "9" * 4301 + "}", "too long"),
    "int-in-an-unread-field": ('{"data": ["hi"], "n": ' + "1" * 10_000 + "}", "too long"),
    "huge-int-under-the-limit": ('{"data": [' + "9" * 4000 + "]}", "must be a string"),
    "float-overflow": ('{"data": [1e999]}', "must be a string"),
    "nan": ('{"data": [NaN]}', "must be a string"),
    "negative-infinity": ('{"data": ["hi", -Infinity]}', "data[1] must be a string"),
    "data-is-a-huge-int": ('{"data": ' + "7" * 5000 + "}", "too long"),
    "top-level-huge-int": ("8" * 5000, "too long"),
    "object-as-data": ('{"data": {"0": "hi"}}', '"data" must be a list'),
    "lone-surrogate": ('{"data": ["ok", "a\\ud800b"]}', "data[1] holds a lone surrogate"),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_json_is_a_400_naming_the_problem(score_url: str, case: str) -> None:
    body, problem = BODIES[case]
    status, answer = post(score_url, body.encode())
    assert status == 400, answer
    assert problem in answer["message"]
    assert "Traceback" not in json.dumps(answer)


def test_the_server_still_scores_after_all_of_that(score_url: str) -> None:
    status, answer = post(score_url, json.dumps({"data": ["see you at the pub at 7"]}).encode())
    assert status == 200
    assert len(answer["predictions"]) == 1
