"""The serving image, which cannot be built here (no container runtime): its Dockerfile read for
what it installs, copies, labels and runs as, held to the deployment that runs it, and the
pipelines' build script run against a stand-in `az` for what it asks ACR Tasks and prints.
tests/integration/test_score_server.py serves score.py from the image's layout and the
inference server venv built from the same pinned file; test_checkov.py runs checkov on it."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shared.adapters.azure.ml_endpoints import SERVING_ROUTES
from shared.settings import Settings
from tests.infra import dockerfile as df
from tests.infra.bicep import REPO

CONDA = "environment/inference-conda.yml"  # in the build context, training/
DEPLOYMENT = REPO / "training" / "endpoints" / "deployment.yml"
TRAINING_SRC = REPO / "training" / "src"
BUILD = REPO / "infra" / "pipelines" / "build-serving-image.sh"
ROUTING = json.loads((REPO / "infra" / "event-routing.json").read_text(encoding="utf-8"))
SERVING = "mlops/sklearn-serving"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|CONNECTION|SAS|PAT\b", re.I)


def test_the_base_is_azure_ml_s_inference_image_pinned_by_a_tag() -> None:
    (base,) = df.values("FROM")
    name, _, tag = base.rpartition(":")
    assert name.startswith("mcr.microsoft.com/azureml/") and name.endswith("-inference"), base
    assert tag and tag != "latest" and "@" not in base, "a reviewed tag (decision 210)"
    assert df.pairs("LABEL")["org.opencontainers.image.base.name"] == base


def test_labels_name_the_source_commit_the_pipeline_passes() -> None:
    labels = df.pairs("LABEL")
    assert labels["org.opencontainers.image.revision"] == "${SOURCE_COMMIT}"
    assert labels["org.opencontainers.image.source"] == "${SOURCE_URL}"
    assert set(df.pairs("ARG")) == {"SOURCE_COMMIT", "SOURCE_URL"}
    script = BUILD.read_text(encoding="utf-8")
    assert '--build-arg "SOURCE_COMMIT=$commit"' in script
    assert '--build-arg "SOURCE_URL=$source_url"' in script


def test_it_installs_the_pinned_file_the_local_server_venv_is_built_from() -> None:
    (conda_copy,) = [c for c in df.copies() if c[0] == [CONDA]]
    (run,) = [r for r in df.values("RUN") if "conda env create" in r]
    assert f"-f {conda_copy[1]}" in run
    assert '-p "$AZUREML_CONDA_ENVIRONMENT_PATH"' in run
    env = df.environment()
    assert env["PATH"].startswith(env["AZUREML_CONDA_ENVIRONMENT_PATH"] + "/bin:")
    # The Makefile builds .tools/azmlinfsrv (the local deployments' server, and the venv
    # test_score_server.py serves from) from this very file; test_inference_env.py checks pins.
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert f"INFERENCE_ENV := training/{CONDA}" in makefile
    assert "$(AZMLINFSRV): $(INFERENCE_ENV)" in makefile
    deployment = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))
    conda_file = (DEPLOYMENT.parent / deployment["environment"]["conda_file"]).resolve()
    assert conda_file == df.CONTEXT / CONDA


def _sibling_imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    names |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    return {name for name in names if (module.parent / f"{name}.py").is_file()}


def test_every_copy_source_exists_and_is_all_the_context_sends() -> None:
    sources = [source for found, _ in df.copies() for source in found]
    for source in sources:
        assert (df.CONTEXT / source).is_file(), source
    # Only what the Dockerfile copies is uploaded (az acr build honours the context's
    # .dockerignore: azure-cli, acr/_archive_utils.py).
    rules = [line for line in df.DOCKERIGNORE.read_text().splitlines() if line and line[0] != "#"]
    assert rules[0] == "*"
    assert sorted(rules[1:]) == sorted(f"!{source}" for source in sources)
    # score.py and everything it imports from training/src, transitively.
    wanted, todo = set(), ["score"]
    while todo:
        module = todo.pop()
        wanted.add(module)
        todo += sorted(_sibling_imports(TRAINING_SRC / f"{module}.py") - wanted)
    assert {f"src/{m}.py" for m in wanted} <= set(sources)


def test_it_serves_score_py_where_a_deployment_mounts_the_same_code() -> None:
    """Azure ML mounts a deployment's code at /var/azureml-app/<folder>/ and sets AML_APP_ROOT
    and AZUREML_ENTRY_SCRIPT (azure-ai-ml, _local_endpoints/azureml_image_context.py)."""
    code = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))["code_configuration"]
    env = df.environment()
    assert env["AML_APP_ROOT"] == f"/var/azureml-app/{Path(code['code']).name}"
    assert env["AZUREML_ENTRY_SCRIPT"] == code["scoring_script"] == "score.py"
    (score_copy,) = [c for c in df.copies() if "src/score.py" in c[0]]
    assert score_copy[1] == env["AML_APP_ROOT"] + "/"


def test_it_ends_as_a_non_root_user() -> None:
    user = df.final_user().split(":")[0]
    assert user not in {"root", "0", ""}, user


def test_no_build_argument_or_variable_is_named_like_a_secret() -> None:
    names = [*df.pairs("ARG"), *df.environment()]
    assert names
    assert [name for name in names if SECRET_NAME.search(name)] == []
    text = df.DOCKERFILE.read_text(encoding="utf-8")
    assert "--secret" not in text and "ADD " not in text, "nothing fetched or mounted at build"


def test_the_port_and_health_check_are_the_deployment_s_routes() -> None:
    ports = {route["port"] for route in SERVING_ROUTES.values()}
    assert df.values("EXPOSE") == [str(port) for port in ports] == ["5001"]
    (check,) = df.values("HEALTHCHECK")
    liveness = SERVING_ROUTES["liveness_route"]
    assert f"http://127.0.0.1:{liveness['port']}{liveness['path']}'" in check
    assert SERVING_ROUTES["scoring_route"]["path"] == "/score"


def test_the_pipelines_push_the_one_repository_the_app_allows_and_routes() -> None:
    script = BUILD.read_text(encoding="utf-8")
    assert f'repository="{SERVING}"' in script
    assert Settings.model_fields["allowed_repositories"].default == (SERVING,)
    (route,) = [r for r in ROUTING["subscriptions"] if r["function"] == "on_image_pushed"]
    assert route["subjectBeginsWith"] == f"{SERVING}:"


# -- the build script, against a stand-in `az` (and `azd`) ----------------------------------

FAKE = """
import json, os, sys
path = os.environ["FAKE_AZ_STATE"]
state = json.load(open(path))
tool, args = os.path.basename(sys.argv[1]), sys.argv[2:]
state.setdefault("calls", []).append([tool, *args])
state.setdefault("cwd", []).append(os.getcwd())
json.dump(state, open(path, "w"))
def option(name):
    return args[args.index(name) + 1]
