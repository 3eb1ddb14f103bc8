"""Training jobs as local processes of ``training/src/train.py``, and the events they cause:
``ModelRegistered`` for the version a job registers, ``RunCompleted`` or ``RunStatusChanged``
when it ends."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.local.inference_server import child_env, failure_reason
from shared.domain.events import MODEL_REGISTERED
from shared.domain.job_events import RUN_COMPLETED, RUN_STATUS_CHANGED
from shared.domain.values import ModelVersion

# Exit codes of train.py (see its --help).
EXIT_INVALID_DATA = 2


@dataclass(frozen=True)
class JobCommand:
    """What one job runs: an argument list, never a shell string."""

    python: str
    script: Path
    data: Path
    output_dir: Path
    model_name: str
    champion: Path | None
    positive_label: str
    tags: Mapping[str, str]

    def argv(self) -> list[str]:
        argv = [self.python, str(self.script), "--data", str(self.data)]
        argv += ["--model-output", str(self.output_dir), "--register-name", self.model_name]
        argv += ["--positive-label", self.positive_label]
        if self.champion is not None:
            argv += ["--champion", str(self.champion)]
        for key, value in self.tags.items():
            argv += ["--tag", f"{key}={value}"]
        return argv


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | failed
    model: tuple[str, str] | None
    error: str


def start_job(command: JobCommand, log_path: Path, tracking_uri: str) -> subprocess.Popen[bytes]:
    """Start the job in its own session; stdout and stderr go to one log, like Azure ML's
    ``user_logs/std_log.txt``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = child_env({"MLFLOW_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1"})
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command.argv(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=log_path.parent,
            start_new_session=True,
        )


def read_outcome(output_dir: Path, log_path: Path, returncode: int | None) -> Outcome:
    """Judge a finished job from its exit code (None: it ran in a process now gone) and files."""
    registered = _read_json(output_dir / "registered.json")
    if registered and returncode in (0, None):
        return Outcome("completed", (str(registered["name"]), str(registered["version"])), "")
    if returncode == EXIT_INVALID_DATA:
        reason = _validation_reason(output_dir / "validation.json") or failure_reason(log_path)
        return Outcome("failed", None, f"invalid training data: {reason}")
    if returncode == 0:
        return Outcome("failed", None, "the job finished without registering a model")
    prefix = "the job process is gone" if returncode is None else f"exit code {returncode}"
    detail = _validation_reason(output_dir / "validation.json") or failure_reason(log_path)
    return Outcome("failed", None, f"{prefix}: {detail}" if detail else prefix)


def model_registered_event(topic: str, model: ModelVersion) -> dict[str, Any]:
    """A ``ModelRegistered`` event in the Event Grid schema, as the workspace would send it."""
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": f"models/{model.name}:{model.version}",
        "eventType": MODEL_REGISTERED,
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "modelName": model.name,
            "modelVersion": model.version,
            "modelTags": dict(model.tags),
            "modelProperties": dict(model.properties),
        },
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def run_event(topic: str, experiment: str, job: str, status: str) -> dict[str, Any]:
    """The run event the workspace sends when a job ends, in the Event Grid schema (Learn,
    "Azure Machine Learning as an Event Grid source"): ``RunCompleted``, or ``RunStatusChanged``
    with the ending (``Failed``, ``Canceled``). The experiment id is a GUID there: here one
    derived from the name, so every job of an experiment has the same one."""
    experiment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}/experiments/{experiment}"))
    data: dict[str, Any] = {
        "experimentId": experiment_id,
        "experimentName": experiment,
        "runId": job,
        "runType": None,  # as in the documented samples
        "runTags": {},
        "runProperties": {},
    }
    if status != "completed":
        data["runStatus"] = status.capitalize()  # Failed, Canceled
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": f"experiments/{experiment_id}/runs/{job}",
        "eventType": RUN_COMPLETED if status == "completed" else RUN_STATUS_CHANGED,
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }


def skipped_files(output_dir: Path) -> dict[str, str]:
    """The files train.py could not read and trained without (its validation.json)."""
    report = _read_json(output_dir / "validation.json") or {}
    skipped = report.get("skipped_files")
    if not isinstance(skipped, dict):
        return {}
    return {str(name): str(reason)[:500] for name, reason in skipped.items()}


def _validation_reason(path: Path) -> str:
    """The problems train.py found in the data (its validation.json)."""
    report = _read_json(path) or {}
    problems = report.get("problems")
    if report.get("valid") is False and isinstance(problems, list) and problems:
        return "; ".join(str(problem) for problem in problems)[:1000]
    return ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None
