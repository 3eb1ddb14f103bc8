"""On Azure ML an ended job's skipped files come from its MLflow run (issue 12, section 1).

train.py names the files it could not read in its run's ``skipped_files`` tag
(training/src/skipped_tag.py); the Azure adapter's job lookup reads that run through the
workspace's MLflow REST API and fills ``JobInfo.skipped_files``, which the reconciler
quarantines as it does the local platform's. The tag values here are made by train.py's own
encoder, so the two sides cannot drift apart.
"""

from __future__ import annotations

import base64
import logging
import sys
from typing import Any

import pytest

from shared.ports import TransientError
from tests.contract.ml_workspace import (
    ARM_SCOPE,
    REPO,
    RUNS_GET,
    WORKSPACE,
    Workspace,
    model_version,
    no_run,
    run_answer,
)
from tests.contract.recording import Canned, error

sys.path.insert(0, str(REPO / "training" / "src"))

import skipped_tag  # train.py's encoder, imported as the job does

JOB = "train-spam-1a65d59dd14cbcd9"
SKIPPED = {
    "batch-2/latin-1.csv": "not valid UTF-8 (byte 0xe9 at offset 14)",
    "batch-2/part 002.tsv": "missing column(s) text",
    "été/huge field.csv": "field larger than field limit (131072)",
}


def job_resource(status: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/jobs/{JOB}",
        "name": JOB,
        "properties": {
            "jobType": "Command",
            "status": status,
            "command": "python train.py",
            "environmentId": f"{WORKSPACE}/environments/env/versions/1",
            "computeId": f"{WORKSPACE}/computes/cpu-cluster",
            "tags": {"model_name": "spam-classifier"},
        },
    }


def tagged(value: str) -> Canned:
    tags = [{"key": "gate", "value": "passed"}, {"key": "skipped_files", "value": value}]
    return Canned(200, run_answer(JOB, tags=tags))


def a_job(ws: Workspace, status: str, *run: Canned, repeat: bool = False) -> None:
    ws.add("GET", f"/jobs/{JOB}", Canned(200, job_resource(status)))
    versions = [model_version("spam-classifier", "4", jobName=JOB)]
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": versions}))
    ws.tracking()
    ws.run(JOB, *run, repeat=repeat)


@pytest.mark.parametrize("status", ["Completed", "Failed", "Canceled"])
def test_an_ended_job_reports_the_files_its_run_names(status: str) -> None:
    ws = Workspace()
    a_job(ws, status, tagged(skipped_tag.encode(SKIPPED)))

    job = ws.platform.get_job(JOB)

    assert dict(job.skipped_files) == SKIPPED
    (sent,) = ws.transport.sent("GET", RUNS_GET)
    assert sent.query == {"run_id": JOB}
    assert sent.headers["Authorization"].startswith("Bearer ")
    assert ARM_SCOPE in ws.credential.requested()


def test_past_the_tag_s_bound_the_job_reports_what_its_run_names_and_logs_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    many = {f"part-{i:04d}.csv": "not valid UTF-8 " * 30 for i in range(100)}
    value = skipped_tag.encode(many)
    assert len(value) <= skipped_tag.MAX_TAG_CHARS
    ws = Workspace()
    a_job(ws, "Completed", tagged(value))

    with caplog.at_level(logging.WARNING):
        reported = ws.platform.get_job(JOB).skipped_files

    assert 0 < len(reported) < len(many)
    assert list(reported) == sorted(many)[: len(reported)]
    assert f"skipped {len(many) - len(reported)} more file(s)" in caplog.text


def test_a_running_job_s_run_is_not_read() -> None:
    ws = Workspace()
    ws.add("GET", f"/jobs/{JOB}", Canned(200, job_resource("Running")))

    assert ws.platform.get_job(JOB).skipped_files == {}
    assert ws.transport.sent("GET", RUNS_GET) == []


@pytest.mark.parametrize(
    "run",
    [
        no_run(),  # ended before MLflow recorded a run
        Canned(200, run_answer(JOB)),  # skipped nothing: no tag
    ],
)
def test_a_job_whose_run_names_nothing_skipped_nothing(run: Canned) -> None:
    ws = Workspace()
    a_job(ws, "Failed", run)

    job = ws.platform.get_job(JOB)

    assert (job.status, job.skipped_files) == ("failed", {})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        _b64(b'{"files": ["a.csv"], "omitted": 0}'),
        _b64(b'{"files": {"a.csv": "bad"}}'),
        _b64(b'{"files": {"a.csv": "bad"}, "omitted": "1"}'),
        _b64(b"[" * 3_000 + b"]" * 3_000),  # nesting the standard decoder would crash on
        _b64(b'{"files": {"a.csv": "bad"}, "omitted": 1' + b"0" * 400 + b"}"),
        _b64('{"files": {"caf\xe9.csv": "x"}, "omitted": 0}'.encode("latin-1")),
        _b64(b'{"files": {}, "omitted": 0, "pad": "' + b"x" * 4_000 + b'"}'),  # over 5,000
    ],
)
def test_a_tag_in_any_other_form_names_nothing_and_is_logged(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever may write the run's tags must not crash the reconciler's tick or park the job;
    the file stays skipped by training, as before this tag existed."""
    ws = Workspace()
    a_job(ws, "Completed", tagged(value))

    with caplog.at_level(logging.WARNING):
        job = ws.platform.get_job(JOB)

    assert (job.status, job.skipped_files) == ("completed", {})
    assert "skipped_files tag is unreadable" in caplog.text


def test_a_run_the_tracking_server_cannot_serve_now_leaves_the_job_for_the_next_tick() -> None:
    """Transient: the reconciler looks again, rather than record the job ended without the
    files it skipped."""
    ws = Workspace()
    a_job(ws, "Completed", Canned(503, "unavailable"), repeat=True)

    with pytest.raises(TransientError):
        ws.platform.get_job(JOB)


def test_a_refused_run_read_is_an_error_not_an_empty_list() -> None:
    """Without runs/read (the role's experiments/runs/read) the job cannot be judged: a
    ValueError, which the reconciler parks with the service's message, visible in status."""
    ws = Workspace()
    a_job(ws, "Completed", error(403, "AuthorizationFailed", "lacks experiments/runs/read"))

    with pytest.raises(ValueError, match="403"):
        ws.platform.get_job(JOB)
