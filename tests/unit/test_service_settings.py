"""Services read plain values copied from the typed Settings (decision 250)."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import pytest

from shared.services.config import ServiceSettings
from shared.settings import AZURE_METRICS_DELAY_SECONDS, Settings, service_settings


def test_every_value_services_read_is_a_setting_of_the_declared_type() -> None:
    settings = Settings(max_blob_bytes=123, allowed_registries=("a.azurecr.io", "b.azurecr.io"))
    plain = service_settings(settings)
    hints = get_type_hints(ServiceSettings)
    resolved = {"canary_metrics_delay_seconds"}  # unset means the backend's default
    for field in dataclasses.fields(ServiceSettings):
        value = getattr(plain, field.name)
        assert field.name in resolved or value == getattr(settings, field.name)
        origin = getattr(hints[field.name], "__origin__", hints[field.name])
        assert isinstance(value, origin), field.name
    assert plain.allowed_registries == ("a.azurecr.io", "b.azurecr.io")
    assert plain.max_blob_bytes == 123


def test_the_plain_settings_are_frozen() -> None:
    plain = service_settings(Settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.model_name = "other"  # type: ignore[misc]


def test_the_canary_metrics_delay_defaults_by_backend_and_can_be_set() -> None:
    """Azure Monitor's metrics arrive late; the local router's records do not (decision 269)."""
    assert service_settings(Settings()).canary_metrics_delay_seconds == 0.0
    set_here = Settings(canary_metrics_delay_seconds=60)
    assert service_settings(set_here).canary_metrics_delay_seconds == 60.0
    azure = Settings.model_construct(backend="azure", canary_metrics_delay_seconds=None)
    assert service_settings(azure).canary_metrics_delay_seconds == AZURE_METRICS_DELAY_SECONDS
