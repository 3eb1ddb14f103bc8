"""The monitoring queries (infra/monitoring/queries/*.kql), checked by Microsoft's own KQL
semantic analyzer (Kusto.Language, npm @kusto/language-service-next) against the tables they
read: MLOpsAudit_CL with exactly the audit record's columns, and the Application Insights and
storage tables with their documented columns (tests/infra/log_analytics_tables.py). An
unknown table, column, function or a syntax error is an error diagnostic and fails.

The analyzer comes from MLOPS_KUSTO (the package's Kusto.Language.Bridge.js; ``make test``
sets it) or where ``make tools`` installs it; it runs under node (tests/infra/kusto.cjs).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest

from shared.domain.audit import AUDIT_TABLE_COLUMNS
from tests.infra.bicep import INFRA, REPO, variable
from tests.infra.log_analytics_tables import TABLES, schema
from tests.tools import missing_tool, tool_path

QUERIES = sorted((INFRA / "monitoring" / "queries").glob("*.kql"))
KUSTO_DEFAULT = (
    REPO / ".tools/node/node_modules/@kusto/language-service-next/Kusto.Language.Bridge.js"
)
RUNNER = Path(__file__).with_name("kusto.cjs")


@pytest.fixture(scope="module")
def analyze(tmp_path_factory: pytest.TempPathFactory) -> Any:
    bridge = tool_path(
        "MLOPS_KUSTO", KUSTO_DEFAULT, "the KQL analyzer (@kusto/language-service-next)"
    )
    node = shutil.which("node")
    if node is None:
        missing_tool("node not found (it runs the KQL analyzer)")
    schema_file = tmp_path_factory.mktemp("kusto") / "schema.json"
    schema_file.write_text(json.dumps(schema()), encoding="utf-8")

    def run(*files: Path) -> dict[str, list[dict[str, Any]]]:
        result = subprocess.run(
            [str(node), str(RUNNER), str(bridge), str(schema_file), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return {Path(r["file"]).name: r["diagnostics"] for r in json.loads(result.stdout)}

    return run


def errors(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [
        f"line {d['line']}: {d['code']} {d['message']}"
        for d in diagnostics
        if d["severity"] == "Error"
    ]


def test_there_are_queries() -> None:
    assert len(QUERIES) >= 10


# The analyzers' advice we take knowingly. correlation-story.kql's parameter is named
# CorrelationId, like the column, because that is the name operators look for; the query
# copies it into Id before any row is in scope, and the warning is the analyzer saying that
# inside a row CorrelationId means the column, which is what the query wants.
ACCEPTED_WARNINGS = {("correlation-story.kql", "KS510")}


def test_every_query_is_valid_against_the_real_tables_and_columns(analyze: Any) -> None:
    found = analyze(*QUERIES)
    assert sorted(found) == [q.name for q in QUERIES]
    failures = {name: errors(d) for name, d in found.items() if errors(d)}
    assert not failures, json.dumps(failures, indent=2)


def test_the_analyzers_advise_nothing_but_what_we_accepted(analyze: Any) -> None:
    advice = {
        (name, d["code"], d["line"], d["message"])
        for name, diagnostics in analyze(*QUERIES).items()
        for d in diagnostics
        if d["severity"] != "Error"
    }
    unexpected = sorted(a for a in advice if a[:2] not in ACCEPTED_WARNINGS)
    assert not unexpected, "\n".join(map(str, unexpected))


def test_the_analyzer_fails_a_misspelled_column_an_unknown_table_and_a_foreign_column(
    analyze: Any, tmp_path: Path
) -> None:
    real = (INFRA / "monitoring/queries/alert-training-failed.kql").read_text(encoding="utf-8")
    assert "| where Action ==" in real
    cases = {
        "misspelled.kql": (real.replace("| where Action ==", "| where Acton =="), "'Acton'"),
        "table.kql": (real.replace("MLOpsAudit_CL", "MLOpsAudits_CL"), "'MLOpsAudits_CL'"),
        # Message is an AppTraces column, not an audit one.
        "foreign.kql": ("MLOpsAudit_CL | project Message", "'Message'"),
    }
    for name, (text, _) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = analyze(*(tmp_path / name for name in cases))
    for name, (_, culprit) in cases.items():
        reported = errors(found[name])
        assert len(reported) == 1 and culprit in reported[0], (name, reported)


def test_the_audit_table_the_analyzer_knows_is_the_record_and_the_bicep_table() -> None:
    columns = TABLES["MLOpsAudit_CL"]
    assert columns == AUDIT_TABLE_COLUMNS
    bicep = variable(INFRA / "modules" / "monitoring.bicep", "auditColumns")
    assert [(c["name"], c["type"]) for c in bicep] == list(columns)
    assert variable(INFRA / "modules" / "monitoring.bicep", "auditTableName") == "MLOpsAudit_CL"


# Details is dynamic: the analyzer cannot check its keys. Each key a query reads must at
# least be one the app writes somewhere (a literal or a keyword argument in its code).
DETAILS_PATH = re.compile(r"\bDetails((?:\.\w+)+)")
SOURCES = [
    *sorted((REPO / "shared").rglob("*.py")),
    *sorted((REPO / "functions").rglob("*.py")),
    *sorted((REPO / "training").rglob("*.py")),
]


def test_the_details_keys_the_queries_read_are_keys_the_app_writes() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    read = {
        key
        for query in QUERIES
        for path in DETAILS_PATH.findall(query.read_text(encoding="utf-8"))
        for key in path.strip(".").split(".")
    }
    assert {"window_id", "rollout_id", "tags", "job_name", "gate", "principal"} <= read
    unknown = sorted(key for key in read if not re.search(rf"""["']{key}["']|\b{key}=""", code))
    assert not unknown, f"Details keys no code writes: {unknown}"


PARAMETER_LINE = re.compile(r'^let (\w+) = (ago\(\d+d\)|datetime\([^)]*\)|"[^"]*"|\d+[dhm]);$')


def test_every_parameter_is_a_let_line_right_after_the_header_and_is_named_in_it() -> None:
    """What the README tells operators: edit the `let` lines under the header."""
    for query in QUERIES:
        lines = query.read_text(encoding="utf-8").splitlines()
        header = list(takewhile(lambda line: line.startswith("//"), lines))
        (said,) = [line for line in header if line.startswith("// Parameters:")]
        block = takewhile(lambda line: line.startswith("let "), lines[len(header) :])
        parameters = [m[1] for line in block if (m := PARAMETER_LINE.match(line))]
        for name in parameters:
            assert re.search(rf"\b{name}\b", said), f"{query.name}: say what {name} is"
        text = "\n".join(lines)
        for name in ("CorrelationId", "At"):  # the workbook binds these
            if re.search(rf"^let {name} = ", text, re.MULTILINE):
                assert name in parameters, f"{query.name}: {name} right after the header"
