"""What checkov does not check (or checks loosely), on the parsed Bicep."""

from __future__ import annotations

import pytest

from tests.infra.bicep import Resource, resources

STORAGE = "Microsoft.Storage/storageAccounts"


def only(type_: str) -> Resource:
    found = list(resources(type_))
    assert len(found) == 1, f"expected one {type_}, found {[str(r) for r in found]}"
    return found[0]


def test_storage_accounts_accept_entra_id_only_over_tls_1_2() -> None:
    accounts = list(resources(STORAGE))
    assert accounts, "no storage account declared"
    for account in accounts:
        props = account.properties
        assert props["allowSharedKeyAccess"] is False, account
        assert props["allowBlobPublicAccess"] is False, account
        assert props["minimumTlsVersion"] == "TLS1_2", account
        assert props["supportsHttpsTrafficOnly"] is True, account
        assert props["defaultToOAuthAuthentication"] is True, account


def test_blob_containers_are_private() -> None:
    for container in resources("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container.properties["publicAccess"] == "None", container


def test_key_vault_is_rbac_with_soft_delete_and_purge_protection() -> None:
    props = only("Microsoft.KeyVault/vaults").properties
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["enablePurgeProtection"] is True
    assert props["softDeleteRetentionInDays"] >= 7
    assert "accessPolicies" not in props


def test_container_registry_has_no_admin_user_and_no_anonymous_pull() -> None:
    props = only("Microsoft.ContainerRegistry/registries").properties
    assert props["adminUserEnabled"] is False
    assert props["anonymousPullEnabled"] is False


def test_application_insights_refuses_local_auth() -> None:
    props = only("Microsoft.Insights/components").properties
    assert props["DisableLocalAuth"] is True
    assert props["WorkspaceResourceId"], "workspace-based Application Insights"


def test_log_analytics_refuses_shared_keys() -> None:
    props = only("Microsoft.OperationalInsights/workspaces").properties
    assert props["features"]["disableLocalAuth"] is True


def test_function_app_is_https_only_tls_1_2_no_ftp_no_remote_debugging_no_wildcard_cors() -> None:
    site = only("Microsoft.Web/sites")
    props = site.properties
    config = props["siteConfig"]
    assert props["httpsOnly"] is True
    assert config["minTlsVersion"] == "1.2"
    assert config["scmMinTlsVersion"] == "1.2"
    assert config["ftpsState"] == "Disabled"
    assert config["remoteDebuggingEnabled"] is False
    # CORS origins are a parameter: its default is empty, and no literal '*' appears anywhere.
    assert config["cors"]["allowedOrigins"] == "corsAllowedOrigins"
    text = site.file.read_text()
    assert "'*'" not in text
    assert "param corsAllowedOrigins array = []" in text


def test_function_app_runs_on_flex_consumption_python_3_11_with_its_identity() -> None:
    plan = only("Microsoft.Web/serverfarms")
    assert plan.config["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = only("Microsoft.Web/sites")
    app_config = site.properties["functionAppConfig"]
    assert app_config["runtime"] == {"name": "python", "version": "3.11"}
    deployment = app_config["deployment"]["storage"]["authentication"]
    assert deployment == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    assert site.config["identity"]["type"] == "UserAssigned"


def test_publishing_with_basic_credentials_is_off() -> None:
    policies = {
        r.config["name"]: r.properties["allow"]
        for r in resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }
    assert policies == {"ftp": False, "scm": False}


def test_api_requires_entra_id_and_answers_401_but_lets_event_grid_in() -> None:
    (auth,) = [
        r for r in resources("Microsoft.Web/sites/config") if r.config["name"] == "authsettingsV2"
    ]
    props = auth.properties
    assert props["platform"]["enabled"] is True
    validation = props["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "Return401"
    assert validation["excludedPaths"] == ["/runtime/webhooks/eventgrid", "/api/openapi.json"]
    entra = props["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "apiClientId"
    assert entra["validation"]["allowedAudiences"] == "audiences"
    assert props["httpSettings"]["requireHttps"] is True


def test_ml_workspace_uses_its_identity_hbi_and_explicit_network_access() -> None:
    workspace = only("Microsoft.MachineLearningServices/workspaces")
    props = workspace.properties
    assert workspace.config["identity"]["type"] == "UserAssigned"
    assert props["primaryUserAssignedIdentity"] == "workspaceIdentityId"
    assert props["hbiWorkspace"] is True
    assert props["publicNetworkAccess"] == "publicNetworkAccess"
    assert props["systemDatastoresAuthMode"] == "identity"
    param = workspace.file.read_text()
    assert "param publicNetworkAccess string\n" in param, "no default: callers must choose"


def test_compute_cluster_scales_to_zero_without_ssh() -> None:
    cluster = only("Microsoft.MachineLearningServices/workspaces/computes")
    props = cluster.properties
    assert props["computeType"] == "AmlCompute"
    assert props["disableLocalAuth"] is True
    assert props["properties"]["scaleSettings"]["minNodeCount"] == 0
    assert props["properties"]["remoteLoginPortPublicAccess"] == "Disabled"


# Resource types that accept diagnostic settings, and every one declared must have one.
# (Identities, role assignments, containers, tables, computes, datastores and subscriptions
# do not accept them.)
DIAGNOSABLE = (
    "Microsoft.Web/sites",
    "Microsoft.Web/serverfarms",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Storage/storageAccounts/blobServices",
    "Microsoft.Storage/storageAccounts/tableServices",
    "Microsoft.KeyVault/vaults",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.MachineLearningServices/workspaces",
    "Microsoft.OperationalInsights/workspaces",
    "Microsoft.Insights/components",
    "Microsoft.Insights/dataCollectionRules",
    "Microsoft.EventGrid/systemTopics",
)


@pytest.mark.parametrize("type_", DIAGNOSABLE)
def test_every_resource_that_supports_them_has_diagnostic_settings(type_: str) -> None:
    declared = list(resources(type_))
    assert declared, f"no {type_} declared"
    settings = list(resources("Microsoft.Insights/diagnosticSettings"))
    for resource in declared:
        covering = [
            s for s in settings if s.file == resource.file and _scope_symbol(s) == resource.symbol
        ]
        assert covering, f"{resource} has no diagnostic setting"
        (setting,) = covering
        assert setting.properties["workspaceId"] in ("logAnalyticsId", _own_workspace(setting))
        assert setting.properties.get("logs") or setting.properties.get("metrics")


def _scope_symbol(setting: Resource) -> str:
    scope = setting.config["scope"]
    if isinstance(scope, str):
        return scope
    # topics[i] inside a loop
    return str(scope["operator"]["operands"]["operand_1"])


def _own_workspace(setting: Resource) -> object:
    # monitoring.bicep points its settings at the workspace it declares (logAnalytics.id).
    return {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": "logAnalytics", "operand_2": "id"},
        }
    }
