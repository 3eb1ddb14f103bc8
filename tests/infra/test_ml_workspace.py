"""The Azure ML workspace, its cluster and datastore: identities, api-versions, wiring.

The workspace runs as its system-assigned identity (Azure ML grants it its roles); the cluster
runs as its own user-assigned identity (rbac-workspace.bicep grants it a job's data access);
a property is only set with an api-version whose type declares it.
"""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import MAIN, Resource, module_params, parsed, resources

WORKSPACES = "Microsoft.MachineLearningServices/workspaces"

# Which api-versions of Microsoft.MachineLearningServices/workspaces declare
# properties.systemDatastoresAuthMode, from the Bicep type reference (generated from the REST
# specs: github.com/Azure/bicep-types-az, generated/machinelearningservices/
# microsoft.machinelearningservices/<api-version>/types.md, WorkspaceProperties). The GA
# versions before 2025-06-01 do not; the previews since 2022-12-01-preview do.
DECLARES_SYSTEM_DATASTORES_AUTH_MODE = {
    "2023-04-01": False,
    "2023-10-01": False,
    "2024-04-01": False,
    "2024-10-01": False,
    "2025-04-01": False,
    "2022-12-01-preview": True,
    "2024-04-01-preview": True,
    "2024-10-01-preview": True,
    "2025-01-01-preview": True,
    "2025-04-01-preview": True,
    "2025-06-01": True,
    "2025-09-01": True,
    "2025-12-01": True,
    "2026-03-01": True,
    "2026-05-01": True,
}


def _api_version(resource: Resource) -> str:
    version: str = parsed(resource.file)["resources"][resource.symbol]["api_version"]
    return version


def _only(type_: str) -> Resource:
    (found,) = resources(type_)
    return found


def test_system_datastores_auth_mode_is_set_only_with_an_api_version_that_declares_it() -> None:
    for workspace in resources(WORKSPACES):
        if "systemDatastoresAuthMode" not in workspace.properties:
            continue
        version = _api_version(workspace)
        assert version in DECLARES_SYSTEM_DATASTORES_AUTH_MODE, f"{workspace}: look {version} up"
        assert DECLARES_SYSTEM_DATASTORES_AUTH_MODE[version], (
            f"{workspace}: {version} has no systemDatastoresAuthMode; ARM would not apply it"
        )
        assert not version.endswith("-preview"), f"{workspace}: a GA version declares it"


def test_the_system_datastores_use_entra_id_because_shared_keys_are_off() -> None:
    # Without it the SAS a code upload gets from startPendingUpload is signed with an account
    # key, which a storage account without shared keys refuses (Learn: "Disable shared key
    # access for your workspace's storage account").
    workspace = _only(WORKSPACES)
    assert workspace.properties["systemDatastoresAuthMode"] == "Identity"


def test_ml_workspace_uses_its_own_identity_hbi_and_explicit_network_access() -> None:
    workspace = _only(WORKSPACES)
    props = workspace.properties
    assert workspace.config["identity"] == {"type": "SystemAssigned"}
    assert "primaryUserAssignedIdentity" not in props
    assert props["hbiWorkspace"] is True
    assert props["publicNetworkAccess"] == "publicNetworkAccess"
    param = workspace.file.read_text()
    assert "param publicNetworkAccess string\n" in param, "no default: callers must choose"


def test_the_cluster_runs_as_the_compute_identity_granted_in_rbac_workspace() -> None:
    cluster = _only(f"{WORKSPACES}/computes")
    identity = cluster.config["identity"]
    assert identity["type"] == "UserAssigned"
    assert list(identity["userAssignedIdentities"]) == ["'${computeIdentityId}'"]
    workspace = module_params(MAIN, "workspace")
    assert _output(workspace["computeIdentityId"]) == ("identities", "computeIdentityId")
    access = module_params(MAIN, "workspaceAccess")
    assert _output(access["computePrincipalId"]) == ("identities", "computePrincipalId")


def test_no_image_build_compute_while_the_registry_is_public() -> None:
    # imageBuildCompute is for a registry behind a VNet (Learn: "Configure image builds");
    # the cluster's identity only pulls (AcrPull), so it could not push a build anyway.
    (registry,) = resources("Microsoft.ContainerRegistry/registries")
    assert registry.properties["publicNetworkAccess"] == "Enabled"
    assert "imageBuildCompute" not in _only(WORKSPACES).properties


def test_datastores_name_no_workspace_identity_the_workspace_does_not_have() -> None:
    identity_type = _only(WORKSPACES).config["identity"]["type"]
    for datastore in resources(f"{WORKSPACES}/datastores"):
        used = datastore.properties["serviceDataAccessAuthIdentity"]
        if used == "WorkspaceUserAssignedIdentity":
            assert "UserAssigned" in identity_type, datastore
        if used == "WorkspaceSystemAssignedIdentity":
            assert "SystemAssigned" in identity_type, datastore
    training = next(resources(f"{WORKSPACES}/datastores"))
    assert training.properties["serviceDataAccessAuthIdentity"] == "None"
    assert training.properties["credentials"] == {"credentialsType": "None"}


def test_the_grants_name_the_storage_and_registry_the_workspace_uses() -> None:
    # The endpoint identity's Reader and the cluster's Contributor are only right if they are
    # on the account the workspace keeps its default datastore in, and its registry.
    workspace = module_params(MAIN, "workspace")
    assert _output(workspace["storageAccountId"]) == ("mlStorage", "id")
    assert _output(workspace["containerRegistryId"]) == ("registry", "id")
    for symbol in ("appAccess", "workspaceAccess"):
        params = module_params(MAIN, symbol)
        assert _output(params["mlStorageAccountName"]) == ("mlStorage", "name"), symbol
        assert _output(params["containerRegistryName"]) == ("registry", "name"), symbol


def test_every_ml_resource_uses_one_api_version() -> None:
    versions = {
        _api_version(r)
        for existing in (False, True)
        for r in resources(existing=existing)
        if r.type.startswith(WORKSPACES)
    }
    assert versions == {"2025-06-01"}


def _output(expression: Any) -> tuple[str, str]:
    """``module.outputs.name`` as (module, name) (pycep nests the accessors to the right)."""
    outer = expression["operator"]["operands"]
    inner = outer["operand_2"]["operator"]["operands"]
    assert inner["operand_1"] == "outputs", expression
    return str(outer["operand_1"]), str(inner["operand_2"])
