"""The Function App's settings in Bicep against what the app reads (shared.settings), and
the audit table's columns against the audit record (shared.domain.audit)."""

from __future__ import annotations

from typing import Any

from shared.domain import audit
from shared.settings import AZURE_REQUIRED_SETTINGS, Settings
from tests.infra.bicep import INFRA, MAIN, mentions, module_params, parsed, resources, variable

FUNCTION_APP = INFRA / "modules" / "function-app.bicep"
MONITORING = INFRA / "modules" / "monitoring.bicep"


def host_settings() -> dict[str, Any]:
    value: dict[str, Any] = variable(FUNCTION_APP, "hostSettings")
    return value


def mlops_settings() -> dict[str, Any]:
    value: dict[str, Any] = module_params(MAIN, "functionApp")["mlopsSettings"]
    return value


def all_settings() -> dict[str, Any]:
    return {**host_settings(), **mlops_settings()}


def test_app_settings_are_the_host_settings_and_the_mlops_settings() -> None:
    assert mentions(variable(FUNCTION_APP, "allSettings")) == mentions(
        {
            "function": {
                "type": "union",
                "parameters": {"arg_1": "hostSettings", "arg_2": "mlopsSettings"},
            }
        }
    )
    (site,) = resources("Microsoft.Web/sites")
    assert "allSettings" in mentions(site.properties["siteConfig"]["appSettings"])


def test_every_setting_the_azure_backend_requires_is_set() -> None:
    missing = sorted(set(AZURE_REQUIRED_SETTINGS) - set(all_settings()))
    assert not missing


def test_every_mlops_setting_bicep_sets_is_a_real_settings_field() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in all_settings():
        if name.startswith("MLOPS_"):
            assert name.removeprefix("MLOPS_") in fields, f"{name} is not a Settings field"


def test_the_app_runs_the_azure_backend_with_the_names_infra_creates() -> None:
    settings = mlops_settings()
    assert settings["MLOPS_BACKEND"] == "azure"
    assert settings["MLOPS_TRAINING_CONTAINER"] == "trainingContainer"
    assert settings["MLOPS_STATE_TABLE"] == "stateTable"
    main_vars = parsed(MAIN)["variables"]
    assert main_vars["trainingContainer"]["value"] == "training-data"
    assert main_vars["stateTable"]["value"] == "mlopsstate"
    assert variable(MONITORING, "auditStreamName") == "Custom-MLOpsAudit_CL"
    for name, source in {
        "MLOPS_STORAGE_ACCOUNT_URL": ("dataStorage", "blobEndpoint"),
        "MLOPS_TABLE_SERVICE_URL": ("dataStorage", "tableEndpoint"),
        "MLOPS_AUDIT_INGESTION_ENDPOINT": ("monitoring", "auditIngestionEndpoint"),
        "MLOPS_AUDIT_DCR_ID": ("monitoring", "auditDcrImmutableId"),
        "MLOPS_ENDPOINT_IDENTITY_ID": ("identities", "endpointIdentityId"),
        "MLOPS_ALLOWED_REGISTRIES": ("registry", "loginServer"),
        "MLOPS_KEY_VAULT_URL": ("keyVault", "uri"),
    }.items():
        text = mentions(settings[name])
        assert all(f'"{part}"' in text for part in source), f"{name}: {text}"


def test_host_storage_and_telemetry_use_the_identity_not_keys() -> None:
    host = host_settings()
    assert host["AzureWebJobsStorage__accountName"] == "hostStorageAccountName"
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert host["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert host["AZURE_CLIENT_ID"] == "identityClientId"
    assert host["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "Authorization=AAD;ClientId=${identityClientId}"
    )
    assert "AzureWebJobsStorage" not in all_settings(), "no connection string"
    text = FUNCTION_APP.read_text()
    assert "AccountKey" not in text and "listKeys" not in text


def test_storage_endpoints_have_no_trailing_slash() -> None:
    text = (INFRA / "modules" / "storage-account.bicep").read_text()
    assert "length(account.properties.primaryEndpoints.blob) - 1)" in text
    assert "length(account.properties.primaryEndpoints.table) - 1)" in text


def test_audit_table_and_dcr_stream_have_the_audit_record_columns() -> None:
    expected = [{"name": name, "type": type_} for name, type_ in audit.AUDIT_TABLE_COLUMNS]
    assert variable(MONITORING, "auditColumns") == expected
    (table,) = resources("Microsoft.OperationalInsights/workspaces/tables")
    assert table.config["name"] == "auditTableName"
    assert table.properties["schema"]["columns"] == "auditColumns"
    (rule,) = resources("Microsoft.Insights/dataCollectionRules")
    (stream,) = rule.properties["streamDeclarations"].values()
    assert stream == {"columns": "auditColumns"}
    assert rule.config["kind"] == "Direct", "the DCR carries its own ingestion endpoint"


def test_outputs_cover_the_app_settings_and_the_readme() -> None:
    outputs = set(parsed(MAIN)["outputs"])
    for name in AZURE_REQUIRED_SETTINGS:
        if name.startswith("MLOPS_"):
            assert name in outputs, name
    for name in (
        "AZURE_RESOURCE_GROUP",
        "AZURE_FUNCTION_APP_NAME",
        "AZURE_FUNCTION_APP_URL",
        "AZURE_ML_WORKSPACE_NAME",
        "AZURE_ML_COMPUTE_NAME",
        "AZURE_ML_TRAINING_DATASTORE",
        "AZURE_CONTAINER_REGISTRY_ENDPOINT",
        "AZURE_DATA_STORAGE_ACCOUNT_NAME",
        "AZURE_LOG_ANALYTICS_NAME",
    ):
        assert name in outputs, name
