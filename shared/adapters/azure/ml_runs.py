"""A training job's MLflow run, and which run a registered model's files come from.

azure-ai-ml has no call for a job's metrics (Learn, "Query & compare experiments and runs with
MLflow": the SDK v2 "doesn't provide native logging or tracking capabilities ... [nor]
querying the logged metrics"), so the run is read from the MLflow REST API the workspace
serves: ``GET {tracking URI as https}/api/2.0/mlflow/runs/get?run_id=<job name>`` with an ARM
token (azureml-mlflow asks for ``https://management.azure.com/.default``; Azure/azureml-examples
``using_mlflow_rest_api.ipynb``). In a job, MLflow resumes the job's own run, whose id is the
job's name, so the run is found from the job, not from anything a model version says. The
role needs ``workspaces/experiments/runs/read`` (Learn, "Manage roles": MLflow operations).

The same run names the files the job skipped (``skipped_files``, written by train.py), which
the app quarantines as it does locally from the job's ``validation.json``.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from threading import Lock
from typing import Any
from urllib.parse import quote, urlsplit

from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse

from shared.adapters.azure.ml_errors import translated
from shared.adapters.azure.ml_scoring import bearer_client
from shared.domain import untrusted_json
from shared.domain.values import TrainingRun
from shared.ports import NotFound, TransientError

log = logging.getLogger(__name__)

TRACKING_SCOPE = "https://management.azure.com/.default"
RUN_ARTIFACT = "model"  # where train.py logs the model folder in its run
_JOB = r"(?P<job>[A-Za-z0-9][A-Za-z0-9_-]{0,254})"
_WORKSPACE = (
    r"subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/"
    r"(?:providers/microsoft\.machinelearningservices/)?workspaces/(?P<ws>[^/]+)/"
)
# The forms a version's path takes when its files are the model folder of a job's run: the
# run's artifact URI as MLflow resolves ``runs:/<run>/model`` when train.py registers it
# (MLflow 2.16 ``_register_model``; azureml-mlflow's artifact URIs:
# ``azureml://<host>/mlflow/v2.0/<workspace>/experiments/<id>/runs/<run>/artifacts``),
# ``runs:/`` itself, the job's artifacts output, or the run's folder in the workspace artifact
# store (``ExperimentRun/dcid.<run id>``).
_RUN_MODEL_PATHS = (
    re.compile(
        rf"azureml://[^/]+/mlflow/v[12]\.0/{_WORKSPACE}experiments/[^/]+/runs/{_JOB}"
        rf"/artifacts/{RUN_ARTIFACT}/?",
        re.I,
    ),
    re.compile(rf"runs:/{_JOB}/{RUN_ARTIFACT}/?"),
    re.compile(rf"azureml://jobs/{_JOB}/outputs/artifacts/paths/{RUN_ARTIFACT}/?", re.I),
    re.compile(
        rf"azureml://(?:{_WORKSPACE})?"
        rf"datastores/workspaceartifactstore/paths/ExperimentRun/dcid\.{_JOB}/{RUN_ARTIFACT}/?",
        re.I,
    ),
)
_MAX_MESSAGE = 300
# training/src/skipped_tag.py writes the tag (at most 4,000 characters); MLflow's tag limit
# is 5,000. Reasons are kept as the local platform keeps them.
SKIPPED_FILES_TAG = "skipped_files"
_MAX_SKIPPED_TAG = 5_000
_MAX_SKIP_REASON = 500


def run_of_model_path(path: str, lineage_job: str, scope: tuple[str, str, str]) -> str:
    """The job whose run's ``model`` folder ``path`` is, or "" for files from anywhere else
    (another workspace's store, a datastore, a folder someone uploaded). A version whose
    ``jobName`` names another job than its path is inconsistent: "" too."""
    for pattern in _RUN_MODEL_PATHS:
        found = pattern.fullmatch(path or "")
        if found is None:
            continue
        named = found.groupdict()
        workspace = (named.get("sub"), named.get("rg"), named.get("ws"))
        if workspace[0] and [str(p).lower() for p in workspace] != [p.lower() for p in scope]:
            return ""  # ARM ids compare case-insensitively
        job = found["job"]
        return job if not lineage_job or lineage_job == job else ""
    return ""


class JobRuns:
    """Reads a job's run from the workspace's MLflow tracking server."""

    def __init__(
        self,
        ml_client: MLClient,
        credential: TokenCredential,
        *,
        transport: HttpTransport | None = None,  # type: ignore[type-arg]
        timeout: float = 30.0,
    ) -> None:
        self._ml = ml_client
        self._timeout = timeout
        self._base: str | None = None
        self._lock = Lock()
        self._client = bearer_client(credential, TRACKING_SCOPE, transport)

    def get(self, job_name: str) -> TrainingRun:
        """Raises NotFound for a job without a run, TransientError for a failure retrying
        may fix, ValueError for any other refusal or a malformed answer."""
        url = f"{self._tracking_base()}/api/2.0/mlflow/runs/get?run_id={quote(job_name, safe='')}"
        request = HttpRequest("GET", url, headers={"Accept": "application/json"})
        try:
            response = self._client.send_request(request, timeout=self._timeout)
        except (ServiceRequestError, ServiceResponseError) as error:
            raise TransientError(f"run of job {job_name}: {type(error).__name__}") from None
        body = _answer(job_name, response)
        return _training_run(job_name, body)

    def skipped_files(self, job_name: str) -> dict[str, str]:
        """The files an ended job reports it skipped, from its run; none for a job that ended
        before MLflow recorded a run. TransientError and ValueError as ``get``."""
        try:
            run = self.get(job_name)
        except NotFound:
            return {}
        return skipped_files(run)

    def _tracking_base(self) -> str:
        """The workspace's MLflow tracking URI with https for azureml (Learn's own recipe),
        read once per process: ARM's ``mlFlowTrackingUri``, else the regional host the
        sample builds from the workspace's location."""
        with self._lock:
            if self._base is None:
                name = str(self._ml.workspace_name)
                with translated(f"workspace {name}"):
                    workspace = self._ml.workspaces.get(name)
                uri = getattr(workspace, "mlflow_tracking_uri", None) or (
                    f"azureml://{workspace.location}.api.azureml.ms/mlflow/v1.0"
                    f"/subscriptions/{self._ml.subscription_id}"
                    f"/resourceGroups/{self._ml.resource_group_name}"
                    f"/providers/Microsoft.MachineLearningServices/workspaces/{name}"
                )
                parts = urlsplit(str(uri))
                if parts.scheme not in ("azureml", "https") or not parts.netloc:
                    raise ValueError(f"workspace {name}: unexpected MLflow tracking URI")
                self._base = f"https://{parts.netloc}{parts.path.rstrip('/')}"
            return self._base