if tool == "azd" and args[:2] == ["env", "get-value"]:
    print(state["azd"][args[2]])
elif args[:2] == ["acr", "build"]:
    print(state["run_id"])
elif args[:3] == ["acr", "task", "logs"]:
    print("Step 1/9 : FROM ...")
    sys.exit(state.get("logs_exit", 0))
elif args[:3] == ["acr", "task", "show-run"]:
    query = option("--query")
    if query == "status":
        statuses = state["statuses"]
        print(statuses.pop(0) if len(statuses) > 1 else statuses[0])
        json.dump(state, open(path, "w"))
    else:
        print(state["image"][query])
else:
    sys.exit(f"fake az: unexpected {args}")
"""
DIGEST = "sha256:" + "c0ffee42" * 8
COMMIT = "3f2a" * 10


def run_build(tmp_path: Path, state: dict[str, Any], **env: str) -> tuple[int, str, dict[str, Any]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = tmp_path / "fake_az.py"
    fake.write_text(FAKE, encoding="utf-8")
    for tool in ("az", "azd"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state), encoding="utf-8")
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    result = subprocess.run(
        [str(BUILD), COMMIT, "https://github.com/contoso/secure-mlops-azure"],
        env={**keep, "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_AZ_STATE": str(state_file), **env},
        cwd=tmp_path,  # the script finds the repository itself
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, json.loads(state_file.read_text())


def build_state(statuses: list[str], digest: str = DIGEST) -> dict[str, Any]:
    return {
        "azd": {"AZURE_CONTAINER_REGISTRY_NAME": "crmlopsabc"},
        "run_id": "cb7",
        "statuses": statuses,
        "image": {
            "outputImages[0].digest": digest,
            "outputImages[0].registry": "crmlopsabc.azurecr.io",
        },
    }


def test_the_build_pushes_the_commit_and_reports_the_digest_in_the_summary(
    tmp_path: Path,
) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    code, log, state = run_build(
        tmp_path,
        build_state(["Queued", "Running", "Succeeded"]),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
        MLOPS_BUILD_POLL_INTERVAL="0",
    )
    assert code == 0, log
    calls = state["calls"]
    assert calls[0] == ["azd", "env", "get-value", "AZURE_CONTAINER_REGISTRY_NAME"]
    build = calls[1]
    assert build[:8] == [
        "az", "acr", "build", "--registry", "crmlopsabc",
        "--image", f"{SERVING}:{COMMIT}", "--file",
    ]  # fmt: skip
    assert build[8] == "training/serving/Dockerfile" and build[-1] == "training/"
    assert f"SOURCE_COMMIT={COMMIT}" in build and "--no-wait" in build
    assert state["cwd"][1] == str(REPO), "--file and the context are the repository's"
    assert ["az", "acr", "task", "logs", "--registry", "crmlopsabc", "--run-id", "cb7"] in calls
    image = f"crmlopsabc.azurecr.io/{SERVING}@{DIGEST}"
    assert image in log
    assert image in summary.read_text() and f"{SERVING}:{COMMIT}" in summary.read_text()
    assert output.read_text() == f"digest={DIGEST}\n"


def test_azure_pipelines_gets_the_digest_as_a_run_summary(tmp_path: Path) -> None:
    code, log, _ = run_build(
        tmp_path,
        build_state(["Succeeded"]),
        TF_BUILD="True",
        AGENT_TEMPDIRECTORY=str(tmp_path),
        AZURE_CONTAINER_REGISTRY_NAME="crmlopsabc",
    )
    assert code == 0, log
    (upload,) = [line for line in log.splitlines() if line.startswith("##vso[task.uploadsummary]")]
    assert DIGEST in Path(upload.removeprefix("##vso[task.uploadsummary]")).read_text()


@pytest.mark.parametrize(
    ("statuses", "digest", "says"),
    [
        (["Running", "Failed"], DIGEST, "ended Failed"),
        (["Canceled"], DIGEST, "ended Canceled"),
        (["Succeeded"], "", "reports no digest"),
        (["Succeeded"], "sha256:abc", "reports no digest"),
    ],
)
def test_a_failed_run_or_a_missing_digest_fails_the_step_and_reports_nothing(
    tmp_path: Path, statuses: list[str], digest: str, says: str
) -> None:
    summary = tmp_path / "summary.md"
    code, log, _ = run_build(
        tmp_path,
        build_state(statuses, digest),
        GITHUB_STEP_SUMMARY=str(summary),
        MLOPS_BUILD_POLL_INTERVAL="0",
    )
    assert code == 1 and says in log, log
    assert not summary.exists()


def test_a_run_that_never_ends_times_out(tmp_path: Path) -> None:
    code, log, _ = run_build(
        tmp_path,
        build_state(["Running"]),
        MLOPS_BUILD_POLL_INTERVAL="1",
        MLOPS_BUILD_POLL_TIMEOUT="2",
    )
    assert code == 1 and "still Running after 2s" in log, log
