"""`mlops serve` serves on_job_finished: Learn's run-event samples, sent with `mlops send-event`,
are routed by infra/event-routing.json to it over the Event Grid webhook, in both schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.ops.cli import main
from tests.integration.host.hostproc import HostProcess, start_host
from tests.unit.job_event_samples import sample


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    running = start_host(tmp_path_factory.mktemp("job-events-home"))
    yield running
    assert running.stop() == 0


@pytest.mark.parametrize("name", ["RunStatusChanged/EventGrid", "RunCompleted/CloudEvents"])
def test_a_run_event_reaches_on_job_finished_through_the_webhook(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # Our experiment (the default model name), a job this app never submitted.
    event = sample(name, experimentName="spam-classifier", runId="train-by-hand-1")
    event["id"] = f"{name}-host"
    file = tmp_path / "event.json"
    file.write_text(json.dumps(event))
    code = main(["--home", str(host.home), "send-event", str(file), "--url", host.url])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith("on_job_finished <- 1 event(s)") and out.strip().endswith(": 200")
    [record] = host.audit(correlation_id=event["id"])
    assert (record.action, record.outcome) == ("training.run_event", "rejected")
    assert "not submitted by this app" in record.reason


def test_another_experiments_run_is_not_routed(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(sample("RunCompleted/EventGrid")))  # automl-local-regression
    code = main(["--home", str(host.home), "send-event", str(file), "--url", host.url])
    _, err = capsys.readouterr()
    assert code == 1 and "no subscription in the routing takes event" in err
