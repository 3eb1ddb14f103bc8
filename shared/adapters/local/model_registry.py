"""The MLflow model registry on SQLite: the local stand-in for Azure ML's model registry.

``mlflow`` is imported on first use only: importing it costs over a second, and this module
is imported by the composition root when the host starts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from shared.domain.values import ModelRef, ModelVersion, TrainingRun
from shared.ports import NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_IMPORTED_EXPERIMENT = "registered-model-dirs"
MODEL_ARTIFACT = "model"  # where train.py logs the model folder in its run


def check_name(kind: str, name: str) -> str:
    """Names end up in paths and registry filters: allow the Azure ML character set only."""
    if not NAME.fullmatch(name):
        raise ValueError(f"invalid {kind} name {name!r}: use letters, digits, '.', '_', '-'")
    return name


class MlflowRegistry:
    def __init__(self, home: Path) -> None:
        self._db = home / "mlflow.db"
        self._artifacts = home / "mlartifacts"
        self._lock = threading.RLock()
        self._client: Any = None

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self._db.resolve()}"

    @property
    def artifact_root(self) -> str:
        return self._artifacts.resolve().as_uri()

    def client(self) -> Any:
        """The MlflowClient, creating (and migrating) the database on first use.

        The store is created here with our artifact root, so the default experiment keeps
        its artifacts under ``home/mlartifacts`` whatever the working directory of a job."""
        with self._lock:
            if self._client is None:
                from mlflow import MlflowClient
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                self._db.parent.mkdir(parents=True, exist_ok=True)
                SqlAlchemyStore(self.tracking_uri, self.artifact_root)  # type: ignore[no-untyped-call]
                self._client = MlflowClient(
                    tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                )
            return self._client

    def get(self, name: str, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        check_name("model", name)
        if not (str(version).isascii() and str(version).isdigit()):
            # MLflow numbers its versions and raises on any other: such a version is not here.
            raise NotFound(f"model {name}:{version} is not registered")
        with self._lock:
            try:
                found = self.client().get_model_version(name, str(version))
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    raise NotFound(f"model {name}:{version} is not registered") from None
                raise
            return self._to_domain(found)

    def list(self, name: str) -> Sequence[ModelVersion]:
        check_name("model", name)
        with self._lock:
            found = self.client().search_model_versions(f"name = '{name}'")
            versions = [self._to_domain(version) for version in found]
        return sorted(versions, key=lambda model: int(model.version))

    def local_path(self, ref: ModelRef) -> Path:
        """The local folder holding the MLflow model (its ``MLmodel`` file) of a version."""
        return Path(self.get(ref.name, ref.version).properties["path"])

    def register_dir(self, name: str, model_dir: Path, tags: Mapping[str, str]) -> ModelVersion:
        """Copy an existing MLflow model folder into a run and register it as a new version."""
        from mlflow.exceptions import MlflowException

        check_name("model", name)
        if not (model_dir / "MLmodel").is_file():
            raise ValueError(f"{model_dir} is not an MLflow model folder (no MLmodel file)")
        with self._lock:
            client = self.client()
            experiment = client.get_experiment_by_name(_IMPORTED_EXPERIMENT)
            experiment_id = (
                experiment.experiment_id
                if experiment
                else client.create_experiment(
                    _IMPORTED_EXPERIMENT, artifact_location=f"{self.artifact_root}/imported"
                )
            )
            run = client.create_run(experiment_id, tags={"source_dir": str(model_dir)})
            client.log_artifacts(run.info.run_id, str(model_dir), "model")
            client.set_terminated(run.info.run_id)
            try:
                client.create_registered_model(name)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            created = client.create_model_version(
                name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags=dict(tags)
            )
            return self._to_domain(created)

    def training_run(self, job_name: str, run_id: str) -> TrainingRun:
        """The run ``run_id`` as MLflow's tracking store holds it. Raises NotFound."""
        run = self._run(run_id)
        if run is None:
            raise NotFound(f"job {job_name}: run {run_id} does not exist")
        metrics = {str(k): float(v) for k, v in run.data.metrics.items()}
        tags = {str(k): str(v) for k, v in run.data.tags.items()}
        return TrainingRun(job_name, str(run.info.run_id), metrics, tags)

    def _run(self, run_id: str) -> Any:
        from mlflow.exceptions import MlflowException

        if not run_id:
            return None
        with self._lock:
            try:
                return self.client().get_run(run_id)
            except MlflowException:
                return None

    def _lineage(self, version: Any) -> tuple[str, str]:
        """(run id, job name) when the version's files are its run's ``model`` artifact, as
        train.py logs it; the job name is the run's ``job_name`` tag (checked by the gate
        against the job's own record). ("", "") for files from anywhere else."""
        run = self._run(str(version.run_id or ""))
        if run is None:
            return "", ""
        artifact = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
        if str(version.source).rstrip("/") != artifact:
            return "", ""
        return str(run.info.run_id), str(run.data.tags.get("job_name", ""))

    def _to_domain(self, version: Any) -> ModelVersion:
        uri = self.client().get_model_version_download_uri(version.name, version.version)
        run_id, job_name = self._lineage(version)
        return ModelVersion(
            name=str(version.name),
            version=str(version.version),
            tags={str(k): str(v) for k, v in (version.tags or {}).items()},
            properties={
                "source": str(version.source),
                "run_id": str(version.run_id or ""),
                "path": str(uri_to_path(uri)),
            },
            run_id=run_id,
            job_name=job_name,
        )


def uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"not a local artifact location: {uri}")
    return Path(unquote(parsed.path))
