"""Azure ML run events (RunCompleted, RunStatusChanged) parsed from the documented samples,
in both schemas, and refused when hostile."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.domain.errors import Rejected
from shared.domain.events import parse_batch, parse_event
from shared.domain.job_events import RUN_COMPLETED, RUN_STATUS_CHANGED, TrainingRunEvent
from tests.unit.job_event_samples import SAMPLES, sample

WORKSPACE = (
    "/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{workspace-name}"
)
RUN = "AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5"


def parsed(name: str, **data: Any) -> TrainingRunEvent:
    event = parse_event(sample(name, **data))
    assert isinstance(event, TrainingRunEvent)
    return event


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_documented_sample_parses_through_the_one_batch_parser(name: str) -> None:
    (raw,) = parse_batch(SAMPLES[name])
    event = parse_event(raw)
    assert isinstance(event, TrainingRunEvent)
    assert event.meta.id == "831e1650-001e-001b-66ab-eeb76e069631"
    assert event.meta.source == WORKSPACE
    assert event.meta.subject == f"experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/{RUN}"
    assert event.meta.type == (RUN_COMPLETED if "Completed" in name else RUN_STATUS_CHANGED)
    assert event.run_id == RUN
    assert event.experiment_id == "0fa9dfaa-cba3-4fa7-b590-23e48548f5c1"
    assert event.experiment_name == "automl-local-regression"
    assert event.run_type == ""  # null in the sample
    assert event.tags == {}
    assert event.properties["run_algorithm"] == "LassoLars"
    assert json.loads(event.properties["pipeline_spec"])["pipeline_id"].startswith("5adc0a4f")


@pytest.mark.parametrize("schema", ["EventGrid", "CloudEvents"])
def test_run_completed_is_a_completed_terminal_run(schema: str) -> None:
    event = parsed(f"RunCompleted/{schema}")
    assert (event.status, event.outcome, event.terminal) == ("Completed", "completed", True)
    assert event.business_key == f"run:{RUN}:completed"


@pytest.mark.parametrize("schema", ["EventGrid", "CloudEvents"])
def test_the_samples_lower_case_failed_is_azure_mls_failed(schema: str) -> None:
    event = parsed(f"RunStatusChanged/{schema}")
    assert (event.status, event.outcome, event.terminal) == ("Failed", "failed", True)
    assert event.business_key == f"run:{RUN}:failed"


@pytest.mark.parametrize(
    ("sent", "status", "outcome"),
    [
        ("Canceled", "Canceled", "canceled"),
        ("CANCELED", "Canceled", "canceled"),
        ("Completed", "Completed", "completed"),
        ("Running", "Running", None),
        ("Queued", "Queued", None),
        ("Finalizing", "Finalizing", None),
        ("CancelRequested", "CancelRequested", None),
        ("NotResponding", "NotResponding", None),
        ("Paused", "Paused", None),  # a state this app does not know: not an ending
    ],
)
def test_run_status_changed_ends_a_run_only_on_a_terminal_state(
    sent: str, status: str, outcome: str | None
) -> None:
    event = parsed("RunStatusChanged/EventGrid", runStatus=sent)
    assert (event.status, event.outcome, event.terminal) == (status, outcome, outcome is not None)


def test_fields_are_read_in_any_case_as_the_machine_learning_events_are() -> None:
    raw = sample("RunStatusChanged/CloudEvents")
    raw["data"] = {
        "ExperimentName": "spam-classifier",
        "RunId": "train-spam-w1",
        "RunStatus": "Failed",
        "RunTags": {"window_id": "w1"},
    }
    event = parse_event(raw)
    assert isinstance(event, TrainingRunEvent)
    assert (event.experiment_name, event.run_id, event.status) == (
        "spam-classifier",
        "train-spam-w1",
        "Failed",
    )
    assert event.tags == {"window_id": "w1"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"runId": None}, "data.runid"),
        ({"runId": ""}, "data.runid"),
        ({"runId": 7}, "data.runid"),
        ({"runId": "x" * 257}, "data.runid"),
        ({"runId": "train\u202espam"}, "data.runid"),  # right-to-left override
        ({"runId": "train\nFAKE audit line"}, "data.runid"),
        ({"experimentName": None}, "data.experimentname"),
        ({"experimentName": ["spam-classifier"]}, "data.experimentname"),
        ({"experimentName": "spam\x1b[2J"}, "data.experimentname"),
        ({"runTags": "window_id=w1"}, "data.runTags"),
        ({"runTags": {str(i): "v" for i in range(201)}}, "data.runTags"),
        ({"runProperties": {"k": "v" * 4097}}, "data.runProperties"),
        ({"runType": {"nested": True}}, "data.runtype"),
    ],
)
def test_hostile_run_fields_are_refused_by_name(data: dict[str, Any], field: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_event(sample("RunCompleted/EventGrid", **data))
    assert refused.value.field == field


def test_a_run_status_changed_without_a_status_is_refused() -> None:
    raw = sample("RunStatusChanged/EventGrid")
    del raw["data"]["runStatus"]
    with pytest.raises(Rejected) as refused:
        parse_event(raw)
    assert refused.value.field == "data.runstatus"


def test_a_run_completed_that_claims_another_status_contradicts_its_type() -> None:
    with pytest.raises(Rejected) as refused:
        parse_event(sample("RunCompleted/CloudEvents", runStatus="Failed"))
    assert refused.value.field == "data.runStatus"
    assert parsed("RunCompleted/CloudEvents", runStatus="completed").outcome == "completed"


def test_two_spellings_of_one_field_with_different_values_are_ambiguous() -> None:
    with pytest.raises(Rejected, match="conflicting spellings"):
        parse_event(sample("RunStatusChanged/EventGrid", RunStatus="Completed"))


def test_data_must_be_an_object() -> None:
    raw = sample("RunCompleted/EventGrid")
    raw["data"] = ["runId", RUN]
    with pytest.raises(Rejected) as refused:
        parse_event(raw)
    assert refused.value.field == "data"
