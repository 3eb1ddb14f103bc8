"""train.py against an MLflow tracking server that, like Azure ML's, has no logged-models API.

A real ``mlflow server`` (SQLite, artifacts served over HTTP) sits behind a loopback proxy that
answers every ``/logged-models`` request with an empty 404, as Azure ML does (Azure/azure-sdk-
for-python#44896). MLflow 3's ``log_model`` calls that API first, so a job that uses it fails.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.adapters.local.inference_server import child_env, free_port
from shared.ops.demo import data as demodata

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO_ROOT / "training" / "src" / "train.py"
STARTUP_SECONDS = 90


class AzureLikeProxy(ThreadingHTTPServer):
    """Forwards to the MLflow server, except the logged-models API: 404, empty body."""

    def __init__(self, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def upstream_url(self) -> str:
        """The MLflow server itself, for the test's own reads (MLflow 3's client searches
        logged models to list a run's artifacts)."""
        return f"http://127.0.0.1:{self.upstream}"


class _Handler(BaseHTTPRequestHandler):
    server: AzureLikeProxy

    def _forward(self) -> None:
        self.server.paths.append(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/logged-models" in self.path:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815 (stdlib names)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow server not up after {STARTUP_SECONDS}s")


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureLikeProxy]:
    root = tmp_path_factory.mktemp("tracking")
    port, log = free_port(), root / "server.log"
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
        )
    proxy = AzureLikeProxy(port)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        _wait_until_up(port, server, log)
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.terminate()
        server.wait(timeout=30)


def test_train_registers_without_the_logged_models_api_and_tags_the_job(
    tracking: AzureLikeProxy, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    data = demodata.write_tsv(tmp_path / "data" / "part-1.tsv", demodata.generate(600, seed=3))
    command = [sys.executable, str(TRAIN_SCRIPT), "--data", str(data.parent)]
    command += ["--model-output", str(tmp_path / "out"), "--register-name", "spam-classifier"]
    command += ["--job-name", "train-spam-0123abcd"]
    env = child_env({"MLFLOW_TRACKING_URI": tracking.url})
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert not [path for path in tracking.paths if "/logged-models" in path]
    client = MlflowClient(tracking_uri=tracking.upstream_url, registry_uri=tracking.upstream_url)
    version = client.get_model_version("spam-classifier", "1")
    assert version.tags["job_name"] == "train-spam-0123abcd" and version.run_id
    assert version.tags["gate"] == "passed"
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "model")}
    assert {"model/MLmodel", "model/model.skops"} <= artifacts
    assert client.get_run(version.run_id).data.tags["job_name"] == "train-spam-0123abcd"
