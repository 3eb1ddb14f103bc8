"""The gate's monitoring queries read what the deploy gate now records (issue 12, section 2).

The decision rests on the job's run, not the version's tags
(shared/services/model_registered.py), and the gate's audit records carry that evidence in
``details.evidence``. So the queries about the gate (gate-decisions.kql, alert-gate-failed.kql)
take their decision from the record's Outcome, show the job, run and metrics from the evidence,
and show a tag only as a claim. Each Details path they read is checked against records the real
handler writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from shared.domain.audit import AuditEntry
from tests.conftest import World, model_registered
from tests.infra.bicep import INFRA

QUERIES = INFRA / "monitoring" / "queries"
GATE_QUERIES = ("gate-decisions.kql", "alert-gate-failed.kql")
MODEL = "spam-classifier"
DETAILS = re.compile(r"\bDetails((?:\.\w+)+)")
GOOD = {"gate": "passed", "gate_reason": "first model", "accuracy": "0.99", "f1": "0.96"}


def text(name: str) -> str:
    return (QUERIES / name).read_text(encoding="utf-8")


def code(name: str) -> str:
    """The query without its // header (which may name Details keys in prose)."""
    return "\n".join(line for line in text(name).splitlines() if not line.startswith("//"))


def resolves(details: Mapping[str, Any], path: str) -> bool:
    node: Any = details
    for key in path.strip(".").split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def one(world: World, action: str, outcome: str) -> AuditEntry:
    (entry,) = [e for e in world.audit.entries if e.action == action and e.outcome == outcome]
    return entry


@pytest.fixture
def decided(world: World) -> World:
    """An upload trained into version 1 (accepted on its evidence), and version 2 registered
    by hand with every tag a passing version has (refused)."""
    world.deliver("on_blob_created", world.upload("spam/a.csv"))
    world.clock.advance(61)
    world.reconcile()
    (job,) = world.platform.submitted
    tags = {**GOOD, **job.tags, "job_name": job.name}
    world.platform.finish_job(job.name, world.platform.add_model(MODEL, "1", tags))
    world.reconcile()
    world.deliver("on_model_registered", model_registered(MODEL, "1", tags))
    forged = {**GOOD, "golden_accuracy": "1.0", "golden_f1": "1.0", "job_name": job.name}
    world.platform.register_by_hand(MODEL, "2", forged)
    world.deliver("on_model_registered", model_registered(MODEL, "2", forged))
    return world


def test_the_gate_queries_decide_by_outcome_never_by_a_tag() -> None:
    for name in GATE_QUERIES:
        body = code(name)
        filters = [line for line in body.splitlines() if line.lstrip().startswith("| where")]
        assert not [line for line in filters if "Details" in line], name
        # A tag is only ever shown, as what the version claimed.
        for read in re.findall(r"(\w+)\s*=\s*\w+\((Details\.tags\.\w+)\)", body):
            assert read[0].startswith("Claimed"), (name, read)
        assert not re.search(r"=\s*Details\.tags\b", body), f"{name}: tags taken whole"
        assert re.search(r'Outcome == "rejected"|Decision = Outcome', body), name


def test_gate_decisions_shows_the_evidence_the_gate_wrote(decided: World) -> None:
    accepted = one(decided, "model.registered", "accepted")
    evidence = accepted.details["evidence"]
    body = code("gate-decisions.kql")
    read = set(DETAILS.findall(body))
    shown = {f".evidence.{key}" for key in ("job_name", "run_id")}
    shown |= {f".evidence.metrics.{m}" for m in ("f1", "accuracy", "golden_f1", "golden_accuracy")}
    assert shown <= read
    for path in shown:
        assert resolves(accepted.details, path), path
    # The window comes from the app's own training.submitted record for the evidence's job.
    submitted = one(decided, "training.submitted", "accepted")
    assert submitted.target == evidence["job_name"]
    assert resolves(submitted.details, ".window_id") and ".window_id" in read


def test_every_details_path_the_gate_queries_read_is_in_a_real_record(decided: World) -> None:
    records = [
        one(decided, "model.registered", "accepted"),
        one(decided, "model.registered", "rejected"),
        one(decided, "training.submitted", "accepted"),
    ]
    for name in GATE_QUERIES:
        for path in DETAILS.findall(code(name)):
            assert any(resolves(r.details, path) for r in records), (name, path)


def test_a_refused_forgery_shows_its_claims_beside_the_reason(decided: World) -> None:
    rejected = one(decided, "model.registered", "rejected")
    assert "evidence" not in rejected.details  # nothing the gate could vouch for
    assert "not produced by a training job" in rejected.reason
    for path in DETAILS.findall(code("alert-gate-failed.kql")):
        assert path.startswith(".tags.") and resolves(rejected.details, path), path
