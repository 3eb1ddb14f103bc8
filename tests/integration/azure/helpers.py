"""Azurite-backed adapters for the Azure integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from azure.data.tables import TableClient

from shared.adapters.azure.state_store import open_table
from tests.azurite import Azurite


def fresh_table(azurite: Azurite, **options: Any) -> TableClient:
    """A new, empty table: tests share one Azurite and must not see each other's rows."""
    return open_table(azurite.table_url, f"t{uuid.uuid4().hex[:24]}", azurite.credential, **options)
