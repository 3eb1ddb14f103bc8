"""What `azd deploy` ships to the Function App: the repository root filtered by .funcignore.

azd follows .funcignore alone when the service folder has one (and .gitignore not at all), so
everything git ignores as local state must be in .funcignore too, azd's own `.azure/` folder
first; and everything the app reads in Azure must survive it, including the training job's
and the deployments' code and conda files that the Azure ML adapter uploads from the package.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from pathspec import GitIgnoreSpec  # gitignore rules, as azd applies .funcignore

from tests.infra.bicep import REPO

FUNCIGNORE = REPO / ".funcignore"


@cache
def spec() -> GitIgnoreSpec:
    return GitIgnoreSpec.from_lines(FUNCIGNORE.read_text().splitlines())


def ships(path: str) -> bool:
    return not spec().match_file(path)


def tracked() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def _example(pattern: str) -> str:
    """A path that a .gitignore pattern ignores (a file inside it, for a folder)."""
    path = pattern.lstrip("/").replace("*", "x")
    return f"{path}x" if path.endswith("/") else path


@pytest.mark.parametrize(
    "pattern",
    [
        line.strip()
        for line in (REPO / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ],
)
def test_what_git_ignores_as_local_state_never_ships(pattern: str) -> None:
    assert not ships(_example(pattern)), f"{pattern} is in .gitignore but would be deployed"


@pytest.mark.parametrize(
    "path", [".azure/dev/.env", ".azure/config.json", ".env", ".hypothesis/examples/x", "dist/a"]
)
def test_azd_state_and_test_leftovers_never_ship(path: str) -> None:
    """azd keeps each environment's values (subscription, principal and resource ids) in
    .azure/<env>/.env under the project, which here is the Function App's own folder."""
    assert not ships(path)


# What people run on their machines; the import contracts keep the runtime from needing it.
TOOLING = ("shared/devhost/", "shared/ops/", "training/tests/", "training/serving/")


def test_the_package_holds_what_the_app_reads_in_azure() -> None:
    files = set(tracked())
    needed = {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/smoke_set.tsv",
        "training/jobs/train.yml",
        "training/endpoints/endpoint.yml",
        "training/endpoints/deployment.yml",
        "training/src/train.py",
        "training/src/score.py",
    }
    needed |= {f for f in files if f.endswith(".py") and f.startswith(("functions/", "shared/"))}
    tooling = {f for f in files if f.startswith(TOOLING)}
    needed -= tooling
    missing = sorted(f for f in needed if f in files and not ships(f))
    assert not missing, f".funcignore drops what the app needs: {missing}"
    assert tooling, "the tooling packages moved: update TOOLING"
    assert not sorted(f for f in tooling if ships(f)), "the tooling ships to the Function App"
    assert not [f for f in files if f.startswith("tests/") and ships(f)]


@pytest.mark.parametrize(
    "spec_file", ["training/jobs/train.yml", "training/endpoints/deployment.yml"]
)
def test_the_code_and_conda_files_azure_ml_gets_are_in_the_package(spec_file: str) -> None:
    """The adapter loads these YAML files from the deployed package; their relative code and
    conda paths must resolve to shipped files, or the first job or deployment fails."""
    document = yaml.safe_load((REPO / spec_file).read_text())
    folder = (REPO / spec_file).parent
    code = document.get("code") or document["code_configuration"]["code"]
    conda = document["environment"]["conda_file"]
    code_dir = (folder / code).resolve().relative_to(REPO)
    code_files = [f for f in tracked() if Path(f).parent == code_dir]
    assert code_files and all(ships(f) for f in code_files), code_dir
    assert ships(str((folder / conda).resolve().relative_to(REPO)))
