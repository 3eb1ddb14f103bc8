"""The role allow-list, checked grant by grant on the parsed Bicep.

Every role assignment in infra/ must be one of ALLOWED (principal, role, scope), each scoped
to one resource of the expected type, named deterministically by guid(scope, principal,
role); nothing is granted Owner, Contributor or User Access Administrator.

The one broad grant in the deployment is not in this template: the Azure ML workspace runs as
its system-assigned identity, and Azure ML itself assigns that identity its roles when it
creates the workspace (Learn "Set up authentication between Azure Machine Learning and other
services", workspace identity types: "Managed by Microsoft"; "Manage roles in your
workspace": Azure AI Administrator on the resource group for workspaces created since
2024-11-19). That is the documented exception to "no broad role for the app's own
identities"; test_the_workspace_identity_is_azure_ml_s_own_and_granted_nothing_here keeps the
template from granting it anything, and architecture/decisions.md says why.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.bicep import INFRA, Resource, mentions, parsed, resources

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
FORBIDDEN = (OWNER, CONTRIBUTOR, USER_ACCESS_ADMINISTRATOR)

BUILT_IN = json.loads((INFRA / "built-in-roles.json").read_text())
CUSTOM_ML_ROLE = "custom:mlOperatorRole"
TOPIC_IDENTITY = "Event Grid system topic identity"

CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
ACCOUNT = "Microsoft.Storage/storageAccounts"

# (file, principal, role, scope symbol) → the scope's resource type. Why each one exists is
# written next to it in the Bicep.
ALLOWED: dict[tuple[str, str, str, str], str] = {
    # The Function App's identity.
    ("rbac-app.bicep", "functionPrincipalId", CUSTOM_ML_ROLE, "workspace"): (
        "Microsoft.MachineLearningServices/workspaces"
    ),
    ("rbac-app.bicep", "functionPrincipalId", "storageBlobDataReader", "trainingContainer"): (
        CONTAINER
    ),
    ("rbac-app.bicep", "functionPrincipalId", "storageTableDataContributor", "stateTable"): (
        "Microsoft.Storage/storageAccounts/tableServices/tables"
    ),
    ("rbac-app.bicep", "functionPrincipalId", "keyVaultSecretsUser", "vault"): (
        "Microsoft.KeyVault/vaults"
    ),
    ("rbac-app.bicep", "functionPrincipalId", "monitoringMetricsPublisher", "auditRule"): (
        "Microsoft.Insights/dataCollectionRules"
    ),
    # The canary's live numbers: the endpoints' platform metrics (Monitoring Reader holds
    # Microsoft.Insights/metrics/read); endpoints are created at run time, so on the workspace.
    ("rbac-app.bicep", "functionPrincipalId", "monitoringReader", "workspace"): (
        "Microsoft.MachineLearningServices/workspaces"
    ),
    # Application Insights with local auth off takes telemetry from this role only.
    (
        "rbac-app.bicep",
        "functionPrincipalId",
        "monitoringMetricsPublisher",
        "applicationInsights",
    ): "Microsoft.Insights/components",
    # Identity-based AzureWebJobsStorage: Blob Data Owner is the host-only minimum, Table Data
    # Contributor adds the host's diagnostic events (Learn "Connecting to host storage with an
    # identity"); both on the HOST account (which holds no data) only.
    ("rbac-app.bicep", "functionPrincipalId", "storageBlobDataOwner", "hostStorage"): ACCOUNT,
    ("rbac-app.bicep", "functionPrincipalId", "storageTableDataContributor", "hostStorage"): (
        ACCOUNT
    ),
    # Creating an endpoint that runs as the endpoint identity assigns that identity.
    ("rbac-app.bicep", "functionPrincipalId", "managedIdentityOperator", "endpointIdentity"): (
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    ),
    # An ImagePushed event is checked against the registry before a rollout: AcrPull reads
    # manifests and nothing else (Learn "Azure Container Registry Entra permissions and role
    # assignments overview").
    ("rbac-app.bicep", "functionPrincipalId", "acrPull", "registry"): (
        "Microsoft.ContainerRegistry/registries"
    ),
    # The endpoint identity: AcrPull and Storage Blob Data Reader on the workspace's default
    # datastore (Learn "Access Azure resources from an online endpoint"), Reader not
    # Contributor.
    ("rbac-app.bicep", "endpointPrincipalId", "acrPull", "registry"): (
        "Microsoft.ContainerRegistry/registries"
    ),
    ("rbac-app.bicep", "endpointPrincipalId", "storageBlobDataReader", "mlStorage"): ACCOUNT,
    # The compute cluster's identity (a job's mounts, outputs, model and image pull): the
    # workspace's default datastore, the registry (pull only), the training data container.
    ("rbac-workspace.bicep", "computePrincipalId", "storageBlobDataContributor", "mlStorage"): (
        ACCOUNT
    ),
    ("rbac-workspace.bicep", "computePrincipalId", "acrPull", "registry"): (
        "Microsoft.ContainerRegistry/registries"
    ),
    ("rbac-workspace.bicep", "computePrincipalId", "storageBlobDataReader", "trainingContainer"): (
        CONTAINER
    ),
    # The deployer works with the identity-based default datastores (the first job, studio).
    ("rbac-workspace.bicep", "deployerPrincipalId", "storageBlobDataContributor", "mlStorage"): (
        ACCOUNT
    ),
    # The pipelines build the serving image with ACR Tasks (az acr build), which AcrPush cannot.
    (
        "rbac-workspace.bicep",
        "deployerPrincipalId",
        "containerRegistryTasksContributor",
        "registry",
    ): "Microsoft.ContainerRegistry/registries",
    # The deployer creates the audit chain key once (infra/hooks/create-audit-chain-key.sh):
    # secret write on this vault only; the app itself only reads it (Secrets User above).
    ("key-vault.bicep", "deployerPrincipalId", "keyVaultSecretsOfficer", "vault"): (
        "Microsoft.KeyVault/vaults"
    ),
    # The system topics write dead letters: the dead-letter container, nothing else.
    ("event-grid.bicep", TOPIC_IDENTITY, "storageBlobDataContributor", "deadLetterContainer"): (
        CONTAINER
    ),
}

# The Azure ML actions the Function App's custom role may hold (rbac-app.bicep says why each;
# tests/infra/test_ml_role_actions.py derives them from what the adapter sends).
ML = "Microsoft.MachineLearningServices/workspaces"
ALLOWED_ML_ACTIONS = {
    f"{ML}/read",
    f"{ML}/jobs/read",
    f"{ML}/jobs/write",
    f"{ML}/environments/write",
    f"{ML}/metadata/artifacts/write",
    f"{ML}/environments/build/action",
    f"{ML}/environments/readSecrets/action",
    f"{ML}/computes/read",
    f"{ML}/datastores/read",
    f"{ML}/codes/read",
    f"{ML}/environments/read",
    f"{ML}/models/read",
    f"{ML}/codes/versions/read",
    f"{ML}/environments/versions/read",
    f"{ML}/models/versions/read",
    f"{ML}/experiments/runs/read",  # the deploy gate reads the training job's MLflow run
    f"{ML}/codes/versions/write",
    f"{ML}/environments/versions/write",
    f"{ML}/onlineEndpoints/read",
    f"{ML}/onlineEndpoints/write",
    f"{ML}/onlineEndpoints/deployments/read",
    f"{ML}/onlineEndpoints/deployments/write",
    f"{ML}/onlineEndpoints/deployments/delete",
    f"{ML}/onlineEndpoints/score/action",
}
# Learn "Manage roles in your workspace", "Submitting any type of run (V2)": what a job
# submitter needs besides reads and jobs.
SUBMIT_RUN_V2 = {
    f"{ML}/environments/write",
    f"{ML}/metadata/artifacts/write",
    f"{ML}/environments/build/action",
    f"{ML}/environments/readSecrets/action",
}


def assignments() -> list[Resource]:
    return list(resources("Microsoft.Authorization/roleAssignments"))


def role_of(assignment: Resource) -> str:
    text = mentions(assignment.properties["roleDefinitionId"])
    if "mlOperatorRole" in text:
        return CUSTOM_ML_ROLE
    used = [str(name) for name in BUILT_IN if name != "$comment" and f'"{name}"' in text]
    assert len(used) == 1, f"{assignment}: role must be roles.<name>, got {text}"
    assert '"roles"' in text, f"{assignment}: role ids come from built-in-roles.json"
    return used[0]


def principal_of(assignment: Resource) -> str:
    principal = assignment.properties["principalId"]
    if isinstance(principal, str):
        return principal
    if "topics" in mentions(principal) and "identity" in mentions(principal):
        return TOPIC_IDENTITY
    raise AssertionError(f"{assignment}: unexpected principal {principal}")


def scope_of(assignment: Resource) -> str:
    scope = assignment.config.get("scope")
    assert isinstance(scope, str), f"{assignment}: every grant names one resource as scope"
    return scope


def key(assignment: Resource) -> tuple[str, str, str, str]:
    return (
        assignment.file.name,
        principal_of(assignment),
        role_of(assignment),
        scope_of(assignment),
    )


def test_every_role_assignment_is_on_the_allow_list_and_every_grant_is_there() -> None:
    found = [key(a) for a in assignments()]
    assert len(found) == len(set(found)), "duplicate grant"
    unexpected = sorted(set(found) - set(ALLOWED))
    missing = sorted(set(ALLOWED) - set(found))
    assert not unexpected, f"not on the allow-list: {unexpected}"
    assert not missing, f"allow-listed but not granted: {missing}"


def test_each_grant_is_scoped_to_a_resource_of_the_expected_type() -> None:
    for assignment in assignments():
        scope = scope_of(assignment)
        declared = parsed(assignment.file)["resources"][scope]
        assert declared["type"] == ALLOWED[key(assignment)], f"{assignment} scope {scope}"


def test_role_assignment_names_are_guid_of_scope_principal_and_role() -> None:
    for assignment in assignments():
        name = assignment.config["name"]
        assert name["function"]["type"] == "guid", assignment
        args = list(name["function"]["parameters"].values())
        assert len(args) == 3, f"{assignment}: guid(scope, principal, role)"
        scope, principal, role = (mentions(arg) for arg in args)
        assert f'"{scope_of(assignment)}"' in scope, f"{assignment}: first part is the scope"
        expected_principal = principal_of(assignment)
        if expected_principal == TOPIC_IDENTITY:
            assert '"topics"' in principal  # the topic's id determines its identity
        else:
            assert principal == f'"{expected_principal}"', f"{assignment}: then the principal"
        assert role_of(assignment).removeprefix("custom:") in role, f"{assignment}: then the role"


def test_managed_identities_are_assigned_as_service_principals() -> None:
    for assignment in assignments():
        if principal_of(assignment) == "deployerPrincipalId":
            assert assignment.properties["principalType"] == "deployerPrincipalType"
        else:
            assert assignment.properties["principalType"] == "ServicePrincipal", assignment


def test_the_deployer_is_granted_only_when_azd_names_one() -> None:
    """AZURE_PRINCIPAL_ID may be empty (main.parameters.json): no grant to an empty id."""
    not_empty = {
        "operator": {
            "type": "not",
            "operands": {
                "bool_value": {
                    "function": {
                        "type": "empty",
                        "parameters": {"item_to_test": "deployerPrincipalId"},
                    }
                }
            },
        }
    }
    granted = [a for a in assignments() if principal_of(a) == "deployerPrincipalId"]
    assert {a.file.name for a in granted} == {"rbac-workspace.bicep", "key-vault.bicep"}
    for assignment in granted:
        body = parsed(assignment.file)["resources"][assignment.symbol]
        assert body["config"].get("condition") == not_empty, assignment


def test_no_owner_contributor_or_user_access_administrator_anywhere() -> None:
    for path in sorted(INFRA.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8").lower()
            for role_id in FORBIDDEN:
                assert role_id not in text, f"{path.relative_to(INFRA)} names {role_id}"
    for name, role_id in BUILT_IN.items():
        assert role_id not in FORBIDDEN, name


def test_custom_ml_role_holds_only_the_ml_actions_the_app_uses() -> None:
    (role,) = resources("Microsoft.Authorization/roleDefinitions")
    props = role.properties
    assert props["type"] == "CustomRole"
    (permission,) = props["permissions"]
    actions = set(permission["actions"])
    assert actions == ALLOWED_ML_ACTIONS, {
        "extra": sorted(actions - ALLOWED_ML_ACTIONS),
        "missing": sorted(ALLOWED_ML_ACTIONS - actions),
    }
    assert not any("*" in action for action in actions)
    assert permission["notActions"] == []
    assert permission["dataActions"] == []


def test_a_v2_job_submitter_holds_the_actions_learn_lists_besides_jobs() -> None:
    (role,) = resources("Microsoft.Authorization/roleDefinitions")
    (permission,) = role.properties["permissions"]
    missing = SUBMIT_RUN_V2 - set(permission["actions"])
    assert not missing, f"Submitting any type of run (V2) also needs {sorted(missing)}"


def test_the_custom_role_is_assignable_in_the_resource_group_and_assigned_on_the_workspace() -> (
    None
):
    # Learn "Understand Azure role definitions", AssignableScopes: management group,
    # subscription or resource group, never a single resource.
    (role,) = resources("Microsoft.Authorization/roleDefinitions")
    assert role.properties["assignableScopes"] == [_resource_group_id()]
    (assignment,) = [a for a in assignments() if role_of(a) == CUSTOM_ML_ROLE]
    assert scope_of(assignment) == "workspace"


def _resource_group_id() -> Any:
    resource_group = {"type": "resource_group", "parameters": {}}
    resource_group["parameters"] = {"resource_group_name": None, "subscription_id": None}
    return {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": {"function": resource_group}, "operand_2": "id"},
        }
    }


def test_the_workspace_identity_is_azure_ml_s_own_and_granted_nothing_here() -> None:
    (workspace,) = resources("Microsoft.MachineLearningServices/workspaces")
    assert workspace.config["identity"] == {"type": "SystemAssigned"}
    assert "primaryUserAssignedIdentity" not in workspace.properties
    for assignment in assignments():
        principal = mentions(assignment.properties["principalId"])
        assert "workspace" not in principal.lower(), f"{assignment} grants the workspace identity"


def test_role_ids_are_the_built_in_ids_they_claim_to_be() -> None:
    # A typo in a GUID would grant some other role; these are the published ids.
    assert BUILT_IN["storageBlobDataReader"] == "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    assert BUILT_IN["storageBlobDataContributor"] == "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    assert BUILT_IN["storageBlobDataOwner"] == "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    assert BUILT_IN["storageTableDataContributor"] == "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    assert BUILT_IN["keyVaultSecretsUser"] == "4633458b-17de-408a-b874-0445c86b69e6"
    assert BUILT_IN["keyVaultSecretsOfficer"] == "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    assert BUILT_IN["monitoringMetricsPublisher"] == "3913510d-42f4-4e42-8a64-420c390055eb"
    assert BUILT_IN["monitoringReader"] == "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
    assert BUILT_IN["acrPull"] == "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    assert BUILT_IN["managedIdentityOperator"] == "f1a07417-d97a-45cb-824c-7a7467783830"
