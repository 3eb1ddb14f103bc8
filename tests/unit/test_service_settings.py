"""Services read plain values copied from the typed Settings (decision 250)."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import pytest

from shared.services.config import ServiceSettings
from shared.settings import Settings, service_settings


def test_every_value_services_read_is_a_setting_of_the_declared_type() -> None:
    settings = Settings(max_blob_bytes=123, allowed_registries=("a.azurecr.io", "b.azurecr.io"))
    plain = service_settings(settings)
    hints = get_type_hints(ServiceSettings)
    for field in dataclasses.fields(ServiceSettings):
        value = getattr(plain, field.name)
        assert value == getattr(settings, field.name)
        origin = getattr(hints[field.name], "__origin__", hints[field.name])
        assert isinstance(value, origin), field.name
    assert plain.allowed_registries == ("a.azurecr.io", "b.azurecr.io")
    assert plain.max_blob_bytes == 123


def test_the_plain_settings_are_frozen() -> None:
    plain = service_settings(Settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.model_name = "other"  # type: ignore[misc]
