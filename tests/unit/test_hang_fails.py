"""A test that hangs fails after pyproject's timeout, and the tests after it still run: a hang
cannot hold CI until its own limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.adapters.project_files import REPO_ROOT

HANGS = """
import subprocess
import sys


def test_waits_for_a_child_that_never_ends():
    subprocess.run([sys.executable, "-c", "import time; time.sleep(600)"], check=False)


def test_after_it():
    pass
"""


def test_every_test_has_a_timeout(pytestconfig: pytest.Config) -> None:
    assert float(pytestconfig.getini("timeout")) > 0
    assert pytestconfig.getini("timeout_method") == "signal"


def test_a_hang_fails_its_test_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS)
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"),
            *("-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)),
            *("-o", "timeout=2", str(tmp_path / "test_hangs.py")),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Failed: Timeout (>2.0s)" in run.stdout
    assert "1 failed, 1 passed" in run.stdout
