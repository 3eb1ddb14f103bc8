"""Build the pack index and the workbook from the queries: python -m infra.monitoring.build_workbook

Each ``queries/*.kql`` file is one query of the Log Analytics query pack. Its leading ``//``
lines are its header: the first is the title, the rest say what it answers and which
parameters to edit. From them this writes, next to this file:

- ``queries.json``: the pack's index (name, title, description, tables, labels), which
  modules/monitoring-queries.bicep loads for each query's metadata; the query bodies it
  loads from the .kql files themselves, so the pack, the alert rules and this index share
  one text.
- ``workbook.json``: the Azure Monitor workbook, one item per query, each item's query the
  file's text with only its parameter ``let`` line bound to a workbook parameter.

``--check`` exits 1 when either committed file differs from what the queries give
(tests/infra/test_monitoring_workbook.py runs the same comparison).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
INDEX = HERE / "queries.json"
WORKBOOK = HERE / "workbook.json"

# Replaced by the workspace's resource id in the Bicep (the workbook's fallback resource).
WORKSPACE_PLACEHOLDER = "__LOG_ANALYTICS_WORKSPACE_ID__"

# Order of the workbook: the operators' questions, then what the alert rules see.
ORDER = (
    "failures-last-day",
    "rejected-by-reason",
    "gate-decisions",
    "rollouts-by-endpoint",
    "manual-actions",
    "uploads-around",
    "correlation-story",
    "audit-chain-check",
    "alert-dead-letter",
    "alert-rollout-rolled-back",
    "alert-training-failed",
    "alert-gate-failed",
    "alert-function-errors",
)

# Query parameters the workbook asks for: the .kql's `let NAME = <literal>;` line becomes
# `let NAME = <binding>;` in the workbook. Queries without one run as written.
WORKBOOK_PARAMETERS = {
    "CorrelationId": '"{CorrelationId}"',
    "At": "datetime({At})",
}

TABLES = ("MLOpsAudit_CL", "AppRequests", "AppTraces", "AppExceptions", "StorageBlobLogs")
CATEGORY_OF_TABLE = {
    "MLOpsAudit_CL": "audit",
    "AppRequests": "applications",
    "AppTraces": "applications",
    "AppExceptions": "applications",
    "StorageBlobLogs": "resources",
}

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    description: str
    body: str

    @property
    def alert(self) -> bool:
        return self.name.startswith("alert-")

    @property
    def tables(self) -> list[str]:
        return [t for t in TABLES if re.search(rf"\b{t}\b", self.body)]

    @property
    def parameters(self) -> list[str]:
        return [p for p in WORKBOOK_PARAMETERS if _let_line(p).search(self.body)]


def _let_line(parameter: str) -> re.Pattern[str]:
    return re.compile(rf"^let {parameter} = (?P<value>.+);$", re.MULTILINE)


def load_queries(folder: Path = QUERIES) -> list[Query]:
    found = {path.stem: _parse(path) for path in sorted(folder.glob("*.kql"))}
    unordered = sorted(set(found) ^ set(ORDER))
    if unordered:
        raise SystemExit(f"queries/*.kql and ORDER in {Path(__file__).name} differ: {unordered}")
    return [found[name] for name in ORDER]


def _parse(path: Path) -> Query:
    body = path.read_text(encoding="utf-8")
    header: list[str] = []
    for line in body.splitlines():
        if not line.startswith("//"):
            break
        header.append(line.removeprefix("//").strip())
    if len(header) < 2 or not header[0]:
        raise SystemExit(f"{path.name}: start with a // title and // lines on what it answers")
    return Query(path.stem, header[0], " ".join(header[1:]), body)


def index(queries: list[Query]) -> dict[str, Any]:
    """Keyed by query name: the Bicep looks alert rules' titles up by it."""
    return {
        "queries": {
            q.name: {
                "displayName": q.title,
                "description": q.description,
                "tables": q.tables,
                "categories": sorted({CATEGORY_OF_TABLE[t] for t in q.tables}),
                "labels": ["mlops", "alert" if q.alert else "investigation"],
            }
            for q in queries
        }
    }


