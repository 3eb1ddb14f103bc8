"""The pipelines' training step (infra/pipelines/request-training.sh) against `mlops serve`:
the route over real HTTP behind the EasyAuth stand-in, its 202 and status URL, the timer
closing the window the request made due, and the script's exits. `az` and `azd` are stand-ins
on PATH: `az account get-access-token` prints a token signed with the host's key, as Entra ID
would issue one for the pipeline's identity."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.project_files import REPO_ROOT
from shared.devhost.easyauth import EasyAuth
from shared.devhost.host_keys import load_signing_key
from tests.conftest import GOOD_CSV
from tests.integration.host.hostproc import HostProcess, http, start_host

SCRIPT = REPO_ROOT / "infra" / "pipelines" / "request-training.sh"
CLIENT_ID = "mlops-api-local"
# The stand-ins answer only the calls the script is meant to make; anything else fails loudly.
FAKE_AZ = f"""#!/usr/bin/env bash
echo "az $*" >> "$FAKE_CALLS"
if [[ "$*" == "account get-access-token --resource api://{CLIENT_ID} --query accessToken \
--output tsv" ]]; then
  cat "$FAKE_TOKEN"
  exit 0
fi
echo "fake az: unexpected call: $*" >&2
exit 2
"""
FAKE_AZD = """#!/usr/bin/env bash
echo "azd $*" >> "$FAKE_CALLS"
if [[ "$*" == "env get-value AZURE_FUNCTION_APP_URL" ]]; then
  echo "$FAKE_APP_URL"
  exit 0
fi
echo "ERROR: key '$3' not found in the environment values"
exit 1
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    # Uploads alone would wait an hour for a quiet window: only a request closes one here.
    env = {"MLOPS_COALESCE_QUIET_SECONDS": "3600"}
    running = start_host(tmp_path_factory.mktemp("train-home"), "--reconcile-every", "1", env=env)
    yield running
    assert running.stop() == 0


def upload(host: HostProcess, blob_path: str) -> None:
    answer = host.deliver("on_blob_created", host.blob_event(blob_path, GOOD_CSV))
    assert answer.status in (200, 202), answer.body


def run_step(
    host: HostProcess, tmp: Path, dataset: str, key: str, *, roles: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("az", FAKE_AZ), ("azd", FAKE_AZD)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    token = EasyAuth(load_signing_key(host.home)).issue("deploy-pipeline", roles)
    (tmp / "token").write_text(token)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GITHUB_ACTIONS", "TF_BUILD", "AZURE_FUNCTION_APP_URL")
    }
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
        "API_CLIENT_ID": CLIENT_ID,
        "FAKE_APP_URL": host.url,
        "FAKE_TOKEN": str(tmp / "token"),
        "FAKE_CALLS": str(tmp / "calls"),
        "MLOPS_TRAIN_POLL_INTERVAL": "1",
        "MLOPS_TRAIN_POLL_TIMEOUT": "60",
    }
    return subprocess.run(
        ["bash", str(SCRIPT), dataset, "deploy of 4f2a9c1 (run 7)", key],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_step_asks_the_app_and_returns_once_the_app_submitted_the_job(
    host: HostProcess, tmp_path: Path
) -> None:
    upload(host, "spam/part-1.csv")
    done = run_step(host, tmp_path, "spam", "deploy-4f2a9c1-7-1", roles=("MLOps.Deployer",))
    assert done.returncode == 0, done.stdout + done.stderr
    [asked] = host.audit(action_prefix="operator.train")
    assert (asked.outcome, asked.target) == ("accepted", "spam")
    assert asked.details["request_reason"] == "deploy of 4f2a9c1 (run 7)"
    assert asked.details["principal"]["name"] == "deploy-pipeline"
    [submitted] = host.audit(action_prefix="training.submitted")
    # One job, from the window the upload opened and the request made due: the app's own.
    assert submitted.details["window_id"] == asked.details["window_id"]
    # Two rows train nothing: the job may already have failed when the step looks (a warning,
    # not the step's failure: it asked for a job and the app submitted one).
    said = done.stdout + done.stderr
    assert f"job {submitted.target} submitted by the app" in said or (
        f"job {submitted.target} was submitted and failed: " in done.stderr
    )
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "azd env get-value AZURE_FUNCTION_APP_URL",
        f"az account get-access-token --resource api://{CLIENT_ID} --query accessToken "
        "--output tsv",
    ]

    # A retried step (same key) follows the first request and starts nothing new.
    again = run_step(host, tmp_path, "spam", "deploy-4f2a9c1-7-1", roles=("MLOps.Deployer",))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(host.audit(action_prefix="operator.train")) == 1
    assert len(host.audit(action_prefix="training.submitted")) == 1


def test_a_dataset_with_nothing_accepted_is_a_warning_not_a_failure(
    host: HostProcess, tmp_path: Path
) -> None:
    done = run_step(host, tmp_path, "never-uploaded", "k-empty", roles=("MLOps.Deployer",))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no accepted file to train on" in done.stderr
    assert "nothing to retrain" in done.stderr


def test_an_identity_without_the_deployer_role_fails_the_step(
    host: HostProcess, tmp_path: Path
) -> None:
    done = run_step(host, tmp_path, "spam", "k-reader", roles=("MLOps.Reader",))
    assert done.returncode == 1
    assert "refused 403 forbidden" in done.stderr


def test_the_route_answers_over_http_as_documented(host: HostProcess) -> None:
    token = EasyAuth(load_signing_key(host.home)).issue("alice", ["MLOps.Deployer"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"reason": "drill"}).encode()
    bad = http("POST", f"{host.url}/api/datasets/..%2Fx/train", body, headers)
    assert (bad.status, bad.json()["error"]) == (400, "invalid_request")
    wrong = http("GET", f"{host.url}/api/datasets/spam/train", headers=headers)
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
