"""architecture/: every Mermaid source has its rendered image, every test the threat model
cites exists, and the README links to them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.bicep import REPO

ARCHITECTURE = REPO / "architecture"
CITED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


@pytest.mark.parametrize("source", sorted(ARCHITECTURE.glob("*.mmd")), ids=lambda p: p.stem)
def test_every_mermaid_source_is_rendered(source: Path) -> None:
    svg = source.with_suffix(".svg")
    assert svg.is_file(), f"render {svg.name} (architecture/decisions.md, item 16)"
    assert "<svg" in svg.read_text(encoding="utf-8")[:2000]


def test_the_threat_model_cites_tests_that_exist() -> None:
    text = (ARCHITECTURE / "threat-model.md").read_text(encoding="utf-8")
    cited = CITED_TEST.findall(text)
    assert len(cited) >= 15
    for path, name in cited:
        file = REPO / path
        assert file.is_file(), path
        assert re.search(rf"^def {name}\(", file.read_text(encoding="utf-8"), re.M), (
            f"{path}::{name}"
        )
    assert {"S", "T", "R", "I", "D", "E"} <= set(re.findall(r"^\| \*\*(\w)\*\*", text, re.M))


def test_the_readme_links_the_architecture() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in (
        "components.svg",
        "event-flows.svg",
        "rollout-state-machine.svg",
        "identities.svg",
        "threat-model.md",
        "decisions.md",
    ):
        assert f"(architecture/{name})" in readme, name
        assert (ARCHITECTURE / name).is_file(), name