def _answer(job_name: str, response: HttpResponse) -> Mapping[str, Any]:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error_code") if isinstance(body, dict) else None
    if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        raise NotFound(f"job {job_name} has no MLflow run")
    if status in (408, 429) or status >= 500:
        raise TransientError(f"run of job {job_name}: HTTP {status}")
    if status != 200 or not isinstance(body, dict):
        message = str(body.get("message", "") if isinstance(body, dict) else response.text())
        raise ValueError(f"run of job {job_name}: HTTP {status} {message[:_MAX_MESSAGE]}")
    return body


def _training_run(job_name: str, body: Mapping[str, Any]) -> TrainingRun:
    """MLflow's ``GetRun`` answer: ``run.info.run_id``; ``run.data.metrics`` and
    ``run.data.tags`` as lists of ``{key, value}`` (metrics: the latest value of each)."""
    try:
        run = body["run"]
        run_id = str(run["info"]["run_id"])
        data = run.get("data", {})
        # float() reads the "NaN" and "Infinity" strings MLflow's JSON writes.
        metrics = {str(m["key"]): float(m["value"]) for m in data.get("metrics", [])}
        tags = {str(t["key"]): str(t["value"]) for t in data.get("tags", [])}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"run of job {job_name}: malformed answer ({error})") from None
    if run_id != job_name:
        raise ValueError(f"run of job {job_name}: the service answered run {run_id[:64]!r}")
    return TrainingRun(job_name, run_id, metrics, tags)


def skipped_files(run: TrainingRun) -> dict[str, str]:
    """The run's ``skipped_files`` tag: base64url of ``{"files": {path: reason}, "omitted":
    n}``. A value in any other form names nothing to quarantine: logged and ignored."""
    value = run.tags.get(SKIPPED_FILES_TAG)
    if not value:
        return {}
    try:
        if len(value) > _MAX_SKIPPED_TAG:
            raise ValueError("too long")
        raw = base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
        document = untrusted_json.loads(raw, field=SKIPPED_FILES_TAG)
        files, omitted = document["files"], document["omitted"]
        if not isinstance(files, dict) or not isinstance(omitted, int):
            raise ValueError("not a files object and a count")
        named = {str(k): str(v)[:_MAX_SKIP_REASON] for k, v in files.items()}
    except (ValueError, KeyError, TypeError) as error:  # Rejected is a ValueError
        log.warning(
            "job %s: its run's %s tag is unreadable (%s); ignored",
            run.job_name,
            SKIPPED_FILES_TAG,
            type(error).__name__,
        )
        return {}
    if omitted:
        log.warning(
            "job %s skipped %d more file(s) than its run names; the dataset's next job names them",
            run.job_name,
            omitted,
        )
    return named
