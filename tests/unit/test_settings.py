"""Settings are typed and validated at start-up; the example file lists every one."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.adapters.project_files import REPO_ROOT
from shared.settings import Settings


def test_comma_separated_lists_are_split_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_ALLOWED_EXTENSIONS", ".CSV, .tsv")
    monkeypatch.setenv("MLOPS_ALLOWED_REPOSITORIES", "mlops/a,mlops/B")
    settings = Settings()
    assert settings.allowed_extensions == (".csv", ".tsv")
    assert settings.allowed_repositories == ("mlops/a", "mlops/B")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLOPS_CANARY_PERCENT", "80"),
        ("MLOPS_MIN_F1", "1.5"),
        ("MLOPS_STORAGE_ACCOUNT_URL", "ftp://x"),
        ("MLOPS_BACKEND", "cloud"),
    ],
)
def test_bad_values_fail_at_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert name.removeprefix("MLOPS_").lower() in str(error.value)


def test_the_example_settings_file_lists_every_setting_and_loads() -> None:
    values = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    names = {
        name: str(field.validation_alias or f"MLOPS_{name.upper()}")
        for name, field in Settings.model_fields.items()
    }
    assert set(names.values()) <= set(values)
    environment = {key: value for key, value in values.items() if key in names.values()}
    with pytest.MonkeyPatch.context() as env:
        for key, value in environment.items():
            env.setenv(key, value)
        assert Settings().model_name == "spam-classifier"


def test_the_azure_backend_names_every_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BACKEND", "azure")
    monkeypatch.setenv("MLOPS_WORKSPACE_NAME", "mlw-test")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "MLOPS_SUBSCRIPTION_ID" in str(error.value)
    assert "AZURE_CLIENT_ID" in str(error.value)
    assert "MLOPS_WORKSPACE_NAME" not in str(error.value)
