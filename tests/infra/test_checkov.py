"""checkov over infra/ (Bicep): no parsing error, no failed check, every suppression explained.

checkov exits 0 when it cannot parse a file, so the summary's parsing_errors is read too.
The binary comes from MLOPS_CHECKOV (``make test`` sets it) or the Makefile's tool venv.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, REPO, bicep_files
from tests.tools import tool_path

DEFAULT_CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<id>CKV2?_AZURE_\d+)(?P<rest>.*)")


def checkov_binary() -> Path:
    return tool_path("MLOPS_CHECKOV", DEFAULT_CHECKOV, "checkov")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    command = [str(checkov_binary()), "-d", str(INFRA), "--framework", "bicep"]
    result = subprocess.run(
        [*command, "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    parsed = json.loads(result.stdout)
    # One framework: one report object (checkov prints a list for several).
    doc: dict[str, Any] = parsed[0] if isinstance(parsed, list) else parsed
    return doc


def test_checkov_parses_every_bicep_file(report: dict[str, Any]) -> None:
    assert report["check_type"] == "bicep"
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert report["summary"]["resource_count"] > 50


def test_checkov_has_no_failed_check(report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['resource']} in {check['file_path']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert report["summary"]["passed"] > 0


def test_every_suppression_is_inline_names_the_check_and_says_why(
    report: dict[str, Any],
) -> None:
    for path in bicep_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip" not in line:
                continue
            match = SKIP_COMMENT.search(line)
            assert match, f"{path.name}:{number}: a skip must name one check: {line.strip()}"
            reason = match["rest"].lstrip(":").strip()
            assert len(reason) >= 30, f"{path.name}:{number}: say why {match['id']} is skipped"
    # checkov saw each of them (a skip that matches no check would be silently useless).
    skipped = {check["check_id"] for check in report["results"]["skipped_checks"]}
    written = {
        match["id"] for path in bicep_files() for match in SKIP_COMMENT.finditer(path.read_text())
    }
    assert written == skipped, f"unused skips: {sorted(written - skipped)}"


def test_checkov_passes_the_serving_image_dockerfile_without_a_suppression() -> None:
    """training/serving/Dockerfile: a tagged base, a non-root USER, a HEALTHCHECK, no secret,
    no unsafe fetch (checkov's Dockerfile checks, CKV_DOCKER_* and CKV2_DOCKER_*)."""
    folder = REPO / "training" / "serving"
    command = [str(checkov_binary()), "-d", str(folder), "--framework", "dockerfile"]
    result = subprocess.run(
        [*command, "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    parsed = json.loads(result.stdout)
    doc: dict[str, Any] = parsed[0] if isinstance(parsed, list) else parsed
    assert doc["check_type"] == "dockerfile"
    summary = doc["summary"]
    assert (summary["parsing_errors"], summary["resource_count"]) == (0, 1), summary
    assert [c["check_id"] for c in doc["results"]["failed_checks"]] == []
    assert summary["skipped"] == 0, "no suppression in the Dockerfile"
    passed = {c["check_id"] for c in doc["results"]["passed_checks"]}
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7", "CKV_DOCKER_8"} <= passed
