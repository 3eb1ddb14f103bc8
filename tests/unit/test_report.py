"""`mlops report`'s page: data shaping, escaping, no external URLs, tables that match the
records, a clear page with no records, and readable charts with thousands of them."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from shared.domain.audit import GENESIS_HASH, AuditEntry, AuditRecord, ChainReport, chain
from shared.ops.render.report import build_report
from shared.ops.render.report.html import NO_RECORDS
from shared.ops.views.report import shape
from tests.fakes import TEST_CHAIN_KEY

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw"
STORAGE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/data"
ACR = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr"
ALICE = {"principal": {"object_id": "0a1", "name": "alice", "roles": ["MLOps.Operator"]}}
EVIL_BLOB = "spam:spam/<script>alert('blob')</script>.csv"
EVIL_OPERATOR = "back to v1: <script>alert('op')</script>"
EVIL_REASON = 'no gate tag </td><img src=x onerror=alert(1)> & "quoted"'
EVIL_TARGET = 'spam-classifier@9"><svg onload=alert(2)>'
STATUS = {
    "endpoint": {
        "name": "spam-endpoint",
        "traffic": {"blue": 90, "green": 10},
        "deployments": [
            {"name": "blue", "model": "spam-classifier:2", "image": None, "state": "succeeded"},
            {"name": "green", "model": "spam-classifier:5", "image": None, "state": "succeeded"},
        ],
    },
    "active_rollouts": [{"id": "ro-f6"}],
    "pending_events": 0,
    "dead_letters": [],
}
Story = list[tuple[float, AuditEntry]]


def metrics(acc: float, prec: float, rec: float, f1: float, gate: str = "passed") -> dict[str, Any]:
    values = {"accuracy": acc, "precision": prec, "recall": rec, "f1": f1, "roc_auc": 0.97}
    tags = {name: f"{value:.4f}" for name, value in values.items()}
    return {"tags": {**tags, "gate": gate, "gate_reason": f"challenger f1 {f1:.4f}"}}


def registered(version: str, outcome: Any, reason: str, details: dict[str, Any]) -> AuditEntry:
    target = f"spam-classifier@{version}"
    return AuditEntry(WS, "model.registered", target, outcome, reason, f"ev-m{version}", details)


def rollout(
    rid: str, model: str, phases: list[tuple[float, str, str]], kind: str = "model", by: str = WS
) -> Story:
    """One rollout's records: (seconds from the story's start, phase, reason)."""
    details: dict[str, Any] = {"rollout_id": rid, "kind": kind, "requested_by": by}
    if by.startswith("user:"):
        details.update(ALICE)
    outcomes = {"completed": "succeeded", "rolled_back": "rolled_back", "superseded": "rolled_back"}
    return [
        (
            at,
            AuditEntry(
                by,
                f"rollout.{phase}",
                f"spam-endpoint/{'green' if model.endswith(('2', '5')) else 'blue'} {model}",
                outcomes.get(phase, "accepted"),  # type: ignore[arg-type]
                reason,
                f"ev-{rid}",
                details,
            ),
        )
        for at, phase, reason in phases
    ]


def story() -> Story:
    """A day of the pipeline, with attacker-chosen text where the trail can hold it."""
    data = [
        (0, AuditEntry(STORAGE, "data.received", "spam:spam/a.tsv", "accepted", "added", "e1")),
        (1, AuditEntry(STORAGE, "data.received", "spam:spam/b.tsv", "accepted", "added", "e2")),
        (2, AuditEntry(STORAGE, "data.received", "spam:spam/a.tsv", "duplicate", "seen", "e1")),
        (3, AuditEntry(STORAGE, "data.received", EVIL_BLOB, "rejected", EVIL_REASON, "e3")),
        (4, AuditEntry("reconciler", "training.submitted", "train-spam-1", "accepted", "2 blobs")),
        (60, AuditEntry("reconciler", "training.completed", "train-spam-1", "succeeded", "v1")),
        (900, AuditEntry("reconciler", "training.failed", "train-spam-2", "failed", "exit 2")),
        (950, AuditEntry(ACR, "image.pushed", "acr/mlops/serving@sha256:1", "accepted", "ok")),
        (951, AuditEntry(ACR, "image.pushed", "other/x@sha256:2", "rejected", "not allowed")),
        (1300, AuditEntry("user:0a1", "operator.rollback", "spam-endpoint", "accepted", "p1")),
        (1301, AuditEntry("user:0a1", "api.rollback", "spam-endpoint", "accepted", "202")),
        (1302, AuditEntry("user:0b2", "api.get_endpoint", "spam-endpoint", "rejected", "403")),
    ]
    models = [
        (60, registered("1", "accepted", "gate passed", metrics(0.95, 0.93, 0.88, 0.905))),
        (300, registered("2", "accepted", "gate passed", metrics(0.96, 0.95, 0.90, 0.924))),
        (301, registered("2", "duplicate", "already handled", metrics(0.1, 0.1, 0.1, 0.1))),
        (600, registered("3", "rejected", "gate=failed: worse", metrics(0.9, 0.8, 0.7, 0.75, "x"))),
        (700, registered("4", "accepted", "gate passed", metrics(0.97, 0.96, 0.93, 0.945))),
        (1000, AuditEntry(WS, "model.registered", EVIL_TARGET, "rejected", EVIL_REASON, "ev-9")),
        (1500, registered("5", "accepted", "gate passed", metrics(0.975, 0.97, 0.94, 0.955))),
    ]
    rollouts = [
        *rollout("ro-a1", "spam-classifier:1", [(60, "planned", "first"), (60.1, "deploying", "d"),
            (120, "smoke_testing", "up"), (125, "promoted", "ok"), (126, "completed", "done")]),
        *rollout("ro-b2", "spam-classifier:2", [(300, "planned", "better"), (300, "deploying", "d"),
            (390, "smoke_testing", "up"), (395, "canary", "10%"), (695, "promoted", "ok"),
            (700, "completed", "blue removed")]),
        *rollout("ro-c3", "spam-classifier:4", [(700, "planned", "better"), (701, "deploying", "d"),
            (780, "smoke_testing", "up"), (785, "rolled_back", "smoke test failed: 0.20")]),
        *rollout("ro-d4", "spam-classifier:1", [(1300, "planned", "complaints"),
            (1301, "deploying", "d"), (1360, "smoke_testing", "up"), (1365, "promoted", "ok"),
            (1366, "completed", EVIL_OPERATOR)], kind="rollback", by="user:0a1"),
        *rollout("ro-e5", "spam-classifier:2", [(1400, "planned", "new image"),
            (1401, "deploying", "d"), (1500, "superseded", "replaced by ro-f6")], kind="image"),
        *rollout("ro-f6", "spam-classifier:5", [(1500, "planned", "better"),
            (1501, "deploying", "d"), (1580, "smoke_testing", "up"), (1590, "canary", "10%")]),
    ]  # fmt: skip
    return sorted([*data, *models, *rollouts], key=lambda pair: pair[0])


def sealed(entries: Story, start: datetime = START) -> list[AuditRecord]:
    """The records a sink would write, without one: chained in order at their times."""
    records, prev = [], GENESIS_HASH
    for seq, (at, entry) in enumerate(entries, start=1):
        at_time = start + timedelta(seconds=at)
        record = chain(entry, seq=seq, time=at_time, prev_hash=prev, key=TEST_CHAIN_KEY)
        records.append(record)
        prev = record.hash
    return records


NOW = START + timedelta(seconds=1800)


class Page(HTMLParser):
    """Tags, attributes and the tables' cells of a rendered report."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._in_caption = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "caption":
            self._in_caption, self._caption = True, ""
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
            self.tables[self._caption or ""] = []
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._caption is not None:
            self.tables[self._caption].append(self._row)

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell.append(data)

    def table(self, caption_start: str) -> list[list[str]]:
        [rows] = [
            rows for caption, rows in self.tables.items() if caption.startswith(caption_start)
        ]
        return rows


