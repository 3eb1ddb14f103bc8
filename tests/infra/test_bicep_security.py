"""What checkov does not check (or checks loosely), on the parsed Bicep."""

from __future__ import annotations

import fnmatch
import importlib
from typing import Any

import pytest

from shared.devhost import easyauth
from tests.infra.bicep import (
    INFRA,
    MAIN,
    REPO,
    Resource,
    module_params,
    parsed,
    resources,
    variable,
)

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
    # Off by default; only preview api-versions declare the property (Bicep change log of
    # Microsoft.ContainerRegistry/registries), and ours is stable: it must not be set at all.
    assert "anonymousPullEnabled" not in props
    assert "preview" not in _api_version(only("Microsoft.ContainerRegistry/registries"))


def test_online_deployment_egress_matches_what_the_registry_and_workspace_support() -> None:
    """egress_public_network_access: disabled makes Azure ML create private endpoints to the
    workspace, its storage and its registry (legacy network isolation): that needs a workspace
    private link and a Premium registry (Learn: concept-secure-online-endpoint,
    container-registry-skus). Without both, the deployment must keep its egress open."""
    yaml = importlib.import_module("yaml")  # PyYAML, untyped: read as plain data
    spec: dict[str, Any] = yaml.safe_load((REPO / "training/endpoints/deployment.yml").read_text())
    egress = spec["egress_public_network_access"]
    registry = parsed(INFRA / "modules" / "container-registry.bicep")["parameters"]["sku"]
    private_links = list(resources("Microsoft.Network/privateEndpoints"))
    if egress == "disabled":
        assert registry["default"] == "Premium", "private endpoints need a Premium registry"
        assert private_links, "the workspace needs a private link"
    else:
        assert egress == "enabled"
    assert (egress, registry["default"], private_links) == ("enabled", "Standard", [])


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
    assert config["remoteDebuggingEnabled"] is False
    # CORS origins are a parameter: its default is empty, and no literal '*' appears anywhere.
    assert config["cors"]["allowedOrigins"] == "corsAllowedOrigins"
    text = site.file.read_text()
    assert "'*'" not in text
    assert "param corsAllowedOrigins array = []" in text


# Learn, functions-app-settings, "Flex Consumption plan deprecations": site properties and
# app settings that are deprecated or moved on Flex Consumption ("FTPS not supported", ...).
FLEX_DEPRECATED_SITE_PROPERTIES = frozenset(
    name.lower()
    for name in (
        "alwaysOn", "containerSize", "dnsConfiguration", "ftpsState", "isReserved", "IsXenon",
        "javaVersion", "LinuxFxVersion", "netFrameworkVersion", "powerShellVersion",
        "functionAppScaleLimit", "preWarmedInstanceCount", "use32BitWorkerProcess",
        "vnetBackupRestoreEnabled", "vnetContentShareEnabled", "vnetImagePullEnabled",
        "vnetRouteAllEnabled", "windowsFxVersion",
    )
)  # fmt: skip
FLEX_DEPRECATED_APP_SETTINGS = frozenset(
    (
        "ENABLE_ORYX_BUILD", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_WORKER_RUNTIME_VERSION", "FUNCTIONS_MAX_HTTP_CONCURRENCY",
        "FUNCTIONS_WORKER_PROCESS_COUNT", "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
        "SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTOVERVNET", "WEBSITE_CONTENTSHARE", "WEBSITE_DNS_SERVER",
        "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT", "WEBSITE_NODE_DEFAULT_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
        "WEBSITE_VNET_ROUTE_ALL", "WEBSITE_TIME_ZONE", "TZ",
    )
)  # fmt: skip


def test_no_site_property_or_app_setting_flex_consumption_deprecates() -> None:
    site = only("Microsoft.Web/sites")
    used = {key.lower() for key in site.properties} | {
        key.lower() for key in site.properties["siteConfig"]
    }
    assert not used & FLEX_DEPRECATED_SITE_PROPERTIES
    settings = set(variable(INFRA / "modules" / "function-app.bicep", "hostSettings"))
    settings |= set(module_params(MAIN, "functionApp")["mlopsSettings"])
    assert not settings & FLEX_DEPRECATED_APP_SETTINGS


def test_function_app_runs_on_flex_consumption_python_3_13_with_its_identity() -> None:
    plan = only("Microsoft.Web/serverfarms")
    assert plan.config["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = only("Microsoft.Web/sites")
    app_config = site.properties["functionAppConfig"]
    # Learn functions-versions (Python): 3.13 is GA; Linux Consumption stops at 3.12.
    assert app_config["runtime"] == {"name": "python", "version": "3.13"}
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
    assert validation["excludedPaths"] == ["/runtime/webhooks/*", "/api/openapi.json"]
    entra = props["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "apiClientId"
    assert entra["validation"]["allowedAudiences"] == "audiences"
    assert props["httpSettings"]["requireHttps"] is True


def _excluded(path: str, patterns: list[str], *, case_sensitive: bool) -> bool:
    """Learn's excludedPaths: an exact path, or a prefix ending in '/*'. Learn does not say
    whether the comparison ignores case, so both readings are checked."""
    if not case_sensitive:
        path, patterns = path.lower(), [p.lower() for p in patterns]
    return any(
        fnmatch.fnmatchcase(path, pattern) if pattern.endswith("/*") else path == pattern
        for pattern in patterns
    )


@pytest.mark.parametrize("case_sensitive", [True, False])
def test_the_event_grid_webhook_is_excluded_however_easy_auth_compares_case(
    case_sensitive: bool,
) -> None:
    (auth,) = [
        r for r in resources("Microsoft.Web/sites/config") if r.config["name"] == "authsettingsV2"
    ]
    excluded = auth.properties["globalValidation"]["excludedPaths"]
    # Both spellings Microsoft uses for the Event Grid trigger's webhook (Learn: Event Grid
    # trigger; the Functions templates' "/runtime/webhooks/EventGrid").
    for path in ("/runtime/webhooks/eventgrid", "/runtime/webhooks/EventGrid"):
        assert _excluded(path, excluded, case_sensitive=case_sensitive), path
    # ... and the exclusion never uncovers the API, whatever the case.
    for path in ("/api/operations", "/API/Operations", "/api/openapi.json.bak", "/runtime"):
        assert not _excluded(path, excluded, case_sensitive=case_sensitive), path


def test_the_local_easy_auth_excludes_what_the_deployed_one_does() -> None:
    (auth,) = [
        r for r in resources("Microsoft.Web/sites/config") if r.config["name"] == "authsettingsV2"
    ]
    assert list(easyauth.EXCLUDED_PATHS) == auth.properties["globalValidation"]["excludedPaths"]
    assert not easyauth.requires_authentication("/runtime/webhooks/EventGrid")
    assert easyauth.requires_authentication("/api/operations")


def _api_version(resource: Resource) -> str:
    version: str = parsed(resource.file)["resources"][resource.symbol]["api_version"]
    return version


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
