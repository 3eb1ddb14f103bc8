"""`mlops report`: the audit trail as one self-contained HTML page with charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.domain.audit import AuditRecord, ChainReport
from shared.ops.render.report.html import page
from shared.ops.views.report import shape


def build_report(
    records: Sequence[AuditRecord],
    status: Mapping[str, Any] | None,
    chain: ChainReport | None,
    generated_at: datetime,
) -> str:
    """The HTML page for ``records`` (in sequence order); pure, so tests need no backend."""
    when = generated_at if generated_at.tzinfo else generated_at.replace(tzinfo=UTC)
    when = when.astimezone(UTC)  # the page labels every time UTC
    return page(shape(records, when), status, chain, when)


__all__ = ["build_report"]
