"""Scoring script for the Azure ML inference server (``azmlinfsrv --entry_script score.py``).

Request: ``{"data": ["text", ...]}`` with 1 to 1,000 non-empty strings of at most 5,000 chars.
Answer: one prediction per text (label, calibrated probability of that label, every class's
probability) and which model, deployment and image served it. Bad input gets a 400 that names
the problem, never a 500: that includes JSON nested past the recursion limit and integers
past Python's 4,300-digit limit, which the decoder raises as RecursionError and ValueError,
and a text with a lone surrogate (valid JSON escapes), which the vectorizer cannot encode.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# The server loads this file by path, so its sibling modules are not importable otherwise.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_store
import sklearn
from azureml.contrib.services.aml_response import AMLResponse

MAX_ITEMS = 1_000
MAX_TEXT_CHARS = 5_000

_model: Any = None


class BadRequest(ValueError):
    """The request body breaks the contract; the message is returned to the caller."""


def init() -> None:
    """Load the model once per worker from AZUREML_MODEL_DIR (MLmodel in it or below it)."""
    global _model
    _model = model_store.load(Path(os.environ["AZUREML_MODEL_DIR"]))


def parse_texts(raw_data: str) -> list[str]:
    if not raw_data.strip():
        raise BadRequest('the body is empty; send {"data": [...]} as application/json')
    try:
        body = json.loads(raw_data)
    except json.JSONDecodeError as err:
        raise BadRequest(f"the body is not valid JSON ({err.msg})") from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON (nested too deeply)") from None
    except ValueError:  # an integer over sys.get_int_max_str_digits()
        raise BadRequest("the body is not valid JSON (a number is too long)") from None
    if not isinstance(body, dict) or "data" not in body:
        raise BadRequest('the body must be a JSON object with a "data" list of texts')
    texts = body["data"]
    if not isinstance(texts, list):
        raise BadRequest('"data" must be a list of texts')
    if not 1 <= len(texts) <= MAX_ITEMS:
        raise BadRequest(f'"data" must hold 1 to {MAX_ITEMS} texts, got {len(texts)}')
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(f"data[{index}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise BadRequest(f"data[{index}] is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise BadRequest(f"data[{index}] has {len(text)} characters (at most {MAX_TEXT_CHARS})")
        if not text.isascii() and not _encodable(text):  # JSON can escape a lone surrogate
            raise BadRequest(f"data[{index}] holds a lone surrogate, which is not text")
    return texts


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def predict(texts: list[str]) -> list[dict[str, Any]]:
    classes = [str(c) for c in _model.classes_]
    predictions = []
    # The fitted model's hyperparameters were validated when it was trained, and features
    # counted from text are finite: skipping both checks on every call is about a fifth of
    # the per-text cost (sklearn.config_context; thread-local, so other requests keep theirs).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        probabilities = _model.predict_proba(texts)
    for row in probabilities:
        scores = {label: float(p) for label, p in zip(classes, row, strict=True)}
        label = max(scores, key=lambda c: scores[c])
        predictions.append({"label": label, "probability": scores[label], "scores": scores})
    return predictions


def model_info() -> dict[str, str]:
    variables = {
        "name": "MLOPS_MODEL_NAME",
        "version": "MLOPS_MODEL_VERSION",
        "deployment": "MLOPS_DEPLOYMENT",
        "image": "MLOPS_SERVING_IMAGE",
    }
    return {key: os.environ.get(variable, "") for key, variable in variables.items()}


def run(raw_data: str) -> Any:
    try:
        texts = parse_texts(raw_data)
    except BadRequest as err:
        return AMLResponse({"message": str(err)}, 400, json_str=True)
    return {"predictions": predict(texts), "model": model_info()}
