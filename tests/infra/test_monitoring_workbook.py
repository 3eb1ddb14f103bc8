"""infra/monitoring/workbook.json and queries.json are what build_workbook makes of the .kql
files, and the workbook runs nothing but the pack's queries."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.monitoring import build_workbook as build

QUERIES = build.load_queries()
WORKBOOK: dict[str, Any] = json.loads(build.WORKBOOK.read_text(encoding="utf-8"))
README = build.HERE / "README.md"


@pytest.mark.parametrize("path", [build.INDEX, build.WORKBOOK], ids=lambda p: p.name)
def test_the_committed_file_is_the_generated_one(path: Path) -> None:
    wanted = build.outputs(QUERIES)[path]
    assert path.read_text(encoding="utf-8") == wanted, (
        f"{path.name} is stale: run python -m infra.monitoring.build_workbook"
    )


def test_the_check_mode_agrees() -> None:
    assert build.main(["--check"]) == 0


def query_items() -> dict[str, dict[str, Any]]:
    items = [i for i in WORKBOOK["items"] if i["type"] == 3]
    assert all(i["name"].startswith("query - ") for i in items)
    return {i["name"].removeprefix("query - "): i for i in items}


def test_every_workbook_query_is_a_pack_query_with_only_its_parameter_bound() -> None:
    bodies = {q.name: q.body for q in QUERIES}
    items = query_items()
    assert sorted(items) == sorted(bodies)
    for name, item in items.items():
        content = item["content"]
        assert content["version"] == "KqlItem/1.0"
        assert content["resourceType"] == "microsoft.operationalinsights/workspaces"
        shown, own = content["query"].splitlines(), bodies[name].splitlines()
        assert len(shown) == len(own), name
        changed = [(a, b) for a, b in zip(shown, own, strict=True) if a != b]
        for workbook_line, file_line in changed:
            parameter = re.fullmatch(r"let (\w+) = .+;", file_line)
            assert parameter and parameter[1] in build.WORKBOOK_PARAMETERS, (name, file_line)
            binding = build.WORKBOOK_PARAMETERS[parameter[1]]
            assert workbook_line == f"let {parameter[1]} = {binding};"
        assert len(changed) <= 1, name


def test_the_workbook_parameters_are_the_bindings_and_the_time_range() -> None:
    (parameters,) = [i for i in WORKBOOK["items"] if i["type"] == 9]
    names = [p["name"] for p in parameters["content"]["parameters"]]
    assert names == ["TimeRange", *build.WORKBOOK_PARAMETERS]
    for binding in build.WORKBOOK_PARAMETERS.values():
        assert re.search(r"\{(\w+)\}", binding)
    for name, item in query_items().items():
        bound = re.findall(r"\{(\w+)\}", item["content"]["query"])
        assert set(bound) <= set(build.WORKBOOK_PARAMETERS), name
        if bound:  # shown once its parameter is set; bounds its own time
            assert item["conditionalVisibility"]["parameterName"] == bound[0]
            assert item["content"]["timeContext"] == {"durationMs": 0}
        else:
            assert item["content"]["timeContextFromParameter"] == "TimeRange"


def test_the_workbook_falls_back_to_the_workspace_the_bicep_substitutes() -> None:
    assert WORKBOOK["version"] == "Notebook/1.0"
    assert WORKBOOK["fallbackResourceIds"] == [build.WORKSPACE_PLACEHOLDER]


def test_every_query_has_a_title_and_says_what_it_answers() -> None:
    for query in QUERIES:
        assert query.title and not query.title.endswith(".")
        assert len(query.description) > 80, query.name
        assert query.tables, query.name


def test_the_operators_readme_names_every_query_file() -> None:
    text = README.read_text(encoding="utf-8")
    for query in QUERIES:
        assert f"{query.name}.kql" in text, query.name