def report() -> str:
    return build_report(sealed(story()), STATUS, ChainReport(True, len(story())), NOW)


def test_versions_carry_their_metrics_and_last_gate_decision() -> None:
    data = shape(sealed(story()), NOW)
    by_target = {v.target: v for v in data.versions}
    labels = ["v1", "v2", "v3", "v4", 'v9"><svg onload=alert(2)>', "v5"]
    assert [v.label for v in data.versions] == labels
    assert by_target["spam-classifier@2"].metrics["f1"] == 0.924  # the duplicate decides nothing
    assert {t: v.decision for t, v in by_target.items()} == {
        "spam-classifier@1": "passed",
        "spam-classifier@2": "passed",
        "spam-classifier@3": "failed",  # the training job's gate said no
        "spam-classifier@4": "passed",
        EVIL_TARGET: "rejected",  # refused on arrival
        "spam-classifier@5": "passed",
    }
    assert by_target[EVIL_TARGET].metrics == {}
    assert by_target["spam-classifier@3"].reason == "gate=failed: worse"


def test_rollout_lanes_follow_the_audited_phases() -> None:
    lanes = {lane.rollout_id: lane for lane in shape(sealed(story()), NOW).rollouts}
    assert list(lanes) == ["ro-a1", "ro-b2", "ro-c3", "ro-d4", "ro-e5", "ro-f6"]
    b2 = lanes["ro-b2"]
    assert [(s.phase, a, b) for s, a, b in b2.segments()] == [
        ("planned", 0, 0),
        ("deploying", 0, 90),
        ("smoke_testing", 90, 95),
        ("canary", 95, 395),
        ("promoted", 395, 400),
    ]
    assert (b2.ending, b2.seconds, b2.requested_by) == ("completed", 400, "workspaces/mlw")
    assert (lanes["ro-c3"].ending, lanes["ro-c3"].ending_reason) == (
        "rolled_back",
        "smoke test failed: 0.20",
    )
    assert (lanes["ro-d4"].kind, lanes["ro-d4"].requested_by) == ("rollback", "alice")
    assert lanes["ro-e5"].ending == "superseded"
    assert (lanes["ro-f6"].ending, lanes["ro-f6"].end) == ("in progress", NOW)


