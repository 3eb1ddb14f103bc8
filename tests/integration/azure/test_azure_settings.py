"""Azure start-up checks: settings, the one credential, and a light cold start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from pydantic import ValidationError

from shared.adapters.azure.credential import choose_credential, process_credential
from shared.adapters.project_files import REPO_ROOT
from shared.settings import Settings

REFERENCE = "@Microsoft.KeyVault(SecretUri=https://kv-mlops.vault.azure.net/secrets/db-pass/)"
AZURE = {
    "MLOPS_BACKEND": "azure",
    "AZURE_CLIENT_ID": "7c0d7a2e-0000-4000-8000-00000000c1d0",
    "MLOPS_SUBSCRIPTION_ID": "0b3c1a2d-0000-4000-8000-000000000001",
    "MLOPS_RESOURCE_GROUP": "rg-mlops",
    "MLOPS_WORKSPACE_NAME": "mlw-mlops",
    "MLOPS_STORAGE_ACCOUNT_URL": "https://contosodata.blob.core.windows.net",
    "MLOPS_TABLE_SERVICE_URL": "https://contosodata.table.core.windows.net",
    "MLOPS_KEY_VAULT_URL": "https://kv-mlops.vault.azure.net",
    "MLOPS_AUDIT_INGESTION_ENDPOINT": "https://dce-mlops.westeurope-1.ingest.monitor.azure.com",
    "MLOPS_AUDIT_DCR_ID": "dcr-00112233445566778899aabbccddeeff",
    "MLOPS_ENDPOINT_IDENTITY_ID": "/subscriptions/x/resourceGroups/rg/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-endpoint",
    "MLOPS_ALLOWED_REGISTRIES": "crmlopsprod.azurecr.io",
}


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in AZURE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_a_complete_azure_configuration_loads(azure_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.backend, settings.audit_stream) == ("azure", "Custom-MLOpsAudit_CL")


def test_the_demo_registry_is_not_an_azure_allow_list(azure_env: pytest.MonkeyPatch) -> None:
    azure_env.delenv("MLOPS_ALLOWED_REGISTRIES")  # the default: the local demo's example
    with pytest.raises(ValidationError, match="MLOPS_ALLOWED_REGISTRIES"):
        Settings()


@pytest.mark.parametrize(
    "name",
    [
        "MLOPS_KEY_VAULT_URL",
        "AZURE_CLIENT_ID",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "MLOPS_SECRET_API_KEY",
    ],
)
def test_an_unresolved_key_vault_reference_is_refused_by_name(
    azure_env: pytest.MonkeyPatch, name: str
) -> None:
    azure_env.setenv(name, REFERENCE)
    with pytest.raises(ValidationError) as error:
        Settings()
    message = str(error.value)
    assert name in message and "Key Vault reference" in message
    assert "SecretUri" not in message and "kv-mlops.vault" not in message.replace(
        AZURE["MLOPS_KEY_VAULT_URL"], ""
    )


def test_a_reference_is_refused_on_the_local_backend_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_MODEL_NAME", REFERENCE)
    with pytest.raises(ValidationError, match="MLOPS_MODEL_NAME"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLOPS_KEY_VAULT_URL", "http://kv-mlops.vault.azure.net"),
        ("MLOPS_TABLE_SERVICE_URL", "http://contosodata.table.core.windows.net"),
        ("MLOPS_AUDIT_INGESTION_ENDPOINT", "ftp://dce"),
    ],
)
def test_azure_endpoints_must_be_https(
    azure_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    azure_env.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_a_loopback_emulator_may_use_http(azure_env: pytest.MonkeyPatch) -> None:
    azure_env.setenv("MLOPS_TABLE_SERVICE_URL", "http://127.0.0.1:10002/devstoreaccount1")
    assert Settings().table_service_url == "http://127.0.0.1:10002/devstoreaccount1"


@pytest.mark.parametrize(
    "value", ["/subscriptions/x/providers/Microsoft.Insights/dataCollectionRules/dcr", "dcr-XYZ"]
)
def test_the_dcr_must_be_its_immutable_id(azure_env: pytest.MonkeyPatch, value: str) -> None:
    azure_env.setenv("MLOPS_AUDIT_DCR_ID", value)
    with pytest.raises(ValidationError, match="audit_dcr_id"):
        Settings()


def test_validation_errors_do_not_echo_values(azure_env: pytest.MonkeyPatch) -> None:
    azure_env.setenv("MLOPS_CANARY_PERCENT", "99-top-secret")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "top-secret" not in str(error.value)


def test_the_credential_is_managed_identity_in_azure_and_developer_sign_in_elsewhere() -> None:
    in_azure = choose_credential("cid", {"IDENTITY_ENDPOINT": "http://localhost:8081/msi/token"})
    assert isinstance(in_azure, ManagedIdentityCredential)
    on_instance = choose_credential("cid", {"WEBSITE_INSTANCE_ID": "abc"})
    assert isinstance(on_instance, ManagedIdentityCredential)
    elsewhere = choose_credential("cid", {})
    assert isinstance(elsewhere, DefaultAzureCredential)
    assert process_credential("cid") is process_credential("other")  # one per process


def test_import_function_app_stays_light_without_a_connection_string() -> None:
    code = (
        "import sys, function_app; "
        "print(sorted(m for m in sys.modules if m.startswith(('azure.monitor', 'azure.ai.ml', "
        "'opentelemetry', 'azure.identity'))))"
    )
    env = {"PATH": "/usr/bin:/bin", "APPLICATIONINSIGHTS_CONNECTION_STRING": ""}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"
