"""The component diagram with the official Azure icons (mingrammer's `diagrams`): what
infra/main.bicep deploys into the resource group, and the events and calls between them.

`make diagrams` runs this file. It writes components-azure.gv, the graph (no layout, icon paths
relative to the `diagrams` package, so the same on every machine), and components-azure.png,
Graphviz's drawing of that graph. tests/infra/test_component_diagram.py checks that both are
what this file draws. The event edges come from infra/event-routing.json, the file Bicep
deploys the subscriptions from: a new route changes the picture, and the test says to redraw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import subprocess
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import diagrams
from diagrams import Cluster, Diagram, Edge, Node
from diagrams.azure.compute import ContainerRegistries, FunctionApps, VMScaleSets
from diagrams.azure.devops import Pipelines
from diagrams.azure.identity import AppRegistrations, ManagedIdentities, Users
from diagrams.azure.integration import SystemTopic
from diagrams.azure.ml import MachineLearningServiceWorkspaces
from diagrams.azure.monitor import ApplicationInsights, AzureWorkbooks, LogAnalyticsWorkspaces
from diagrams.azure.other import DataCollectionRules
from diagrams.azure.security import KeyVaults
from diagrams.azure.storage import BlobStorage, StorageAccounts, TableStorage

HERE = Path(__file__).resolve().parent
ROUTING = HERE.parent / "infra" / "event-routing.json"
NAME = "components-azure"
# Node._load_icon joins this directory with the icon's path; the graph keeps the relative part
# and Graphviz runs in this directory, so no machine's site-packages path ends up committed.
ICONS = Path(diagrams.__file__).absolute().parent.parent
# One font that `make tools` installs with Graphviz (fonts-dejavu-core): fontconfig's pick for a
# generic "Sans-Serif" depends on what else a machine has, and would move the pixels.
FONT = "DejaVu Sans"
# The PNG renderer named in full (plain -Tpng is cairo or gd, whichever plugin is installed);
# -q: labels wider than their icon's box are how `diagrams` draws, not worth a warning each.
RENDER_ARGS = ("-q", "-Tpng:cairo:cairo")
DIGEST_KEY = "graph-sha256"
EVENTS = "#0078D4"
CALLS = "#505A64"


class _Graph(Diagram):  # type: ignore[misc]  # diagrams ships no type information
    """A Diagram that only collects the graph: rendering is done by `render`, from the source."""

    def __exit__(self, *_: object) -> None:
        diagrams.setdiagram(None)


def _cluster(label: str) -> Cluster:
    return Cluster(label, graph_attr={"fontname": FONT, "fontsize": "13"})


def _event(label: str) -> Edge:
    return Edge(label=label, color=EVENTS, fontcolor=EVENTS, penwidth="1.6")


def _call(label: str = "", style: str = "", *, layout: bool = True) -> Edge:
    """A call; ``layout=False`` for one that runs against the flow and must not rank its ends
    (its label then an xlabel, placed once the edge is drawn, clear of the clusters' labels)."""
    placed = {"label" if layout else "xlabel": label}
    return Edge(color=CALLS, fontcolor=CALLS, style=style, constraint=str(layout).lower(), **placed)


def _identity(label: str) -> Edge:
    return Edge(label=label, color="#8A8886", style="dotted", dir="none")


def _routes() -> dict[str, list[dict[str, Any]]]:
    """The routes of infra/event-routing.json by topic key (storage, ml_workspace, ...)."""
    routing = json.loads(ROUTING.read_text(encoding="utf-8"))
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for route in routing["subscriptions"]:
        by_topic[route["topic"]].append(route)
    return by_topic


def _short(event_type: str) -> str:
    return event_type.rsplit(".", 1)[-1]


def graph_source() -> str:
    """The diagram's Graphviz source: node ids and icon paths fixed, so it is byte-stable."""
    routes = _routes()
    attrs = {"fontname": FONT}
    with _Graph(
        "secure-mlops-azure in Azure: what infra/main.bicep deploys, and the events between",
        filename=NAME,
        direction="LR",
        graph_attr={
            **attrs,
            "splines": "spline",
            "pad": "0.4",
            "nodesep": "0.35",
            "ranksep": "1.1",
            "fontsize": "18",
        },
        node_attr=attrs,
        edge_attr={**attrs, "fontsize": "11"},
    ) as diagram:
        operator = Users("operator\n(Entra ID token,\napp role)", nodeid="operator")
        pipeline = Pipelines(
            "CI/CD pipeline (OIDC)\nazd provision, deploy;\naz acr build", nodeid="pipeline"
        )
        with _cluster("Entra ID"):
            app_registration = AppRegistrations(
                "API app registration\n(app roles; azd hook)", nodeid="app_registration"
            )
        with _cluster("resource group rg-mlops-<env>"):
            with _cluster("Function App (Flex Consumption)"):
                functions = sorted({r["function"] for rs in routes.values() for r in rs})
                app = FunctionApps(
                    "func-mlops-<env>\n"
                    + "\n".join(functions)
                    + "\nreconcile_rollouts (timer)\nHTTP API (EasyAuth)",
                    nodeid="function_app",
                )
                id_func = ManagedIdentities("id-…-func", nodeid="id_func")
                host = StorageAccounts("sthost…\nAzureWebJobsStorage,\napp-package", nodeid="host")
            with _cluster("Event Grid system topics"):
                topics = {
                    key: SystemTopic(f"evgt-…-{key.replace('_', '-')}", nodeid=f"topic_{key}")
                    for key in ("storage", "ml_workspace", "container_registry")
                }
            # The data account's containers and table, each where its flow puts it: one cluster
            # for the account would pull the dead letters and the state back beside the uploads.
            training = BlobStorage("stdata…/training-data", nodeid="training_data")
            deadletter = BlobStorage("stdata…/deadletter", nodeid="deadletter")
            state = TableStorage("stdata…/mlopsstate\n(windows, rollouts)", nodeid="state_table")
            with _cluster("Azure ML workspace mlw-…"):
                workspace = MachineLearningServiceWorkspaces(
                    "workspace\n(system identity)", nodeid="workspace"
                )
                compute = VMScaleSets("cpu-cluster\n(training jobs)", nodeid="compute")
                id_compute = ManagedIdentities("id-…-compute", nodeid="id_compute")
                endpoint = MachineLearningServiceWorkspaces(
                    "managed online endpoint\nblue / green\n(created by the app)",
                    nodeid="endpoint",
                )
                id_endpoint = ManagedIdentities("id-…-endpoint", nodeid="id_endpoint")
                ml_storage = StorageAccounts("stml…\nartifact store", nodeid="ml_storage")
            registry = ContainerRegistries("cr…\nno admin user", nodeid="registry")
            vault = KeyVaults("kv-…\naudit chain key", nodeid="key_vault")
            with _cluster("monitoring"):
                dcr = DataCollectionRules("dcr-…-audit", nodeid="dcr")
                insights = ApplicationInsights("appi-…\n(Entra auth only)", nodeid="app_insights")
                logs = LogAnalyticsWorkspaces(
                    "log-…\nMLOpsAudit_CL,\nevery diagnostic setting", nodeid="log_analytics"
                )
                queries = AzureWorkbooks("query pack, workbook,\nalert rules", nodeid="queries")

        # Where each topic's events start: the resource Bicep names as the topic's source.
        sources: dict[str, Node] = {
            "storage": training,
            "ml_workspace": workspace,
            "container_registry": registry,
        }
        for key, topic in topics.items():
            events = sorted({_short(t) for r in routes[key] for t in r["includedEventTypes"]})
            sources[key] >> _event("\n".join(events)) >> topic
            for function in sorted({r["function"] for r in routes[key]}):
                topic >> _event(function) >> app
            topic >> _call("dead letters", "dashed") >> deadletter

        operator >> _call("token") >> app_registration
        operator >> _call("HTTPS API") >> app
        pipeline >> _call("push\nmlops/sklearn-serving") >> registry
        app >> _call("jobs, rollouts", layout=False) >> workspace
        app >> _call("ETag compare-and-set") >> state
        app >> _call("secret") >> vault
        app >> _call("audit records") >> dcr >> _call() >> logs
        app >> _call("telemetry", "dashed") >> insights >> _call() >> logs
        logs >> _call() >> queries
        app >> _call("host state", "dashed") >> host
        workspace >> _call("runs job") >> compute
        compute >> _call("reads", layout=False) >> training
        compute >> _call("model") >> ml_storage
        workspace >> _call("deploys") >> endpoint
        endpoint >> _call("pulls by digest", layout=False) >> registry
        id_func >> _identity("runs as") >> app
        id_compute >> _identity("runs as") >> compute
        id_endpoint >> _identity("runs as") >> endpoint

    source = str(diagram.dot).replace(f'"{ICONS}{os.sep}', '"')
    if str(ICONS) in source:
        raise RuntimeError(f"an icon path outside {ICONS} would be committed")
    return source


def digest(source: str) -> str:
    """What the PNG was drawn from: the renderer's arguments and the graph."""
    return hashlib.sha256("\n".join((*RENDER_ARGS, source)).encode()).hexdigest()


def render(source: str, png: Path) -> None:
    """Draw ``source`` into ``png`` with Graphviz's `dot` ($MLOPS_DOT, else from PATH), and
    record in the PNG the digest of what it was drawn from (a tEXt chunk after IHDR)."""
    dot = os.environ.get("MLOPS_DOT") or "dot"
    drawn = subprocess.run(
        [dot, *RENDER_ARGS], input=source.encode(), cwd=ICONS, stdout=subprocess.PIPE, check=True
    ).stdout
    data = f"{DIGEST_KEY}\0{digest(source)}".encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data))
    header_end = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its 13 bytes, its CRC
    png.write_bytes(drawn[:header_end] + chunk + drawn[header_end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory (default: architecture/)")
    out = parser.parse_args().out
    source = graph_source()
    (out / f"{NAME}.gv").write_text(source, encoding="utf-8")
    render(source, out / f"{NAME}.png")


if __name__ == "__main__":
    main()
