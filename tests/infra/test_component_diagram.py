"""architecture/components-azure.*: the committed component diagram is what
architecture/components.py draws today, every event route is on it, and the README shows it.

The graph (.gv) is compared byte for byte: it has no layout and no machine's paths in it. The
PNG's pixels depend on the Graphviz, cairo and pango builds (Debian's here, Ubuntu's on GitHub's
runners), so the PNG is tied to its graph by the digest `make diagrams` writes into it, and the
test draws the graph with this machine's Graphviz to show it still renders."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.bicep import REPO
from tests.tools import tool_path

ARCHITECTURE = REPO / "architecture"
SOURCE = ARCHITECTURE / "components.py"
GRAPH = ARCHITECTURE / "components-azure.gv"
IMAGE = ARCHITECTURE / "components-azure.png"
ROUTING = REPO / "infra" / "event-routing.json"
REDRAW = "run `make diagrams` and commit architecture/components-azure.*"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What architecture/components.py draws now, into a temporary directory."""
    dot = tool_path("MLOPS_DOT", "/usr/bin/dot", "Graphviz (dot)")
    out = tmp_path_factory.mktemp("diagram")
    subprocess.run(
        [sys.executable, str(SOURCE), "--out", str(out)],
        env={**os.environ, "MLOPS_DOT": str(dot)},
        check=True,
        timeout=120,
    )
    return out


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    chunks, at = [], len(PNG_SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def png_text(data: bytes) -> dict[str, str]:
    texts = (body.decode("latin-1") for kind, body in png_chunks(data) if kind == b"tEXt")
    return dict(text.split("\0", 1) for text in texts)


def test_the_committed_graph_is_what_components_py_draws(drawn: Path) -> None:
    fresh = (drawn / GRAPH.name).read_text(encoding="utf-8")
    assert GRAPH.read_text(encoding="utf-8") == fresh, REDRAW


def test_the_committed_image_is_drawn_from_the_committed_graph(drawn: Path) -> None:
    fresh = (drawn / IMAGE.name).read_bytes()
    kinds = [kind for kind, _ in png_chunks(fresh)]
    assert kinds[0] == b"IHDR" and b"IDAT" in kinds and kinds[-1] == b"IEND"
    # The digest covers the renderer's arguments and the graph: equal digests, and the graph
    # test above passing, mean the committed PNG is Graphviz's drawing of today's source.
    committed = png_text(IMAGE.read_bytes())
    assert committed.get("graph-sha256") == png_text(fresh)["graph-sha256"], REDRAW


def edge_labels(graph: str, tail: str, head: str) -> list[str]:
    """The labels of every ``tail -> head`` edge in the Graphviz source."""
    edge = re.compile(rf'^\s*{tail} -> {head} \[label=(?:"([^"]*)"|(\w+))', re.M)
    return [quoted or bare for quoted, bare in edge.findall(graph)]


def test_every_event_route_is_drawn_from_its_topic_to_the_function_app() -> None:
    graph = GRAPH.read_text(encoding="utf-8")
    routes = json.loads(ROUTING.read_text(encoding="utf-8"))["subscriptions"]
    assert routes
    for route in routes:
        topic = f"topic_{route['topic']}"
        assert route["function"] in edge_labels(graph, topic, "function_app"), route["name"]
        drawn_events = {
            event for label in edge_labels(graph, r"\w+", topic) for event in label.split("\n")
        }
        for event_type in route["includedEventTypes"]:
            assert event_type.rsplit(".", 1)[-1] in drawn_events, (route["name"], event_type)


def test_the_readme_shows_the_azure_component_diagram() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(architecture/components-azure.png)" in readme
    assert "make diagrams" in readme
