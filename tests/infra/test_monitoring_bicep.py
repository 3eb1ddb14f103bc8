"""modules/monitoring-queries.bicep, parsed: the query pack, the workbook and the alert rules
all take their KQL from infra/monitoring/queries/*.kql, so there is one text per query."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.monitoring import build_workbook
from tests.infra.bicep import (
    INFRA,
    MAIN,
    Resource,
    mentions,
    module_params,
    parsed,
    resources,
    variable,
)

MODULE = INFRA / "modules" / "monitoring-queries.bicep"
QUERY_FILES = {p.stem: p for p in (INFRA / "monitoring" / "queries").glob("*.kql")}
CATALOG: dict[str, Any] = json.loads(build_workbook.INDEX.read_text(encoding="utf-8"))["queries"]


def only(type_: str) -> Resource:
    (found,) = [r for r in resources(type_) if r.file == MODULE]
    return found


def accessor(of: Any, name: Any) -> dict[str, Any]:
    """``of.name`` as pycep writes it."""
    return {
        "operator": {"type": "property_accessor", "operands": {"operand_1": of, "operand_2": name}}
    }


def dotted(path: str) -> Any:
    """``a.b.c`` as pycep writes it (nested to the right)."""
    first, _, rest = path.partition(".")
    return accessor(first, dotted(rest)) if rest else first


def index(of: Any, key: Any) -> dict[str, Any]:
    """``of[key]`` as pycep writes it."""
    return {"operator": {"type": "index_accessor", "operands": {"operand_1": of, "operand_2": key}}}


def load_text(expression: Any) -> str:
    function = expression["function"]
    assert function["type"] == "load_text_content", expression
    path: str = function["parameters"]["file_path"]
    return path


def test_the_bodies_are_the_query_files_one_literal_path_each() -> None:
    bodies: dict[str, Any] = variable(MODULE, "bodies")
    loaded = {key.strip("'"): load_text(value) for key, value in bodies.items()}
    assert sorted(loaded) == sorted(QUERY_FILES) == sorted(CATALOG)
    for name, path in loaded.items():
        assert path == f"../monitoring/queries/{name}.kql"
        assert (MODULE.parent / path).resolve() == QUERY_FILES[name]


def test_the_catalog_is_the_generated_index() -> None:
    catalog = variable(MODULE, "catalog")
    assert catalog["operator"]["type"] == "property_accessor"
    assert catalog["operator"]["operands"]["operand_2"] == "queries"
    loaded = catalog["operator"]["operands"]["operand_1"]["function"]
    assert loaded["type"] == "load_json_content"
    assert loaded["parameters"]["file_path"] == "../monitoring/queries.json"


def test_the_pack_holds_one_query_per_file_with_its_own_text() -> None:
    pack = only("Microsoft.OperationalInsights/queryPacks")
    (queries,) = [
        r for r in resources("Microsoft.OperationalInsights/queryPacks/queries") if r.file == MODULE
    ]
    loop = parsed(MODULE)["resources"][queries.symbol]["config"]["loop_type"]["detail"]
    assert (
        loop["item_name"] == "query" and "items" in mentions(loop) and "catalog" in mentions(loop)
    )
    assert queries.config["parent"] == pack.symbol
    name = queries.config["name"]["function"]
    assert name["type"] == "guid"
    assert list(name["parameters"].values()) == [accessor("pack", "id"), accessor("query", "key")]
    props = queries.properties
    # Each query's body is bodies[query.key]: its .kql file.
    assert props["body"] == index("bodies", accessor("query", "key"))
    assert props["displayName"] == dotted("query.value.displayName")
    assert props["related"]["resourceTypes"] == ["microsoft.operationalinsights/workspaces"]


def test_every_catalog_entry_has_a_title_a_description_and_its_tables() -> None:
    for name, entry in CATALOG.items():
        assert entry["displayName"] and len(entry["description"]) > 40, name
        assert entry["tables"], name
        assert set(entry["categories"]) <= {"audit", "applications", "resources"}


def test_the_workbook_is_shared_on_the_workspace_and_loads_the_generated_json() -> None:
    book = only("Microsoft.Insights/workbooks")
    assert book.config["kind"] == "shared"
    assert "guid" in mentions(book.config["name"])
    props = book.properties
    assert "logAnalyticsId" in mentions(props["sourceId"])
    assert props["version"] == "Notebook/1.0"
    replace = props["serializedData"]["function"]
    assert replace["type"] == "replace"
    params = replace["parameters"]
    assert load_text(params["original_string"]) == "../monitoring/workbook.json"
    assert params["old_string"] == build_workbook.WORKSPACE_PLACEHOLDER
    assert params["new_string"] == "logAnalyticsId"
    assert build_workbook.WORKBOOK.read_text().count(build_workbook.WORKSPACE_PLACEHOLDER) == 1


def alert_rules() -> tuple[Resource, list[dict[str, Any]]]:
    (rules,) = [r for r in resources("Microsoft.Insights/scheduledQueryRules") if r.file == MODULE]
    return rules, variable(MODULE, "alerts")


def test_one_alert_rule_per_alert_query_and_nothing_else() -> None:
    rules, alerts = alert_rules()
    loop = parsed(MODULE)["resources"][rules.symbol]["config"]["loop_type"]["detail"]
    assert loop == {"item_name": "alert", "array_name": "alerts"}
    named = [a["query"] for a in alerts]
    assert sorted(named) == sorted(n for n in QUERY_FILES if n.startswith("alert-"))
    assert len(set(named)) == len(named)


def test_each_rule_runs_its_query_file_on_the_workspace_and_notifies_the_action_groups() -> None:
    rules, _ = alert_rules()
    props = rules.properties
    (criterion,) = props["criteria"]["allOf"]
    # The rule's query is bodies[alert.query]: the .kql text itself, as in the pack.
    assert criterion["query"] == index("bodies", accessor("alert", "query"))
    assert criterion["timeAggregation"] == "Count"
    assert criterion["operator"] == "GreaterThan"
    assert props["scopes"] == ["logAnalyticsId"]
    assert props["enabled"] is True and props["autoMitigate"] is True
    assert props["actions"] == {"actionGroups": "actionGroups"}
    assert rules.config["kind"] == "LogAlert"
    assert props["displayName"] == accessor(
        index("catalog", accessor("alert", "query")), "displayName"
    )


def test_thresholds_zero_except_function_errors_which_is_a_parameter() -> None:
    _, alerts = alert_rules()
    thresholds = {a["query"]: a["threshold"] for a in alerts}
    assert thresholds.pop("alert-function-errors") == "functionErrorThreshold"
    assert set(thresholds.values()) == {0}
    params = parsed(MODULE)["parameters"]
    assert params["functionErrorThreshold"]["type"] == "int"


def test_an_action_group_is_created_only_for_an_email_without_a_given_group() -> None:
    body = parsed(MODULE)["resources"]["emailGroup"]
    assert body["config"]["condition"] == "createActionGroup"
    condition = mentions(variable(MODULE, "createActionGroup"))
    assert "actionGroupId" in condition and "alertEmail" in condition
    group = only("Microsoft.Insights/actionGroups")
    (receiver,) = group.properties["emailReceivers"]
    assert receiver["emailAddress"] == "alertEmail"
    assert len(group.properties["groupShortName"]) <= 12
    chosen = mentions(variable(MODULE, "actionGroups"))
    assert "actionGroupId" in chosen and "emailGroup" in chosen


def test_main_deploys_the_module_on_the_workspace_with_its_parameters() -> None:
    params = module_params(MAIN, "monitoringQueries")
    module = parsed(MAIN)["modules"]["monitoringQueries"]
    assert module["detail"]["path"] == "modules/monitoring-queries.bicep"
    assert params["logAnalyticsId"] == dotted("monitoring.outputs.logAnalyticsId")
    assert params["actionGroupId"] == "alertActionGroupId"
    assert params["alertEmail"] == "alertEmail"
    assert params["functionErrorThreshold"] == "alertFunctionErrorThreshold"
    azd = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert azd["alertEmail"] == {"value": "${ALERT_EMAIL=}"}
    assert azd["alertActionGroupId"] == {"value": "${ALERT_ACTION_GROUP_ID=}"}


def test_the_dead_letter_alert_watches_the_container_event_grid_writes_to() -> None:
    container = variable(MAIN, "deadLetterContainer")
    text = QUERY_FILES["alert-dead-letter"].read_text(encoding="utf-8")
    assert re.search(rf'Container == "{container}"', text)
    # ... on the account whose blob writes reach the workspace (allLogs on its blob service).
    assert "deadLetterContainer" in module_params(MAIN, "dataStorage")["containers"]
    assert module_params(MAIN, "eventGrid")["deadLetterContainerName"] == "deadLetterContainer"
    storage = INFRA / "modules" / "storage-account.bicep"
    (blob_logs,) = [
        r
        for r in resources("Microsoft.Insights/diagnosticSettings")
        if r.file == storage and r.config["scope"] == "blobService"
    ]
    assert blob_logs.properties["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_no_query_file_is_loaded_from_anywhere_but_this_module() -> None:
    others = [p for p in INFRA.rglob("*.bicep") if p != MODULE]
    for path in others:
        assert "monitoring/queries" not in Path(path).read_text(encoding="utf-8"), path


# Tables the alert queries read, and who creates them. A rule's query is validated when the
# rule is created; a missing table fails the first provision. The service creates
# StorageBlobLogs with the first blob log the data account's diagnostic setting sends, and
# AppRequests with the first request telemetry, both after the first provision
# (Azure/bicep#11378 shows StorageBlobLogs failing exactly so). monitoring.bicep creates the
# audit table before this module runs (the module reads monitoring's outputs).
CREATED_LATE = {"StorageBlobLogs", "AppRequests"}
CREATED_BY_BICEP = {variable(INFRA / "modules" / "monitoring.bicep", "auditTableName")}


def test_rules_on_tables_the_service_creates_later_skip_query_validation() -> None:
    rules, alerts = alert_rules()
    by_rule = {a["query"]: set(CATALOG[a["query"]]["tables"]) for a in alerts}
    assert by_rule == {
        "alert-dead-letter": {"StorageBlobLogs"},
        "alert-function-errors": {"AppRequests"},
        "alert-rollout-rolled-back": {"MLOpsAudit_CL"},
        "alert-training-failed": {"MLOpsAudit_CL"},
        "alert-gate-failed": {"MLOpsAudit_CL"},
    }
    for alert in alerts:
        tables = by_rule[alert["query"]]
        assert tables <= CREATED_LATE | CREATED_BY_BICEP, alert["query"]
        assert alert["lateTable"] is bool(tables & CREATED_LATE), alert["query"]
    assert rules.properties["skipQueryValidation"] == accessor("alert", "lateTable")
    # The stable api-version whose ScheduledQueryRuleProperties declare skipQueryValidation.
    assert parsed(MODULE)["resources"][rules.symbol]["api_version"] == "2023-12-01"
    assert params_from_monitoring(), "the audit table exists before the rules are created"


def params_from_monitoring() -> bool:
    return "monitoring" in mentions(module_params(MAIN, "monitoringQueries")["logAnalyticsId"])