def workbook_query(query: Query) -> str:
    """The query as the workbook runs it: its parameter lines bound to workbook parameters."""
    text = query.body
    for parameter in query.parameters:
        binding = WORKBOOK_PARAMETERS[parameter]
        text = _let_line(parameter).sub(f"let {parameter} = {binding};", text, count=1)
    return text


def workbook(queries: list[Query]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _text(
            "intro",
            "# MLOps: audit trail and function health\n"
            "Every table below is one query of the **MLOps** query pack "
            "(infra/monitoring/queries in the repository), run on this workspace. "
            "Set **Correlation id** to follow one upload, model or operation end to end, "
            "and **Upload time** to see what happened to the uploads around it.",
        ),
        _parameters(),
    ]
    first_alert = next(q.name for q in queries if q.alert)
    for query in queries:
        if query.name == first_alert:
            items.append(_text("alerts", "## What the alert rules see"))
        items.append(_text(f"about - {query.name}", f"### {query.title}\n{query.description}"))
        items.append(_query_item(query))
    return {
        "version": "Notebook/1.0",
        "items": items,
        "isLocked": False,
        "fallbackResourceIds": [WORKSPACE_PLACEHOLDER],
    }


def _text(name: str, markdown: str) -> dict[str, Any]:
    return {"type": 1, "content": {"json": markdown}, "name": f"text - {name}"}


def _parameters() -> dict[str, Any]:
    def text(name: str, label: str, description: str) -> dict[str, Any]:
        return {
            "id": name,
            "version": "KqlParameterItem/1.0",
            "name": name,
            "label": label,
            "type": 1,
            "description": description,
            "value": "",
        }

    return {
        "type": 9,
        "content": {
            "version": "KqlParameterItem/1.0",
            "parameters": [
                {
                    "id": "TimeRange",
                    "version": "KqlParameterItem/1.0",
                    "name": "TimeRange",
                    "label": "Time range",
                    "type": 4,
                    "isRequired": True,
                    "value": {"durationMs": 30 * DAY_MS},
                    "typeSettings": {
                        "selectableValues": [
                            {"durationMs": ms}
                            for ms in (3600000, DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 90 * DAY_MS)
                        ],
                        "allowCustom": True,
                    },
                },
                text(
                    "CorrelationId",
                    "Correlation id",
                    "An event id, operation id, rollout id, window id or job name",
                ),
                text("At", "Upload time (UTC)", "For example 2026-11-26 10:02"),
            ],
            "style": "pills",
            "queryType": 0,
            "resourceType": "microsoft.operationalinsights/workspaces",
        },
        "name": "parameters",
    }


def _query_item(query: Query) -> dict[str, Any]:
    content: dict[str, Any] = {
        "version": "KqlItem/1.0",
        "query": workbook_query(query),
        "size": 0,
        "title": query.title,
        "noDataMessage": "No rows.",
        "queryType": 0,
        "resourceType": "microsoft.operationalinsights/workspaces",
        "visualization": "table",
        "showExportToExcel": True,
    }
    item: dict[str, Any] = {"type": 3, "content": content, "name": f"query - {query.name}"}
    if query.parameters:
        # The query bounds its own time (Lookback, At ± Window): "set in query".
        content["timeContext"] = {"durationMs": 0}
        (parameter,) = query.parameters
        item["conditionalVisibility"] = {"parameterName": parameter, "comparison": "isNotEqualTo"}
    else:
        content["timeContext"] = {"durationMs": 30 * DAY_MS}
        content["timeContextFromParameter"] = "TimeRange"
    return item


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def outputs(queries: list[Query]) -> dict[Path, str]:
    return {INDEX: render(index(queries)), WORKBOOK: render(workbook(queries))}


def main(argv: list[str]) -> int:
    wanted = outputs(load_queries())
    if "--check" in argv:
        stale = [p.name for p, text in wanted.items() if _read(p) != text]
        if stale:
            print(f"stale: {', '.join(stale)}; run python -m infra.monitoring.build_workbook")
            return 1
        return 0
    for path, text in wanted.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parents[1])}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
