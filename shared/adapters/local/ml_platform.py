"""The local stand-in for Azure Machine Learning, built from real local parts.

Jobs are processes of ``training/src/train.py``; the model registry is MLflow on SQLite
(``home/mlflow.db``, artifacts under ``home/mlartifacts``); endpoints and deployments are
``azmlinfsrv`` processes (see ``endpoints.py``). Records live in SQLite under ``home/ml`` so
a later CLI process sees what an earlier one created.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from shared.adapters.local import inference_server as server
from shared.adapters.local.endpoints import LocalEndpoints
from shared.adapters.local.event_grid import DEFAULT_EXPERIMENT
from shared.adapters.local.live_traffic import LocalLiveTraffic
from shared.adapters.local.model_registry import MlflowRegistry, check_name
from shared.adapters.local.platform_db import JobRow, PlatformDB
from shared.adapters.local.training_jobs import (
    JobCommand,
    Outcome,
    model_registered_event,
    read_outcome,
    run_event,
    skipped_files,
    start_job,
)
from shared.domain.values import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    JobInfo,
    JobStatus,
    ModelRef,
    ModelVersion,
    TrainingJobRequest,
    TrainingRun,
)
from shared.ports import NotFound

log = logging.getLogger(__name__)
_JOB_MARKERS = ("train.py",)


class LocalMLPlatform:
    """Implements ``MLPlatform``. Thread-safe; ``close()`` stops every process it started."""

    def __init__(
        self,
        *,
        home: Path,
        resolve_data: Callable[[str], Path],
        publish: Callable[[Mapping[str, Any]], None],
        workspace_topic: str,
        repo_root: Path,
        python: str = sys.executable,
        positive_label: str = "spam",
        experiment: str = DEFAULT_EXPERIMENT,
        ready_timeout: float = 120.0,
        request_timeout: float = 30.0,
    ) -> None:
        self._ml = home / "ml"
        self._db = PlatformDB(self._ml / "platform.db")
        self._registry = MlflowRegistry(home)
        self._resolve_data = resolve_data
        self._publish = publish
        self._topic = workspace_topic
        self._experiment = experiment  # the app's, as Azure ML jobs run under its model name
        self._src = repo_root / "training" / "src"
        self._python = python
        self._positive_label = positive_label
        self._endpoints = LocalEndpoints(
            ml_dir=self._ml,
            db=self._db,
            entry_script=self._src / "score.py",
            model_path=self.model_path,
            ready_timeout=ready_timeout,
            request_timeout=request_timeout,
        )
        self._lock = threading.RLock()
        self._jobs: dict[str, subprocess.Popen[bytes]] = {}
        self._watchers: dict[str, threading.Thread] = {}
        self._closed = False

    # Jobs

    def submit_job(self, request: TrainingJobRequest) -> JobInfo:
        """Start train.py unless a job of that name exists. Raises NotFound for a missing
        champion or dataset."""
        check_name("job", request.name)
        check_name("model", request.model_name)
        with self._lock:
            self._check_open()
            if self._db.job(request.name) is not None:
                return self.get_job(request.name)
            job_dir = self._ml / "jobs" / request.name
            command = JobCommand(
                python=self._python,
                script=self._src / "train.py",
                data=self._job_inputs(request, job_dir / "inputs"),
                output_dir=job_dir / "outputs",
                model_name=request.model_name,
                champion=self.model_path(request.champion) if request.champion else None,
                positive_label=self._positive_label,
                tags={**request.tags, "job_name": request.name},
            )
            shutil.rmtree(command.output_dir, ignore_errors=True)
            # Create (and migrate) the MLflow database before the job process touches it.
            self._registry.client()
            log_path = job_dir / "std_log.txt"
            process = start_job(command, log_path, self._registry.tracking_uri)
            row = JobRow(request.name, "running", process.pid, command.output_dir, log_path)
            if not self._db.claim_job(row):  # another process submitted it a moment ago
                server.stop_process(process)
                return self.get_job(request.name)
            self._jobs[request.name] = process
            watcher = threading.Thread(
                target=self._watch,
                args=(request.name, process),
                name=f"job-{request.name}",
                daemon=True,
            )
            watcher.start()
            self._watchers[request.name] = watcher
        return JobInfo(request.name, "running")

    def _job_inputs(self, request: TrainingJobRequest, inputs: Path) -> Path:
        """The dataset folder, or, when the request names its accepted files, a snapshot of
        just those (hard links: a later overwrite of a blob does not change the snapshot)."""
        folder = self._resolve_data(request.data_url)
        if not request.files:
            return folder
        shutil.rmtree(inputs, ignore_errors=True)
        for url in request.files:
            source = self._resolve_data(url)
            target = inputs / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        return inputs

    def get_job(self, name: str) -> JobInfo:
        """A running job whose process is gone (its submitter died) is judged by its files."""
        row = self._db.job(name)
        if row is None:
            raise NotFound(f"job {name} does not exist")
        if (
            row.status == "running"
            and name not in self._jobs
            and not server.pid_alive(row.pid, _JOB_MARKERS)
        ):
            self._finish(name, read_outcome(row.output_dir, row.log_path, None))
            row = self._db.job(name) or row
        model = (
            ModelRef(row.model_name, row.model_version)
            if row.model_name and row.model_version
            else None
        )
        ended = row.status not in ("queued", "running")
        skipped = skipped_files(row.output_dir) if ended else {}
        return JobInfo(row.name, cast(JobStatus, row.status), model, row.error, skipped)

    def wait_for_job(self, name: str, timeout: float) -> JobInfo:
        """Poll until the job ends (and, for a job started here, its event is published);
        raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while (job := self.get_job(name)).status in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {name} still {job.status} after {timeout:.0f}s")
            time.sleep(0.2)
        watcher = self._watchers.get(name)
        if watcher is not None:
            watcher.join(max(0.0, deadline - time.monotonic()))
        return job

    def _watch(self, name: str, process: subprocess.Popen[bytes]) -> None:
        returncode = process.wait()
        row = self._db.job(name)
        if row is not None:
            self._finish(name, read_outcome(row.output_dir, row.log_path, returncode))

    def _finish(self, name: str, outcome: Outcome) -> None:
        """Record the end of a job once; the caller that records it publishes the event."""
        if not self._db.finish_job(name, outcome.status, outcome.model, outcome.error):
            return
        log.info("job %s %s %s", name, outcome.status, outcome.error)
        if outcome.model is not None:
            try:
                self._announce(self._registry.get(*outcome.model))
            except Exception:  # a watcher thread has nobody to raise to
                log.exception("could not announce the model job %s registered", name)
        try:  # lost, the reconciler's poll records the end instead, as when Azure's is lost
            self._publish(run_event(self._topic, self._experiment, name, outcome.status))
        except Exception:
            log.exception("could not announce the end of job %s", name)

    def _announce(self, model: ModelVersion) -> None:
        self._publish(model_registered_event(self._topic, model))

    # Models

    def get_model(self, name: str, version: str) -> ModelVersion:
        return self._registry.get(name, version)

    def list_models(self, name: str) -> Sequence[ModelVersion]:
        return self._registry.list(name)

    def get_training_run(self, job_name: str) -> TrainingRun:
        """The run the job's own output names (``registered.json``, written by train.py in
        the job's output folder), read from the MLflow tracking store."""
        row = self._db.job(job_name)
        if row is None:
            raise NotFound(f"job {job_name} does not exist")
        try:
            registered = json.loads((row.output_dir / "registered.json").read_text("utf-8"))
            run_id = str(registered["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            raise NotFound(f"job {job_name} recorded no run") from None
        return self._registry.training_run(job_name, run_id)

    def model_path(self, ref: ModelRef) -> Path:
        """The local folder of a registered version (the MLflow model). Raises NotFound."""
        return self._registry.local_path(ref)

    def register_model_dir(
        self, name: str, model_dir: Path, tags: Mapping[str, str]
    ) -> ModelVersion:
        """Register an existing MLflow model folder as a new version and announce it."""
        registered = self._registry.register_dir(name, model_dir, tags)
        self._announce(registered)
        return registered

    # Endpoints and deployments (see endpoints.py)

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        return self._endpoints.ensure_endpoint(name)

    def get_endpoint(self, name: str) -> EndpointInfo:
        return self._endpoints.get_endpoint(name)

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        self._endpoints.set_traffic(endpoint, traffic)

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        self._endpoints.begin_deployment(spec)

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        return self._endpoints.get_deployment(endpoint, name)

    def wait_for_deployment(self, endpoint: str, name: str, timeout: float) -> DeploymentInfo:
        return self._endpoints.wait_for_deployment(endpoint, name, timeout)

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        self._endpoints.begin_delete_deployment(endpoint, name)

    def live_traffic(self) -> LocalLiveTraffic:
        """What the endpoint router recorded, as the canary's live-traffic source."""
        return LocalLiveTraffic(self._db)

    def deployment_stats(self, endpoint: str, name: str) -> dict[str, int]:
        return self._endpoints.deployment_stats(endpoint, name)

    def invoke(
        self, endpoint: str, payload: Mapping[str, Any], *, deployment: str | None = None
    ) -> Any:
        return self._endpoints.invoke(endpoint, payload, deployment=deployment)

    def close(self) -> None:
        """Cancel running jobs, stop every server process started here, join the watchers.
        Safe to call twice."""
        with self._lock:
            self._closed = True
            for name, process in self._jobs.items():
                if process.poll() is None:
                    self._db.finish_job(name, "canceled", None, "the local platform was closed")
                    server.stop_process(process)
            watchers = list(self._watchers.values())
        self._endpoints.close()
        for watcher in watchers:
            watcher.join(timeout=30)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the local ML platform is closed")