def test_hostile_text_from_the_trail_is_escaped() -> None:
    page = report()
    for raw in ("<script", "<img", "<svg onload"):
        assert raw not in page  # as text, escaped, these are harmless; as markup they are not
    assert "back to v1: &lt;script&gt;alert(&#x27;op&#x27;)&lt;/script&gt;" in page
    assert "&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;" in page
    parsed = Page(page)
    assert {tag for tag, _ in parsed.tags}.isdisjoint({"script", "img", "iframe", "object"})
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    gates = parsed.table("Gate decisions: all 6 versions")
    assert any(row[0] == 'v9"><svg onload=alert(2)>' for row in gates)  # text, intact


def test_nothing_is_loaded_from_anywhere() -> None:
    page = report()
    parsed = Page(page)
    loaders = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data"}
    assert not [(t, a) for t, attrs in parsed.tags for a in attrs if a in loaders]
    assert not {t for t, _ in parsed.tags} & {"link", "base", "script", "iframe", "embed"}
    assert not re.search(r"https?:|//[a-z0-9]|url\(|@import", page, re.IGNORECASE)
    [csp] = [
        a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None and "default-src 'none'" in csp and "script-src" not in csp


def test_tables_hold_the_records_numbers() -> None:
    records = sealed(story())
    parsed = Page(report())
    counted = Counter((r.action, r.outcome) for r in records)
    [header, *rows, total] = parsed.table("Audit records by action and outcome")
    outcomes = [h.replace(" ", "_") for h in header[1:-1]]
    table = {(row[0], o): int(n) for row in rows for o, n in zip(outcomes, row[1:-1], strict=True)}
    assert {key: n for key, n in table.items() if n} == dict(counted)
    assert total[-1] == str(len(records)) == "46"
    assert sum(int(row[-1]) for row in rows) == len(records)

    [header, *versions] = parsed.table("Metrics: all 6 versions")
    metric_names = ["accuracy", "precision", "recall", "f1", "roc_auc"]
    assert header == ["version", "registered (UTC)", *metric_names, "gate"]
    v2 = ["0.9600", "0.9500", "0.9000", "0.9240", "0.9700"]
    assert versions[1] == ["v2", "2026-03-02 09:05:00", *v2, "passed"]
    assert versions[4][2:] == ["–", "–", "–", "–", "–", "rejected"]

    [_, *lanes] = parsed.table("Rollouts: all 6 rollouts")
    assert [(r[0], r[3], r[7]) for r in lanes][2:4] == [
        ("ro-c3", "workspaces/mlw", "1 min 25 s"),
        ("ro-d4", "alice", "1 min 6 s"),
    ]
    assert lanes[2][6].startswith("rolled_back: smoke test failed")


def test_summary_header_says_what_is_serving_and_whether_the_chain_holds() -> None:
    page = report()
    assert "blue 90 % / green 10 %" in page
    assert "spam-classifier:2, spam-classifier:5" in page
    assert "46 records verified" in page
    broken = build_report(sealed(story()), None, ChainReport(False, 46, 12, "hash mismatch"), NOW)
    assert "BROKEN at seq 12" in broken and "hash mismatch" in broken
    assert "status unavailable" in broken and "not verified" not in broken


def test_no_records_is_a_clear_page() -> None:
    page = build_report([], None, None, NOW)
    assert NO_RECORDS in page
    assert "<svg" not in page
    assert "mlops demo" in page
    assert "2026-03-02 09:30:00 UTC" in page


def test_thousands_of_records_keep_the_charts_readable() -> None:
    day = story()
    many = [(at + i * 2000.0, entry) for i in range(60) for at, entry in day]
    records = sealed(many)  # 60 copies of the story: 2,760 records
    # Every day reuses the rollout ids and versions: make them unique per day.
    records = [_renamed(r, i // len(day)) for i, r in enumerate(records)]
    page = build_report(records, STATUS, None, NOW)
    assert "The chart shows the latest 20 of 360 rollouts." in page
    assert (
        "Rollouts: latest 20 of 360 rollouts" in page
    )  # the table lists the lanes the chart shows
    lanes = re.search(r'data-chart="rollouts".*?</svg>', page, re.DOTALL)
    assert lanes is not None and lanes[0].count("<text") < 20 * 4 + 40
    assert len(page) < 1_500_000


def _renamed(record: AuditRecord, day: int) -> AuditRecord:
    details = dict(record.details)
    if "rollout_id" in details:
        details["rollout_id"] = f"{details['rollout_id']}-{day}"
    target = record.target
    if record.action == "model.registered" and target.startswith("spam-classifier@"):
        target = f"{target}{day:02d}"
    return AuditRecord(**{**record.to_dict(), "details": details, "target": target})
